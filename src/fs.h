/* fs.h - the FUSE operations (fs.c) and what they serve.
 *
 * The server (server.c) owns the session and the threads: it fills an
 * IDictFs, passes it to fuse_session_new() as the session's userdata, and
 * calls into these operations; the operations reach the dictionary
 * through the store's API and never call the server.
 */
#ifndef IDICT_FS_H
#define IDICT_FS_H

#include "clients.h"
#include "pins.h"
#include "snapshot.h"
#include "updates.h"

#include <fuse_lowlevel.h>
#include <sys/types.h>

G_BEGIN_DECLS

/* What the operations serve.  The server sets the fields above the line
 * before the session starts (pins: once mounted) and keeps them until the
 * session ends; the rest is fs.c's. */
typedef struct {
	IDict *dict;                  /* the server's reference */
	IDictClients *clients;        /* what clients hold (option client_memory) */
	IDictSnapshotCache *snapshot; /* snapshot.json's last rendering */
	IDictStreams *streams;        /* the readers of `updates` */
	IDictPins *pins;              /* nullable until mounted */
	/* The owner of every file (the user and group who serve the mount)
	 * and the generation number of every inode but the root (see
	 * generation_of() in fs.c), one per dictionary: derived from the time
	 * it was created. */
	uid_t uid;
	gid_t gid;
	guint32 generation;
	gint64 started_us;            /* when the dictionary was created */
	mode_t write_mode;            /* writable keys and control files (option write_mode) */

	/* The files open (OpenFile*), so that idict__fs_wait_for_clients()
	 * knows when clients are gone (pins are no clients), and
	 * idict__fs_clear() frees those still open.  The open files lock
	 * protects them. */
	GMutex lock;
	GCond clients_gone;           /* no client's file open, or the connection ended */
	GHashTable *open_files;
	guint n_pins;
	gboolean waiting;             /* idict__fs_wait_for_clients() waits */
	gboolean ended;               /* the connection ended */
} IDictFs;

const struct fuse_lowlevel_ops *idict__fs_ops(void);
/* Prepares the open-file records of @fs (the server's fields are its). */
void idict__fs_init(IDictFs *fs);
/* Frees the files still open (their release will never come) and the
 * records.  After the session ended. */
void idict__fs_clear(IDictFs *fs);
/* The connection ended: idict__fs_wait_for_clients() waits no more. */
void idict__fs_connection_ended(IDictFs *fs);
/* Waits until no client holds a file open, the connection ended, or
 * @deadline (monotonic; G_MAXINT64: none).  Returns: the files clients
 * still hold open (0 if the connection ended). */
guint idict__fs_wait_for_clients(IDictFs *fs, gint64 deadline);

G_END_DECLS

#endif /* IDICT_FS_H */
