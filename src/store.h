/* store.h - what the dictionary's store offers the library's other
 * modules, beyond the public API of idict.h.  It knows keys, directories
 * and values, and nothing of files: the filesystem's view of it is
 * fs_view.c's.
 *
 * Nodes.  Every key and every directory of keys is a node with an id that
 * is never reused and grows with each node created: the root is
 * IDICT__TREE_ROOT; ids from 2 to IDICT__TREE_FIRST_ID - 1 never name a
 * node (the tree's user may number objects of its own there).
 *
 * Reading for clients.  What a reader takes of the tree it takes in O(1)
 * steps per hold of the store lock, or in chunks of bounded size (walks,
 * see tree.c), so that the computation never waits for a client's work;
 * texts are rendered outside the lock and counted against the clients'
 * memory cap (IDictClients, nullable: no cap).
 */
#ifndef IDICT_STORE_H
#define IDICT_STORE_H

#include "common.h"
#include "texts.h"
#include "refusals.h"
#include "update_log.h"

G_BEGIN_DECLS

#define IDICT__TREE_ROOT 1
#define IDICT__TREE_FIRST_ID 16

/* Takes a reference to @self, dropped with idict_free(): a server holds one
 * while it serves, so that freeing a served dictionary frees it only when
 * the server closes.  Returns: @self. */
IDict *idict__ref(IDict *self);

/* Which nodes a reading shows: every one; the keys with a history
 * (idict_set_history()) and the directories above them; the arrays of
 * doubles and the directories above them.  The root shows in all three. */
typedef enum {
	IDICT__TREE_ALL,
	IDICT__TREE_HISTORY,
	IDICT__TREE_RAW,
} IDictTreeFilter;

/* Why a request failed. */
typedef enum {
	IDICT__TREE_OK = 0,
	IDICT__TREE_NO_NODE,  /* no such node, or one the filter does not show */
	IDICT__TREE_NOT_DIR,  /* a key where a directory was asked for */
	IDICT__TREE_IS_DIR,   /* a directory where a key was asked for */
	IDICT__TREE_READ_ONLY,/* the key is not writable */
	IDICT__TREE_INVALID,  /* the value was refused */
	IDICT__TREE_BUSY,     /* the key changes faster than a value can be compared */
	IDICT__TREE_OVER_CAP, /* the clients' memory cap would be passed */
} IDictTreeStatus;

/* A node as a reader finds it. */
typedef struct {
	guint64 id;
	gboolean is_dir;
	gboolean writable;
	guint64 size;         /* the text's length; 0 for directories, or if not known */
	gint64 mtime_us;      /* g_get_real_time() of the update that published the last change */
	gboolean unpublished; /* changed since the last update */
	guint n_subdirs;      /* directories: children that are directories */
} IDictNodeFacts;

/* One child in a directory listing. */
typedef struct {
	char *name;
	guint64 id;
	gboolean is_dir;
} IDictTreeEntry;
void idict__tree_entry_free(IDictTreeEntry *entry);

/* ---- tree.c: reading the tree ----
 * idict__tree_lookup(): @name in directory @parent, as @filter shows it;
 * facts->size is the cached text's length or 0.
 * idict__tree_parent(): the directory of @id (the root's is the root).
 * idict__tree_key_name(): (transfer full) (nullable) the key or directory
 * path of @id ("" for the root), NULL if it is gone.
 * idict__tree_text(): as idict__tree_lookup() for @id, and the text of
 * its value in *@text_out (transfer full, nullable if not wanted; version =
 * the value's generation), rendered once per generation and cached.
 * idict__tree_raw(): the same for raw/: the array's own bytes, the
 * doubles in native byte order.  Only what IDICT__TREE_RAW shows.
 * idict__tree_list(): the children of directory @id that @filter shows,
 * sorted by name, all from one moment.  *@charged: what the listing holds
 * against the cap, for idict__budget_unreserve() when it is freed.
 * Returns: (transfer full) the entries, or NULL with *@status set.
 * idict__tree_capture(): every key as a{s(vb)} (value, writable) sorted
 * by key, all from one moment, the sequence number of that moment in
 * *@sequence_out; *@charged as above; NULL with *@status if over the cap.
 * idict__store_snapshot(): the same at once, under one hold of the lock
 * (for idict_save_checkpoint(): no cap, the computation's own call). */
IDictTreeStatus idict__tree_lookup(IDict *self, IDictTreeFilter filter, guint64 parent,
				   const char *name, IDictNodeFacts *facts);
IDictTreeStatus idict__tree_parent(IDict *self, guint64 id, IDictNodeFacts *facts);
char *idict__tree_key_name(IDict *self, guint64 id);
IDictTreeStatus idict__tree_text(IDict *self, guint64 id, IDictNodeFacts *facts,
				 IDictBudget *budget, IDictText **text_out);
IDictTreeStatus idict__tree_raw(IDict *self, guint64 id, IDictNodeFacts *facts,
				IDictText **data_out);
GPtrArray *idict__tree_list(IDict *self, IDictTreeFilter filter, guint64 id,
			    IDictBudget *budget, gsize *charged, IDictTreeStatus *status);
GVariant *idict__tree_capture(IDict *self, IDictBudget *budget, guint64 *sequence_out,
			      gsize *charged, IDictTreeStatus *status);
GVariant *idict__store_snapshot(IDict *self, guint64 *sequence_out);
/* For tests: calls @hook (in the walking thread, without locks) between
 * two chunks of every walk of @self; NULL clears it. */
void idict__tree_set_walk_hook(IDict *self, void (*hook)(IDict *, gpointer), gpointer data);
/* For tests: the undo records made for walks so far. */
guint64 idict__tree_undo_records(IDict *self);

/* ---- notify.c: history ----
 * The file of @id in history/: "SEQ UNIXTIME VALUE" lines in *@text_out
 * (transfer full, nullable if not wanted), rendered once per change of the
 * history and cached; facts->mtime_us is the last entry's time.  Only what
 * IDICT__TREE_HISTORY shows. */
IDictTreeStatus idict__notify_history_text(IDict *self, guint64 id, IDictNodeFacts *facts,
					   IDictBudget *budget, IDictText **text_out);

/* ---- store.c: a client's new value ----
 * In steps, so that the filesystem can check text as it arrives and
 * publish it later.
 * idict__store_client_value(): the key's current value (*@value_out,
 * transfer full), for the type and shape that text must have, and whether
 * the key has a check (idict_set_check()).
 * idict__store_client_validate(): parses @len bytes of @text as the key's
 * type, checks the shape and runs the key's check, without the store lock
 * held; *@value_out (transfer full) is the new value; INVALID with @error
 * set (the reason, for ctl/errors) if refused.
 * idict__store_client_publish(): stores a validated @value, as a client's
 * write (listed in the next update); INVALID if the computation changed the
 * key's type or shape meanwhile.
 * idict__store_client_write(): validate and publish, for @text written whole
 * by user @uid; a refusal is recorded for ctl/errors.
 * Returns: OK, NO_NODE, IS_DIR, READ_ONLY, INVALID or BUSY. */
IDictTreeStatus idict__store_client_value(IDict *self, guint64 id, GVariant **value_out,
					  gboolean *has_check_out);
IDictTreeStatus idict__store_client_validate(IDict *self, guint64 id, const char *text,
					     gsize len, GVariant **value_out, GError **error);
IDictTreeStatus idict__store_client_publish(IDict *self, guint64 id, GVariant *value);
IDictTreeStatus idict__store_client_write(IDict *self, guint64 id, guint uid, const char *text,
					  gsize len);
/* Records for ctl/errors that user @uid's value for key @id, @len bytes of
 * @text, was refused for @reason (see refusals.c). */
#define IDICT__REFUSED_RACE "the computation changed the key's type or shape meanwhile"
void idict__store_refuse(IDict *self, guint64 id, guint uid, const char *text, gsize len,
			 const char *reason);

/* ---- notify.c: updates ---- */
typedef struct {
	const char *state; /* static string */
	guint64 sequence;
	guint n_keys;
	gint64 started_us;
	gint64 last_update_us; /* 0 if none yet */
	gint64 control_changed_us; /* last pause, resume or terminate; else started */
	double updates_per_second; /* over the last 64 updates; NAN if unknown */
	double progress;           /* progress key / target; NAN if none */
	double eta_seconds;        /* NAN if unknown */
} IDictStatus;
void idict__store_status(IDict *self, IDictStatus *status);

/* Returns: (transfer none): the dictionary's update log. */
IDictUpdateLog *idict__store_update_log(IDict *self);
/* Called after an update that a reader of `updates` waits for (see
 * idict__update_log_append()), from the notifying thread, with no lock
 * held.  Used by the server to wake its dispatcher: must be quick (O(1))
 * and must never wait for a lock that a client-driven thread may hold.
 * @data is referenced with @ref while the hook is set and during each
 * call (so a call may still run after the hook is cleared), and released
 * with @unref.  One hook per dictionary; a NULL @hook clears the hook set
 * with the same @data.
 * Returns: FALSE if @hook is not NULL and another hook is already set. */
typedef void (*IDictUpdateHook)(gpointer data);
gboolean idict__store_set_update_hook(IDict *self, IDictUpdateHook hook, gpointer data,
				      gpointer (*ref)(gpointer), GDestroyNotify unref);

/* Returns: (transfer none): the dictionary's control state (control.h). */
typedef struct _IDictControl IDictControl;
IDictControl *idict__store_control(IDict *self);

/* Returns: (transfer none): the dictionary's record of refused writes. */
IDictRefusals *idict__store_refusals(IDict *self);

G_END_DECLS

#endif /* IDICT_STORE_H */
