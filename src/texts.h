/* texts.h - texts rendered for clients, and the budget: the cap on the
 * memory held for them (texts.c).  The bottom of the filesystem's side:
 * the store caches the texts of values and counts what it renders and
 * holds for readers against a budget; the server's modules (clients.h)
 * hold texts for their clients against the same one. */
#ifndef IDICT_TEXTS_H
#define IDICT_TEXTS_H

#include "common.h"

G_BEGIN_DECLS

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

/* The memory held for one server's clients, and its cap.  No lock: the
 * count is atomic, so any thread (the computation too) may count. */
typedef struct _IDictBudget IDictBudget;

/* @cap: bytes.  Returns: (transfer full): free with idict__budget_free(). */
IDictBudget *idict__budget_new(guint64 cap);
void idict__budget_free(IDictBudget *budget);
guint64 idict__budget_cap(IDictBudget *budget);
guint64 idict__budget_used(IDictBudget *budget);
/* Counts @bytes against the cap, atomically; any thread, no lock.  A NULL
 * @budget counts nothing.  Returns: FALSE (nothing counted) if the cap
 * would be passed. */
gboolean idict__budget_reserve(IDictBudget *budget, gsize bytes);
void idict__budget_unreserve(IDictBudget *budget, gsize bytes); /* NULL-safe */
/* Says whose request the calling thread serves until the next call: a
 * guest's (any user but the mount's owner and root) reservations stop at
 * three quarters of the cap, so that no other user can take the last
 * quarter from the owner (who may still be refused once the owner's own
 * clients hold it).  Threads that never call it reserve as the owner. */
void idict__budget_serve_guest(gboolean guest);

G_END_DECLS

#endif /* IDICT_TEXTS_H */
