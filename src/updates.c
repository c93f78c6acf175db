/* updates.c - the `updates` file: one line per update, blocking reads.
 *
 * Each open file is a reader (an IDictLogReader, see update_log.c) starting
 * at the moment it was opened.  The bytes produced for a reader are a byte
 * stream: a read at the end of the last reply gets what comes next, or
 * waits for the next update; a read inside the last reply gets those bytes
 * again (head(1) and bash's `read` seek back to just after the line they
 * used); a read beyond the end (a client's read-ahead) ends at once with no
 * data, so no line is ever consumed and lost by a speculative read.
 *
 * A read that must wait is parked: the FUSE worker returns at once, and the
 * server's dispatcher thread answers the request after the next
 * idict_notify_update().  Parked reads end with EINTR on an interrupt
 * (Ctrl-C), with end-of-file when the server closes.  poll() is supported.
 *
 * Replies are written with fuse_reply_iov() straight from the log's lines,
 * referenced for the time of the write; nothing is copied.
 *
 * Locking: the streams lock protects the set of waiting streams, the parked
 * requests, the closing flag and every stream's reader, parked reads and
 * poll handle.  Under it only bounded work is done (one read's worth of
 * line references, under the log lock inside it); replies, interrupts'
 * answers and poll notifications are sent after releasing it.  The
 * computation's thread never takes it.
 */
#include "updates.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>

/* A g_atomic_rc_box: the server holds one reference, the dictionary's
 * update hook another (and each call of the hook one more), so that a call
 * of the hook still on its way when the server closes finds it. */
struct _IDictStreams {
	GMutex lock;
	IDictUpdateLog *log;
	GQueue waiting;       /* IDictStream*, those with parked reads or a poll handle */
	GHashTable *parked;   /* fuse_req_t -> ParkedRead*, every parked read */
	gboolean closing;     /* the server is closing: reads end at once */

	/* The dispatcher's wakeup.  wake_lock protects the fields below;
	 * nothing else is done under it. */
	GMutex wake_lock;
	GCond wake_cond;      /* pending or stopping */
	gboolean pending;     /* an update came that a reader waits for */
	gboolean sleeping;    /* the dispatcher waits on wake_cond */
	gboolean stopping;
};

typedef struct {
	fuse_req_t req;
	IDictStream *stream;
	gsize size;
	off_t off;
	GList link;           /* in stream->parked */
} ParkedRead;

/* A g_atomic_rc_box: the open file holds one reference, a dispatch in
 * progress another. */
struct _IDictStream {
	IDictStreams *streams;
	IDictLogReader reader;  /* what it was last handed */
	GQueue parked;          /* ParkedRead*, in arrival order */
	struct fuse_pollhandle *poll_handle;
	GList waiting_link;     /* in streams->waiting while parked or polled */
	gboolean released;
};

IDictStreams *idict__streams_new(IDictUpdateLog *log)
{
	IDictStreams *streams = g_atomic_rc_box_new0(IDictStreams);
	g_mutex_init(&streams->lock);
	streams->log = log;
	g_queue_init(&streams->waiting);
	streams->parked = g_hash_table_new(NULL, NULL);
	g_mutex_init(&streams->wake_lock);
	g_cond_init(&streams->wake_cond);
	return streams;
}

static void streams_clear(gpointer data)
{
	IDictStreams *streams = data;
	g_warn_if_fail(streams->waiting.length == 0);
	g_hash_table_unref(streams->parked);
	g_mutex_clear(&streams->lock);
	g_mutex_clear(&streams->wake_lock);
	g_cond_clear(&streams->wake_cond);
}

guint idict__streams_parked(IDictStreams *streams)
{
	g_mutex_lock(&streams->lock);
	guint n = g_hash_table_size(streams->parked);
	g_mutex_unlock(&streams->lock);
	return n;
}

gpointer idict__streams_ref(gpointer streams)
{
	return g_atomic_rc_box_acquire(streams);
}

void idict__streams_unref(gpointer streams)
{
	if (streams)
		g_atomic_rc_box_release_full(streams, streams_clear);
}

/* Keeps @stream in streams->waiting exactly while it has parked reads or
 * a poll handle, so that a dispatch visits only those.  Streams lock held. */
static void update_waiting_locked(IDictStreams *streams, IDictStream *stream)
{
	gboolean waits = stream->parked.length > 0 || stream->poll_handle != NULL;
	gboolean listed = stream->waiting_link.data != NULL;
	if (waits && !listed) {
		stream->waiting_link.data = stream;
		g_queue_push_tail_link(&streams->waiting, &stream->waiting_link);
	} else if (!waits && listed) {
		g_queue_unlink(&streams->waiting, &stream->waiting_link);
		stream->waiting_link.data = NULL;
	}
}

/* Takes @parked out of its stream and of the table.  Streams lock held. */
static void unpark_locked(IDictStreams *streams, ParkedRead *parked)
{
	g_queue_unlink(&parked->stream->parked, &parked->link);
	g_hash_table_remove(streams->parked, parked->req);
	update_waiting_locked(streams, parked->stream);
}

/* Answers @req with @span (drops its references), or with @err. */
static void send_reply(fuse_req_t req, int err, IDictLogSpan *span)
{
	if (err) {
		fuse_reply_err(req, err);
		return;
	}
	struct iovec iov[IDICT__SPAN_PIECES];
	guint n = idict__log_span_iov(span, iov);
	if (n > 0)
		fuse_reply_iov(req, iov, (int)n);
	else
		fuse_reply_buf(req, NULL, 0);
	idict__log_span_clear(span);
}

IDictStream *idict__stream_open(IDictStreams *streams)
{
	IDictStream *stream = g_atomic_rc_box_new0(IDictStream);
	stream->streams = streams;
	idict__log_reader_init(&stream->reader, idict__update_log_start_cursor(streams->log));
	g_queue_init(&stream->parked);
	return stream;
}

gsize idict__stream_size(void)
{
	return sizeof(IDictStream);
}

/* Called by libfuse when the reader is interrupted (Ctrl-C).  @data is the
 * streams, which outlive every request; the request is looked up, never
 * reached through a stream that may be gone. */
static void on_interrupt(fuse_req_t req, void *data)
{
	IDictStreams *streams = data;
	g_mutex_lock(&streams->lock);
	ParkedRead *parked = g_hash_table_lookup(streams->parked, req);
	if (parked)
		unpark_locked(streams, parked);
	g_mutex_unlock(&streams->lock);
	if (parked) {
		idict__update_log_forget_waiters(streams->log, 1);
		fuse_reply_err(req, EINTR);
		g_free(parked);
	}
}

void idict__stream_read(IDictStream *stream, fuse_req_t req, gsize size, off_t off, int flags,
			gboolean may_park)
{
	IDictStreams *streams = stream->streams;
	IDictLogSpan span;
	int err = 0;

	/* Register before parking: if the interrupt already came, on_interrupt
	 * runs now, finds nothing, and fuse_req_interrupted() tells us below. */
	fuse_req_interrupt_func(req, on_interrupt, streams);
	gboolean may_wait = may_park && !(flags & O_NONBLOCK) && !fuse_req_interrupted(req);

	g_mutex_lock(&streams->lock);
	int res = 1;
	if (streams->closing || off < 0)
		memset(&span, 0, sizeof span);
	else
		res = idict__log_reader_read(&stream->reader, streams->log, (guint64)off, size,
					     may_wait, &span);
	if (res < 0) {
		err = -res;
	} else if (res == 0 && !may_park) {
		res = 1; /* nothing yet: end of file, at once */
	} else if (res == 0 && !may_wait) {
		err = (flags & O_NONBLOCK) ? EAGAIN : EINTR;
	} else if (res == 0) {
		/* Counted as a waiter by the read: the next update wakes the
		 * dispatcher, which answers it. */
		ParkedRead *parked = g_new0(ParkedRead, 1);
		parked->req = req;
		parked->stream = stream;
		parked->size = size;
		parked->off = off;
		parked->link.data = parked;
		g_queue_push_tail_link(&stream->parked, &parked->link);
		g_hash_table_insert(streams->parked, req, parked);
		update_waiting_locked(streams, stream);
	}
	g_mutex_unlock(&streams->lock);
	if (res != 0 || err)
		send_reply(req, err, &span);
}

void idict__stream_poll(IDictStream *stream, fuse_req_t req, struct fuse_pollhandle *ph)
{
	IDictStreams *streams = stream->streams;
	struct fuse_pollhandle *drop = NULL, *old = NULL;

	g_mutex_lock(&streams->lock);
	gboolean had = stream->poll_handle != NULL;
	/* A new handle is counted as a waiter by the check if not ready; one
	 * that replaces another keeps its count. */
	gboolean ready = idict__log_reader_ready(&stream->reader, streams->log, ph && !had);
	if (ph && !ready) {
		old = stream->poll_handle;
		stream->poll_handle = ph;
	} else if (ph) {
		drop = ph;
		old = g_steal_pointer(&stream->poll_handle);
		if (old)
			idict__update_log_forget_waiters(streams->log, 1);
	}
	update_waiting_locked(streams, stream);
	g_mutex_unlock(&streams->lock);

	if (old)
		fuse_pollhandle_destroy(old);
	if (drop)
		fuse_pollhandle_destroy(drop);
	fuse_reply_poll(req, ready ? (POLLIN | POLLRDNORM) : 0);
}

void idict__stream_release(IDictStream *stream)
{
	IDictStreams *streams = stream->streams;
	g_mutex_lock(&streams->lock);
	stream->released = TRUE;
	GQueue parked = stream->parked;
	g_queue_init(&stream->parked);
	for (GList *l = parked.head; l; l = l->next)
		g_hash_table_remove(streams->parked, ((ParkedRead *)l->data)->req);
	struct fuse_pollhandle *ph = g_steal_pointer(&stream->poll_handle);
	update_waiting_locked(streams, stream);
	g_mutex_unlock(&streams->lock);

	idict__update_log_forget_waiters(streams->log, parked.length + (ph != NULL));
	/* No read can be pending on a released file; answer any leftovers. */
	GList *l;
	while ((l = g_queue_pop_head_link(&parked)) != NULL) {
		ParkedRead *p = l->data;
		fuse_reply_err(p->req, EINTR);
		g_free(p);
	}
	if (ph)
		fuse_pollhandle_destroy(ph);
	idict__log_reader_clear(&stream->reader, streams->log);
	g_atomic_rc_box_release(stream);
}

/* Answers what can be answered on @stream: its parked reads in order
 * (all of them with end-of-file when closing), then its poll handle if
 * ready.  One reply at a time: the streams lock is held to take each
 * reply, never to send it. */
static void dispatch_stream(IDictStreams *streams, IDictStream *stream)
{
	for (;;) {
		IDictLogSpan span;
		int res = 0;
		struct fuse_pollhandle *ph = NULL;

		g_mutex_lock(&streams->lock);
		GList *head = stream->released ? NULL : stream->parked.head;
		ParkedRead *parked = head ? head->data : NULL;
		if (parked && streams->closing) {
			memset(&span, 0, sizeof span);
			res = 1;
		} else if (parked) {
			res = idict__log_reader_read(&stream->reader, streams->log,
						     (guint64)parked->off, parked->size, FALSE, &span);
		}
		if (res != 0) {
			unpark_locked(streams, parked);
		} else if (!stream->released && stream->poll_handle &&
			   (streams->closing ||
			    idict__log_reader_ready(&stream->reader, streams->log, FALSE))) {
			ph = g_steal_pointer(&stream->poll_handle);
			update_waiting_locked(streams, stream);
		}
		g_mutex_unlock(&streams->lock);

		if (res != 0) {
			idict__update_log_forget_waiters(streams->log, 1);
			send_reply(parked->req, res < 0 ? -res : 0, &span);
			g_free(parked);
			continue;
		}
		if (ph) {
			idict__update_log_forget_waiters(streams->log, 1);
			fuse_lowlevel_notify_poll(ph);
			fuse_pollhandle_destroy(ph);
		}
		return;
	}
}

void idict__streams_dispatch(IDictStreams *streams, gboolean closing)
{
	/* The streams that wait now, referenced so that they stay while
	 * visited one by one. */
	g_mutex_lock(&streams->lock);
	streams->closing |= closing;
	guint n = streams->waiting.length;
	IDictStream *few[32];
	g_autofree IDictStream **many = n > G_N_ELEMENTS(few) ? g_new(IDictStream *, n) : NULL;
	IDictStream **todo = many ? many : few;
	guint i = 0;
	for (GList *l = streams->waiting.head; l != NULL; l = l->next)
		todo[i++] = g_atomic_rc_box_acquire(l->data);
	g_mutex_unlock(&streams->lock);

	for (i = 0; i < n; i++) {
		dispatch_stream(streams, todo[i]);
		g_atomic_rc_box_release(todo[i]);
	}
}

/* ---- waking the dispatcher ---- */

#ifndef IDICT_NO_LONE_READER_INLINE
static gboolean answer_lone_reader(IDictStreams *streams);
#endif

void idict__streams_on_update(gpointer data)
{
	IDictStreams *streams = data;
#ifndef IDICT_NO_LONE_READER_INLINE
	if (answer_lone_reader(streams))
		return;
#endif
	g_mutex_lock(&streams->wake_lock);
	if (!streams->pending) {
		streams->pending = TRUE;
		if (streams->sleeping)
			g_cond_signal(&streams->wake_cond);
	}
	g_mutex_unlock(&streams->wake_lock);
}

gboolean idict__streams_wait_for_update(IDictStreams *streams)
{
	g_mutex_lock(&streams->wake_lock);
	while (!streams->pending && !streams->stopping) {
		streams->sleeping = TRUE;
		g_cond_wait(&streams->wake_cond, &streams->wake_lock);
		streams->sleeping = FALSE;
	}
	gboolean go_on = !streams->stopping;
	/* Cleared before the dispatch reads the log: an update after this
	 * point sets it again. */
	streams->pending = FALSE;
	g_mutex_unlock(&streams->wake_lock);
	return go_on;
}

void idict__streams_stop_waiting(IDictStreams *streams)
{
	g_mutex_lock(&streams->wake_lock);
	streams->stopping = TRUE;
	g_cond_signal(&streams->wake_cond);
	g_mutex_unlock(&streams->wake_lock);
}

#ifndef IDICT_NO_LONE_READER_INLINE
/* The one parked read, answered in the notifying thread: one write to
 * /dev/fuse with no lock held, instead of waking the dispatcher, which
 * would write it (one thread wakeup less, see the measurements in README).
 * Only when the streams lock is free (trylock: the computation never waits
 * for it) and exactly one read, and nothing else, waits.
 * Returns: TRUE if there was such a read (answered, or still waiting). */
static gboolean answer_lone_reader(IDictStreams *streams)
{
	if (!g_mutex_trylock(&streams->lock))
		return FALSE;
	IDictStream *stream = streams->waiting.length == 1 ? streams->waiting.head->data : NULL;
	if (stream == NULL || stream->parked.length != 1 || stream->poll_handle != NULL ||
	    streams->closing) {
		g_mutex_unlock(&streams->lock);
		return FALSE;
	}
	ParkedRead *parked = stream->parked.head->data;
	IDictLogSpan span;
	int res = idict__log_reader_read(&stream->reader, streams->log, (guint64)parked->off,
					 parked->size, FALSE, &span);
	if (res != 0)
		unpark_locked(streams, parked);
	g_mutex_unlock(&streams->lock);
	if (res != 0) {
		idict__update_log_forget_waiters(streams->log, 1);
		send_reply(parked->req, res < 0 ? -res : 0, &span);
		g_free(parked);
	}
	return TRUE;
}
#endif
