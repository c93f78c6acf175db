/* test_mount.c - the filesystem, through a real FUSE mount and real system
 * calls.  Every test mounts in a fresh temporary directory (a checked
 * fixture, so in the forked child); tests/run-tests.sh unmounts whatever a
 * crashed test leaves behind.
 */
#include "clients.h"
#include "format.h"
#include "server.h"
#include "snapshot.h"
#include "store.h"
#include "update_log.h"
#include "testutil.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <grp.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

static IDict *dict;
static IDictServer *server;
static char *tmpdir;
static char *mnt;

static gboolean check_positive(IDict *d, const char *key, GVariant *value, gpointer data,
			       GError **error)
{
	(void)d, (void)key, (void)data;
	if (g_variant_get_double(value) > 0)
		return TRUE;
	g_set_error(error, IDICT_ERROR, IDICT_ERROR_INVALID_VALUE, "must be positive");
	return FALSE;
}

/* Every key fill_dict() sets: all of them are in the first update. */
#define ALL_KEYS                                                                       \
	"converged m message pair params/alpha params/count params/flag params/grid "      \
	"params/name params/tuple params/weights residual step u"

static void fill_dict(IDict *d)
{
	static const double u[] = { 0.1, -2.5, 1e300 };
	static const double m[] = { 1, 2, 3, 4, 5, 6 };
	ck_assert(idict_set_double(d, "residual", 0.1, NULL));
	ck_assert(idict_set_int(d, "step", -42, NULL));
	ck_assert(idict_set_bool(d, "converged", FALSE, NULL));
	ck_assert(idict_set_string(d, "message", "hello world", NULL));
	ck_assert(idict_set_array(d, "u", u, G_N_ELEMENTS(u), NULL));
	ck_assert(idict_set_matrix(d, "m", m, 2, 3, NULL));
	ck_assert(idict_set_value(d, "pair", g_variant_new("(is)", 7, "x"), NULL));
	ck_assert(idict_set_double(d, "params/alpha", 0.25, NULL));
	ck_assert(idict_set_writable(d, "params/alpha", TRUE, NULL));
	ck_assert(idict_set_check(d, "params/alpha", check_positive, NULL, NULL, NULL));
	ck_assert(idict_set_string(d, "params/name", "run", NULL));
	ck_assert(idict_set_writable(d, "params/name", TRUE, NULL));
	ck_assert(idict_set_array(d, "params/weights", u, G_N_ELEMENTS(u), NULL));
	ck_assert(idict_set_writable(d, "params/weights", TRUE, NULL));
	ck_assert(idict_set_int(d, "params/count", 5, NULL));
	ck_assert(idict_set_writable(d, "params/count", TRUE, NULL));
	ck_assert(idict_set_bool(d, "params/flag", FALSE, NULL));
	ck_assert(idict_set_writable(d, "params/flag", TRUE, NULL));
	ck_assert(idict_set_matrix(d, "params/grid", m, 2, 2, NULL));
	ck_assert(idict_set_writable(d, "params/grid", TRUE, NULL));
	ck_assert(idict_set_value(d, "params/tuple", g_variant_new("(is)", 1, "a"), NULL));
	ck_assert(idict_set_writable(d, "params/tuple", TRUE, NULL));
}

/* At exit (a failed assertion exits the forked test), closes the files
 * this process has open in its own mount while its server still runs:
 * closing one opened for writing waits for the server (FLUSH), and at
 * process exit the server threads are gone first. */
static void close_own_files(void)
{
	if (mnt == NULL)
		return;
	g_autoptr(GDir) fds = g_dir_open("/proc/self/fd", 0, NULL);
	const char *name;
	GArray *mine = g_array_new(FALSE, FALSE, sizeof(int));
	while (fds && (name = g_dir_read_name(fds)) != NULL) {
		g_autofree char *link = g_strdup_printf("/proc/self/fd/%s", name);
		g_autofree char *target = g_file_read_link(link, NULL);
		if (target && g_str_has_prefix(target, mnt)) {
			int fd = atoi(name);
			g_array_append_val(mine, fd);
		}
	}
	for (guint i = 0; i < mine->len; i++)
		close(g_array_index(mine, int, i));
	g_array_free(mine, TRUE);
}

static void mount_setup(void)
{
	static gboolean registered;
	if (!registered)
		atexit(close_own_files);
	registered = TRUE;
	tmpdir = g_dir_make_tmp("idict-mount-XXXXXX", NULL);
	ck_assert_ptr_nonnull(tmpdir);
	mnt = g_build_filename(tmpdir, "mnt", NULL);
	dict = idict_new();
	fill_dict(dict);
	g_autoptr(GError) error = NULL;
	server = idict_serve(dict, mnt, NULL, &error);
	ck_assert_msg(server != NULL, "idict_serve: %s", error ? error->message : "?");
}

static void mount_teardown(void)
{
	idict_server_wait_then_close(server, 0);
	server = NULL;
	g_clear_pointer(&dict, idict_free);
	rmdir(mnt);
	rmdir(tmpdir);
	g_clear_pointer(&mnt, g_free);
	g_clear_pointer(&tmpdir, g_free);
}

static char *path(const char *rel)
{
	return g_build_filename(mnt, rel, NULL);
}

/* Returns: (transfer full): the whole file read with read(2) until EOF. */
static GString *read_file(const char *rel)
{
	g_autofree char *p = path(rel);
	int fd = open(p, O_RDONLY);
	ck_assert_msg(fd >= 0, "open %s: %s", rel, g_strerror(errno));
	GString *out = g_string_new(NULL);
	char buf[4096];
	ssize_t n;
	while ((n = read(fd, buf, sizeof buf)) > 0)
		g_string_append_len(out, buf, n);
	ck_assert_msg(n == 0, "read %s: %s", rel, g_strerror(errno));
	close(fd);
	return out;
}

static void assert_file(const char *rel, const char *expected)
{
	g_autoptr(GString) text = read_file(rel);
	ck_assert_str_eq(text->str, expected);
	struct stat st;
	g_autofree char *p = path(rel);
	ck_assert_int_eq(stat(p, &st), 0);
	ck_assert_int_eq(st.st_size, strlen(expected));
}

/* close() for a file this process (which serves the mount) wrote: it gets
 * no FLUSH (fs.c), so fsync() publishes what was written and reports a
 * refusal, as close() does for other processes.  Returns: 0, or -1 with
 * errno. */
static int publish_close(int fd)
{
	int res = fsync(fd);
	int err = errno;
	close(fd);
	errno = err;
	return res;
}

/* Writes @len bytes in one write(2) at offset 0 and closes the file.
 * Returns: 0 or the errno of the write or, if it succeeded, of publishing
 * (publish_close()). */
static int write_file_len(const char *rel, const char *text, gsize len, int extra_flags)
{
	g_autofree char *p = path(rel);
	int fd = open(p, O_WRONLY | extra_flags);
	if (fd < 0)
		return errno;
	ssize_t n = write(fd, text, len);
	int err = n < 0 ? errno : 0;
	if (n >= 0)
		ck_assert_int_eq(n, len);
	if (publish_close(fd) != 0 && err == 0)
		err = errno;
	return err;
}

static int write_file(const char *rel, const char *text)
{
	return write_file_len(rel, text, strlen(text), O_TRUNC);
}

/* ---- key files ---- */

START_TEST(test_mount_reads_every_type)
{
	assert_file("residual", "0.1\n");
	assert_file("step", "-42\n");
	assert_file("converged", "false\n");
	assert_file("message", "hello world\n");
	assert_file("u", "0.1\n-2.5\n1e+300\n");
	assert_file("m", "1 2 3\n4 5 6\n");
	assert_file("pair", "(7, 'x')\n");
	assert_file("params/alpha", "0.25\n");
}
END_TEST

START_TEST(test_mount_fresh_after_change)
{
	/* Values of changing length: size and content always current. */
	for (int i = 0; i < 200; i++) {
		double value = i % 2 ? 1.0 / (i + 3) : i;
		ck_assert(idict_set_double(dict, "residual", value, NULL));
		char expected[64];
		gsize len = idict__format_double(expected, value);
		expected[len] = '\n';
		expected[len + 1] = '\0';
		assert_file("residual", expected);
	}
}
END_TEST

START_TEST(test_mount_open_is_a_snapshot)
{
	g_autofree char *p = path("u");
	int fd = open(p, O_RDONLY);
	ck_assert_int_ge(fd, 0);
	char first[4] = { 0 };
	ck_assert_int_eq(read(fd, first, 3), 3);
	const double other[] = { 7, 8 };
	ck_assert(idict_set_array(dict, "u", other, 2, NULL));
	char rest[64] = { 0 };
	ssize_t n = read(fd, rest, sizeof rest - 1);
	ck_assert_int_gt(n, 0);
	g_autofree char *whole = g_strconcat(first, rest, NULL);
	ck_assert_str_eq(whole, "0.1\n-2.5\n1e+300\n");
	close(fd);
	assert_file("u", "7\n8\n");
}
END_TEST

START_TEST(test_mount_mtime_and_inode)
{
	g_autofree char *p = path("residual");
	struct stat before, after;
	ck_assert_int_eq(stat(p, &before), 0);
	g_usleep(20000);
	gint64 now = g_get_real_time();
	ck_assert(idict_set_double(dict, "residual", 0.5, NULL));
	ck_assert_int_eq(stat(p, &after), 0);
	ck_assert_int_eq(before.st_ino, after.st_ino);
	gint64 mtime = after.st_mtim.tv_sec * G_USEC_PER_SEC + after.st_mtim.tv_nsec / 1000;
	ck_assert_int_ge(mtime, now);
	ck_assert_int_le(mtime, g_get_real_time());

	/* A removed and re-created key is a new file. */
	ck_assert(idict_remove(dict, "residual"));
	ck_assert_int_eq(stat(p, &after), -1);
	ck_assert_int_eq(errno, ENOENT);
	ck_assert(idict_set_double(dict, "residual", 0.5, NULL));
	ck_assert_int_eq(stat(p, &after), 0);
	ck_assert_int_ne(before.st_ino, after.st_ino);
}
END_TEST

static GPtrArray *list_dir(const char *rel)
{
	g_autofree char *p = path(rel);
	GDir *dir = g_dir_open(p, 0, NULL);
	ck_assert_ptr_nonnull(dir);
	GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
	const char *name;
	while ((name = g_dir_read_name(dir)) != NULL)
		g_ptr_array_add(names, g_strdup(name));
	g_dir_close(dir);
	return names;
}

static gboolean has_name(GPtrArray *names, const char *name)
{
	for (guint i = 0; i < names->len; i++)
		if (strcmp(names->pdata[i], name) == 0)
			return TRUE;
	return FALSE;
}

START_TEST(test_mount_directories)
{
	g_autoptr(GPtrArray) root = list_dir("");
	const char *expected[] = { "ctl", "updates", "residual", "step", "u", "m", "params" };
	for (gsize i = 0; i < G_N_ELEMENTS(expected); i++)
		ck_assert_msg(has_name(root, expected[i]), "root lacks %s", expected[i]);
	g_autoptr(GPtrArray) params = list_dir("params");
	ck_assert_uint_eq(params->len, 7);
	ck_assert(has_name(params, "alpha"));
	g_autoptr(GPtrArray) ctl = list_dir("ctl");
	ck_assert(has_name(ctl, "pause") && has_name(ctl, "terminate") && has_name(ctl, "status") &&
		  has_name(ctl, "errors"));

	struct stat st;
	g_autofree char *p = path("params");
	ck_assert_int_eq(stat(p, &st), 0);
	ck_assert(S_ISDIR(st.st_mode));
	g_autofree char *up = path("params/..");
	struct stat root_st;
	g_autofree char *r = path("");
	ck_assert_int_eq(stat(up, &st), 0);
	ck_assert_int_eq(stat(r, &root_st), 0);
	ck_assert_int_eq(st.st_ino, root_st.st_ino);

	/* Directories come and go with their keys. */
	ck_assert(idict_set_int(dict, "deep/er/key", 1, NULL));
	assert_file("deep/er/key", "1\n");
	ck_assert(idict_remove(dict, "deep/er/key"));
	g_autofree char *deep = path("deep");
	ck_assert_int_eq(stat(deep, &st), -1);
}
END_TEST

START_TEST(test_mount_modes)
{
	struct {
		const char *rel;
		mode_t mode;
	} cases[] = {
		{ "residual", S_IFREG | 0444 }, { "params/alpha", S_IFREG | 0644 },
		{ "params", S_IFDIR | 0555 },   { "ctl", S_IFDIR | 0555 },
		{ "ctl/pause", S_IFREG | 0644 }, { "ctl/status", S_IFREG | 0444 },
		{ "updates", S_IFREG | 0444 },
	};
	for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autofree char *p = path(cases[i].rel);
		struct stat st;
		ck_assert_int_eq(stat(p, &st), 0);
		ck_assert_msg(st.st_mode == cases[i].mode, "%s: mode %o", cases[i].rel, st.st_mode);
		ck_assert_int_eq(st.st_uid, getuid());
	}
}
END_TEST

/* ---- writes ---- */

START_TEST(test_mount_write_valid)
{
	ck_assert_int_eq(write_file("params/alpha", "0.3\n"), 0);
	double alpha = 0;
	ck_assert(idict_get_double(dict, "params/alpha", &alpha, NULL));
	ck_assert(alpha == 0.3);
	assert_file("params/alpha", "0.3\n");
	ck_assert_int_eq(write_file("params/name", "two words\n"), 0);
	assert_file("params/name", "two words\n");
	ck_assert_int_eq(write_file("params/weights", "1\n2\n3\n"), 0);
	assert_file("params/weights", "1\n2\n3\n");
	/* A client's write is a change: listed in the next update. */
	idict_notify_update(dict, FALSE);
	g_autoptr(GString) status = read_file("ctl/status");
	ck_assert(strstr(status->str, "sequence 1\n") != NULL);
}
END_TEST

typedef struct {
	const char *rel;
	const char *text;
	int extra_flags;
	int expected_errno;
	gsize len; /* 0: strlen(text) */
} WriteCase;

/* Hostile writes: each fails with its errno (0: accepted but changes
 * nothing) and leaves the file reading as before. */
static const WriteCase bad_writes[] = {
	{ "params/alpha", "x\n", O_TRUNC, EINVAL, 0 },
	{ "params/alpha", "-1\n", O_TRUNC, EINVAL, 0 },      /* refused by the check */
	{ "params/alpha", "1e999\n", O_TRUNC, EINVAL, 0 },
	{ "params/alpha", "0.3 junk\n", O_TRUNC, EINVAL, 0 },
	{ "params/alpha", "", O_TRUNC, 0, 0 },                /* never reaches us: no change */
	{ "params/weights", "1\n2\n", O_TRUNC, EINVAL, 0 },  /* shape must not change */
	{ "params/name", "\xff\xfe\n", O_TRUNC, EINVAL, 0 }, /* invalid UTF-8 */
	{ "residual", "0.5\n", O_TRUNC, EACCES, 0 },         /* read-only key */
	{ "params", "1\n", 0, EISDIR, 0 },
	{ "ctl/status", "1\n", 0, EACCES, 0 },
	{ "updates", "1\n", 0, EACCES, 0 },
	{ "ctl/pause", "2\n", O_TRUNC, EINVAL, 0 },
	{ "ctl/pause", "yes\n", O_TRUNC, EINVAL, 0 },
	{ "ctl/terminate", "0\n", O_TRUNC, EINVAL, 0 },
	{ "ctl/terminate", "false\n", O_TRUNC, EINVAL, 0 },
	{ "ctl/pause", "TRUE\n", O_TRUNC, EINVAL, 0 },
	{ "params/alpha", "0.3\n", O_APPEND, EINVAL, 0 },    /* not at offset 0 */
	{ "params/alpha", "0.\0003\n", O_TRUNC, EINVAL, 5 }, /* a NUL byte */
	{ "params/alpha", "0x\n", O_TRUNC, EINVAL, 0 },
	{ "params/alpha", "--1\n", O_TRUNC, EINVAL, 0 },
	{ "params/alpha", "0.3\n0.4\n", O_TRUNC, EINVAL, 0 },
	{ "params/count", "9223372036854775808\n", O_TRUNC, EINVAL, 0 },
	{ "params/count", "-9223372036854775809\n", O_TRUNC, EINVAL, 0 },
	{ "params/count", "12abc\n", O_TRUNC, EINVAL, 0 },
	{ "params/count", "1.5\n", O_TRUNC, EINVAL, 0 },
	{ "params/count", "1e3\n", O_TRUNC, EINVAL, 0 },
	{ "params/flag", "yes\n", O_TRUNC, EINVAL, 0 },
	{ "params/flag", "2\n", O_TRUNC, EINVAL, 0 },
	{ "params/flag", "TRUE\n", O_TRUNC, EINVAL, 0 },
	{ "params/grid", "1 2\n3\n", O_TRUNC, EINVAL, 0 },       /* ragged */
	{ "params/grid", "1 2 3\n4 5 6\n", O_TRUNC, EINVAL, 0 }, /* another shape */
	{ "params/grid", "1 2\n3 x\n", O_TRUNC, EINVAL, 0 },
	{ "params/weights", "1\n2\nnan3\n", O_TRUNC, EINVAL, 0 },
	{ "params/tuple", "(1)\n", O_TRUNC, EINVAL, 0 },
	{ "params/tuple", "nonsense\n", O_TRUNC, EINVAL, 0 },
	{ "params/tuple", "(1, 'a') junk\n", O_TRUNC, EINVAL, 0 },
	{ "params/name", "a\0b\n", O_TRUNC, EINVAL, 4 },
	{ "params/name", "\xc3\x28\n", O_TRUNC, EINVAL, 0 },     /* invalid UTF-8 */
	{ "ctl/terminate", "", O_TRUNC, 0, 0 },
	{ "ctl/terminate", "1 1\n", O_TRUNC, EINVAL, 0 },
	{ "ctl/pause", "\0", O_TRUNC, EINVAL, 1 },
	{ "ctl/pause", "1", O_APPEND, EINVAL, 0 },
};

/* Odd but valid writes, and what the file reads afterwards. */
static const struct {
	const char *rel;
	const char *text;
	const char *reads;
} odd_writes[] = {
	{ "params/alpha", " 0.3 \n", "0.3\n" },
	{ "params/alpha", "\t1e-3", "0.001\n" },
	{ "params/alpha", "inf\n", "inf\n" },
	{ "params/count", " -7\n", "-7\n" },
	{ "params/count", "9223372036854775807", "9223372036854775807\n" },
	{ "params/flag", "1", "true\n" },
	{ "params/flag", "true\n", "true\n" },
	{ "params/grid", "1 2\n3 4", "1 2\n3 4\n" },
	{ "params/grid", "\n  5\t6\n\n7 8\n", "5 6\n7 8\n" },
	{ "params/grid", "1 2; 3 4\n", "1 2\n3 4\n" },
	{ "params/weights", "1 2 3", "1\n2\n3\n" },
	{ "params/tuple", "(3, 'y')\n", "(3, 'y')\n" },
	{ "params/name", "  spaces kept \n", "  spaces kept \n" },
	{ "params/name", "two\nlines\n", "two\nlines\n" },
	{ "params/name", "\n", "\n" },
};

START_TEST(test_mount_write_odd_but_valid)
{
	ck_assert_int_eq(write_file(odd_writes[_i].rel, odd_writes[_i].text), 0);
	assert_file(odd_writes[_i].rel, odd_writes[_i].reads);
}
END_TEST

START_TEST(test_mount_setxattr_refused)
{
	const char *targets[] = { "residual", "params/alpha", "ctl/pause", "updates", "params" };
	for (gsize i = 0; i < G_N_ELEMENTS(targets); i++) {
		g_autofree char *p = path(targets[i]);
		ck_assert_int_eq(setxattr(p, "user.test", "1", 1, 0), -1);
		ck_assert_msg(errno == ENOTSUP, "%s: %s", targets[i], g_strerror(errno));
	}
	assert_file("residual", "0.1\n");
}
END_TEST

START_TEST(test_mount_write_refused)
{
	const WriteCase *c = &bad_writes[_i];
	gboolean readable = !g_str_equal(c->rel, "updates") && !g_str_equal(c->rel, "params");
	g_autoptr(GString) before = readable ? read_file(c->rel) : NULL;
	int err = write_file_len(c->rel, c->text, c->len ? c->len : strlen(c->text),
				 c->extra_flags);
	ck_assert_msg(err == c->expected_errno, "%s <- \"%s\": got %s", c->rel, c->text,
		      g_strerror(err));
	if (readable && !g_str_equal(c->rel, "ctl/status")) {
		g_autoptr(GString) after = read_file(c->rel);
		ck_assert_str_eq(after->str, before->str);
	}
	ck_assert(!idict_terminated(dict));
	ck_assert(!idict_paused(dict));
}
END_TEST

START_TEST(test_mount_write_at_offset_refused)
{
	g_autofree char *p = path("params/alpha");
	int fd = open(p, O_WRONLY);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pwrite(fd, "0.3", 3, 2), -1);
	ck_assert_int_eq(errno, EINVAL);
	/* A gap after a good start refuses the value: later writes at its end
	 * fail too, close() says so, and nothing is published. */
	ck_assert_int_eq(write(fd, "0.4", 3), 3);
	ck_assert_int_eq(pwrite(fd, "5\n", 2, 4), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(write(fd, "5\n", 2), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(publish_close(fd), -1);
	ck_assert_int_eq(errno, EINVAL);
	assert_file("params/alpha", "0.25\n");
	/* Rewriting from the start is not overwriting a value in place. */
	fd = open(p, O_WRONLY);
	ck_assert_int_eq(write(fd, "0.45", 4), 4);
	ck_assert_int_eq(pwrite(fd, "0.3", 3, 0), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(publish_close(fd), -1);
	assert_file("params/alpha", "0.25\n");
}
END_TEST

/* ---- whole writes: a value written in pieces is taken whole or not at all ---- */

static double alpha_now(void)
{
	double alpha = 0;
	ck_assert(idict_get_double(dict, "params/alpha", &alpha, NULL));
	return alpha;
}

START_TEST(test_mount_write_in_pieces)
{
	g_autofree char *p = path("params/alpha");
	int fd = open(p, O_WRONLY | O_TRUNC);
	ck_assert_int_ge(fd, 0);
	const char *text = "0.125\n";
	for (const char *c = text; *c; c++) {
		ck_assert_int_eq(write(fd, c, 1), 1);
		/* No fragment is ever published: not "0.1", not "0.12". */
		ck_assert(alpha_now() == 0.25);
	}
	ck_assert_int_eq(publish_close(fd), 0);
	ck_assert(alpha_now() == 0.125);
	assert_file("params/alpha", "0.125\n");

	/* An array in pieces, the last one bad: nothing of it is published. */
	g_autofree char *weights = path("params/weights");
	fd = open(weights, O_WRONLY | O_TRUNC);
	ck_assert_int_eq(write(fd, "7\n", 2), 2);
	ck_assert_int_eq(write(fd, "8\n", 2), 2);
	ck_assert_int_eq(write(fd, "x\n", 2), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(publish_close(fd), -1);
	ck_assert_int_eq(errno, EINVAL);
	assert_file("params/weights", "0.1\n-2.5\n1e+300\n");
	/* Too few values: refused at close(), whose error says so. */
	fd = open(weights, O_WRONLY | O_TRUNC);
	ck_assert_int_eq(write(fd, "7\n8\n", 4), 4);
	ck_assert_int_eq(publish_close(fd), -1);
	ck_assert_int_eq(errno, EINVAL);
	/* One too many: refused in the write that starts it. */
	fd = open(weights, O_WRONLY | O_TRUNC);
	ck_assert_int_eq(write(fd, "7\n8\n9\n", 6), 6);
	ck_assert_int_eq(write(fd, "1", 1), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(publish_close(fd), -1);
	assert_file("params/weights", "0.1\n-2.5\n1e+300\n");
	/* A whole value the check refuses fails in its write (echo's newline
	 * ends it), so that shells, which ignore close()'s error, report it. */
	fd = open(p, O_WRONLY | O_TRUNC);
	ck_assert_int_eq(write(fd, "-1", 2), 2);
	ck_assert_int_eq(write(fd, "\n", 1), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(publish_close(fd), -1);
	ck_assert(alpha_now() == 0.125);
	/* Text that cannot end well fails at once: a second number. */
	fd = open(p, O_WRONLY | O_TRUNC);
	ck_assert_int_eq(write(fd, "0.3 ", 4), 4);
	ck_assert_int_eq(write(fd, "4", 1), -1);
	publish_close(fd);
	ck_assert(alpha_now() == 0.125);
}
END_TEST

START_TEST(test_mount_write_fsync_and_second_values)
{
	g_autofree char *p = path("params/alpha");
	int fd = open(p, O_WRONLY | O_TRUNC);
	ck_assert_int_eq(write(fd, "0.3\n", 4), 4);
	ck_assert(alpha_now() == 0.25);
	/* fsync publishes without a close (an NFS server's COMMIT). */
	ck_assert_int_eq(fsync(fd), 0);
	ck_assert(alpha_now() == 0.3);
	/* A new value at offset 0 on the same open file. */
	ck_assert_int_eq(pwrite(fd, "0.35\n", 5, 0), 5);
	ck_assert_int_eq(fsync(fd), 0);
	ck_assert(alpha_now() == 0.35);
	/* ftruncate to 0 begins a new value too. */
	ck_assert_int_eq(ftruncate(fd, 0), 0);
	ck_assert_int_eq(pwrite(fd, "0.375\n", 6, 0), 6);
	ck_assert_int_eq(fsync(fd), 0);
	ck_assert(alpha_now() == 0.375);
	/* Text written after a publish continues it, as in a regular file:
	 * "0.3\n0.4\n" is not a double.  The published value stays. */
	ck_assert_int_eq(lseek(fd, 0, SEEK_END) >= 0, 1);
	ck_assert_int_eq(pwrite(fd, "0.4\n", 4, 6), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(publish_close(fd), -1);
	ck_assert(alpha_now() == 0.375);
	/* close() after fsync with nothing new: no error, no change. */
	fd = open(p, O_WRONLY | O_TRUNC);
	ck_assert_int_eq(write(fd, "0.5\n", 4), 4);
	ck_assert_int_eq(fsync(fd), 0);
	ck_assert_int_eq(publish_close(fd), 0);
	ck_assert(alpha_now() == 0.5);
}
END_TEST

/* Runs @command with sh.  Returns: its exit status (-1 if it died). */
static int sh(const char *command)
{
	int status = system(command);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

START_TEST(test_mount_write_large_and_by_byte)
{
	/* A 300 kB value through cat (writes of 128 KiB): taken whole. */
	enum { N = 20000 };
	g_autofree double *zeros = g_new0(double, N);
	ck_assert(idict_set_array(dict, "big", zeros, N, NULL));
	ck_assert(idict_set_writable(dict, "big", TRUE, NULL));
	g_autoptr(GString) text = g_string_new(NULL);
	for (int i = 0; i < N; i++)
		g_string_append_printf(text, "%.13f\n", 1 + i / 3.0);
	ck_assert_uint_gt(text->len, 300000);
	g_autofree char *good = g_build_filename(tmpdir, "good.txt", NULL);
	ck_assert(g_file_set_contents(good, text->str, (gssize)text->len, NULL));
	g_autofree char *bad = g_build_filename(tmpdir, "bad.txt", NULL);
	text->str[text->len - 3] = 'x'; /* the last number is bad */
	ck_assert(g_file_set_contents(bad, text->str, (gssize)text->len, NULL));
	g_autofree char *big = path("big");
	g_autofree char *cat_bad = g_strdup_printf("cat '%s' > '%s' 2>/dev/null", bad, big);
	ck_assert_int_ne(sh(cat_bad), 0);
	gsize n = 0;
	g_autofree double *after_bad = idict_dup_array(dict, "big", &n, NULL);
	ck_assert_uint_eq(n, N);
	for (gsize i = 0; i < n; i++)
		ck_assert_msg(after_bad[i] == 0, "a fragment was published: big[%zu] = %g", i,
			      after_bad[i]);
	g_autofree char *cat_good = g_strdup_printf("cat '%s' > '%s'", good, big);
	ck_assert_int_eq(sh(cat_good), 0);
	g_autofree double *after = idict_dup_array(dict, "big", &n, NULL);
	for (gsize i = 0; i < n; i++)
		ck_assert(fabs(after[i] - (1 + (double)i / 3.0)) < 1e-12);
	/* A string: 300 kB with a byte that is not UTF-8 near the end.  Its
	 * first 128 KiB were once published on their own. */
	g_autofree char *long_text = g_malloc(300001);
	memset(long_text, 'a', 300000);
	long_text[299990] = '\xff';
	ck_assert(g_file_set_contents(bad, long_text, 300000, NULL));
	g_autofree char *name_path = path("params/name");
	g_autofree char *cat_string = g_strdup_printf("cat '%s' > '%s' 2>/dev/null", bad, name_path);
	ck_assert_int_ne(sh(cat_string), 0);
	assert_file("params/name", "run\n");
	long_text[299990] = 'b';
	ck_assert(g_file_set_contents(good, long_text, 300000, NULL));
	g_free(cat_string);
	cat_string = g_strdup_printf("cat '%s' > '%s'", good, name_path);
	ck_assert_int_eq(sh(cat_string), 0);
	g_autofree char *stored = idict_dup_string(dict, "params/name", NULL);
	ck_assert_uint_eq(strlen(stored), 300000);
	ck_assert_int_eq(stored[299990], 'b');
	unlink(good);
	unlink(bad);

	/* dd bs=1: one byte a write. */
	g_autofree char *name = path("params/name");
	g_autofree char *dd = g_strdup_printf("printf world | dd bs=1 of='%s' 2>/dev/null", name);
	ck_assert_int_eq(sh(dd), 0);
	assert_file("params/name", "world\n");
	g_autofree char *alpha = path("params/alpha");
	g_autofree char *dd2 = g_strdup_printf("printf 0.125 | dd bs=1 of='%s' 2>/dev/null", alpha);
	ck_assert_int_eq(sh(dd2), 0);
	ck_assert(alpha_now() == 0.125);
	/* Refused by the check at close: dd reports it, nothing changes. */
	g_autofree char *dd3 = g_strdup_printf("printf -- -0.5 | dd bs=1 of='%s' 2>/dev/null", alpha);
	ck_assert_int_ne(sh(dd3), 0);
	ck_assert(alpha_now() == 0.125);
}
END_TEST

START_TEST(test_mount_write_size_limit)
{
	/* IDICT_WRITE_MAX bytes arrive in one piece, even from an unaligned buffer. */
	g_autofree char *buf = g_malloc(IDICT_WRITE_MAX + 2);
	memset(buf, 'a', IDICT_WRITE_MAX + 2);
	ck_assert_int_eq(write_file_len("params/name", buf + 1, IDICT_WRITE_MAX, O_TRUNC), 0);
	g_autofree char *value = idict_dup_string(dict, "params/name", NULL);
	ck_assert_uint_eq(strlen(value), IDICT_WRITE_MAX);
	ck_assert_int_eq(write_file_len("params/name", buf, IDICT_WRITE_MAX + 1, O_TRUNC), EFBIG);
	g_autofree char *again = idict_dup_string(dict, "params/name", NULL);
	ck_assert_uint_eq(strlen(again), IDICT_WRITE_MAX);
}
END_TEST

START_TEST(test_mount_no_namespace_changes)
{
	g_autofree char *newfile = path("newkey");
	ck_assert_int_eq(open(newfile, O_WRONLY | O_CREAT, 0644), -1);
	ck_assert_int_eq(errno, EACCES);
	ck_assert_int_eq(mkdir(newfile, 0755), -1);
	ck_assert_int_eq(errno, EACCES);
	g_autofree char *residual = path("residual");
	ck_assert_int_eq(unlink(residual), -1);
	ck_assert_int_eq(errno, EACCES);
	ck_assert_int_eq(rename(residual, newfile), -1);
	ck_assert_int_eq(errno, EACCES);
	ck_assert_int_eq(symlink("residual", newfile), -1);
	ck_assert_int_eq(errno, EACCES);
	g_autofree char *params = path("params");
	ck_assert_int_eq(rmdir(params), -1);
	ck_assert_int_eq(errno, EACCES);
	ck_assert_int_eq(chmod(residual, 0666), -1);
	ck_assert_int_eq(errno, EPERM);
	ck_assert_int_eq(truncate(residual, 0), -1);
	ck_assert_int_eq(errno, EACCES);
	g_autofree char *alpha = path("params/alpha");
	ck_assert_int_eq(truncate(alpha, 3), -1);
	ck_assert_int_eq(errno, EINVAL);
	assert_file("residual", "0.1\n");
}
END_TEST

/* Truncation to 0 of a writable file is the shell's `>`: accepted, and it
 * changes nothing.  Times alone are refused.  (Linux's NFS server sends a
 * truncation with a new mtime in one request; tests/shell/test_knfs.sh checks
 * that path, which no local system call produces.) */
START_TEST(test_mount_truncate_and_times)
{
	g_autofree char *alpha = path("params/alpha");
	ck_assert_int_eq(truncate(alpha, 0), 0);
	int fd = open(alpha, O_WRONLY);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, 0), 0);
	close(fd);
	assert_file("params/alpha", "0.25\n");
	const struct timespec times[2] = { { .tv_sec = 1 }, { .tv_sec = 2 } };
	ck_assert_int_eq(utimensat(AT_FDCWD, alpha, times, 0), -1);
	ck_assert_int_eq(errno, EPERM);
	ck_assert_int_eq(utimensat(AT_FDCWD, alpha, NULL, 0), -1);
	ck_assert_int_eq(errno, EPERM);
	g_autofree char *residual = path("residual");
	ck_assert_int_eq(utimensat(AT_FDCWD, residual, times, 0), -1);
	ck_assert_int_eq(errno, EPERM);
	assert_file("params/alpha", "0.25\n");
}
END_TEST

/* ---- ctl ---- */

START_TEST(test_mount_ctl_pause_terminate)
{
	assert_file("ctl/pause", "0\n");
	ck_assert_int_eq(write_file("ctl/pause", "1\n"), 0);
	ck_assert(idict_paused(dict));
	assert_file("ctl/pause", "1\n");
	ck_assert(!idict_wait(dict, 0.01));
	g_autoptr(GString) status = read_file("ctl/status");
	ck_assert(g_str_has_prefix(status->str, "state paused\n"));
	ck_assert_int_eq(write_file("ctl/pause", "0"), 0);
	ck_assert(!idict_paused(dict));
	/* true and false too, as bool keys take them. */
	ck_assert_int_eq(write_file("ctl/pause", "true\n"), 0);
	ck_assert(idict_paused(dict));
	ck_assert_int_eq(write_file("ctl/pause", "false\n"), 0);
	ck_assert(!idict_paused(dict));
	assert_file("ctl/terminate", "0\n");
	ck_assert_int_eq(write_file("ctl/terminate", "true\n"), 0);
	ck_assert(idict_terminated(dict));
	assert_file("ctl/terminate", "1\n");
	ck_assert(idict_wait(dict, -1));
	g_autoptr(GString) status2 = read_file("ctl/status");
	ck_assert(g_str_has_prefix(status2->str, "state terminating\n"));
	idict_notify_update(dict, TRUE);
	g_autoptr(GString) status3 = read_file("ctl/status");
	ck_assert(g_str_has_prefix(status3->str, "state finished\n"));
}
END_TEST

/* A refused write says why in ctl/errors, readable through the mount; its
 * size and time follow the refusals. */
START_TEST(test_mount_ctl_errors)
{
	struct stat before, after;
	g_autofree char *errors_path = path("ctl/errors");
	ck_assert_int_eq(stat(errors_path, &before), 0);
	ck_assert_int_eq(before.st_mode, S_IFREG | 0444);
	assert_file("ctl/errors", "");
	ck_assert_int_eq(write_file("params/alpha", "-1\n"), EINVAL);
	ck_assert_int_eq(write_file("params/count", "1.5\n"), EINVAL);
	ck_assert_int_eq(write_file("ctl/pause", "2\n"), EINVAL);
	ck_assert_int_eq(write_file("params/alpha", "0.5\n"), 0);
	g_autoptr(GString) text = read_file("ctl/errors");
	g_auto(GStrv) lines = g_strsplit(text->str, "\n", -1);
	ck_assert_uint_eq(g_strv_length(lines), 4); /* three and "" */
	g_autofree char *who = g_strdup_printf(" %u params/alpha \"-1\" ", (guint)getuid());
	ck_assert_msg(strstr(lines[0], who) != NULL, "%s", lines[0]);
	ck_assert(strstr(lines[1], " params/count \"1.5\" ") != NULL);
	ck_assert(strstr(lines[2], " ctl/pause \"2\" ctl/pause takes 1") != NULL);
	ck_assert_int_eq(stat(errors_path, &after), 0);
	ck_assert_int_eq(after.st_size, text->len);
	ck_assert(after.st_mtim.tv_sec > before.st_mtim.tv_sec ||
		  (after.st_mtim.tv_sec == before.st_mtim.tv_sec &&
		   after.st_mtim.tv_nsec > before.st_mtim.tv_nsec));
	ck_assert_int_eq(write_file("ctl/errors", "\n"), EACCES);
}
END_TEST

START_TEST(test_mount_ctl_mtime_is_the_last_change)
{
	struct stat a, b;
	g_autofree char *pause_path = path("ctl/pause");
	ck_assert_int_eq(stat(pause_path, &a), 0);
	g_usleep(20000);
	ck_assert_int_eq(stat(pause_path, &b), 0);
	ck_assert(a.st_mtim.tv_sec == b.st_mtim.tv_sec && a.st_mtim.tv_nsec == b.st_mtim.tv_nsec);
	ck_assert_int_eq(write_file("ctl/pause", "1\n"), 0);
	ck_assert_int_eq(stat(pause_path, &b), 0);
	ck_assert(b.st_mtim.tv_sec > a.st_mtim.tv_sec ||
		  (b.st_mtim.tv_sec == a.st_mtim.tv_sec && b.st_mtim.tv_nsec > a.st_mtim.tv_nsec));
}
END_TEST

START_TEST(test_mount_ctl_status)
{
	idict_notify_update(dict, FALSE);
	idict_notify_update(dict, FALSE);
	g_autoptr(GString) status = read_file("ctl/status");
	g_auto(GStrv) lines = g_strsplit(status->str, "\n", -1);
	ck_assert_str_eq(lines[0], "state running");
	ck_assert_str_eq(lines[1], "sequence 2");
	ck_assert_str_eq(lines[2], "keys 14");
	ck_assert(g_str_has_prefix(lines[3], "started 20"));
	ck_assert(g_str_has_suffix(lines[3], "Z"));
	ck_assert(g_str_has_prefix(lines[4], "last_update 20"));
	g_autofree char *pid = g_strdup_printf("pid %d", (int)getpid());
	ck_assert_str_eq(lines[5], pid);
}
END_TEST

/* ---- updates ---- */

static int open_updates(int flags)
{
	g_autofree char *p = path("updates");
	int fd = open(p, O_RDONLY | flags);
	ck_assert_int_ge(fd, 0);
	return fd;
}

static gpointer notify_later(gpointer data)
{
	g_usleep(50000);
	idict_notify_update(dict, GPOINTER_TO_INT(data));
	return NULL;
}

static char *read_some(int fd)
{
	char buf[65536];
	ssize_t n = read(fd, buf, sizeof buf - 1);
	ck_assert_msg(n >= 0, "read: %s", g_strerror(errno));
	return g_strndup(buf, (gsize)n);
}

START_TEST(test_mount_updates_lines)
{
	int fd = open_updates(0);
	idict_set_int(dict, "step", 1, NULL);
	idict_set_double(dict, "residual", 0.5, NULL);
	idict_notify_update(dict, FALSE);
	g_autofree char *first = read_some(fd);
	ck_assert_str_eq(first, "1 update " ALL_KEYS "\n");
	/* The next read blocks until the next update. */
	GThread *thread = g_thread_new("notify", notify_later, GINT_TO_POINTER(FALSE));
	g_autofree char *second = read_some(fd);
	g_thread_join(thread);
	ck_assert_str_eq(second, "2 update\n");
	idict_set_int(dict, "step", 2, NULL);
	idict_notify_update(dict, TRUE);
	g_autofree char *last = read_some(fd);
	ck_assert_str_eq(last, "3 final step\n");
	g_autofree char *eof = read_some(fd);
	ck_assert_str_eq(eof, "");
	close(fd);
	/* A reader that comes after the end still sees the final line. */
	int late = open_updates(0);
	g_autofree char *late_text = read_some(late);
	ck_assert_str_eq(late_text, "3 final step\n");
	g_autofree char *late_eof = read_some(late);
	ck_assert_str_eq(late_eof, "");
	close(late);
}
END_TEST

START_TEST(test_mount_updates_cursor_starts_now)
{
	idict_notify_update(dict, FALSE);
	idict_notify_update(dict, FALSE);
	int fd = open_updates(O_NONBLOCK);
	ck_assert_int_eq(read(fd, (char[16]){ 0 }, 16), -1);
	ck_assert_int_eq(errno, EAGAIN);
	idict_notify_update(dict, FALSE);
	g_autofree char *text = read_some(fd);
	ck_assert_str_eq(text, "3 update\n");
	close(fd);
}
END_TEST

START_TEST(test_mount_updates_poll)
{
	int fd = open_updates(0);
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	ck_assert_int_eq(poll(&pfd, 1, 100), 0);
	GThread *thread = g_thread_new("notify", notify_later, GINT_TO_POINTER(FALSE));
	ck_assert_int_eq(poll(&pfd, 1, 10000), 1);
	ck_assert(pfd.revents & POLLIN);
	g_thread_join(thread);
	g_autofree char *text = read_some(fd);
	ck_assert_str_eq(text, "1 update " ALL_KEYS "\n");
	ck_assert_int_eq(poll(&pfd, 1, 0), 0);
	close(fd);
}
END_TEST

START_TEST(test_mount_updates_missed)
{
	int fd = open_updates(0);
	for (int i = 0; i < 1100; i++)
		idict_notify_update(dict, FALSE);
	/* Each read gets whole lines, at most IDICT__SPAN_LINES of them (and
	 * the `missed` line); together, every line kept in the log. */
	g_autoptr(GString) all = g_string_new(NULL);
	for (int reads = 0; !g_str_has_suffix(all->str, "\n1100 update\n"); reads++) {
		ck_assert_int_lt(reads, 100);
		g_autofree char *text = read_some(fd);
		ck_assert(g_str_has_suffix(text, "\n"));
		guint lines = 0;
		for (const char *p = text; *p; p++)
			lines += *p == '\n';
		ck_assert_uint_le(lines, IDICT__SPAN_LINES + 1);
		g_string_append(all, text);
	}
	ck_assert(g_str_has_prefix(all->str, "76 missed 76\n77 update\n78 update\n"));
	for (int seq = 77; seq <= 1100; seq++) {
		g_autofree char *line = g_strdup_printf("\n%d update\n", seq);
		ck_assert(strstr(all->str, line) != NULL);
	}
	close(fd);
}
END_TEST

START_TEST(test_mount_updates_seek_back)
{
	/* What bash's `read` and head(1) do: read a block, seek back. */
	idict_notify_update(dict, FALSE);
	int fd = open_updates(0);
	idict_notify_update(dict, FALSE);
	idict_notify_update(dict, FALSE);
	g_autofree char *both = read_some(fd);
	ck_assert_str_eq(both, "2 update\n3 update\n");
	ck_assert_int_eq(lseek(fd, 9, SEEK_SET), 9);
	g_autofree char *again = read_some(fd);
	ck_assert_str_eq(again, "3 update\n");
	/* Reads beyond the end (read-ahead) end at once and lose nothing. */
	char buf[16];
	ck_assert_int_eq(pread(fd, buf, sizeof buf, 4096), 0);
	idict_notify_update(dict, FALSE);
	g_autofree char *third = read_some(fd);
	ck_assert_str_eq(third, "4 update\n");
	close(fd);
}
END_TEST

/* Waits (10 s at most) until @n reads of `updates` are parked in the
 * server: their readers are blocked in read(), as the kernel's request
 * reached the server. */
static void wait_parked(guint n)
{
	IDictStreams *streams = idict__server_streams(server);
	gint64 give_up = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
	while (idict__streams_parked(streams) < n && g_get_monotonic_time() < give_up)
		g_usleep(1000);
	ck_assert_uint_ge(idict__streams_parked(streams), n);
}

static gpointer blocked_reader(gpointer data)
{
	(void)data;
	int fd = open_updates(0);
	char *text = read_some(fd);
	close(fd);
	return text;
}

START_TEST(test_mount_blocked_reads_hold_no_worker)
{
	GThread *readers[12];
	for (gsize i = 0; i < G_N_ELEMENTS(readers); i++)
		readers[i] = g_thread_new("reader", blocked_reader, NULL);
	wait_parked(G_N_ELEMENTS(readers));
	/* Far more blocked readers than FUSE workers, yet files still read. */
	assert_file("step", "-42\n");
	idict_notify_update(dict, TRUE);
	for (gsize i = 0; i < G_N_ELEMENTS(readers); i++) {
		g_autofree char *text = g_thread_join(readers[i]);
		ck_assert_str_eq(text, "1 final " ALL_KEYS "\n");
	}
}
END_TEST

static guint nice_of_threads(const char *name, int *out, guint max);

/* A check that holds its filesystem thread until the test lets it go. */
static GMutex slow_lock;
static GCond slow_cond;
static guint slow_entered; /* protected by slow_lock */
static gboolean slow_released;

static gboolean check_slow(IDict *d, const char *key, GVariant *value, gpointer data,
			   GError **error)
{
	(void)d, (void)key, (void)value, (void)data, (void)error;
	g_mutex_lock(&slow_lock);
	slow_entered++;
	g_cond_broadcast(&slow_cond);
	gint64 give_up = g_get_monotonic_time() + 20 * G_USEC_PER_SEC;
	while (!slow_released && g_cond_wait_until(&slow_cond, &slow_lock, give_up))
		;
	g_mutex_unlock(&slow_lock);
	return TRUE;
}

/* Lets every slow check return. */
static void release_slow(void)
{
	g_mutex_lock(&slow_lock);
	slow_released = TRUE;
	g_cond_broadcast(&slow_cond);
	g_mutex_unlock(&slow_lock);
}

/* Starts a process that writes "1\n" to key @key and exits 0 if its close()
 * succeeded.  A process, not a thread of the test's: if the test fails
 * while the write waits in a slow check, the test's process exits, which
 * ends the mount's connection and so the write; a thread of it would wait
 * for its own dead server forever, and the process with it. */
static pid_t start_slow_writer(const char *key)
{
	g_autofree char *p = path(key);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		/* Only async-signal-safe calls: the parent has threads. */
		/* Exit 10 + errno of a failed open, 40 + of write, 70 + of close
		 * (errno below 30 here), for the test's message. */
		int fd = open(p, O_WRONLY | O_TRUNC);
		if (fd < 0)
			_exit(10 + MIN(errno, 29));
		if (write(fd, "1\n", 2) != 2)
			_exit(40 + MIN(errno, 29));
		_exit(close(fd) == 0 ? 0 : 70 + MIN(errno, 29));
	}
	return pid;
}

static int wait_child(pid_t pid);

/* For a failure's message: where each writer and the server's workers are
 * (a writer not yet in its check shows the system call it waits in). */
static void describe_slow_writers(const pid_t *writers, int n)
{
	for (int i = 0; i < n; i++) {
		g_autofree char *stat_path = g_strdup_printf("/proc/%d/stat", (int)writers[i]);
		g_autofree char *wchan_path = g_strdup_printf("/proc/%d/wchan", (int)writers[i]);
		g_autofree char *stat = NULL, *wchan = NULL;
		g_file_get_contents(stat_path, &stat, NULL, NULL);
		g_file_get_contents(wchan_path, &wchan, NULL, NULL);
		const char *state = stat != NULL && strrchr(stat, ')') ? strrchr(stat, ')') + 2 : "?";
		fprintf(stderr, "# slow writer %d (pid %d): state %c, wchan %s\n", i, (int)writers[i],
			*state, wchan != NULL ? wchan : "?");
	}
	int nices[64];
	fprintf(stderr, "# idict-fuse workers: %u\n",
		nice_of_threads("idict-fuse", nices, G_N_ELEMENTS(nices)));
}

/* Releases the slow checks and reaps @n writers.  Returns: how many
 * succeeded. */
static int finish_slow_writers(const pid_t *writers, int n)
{
	release_slow();
	int succeeded = 0;
	for (int i = 0; i < n; i++) {
		int status = wait_child(writers[i]);
		gboolean ok = status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
		succeeded += ok;
		/* For a failure's message (start_slow_writer's exit codes;
		 * -1: still running after 10 s). */
		if (!ok)
			fprintf(stderr, "# slow writer %d: %s %d\n", i,
				status == -1 ? "still running:" : WIFEXITED(status) ? "exit" : "signal",
				status == -1 ? -1 : WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
	}
	return succeeded;
}

/* Makes keys slow0 .. slow@n-1, each with a slow check, and starts a
 * writer of each into @writers. */
static void start_slow_writers(pid_t *writers, int n)
{
	slow_entered = 0;
	slow_released = FALSE;
	for (int i = 0; i < n; i++) {
		g_autofree char *key = g_strdup_printf("slow%d", i);
		ck_assert(idict_set_int(dict, key, 0, NULL));
		ck_assert(idict_set_writable(dict, key, TRUE, NULL));
		ck_assert(idict_set_check(dict, key, check_slow, NULL, NULL, NULL));
	}
	for (int i = 0; i < n; i++) {
		g_autofree char *key = g_strdup_printf("slow%d", i);
		writers[i] = start_slow_writer(key);
	}
}

/* Waits up to 10 s until @n slow checks have begun.  Returns: how many. */
static guint wait_slow_entered(guint n)
{
	g_mutex_lock(&slow_lock);
	gint64 give_up = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
	while (slow_entered < n && g_cond_wait_until(&slow_cond, &slow_lock, give_up))
		;
	guint entered = slow_entered;
	g_mutex_unlock(&slow_lock);
	return entered;
}

START_TEST(test_mount_slow_requests_hold_up_no_one)
{
	/* Writes whose check takes long (so would rendering a huge value) are
	 * served side by side, more of them than the workers the server
	 * starts with, and other files still read meanwhile: ctl/ too. */
	enum { N_SLOW = 6 };
	pid_t writers[N_SLOW];
	start_slow_writers(writers, N_SLOW);
	guint entered = wait_slow_entered(N_SLOW);
	if (entered != N_SLOW) {
		describe_slow_writers(writers, N_SLOW);
		finish_slow_writers(writers, N_SLOW);
	}
	ck_assert_uint_eq(entered, N_SLOW);
	assert_file("step", "-42\n");
	assert_file("u", "0.1\n-2.5\n1e+300\n");
	int terminated = write_file("ctl/terminate", "1\n");
	ck_assert_int_eq(finish_slow_writers(writers, N_SLOW), N_SLOW);
	ck_assert_int_eq(terminated, 0);
	ck_assert(idict_terminated(dict));
	for (int i = 0; i < N_SLOW; i++) {
		g_autofree char *key = g_strdup_printf("slow%d", i);
		assert_file(key, "1\n");
	}
	/* Workers were started for them, at most 16. */
	int nices[64];
	guint workers = nice_of_threads("idict-fuse", nices, G_N_ELEMENTS(nices));
	ck_assert_uint_gt(workers, N_SLOW);
	ck_assert_uint_le(workers, 16);
}
END_TEST

/* However many requests wait (here, more slow writes than workers), the
 * server starts at most 16 workers; the requests past them are served as
 * workers come free. */
START_TEST(test_mount_workers_bounded)
{
	enum { N_SLOW = 20 };
	pid_t writers[N_SLOW];
	start_slow_writers(writers, N_SLOW);
	/* 16 workers: at most 16 checks at once (15 if one worker reads the
	 * next request). */
	wait_slow_entered(15);
	g_usleep(200000);
	int nices[64];
	guint workers = nice_of_threads("idict-fuse", nices, G_N_ELEMENTS(nices));
	g_mutex_lock(&slow_lock);
	guint entered = slow_entered;
	g_mutex_unlock(&slow_lock);
	/* Every writer is released and reaped before anything is asserted. */
	int succeeded = finish_slow_writers(writers, N_SLOW);
	ck_assert_uint_le(workers, 16);
	ck_assert_uint_ge(entered, 15);
	ck_assert_uint_le(entered, 16);
	ck_assert_int_eq(succeeded, N_SLOW);
}
END_TEST

/* Waits up to 10 s for @pid; Returns: its wait status, or -1. */
static int wait_child(pid_t pid)
{
	for (int i = 0; i < 1000; i++) {
		int status;
		pid_t r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			return status;
		g_usleep(10000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	return -1;
}

START_TEST(test_mount_updates_interrupt)
{
	g_autofree char *p = path("updates");
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		execlp("cat", "cat", p, (char *)NULL);
		_exit(127);
	}
	wait_parked(1); /* cat is blocked in its read */
	ck_assert_int_eq(kill(pid, SIGINT), 0);
	int status = wait_child(pid);
	ck_assert_msg(status != -1, "cat blocked on updates did not end after SIGINT");
	ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGINT);
}
END_TEST

/* ---- the server's life ---- */

static gboolean is_mounted(const char *where)
{
	g_autofree char *mounts = NULL;
	ck_assert(g_file_get_contents("/proc/mounts", &mounts, NULL, NULL));
	g_autofree char *needle = g_strdup_printf(" %s ", where);
	return strstr(mounts, needle) != NULL;
}

START_TEST(test_mount_close_waits_for_clients)
{
	g_autofree char *p = path("u");
	int fd = open(p, O_RDONLY);
	ck_assert_int_ge(fd, 0);
	/* The client keeps the file open: closing waits for the timeout. */
	gint64 start = g_get_monotonic_time();
	idict_server_wait_then_close(server, 0.3);
	server = NULL;
	ck_assert_int_ge(g_get_monotonic_time() - start, 250000);
	ck_assert(!is_mounted(mnt));
	char buf[8];
	ck_assert_int_eq(read(fd, buf, sizeof buf), -1);
	close(fd);
}
END_TEST

static gpointer close_later(gpointer data)
{
	g_usleep(100000);
	close(GPOINTER_TO_INT(data));
	return NULL;
}

START_TEST(test_mount_close_when_clients_leave)
{
	int fd = open_updates(0);
	GThread *thread = g_thread_new("close", close_later, GINT_TO_POINTER(fd));
	idict_server_wait_then_close(server, -1);
	server = NULL;
	g_thread_join(thread);
	ck_assert(!is_mounted(mnt));
}
END_TEST

START_TEST(test_mount_close_answers_blocked_reads)
{
	GThread *reader = g_thread_new("reader", blocked_reader, NULL);
	wait_parked(1);
	idict_server_wait_then_close(server, 0.1);
	server = NULL;
	g_autofree char *text = g_thread_join(reader);
	ck_assert_str_eq(text, "");
	ck_assert(!is_mounted(mnt));
}
END_TEST

/* Starts `cat FILE` as a child, its output to /dev/null.  Returns: its pid. */
static pid_t spawn_cat(const char *rel)
{
	g_autofree char *p = path(rel);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);
		dup2(null, 1);
		execlp("cat", "cat", p, (char *)NULL);
		_exit(127);
	}
	return pid;
}

START_TEST(test_mount_stopped_reader_never_blocks)
{
	/* A reader of updates stopped with SIGSTOP, and one that never reads. */
	pid_t stopped = spawn_cat("updates");
	int never_read = open_updates(0);
	wait_parked(1);
	ck_assert_int_eq(kill(stopped, SIGSTOP), 0);
	/* The computation goes on: many updates, none waits for them. */
	for (int i = 0; i < 5000; i++) {
		idict_set_int(dict, "step", i, NULL);
		idict_notify_update(dict, FALSE);
	}
	idict_notify_update(dict, TRUE);
	ck_assert_uint_eq(idict_sequence(dict), 5001);
	/* Closing ends at its timeout although both still hold the file. */
	idict_server_wait_then_close(server, 0.3);
	server = NULL;
	ck_assert(!is_mounted(mnt));
	kill(stopped, SIGKILL);
	ck_assert_int_ne(wait_child(stopped), -1);
	close(never_read);
}
END_TEST

typedef struct {
	IDictServer *server;
	gint done;
} CloseJob;

static gpointer close_in_thread(gpointer data)
{
	CloseJob *job = data;
	idict_server_wait_then_close(job->server, 30);
	g_atomic_int_set(&job->done, 1);
	return NULL;
}

START_TEST(test_mount_interrupt_during_shutdown)
{
	pid_t reader = spawn_cat("updates");
	wait_parked(1);
	/* The computation is closing and waits for the reader... */
	CloseJob job = { .server = server };
	server = NULL;
	GThread *closer = g_thread_new("close", close_in_thread, &job);
	g_usleep(200000);
	ck_assert_int_eq(g_atomic_int_get(&job.done), 0);
	/* ...who presses Ctrl-C: its read ends, it closes, closing ends. */
	ck_assert_int_eq(kill(reader, SIGINT), 0);
	int status = wait_child(reader);
	ck_assert(status != -1 && WIFSIGNALED(status) && WTERMSIG(status) == SIGINT);
	for (int i = 0; i < 1000 && !g_atomic_int_get(&job.done); i++)
		g_usleep(10000);
	ck_assert_msg(g_atomic_int_get(&job.done), "wait_then_close still waits after the reader left");
	g_thread_join(closer);
	ck_assert(!is_mounted(mnt));
}
END_TEST

START_TEST(test_mount_unmounted_from_outside)
{
	g_autofree char *command = g_strdup_printf("fusermount3 -u '%s'", mnt);
	int status = system(command);
	ck_assert_int_eq(status, 0);
	/* Calls on the dictionary keep working... */
	ck_assert(idict_set_int(dict, "step", 1, NULL));
	idict_notify_update(dict, FALSE);
	/* ...and closing returns although no client will ever come. */
	idict_server_wait_then_close(server, -1);
	server = NULL;
	ck_assert(!is_mounted(mnt));
}
END_TEST

START_TEST(test_mount_stale_mount_recovered)
{
	g_autofree char *dir = g_dir_make_tmp("idict-stale-XXXXXX", NULL);
	g_autofree char *deeper_dir = g_build_filename(dir, "deeper", NULL);
	ck_assert_int_eq(mkdir(deeper_dir, 0755), 0);
	g_autofree char *where = g_build_filename(dir, "deeper", "mnt", NULL);
	int ready[2];
	ck_assert_int_eq(pipe(ready), 0);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		/* A computation that crashes while serving. */
		IDict *d = idict_new();
		idict_set_int(d, "x", 1, NULL);
		IDictServer *s = idict_serve(d, where, "no_auto_unmount", NULL);
		ssize_t n = write(ready[1], s ? "y" : "n", 1);
		(void)n;
		pause();
		_exit(0);
	}
	char answer = 0;
	ck_assert_int_eq(read(ready[0], &answer, 1), 1);
	ck_assert_int_eq(answer, 'y');
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	struct stat st;
	ck_assert_int_eq(stat(where, &st), -1);
	ck_assert_int_eq(errno, ENOTCONN);

	IDict *d = idict_new();
	idict_set_int(d, "x", 2, NULL);
	g_autoptr(GError) error = NULL;
	IDictServer *s = idict_serve(d, where, NULL, &error);
	ck_assert_msg(s != NULL, "%s", error ? error->message : "");
	g_autofree char *x = g_build_filename(where, "x", NULL);
	g_autofree char *text = NULL;
	ck_assert(g_file_get_contents(x, &text, NULL, NULL));
	ck_assert_str_eq(text, "2\n");
	idict_server_wait_then_close(s, 0);
	idict_free(d);
	ck_assert(!is_mounted(where));
	g_autofree char *deeper = g_build_filename(dir, "deeper", NULL);
	rmdir(where);
	rmdir(deeper);
	rmdir(dir);
	close(ready[0]);
	close(ready[1]);
}
END_TEST

/* Ends FUSE connection @minor (the mount's device minor number): for a
 * test whose server hangs. */
static void abort_connection(guint minor)
{
	g_autofree char *abort_path = g_strdup_printf("/sys/fs/fuse/connections/%u/abort", minor);
	int fd = open(abort_path, O_WRONLY);
	if (fd >= 0 && write(fd, "1", 1) != 1)
		g_debug("cannot abort connection %u: %s", minor, g_strerror(errno));
	if (fd >= 0)
		close(fd);
}

/* A process that serves the mount and exits (or crashes) with a file of it
 * open for writing ends: the serving process's own opens get no FLUSH, which
 * its serving threads, gone first, would never answer.  What it wrote and
 * closed is published when the file is released. */
START_TEST(test_mount_own_writer_exits)
{
	g_autofree char *dir = g_dir_make_tmp("idict-own-XXXXXX", NULL);
	g_autofree char *where = g_build_filename(dir, "mnt", NULL);
	g_autofree char *alpha = g_build_filename(where, "alpha", NULL);
	int ready[2], go[2];
	ck_assert_int_eq(pipe(ready), 0);
	ck_assert_int_eq(pipe(go), 0);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		IDict *d = idict_new();
		idict_set_double(d, "alpha", 0.25, NULL);
		idict_set_writable(d, "alpha", TRUE, NULL);
		IDictServer *s = idict_serve(d, where, NULL, NULL);
		char c = s ? 'y' : 'n';
		if (write(ready[1], &c, 1) != 1 || s == NULL || read(go[0], &c, 1) != 1)
			_exit(2);
		int fd = open(alpha, O_WRONLY | O_TRUNC);
		if (fd < 0 || write(fd, "0.5\n", 4) != 4 || close(fd) != 0)
			_exit(3);
		double value = 0;
		for (int i = 0; i < 1000 && idict_get_double(d, "alpha", &value, NULL) &&
				value != 0.5; i++)
			g_usleep(10000);
		if (value != 0.5)
			_exit(4);
		fd = open(alpha, O_WRONLY | O_TRUNC);
		if (fd < 0 || write(fd, "0.75\n", 5) != 5)
			_exit(5);
		_exit(0); /* with alpha open for writing, as a crash would */
	}
	/* The connection, while the child still serves. */
	char c = 0;
	ck_assert_int_eq(read(ready[0], &c, 1), 1);
	ck_assert_int_eq(c, 'y');
	struct stat st;
	ck_assert_int_eq(stat(where, &st), 0);
	ck_assert_int_eq(write(go[1], &c, 1), 1);
	int status = -1;
	for (int i = 0; i < 2000 && status == -1; i++) {
		if (waitpid(pid, &status, WNOHANG) != pid) {
			status = -1;
			g_usleep(10000);
		}
	}
	if (status == -1) {
		abort_connection(minor(st.st_dev));
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	for (int i = 0; i < 4; i++)
		close(i < 2 ? ready[i] : go[i - 2]);
	for (int i = 0; i < 500 && is_mounted(where); i++)
		g_usleep(10000);
	if (is_mounted(where))
		umount2(where, MNT_DETACH);
	rmdir(where);
	rmdir(dir);
	ck_assert_msg(status != -1, "a serving process with its own file open for writing hung at exit");
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "the serving process failed (exit status %d)", status);
}
END_TEST

START_TEST(test_mount_killed_leaves_no_mount)
{
	g_autofree char *dir = g_dir_make_tmp("idict-kill-XXXXXX", NULL);
	g_autofree char *where = g_build_filename(dir, "mnt", NULL);
	int ready[2];
	ck_assert_int_eq(pipe(ready), 0);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		IDict *d = idict_new();
		IDictServer *s = idict_serve(d, where, NULL, NULL);
		/* The descriptor order that lets the helper see the
		 * connection gone when it wakes (see server.c): the socket to
		 * fusermount3 below /dev/fuse. */
		int fuse_fd = -1, last_socket = -1;
		g_autoptr(GDir) fds = g_dir_open("/proc/self/fd", 0, NULL);
		const char *name;
		while (fds && (name = g_dir_read_name(fds)) != NULL) {
			g_autofree char *path = g_build_filename("/proc/self/fd", name, NULL);
			g_autofree char *target = g_file_read_link(path, NULL);
			if (target && strcmp(target, "/dev/fuse") == 0)
				fuse_fd = atoi(name);
			else if (target && g_str_has_prefix(target, "socket:"))
				last_socket = MAX(last_socket, atoi(name));
		}
		char answer[2] = { s ? 'y' : 'n', last_socket >= 0 && last_socket < fuse_fd ? 'o' : 'x' };
		ssize_t n = write(ready[1], answer, 2);
		(void)n;
		pause();
		_exit(0);
	}
	char answer[2] = { 0 };
	ck_assert_int_eq(read(ready[0], answer, 2), 2);
	ck_assert_int_eq(answer[0], 'y');
	ck_assert_msg(answer[1] == 'o', "the auto_unmount socket is not below /dev/fuse");
	ck_assert(is_mounted(where));
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	/* fusermount3's auto_unmount helper notices and unmounts. */
	for (int i = 0; i < 500 && is_mounted(where); i++)
		g_usleep(10000);
	ck_assert(!is_mounted(where));
	struct stat st;
	ck_assert_int_eq(stat(where, &st), 0);
	rmdir(where);
	rmdir(dir);
	close(ready[0]);
	close(ready[1]);
}
END_TEST

START_TEST(test_mount_one_server_per_dictionary)
{
	g_autofree char *other = g_build_filename(tmpdir, "other", NULL);
	g_autoptr(GError) error = NULL;
	/* The same dictionary twice. */
	ck_assert_ptr_null(idict_serve(dict, other, NULL, &error));
	ck_assert(g_error_matches(error, IDICT_ERROR, IDICT_ERROR_MOUNT));
	g_clear_error(&error);
	/* Another dictionary on a mount point already served. */
	IDict *d = idict_new();
	ck_assert_ptr_null(idict_serve(d, mnt, NULL, &error));
	ck_assert(g_error_matches(error, IDICT_ERROR, IDICT_ERROR_MOUNT));
	idict_free(d);
	/* The first server still works. */
	int fd = open_updates(0);
	idict_notify_update(dict, FALSE);
	g_autofree char *line = read_some(fd);
	ck_assert(g_str_has_prefix(line, "1 update "));
	close(fd);
	rmdir(other);
}
END_TEST

/* After wait_then_close, or a refused serve, the dictionary keeps no trace
 * of the server: updates go on (no stale hook; ASan would see one) and the
 * same dictionary can be served again. */
START_TEST(test_mount_serve_again_after_close)
{
	g_autofree char *dir = g_dir_make_tmp("idict-again-XXXXXX", NULL);
	IDict *d = idict_new();
	ck_assert(idict_set_double(d, "x", 1, NULL));
	g_autoptr(GError) error = NULL;
	ck_assert_ptr_null(idict_serve(d, dir, "server_nice=99", &error));
	g_clear_error(&error);
	for (int round = 0; round < 3; round++) {
		IDictServer *s = idict_serve(d, dir, NULL, &error);
		ck_assert_msg(s != NULL, "round %d: %s", round, error ? error->message : "");
		g_autofree char *file = g_build_filename(dir, "x", NULL);
		g_autofree char *text = NULL;
		ck_assert(g_file_get_contents(file, &text, NULL, NULL));
		ck_assert_str_eq(text, round ? "2\n" : "1\n");
		idict_server_wait_then_close(s, 0);
		ck_assert(idict_set_double(d, "x", 2, NULL));
		idict_notify_update(d, FALSE);
		ck_assert(!is_mounted(dir));
	}
	idict_free(d);
	rmdir(dir);
}
END_TEST

START_TEST(test_mount_bad_options)
{
	g_autofree char *dir = g_dir_make_tmp("idict-opt-XXXXXX", NULL);
	IDict *d = idict_new();
	g_autoptr(GError) error = NULL;
	IDictServer *s = idict_serve(d, dir, "no_such_option_here", &error);
	ck_assert_ptr_null(s);
	ck_assert(g_error_matches(error, IDICT_ERROR, IDICT_ERROR_MOUNT));
	g_clear_error(&error);
	g_autofree char *file = g_build_filename(dir, "plain", NULL);
	ck_assert(g_file_set_contents(file, "", 0, NULL));
	s = idict_serve(d, file, NULL, &error);
	ck_assert_ptr_null(s);
	ck_assert(g_error_matches(error, IDICT_ERROR, IDICT_ERROR_MOUNT));
	g_clear_error(&error);
	/* Our own options with bad values: refused, and nothing is mounted. */
	const char *bad_values[] = {
		"server_nice=20", "server_nice=-1", "server_nice=x", "server_nice=",
		"write_mode=0444", "write_mode=1777", "write_mode=abc", "write_mode=",
		"write_mode=9", "client_memory=abc", "client_memory=", "client_memory=10",
		"client_memory=63K", "client_memory=1X", "client_memory=1MB", "client_memory=-1M",
		"client_memory=99999999999999999999T",
	};
	for (guint i = 0; i < G_N_ELEMENTS(bad_values); i++) {
		s = idict_serve(d, dir, bad_values[i], &error);
		ck_assert_msg(s == NULL, "%s was taken", bad_values[i]);
		ck_assert(g_error_matches(error, IDICT_ERROR, IDICT_ERROR_MOUNT));
		ck_assert_msg(strstr(error->message, bad_values[i]) != NULL, "%s", error->message);
		g_clear_error(&error);
		ck_assert(!is_mounted(dir));
	}
	idict_free(d);
	unlink(file);
	rmdir(dir);
}
END_TEST

/* Options are split as libfuse splits them: a comma escaped as "\," stays
 * inside its value (here the mount's source name), next to ours. */
START_TEST(test_mount_options_escaped_comma)
{
	g_autofree char *dir = g_dir_make_tmp("idict-opt-XXXXXX", NULL);
	g_autoptr(IDict) d = idict_new();
	ck_assert(idict_set_double(d, "x", 1, NULL));
	ck_assert(idict_set_writable(d, "x", TRUE, NULL));
	g_autoptr(GError) error = NULL;
	IDictServer *s = idict_serve(d, dir, "fsname=run\\,42,write_mode=0664", &error);
	ck_assert_msg(s != NULL, "%s", error ? error->message : "");
	g_autofree char *mounts = NULL;
	ck_assert(g_file_get_contents("/proc/self/mountinfo", &mounts, NULL, NULL));
	g_autofree char *line = g_strdup_printf(" %s ", dir);
	const char *at = strstr(mounts, line);
	ck_assert_ptr_nonnull(at);
	const char *end = strchr(at, '\n');
	g_autofree char *ours = g_strndup(at, end - at);
	ck_assert_msg(strstr(ours, " - fuse.idict run,42 ") != NULL, "%s", ours);
	g_autofree char *x = g_build_filename(dir, "x", NULL);
	struct stat st;
	ck_assert_int_eq(stat(x, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0664);
	idict_server_wait_then_close(s, 0);
	ck_assert(!is_mounted(dir));
	rmdir(dir);
}
END_TEST

/* Only the last component of a missing mount point is created: a typo
 * does not make a tree of directories. */
START_TEST(test_mount_creates_only_the_last_component)
{
	g_autofree char *dir = g_dir_make_tmp("idict-mkdir-XXXXXX", NULL);
	g_autoptr(IDict) d = idict_new();
	g_autoptr(GError) error = NULL;
	g_autofree char *missing = g_build_filename(dir, "nonexistent", "x", "y", NULL);
	ck_assert_ptr_null(idict_serve(d, missing, NULL, &error));
	ck_assert(g_error_matches(error, IDICT_ERROR, IDICT_ERROR_MOUNT));
	ck_assert_msg(strstr(error->message, "does not exist") != NULL, "%s", error->message);
	g_autofree char *first = g_build_filename(dir, "nonexistent", NULL);
	ck_assert(!g_file_test(first, G_FILE_TEST_EXISTS));
	g_clear_error(&error);

	g_autofree char *fresh = g_build_filename(dir, "fresh", NULL);
	IDictServer *s = idict_serve(d, fresh, NULL, &error);
	ck_assert_msg(s != NULL, "%s", error ? error->message : "");
	ck_assert(is_mounted(fresh));
	idict_server_wait_then_close(s, 0);
	rmdir(fresh);
	rmdir(dir);
}
END_TEST

static void count_warning(const char *domain, GLogLevelFlags level, const char *message,
			  gpointer data)
{
	(void)domain, (void)level;
	if (strstr(message, "not empty") != NULL)
		g_atomic_int_inc((gint *)data);
}

/* Mounting over a directory that holds files (they are hidden while it
 * serves) is said with a warning; over an empty one, nothing is said. */
START_TEST(test_mount_warns_over_a_non_empty_directory)
{
	gint warnings = 0;
	guint handler = g_log_set_handler("idict", G_LOG_LEVEL_WARNING, count_warning, &warnings);
	g_autofree char *dir = g_dir_make_tmp("idict-nonempty-XXXXXX", NULL);
	g_autoptr(IDict) d = idict_new();
	IDictServer *s = idict_serve(d, dir, NULL, NULL);
	ck_assert_ptr_nonnull(s);
	idict_server_wait_then_close(s, 0);
	ck_assert_int_eq(warnings, 0);
	g_autofree char *file = g_build_filename(dir, "results.txt", NULL);
	ck_assert(g_file_set_contents(file, "mine\n", -1, NULL));
	s = idict_serve(d, dir, NULL, NULL);
	ck_assert_ptr_nonnull(s);
	ck_assert_int_eq(warnings, 1);
	ck_assert(!g_file_test(file, G_FILE_TEST_EXISTS)); /* hidden while served */
	idict_server_wait_then_close(s, 0);
	ck_assert(g_file_test(file, G_FILE_TEST_EXISTS));
	g_log_remove_handler("idict", handler);
	unlink(file);
	rmdir(dir);
}
END_TEST

static void count_destroy(gpointer data)
{
	g_atomic_int_inc((gint *)data);
}

static gboolean accept_all(IDict *d, const char *key, GVariant *value, gpointer data,
			   GError **error)
{
	(void)d, (void)key, (void)value, (void)data, (void)error;
	return TRUE;
}

/* The server holds a reference: the caller may free a served dictionary,
 * which goes on serving (and being written by clients) until the server
 * closes, and is freed then. */
START_TEST(test_mount_server_keeps_the_dictionary)
{
	g_autofree char *dir = g_dir_make_tmp("idict-ref-XXXXXX", NULL);
	IDict *d = idict_new();
	gint destroyed = 0;
	ck_assert(idict_set_double(d, "x", 0.5, NULL));
	ck_assert(idict_set_writable(d, "x", TRUE, NULL));
	ck_assert(idict_set_check(d, "x", accept_all, &destroyed, count_destroy, NULL));
	IDictServer *s = idict_serve(d, dir, NULL, NULL);
	ck_assert_ptr_nonnull(s);
	idict_free(d); /* the caller's reference only */
	ck_assert_int_eq(destroyed, 0);
	g_autofree char *x = g_build_filename(dir, "x", NULL);
	g_autofree char *text = NULL;
	ck_assert(g_file_get_contents(x, &text, NULL, NULL));
	ck_assert_str_eq(text, "0.5\n");
	int fd = open(x, O_WRONLY | O_TRUNC);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "0.25\n", 5), 5);
	/* The serving process's own write: published at fsync() (close() does
	 * not wait for it; see fs.c's open_file_register). */
	ck_assert_int_eq(fsync(fd), 0);
	close(fd);
	g_autofree char *again = NULL;
	ck_assert(g_file_get_contents(x, &again, NULL, NULL));
	ck_assert_str_eq(again, "0.25\n");
	idict_server_wait_then_close(s, 0);
	ck_assert_int_eq(destroyed, 1); /* freed with the server */
	ck_assert(!is_mounted(dir));
	rmdir(dir);
}
END_TEST

/* The nice values of this process's threads named @name, in @out. */
static guint nice_of_threads(const char *name, int *out, guint max)
{
	guint n = 0;
	g_autoptr(GDir) tasks = g_dir_open("/proc/self/task", 0, NULL);
	const char *tid;
	while (tasks && n < max && (tid = g_dir_read_name(tasks)) != NULL) {
		g_autofree char *path = g_strdup_printf("/proc/self/task/%s/comm", tid);
		g_autofree char *comm = NULL;
		if (!g_file_get_contents(path, &comm, NULL, NULL))
			continue;
		g_strchomp(comm);
		if (g_str_equal(comm, name))
			out[n++] = getpriority(PRIO_PROCESS, (id_t)atoi(tid));
	}
	return n;
}

/* The serving threads run 10 nice levels below the computation by
 * default (server_nice), so that watchers never take CPU from it first. */
START_TEST(test_mount_serving_threads_yield_cpu)
{
	int base = getpriority(PRIO_PROCESS, (id_t)gettid());
	int nices[16];
	guint n = 0;
	gint64 deadline = g_get_monotonic_time() + G_USEC_PER_SEC;
	gboolean all_lowered = FALSE;
	while (!all_lowered && g_get_monotonic_time() < deadline) {
		n = nice_of_threads("idict-fuse", nices, G_N_ELEMENTS(nices));
		all_lowered = n > 0;
		for (guint i = 0; i < n; i++)
			all_lowered &= nices[i] == MIN(base + 10, 19);
		if (!all_lowered)
			g_usleep(10000);
	}
	ck_assert_uint_gt(n, 0);
	ck_assert_msg(all_lowered, "serving threads at nice %d, computation at %d", nices[0],
		      base);
	/* The computation's own thread keeps its priority. */
	ck_assert_int_eq(getpriority(PRIO_PROCESS, (id_t)gettid()), base);
	/* Reading still works, of course. */
	ck_assert(idict_set_double(dict, "nice", 1.5, NULL));
	assert_file("nice", "1.5\n");
}
END_TEST

/* ---- readers of `updates` who attack: as uid nobody, many, slow ---- */

/* As in issue 10: a computation publishing ATTACK_KEYS keys with
 * ATTACK_NAME_LEN-byte names per update (16.8 KB lines), served with
 * allow_other; the readers run as uid nobody in a child process, this
 * program run as `test_mount --updates-readers N_SLOW N_CAT FD` in the
 * mount directory. */
#define ATTACK_KEYS 80
#define ATTACK_NAME_LEN 210
#define NOBODY 65534
#define LOG_MAX_BYTES (16 * 1024 * 1024)

static char *attack_names[ATTACK_KEYS];

static void attack_setup(void)
{
	tmpdir = g_dir_make_tmp("idict-attack-XXXXXX", NULL);
	ck_assert_ptr_nonnull(tmpdir);
	mnt = g_build_filename(tmpdir, "mnt", NULL);
	dict = idict_new();
	for (guint i = 0; i < ATTACK_KEYS; i++) {
		attack_names[i] = g_strdup_printf("series%02u_%0*d", i, ATTACK_NAME_LEN - 9, 0);
		ck_assert_uint_eq(strlen(attack_names[i]), ATTACK_NAME_LEN);
		ck_assert(idict_set_double(dict, attack_names[i], 0, NULL));
	}
	g_autoptr(GError) error = NULL;
	server = idict_serve(dict, mnt, "allow_other", &error);
	ck_assert_msg(server != NULL, "idict_serve: %s", error ? error->message : "?");
}

static void attack_teardown(void)
{
	mount_teardown();
	for (guint i = 0; i < ATTACK_KEYS; i++)
		g_clear_pointer(&attack_names[i], g_free);
}

static void publish_attack_step(double x)
{
	idict_lock(dict);
	for (guint i = 0; i < ATTACK_KEYS; i++)
		idict_set_double(dict, attack_names[i], x + i, NULL);
	idict_unlock(dict);
	idict_notify_update(dict, FALSE);
}

/* In the reader process. */
static int report_fd = -1;

static void report(char what)
{
	if (write(report_fd, &what, 1) != 1)
		_exit(5);
}

/* Open, wait, read one byte, close; forever. */
static void *slow_reader(void *data)
{
	(void)data;
	for (;;) {
		int fd = open("updates", O_RDONLY);
		if (fd < 0) {
			fprintf(stderr, "slow reader: open: %s\n", g_strerror(errno));
			_exit(3);
		}
		g_usleep(300000);
		char c;
		if (read(fd, &c, 1) < 0 && errno != EINTR) {
			fprintf(stderr, "slow reader: read: %s\n", g_strerror(errno));
			_exit(4);
		}
		close(fd);
		report('s');
	}
	return NULL;
}

/* Reads like cat until end of file, checking every line: a sequence number
 * one above the last, or a `missed` line accounting for the gap; `final`,
 * then end of file.  Returns: NULL, or a message. */
static void *cat_reader(void *data)
{
	(void)data;
	int fd = open("updates", O_RDONLY);
	if (fd < 0)
		return g_strdup_printf("open: %s", g_strerror(errno));
	const gsize size = 128 * 1024;
	g_autofree char *buf = g_malloc(size);
	g_autoptr(GString) pending = g_string_new(NULL);
	guint64 last = 0;
	gboolean final = FALSE;
	char *problem = NULL;
	for (;;) {
		ssize_t n = read(fd, buf, size);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			problem = g_strdup_printf("read: %s", g_strerror(errno));
			break;
		}
		if (n == 0)
			break;
		g_string_append_len(pending, buf, n);
		char *nl;
		while (problem == NULL && (nl = memchr(pending->str, '\n', pending->len)) != NULL) {
			*nl = '\0';
			guint64 seq = 0, count = 0;
			char kind[16] = "";
			if (sscanf(pending->str, "%" G_GUINT64_FORMAT " %15s", &seq, kind) != 2)
				problem = g_strdup_printf("bad line \"%.40s\"", pending->str);
			else if (final)
				problem = g_strdup("a line after final");
			else if (g_str_equal(kind, "missed") &&
				 (sscanf(pending->str, "%*u missed %" G_GUINT64_FORMAT, &count) != 1 ||
				  (last && seq != last + count)))
				problem = g_strdup_printf("bad missed line \"%s\"", pending->str);
			else if (!g_str_equal(kind, "missed") && last && seq != last + 1)
				problem = g_strdup_printf("line %" G_GUINT64_FORMAT " after %"
							  G_GUINT64_FORMAT, seq, last);
			else if (!g_str_equal(kind, "missed") && !g_str_equal(kind, "update") &&
				 !g_str_equal(kind, "final"))
				problem = g_strdup_printf("bad kind \"%s\"", kind);
			last = seq;
			final |= g_str_equal(kind, "final");
			g_string_erase(pending, 0, nl - pending->str + 1);
		}
		if (problem)
			break;
	}
	close(fd);
	if (problem == NULL && (!final || pending->len > 0))
		problem = g_strdup("no final line before end of file");
	return problem;
}

static int updates_readers_main(int n_slow, int n_cat, int fd)
{
	report_fd = fd;
	for (int i = 0; i < n_slow; i++)
		g_thread_unref(g_thread_new("slow", slow_reader, NULL));
	GThread *cats[64];
	n_cat = MIN(n_cat, (int)G_N_ELEMENTS(cats));
	for (int i = 0; i < n_cat; i++)
		cats[i] = g_thread_new("cat", cat_reader, NULL);
	int status = 0;
	for (int i = 0; i < n_cat; i++) {
		char *problem = g_thread_join(cats[i]);
		if (problem) {
			fprintf(stderr, "cat reader: %s\n", problem);
			status = 1;
		}
		report('c');
	}
	_exit(status);
}

/* Starts the reader process as uid nobody in the mount directory; its
 * reports come on the returned *@report_out. */
static pid_t spawn_readers_as_nobody(int n_slow, int n_cat, int *report_out)
{
	int fds[2];
	ck_assert_int_eq(pipe(fds), 0);
	char slow[16], cat[16], fd[16];
	snprintf(slow, sizeof slow, "%d", n_slow);
	snprintf(cat, sizeof cat, "%d", n_cat);
	snprintf(fd, sizeof fd, "%d", fds[1]);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		close(fds[0]);
		if (chdir(mnt) != 0 || setgroups(0, NULL) != 0 || setgid(NOBODY) != 0 ||
		    setuid(NOBODY) != 0)
			_exit(126);
		execl("/proc/self/exe", "test_mount", "--updates-readers", slow, cat, fd,
		      (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	g_unix_set_fd_nonblocking(fds[0], TRUE, NULL);
	*report_out = fds[0];
	return pid;
}

/* Counts the reports of the reader process: 's' per slow read, 'c' per
 * cat reader done. */
static void count_reports(int fd, guint *slow, guint *cats)
{
	char buf[512];
	ssize_t n;
	while ((n = read(fd, buf, sizeof buf)) > 0)
		for (ssize_t i = 0; i < n; i++)
			*(buf[i] == 's' ? slow : cats) += 1;
}

static long rss_bytes(void)
{
	long pages = 0, resident = 0;
	FILE *f = fopen("/proc/self/statm", "r");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fscanf(f, "%ld %ld", &pages, &resident), 2);
	fclose(f);
	return resident * sysconf(_SC_PAGESIZE);
}

/* 50 slow readers and 8 cat-like readers of `updates` as uid nobody cost
 * the computation at most the documented memory: the log's 16 MiB, 16 MiB
 * of lines readers are in the middle of, and the replies being written;
 * the cat readers get every update as its line or in a `missed` line, then
 * `final` and end of file. */
START_TEST(test_mount_updates_readers_as_nobody)
{
	IDictUpdateLog *log = idict__store_update_log(dict);
	double x = 0;
	/* The log full first: what the readers add is measured. */
	for (int i = 0; i < 1100; i++)
		publish_attack_step(x++);
	long rss_before = rss_bytes(), rss_peak = rss_before;
	const int n_cat = 8;
	int report;
	pid_t readers = spawn_readers_as_nobody(50, n_cat, &report);
	guint slow_reads = 0, cats_done = 0;
	gsize ring = 0, held = 0, ring_peak = 0, held_peak = 0;
	/* Until the slow readers have read 200 times, at most 20 s. */
	gint64 give_up = g_get_monotonic_time() + 20 * G_USEC_PER_SEC;
	for (guint step = 0; slow_reads < 200 && g_get_monotonic_time() < give_up; step++) {
		publish_attack_step(x++);
		if (step % 64 == 0) {
			idict__update_log_memory(log, &ring, &held);
			ring_peak = MAX(ring_peak, ring);
			held_peak = MAX(held_peak, held);
			rss_peak = MAX(rss_peak, rss_bytes());
			count_reports(report, &slow_reads, &cats_done);
		}
	}
	idict_notify_update(dict, TRUE);
	int status = wait_child(readers);
	count_reports(report, &slow_reads, &cats_done);
	close(report);
	ck_assert_msg(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "the reader process failed (status %d): see its messages above", status);
	ck_assert_uint_eq(cats_done, n_cat);
	ck_assert_uint_gt(slow_reads, 0);
	ck_assert_uint_le(ring_peak, LOG_MAX_BYTES);
	ck_assert_uint_le(held_peak, LOG_MAX_BYTES);
#if !defined(__SANITIZE_ADDRESS__)
	/* The process as a whole: within the bound (16 MiB held, replies
	 * being written) and the serving threads' own stacks and heaps.
	 * Readers that each copied their backlog took 1.7 GB here. */
	ck_assert_msg(rss_peak - rss_before < 64L * 1024 * 1024, "RSS grew by %ld MB",
		      (rss_peak - rss_before) >> 20);
#endif
}
END_TEST

/* A reader reading one byte at a time gets the rest of its line after the
 * line fell out of the log, then a `missed` line. */
START_TEST(test_mount_updates_line_outlives_log)
{
	int fd = open_updates(0);
	publish_attack_step(1);
	char first;
	ck_assert_int_eq(read(fd, &first, 1), 1);
	for (int i = 0; i < 1100; i++)
		idict_notify_update(dict, FALSE);
	g_autoptr(GString) line = g_string_new(NULL);
	g_string_append_c(line, first);
	while (!g_str_has_suffix(line->str, "\n")) {
		char buf[100];
		ssize_t n = read(fd, buf, sizeof buf);
		ck_assert_int_gt(n, 0);
		g_string_append_len(line, buf, n);
		ck_assert_ptr_null(memchr(buf, '\n', (gsize)n - 1)); /* whole lines preferred */
	}
	g_autoptr(GString) expected = g_string_new("1 update");
	for (guint i = 0; i < ATTACK_KEYS; i++)
		g_string_append_printf(expected, " %s", attack_names[i]);
	g_string_append_c(expected, '\n');
	ck_assert_msg(g_str_equal(line->str, expected->str), "got %zu bytes \"%.60s...%s\"",
		      line->len, line->str, line->str + MAX(line->len, 60) - 60);
	g_autofree char *next = read_some(fd);
	ck_assert_msg(g_str_has_prefix(next, "77 missed 76\n78 update\n"), "got \"%.40s\"", next);
	close(fd);
}
END_TEST

/* ---- readers: freshness, the cap, snapshot.json, listings (issue 10) ---- */

/* A read at offset 0 takes the current text; other offsets go on in the
 * text that read took, also on a file held open. */
START_TEST(test_mount_read_at_zero_is_current)
{
	g_autofree char *p = path("u");
	int fd = open(p, O_RDONLY);
	ck_assert_int_ge(fd, 0);
	char buf[64] = { 0 };
	/* Before any read at 0: the text the open took. */
	ck_assert_int_eq(pread(fd, buf, 5, 4), 5);
	ck_assert_str_eq(buf, "-2.5\n");
	const double other[] = { 7, 8 };
	ck_assert(idict_set_array(dict, "u", other, 2, NULL));
	memset(buf, 0, sizeof buf);
	ck_assert_int_eq(pread(fd, buf, 2, 0), 2);
	ck_assert_str_eq(buf, "7\n");
	const double third[] = { 9, 10 };
	ck_assert(idict_set_array(dict, "u", third, 2, NULL));
	memset(buf, 0, sizeof buf);
	ck_assert_int_eq(pread(fd, buf, sizeof buf - 1, 2), 2); /* goes on in "7\n8\n" */
	ck_assert_str_eq(buf, "8\n");
	ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
	memset(buf, 0, sizeof buf);
	ck_assert_int_eq(read(fd, buf, sizeof buf - 1), 5);
	ck_assert_str_eq(buf, "9\n10\n");
	/* Removed: the open file reads on in the value it had. */
	ck_assert(idict_remove(dict, "u"));
	memset(buf, 0, sizeof buf);
	ck_assert_int_eq(pread(fd, buf, sizeof buf - 1, 0), 5);
	ck_assert_str_eq(buf, "9\n10\n");
	close(fd);
}
END_TEST

typedef struct {
	IDict *dict;
	gint stop;
} Changer;

/* The computation of the freshness tests: x = SEQ + 2^-(SEQ % 24) (a text
 * whose length changes from one update to the next) published by update
 * SEQ, as fast as it can. */
static gpointer changer_main(gpointer data)
{
	Changer *c = data;
	while (!g_atomic_int_get(&c->stop)) {
		guint64 seq = idict_sequence(c->dict) + 1;
		idict_set_double(c->dict, "x", (double)seq + ldexp(1, -(int)(seq % 24)), NULL);
		idict_notify_update(c->dict, FALSE);
		g_usleep(50);
	}
	return NULL;
}

/* The number of the last update published, read from ctl/sequence. */
static gint64 published(void)
{
	g_autoptr(GString) text = read_file("ctl/sequence");
	return g_ascii_strtoll(text->str, NULL, 10);
}

typedef enum {
	READ_LIKE_PYTHON,  /* fstat, read(st_size + 1), read until EOF */
	READ_SIZE,         /* fstat, one read(st_size) (os.read(fd, st_size)) */
	READ_SIZE_PLUS_1,  /* fstat, read(st_size + 1), more only if that filled it */
	STAT_THEN_READ,    /* stat, open, fstat, read(st_size + 1) */
} ReadPattern;

/* Reads x with @pattern.  Returns: the update its value belongs to. */
static gint64 read_x(ReadPattern pattern)
{
	g_autofree char *p = path("x");
	struct stat st;
	if (pattern == STAT_THEN_READ)
		ck_assert_int_eq(stat(p, &st), 0);
	int fd = open(p, O_RDONLY);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(fstat(fd, &st), 0);
	char buf[256] = { 0 };
	gsize want = pattern == READ_SIZE ? (gsize)st.st_size : (gsize)st.st_size + 1;
	ssize_t n = read(fd, buf, MIN(want, sizeof buf - 1));
	ck_assert_int_gt(n, 0);
	if (pattern == READ_LIKE_PYTHON || pattern == STAT_THEN_READ ||
	    (pattern == READ_SIZE_PLUS_1 && (gsize)n == want)) {
		ssize_t more;
		while ((more = read(fd, buf + n, sizeof buf - 1 - (gsize)n)) > 0)
			n += more;
	}
	close(fd);
	ck_assert_msg(buf[n - 1] == '\n', "pattern %d: incomplete read of x: \"%s\" (st_size %ld)",
		      (int)pattern, buf, (long)st.st_size);
	return (gint64)g_ascii_strtod(buf, NULL);
}

/* Every way programs read a file gets, while values change all the time,
 * a value at least as new as the update published before the open, and
 * never an older one than the reader had (Python's open(p).read() got
 * older ones 637 times in 1,000 with the old size-matching cache). */
START_TEST(test_mount_reads_fresh_for_every_pattern)
{
	ck_assert(idict_set_double(dict, "x", (double)idict_sequence(dict) + 1.5, NULL));
	idict_notify_update(dict, FALSE);
	Changer changer = { dict, 0 };
	GThread *thread = g_thread_new("changer", changer_main, &changer);
	static const char *const names[] = { "open().read()", "read(st_size)",
					     "read(st_size + 1)", "stat, then open().read()" };
	for (ReadPattern pattern = READ_LIKE_PYTHON; pattern <= STAT_THEN_READ; pattern++) {
		/* One pattern's promises expire before the next: a thread that
		 * changes its way of reading within PROMISE_USEC (1 s) is the
		 * case clients.c's "What remains" tells of. */
		if (pattern != READ_LIKE_PYTHON)
			g_usleep(G_USEC_PER_SEC + G_USEC_PER_SEC / 10);
		gint64 last = 0;
		for (int i = 0; i < 500; i++) {
			gint64 before = published();
			gint64 got = read_x(pattern);
			/* The stat-then-read pattern may get the value its stat was
			 * told (see clients.c): no older than the one before it. */
			if (pattern != STAT_THEN_READ)
				ck_assert_msg(got >= before,
					      "%s: value of update %" G_GINT64_FORMAT
					      ", published before the open: %" G_GINT64_FORMAT,
					      names[pattern], got, before);
			ck_assert_msg(got >= last, "%s went back from %" G_GINT64_FORMAT
				      " to %" G_GINT64_FORMAT, names[pattern], last, got);
			last = got;
		}
	}
	g_atomic_int_set(&changer.stop, 1);
	g_thread_join(thread);
}
END_TEST

/* The text of an array of @n doubles, @seed apart from the last one. */
static void set_big(const char *key, guint n, double seed)
{
	g_autofree double *v = g_new(double, n);
	for (guint i = 0; i < n; i++)
		v[i] = seed + i * 0.1234567890123;
	ck_assert(idict_set_array(dict, key, v, n, NULL));
}

/* Open files hold texts; what they hold in all stays under the cap
 * (client_memory=2M here), and an open past it fails with ENOMEM.  Opens
 * of one value generation share its text: 500 of them cost one. */
START_TEST(test_mount_held_opens_capped)
{
	idict_server_wait_then_close(server, 0);
	g_autoptr(GError) error = NULL;
	server = idict_serve(dict, mnt, "client_memory=2M", &error);
	ck_assert_msg(server != NULL, "%s", error ? error->message : "");
	IDictClients *clients = idict__server_clients(server);
	ck_assert_uint_eq(idict__clients_cap(clients), 2 << 20);
	g_autofree char *p = path("big");
	int fds[500];
	guint opened = 0;
	int err = 0;
	char byte;
	/* A new value (190 KB of text) before every open. */
	for (guint i = 0; i < G_N_ELEMENTS(fds) && err == 0; i++) {
		set_big("big", 10000, i);
		fds[opened] = open(p, O_RDONLY);
		if (fds[opened] < 0)
			err = errno;
		else if (read(fds[opened], &byte, 1) != 1)
			err = errno;
		else
			opened++;
		ck_assert_uint_le(idict__clients_used(clients), 2 << 20);
	}
	ck_assert_msg(err == ENOMEM, "after %u opens: %s", opened, g_strerror(err));
	ck_assert_uint_ge(opened, 1);
	ck_assert_uint_le(opened, 11);
	for (guint i = 0; i < opened; i++)
		close(fds[i]);
	/* Once released, a second later promises (lookups' sizes) have gone. */
	g_usleep(1100 * 1000);
	struct stat st;
	ck_assert_int_eq(stat(p, &st), 0);
	ck_assert_uint_lt(idict__clients_used(clients), 400 * 1024);

	/* One value, 500 opens: shared. */
	for (opened = 0; opened < G_N_ELEMENTS(fds); opened++) {
		fds[opened] = open(p, O_RDONLY);
		ck_assert_msg(fds[opened] >= 0, "open %u: %s", opened, g_strerror(errno));
		ck_assert_int_eq(read(fds[opened], &byte, 1), 1);
	}
	ck_assert_uint_lt(idict__clients_used(clients), 1 << 20);
	for (guint i = 0; i < opened; i++)
		close(fds[i]);
}
END_TEST

/* Each open `updates` holds a reader's state (about 2 KiB), counted against
 * the cap: opens past it fail with ENOMEM, and closing gives the room back.
 * Without the count, any user grew the computation by 330 MB with 190,000
 * opens from ten processes. */
START_TEST(test_mount_updates_opens_capped)
{
	idict_server_wait_then_close(server, 0);
	g_autoptr(GError) error = NULL;
	server = idict_serve(dict, mnt, "client_memory=64K", &error);
	ck_assert_msg(server != NULL, "%s", error ? error->message : "");
	IDictClients *clients = idict__server_clients(server);
	guint64 before = idict__clients_used(clients);
	g_autofree char *p = path("updates");
	int fds[200];
	guint opened = 0;
	int err = 0;
	for (; opened < G_N_ELEMENTS(fds); opened++) {
		fds[opened] = open(p, O_RDONLY);
		if (fds[opened] < 0) {
			err = errno;
			break;
		}
		ck_assert_uint_le(idict__clients_used(clients), 64 << 10);
	}
	ck_assert_msg(err == ENOMEM, "after %u opens: %s", opened, g_strerror(err));
	ck_assert_uint_ge(opened, 1);
	ck_assert_uint_le(opened, (64 << 10) / idict__stream_size());
	for (guint i = 0; i < opened; i++)
		close(fds[i]);
	/* Releases reach the server after close() returns; what is left is
	 * the lookups' promises of a size (below a second). */
	guint64 left = before + idict__stream_size();
	for (int i = 0; i < 200 && idict__clients_used(clients) >= left; i++)
		g_usleep(10 * 1000);
	ck_assert_uint_lt(idict__clients_used(clients), left);
	int fd = open(p, O_RDONLY);
	ck_assert_int_ge(fd, 0);
	close(fd);
}
END_TEST

/* snapshot.json renders nothing at stat or lookup, however many keys;
 * an open renders it once per update, shared; its size is exact for the
 * reader that opened it. */
START_TEST(test_mount_snapshot_stat_renders_nothing)
{
	char key[32];
	for (guint i = 0; i < 20000; i++) {
		g_snprintf(key, sizeof key, "many/k%05u", i);
		ck_assert(idict_set_double(dict, key, i * 0.5, NULL));
	}
	idict_notify_update(dict, FALSE);
	g_autofree char *p = path("snapshot.json");
	guint renders = idict__snapshot_renders();
	struct stat st;
	for (int i = 0; i < 200; i++)
		ck_assert_int_eq(stat(p, &st), 0);
	ck_assert_int_eq(st.st_size, 0); /* nothing rendered yet */
	/* `ls -l`: a listing and a stat of every name. */
	g_autoptr(GDir) root = g_dir_open(mnt, 0, NULL);
	const char *name;
	while ((name = g_dir_read_name(root)) != NULL) {
		g_autofree char *q = path(name);
		ck_assert_int_eq(lstat(q, &st), 0);
	}
	ck_assert_uint_eq(idict__snapshot_renders(), renders);

	int fd = open(p, O_RDONLY);
	ck_assert_int_ge(fd, 0);
	ck_assert_uint_eq(idict__snapshot_renders(), renders + 1);
	ck_assert_int_eq(fstat(fd, &st), 0);
	g_autoptr(GString) text = read_file("snapshot.json");
	ck_assert_int_eq(st.st_size, text->len);
	ck_assert(strstr(text->str, "\"many/k19999\":9999.5") != NULL);
	close(fd);
	ck_assert_int_eq(stat(p, &st), 0);
	ck_assert_int_eq(st.st_size, text->len);
	/* Same update: shared; the next update: rendered again, once. */
	for (int i = 0; i < 20; i++) {
		g_autoptr(GString) again = read_file("snapshot.json");
		ck_assert_str_eq(again->str, text->str);
	}
	ck_assert_uint_eq(idict__snapshot_renders(), renders + 1);
	ck_assert(idict_set_double(dict, "many/k00000", -1, NULL));
	idict_notify_update(dict, FALSE);
	g_autoptr(GString) next = read_file("snapshot.json");
	ck_assert(strstr(next->str, "\"many/k00000\":-1") != NULL);
	ck_assert_uint_eq(idict__snapshot_renders(), renders + 2);
}
END_TEST

typedef struct {
	IDict *dict;
	gint stop;
	gint swaps; /* atomic */
} BatchSwapper;

#define BATCH 2000

/* Swaps keys batch/a0000... for batch/b0000... and back, in one update
 * each, with new values, until told. */
static gpointer batch_swapper_main(gpointer data)
{
	BatchSwapper *s = data;
	char key[32];
	while (!g_atomic_int_get(&s->stop)) {
		gint swaps = g_atomic_int_get(&s->swaps);
		const char *from = swaps % 2 ? "b" : "a", *to = swaps % 2 ? "a" : "b";
		idict_lock(s->dict);
		for (guint i = 0; i < BATCH; i++) {
			g_snprintf(key, sizeof key, "batch/%s%04u", from, i);
			idict_remove(s->dict, key);
			g_snprintf(key, sizeof key, "batch/%s%04u", to, i);
			idict_set_int(s->dict, key, swaps, NULL);
		}
		idict_unlock(s->dict);
		idict_notify_update(s->dict, FALSE);
		g_atomic_int_inc(&s->swaps);
		g_usleep(1000);
	}
	return NULL;
}

/* A reader listing a directory, or reading snapshot.json, while a batch of
 * keys is replaced in one update sees all of the change or none. */
START_TEST(test_mount_listing_from_one_moment)
{
	char key[32];
	for (guint i = 0; i < BATCH; i++) {
		g_snprintf(key, sizeof key, "batch/a%04u", i);
		ck_assert(idict_set_int(dict, key, -1, NULL));
	}
	idict_notify_update(dict, FALSE);
	BatchSwapper swapper = { dict, 0, 0 };
	/* swaps is read here while the swapper counts: atomically. */
	GThread *thread = g_thread_new("swapper", batch_swapper_main, &swapper);
	g_autofree char *batch = path("batch");
	/* At least 60 rounds, and until 20 swaps happened among them (a round
	 * takes less than a swap). */
	for (int round = 0; round < 100000 && (round < 60 || g_atomic_int_get(&swapper.swaps) < 20);
	     round++) {
		g_autoptr(GDir) dir = g_dir_open(batch, 0, NULL);
		ck_assert_ptr_nonnull(dir);
		guint a = 0, b = 0;
		const char *name;
		while ((name = g_dir_read_name(dir)) != NULL)
			name[0] == 'a' ? a++ : b++;
		ck_assert_msg((a == BATCH && b == 0) || (a == 0 && b == BATCH),
			      "a listing from two moments: %u a, %u b", a, b);

		g_autoptr(GString) json = read_file("snapshot.json");
		a = b = 0;
		for (const char *at = json->str; (at = strstr(at, "\"batch/")) != NULL; at += 7)
			at[7] == 'a' ? a++ : b++;
		ck_assert_msg((a == BATCH && b == 0) || (a == 0 && b == BATCH),
			      "snapshot.json from two moments: %u a, %u b", a, b);
	}
	g_atomic_int_set(&swapper.stop, 1);
	g_thread_join(thread);
	ck_assert_int_ge(swapper.swaps, 20);
}
END_TEST

static Suite *mount_suite(void)
{
	Suite *s = suite_create("mount");
	TCase *tc = tcase_create("files");
	tcase_add_checked_fixture(tc, mount_setup, mount_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_mount_reads_every_type);
	tcase_add_test(tc, test_mount_serving_threads_yield_cpu);
	tcase_add_test(tc, test_mount_serve_again_after_close);
	tcase_add_test(tc, test_mount_fresh_after_change);
	tcase_add_test(tc, test_mount_open_is_a_snapshot);
	tcase_add_test(tc, test_mount_mtime_and_inode);
	tcase_add_test(tc, test_mount_directories);
	tcase_add_test(tc, test_mount_modes);
	tcase_add_test(tc, test_mount_write_valid);
	tcase_add_loop_test(tc, test_mount_write_refused, 0, G_N_ELEMENTS(bad_writes));
	tcase_add_loop_test(tc, test_mount_write_odd_but_valid, 0, G_N_ELEMENTS(odd_writes));
	tcase_add_test(tc, test_mount_setxattr_refused);
	tcase_add_test(tc, test_mount_write_at_offset_refused);
	tcase_add_test(tc, test_mount_write_in_pieces);
	tcase_add_test(tc, test_mount_write_fsync_and_second_values);
	tcase_add_test(tc, test_mount_write_large_and_by_byte);
	tcase_add_test(tc, test_mount_write_size_limit);
	tcase_add_test(tc, test_mount_no_namespace_changes);
	tcase_add_test(tc, test_mount_truncate_and_times);
	tcase_add_test(tc, test_mount_ctl_pause_terminate);
	tcase_add_test(tc, test_mount_ctl_errors);
	tcase_add_test(tc, test_mount_ctl_status);
	tcase_add_test(tc, test_mount_ctl_mtime_is_the_last_change);
	suite_add_tcase(s, tc);

	tc = tcase_create("readers");
	tcase_add_checked_fixture(tc, mount_setup, mount_teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_mount_read_at_zero_is_current);
	tcase_add_test(tc, test_mount_reads_fresh_for_every_pattern);
	tcase_add_test(tc, test_mount_held_opens_capped);
	tcase_add_test(tc, test_mount_updates_opens_capped);
	tcase_add_test(tc, test_mount_snapshot_stat_renders_nothing);
	tcase_add_test(tc, test_mount_listing_from_one_moment);
	suite_add_tcase(s, tc);

	tc = tcase_create("updates");
	tcase_add_checked_fixture(tc, mount_setup, mount_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_mount_updates_lines);
	tcase_add_test(tc, test_mount_updates_cursor_starts_now);
	tcase_add_test(tc, test_mount_updates_poll);
	tcase_add_test(tc, test_mount_updates_missed);
	tcase_add_test(tc, test_mount_updates_seek_back);
	tcase_add_test(tc, test_mount_blocked_reads_hold_no_worker);
	tcase_add_test(tc, test_mount_slow_requests_hold_up_no_one);
	tcase_add_test(tc, test_mount_workers_bounded);
	tcase_add_test(tc, test_mount_updates_interrupt);
	suite_add_tcase(s, tc);

	tc = tcase_create("attacks");
	tcase_add_checked_fixture(tc, attack_setup, attack_teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_mount_updates_readers_as_nobody);
	tcase_add_test(tc, test_mount_updates_line_outlives_log);
	suite_add_tcase(s, tc);

	tc = tcase_create("lifecycle");
	tcase_add_checked_fixture(tc, mount_setup, mount_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_mount_close_waits_for_clients);
	tcase_add_test(tc, test_mount_close_when_clients_leave);
	tcase_add_test(tc, test_mount_close_answers_blocked_reads);
	tcase_add_test(tc, test_mount_unmounted_from_outside);
	tcase_add_test(tc, test_mount_stopped_reader_never_blocks);
	tcase_add_test(tc, test_mount_one_server_per_dictionary);
	tcase_add_test(tc, test_mount_interrupt_during_shutdown);
	suite_add_tcase(s, tc);

	tc = tcase_create("mounting");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_mount_stale_mount_recovered);
	tcase_add_test(tc, test_mount_killed_leaves_no_mount);
	tcase_add_test(tc, test_mount_own_writer_exits);
	tcase_add_test(tc, test_mount_bad_options);
	tcase_add_test(tc, test_mount_options_escaped_comma);
	tcase_add_test(tc, test_mount_creates_only_the_last_component);
	tcase_add_test(tc, test_mount_warns_over_a_non_empty_directory);
	tcase_add_test(tc, test_mount_server_keeps_the_dictionary);
	suite_add_tcase(s, tc);
	return s;
}

int main(int argc, char **argv)
{
	if (argc == 5 && g_str_equal(argv[1], "--updates-readers"))
		return updates_readers_main(atoi(argv[2]), atoi(argv[3]), atoi(argv[4]));
	SRunner *runner = srunner_create(mount_suite());
	srunner_run_all(runner, CK_ENV);
	int failed = srunner_ntests_failed(runner);
	srunner_free(runner);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
