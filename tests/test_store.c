/* test_store.c - the IDict API and the store's view for the filesystem:
 * values, the tree of keys, client writes, the lock, the loop's control
 * state, and updates with their callbacks. */
#include "clients.h"
#include "format.h"
#include "fs_view.h"
#include "store.h"
#include "update_log.h"
#include "testutil.h"

#include <errno.h>
#include <math.h>
#include <string.h>

/* Bound on waits for another thread that should finish promptly; only
 * reached when the code under test deadlocks, so that the test fails with
 * a message instead of hanging. */
#define DEADLOCK_LIMIT_S 10

/* ---- helpers ---- */

/* Stores the value written as GVariant text @text, of type @type, through
 * the typed setter for that type, or idict_set_value() for other types.
 * idict_set_value() is given the non-floating reference g_variant_parse()
 * returns, and ours is dropped afterwards. */
static void set_parsed(IDict *dict, const char *key, const char *type, const char *text)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) value = g_variant_parse(G_VARIANT_TYPE(type), text, NULL, NULL, &error);
	ck_assert_msg(value != NULL, "test bug: %s %s: %s", type, text,
		      error ? error->message : "");
	gboolean ok;
	if (g_variant_is_of_type(value, G_VARIANT_TYPE_DOUBLE)) {
		ok = idict_set_double(dict, key, g_variant_get_double(value), &error);
	} else if (g_variant_is_of_type(value, G_VARIANT_TYPE_INT64)) {
		ok = idict_set_int(dict, key, g_variant_get_int64(value), &error);
	} else if (g_variant_is_of_type(value, G_VARIANT_TYPE_BOOLEAN)) {
		ok = idict_set_bool(dict, key, g_variant_get_boolean(value), &error);
	} else if (g_variant_is_of_type(value, G_VARIANT_TYPE_STRING)) {
		ok = idict_set_string(dict, key, g_variant_get_string(value, NULL), &error);
	} else if (g_variant_is_of_type(value, G_VARIANT_TYPE("ad"))) {
		gsize n = 0;
		const double *values = g_variant_get_fixed_array(value, &n, sizeof(double));
		ok = idict_set_array(dict, key, values, n, &error);
	} else if (g_variant_is_of_type(value, G_VARIANT_TYPE("aad"))) {
		gsize rows = g_variant_n_children(value), cols = 0;
		GArray *flat = g_array_new(FALSE, FALSE, sizeof(double));
		gboolean ragged = FALSE;
		for (gsize r = 0; r < rows; r++) {
			g_autoptr(GVariant) row = g_variant_get_child_value(value, r);
			gsize n = 0;
			const double *values = g_variant_get_fixed_array(row, &n, sizeof(double));
			ragged |= r > 0 && n != cols;
			cols = n;
			g_array_append_vals(flat, values, (guint)n);
		}
		if (ragged) /* not a matrix: only idict_set_value() stores it */
			ok = idict_set_value(dict, key, value, &error);
		else
			ok = idict_set_matrix(dict, key, (const double *)(void *)flat->data, rows,
					      cols, &error);
		g_array_unref(flat);
	} else {
		ok = idict_set_value(dict, key, value, &error);
	}
	ck_assert_msg(ok, "set %s: %s", key, error ? error->message : "");
}

/* Returns: the inode of @key (key or directory), found by walking from the
 * root with idict__view_lookup(); 0 if it does not exist. */
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

/* Returns: (transfer full): the entries of directory @ino as @view shows
 * them, as "a b/ c", directories marked with '/', or NULL if it cannot be
 * listed. */
static char *list_view(IDict *dict, IDictView view, guint64 ino)
{
	int err = 1;
	GPtrArray *entries = idict__view_list_dir(dict, view, ino, &err);
	if (entries == NULL) {
		ck_assert_int_lt(err, 0);
		return NULL;
	}
	ck_assert_int_eq(err, 0);
	GString *out = g_string_new(NULL);
	for (guint i = 0; i < entries->len; i++) {
		const IDictTreeEntry *entry = entries->pdata[i];
		g_string_append_printf(out, "%s%s%s", i ? " " : "", entry->name,
				       entry->is_dir ? "/" : "");
	}
	g_ptr_array_unref(entries);
	return g_string_free(out, FALSE);
}

static char *list_names(IDict *dict, guint64 ino)
{
	return list_view(dict, IDICT__VIEW_KEYS, ino);
}

/* Returns: (transfer full): the update lines after *@cursor, as a string;
 * advances *@cursor. */
static char *read_updates(IDict *dict, guint64 *cursor)
{
	return tu_read_log(idict__store_update_log(dict), cursor, NULL);
}

/* Returns: (transfer full): idict_keys() joined with spaces. */
static char *joined_keys(IDict *dict)
{
	g_auto(GStrv) keys = idict_keys(dict);
	ck_assert_ptr_nonnull(keys);
	return g_strjoinv(" ", keys);
}

/* Returns: (transfer full): the value of @key printed with types, or "(none)". */
static char *value_text(IDict *dict, const char *key)
{
	g_autoptr(GVariant) value = idict_get_value(dict, key);
	return value ? g_variant_print(value, TRUE) : g_strdup("(none)");
}

static void count_call(gpointer data)
{
	g_atomic_int_inc((gint *)data);
}

/* A GVariant double whose memory is released through tracked_free(), which
 * counts, so that a test can tell when the last reference to it is gone. */
typedef struct {
	double value; /* first: the GVariant data, 8-byte aligned */
	gint *freed;
} Tracked;

static void tracked_free(gpointer data)
{
	Tracked *tracked = data;
	g_atomic_int_inc(tracked->freed);
	g_free(tracked);
}

/* Returns: (transfer floating): a double that counts its release in @freed. */
static GVariant *tracked_double(double value, gint *freed)
{
	Tracked *tracked = g_new0(Tracked, 1);
	tracked->value = value;
	tracked->freed = freed;
	return g_variant_new_from_data(G_VARIANT_TYPE_DOUBLE, &tracked->value, sizeof(double), TRUE,
				       tracked_free, tracked);
}

/* The same as an array of one double: a type the store keeps boxed (it
 * unboxes scalars at once). */
static GVariant *tracked_array(double value, gint *freed)
{
	Tracked *tracked = g_new0(Tracked, 1);
	tracked->value = value;
	tracked->freed = freed;
	return g_variant_new_from_data(G_VARIANT_TYPE("ad"), &tracked->value, sizeof(double), TRUE,
				       tracked_free, tracked);
}

/* Another thread that takes the store lock by calling a setter.  Used to
 * show that the lock is not held at some point: if it were, the thread
 * could not finish. */
typedef struct {
	IDict *dict;
	GThread *thread;
	GMutex mutex;
	GCond cond;
	gboolean done;
} LockProbe;

static gpointer lock_probe_run(gpointer data)
{
	LockProbe *probe = data;
	idict_set_int(probe->dict, "probe", 1, NULL);
	g_mutex_lock(&probe->mutex);
	probe->done = TRUE;
	g_cond_signal(&probe->cond);
	g_mutex_unlock(&probe->mutex);
	return NULL;
}

static LockProbe *lock_probe_start(IDict *dict)
{
	LockProbe *probe = g_new0(LockProbe, 1);
	probe->dict = dict;
	g_mutex_init(&probe->mutex);
	g_cond_init(&probe->cond);
	probe->thread = g_thread_new("lock-probe", lock_probe_run, probe);
	return probe;
}

/* Returns: TRUE if the probe finished, waiting at most DEADLOCK_LIMIT_S. */
static gboolean lock_probe_wait(LockProbe *probe)
{
	gint64 deadline = g_get_monotonic_time() + DEADLOCK_LIMIT_S * G_USEC_PER_SEC;
	g_mutex_lock(&probe->mutex);
	while (!probe->done && g_cond_wait_until(&probe->cond, &probe->mutex, deadline))
		;
	gboolean done = probe->done;
	g_mutex_unlock(&probe->mutex);
	return done;
}

/* Joins and frees @probe (after the caller released whatever blocked it). */
static void lock_probe_finish(LockProbe *probe)
{
	g_thread_join(probe->thread);
	g_mutex_clear(&probe->mutex);
	g_cond_clear(&probe->cond);
	g_free(probe);
}

/* ---- values ---- */

START_TEST(test_store_new_is_empty)
{
	g_autoptr(IDict) dict = idict_new();
	ck_assert_uint_eq(idict_size(dict), 0);
	g_auto(GStrv) keys = idict_keys(dict);
	ck_assert_ptr_nonnull(keys);
	ck_assert_ptr_null(keys[0]);
	ck_assert_uint_eq(idict_sequence(dict), 0);
	ck_assert(!idict_paused(dict));
	ck_assert(!idict_terminated(dict));
	idict_free(NULL); /* NULL-safe */
}
END_TEST

START_TEST(test_store_set_get_double)
{
	g_autoptr(IDict) dict = idict_new();
	g_autoptr(GError) error = NULL;
	double out = 0;
	ck_assert(idict_set_double(dict, "x", 3.5, &error));
	tu_assert_no_error(error);
	ck_assert(idict_get_double(dict, "x", &out, &error));
	ck_assert_double_eq(out, 3.5);
	ck_assert(idict_set_double(dict, "x", -0.0, NULL));
	ck_assert(idict_get_double(dict, "x", &out, NULL));
	ck_assert(out == 0 && signbit(out));
	ck_assert(idict_set_double(dict, "x", NAN, NULL));
	ck_assert(idict_get_double(dict, "x", &out, NULL));
	ck_assert(isnan(out));
	ck_assert(idict_get_double(dict, "x", NULL, NULL)); /* @out may be NULL */
	ck_assert_uint_eq(idict_size(dict), 1);
}
END_TEST

START_TEST(test_store_set_get_int)
{
	g_autoptr(IDict) dict = idict_new();
	gint64 out = 0;
	ck_assert(idict_set_int(dict, "n", G_MININT64, NULL));
	ck_assert(idict_get_int(dict, "n", &out, NULL));
	ck_assert_int_eq(out, G_MININT64);
	ck_assert(idict_set_int(dict, "n", G_MAXINT64, NULL));
	ck_assert(idict_get_int(dict, "n", &out, NULL));
	ck_assert_int_eq(out, G_MAXINT64);
}
END_TEST

START_TEST(test_store_set_get_bool)
{
	g_autoptr(IDict) dict = idict_new();
	gboolean out = -1;
	ck_assert(idict_set_bool(dict, "b", FALSE, NULL));
	ck_assert(idict_get_bool(dict, "b", &out, NULL));
	ck_assert_int_eq(out, FALSE);
	/* Any non-zero value is stored as TRUE. */
	ck_assert(idict_set_bool(dict, "b", 42, NULL));
	ck_assert(idict_get_bool(dict, "b", &out, NULL));
	ck_assert_int_eq(out, TRUE);
}
END_TEST

START_TEST(test_store_set_get_string)
{
	g_autoptr(IDict) dict = idict_new();
	ck_assert(idict_set_string(dict, "s", "h\xc3\xa9llo\nworld", NULL));
	g_autofree char *out = idict_dup_string(dict, "s", NULL);
	ck_assert_str_eq(out, "h\xc3\xa9llo\nworld");
	ck_assert(idict_set_string(dict, "s", "", NULL));
	g_autofree char *empty = idict_dup_string(dict, "s", NULL);
	ck_assert_str_eq(empty, "");
}
END_TEST

START_TEST(test_store_set_string_invalid_utf8)
{
	g_autoptr(IDict) dict = idict_new();
	g_autoptr(GError) error = NULL;
	ck_assert(!idict_set_string(dict, "s", "bad \xff", &error));
	tu_assert_error(error, IDICT_ERROR, IDICT_ERROR_INVALID_VALUE);
	ck_assert(!idict_contains(dict, "s"));
	/* An existing value stays. */
	ck_assert(idict_set_string(dict, "s", "good", NULL));
	ck_assert(!idict_set_string(dict, "s", "\xc3", NULL));
	g_autofree char *out = idict_dup_string(dict, "s", NULL);
	ck_assert_str_eq(out, "good");
}
END_TEST

START_TEST(test_store_set_get_array)
{
	g_autoptr(IDict) dict = idict_new();
	const double values[] = { 1, -2.5, 1e300 };
	ck_assert(idict_set_array(dict, "a", values, 3, NULL));
	gsize n = 0;
	g_autofree double *out = idict_dup_array(dict, "a", &n, NULL);
	ck_assert_ptr_nonnull(out);
	ck_assert_uint_eq(n, 3);
	ck_assert_mem_eq(out, values, sizeof values);

	/* Empty: NULL allowed in, non-NULL out. */
	ck_assert(idict_set_array(dict, "e", NULL, 0, NULL));
	n = 99;
	g_autofree double *empty = idict_dup_array(dict, "e", &n, NULL);
	ck_assert_ptr_nonnull(empty);
	ck_assert_uint_eq(n, 0);
	g_autofree double *no_n = idict_dup_array(dict, "a", NULL, NULL);
	ck_assert_ptr_nonnull(no_n);
}
END_TEST

START_TEST(test_store_set_get_matrix)
{
	g_autoptr(IDict) dict = idict_new();
	const double values[] = { 1, 2, 3, 4, 5, 6 };
	ck_assert(idict_set_matrix(dict, "m", values, 2, 3, NULL));
	gsize rows = 0, cols = 0;
	g_autofree double *out = idict_dup_matrix(dict, "m", &rows, &cols, NULL);
	ck_assert_ptr_nonnull(out);
	ck_assert_uint_eq(rows, 2);
	ck_assert_uint_eq(cols, 3);
	ck_assert_mem_eq(out, values, sizeof values);
	/* Stored as rows: an "aad". */
	g_autoptr(GVariant) value = idict_get_value(dict, "m");
	ck_assert_str_eq(g_variant_get_type_string(value), "aad");
	ck_assert_uint_eq(g_variant_n_children(value), 2);

	ck_assert(idict_set_matrix(dict, "e", NULL, 0, 0, NULL));
	rows = cols = 99;
	g_autofree double *empty = idict_dup_matrix(dict, "e", &rows, &cols, NULL);
	ck_assert_ptr_nonnull(empty);
	ck_assert_uint_eq(rows, 0);
	ck_assert_uint_eq(cols, 0);
}
END_TEST

/* rows x 0 is allowed by idict_set_matrix() (values may then be NULL). */
START_TEST(test_store_matrix_without_columns)
{
	g_autoptr(IDict) dict = idict_new();
	ck_assert(idict_set_matrix(dict, "m", NULL, 2, 0, NULL));
	gsize rows = 0, cols = 99;
	g_autofree double *out = idict_dup_matrix(dict, "m", &rows, &cols, NULL);
	ck_assert_ptr_nonnull(out);
	ck_assert_uint_eq(rows, 2);
	ck_assert_uint_eq(cols, 0);
}
END_TEST

START_TEST(test_store_dup_matrix_ragged)
{
	g_autoptr(IDict) dict = idict_new();
	set_parsed(dict, "r", "aad", "[[1.0, 2.0], [3.0]]");
	g_autoptr(GError) error = NULL;
	gsize rows = 0, cols = 0;
	g_autofree double *out = idict_dup_matrix(dict, "r", &rows, &cols, &error);
	ck_assert_ptr_null(out);
	tu_assert_error(error, IDICT_ERROR, IDICT_ERROR_WRONG_TYPE);
}
END_TEST

START_TEST(test_store_set_value_other_type)
{
	g_autoptr(IDict) dict = idict_new();
	set_parsed(dict, "t", "(ii)", "(1, 2)");
	g_autoptr(GVariant) value = idict_get_value(dict, "t");
	ck_assert_ptr_nonnull(value);
	g_autoptr(GVariant) expected = g_variant_ref_sink(g_variant_new("(ii)", 1, 2));
	ck_assert(g_variant_equal(value, expected));
}
END_TEST

START_TEST(test_store_setter_replaces_type)
{
	g_autoptr(IDict) dict = idict_new();
	ck_assert(idict_set_double(dict, "k", 1.0, NULL));
	ck_assert(idict_set_string(dict, "k", "now a string", NULL));
	g_autofree char *s = idict_dup_string(dict, "k", NULL);
	ck_assert_str_eq(s, "now a string");
	ck_assert(idict_set_int(dict, "k", 5, NULL));
	gint64 n = 0;
	ck_assert(idict_get_int(dict, "k", &n, NULL));
	ck_assert_int_eq(n, 5);
	ck_assert_uint_eq(idict_size(dict), 1);
}
END_TEST

/* The typed getters, by number, for table-driven tests.  Frees what they
 * return.  Returns: what the getter returned, as a success flag. */
enum { GET_DOUBLE, GET_INT, GET_BOOL, GET_STRING, GET_ARRAY, GET_MATRIX, N_GETTERS };

static gboolean call_getter(IDict *dict, int which, const char *key, GError **error)
{
	double d;
	gint64 n;
	gboolean b;
	gsize len, rows, cols;
	switch (which) {
	case GET_DOUBLE:
		return idict_get_double(dict, key, &d, error);
	case GET_INT:
		return idict_get_int(dict, key, &n, error);
	case GET_BOOL:
		return idict_get_bool(dict, key, &b, error);
	case GET_STRING: {
		g_autofree char *s = idict_dup_string(dict, key, error);
		return s != NULL;
	}
	case GET_ARRAY: {
		g_autofree double *a = idict_dup_array(dict, key, &len, error);
		return a != NULL;
	}
	default: {
		g_autofree double *m = idict_dup_matrix(dict, key, &rows, &cols, error);
		return m != NULL;
	}
	}
}

/* Fills @dict with one key per getter type: "k0" .. "k5". */
static void set_one_of_each(IDict *dict)
{
	const double values[] = { 1, 2 };
	ck_assert(idict_set_double(dict, "k0", 1.5, NULL));
	ck_assert(idict_set_int(dict, "k1", 7, NULL));
	ck_assert(idict_set_bool(dict, "k2", TRUE, NULL));
	ck_assert(idict_set_string(dict, "k3", "s", NULL));
	ck_assert(idict_set_array(dict, "k4", values, 2, NULL));
	ck_assert(idict_set_matrix(dict, "k5", values, 1, 2, NULL));
}

/* Getter _i against each key: succeeds on its own type only. */
START_TEST(test_store_wrong_type)
{
	g_autoptr(IDict) dict = idict_new();
	set_one_of_each(dict);
	for (int k = 0; k < N_GETTERS; k++) {
		g_autofree char *key = g_strdup_printf("k%d", k);
		g_autoptr(GError) error = NULL;
		gboolean ok = call_getter(dict, _i, key, &error);
		if (k == _i) {
			ck_assert_msg(ok, "getter %d on its own type: %s", _i,
				      error ? error->message : "");
			tu_assert_no_error(error);
		} else {
			ck_assert_msg(!ok, "getter %d accepted key %s", _i, key);
			tu_assert_error(error, IDICT_ERROR, IDICT_ERROR_WRONG_TYPE);
		}
	}
	/* A GVariant of another type fits no getter. */
	set_parsed(dict, "other", "(ii)", "(1, 2)");
	g_autoptr(GError) error = NULL;
	ck_assert(!call_getter(dict, _i, "other", &error));
	tu_assert_error(error, IDICT_ERROR, IDICT_ERROR_WRONG_TYPE);
	ck_assert(!call_getter(dict, _i, "other", NULL));
}
END_TEST

START_TEST(test_store_not_found)
{
	g_autoptr(IDict) dict = idict_new();
	ck_assert(idict_set_double(dict, "present", 1, NULL));
	ck_assert(idict_set_double(dict, "dir/key", 1, NULL));
	static const char *const absent[] = { "absent", "dir", "present/x", "dir/other" };
	for (gsize i = 0; i < G_N_ELEMENTS(absent); i++) {
		g_autoptr(GError) error = NULL;
		ck_assert_msg(!call_getter(dict, _i, absent[i], &error), "%s found", absent[i]);
		tu_assert_error(error, IDICT_ERROR, IDICT_ERROR_NOT_FOUND);
		ck_assert_ptr_null(idict_get_value(dict, absent[i]));
		ck_assert(!idict_contains(dict, absent[i]));
	}
}
END_TEST

START_TEST(test_store_dup_returns_copies)
{
	g_autoptr(IDict) dict = idict_new();
	char text[] = "original";
	double array[] = { 1, 2, 3 };
	double matrix[] = { 1, 2, 3, 4 };
	ck_assert(idict_set_string(dict, "s", text, NULL));
	ck_assert(idict_set_array(dict, "a", array, 3, NULL));
	ck_assert(idict_set_matrix(dict, "m", matrix, 2, 2, NULL));
	/* The setters copied their arguments. */
	text[0] = 'X';
	array[0] = 100;
	matrix[0] = 100;

	g_autofree char *s1 = idict_dup_string(dict, "s", NULL);
	g_autofree char *s2 = idict_dup_string(dict, "s", NULL);
	ck_assert_ptr_ne(s1, s2);
	s1[0] = 'Y';
	ck_assert_str_eq(s2, "original");
	g_autofree char *s3 = idict_dup_string(dict, "s", NULL);
	ck_assert_str_eq(s3, "original");

	gsize n = 0, rows = 0, cols = 0;
	g_autofree double *a1 = idict_dup_array(dict, "a", &n, NULL);
	a1[1] = 200;
	g_autofree double *a2 = idict_dup_array(dict, "a", &n, NULL);
	ck_assert_double_eq(a2[0], 1);
	ck_assert_double_eq(a2[1], 2);

	g_autofree double *m1 = idict_dup_matrix(dict, "m", &rows, &cols, NULL);
	m1[3] = 300;
	g_autofree double *m2 = idict_dup_matrix(dict, "m", &rows, &cols, NULL);
	ck_assert_double_eq(m2[0], 1);
	ck_assert_double_eq(m2[3], 4);
}
END_TEST

/* GVariants are immutable: idict_get_value() hands out the stored one. */
START_TEST(test_store_get_value_is_reference)
{
	g_autoptr(IDict) dict = idict_new();
	g_autoptr(GVariant) value = g_variant_ref_sink(g_variant_new("(ii)", 1, 2));
	ck_assert(idict_set_value(dict, "t", value, NULL));
	GVariant *got1 = idict_get_value(dict, "t");
	GVariant *got2 = idict_get_value(dict, "t");
	ck_assert_ptr_eq(got1, value);
	ck_assert_ptr_eq(got2, value);
	g_variant_unref(got1);
	g_variant_unref(got2);
	/* A reference stays valid after the key changes or goes. */
	GVariant *held = idict_get_value(dict, "t");
	ck_assert(idict_set_int(dict, "t", 3, NULL));
	ck_assert(idict_remove(dict, "t"));
	ck_assert_str_eq(g_variant_get_type_string(held), "(ii)");
	g_variant_unref(held);
}
END_TEST

/* idict_set_value(): a floating value is sunk and owned by the store, so
 * that it is freed when the key is removed, and also when the set fails. */
START_TEST(test_store_set_value_floating_sunk)
{
	g_autoptr(IDict) dict = idict_new();
	gint freed = 0;
	ck_assert(idict_set_value(dict, "k", tracked_array(2.5, &freed), NULL));
	gsize n = 0;
	g_autofree double *out = idict_dup_array(dict, "k", &n, NULL);
	ck_assert_uint_eq(n, 1);
	ck_assert_double_eq(out[0], 2.5);
	ck_assert_int_eq(g_atomic_int_get(&freed), 0);
	ck_assert(idict_remove(dict, "k"));
	ck_assert_msg(g_atomic_int_get(&freed) == 1,
		      "a floating value given to idict_set_value() was not freed with its key");

	gint freed_bad = 0;
	ck_assert(!idict_set_value(dict, "bad name", tracked_double(1, &freed_bad), NULL));
	ck_assert_msg(g_atomic_int_get(&freed_bad) == 1,
		      "a floating value refused by idict_set_value() was not freed");

	/* A scalar is unboxed: its variant goes at once, and only once. */
	gint freed_scalar = 0;
	ck_assert(idict_set_value(dict, "s", tracked_double(1.5, &freed_scalar), NULL));
	ck_assert_int_eq(g_atomic_int_get(&freed_scalar), 1);
	double got = 0;
	ck_assert(idict_get_double(dict, "s", &got, NULL));
	ck_assert_double_eq(got, 1.5);
	ck_assert(idict_remove(dict, "s"));
	ck_assert_int_eq(g_atomic_int_get(&freed_scalar), 1);
}
END_TEST

/* idict_set_value(): for a non-floating value the store takes one reference
 * of its own and drops it with the key. */
START_TEST(test_store_set_value_keeps_reference)
{
	gint freed = 0;
	IDict *dict = idict_new();
	GVariant *value = g_variant_ref_sink(tracked_array(4.0, &freed));
	ck_assert(idict_set_value(dict, "k", value, NULL));
	g_variant_unref(value);
	ck_assert_int_eq(g_atomic_int_get(&freed), 0); /* the store still holds it */
	ck_assert(idict_set_double(dict, "k", 5.0, NULL)); /* replaced */
	ck_assert_msg(g_atomic_int_get(&freed) == 1,
		      "idict_set_value() kept more than one reference to a non-floating value");
	idict_free(dict);
}
END_TEST

/* Counts the criticals about a NULL key (g_log_set_handler()). */
static void count_key_critical(const char *domain, GLogLevelFlags level, const char *message,
			       gpointer data)
{
	(void)domain;
	(void)level;
	if (strstr(message, "key != NULL") != NULL)
		(*(guint *)data)++;
}

START_TEST(test_store_bad_name_refused)
{
	static const char *const bad[] = { "", "/a", "a/", "a//b", "..", "a b", "ctl", "ctl/x",
					   "updates", "\xff" };
	g_autoptr(IDict) dict = idict_new();
	const double values[] = { 1 };
	for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_autoptr(GError) e1 = NULL, e2 = NULL, e3 = NULL, e4 = NULL, e5 = NULL, e6 = NULL;
		ck_assert(!idict_set_double(dict, bad[i], 1, &e1));
		tu_assert_error(e1, IDICT_ERROR, IDICT_ERROR_BAD_NAME);
		ck_assert(!idict_set_int(dict, bad[i], 1, &e2));
		tu_assert_error(e2, IDICT_ERROR, IDICT_ERROR_BAD_NAME);
		ck_assert(!idict_set_bool(dict, bad[i], 1, &e3));
		tu_assert_error(e3, IDICT_ERROR, IDICT_ERROR_BAD_NAME);
		ck_assert(!idict_set_string(dict, bad[i], "x", &e4));
		tu_assert_error(e4, IDICT_ERROR, IDICT_ERROR_BAD_NAME);
		ck_assert(!idict_set_array(dict, bad[i], values, 1, &e5));
		tu_assert_error(e5, IDICT_ERROR, IDICT_ERROR_BAD_NAME);
		ck_assert(!idict_set_matrix(dict, bad[i], values, 1, 1, &e6));
		tu_assert_error(e6, IDICT_ERROR, IDICT_ERROR_BAD_NAME);
	}
	/* A NULL key is the caller's bug: refused with a critical (counted
	 * here, not printed), as GLib's g_return_val_if_fail() does. */
	guint criticals = 0;
	guint handler = g_log_set_handler("idict", G_LOG_LEVEL_CRITICAL, count_key_critical,
					  &criticals);
	ck_assert(!idict_set_double(dict, NULL, 1, NULL));
	g_log_remove_handler("idict", handler);
	ck_assert_uint_eq(criticals, 1);
	ck_assert_uint_eq(idict_size(dict), 0);
	g_autofree char *root = list_names(dict, IDICT__INO_ROOT);
	ck_assert_str_eq(root, "");
}
END_TEST

START_TEST(test_store_contains_remove_size)
{
	g_autoptr(IDict) dict = idict_new();
	ck_assert(idict_set_double(dict, "a", 1, NULL));
	ck_assert(idict_set_double(dict, "b/c", 1, NULL));
	ck_assert(idict_set_double(dict, "a", 2, NULL)); /* not a new key */
	ck_assert_uint_eq(idict_size(dict), 2);
	ck_assert(idict_contains(dict, "a"));
	ck_assert(idict_contains(dict, "b/c"));
	ck_assert(!idict_contains(dict, "b")); /* a directory, not a key */
	ck_assert(!idict_contains(dict, "c"));

	ck_assert(idict_remove(dict, "a"));
	ck_assert(!idict_contains(dict, "a"));
	ck_assert_uint_eq(idict_size(dict), 1);
	ck_assert(!idict_remove(dict, "a"));
	ck_assert(!idict_remove(dict, "b")); /* directories are not removed by name */
	ck_assert(idict_contains(dict, "b/c"));
	ck_assert(idict_remove(dict, "b/c"));
	ck_assert_uint_eq(idict_size(dict), 0);
	g_autoptr(GError) error = NULL;
	ck_assert(!idict_get_double(dict, "a", NULL, &error));
	tu_assert_error(error, IDICT_ERROR, IDICT_ERROR_NOT_FOUND);
}
END_TEST

START_TEST(test_store_keys_sorted)
{
	g_autoptr(IDict) dict = idict_new();
	static const char *const insert[] = {
		"z", "\xc3\xa9", "ab", "a/b", "Z", "a.b", "a/a", "a-b", "b/c/d",
	};
	for (gsize i = 0; i < G_N_ELEMENTS(insert); i++)
		ck_assert(idict_set_int(dict, insert[i], (gint64)i, NULL));
	g_autofree char *keys = joined_keys(dict);
	/* strcmp() order: bytes, so '-' < '.' < '/' < letters < UTF-8. */
	ck_assert_str_eq(keys, "Z a-b a.b a/a a/b ab b/c/d z \xc3\xa9");
	ck_assert_uint_eq(idict_size(dict), G_N_ELEMENTS(insert));
	/* A copy: the caller's to free, unaffected by later changes. */
	g_auto(GStrv) copy = idict_keys(dict);
	ck_assert(idict_remove(dict, "Z"));
	ck_assert_str_eq(copy[0], "Z");
	ck_assert_uint_eq(g_strv_length(copy), G_N_ELEMENTS(insert));
}
END_TEST

/* ---- the tree ---- */

START_TEST(test_store_conflict_key_then_dir)
{
	g_autoptr(IDict) dict = idict_new();
	ck_assert(idict_set_double(dict, "a", 1, NULL));
	static const char *const below[] = { "a/b", "a/b/c" };
	for (gsize i = 0; i < G_N_ELEMENTS(below); i++) {
		g_autoptr(GError) error = NULL;
		ck_assert_msg(!idict_set_double(dict, below[i], 2, &error), "%s accepted",
			      below[i]);
		tu_assert_error(error, IDICT_ERROR, IDICT_ERROR_NAME_CONFLICT);
	}
	g_autoptr(GError) error = NULL;
	ck_assert(!idict_set_string(dict, "a/s", "x", &error));
	tu_assert_error(error, IDICT_ERROR, IDICT_ERROR_NAME_CONFLICT);
	/* Nothing was created, "a" is unchanged. */
	g_autofree char *keys = joined_keys(dict);
	ck_assert_str_eq(keys, "a");
	g_autofree char *root = list_names(dict, IDICT__INO_ROOT);
	ck_assert_str_eq(root, "a");
	double out = 0;
	ck_assert(idict_get_double(dict, "a", &out, NULL));
	ck_assert_double_eq(out, 1);
}
END_TEST

START_TEST(test_store_conflict_dir_then_key)
{
	g_autoptr(IDict) dict = idict_new();
	ck_assert(idict_set_double(dict, "a/b/c", 1, NULL));
	static const char *const clash[] = { "a", "a/b", "a/b/c/d" };
	for (gsize i = 0; i < G_N_ELEMENTS(clash); i++) {
		g_autoptr(GError) error = NULL;
		ck_assert_msg(!idict_set_int(dict, clash[i], 2, &error), "%s accepted", clash[i]);
		tu_assert_error(error, IDICT_ERROR, IDICT_ERROR_NAME_CONFLICT);
	}
	g_autofree char *keys = joined_keys(dict);
	ck_assert_str_eq(keys, "a/b/c");
	g_autofree char *root = list_names(dict, IDICT__INO_ROOT);
	ck_assert_str_eq(root, "a/");
	g_autofree char *b = list_names(dict, path_ino(dict, "a/b"));
	ck_assert_str_eq(b, "c");
	/* Siblings are fine. */
	ck_assert(idict_set_int(dict, "a/b/d", 3, NULL));
	ck_assert(idict_set_int(dict, "a/x", 3, NULL));
	/* Once the directory is gone, its name is free for a key. */
	ck_assert(idict_remove(dict, "a/b/c"));
	ck_assert(idict_remove(dict, "a/b/d"));
	ck_assert(idict_set_int(dict, "a/b", 4, NULL));
}
END_TEST

/* A refused set is not a change: the next update lists nothing. */
START_TEST(test_store_conflict_is_not_a_change)
{
	g_autoptr(IDict) dict = idict_new();
	ck_assert(idict_set_double(dict, "a", 1, NULL));
	idict_notify_update(dict, FALSE);
	ck_assert(!idict_set_double(dict, "a/b", 1, NULL));
	ck_assert(!idict_set_double(dict, "bad name", 1, NULL));
	idict_notify_update(dict, FALSE);
	guint64 cursor = 0;
	g_autofree char *lines = read_updates(dict, &cursor);
	ck_assert_str_eq(lines, "1 update a\n2 update\n");
}
END_TEST

START_TEST(test_store_remove_prunes_dirs)
{
	g_autoptr(IDict) dict = idict_new();
	ck_assert(idict_set_int(dict, "a/b/c", 1, NULL));
	ck_assert(idict_set_int(dict, "a/b/d", 1, NULL));
	ck_assert(idict_set_int(dict, "a/e", 1, NULL));
	ck_assert(idict_set_int(dict, "top", 1, NULL));
	guint64 ab = path_ino(dict, "a/b");
	ck_assert_uint_ne(ab, 0);

	ck_assert(idict_remove(dict, "a/b/c"));
	g_autofree char *l1 = list_names(dict, ab);
	ck_assert_str_eq(l1, "d");

	ck_assert(idict_remove(dict, "a/b/d"));
	ck_assert_uint_eq(path_ino(dict, "a/b"), 0);
	g_autofree char *l2 = list_names(dict, path_ino(dict, "a"));
	ck_assert_str_eq(l2, "e");
	IDictNodeInfo info;
	ck_assert_int_eq(idict__view_stat(dict, ab, &info, NULL), -ENOENT);
	int err = 0;
	ck_assert_ptr_null(idict__view_list_dir(dict, IDICT__VIEW_KEYS, ab, &err));
	ck_assert_int_eq(err, -ENOENT);

	ck_assert(idict_remove(dict, "a/e"));
	ck_assert_uint_eq(path_ino(dict, "a"), 0);
	g_autofree char *root = list_names(dict, IDICT__INO_ROOT);
	ck_assert_str_eq(root, "top");

	/* The root stays, even when empty. */
	ck_assert(idict_remove(dict, "top"));
	g_autofree char *empty = list_names(dict, IDICT__INO_ROOT);
	ck_assert_str_eq(empty, "");
	ck_assert_int_eq(idict__view_stat(dict, IDICT__INO_ROOT, &info, NULL), 0);
	ck_assert(info.is_dir);
}
END_TEST

START_TEST(test_store_lookup_and_list)
{
	g_autoptr(IDict) dict = idict_new();
	ck_assert(idict_set_int(dict, "b", 1, NULL));
	ck_assert(idict_set_int(dict, "a", 1, NULL));
	ck_assert(idict_set_int(dict, "c/d", 1, NULL));
	ck_assert(idict_set_int(dict, "c/a", 1, NULL));

	int err = 1;
	g_autoptr(GPtrArray) entries = idict__view_list_dir(dict, IDICT__VIEW_KEYS, IDICT__INO_ROOT, &err);
	ck_assert_ptr_nonnull(entries);
	ck_assert_int_eq(err, 0);
	ck_assert_uint_eq(entries->len, 3);
	static const char *const names[] = { "a", "b", "c" };
	for (guint i = 0; i < entries->len; i++) {
		const IDictTreeEntry *entry = entries->pdata[i];
		ck_assert_str_eq(entry->name, names[i]);
		ck_assert_int_eq(entry->is_dir, i == 2);
		IDictNodeInfo info;
		ck_assert_int_eq(idict__view_lookup(dict, IDICT__VIEW_KEYS, IDICT__INO_ROOT, entry->name, &info), 0);
		ck_assert_uint_eq(info.ino, entry->id);
		ck_assert_int_eq(info.is_dir, entry->is_dir);
		ck_assert_uint_ge(info.ino, IDICT__INO_FIRST_KEY);
	}
	g_autofree char *c = list_names(dict, path_ino(dict, "c"));
	ck_assert_str_eq(c, "a d");

	IDictNodeInfo info;
	guint64 key = path_ino(dict, "a");
	ck_assert_int_eq(idict__view_lookup(dict, IDICT__VIEW_KEYS, IDICT__INO_ROOT, "missing", &info), -ENOENT);
	ck_assert_int_eq(idict__view_lookup(dict, IDICT__VIEW_KEYS, IDICT__INO_ROOT, "c/d", &info), -ENOENT);
	ck_assert_int_eq(idict__view_lookup(dict, IDICT__VIEW_KEYS, key, "x", &info), -ENOTDIR);
	ck_assert_int_eq(idict__view_lookup(dict, IDICT__VIEW_KEYS, 999999, "x", &info), -ENOENT);
	ck_assert_ptr_null(idict__view_list_dir(dict, IDICT__VIEW_KEYS, key, &err));
	ck_assert_int_eq(err, -ENOTDIR);
	ck_assert_ptr_null(idict__view_list_dir(dict, IDICT__VIEW_KEYS, 999999, &err));
	ck_assert_int_eq(err, -ENOENT);
	ck_assert_int_eq(idict__view_stat(dict, 999999, &info, NULL), -ENOENT);
	/* The filesystem's own inodes are not in the store. */
	ck_assert_int_eq(idict__view_stat(dict, IDICT__INO_CTL, &info, NULL), -ENOENT);
}
END_TEST

/* raw/ shows the arrays of doubles and only the directories that hold one,
 * however keys come, change type and go. */
START_TEST(test_store_raw_view_shows_arrays_and_their_directories)
{
	g_autoptr(IDict) dict = idict_new();
	const double v[] = { 1, 2 };
	const double m[] = { 1, 2, 3, 4 };
	ck_assert(idict_set_double(dict, "a/x", 1, NULL));
	ck_assert(idict_set_array(dict, "b/y", v, 2, NULL));
	ck_assert(idict_set_array(dict, "b/c/z", v, 2, NULL));
	ck_assert(idict_set_matrix(dict, "d/m", m, 2, 2, NULL));
	ck_assert(idict_set_array(dict, "u", v, 2, NULL));
	IDictNodeInfo info;
	g_autofree char *root = list_view(dict, IDICT__VIEW_RAW, IDICT__INO_ROOT);
	ck_assert_str_eq(root, "b/ u");
	g_autofree char *b = list_view(dict, IDICT__VIEW_RAW, path_ino(dict, "b"));
	ck_assert_str_eq(b, "c/ y");
	/* A copy counts its arrays too; a cleared dictionary has none. */
	g_autoptr(IDict) copy = idict_copy(dict);
	g_autofree char *copy_root = list_view(copy, IDICT__VIEW_RAW, IDICT__INO_ROOT);
	ck_assert_str_eq(copy_root, "b/ u");
	idict_clear(copy);
	g_autofree char *cleared = list_view(copy, IDICT__VIEW_RAW, IDICT__INO_ROOT);
	ck_assert_str_eq(cleared, "");
	ck_assert(idict_set_array(copy, "b/c/z", v, 2, NULL));
	g_autofree char *again = list_view(copy, IDICT__VIEW_RAW, IDICT__INO_ROOT);
	ck_assert_str_eq(again, "b/");
	ck_assert_int_eq(idict__view_lookup(dict, IDICT__VIEW_RAW, IDICT__INO_ROOT, "a", &info), -ENOENT);
	ck_assert_int_eq(idict__view_lookup(dict, IDICT__VIEW_RAW, IDICT__INO_ROOT, "d", &info), -ENOENT);
	int err = 0;
	ck_assert_ptr_null(idict__view_list_dir(dict, IDICT__VIEW_RAW, path_ino(dict, "a"), &err));
	ck_assert_int_eq(err, -ENOENT);

	/* b holds an array as long as one key below it is one. */
	ck_assert(idict_set_double(dict, "b/y", 3, NULL));
	g_autofree char *b2 = list_view(dict, IDICT__VIEW_RAW, path_ino(dict, "b"));
	ck_assert_str_eq(b2, "c/");
	ck_assert(idict_set_string(dict, "b/c/z", "no longer", NULL));
	g_autofree char *root2 = list_view(dict, IDICT__VIEW_RAW, IDICT__INO_ROOT);
	ck_assert_str_eq(root2, "u");
	ck_assert_int_eq(idict__view_lookup(dict, IDICT__VIEW_RAW, IDICT__INO_ROOT, "b", &info), -ENOENT);

	/* A key that becomes an array brings its directories back; removed,
	 * it takes them away again. */
	ck_assert(idict_set_array(dict, "a/x", v, 2, NULL));
	ck_assert(idict_remove(dict, "u"));
	g_autofree char *root3 = list_view(dict, IDICT__VIEW_RAW, IDICT__INO_ROOT);
	ck_assert_str_eq(root3, "a/");
	ck_assert(idict_remove(dict, "a/x"));
	g_autofree char *root4 = list_view(dict, IDICT__VIEW_RAW, IDICT__INO_ROOT);
	ck_assert_str_eq(root4, "");
}
END_TEST

START_TEST(test_store_parent)
{
	g_autoptr(IDict) dict = idict_new();
	ck_assert(idict_set_int(dict, "a/b/c", 1, NULL));
	IDictNodeInfo info;
	ck_assert_int_eq(idict__view_parent(dict, path_ino(dict, "a/b/c"), &info), 0);
	ck_assert_uint_eq(info.ino, path_ino(dict, "a/b"));
	ck_assert(info.is_dir);
	ck_assert_int_eq(idict__view_parent(dict, path_ino(dict, "a"), &info), 0);
	ck_assert_uint_eq(info.ino, IDICT__INO_ROOT);
	/* The root is its own parent. */
	ck_assert_int_eq(idict__view_parent(dict, IDICT__INO_ROOT, &info), 0);
	ck_assert_uint_eq(info.ino, IDICT__INO_ROOT);
	ck_assert_int_eq(idict__view_parent(dict, 999999, &info), -ENOENT);
}
END_TEST

START_TEST(test_store_inode_stable)
{
	g_autoptr(IDict) dict = idict_new();
	ck_assert(idict_set_double(dict, "k", 1, NULL));
	ck_assert(idict_set_double(dict, "d/k", 1, NULL));
	guint64 k = path_ino(dict, "k"), d = path_ino(dict, "d"), dk = path_ino(dict, "d/k");
	ck_assert_uint_ge(k, IDICT__INO_FIRST_KEY);
	ck_assert_uint_ge(d, IDICT__INO_FIRST_KEY);
	ck_assert_uint_ne(k, d);
	ck_assert_uint_ne(d, dk);

	ck_assert(idict_set_double(dict, "k", 2, NULL));
	ck_assert(idict_set_string(dict, "k", "another type", NULL));
	ck_assert(idict_set_double(dict, "d/k", 2, NULL));
	ck_assert(idict_set_double(dict, "d/other", 2, NULL));
	ck_assert(idict_set_writable(dict, "k", TRUE, NULL));
	ck_assert_int_eq(idict__view_client_write(dict, k, 0, "written\n", 8), 0);
	ck_assert_uint_eq(path_ino(dict, "k"), k);
	ck_assert_uint_eq(path_ino(dict, "d"), d);
	ck_assert_uint_eq(path_ino(dict, "d/k"), dk);
}
END_TEST

START_TEST(test_store_inode_not_reused)
{
	g_autoptr(IDict) dict = idict_new();
	ck_assert(idict_set_double(dict, "k", 1, NULL));
	ck_assert(idict_set_double(dict, "d/k", 1, NULL));
	guint64 k = path_ino(dict, "k"), d = path_ino(dict, "d"), dk = path_ino(dict, "d/k");
	GHashTable *seen = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL);
	guint64 ids[] = { k, d, dk };
	for (gsize i = 0; i < G_N_ELEMENTS(ids); i++)
		g_hash_table_add(seen, g_memdup2(&ids[i], sizeof(guint64)));

	for (int round = 0; round < 3; round++) {
		ck_assert(idict_remove(dict, "k"));
		ck_assert(idict_remove(dict, "d/k"));
		IDictNodeInfo info;
		ck_assert_int_eq(idict__view_stat(dict, k, &info, NULL), -ENOENT);
		ck_assert_int_eq(idict__view_stat(dict, d, &info, NULL), -ENOENT);
		ck_assert(idict_set_double(dict, "k", 1, NULL));
		ck_assert(idict_set_double(dict, "d/k", 1, NULL));
		k = path_ino(dict, "k");
		d = path_ino(dict, "d");
		dk = path_ino(dict, "d/k");
		guint64 fresh[] = { k, d, dk };
		for (gsize i = 0; i < G_N_ELEMENTS(fresh); i++) {
			ck_assert_msg(!g_hash_table_contains(seen, &fresh[i]),
				      "inode %" G_GUINT64_FORMAT " reused", fresh[i]);
			g_hash_table_add(seen, g_memdup2(&fresh[i], sizeof(guint64)));
		}
	}
	g_hash_table_unref(seen);
}
END_TEST

/* Values of several types, for the stat and client-write tests. */
typedef struct {
	const char *type;
	const char *initial;    /* GVariant text */
	const char *good;       /* a client's text that is accepted */
	const char *good_value; /* GVariant text of its result */
	const char *bad;        /* a client's text that does not parse */
} WriteCase;

static const WriteCase write_cases[] = {
	{ "d", "1.5", "2.25\n", "2.25", "abc\n" },
	{ "x", "int64 7", "-3\n", "int64 -3", "3.5\n" },
	{ "b", "false", "true\n", "true", "yes\n" },
	{ "s", "'old'", "new text\n", "'new text'", "\xff\n" },
	{ "ad", "[1.0, 2.0, 3.0]", "4 5\n6\n", "[4.0, 5.0, 6.0]", "1\nx\n3\n" },
	{ "aad", "[[1.0, 2.0], [3.0, 4.0]]", "5 6\n7 8\n", "[[5.0, 6.0], [7.0, 8.0]]",
	  "5 6\n7\n" },
	{ "(ii)", "(1, 2)", "(3, 4)\n", "(3, 4)", "(3)\n" },
	{ "as", "['a']", "['b', 'c']\n", "['b', 'c']", "[1]\n" },
};

/* Sets "k" to the initial value of write case @c.  Returns: its inode. */
static guint64 set_write_case(IDict *dict, const WriteCase *c)
{
	set_parsed(dict, "k", c->type, c->initial);
	guint64 ino = path_ino(dict, "k");
	ck_assert_uint_ne(ino, 0);
	return ino;
}

/* The size reported is the length of the text served. */
START_TEST(test_store_stat_size)
{
	const WriteCase *c = &write_cases[_i];
	g_autoptr(IDict) dict = idict_new();
	guint64 ino = set_write_case(dict, c);

	for (int round = 0; round < 2; round++) {
		/* First without asking for the text (nothing rendered yet). */
		IDictNodeInfo info;
		ck_assert_int_eq(idict__view_stat(dict, ino, &info, NULL), 0);
		ck_assert(!info.is_dir);
		ck_assert_uint_eq(info.ino, ino);
		g_autoptr(GVariant) value = idict_get_value(dict, "k");
		g_autoptr(GBytes) expected = idict__format_render(value);
		ck_assert_uint_eq(info.size, g_bytes_get_size(expected));

		GBytes *text = NULL;
		IDictNodeInfo info2;
		ck_assert_int_eq(idict__view_stat(dict, ino, &info2, &text), 0);
		ck_assert_ptr_nonnull(text);
		ck_assert(g_bytes_equal(text, expected));
		ck_assert_uint_eq(info2.size, g_bytes_get_size(text));
		g_bytes_unref(text);
		/* Through lookup too. */
		IDictNodeInfo info3;
		ck_assert_int_eq(idict__view_lookup(dict, IDICT__VIEW_KEYS, IDICT__INO_ROOT, "k", &info3), 0);
		ck_assert_uint_eq(info3.size, info2.size);

		/* A new value of another length: the size follows. */
		ck_assert(idict_set_string(dict, "k", "longer than any value of the table", NULL));
	}
}
END_TEST

START_TEST(test_store_stat_dir)
{
	g_autoptr(IDict) dict = idict_new();
	ck_assert(idict_set_int(dict, "d/k", 1, NULL));
	IDictNodeInfo info;
	g_autoptr(GBytes) sentinel = g_bytes_new_static("", 0);
	GBytes *text = sentinel; /* must be overwritten */
	ck_assert_int_eq(idict__view_stat(dict, path_ino(dict, "d"), &info, &text), 0);
	ck_assert(info.is_dir);
	ck_assert_uint_eq(info.size, 0);
	ck_assert_ptr_null(text);
	ck_assert_uint_ge(info.nlink, 2);
	ck_assert_int_gt(info.mtime_us, 0);
	ck_assert_int_eq(idict__view_stat(dict, path_ino(dict, "d/k"), &info, NULL), 0);
	ck_assert_uint_eq(info.nlink, 1);
	ck_assert_int_gt(info.mtime_us, 0);
}
END_TEST

/* A directory's link count is 2 plus one per subdirectory (their ".."),
 * as store.c's fill_info_locked() says and as find(1) may assume. */
START_TEST(test_store_dir_nlink)
{
	g_autoptr(IDict) dict = idict_new();
	ck_assert(idict_set_int(dict, "d/sub1/k", 1, NULL));
	ck_assert(idict_set_int(dict, "d/sub2/k", 1, NULL));
	ck_assert(idict_set_int(dict, "d/k", 1, NULL));
	IDictNodeInfo info;
	ck_assert_int_eq(idict__view_stat(dict, path_ino(dict, "d/sub1"), &info, NULL), 0);
	ck_assert_uint_eq(info.nlink, 2);
	ck_assert_int_eq(idict__view_stat(dict, path_ino(dict, "d"), &info, NULL), 0);
	ck_assert_msg(info.nlink == 4, "directory with 2 subdirectories has nlink %u, not 4",
		      info.nlink);
}
END_TEST

/* ---- client writes ---- */

START_TEST(test_store_write_readonly)
{
	g_autoptr(IDict) dict = idict_new();
	ck_assert(idict_set_double(dict, "k", 1.5, NULL));
	guint64 ino = path_ino(dict, "k");
	IDictNodeInfo info;
	ck_assert_int_eq(idict__view_stat(dict, ino, &info, NULL), 0);
	ck_assert(!info.writable); /* new keys are read-only */
	ck_assert_int_eq(idict__view_client_write(dict, ino, 0, "2\n", 2), -EACCES);
	double out = 0;
	ck_assert(idict_get_double(dict, "k", &out, NULL));
	ck_assert_double_eq(out, 1.5);

	ck_assert(idict_set_writable(dict, "k", TRUE, NULL));
	ck_assert_int_eq(idict__view_stat(dict, ino, &info, NULL), 0);
	ck_assert(info.writable);
	ck_assert_int_eq(idict__view_client_write(dict, ino, 0, "2\n", 2), 0);
	ck_assert(idict_set_writable(dict, "k", FALSE, NULL));
	ck_assert_int_eq(idict__view_client_write(dict, ino, 0, "3\n", 2), -EACCES);
	ck_assert(idict_get_double(dict, "k", &out, NULL));
	ck_assert_double_eq(out, 2);
	/* Setting a new value keeps the flag. */
	ck_assert(idict_set_writable(dict, "k", TRUE, NULL));
	ck_assert(idict_set_double(dict, "k", 5, NULL));
	ck_assert_int_eq(idict__view_stat(dict, ino, &info, NULL), 0);
	ck_assert(info.writable);

	g_autoptr(GError) error = NULL;
	ck_assert(!idict_set_writable(dict, "absent", TRUE, &error));
	tu_assert_error(error, IDICT_ERROR, IDICT_ERROR_NOT_FOUND);
}
END_TEST

START_TEST(test_store_write_not_a_key)
{
	g_autoptr(IDict) dict = idict_new();
	ck_assert(idict_set_double(dict, "d/k", 1.5, NULL));
	ck_assert(idict_set_writable(dict, "d/k", TRUE, NULL));
	guint64 ino = path_ino(dict, "d/k");
	ck_assert_int_eq(idict__view_client_write(dict, path_ino(dict, "d"), 0, "1\n", 2), -EISDIR);
	ck_assert_int_eq(idict__view_client_write(dict, IDICT__INO_ROOT, 0, "1\n", 2), -EISDIR);
	ck_assert_int_eq(idict__view_client_write(dict, 999999, 0, "1\n", 2), -ENOENT);
	ck_assert(idict_remove(dict, "d/k"));
	ck_assert_int_eq(idict__view_client_write(dict, ino, 0, "1\n", 2), -ENOENT);
}
END_TEST

/* Text that does not parse: EINVAL, and the value is unchanged and not
 * reported as changed. */
START_TEST(test_store_write_bad_text)
{
	const WriteCase *c = &write_cases[_i];
	g_autoptr(IDict) dict = idict_new();
	guint64 ino = set_write_case(dict, c);
	ck_assert(idict_set_writable(dict, "k", TRUE, NULL));
	idict_notify_update(dict, FALSE);
	g_autofree char *before = value_text(dict, "k");

	ck_assert_int_eq(idict__view_client_write(dict, ino, 0, c->bad, strlen(c->bad)), -EINVAL);
	ck_assert_int_eq(idict__view_client_write(dict, ino, 0, "1\0", 2), -EINVAL);
	g_autofree char *after = value_text(dict, "k");
	ck_assert_str_eq(after, before);

	idict_notify_update(dict, FALSE);
	guint64 cursor = 1;
	g_autofree char *lines = read_updates(dict, &cursor);
	ck_assert_str_eq(lines, "2 update\n");
}
END_TEST

/* Accepted text: the value changes, is re-rendered, and is reported. */
START_TEST(test_store_write_accepted)
{
	const WriteCase *c = &write_cases[_i];
	g_autoptr(IDict) dict = idict_new();
	guint64 ino = set_write_case(dict, c);
	ck_assert(idict_set_writable(dict, "k", TRUE, NULL));
	ck_assert(idict_set_int(dict, "other", 1, NULL));
	GBytes *old_text = NULL;
	IDictNodeInfo info;
	ck_assert_int_eq(idict__view_stat(dict, ino, &info, &old_text), 0); /* caches the text */
	g_bytes_unref(old_text);
	idict_notify_update(dict, FALSE);

	ck_assert_int_eq(idict__view_client_write(dict, ino, 0, c->good, strlen(c->good)), 0);
	g_autoptr(GVariant) value = idict_get_value(dict, "k");
	g_autoptr(GVariant) expected =
		g_variant_parse(G_VARIANT_TYPE(c->type), c->good_value, NULL, NULL, NULL);
	ck_assert_ptr_nonnull(expected);
	g_autofree char *got = g_variant_print(value, TRUE);
	ck_assert_msg(g_variant_equal(value, expected), "wrote \"%s\", got %s", c->good, got);

	GBytes *text = NULL;
	ck_assert_int_eq(idict__view_stat(dict, ino, &info, &text), 0);
	g_autoptr(GBytes) rendered = idict__format_render(expected);
	ck_assert(g_bytes_equal(text, rendered));
	ck_assert_uint_eq(info.size, g_bytes_get_size(rendered));
	g_bytes_unref(text);

	idict_notify_update(dict, FALSE);
	guint64 cursor = 1;
	g_autofree char *lines = read_updates(dict, &cursor);
	ck_assert_str_eq(lines, "2 update k\n");
}
END_TEST

START_TEST(test_store_write_shape)
{
	g_autoptr(IDict) dict = idict_new();
	const double values[] = { 1, 2, 3, 4, 5, 6 };
	ck_assert(idict_set_array(dict, "a", values, 3, NULL));
	ck_assert(idict_set_matrix(dict, "m", values, 2, 2, NULL));
	ck_assert(idict_set_writable(dict, "a", TRUE, NULL));
	ck_assert(idict_set_writable(dict, "m", TRUE, NULL));
	guint64 a = path_ino(dict, "a"), m = path_ino(dict, "m");

	static const char *const bad_array[] = { "1\n2\n", "1\n2\n3\n4\n", "" };
	for (gsize i = 0; i < G_N_ELEMENTS(bad_array); i++)
		ck_assert_int_eq(idict__view_client_write(dict, a, 0, bad_array[i],
							   strlen(bad_array[i])), -EINVAL);
	static const char *const bad_matrix[] = { "1 2 3\n4 5 6\n", "1 2\n", "1 2 3 4\n",
						  "1\n2\n3\n4\n", "1 2\n3 4\n5 6\n", "" };
	for (gsize i = 0; i < G_N_ELEMENTS(bad_matrix); i++)
		ck_assert_int_eq(idict__view_client_write(dict, m, 0, bad_matrix[i],
							   strlen(bad_matrix[i])), -EINVAL);
	gsize n = 0, rows = 0, cols = 0;
	g_autofree double *a1 = idict_dup_array(dict, "a", &n, NULL);
	ck_assert_uint_eq(n, 3);
	ck_assert_mem_eq(a1, values, 3 * sizeof(double));
	g_autofree double *m1 = idict_dup_matrix(dict, "m", &rows, &cols, NULL);
	ck_assert_uint_eq(rows, 2);
	ck_assert_uint_eq(cols, 2);
	ck_assert_mem_eq(m1, values, 4 * sizeof(double));

	/* Same shape, other layout of the text: accepted. */
	const char *array_text = "7 8 9";
	const char *matrix_text = "7 8\n\n9 10\n";
	ck_assert_int_eq(idict__view_client_write(dict, a, 0, array_text, strlen(array_text)), 0);
	ck_assert_int_eq(idict__view_client_write(dict, m, 0, matrix_text, strlen(matrix_text)), 0);
	g_autofree double *a2 = idict_dup_array(dict, "a", &n, NULL);
	ck_assert_double_eq(a2[2], 9);
	g_autofree double *m2 = idict_dup_matrix(dict, "m", &rows, &cols, NULL);
	ck_assert_double_eq(m2[3], 10);
}
END_TEST

typedef struct {
	int mode; /* 0 accept, 1 refuse with an error, 2 refuse without */
	int calls;
	IDict *dict;
	char *key;
	GVariant *value;
	gboolean lock_free; /* another thread could take the store lock */
} CheckRecord;

static gboolean record_check(IDict *dict, const char *key, GVariant *value, gpointer user_data,
			     GError **error)
{
	CheckRecord *rec = user_data;
	rec->calls++;
	rec->dict = dict;
	g_free(rec->key);
	rec->key = g_strdup(key);
	g_clear_pointer(&rec->value, g_variant_unref);
	rec->value = g_variant_ref(value);
	if (rec->calls == 1) {
		LockProbe *probe = lock_probe_start(dict);
		rec->lock_free = lock_probe_wait(probe);
		/* If it is stuck, it finishes when the write releases the lock. */
		lock_probe_finish(probe);
	}
	if (rec->mode == 1)
		g_set_error(error, IDICT_ERROR, IDICT_ERROR_INVALID_VALUE, "negative");
	return rec->mode == 0;
}

START_TEST(test_store_write_check)
{
	g_autoptr(IDict) dict = idict_new();
	CheckRecord rec = { 0 };
	ck_assert(idict_set_double(dict, "c/k", 1, NULL));
	ck_assert(idict_set_writable(dict, "c/k", TRUE, NULL));
	ck_assert(idict_set_check(dict, "c/k", record_check, &rec, NULL, NULL));
	guint64 ino = path_ino(dict, "c/k");

	ck_assert_int_eq(idict__view_client_write(dict, ino, 0, " 2.5\n", 5), 0);
	ck_assert_int_eq(rec.calls, 1);
	ck_assert_ptr_eq(rec.dict, dict);
	ck_assert_str_eq(rec.key, "c/k");
	ck_assert_str_eq(g_variant_get_type_string(rec.value), "d");
	ck_assert_double_eq(g_variant_get_double(rec.value), 2.5); /* already parsed */
	ck_assert_msg(rec.lock_free, "the check was called with the store lock held");
	double out = 0;
	ck_assert(idict_get_double(dict, "c/k", &out, NULL));
	ck_assert_double_eq(out, 2.5);

	idict_notify_update(dict, FALSE);
	for (int mode = 1; mode <= 2; mode++) {
		rec.mode = mode;
		ck_assert_int_eq(idict__view_client_write(dict, ino, 0, "-1\n", 3), -EINVAL);
		ck_assert(idict_get_double(dict, "c/k", &out, NULL));
		ck_assert_double_eq(out, 2.5);
	}
	ck_assert_int_eq(rec.calls, 3);
	/* Text that does not parse never reaches the check. */
	ck_assert_int_eq(idict__view_client_write(dict, ino, 0, "x\n", 2), -EINVAL);
	ck_assert_int_eq(rec.calls, 3);
	idict_notify_update(dict, FALSE);
	guint64 cursor = 1;
	g_autofree char *lines = read_updates(dict, &cursor);
	ck_assert_str_eq(lines, "2 update\n"); /* refused writes are not changes */

	/* Removing the check lets everything through. */
	ck_assert(idict_set_check(dict, "c/k", NULL, NULL, NULL, NULL));
	ck_assert_int_eq(idict__view_client_write(dict, ino, 0, "-1\n", 3), 0);
	ck_assert_int_eq(rec.calls, 3);
	ck_assert(idict_get_double(dict, "c/k", &out, NULL));
	ck_assert_double_eq(out, -1);

	g_autoptr(GError) error = NULL;
	ck_assert(!idict_set_check(dict, "absent", record_check, &rec, NULL, &error));
	tu_assert_error(error, IDICT_ERROR, IDICT_ERROR_NOT_FOUND);
	g_free(rec.key);
	g_variant_unref(rec.value);
}
END_TEST

static gboolean accept_all(IDict *dict, const char *key, GVariant *value, gpointer user_data,
			   GError **error)
{
	(void)dict;
	(void)key;
	(void)value;
	(void)user_data;
	(void)error;
	return TRUE;
}

START_TEST(test_store_check_destroy)
{
	gint d1 = 0, d2 = 0, d3 = 0, d4 = 0;
	IDict *dict = idict_new();
	ck_assert(idict_set_int(dict, "k", 1, NULL));
	ck_assert(idict_set_int(dict, "k2", 1, NULL));
	ck_assert(idict_set_check(dict, "k", accept_all, &d1, count_call, NULL));
	ck_assert(idict_set_check(dict, "k", accept_all, &d2, count_call, NULL));
	ck_assert_int_eq(d1, 1); /* replaced */
	ck_assert_int_eq(d2, 0);
	ck_assert(idict_set_check(dict, "k", NULL, NULL, NULL, NULL));
	ck_assert_int_eq(d2, 1); /* removed */
	ck_assert(idict_set_check(dict, "k", accept_all, &d3, count_call, NULL));
	ck_assert(idict_set_int(dict, "k", 2, NULL)); /* a new value keeps the check */
	ck_assert_int_eq(d3, 0);
	ck_assert(idict_remove(dict, "k"));
	ck_assert_int_eq(d3, 1); /* the key went */
	ck_assert(idict_set_check(dict, "k2", accept_all, &d4, count_call, NULL));
	idict_free(dict);
	ck_assert_int_eq(d4, 1); /* the dictionary went */
	ck_assert_int_eq(d1 + d2 + d3, 3);
}
END_TEST

/* ---- the lock ---- */

START_TEST(test_store_lock_recursive)
{
	g_autoptr(IDict) dict = idict_new();
	idict_lock(dict);
	idict_lock(dict);
	ck_assert(idict_set_double(dict, "x", 1, NULL));
	ck_assert(idict_set_double(dict, "y", 2, NULL));
	double out = 0;
	ck_assert(idict_get_double(dict, "x", &out, NULL));
	ck_assert_double_eq(out, 1);
	g_auto(GStrv) keys = idict_keys(dict);
	ck_assert_uint_eq(g_strv_length(keys), 2);
	ck_assert(idict_remove(dict, "y"));
	idict_unlock(dict);
	ck_assert(idict_set_double(dict, "x", 3, NULL));
	idict_unlock(dict);
	/* Fully released: another thread gets in. */
	LockProbe *probe = lock_probe_start(dict);
	gboolean done = lock_probe_wait(probe);
	lock_probe_finish(probe);
	ck_assert_msg(done, "the lock is still held after as many unlocks as locks");
}
END_TEST

typedef struct {
	IDict *dict;
	gint done;
	gboolean ok;
	double value;
} Reader;

static gpointer reader_run(gpointer data)
{
	Reader *reader = data;
	reader->ok = idict_get_double(reader->dict, "x", &reader->value, NULL);
	g_atomic_int_set(&reader->done, 1);
	return NULL;
}

/* While the computation holds the lock, readers wait, and then see all of
 * its changes at once. */
START_TEST(test_store_lock_blocks_readers)
{
	g_autoptr(IDict) dict = idict_new();
	ck_assert(idict_set_double(dict, "x", 1, NULL));
	Reader reader = { .dict = dict };

	idict_lock(dict);
	ck_assert(idict_set_double(dict, "x", 2, NULL));
	GThread *thread = g_thread_new("reader", reader_run, &reader);
	g_usleep(50 * 1000);
	/* Cannot have finished: we hold the lock. */
	ck_assert_int_eq(g_atomic_int_get(&reader.done), 0);
	ck_assert(idict_set_double(dict, "x", 3, NULL));
	idict_unlock(dict);

	g_thread_join(thread);
	ck_assert_int_eq(g_atomic_int_get(&reader.done), 1);
	ck_assert(reader.ok);
	ck_assert_double_eq(reader.value, 3);
}
END_TEST

/* ---- control ---- */

START_TEST(test_store_control_flags)
{
	g_autoptr(IDict) dict = idict_new();
	ck_assert(!idict_paused(dict));
	idict_pause(dict);
	ck_assert(idict_paused(dict));
	idict_pause(dict);
	ck_assert(idict_paused(dict));
	idict_resume(dict);
	ck_assert(!idict_paused(dict));
	idict_resume(dict);
	ck_assert(!idict_paused(dict));
	ck_assert(!idict_terminated(dict));
	idict_terminate(dict);
	ck_assert(idict_terminated(dict));
	idict_terminate(dict);
	ck_assert(idict_terminated(dict));
}
END_TEST

START_TEST(test_store_wait_not_paused)
{
	g_autoptr(IDict) dict = idict_new();
	ck_assert(idict_wait(dict, -1));
	ck_assert(idict_wait(dict, 0));
	ck_assert(idict_wait(dict, 1000));
	idict_pause(dict);
	idict_resume(dict);
	ck_assert(idict_wait(dict, -1));
}
END_TEST

START_TEST(test_store_wait_timeout)
{
	g_autoptr(IDict) dict = idict_new();
	idict_pause(dict);
	ck_assert(!idict_wait(dict, 0));
	gint64 start = g_get_monotonic_time();
	ck_assert(!idict_wait(dict, 0.05));
	/* It did wait (a lower bound only: no upper bound on a loaded machine). */
	ck_assert_int_ge(g_get_monotonic_time() - start, 40 * 1000);
	ck_assert(idict_paused(dict));
}
END_TEST

START_TEST(test_store_wait_terminated)
{
	g_autoptr(IDict) dict = idict_new();
	idict_pause(dict);
	idict_terminate(dict);
	ck_assert(idict_wait(dict, -1));
	ck_assert(idict_wait(dict, 0));
	ck_assert(idict_paused(dict)); /* terminating does not resume */
}
END_TEST

typedef struct {
	IDict *dict;
	gboolean terminate; /* else resume */
	gulong delay_us;
} Later;

static gpointer later_run(gpointer data)
{
	Later *later = data;
	g_usleep(later->delay_us);
	if (later->terminate)
		idict_terminate(later->dict);
	else
		idict_resume(later->dict);
	return NULL;
}

/* A blocked idict_wait() returns when another thread acts.  _i: 0 resume,
 * 1 terminate; with no limit and with a long timeout. */
START_TEST(test_store_wait_woken)
{
	static const double timeouts[] = { -1, 60 };
	for (gsize t = 0; t < G_N_ELEMENTS(timeouts); t++) {
		g_autoptr(IDict) dict = idict_new();
		idict_pause(dict);
		Later later = { dict, _i == 1, 50 * 1000 };
		GThread *thread = g_thread_new("later", later_run, &later);
		gboolean go_on = idict_wait(dict, timeouts[t]);
		g_thread_join(thread);
		ck_assert_msg(go_on, "idict_wait(%g) returned FALSE", timeouts[t]);
		ck_assert_int_eq(idict_terminated(dict), _i == 1);
	}
}
END_TEST

/* An infinite timeout is no limit: idict_wait() blocks until resumed. */
START_TEST(test_store_wait_infinite_timeout)
{
	g_autoptr(IDict) dict = idict_new();
	idict_pause(dict);
	Later later = { dict, FALSE, 100 * 1000 };
	GThread *thread = g_thread_new("later", later_run, &later);
	gboolean go_on = idict_wait(dict, INFINITY);
	g_thread_join(thread);
	ck_assert_msg(go_on, "idict_wait(INFINITY) returned FALSE while paused");
}
END_TEST

START_TEST(test_store_status_states)
{
	g_autoptr(IDict) dict = idict_new();
	IDictStatus status;
	idict__store_status(dict, &status);
	ck_assert_str_eq(status.state, "running");
	ck_assert_uint_eq(status.sequence, 0);
	ck_assert_uint_eq(status.n_keys, 0);
	ck_assert_int_gt(status.started_us, 0);
	ck_assert_int_eq(status.last_update_us, 0);

	ck_assert(idict_set_int(dict, "a", 1, NULL));
	ck_assert(idict_set_int(dict, "b/c", 1, NULL));
	idict_pause(dict);
	idict__store_status(dict, &status);
	ck_assert_str_eq(status.state, "paused");
	ck_assert_uint_eq(status.n_keys, 2);
	idict_resume(dict);
	idict__store_status(dict, &status);
	ck_assert_str_eq(status.state, "running");

	idict_notify_update(dict, FALSE);
	idict__store_status(dict, &status);
	ck_assert_uint_eq(status.sequence, 1);
	ck_assert_int_ge(status.last_update_us, status.started_us);

	idict_pause(dict);
	idict_terminate(dict);
	idict__store_status(dict, &status);
	ck_assert_str_eq(status.state, "terminating");
	idict_resume(dict);
	idict__store_status(dict, &status);
	ck_assert_str_eq(status.state, "terminating");

	idict_notify_update(dict, TRUE);
	idict__store_status(dict, &status);
	ck_assert_str_eq(status.state, "finished");
	ck_assert_uint_eq(status.sequence, 2);
	idict_pause(dict);
	idict__store_status(dict, &status);
	ck_assert_str_eq(status.state, "finished");
}
END_TEST

/* A final update finishes the run even if nobody asked it to stop. */
START_TEST(test_store_status_finished_without_terminate)
{
	g_autoptr(IDict) dict = idict_new();
	idict_notify_update(dict, TRUE);
	IDictStatus status;
	idict__store_status(dict, &status);
	ck_assert_str_eq(status.state, "finished");
	ck_assert(!idict_terminated(dict));
}
END_TEST

/* ---- updates and callbacks ---- */

START_TEST(test_store_sequence)
{
	g_autoptr(IDict) dict = idict_new();
	ck_assert_uint_eq(idict_sequence(dict), 0);
	for (guint64 i = 1; i <= 5; i++) {
		idict_notify_update(dict, FALSE);
		ck_assert_uint_eq(idict_sequence(dict), i);
	}
	ck_assert_uint_eq(idict__update_log_last(idict__store_update_log(dict)), 5);
}
END_TEST

START_TEST(test_store_update_lines)
{
	g_autoptr(IDict) dict = idict_new();
	ck_assert(idict_set_int(dict, "b", 1, NULL));
	ck_assert(idict_set_int(dict, "a/x", 1, NULL));
	ck_assert(idict_set_int(dict, "b", 2, NULL)); /* listed once */
	idict_notify_update(dict, FALSE);
	idict_notify_update(dict, FALSE); /* nothing changed */
	ck_assert(idict_remove(dict, "b"));
	ck_assert(idict_set_int(dict, "c", 1, NULL));
	idict_notify_update(dict, FALSE);
	ck_assert(idict_set_int(dict, "a/x", 3, NULL));
	idict_notify_update(dict, TRUE);

	guint64 cursor = 0;
	g_autofree char *lines = read_updates(dict, &cursor);
	ck_assert_str_eq(lines, "1 update a/x b\n2 update\n3 update b c\n4 final a/x\n");
	ck_assert_uint_eq(cursor, 4);
}
END_TEST

/* A key's modification time is that of the update that published its last
 * change; while a change waits for its update, the current time, so that
 * it never looks as old as what was read before it. */
START_TEST(test_store_mtime_is_the_publishing_update)
{
	g_autoptr(IDict) dict = idict_new();
	ck_assert(idict_set_double(dict, "k", 1, NULL));
	idict_notify_update(dict, FALSE);
	gint64 published = g_get_real_time();
	IDictNodeInfo info;
	ck_assert_int_eq(idict__view_lookup(dict, IDICT__VIEW_KEYS, IDICT__INO_ROOT, "k", &info), 0);
	guint64 ino = info.ino;
	ck_assert_int_eq(idict__view_stat(dict, ino, &info, NULL), 0);
	gint64 first = info.mtime_us;
	ck_assert_int_le(first, published);
	g_usleep(2000);
	ck_assert_int_eq(idict__view_stat(dict, ino, &info, NULL), 0);
	ck_assert_int_eq(info.mtime_us, first); /* unchanged: stays */

	ck_assert(idict_set_double(dict, "k", 2, NULL));
	ck_assert_int_eq(idict__view_stat(dict, ino, &info, NULL), 0);
	ck_assert_int_ge(info.mtime_us, first + 2000); /* pending: now */
	gint64 pending = info.mtime_us;
	g_usleep(2000);
	idict_notify_update(dict, FALSE);
	ck_assert_int_eq(idict__view_stat(dict, ino, &info, NULL), 0);
	ck_assert_int_ge(info.mtime_us, pending + 2000); /* the update's time */
	gint64 second = info.mtime_us;
	g_usleep(2000);
	ck_assert_int_eq(idict__view_stat(dict, ino, &info, NULL), 0);
	ck_assert_int_eq(info.mtime_us, second);
}
END_TEST

/* Several threads may notify at once, while callbacks come and go: the
 * callbacks' reference counts are atomic (ASan saw a use-after-free when
 * they were not). */
typedef struct {
	IDict *dict;
	gint calls;
	gint stop;
} NotifyRace;

static void count_race_call(IDict *dict, gboolean final, gpointer user_data)
{
	(void)dict;
	(void)final;
	g_atomic_int_inc(&((NotifyRace *)user_data)->calls);
}

static gpointer notify_many(gpointer data)
{
	NotifyRace *race = data;
	for (int i = 0; i < 20000; i++)
		idict_notify_update(race->dict, FALSE);
	return NULL;
}

static gpointer churn_callbacks(gpointer data)
{
	NotifyRace *race = data;
	while (!g_atomic_int_get(&race->stop)) {
		guint id = idict_add_callback(race->dict, count_race_call, race, NULL);
		idict_remove_callback(race->dict, id);
	}
	return NULL;
}

START_TEST(test_store_notify_from_threads_with_callbacks)
{
	NotifyRace race = { .dict = idict_new() };
	guint id = idict_add_callback(race.dict, count_race_call, &race, NULL);
	GThread *churn = g_thread_new("churn", churn_callbacks, &race);
	GThread *a = g_thread_new("notify-a", notify_many, &race);
	GThread *b = g_thread_new("notify-b", notify_many, &race);
	g_thread_join(a);
	g_thread_join(b);
	g_atomic_int_set(&race.stop, 1);
	g_thread_join(churn);
	ck_assert_int_ge(g_atomic_int_get(&race.calls), 40000);
	ck_assert_uint_eq(idict_sequence(race.dict), 40000);
	ck_assert(idict_remove_callback(race.dict, id));
	idict_free(race.dict);
}
END_TEST

/* The changed keys are tracked in their nodes: a key removed while
 * changed, removed and set again, or removed with its directory, is listed
 * once; more than fit on the stack are all listed, sorted; a dictionary
 * freed with changes pending leaks nothing (ASan). */
START_TEST(test_store_update_lines_remove_and_many)
{
	g_autoptr(IDict) dict = idict_new();
	ck_assert(idict_set_int(dict, "k", 1, NULL));
	ck_assert(idict_remove(dict, "k"));
	ck_assert(idict_set_int(dict, "k", 2, NULL));
	ck_assert(idict_set_int(dict, "d/x", 1, NULL));
	ck_assert(idict_set_int(dict, "d/y", 1, NULL));
	ck_assert(idict_remove(dict, "d/x"));
	idict_notify_update(dict, FALSE);
	ck_assert(idict_remove(dict, "d/y")); /* and d/ goes with it */
	ck_assert(idict_remove(dict, "k"));
	idict_notify_update(dict, FALSE);
	GString *expected = g_string_new("1 update d/x d/y k\n2 update d/y k\n3 update");
	for (int i = 39; i >= 0; i--) {
		char key[8];
		g_snprintf(key, sizeof key, "m%02d", i);
		ck_assert(idict_set_double(dict, key, i, NULL));
	}
	for (int i = 0; i < 40; i++)
		g_string_append_printf(expected, " m%02d", i);
	g_string_append_c(expected, '\n');
	idict_notify_update(dict, FALSE);
	guint64 cursor = 0;
	g_autofree char *lines = read_updates(dict, &cursor);
	ck_assert_str_eq(lines, expected->str);
	g_string_free(expected, TRUE);
	ck_assert(!idict_contains(dict, "d/y"));
	g_auto(GStrv) keys = idict_keys(dict);
	ck_assert_uint_eq(g_strv_length(keys), 40);

	/* Freed with changes and removals pending. */
	IDict *pending = idict_new();
	ck_assert(idict_set_double(pending, "a", 1, NULL));
	ck_assert(idict_set_string(pending, "b/c", "text", NULL));
	ck_assert(idict_remove(pending, "a"));
	idict_free(pending);
}
END_TEST

typedef struct {
	int calls;
	gboolean finals[4];
	IDict *dict;
	GThread *thread;
	guint64 sequence;
	gint destroyed;
} CallbackRecord;

static void record_callback(IDict *dict, gboolean final, gpointer user_data)
{
	CallbackRecord *rec = user_data;
	if (rec->calls < (int)G_N_ELEMENTS(rec->finals))
		rec->finals[rec->calls] = final;
	rec->calls++;
	rec->dict = dict;
	rec->thread = g_thread_self();
	rec->sequence = idict_sequence(dict);
}

static void record_destroy(gpointer user_data)
{
	CallbackRecord *rec = user_data;
	rec->destroyed++;
}

START_TEST(test_store_callback_args)
{
	IDict *dict = idict_new();
	CallbackRecord rec = { 0 };
	guint id = idict_add_callback(dict, record_callback, &rec, record_destroy);
	ck_assert_uint_gt(id, 0);
	idict_notify_update(dict, FALSE);
	ck_assert_int_eq(rec.calls, 1);
	ck_assert_ptr_eq(rec.dict, dict);
	ck_assert_ptr_eq(rec.thread, g_thread_self());
	ck_assert_uint_eq(rec.sequence, 1); /* bumped before the callbacks run */
	idict_notify_update(dict, TRUE);
	ck_assert_int_eq(rec.calls, 2);
	ck_assert_int_eq(rec.finals[0], FALSE);
	ck_assert_int_eq(rec.finals[1], TRUE);
	ck_assert_uint_eq(rec.sequence, 2);
	ck_assert_int_eq(rec.destroyed, 0);
	idict_free(dict);
	ck_assert_int_eq(rec.destroyed, 1); /* destroy notify on idict_free() */
}
END_TEST

/* Called from a thread of our own, so that failure is reported, not hung. */
typedef struct {
	gboolean lock_free;
	int calls;
} ProbeRecord;

static void probing_callback(IDict *dict, gboolean final, gpointer user_data)
{
	(void)final;
	ProbeRecord *rec = user_data;
	rec->calls++;
	LockProbe *probe = lock_probe_start(dict);
	rec->lock_free = lock_probe_wait(probe);
	lock_probe_finish(probe); /* if stuck, it ends when the lock is released */
}

/* Callbacks run without the store lock: another thread can set a value. */
START_TEST(test_store_callback_lock_not_held)
{
	g_autoptr(IDict) dict = idict_new();
	ProbeRecord rec = { 0 };
	idict_add_callback(dict, probing_callback, &rec, NULL);
	idict_notify_update(dict, FALSE);
	ck_assert_int_eq(rec.calls, 1);
	ck_assert_msg(rec.lock_free, "a callback ran with the store lock held");
	gint64 probe = 0;
	ck_assert(idict_get_int(dict, "probe", &probe, NULL));
	ck_assert_int_eq(probe, 1);
}
END_TEST

START_TEST(test_store_remove_callback)
{
	g_autoptr(IDict) dict = idict_new();
	CallbackRecord a = { 0 }, b = { 0 };
	guint ida = idict_add_callback(dict, record_callback, &a, record_destroy);
	guint idb = idict_add_callback(dict, record_callback, &b, record_destroy);
	ck_assert_uint_ne(ida, idb);
	idict_notify_update(dict, FALSE);
	ck_assert(idict_remove_callback(dict, ida));
	ck_assert_int_eq(a.destroyed, 1);
	ck_assert(!idict_remove_callback(dict, ida));
	ck_assert(!idict_remove_callback(dict, 0));
	ck_assert(!idict_remove_callback(dict, 12345));
	idict_notify_update(dict, FALSE);
	ck_assert_int_eq(a.calls, 1);
	ck_assert_int_eq(b.calls, 2);
	ck_assert_int_eq(a.destroyed, 1);
	ck_assert_int_eq(b.destroyed, 0);
}
END_TEST

typedef struct {
	CallbackRecord rec;
	guint remove_id; /* the callback to remove when called */
	gboolean removed;
} Remover;

static void removing_callback(IDict *dict, gboolean final, gpointer user_data)
{
	Remover *remover = user_data;
	record_callback(dict, final, &remover->rec);
	if (remover->remove_id)
		remover->removed = idict_remove_callback(dict, remover->remove_id);
}

static void remover_destroy(gpointer user_data)
{
	Remover *remover = user_data;
	remover->rec.destroyed++;
}

/* A callback may remove itself, or another one, while updates run. */
START_TEST(test_store_remove_callback_inside)
{
	g_autoptr(IDict) dict = idict_new();
	Remover self = { { 0 }, 0, FALSE };
	guint id = idict_add_callback(dict, removing_callback, &self, remover_destroy);
	self.remove_id = id;
	idict_notify_update(dict, FALSE);
	ck_assert(self.removed);
	ck_assert_int_eq(self.rec.calls, 1);
	ck_assert_int_eq(self.rec.destroyed, 1);
	idict_notify_update(dict, FALSE);
	ck_assert_int_eq(self.rec.calls, 1);
	ck_assert_int_eq(self.rec.destroyed, 1);

	/* The first removes the second, which then is not called. */
	Remover first = { { 0 }, 0, FALSE };
	CallbackRecord second = { 0 };
	idict_add_callback(dict, removing_callback, &first, remover_destroy);
	first.remove_id = idict_add_callback(dict, record_callback, &second, record_destroy);
	idict_notify_update(dict, FALSE);
	ck_assert(first.removed);
	ck_assert_int_eq(first.rec.calls, 1);
	ck_assert_int_eq(second.calls, 0);
	ck_assert_int_eq(second.destroyed, 1);
}
END_TEST

typedef struct {
	CallbackRecord rec;
	CallbackRecord *to_add;
	guint added_id;
} Adder;

static void adding_callback(IDict *dict, gboolean final, gpointer user_data)
{
	Adder *adder = user_data;
	record_callback(dict, final, &adder->rec);
	if (adder->added_id == 0)
		adder->added_id = idict_add_callback(dict, record_callback, adder->to_add, NULL);
}

/* A callback may add callbacks (no deadlock); they run at later updates. */
START_TEST(test_store_add_callback_inside)
{
	g_autoptr(IDict) dict = idict_new();
	CallbackRecord added = { 0 };
	Adder adder = { { 0 }, &added, 0 };
	idict_add_callback(dict, adding_callback, &adder, NULL);
	idict_notify_update(dict, FALSE);
	ck_assert_uint_gt(adder.added_id, 0);
	idict_notify_update(dict, FALSE);
	ck_assert_int_eq(adder.rec.calls, 2);
	ck_assert_int_ge(added.calls, 1);
	ck_assert(idict_remove_callback(dict, adder.added_id));
}
END_TEST

typedef struct {
	gint calls;
	IDict *dict;
} HookData;

static gpointer take_store_lock(gpointer data)
{
	return GSIZE_TO_POINTER(idict_sequence(data));
}

/* Counts its calls; checks that the notifying thread holds neither the
 * log lock nor the store lock (another thread takes the latter). */
static void count_hook(gpointer data)
{
	HookData *hook = data;
	g_atomic_int_inc(&hook->calls);
	guint64 last = idict__update_log_last(idict__store_update_log(hook->dict));
	GThread *other = g_thread_new("store-lock", take_store_lock, hook->dict);
	ck_assert_uint_eq(GPOINTER_TO_SIZE(g_thread_join(other)), last);
}

static gpointer hook_data_ref(gpointer data)
{
	return g_atomic_rc_box_acquire(data);
}

static void hook_data_unref(gpointer data)
{
	g_atomic_rc_box_release(data);
}

static HookData *hook_data_new(IDict *dict)
{
	HookData *hook = g_atomic_rc_box_new0(HookData);
	hook->dict = dict;
	return hook;
}

/* The hook runs after an update only while a reader waits, with no lock
 * held, and its data stays alive while it is set. */
START_TEST(test_store_update_hook)
{
	g_autoptr(IDict) dict = idict_new();
	IDictUpdateLog *log = idict__store_update_log(dict);
	HookData *hooked = hook_data_new(dict), *other = hook_data_new(dict);
	ck_assert(idict__store_set_update_hook(dict, count_hook, hooked, hook_data_ref, hook_data_unref));
	idict_notify_update(dict, FALSE);
	ck_assert_int_eq(hooked->calls, 0); /* nobody waits */

	IDictLogReader reader;
	idict__log_reader_init(&reader, idict__update_log_start_cursor(log));
	ck_assert(!idict__log_reader_ready(&reader, log, TRUE)); /* now one waits */
	idict_notify_update(dict, FALSE);
	idict_notify_update(dict, TRUE);
	ck_assert_int_eq(hooked->calls, 2);
	/* One hook per dictionary; clearing needs the same data. */
	ck_assert(!idict__store_set_update_hook(dict, count_hook, other, hook_data_ref, hook_data_unref));
	idict__store_set_update_hook(dict, NULL, other, NULL, NULL);
	idict_notify_update(dict, FALSE);
	ck_assert_int_eq(hooked->calls, 3);
	idict__update_log_forget_waiters(log, 1);
	idict_notify_update(dict, FALSE);
	ck_assert_int_eq(hooked->calls, 3); /* nobody waits any more */
	idict__store_set_update_hook(dict, NULL, hooked, NULL, NULL);
	idict_notify_update(dict, FALSE);
	ck_assert_int_eq(hooked->calls, 3);
	ck_assert_int_eq(other->calls, 0);
	idict__log_reader_clear(&reader, log);
	hook_data_unref(hooked);
	hook_data_unref(other);
}
END_TEST

/* ---- the suite ---- */


/* ---- changed keys and client writes ---- */

/* Joins a NULL-terminated list with spaces, for comparisons; frees @list. */
static char *joined(char **list)
{
	char *text = g_strjoinv(" ", list);
	g_strfreev(list);
	return text;
}

/* The text a client reading @key gets. */
static char *client_text(IDict *dict, const char *key)
{
	IDictNodeInfo info;
	g_autoptr(GBytes) text = NULL;
	ck_assert_int_eq(idict__view_stat(dict, path_ino(dict, key), &info, &text), 0);
	return g_strndup(g_bytes_get_data(text, NULL), g_bytes_get_size(text));
}

static void assert_list(char **list, const char *expected)
{
	g_autofree char *text = joined(list);
	ck_assert_str_eq(text, expected);
}

START_TEST(test_store_changed_keys)
{
	g_autoptr(IDict) dict = idict_new();
	assert_list(idict_changed_keys(dict), "");
	idict_set_int(dict, "step", 1, NULL);
	idict_set_double(dict, "b/residual", 0.5, NULL);
	idict_set_double(dict, "a", 1, NULL);
	idict_set_double(dict, "a", 2, NULL);
	assert_list(idict_changed_keys(dict), "a b/residual step");
	idict_notify_update(dict, FALSE);
	assert_list(idict_changed_keys(dict), "");

	/* Removed: listed, gone; removed and set again: listed once. */
	idict_remove(dict, "step");
	idict_remove(dict, "a");
	idict_set_double(dict, "a", 3, NULL);
	assert_list(idict_changed_keys(dict), "a step");
	ck_assert(!idict_contains(dict, "step"));
	/* Asking changes nothing: the update still lists them. */
	assert_list(idict_changed_keys(dict), "a step");
	idict_notify_update(dict, FALSE);
	assert_list(idict_changed_keys(dict), "");

	/* A client's write is a change. */
	idict_set_writable(dict, "a", TRUE, NULL);
	idict_notify_update(dict, FALSE);
	ck_assert_int_eq(idict__view_client_write(dict, path_ino(dict, "a"), 0, "4\n", 2), 0);
	assert_list(idict_changed_keys(dict), "a");
}
END_TEST

START_TEST(test_store_take_client_writes_not_held)
{
	g_autoptr(IDict) dict = idict_new();
	idict_set_double(dict, "params/alpha", 0.25, NULL);
	idict_set_double(dict, "params/beta", 1, NULL);
	idict_set_writable(dict, "params/alpha", TRUE, NULL);
	idict_set_writable(dict, "params/beta", TRUE, NULL);
	assert_list(idict_take_client_writes(dict), "");

	guint64 alpha = path_ino(dict, "params/alpha");
	ck_assert_int_eq(idict__view_client_write(dict, alpha, 0, "0.3\n", 4), 0);
	ck_assert_int_eq(idict__view_client_write(dict, path_ino(dict, "params/beta"), 0, "2", 1), 0);
	ck_assert_int_eq(idict__view_client_write(dict, alpha, 0, "0.4\n", 4), 0);
	/* Not held: in force at once. */
	double value = 0;
	ck_assert(idict_get_double(dict, "params/alpha", &value, NULL));
	ck_assert(value == 0.4);
	/* Refused writes are not listed. */
	ck_assert_int_eq(idict__view_client_write(dict, alpha, 0, "x", 1), -EINVAL);
	assert_list(idict_take_client_writes(dict), "params/alpha params/beta");
	assert_list(idict_take_client_writes(dict), "");
	/* Taking does not touch the changes of the next update. */
	assert_list(idict_changed_keys(dict), "params/alpha params/beta");
}
END_TEST

START_TEST(test_store_hold_client_writes)
{
	g_autoptr(IDict) dict = idict_new();
	idict_set_double(dict, "alpha", 0.25, NULL);
	double u[3] = { 1, 2, 3 };
	idict_set_array(dict, "u", u, 3, NULL);
	idict_set_writable(dict, "alpha", TRUE, NULL);
	idict_set_writable(dict, "u", TRUE, NULL);
	idict_hold_client_writes(dict, TRUE);

	ck_assert_int_eq(idict__view_client_write(dict, path_ino(dict, "alpha"), 0, "0.3", 3), 0);
	ck_assert_int_eq(idict__view_client_write(dict, path_ino(dict, "alpha"), 0, "0.4", 3), 0);
	ck_assert_int_eq(idict__view_client_write(dict, path_ino(dict, "u"), 0, "4 5 6", 5), 0);
	/* Clients see their write; the computation the earlier value. */
	g_autofree char *text = client_text(dict, "alpha");
	ck_assert_str_eq(text, "0.4\n");
	double alpha = 0;
	ck_assert(idict_get_double(dict, "alpha", &alpha, NULL));
	ck_assert(alpha == 0.25);
	g_autoptr(GVariant) boxed = idict_get_value(dict, "alpha");
	ck_assert(g_variant_get_double(boxed) == 0.25);
	gsize n = 0;
	g_autofree double *held = idict_dup_array(dict, "u", &n, NULL);
	ck_assert_uint_eq(n, 3);
	ck_assert(held[0] == 1 && held[2] == 3);
	/* ... and the update lists the write. */
	assert_list(idict_changed_keys(dict), "alpha u");

	assert_list(idict_take_client_writes(dict), "alpha u");
	ck_assert(idict_get_double(dict, "alpha", &alpha, NULL));
	ck_assert(alpha == 0.4);
	g_autofree double *taken = idict_dup_array(dict, "u", &n, NULL);
	ck_assert(taken[0] == 4 && taken[2] == 6);

	/* Still held after a take: the next write waits for the next take. */
	ck_assert_int_eq(idict__view_client_write(dict, path_ino(dict, "alpha"), 0, "0.5", 3), 0);
	ck_assert(idict_get_double(dict, "alpha", &alpha, NULL));
	ck_assert(alpha == 0.4);
	/* Turning hold off brings it into force, and keeps it listed. */
	idict_hold_client_writes(dict, FALSE);
	ck_assert(idict_get_double(dict, "alpha", &alpha, NULL));
	ck_assert(alpha == 0.5);
	assert_list(idict_take_client_writes(dict), "alpha");

	/* Held writes pending at idict_free() are freed (ASan checks). */
	idict_hold_client_writes(dict, TRUE);
	ck_assert_int_eq(idict__view_client_write(dict, path_ino(dict, "u"), 0, "7 8 9", 5), 0);
}
END_TEST

START_TEST(test_store_computation_replaces_held_write)
{
	g_autoptr(IDict) dict = idict_new();
	idict_set_double(dict, "alpha", 0.25, NULL);
	idict_set_double(dict, "beta", 1, NULL);
	idict_set_writable(dict, "alpha", TRUE, NULL);
	idict_set_writable(dict, "beta", TRUE, NULL);
	idict_hold_client_writes(dict, TRUE);
	ck_assert_int_eq(idict__view_client_write(dict, path_ino(dict, "alpha"), 0, "0.3", 3), 0);
	ck_assert_int_eq(idict__view_client_write(dict, path_ino(dict, "beta"), 0, "2", 1), 0);
	/* The computation's own value wins, for it and for clients. */
	idict_set_double(dict, "alpha", 0.125, NULL);
	double alpha = 0;
	ck_assert(idict_get_double(dict, "alpha", &alpha, NULL));
	ck_assert(alpha == 0.125);
	g_autofree char *text = client_text(dict, "alpha");
	ck_assert_str_eq(text, "0.125\n");
	/* A removed key is not listed either. */
	ck_assert(idict_remove(dict, "beta"));
	assert_list(idict_take_client_writes(dict), "");
	/* The key keeps its writable flag, and a new write is listed again. */
	ck_assert_int_eq(idict__view_client_write(dict, path_ino(dict, "alpha"), 0, "0.2", 3), 0);
	assert_list(idict_take_client_writes(dict), "alpha");
	ck_assert(idict_get_double(dict, "alpha", &alpha, NULL));
	ck_assert(alpha == 0.2);
}
END_TEST


START_TEST(test_store_dict_operations_see_held_writes)
{
	g_autoptr(IDict) dict = idict_new();
	idict_set_double(dict, "a", 1, NULL);
	idict_set_double(dict, "b", 2, NULL);
	idict_set_double(dict, "c", 3, NULL);
	idict_set_writable(dict, "a", TRUE, NULL);
	idict_set_writable(dict, "b", TRUE, NULL);
	idict_set_writable(dict, "c", TRUE, NULL);
	idict_hold_client_writes(dict, TRUE);
	ck_assert_int_eq(idict__view_client_write(dict, path_ino(dict, "a"), 0, "10", 2), 0);
	ck_assert_int_eq(idict__view_client_write(dict, path_ino(dict, "b"), 0, "20", 2), 0);
	ck_assert_int_eq(idict__view_client_write(dict, path_ino(dict, "c"), 0, "30", 2), 0);
	/* copy, set_default and pop are the computation's: they see what it sees. */
	g_autoptr(IDict) copy = idict_copy(dict);
	double value = 0;
	ck_assert(idict_get_double(copy, "a", &value, NULL) && value == 1);
	g_autoptr(GVariant) dflt = idict_set_default(dict, "a", g_variant_new_double(5), NULL);
	ck_assert(dflt && g_variant_get_double(dflt) == 1);
	g_autoptr(GVariant) popped = idict_pop(dict, "c");
	ck_assert(popped && g_variant_get_double(popped) == 3);
	/* update stores the computation's value: it replaces the held write. */
	g_autoptr(IDict) other = idict_new();
	idict_set_double(other, "b", 7, NULL);
	ck_assert(idict_update(dict, other, NULL));
	ck_assert(idict_get_double(dict, "b", &value, NULL) && value == 7);
	assert_list(idict_take_client_writes(dict), "a");
	ck_assert(idict_get_double(dict, "a", &value, NULL) && value == 10);
}
END_TEST

/* ---- walks: listings and snapshots from one moment ---- */

#define WALK_KEYS 1000 /* several chunks of a walk */

/* The computation's change between two chunks of a walk, made once: what
 * the walk must not see. */
typedef struct {
	int kind;
	gboolean done;
} WalkChange;

enum {
	CHANGE_SWAP_BATCH,   /* remove a0000..a0999, create b0000..b0999, in one update */
	CHANGE_VALUES,       /* every k0000..k0999 to 2 */
	CHANGE_REMOVE_DIR,   /* remove every key of d/ (so d/ itself) */
	CHANGE_RECREATE,     /* remove k0999 and set it again, a new key */
	CHANGE_RAW,          /* r0999 from an array to a double */
	CHANGE_HISTORY,      /* h0999 gets a history */
	CHANGE_WRITABLE,     /* k0999 becomes writable */
	CHANGE_CLEAR,        /* idict_clear(), then k0000 set again */
	CHANGE_UPDATE,       /* idict_update() from a dictionary of new values and keys */
};

static void walk_change(IDict *dict, gpointer data)
{
	WalkChange *change = data;
	if (change->done)
		return;
	change->done = TRUE;
	char key[32];
	idict_lock(dict);
	for (guint i = 0; i < WALK_KEYS; i++) {
		switch (change->kind) {
		case CHANGE_SWAP_BATCH:
			g_snprintf(key, sizeof key, "a%04u", i);
			ck_assert(idict_remove(dict, key));
			g_snprintf(key, sizeof key, "b%04u", i);
			ck_assert(idict_set_int(dict, key, 1, NULL));
			break;
		case CHANGE_VALUES:
			g_snprintf(key, sizeof key, "k%04u", i);
			ck_assert(idict_set_int(dict, key, 2, NULL));
			break;
		case CHANGE_REMOVE_DIR:
			g_snprintf(key, sizeof key, "d/k%04u", i);
			ck_assert(idict_remove(dict, key));
			break;
		default:
			break;
		}
	}
	if (change->kind == CHANGE_RECREATE) {
		ck_assert(idict_remove(dict, "k0999"));
		ck_assert(idict_set_int(dict, "k0999", 3, NULL));
	} else if (change->kind == CHANGE_RAW) {
		ck_assert(idict_set_double(dict, "r0999", 1, NULL));
	} else if (change->kind == CHANGE_HISTORY) {
		ck_assert(idict_set_history(dict, "h0999", 4, NULL));
	} else if (change->kind == CHANGE_WRITABLE) {
		ck_assert(idict_set_writable(dict, "k0999", TRUE, NULL));
	} else if (change->kind == CHANGE_CLEAR) {
		idict_clear(dict);
		ck_assert(idict_set_int(dict, "k0000", 5, NULL));
	} else if (change->kind == CHANGE_UPDATE) {
		g_autoptr(IDict) other = idict_new();
		for (guint i = 0; i < WALK_KEYS; i++) {
			g_snprintf(key, sizeof key, "k%04u", i);
			ck_assert(idict_set_int(other, key, 7, NULL));
			g_snprintf(key, sizeof key, "n%04u", i);
			ck_assert(idict_set_int(other, key, 7, NULL));
		}
		ck_assert(idict_update(dict, other, NULL));
	}
	idict_unlock(dict);
	idict_notify_update(dict, FALSE);
}

static IDict *dict_with(const char *prefix, guint n)
{
	IDict *dict = idict_new();
	char key[32];
	const double one[] = { 1 };
	for (guint i = 0; i < n; i++) {
		g_snprintf(key, sizeof key, "%s%04u", prefix, i);
		if (prefix[0] == 'r')
			ck_assert(idict_set_array(dict, key, one, 1, NULL));
		else
			ck_assert(idict_set_int(dict, key, 1, NULL));
	}
	idict_notify_update(dict, FALSE);
	return dict;
}

/* The names a listing of @ino in @view gives, as one string, or NULL with
 * *@err. */
static char *walk_listing(IDict *dict, IDictView view, guint64 ino, IDictClients *clients,
			  int *err)
{
	gsize charged = 0;
	g_autoptr(GPtrArray) entries = idict__view_walk_dir(dict, view, ino, clients, &charged, err);
	if (entries == NULL)
		return NULL;
	GString *out = g_string_new(NULL);
	for (guint i = 0; i < entries->len; i++)
		g_string_append_printf(out, "%s%s", i ? " " : "",
				       ((IDictTreeEntry *)entries->pdata[i])->name);
	idict__clients_unreserve(clients, charged);
	return g_string_free(out, FALSE);
}

/* Asserts that listings @got and @want are equal, showing their start. */
#define assert_listing(got, want)                                                        \
	ck_assert_msg(strcmp((got), (want)) == 0, "listed \"%.60s...\", expected \"%.60s...\"", \
		      (got), (want))

/* What a listing of @n keys named PREFIX0000... looks like. */
static char *expected_names(const char *prefix, guint n)
{
	GString *out = g_string_new(NULL);
	for (guint i = 0; i < n; i++)
		g_string_append_printf(out, "%s%s%04u", i ? " " : "", prefix, i);
	return g_string_free(out, FALSE);
}

/* A batch removed and another created while the root is listed: the
 * listing is the one before the change, all of it; the next, all after. */
START_TEST(test_store_walk_listing_one_moment)
{
	g_autoptr(IDict) dict = dict_with("a", WALK_KEYS);
	WalkChange change = { CHANGE_SWAP_BATCH, FALSE };
	idict__tree_set_walk_hook(dict, walk_change, &change);
	guint64 records = idict__tree_undo_records(dict);
	int err = 1;
	g_autofree char *during = walk_listing(dict, IDICT__VIEW_KEYS, IDICT__INO_ROOT, NULL, &err);
	ck_assert_int_eq(err, 0);
	ck_assert(change.done);
	g_autofree char *before = expected_names("a", WALK_KEYS);
	assert_listing(during, before);
	ck_assert_uint_gt(idict__tree_undo_records(dict), records);
	g_autofree char *after = walk_listing(dict, IDICT__VIEW_KEYS, IDICT__INO_ROOT, NULL, &err);
	g_autofree char *now = expected_names("b", WALK_KEYS);
	assert_listing(after, now);
}
END_TEST

/* A snapshot taken by a walk: its entries (a{s(vb)}) and sequence number. */
typedef struct {
	GVariant *entries;
	guint64 sequence;
} Snap;

static Snap walk_snapshot(IDict *dict, IDictClients *clients, int *err)
{
	Snap snap = { NULL, 0 };
	gsize charged = 0;
	IDictTreeStatus status = IDICT__TREE_OK;
	snap.entries = idict__tree_capture(dict, idict__clients_budget(clients), &snap.sequence, &charged, &status);
	*err = idict__view_errno(status);
	idict__clients_unreserve(clients, charged);
	return snap;
}

static guint snap_n(const Snap *snap)
{
	return (guint)g_variant_n_children(snap->entries);
}

/* Entry @i: its key (transfer none), value (an int64 here) and flag. */
static const char *snap_entry(const Snap *snap, guint i, gint64 *value, gboolean *writable)
{
	const char *key;
	g_autoptr(GVariant) inner = NULL; /* "v" gives the value inside */
	gboolean w;
	g_variant_get_child(snap->entries, i, "{&s(vb)}", &key, &inner, &w);
	if (value)
		*value = g_variant_get_int64(inner);
	if (writable)
		*writable = w;
	return key;
}

/* A snapshot taken while every value changes holds the old values. */
START_TEST(test_store_walk_snapshot_one_moment)
{
	g_autoptr(IDict) dict = dict_with("k", WALK_KEYS);
	WalkChange change = { CHANGE_VALUES, FALSE };
	idict__tree_set_walk_hook(dict, walk_change, &change);
	int err = 1;
	Snap snap = walk_snapshot(dict, NULL, &err);
	ck_assert_ptr_nonnull(snap.entries);
	ck_assert_int_eq(err, 0);
	ck_assert(change.done);
	ck_assert_uint_eq(snap_n(&snap), WALK_KEYS);
	ck_assert_uint_eq(snap.sequence, 1);
	for (guint i = 0; i < snap_n(&snap); i++) {
		char key[32];
		gint64 value = 0;
		g_snprintf(key, sizeof key, "k%04u", i);
		ck_assert_str_eq(snap_entry(&snap, i, &value, NULL), key);
		ck_assert_int_eq(value, 1);
	}
	g_variant_unref(snap.entries);
	snap = walk_snapshot(dict, NULL, &err);
	for (guint i = 0; i < snap_n(&snap); i++) {
		gint64 value = 0;
		snap_entry(&snap, i, &value, NULL);
		ck_assert_int_eq(value, 2);
	}
	ck_assert_uint_eq(snap.sequence, 2);
	g_variant_unref(snap.entries);
}
END_TEST

/* A key removed and created again during a snapshot: the old value, once;
 * a key made writable: the flag as it was. */
START_TEST(test_store_walk_snapshot_recreated)
{
	static const int kinds[] = { CHANGE_RECREATE, CHANGE_WRITABLE };
	for (gsize k = 0; k < G_N_ELEMENTS(kinds); k++) {
		g_autoptr(IDict) dict = dict_with("k", WALK_KEYS);
		WalkChange change = { kinds[k], FALSE };
		idict__tree_set_walk_hook(dict, walk_change, &change);
		int err = 1;
		Snap snap = walk_snapshot(dict, NULL, &err);
		ck_assert(change.done);
		ck_assert_uint_eq(snap_n(&snap), WALK_KEYS);
		gint64 value = 0;
		gboolean writable = TRUE;
		ck_assert_str_eq(snap_entry(&snap, WALK_KEYS - 1, &value, &writable), "k0999");
		ck_assert_int_eq(value, 1);
		ck_assert(!writable);
		g_variant_unref(snap.entries);
	}
}
END_TEST

/* idict_clear() and idict_update() while a listing and a snapshot are
 * taken: each shows all of the dictionary before, none of the change. */
START_TEST(test_store_walk_clear_update)
{
	static const int kinds[] = { CHANGE_CLEAR, CHANGE_UPDATE };
	for (gsize k = 0; k < G_N_ELEMENTS(kinds); k++) {
		for (int snapshot = 0; snapshot < 2; snapshot++) {
			g_autoptr(IDict) dict = dict_with("k", WALK_KEYS);
			WalkChange change = { kinds[k], FALSE };
			idict__tree_set_walk_hook(dict, walk_change, &change);
			int err = 1;
			if (snapshot) {
				Snap snap = walk_snapshot(dict, NULL, &err);
				ck_assert(change.done);
				ck_assert_uint_eq(snap_n(&snap), WALK_KEYS);
				for (guint i = 0; i < snap_n(&snap); i++) {
					gint64 value = 0;
					ck_assert_int_eq(snap_entry(&snap, i, &value, NULL)[0], 'k');
					ck_assert_int_eq(value, 1);
				}
				g_variant_unref(snap.entries);
			} else {
				g_autofree char *during =
					walk_listing(dict, IDICT__VIEW_KEYS, IDICT__INO_ROOT, NULL, &err);
				ck_assert(change.done);
				g_autofree char *before = expected_names("k", WALK_KEYS);
				assert_listing(during, before);
			}
		}
	}
}
END_TEST

/* A directory emptied (so removed) while it is listed: listed as it was. */
START_TEST(test_store_walk_listing_dir_removed)
{
	g_autoptr(IDict) dict = dict_with("d/k", WALK_KEYS);
	guint64 d = path_ino(dict, "d");
	WalkChange change = { CHANGE_REMOVE_DIR, FALSE };
	idict__tree_set_walk_hook(dict, walk_change, &change);
	int err = 1;
	g_autofree char *during = walk_listing(dict, IDICT__VIEW_KEYS, d, NULL, &err);
	ck_assert(change.done);
	g_autofree char *before = expected_names("k", WALK_KEYS);
	assert_listing(during, before);
	ck_assert_ptr_null(walk_listing(dict, IDICT__VIEW_KEYS, d, NULL, &err));
	ck_assert_int_eq(err, -ENOENT);
}
END_TEST

/* raw/ and history/ listings while what they show changes. */
START_TEST(test_store_walk_listing_views)
{
	g_autoptr(IDict) raw = dict_with("r", WALK_KEYS);
	WalkChange change = { CHANGE_RAW, FALSE };
	idict__tree_set_walk_hook(raw, walk_change, &change);
	int err = 1;
	g_autofree char *during = walk_listing(raw, IDICT__VIEW_RAW, IDICT__INO_ROOT, NULL, &err);
	ck_assert(change.done);
	g_autofree char *all = expected_names("r", WALK_KEYS);
	assert_listing(during, all);
	g_autofree char *after = walk_listing(raw, IDICT__VIEW_RAW, IDICT__INO_ROOT, NULL, &err);
	ck_assert(!g_str_has_suffix(after, "r0999"));

	g_autoptr(IDict) hist = dict_with("h", WALK_KEYS);
	change = (WalkChange){ CHANGE_HISTORY, FALSE };
	idict__tree_set_walk_hook(hist, walk_change, &change);
	g_autofree char *none = walk_listing(hist, IDICT__VIEW_HISTORY, IDICT__INO_ROOT, NULL, &err);
	ck_assert(change.done);
	ck_assert_str_eq(none, "");
	g_autofree char *one = walk_listing(hist, IDICT__VIEW_HISTORY, IDICT__INO_ROOT, NULL, &err);
	ck_assert_str_eq(one, "h0999");
}
END_TEST

/* Undo records count against the clients' cap: a walk whose records would
 * pass it fails with ENOMEM and leaves nothing counted. */
START_TEST(test_store_walk_over_cap)
{
	g_autoptr(IDict) dict = idict_new();
	g_autofree double *big = g_new0(double, 100000);
	char key[32];
	for (guint i = 0; i < WALK_KEYS; i++) {
		g_snprintf(key, sizeof key, "k%04u", i);
		ck_assert(idict_set_array(dict, key, big, i % 100 == 99 ? 100000 : 1, NULL));
	}
	IDictClients *clients = idict__clients_new(2 << 20); /* 10 old 800 KB arrays do not fit */
	WalkChange change = { CHANGE_VALUES, FALSE };
	/* CHANGE_VALUES sets ints: every old array is recorded. */
	idict__tree_set_walk_hook(dict, walk_change, &change);
	IDictTreeStatus err = IDICT__TREE_OK;
	guint64 sequence = 0;
	gsize charged = 0;
	GVariant *entries = idict__tree_capture(dict, idict__clients_budget(clients), &sequence, &charged, &err);
	ck_assert_ptr_null(entries);
	ck_assert_int_eq(err, IDICT__TREE_OVER_CAP);
	ck_assert_uint_eq(idict__clients_used(clients), 0);
	/* Without the change it fits, counted until released. */
	entries = idict__tree_capture(dict, idict__clients_budget(clients), &sequence, &charged, &err);
	ck_assert_ptr_nonnull(entries);
	ck_assert_uint_gt(idict__clients_used(clients), 0);
	ck_assert_uint_eq(idict__clients_used(clients), charged);
	idict__clients_unreserve(clients, charged);
	g_variant_unref(entries);
	idict__clients_free(clients);
}
END_TEST

typedef struct {
	IDict *dict;
	gint stop;
	guint swaps;
} Swapper;

/* Swaps batch a for batch b and back, each in one update, until told. */
static gpointer swapper_main(gpointer data)
{
	Swapper *s = data;
	char key[32];
	while (!g_atomic_int_get(&s->stop)) {
		const char *from = s->swaps % 2 ? "b" : "a", *to = s->swaps % 2 ? "a" : "b";
		idict_lock(s->dict);
		for (guint i = 0; i < WALK_KEYS; i++) {
			g_snprintf(key, sizeof key, "%s%04u", from, i);
			idict_remove(s->dict, key);
			g_snprintf(key, sizeof key, "%s%04u", to, i);
			idict_set_int(s->dict, key, (gint64)s->swaps, NULL);
		}
		idict_unlock(s->dict);
		idict_notify_update(s->dict, FALSE);
		s->swaps++;
		g_usleep(200); /* a computation between two updates */
	}
	return NULL;
}

/* Listings and snapshots taken while another thread keeps swapping one
 * batch of keys for another: each shows one batch whole, never a mix. */
START_TEST(test_store_walk_concurrent)
{
	g_autoptr(IDict) dict = dict_with("a", WALK_KEYS);
	Swapper swapper = { dict, 0, 0 };
	GThread *thread = g_thread_new("swapper", swapper_main, &swapper);
	g_autofree char *all_a = expected_names("a", WALK_KEYS);
	g_autofree char *all_b = expected_names("b", WALK_KEYS);
	guint64 records = idict__tree_undo_records(dict);
	for (guint round = 0; round < 100; round++) {
		int err = 1;
		g_autofree char *names = walk_listing(dict, IDICT__VIEW_KEYS, IDICT__INO_ROOT, NULL, &err);
		ck_assert_int_eq(err, 0);
		ck_assert_msg(strcmp(names, all_a) == 0 || strcmp(names, all_b) == 0,
			      "a listing mixes two moments: %.60s...", names);
		Snap snap = walk_snapshot(dict, NULL, &err);
		ck_assert_uint_eq(snap_n(&snap), WALK_KEYS);
		gint64 first = 0;
		char first_key = snap_entry(&snap, 0, &first, NULL)[0];
		for (guint i = 0; i < snap_n(&snap); i++) {
			gint64 value = 0;
			ck_assert_int_eq(snap_entry(&snap, i, &value, NULL)[0], first_key);
			ck_assert_int_eq(value, first);
		}
		g_variant_unref(snap.entries);
	}
	g_atomic_int_set(&swapper.stop, 1);
	g_thread_join(thread);
	ck_assert_uint_gt(swapper.swaps, 0);
	if (idict__tree_undo_records(dict) == records)
		g_message("test_store_walk_concurrent: no swap fell inside a walk this time");
}
END_TEST

static Suite *store_suite(void)
{
	Suite *suite = suite_create("store");

	TCase *tc = tcase_create("values");
	tcase_add_test(tc, test_store_new_is_empty);
	tcase_add_test(tc, test_store_set_get_double);
	tcase_add_test(tc, test_store_set_get_int);
	tcase_add_test(tc, test_store_set_get_bool);
	tcase_add_test(tc, test_store_set_get_string);
	tcase_add_test(tc, test_store_set_string_invalid_utf8);
	tcase_add_test(tc, test_store_set_get_array);
	tcase_add_test(tc, test_store_set_get_matrix);
	tcase_add_test(tc, test_store_matrix_without_columns);
	tcase_add_test(tc, test_store_dup_matrix_ragged);
	tcase_add_test(tc, test_store_set_value_other_type);
	tcase_add_test(tc, test_store_setter_replaces_type);
	tcase_add_loop_test(tc, test_store_wrong_type, 0, N_GETTERS);
	tcase_add_loop_test(tc, test_store_not_found, 0, N_GETTERS);
	tcase_add_test(tc, test_store_dup_returns_copies);
	tcase_add_test(tc, test_store_get_value_is_reference);
	tcase_add_test(tc, test_store_set_value_floating_sunk);
	tcase_add_test(tc, test_store_set_value_keeps_reference);
	tcase_add_test(tc, test_store_bad_name_refused);
	tcase_add_test(tc, test_store_contains_remove_size);
	tcase_add_test(tc, test_store_keys_sorted);
	suite_add_tcase(suite, tc);

	tc = tcase_create("tree");
	tcase_add_test(tc, test_store_conflict_key_then_dir);
	tcase_add_test(tc, test_store_conflict_dir_then_key);
	tcase_add_test(tc, test_store_conflict_is_not_a_change);
	tcase_add_test(tc, test_store_remove_prunes_dirs);
	tcase_add_test(tc, test_store_lookup_and_list);
	tcase_add_test(tc, test_store_raw_view_shows_arrays_and_their_directories);
	tcase_add_test(tc, test_store_parent);
	tcase_add_test(tc, test_store_inode_stable);
	tcase_add_test(tc, test_store_inode_not_reused);
	tcase_add_loop_test(tc, test_store_stat_size, 0, G_N_ELEMENTS(write_cases));
	tcase_add_test(tc, test_store_stat_dir);
	tcase_add_test(tc, test_store_dir_nlink);
	suite_add_tcase(suite, tc);

	tc = tcase_create("walks");
	tcase_add_test(tc, test_store_walk_listing_one_moment);
	tcase_add_test(tc, test_store_walk_snapshot_one_moment);
	tcase_add_test(tc, test_store_walk_snapshot_recreated);
	tcase_add_test(tc, test_store_walk_listing_dir_removed);
	tcase_add_test(tc, test_store_walk_clear_update);
	tcase_add_test(tc, test_store_walk_listing_views);
	tcase_add_test(tc, test_store_walk_over_cap);
	tcase_add_test(tc, test_store_walk_concurrent);
	tcase_set_timeout(tc, 6 * DEADLOCK_LIMIT_S);
	suite_add_tcase(suite, tc);

	tc = tcase_create("client_write");
	tcase_add_test(tc, test_store_write_readonly);
	tcase_add_test(tc, test_store_write_not_a_key);
	tcase_add_loop_test(tc, test_store_write_bad_text, 0, G_N_ELEMENTS(write_cases));
	tcase_add_loop_test(tc, test_store_write_accepted, 0, G_N_ELEMENTS(write_cases));
	tcase_add_test(tc, test_store_write_shape);
	tcase_add_test(tc, test_store_write_check);
	tcase_add_test(tc, test_store_check_destroy);
	tcase_set_timeout(tc, 2 * DEADLOCK_LIMIT_S);
	suite_add_tcase(suite, tc);

	tc = tcase_create("lock");
	tcase_add_test(tc, test_store_lock_recursive);
	tcase_add_test(tc, test_store_lock_blocks_readers);
	tcase_set_timeout(tc, 2 * DEADLOCK_LIMIT_S);
	suite_add_tcase(suite, tc);

	tc = tcase_create("control");
	tcase_add_test(tc, test_store_control_flags);
	tcase_add_test(tc, test_store_wait_not_paused);
	tcase_add_test(tc, test_store_wait_timeout);
	tcase_add_test(tc, test_store_wait_terminated);
	tcase_add_loop_test(tc, test_store_wait_woken, 0, 2);
	tcase_add_test(tc, test_store_wait_infinite_timeout);
	tcase_add_test(tc, test_store_status_states);
	tcase_add_test(tc, test_store_status_finished_without_terminate);
	tcase_set_timeout(tc, 2 * DEADLOCK_LIMIT_S);
	suite_add_tcase(suite, tc);

	tc = tcase_create("updates");
	tcase_add_test(tc, test_store_sequence);
	tcase_add_test(tc, test_store_update_lines);
	tcase_add_test(tc, test_store_update_lines_remove_and_many);
	tcase_add_test(tc, test_store_mtime_is_the_publishing_update);
	tcase_add_test(tc, test_store_notify_from_threads_with_callbacks);
	tcase_add_test(tc, test_store_callback_args);
	tcase_add_test(tc, test_store_callback_lock_not_held);
	tcase_add_test(tc, test_store_remove_callback);
	tcase_add_test(tc, test_store_remove_callback_inside);
	tcase_add_test(tc, test_store_add_callback_inside);
	tcase_add_test(tc, test_store_update_hook);
	tcase_set_timeout(tc, 2 * DEADLOCK_LIMIT_S);
	suite_add_tcase(suite, tc);

	tc = tcase_create("changes_and_client_writes");
	tcase_add_test(tc, test_store_changed_keys);
	tcase_add_test(tc, test_store_take_client_writes_not_held);
	tcase_add_test(tc, test_store_hold_client_writes);
	tcase_add_test(tc, test_store_computation_replaces_held_write);
	tcase_add_test(tc, test_store_dict_operations_see_held_writes);
	suite_add_tcase(suite, tc);

	return suite;
}

int main(void)
{
	return tu_run_suite(store_suite());
}
