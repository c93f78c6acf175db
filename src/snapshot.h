/* snapshot.h - snapshot.json (snapshot.c): the JSON writer and the
 * rendering shared by every open of one sequence number. */
#ifndef IDICT_SNAPSHOT_H
#define IDICT_SNAPSHOT_H

#include "clients.h"

G_BEGIN_DECLS

/* For tests: renderings of snapshot.json so far, in the process. */
guint idict__snapshot_renders(void);
/* The last rendering of snapshot.json, shared by the opens of one
 * sequence number.  One per server; own locks. */
typedef struct _IDictSnapshotCache IDictSnapshotCache;
IDictSnapshotCache *idict__snapshot_cache_new(void);
/* Frees @cache (NULL-safe) and releases its text from @clients. */
void idict__snapshot_cache_free(IDictSnapshotCache *cache, IDictClients *clients);
/* The text of snapshot.json for an open: the cached rendering if it is of
 * the current sequence number, else a new one (which then is cached), its
 * keys taken by a walk.  Returns: 0 and *@text_out (transfer full), or
 * -ENOMEM. */
int idict__snapshot_open(IDictSnapshotCache *cache, IDict *dict, IDictClients *clients,
			  IDictText **text_out);
/* Returns: (transfer full) (nullable): the last rendering, without
 * rendering anything (its length is snapshot.json's st_size). */
IDictText *idict__snapshot_last(IDictSnapshotCache *cache);
/* Returns: (transfer full): snapshot.json's text. */
GBytes *idict__snapshot_render(IDict *dict);
/* The JSON writer: the text of snapshot.json for @entries (a{s(vb)}, as
 * idict__store_snapshot() captures them; any such GVariant, also one in
 * non-normal form), @sequence and @state.  Always valid JSON (RFC 8259).
 * Returns: (transfer full): the text, newline-terminated. */
GBytes *idict__snapshot_text(GVariant *entries, guint64 sequence, const char *state);

G_END_DECLS

#endif /* IDICT_SNAPSHOT_H */
