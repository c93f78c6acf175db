/* test_dictops.c - the operations on the whole dictionary: idict_clear(),
 * idict_copy(), idict_foreach(), idict_update(), idict_pop() and
 * idict_set_default().  Each must be one moment for readers: in the store
 * (unit cases, with threads) and through a real mount (a reader listing
 * directories while the computation clears and updates).
 */
#include "fs_view.h"
#include "store.h"
#include "testutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Bound on waits for another thread that should finish promptly; only
 * reached when the code under test deadlocks or stops making progress. */
#define DEADLOCK_LIMIT_S 20

/* ---- helpers ---- */

/* Returns: (transfer full): the update lines after *@cursor; advances it. */
static char *read_updates(IDict *dict, guint64 *cursor)
{
	return tu_read_log(idict__store_update_log(dict), cursor, NULL);
}

/* Returns: (transfer full): idict_keys() joined with spaces. */
static char *joined_keys(IDict *dict)
{
	g_auto(GStrv) keys = idict_keys(dict);
	return g_strjoinv(" ", keys);
}

/* Returns: (transfer full): @key's value in GVariant text with its type, or
 * "(none)". */
static char *printed(IDict *dict, const char *key)
{
	g_autoptr(GVariant) value = idict_get_value(dict, key);
	return value ? g_variant_print(value, TRUE) : g_strdup("(none)");
}

/* Returns: the inode of key or directory @key (walking from the root), 0 if
 * there is none. */
static guint64 path_ino(IDict *dict, const char *key)
{
	g_auto(GStrv) parts = g_strsplit(key, "/", -1);
	guint64 ino = IDICT__INO_ROOT;
	for (char **p = parts; *p; p++) {
		IDictNodeInfo info;
		if (idict__view_lookup(dict, IDICT__VIEW_KEYS, ino, *p, &info) != 0)
			return 0;
		ino = info.ino;
	}
	return ino;
}

/* Returns: (transfer full): the names in directory @ino as "a b/ c". */
static char *list_names(IDict *dict, guint64 ino)
{
	int err = 1;
	g_autoptr(GPtrArray) entries = idict__view_list_dir(dict, IDICT__VIEW_KEYS, ino, &err);
	ck_assert_ptr_nonnull(entries);
	GString *out = g_string_new(NULL);
	for (guint i = 0; i < entries->len; i++) {
		const IDictTreeEntry *entry = entries->pdata[i];
		g_string_append_printf(out, "%s%s%s", i ? " " : "", entry->name,
				       entry->is_dir ? "/" : "");
	}
	return g_string_free(out, FALSE);
}

/* Sets one key of each kind the store keeps differently: unboxed scalars,
 * boxed values, a key in a directory. */
static void fill(IDict *dict)
{
	static const double u[] = { 0.5, -1, 1e300 };
	static const double m[] = { 1, 2, 3, 4 };
	ck_assert(idict_set_double(dict, "x", 0.1, NULL));
	ck_assert(idict_set_int(dict, "n", -7, NULL));
	ck_assert(idict_set_bool(dict, "ok", TRUE, NULL));
	ck_assert(idict_set_string(dict, "msg", "hello", NULL));
	ck_assert(idict_set_array(dict, "u", u, G_N_ELEMENTS(u), NULL));
	ck_assert(idict_set_matrix(dict, "m", m, 2, 2, NULL));
	ck_assert(idict_set_value(dict, "pair", g_variant_new("(is)", 7, "x"), NULL));
	ck_assert(idict_set_double(dict, "params/alpha", 0.25, NULL));
	ck_assert(idict_set_writable(dict, "params/alpha", TRUE, NULL));
}

#define FILLED_KEYS "m msg n ok pair params/alpha u x"

/* A check that refuses everything and counts its calls and destruction. */
typedef struct {
	gint calls;
	gint destroyed;
	gboolean lock_free_at_destroy;
	IDict *dict;
} CheckRecord;

/* A probe: can another thread take @dict's lock now?  Waits at most
 * DEADLOCK_LIMIT_S for it. */
typedef struct {
	IDict *dict;
	GMutex mutex;
	GCond cond;
	gboolean done;
} LockProbe;

static gpointer lock_probe_run(gpointer data)
{
	LockProbe *probe = data;
	idict_lock(probe->dict);
	idict_unlock(probe->dict);
	g_mutex_lock(&probe->mutex);
	probe->done = TRUE;
	g_cond_signal(&probe->cond);
	g_mutex_unlock(&probe->mutex);
	return NULL;
}

/* Returns: TRUE if another thread could take @dict's lock.  If it could
 * not, the probe thread is left behind, to end when the lock is released. */
static gboolean lock_is_free(IDict *dict)
{
	LockProbe *probe = g_new0(LockProbe, 1);
	probe->dict = dict;
	g_mutex_init(&probe->mutex);
	g_cond_init(&probe->cond);
	GThread *thread = g_thread_new("lock-probe", lock_probe_run, probe);
	gint64 deadline = g_get_monotonic_time() + DEADLOCK_LIMIT_S * G_USEC_PER_SEC;
	g_mutex_lock(&probe->mutex);
	while (!probe->done && g_cond_wait_until(&probe->cond, &probe->mutex, deadline))
		;
	gboolean done = probe->done;
	g_mutex_unlock(&probe->mutex);
	if (!done) {
		g_thread_unref(thread);
		return FALSE; /* the probe is leaked with its thread */
	}
	g_thread_join(thread);
	g_mutex_clear(&probe->mutex);
	g_cond_clear(&probe->cond);
	g_free(probe);
	return TRUE;
}

static gboolean refuse_all(IDict *dict, const char *key, GVariant *value, gpointer data,
			   GError **error)
{
	(void)dict, (void)key, (void)value;
	CheckRecord *record = data;
	g_atomic_int_inc(&record->calls);
	g_set_error(error, IDICT_ERROR, IDICT_ERROR_INVALID_VALUE, "refused");
	return FALSE;
}

static void check_record_destroy(gpointer data)
{
	CheckRecord *record = data;
	record->destroyed++;
	record->lock_free_at_destroy = lock_is_free(record->dict);
}

/* ---- clear ---- */

START_TEST(test_dictops_clear_removes_every_key)
{
	g_autoptr(IDict) dict = idict_new();
	fill(dict);
	ck_assert(idict_set_int(dict, "deep/a/b/c", 1, NULL));
	guint64 x_ino = path_ino(dict, "x"), deep_ino = path_ino(dict, "deep/a");
	ck_assert(x_ino != 0 && deep_ino != 0);
	idict_clear(dict);
	ck_assert_uint_eq(idict_size(dict), 0);
	g_autofree char *keys = joined_keys(dict);
	ck_assert_str_eq(keys, "");
	g_autofree char *root = list_names(dict, IDICT__INO_ROOT);
	ck_assert_str_eq(root, "");
	IDictNodeInfo info;
	ck_assert_int_eq(idict__view_stat(dict, x_ino, &info, NULL), -ENOENT);
	ck_assert_int_eq(idict__view_stat(dict, deep_ino, &info, NULL), -ENOENT);
	ck_assert(!idict_contains(dict, "params/alpha"));
	/* The names are free again, also as directories. */
	ck_assert(idict_set_int(dict, "x/y", 1, NULL));
	ck_assert(idict_set_int(dict, "deep", 1, NULL));
	/* And an empty dictionary clears. */
	g_autoptr(IDict) empty = idict_new();
	idict_clear(empty);
	ck_assert_uint_eq(idict_size(empty), 0);
}
END_TEST

START_TEST(test_dictops_clear_update_line)
{
	g_autoptr(IDict) dict = idict_new();
	fill(dict);
	idict_notify_update(dict, FALSE);
	ck_assert(idict_set_double(dict, "x", 2, NULL)); /* changed, then removed: once */
	ck_assert(idict_set_int(dict, "new", 1, NULL));  /* created, then removed */
	idict_clear(dict);
	idict_notify_update(dict, FALSE);
	idict_clear(dict); /* nothing left: no change */
	idict_notify_update(dict, FALSE);
	/* Cleared and filled again in one hold: each key once. */
	ck_assert(idict_set_int(dict, "a", 1, NULL));
	idict_notify_update(dict, FALSE);
	idict_lock(dict);
	idict_clear(dict);
	ck_assert(idict_set_int(dict, "a", 2, NULL));
	ck_assert(idict_set_int(dict, "b", 2, NULL));
	idict_unlock(dict);
	idict_notify_update(dict, FALSE);

	guint64 cursor = 0;
	g_autofree char *lines = read_updates(dict, &cursor);
	ck_assert_str_eq(lines, "1 update " FILLED_KEYS "\n"
				"2 update m msg n new ok pair params/alpha u x\n"
				"3 update\n"
				"4 update a\n"
				"5 update a b\n");
}
END_TEST

/* What a key owns goes with it: writable flag, check (destroyed after the
 * lock is released), the values its history recorded.  The history setting
 * stays for the name. */
START_TEST(test_dictops_clear_drops_what_keys_own)
{
	g_autoptr(IDict) dict = idict_new();
	fill(dict);
	CheckRecord record = { .dict = dict };
	ck_assert(idict_set_check(dict, "params/alpha", refuse_all, &record, check_record_destroy,
				  NULL));
	ck_assert(idict_set_history(dict, "x", 10, NULL));
	idict_notify_update(dict, FALSE);
	guint64 x_ino = path_ino(dict, "x");
	IDictNodeInfo info;
	ck_assert_int_eq(idict__view_history_stat(dict, x_ino, &info, NULL), 0);

	idict_clear(dict);
	ck_assert_int_eq(record.destroyed, 1);
	ck_assert_msg(record.lock_free_at_destroy, "the check was destroyed under the lock");
	ck_assert_int_eq(idict__view_history_stat(dict, x_ino, &info, NULL), -ENOENT);

	ck_assert(idict_set_double(dict, "params/alpha", 0.3, NULL));
	ck_assert(idict_set_double(dict, "x", 1, NULL));
	idict_notify_update(dict, FALSE);
	guint64 alpha = path_ino(dict, "params/alpha");
	ck_assert_int_eq(idict__view_client_write(dict, alpha, 0, "0.4", 3), -EACCES);
	ck_assert_int_eq(record.calls, 0);
	/* The history setting stayed; what it recorded went with the key. */
	g_autoptr(GBytes) text = NULL;
	ck_assert_int_eq(idict__view_history_stat(dict, path_ino(dict, "x"), &info, &text), 0);
	gsize len = 0;
	const char *lines = g_bytes_get_data(text, &len);
	ck_assert_msg(len > 0 && memchr(lines, '\n', len) == lines + len - 1,
		      "history/x after the clear and one update: \"%.*s\"", (int)len, lines);
	int err = 1;
	g_autoptr(GPtrArray) history = idict__view_list_dir(dict, IDICT__VIEW_HISTORY,
							     IDICT__INO_ROOT, &err);
	ck_assert_uint_eq(history->len, 1);
	/* Kept only until the name is set again: removing x and setting it
	 * once more gives a key without a history, as for any new key. */
	ck_assert(idict_remove(dict, "x"));
	ck_assert(idict_set_double(dict, "x", 2, NULL));
	ck_assert_int_eq(idict__view_history_stat(dict, path_ino(dict, "x"), &info, NULL), -ENOENT);
}
END_TEST

static void count_call(IDict *dict, gboolean final, gpointer data)
{
	(void)dict, (void)final;
	(*(int *)data)++;
}

/* What the dictionary owns stays: callbacks, sequence, control state, the
 * progress target (its rate measured anew). */
START_TEST(test_dictops_clear_keeps_what_the_dictionary_owns)
{
	g_autoptr(IDict) dict = idict_new();
	int calls = 0;
	idict_add_callback(dict, count_call, &calls, NULL);
	ck_assert(idict_set_int(dict, "step", 50, NULL));
	ck_assert(idict_set_progress_target(dict, "step", 100, NULL));
	idict_notify_update(dict, FALSE);
	idict_pause(dict);
	idict_clear(dict);
	IDictStatus status;
	idict__store_status(dict, &status);
	ck_assert(isnan(status.progress) && isnan(status.eta_seconds));
	idict_notify_update(dict, FALSE); /* no step yet: the rate waits */
	ck_assert_int_eq(calls, 2);
	ck_assert_uint_eq(idict_sequence(dict), 2);
	ck_assert(idict_paused(dict));
	idict__store_status(dict, &status);
	ck_assert_str_eq(status.state, "paused");

	/* The rate starts at the first update with a step: 0 then 10 of 100
	 * (from 50 before the clear, it would be negative: no estimate). */
	ck_assert(idict_set_int(dict, "step", 0, NULL));
	idict_notify_update(dict, FALSE);
	g_usleep(2000);
	ck_assert(idict_set_int(dict, "step", 10, NULL));
	idict_notify_update(dict, FALSE);
	idict__store_status(dict, &status);
	ck_assert_double_eq_tol(status.progress, 0.1, 1e-12);
	ck_assert_msg(isfinite(status.eta_seconds) && status.eta_seconds > 0,
		      "eta %g after the clear", status.eta_seconds);
}
END_TEST

/* ---- copy ---- */

START_TEST(test_dictops_copy_keys_values_flags)
{
	g_autoptr(IDict) dict = idict_new();
	fill(dict);
	CheckRecord record = { .dict = dict };
	ck_assert(idict_set_check(dict, "params/alpha", refuse_all, &record, NULL, NULL));
	ck_assert(idict_set_history(dict, "x", 10, NULL));
	idict_notify_update(dict, FALSE);
	idict_pause(dict);

	g_autoptr(IDict) copy = idict_copy(dict);
	g_autofree char *keys = joined_keys(copy);
	ck_assert_str_eq(keys, FILLED_KEYS);
	g_auto(GStrv) names = idict_keys(dict);
	for (char **k = names; *k; k++) {
		g_autofree char *a = printed(dict, *k);
		g_autofree char *b = printed(copy, *k);
		ck_assert_str_eq(a, b);
	}
	/* Values are shared: the same GVariant. */
	g_autoptr(GVariant) u1 = idict_get_value(dict, "u");
	g_autoptr(GVariant) u2 = idict_get_value(copy, "u");
	ck_assert_ptr_eq(u1, u2);
	/* Writable flags are copied, checks are not. */
	guint64 alpha = path_ino(copy, "params/alpha");
	ck_assert_int_eq(idict__view_client_write(copy, alpha, 0, "0.4", 3), 0);
	ck_assert_int_eq(record.calls, 0);
	ck_assert_int_eq(idict__view_client_write(copy, path_ino(copy, "x"), 0, "1", 1), -EACCES);
	/* A new dictionary: sequence 0, running, no history, every key
	 * waiting for the first update. */
	ck_assert_uint_eq(idict_sequence(copy), 0);
	ck_assert(!idict_paused(copy));
	int err = 1;
	g_autoptr(GPtrArray) history = idict__view_list_dir(copy, IDICT__VIEW_HISTORY,
							     IDICT__INO_ROOT, &err);
	ck_assert_uint_eq(history->len, 0);
	idict_notify_update(copy, FALSE);
	guint64 cursor = 0;
	g_autofree char *lines = read_updates(copy, &cursor);
	ck_assert_str_eq(lines, "1 update " FILLED_KEYS "\n");
	/* Independent from now on. */
	ck_assert(idict_set_double(copy, "x", 5, NULL));
	ck_assert(idict_remove(copy, "u"));
	g_autofree char *x = printed(dict, "x");
	ck_assert_str_eq(x, "0.10000000000000001");
	ck_assert(idict_contains(dict, "u"));
	g_autofree char *alpha_text = printed(dict, "params/alpha");
	ck_assert_str_eq(alpha_text, "0.25");
	/* A copy of an empty dictionary. */
	g_autoptr(IDict) empty = idict_new();
	g_autoptr(IDict) empty_copy = idict_copy(empty);
	ck_assert_uint_eq(idict_size(empty_copy), 0);
}
END_TEST

/* A writer sets a and b together under the lock; every copy, foreach and
 * snapshot of the store sees them equal. */
typedef struct {
	IDict *dict;
	gint stop;
} PairWriter;

static gpointer pair_writer_run(gpointer data)
{
	PairWriter *writer = data;
	for (gint64 i = 1; !g_atomic_int_get(&writer->stop); i++) {
		idict_lock(writer->dict);
		idict_set_int(writer->dict, "a", i, NULL);
		g_autofree char *name = g_strdup_printf("k/%" G_GINT64_FORMAT, i % 50);
		if (i % 2)
			idict_set_int(writer->dict, name, i, NULL);
		else
			idict_remove(writer->dict, name);
		idict_set_int(writer->dict, "b", i, NULL);
		idict_unlock(writer->dict);
	}
	return NULL;
}

typedef struct {
	gint64 a, b;
	guint n;
} PairSeen;

static void see_pair(IDict *dict, const char *key, GVariant *value, gpointer data)
{
	(void)dict;
	PairSeen *seen = data;
	seen->n++;
	if (strcmp(key, "a") == 0)
		seen->a = g_variant_get_int64(value);
	else if (strcmp(key, "b") == 0)
		seen->b = g_variant_get_int64(value);
}

START_TEST(test_dictops_copy_and_foreach_are_one_moment)
{
	g_autoptr(IDict) dict = idict_new();
	PairWriter writer = { .dict = dict };
	GThread *thread = g_thread_new("pair-writer", pair_writer_run, &writer);
	for (int round = 0; round < 300; round++) {
		g_autoptr(IDict) copy = idict_copy(dict);
		gint64 a = 0, b = 0;
		idict_get_int(copy, "a", &a, NULL);
		idict_get_int(copy, "b", &b, NULL);
		ck_assert_msg(a == b, "a copy saw a = %" G_GINT64_FORMAT ", b = %" G_GINT64_FORMAT,
			      a, b);
		PairSeen seen = { 0 };
		guint n = idict_foreach(dict, see_pair, &seen);
		ck_assert_uint_eq(n, seen.n);
		ck_assert_msg(seen.a == seen.b, "foreach saw a = %" G_GINT64_FORMAT
			      ", b = %" G_GINT64_FORMAT, seen.a, seen.b);
	}
	g_atomic_int_set(&writer.stop, 1);
	g_thread_join(thread);
}
END_TEST

/* ---- foreach ---- */

typedef struct {
	IDict *dict;
	GString *seen;
	gboolean lock_free;
	GVariant *kept;
} Visit;

static void visit(IDict *dict, const char *key, GVariant *value, gpointer data)
{
	Visit *v = data;
	ck_assert_ptr_eq(dict, v->dict);
	g_autofree char *text = g_variant_print(value, TRUE);
	g_string_append_printf(v->seen, "%s%s=%s", v->seen->len ? " " : "", key, text);
	if (strcmp(key, "m") == 0) {
		/* The lock is not held: another thread gets it.  And this
		 * thread may change the dictionary: removing a key still to
		 * be visited, adding one that is not. */
		v->lock_free = lock_is_free(dict);
		ck_assert(idict_remove(dict, "u"));
		ck_assert(idict_set_int(dict, "aaa", 1, NULL));
		ck_assert(idict_set_int(dict, "zzz", 1, NULL));
	}
	if (strcmp(key, "u") == 0)
		v->kept = g_variant_ref(value); /* the caller may keep a value */
}

START_TEST(test_dictops_foreach_sorted_values_lock_free)
{
	g_autoptr(IDict) dict = idict_new();
	fill(dict);
	Visit v = { .dict = dict, .seen = g_string_new(NULL) };
	guint n = idict_foreach(dict, visit, &v);
	ck_assert_uint_eq(n, 8);
	ck_assert_str_eq(v.seen->str,
			 "m=[[1.0, 2.0], [3.0, 4.0]] msg='hello' n=int64 -7 ok=true "
			 "pair=(7, 'x') params/alpha=0.25 u=[0.5, -1.0, 1.0000000000000001e+300] "
			 "x=0.10000000000000001");
	ck_assert_msg(v.lock_free, "foreach called func with the lock held");
	ck_assert(!idict_contains(dict, "u") && idict_contains(dict, "zzz"));
	ck_assert_ptr_nonnull(v.kept);
	ck_assert_uint_eq(g_variant_n_children(v.kept), 3);
	g_variant_unref(v.kept);
	g_string_free(v.seen, TRUE);

	g_autoptr(IDict) empty = idict_new();
	Visit none = { .dict = empty, .seen = g_string_new(NULL) };
	ck_assert_uint_eq(idict_foreach(empty, visit, &none), 0);
	ck_assert_uint_eq(none.seen->len, 0);
	g_string_free(none.seen, TRUE);
}
END_TEST

/* ---- update ---- */

START_TEST(test_dictops_update_sets_like_setters)
{
	g_autoptr(IDict) dict = idict_new();
	fill(dict);
	CheckRecord record = { .dict = dict };
	ck_assert(idict_set_check(dict, "params/alpha", refuse_all, &record, NULL, NULL));
	idict_notify_update(dict, FALSE);

	g_autoptr(IDict) other = idict_new();
	static const double v[] = { 1, 2 };
	ck_assert(idict_set_double(other, "params/alpha", 0.125, NULL)); /* existing */
	ck_assert(idict_set_string(other, "x", "now a string", NULL));   /* type changes */
	ck_assert(idict_set_array(other, "new/v", v, 2, NULL));          /* new, in a new dir */
	ck_assert(idict_set_bool(other, "flag", TRUE, NULL));
	ck_assert(idict_set_writable(other, "flag", TRUE, NULL));        /* not copied */
	ck_assert(idict_set_check(other, "new/v", refuse_all, &record, NULL, NULL));
	/* A rendering already cached in @other is shared. */
	IDictNodeInfo info;
	g_autoptr(GBytes) text = NULL;
	ck_assert_int_eq(idict__view_stat(other, path_ino(other, "new/v"), &info, &text), 0);

	g_autoptr(GError) error = NULL;
	ck_assert(idict_update(dict, other, &error));
	tu_assert_no_error(error);
	g_autofree char *keys = joined_keys(dict);
	ck_assert_str_eq(keys, "flag m msg n new/v ok pair params/alpha u x");
	g_autofree char *alpha = printed(dict, "params/alpha");
	ck_assert_str_eq(alpha, "0.125");
	g_autofree char *x = printed(dict, "x");
	ck_assert_str_eq(x, "'now a string'");
	g_autoptr(GVariant) v1 = idict_get_value(dict, "new/v");
	g_autoptr(GVariant) v2 = idict_get_value(other, "new/v");
	ck_assert_ptr_eq(v1, v2);
	g_autoptr(GBytes) text2 = NULL;
	ck_assert_int_eq(idict__view_stat(dict, path_ino(dict, "new/v"), &info, &text2), 0);
	ck_assert_ptr_eq(text, text2);

	/* An existing key keeps its writable flag and check; new keys are
	 * read-only and unchecked. */
	ck_assert_int_eq(idict__view_client_write(dict, path_ino(dict, "params/alpha"), 0, "0.2", 3),
			 -EINVAL);
	ck_assert_int_eq(record.calls, 1);
	ck_assert_int_eq(idict__view_client_write(dict, path_ino(dict, "flag"), 0, "0", 1), -EACCES);
	ck_assert(idict_set_writable(dict, "new/v", TRUE, NULL));
	ck_assert_int_eq(idict__view_client_write(dict, path_ino(dict, "new/v"), 0, "3 4", 3), 0);
	ck_assert_int_eq(record.calls, 1);

	idict_notify_update(dict, FALSE);
	guint64 cursor = 1;
	g_autofree char *lines = read_updates(dict, &cursor);
	ck_assert_str_eq(lines, "2 update flag new/v params/alpha x\n");
	/* @other is unchanged. */
	g_autofree char *other_keys = joined_keys(other);
	ck_assert_str_eq(other_keys, "flag new/v params/alpha x");
}
END_TEST

/* All or nothing: one conflicting key and nothing changes. */
START_TEST(test_dictops_update_conflict_changes_nothing)
{
	g_autoptr(IDict) dict = idict_new();
	ck_assert(idict_set_int(dict, "a", 1, NULL));
	ck_assert(idict_set_int(dict, "q/r", 1, NULL));
	ck_assert(idict_set_int(dict, "z", 1, NULL));
	idict_notify_update(dict, FALSE);
	guint64 a_ino = path_ino(dict, "a");

	static const char *const conflicting[][3] = {
		{ "a/b", NULL },        /* below a key */
		{ "q", NULL },          /* a directory of keys */
		{ "q/r/s", NULL },      /* below a key in a directory */
		{ "b", "z", "a/b" },    /* good keys first: still nothing */
	};
	for (gsize c = 0; c < G_N_ELEMENTS(conflicting); c++) {
		g_autoptr(IDict) other = idict_new();
		ck_assert(idict_set_int(other, "0first", 2, NULL));
		for (gsize k = 0; k < 3 && conflicting[c][k]; k++)
			ck_assert(idict_set_int(other, conflicting[c][k], 2, NULL));
		g_autoptr(GError) error = NULL;
		ck_assert(!idict_update(dict, other, &error));
		tu_assert_error(error, IDICT_ERROR, IDICT_ERROR_NAME_CONFLICT);
		g_autofree char *keys = joined_keys(dict);
		ck_assert_str_eq(keys, "a q/r z");
		gint64 z = 0;
		ck_assert(idict_get_int(dict, "z", &z, NULL));
		ck_assert_int_eq(z, 1);
		ck_assert_uint_eq(path_ino(dict, "a"), a_ino);
	}
	idict_notify_update(dict, FALSE);
	guint64 cursor = 1;
	g_autofree char *lines = read_updates(dict, &cursor);
	ck_assert_str_eq(lines, "2 update\n");
}
END_TEST

START_TEST(test_dictops_update_from_itself_and_empty)
{
	g_autoptr(IDict) dict = idict_new();
	fill(dict);
	idict_notify_update(dict, FALSE);
	g_autoptr(GError) error = NULL;
	ck_assert(idict_update(dict, dict, &error));
	g_autofree char *keys = joined_keys(dict);
	ck_assert_str_eq(keys, FILLED_KEYS);
	g_autofree char *alpha = printed(dict, "params/alpha");
	ck_assert_str_eq(alpha, "0.25");
	g_autoptr(IDict) empty = idict_new();
	ck_assert(idict_update(dict, empty, &error));
	ck_assert(idict_update(empty, empty, &error));
	tu_assert_no_error(error);
	idict_notify_update(dict, FALSE);
	guint64 cursor = 1;
	g_autofree char *lines = read_updates(dict, &cursor);
	ck_assert_str_eq(lines, "2 update " FILLED_KEYS "\n");
}
END_TEST

/* Two threads updating each other's dictionaries: never both locks at
 * once, so no deadlock. */
typedef struct {
	IDict *to, *from;
	int rounds;
} CrossUpdate;

static gpointer cross_update_run(gpointer data)
{
	CrossUpdate *job = data;
	for (int i = 0; i < job->rounds; i++)
		ck_assert(idict_update(job->to, job->from, NULL));
	return NULL;
}

START_TEST(test_dictops_update_crosswise_no_deadlock)
{
	g_autoptr(IDict) d1 = idict_new();
	g_autoptr(IDict) d2 = idict_new();
	ck_assert(idict_set_int(d1, "one", 1, NULL));
	ck_assert(idict_set_int(d2, "two", 2, NULL));
	CrossUpdate a = { d1, d2, 2000 }, b = { d2, d1, 2000 };
	GThread *ta = g_thread_new("update-a", cross_update_run, &a);
	GThread *tb = g_thread_new("update-b", cross_update_run, &b);
	g_thread_join(ta);
	g_thread_join(tb);
	g_autofree char *k1 = joined_keys(d1);
	g_autofree char *k2 = joined_keys(d2);
	ck_assert_str_eq(k1, "one two");
	ck_assert_str_eq(k2, "one two");
}
END_TEST

/* A listing of the store's directories during update and clear: all of the
 * change or none (the store's own view; the mounted case is below). */
typedef struct {
	IDict *dict;
	gint stop;
	guint listings;
	char *bad; /* the first listing that mixed two moments */
} StoreLister;

static gpointer store_lister_run(gpointer data)
{
	StoreLister *lister = data;
	while (!g_atomic_int_get(&lister->stop)) {
		int err = 0;
		g_autoptr(GPtrArray) entries = idict__view_list_dir(lister->dict, IDICT__VIEW_KEYS,
								     IDICT__INO_ROOT, &err);
		/* Allowed: nothing, the 200 a-keys, or those and the 200 b-keys. */
		guint na = 0, nb = 0;
		for (guint i = 0; i < entries->len; i++) {
			const IDictTreeEntry *entry = entries->pdata[i];
			na += entry->name[0] == 'a';
			nb += entry->name[0] == 'b';
		}
		gboolean ok = na + nb == entries->len &&
			((na == 0 && nb == 0) || (na == 200 && (nb == 0 || nb == 200)));
		if (!ok && lister->bad == NULL)
			lister->bad = g_strdup_printf("%u a-keys, %u b-keys, %u entries", na, nb,
						      entries->len);
		lister->listings++;
	}
	return NULL;
}

static IDict *numbered(char prefix, guint n)
{
	IDict *dict = idict_new();
	for (guint i = 0; i < n; i++) {
		char key[32];
		g_snprintf(key, sizeof key, "%c%04u", prefix, i);
		ck_assert(idict_set_int(dict, key, i, NULL));
	}
	return dict;
}

START_TEST(test_dictops_store_listing_sees_all_or_none)
{
	g_autoptr(IDict) dict = numbered('a', 200);
	g_autoptr(IDict) a = numbered('a', 200);
	g_autoptr(IDict) b = numbered('b', 200);
	StoreLister lister = { .dict = dict };
	GThread *thread = g_thread_new("store-lister", store_lister_run, &lister);
	for (int round = 0; round < 200; round++) {
		ck_assert(idict_update(dict, b, NULL));
		idict_clear(dict);
		ck_assert(idict_update(dict, a, NULL));
	}
	g_atomic_int_set(&lister.stop, 1);
	g_thread_join(thread);
	ck_assert_msg(lister.bad == NULL, "a listing mixed two moments: %s", lister.bad);
	ck_assert_uint_gt(lister.listings, 0);
}
END_TEST

/* ---- pop ---- */

START_TEST(test_dictops_pop)
{
	g_autoptr(IDict) dict = idict_new();
	fill(dict);
	CheckRecord record = { .dict = dict };
	ck_assert(idict_set_check(dict, "params/alpha", refuse_all, &record, check_record_destroy,
				  NULL));
	idict_notify_update(dict, FALSE);
	static const struct {
		const char *key, *printed;
	} cases[] = {
		{ "x", "0.10000000000000001" },
		{ "n", "int64 -7" },
		{ "ok", "true" },
		{ "msg", "'hello'" },
		{ "u", "[0.5, -1.0, 1.0000000000000001e+300]" },
		{ "pair", "(7, 'x')" },
		{ "params/alpha", "0.25" },
	};
	for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(GVariant) value = idict_pop(dict, cases[i].key);
		ck_assert_msg(value != NULL, "pop %s", cases[i].key);
		ck_assert(!g_variant_is_floating(value));
		g_autofree char *text = g_variant_print(value, TRUE);
		ck_assert_str_eq(text, cases[i].printed);
		ck_assert(!idict_contains(dict, cases[i].key));
	}
	/* Its check went with it, destroyed outside the lock; its directory too. */
	ck_assert_int_eq(record.destroyed, 1);
	ck_assert(record.lock_free_at_destroy);
	g_autofree char *root = list_names(dict, IDICT__INO_ROOT);
	ck_assert_str_eq(root, "m");
	/* A missing key: NULL, no change. */
	ck_assert_ptr_null(idict_pop(dict, "x"));
	ck_assert_ptr_null(idict_pop(dict, "params"));
	idict_notify_update(dict, FALSE);
	ck_assert_ptr_null(idict_pop(dict, "nothing"));
	idict_notify_update(dict, FALSE);
	guint64 cursor = 1;
	g_autofree char *lines = read_updates(dict, &cursor);
	ck_assert_str_eq(lines, "2 update msg n ok pair params/alpha u x\n3 update\n");
}
END_TEST

/* ---- set_default ---- */

START_TEST(test_dictops_set_default)
{
	g_autoptr(IDict) dict = idict_new();
	g_autoptr(GError) error = NULL;

	/* Absent: stored, and the value given comes back. */
	GVariant *given = g_variant_ref_sink(g_variant_new("(is)", 1, "a"));
	g_autoptr(GVariant) got = idict_set_default(dict, "pair", given, &error);
	tu_assert_no_error(error);
	ck_assert_ptr_eq(got, given);
	g_variant_unref(given); /* not floating: ours to release */
	g_autoptr(GVariant) stored = idict_get_value(dict, "pair");
	ck_assert_ptr_eq(stored, got);

	/* Present, same type: the stored value; a floating default is consumed. */
	g_autoptr(GVariant) again =
		idict_set_default(dict, "pair", g_variant_new("(is)", 2, "b"), &error);
	tu_assert_no_error(error);
	g_autofree char *text = g_variant_print(again, FALSE);
	ck_assert_str_eq(text, "(1, 'a')");

	/* Scalars: stored unboxed, returned boxed. */
	g_autoptr(GVariant) d = idict_set_default(dict, "alpha", g_variant_new_double(0.25), NULL);
	ck_assert_double_eq(g_variant_get_double(d), 0.25);
	g_autoptr(GVariant) d2 = idict_set_default(dict, "alpha", g_variant_new_double(9), NULL);
	ck_assert_double_eq(g_variant_get_double(d2), 0.25);
	idict_notify_update(dict, FALSE);

	/* Present with another type: WRONG_TYPE, nothing changes. */
	ck_assert_ptr_null(idict_set_default(dict, "alpha", g_variant_new_int64(1), &error));
	tu_assert_error(error, IDICT_ERROR, IDICT_ERROR_WRONG_TYPE);
	g_clear_error(&error);
	/* A new key that cannot be: BAD_NAME, NAME_CONFLICT. */
	ck_assert_ptr_null(idict_set_default(dict, "a b", g_variant_new_int64(1), &error));
	tu_assert_error(error, IDICT_ERROR, IDICT_ERROR_BAD_NAME);
	g_clear_error(&error);
	ck_assert_ptr_null(idict_set_default(dict, "alpha/x", g_variant_new_int64(1), &error));
	tu_assert_error(error, IDICT_ERROR, IDICT_ERROR_NAME_CONFLICT);
	g_clear_error(&error);
	ck_assert_ptr_null(idict_set_default(dict, "ctl", g_variant_new_int64(1), &error));
	tu_assert_error(error, IDICT_ERROR, IDICT_ERROR_BAD_NAME);
	g_clear_error(&error);

	idict_notify_update(dict, FALSE);
	guint64 cursor = 0;
	g_autofree char *lines = read_updates(dict, &cursor);
	ck_assert_str_eq(lines, "1 update alpha pair\n2 update\n");
	/* While the caller holds the lock (recursive). */
	idict_lock(dict);
	g_autoptr(GVariant) held = idict_set_default(dict, "held", g_variant_new_int64(3), NULL);
	idict_unlock(dict);
	ck_assert_int_eq(g_variant_get_int64(held), 3);
}
END_TEST

/* Two threads set different defaults for the same keys: for each key one
 * stores, and both get that value. */
typedef struct {
	IDict *dict;
	gint64 mine;
	gint64 got[500];
} Defaulter;

static gpointer defaulter_run(gpointer data)
{
	Defaulter *job = data;
	for (guint i = 0; i < G_N_ELEMENTS(job->got); i++) {
		char key[32];
		g_snprintf(key, sizeof key, "k/%u", i);
		g_autoptr(GVariant) value =
			idict_set_default(job->dict, key, g_variant_new_int64(job->mine), NULL);
		job->got[i] = value ? g_variant_get_int64(value) : -1;
	}
	return NULL;
}

START_TEST(test_dictops_set_default_races)
{
	g_autoptr(IDict) dict = idict_new();
	Defaulter a = { .dict = dict, .mine = 1 }, b = { .dict = dict, .mine = 2 };
	GThread *ta = g_thread_new("default-a", defaulter_run, &a);
	GThread *tb = g_thread_new("default-b", defaulter_run, &b);
	g_thread_join(ta);
	g_thread_join(tb);
	for (guint i = 0; i < G_N_ELEMENTS(a.got); i++) {
		char key[32];
		g_snprintf(key, sizeof key, "k/%u", i);
		gint64 stored = 0;
		ck_assert(idict_get_int(dict, key, &stored, NULL));
		ck_assert_msg(a.got[i] == stored && b.got[i] == stored,
			      "%s: stored %" G_GINT64_FORMAT ", threads got %" G_GINT64_FORMAT
			      " and %" G_GINT64_FORMAT, key, stored, a.got[i], b.got[i]);
	}
}
END_TEST

/* ---- through a mount ---- */

static IDict *mdict;
static IDictServer *server;
static char *tmpdir;
static char *mnt;

#define N_ROOT 600 /* keys at the root of each set */
#define N_SUB 300  /* keys in each set's directory */

/* Set @prefix ('a' or 'b'): N_ROOT keys "PNNNN" at the root and N_SUB in
 * directory "Psub". */
static IDict *key_set(char prefix)
{
	IDict *dict = idict_new();
	for (guint i = 0; i < N_ROOT; i++) {
		char key[32];
		g_snprintf(key, sizeof key, "%c%04u", prefix, i);
		ck_assert(idict_set_double(dict, key, i + 0.5, NULL));
	}
	for (guint i = 0; i < N_SUB; i++) {
		char key[32];
		g_snprintf(key, sizeof key, "%csub/s%04u", prefix, i);
		ck_assert(idict_set_int(dict, key, i, NULL));
	}
	return dict;
}

static void mount_setup(void)
{
	tmpdir = g_dir_make_tmp("idict-dictops-XXXXXX", NULL);
	ck_assert_ptr_nonnull(tmpdir);
	mnt = g_build_filename(tmpdir, "mnt", NULL);
	mdict = key_set('a');
	g_autoptr(GError) error = NULL;
	server = idict_serve(mdict, mnt, NULL, &error);
	ck_assert_msg(server != NULL, "idict_serve: %s", error ? error->message : "?");
}

static void mount_teardown(void)
{
	idict_server_wait_then_close(server, 0);
	server = NULL;
	g_clear_pointer(&mdict, idict_free);
	rmdir(mnt);
	rmdir(tmpdir);
	g_clear_pointer(&mnt, g_free);
	g_clear_pointer(&tmpdir, g_free);
}

/* A client listing a directory of the mount with opendir/readdir, over and
 * over, checking that each listing is one of the states the computation
 * passes through. */
typedef struct {
	const char *dir;   /* "" for the root, else "asub" */
	gint stop;
	gint listings;     /* atomic */
	guint states[4];   /* how often each allowed state was seen */
	char *bad;         /* the first listing that was none of them */
} Lister;

static const char *const fixed_names[] = { ".", "..", "ctl", "updates", "history",
					   "snapshot.json", "raw" };

static gboolean is_fixed(const char *name)
{
	for (gsize i = 0; i < G_N_ELEMENTS(fixed_names); i++)
		if (strcmp(name, fixed_names[i]) == 0)
			return TRUE;
	return FALSE;
}

/* The root goes through: a (A), nothing (after clear), a and b (A, B).
 * asub goes through: missing, full. */
static int classify_root(guint na, guint nb, guint other)
{
	if (other)
		return -1;
	if (na == 0 && nb == 0)
		return 0;
	if (na == N_ROOT + 1 && nb == 0)
		return 1;
	if (na == N_ROOT + 1 && nb == N_ROOT + 1)
		return 2;
	return -1;
}

static gpointer lister_run(gpointer data)
{
	Lister *lister = data;
	g_autofree char *where = g_build_filename(mnt, lister->dir, NULL);
	while (!g_atomic_int_get(&lister->stop)) {
		DIR *dir = opendir(where);
		int state;
		guint na = 0, nb = 0, other = 0, n = 0;
		if (dir == NULL) {
			state = errno == ENOENT && lister->dir[0] ? 3 : -1;
			if (state < 0 && lister->bad == NULL)
				lister->bad = g_strdup_printf("opendir: %s", g_strerror(errno));
		} else {
			struct dirent *entry;
			while ((entry = readdir(dir)) != NULL) {
				if (is_fixed(entry->d_name))
					continue;
				n++;
				if (entry->d_name[0] == 'a')
					na++;
				else if (entry->d_name[0] == 'b')
					nb++;
				else if (!(lister->dir[0] && entry->d_name[0] == 's'))
					other++;
			}
			closedir(dir);
			if (lister->dir[0])
				state = n == N_SUB ? 1 : -1;
			else
				state = classify_root(na, nb, other);
			if (state < 0 && lister->bad == NULL)
				lister->bad = g_strdup_printf("%s/: %u entries, %u a, %u b, %u other",
							      lister->dir, n, na, nb, other);
		}
		if (state >= 0)
			lister->states[state]++;
		g_atomic_int_inc(&lister->listings);
	}
	return NULL;
}

/* A reader listing directories while the computation clears and updates
 * sees all of each change or none of it. */
START_TEST(test_dictops_mounted_listing_sees_all_or_none)
{
	g_autoptr(IDict) a = key_set('a');
	g_autoptr(IDict) b = key_set('b');
	Lister root = { .dir = "" }, sub = { .dir = "asub" };
	GThread *t1 = g_thread_new("list-root", lister_run, &root);
	GThread *t2 = g_thread_new("list-sub", lister_run, &sub);
	gint64 deadline = g_get_monotonic_time() + 3 * DEADLOCK_LIMIT_S * G_USEC_PER_SEC;
	int rounds = 0;
	/* At least 20 rounds, and until each lister has listed 40 times. */
	while (rounds < 20 || g_atomic_int_get(&root.listings) < 40 ||
	       g_atomic_int_get(&sub.listings) < 40) {
		ck_assert_msg(g_get_monotonic_time() < deadline,
			      "listers stuck: %d and %d listings in %d rounds",
			      g_atomic_int_get(&root.listings), g_atomic_int_get(&sub.listings),
			      rounds);
		ck_assert(idict_update(mdict, b, NULL));
		idict_notify_update(mdict, FALSE);
		idict_clear(mdict);
		idict_notify_update(mdict, FALSE);
		ck_assert(idict_update(mdict, a, NULL));
		idict_notify_update(mdict, FALSE);
		rounds++;
	}
	g_atomic_int_set(&root.stop, 1);
	g_atomic_int_set(&sub.stop, 1);
	g_thread_join(t1);
	g_thread_join(t2);
	ck_assert_msg(root.bad == NULL, "a listing of the root mixed two moments: %s", root.bad);
	ck_assert_msg(sub.bad == NULL, "a listing of asub/ mixed two moments: %s", sub.bad);
	printf("# %d rounds; root listings: %u empty, %u A, %u A+B; asub/: %u full, %u missing\n",
	       rounds, root.states[0], root.states[1], root.states[2], sub.states[1],
	       sub.states[3]);
}
END_TEST

/* The update line after a clear lists every removed key, as readers of
 * `updates` get it; the files are gone. */
START_TEST(test_dictops_mounted_clear_update_line)
{
	g_autofree char *updates = g_build_filename(mnt, "updates", NULL);
	int fd = open(updates, O_RDONLY);
	ck_assert_int_ge(fd, 0);
	idict_lock(mdict);
	idict_clear(mdict);
	ck_assert(idict_set_int(mdict, "a0000", 1, NULL)); /* removed and set again: once */
	ck_assert(idict_set_int(mdict, "c", 1, NULL));
	idict_unlock(mdict);
	idict_notify_update(mdict, FALSE);
	g_autoptr(GString) line = g_string_new(NULL);
	char buf[65536];
	while (line->len == 0 || line->str[line->len - 1] != '\n') {
		ssize_t n = read(fd, buf, sizeof buf);
		ck_assert_int_gt(n, 0);
		g_string_append_len(line, buf, n);
	}
	close(fd);
	g_auto(GStrv) words = g_strsplit(g_strchomp(line->str), " ", -1);
	ck_assert_uint_eq(g_strv_length(words), 2 + N_ROOT + N_SUB + 1);
	ck_assert_str_eq(words[1], "update");
	ck_assert_str_eq(words[2], "a0000");
	ck_assert_str_eq(words[2 + N_ROOT], "asub/s0000");
	ck_assert_str_eq(words[2 + N_ROOT + N_SUB], "c");
	g_autofree char *gone = g_build_filename(mnt, "a0001", NULL);
	ck_assert_int_eq(access(gone, F_OK), -1);
	ck_assert_int_eq(errno, ENOENT);
	g_autofree char *subdir = g_build_filename(mnt, "asub", NULL);
	ck_assert_int_eq(access(subdir, F_OK), -1);
}
END_TEST

static Suite *dictops_suite(void)
{
	Suite *suite = suite_create("dictops");

	TCase *tc = tcase_create("clear");
	tcase_add_test(tc, test_dictops_clear_removes_every_key);
	tcase_add_test(tc, test_dictops_clear_update_line);
	tcase_add_test(tc, test_dictops_clear_drops_what_keys_own);
	tcase_add_test(tc, test_dictops_clear_keeps_what_the_dictionary_owns);
	suite_add_tcase(suite, tc);

	tc = tcase_create("copy_foreach");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_dictops_copy_keys_values_flags);
	tcase_add_test(tc, test_dictops_copy_and_foreach_are_one_moment);
	tcase_add_test(tc, test_dictops_foreach_sorted_values_lock_free);
	suite_add_tcase(suite, tc);

	tc = tcase_create("update");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_dictops_update_sets_like_setters);
	tcase_add_test(tc, test_dictops_update_conflict_changes_nothing);
	tcase_add_test(tc, test_dictops_update_from_itself_and_empty);
	tcase_add_test(tc, test_dictops_update_crosswise_no_deadlock);
	tcase_add_test(tc, test_dictops_store_listing_sees_all_or_none);
	suite_add_tcase(suite, tc);

	tc = tcase_create("pop_set_default");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_dictops_pop);
	tcase_add_test(tc, test_dictops_set_default);
	tcase_add_test(tc, test_dictops_set_default_races);
	suite_add_tcase(suite, tc);

	tc = tcase_create("mounted");
	tcase_add_checked_fixture(tc, mount_setup, mount_teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_dictops_mounted_listing_sees_all_or_none);
	tcase_add_test(tc, test_dictops_mounted_clear_update_line);
	suite_add_tcase(suite, tc);
	return suite;
}

int main(void)
{
	return tu_run_suite(dictops_suite());
}
