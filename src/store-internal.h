/* store-internal.h - what the store's files share: the dictionary's
 * structure, its nodes and the store lock.  Included by store.c, tree.c and
 * notify.c only (as kernfs-internal.h is by kernfs): every other module
 * reaches the dictionary through store.h and idict.h.
 *
 * The store's files, by lock:
 *   value.c    the value type (no lock: plain data)
 *   store.c    the tree: nodes, setters, getters, removal, client writes,
 *              the whole-dictionary operations (store lock)
 *   tree.c     reading the tree for clients: one node, its cached text, a
 *              directory's children or every key as of one moment, in
 *              chunks (walks; store lock, walk slots)
 *   notify.c   updates: the sequence, the log, the hook, callbacks,
 *              history, progress, status (store lock, callbacks lock)
 * The control state (control.c, its own lock) is a module below them.
 */
#ifndef IDICT_STORE_INTERNAL_H
#define IDICT_STORE_INTERNAL_H

#include "control.h"
#include "store.h"
#include "value.h"

G_BEGIN_DECLS

/* A user's check, reference-counted (g_atomic_rc_box) so that a client's
 * write can keep using it while the computation replaces it. */
typedef struct {
	IDictCheckFunc func;
	gpointer data;
	GDestroyNotify destroy;
} CheckRec;

/* The last values of a scalar key, one per update that changed it. */
typedef struct {
	guint64 seq;
	gint64 time_us;
	IDictValue value; /* a scalar: owns nothing */
} HistoryEntry;

/* A ring: the entry pushed k-th (from 0) is at entries[k % depth], and is
 * there while k >= pushed - depth. */
typedef struct {
	guint64 id;       /* unique in the dictionary: a reader finds its ring again */
	guint64 pushed;   /* entries pushed in all */
	guint64 version;  /* grows at every push and resize: the text's version */
	IDictText *text;  /* rendering for clients, cached; nullable, may be stale */
	guint depth;      /* capacity */
	HistoryEntry entries[];
} History;

#define RATE_WINDOW 64 /* updates per second: over the last this many updates */
#define N_WALK_SLOTS 4     /* walks at once; more wait for a slot */
#define WALK_CHUNK 256     /* nodes a walk visits per hold of the store lock */
#define HISTORY_CHUNK 4096 /* history entries copied per hold of the store lock */

typedef enum {
	WALK_KEYS,    /* every key, by key: snapshot.json */
	WALK_LISTING, /* the children of one directory, by name */
} WalkKind;

/* What a walk needs of a node it has not visited yet, as it was when the
 * walk began (see "walks" in tree.c). */
typedef struct {
	guint64 id;
	char *name;     /* the key (WALK_KEYS) or the name in its directory */
	IDictValue value; /* WALK_KEYS: the value then; owned */
	gsize charge;   /* reserved against the cap */
	guint is_dir : 1;
	guint writable : 1;
	guint visible : 1; /* WALK_LISTING: shown in the walk's filter then */
	guint emitted : 1; /* the walk has used it */
} UndoRecord;

typedef struct {
	gboolean active;        /* store lock: the computation records for it */
	WalkKind kind;
	IDictTreeFilter filter; /* WALK_LISTING */
	guint64 dir_id;         /* WALK_LISTING */
	guint64 end_id;         /* nodes from this number on were created after it began */
	gboolean started;       /* last holds the last node visited */
	char last[IDICT_KEY_MAX + 1];
	GHashTable *records;    /* guint64* id -> UndoRecord*, or NULL */
	IDictBudget *budget;  /* nullable: where records are counted */
	gboolean over_cap;      /* a record did not fit: the walk fails */
} Walk;

typedef struct _Node Node;
struct _Node {
	guint64 id;         /* first: nodes_by_id hashes &node->id; never reused */
	Node *parent;
	GTree *children;    /* directories only: name -> Node* */
	IDictValue value;   /* keys only */
	IDictText *text;    /* rendering of value, cached; NULL until needed */
	IDictText *raw;     /* raw/: the array's data, cached; NULL until needed */
	CheckRec *check;    /* nullable */
	History *history;   /* keys only, nullable: idict_set_history() */
	guint64 generation; /* bumped at every change of value */
	gint64 mtime_us;    /* time of the update that published the last change */
	guint n_subdirs;    /* directories only: children that are directories */
	guint n_history;    /* directories only: keys with a history below */
	guint n_raw;        /* directories only: arrays of doubles below (raw/) */
	guint changed_index; /* its place in IDict.changed, while changed */
	guint8 name_offset; /* the last component starts at key + name_offset */
	guint writable : 1;
	guint changed : 1;  /* on IDict.changed */
	guint client_written : 1; /* in IDict.client_writes */
	char key[];         /* full path, "" for the root; the key table's key */
};

#define NODE_NAME(node) ((node)->key + (node)->name_offset)
G_STATIC_ASSERT(IDICT_KEY_MAX <= G_MAXUINT8);
G_STATIC_ASSERT(G_STRUCT_OFFSET(Node, id) == 0);

struct _IDict {
	/* One for the caller of idict_new(), one for each server that serves
	 * the dictionary (idict__ref()); idict_free() drops one. */
	gatomicrefcount ref_count;
	/* The store lock: recursive so that the computation can hold it across
	 * several setters (idict_lock()).  Protects the tree, the tables,
	 * changed keys and removed names, sequence, last_update_us and next_id.
	 * Taken with lock_store() or lock_for_reader(), see there. */
	GRecMutex lock;
	gint lock_waiters; /* atomic: the computation's calls waiting for it */
	Node *root;
	GHashTable *keys;    /* node->key -> Node*, keys only */
	GHashTable *nodes_by_id; /* set of Node*, hashed by their first member, id */
	Node **changed;      /* keys changed since the last update */
	guint n_changed;
	guint changed_room;
	GHashTable *removed; /* set of names (owned) of keys removed since then */
	/* History settings that idict_clear() kept for keys it removed: name
	 * (owned) -> depth; a key created again under that name gets a new,
	 * empty history of that depth.  NULL until a clear keeps one. */
	GHashTable *kept_history;
	guint64 next_id;
	guint64 sequence;
	gint64 started_us;
	gint64 last_update_us;
	IDictUpdateLog *log;
	IDictRefusals *refusals; /* clients' refused writes; its own lock */
	GTree *by_key;       /* node->key -> Node*, keys only: walks of every key */
	guint64 next_history_id;
	/* Walks under way (store lock); a slot is taken under walk_slots_lock. */
	Walk walks[N_WALK_SLOTS];
	guint n_walks;       /* active ones: 0 makes a set skip them at once */
	GMutex walk_slots_lock;
	GCond walk_slot_freed;
	gboolean walk_slot_taken[N_WALK_SLOTS];
	guint64 undo_records_made;            /* store lock; for tests */
	void (*walk_hook)(IDict *, gpointer); /* for tests: between chunks */
	gpointer walk_hook_data;
	gint64 update_times[RATE_WINDOW]; /* ring of the last updates' times */
	char *progress_key;               /* nullable: idict_set_progress_target() */
	double progress_target;
	gboolean progress_started;        /* progress_t0_us/f0 recorded */
	gint64 progress_t0_us;
	double progress_f0;

	IDictControl *control; /* its own lock; the signal thread may hold it too */

	/* Protects callbacks, next_callback_id and the update hook. */
	GMutex callbacks_lock;
	/* CallbackRec*, g_atomic_rc_box: several threads may notify at once. */
	GPtrArray *callbacks;
	guint next_callback_id;
	IDictUpdateHook hook;
	gpointer hook_data;          /* referenced while set and while called */
	gpointer (*hook_ref)(gpointer);
	GDestroyNotify hook_unref;
	/* Atomic, changed under callbacks_lock: callbacks exist.  Lets an
	 * update with no callbacks and no waiting reader skip the lock. */
	gint listening;

	/* Client writes not yet taken (idict_take_client_writes()), under the
	 * store lock: Node* -> IDictValue* (owned), the value the computation still
	 * sees while writes are held (idict_hold_client_writes()), or NULL. */
	GHashTable *client_writes;
	gboolean hold_client_writes;
};

/* The store lock.
 *
 * A mutex may be taken again by the thread that just released it before a
 * waiter that release woke gets to run (glibc's mutexes let the running
 * thread barge in): a reader walking chunk after chunk could keep the
 * computation waiting for the whole walk, and busy readers (four `ls -l`
 * loops) for longer.  So the computation's calls announce themselves when
 * they have to wait (lock_store(): a trylock first, so that the
 * uncontended path costs what it did), and readers step aside for an
 * announced waiter before they take the lock (lock_for_reader()).  This
 * orders who goes first and nothing else: no result depends on it.
 */

static inline void lock_store(IDict *self)
{
	if (G_LIKELY(g_rec_mutex_trylock(&self->lock)))
		return;
	g_atomic_int_inc(&self->lock_waiters);
	g_rec_mutex_lock(&self->lock);
	g_atomic_int_add(&self->lock_waiters, -1);
}

static inline void lock_for_reader(IDict *self)
{
	/* Bounded: a waiter takes the lock as soon as it runs; one that waits
	 * for the computation's own long idict_lock() section is let be. */
	for (guint i = 0; i < 200 && g_atomic_int_get(&self->lock_waiters) > 0; i++) {
		if (i < 20)
			g_thread_yield();
		else
			g_usleep(20);
	}
	g_rec_mutex_lock(&self->lock);
}

/* Returns: (transfer none) (nullable): the node with @id.  Store lock held. */
static inline Node *node_by_id(IDict *self, guint64 id)
{
	return g_hash_table_lookup(self->nodes_by_id, &id);
}

/* Whether @node is a key with a file in raw/: an array of doubles. */
static inline gboolean is_raw_array(const Node *node)
{
	return node->children == NULL && idict__value_is_raw_array(&node->value);
}

/* What is about to change of a node, for the walks (tree.c). */
typedef enum {
	NOTE_VALUE,    /* its value is about to change */
	NOTE_WRITABLE, /* its writable flag */
	NOTE_HISTORY,  /* whether the history filter shows it */
	NOTE_RAW,      /* whether the raw filter shows it */
	NOTE_REMOVE,   /* it is about to be removed */
} NoteKind;

/* ---- tree.c ---- */
/* Whether @filter shows @node.  Store lock held. */
gboolean idict__tree_visible_locked(IDict *self, const Node *node, IDictTreeFilter filter);
/* Fills @facts with what a reader is told of @node.  Store lock held. */
void idict__tree_facts_locked(const Node *node, IDictNodeFacts *facts);
/* For a reader of a derived file (history/, raw/): takes the store lock
 * (lock_for_reader()) and finds node @id as @filter shows it, with its
 * facts (read-only, size 0 until known).  Returns: the node, with the lock
 * held; or NULL with the lock released and *@status IDICT__TREE_NO_NODE,
 * or IDICT__TREE_OK for a directory (nothing more to read). */
Node *idict__tree_derived_begin(IDict *self, guint64 id, IDictTreeFilter filter,
				IDictNodeFacts *facts, IDictTreeStatus *status);
/* Called before a change @what of @node: leaves an undo record for each
 * active walk that has yet to visit @node.  Store lock held.
 * O(N_WALK_SLOTS).  Cheap to skip: callers test n_walks first. */
void idict__tree_note_locked(IDict *self, Node *node, NoteKind what);
/* The same for @node and each directory above it. */
void idict__tree_note_chain_locked(IDict *self, Node *node, NoteKind what);

/* ---- store.c ---- */
int idict__store_compare_strings(gconstpointer a, gconstpointer b);

/* ---- notify.c ---- */
/* Frees @history (nullable) and its cached text.  Without the store lock. */
void idict__notify_history_free(History *history);
/* Gives @node the history that idict_clear() kept for its name, if any.
 * Store lock held. */
void idict__notify_restore_kept_history_locked(IDict *self, Node *node);
/* Releases the callbacks and the update hook: for idict_free(). */
void idict__notify_free_callbacks(IDict *self);

G_END_DECLS

#endif /* IDICT_STORE_INTERNAL_H */
