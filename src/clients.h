/* clients.h - what the server holds for its clients (clients.c) beyond
 * texts.h: holders of texts, sizes promised to requesters, the kernel NFS
 * server's requests.  Own locks (see src/README). */
#ifndef IDICT_CLIENTS_H
#define IDICT_CLIENTS_H

#include "texts.h"
#include <sys/stat.h>
#include <sys/types.h>

G_BEGIN_DECLS

typedef struct _IDictClients IDictClients;

/* @cap: bytes.  Returns: (transfer full): free with idict__clients_free(). */
IDictClients *idict__clients_new(guint64 cap);
void idict__clients_free(IDictClients *clients);
/* Returns: (transfer none) (nullable): @clients' budget (texts.h); NULL
 * for NULL @clients. */
IDictBudget *idict__clients_budget(IDictClients *clients);
/* The same as idict__budget_*() on idict__clients_budget(@clients). */
guint64 idict__clients_cap(IDictClients *clients);
guint64 idict__clients_used(IDictClients *clients);
gboolean idict__clients_reserve(IDictClients *clients, gsize bytes);
void idict__clients_unreserve(IDictClients *clients, gsize bytes);
/* Adds a holder to @text, counting it against the cap if it is the first.
 * Returns: FALSE (not held) if the cap would be passed. */
gboolean idict__clients_hold(IDictClients *clients, IDictText *text);
/* Removes a holder (NULL-safe). */
void idict__clients_release(IDictClients *clients, IDictText *text);
/* Logs, at most every 10 s, that @what was refused for the cap. */
void idict__clients_refused(IDictClients *clients, const char *what);
/* Returns: a new version for a text rendered anew each time (control files). */
guint64 idict__clients_next_version(IDictClients *clients);
/* Remembers that a lookup or getattr from thread @tid reported the size of
 * @text (nullable: a directory) for inode @ino. */
void idict__clients_promise(IDictClients *clients, guint64 ino, pid_t tid, IDictText *text);
/* Returns: (transfer full) (nullable): the text promised to the requester
 * of thread @tid for a read at offset 0 of exactly @size bytes of @ino. */
IDictText *idict__clients_promised(IDictClients *clients, guint64 ino, pid_t tid, gsize size);
/* Records that thread @tid read @text of @ino to its end (a read that
 * asked past it): what was promised to it before, no newer, is spent. */
void idict__clients_served(IDictClients *clients, guint64 ino, pid_t tid, const IDictText *text);
/* The kernel's requests (clients.c, "The kernel's requests").
 * idict__clients_is_kernel(): TRUE if thread @tid is a kernel thread (the
 * NFS server's); cached for a second, else one read of /proc.
 * idict__clients_kernel_touch(): a kernel request for file @ino is about to
 * render it: local reads of it are noted from now on.
 * idict__clients_kernel_attr(): a kernel LOOKUP or GETATTR by @tid found
 * @current (transfer none; nullable) with attributes @st, which this
 * replaces with what the rules report.
 * idict__clients_kernel_told(): for a kernel READ of @ino: the told text
 * (transfer full) and its attributes in @st, or NULL if none is recent.
 * idict__clients_kernel_read(): a kernel READ by @tid served @text (with
 * attributes @st), which becomes the told text if @tell.
 * idict__clients_kernel_forget_thread(): @tid sent another request than a
 * GETATTR after its READ.
 * idict__clients_local_read(): a local reader was handed @text of @ino. */
gboolean idict__clients_is_kernel(IDictClients *clients, pid_t tid);
void idict__clients_kernel_touch(IDictClients *clients, guint64 ino);
void idict__clients_kernel_attr(IDictClients *clients, guint64 ino, pid_t tid,
				IDictText *current, struct stat *st);
IDictText *idict__clients_kernel_told(IDictClients *clients, guint64 ino, struct stat *st);
void idict__clients_kernel_read(IDictClients *clients, guint64 ino, pid_t tid, IDictText *text,
				const struct stat *st, gboolean tell);
void idict__clients_kernel_forget_thread(IDictClients *clients, pid_t tid);
void idict__clients_local_read(IDictClients *clients, guint64 ino, const IDictText *text);
/* For tests: the quantum and the post-read windows, in µs. */
void idict__clients_set_kernel_times(IDictClients *clients, gint64 quantum_us,
				     gint64 post_read_us, gint64 post_read_late_us);

G_END_DECLS

#endif /* IDICT_CLIENTS_H */
