/* texts.h - texts rendered for clients, and the cap on the memory held
 * for them.  Implemented in clients.c; used by the store (which caches the
 * texts of values) and by the filesystem's modules. */
#ifndef IDICT_TEXTS_H
#define IDICT_TEXTS_H

#include "common.h"

G_BEGIN_DECLS

/* What the server holds for its clients (see clients.c). */
typedef struct _IDictClients IDictClients;
typedef struct _IDictSnapshotCache IDictSnapshotCache;

/* A text a client reads: immutable, reference-counted (g_atomic_rc_box),
 * counted against the cap once while held (idict__clients_hold()).  One
 * dictionary's: never shared with another (their servers count apart). */
typedef struct {
	GBytes *bytes;
	/* What it renders: the key's value generation, snapshot.json's
	 * sequence number...; grows with every change of the file. */
	guint64 version;
	gint holders; /* protected by the holding IDictClients' hold_lock */
} IDictText;

/* Takes @bytes.  Returns: (transfer full). */
IDictText *idict__text_new(GBytes *bytes, guint64 version);
IDictText *idict__text_ref(IDictText *text);
void idict__text_unref(IDictText *text); /* NULL-safe */
gsize idict__text_size(const IDictText *text);

/* @cap: bytes.  Returns: (transfer full): free with idict__clients_free(). */
IDictClients *idict__clients_new(guint64 cap);
void idict__clients_free(IDictClients *clients);
guint64 idict__clients_cap(IDictClients *clients);
guint64 idict__clients_used(IDictClients *clients);
/* Counts @bytes against the cap, atomically; any thread, no lock.  A NULL
 * @clients counts nothing.  Returns: FALSE (nothing counted) if the cap
 * would be passed. */
gboolean idict__clients_reserve(IDictClients *clients, gsize bytes);
void idict__clients_unreserve(IDictClients *clients, gsize bytes);
G_END_DECLS

#endif /* IDICT_TEXTS_H */
