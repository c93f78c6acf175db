/* update_log.c - the recent updates, as the text lines readers of `updates` get.
 *
 * A ring of lines "SEQ KIND KEY...\n", one per idict_notify_update(), bounded
 * both in lines and in bytes so that a reader who stops reading costs the
 * computation nothing: the oldest lines fall out, and such a reader is told
 * "SEQ missed N" instead of silently skipping them.
 */
#include "idict-private.h"

#include <string.h>

typedef struct {
	guint64 seq;
	gsize len;
	char text[];
} LogLine;

struct _IDictUpdateLog {
	GMutex lock;      /* protects everything below */
	LogLine **ring;   /* capacity max_lines; ring[head] is the oldest line */
	guint max_lines;
	gsize max_bytes;
	guint head;
	guint count;
	gsize bytes;
	guint64 last_seq;  /* 0 before the first update */
	guint64 final_seq; /* 0 until the final update */
};

IDictUpdateLog *idict__update_log_new(guint max_lines, gsize max_bytes)
{
	g_return_val_if_fail(max_lines > 0, NULL);
	IDictUpdateLog *log = g_new0(IDictUpdateLog, 1);
	g_mutex_init(&log->lock);
	log->ring = g_new0(LogLine *, max_lines);
	log->max_lines = max_lines;
	log->max_bytes = max_bytes;
	return log;
}

void idict__update_log_free(IDictUpdateLog *log)
{
	if (log == NULL)
		return;
	for (guint i = 0; i < log->count; i++)
		g_free(log->ring[(log->head + i) % log->max_lines]);
	g_free(log->ring);
	g_mutex_clear(&log->lock);
	g_free(log);
}

static void drop_oldest_locked(IDictUpdateLog *log)
{
	LogLine *line = log->ring[log->head];
	log->bytes -= line->len;
	g_free(line);
	log->ring[log->head] = NULL;
	log->head = (log->head + 1) % log->max_lines;
	log->count--;
}

void idict__update_log_append(IDictUpdateLog *log, guint64 seq, gboolean final,
			      const char *const *keys, guint n_keys)
{
	/* Build the line before taking the lock. */
	GString *text = g_string_sized_new(32);
	g_string_append_printf(text, "%" G_GUINT64_FORMAT " %s", seq, final ? "final" : "update");
	for (guint i = 0; i < n_keys; i++) {
		g_string_append_c(text, ' ');
		g_string_append(text, keys[i]);
	}
	g_string_append_c(text, '\n');
	LogLine *line = g_malloc(sizeof(LogLine) + text->len);
	line->seq = seq;
	line->len = text->len;
	memcpy(line->text, text->str, text->len);
	g_string_free(text, TRUE);

	g_mutex_lock(&log->lock);
	g_warn_if_fail(seq == log->last_seq + 1);
	while (log->count > 0 &&
	       (log->count == log->max_lines || log->bytes + line->len > log->max_bytes))
		drop_oldest_locked(log);
	log->ring[(log->head + log->count) % log->max_lines] = line;
	log->count++;
	log->bytes += line->len;
	log->last_seq = seq;
	if (final && log->final_seq == 0)
		log->final_seq = seq;
	g_mutex_unlock(&log->lock);
}

guint64 idict__update_log_start_cursor(IDictUpdateLog *log)
{
	g_mutex_lock(&log->lock);
	guint64 cursor = log->final_seq ? log->final_seq - 1 : log->last_seq;
	g_mutex_unlock(&log->lock);
	return cursor;
}

guint64 idict__update_log_last(IDictUpdateLog *log)
{
	g_mutex_lock(&log->lock);
	guint64 last = log->last_seq;
	g_mutex_unlock(&log->lock);
	return last;
}

static gboolean at_eof_locked(IDictUpdateLog *log, guint64 cursor)
{
	return log->final_seq != 0 && cursor >= log->final_seq;
}

gboolean idict__update_log_ready(IDictUpdateLog *log, guint64 cursor)
{
	g_mutex_lock(&log->lock);
	gboolean ready = cursor < log->last_seq || at_eof_locked(log, cursor);
	g_mutex_unlock(&log->lock);
	return ready;
}

gboolean idict__update_log_read(IDictUpdateLog *log, guint64 *cursor, GByteArray *out,
				gboolean *eof)
{
	gboolean appended = FALSE;
	g_mutex_lock(&log->lock);
	if (*cursor < log->last_seq && !at_eof_locked(log, *cursor)) {
		guint64 oldest = log->count ? log->ring[log->head]->seq : log->last_seq + 1;
		if (oldest > *cursor + 1) {
			char missed[64];
			int n = g_snprintf(missed, sizeof missed,
					   "%" G_GUINT64_FORMAT " missed %" G_GUINT64_FORMAT "\n",
					   oldest - 1, oldest - 1 - *cursor);
			g_byte_array_append(out, (const guint8 *)missed, (guint)n);
			*cursor = oldest - 1;
		}
		for (guint64 i = *cursor + 1 - oldest; i < log->count; i++) {
			const LogLine *line = log->ring[(log->head + i) % log->max_lines];
			g_byte_array_append(out, (const guint8 *)line->text, (guint)line->len);
			*cursor = line->seq;
			if (at_eof_locked(log, *cursor))
				break;
		}
		appended = TRUE;
	}
	*eof = at_eof_locked(log, *cursor);
	g_mutex_unlock(&log->lock);
	return appended;
}
