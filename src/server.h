/* server.h - what the server (server.c: mount, threads, shutdown) offers
 * the filesystem's operations. */
#ifndef IDICT_SERVER_H
#define IDICT_SERVER_H

#include "clients.h"
#include "pins.h"
#include "updates.h"

G_BEGIN_DECLS

IDict *idict__server_dict(IDictServer *server);
/* Fixed when the server starts: the owner of every file (the user and
 * group who serve the mount) and the generation number of every inode but
 * the root (see generation_of() in fs.c), one per dictionary: derived from
 * the time it was created. */
typedef struct {
	uid_t uid;
	gid_t gid;
	guint32 generation;
	gint64 started_us; /* when the dictionary was created */
} IDictServerIds;
const IDictServerIds *idict__server_ids(IDictServer *server);
/* The permission bits of writable keys and control files (option write_mode). */
mode_t idict__server_write_mode(IDictServer *server);
/* What the server holds for its clients (option client_memory). */
IDictClients *idict__server_clients(IDictServer *server);
IDictStreams *idict__server_streams(IDictServer *server);
IDictPins *idict__server_pins(IDictServer *server);
/* Tracks open files, so that wait-then-close knows when clients are gone
 * (a @pin is no client), and frees with idict__fs_free_open_file() those
 * still open when the server closes. */
void idict__server_file_opened(IDictServer *server, gpointer file, gboolean pin);
/* Forgets @file; the caller frees it. */
void idict__server_file_closed(IDictServer *server, gpointer file, gboolean pin);

G_END_DECLS

#endif /* IDICT_SERVER_H */
