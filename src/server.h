/* server.h - the server (server.c): mounting, the threads that serve the
 * filesystem (workers, the dispatcher), shutdown and unmount.  Its API is
 * public (idict_serve(), idict_server_close()...); nothing in the library
 * calls it.  This header adds what the tests look at. */
#ifndef IDICT_SERVER_H
#define IDICT_SERVER_H

#include "clients.h"
#include "updates.h"

G_BEGIN_DECLS

/* For tests: what @server holds for its clients (option client_memory). */
IDictClients *idict__server_clients(IDictServer *server);
/* For tests: the readers of @server's `updates`. */
IDictStreams *idict__server_streams(IDictServer *server);

G_END_DECLS

#endif /* IDICT_SERVER_H */
