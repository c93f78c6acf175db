/* test_refusals.c - refused client writes: the lines of ctl/errors, who
 * sees which, bounds under a flood, hostile values and reasons, and the
 * computation's refusal callback.  At the store level; the mount and other
 * users are tested in test_mount.c and tests/shell/test_permissions.sh.
 */
#include "ctl.h"
#include "fs_view.h"
#include "refusals.h"
#include "store.h"
#include "testutil.h"

#include <check.h>
#include <errno.h>
#include <string.h>

/* Returns: (transfer full): ctl/errors as @viewer reads it, split in lines
 * (without the last, empty one). */
static GStrv errors_lines(IDict *dict, guint viewer)
{
	g_autoptr(GBytes) text = idict__refusals_render(idict__store_refusals(dict), viewer);
	g_autofree char *s = g_strndup(g_bytes_get_data(text, NULL), g_bytes_get_size(text));
	if (*s == '\0')
		return g_new0(char *, 1);
	ck_assert(g_str_has_suffix(s, "\n"));
	s[strlen(s) - 1] = '\0';
	return g_strsplit(s, "\n", -1);
}

/* Returns: (transfer full): line @line without its ID and TIME fields:
 * "UID KEY VALUE REASON". */
static char *without_id_time(const char *line)
{
	g_auto(GStrv) fields = g_strsplit(line, " ", 3);
	ck_assert_uint_eq(g_strv_length(fields), 3);
	ck_assert(g_ascii_isdigit(fields[0][0]));
	/* 2026-12-01T12:00:00.123456Z */
	ck_assert_uint_eq(strlen(fields[1]), 27);
	ck_assert(fields[1][10] == 'T' && fields[1][26] == 'Z');
	return g_strdup(fields[2]);
}

static gboolean check_half(IDict *dict, const char *key, GVariant *value, gpointer data,
			   GError **error)
{
	(void)dict, (void)key, (void)data;
	if (g_variant_get_double(value) <= 0.5)
		return TRUE;
	g_set_error_literal(error, IDICT_ERROR, IDICT_ERROR_INVALID_VALUE, "x must be at most 0.5");
	return FALSE;
}

static guint64 key_ino(IDict *dict, const char *name)
{
	IDictNodeInfo info;
	ck_assert_int_eq(idict__view_lookup(dict, IDICT__VIEW_KEYS, IDICT__INO_ROOT, name, &info), 0);
	return info.ino;
}

START_TEST(test_refusals_lines)
{
	g_autoptr(IDict) dict = idict_new();
	ck_assert(idict_set_double(dict, "x", 0.25, NULL));
	ck_assert(idict_set_writable(dict, "x", TRUE, NULL));
	ck_assert(idict_set_check(dict, "x", check_half, NULL, NULL, NULL));
	g_auto(GStrv) none = errors_lines(dict, IDICT__VIEWER_ALL);
	ck_assert_uint_eq(g_strv_length(none), 0);
	ck_assert_int_eq(idict__refusals_last_time(idict__store_refusals(dict)), 0);

	guint64 x = key_ino(dict, "x");
	ck_assert_int_eq(idict__view_client_write(dict, x, 1000, "0.6\n", 4), -EINVAL);
	ck_assert_int_eq(idict__view_client_write(dict, x, 1000, "abc\n", 4), -EINVAL);
	ck_assert_int_eq(idict__view_client_write(dict, x, 1000, "0.5\n", 4), 0);
	g_auto(GStrv) lines = errors_lines(dict, IDICT__VIEWER_ALL);
	ck_assert_uint_eq(g_strv_length(lines), 2);
	g_autofree char *first = without_id_time(lines[0]);
	ck_assert_str_eq(first, "1000 x \"0.6\" x must be at most 0.5");
	g_autofree char *second = without_id_time(lines[1]);
	ck_assert(g_str_has_prefix(second, "1000 x \"abc\" "));
	ck_assert(strlen(second) > strlen("1000 x \"abc\" ")); /* the parser says why */
	ck_assert(g_str_has_prefix(lines[0], "1 ") && g_str_has_prefix(lines[1], "2 "));
	ck_assert(idict__refusals_last_time(idict__store_refusals(dict)) > 0);

	/* A refused control command is listed too. */
	const IDictCtlFile *pause = idict__ctl_by_name("pause");
	ck_assert_int_eq(pause->write(dict, 1000, "yes\n", 4), -EINVAL);
	g_auto(GStrv) three = errors_lines(dict, IDICT__VIEWER_ALL);
	ck_assert_uint_eq(g_strv_length(three), 3);
	g_autofree char *third = without_id_time(three[2]);
	ck_assert(g_str_has_prefix(third, "1000 ctl/pause \"yes\" ctl/pause takes 1"));
	/* ctl/errors itself renders the same. */
	const IDictCtlFile *errors = idict__ctl_by_name("errors");
	ck_assert_ptr_nonnull(errors);
	ck_assert(errors->write == NULL);
	g_autoptr(GBytes) a = errors->render(dict, IDICT__VIEWER_ALL);
	g_autoptr(GBytes) b = idict__refusals_render(idict__store_refusals(dict), IDICT__VIEWER_ALL);
	ck_assert(g_bytes_equal(a, b));
}
END_TEST

/* Each user sees their own lines; the owner (VIEWER_ALL) sees all of them,
 * in the order they came. */
START_TEST(test_refusals_per_user)
{
	g_autoptr(IDict) dict = idict_new();
	idict__refusals_record(idict__store_refusals(dict), dict, 1000, "a", "1", 1, "one");
	idict__refusals_record(idict__store_refusals(dict), dict, 2000, "b", "2", 1, "two");
	idict__refusals_record(idict__store_refusals(dict), dict, 1000, "c", "3", 1, "three");
	g_auto(GStrv) all = errors_lines(dict, IDICT__VIEWER_ALL);
	ck_assert_uint_eq(g_strv_length(all), 3);
	for (int i = 0; i < 3; i++) {
		g_autofree char *expect = g_strdup_printf("%d ", i + 1);
		ck_assert(g_str_has_prefix(all[i], expect));
	}
	g_auto(GStrv) mine = errors_lines(dict, 1000);
	ck_assert_uint_eq(g_strv_length(mine), 2);
	ck_assert(strstr(mine[0], " 1000 a \"1\" one") && strstr(mine[1], " 1000 c \"3\" three"));
	g_auto(GStrv) theirs = errors_lines(dict, 2000);
	ck_assert_uint_eq(g_strv_length(theirs), 1);
	ck_assert(strstr(theirs[0], " 2000 b \"2\" two"));
	g_auto(GStrv) nobody = errors_lines(dict, 65534);
	ck_assert_uint_eq(g_strv_length(nobody), 0);
}
END_TEST

/* A user who writes bad values fast keeps only their last 8 lines, and
 * pushes nobody else's out; past 32 users, the one quiet longest goes. */
START_TEST(test_refusals_bounded)
{
	g_autoptr(IDict) dict = idict_new();
	idict__refusals_record(idict__store_refusals(dict), dict, 2000, "b", "x", 1, "kept");
	for (int i = 0; i < 10000; i++) {
		char value[16];
		g_snprintf(value, sizeof value, "%d", i);
		idict__refusals_record(idict__store_refusals(dict), dict, 1000, "a", value, strlen(value), "flood");
	}
	g_auto(GStrv) flood = errors_lines(dict, 1000);
	ck_assert_uint_eq(g_strv_length(flood), 8);
	ck_assert(strstr(flood[7], " \"9999\" flood"));
	ck_assert(strstr(flood[0], " \"9992\" flood"));
	g_auto(GStrv) kept = errors_lines(dict, 2000);
	ck_assert_uint_eq(g_strv_length(kept), 1);

	/* 31 more users: 33 in all, so the one quiet longest (2000) goes. */
	for (guint uid = 3000; uid < 3031; uid++)
		idict__refusals_record(idict__store_refusals(dict), dict, uid, "k", "v", 1, "many");
	g_auto(GStrv) first_gone = errors_lines(dict, 2000);
	ck_assert_uint_eq(g_strv_length(first_gone), 0); /* quiet longest */
	g_auto(GStrv) all = errors_lines(dict, IDICT__VIEWER_ALL);
	ck_assert_uint_eq(g_strv_length(all), 31 + 8);
}
END_TEST

/* Values are cut and escaped, reasons made one line: nothing a client
 * writes reaches a terminal as a control sequence. */
START_TEST(test_refusals_hostile_text)
{
	g_autoptr(IDict) dict = idict_new();
	const char value[] = "\x1b]0;owned\a\"q\" \\ \xff\n2nd line and more and more and more text";
	idict__refusals_record(idict__store_refusals(dict), dict, 1, "k", value, sizeof value - 1,
			       "bad\nvalue\x1b[31m \xe2\x80\xae" "desrever \xff end");
	g_auto(GStrv) lines = errors_lines(dict, IDICT__VIEWER_ALL);
	ck_assert_uint_eq(g_strv_length(lines), 1);
	g_autofree char *rest = without_id_time(lines[0]);
	ck_assert_str_eq(rest, "1 k \"\\x1b]0;owned\\x07\\\"q\\\" \\\\ \\xff\\n2nd line and more and \"... "
			       "bad value [31m  desrever \xef\xbf\xbd end");
	for (const char *p = lines[0]; *p; p++)
		ck_assert((guchar)*p >= 0x20 && *p != 0x7f);

	/* One trailing newline (echo's) is not shown; a long reason is cut. */
	g_autofree char *long_reason = g_strnfill(1000, 'r');
	idict__refusals_record(idict__store_refusals(dict), dict, 1, "k", "0.6\n", 4, long_reason);
	g_auto(GStrv) two = errors_lines(dict, IDICT__VIEWER_ALL);
	g_autofree char *second = without_id_time(two[1]);
	ck_assert(g_str_has_prefix(second, "1 k \"0.6\" rrr"));
	ck_assert_uint_eq(strlen(second), strlen("1 k \"0.6\" ") + 200);
}
END_TEST

typedef struct {
	int calls;
	int destroyed;
	char *last;
} Seen;

static void on_refusal(IDict *dict, const char *key, guint uid, const char *value,
		       const char *reason, gpointer data)
{
	(void)dict;
	Seen *seen = data;
	seen->calls++;
	g_free(seen->last);
	seen->last = g_strdup_printf("%u %s %s %s", uid, key, value, reason);
}

static void on_destroy(gpointer data)
{
	((Seen *)data)->destroyed++;
}

START_TEST(test_refusals_callback)
{
	g_autoptr(IDict) dict = idict_new();
	Seen seen = { 0 }, other = { 0 };
	ck_assert(idict_set_int(dict, "n", 1, NULL));
	ck_assert(idict_set_writable(dict, "n", TRUE, NULL));
	idict_set_refusal_callback(dict, on_refusal, &seen, on_destroy);
	ck_assert_int_eq(idict__view_client_write(dict, key_ino(dict, "n"), 42, "1.5\n", 4), -EINVAL);
	ck_assert_int_eq(seen.calls, 1);
	ck_assert(g_str_has_prefix(seen.last, "42 n \"1.5\" "));
	ck_assert_int_eq(idict__view_client_write(dict, key_ino(dict, "n"), 42, "7\n", 2), 0);
	ck_assert_int_eq(seen.calls, 1); /* accepted writes are not refusals */

	idict_set_refusal_callback(dict, on_refusal, &other, on_destroy);
	ck_assert_int_eq(seen.destroyed, 1);
	idict__refusals_record(idict__store_refusals(dict), dict, 1, "n", "x", 1, "why");
	ck_assert_int_eq(seen.calls, 1);
	ck_assert_int_eq(other.calls, 1);
	idict_set_refusal_callback(dict, NULL, NULL, NULL);
	ck_assert_int_eq(other.destroyed, 1);
	idict__refusals_record(idict__store_refusals(dict), dict, 1, "n", "x", 1, "why");
	ck_assert_int_eq(other.calls, 1);

	/* The dictionary's end destroys a callback still set. */
	Seen last = { 0 };
	IDict *d = idict_new();
	idict_set_refusal_callback(d, on_refusal, &last, on_destroy);
	idict_free(d);
	ck_assert_int_eq(last.destroyed, 1);
	g_free(seen.last);
	g_free(other.last);
}
END_TEST

/* Filesystem threads record and render while the computation replaces the
 * callback (for the sanitizers). */
static gpointer record_many(gpointer data)
{
	IDict *dict = data;
	for (int i = 0; i < 2000; i++) {
		idict__refusals_record(idict__store_refusals(dict), dict, (guint)(i % 40), "k", "v", 1, "why");
		if (i % 100 == 0)
			g_bytes_unref(idict__refusals_render(idict__store_refusals(dict), IDICT__VIEWER_ALL));
	}
	return NULL;
}

static void count_call(IDict *dict, const char *key, guint uid, const char *value,
		       const char *reason, gpointer data)
{
	(void)dict, (void)key, (void)uid, (void)value, (void)reason;
	g_atomic_int_inc((gint *)data);
}

START_TEST(test_refusals_threads)
{
	g_autoptr(IDict) dict = idict_new();
	GThread *threads[3];
	for (int i = 0; i < 3; i++)
		threads[i] = g_thread_new("record", record_many, dict);
	gint *counts = g_new0(gint, 100);
	for (int i = 0; i < 100; i++)
		idict_set_refusal_callback(dict, count_call, &counts[i], NULL);
	for (int i = 0; i < 3; i++)
		g_thread_join(threads[i]);
	idict_set_refusal_callback(dict, NULL, NULL, NULL);
	g_free(counts);
	g_auto(GStrv) all = errors_lines(dict, IDICT__VIEWER_ALL);
	ck_assert_uint_le(g_strv_length(all), 32 * 8);
}
END_TEST

static Suite *refusals_suite(void)
{
	Suite *s = suite_create("refusals");
	TCase *tc = tcase_create("refusals");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_refusals_lines);
	tcase_add_test(tc, test_refusals_per_user);
	tcase_add_test(tc, test_refusals_bounded);
	tcase_add_test(tc, test_refusals_hostile_text);
	tcase_add_test(tc, test_refusals_callback);
	tcase_add_test(tc, test_refusals_threads);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run_suite(refusals_suite());
}
