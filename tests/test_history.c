/* test_history.c - history/KEY, snapshot.json and the progress lines of
 * ctl/status, at the store level and through a real mount.
 */
#include "fs_view.h"
#include "snapshot.h"
#include "store.h"
#include "testutil.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

START_TEST(test_history_records_changes)
{
	g_autoptr(IDict) dict = idict_new();
	ck_assert(idict_set_double(dict, "residual", 1.0, NULL));
	ck_assert(idict_set_int(dict, "step", 0, NULL));
	g_autoptr(GError) error = NULL;
	ck_assert(idict_set_history(dict, "residual", 3, &error));
	tu_assert_no_error(error);
	ck_assert(!idict_set_history(dict, "missing", 3, &error));
	tu_assert_error(error, IDICT_ERROR, IDICT_ERROR_NOT_FOUND);

	for (int i = 1; i <= 5; i++) {
		idict_set_double(dict, "residual", 1.0 / (1 << i), NULL);
		idict_set_int(dict, "step", i, NULL);
		idict_notify_update(dict, FALSE);
		/* An update without the key: no history line. */
		idict_notify_update(dict, FALSE);
	}
	IDictNodeInfo info;
	ck_assert_int_eq(idict__view_lookup(dict, IDICT__VIEW_HISTORY, IDICT__INO_ROOT, "residual", &info), 0);
	ck_assert_int_eq(idict__view_lookup(dict, IDICT__VIEW_HISTORY, IDICT__INO_ROOT, "step", &info),
			 -ENOENT);
	ck_assert_int_eq(idict__view_lookup(dict, IDICT__VIEW_HISTORY, IDICT__INO_ROOT, "residual", &info), 0);
	g_autoptr(GBytes) text = NULL;
	ck_assert_int_eq(idict__view_history_stat(dict, info.ino, &info, &text), 0);
	g_autofree char *s = g_strndup(g_bytes_get_data(text, NULL), g_bytes_get_size(text));
	g_auto(GStrv) lines = g_strsplit(s, "\n", -1);
	ck_assert_uint_eq(g_strv_length(lines), 4); /* 3 lines and "" */
	/* "SEQ UNIXTIME VALUE": the last three changes, at updates 5, 7, 9. */
	const char *expected[] = { "5 ", "0.125", "7 ", "0.0625", "9 ", "0.03125" };
	for (int i = 0; i < 3; i++) {
		g_auto(GStrv) fields = g_strsplit(lines[i], " ", -1);
		ck_assert_uint_eq(g_strv_length(fields), 3);
		ck_assert(g_str_has_prefix(lines[i], expected[2 * i]));
		ck_assert_str_eq(fields[2], expected[2 * i + 1]);
		double when = g_ascii_strtod(fields[1], NULL);
		ck_assert(fabs(when - (double)g_get_real_time() / G_USEC_PER_SEC) < 60);
	}
	ck_assert_uint_eq(info.size, g_bytes_get_size(text));

	/* Depth 0 turns it off; the key leaves history/. */
	ck_assert(idict_set_history(dict, "residual", 0, NULL));
	ck_assert_int_eq(idict__view_lookup(dict, IDICT__VIEW_HISTORY, IDICT__INO_ROOT, "residual", &info),
			 -ENOENT);
}
END_TEST

START_TEST(test_history_directories)
{
	g_autoptr(IDict) dict = idict_new();
	ck_assert(idict_set_double(dict, "params/alpha", 0.25, NULL));
	ck_assert(idict_set_double(dict, "params/beta", 0.5, NULL));
	ck_assert(idict_set_double(dict, "other/x", 1, NULL));
	ck_assert(idict_set_history(dict, "params/alpha", 10, NULL));
	int err = 0;
	g_autoptr(GPtrArray) root = idict__view_list_dir(dict, IDICT__VIEW_HISTORY, IDICT__INO_ROOT, &err);
	ck_assert_int_eq(err, 0);
	ck_assert_uint_eq(root->len, 1);
	ck_assert_str_eq(((IDictTreeEntry *)root->pdata[0])->name, "params");
	IDictNodeInfo params;
	ck_assert_int_eq(idict__view_lookup(dict, IDICT__VIEW_HISTORY, IDICT__INO_ROOT, "params", &params), 0);
	ck_assert(params.is_dir);
	g_autoptr(GPtrArray) inside = idict__view_list_dir(dict, IDICT__VIEW_HISTORY, params.ino, &err);
	ck_assert_uint_eq(inside->len, 1);
	ck_assert_str_eq(((IDictTreeEntry *)inside->pdata[0])->name, "alpha");
	IDictNodeInfo other;
	ck_assert_int_eq(idict__view_lookup(dict, IDICT__VIEW_HISTORY, IDICT__INO_ROOT, "other", &other),
			 -ENOENT);
	/* Removing the key removes it from history/. */
	ck_assert(idict_remove(dict, "params/alpha"));
	g_autoptr(GPtrArray) after = idict__view_list_dir(dict, IDICT__VIEW_HISTORY, IDICT__INO_ROOT, &err);
	ck_assert_uint_eq(after->len, 0);
}
END_TEST

START_TEST(test_history_only_scalars)
{
	g_autoptr(IDict) dict = idict_new();
	ck_assert(idict_set_double(dict, "x", 1, NULL));
	ck_assert(idict_set_history(dict, "x", 4, NULL));
	idict_notify_update(dict, FALSE);
	ck_assert(idict_set_string(dict, "x", "text", NULL));
	idict_notify_update(dict, FALSE);
	ck_assert(idict_set_bool(dict, "x", TRUE, NULL));
	idict_notify_update(dict, FALSE);
	IDictNodeInfo info;
	ck_assert_int_eq(idict__view_lookup(dict, IDICT__VIEW_HISTORY, IDICT__INO_ROOT, "x", &info), 0);
	g_autoptr(GBytes) text = NULL;
	ck_assert_int_eq(idict__view_history_stat(dict, info.ino, &info, &text), 0);
	g_autofree char *s = g_strndup(g_bytes_get_data(text, NULL), g_bytes_get_size(text));
	g_auto(GStrv) lines = g_strsplit(s, "\n", -1);
	ck_assert_uint_eq(g_strv_length(lines), 3);
	ck_assert(g_str_has_suffix(lines[0], " 1"));
	ck_assert(g_str_has_suffix(lines[1], " true"));
}
END_TEST

START_TEST(test_history_progress_in_status)
{
	g_autoptr(IDict) dict = idict_new();
	IDictStatus status;
	idict__store_status(dict, &status);
	ck_assert(isnan(status.progress) && isnan(status.eta_seconds));
	ck_assert(isnan(status.updates_per_second));
	g_autoptr(GError) error = NULL;
	ck_assert(!idict_set_progress_target(dict, "step", -1, &error));
	tu_assert_error(error, IDICT_ERROR, IDICT_ERROR_INVALID_VALUE);
	ck_assert(idict_set_progress_target(dict, "step", 100, NULL));
	for (int i = 0; i <= 25; i++) {
		idict_set_int(dict, "step", i, NULL);
		idict_notify_update(dict, FALSE);
		g_usleep(2000);
	}
	idict__store_status(dict, &status);
	ck_assert(fabs(status.progress - 0.25) < 1e-12);
	ck_assert(status.eta_seconds > 0 && isfinite(status.eta_seconds));
	ck_assert(status.updates_per_second > 0 && isfinite(status.updates_per_second));
	idict_set_int(dict, "step", 100, NULL);
	idict__store_status(dict, &status);
	ck_assert(status.progress == 1 && status.eta_seconds == 0);
	/* NULL removes the target. */
	ck_assert(idict_set_progress_target(dict, NULL, 0, NULL));
	idict__store_status(dict, &status);
	ck_assert(isnan(status.progress));
}
END_TEST

START_TEST(test_history_snapshot_json)
{
	g_autoptr(IDict) dict = idict_new();
	const double u[] = { 0.1, NAN, -INFINITY };
	const double m[] = { 1, 2, 3, 4 };
	idict_set_double(dict, "residual", 0.1, NULL);
	idict_set_int(dict, "step", 7, NULL);
	idict_set_bool(dict, "done", FALSE, NULL);
	idict_set_string(dict, "message", "say \"hi\"\n", NULL);
	idict_set_array(dict, "u", u, 3, NULL);
	idict_set_matrix(dict, "params/m", m, 2, 2, NULL);
	idict_notify_update(dict, FALSE);
	g_autoptr(GBytes) json = idict__snapshot_render(dict);
	g_autofree char *text = g_strndup(g_bytes_get_data(json, NULL), g_bytes_get_size(json));
	ck_assert(g_str_has_suffix(text, "}\n"));
	ck_assert(strstr(text, "\"sequence\":1") != NULL);
	ck_assert(strstr(text, "\"state\":\"running\"") != NULL);
	ck_assert(strstr(text, "\"step\":7") != NULL);
	ck_assert(strstr(text, "\"done\":false") != NULL);
	ck_assert(strstr(text, "\"message\":\"say \\\"hi\\\"\\n\"") != NULL);
	ck_assert(strstr(text, "\"u\":[0.1,\"nan\",\"-inf\"]") != NULL);
	ck_assert(strstr(text, "\"params/m\":[[1,2],[3,4]]") != NULL);
}
END_TEST

static Suite *history_suite(void)
{
	Suite *s = suite_create("history");
	TCase *tc = tcase_create("store");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_history_records_changes);
	tcase_add_test(tc, test_history_directories);
	tcase_add_test(tc, test_history_only_scalars);
	tcase_add_test(tc, test_history_progress_in_status);
	tcase_add_test(tc, test_history_snapshot_json);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run_suite(history_suite());
}
