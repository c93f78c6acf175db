/* fs_view.h - the filesystem's view of the dictionary's tree
 * (fs_view.c): inode numbers, the views root, history/ and raw/, errno,
 * and the attributes files show, over store.h.  No FUSE. */
#ifndef IDICT_FS_VIEW_H
#define IDICT_FS_VIEW_H

#include "clients.h"
#include "root.h"
#include "store.h"

G_BEGIN_DECLS

/* An inode number is the node's id (store.h); history/PATH and raw/PATH
 * add IDICT__INO_HISTORY_BIT / IDICT__INO_RAW_BIT. */
typedef struct {
	guint64 ino;
	gboolean is_dir;
	gboolean writable;
	guint64 size;     /* rendered length; 0 for directories */
	gint64 mtime_us;  /* g_get_real_time() of the last change */
	guint nlink;
} IDictNodeInfo;

/* The trees the filesystem shows: every key; history/ (keys with a history,
 * and their directories); raw/ (arrays of doubles, and their directories).
 * Nodes keep their inode numbers in every view. */
typedef enum {
	IDICT__VIEW_KEYS,
	IDICT__VIEW_HISTORY,
	IDICT__VIEW_RAW,
} IDictView;

/* Looks up @name in directory @parent as @view shows it.  info->size is
 * the cached text's length or 0: idict__view_stat() gives the size.
 * Returns: 0 or -ENOENT / -ENOTDIR. */
int idict__view_lookup(IDict *dict, IDictView view, guint64 parent, const char *name,
		       IDictNodeInfo *info);
/* The parent directory of @ino.  Returns: 0 or -ENOENT. */
int idict__view_parent(IDict *dict, guint64 ino, IDictNodeInfo *info);
/* Returns: (transfer full) (nullable): the key (or directory) name of node
 * @ino ("" for the root), NULL if it is gone.  O(1) under the store lock. */
char *idict__view_key_name(IDict *dict, guint64 ino);
/* What readers get, their memory counted with @clients (nullable):
 * idict__view_key_text(): the text of key @ino's current value (transfer
 * full, version = value generation); -ENOMEM if the render would pass the
 * cap.  idict__view_history_text(), idict__view_raw_text(): the same for
 * the file of @ino in history/ and raw/ (the array's own bytes).
 * idict__view_walk_dir(): the entries of directory @ino that @view shows,
 * sorted by name, all from one moment; -ENOMEM if the listing or the
 * walk's undo records would pass the cap.  *@charged: what the listing
 * holds against the cap, for idict__clients_unreserve() when it is freed.
 * The entries' ids are inode numbers. */
int idict__view_key_text(IDict *dict, guint64 ino, IDictNodeInfo *info, IDictClients *clients,
			 IDictText **text_out);
int idict__view_history_text(IDict *dict, guint64 ino, IDictNodeInfo *info,
			     IDictClients *clients, IDictText **text_out);
int idict__view_raw_text(IDict *dict, guint64 ino, IDictNodeInfo *info, IDictText **data_out);
GPtrArray *idict__view_walk_dir(IDict *dict, IDictView view, guint64 ino, IDictClients *clients,
				gsize *charged, int *err);
/* The same without a cap, texts as GBytes (tests, tools):
 * idict__view_stat() for a key also returns its text in @text_out
 * (transfer full, nullable if not wanted), consistent with info->size. */
int idict__view_stat(IDict *dict, guint64 ino, IDictNodeInfo *info, GBytes **text_out);
GPtrArray *idict__view_list_dir(IDict *dict, IDictView view, guint64 ino, int *err);
int idict__view_history_stat(IDict *dict, guint64 ino, IDictNodeInfo *info, GBytes **text_out);
int idict__view_raw_stat(IDict *dict, guint64 ino, IDictNodeInfo *info, GBytes **data_out);
/* A client's write to key @ino, as idict__store_client_*() (store.h).
 * Returns: 0, or -ENOENT, -EISDIR, -EACCES, -EINVAL, -EAGAIN. */
int idict__view_client_value(IDict *dict, guint64 ino, GVariant **value_out,
			     gboolean *has_check_out);
int idict__view_client_validate(IDict *dict, guint64 ino, const char *text, gsize len,
				GVariant **value_out, GError **error);
int idict__view_client_publish(IDict *dict, guint64 ino, GVariant *value);
int idict__view_client_write(IDict *dict, guint64 ino, guint uid, const char *text, gsize len);
/* Returns: the errno value for @status (0 for OK). */
int idict__view_errno(IDictTreeStatus status);

G_END_DECLS

#endif /* IDICT_FS_VIEW_H */
