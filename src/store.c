/* store.c - the dictionary's tree: a locked table of typed values, as a
 * tree of directories of keys.  Setters, getters, removal, the writable
 * flags and checks, clients' writes, and the whole-dictionary operations.
 * All under the store lock (store-internal.h).
 *
 * Values are immutable: readers take a reference under the lock and do
 * their work (rendering text, replying to the kernel) after releasing it,
 * so the computation never waits for a client for longer than a hash
 * lookup.  What a reader needs of many nodes at once it takes in chunks of
 * bounded size: see "walks" in tree.c.
 */
#include "store-internal.h"

#include "format.h"
#include "refusals.h"

#include <string.h>

static void forget_client_write_locked(IDict *self, Node *node, IDictValue *held_out);
static const IDictValue *computation_value_locked(IDict *self, const Node *node);
static void drop_client_write_locked(IDict *self, Node *node);

/* ---- checks ---- */

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

/* What a change of value leaves to free once the store lock is released:
 * the old value and the texts of it, which may be large. */
typedef struct {
	IDictValue value;
	IDictText *text;
	IDictText *raw;
} Garbage;

static void garbage_free(Garbage *garbage)
{
	idict__value_clear(&garbage->value);
	idict__text_unref(garbage->text);
	idict__text_unref(garbage->raw);
}

/* ---- nodes ---- */

static guint node_id_hash(gconstpointer node)
{
	return g_int64_hash(node); /* the node starts with its guint64 id */
}

static gboolean node_id_equal(gconstpointer a, gconstpointer b)
{
	return g_int64_equal(a, b);
}

static Node *node_new(IDict *self, Node *parent, const char *key, gsize key_len, gboolean is_dir)
{
	Node *node = g_malloc0(sizeof(Node) + key_len + 1);
	node->id = self->next_id++;
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
	g_hash_table_add(self->nodes_by_id, node);
	return node;
}

/* Counts @node, a key that became (@delta 1) or stopped being (-1) an
 * array of doubles, in its directories: raw/ shows only those that hold
 * one.  Store lock held. */
static void count_raw_locked(Node *node, int delta)
{
	for (Node *up = node->parent; up; up = up->parent)
		up->n_raw += (guint)delta;
}

/* Unlinks @node, which must have no children, from the tree and tables.
 * Store lock held. */
static void node_unlink(IDict *self, Node *node)
{
	if (G_UNLIKELY(self->n_walks > 0)) {
		idict__tree_note_locked(self, node, NOTE_REMOVE);
		/* Its directories may leave history/ or raw/ with it. */
		if (node->history)
			idict__tree_note_chain_locked(self, node->parent, NOTE_HISTORY);
		if (is_raw_array(node))
			idict__tree_note_chain_locked(self, node->parent, NOTE_RAW);
	}
	g_hash_table_remove(self->nodes_by_id, node);
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
static void node_destroy(Node *node)
{
	idict__notify_history_free(node->history);
	if (node->children)
		g_tree_destroy(node->children);
	idict__value_clear(&node->value);
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

/* ---- lifecycle ---- */

IDict *idict_new(void)
{
	IDict *self = g_new0(IDict, 1);
	g_atomic_ref_count_init(&self->ref_count);
	g_rec_mutex_init(&self->lock);
	self->keys = g_hash_table_new(g_str_hash, g_str_equal);
	self->nodes_by_id = g_hash_table_new(node_id_hash, node_id_equal);
	self->removed = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	self->by_key = g_tree_new((GCompareFunc)strcmp);
	g_mutex_init(&self->walk_slots_lock);
	g_cond_init(&self->walk_slot_freed);
	self->next_id = IDICT__TREE_ROOT;
	self->root = node_new(self, NULL, "", 0, TRUE);
	self->next_id = IDICT__TREE_FIRST_ID;
	self->started_us = g_get_real_time();
	self->control = idict__control_new(self->started_us);
	self->log = idict__update_log_new(1024, 16 * 1024 * 1024);
	self->refusals = idict__refusals_new();
	g_mutex_init(&self->callbacks_lock);
	self->callbacks = g_ptr_array_new();
	self->next_callback_id = 1;
	self->client_writes = g_hash_table_new(NULL, NULL);
	return self;
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
	idict__control_detach(self->control);
	idict__notify_free_callbacks(self);
	node_free_recursive(self, self->root);
	g_tree_destroy(self->by_key);
	g_mutex_clear(&self->walk_slots_lock);
	g_cond_clear(&self->walk_slot_freed);
	g_hash_table_unref(self->client_writes); /* emptied by node_unlink() */
	g_hash_table_unref(self->keys);
	g_hash_table_unref(self->nodes_by_id);
	g_free(self->changed);
	g_hash_table_unref(self->removed);
	g_clear_pointer(&self->kept_history, g_hash_table_unref);
	idict__update_log_free(self->log);
	idict__refusals_free(self->refusals);
	g_free(self->progress_key);
	g_rec_mutex_clear(&self->lock);
	g_mutex_clear(&self->callbacks_lock);
	g_free(self);
}

/* ---- control (control.c) ---- */

IDictControl *idict__store_control(IDict *self)
{
	return self->control;
}

void idict_terminate(IDict *self)
{
	g_return_if_fail(self != NULL);
	idict__control_terminate(self->control);
}

gboolean idict_terminated(IDict *self)
{
	g_return_val_if_fail(self != NULL, TRUE);
	return idict__control_terminated(self->control);
}

void idict_pause(IDict *self)
{
	g_return_if_fail(self != NULL);
	idict__control_set_paused(self->control, TRUE);
}

void idict_resume(IDict *self)
{
	g_return_if_fail(self != NULL);
	idict__control_set_paused(self->control, FALSE);
}

gboolean idict_paused(IDict *self)
{
	g_return_val_if_fail(self != NULL, FALSE);
	return idict__control_paused(self->control);
}

gboolean idict_wait(IDict *self, double timeout)
{
	g_return_val_if_fail(self != NULL, TRUE);
	return idict__control_wait(self->control, timeout);
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
	idict__notify_restore_kept_history_locked(self, node);
	return node;
}

/* Stores @value (consumed) under the key of @node, as a change for the
 * next update.  Store lock held.  The previous value and its texts go to
 * @old, for the caller to free (garbage_free()) after unlocking.  For a
 * client's write (idict__store_client_write()); the computation's go
 * through store_value_locked(). */
static void replace_value_locked(IDict *self, Node *node, IDictValue value, Garbage *old)
{
	gboolean was_raw = is_raw_array(node);
	if (G_UNLIKELY(self->n_walks > 0)) {
		idict__tree_note_locked(self, node, NOTE_VALUE);
		if (was_raw != idict__value_is_raw_array(&value))
			idict__tree_note_chain_locked(self, node, NOTE_RAW);
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
static void store_value_locked(IDict *self, Node *node, IDictValue value, Garbage *old)
{
	if (G_UNLIKELY(node->client_written))
		drop_client_write_locked(self, node);
	replace_value_locked(self, node, value, old);
}

/* Stores @value (consumed) under @key, creating the key if needed. */
static gboolean set_value_take(IDict *self, const char *key, IDictValue value, GError **error)
{
	if (key == NULL) {
		idict__value_clear(&value);
		g_return_val_if_fail(key != NULL, FALSE);
	}
	lock_store(self);
	/* A key in the table was checked when it was created: only new names
	 * need the (comparatively slow) check. */
	Node *node = g_hash_table_lookup(self->keys, key);
	if (node == NULL) {
		g_rec_mutex_unlock(&self->lock);
		if (!idict_check_key_name(key, error)) {
			idict__value_clear(&value);
			return FALSE;
		}
		lock_store(self);
		node = ensure_key_locked(self, key, error);
		if (node == NULL) {
			g_rec_mutex_unlock(&self->lock);
			idict__value_clear(&value);
			return FALSE;
		}
	}
	/* The computation's own value replaces a client's write. */
	IDictValue held = { .kind = IDICT__VALUE_BOXED };
	if (G_UNLIKELY(node->client_written))
		forget_client_write_locked(self, node, &held);
	Garbage old;
	store_value_locked(self, node, value, &old);
	g_rec_mutex_unlock(&self->lock);
	/* Free the old value outside the lock: it may be large. */
	garbage_free(&old);
	idict__value_clear(&held);
	return TRUE;
}

gboolean idict_set_value(IDict *self, const char *key, GVariant *value, GError **error)
{
	g_return_val_if_fail(self != NULL, FALSE);
	g_return_val_if_fail(value != NULL, FALSE);
	/* Sinks a floating value or adds a reference. */
	return set_value_take(self, key, idict__value_take_variant(g_variant_ref_sink(value)), error);
}

gboolean idict_set_double(IDict *self, const char *key, double value, GError **error)
{
	g_return_val_if_fail(self != NULL, FALSE);
	return set_value_take(self, key, (IDictValue){ .kind = IDICT__VALUE_DOUBLE, .as.d = value },
			      error);
}

gboolean idict_set_int(IDict *self, const char *key, gint64 value, GError **error)
{
	g_return_val_if_fail(self != NULL, FALSE);
	return set_value_take(self, key, (IDictValue){ .kind = IDICT__VALUE_INT, .as.i = value }, error);
}

gboolean idict_set_bool(IDict *self, const char *key, gboolean value, GError **error)
{
	g_return_val_if_fail(self != NULL, FALSE);
	return set_value_take(self, key, (IDictValue){ .kind = IDICT__VALUE_BOOL, .as.b = value != FALSE },
			      error);
}

static IDictValue boxed(GVariant *value)
{
	return (IDictValue){ .kind = IDICT__VALUE_BOXED, .as.boxed = g_variant_ref_sink(value) };
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
static const IDictValue *computation_value_locked(IDict *self, const Node *node)
{
	if (G_UNLIKELY(node->client_written)) {
		const IDictValue *held = g_hash_table_lookup(self->client_writes, node);
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
	GVariant *value = node ? idict__value_to_variant(computation_value_locked(self, node)) : NULL;
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
static gboolean get_scalar(IDict *self, const char *key, IDictValueKind kind, IDictValue *out,
			   GError **error)
{
	g_return_val_if_fail(self != NULL, FALSE);
	g_return_val_if_fail(key != NULL, FALSE);
	lock_store(self);
	Node *node = g_hash_table_lookup(self->keys, key);
	IDictValue value = node ? *computation_value_locked(self, node) : (IDictValue){ 0 };
	/* The type string of a boxed value lives in the value: copy it. */
	g_autofree char *has = node && value.kind != kind ? g_strdup(idict__value_type_string(&value))
							  : NULL;
	g_rec_mutex_unlock(&self->lock);
	if (node == NULL)
		return not_found(error, key);
	if (has) {
		IDictValue wanted = { .kind = kind };
		return wrong_type(error, key, has, (const GVariantType *)idict__value_type_string(&wanted));
	}
	*out = value;
	return TRUE;
}

gboolean idict_get_double(IDict *self, const char *key, double *out, GError **error)
{
	IDictValue value;
	if (!get_scalar(self, key, IDICT__VALUE_DOUBLE, &value, error))
		return FALSE;
	if (out)
		*out = value.as.d;
	return TRUE;
}

gboolean idict_get_int(IDict *self, const char *key, gint64 *out, GError **error)
{
	IDictValue value;
	if (!get_scalar(self, key, IDICT__VALUE_INT, &value, error))
		return FALSE;
	if (out)
		*out = value.as.i;
	return TRUE;
}

gboolean idict_get_bool(IDict *self, const char *key, gboolean *out, GError **error)
{
	IDictValue value;
	if (!get_scalar(self, key, IDICT__VALUE_BOOL, &value, error))
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

int idict__store_compare_strings(gconstpointer a, gconstpointer b)
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
	qsort(keys, n, sizeof(char *), idict__store_compare_strings);
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
			idict__tree_note_locked(self, node, NOTE_WRITABLE);
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

/* Lists @node as written by a client.  While writes are held, the first
 * write since the last take moves the value the computation saw, *@old,
 * aside for it (leaving *@old empty).  Store lock held. */
static void record_client_write_locked(IDict *self, Node *node, IDictValue *old)
{
	IDictValue *held = node->client_written ? g_hash_table_lookup(self->client_writes, node) : NULL;
	if (self->hold_client_writes && held == NULL) {
		held = g_new(IDictValue, 1);
		*held = *old;
		*old = (IDictValue){ .kind = IDICT__VALUE_BOXED };
	}
	node->client_written = TRUE;
	g_hash_table_insert(self->client_writes, node, held);
}

IDictTreeStatus idict__store_client_value(IDict *self, guint64 id, GVariant **value_out,
					  gboolean *has_check_out)
{
	lock_for_reader(self);
	Node *node = node_by_id(self, id);
	IDictTreeStatus err = IDICT__TREE_OK;
	if (node == NULL)
		err = IDICT__TREE_NO_NODE;
	else if (node->children)
		err = IDICT__TREE_IS_DIR;
	else if (!node->writable)
		err = IDICT__TREE_READ_ONLY;
	*value_out = err ? NULL : idict__value_to_variant(&node->value);
	*has_check_out = err == 0 && node->check != NULL;
	g_rec_mutex_unlock(&self->lock);
	return err;
}

IDictRefusals *idict__store_refusals(IDict *self)
{
	return self->refusals;
}

void idict_set_refusal_callback(IDict *self, IDictRefusalFunc func, gpointer user_data,
				GDestroyNotify destroy)
{
	g_return_if_fail(self != NULL);
	idict__refusals_set_callback(self->refusals, func, user_data, destroy);
}

void idict__store_refuse(IDict *self, guint64 id, guint uid, const char *text, gsize len,
			 const char *reason)
{
	lock_for_reader(self);
	Node *node = node_by_id(self, id);
	g_autofree char *key = g_strdup(node ? node->key : "?");
	g_rec_mutex_unlock(&self->lock);
	idict__refusals_record(self->refusals, self, uid, key, text, len, reason);
}

IDictTreeStatus idict__store_client_validate(IDict *self, guint64 id, const char *text,
					     gsize len, GVariant **value_out, GError **error_out)
{
	*value_out = NULL;
	lock_for_reader(self);
	Node *node = node_by_id(self, id);
	IDictTreeStatus err = IDICT__TREE_OK;
	if (node == NULL)
		err = IDICT__TREE_NO_NODE;
	else if (node->children)
		err = IDICT__TREE_IS_DIR;
	else if (!node->writable)
		err = IDICT__TREE_READ_ONLY;
	g_autoptr(GVariant) current = err ? NULL : idict__value_to_variant(&node->value);
	g_autofree char *key = err ? NULL : g_strdup(node->key);
	CheckRec *check =
		(err || node->check == NULL) ? NULL : g_atomic_rc_box_acquire(node->check);
	g_rec_mutex_unlock(&self->lock);
	if (err)
		return err;

	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) value =
		idict__format_parse(g_variant_get_type(current), text, len, &error);
	if (value && !idict__value_same_shape(current, value)) {
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
		return IDICT__TREE_INVALID;
	}
	*value_out = g_steal_pointer(&value);
	return IDICT__TREE_OK;
}

IDictTreeStatus idict__store_client_publish(IDict *self, guint64 id, GVariant *value)
{
	/* The shape is compared with the key's value outside the lock (a
	 * matrix's rows: comparing under the lock would make the computation
	 * wait for the client), then the value is stored if the key still
	 * holds the one compared with; if the computation set another
	 * meanwhile, that one is compared, and so on. */
	g_autoptr(GVariant) compared = NULL;
	Garbage old = { 0 };
	IDictTreeStatus err = IDICT__TREE_OK;
	for (guint attempt = 0;; attempt++) {
		lock_for_reader(self);
		Node *node = node_by_id(self, id);
		if (node == NULL)
			err = IDICT__TREE_NO_NODE;
		else if (!node->writable)
			err = IDICT__TREE_READ_ONLY;
		else if (!idict__value_is_of_type(&node->value, g_variant_get_type(value)))
			err = IDICT__TREE_INVALID; /* the computation changed the type meanwhile */
		else if (node->value.kind == IDICT__VALUE_BOXED && node->value.as.boxed != compared) {
			if (attempt < 16) {
				g_clear_pointer(&compared, g_variant_unref);
				compared = g_variant_ref(node->value.as.boxed);
				g_rec_mutex_unlock(&self->lock);
				if (!idict__value_same_shape(compared, value))
					return IDICT__TREE_INVALID; /* the shape changed meanwhile */
				continue;
			}
			err = IDICT__TREE_BUSY; /* it changes faster than it can be compared */
		}
		if (err == 0) {
			replace_value_locked(self, node, idict__value_take_variant(g_variant_ref(value)),
					     &old);
			record_client_write_locked(self, node, &old.value);
		}
		g_rec_mutex_unlock(&self->lock);
		break;
	}
	garbage_free(&old);
	return err;
}

IDictTreeStatus idict__store_client_write(IDict *self, guint64 id, guint uid, const char *text,
					  gsize len)
{
	g_autoptr(GVariant) value = NULL;
	g_autoptr(GError) error = NULL;
	IDictTreeStatus err = idict__store_client_validate(self, id, text, len, &value, &error);
	if (err == IDICT__TREE_OK)
		err = idict__store_client_publish(self, id, value);
	if (err == IDICT__TREE_INVALID)
		idict__store_refuse(self, id, uid, text, len,
				    error ? error->message : IDICT__REFUSED_RACE);
	return err;
}

/* ---- the whole dictionary: clear, copy, foreach, update, pop, set_default ----
 *
 * Each takes the store lock once and changes the store only through the
 * paths of the setters (ensure_key_locked(), store_value_locked()) and of
 * idict_remove() (remove_key_locked()), so that whatever those keep in step
 * (the changed list, removed names, directories, id table) stays right.
 * The work under the lock is proportional to the keys touched, the
 * computation's own: names are copied into one block, values are scalars
 * or references; sorting, converting, freeing and the user's functions come
 * after unlocking.
 */

/* A key as it was when its batch was taken. */
typedef struct {
	const char *key;   /* in Batch.names */
	IDictValue value;       /* a scalar, or a reference */
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
		const IDictValue *value = computation_value_locked(self, node);
		batch->entries[i++] = (BatchEntry){
			.key = name,
			.value = idict__value_copy(value),
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
		idict__value_clear(&batch->entries[i].value);
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
		entry->value = (IDictValue){ .kind = IDICT__VALUE_BOXED, .as.boxed = NULL };
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
		g_autoptr(GVariant) value = idict__value_steal_variant(&batch->entries[i].value);
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
		entry->value = (IDictValue){ .kind = IDICT__VALUE_BOXED, .as.boxed = NULL };
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
	IDictValue value = { .kind = IDICT__VALUE_BOXED, .as.boxed = NULL };
	lock_store(self);
	Node *node = g_hash_table_lookup(self->keys, key);
	gboolean found = node != NULL;
	if (found) {
		value = idict__value_copy(computation_value_locked(self, node));
		remove_key_locked(self, node, gone);
	}
	g_rec_mutex_unlock(&self->lock);
	return found ? idict__value_steal_variant(&value) : NULL;
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
	if (node && idict__value_is_of_type(computation_value_locked(self, node), type)) {
		IDictValue current = idict__value_copy(computation_value_locked(self, node));
		g_rec_mutex_unlock(&self->lock);
		return idict__value_steal_variant(&current);
	}
	if (node) {
		g_autofree char *has =
			g_strdup(idict__value_type_string(computation_value_locked(self, node)));
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
	store_value_locked(self, node, idict__value_take_variant(g_variant_ref(given)), &old);
	g_rec_mutex_unlock(&self->lock);
	garbage_free(&old);
	return g_steal_pointer(&given);
}

/* ---- changed keys and client writes (for idict-mpi and the like) ---- */

/* Takes @node off the list of client writes; its held value, if any, goes
 * to *@held_out (an empty value if none) for the caller to clear.  Store
 * lock held. */
static void forget_client_write_locked(IDict *self, Node *node, IDictValue *held_out)
{
	IDictValue *held = g_hash_table_lookup(self->client_writes, node);
	*held_out = held ? *held : (IDictValue){ .kind = IDICT__VALUE_BOXED };
	g_free(held);
	g_hash_table_remove(self->client_writes, node);
	node->client_written = FALSE;
}

/* As forget_client_write_locked(), freeing the held value under the lock:
 * the earlier value of a writable key, normally a scalar, which owns
 * nothing.  (set_value_take() forgets first, and frees after unlocking.) */
static void drop_client_write_locked(IDict *self, Node *node)
{
	IDictValue held;
	forget_client_write_locked(self, node, &held);
	idict__value_clear(&held);
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

	qsort(names, n, sizeof(char *), idict__store_compare_strings);
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

/* Frees the held values in @held (IDictValue*), after the store lock is
 * released: an array may be large. */
static void free_held_values(GPtrArray *held)
{
	for (guint i = 0; i < held->len; i++) {
		IDictValue *value = held->pdata[i];
		idict__value_clear(value);
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
	qsort(names, n, sizeof(char *), idict__store_compare_strings);
	return names;
}
