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
	gsize capacity; /* of text: a line that falls out is reused if it fits */
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

/* Returns: (transfer full): the oldest line, taken out of the ring. */
static LogLine *take_oldest_locked(IDictUpdateLog *log)
{
	LogLine *line = log->ring[log->head];
	log->bytes -= line->len;
	log->ring[log->head] = NULL;
	log->head = (log->head + 1) % log->max_lines;
	log->count--;
	return line;
}

/* Writes @value in decimal at @out.  Returns: the number of digits. */
static gsize write_decimal(char *out, guint64 value)
{
	char digits[20];
	gsize n = 0;
	do {
		digits[n++] = (char)('0' + value % 10);
		value /= 10;
	} while (value);
	for (gsize i = 0; i < n; i++)
		out[i] = digits[n - 1 - i];
	return n;
}

void idict__update_log_append(IDictUpdateLog *log, guint64 seq, gboolean final,
			      const char *const *keys, guint n_keys)
{
	/* "SEQ KIND KEY...\n", built by hand: this runs in every update of the
	 * computation, and printf would be its largest cost. */
	const char *kind = final ? "final" : "update";
	gsize kind_len = final ? 5 : 6;
	char seq_text[20];
	gsize seq_len = write_decimal(seq_text, seq);
	gsize len = seq_len + 1 + kind_len + 1;
	for (guint i = 0; i < n_keys; i++)
		len += 1 + strlen(keys[i]);

	g_mutex_lock(&log->lock);
	g_warn_if_fail(seq == log->last_seq + 1);
	LogLine *line = NULL;
	while (log->count > 0 &&
	       (log->count == log->max_lines || log->bytes + len > log->max_bytes)) {
		LogLine *old = take_oldest_locked(log);
		/* Reused only if not much larger: the byte bound counts
		 * lengths, and must bound what the lines hold. */
		if (line == NULL && old->capacity >= len && old->capacity <= MAX(2 * len, 64))
			line = old;
		else
			g_free(old);
	}
	if (line == NULL) {
		/* Round up, so that a line can be reused for a slightly longer one. */
		gsize capacity = MAX(len, 64);
		line = g_malloc(sizeof(LogLine) + capacity);
		line->capacity = capacity;
	}
	char *p = line->text;
	memcpy(p, seq_text, seq_len);
	p += seq_len;
	*p++ = ' ';
	memcpy(p, kind, kind_len);
	p += kind_len;
	for (guint i = 0; i < n_keys; i++) {
		gsize key_len = strlen(keys[i]);
		*p++ = ' ';
		memcpy(p, keys[i], key_len);
		p += key_len;
	}
	*p++ = '\n';
	line->seq = seq;
	line->len = (gsize)(p - line->text);
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
