/* fs_view.c - the filesystem's view of the dictionary's tree (store.h):
 * inode numbers, the views (every key; history/; raw/), errno, and the
 * attributes a file shows (link counts, modification times).
 *
 * An inode number is the node's id: the store numbers the root 1 and
 * every other node from IDICT__TREE_FIRST_ID on, which leaves 2..15 to the
 * filesystem's own files (IDICT__INO_CTL...; fs.c).
 */
#include "fs_view.h"

#include <errno.h>

G_STATIC_ASSERT(IDICT__TREE_ROOT == IDICT__INO_ROOT);
G_STATIC_ASSERT(IDICT__TREE_FIRST_ID == IDICT__INO_FIRST_KEY);

int idict__view_errno(IDictTreeStatus status)
{
	switch (status) {
	case IDICT__TREE_OK:
		return 0;
	case IDICT__TREE_NOT_DIR:
		return -ENOTDIR;
	case IDICT__TREE_IS_DIR:
		return -EISDIR;
	case IDICT__TREE_READ_ONLY:
		return -EACCES;
	case IDICT__TREE_INVALID:
		return -EINVAL;
	case IDICT__TREE_BUSY:
		return -EAGAIN;
	case IDICT__TREE_OVER_CAP:
		return -ENOMEM;
	case IDICT__TREE_NO_NODE:
	default:
		return -ENOENT;
	}
}

static IDictTreeFilter filter_of(IDictView view)
{
	switch (view) {
	case IDICT__VIEW_HISTORY:
		return IDICT__TREE_HISTORY;
	case IDICT__VIEW_RAW:
		return IDICT__TREE_RAW;
	case IDICT__VIEW_KEYS:
	default:
		return IDICT__TREE_ALL;
	}
}

/* What a file shows of a node, from what the store tells of it. */
static void info_of(const IDictNodeFacts *facts, IDictNodeInfo *info)
{
	info->ino = facts->id;
	info->is_dir = facts->is_dir;
	info->writable = facts->writable;
	info->size = facts->size;
	/* A change not yet published by an update shows as made now: a
	 * client that compares times (NFS, make) must see it as new. */
	info->mtime_us = facts->unpublished ? g_get_real_time() : facts->mtime_us;
	/* A directory: 2 plus one for each subdirectory's "..", as find(1)
	 * expects. */
	info->nlink = facts->is_dir ? 2 + facts->n_subdirs : 1;
}

/* Converts the result of a store call that filled @facts (when OK). */
static int answer(IDictTreeStatus status, const IDictNodeFacts *facts, IDictNodeInfo *info)
{
	if (status == IDICT__TREE_OK)
		info_of(facts, info);
	return idict__view_errno(status);
}

int idict__view_lookup(IDict *dict, IDictView view, guint64 parent, const char *name,
		       IDictNodeInfo *info)
{
	IDictNodeFacts facts;
	return answer(idict__tree_lookup(dict, filter_of(view), parent, name, &facts), &facts,
		      info);
}

int idict__view_parent(IDict *dict, guint64 ino, IDictNodeInfo *info)
{
	IDictNodeFacts facts;
	return answer(idict__tree_parent(dict, ino, &facts), &facts, info);
}

char *idict__view_key_name(IDict *dict, guint64 ino)
{
	return idict__tree_key_name(dict, ino);
}

int idict__view_key_text(IDict *dict, guint64 ino, IDictNodeInfo *info, IDictClients *clients,
			 IDictText **text_out)
{
	IDictNodeFacts facts;
	IDictTreeStatus status =
		idict__tree_text(dict, ino, &facts, idict__clients_budget(clients), text_out);
	return answer(status, &facts, info);
}

int idict__view_history_text(IDict *dict, guint64 ino, IDictNodeInfo *info,
			     IDictClients *clients, IDictText **text_out)
{
	IDictNodeFacts facts;
	IDictTreeStatus status = idict__notify_history_text(dict, ino, &facts,
							    idict__clients_budget(clients), text_out);
	return answer(status, &facts, info);
}

int idict__view_raw_text(IDict *dict, guint64 ino, IDictNodeInfo *info, IDictText **data_out)
{
	IDictNodeFacts facts;
	return answer(idict__tree_raw(dict, ino, &facts, data_out), &facts, info);
}

GPtrArray *idict__view_walk_dir(IDict *dict, IDictView view, guint64 ino, IDictClients *clients,
				gsize *charged, int *err)
{
	IDictTreeStatus status = IDICT__TREE_OK;
	GPtrArray *entries = idict__tree_list(dict, filter_of(view), ino,
					     idict__clients_budget(clients), charged, &status);
	*err = idict__view_errno(status);
	return entries;
}

/* The signatures of before walks and shared texts, for the callers that
 * count nothing against a cap (tests, tools). */

int idict__view_stat(IDict *dict, guint64 ino, IDictNodeInfo *info, GBytes **text_out)
{
	IDictText *text = NULL;
	int err = idict__view_key_text(dict, ino, info, NULL, text_out ? &text : NULL);
	if (text_out)
		*text_out = text ? g_bytes_ref(text->bytes) : NULL;
	idict__text_unref(text);
	return err;
}

GPtrArray *idict__view_list_dir(IDict *dict, IDictView view, guint64 ino, int *err)
{
	gsize charged = 0;
	return idict__view_walk_dir(dict, view, ino, NULL, &charged, err);
}

int idict__view_history_stat(IDict *dict, guint64 ino, IDictNodeInfo *info, GBytes **text_out)
{
	IDictText *text = NULL;
	int err = idict__view_history_text(dict, ino, info, NULL, text_out ? &text : NULL);
	if (text_out)
		*text_out = text ? g_bytes_ref(text->bytes) : NULL;
	idict__text_unref(text);
	return err;
}

int idict__view_raw_stat(IDict *dict, guint64 ino, IDictNodeInfo *info, GBytes **data_out)
{
	IDictText *data = NULL;
	int err = idict__view_raw_text(dict, ino, info, data_out ? &data : NULL);
	if (data_out)
		*data_out = data ? g_bytes_ref(data->bytes) : NULL;
	idict__text_unref(data);
	return err;
}

int idict__view_client_value(IDict *dict, guint64 ino, GVariant **value_out,
			     gboolean *has_check_out)
{
	return idict__view_errno(idict__store_client_value(dict, ino, value_out, has_check_out));
}

int idict__view_client_validate(IDict *dict, guint64 ino, const char *text, gsize len,
				GVariant **value_out, GError **error)
{
	return idict__view_errno(
		idict__store_client_validate(dict, ino, text, len, value_out, error));
}

int idict__view_client_publish(IDict *dict, guint64 ino, GVariant *value)
{
	return idict__view_errno(idict__store_client_publish(dict, ino, value));
}

int idict__view_client_write(IDict *dict, guint64 ino, guint uid, const char *text, gsize len)
{
	return idict__view_errno(idict__store_client_write(dict, ino, uid, text, len));
}
