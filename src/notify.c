/* notify.c - updates: idict_notify_update() (the sequence number, the
 * update log, the changed keys' history), the server's update hook, the
 * computation's callbacks, history rings, progress and ctl/status's
 * figures.  The store lock for what updates change in the tree; the
 * callbacks lock for callbacks and the hook (never held while one runs).
 */
#include "store-internal.h"

#include "format.h"

#include <math.h>
#include <string.h>

typedef struct {
	guint id;
	IDictUpdateFunc func;
	gpointer data;
	GDestroyNotify destroy;
	gboolean removed; /* protected by callbacks_lock */
} CallbackRec;

static double progress_fraction_locked(IDict *self);

static void callback_rec_clear(gpointer mem)
{
	CallbackRec *rec = mem;
	if (rec->destroy)
		rec->destroy(rec->data);
}

void idict__notify_free_callbacks(IDict *self)
{
	for (guint i = 0; i < self->callbacks->len; i++)
		g_atomic_rc_box_release_full(self->callbacks->pdata[i], callback_rec_clear);
	g_ptr_array_unref(self->callbacks);
	if (self->hook_data)
		self->hook_unref(self->hook_data);
}

void idict__notify_history_free(History *history)
{
	if (history)
		idict__text_unref(history->text);
	g_free(history); /* its entries are scalars */
}

void idict__store_status(IDict *self, IDictStatus *status)
{
	status->state = idict__control_state(self->control, &status->control_changed_us);
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
static void history_push_locked(History *history, guint64 seq, gint64 time_us,
				const IDictValue *value)
{
	if (value->kind == IDICT__VALUE_BOXED)
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
	if (node->value.kind == IDICT__VALUE_DOUBLE)
		value = node->value.as.d;
	else if (node->value.kind == IDICT__VALUE_INT)
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

void idict__notify_restore_kept_history_locked(IDict *self, Node *node)
{
	gpointer name, depth;
	if (self->kept_history == NULL ||
	    !g_hash_table_steal_extended(self->kept_history, node->key, &name, &depth))
		return;
	g_free(name);
	node->history = history_new(self, GPOINTER_TO_UINT(depth), NULL);
	if (G_UNLIKELY(self->n_walks > 0))
		idict__tree_note_chain_locked(self, node->parent, NOTE_HISTORY);
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
			idict__tree_note_chain_locked(self, node, NOTE_HISTORY);
		node->history = history;
		if ((old == NULL) != (history == NULL))
			for (Node *up = node->parent; up; up = up->parent)
				up->n_history += history ? 1 : (guint)-1;
	}
	g_rec_mutex_unlock(&self->lock);
	idict__notify_history_free(old);
	if (node == NULL)
		g_set_error(error, IDICT_ERROR, IDICT_ERROR_NOT_FOUND, "no key \"%s\"", key);
	return node != NULL;
}

/* Renders history entries, oldest first, as "SEQ UNIXTIME VALUE" lines. */
static GBytes *render_history(const HistoryEntry *entries, gsize n)
{
	GString *out = g_string_sized_new(n * 40 + 1);
	for (gsize i = 0; i < n; i++) {
		g_autoptr(GVariant) variant = idict__value_to_variant(&entries[i].value);
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
IDictTreeStatus idict__notify_history_text(IDict *self, guint64 id, IDictNodeFacts *facts,
					   IDictBudget *budget, IDictText **text_out)
{
	if (text_out)
		*text_out = NULL;
	IDictTreeStatus status;
	Node *node = idict__tree_derived_begin(self, id, IDICT__TREE_HISTORY, facts, &status);
	if (node == NULL)
		return status;
	History *history = node->history;
	guint64 ring = history->id, version = history->version, end = history->pushed;
	guint64 first = end - MIN(end, (guint64)history->depth);
	if (end > first) {
		facts->mtime_us = history->entries[(end - 1) % history->depth].time_us;
		facts->unpublished = FALSE; /* the time is the last entry's */
	}
	IDictText *text = history->text && history->text->version == version
		? idict__text_ref(history->text) : NULL;
	if (text) {
		g_rec_mutex_unlock(&self->lock);
		facts->size = idict__text_size(text);
		if (text_out)
			*text_out = text;
		else
			idict__text_unref(text);
		return IDICT__TREE_OK;
	}
	gsize copy_bytes = (gsize)(end - first) * sizeof(HistoryEntry);
	if (!idict__budget_reserve(budget, copy_bytes)) {
		g_rec_mutex_unlock(&self->lock);
		return IDICT__TREE_OVER_CAP;
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
		node = node_by_id(self, id);
		if (node == NULL || node->history == NULL || node->history->id != ring) {
			/* Removed, or its ring replaced: what was copied stays. */
			g_rec_mutex_unlock(&self->lock);
			break;
		}
		history = node->history;
	}
	gsize estimate = (gsize)(end - from) * 64;
	if (!idict__budget_reserve(budget, estimate)) {
		idict__budget_unreserve(budget, copy_bytes);
		return IDICT__TREE_OVER_CAP;
	}
	text = idict__text_new(render_history(copy + (from - first), end - from), version);
	idict__budget_unreserve(budget, estimate + copy_bytes);

	IDictText *stale = NULL;
	lock_for_reader(self);
	node = node_by_id(self, id);
	if (node && node->history && node->history->id == ring && node->history->version == version) {
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
	facts->size = idict__text_size(text);
	if (text_out)
		*text_out = text;
	else
		idict__text_unref(text);
	return IDICT__TREE_OK;
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
		qsort(names, n, sizeof(char *), idict__store_compare_strings);
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

	if (final)
		idict__control_finish(self->control);
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

