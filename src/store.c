/* store.c - the dictionary: a locked table of typed values, as a tree of
 * directories for the filesystem, plus the loop's control state and the
 * update callbacks.
 *
 * Values are immutable GVariants: readers take a reference under the lock
 * and do their work (rendering text, replying to the kernel) after
 * releasing it, so the computation never waits for a client for longer than
 * a hash lookup.  What a reader needs of many nodes at once (a directory
 * listing, snapshot.json, a long history) it takes in chunks of bounded
 * size, one lock hold each: see "walks" below.
 */
#include "idict-private.h"

#include <errno.h>
#include <math.h>
#include <string.h>

/* A user's check, reference-counted (g_atomic_rc_box) so that a client's
 * write can keep using it while the computation replaces it. */
typedef struct {
	IDictCheckFunc func;
	gpointer data;
	GDestroyNotify destroy;
} CheckRec;

/* A value as the store keeps it: the scalars the computation sets in its
 * loop (double, int64, boolean) unboxed, so that setting one allocates
 * nothing; any other type as a GVariant. */
typedef enum {
	VALUE_BOXED,
	VALUE_DOUBLE,
	VALUE_INT,
	VALUE_BOOL,
} ValueKind;

typedef struct {
	ValueKind kind;
	union {
		double d;
		gint64 i;
		gboolean b;
		GVariant *boxed; /* owned, non-floating */
	} as;
} Value;

/* The last values of a scalar key, one per update that changed it. */
typedef struct {
	guint64 seq;
	gint64 time_us;
	Value value; /* a scalar: owns nothing */
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
 * walk began (see "walks" below). */
typedef struct {
	guint64 ino;
	char *name;     /* the key (WALK_KEYS) or the name in its directory */
	Value value;    /* WALK_KEYS: the value then; owned */
	gsize charge;   /* reserved against the cap */
	guint is_dir : 1;
	guint writable : 1;
	guint visible : 1; /* WALK_LISTING: shown in the walk's view then */
	guint emitted : 1; /* the walk has used it */
} UndoRecord;

typedef struct {
	gboolean active;        /* store lock: the computation records for it */
	WalkKind kind;
	IDictView view;         /* WALK_LISTING */
	guint64 dir_ino;        /* WALK_LISTING */
	guint64 end_ino;        /* nodes from this number on were created after it began */
	gboolean started;       /* last holds the last node visited */
	char last[IDICT_KEY_MAX + 1];
	GHashTable *records;    /* guint64* ino -> UndoRecord*, or NULL */
	IDictClients *clients;  /* nullable: where records are counted */
	gboolean over_cap;      /* a record did not fit: the walk fails */
} Walk;

typedef struct _Node Node;
struct _Node {
	guint64 ino;        /* first: the inode table hashes &node->ino; never reused */
	Node *parent;
	GTree *children;    /* directories only: name -> Node* */
	Value value;        /* keys only */
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
G_STATIC_ASSERT(G_STRUCT_OFFSET(Node, ino) == 0);

typedef struct {
	guint id;
	IDictUpdateFunc func;
	gpointer data;
	GDestroyNotify destroy;
	gboolean removed; /* protected by callbacks_lock */
} CallbackRec;

struct _IDict {
	/* One for the caller of idict_new(), one for each server that serves
	 * the dictionary (idict__ref()); idict_free() drops one. */
	gatomicrefcount ref_count;
	/* The store lock: recursive so that the computation can hold it across
	 * several setters (idict_lock()).  Protects the tree, the tables,
	 * changed keys and removed names, sequence, last_update_us and next_ino.
	 * Taken with lock_store() or lock_for_reader(), see there. */
	GRecMutex lock;
	gint lock_waiters; /* atomic: the computation's calls waiting for it */
	Node *root;
	GHashTable *keys;    /* node->key -> Node*, keys only */
	GHashTable *inodes;  /* set of Node*, hashed by their first member, ino */
	Node **changed;      /* keys changed since the last update */
	guint n_changed;
	guint changed_room;
	GHashTable *removed; /* set of names (owned) of keys removed since then */
	/* History settings that idict_clear() kept for keys it removed: name
	 * (owned) -> depth; a key created again under that name gets a new,
	 * empty history of that depth.  NULL until a clear keeps one. */
	GHashTable *kept_history;
	guint64 next_ino;
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

	/* Control state, with its own lock so that idict_wait() can sleep on a
	 * condition.  Protects paused, terminated, finished. */
	GMutex control_lock;
	GCond control_cond;
	gboolean paused;
	gboolean terminated;
	gboolean finished;
	gint64 control_changed_us;

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
	 * store lock: Node* -> Value* (owned), the value the computation still
	 * sees while writes are held (idict_hold_client_writes()), or NULL. */
	GHashTable *client_writes;
	gboolean hold_client_writes;
};

static double progress_fraction_locked(IDict *self);
static void restore_kept_history_locked(IDict *self, Node *node);
static void forget_client_write_locked(IDict *self, Node *node, Value *held_out);
static void drop_client_write_locked(IDict *self, Node *node);
static const Value *computation_value_locked(IDict *self, const Node *node);

/* ---- the store lock ----
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

static void lock_store(IDict *self)
{
	if (G_LIKELY(g_rec_mutex_trylock(&self->lock)))
		return;
	g_atomic_int_inc(&self->lock_waiters);
	g_rec_mutex_lock(&self->lock);
	g_atomic_int_add(&self->lock_waiters, -1);
}

static void lock_for_reader(IDict *self)
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

/* ---- nodes ---- */

static void check_rec_clear(gpointer mem)
{
	CheckRec *rec = mem;
	if (rec->destroy)
		rec->destroy(rec->data);
}

static void check_rec_release(CheckRec *rec)
{
	if (rec)
		g_atomic_rc_box_release_full(rec, check_rec_clear);
}

/* ---- values ---- */

static gboolean is_scalar_type(const GVariantType *type)
{
	return g_variant_type_equal(type, G_VARIANT_TYPE_DOUBLE) ||
		g_variant_type_equal(type, G_VARIANT_TYPE_INT64) ||
		g_variant_type_equal(type, G_VARIANT_TYPE_BOOLEAN);
}

/* Returns: a Value holding @variant (transfer full, non-floating): scalars
 * are unboxed and @variant released. */
static Value value_take_variant(GVariant *variant)
{
	Value value = { .kind = VALUE_BOXED, .as.boxed = variant };
	const GVariantType *type = g_variant_get_type(variant);
	if (!is_scalar_type(type))
		return value;
	if (g_variant_type_equal(type, G_VARIANT_TYPE_DOUBLE))
		value = (Value){ .kind = VALUE_DOUBLE, .as.d = g_variant_get_double(variant) };
	else if (g_variant_type_equal(type, G_VARIANT_TYPE_INT64))
		value = (Value){ .kind = VALUE_INT, .as.i = g_variant_get_int64(variant) };
	else
		value = (Value){ .kind = VALUE_BOOL, .as.b = g_variant_get_boolean(variant) };
	g_variant_unref(variant);
	return value;
}

/* Returns: (transfer full): @value as a non-floating GVariant. */
static GVariant *value_to_variant(const Value *value)
{
	switch (value->kind) {
	case VALUE_DOUBLE:
		return g_variant_ref_sink(g_variant_new_double(value->as.d));
	case VALUE_INT:
		return g_variant_ref_sink(g_variant_new_int64(value->as.i));
	case VALUE_BOOL:
		return g_variant_ref_sink(g_variant_new_boolean(value->as.b));
	case VALUE_BOXED:
	default:
		return g_variant_ref(value->as.boxed);
	}
}

static const char *value_type_string(const Value *value)
{
	switch (value->kind) {
	case VALUE_DOUBLE:
		return "d";
	case VALUE_INT:
		return "x";
	case VALUE_BOOL:
		return "b";
	case VALUE_BOXED:
	default:
		return g_variant_get_type_string(value->as.boxed);
	}
}

static gboolean value_is_of_type(const Value *value, const GVariantType *type)
{
	if (value->kind == VALUE_BOXED)
		return g_variant_is_of_type(value->as.boxed, type);
	return g_variant_type_equal(type, (const GVariantType *)value_type_string(value));
}

static void value_clear(Value *value)
{
	if (value->kind == VALUE_BOXED && value->as.boxed)
		g_variant_unref(value->as.boxed);
	value->kind = VALUE_BOXED;
	value->as.boxed = NULL;
}

static Value value_copy(const Value *value);

/* What a change of value leaves to free once the store lock is released:
 * the old value and the texts of it, which may be large. */
typedef struct {
	Value value;
	IDictText *text;
	IDictText *raw;
} Garbage;

static void garbage_free(Garbage *garbage)
{
	value_clear(&garbage->value);
	idict__text_unref(garbage->text);
	idict__text_unref(garbage->raw);
}

/* ---- nodes ---- */

static guint node_ino_hash(gconstpointer node)
{
	return g_int64_hash(node); /* the node starts with its guint64 ino */
}

static gboolean node_ino_equal(gconstpointer a, gconstpointer b)
{
	return g_int64_equal(a, b);
}

/* Returns: (transfer none) (nullable): the node of inode @ino. */
static Node *node_by_ino(IDict *self, guint64 ino)
{
	return g_hash_table_lookup(self->inodes, &ino);
}

static Node *node_new(IDict *self, Node *parent, const char *key, gsize key_len, gboolean is_dir)
{
	Node *node = g_malloc0(sizeof(Node) + key_len + 1);
	node->ino = self->next_ino++;
	memcpy(node->key, key, key_len);
	const char *slash = memrchr(key, '/', key_len);
	node->name_offset = slash ? (guint8)(slash + 1 - key) : 0;
	node->parent = parent;
	node->mtime_us = g_get_real_time();
	if (is_dir)
		node->children = g_tree_new((GCompareFunc)strcmp);
	if (parent) {
		g_tree_insert(parent->children, (gpointer)NODE_NAME(node), node);
		parent->mtime_us = node->mtime_us;
		if (is_dir)
			parent->n_subdirs++;
	}
	g_hash_table_add(self->inodes, node);
	return node;
}

/* Whether @node is a key with a file in raw/: an array of doubles. */
static gboolean is_raw_array(const Node *node)
{
	return node->children == NULL && node->value.kind == VALUE_BOXED &&
		node->value.as.boxed != NULL &&
		g_variant_is_of_type(node->value.as.boxed, G_VARIANT_TYPE("ad"));
}

/* Counts @node, a key that became (@delta 1) or stopped being (-1) an
 * array of doubles, in its directories: raw/ shows only those that hold
 * one.  Store lock held. */
static void count_raw_locked(Node *node, int delta)
{
	for (Node *up = node->parent; up; up = up->parent)
		up->n_raw += (guint)delta;
}

typedef enum {
	NOTE_VALUE,    /* its value is about to change */
	NOTE_WRITABLE, /* its writable flag */
	NOTE_HISTORY,  /* whether history/ shows it */
	NOTE_RAW,      /* whether raw/ shows it */
	NOTE_REMOVE,   /* it is about to be removed */
} NoteKind;

static void walks_note_locked(IDict *self, Node *node, NoteKind what);

/* Notes @what for @node and each directory above it.  Store lock held. */
static void walks_note_chain_locked(IDict *self, Node *node, NoteKind what)
{
	for (; node != NULL; node = node->parent)
		walks_note_locked(self, node, what);
}

/* Unlinks @node, which must have no children, from the tree and tables.
 * Store lock held. */
static void node_unlink(IDict *self, Node *node)
{
	if (G_UNLIKELY(self->n_walks > 0)) {
		walks_note_locked(self, node, NOTE_REMOVE);
		/* Its directories may leave history/ or raw/ with it. */
		if (node->history)
			walks_note_chain_locked(self, node->parent, NOTE_HISTORY);
		if (is_raw_array(node))
			walks_note_chain_locked(self, node->parent, NOTE_RAW);
	}
	g_hash_table_remove(self->inodes, node);
	if (node->children == NULL && node->parent != NULL)
		g_tree_remove(self->by_key, node->key);
	if (G_UNLIKELY(node->client_written))
		drop_client_write_locked(self, node);
	if (node->history)
		for (Node *up = node->parent; up; up = up->parent)
			up->n_history--;
	if (is_raw_array(node))
		count_raw_locked(node, -1);
	if (node->parent) {
		g_tree_remove(node->parent->children, NODE_NAME(node));
		node->parent->mtime_us = g_get_real_time();
		if (node->children)
			node->parent->n_subdirs--;
		node->parent = NULL;
	}
}

/* Frees an unlinked @node.  Without the store lock: it may free a large
 * value and run the destroy function of the user's check. */
static void history_free(History *history)
{
	if (history)
		idict__text_unref(history->text);
	g_free(history); /* its entries are scalars */
}

static void node_destroy(Node *node)
{
	history_free(node->history);
	if (node->children)
		g_tree_destroy(node->children);
	value_clear(&node->value);
	g_clear_pointer(&node->text, idict__text_unref);
	g_clear_pointer(&node->raw, idict__text_unref);
	check_rec_release(node->check);
	g_free(node);
}

static void node_free(IDict *self, Node *node)
{
	node_unlink(self, node);
	node_destroy(node);
}

static gboolean free_subtree(gpointer key, gpointer value, gpointer data);

static void node_free_recursive(IDict *self, Node *node)
{
	if (node->children) {
		/* Collect first: node_free() edits the tree being walked. */
		g_autoptr(GPtrArray) kids = g_ptr_array_new();
		g_tree_foreach(node->children, free_subtree, kids);
		for (guint i = 0; i < kids->len; i++)
			node_free_recursive(self, kids->pdata[i]);
	}
	node_free(self, node);
}

static gboolean free_subtree(gpointer key, gpointer value, gpointer data)
{
	(void)key;
	g_ptr_array_add(data, value);
	return FALSE;
}

static void mark_changed_locked(IDict *self, Node *node)
{
	if (node->changed)
		return;
	node->changed = TRUE;
	if (G_UNLIKELY(self->n_changed == self->changed_room)) {
		self->changed_room = MAX(16, 2 * self->changed_room);
		self->changed = g_renew(Node *, self->changed, self->changed_room);
	}
	node->changed_index = self->n_changed;
	self->changed[self->n_changed++] = node;
}

/* Takes @node off the changed list, if it is there. */
static void unmark_changed_locked(IDict *self, Node *node)
{
	if (!node->changed)
		return;
	/* Its place goes to the last one: O(1), order does not matter. */
	Node *moved = self->changed[--self->n_changed];
	self->changed[node->changed_index] = moved;
	moved->changed_index = node->changed_index;
	node->changed = FALSE;
}

/* ---- walks ----
 *
 * A reader that needs many nodes at once (a directory listing, every key
 * for snapshot.json) must see them all as they were at one moment, yet
 * never hold the store lock for long: the computation waits for it.  So it
 * walks: WALK_CHUNK nodes per hold of the lock, in the order of an ordered
 * tree (a directory's children by name, or every key by key in by_key),
 * resuming after the last name it visited (g_tree_upper_bound), which
 * survives removals and insertions between chunks.  Nodes created after
 * the walk began have inode numbers from end_ino on (numbers are never
 * reused and only grow) and are skipped.  A node changed or removed after
 * the walk began, before the walk gets to it, would show its new state; so
 * while a walk is active, the first change or removal of each node it has
 * not visited yet leaves an undo record of the node as it was
 * (walks_note_locked()): for the computation, O(1) per first change (a
 * hash lookup, a copy of the name, a reference to the old value), counted
 * against the clients' cap.  A walk whose record would pass the cap ends
 * with ENOMEM.  The walk uses the record in place of the node when it gets
 * there, and at the end adds the records of nodes removed before it got
 * there.  Without active walks a set tests n_walks and nothing more.  At
 * most N_WALK_SLOTS walks run at once, so a change checks at most that many;
 * more walkers wait for a slot (on walk_slots_lock, never the store lock).
 * Walks are short (100,000 names: 400 chunks of about 15 us each).
 *
 * Simpler designs considered: everything copied in one hold of the lock
 * (what this replaces: 100,000 keys held the computation for 50 ms per
 * `ls`, more per snapshot.json); copy-on-write of the tree (every set
 * would copy or version its node for readers it cannot know of); a version
 * chain per node (every set allocates).  Undo records cost only while a
 * walk is active, and only for nodes it has yet to visit.
 */

static gboolean visible_locked(IDict *self, const Node *node, IDictView view);

static void undo_record_free(UndoRecord *record, IDictClients *clients)
{
	idict__clients_unreserve(clients, record->charge);
	value_clear(&record->value);
	g_free(record->name);
	g_free(record);
}

/* Whether @walk must record @node before the change @what.  Lock held. */
static gboolean walk_wants_locked(const Walk *walk, const Node *node, NoteKind what)
{
	if (node->ino >= walk->end_ino)
		return FALSE; /* created after the walk began */
	if (walk->kind == WALK_KEYS) {
		if (node->children || node->parent == NULL || what == NOTE_HISTORY ||
		    what == NOTE_RAW)
			return FALSE;
		return !walk->started || strcmp(node->key, walk->last) > 0;
	}
	if (node->parent == NULL || node->parent->ino != walk->dir_ino)
		return FALSE;
	switch (what) {
	case NOTE_RAW: /* what raw/ shows (arrays of doubles, and their directories) */
		if (walk->view != IDICT__VIEW_RAW)
			return FALSE;
		break;
	case NOTE_HISTORY:
		if (walk->view != IDICT__VIEW_HISTORY)
			return FALSE;
		break;
	case NOTE_VALUE:
	case NOTE_WRITABLE:
		return FALSE; /* a listing shows names only */
	case NOTE_REMOVE:
	default:
		break;
	}
	return !walk->started || strcmp(NODE_NAME(node), walk->last) > 0;
}

/* Called before a change @what of @node: leaves an undo record for each
 * active walk that has yet to visit @node and has none of it yet.  Store
 * lock held.  O(N_WALK_SLOTS). */
static void walks_note_locked(IDict *self, Node *node, NoteKind what)
{
	for (guint i = 0; i < N_WALK_SLOTS; i++) {
		Walk *walk = &self->walks[i];
		if (!walk->active || walk->over_cap ||
		    !walk_wants_locked(walk, node, what) ||
		    (walk->records && g_hash_table_contains(walk->records, &node->ino)))
			continue;
		UndoRecord *record = g_new0(UndoRecord, 1);
		record->ino = node->ino;
		record->name = g_strdup(walk->kind == WALK_KEYS ? node->key : NODE_NAME(node));
		record->is_dir = node->children != NULL;
		record->writable = node->writable;
		record->charge = sizeof *record + strlen(record->name) + 64;
		if (walk->kind == WALK_KEYS) {
			record->value = value_copy(&node->value);
			/* The old value stays alive for the walk: counted.  (Its
			 * size is known, or computed once for a value the
			 * computation built in tree form.) */
			if (record->value.kind == VALUE_BOXED)
				record->charge += g_variant_get_size(record->value.as.boxed);
		} else {
			record->visible = visible_locked(self, node, walk->view);
		}
		if (!idict__clients_reserve(walk->clients, record->charge)) {
			walk->over_cap = TRUE;
			record->charge = 0;
			undo_record_free(record, NULL); /* drops a reference: the node holds the value */
			continue;
		}
		if (walk->records == NULL)
			walk->records = g_hash_table_new(g_int64_hash, g_int64_equal);
		g_hash_table_insert(walk->records, &record->ino, record);
		self->undo_records_made++;
	}
}

/* Takes a walk slot (waiting for one if all are taken) and starts a walk.
 * *@sequence_out (nullable): the last update at the moment it began. */
static Walk *walk_begin(IDict *self, WalkKind kind, IDictView view, guint64 dir_ino,
			IDictClients *clients, guint64 *sequence_out)
{
	g_mutex_lock(&self->walk_slots_lock);
	guint slot = 0;
	for (;;) {
		for (slot = 0; slot < N_WALK_SLOTS && self->walk_slot_taken[slot]; slot++)
			;
		if (slot < N_WALK_SLOTS)
			break;
		g_cond_wait(&self->walk_slot_freed, &self->walk_slots_lock);
	}
	self->walk_slot_taken[slot] = TRUE;
	g_mutex_unlock(&self->walk_slots_lock);

	Walk *walk = &self->walks[slot];
	lock_for_reader(self);
	walk->kind = kind;
	walk->view = view;
	walk->dir_ino = dir_ino;
	walk->end_ino = self->next_ino;
	walk->started = FALSE;
	walk->last[0] = '\0';
	walk->records = NULL;
	walk->clients = clients;
	walk->over_cap = FALSE;
	walk->active = TRUE;
	self->n_walks++;
	if (sequence_out)
		*sequence_out = self->sequence;
	g_rec_mutex_unlock(&self->lock);
	return walk;
}

/* Between two chunks of a walk, without locks: the test hook. */
static void walk_between_chunks(IDict *self)
{
	if (G_UNLIKELY(self->walk_hook != NULL))
		self->walk_hook(self, self->walk_hook_data);
}

void idict__store_set_walk_hook(IDict *self, void (*hook)(IDict *, gpointer), gpointer data)
{
	lock_store(self);
	self->walk_hook = hook;
	self->walk_hook_data = data;
	g_rec_mutex_unlock(&self->lock);
}

guint64 idict__store_undo_records(IDict *self)
{
	lock_store(self);
	guint64 n = self->undo_records_made;
	g_rec_mutex_unlock(&self->lock);
	return n;
}

/* Notes that the walk visited @name.  Lock held. */
static void walk_visited_locked(Walk *walk, const char *name)
{
	g_strlcpy(walk->last, name, sizeof walk->last);
	walk->started = TRUE;
}

/* Ends @walk and frees its slot.  *@over_cap: whether an undo record did
 * not fit (the walk's result is then not from one moment).
 * Returns: (transfer full) (nullable): its undo records (ino -> UndoRecord*),
 * for undo_records_free(). */
static GHashTable *walk_end(IDict *self, Walk *walk, gboolean *over_cap)
{
	lock_for_reader(self);
	walk->active = FALSE;
	self->n_walks--;
	*over_cap = walk->over_cap;
	GHashTable *records = g_steal_pointer(&walk->records);
	g_rec_mutex_unlock(&self->lock);
	g_mutex_lock(&self->walk_slots_lock);
	self->walk_slot_taken[walk - self->walks] = FALSE;
	g_cond_signal(&self->walk_slot_freed);
	g_mutex_unlock(&self->walk_slots_lock);
	return records;
}

static void undo_records_free(GHashTable *records, IDictClients *clients)
{
	if (records == NULL)
		return;
	GHashTableIter iter;
	gpointer record;
	g_hash_table_iter_init(&iter, records);
	while (g_hash_table_iter_next(&iter, NULL, &record))
		undo_record_free(record, clients);
	g_hash_table_unref(records);
}

/* The node a walk visits at @tree_node, or its undo record (marked as used)
 * if it has one.  Lock held. */
static UndoRecord *walk_record_locked(Walk *walk, const Node *node)
{
	UndoRecord *record = walk->records ? g_hash_table_lookup(walk->records, &node->ino) : NULL;
	if (record)
		record->emitted = TRUE;
	return record;
}

/* ---- lifecycle ---- */

IDict *idict_new(void)
{
	IDict *self = g_new0(IDict, 1);
	g_atomic_ref_count_init(&self->ref_count);
	g_rec_mutex_init(&self->lock);
	self->keys = g_hash_table_new(g_str_hash, g_str_equal);
	self->inodes = g_hash_table_new(node_ino_hash, node_ino_equal);
	self->removed = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	self->by_key = g_tree_new((GCompareFunc)strcmp);
	g_mutex_init(&self->walk_slots_lock);
	g_cond_init(&self->walk_slot_freed);
	self->next_ino = IDICT__INO_ROOT;
	self->root = node_new(self, NULL, "", 0, TRUE);
	self->next_ino = IDICT__INO_FIRST_KEY;
	self->started_us = g_get_real_time();
	self->control_changed_us = self->started_us;
	self->log = idict__update_log_new(1024, 16 * 1024 * 1024);
	self->refusals = idict__refusals_new();
	g_mutex_init(&self->control_lock);
	g_cond_init(&self->control_cond);
	g_mutex_init(&self->callbacks_lock);
	self->callbacks = g_ptr_array_new();
	self->next_callback_id = 1;
	self->client_writes = g_hash_table_new(NULL, NULL);
	return self;
}

static void callback_rec_clear(gpointer mem)
{
	CallbackRec *rec = mem;
	if (rec->destroy)
		rec->destroy(rec->data);
}

IDict *idict__ref(IDict *self)
{
	g_atomic_ref_count_inc(&self->ref_count);
	return self;
}

void idict_free(IDict *self)
{
	if (self == NULL)
		return;
	/* A server still serving it keeps it alive; the last reference frees. */
	if (!g_atomic_ref_count_dec(&self->ref_count))
		return;
	idict__signals_forget(self);
	for (guint i = 0; i < self->callbacks->len; i++)
		g_atomic_rc_box_release_full(self->callbacks->pdata[i], callback_rec_clear);
	g_ptr_array_unref(self->callbacks);
	if (self->hook_data)
		self->hook_unref(self->hook_data);
	node_free_recursive(self, self->root);
	g_tree_destroy(self->by_key);
	g_mutex_clear(&self->walk_slots_lock);
	g_cond_clear(&self->walk_slot_freed);
	g_hash_table_unref(self->client_writes); /* emptied by node_unlink() */
	g_hash_table_unref(self->keys);
	g_hash_table_unref(self->inodes);
	g_free(self->changed);
	g_hash_table_unref(self->removed);
	g_clear_pointer(&self->kept_history, g_hash_table_unref);
	idict__update_log_free(self->log);
	idict__refusals_free(self->refusals);
	g_free(self->progress_key);
	g_rec_mutex_clear(&self->lock);
	g_mutex_clear(&self->control_lock);
	g_cond_clear(&self->control_cond);
	g_mutex_clear(&self->callbacks_lock);
	g_free(self);
}

void idict_lock(IDict *self)
{
	g_return_if_fail(self != NULL);
	lock_store(self);
}

void idict_unlock(IDict *self)
{
	g_return_if_fail(self != NULL);
	g_rec_mutex_unlock(&self->lock);
}

/* ---- setting ---- */

/* Walks the directories on @key's path as far as they exist, checking that
 * @key (not yet a key) can be created: no key on its path, and not itself a
 * directory of other keys.  Store lock held.  Changes nothing.
 * Returns: %TRUE with the deepest existing directory in *@dir_out and the
 * rest of @key below it in *@rest_out (both nullable), or %FALSE with
 * IDICT_ERROR_NAME_CONFLICT. */
static gboolean walk_key_path_locked(IDict *self, const char *key, Node **dir_out,
				     const char **rest_out, GError **error)
{
	Node *dir = self->root;
	const char *component = key;
	const char *slash;
	while ((slash = strchr(component, '/')) != NULL) {
		char name[IDICT_KEY_MAX + 1];
		gsize len = (gsize)(slash - component);
		memcpy(name, component, len);
		name[len] = '\0';
		Node *child = g_tree_lookup(dir->children, name);
		if (child == NULL)
			break;
		if (child->children == NULL) {
			g_set_error(error, IDICT_ERROR, IDICT_ERROR_NAME_CONFLICT,
				    "cannot create key \"%s\": \"%s\" is a key, not a directory", key,
				    child->key);
			return FALSE;
		}
		dir = child;
		component = slash + 1;
	}
	if (slash == NULL && g_tree_lookup(dir->children, component) != NULL) {
		g_set_error(error, IDICT_ERROR, IDICT_ERROR_NAME_CONFLICT,
			    "cannot create key \"%s\": it is a directory of other keys", key);
		return FALSE;
	}
	if (dir_out)
		*dir_out = dir;
	if (rest_out)
		*rest_out = component;
	return TRUE;
}

/* Finds or creates the key node for @key.  Store lock held.
 * Returns: (transfer none) (nullable): the node, or NULL with @error set. */
static Node *ensure_key_locked(IDict *self, const char *key, GError **error)
{
	Node *node = g_hash_table_lookup(self->keys, key);
	if (node)
		return node;

	/* Check the whole path before creating anything. */
	Node *dir;
	const char *component;
	if (!walk_key_path_locked(self, key, &dir, &component, error))
		return NULL;

	/* Create the missing directories, then the key. */
	const char *slash;
	while ((slash = strchr(component, '/')) != NULL) {
		dir = node_new(self, dir, key, (gsize)(slash - key), TRUE);
		component = slash + 1;
	}
	node = node_new(self, dir, key, strlen(key), FALSE);
	g_hash_table_insert(self->keys, node->key, node);
	g_tree_insert(self->by_key, node->key, node);
	restore_kept_history_locked(self, node);
	return node;
}

static gboolean value_is_raw_array(const Value *value)
{
	return value->kind == VALUE_BOXED && value->as.boxed != NULL &&
		g_variant_is_of_type(value->as.boxed, G_VARIANT_TYPE("ad"));
}

/* Stores @value (consumed) under the key of @node, as a change for the
 * next update.  Store lock held.  The previous value and its texts go to
 * @old, for the caller to free (garbage_free()) after unlocking.  For a
 * client's write (idict__store_client_write()); the computation's go
 * through store_value_locked(). */
static void replace_value_locked(IDict *self, Node *node, Value value, Garbage *old)
{
	gboolean was_raw = is_raw_array(node);
	if (G_UNLIKELY(self->n_walks > 0)) {
		walks_note_locked(self, node, NOTE_VALUE);
		if (was_raw != value_is_raw_array(&value))
			walks_note_chain_locked(self, node, NOTE_RAW);
	}
	old->value = node->value;
	old->text = node->text;
	old->raw = node->raw;
	node->value = value;
	if (was_raw != is_raw_array(node))
		count_raw_locked(node, was_raw ? -1 : 1);
	node->text = NULL;
	node->raw = NULL;
	node->generation++;
	mark_changed_locked(self, node);
}

/* The computation stores @value: as replace_value_locked(), and its value
 * replaces a client's write not yet taken (idict_take_client_writes()).
 * Store lock held. */
static void store_value_locked(IDict *self, Node *node, Value value, Garbage *old)
{
	if (G_UNLIKELY(node->client_written))
		drop_client_write_locked(self, node);
	replace_value_locked(self, node, value, old);
}

/* Stores @value (consumed) under @key, creating the key if needed. */
static gboolean set_value_take(IDict *self, const char *key, Value value, GError **error)
{
	if (key == NULL) {
		value_clear(&value);
		g_return_val_if_fail(key != NULL, FALSE);
	}
	lock_store(self);
	/* A key in the table was checked when it was created: only new names
	 * need the (comparatively slow) check. */
	Node *node = g_hash_table_lookup(self->keys, key);
	if (node == NULL) {
		g_rec_mutex_unlock(&self->lock);
		if (!idict_check_key_name(key, error)) {
			value_clear(&value);
			return FALSE;
		}
		lock_store(self);
		node = ensure_key_locked(self, key, error);
		if (node == NULL) {
			g_rec_mutex_unlock(&self->lock);
			value_clear(&value);
			return FALSE;
		}
	}
	/* The computation's own value replaces a client's write. */
	Value held = { .kind = VALUE_BOXED };
	if (G_UNLIKELY(node->client_written))
		forget_client_write_locked(self, node, &held);
	Garbage old;
	store_value_locked(self, node, value, &old);
	g_rec_mutex_unlock(&self->lock);
	/* Free the old value outside the lock: it may be large. */
	garbage_free(&old);
	value_clear(&held);
	return TRUE;
}

gboolean idict_set_value(IDict *self, const char *key, GVariant *value, GError **error)
{
	g_return_val_if_fail(self != NULL, FALSE);
	g_return_val_if_fail(value != NULL, FALSE);
	/* Sinks a floating value or adds a reference. */
	return set_value_take(self, key, value_take_variant(g_variant_ref_sink(value)), error);
}

gboolean idict_set_double(IDict *self, const char *key, double value, GError **error)
{
	g_return_val_if_fail(self != NULL, FALSE);
	return set_value_take(self, key, (Value){ .kind = VALUE_DOUBLE, .as.d = value }, error);
}

gboolean idict_set_int(IDict *self, const char *key, gint64 value, GError **error)
{
	g_return_val_if_fail(self != NULL, FALSE);
	return set_value_take(self, key, (Value){ .kind = VALUE_INT, .as.i = value }, error);
}

gboolean idict_set_bool(IDict *self, const char *key, gboolean value, GError **error)
{
	g_return_val_if_fail(self != NULL, FALSE);
	return set_value_take(self, key, (Value){ .kind = VALUE_BOOL, .as.b = value != FALSE },
			      error);
}

static Value boxed(GVariant *value)
{
	return (Value){ .kind = VALUE_BOXED, .as.boxed = g_variant_ref_sink(value) };
}

gboolean idict_set_string(IDict *self, const char *key, const char *value, GError **error)
{
	g_return_val_if_fail(self != NULL, FALSE);
	g_return_val_if_fail(value != NULL, FALSE);
	if (!g_utf8_validate(value, -1, NULL)) {
		g_set_error(error, IDICT_ERROR, IDICT_ERROR_INVALID_VALUE,
			    "value of \"%s\" is not valid UTF-8", key);
		return FALSE;
	}
	return set_value_take(self, key, boxed(g_variant_new_string(value)), error);
}

gboolean idict_set_array(IDict *self, const char *key, const double *values, gsize n,
			 GError **error)
{
	g_return_val_if_fail(self != NULL, FALSE);
	g_return_val_if_fail(values != NULL || n == 0, FALSE);
	static const double none[1] = { 0 };
	return set_value_take(self, key,
			      boxed(g_variant_new_fixed_array(G_VARIANT_TYPE_DOUBLE,
							      values ? values : none, n,
							      sizeof(double))),
			      error);
}

gboolean idict_set_matrix(IDict *self, const char *key, const double *values, gsize rows,
			  gsize cols, GError **error)
{
	g_return_val_if_fail(self != NULL, FALSE);
	g_return_val_if_fail(values != NULL || rows == 0 || cols == 0, FALSE);
	static const double none[1] = { 0 };
	GVariantBuilder builder;
	g_variant_builder_init(&builder, G_VARIANT_TYPE("aad"));
	for (gsize r = 0; r < rows; r++)
		g_variant_builder_add_value(&builder,
			g_variant_new_fixed_array(G_VARIANT_TYPE_DOUBLE,
						  cols ? values + r * cols : none, cols,
						  sizeof(double)));
	return set_value_take(self, key, boxed(g_variant_builder_end(&builder)), error);
}

/* ---- getting ---- */

/* The value the computation's getters see: a client's write held by
 * idict_hold_client_writes() is not yet in force for it.  Store lock held. */
static const Value *computation_value_locked(IDict *self, const Node *node)
{
	if (G_UNLIKELY(node->client_written)) {
		const Value *held = g_hash_table_lookup(self->client_writes, node);
		if (held)
			return held;
	}
	return &node->value;
}

GVariant *idict_get_value(IDict *self, const char *key)
{
	g_return_val_if_fail(self != NULL, NULL);
	g_return_val_if_fail(key != NULL, NULL);
	lock_store(self);
	Node *node = g_hash_table_lookup(self->keys, key);
	GVariant *value = node ? value_to_variant(computation_value_locked(self, node)) : NULL;
	g_rec_mutex_unlock(&self->lock);
	return value;
}

static gboolean not_found(GError **error, const char *key)
{
	g_set_error(error, IDICT_ERROR, IDICT_ERROR_NOT_FOUND, "no key \"%s\"", key);
	return FALSE;
}

static gboolean wrong_type(GError **error, const char *key, const char *has,
			   const GVariantType *wanted)
{
	g_set_error(error, IDICT_ERROR, IDICT_ERROR_WRONG_TYPE,
		    "key \"%s\" holds a value of type %s, not %.*s", key, has,
		    (int)g_variant_type_get_string_length(wanted), g_variant_type_peek_string(wanted));
	return FALSE;
}

/* Returns: (transfer full) (nullable): the value of @key if it has @type. */
static GVariant *get_typed(IDict *self, const char *key, const GVariantType *type,
			   GError **error)
{
	GVariant *value = idict_get_value(self, key);
	if (value == NULL) {
		not_found(error, key);
		return NULL;
	}
	if (!g_variant_is_of_type(value, type)) {
		wrong_type(error, key, g_variant_get_type_string(value), type);
		g_variant_unref(value);
		return NULL;
	}
	return value;
}

/* Copies the scalar of @key into *@out if it is of @kind. */
static gboolean get_scalar(IDict *self, const char *key, ValueKind kind, Value *out,
			   GError **error)
{
	g_return_val_if_fail(self != NULL, FALSE);
	g_return_val_if_fail(key != NULL, FALSE);
	lock_store(self);
	Node *node = g_hash_table_lookup(self->keys, key);
	Value value = node ? *computation_value_locked(self, node) : (Value){ 0 };
	/* The type string of a boxed value lives in the value: copy it. */
	g_autofree char *has = node && value.kind != kind ? g_strdup(value_type_string(&value))
							  : NULL;
	g_rec_mutex_unlock(&self->lock);
	if (node == NULL)
		return not_found(error, key);
	if (has) {
		Value wanted = { .kind = kind };
		return wrong_type(error, key, has, (const GVariantType *)value_type_string(&wanted));
	}
	*out = value;
	return TRUE;
}

gboolean idict_get_double(IDict *self, const char *key, double *out, GError **error)
{
	Value value;
	if (!get_scalar(self, key, VALUE_DOUBLE, &value, error))
		return FALSE;
	if (out)
		*out = value.as.d;
	return TRUE;
}

gboolean idict_get_int(IDict *self, const char *key, gint64 *out, GError **error)
{
	Value value;
	if (!get_scalar(self, key, VALUE_INT, &value, error))
		return FALSE;
	if (out)
		*out = value.as.i;
	return TRUE;
}

gboolean idict_get_bool(IDict *self, const char *key, gboolean *out, GError **error)
{
	Value value;
	if (!get_scalar(self, key, VALUE_BOOL, &value, error))
		return FALSE;
	if (out)
		*out = value.as.b;
	return TRUE;
}

char *idict_dup_string(IDict *self, const char *key, GError **error)
{
	g_autoptr(GVariant) value = get_typed(self, key, G_VARIANT_TYPE_STRING, error);
	return value ? g_variant_dup_string(value, NULL) : NULL;
}

double *idict_dup_array(IDict *self, const char *key, gsize *n_out, GError **error)
{
	g_autoptr(GVariant) value = get_typed(self, key, G_VARIANT_TYPE("ad"), error);
	if (value == NULL)
		return NULL;
	gsize n = 0;
	const double *values = g_variant_get_fixed_array(value, &n, sizeof(double));
	if (n_out)
		*n_out = n;
	return n ? g_memdup2(values, n * sizeof(double)) : g_new0(double, 1);
}

double *idict_dup_matrix(IDict *self, const char *key, gsize *rows_out, gsize *cols_out,
			 GError **error)
{
	g_autoptr(GVariant) value = get_typed(self, key, G_VARIANT_TYPE("aad"), error);
	if (value == NULL)
		return NULL;
	gsize rows = g_variant_n_children(value), cols = 0;
	for (gsize r = 0; r < rows; r++) {
		g_autoptr(GVariant) row = g_variant_get_child_value(value, r);
		gsize n = g_variant_n_children(row);
		if (r > 0 && n != cols) {
			g_set_error(error, IDICT_ERROR, IDICT_ERROR_WRONG_TYPE,
				    "key \"%s\" is a ragged array of arrays, not a matrix", key);
			return NULL;
		}
		cols = n;
	}
	double *out = g_new0(double, MAX(rows * cols, 1));
	for (gsize r = 0; r < rows; r++) {
		g_autoptr(GVariant) row = g_variant_get_child_value(value, r);
		gsize n = 0;
		const double *values = g_variant_get_fixed_array(row, &n, sizeof(double));
		if (n > 0)
			memcpy(out + r * cols, values, n * sizeof(double));
	}
	if (rows_out)
		*rows_out = rows;
	if (cols_out)
		*cols_out = cols;
	return out;
}

gboolean idict_contains(IDict *self, const char *key)
{
	g_return_val_if_fail(self != NULL, FALSE);
	g_return_val_if_fail(key != NULL, FALSE);
	lock_store(self);
	gboolean found = g_hash_table_contains(self->keys, key);
	g_rec_mutex_unlock(&self->lock);
	return found;
}

guint idict_size(IDict *self)
{
	g_return_val_if_fail(self != NULL, 0);
	lock_store(self);
	guint n = g_hash_table_size(self->keys);
	g_rec_mutex_unlock(&self->lock);
	return n;
}

static int compare_strings(gconstpointer a, gconstpointer b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

char **idict_keys(IDict *self)
{
	g_return_val_if_fail(self != NULL, NULL);
	lock_store(self);
	guint n = 0;
	char **keys = (char **)g_hash_table_get_keys_as_array(self->keys, &n);
	for (guint i = 0; i < n; i++)
		keys[i] = g_strdup(keys[i]);
	g_rec_mutex_unlock(&self->lock);
	qsort(keys, n, sizeof(char *), compare_strings);
	return keys;
}

/* Removes the key of @node: off the changed list, its name recorded for the
 * next update, unlinked with the directories it leaves empty.  Store lock
 * held.  The unlinked nodes go to @gone, for the caller to free
 * (node_destroy()) after unlocking: they may hold a large value and the
 * user's check. */
static void remove_key_locked(IDict *self, Node *node, GPtrArray *gone)
{
	unmark_changed_locked(self, node);
	if (!g_hash_table_contains(self->removed, node->key))
		g_hash_table_add(self->removed, g_strdup(node->key));
	g_hash_table_remove(self->keys, node->key);
	Node *dir = node->parent;
	node_unlink(self, node);
	g_ptr_array_add(gone, node);
	/* Directories exist only while they hold keys. */
	while (dir != self->root && g_tree_nnodes(dir->children) == 0) {
		Node *up = dir->parent;
		node_unlink(self, dir);
		g_ptr_array_add(gone, dir);
		dir = up;
	}
}

gboolean idict_remove(IDict *self, const char *key)
{
	g_return_val_if_fail(self != NULL, FALSE);
	g_return_val_if_fail(key != NULL, FALSE);
	g_autoptr(GPtrArray) gone = g_ptr_array_new_with_free_func((GDestroyNotify)node_destroy);
	lock_store(self);
	Node *node = g_hash_table_lookup(self->keys, key);
	if (node)
		remove_key_locked(self, node, gone);
	g_rec_mutex_unlock(&self->lock);
	/* The nodes are freed here, after unlocking (g_autoptr). */
	return node != NULL;
}

/* ---- writable keys ---- */

gboolean idict_set_writable(IDict *self, const char *key, gboolean writable, GError **error)
{
	g_return_val_if_fail(self != NULL, FALSE);
	g_return_val_if_fail(key != NULL, FALSE);
	lock_store(self);
	Node *node = g_hash_table_lookup(self->keys, key);
	if (node) {
		if (G_UNLIKELY(self->n_walks > 0))
			walks_note_locked(self, node, NOTE_WRITABLE);
		node->writable = writable != FALSE;
	}
	g_rec_mutex_unlock(&self->lock);
	if (node == NULL)
		g_set_error(error, IDICT_ERROR, IDICT_ERROR_NOT_FOUND, "no key \"%s\"", key);
	return node != NULL;
}

gboolean idict_set_check(IDict *self, const char *key, IDictCheckFunc check, gpointer user_data,
			 GDestroyNotify destroy, GError **error)
{
	g_return_val_if_fail(self != NULL, FALSE);
	g_return_val_if_fail(key != NULL, FALSE);
	CheckRec *rec = NULL;
	if (check) {
		rec = g_atomic_rc_box_new0(CheckRec);
		rec->func = check;
		rec->data = user_data;
		rec->destroy = destroy;
	}
	lock_store(self);
	Node *node = g_hash_table_lookup(self->keys, key);
	CheckRec *old = NULL;
	if (node) {
		old = node->check;
		node->check = rec;
	}
	g_rec_mutex_unlock(&self->lock);
	check_rec_release(old);
	if (node == NULL) {
		check_rec_release(rec);
		g_set_error(error, IDICT_ERROR, IDICT_ERROR_NOT_FOUND, "no key \"%s\"", key);
	}
	return node != NULL;
}

static gboolean same_shape(GVariant *a, GVariant *b)
{
	if (g_variant_is_of_type(a, G_VARIANT_TYPE("ad")))
		return g_variant_n_children(a) == g_variant_n_children(b);
	if (g_variant_is_of_type(a, G_VARIANT_TYPE("aad"))) {
		gsize rows = g_variant_n_children(a);
		if (rows != g_variant_n_children(b))
			return FALSE;
		for (gsize r = 0; r < rows; r++) {
			g_autoptr(GVariant) ra = g_variant_get_child_value(a, r);
			g_autoptr(GVariant) rb = g_variant_get_child_value(b, r);
			if (g_variant_n_children(ra) != g_variant_n_children(rb))
				return FALSE;
		}
	}
	return TRUE;
}

/* Lists @node as written by a client.  While writes are held, the first
 * write since the last take moves the value the computation saw, *@old,
 * aside for it (leaving *@old empty).  Store lock held. */
static void record_client_write_locked(IDict *self, Node *node, Value *old)
{
	Value *held = node->client_written ? g_hash_table_lookup(self->client_writes, node) : NULL;
	if (self->hold_client_writes && held == NULL) {
		held = g_new(Value, 1);
		*held = *old;
		*old = (Value){ .kind = VALUE_BOXED };
	}
	node->client_written = TRUE;
	g_hash_table_insert(self->client_writes, node, held);
}

int idict__store_client_value(IDict *self, guint64 ino, GVariant **value_out,
			      gboolean *has_check_out)
{
	lock_for_reader(self);
	Node *node = node_by_ino(self, ino);
	int err = 0;
	if (node == NULL)
		err = -ENOENT;
	else if (node->children)
		err = -EISDIR;
	else if (!node->writable)
		err = -EACCES;
	*value_out = err ? NULL : value_to_variant(&node->value);
	*has_check_out = err == 0 && node->check != NULL;
	g_rec_mutex_unlock(&self->lock);
	return err;
}

IDictRefusals *idict__store_refusals(IDict *self)
{
	return self->refusals;
}

void idict__store_refuse(IDict *self, guint64 ino, guint uid, const char *text, gsize len,
			 const char *reason)
{
	lock_for_reader(self);
	Node *node = node_by_ino(self, ino);
	g_autofree char *key = g_strdup(node ? node->key : "?");
	g_rec_mutex_unlock(&self->lock);
	idict__refusals_record(self, uid, key, text, len, reason);
}

int idict__store_client_validate(IDict *self, guint64 ino, const char *text, gsize len,
				 GVariant **value_out, GError **error_out)
{
	*value_out = NULL;
	lock_for_reader(self);
	Node *node = node_by_ino(self, ino);
	int err = 0;
	if (node == NULL)
		err = -ENOENT;
	else if (node->children)
		err = -EISDIR;
	else if (!node->writable)
		err = -EACCES;
	g_autoptr(GVariant) current = err ? NULL : value_to_variant(&node->value);
	g_autofree char *key = err ? NULL : g_strdup(node->key);
	CheckRec *check =
		(err || node->check == NULL) ? NULL : g_atomic_rc_box_acquire(node->check);
	g_rec_mutex_unlock(&self->lock);
	if (err)
		return err;

	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) value =
		idict__format_parse(g_variant_get_type(current), text, len, &error);
	if (value && !same_shape(current, value)) {
		g_set_error(&error, IDICT_ERROR, IDICT_ERROR_INVALID_VALUE,
			    "the new value must have the same shape as the current one");
		g_clear_pointer(&value, g_variant_unref);
	}
	if (value && check && !check->func(self, key, value, check->data, &error)) {
		if (error == NULL)
			g_set_error(&error, IDICT_ERROR, IDICT_ERROR_INVALID_VALUE, "refused");
		g_clear_pointer(&value, g_variant_unref);
	}
	check_rec_release(check);
	if (value == NULL) {
		g_propagate_error(error_out, g_steal_pointer(&error));
		return -EINVAL;
	}
	*value_out = g_steal_pointer(&value);
	return 0;
}

int idict__store_client_publish(IDict *self, guint64 ino, GVariant *value)
{
	/* The shape is compared with the key's value outside the lock (a
	 * matrix's rows: comparing under the lock would make the computation
	 * wait for the client), then the value is stored if the key still
	 * holds the one compared with; if the computation set another
	 * meanwhile, that one is compared, and so on. */
	g_autoptr(GVariant) compared = NULL;
	Garbage old = { 0 };
	int err = 0;
	for (guint attempt = 0;; attempt++) {
		lock_for_reader(self);
		Node *node = node_by_ino(self, ino);
		if (node == NULL)
			err = -ENOENT;
		else if (!node->writable)
			err = -EACCES;
		else if (!value_is_of_type(&node->value, g_variant_get_type(value)))
			err = -EINVAL; /* the computation changed the type meanwhile */
		else if (node->value.kind == VALUE_BOXED && node->value.as.boxed != compared) {
			if (attempt < 16) {
				g_clear_pointer(&compared, g_variant_unref);
				compared = g_variant_ref(node->value.as.boxed);
				g_rec_mutex_unlock(&self->lock);
				if (!same_shape(compared, value))
					return -EINVAL; /* the shape changed meanwhile */
				continue;
			}
			err = -EAGAIN; /* it changes faster than it can be compared */
		}
		if (err == 0) {
			replace_value_locked(self, node, value_take_variant(g_variant_ref(value)),
					     &old);
			record_client_write_locked(self, node, &old.value);
		}
		g_rec_mutex_unlock(&self->lock);
		break;
	}
	garbage_free(&old);
	return err;
}

int idict__store_client_write(IDict *self, guint64 ino, guint uid, const char *text, gsize len)
{
	g_autoptr(GVariant) value = NULL;
	g_autoptr(GError) error = NULL;
	int err = idict__store_client_validate(self, ino, text, len, &value, &error);
	if (err == 0)
		err = idict__store_client_publish(self, ino, value);
	if (err == -EINVAL)
		idict__store_refuse(self, ino, uid, text, len,
				    error ? error->message : IDICT__REFUSED_RACE);
	return err;
}

/* ---- the filesystem's view ---- */

static void fill_info_locked(const Node *node, IDictNodeInfo *info)
{
	info->ino = node->ino;
	info->is_dir = node->children != NULL;
	info->writable = node->writable;
	info->size = node->text ? idict__text_size(node->text) : 0;
	/* A change not yet published by an update shows as made now: a
	 * client that compares times (NFS, make) must see it as new. */
	info->mtime_us = node->changed ? g_get_real_time() : node->mtime_us;
	/* A directory: 2 plus one for each subdirectory's "..", as find(1)
	 * expects. */
	info->nlink = node->children ? 2 + node->n_subdirs : 1;
}

/* Renders @value for clients, first reserving its estimated size so that a
 * render never takes the memory past the cap.  Without the store lock.
 * Returns: (transfer full) (nullable): NULL if it would not fit. */
static IDictText *render_for_clients(GVariant *value, guint64 version, IDictClients *clients)
{
	gsize estimate = idict__format_size_estimate(value);
	if (!idict__clients_reserve(clients, estimate))
		return NULL;
	GBytes *bytes = idict__format_render(value);
	idict__clients_unreserve(clients, estimate);
	return idict__text_new(bytes, version);
}

int idict__store_key_text(IDict *self, guint64 ino, IDictNodeInfo *info, IDictClients *clients,
			  IDictText **text_out)
{
	if (text_out)
		*text_out = NULL;
	lock_for_reader(self);
	Node *node = node_by_ino(self, ino);
	if (node == NULL) {
		g_rec_mutex_unlock(&self->lock);
		return -ENOENT;
	}
	fill_info_locked(node, info);
	if (node->children) {
		g_rec_mutex_unlock(&self->lock);
		return 0;
	}
	IDictText *text = node->text ? idict__text_ref(node->text) : NULL;
	g_autoptr(GVariant) value = text ? NULL : value_to_variant(&node->value);
	guint64 generation = node->generation;
	g_rec_mutex_unlock(&self->lock);

	if (text == NULL) {
		/* Render outside the lock; keep the result only if the value
		 * has not changed meanwhile (the generation tells). */
		text = render_for_clients(value, generation, clients);
		if (text == NULL)
			return -ENOMEM;
		IDictText *mine = text;
		lock_for_reader(self);
		node = node_by_ino(self, ino);
		if (node && node->generation == generation) {
			/* Another reader may have rendered it meanwhile: share
			 * that one, so that the value's text is counted once. */
			if (node->text == NULL)
				node->text = idict__text_ref(text);
			else
				text = idict__text_ref(node->text);
		}
		g_rec_mutex_unlock(&self->lock);
		if (text != mine)
			idict__text_unref(mine);
	}
	info->size = idict__text_size(text);
	if (text_out)
		*text_out = text;
	else
		idict__text_unref(text);
	return 0;
}

int idict__store_parent(IDict *self, guint64 ino, IDictNodeInfo *info)
{
	lock_for_reader(self);
	Node *node = node_by_ino(self, ino);
	if (node && node->parent)
		node = node->parent;
	if (node)
		fill_info_locked(node, info);
	g_rec_mutex_unlock(&self->lock);
	return node ? 0 : -ENOENT;
}

char *idict__store_key_name(IDict *self, guint64 ino)
{
	lock_for_reader(self);
	Node *node = node_by_ino(self, ino);
	char *name = node ? g_strdup(node->key) : NULL;
	g_rec_mutex_unlock(&self->lock);
	return name;
}

void idict__dir_entry_free(IDictDirEntry *entry)
{
	g_free(entry->name);
	g_free(entry);
}

/* Whether @node shows in @view.  Store lock held. */
static gboolean visible_locked(IDict *self, const Node *node, IDictView view)
{
	switch (view) {
	case IDICT__VIEW_HISTORY:
		return node->children ? node == self->root || node->n_history > 0
			: node->history != NULL;
	case IDICT__VIEW_RAW:
		return node->children ? node == self->root || node->n_raw > 0 : is_raw_array(node);
	case IDICT__VIEW_KEYS:
	default:
		return TRUE;
	}
}

int idict__store_lookup(IDict *self, IDictView view, guint64 parent, const char *name,
			IDictNodeInfo *info)
{
	lock_for_reader(self);
	Node *dir = node_by_ino(self, parent);
	Node *node = dir && dir->children ? g_tree_lookup(dir->children, name) : NULL;
	int err = 0;
	if (dir == NULL || (dir->children && !visible_locked(self, dir, view)))
		err = -ENOENT;
	else if (dir->children == NULL)
		err = -ENOTDIR;
	else if (node == NULL || !visible_locked(self, node, view))
		err = -ENOENT;
	else
		fill_info_locked(node, info);
	g_rec_mutex_unlock(&self->lock);
	return err;
}

static IDictDirEntry *dir_entry_new(const char *name, guint64 ino, gboolean is_dir)
{
	IDictDirEntry *entry = g_new(IDictDirEntry, 1);
	entry->name = g_strdup(name);
	entry->ino = ino;
	entry->is_dir = is_dir;
	return entry;
}

static int compare_dir_entries(gconstpointer a, gconstpointer b)
{
	return strcmp((*(IDictDirEntry *const *)a)->name, (*(IDictDirEntry *const *)b)->name);
}

/* What an entry of a listing holds against the cap. */
#define DIR_ENTRY_CHARGE(name) (sizeof(IDictDirEntry) + strlen(name) + 1 + 48)

GPtrArray *idict__store_walk_dir(IDict *self, IDictView view, guint64 ino, IDictClients *clients,
				 gsize *charged, int *err)
{
	GPtrArray *entries = g_ptr_array_new_with_free_func((GDestroyNotify)idict__dir_entry_free);
	Walk *walk = walk_begin(self, WALK_LISTING, view, ino, clients, NULL);
	*charged = 0;
	*err = 0;
	gboolean first = TRUE, done = FALSE;
	IDictDirEntry *chunk[WALK_CHUNK];
	while (!done && *err == 0) {
		guint n_chunk = 0;
		lock_for_reader(self);
		Node *dir = node_by_ino(self, ino);
		if (first) {
			if (dir == NULL || (dir->children && !visible_locked(self, dir, view)))
				*err = -ENOENT;
			else if (dir->children == NULL)
				*err = -ENOTDIR;
			first = FALSE;
		}
		if (*err == 0 && walk->over_cap)
			*err = -ENOMEM;
		if (*err == 0 && (dir == NULL || dir->children == NULL)) {
			/* Removed meanwhile: its children, all removed since the
			 * walk began, are in the undo records. */
			done = TRUE;
		} else if (*err == 0) {
			GTreeNode *t = walk->started ? g_tree_upper_bound(dir->children, walk->last)
						     : g_tree_node_first(dir->children);
			const Node *child = NULL;
			for (guint n = 0; t != NULL && n < WALK_CHUNK; t = g_tree_node_next(t), n++) {
				child = g_tree_node_value(t);
				if (child->ino >= walk->end_ino)
					continue;
				const UndoRecord *record = walk_record_locked(walk, child);
				if (record ? record->visible : visible_locked(self, child, view))
					chunk[n_chunk++] =
						dir_entry_new(record ? record->name : NODE_NAME(child),
							      child->ino, child->children != NULL);
			}
			/* The computation cannot change anything during the chunk:
			 * noting the last name once is enough. */
			if (child)
				walk_visited_locked(walk, NODE_NAME(child));
			done = t == NULL;
		}
		g_rec_mutex_unlock(&self->lock);
		if (!done)
			walk_between_chunks(self);
		/* Growing the array (a copy of it all, at times) outside the lock. */
		gsize charge = 0;
		for (guint i = 0; i < n_chunk; i++) {
			charge += DIR_ENTRY_CHARGE(chunk[i]->name);
			g_ptr_array_add(entries, chunk[i]);
		}
		if (idict__clients_reserve(clients, charge))
			*charged += charge;
		else if (*err == 0)
			*err = -ENOMEM;
	}
	gboolean over_cap = FALSE;
	g_autoptr(GHashTable) records = walk_end(self, walk, &over_cap);
	if (*err == 0 && over_cap)
		*err = -ENOMEM;
	if (*err == 0 && records != NULL) {
		/* Children removed before the walk got to them. */
		guint before = entries->len;
		GHashTableIter iter;
		gpointer value;
		g_hash_table_iter_init(&iter, records);
		while (g_hash_table_iter_next(&iter, NULL, &value)) {
			const UndoRecord *record = value;
			if (!record->emitted && record->visible) {
				g_ptr_array_add(entries,
						dir_entry_new(record->name, record->ino, record->is_dir));
				if (idict__clients_reserve(clients, DIR_ENTRY_CHARGE(record->name)))
					*charged += DIR_ENTRY_CHARGE(record->name);
				else
					*err = -ENOMEM;
			}
		}
		if (entries->len > before)
			g_ptr_array_sort(entries, compare_dir_entries);
	}
	undo_records_free(g_steal_pointer(&records), clients);
	if (*err) {
		idict__clients_unreserve(clients, *charged);
		*charged = 0;
		g_ptr_array_unref(entries);
		return NULL;
	}
	return entries;
}

int idict__store_raw_text(IDict *self, guint64 ino, IDictNodeInfo *info, IDictText **data_out)
{
	if (data_out)
		*data_out = NULL;
	lock_for_reader(self);
	Node *node = node_by_ino(self, ino);
	if (node == NULL || !visible_locked(self, node, IDICT__VIEW_RAW)) {
		g_rec_mutex_unlock(&self->lock);
		return -ENOENT;
	}
	fill_info_locked(node, info);
	info->writable = FALSE;
	info->size = 0;
	if (node->children) {
		g_rec_mutex_unlock(&self->lock);
		return 0;
	}
	IDictText *raw = node->raw ? idict__text_ref(node->raw) : NULL;
	g_autoptr(GVariant) value = raw ? NULL : g_variant_ref(node->value.as.boxed);
	guint64 generation = node->generation;
	g_rec_mutex_unlock(&self->lock);
	if (raw == NULL) {
		/* The array's own bytes (no copy for the arrays idict_set_array()
		 * makes; a value built in tree form is serialized here, outside
		 * the lock), shared by every open of this generation. */
		IDictText *mine = idict__text_new(g_variant_get_data_as_bytes(value), generation);
		raw = mine;
		lock_for_reader(self);
		node = node_by_ino(self, ino);
		if (node && node->generation == generation) {
			if (node->raw == NULL)
				node->raw = idict__text_ref(raw);
			else
				raw = idict__text_ref(node->raw); /* shared, counted once */
		}
		g_rec_mutex_unlock(&self->lock);
		if (raw != mine)
			idict__text_unref(mine);
	}
	info->size = idict__text_size(raw);
	if (data_out)
		*data_out = raw;
	else
		idict__text_unref(raw);
	return 0;
}

/* ---- snapshots ---- */

typedef struct {
	char *key;
	Value value;
	gboolean writable;
} Captured;

/* One key taken by a walk for snapshot.json. */
typedef struct {
	char *key;
	GVariant *value; /* non-floating */
	gboolean writable;
} IDictSnapshotEntry;

static int compare_walk_entries(gconstpointer a, gconstpointer b)
{
	return strcmp(((const IDictSnapshotEntry *)a)->key, ((const IDictSnapshotEntry *)b)->key);
}

/* What a captured entry holds against the cap: the values are counted too
 * (they may be old ones by the time the snapshot is rendered). */
static gsize snapshot_entry_charge(const IDictSnapshotEntry *entry)
{
	return sizeof *entry + strlen(entry->key) + 1 + 64 + g_variant_get_size(entry->value);
}

GVariant *idict__store_walk_snapshot(IDict *self, IDictClients *clients, guint64 *sequence_out,
				     gsize *charged_out, int *err)
{
	guint64 sequence = 0;
	g_autoptr(GArray) entries = g_array_new(FALSE, FALSE, sizeof(IDictSnapshotEntry));
	g_autoptr(GArray) chunk = g_array_sized_new(FALSE, FALSE, sizeof(Captured), WALK_CHUNK);
	gsize charged = 0;
	*err = 0;
	Walk *walk = walk_begin(self, WALK_KEYS, IDICT__VIEW_KEYS, 0, clients, &sequence);
	gboolean done = FALSE;
	while (!done && *err == 0) {
		g_array_set_size(chunk, 0);
		lock_for_reader(self);
		if (walk->over_cap) {
			*err = -ENOMEM;
		} else {
			GTreeNode *t = walk->started ? g_tree_upper_bound(self->by_key, walk->last)
						     : g_tree_node_first(self->by_key);
			const Node *node = NULL;
			for (guint n = 0; t != NULL && n < WALK_CHUNK; t = g_tree_node_next(t), n++) {
				node = g_tree_node_value(t);
				if (node->ino >= walk->end_ino)
					continue;
				const UndoRecord *record = walk_record_locked(walk, node);
				Captured c = { g_strdup(node->key),
					       value_copy(record ? &record->value : &node->value),
					       record ? record->writable : node->writable };
				g_array_append_val(chunk, c);
			}
			if (node)
				walk_visited_locked(walk, node->key);
			done = t == NULL;
		}
		g_rec_mutex_unlock(&self->lock);
		if (!done)
			walk_between_chunks(self);
		/* Boxing the scalars, and counting, outside the lock. */
		for (guint i = 0; i < chunk->len; i++) {
			Captured *c = &g_array_index(chunk, Captured, i);
			IDictSnapshotEntry entry = { c->key, value_to_variant(&c->value), c->writable };
			value_clear(&c->value);
			g_array_append_val(entries, entry);
			gsize charge = snapshot_entry_charge(&entry);
			if (idict__clients_reserve(clients, charge))
				charged += charge;
			else
				*err = -ENOMEM;
		}
	}
	gboolean over_cap = FALSE;
	g_autoptr(GHashTable) records = walk_end(self, walk, &over_cap);
	if (*err == 0 && over_cap)
		*err = -ENOMEM;
	if (*err == 0 && records != NULL) {
		/* Keys removed before the walk got to them. */
		guint before = entries->len;
		GHashTableIter iter;
		gpointer value;
		g_hash_table_iter_init(&iter, records);
		while (g_hash_table_iter_next(&iter, NULL, &value)) {
			const UndoRecord *record = value;
			if (record->emitted)
				continue;
			IDictSnapshotEntry entry = { g_strdup(record->name),
						     value_to_variant(&record->value), record->writable };
			g_array_append_val(entries, entry);
			gsize charge = snapshot_entry_charge(&entry);
			if (idict__clients_reserve(clients, charge))
				charged += charge;
			else
				*err = -ENOMEM;
		}
		if (entries->len > before)
			g_array_sort(entries, compare_walk_entries);
	}
	undo_records_free(g_steal_pointer(&records), clients);

	/* Building the GVariant, outside the lock (counted above). */
	GVariant *result = NULL;
	if (*err == 0) {
		GVariantBuilder builder;
		g_variant_builder_init(&builder, G_VARIANT_TYPE("a{s(vb)}"));
		for (guint i = 0; i < entries->len; i++) {
			IDictSnapshotEntry *entry = &g_array_index(entries, IDictSnapshotEntry, i);
			g_variant_builder_add(&builder, "{s(vb)}", entry->key, entry->value,
					      entry->writable);
		}
		result = g_variant_ref_sink(g_variant_builder_end(&builder));
	}
	for (guint i = 0; i < entries->len; i++) {
		IDictSnapshotEntry *entry = &g_array_index(entries, IDictSnapshotEntry, i);
		g_free(entry->key);
		g_variant_unref(entry->value);
	}
	if (result == NULL) {
		idict__clients_unreserve(clients, charged);
		charged = 0;
	}
	if (sequence_out)
		*sequence_out = sequence;
	*charged_out = charged;
	return result;
}

/* The signatures of before walks and shared texts, for the callers that
 * count nothing against a cap (tests, tools). */
int idict__store_stat(IDict *self, guint64 ino, IDictNodeInfo *info, GBytes **text_out)
{
	IDictText *text = NULL;
	int err = idict__store_key_text(self, ino, info, NULL, text_out ? &text : NULL);
	if (text_out)
		*text_out = text ? g_bytes_ref(text->bytes) : NULL;
	idict__text_unref(text);
	return err;
}

GPtrArray *idict__store_list_dir(IDict *self, IDictView view, guint64 ino, int *err)
{
	gsize charged = 0;
	return idict__store_walk_dir(self, view, ino, NULL, &charged, err);
}

int idict__store_raw_stat(IDict *self, guint64 ino, IDictNodeInfo *info, GBytes **data_out)
{
	IDictText *data = NULL;
	int err = idict__store_raw_text(self, ino, info, data_out ? &data : NULL);
	if (data_out)
		*data_out = data ? g_bytes_ref(data->bytes) : NULL;
	idict__text_unref(data);
	return err;
}

typedef struct {
	char *key;
	GVariant *value;
	gboolean writable;
} SnapshotEntry;

static int compare_snapshot_entries(gconstpointer a, gconstpointer b)
{
	return strcmp(((const SnapshotEntry *)a)->key, ((const SnapshotEntry *)b)->key);
}

GVariant *idict__store_snapshot(IDict *self, guint64 *sequence_out)
{
	/* References under the lock; sorting and building after unlocking. */
	lock_store(self);
	guint n = g_hash_table_size(self->keys);
	g_autofree SnapshotEntry *entries = g_new(SnapshotEntry, MAX(n, 1));
	GHashTableIter iter;
	gpointer key, value;
	guint i = 0;
	g_hash_table_iter_init(&iter, self->keys);
	while (g_hash_table_iter_next(&iter, &key, &value)) {
		const Node *node = value;
		entries[i].key = g_strdup(key);
		entries[i].value = value_to_variant(&node->value);
		entries[i].writable = node->writable;
		i++;
	}
	if (sequence_out)
		*sequence_out = self->sequence;
	g_rec_mutex_unlock(&self->lock);

	qsort(entries, n, sizeof(SnapshotEntry), compare_snapshot_entries);
	GVariantBuilder builder;
	g_variant_builder_init(&builder, G_VARIANT_TYPE("a{s(vb)}"));
	for (i = 0; i < n; i++) {
		g_variant_builder_add(&builder, "{s(vb)}", entries[i].key, entries[i].value,
				      entries[i].writable);
		g_free(entries[i].key);
		g_variant_unref(entries[i].value);
	}
	return g_variant_ref_sink(g_variant_builder_end(&builder));
}

/* ---- control ---- */

void idict_terminate(IDict *self)
{
	g_return_if_fail(self != NULL);
	g_mutex_lock(&self->control_lock);
	self->terminated = TRUE;
	self->control_changed_us = g_get_real_time();
	g_cond_broadcast(&self->control_cond);
	g_mutex_unlock(&self->control_lock);
}

gboolean idict_terminated(IDict *self)
{
	g_return_val_if_fail(self != NULL, TRUE);
	g_mutex_lock(&self->control_lock);
	gboolean terminated = self->terminated;
	g_mutex_unlock(&self->control_lock);
	return terminated;
}

void idict_pause(IDict *self)
{
	g_return_if_fail(self != NULL);
	g_mutex_lock(&self->control_lock);
	self->paused = TRUE;
	self->control_changed_us = g_get_real_time();
	g_mutex_unlock(&self->control_lock);
}

void idict_resume(IDict *self)
{
	g_return_if_fail(self != NULL);
	g_mutex_lock(&self->control_lock);
	self->paused = FALSE;
	self->control_changed_us = g_get_real_time();
	g_cond_broadcast(&self->control_cond);
	g_mutex_unlock(&self->control_lock);
}

gboolean idict_paused(IDict *self)
{
	g_return_val_if_fail(self != NULL, FALSE);
	g_mutex_lock(&self->control_lock);
	gboolean paused = self->paused;
	g_mutex_unlock(&self->control_lock);
	return paused;
}

gboolean idict_wait(IDict *self, double timeout)
{
	g_return_val_if_fail(self != NULL, TRUE);
	gint64 deadline = idict__deadline(timeout);
	g_mutex_lock(&self->control_lock);
	while (self->paused && !self->terminated) {
		if (deadline == G_MAXINT64)
			g_cond_wait(&self->control_cond, &self->control_lock);
		else if (!g_cond_wait_until(&self->control_cond, &self->control_lock, deadline))
			break;
	}
	gboolean go_on = !self->paused || self->terminated;
	g_mutex_unlock(&self->control_lock);
	return go_on;
}

void idict__store_status(IDict *self, IDictStatus *status)
{
	g_mutex_lock(&self->control_lock);
	status->state = self->finished ? "finished"
		: self->terminated ? "terminating"
		: self->paused ? "paused" : "running";
	status->control_changed_us = self->control_changed_us;
	g_mutex_unlock(&self->control_lock);
	lock_for_reader(self);
	status->sequence = self->sequence;
	status->n_keys = g_hash_table_size(self->keys);
	status->started_us = self->started_us;
	status->last_update_us = self->last_update_us;
	/* Updates per second over the last RATE_WINDOW updates. */
	guint64 window = MIN(self->sequence, (guint64)RATE_WINDOW);
	status->updates_per_second = NAN;
	if (window >= 2) {
		gint64 first = self->update_times[(self->sequence - window + 1) % RATE_WINDOW];
		gint64 span = self->last_update_us - first;
		if (span > 0)
			status->updates_per_second = (double)(window - 1) * G_USEC_PER_SEC / (double)span;
	}
	status->progress = self->progress_key ? progress_fraction_locked(self) : NAN;
	status->eta_seconds = NAN;
	if (self->progress_started && isfinite(status->progress)) {
		double done = status->progress - self->progress_f0;
		double elapsed = (double)(g_get_real_time() - self->progress_t0_us) / G_USEC_PER_SEC;
		if (status->progress >= 1)
			status->eta_seconds = 0;
		else if (done > 0)
			status->eta_seconds = elapsed * (1 - status->progress) / done;
	}
	g_rec_mutex_unlock(&self->lock);
}

/* ---- updates and callbacks ---- */

IDictUpdateLog *idict__store_update_log(IDict *self)
{
	return self->log;
}

/* Whether callbacks exist.  callbacks_lock held. */
static void update_listening_locked(IDict *self)
{
	g_atomic_int_set(&self->listening, self->callbacks->len > 0);
}

gboolean idict__store_set_update_hook(IDict *self, IDictUpdateHook hook, gpointer data,
				      gpointer (*ref)(gpointer), GDestroyNotify unref)
{
	gpointer old = NULL;
	GDestroyNotify old_unref = NULL;
	g_mutex_lock(&self->callbacks_lock);
	gboolean taken = hook != NULL && self->hook != NULL;
	if (hook != NULL && !taken) {
		self->hook = hook;
		self->hook_data = ref(data);
		self->hook_ref = ref;
		self->hook_unref = unref;
	} else if (hook == NULL && self->hook_data == data && data != NULL) {
		old = self->hook_data;
		old_unref = self->hook_unref;
		self->hook = NULL;
		self->hook_data = NULL;
		self->hook_ref = NULL;
		self->hook_unref = NULL;
	}
	g_mutex_unlock(&self->callbacks_lock);
	if (old)
		old_unref(old);
	return !taken;
}

/* Records @value if it is a scalar (history/ shows scalars only). */
static void history_push_locked(History *history, guint64 seq, gint64 time_us, const Value *value)
{
	if (value->kind == VALUE_BOXED)
		return;
	HistoryEntry *slot = &history->entries[history->pushed % history->depth];
	history->pushed++;
	history->version++;
	slot->seq = seq;
	slot->time_us = time_us;
	slot->value = *value;
}

/* The progress key's value over the target; NAN if unknown.  Lock held. */
static double progress_fraction_locked(IDict *self)
{
	Node *node = self->progress_key ? g_hash_table_lookup(self->keys, self->progress_key) : NULL;
	if (node == NULL)
		return NAN;
	double value;
	if (node->value.kind == VALUE_DOUBLE)
		value = node->value.as.d;
	else if (node->value.kind == VALUE_INT)
		value = (double)node->value.as.i;
	else
		return NAN;
	return value / self->progress_target;
}

gboolean idict_set_progress_target(IDict *self, const char *key, double target, GError **error)
{
	g_return_val_if_fail(self != NULL, FALSE);
	if (key != NULL && !idict_check_key_name(key, error))
		return FALSE;
	if (key != NULL && !(target > 0 && isfinite(target))) {
		g_set_error(error, IDICT_ERROR, IDICT_ERROR_INVALID_VALUE,
			    "the progress target must be a positive number");
		return FALSE;
	}
	lock_store(self);
	g_free(self->progress_key);
	self->progress_key = g_strdup(key);
	self->progress_target = target;
	self->progress_started = FALSE;
	g_rec_mutex_unlock(&self->lock);
	return TRUE;
}

/* Returns: (transfer full): an empty history of @depth (> 0) values, in
 * place of @before (nullable).  Store lock held. */
static History *history_new(IDict *self, guint depth, const History *before)
{
	History *history = g_malloc0(sizeof(History) + depth * sizeof(HistoryEntry));
	history->depth = depth;
	history->id = ++self->next_history_id;
	/* The versions of its text go on from those of the ring it replaces. */
	history->version = before ? before->version + 1 : 1;
	return history;
}

/* Gives @node the history that idict_clear() kept for its name, if any.
 * Store lock held. */
static void restore_kept_history_locked(IDict *self, Node *node)
{
	gpointer name, depth;
	if (self->kept_history == NULL ||
	    !g_hash_table_steal_extended(self->kept_history, node->key, &name, &depth))
		return;
	g_free(name);
	node->history = history_new(self, GPOINTER_TO_UINT(depth), NULL);
	if (G_UNLIKELY(self->n_walks > 0))
		walks_note_chain_locked(self, node->parent, NOTE_HISTORY);
	for (Node *up = node->parent; up; up = up->parent)
		up->n_history++;
}

gboolean idict_set_history(IDict *self, const char *key, guint depth, GError **error)
{
	g_return_val_if_fail(self != NULL, FALSE);
	g_return_val_if_fail(key != NULL, FALSE);
	History *old = NULL;
	lock_store(self);
	Node *node = g_hash_table_lookup(self->keys, key);
	if (node) {
		old = node->history;
		History *history = NULL;
		if (depth > 0) {
			history = history_new(self, depth, old);
			/* Keep the newest entries that fit. */
			guint64 count = old ? MIN(old->pushed, old->depth) : 0;
			guint64 keep = MIN(count, depth);
			for (guint64 k = old ? old->pushed - keep : 0; old && k < old->pushed; k++) {
				HistoryEntry *e = &old->entries[k % old->depth];
				history_push_locked(history, e->seq, e->time_us, &e->value);
			}
		}
		if ((old == NULL) != (history == NULL) && G_UNLIKELY(self->n_walks > 0))
			walks_note_chain_locked(self, node, NOTE_HISTORY);
		node->history = history;
		if ((old == NULL) != (history == NULL))
			for (Node *up = node->parent; up; up = up->parent)
				up->n_history += history ? 1 : (guint)-1;
	}
	g_rec_mutex_unlock(&self->lock);
	history_free(old);
	if (node == NULL)
		g_set_error(error, IDICT_ERROR, IDICT_ERROR_NOT_FOUND, "no key \"%s\"", key);
	return node != NULL;
}

/* Renders history entries, oldest first, as "SEQ UNIXTIME VALUE" lines. */
static GBytes *render_history(const HistoryEntry *entries, gsize n)
{
	GString *out = g_string_sized_new(n * 40 + 1);
	for (gsize i = 0; i < n; i++) {
		g_autoptr(GVariant) variant = value_to_variant(&entries[i].value);
		g_autoptr(GBytes) value = idict__format_render(variant);
		g_string_append_printf(out, "%" G_GUINT64_FORMAT " %" G_GINT64_FORMAT ".%06d ",
				       entries[i].seq, entries[i].time_us / G_USEC_PER_SEC,
				       (int)(entries[i].time_us % G_USEC_PER_SEC));
		g_string_append_len(out, g_bytes_get_data(value, NULL),
				    (gssize)g_bytes_get_size(value));
	}
	return g_string_free_to_bytes(out);
}

/* history/KEY is rendered once per change of the ring and cached in it.  A
 * ring may be long (idict_set_history()'s depth is the computation's
 * choice), so it is copied HISTORY_CHUNK entries per hold of the store
 * lock, newest first, up to the newest entry at the start: pushes made
 * meanwhile are left out, and if they overwrote the oldest entries before
 * the copy got to them, the text starts later (it is then the last values
 * as of the start, fewer of them). */
int idict__store_history_text(IDict *self, guint64 ino, IDictNodeInfo *info,
			      IDictClients *clients, IDictText **text_out)
{
	if (text_out)
		*text_out = NULL;
	lock_for_reader(self);
	Node *node = node_by_ino(self, ino);
	if (node == NULL || !visible_locked(self, node, IDICT__VIEW_HISTORY)) {
		g_rec_mutex_unlock(&self->lock);
		return -ENOENT;
	}
	fill_info_locked(node, info);
	info->writable = FALSE;
	info->size = 0;
	if (node->children) {
		g_rec_mutex_unlock(&self->lock);
		return 0;
	}
	History *history = node->history;
	guint64 id = history->id, version = history->version, end = history->pushed;
	guint64 first = end - MIN(end, (guint64)history->depth);
	if (end > first)
		info->mtime_us = history->entries[(end - 1) % history->depth].time_us;
	IDictText *text = history->text && history->text->version == version
		? idict__text_ref(history->text) : NULL;
	if (text) {
		g_rec_mutex_unlock(&self->lock);
		info->size = idict__text_size(text);
		if (text_out)
			*text_out = text;
		else
			idict__text_unref(text);
		return 0;
	}
	gsize copy_bytes = (gsize)(end - first) * sizeof(HistoryEntry);
	if (!idict__clients_reserve(clients, copy_bytes)) {
		g_rec_mutex_unlock(&self->lock);
		return -ENOMEM;
	}
	g_autofree HistoryEntry *copy = g_new(HistoryEntry, MAX(end - first, 1));
	guint64 from = end; /* copied: [from, end) */
	for (;;) {
		/* Entries still in the ring: the last `depth` pushed. */
		guint64 kept = history->pushed - MIN(history->pushed, (guint64)history->depth);
		guint64 lo = MAX(MAX(first, kept), from - MIN(from - first, (guint64)HISTORY_CHUNK));
		for (guint64 k = lo; k < from; k++)
			copy[k - first] = history->entries[k % history->depth];
		gboolean lost = lo > first && lo == kept;
		from = MIN(from, lo);
		g_rec_mutex_unlock(&self->lock);
		if (from == first || lost)
			break;
		lock_for_reader(self);
		node = node_by_ino(self, ino);
		if (node == NULL || node->history == NULL || node->history->id != id) {
			/* Removed, or its ring replaced: what was copied stays. */
			g_rec_mutex_unlock(&self->lock);
			break;
		}
		history = node->history;
	}
	gsize estimate = (gsize)(end - from) * 64;
	if (!idict__clients_reserve(clients, estimate)) {
		idict__clients_unreserve(clients, copy_bytes);
		return -ENOMEM;
	}
	text = idict__text_new(render_history(copy + (from - first), end - from), version);
	idict__clients_unreserve(clients, estimate + copy_bytes);

	IDictText *stale = NULL;
	lock_for_reader(self);
	node = node_by_ino(self, ino);
	if (node && node->history && node->history->id == id && node->history->version == version) {
		if (node->history->text && node->history->text->version == version) {
			/* Rendered by another reader meanwhile: share it. */
			stale = text;
			text = idict__text_ref(node->history->text);
		} else {
			stale = node->history->text;
			node->history->text = idict__text_ref(text);
		}
	}
	g_rec_mutex_unlock(&self->lock);
	idict__text_unref(stale);
	info->size = idict__text_size(text);
	if (text_out)
		*text_out = text;
	else
		idict__text_unref(text);
	return 0;
}

int idict__store_history_stat(IDict *self, guint64 ino, IDictNodeInfo *info, GBytes **text_out)
{
	IDictText *text = NULL;
	int err = idict__store_history_text(self, ino, info, NULL, text_out ? &text : NULL);
	if (text_out)
		*text_out = text ? g_bytes_ref(text->bytes) : NULL;
	idict__text_unref(text);
	return err;
}


guint64 idict_sequence(IDict *self)
{
	g_return_val_if_fail(self != NULL, 0);
	lock_store(self);
	guint64 seq = self->sequence;
	g_rec_mutex_unlock(&self->lock);
	return seq;
}

/* Runs the server's hook (if @wake: a reader waits) and the user's
 * callbacks for an update, none of them under a lock: the hook's data is
 * referenced under callbacks_lock, and the hook called after. */
static void run_callbacks(IDict *self, gboolean final, gboolean wake)
{
	IDictUpdateHook hook = NULL;
	gpointer hook_data = NULL;
	GDestroyNotify hook_unref = NULL;
	g_mutex_lock(&self->callbacks_lock);
	if (wake && self->hook) {
		hook = self->hook;
		hook_data = self->hook_ref(self->hook_data);
		hook_unref = self->hook_unref;
	}
	guint n_callbacks = self->callbacks->len;
	CallbackRec *some[8];
	g_autofree CallbackRec **many =
		n_callbacks > G_N_ELEMENTS(some) ? g_new(CallbackRec *, n_callbacks) : NULL;
	CallbackRec **callbacks = many ? many : some;
	for (guint i = 0; i < n_callbacks; i++)
		callbacks[i] = g_atomic_rc_box_acquire(self->callbacks->pdata[i]);
	g_mutex_unlock(&self->callbacks_lock);

	if (hook) {
		hook(hook_data);
		hook_unref(hook_data);
	}

	for (guint i = 0; i < n_callbacks; i++) {
		g_mutex_lock(&self->callbacks_lock);
		gboolean removed = callbacks[i]->removed;
		g_mutex_unlock(&self->callbacks_lock);
		if (!removed)
			callbacks[i]->func(self, final, callbacks[i]->data);
		g_atomic_rc_box_release_full(callbacks[i], callback_rec_clear);
	}
}

void idict_notify_update(IDict *self, gboolean final)
{
	g_return_if_fail(self != NULL);

	lock_store(self);
	self->sequence++;
	gint64 now = g_get_real_time();
	self->last_update_us = now;
	self->update_times[self->sequence % RATE_WINDOW] = now;
	/* The names of the changed and removed keys, sorted, each once (a key
	 * removed and set again is both); they stay owned by the nodes and by
	 * self->removed until the line is in the log. */
	guint n_removed = g_hash_table_size(self->removed);
	guint n = self->n_changed + n_removed;
	const char *few[16];
	g_autofree const char **many = n > G_N_ELEMENTS(few) ? g_new(const char *, n) : NULL;
	const char **names = many ? many : few;
	guint i = 0;
	for (guint c = 0; c < self->n_changed; c++) {
		Node *node = self->changed[c];
		node->changed = FALSE;
		node->mtime_us = now;
		if (node->history)
			history_push_locked(node->history, self->sequence, now, &node->value);
		names[i++] = node->key;
	}
	if (n_removed > 0) {
		GHashTableIter iter;
		gpointer name;
		g_hash_table_iter_init(&iter, self->removed);
		while (g_hash_table_iter_next(&iter, &name, NULL))
			names[i++] = name;
	}
	if (n > 1) {
		qsort(names, n, sizeof(char *), compare_strings);
		guint unique = 1;
		for (i = 1; i < n; i++)
			if (strcmp(names[i], names[unique - 1]) != 0)
				names[unique++] = names[i];
		n = unique;
	}
	/* Keep the array's room for the next update, unless a burst of
	 * changes made it large. */
	if (self->changed_room > 4096) {
		g_clear_pointer(&self->changed, g_free);
		self->changed_room = 0;
	}
	self->n_changed = 0;
	/* The rate behind eta_seconds is measured from the first update at
	 * which the progress key has a value (after a declaration, or after
	 * idict_clear() took the key away). */
	if (self->progress_key && !self->progress_started) {
		double fraction = progress_fraction_locked(self);
		if (isfinite(fraction)) {
			self->progress_started = TRUE;
			self->progress_t0_us = now;
			self->progress_f0 = fraction;
		}
	}
	/* Append under the store lock so that lines stay in sequence order
	 * when several threads notify. */
	gboolean wake = idict__update_log_append(self->log, self->sequence, now, final, names, n);
	if (n_removed > 0)
		g_hash_table_remove_all(self->removed);
	g_rec_mutex_unlock(&self->lock);

	if (final) {
		g_mutex_lock(&self->control_lock);
		self->finished = TRUE;
		g_mutex_unlock(&self->control_lock);
	}
	if (wake || g_atomic_int_get(&self->listening))
		run_callbacks(self, final, wake);
}

guint idict_add_callback(IDict *self, IDictUpdateFunc func, gpointer user_data,
			 GDestroyNotify destroy)
{
	g_return_val_if_fail(self != NULL, 0);
	g_return_val_if_fail(func != NULL, 0);
	CallbackRec *rec = g_atomic_rc_box_new0(CallbackRec);
	rec->func = func;
	rec->data = user_data;
	rec->destroy = destroy;
	g_mutex_lock(&self->callbacks_lock);
	rec->id = self->next_callback_id++;
	g_ptr_array_add(self->callbacks, rec);
	update_listening_locked(self);
	g_mutex_unlock(&self->callbacks_lock);
	return rec->id;
}

gboolean idict_remove_callback(IDict *self, guint id)
{
	g_return_val_if_fail(self != NULL, FALSE);
	CallbackRec *found = NULL;
	g_mutex_lock(&self->callbacks_lock);
	for (guint i = 0; i < self->callbacks->len; i++) {
		CallbackRec *rec = self->callbacks->pdata[i];
		if (rec->id == id) {
			rec->removed = TRUE;
			found = g_ptr_array_steal_index(self->callbacks, i);
			break;
		}
	}
	update_listening_locked(self);
	g_mutex_unlock(&self->callbacks_lock);
	if (found)
		g_atomic_rc_box_release_full(found, callback_rec_clear);
	return found != NULL;
}

/* ---- the whole dictionary: clear, copy, foreach, update, pop, set_default ----
 *
 * Each takes the store lock once and changes the store only through the
 * paths of the setters (ensure_key_locked(), store_value_locked()) and of
 * idict_remove() (remove_key_locked()), so that whatever those keep in step
 * (the changed list, removed names, directories, inode table) stays right.
 * The work under the lock is proportional to the keys touched, the
 * computation's own: names are copied into one block, values are scalars
 * or references; sorting, converting, freeing and the user's functions come
 * after unlocking.
 */

/* Returns: a copy of @value: the same scalar, or a new reference. */
static Value value_copy(const Value *value)
{
	Value copy = *value;
	if (copy.kind == VALUE_BOXED && copy.as.boxed)
		g_variant_ref(copy.as.boxed);
	return copy;
}

/* Returns: (transfer full): @value as a GVariant, taking over its reference
 * (a scalar is boxed).  @value is left empty. */
static GVariant *value_steal_variant(Value *value)
{
	GVariant *variant = value->kind == VALUE_BOXED ? value->as.boxed : value_to_variant(value);
	*value = (Value){ .kind = VALUE_BOXED, .as.boxed = NULL };
	return variant;
}

/* A key as it was when its batch was taken. */
typedef struct {
	const char *key;   /* in Batch.names */
	Value value;       /* a scalar, or a reference */
	IDictText *text;   /* nullable: the value's rendering, if it was cached */
	gboolean writable;
} BatchEntry;

typedef struct {
	guint n;
	BatchEntry *entries;
	char *names;       /* every key, each NUL-terminated */
} Batch;

/* Takes every key of @self, with its value, cached text and writable flag,
 * in one moment, under the store lock (which the caller may hold).
 * Returns: (transfer full): the keys in no order; batch_free() it. */
static Batch *batch_take(IDict *self)
{
	Batch *batch = g_new0(Batch, 1);
	GHashTableIter iter;
	gpointer node_p;
	lock_store(self);
	batch->n = g_hash_table_size(self->keys);
	gsize names_len = 0;
	g_hash_table_iter_init(&iter, self->keys);
	while (g_hash_table_iter_next(&iter, NULL, &node_p))
		names_len += strlen(((const Node *)node_p)->key) + 1;
	batch->entries = g_new(BatchEntry, MAX(batch->n, 1));
	batch->names = g_malloc(MAX(names_len, 1));
	char *name = batch->names;
	guint i = 0;
	g_hash_table_iter_init(&iter, self->keys);
	while (g_hash_table_iter_next(&iter, NULL, &node_p)) {
		const Node *node = node_p;
		gsize size = strlen(node->key) + 1;
		memcpy(name, node->key, size);
		/* What the computation sees (a held client write is not yet
		 * in force for it); the cached text only if it is that. */
		const Value *value = computation_value_locked(self, node);
		batch->entries[i++] = (BatchEntry){
			.key = name,
			.value = value_copy(value),
			.text = node->text && value == &node->value ? idict__text_ref(node->text) : NULL,
			.writable = node->writable,
		};
		name += size;
	}
	g_rec_mutex_unlock(&self->lock);
	return batch;
}

/* Returns: (transfer full) (nullable): @text (nullable), the cached
 * rendering of a value taken from a key (of this or another dictionary),
 * as the text of @node, which now holds that value: the same bytes, in a
 * text of @node's own (its version is @node's generation; and a text is
 * counted by the server of one dictionary only, see IDictText). */
static IDictText *text_for_node(const Node *node, const IDictText *text)
{
	return text ? idict__text_new(g_bytes_ref(text->bytes), node->generation) : NULL;
}

/* Frees @batch and what its entries still hold.  Without the store lock. */
static void batch_free(Batch *batch)
{
	for (guint i = 0; i < batch->n; i++) {
		value_clear(&batch->entries[i].value);
		g_clear_pointer(&batch->entries[i].text, idict__text_unref);
	}
	g_free(batch->entries);
	g_free(batch->names);
	g_free(batch);
}

void idict_clear(IDict *self)
{
	g_return_if_fail(self != NULL);
	g_autoptr(GPtrArray) gone = g_ptr_array_new_with_free_func((GDestroyNotify)node_destroy);
	lock_store(self);
	/* Collected first: removing edits the table. */
	guint n = g_hash_table_size(self->keys);
	g_autofree Node **nodes = g_new(Node *, MAX(n, 1));
	GHashTableIter iter;
	gpointer node;
	guint i = 0;
	g_hash_table_iter_init(&iter, self->keys);
	while (g_hash_table_iter_next(&iter, NULL, &node))
		nodes[i++] = node;
	for (i = 0; i < n; i++) {
		/* History settings stay (what was recorded goes with the key). */
		if (nodes[i]->history) {
			if (self->kept_history == NULL)
				self->kept_history = g_hash_table_new_full(g_str_hash, g_str_equal,
									   g_free, NULL);
			g_hash_table_insert(self->kept_history, g_strdup(nodes[i]->key),
					    GUINT_TO_POINTER(nodes[i]->history->depth));
		}
		remove_key_locked(self, nodes[i], gone);
	}
	self->progress_started = FALSE;
	g_rec_mutex_unlock(&self->lock);
	/* The nodes, their values and checks are freed here (g_autoptr). */
}

IDict *idict_copy(IDict *self)
{
	g_return_val_if_fail(self != NULL, NULL);
	Batch *batch = batch_take(self);
	IDict *copy = idict_new();
	g_rec_mutex_lock(&copy->lock);
	for (guint i = 0; i < batch->n; i++) {
		BatchEntry *entry = &batch->entries[i];
		/* The keys of one dictionary never conflict. */
		Node *node = ensure_key_locked(copy, entry->key, NULL);
		if (G_UNLIKELY(node == NULL)) {
			g_warn_if_reached();
			continue;
		}
		Garbage none;
		store_value_locked(copy, node, entry->value, &none);
		entry->value = (Value){ .kind = VALUE_BOXED, .as.boxed = NULL };
		node->text = text_for_node(node, entry->text);
		node->writable = entry->writable;
	}
	g_rec_mutex_unlock(&copy->lock);
	batch_free(batch);
	return copy;
}

static int compare_batch_entries(gconstpointer a, gconstpointer b)
{
	return strcmp(((const BatchEntry *)a)->key, ((const BatchEntry *)b)->key);
}

guint idict_foreach(IDict *self, IDictForeachFunc func, gpointer user_data)
{
	g_return_val_if_fail(self != NULL, 0);
	g_return_val_if_fail(func != NULL, 0);
	Batch *batch = batch_take(self);
	qsort(batch->entries, batch->n, sizeof(BatchEntry), compare_batch_entries);
	for (guint i = 0; i < batch->n; i++) {
		g_autoptr(GVariant) value = value_steal_variant(&batch->entries[i].value);
		func(self, batch->entries[i].key, value, user_data);
	}
	guint n = batch->n;
	batch_free(batch);
	return n;
}

gboolean idict_update(IDict *self, IDict *other, GError **error)
{
	g_return_val_if_fail(self != NULL, FALSE);
	g_return_val_if_fail(other != NULL, FALSE);
	/* From itself: read and write in one hold, so that no change comes
	 * between and is undone. */
	if (other == self)
		lock_store(self);
	Batch *batch = batch_take(other);
	g_autofree Garbage *old = g_new0(Garbage, MAX(batch->n, 1));

	lock_store(self);
	/* All or nothing: every new name is checked before anything changes.
	 * The keys of @other do not conflict with each other, so checking
	 * each against @self as it is finds every conflict. */
	gboolean ok = TRUE;
	for (guint i = 0; ok && i < batch->n; i++)
		if (g_hash_table_lookup(self->keys, batch->entries[i].key) == NULL)
			ok = walk_key_path_locked(self, batch->entries[i].key, NULL, NULL, error);
	for (guint i = 0; ok && i < batch->n; i++) {
		BatchEntry *entry = &batch->entries[i];
		Node *node = ensure_key_locked(self, entry->key, NULL);
		if (G_UNLIKELY(node == NULL)) {
			g_warn_if_reached();
			continue;
		}
		store_value_locked(self, node, entry->value, &old[i]);
		entry->value = (Value){ .kind = VALUE_BOXED, .as.boxed = NULL };
		node->text = text_for_node(node, entry->text);
	}
	g_rec_mutex_unlock(&self->lock);
	if (other == self)
		g_rec_mutex_unlock(&self->lock);

	/* The replaced values may be large: freed after unlocking. */
	for (guint i = 0; i < batch->n; i++)
		garbage_free(&old[i]);
	batch_free(batch);
	return ok;
}

GVariant *idict_pop(IDict *self, const char *key)
{
	g_return_val_if_fail(self != NULL, NULL);
	g_return_val_if_fail(key != NULL, NULL);
	g_autoptr(GPtrArray) gone = g_ptr_array_new_with_free_func((GDestroyNotify)node_destroy);
	Value value = { .kind = VALUE_BOXED, .as.boxed = NULL };
	lock_store(self);
	Node *node = g_hash_table_lookup(self->keys, key);
	gboolean found = node != NULL;
	if (found) {
		value = value_copy(computation_value_locked(self, node));
		remove_key_locked(self, node, gone);
	}
	g_rec_mutex_unlock(&self->lock);
	return found ? value_steal_variant(&value) : NULL;
}

GVariant *idict_set_default(IDict *self, const char *key, GVariant *value, GError **error)
{
	if (self == NULL || key == NULL || value == NULL) {
		if (value)
			g_variant_unref(g_variant_ref_sink(value)); /* consumed, if floating */
		g_return_val_if_fail(self != NULL, NULL);
		g_return_val_if_fail(key != NULL, NULL);
		g_return_val_if_fail(value != NULL, NULL);
	}
	g_autoptr(GVariant) given = g_variant_ref_sink(value);
	const GVariantType *type = g_variant_get_type(given);

	/* As in set_value_take(), a new name is checked without the lock;
	 * then the lookup is made again, in the hold that stores. */
	gboolean name_checked = FALSE;
	Node *node;
	for (;;) {
		lock_store(self);
		node = g_hash_table_lookup(self->keys, key);
		if (node || name_checked)
			break;
		g_rec_mutex_unlock(&self->lock);
		if (!idict_check_key_name(key, error))
			return NULL;
		name_checked = TRUE;
	}
	if (node && value_is_of_type(computation_value_locked(self, node), type)) {
		Value current = value_copy(computation_value_locked(self, node));
		g_rec_mutex_unlock(&self->lock);
		return value_steal_variant(&current);
	}
	if (node) {
		g_autofree char *has =
			g_strdup(value_type_string(computation_value_locked(self, node)));
		g_rec_mutex_unlock(&self->lock);
		wrong_type(error, key, has, type);
		return NULL;
	}
	node = ensure_key_locked(self, key, error);
	if (node == NULL) {
		g_rec_mutex_unlock(&self->lock);
		return NULL;
	}
	Garbage old;
	store_value_locked(self, node, value_take_variant(g_variant_ref(given)), &old);
	g_rec_mutex_unlock(&self->lock);
	garbage_free(&old);
	return g_steal_pointer(&given);
}

/* ---- changed keys and client writes (for idict-mpi and the like) ---- */

/* Takes @node off the list of client writes; its held value, if any, goes
 * to *@held_out (an empty value if none) for the caller to clear.  Store
 * lock held. */
static void forget_client_write_locked(IDict *self, Node *node, Value *held_out)
{
	Value *held = g_hash_table_lookup(self->client_writes, node);
	*held_out = held ? *held : (Value){ .kind = VALUE_BOXED };
	g_free(held);
	g_hash_table_remove(self->client_writes, node);
	node->client_written = FALSE;
}

/* As forget_client_write_locked(), freeing the held value under the lock:
 * the earlier value of a writable key, normally a scalar, which owns
 * nothing.  (set_value_take() forgets first, and frees after unlocking.) */
static void drop_client_write_locked(IDict *self, Node *node)
{
	Value held;
	forget_client_write_locked(self, node, &held);
	value_clear(&held);
}

char **idict_changed_keys(IDict *self)
{
	g_return_val_if_fail(self != NULL, NULL);
	/* Copies under the lock; sorting after unlocking. */
	lock_store(self);
	guint n = self->n_changed + g_hash_table_size(self->removed);
	char **names = g_new(char *, n + 1);
	guint i = 0;
	for (guint c = 0; c < self->n_changed; c++)
		names[i++] = g_strdup(self->changed[c]->key);
	GHashTableIter iter;
	gpointer name;
	g_hash_table_iter_init(&iter, self->removed);
	while (g_hash_table_iter_next(&iter, &name, NULL))
		names[i++] = g_strdup(name);
	g_rec_mutex_unlock(&self->lock);

	qsort(names, n, sizeof(char *), compare_strings);
	/* A key removed and set again is in both. */
	guint unique = 0;
	for (i = 0; i < n; i++) {
		if (unique > 0 && strcmp(names[i], names[unique - 1]) == 0)
			g_free(names[i]);
		else
			names[unique++] = names[i];
	}
	names[unique] = NULL;
	return names;
}

/* Frees the held values in @held (Value*), after the store lock is
 * released: an array may be large. */
static void free_held_values(GPtrArray *held)
{
	for (guint i = 0; i < held->len; i++) {
		Value *value = held->pdata[i];
		value_clear(value);
		g_free(value);
	}
	g_ptr_array_unref(held);
}

void idict_hold_client_writes(IDict *self, gboolean hold)
{
	g_return_if_fail(self != NULL);
	g_autoptr(GPtrArray) released = g_ptr_array_new();
	lock_store(self);
	self->hold_client_writes = hold != FALSE;
	if (!hold) {
		/* Every held write comes into force; the keys stay listed. */
		GHashTableIter iter;
		gpointer held;
		g_hash_table_iter_init(&iter, self->client_writes);
		while (g_hash_table_iter_next(&iter, NULL, &held)) {
			if (held) {
				g_ptr_array_add(released, held);
				g_hash_table_iter_replace(&iter, NULL);
			}
		}
	}
	g_rec_mutex_unlock(&self->lock);
	free_held_values(g_steal_pointer(&released));
}

char **idict_take_client_writes(IDict *self)
{
	g_return_val_if_fail(self != NULL, NULL);
	g_autoptr(GPtrArray) released = g_ptr_array_new();
	lock_store(self);
	guint n = g_hash_table_size(self->client_writes);
	char **names = g_new(char *, n + 1);
	guint i = 0;
	GHashTableIter iter;
	gpointer key, held;
	g_hash_table_iter_init(&iter, self->client_writes);
	while (g_hash_table_iter_next(&iter, &key, &held)) {
		Node *node = key;
		node->client_written = FALSE;
		names[i++] = g_strdup(node->key);
		if (held)
			g_ptr_array_add(released, held);
	}
	g_hash_table_remove_all(self->client_writes);
	g_rec_mutex_unlock(&self->lock);
	free_held_values(g_steal_pointer(&released));
	names[n] = NULL;
	qsort(names, n, sizeof(char *), compare_strings);
	return names;
}
