/* update_log.c - the recent updates, as the text lines readers of `updates`
 * get, and each reader's place in them.
 *
 * A ring of lines "SEQ KIND KEY...\n", one per idict_notify_update(), bounded
 * both in lines and in bytes so that a reader who stops reading costs the
 * computation nothing: the oldest lines fall out, and such a reader is told
 * "SEQ missed N" instead of silently skipping them.
 *
 * Lines are immutable once appended and reference-counted.  A read takes
 * references to the lines of its reply under the log lock, at most
 * IDICT__SPAN_LINES of them, and copies nothing; the reply is written from
 * the lines' own bytes after the lock is released.  A line that falls out
 * of the ring is freed by whoever drops the last reference.
 *
 * A reader's place (IDictLogReader) is its last reply: where it began and
 * ended in the reader's byte stream, and the numbers and lengths of the
 * lines it touched.  A read at its end goes on from there; a read inside it
 * (head(1) and bash's `read` seek back to just after the line they used)
 * is answered again from the ring, or, if the lines it needs fell out
 * meanwhile, goes on from that line boundary with a `missed` line, which
 * is what a reader that far behind gets anyway.
 *
 * Memory, in total for all readers: the ring holds at most max_bytes of
 * text (or one line, if a single line is longer).  Beyond it readers hold
 *   - the lines they are in the middle of (a read shorter than the line),
 *     so that the rest of such a line comes even if it falls out of the ring
 *     meanwhile: each line counted once however many readers hold it, and
 *     together at most max_bytes (or one line).  Past that a reader holds
 *     nothing: it gets the rest of its line while the line is in the ring,
 *     EIO after that;
 *   - the lines of a reply while it is being written: at most one reply
 *     (IDICT__SPAN_LINES lines, all of them in the ring when taken) per
 *     thread writing one, for the time of one write to /dev/fuse.
 * A reader's own state is a fixed-size IDictLogReader (about 1 KiB).
 *
 * Locking: the log lock protects the ring, the counters and every line's
 * holders; a line's text and length never change after it is appended, and
 * its reference count is atomic.  Under the lock only bounded work is done:
 * appending one line (the computation), or looking at and referencing at
 * most IDICT__SPAN_PIECES lines (a reader).  An IDictLogReader belongs to
 * its caller, who serializes its use.
 */
#include "update_log.h"

#include <errno.h>
#include <string.h>

struct _IDictLogLine {
	gint refs;      /* atomic; the ring's reference is one */
	guint holders;  /* readers in the middle of this line; log lock */
	guint64 seq;
	gsize len;
	gsize capacity; /* of text: a line that falls out is reused if it fits */
	char text[];
};

struct _IDictUpdateLog {
	GMutex lock;      /* protects everything below and IDictLogLine.holders */
	IDictLogLine **ring; /* capacity max_lines; ring[head] is the oldest line */
	guint max_lines;
	gsize max_bytes;
	guint head;
	guint count;
	gsize bytes;       /* text in the ring */
	gsize held_bytes;  /* text of the lines with holders, in the ring or not */
	guint64 last_seq;  /* 0 before the first update */
	gint64 last_time_us; /* when it was published; 0 before the first */
	guint64 final_seq; /* 0 until the final update */
	guint waiters;     /* parked reads and polls (see idict__update_log_append()) */
};

/* ---- lines ---- */

static IDictLogLine *line_ref(IDictLogLine *line)
{
	g_atomic_int_inc(&line->refs);
	return line;
}

static void line_unref(IDictLogLine *line)
{
	if (line && g_atomic_int_dec_and_test(&line->refs))
		g_free(line);
}

/* ---- the ring ---- */

IDictUpdateLog *idict__update_log_new(guint max_lines, gsize max_bytes)
{
	g_return_val_if_fail(max_lines > 0, NULL);
	IDictUpdateLog *log = g_new0(IDictUpdateLog, 1);
	g_mutex_init(&log->lock);
	log->ring = g_new0(IDictLogLine *, max_lines);
	log->max_lines = max_lines;
	log->max_bytes = max_bytes;
	return log;
}

void idict__update_log_free(IDictUpdateLog *log)
{
	if (log == NULL)
		return;
	for (guint i = 0; i < log->count; i++)
		line_unref(log->ring[(log->head + i) % log->max_lines]);
	g_free(log->ring);
	g_mutex_clear(&log->lock);
	g_free(log);
}

/* Returns: (transfer full): the oldest line, taken out of the ring. */
static IDictLogLine *take_oldest_locked(IDictUpdateLog *log)
{
	IDictLogLine *line = log->ring[log->head];
	log->bytes -= line->len;
	log->ring[log->head] = NULL;
	log->head = (log->head + 1) % log->max_lines;
	log->count--;
	return line;
}

/* The number of the oldest line in the ring; last_seq + 1 if it is empty. */
static guint64 oldest_locked(IDictUpdateLog *log)
{
	return log->count ? log->ring[log->head]->seq : log->last_seq + 1;
}

/* Returns: (transfer none) (nullable): line @seq, if it is in the ring. */
static IDictLogLine *line_locked(IDictUpdateLog *log, guint64 seq)
{
	guint64 oldest = oldest_locked(log);
	if (seq < oldest || seq > log->last_seq)
		return NULL;
	return log->ring[(log->head + (seq - oldest)) % log->max_lines];
}

static gboolean at_eof_locked(IDictUpdateLog *log, guint64 cursor)
{
	return log->final_seq != 0 && cursor >= log->final_seq;
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

gboolean idict__update_log_append(IDictUpdateLog *log, guint64 seq, gint64 time_us,
				  gboolean final, const char *const *keys, guint n_keys)
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
	IDictLogLine *line = NULL;
	while (log->count > 0 &&
	       (log->count == log->max_lines || log->bytes + len > log->max_bytes)) {
		IDictLogLine *old = take_oldest_locked(log);
		/* A line that readers still hold is freed by the last of them.
		 * One nobody holds is ours: reused if not much larger (the byte
		 * bound counts lengths, and must bound what lines hold).
		 * References are taken only under this lock, so a count of 1
		 * (the ring's) cannot rise meanwhile: no atomic decrement, which
		 * would be a tenth of an update's cost, is needed then. */
		if (g_atomic_int_get(&old->refs) != 1 && !g_atomic_int_dec_and_test(&old->refs))
			continue;
		if (line == NULL && old->capacity >= len && old->capacity <= MAX(2 * len, 64))
			line = old;
		else
			g_free(old);
	}
	if (line == NULL) {
		/* Round up, so that a line can be reused for a slightly longer one. */
		gsize capacity = MAX(len, 64);
		line = g_malloc(sizeof(IDictLogLine) + capacity);
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
	line->refs = 1;
	line->holders = 0;
	line->seq = seq;
	line->len = (gsize)(p - line->text);
	log->ring[(log->head + log->count) % log->max_lines] = line;
	log->count++;
	log->bytes += line->len;
	log->last_seq = seq;
	log->last_time_us = time_us;
	if (final && log->final_seq == 0)
		log->final_seq = seq;
	gboolean wake = log->waiters > 0;
	g_mutex_unlock(&log->lock);
	return wake;
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

gint64 idict__update_log_last_time(IDictUpdateLog *log)
{
	g_mutex_lock(&log->lock);
	gint64 time_us = log->last_time_us;
	g_mutex_unlock(&log->lock);
	return time_us;
}

void idict__update_log_memory(IDictUpdateLog *log, gsize *ring_bytes, gsize *held_bytes)
{
	g_mutex_lock(&log->lock);
	*ring_bytes = log->bytes;
	*held_bytes = log->held_bytes;
	g_mutex_unlock(&log->lock);
}

void idict__update_log_forget_waiters(IDictUpdateLog *log, guint n)
{
	if (n == 0)
		return;
	g_mutex_lock(&log->lock);
	g_warn_if_fail(log->waiters >= n);
	log->waiters -= MIN(n, log->waiters);
	g_mutex_unlock(&log->lock);
}

/* ---- spans: the lines of one reply ---- */

guint idict__log_span_iov(const IDictLogSpan *span, struct iovec *iov)
{
	for (guint i = 0; i < span->n_parts; i++)
		iov[i] = (struct iovec){ .iov_base = (void *)span->parts[i].data,
					 .iov_len = span->parts[i].len };
	return span->n_parts;
}

void idict__log_span_clear(IDictLogSpan *span)
{
	for (guint i = 0; i < span->n_lines; i++)
		line_unref(span->lines[i]);
	span->n_lines = 0;
	span->n_parts = 0;
	span->len = 0;
}

/* ---- a reader's place ---- */

void idict__log_reader_init(IDictLogReader *reader, guint64 cursor)
{
	memset(reader, 0, sizeof *reader);
	reader->cursor = cursor;
}

void idict__log_reader_clear(IDictLogReader *reader, IDictUpdateLog *log)
{
	IDictLogLine *held = g_steal_pointer(&reader->held);
	if (held == NULL)
		return;
	g_mutex_lock(&log->lock);
	if (--held->holders == 0)
		log->held_bytes -= held->len;
	g_mutex_unlock(&log->lock);
	line_unref(held);
}

/* Where stream offset @off falls in the reader's last reply: after update
 * *@cursor_out, *@skip_out bytes into piece *@piece_out (-1 and 0 when @off
 * is a line boundary).  @off must be within [start, end]. */
static void locate(const IDictLogReader *reader, guint64 off, guint64 *cursor_out,
		   int *piece_out, gsize *skip_out)
{
	guint64 cursor = reader->cursor;
	guint64 pos = reader->start - reader->skip; /* where pieces[i] begins */
	for (guint i = 0; i < reader->n_pieces; i++) {
		if (off < pos + reader->pieces[i].len) {
			*cursor_out = cursor;
			*piece_out = off > pos ? (int)i : -1;
			*skip_out = (gsize)(off - pos);
			return;
		}
		pos += reader->pieces[i].len;
		cursor = reader->pieces[i].seq;
	}
	*cursor_out = cursor;
	*piece_out = -1;
	*skip_out = 0;
}

guint64 idict__log_reader_cursor(const IDictLogReader *reader)
{
	guint64 cursor;
	int piece;
	gsize skip;
	locate(reader, reader->end, &cursor, &piece, &skip);
	return cursor;
}

gboolean idict__log_reader_ready(const IDictLogReader *reader, IDictUpdateLog *log,
				 gboolean wait)
{
	guint64 cursor;
	int piece;
	gsize skip;
	locate(reader, reader->end, &cursor, &piece, &skip);
	if (piece >= 0)
		return TRUE; /* the rest of a line */
	g_mutex_lock(&log->lock);
	gboolean ready = cursor < log->last_seq || at_eof_locked(log, cursor);
	if (!ready && wait)
		log->waiters++;
	g_mutex_unlock(&log->lock);
	return ready;
}

/* "SEQ missed N\n" for a reader after update @cursor whose next line is
 * @seq + 1.  Returns: its length. */
static gsize format_missed(char out[IDICT__MISSED_MAX], guint64 cursor, guint64 seq)
{
	return (gsize)g_snprintf(out, IDICT__MISSED_MAX,
				 "%" G_GUINT64_FORMAT " missed %" G_GUINT64_FORMAT "\n", seq,
				 seq - cursor);
}

int idict__log_reader_read(IDictLogReader *reader, IDictUpdateLog *log, guint64 off, gsize size,
			   gboolean wait, IDictLogSpan *span)
{
	memset(span, 0, sizeof *span);
	if (size == 0 || off < reader->start || off > reader->end)
		return 1; /* read-ahead beyond the end, or long gone: nothing */
	guint64 cursor;
	int first;
	gsize skip;
	locate(reader, off, &cursor, &first, &skip);

	/* The pieces of the reply: in @pieces with their lines (NULL for a
	 * `missed` line); at most IDICT__SPAN_LINES lines, and a `missed`
	 * line where lines fell out of the ring, before the first line (the
	 * reader is behind) or after a held one. */
	IDictLogPiece pieces[IDICT__SPAN_PIECES];
	IDictLogLine *lines[IDICT__SPAN_PIECES];
	guint64 cursors[IDICT__SPAN_PIECES]; /* the cursor before each piece */
	guint n = 0, n_lines = 0;
	gsize avail = 0; /* bytes from @off to the end of pieces[n - 1] */
	gsize cut = 0;   /* bytes from @off to the last piece boundary <= size */
	IDictLogLine *old_held = reader->held, *new_held = NULL;

	g_mutex_lock(&log->lock);
	guint64 at = cursor;
	if (first >= 0) {
		/* In the middle of a piece: the rest of it first. */
		IDictLogPiece piece = reader->pieces[first];
		IDictLogLine *line = NULL;
		if (!piece.missed) {
			line = line_locked(log, piece.seq);
			if (line == NULL && old_held && old_held->seq == piece.seq)
				line = old_held;
			if (line == NULL) {
				g_mutex_unlock(&log->lock);
				return -EIO; /* fell out of the ring, and was not held */
			}
			n_lines++;
		}
		cursors[n] = at;
		pieces[n] = piece;
		lines[n++] = line;
		avail = piece.len - skip;
		at = piece.seq;
	} else if (at_eof_locked(log, at)) {
		g_mutex_unlock(&log->lock);
		return 1; /* end of file */
	} else if (at >= log->last_seq) {
		if (wait)
			log->waiters++;
		g_mutex_unlock(&log->lock);
		return 0;
	}
	while (avail < size && n < IDICT__SPAN_PIECES && !at_eof_locked(log, at) &&
	       at < log->last_seq) {
		guint64 oldest = oldest_locked(log);
		IDictLogLine *line = NULL;
		IDictLogPiece piece;
		if (oldest > at + 1) {
			char text[IDICT__MISSED_MAX];
			piece = (IDictLogPiece){ .seq = oldest - 1, .missed = TRUE,
						 .len = format_missed(text, at, oldest - 1) };
		} else {
			if (n_lines == IDICT__SPAN_LINES)
				break;
			line = line_locked(log, at + 1);
			piece = (IDictLogPiece){ .seq = line->seq, .len = line->len };
			n_lines++;
		}
		if (avail > 0)
			cut = avail;
		cursors[n] = at;
		pieces[n] = piece;
		lines[n++] = line;
		avail += piece.len;
		at = piece.seq;
	}
	/* Whole pieces if at least one fits, else part of the first. */
	if (avail <= size)
		cut = avail;
	else if (cut == 0)
		cut = size;

	/* Keep the pieces the reply touches, and reference their lines. */
	guint keep = 0;
	gsize end = 0; /* of pieces[keep - 1], from @off */
	while (keep < n && end < cut) {
		end += pieces[keep].len - (keep == 0 ? skip : 0);
		if (lines[keep])
			span->lines[span->n_lines++] = line_ref(lines[keep]);
		keep++;
	}
	/* The reply ends in the middle of a line: hold it (see the top). */
	IDictLogLine *last = lines[keep - 1];
	if (end > cut && last) {
		if (last == old_held) {
			new_held = old_held;
		} else if (last->holders > 0 || log->held_bytes == 0 ||
			   log->held_bytes + last->len <= log->max_bytes) {
			if (last->holders++ == 0)
				log->held_bytes += last->len;
			new_held = line_ref(last);
		}
	}
	if (old_held && old_held != new_held && --old_held->holders == 0)
		log->held_bytes -= old_held->len;
	g_mutex_unlock(&log->lock);

	if (old_held != new_held)
		line_unref(old_held);
	reader->held = new_held;

	/* The reply's parts, and the reader's new place. */
	gsize pos = 0;
	guint l = 0, m = 0;
	for (guint i = 0; i < keep; i++) {
		const char *data;
		gsize from = i == 0 ? skip : 0;
		if (lines[i]) {
			data = span->lines[l++]->text;
		} else {
			format_missed(span->missed[m], cursors[i], pieces[i].seq);
			data = span->missed[m++];
		}
		gsize len = MIN(pieces[i].len - from, cut - pos);
		span->parts[span->n_parts].data = data + from;
		span->parts[span->n_parts++].len = len;
		pos += len;
		reader->pieces[i] = pieces[i];
	}
	span->len = cut;
	reader->n_pieces = keep;
	reader->cursor = cursor;
	reader->skip = skip;
	reader->start = off;
	reader->end = off + cut;
	return 1;
}
