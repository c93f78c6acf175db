/* updates.h - the `updates` stream file (updates.c): parked reads, polls,
 * interrupts, and the dispatcher that answers them. */
#ifndef IDICT_UPDATES_H
#define IDICT_UPDATES_H

#include "update_log.h"
#include <fuse_lowlevel.h>

G_BEGIN_DECLS

typedef struct _IDictStreams IDictStreams;
typedef struct _IDictStream IDictStream;

/* The readers of `updates` of one server, reading @log.  Returns:
 * (transfer full): a reference-counted object (the update hook's data). */
IDictStreams *idict__streams_new(IDictUpdateLog *log);
gpointer idict__streams_ref(gpointer streams);
/* For tests: the reads parked now (readers blocked in read()). */
guint idict__streams_parked(IDictStreams *streams);
/* Once every stream is released.  NULL-safe. */
void idict__streams_unref(gpointer streams);
/* The update hook (IDictUpdateHook; its data is the streams): wakes the
 * dispatcher.  O(1), and never waits for a lock. */
void idict__streams_on_update(gpointer streams);
/* The dispatcher's wait: returns when an update came that a reader waits
 * for (TRUE) or idict__streams_stop_waiting() was called (FALSE). */
gboolean idict__streams_wait_for_update(IDictStreams *streams);
void idict__streams_stop_waiting(IDictStreams *streams);
/* Opens a reader of `updates`, starting now.  Returns: (transfer full):
 * free with idict__stream_release(). */
IDictStream *idict__stream_open(IDictStreams *streams);
/* Returns: the bytes an open reader holds (its cursor and the pieces of its
 * last read), which the server counts against the client memory cap. */
gsize idict__stream_size(void);
/* Answers or parks read request @req; unless @may_park, answers at once
 * (end of file if nothing is there yet). */
void idict__stream_read(IDictStream *stream, fuse_req_t req, gsize size, off_t off, int flags,
			gboolean may_park);
void idict__stream_poll(IDictStream *stream, fuse_req_t req, struct fuse_pollhandle *ph);
void idict__stream_release(IDictStream *stream);
/* Answers every parked read that can be answered, and pending polls, one
 * reply at a time (from the server's dispatcher thread).  With @closing,
 * answers all parked reads with end-of-file, and every later read at once. */
void idict__streams_dispatch(IDictStreams *streams, gboolean closing);

G_END_DECLS

#endif /* IDICT_UPDATES_H */
