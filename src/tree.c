/* tree.c - reading the tree for clients: one node and the cached text of
 * its value, a directory's children or every key as of one moment.  The
 * store lock is held for O(1) steps, or for one chunk of a walk.
 */
#include "store-internal.h"

#include "format.h"

#include <string.h>

/* ---- walks ----
 *
 * A reader that needs many nodes at once (a directory listing, every key
 * for snapshot.json) must see them all as they were at one moment, yet
 * never hold the store lock for long: the computation waits for it.  So it
 * walks: WALK_CHUNK nodes per hold of the lock, in the order of an ordered
 * tree (a directory's children by name, or every key by key in by_key),
 * resuming after the last name it visited (g_tree_upper_bound), which
 * survives removals and insertions between chunks.  Nodes created after
 * the walk began have ids from end_id on (ids are never reused and
 * only grow) and are skipped.  A node changed or removed after
 * the walk began, before the walk gets to it, would show its new state; so
 * while a walk is active, the first change or removal of each node it has
 * not visited yet leaves an undo record of the node as it was
 * (idict__tree_note_locked()): for the computation, O(1) per first change (a
 * hash lookup, a copy of the name, a reference to the old value), counted
 * against the clients' cap.  A walk whose record would pass the cap fails
 * (IDICT__TREE_OVER_CAP).  The walk uses the record in place of the node when it gets
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


static void undo_record_free(UndoRecord *record, IDictBudget *budget)
{
	idict__budget_unreserve(budget, record->charge);
	idict__value_clear(&record->value);
	g_free(record->name);
	g_free(record);
}

/* Whether @walk must record @node before the change @what.  Lock held. */
static gboolean walk_wants_locked(const Walk *walk, const Node *node, NoteKind what)
{
	if (node->id >= walk->end_id)
		return FALSE; /* created after the walk began */
	if (walk->kind == WALK_KEYS) {
		if (node->children || node->parent == NULL || what == NOTE_HISTORY ||
		    what == NOTE_RAW)
			return FALSE;
		return !walk->started || strcmp(node->key, walk->last) > 0;
	}
	if (node->parent == NULL || node->parent->id != walk->dir_id)
		return FALSE;
	switch (what) {
	case NOTE_RAW: /* what raw/ shows (arrays of doubles, and their directories) */
		if (walk->filter != IDICT__TREE_RAW)
			return FALSE;
		break;
	case NOTE_HISTORY:
		if (walk->filter != IDICT__TREE_HISTORY)
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

/* Leaves an undo record for each active walk that has yet to visit @node
 * and has none of it yet (see store-internal.h). */
void idict__tree_note_locked(IDict *self, Node *node, NoteKind what)
{
	for (guint i = 0; i < N_WALK_SLOTS; i++) {
		Walk *walk = &self->walks[i];
		if (!walk->active || walk->over_cap ||
		    !walk_wants_locked(walk, node, what) ||
		    (walk->records && g_hash_table_contains(walk->records, &node->id)))
			continue;
		UndoRecord *record = g_new0(UndoRecord, 1);
		record->id = node->id;
		record->name = g_strdup(walk->kind == WALK_KEYS ? node->key : NODE_NAME(node));
		record->is_dir = node->children != NULL;
		record->writable = node->writable;
		record->charge = sizeof *record + strlen(record->name) + 64;
		if (walk->kind == WALK_KEYS) {
			record->value = idict__value_copy(&node->value);
			/* The old value stays alive for the walk: counted.  (Its
			 * size is known, or computed once for a value the
			 * computation built in tree form.) */
			if (record->value.kind == IDICT__VALUE_BOXED)
				record->charge += g_variant_get_size(record->value.as.boxed);
		} else {
			record->visible = idict__tree_visible_locked(self, node, walk->filter);
		}
		if (!idict__budget_reserve(walk->budget, record->charge)) {
			walk->over_cap = TRUE;
			record->charge = 0;
			undo_record_free(record, NULL); /* drops a reference: the node holds the value */
			continue;
		}
		if (walk->records == NULL)
			walk->records = g_hash_table_new(g_int64_hash, g_int64_equal);
		g_hash_table_insert(walk->records, &record->id, record);
		self->undo_records_made++;
	}
}

/* Takes a walk slot (waiting for one if all are taken) and starts a walk.
 * *@sequence_out (nullable): the last update at the moment it began. */
static Walk *walk_begin(IDict *self, WalkKind kind, IDictTreeFilter filter, guint64 dir_id,
			IDictBudget *budget, guint64 *sequence_out)
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
	walk->filter = filter;
	walk->dir_id = dir_id;
	walk->end_id = self->next_id;
	walk->started = FALSE;
	walk->last[0] = '\0';
	walk->records = NULL;
	walk->budget = budget;
	walk->over_cap = FALSE;
	walk->active = TRUE;
	self->n_walks++;
	if (sequence_out)
		*sequence_out = self->sequence;
	g_rec_mutex_unlock(&self->lock);
	return walk;
}

void idict__tree_note_chain_locked(IDict *self, Node *node, NoteKind what)
{
	for (; node != NULL; node = node->parent)
		idict__tree_note_locked(self, node, what);
}

/* Between two chunks of a walk, without locks: the test hook. */
static void walk_between_chunks(IDict *self)
{
	if (G_UNLIKELY(self->walk_hook != NULL))
		self->walk_hook(self, self->walk_hook_data);
}

void idict__tree_set_walk_hook(IDict *self, void (*hook)(IDict *, gpointer), gpointer data)
{
	lock_store(self);
	self->walk_hook = hook;
	self->walk_hook_data = data;
	g_rec_mutex_unlock(&self->lock);
}

guint64 idict__tree_undo_records(IDict *self)
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
 * Returns: (transfer full) (nullable): its undo records (id -> UndoRecord*),
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

static void undo_records_free(GHashTable *records, IDictBudget *budget)
{
	if (records == NULL)
		return;
	GHashTableIter iter;
	gpointer record;
	g_hash_table_iter_init(&iter, records);
	while (g_hash_table_iter_next(&iter, NULL, &record))
		undo_record_free(record, budget);
	g_hash_table_unref(records);
}

/* The node a walk visits at @tree_node, or its undo record (marked as used)
 * if it has one.  Lock held. */
static UndoRecord *walk_record_locked(Walk *walk, const Node *node)
{
	UndoRecord *record = walk->records ? g_hash_table_lookup(walk->records, &node->id) : NULL;
	if (record)
		record->emitted = TRUE;
	return record;
}

/* ---- one node ---- */

void idict__tree_facts_locked(const Node *node, IDictNodeFacts *facts)
{
	facts->id = node->id;
	facts->is_dir = node->children != NULL;
	facts->writable = node->writable;
	facts->size = node->text ? idict__text_size(node->text) : 0;
	facts->mtime_us = node->mtime_us;
	facts->unpublished = node->changed;
	facts->n_subdirs = node->n_subdirs;
}

/* Renders @value for clients, first reserving its estimated size so that a
 * render never takes the memory past the cap.  Without the store lock.
 * Returns: (transfer full) (nullable): NULL if it would not fit. */
static IDictText *render_for_clients(GVariant *value, guint64 version, IDictBudget *budget)
{
	gsize estimate = idict__format_size_estimate(value);
	if (!idict__budget_reserve(budget, estimate))
		return NULL;
	GBytes *bytes = idict__format_render(value);
	idict__budget_unreserve(budget, estimate);
	return idict__text_new(bytes, version);
}

IDictTreeStatus idict__tree_text(IDict *self, guint64 id, IDictNodeFacts *facts,
				 IDictBudget *budget, IDictText **text_out)
{
	if (text_out)
		*text_out = NULL;
	lock_for_reader(self);
	Node *node = node_by_id(self, id);
	if (node == NULL) {
		g_rec_mutex_unlock(&self->lock);
		return IDICT__TREE_NO_NODE;
	}
	idict__tree_facts_locked(node, facts);
	if (node->children) {
		g_rec_mutex_unlock(&self->lock);
		return IDICT__TREE_OK;
	}
	IDictText *text = node->text ? idict__text_ref(node->text) : NULL;
	g_autoptr(GVariant) value = text ? NULL : idict__value_to_variant(&node->value);
	guint64 generation = node->generation;
	g_rec_mutex_unlock(&self->lock);

	if (text == NULL) {
		/* Render outside the lock; keep the result only if the value
		 * has not changed meanwhile (the generation tells). */
		text = render_for_clients(value, generation, budget);
		if (text == NULL)
			return IDICT__TREE_OVER_CAP;
		IDictText *mine = text;
		lock_for_reader(self);
		node = node_by_id(self, id);
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
	facts->size = idict__text_size(text);
	if (text_out)
		*text_out = text;
	else
		idict__text_unref(text);
	return IDICT__TREE_OK;
}

IDictTreeStatus idict__tree_parent(IDict *self, guint64 id, IDictNodeFacts *facts)
{
	lock_for_reader(self);
	Node *node = node_by_id(self, id);
	if (node && node->parent)
		node = node->parent;
	if (node)
		idict__tree_facts_locked(node, facts);
	g_rec_mutex_unlock(&self->lock);
	return node ? IDICT__TREE_OK : IDICT__TREE_NO_NODE;
}

char *idict__tree_key_name(IDict *self, guint64 id)
{
	lock_for_reader(self);
	Node *node = node_by_id(self, id);
	char *name = node ? g_strdup(node->key) : NULL;
	g_rec_mutex_unlock(&self->lock);
	return name;
}

void idict__tree_entry_free(IDictTreeEntry *entry)
{
	g_free(entry->name);
	g_free(entry);
}

/* Whether @node shows in @filter.  Store lock held. */
gboolean idict__tree_visible_locked(IDict *self, const Node *node, IDictTreeFilter filter)
{
	switch (filter) {
	case IDICT__TREE_HISTORY:
		return node->children ? node == self->root || node->n_history > 0
			: node->history != NULL;
	case IDICT__TREE_RAW:
		return node->children ? node == self->root || node->n_raw > 0 : is_raw_array(node);
	case IDICT__TREE_ALL:
	default:
		return TRUE;
	}
}

IDictTreeStatus idict__tree_lookup(IDict *self, IDictTreeFilter filter, guint64 parent,
				   const char *name, IDictNodeFacts *facts)
{
	lock_for_reader(self);
	Node *dir = node_by_id(self, parent);
	Node *node = dir && dir->children ? g_tree_lookup(dir->children, name) : NULL;
	IDictTreeStatus err = IDICT__TREE_OK;
	if (dir == NULL || (dir->children && !idict__tree_visible_locked(self, dir, filter)))
		err = IDICT__TREE_NO_NODE;
	else if (dir->children == NULL)
		err = IDICT__TREE_NOT_DIR;
	else if (node == NULL || !idict__tree_visible_locked(self, node, filter))
		err = IDICT__TREE_NO_NODE;
	else
		idict__tree_facts_locked(node, facts);
	g_rec_mutex_unlock(&self->lock);
	return err;
}

/* Counts @charge bytes of a walk's result against @budget: added to
 * *@charged, or, past the cap, IDICT__TREE_OVER_CAP in *@err (unless an
 * error is there already). */
static void charge_entries(IDictBudget *budget, gsize charge, gsize *charged,
			   IDictTreeStatus *err)
{
	if (idict__budget_reserve(budget, charge))
		*charged += charge;
	else if (*err == 0)
		*err = IDICT__TREE_OVER_CAP;
}

static IDictTreeEntry *dir_entry_new(const char *name, guint64 id, gboolean is_dir)
{
	IDictTreeEntry *entry = g_new(IDictTreeEntry, 1);
	entry->name = g_strdup(name);
	entry->id = id;
	entry->is_dir = is_dir;
	return entry;
}

static int compare_dir_entries(gconstpointer a, gconstpointer b)
{
	return strcmp((*(IDictTreeEntry *const *)a)->name, (*(IDictTreeEntry *const *)b)->name);
}

/* What an entry of a listing holds against the cap. */
#define DIR_ENTRY_CHARGE(name) (sizeof(IDictTreeEntry) + strlen(name) + 1 + 48)

GPtrArray *idict__tree_list(IDict *self, IDictTreeFilter filter, guint64 id,
			    IDictBudget *budget, gsize *charged, IDictTreeStatus *err)
{
	GPtrArray *entries = g_ptr_array_new_with_free_func((GDestroyNotify)idict__tree_entry_free);
	Walk *walk = walk_begin(self, WALK_LISTING, filter, id, budget, NULL);
	*charged = 0;
	*err = IDICT__TREE_OK;
	gboolean first = TRUE, done = FALSE;
	IDictTreeEntry *chunk[WALK_CHUNK];
	while (!done && *err == 0) {
		guint n_chunk = 0;
		lock_for_reader(self);
		Node *dir = node_by_id(self, id);
		if (first) {
			if (dir == NULL || (dir->children && !idict__tree_visible_locked(self, dir, filter)))
				*err = IDICT__TREE_NO_NODE;
			else if (dir->children == NULL)
				*err = IDICT__TREE_NOT_DIR;
			first = FALSE;
		}
		if (*err == 0 && walk->over_cap)
			*err = IDICT__TREE_OVER_CAP;
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
				if (child->id >= walk->end_id)
					continue;
				const UndoRecord *record = walk_record_locked(walk, child);
				if (record ? record->visible : idict__tree_visible_locked(self, child, filter))
					chunk[n_chunk++] =
						dir_entry_new(record ? record->name : NODE_NAME(child),
							      child->id, child->children != NULL);
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
		charge_entries(budget, charge, charged, err);
	}
	gboolean over_cap = FALSE;
	g_autoptr(GHashTable) records = walk_end(self, walk, &over_cap);
	if (*err == 0 && over_cap)
		*err = IDICT__TREE_OVER_CAP;
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
						dir_entry_new(record->name, record->id, record->is_dir));
				charge_entries(budget, DIR_ENTRY_CHARGE(record->name), charged, err);
			}
		}
		if (entries->len > before)
			g_ptr_array_sort(entries, compare_dir_entries);
	}
	undo_records_free(g_steal_pointer(&records), budget);
	if (*err) {
		idict__budget_unreserve(budget, *charged);
		*charged = 0;
		g_ptr_array_unref(entries);
		return NULL;
	}
	return entries;
}

Node *idict__tree_derived_begin(IDict *self, guint64 id, IDictTreeFilter filter,
				IDictNodeFacts *facts, IDictTreeStatus *status)
{
	lock_for_reader(self);
	Node *node = node_by_id(self, id);
	if (node == NULL || !idict__tree_visible_locked(self, node, filter)) {
		g_rec_mutex_unlock(&self->lock);
		*status = IDICT__TREE_NO_NODE;
		return NULL;
	}
	idict__tree_facts_locked(node, facts);
	facts->writable = FALSE;
	facts->size = 0;
	if (node->children) {
		g_rec_mutex_unlock(&self->lock);
		*status = IDICT__TREE_OK;
		return NULL;
	}
	return node;
}

IDictTreeStatus idict__tree_raw(IDict *self, guint64 id, IDictNodeFacts *facts,
				IDictText **data_out)
{
	if (data_out)
		*data_out = NULL;
	IDictTreeStatus status;
	Node *node = idict__tree_derived_begin(self, id, IDICT__TREE_RAW, facts, &status);
	if (node == NULL)
		return status;
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
		node = node_by_id(self, id);
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
	facts->size = idict__text_size(raw);
	if (data_out)
		*data_out = raw;
	else
		idict__text_unref(raw);
	return IDICT__TREE_OK;
}

/* ---- snapshots ---- */

typedef struct {
	char *key;
	IDictValue value;
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

GVariant *idict__tree_capture(IDict *self, IDictBudget *budget, guint64 *sequence_out,
			      gsize *charged_out, IDictTreeStatus *err)
{
	guint64 sequence = 0;
	g_autoptr(GArray) entries = g_array_new(FALSE, FALSE, sizeof(IDictSnapshotEntry));
	g_autoptr(GArray) chunk = g_array_sized_new(FALSE, FALSE, sizeof(Captured), WALK_CHUNK);
	gsize charged = 0;
	*err = IDICT__TREE_OK;
	Walk *walk = walk_begin(self, WALK_KEYS, IDICT__TREE_ALL, 0, budget, &sequence);
	gboolean done = FALSE;
	while (!done && *err == 0) {
		g_array_set_size(chunk, 0);
		lock_for_reader(self);
		if (walk->over_cap) {
			*err = IDICT__TREE_OVER_CAP;
		} else {
			GTreeNode *t = walk->started ? g_tree_upper_bound(self->by_key, walk->last)
						     : g_tree_node_first(self->by_key);
			const Node *node = NULL;
			for (guint n = 0; t != NULL && n < WALK_CHUNK; t = g_tree_node_next(t), n++) {
				node = g_tree_node_value(t);
				if (node->id >= walk->end_id)
					continue;
				const UndoRecord *record = walk_record_locked(walk, node);
				Captured c = { g_strdup(node->key),
					       idict__value_copy(record ? &record->value : &node->value),
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
			IDictSnapshotEntry entry = { c->key, idict__value_to_variant(&c->value), c->writable };
			idict__value_clear(&c->value);
			g_array_append_val(entries, entry);
			charge_entries(budget, snapshot_entry_charge(&entry), &charged, err);
		}
	}
	gboolean over_cap = FALSE;
	g_autoptr(GHashTable) records = walk_end(self, walk, &over_cap);
	if (*err == 0 && over_cap)
		*err = IDICT__TREE_OVER_CAP;
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
						     idict__value_to_variant(&record->value), record->writable };
			g_array_append_val(entries, entry);
			charge_entries(budget, snapshot_entry_charge(&entry), &charged, err);
		}
		if (entries->len > before)
			g_array_sort(entries, compare_walk_entries);
	}
	undo_records_free(g_steal_pointer(&records), budget);

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
		idict__budget_unreserve(budget, charged);
		charged = 0;
	}
	if (sequence_out)
		*sequence_out = sequence;
	*charged_out = charged;
	return result;
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
		entries[i].value = idict__value_to_variant(&node->value);
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

