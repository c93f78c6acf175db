/* update_log.h - the update log (update_log.c): the last updates as text
 * lines "SEQ KIND KEY...\n", bounded in count and bytes, immutable and
 * reference-counted; and each reader's place in them.  Own lock. */
#ifndef IDICT_UPDATE_LOG_H
#define IDICT_UPDATE_LOG_H

#include "common.h"
#include <sys/uio.h>

G_BEGIN_DECLS

typedef struct _IDictUpdateLog IDictUpdateLog;
typedef struct _IDictLogLine IDictLogLine;

/* At most this many lines are referenced for one reply. */
#define IDICT__SPAN_LINES 64
/* ...and at most two `missed` lines besides (see idict__log_reader_read()). */
#define IDICT__SPAN_PIECES (IDICT__SPAN_LINES + 2)
#define IDICT__MISSED_MAX 64

IDictUpdateLog *idict__update_log_new(guint max_lines, gsize max_bytes);
void idict__update_log_free(IDictUpdateLog *log);
/* Appends update @seq (which must be the previous one + 1), published at
 * @time_us (g_get_real_time()).  O(1) work under the log lock besides
 * writing the line.
 * Returns: TRUE if a reader waits for it (idict__log_reader_read() or
 * idict__log_reader_ready() with @wait, not yet forgotten). */
gboolean idict__update_log_append(IDictUpdateLog *log, guint64 seq, gint64 time_us,
				  gboolean final, const char *const *keys, guint n_keys);
/* Where a new reader starts: the last sequence number, or the one before
 * the final update so that late readers still see `final`. */
guint64 idict__update_log_start_cursor(IDictUpdateLog *log);
/* For tests: the last sequence number appended, 0 before the first. */
guint64 idict__update_log_last(IDictUpdateLog *log);
/* The time of the last update, 0 before the first: the modification time
 * of `updates`, which a stat thus takes without the store lock. */
gint64 idict__update_log_last_time(IDictUpdateLog *log);
/* The text in the ring, and that of the lines readers are in the middle
 * of (in the ring or not): see the memory bound in update_log.c. */
void idict__update_log_memory(IDictUpdateLog *log, gsize *ring_bytes, gsize *held_bytes);
/* @n waiters counted by a read or readiness check with @wait are answered,
 * interrupted or gone. */
void idict__update_log_forget_waiters(IDictUpdateLog *log, guint n);

/* One piece of a reader's stream: a line of the log, or a `missed` line. */
typedef struct {
	guint64 seq;      /* the line's number; for `missed`, the last update missed */
	gsize len;
	gboolean missed;
} IDictLogPiece;

/* A reader's place: its last reply, bytes [start, end) of its stream, which
 * touched pieces[0 .. n_pieces), beginning @skip bytes into pieces[0],
 * after update @cursor.  Fixed size; initialize with
 * idict__log_reader_init(), free what it holds with idict__log_reader_clear(). */
typedef struct {
	guint64 start, end;
	guint64 cursor;
	gsize skip;
	guint n_pieces;
	IDictLogPiece pieces[IDICT__SPAN_PIECES];
	IDictLogLine *held; /* the line it is in the middle of, if held (a reference) */
} IDictLogReader;

/* The bytes of one reply: parts[] point into the referenced lines and into
 * missed[], so a span must not be copied.  Free with idict__log_span_clear(). */
typedef struct {
	struct {
		const char *data;
		gsize len;
	} parts[IDICT__SPAN_PIECES];
	guint n_parts;
	gsize len;          /* the parts' total; 0: end of file or nothing */
	IDictLogLine *lines[IDICT__SPAN_PIECES];
	guint n_lines;
	char missed[2][IDICT__MISSED_MAX];
} IDictLogSpan;

void idict__log_reader_init(IDictLogReader *reader, guint64 cursor);
void idict__log_reader_clear(IDictLogReader *reader, IDictUpdateLog *log);
/* Answers a read of @size bytes at stream offset @off into @span (which it
 * initializes): at the end of the last reply, what comes next (a `missed`
 * line if lines fell out, then whole lines up to @size if at least one
 * fits, else the first part of the next line); inside it, the same bytes
 * again, or from a line boundary what comes next; before or beyond it,
 * nothing.  Takes references to at most IDICT__SPAN_LINES lines under the
 * log lock and copies nothing.
 * Returns: 1 with @span filled (len 0: end of file or nothing), 0 if the
 * read must wait for the next update (then counted as a waiter if @wait),
 * or -EIO if the rest of a line fell out of the log and was not held. */
int idict__log_reader_read(IDictLogReader *reader, IDictUpdateLog *log, guint64 off, gsize size,
			   gboolean wait, IDictLogSpan *span);
/* TRUE if a read at the end of the last reply would not wait; if not and
 * @wait, counts a waiter. */
gboolean idict__log_reader_ready(const IDictLogReader *reader, IDictUpdateLog *log,
				 gboolean wait);
/* The number of the last update the reader was handed whole. */
guint64 idict__log_reader_cursor(const IDictLogReader *reader);
/* Fills @iov (room for IDICT__SPAN_PIECES) with @span's parts.
 * Returns: how many. */
guint idict__log_span_iov(const IDictLogSpan *span, struct iovec *iov);
void idict__log_span_clear(IDictLogSpan *span);

G_END_DECLS

#endif /* IDICT_UPDATE_LOG_H */
