/* test_checkpoint.c - idict_save() / idict_load(): round trips, damaged
 * files refused, and the crash window: a process killed while saving leaves
 * the previous checkpoint or the new one, whole, and no temporary file
 * survives the next save.
 */
#include "checkpoint.h"
#include "fs_view.h"
#include "testutil.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

static char *tmpdir;

static void dir_setup(void)
{
	tmpdir = g_dir_make_tmp("idict-checkpoint-XXXXXX", NULL);
	ck_assert_ptr_nonnull(tmpdir);
}

static void dir_teardown(void)
{
	g_autoptr(GDir) dir = g_dir_open(tmpdir, 0, NULL);
	const char *name;
	while (dir && (name = g_dir_read_name(dir)) != NULL) {
		g_autofree char *p = g_build_filename(tmpdir, name, NULL);
		unlink(p);
	}
	rmdir(tmpdir);
	g_clear_pointer(&tmpdir, g_free);
}

static char *tmp_path(const char *name)
{
	return g_build_filename(tmpdir, name, NULL);
}

START_TEST(test_checkpoint_round_trip)
{
	g_autoptr(IDict) dict = idict_new();
	const double u[] = { 0.1, -0.0, 1e300 };
	const double m[] = { 1, 2, 3, 4 };
	ck_assert(idict_set_double(dict, "residual", 0.1, NULL));
	ck_assert(idict_set_int(dict, "step", G_MININT64, NULL));
	ck_assert(idict_set_bool(dict, "done", TRUE, NULL));
	ck_assert(idict_set_string(dict, "message", "héllo\nworld", NULL));
	ck_assert(idict_set_array(dict, "u", u, 3, NULL));
	ck_assert(idict_set_array(dict, "empty", NULL, 0, NULL));
	ck_assert(idict_set_matrix(dict, "m", m, 2, 2, NULL));
	ck_assert(idict_set_value(dict, "other/pair", g_variant_new("(is)", 7, "x"), NULL));
	ck_assert(idict_set_double(dict, "params/alpha", 0.25, NULL));
	ck_assert(idict_set_writable(dict, "params/alpha", TRUE, NULL));
	g_autofree char *path = tmp_path("run.ckpt");
	g_autoptr(GError) error = NULL;
	ck_assert(idict_save(dict, path, &error));
	tu_assert_no_error(error);

	g_autoptr(IDict) back = idict_load(path, &error);
	tu_assert_no_error(error);
	ck_assert_ptr_nonnull(back);
	g_auto(GStrv) keys = idict_keys(dict);
	g_auto(GStrv) back_keys = idict_keys(back);
	ck_assert_uint_eq(g_strv_length(keys), g_strv_length(back_keys));
	for (char **k = keys; *k; k++) {
		g_autoptr(GVariant) a = idict_get_value(dict, *k);
		g_autoptr(GVariant) b = idict_get_value(back, *k);
		ck_assert_msg(b != NULL && g_variant_equal(a, b), "key %s differs", *k);
	}
	/* The writable flag comes back, and only where it was set. */
	ck_assert_int_eq(idict__view_client_write(back, 0, 0, "x", 1), -ENOENT);
	IDictNodeInfo info;
	ck_assert_int_eq(idict__view_lookup(back, IDICT__VIEW_KEYS, IDICT__INO_ROOT, "params", &info), 0);
	IDictNodeInfo alpha;
	ck_assert_int_eq(idict__view_lookup(back, IDICT__VIEW_KEYS, info.ino, "alpha", &alpha), 0);
	ck_assert(alpha.writable);
	IDictNodeInfo residual;
	ck_assert_int_eq(idict__view_lookup(back, IDICT__VIEW_KEYS, IDICT__INO_ROOT, "residual", &residual), 0);
	ck_assert(!residual.writable);
	ck_assert_uint_eq(idict_sequence(back), 0);
}
END_TEST

static const struct {
	const char *name;
	const char *data;
	gssize len;
} bad_files[] = {
	{ "empty", "", 0 },
	{ "garbage", "this is not a checkpoint\n", -1 },
	{ "binary", "\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f", 15 },
};

START_TEST(test_checkpoint_refuses_foreign_files)
{
	g_autofree char *path = tmp_path(bad_files[_i].name);
	ck_assert(g_file_set_contents(path, bad_files[_i].data, bad_files[_i].len, NULL));
	g_autoptr(GError) error = NULL;
	IDict *dict = idict_load(path, &error);
	ck_assert_ptr_null(dict);
	tu_assert_error(error, IDICT_ERROR, IDICT_ERROR_FAILED);
}
END_TEST

START_TEST(test_checkpoint_refuses_damage)
{
	/* Every truncation and many bit flips of a real checkpoint: refused
	 * or loaded, never a crash (run under ASan/UBSan too). */
	g_autoptr(IDict) dict = idict_new();
	const double u[] = { 1, 2, 3 };
	ck_assert(idict_set_array(dict, "u", u, 3, NULL));
	ck_assert(idict_set_string(dict, "s", "text", NULL));
	g_autofree char *path = tmp_path("good");
	ck_assert(idict_save(dict, path, NULL));
	g_autofree char *data = NULL;
	gsize len = 0;
	ck_assert(g_file_get_contents(path, &data, &len, NULL));
	g_autofree char *damaged = tmp_path("damaged");
	for (gsize cut = 0; cut < len; cut++) {
		ck_assert(g_file_set_contents(damaged, data, (gssize)cut, NULL));
		IDict *d = idict_load(damaged, NULL);
		idict_free(d);
	}
	g_autoptr(GRand) rand = g_rand_new_with_seed(42);
	for (int i = 0; i < 500; i++) {
		g_autofree char *copy = g_memdup2(data, len);
		copy[g_rand_int_range(rand, 0, (gint32)len)] ^= (char)(1 << g_rand_int_range(rand, 0, 8));
		ck_assert(g_file_set_contents(damaged, copy, (gssize)len, NULL));
		IDict *d = idict_load(damaged, NULL);
		idict_free(d);
	}
}
END_TEST

/* Writes @len bytes of @data into the existing file @path in place, as cp
 * does (same inode, truncated first). */
static void overwrite_in_place(const char *path, const char *data, gsize len)
{
	int fd = open(path, O_WRONLY | O_TRUNC);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
	ck_assert_int_eq(close(fd), 0);
}

static void assert_values(IDict *dict, double first, const char *text)
{
	gsize n = 0;
	g_autofree double *u = idict_dup_array(dict, "u", &n, NULL);
	ck_assert_uint_eq(n, 4096);
	for (gsize i = 0; i < n; i++)
		ck_assert_msg(u[i] == first + (double)i, "u[%zu] is %g", i, u[i]);
	g_autofree char *s = idict_dup_string(dict, "s", NULL);
	ck_assert_str_eq(s, text);
	g_autoptr(GVariant) pair = idict_get_value(dict, "pair");
	g_autoptr(GVariant) expected = g_variant_ref_sink(g_variant_new("(ds)", first, text));
	ck_assert(g_variant_equal(pair, expected));
}

static void fill_values(IDict *dict, double first, const char *text)
{
	double u[4096];
	for (gsize i = 0; i < G_N_ELEMENTS(u); i++)
		u[i] = first + (double)i;
	ck_assert(idict_set_array(dict, "u", u, G_N_ELEMENTS(u), NULL));
	ck_assert(idict_set_string(dict, "s", text, NULL));
	ck_assert(idict_set_value(dict, "pair", g_variant_new("(ds)", first, text), NULL));
}

/* A loaded dictionary owns its values: the checkpoint replaced in place
 * (cp), truncated or deleted after the load changes nothing and kills
 * nothing (it was an mmap of the file: new values with no update, SIGBUS). */
START_TEST(test_checkpoint_load_owns_values)
{
	g_autofree char *path = tmp_path("run.ckpt");
	g_autoptr(IDict) first = idict_new();
	fill_values(first, 1, "first text");
	ck_assert(idict_save(first, path, NULL));
	g_autoptr(IDict) other = idict_new();
	fill_values(other, 1000, "other text");
	g_autoptr(GBytes) other_data = idict__checkpoint_serialize(other);

	g_autoptr(GError) error = NULL;
	g_autoptr(IDict) loaded = idict_load(path, &error);
	tu_assert_no_error(error);
	overwrite_in_place(path, g_bytes_get_data(other_data, NULL), g_bytes_get_size(other_data));
	assert_values(loaded, 1, "first text");
	ck_assert_int_eq(truncate(path, 0), 0);
	assert_values(loaded, 1, "first text");
	ck_assert_int_eq(unlink(path), 0);
	assert_values(loaded, 1, "first text");
	g_autoptr(GBytes) again = idict__checkpoint_serialize(loaded);
	ck_assert_uint_gt(g_bytes_get_size(again), 4096 * sizeof(double));
}
END_TEST

/* Only a regular file is read: a FIFO with no writer would block the
 * load for ever, /dev/zero would grow it until it is killed. */
START_TEST(test_checkpoint_refuses_special_files)
{
	g_autofree char *fifo = tmp_path("fifo");
	ck_assert_int_eq(mkfifo(fifo, 0600), 0);
	const char *paths[] = { fifo, "/dev/zero", "/dev/null", tmpdir };
	for (guint i = 0; i < G_N_ELEMENTS(paths); i++) {
		g_autoptr(GError) error = NULL;
		ck_assert_ptr_null(idict_load(paths[i], &error));
		tu_assert_error(error, IDICT_ERROR, IDICT_ERROR_FAILED);
		ck_assert_msg(strstr(error->message, "not a regular file") != NULL, "%s: %s",
			      paths[i], error->message);
	}
}
END_TEST

START_TEST(test_checkpoint_missing_file)
{
	g_autofree char *path = tmp_path("nonexistent");
	g_autoptr(GError) error = NULL;
	ck_assert_ptr_null(idict_load(path, &error));
	tu_assert_error(error, IDICT_ERROR, IDICT_ERROR_FAILED);
	g_autoptr(IDict) dict = idict_new();
	g_autofree char *bad = g_build_filename(tmpdir, "no", "such", "dir", NULL);
	g_clear_error(&error);
	ck_assert(!idict_save(dict, bad, &error));
	tu_assert_error(error, IDICT_ERROR, IDICT_ERROR_FAILED);
}
END_TEST

/* Fills @dict with a recognizable state @which (0 or 1) of about 2 MB. */
static void fill_state(IDict *dict, int which)
{
	gsize n = 256 * 1024;
	g_autofree double *values = g_new(double, n);
	for (gsize i = 0; i < n; i++)
		values[i] = which;
	idict_lock(dict);
	idict_set_array(dict, "field", values, n, NULL);
	idict_set_int(dict, "state", which, NULL);
	idict_unlock(dict);
}

/* Returns: the state of a loaded checkpoint, -1 if inconsistent. */
static int state_of(IDict *dict)
{
	gint64 state = -1;
	ck_assert(idict_get_int(dict, "state", &state, NULL));
	gsize n = 0;
	g_autofree double *values = idict_dup_array(dict, "field", &n, NULL);
	ck_assert_uint_eq(n, 256 * 1024);
	for (gsize i = 0; i < n; i++)
		if (values[i] != (double)state)
			return -1;
	return (int)state;
}

/* Returns: (transfer full) (nullable): the names of the files beside
 * @path in its directory, NULL if none. */
static char *other_files(const char *path)
{
	g_autofree char *dirname = g_path_get_dirname(path);
	g_autofree char *base = g_path_get_basename(path);
	g_autoptr(GDir) dir = g_dir_open(dirname, 0, NULL);
	ck_assert_ptr_nonnull(dir);
	GString *names = NULL;
	const char *name;
	while ((name = g_dir_read_name(dir)) != NULL) {
		if (strcmp(name, base) == 0)
			continue;
		if (names == NULL)
			names = g_string_new(name);
		else
			g_string_append_printf(names, " %s", name);
	}
	return names ? g_string_free(names, FALSE) : NULL;
}

START_TEST(test_checkpoint_crash_while_saving)
{
	g_autofree char *path = tmp_path("run.ckpt");
	g_autoptr(IDict) first = idict_new();
	fill_state(first, 0);
	ck_assert(idict_save(first, path, NULL));
	g_autoptr(GRand) rand = g_rand_new_with_seed(7);
	int seen[2] = { 0, 0 };
	for (int round = 0; round < 20; round++) {
		pid_t pid = fork();
		ck_assert_int_ge(pid, 0);
		if (pid == 0) {
			IDict *dict = idict_new();
			for (int i = 1;; i++) {
				fill_state(dict, i % 2);
				idict_save(dict, path, NULL);
			}
		}
		g_usleep((gulong)g_rand_int_range(rand, 1000, 60000));
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		g_autoptr(GError) error = NULL;
		g_autoptr(IDict) loaded = idict_load(path, &error);
		ck_assert_msg(loaded != NULL, "round %d: %s", round, error ? error->message : "");
		int state = state_of(loaded);
		ck_assert_msg(state == 0 || state == 1, "round %d: torn checkpoint", round);
		seen[state]++;
		/* Once the next save completes, no temporary file is left. */
		ck_assert(idict_save(loaded, path, &error));
		g_autofree char *left = other_files(path);
		ck_assert_msg(left == NULL, "round %d: left beside the checkpoint: %s", round, left);
	}
	ck_assert_int_gt(seen[0] + seen[1], 0);
}
END_TEST

static Suite *checkpoint_suite(void)
{
	Suite *s = suite_create("checkpoint");
	TCase *tc = tcase_create("save-load");
	tcase_add_checked_fixture(tc, dir_setup, dir_teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_checkpoint_round_trip);
	tcase_add_loop_test(tc, test_checkpoint_refuses_foreign_files, 0, G_N_ELEMENTS(bad_files));
	tcase_add_test(tc, test_checkpoint_refuses_damage);
	tcase_add_test(tc, test_checkpoint_missing_file);
	tcase_add_test(tc, test_checkpoint_refuses_special_files);
	tcase_add_test(tc, test_checkpoint_load_owns_values);
	tcase_add_test(tc, test_checkpoint_crash_while_saving);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run_suite(checkpoint_suite());
}
