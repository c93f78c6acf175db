/* updates.c - the `updates` file: one line per update, blocking reads.
 *
 * Each open file is a reader with its own cursor into the update log,
 * starting at the moment it was opened.  The bytes produced for a reader are
 * a byte stream: a read at the stream's current end waits for the next
 * update, a read inside what was produced gets those bytes again (head(1)
 * and bash's `read` seek back to just after the line they used), and a read
 * beyond the end (a client's read-ahead) ends at once with no data, so no
 * line is ever consumed and lost by a speculative read.
 *
 * A read that must wait is parked: the FUSE worker returns at once and the
 * request is answered after idict_notify_update(), by the notifying thread
 * itself when it is the only one waiting (one write to /dev/fuse, which
 * never waits for the reader, instead of waking another thread that would
 * write it: one hop less), else by the server's dispatcher thread.  Parked
 * reads are ended by an interrupt (Ctrl-C) with EINTR, and at shutdown with
 * end-of-file.  poll() is supported.
 *
 * Locking: everything in a stream is protected by the server's streams lock.
 * Replies and poll notifications are sent after releasing it.
 */
#include "idict-private.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>

typedef struct {
	fuse_req_t req;
	gsize size;
	off_t off;
} ParkedRead;

struct _IDictStream {
	IDictServer *server;
	guint64 cursor;         /* last update produced into window */
	GByteArray *window;     /* produced bytes from window_start on */
	guint64 window_start;   /* stream offset of window->data[0] */
	guint64 read_pos;       /* end of the bytes handed to the reader so far */
	gboolean eof;           /* the final update has been produced */
	GQueue parked;          /* ParkedRead*, in arrival order */
	struct fuse_pollhandle *poll_handle;
	GList waiting_link;     /* in IDictStreams.waiting while parked or polled */
};

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

/* An answer to send once the streams lock is released. */
typedef struct {
	fuse_req_t req;
	int err;        /* 0: reply with data */
	GBytes *data;   /* nullable: end-of-file */
} Reply;

static void send_reply(Reply *reply)
{
	if (reply->err)
		fuse_reply_err(reply->req, reply->err);
	else if (reply->data)
		fuse_reply_buf(reply->req, g_bytes_get_data(reply->data, NULL),
			       g_bytes_get_size(reply->data));
	else
		fuse_reply_buf(reply->req, NULL, 0);
	g_clear_pointer(&reply->data, g_bytes_unref);
}

IDictStream *idict__stream_open(IDictServer *server, int flags)
{
	(void)flags;
	IDictStream *stream = g_new0(IDictStream, 1);
	stream->server = server;
	stream->window = g_byte_array_new();
	g_queue_init(&stream->parked);
	IDict *dict = idict__server_dict(server);
	stream->cursor = idict__update_log_start_cursor(idict__store_update_log(dict));

	IDictStreams *streams = idict__server_streams(server);
	g_mutex_lock(&streams->lock);
	streams->list = g_list_prepend(streams->list, stream);
	g_mutex_unlock(&streams->lock);
	return stream;
}

static gsize window_end(const IDictStream *stream)
{
	return stream->window_start + stream->window->len;
}

/* Tries to answer a read of @size bytes at @off.  Streams lock held.
 * Returns: TRUE with *@data_out set (NULL meaning end-of-file) if answered,
 * FALSE if the read must wait for an update. */
static gboolean try_read_locked(IDictStream *stream, gsize size, off_t off, GBytes **data_out)
{
	*data_out = NULL;
	if (off < 0 || (guint64)off < stream->window_start || (guint64)off > window_end(stream))
		return TRUE; /* read-ahead beyond the stream's end, or long gone */

	if ((guint64)off == window_end(stream)) {
		IDict *dict = idict__server_dict(stream->server);
		/* Everything before @off has been read: drop it. */
		stream->window_start = (guint64)off;
		g_byte_array_set_size(stream->window, 0);
		if (!stream->eof)
			idict__update_log_read(idict__store_update_log(dict), &stream->cursor,
					       stream->window, &stream->eof);
		if (stream->window->len == 0)
			return stream->eof;
	}

	gsize start = (gsize)((guint64)off - stream->window_start);
	gsize n = MIN(size, stream->window->len - start);
	/* Prefer whole lines when at least one fits. */
	if (n < stream->window->len - start) {
		const guint8 *data = stream->window->data + start;
		for (gsize i = n; i > 0; i--) {
			if (data[i - 1] == '\n') {
				n = i;
				break;
			}
		}
	}
	*data_out = g_bytes_new(stream->window->data + start, n);
	stream->read_pos = MAX(stream->read_pos, (guint64)off + n);
	return TRUE;
}

/* Whether a read at the stream's end would not wait.  Streams lock held. */
static gboolean ready_locked(IDictStream *stream, IDict *dict)
{
	return stream->eof || window_end(stream) > stream->read_pos ||
		idict__update_log_ready(idict__store_update_log(dict), stream->cursor);
}

/* Finds and unparks @req in any stream.  Streams lock held. */
static gboolean unpark_locked(IDictStreams *streams, fuse_req_t req)
{
	for (GList *l = streams->waiting.head; l != NULL; l = l->next) {
		IDictStream *stream = l->data;
		for (GList *p = stream->parked.head; p != NULL; p = p->next) {
			ParkedRead *parked = p->data;
			if (parked->req == req) {
				g_queue_delete_link(&stream->parked, p);
				g_free(parked);
				g_atomic_int_dec_and_test(&streams->waiters);
				update_waiting_locked(streams, stream);
				return TRUE;
			}
		}
	}
	return FALSE;
}

/* Called by libfuse when the reader is interrupted (Ctrl-C).  @data is the
 * server, which outlives every request; the request itself is looked up,
 * never dereferenced through a pointer we may have freed. */
static void on_interrupt(fuse_req_t req, void *data)
{
	IDictStreams *streams = idict__server_streams(data);
	g_mutex_lock(&streams->lock);
	gboolean found = unpark_locked(streams, req);
	g_mutex_unlock(&streams->lock);
	if (found)
		fuse_reply_err(req, EINTR);
}

void idict__stream_read(IDictStream *stream, fuse_req_t req, gsize size, off_t off, int flags)
{
	IDictStreams *streams = idict__server_streams(stream->server);
	Reply reply = { .req = req };

	/* Register before parking: if the interrupt already came, on_interrupt
	 * runs now, finds nothing, and fuse_req_interrupted() tells us below. */
	fuse_req_interrupt_func(req, on_interrupt, stream->server);

	g_mutex_lock(&streams->lock);
	gboolean answered = try_read_locked(stream, size, off, &reply.data) || streams->closing;
	if (!answered) {
		if (flags & O_NONBLOCK) {
			reply.err = EAGAIN;
		} else if (fuse_req_interrupted(req)) {
			reply.err = EINTR;
		} else {
			/* Count ourselves as a waiter, then look once more: an
			 * update appended before the count rose is seen here, one
			 * appended after it wakes the dispatcher. */
			g_atomic_int_inc(&streams->waiters);
			answered = try_read_locked(stream, size, off, &reply.data);
			if (answered) {
				g_atomic_int_dec_and_test(&streams->waiters);
			} else {
				ParkedRead *parked = g_new(ParkedRead, 1);
				parked->req = req;
				parked->size = size;
				parked->off = off;
				g_queue_push_tail(&stream->parked, parked);
				update_waiting_locked(streams, stream);
			}
		}
	}
	g_mutex_unlock(&streams->lock);
	if (answered || reply.err)
		send_reply(&reply);
}

void idict__stream_poll(IDictStream *stream, fuse_req_t req, struct fuse_pollhandle *ph)
{
	IDictStreams *streams = idict__server_streams(stream->server);
	IDict *dict = idict__server_dict(stream->server);
	struct fuse_pollhandle *old = NULL;

	g_mutex_lock(&streams->lock);
	if (ph) {
		/* Waiter first, then the check (see idict__stream_read()). */
		old = stream->poll_handle;
		stream->poll_handle = ph;
		if (old == NULL)
			g_atomic_int_inc(&streams->waiters);
	}
	gboolean ready = ready_locked(stream, dict);
	if (ph && ready) {
		stream->poll_handle = NULL;
		g_atomic_int_dec_and_test(&streams->waiters);
	}
	update_waiting_locked(streams, stream);
	g_mutex_unlock(&streams->lock);

	if (old)
		fuse_pollhandle_destroy(old);
	if (ph && ready)
		fuse_pollhandle_destroy(ph);
	fuse_reply_poll(req, ready ? (POLLIN | POLLRDNORM) : 0);
}

void idict__stream_release(IDictStream *stream)
{
	IDictStreams *streams = idict__server_streams(stream->server);
	g_mutex_lock(&streams->lock);
	streams->list = g_list_remove(streams->list, stream);
	GQueue parked = stream->parked;
	g_queue_init(&stream->parked);
	struct fuse_pollhandle *ph = g_steal_pointer(&stream->poll_handle);
	g_atomic_int_add(&streams->waiters, -(gint)(parked.length + (ph != NULL)));
	update_waiting_locked(streams, stream);
	g_mutex_unlock(&streams->lock);

	/* No read can be pending on a released file; answer any leftovers. */
	ParkedRead *p;
	while ((p = g_queue_pop_head(&parked)) != NULL) {
		fuse_reply_err(p->req, EINTR);
		g_free(p);
	}
	if (ph)
		fuse_pollhandle_destroy(ph);
	g_byte_array_unref(stream->window);
	g_free(stream);
}

/* Takes from @stream every parked read that can be answered (all of
 * them with @closing) into @replies, and its poll handle, if ready, into
 * @polls.  Streams lock held. */
static void dispatch_stream_locked(IDictStreams *streams, IDictStream *stream, IDict *dict,
				   gboolean closing, GArray *replies, GPtrArray *polls)
{
	ParkedRead *parked;
	while ((parked = g_queue_peek_head(&stream->parked)) != NULL) {
		Reply reply = { .req = parked->req };
		if (!try_read_locked(stream, parked->size, parked->off, &reply.data) && !closing)
			break;
		g_queue_pop_head(&stream->parked);
		g_free(parked);
		g_atomic_int_dec_and_test(&streams->waiters);
		g_array_append_val(replies, reply);
	}
	if (stream->poll_handle && (closing || ready_locked(stream, dict))) {
		g_ptr_array_add(polls, g_steal_pointer(&stream->poll_handle));
		g_atomic_int_dec_and_test(&streams->waiters);
	}
	update_waiting_locked(streams, stream);
}

/* Sends what dispatch_stream_locked() took, without the streams lock. */
static void send_dispatched(GArray *replies, GPtrArray *polls)
{
	for (guint i = 0; i < replies->len; i++)
		send_reply(&g_array_index(replies, Reply, i));
	for (guint i = 0; i < polls->len; i++) {
		fuse_lowlevel_notify_poll(polls->pdata[i]);
		fuse_pollhandle_destroy(polls->pdata[i]);
	}
}

void idict__streams_dispatch(IDictServer *server, gboolean closing)
{
	IDictStreams *streams = idict__server_streams(server);
	IDict *dict = idict__server_dict(server);
	g_autoptr(GArray) replies = g_array_new(FALSE, TRUE, sizeof(Reply));
	g_autoptr(GPtrArray) polls = g_ptr_array_new();

	g_mutex_lock(&streams->lock);
	streams->closing |= closing;
	for (GList *l = streams->waiting.head, *next; l != NULL; l = next) {
		next = l->next; /* l may leave the queue */
		dispatch_stream_locked(streams, l->data, dict, closing, replies, polls);
	}
	g_mutex_unlock(&streams->lock);
	send_dispatched(replies, polls);
}

gboolean idict__streams_dispatch_one(IDictServer *server)
{
	IDictStreams *streams = idict__server_streams(server);
	IDict *dict = idict__server_dict(server);
	Reply reply = { 0 };
	struct fuse_pollhandle *ph = NULL;

	g_mutex_lock(&streams->lock);
	if (g_atomic_int_get(&streams->waiters) != 1 || streams->waiting.length != 1) {
		g_mutex_unlock(&streams->lock);
		return FALSE;
	}
	/* The one waiter: a parked read or a poll handle. */
	IDictStream *stream = g_queue_peek_head(&streams->waiting);
	ParkedRead *parked = g_queue_peek_head(&stream->parked);
	if (parked && try_read_locked(stream, parked->size, parked->off, &reply.data)) {
		reply.req = parked->req;
		g_queue_pop_head(&stream->parked);
		g_free(parked);
		g_atomic_int_dec_and_test(&streams->waiters);
	} else if (parked == NULL && stream->poll_handle && ready_locked(stream, dict)) {
		ph = g_steal_pointer(&stream->poll_handle);
		g_atomic_int_dec_and_test(&streams->waiters);
	}
	update_waiting_locked(streams, stream);
	g_mutex_unlock(&streams->lock);

	if (reply.req)
		send_reply(&reply);
	if (ph) {
		fuse_lowlevel_notify_poll(ph);
		fuse_pollhandle_destroy(ph);
	}
	return TRUE;
}
