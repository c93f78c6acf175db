/* test_update_log.c - the ring of update lines read by `updates` readers. */
#include "idict-private.h"
#include "testutil.h"

#include <stdio.h>
#include <string.h>

/* Appends update @seq listing the one key "k<seq>". */
static void append_numbered(IDictUpdateLog *log, guint64 seq, gboolean final)
{
	g_autofree char *key = g_strdup_printf("k%" G_GUINT64_FORMAT, seq);
	const char *keys[] = { key };
	idict__update_log_append(log, seq, final, keys, 1);
}

/* The line append_numbered() writes for @seq. */
static char *numbered_line(guint64 seq, gboolean final)
{
	return g_strdup_printf("%" G_GUINT64_FORMAT " %s k%" G_GUINT64_FORMAT "\n", seq,
			       final ? "final" : "update", seq);
}

/* Reads after *@cursor.  Returns: (transfer full): what came, as a string;
 * *@appended: whether anything came; *@eof: the reader reached the end. */
static char *read_lines(IDictUpdateLog *log, guint64 *cursor, gboolean *appended, gboolean *eof)
{
	char *text = tu_read_log(log, cursor, eof);
	*appended = text[0] != '\0';
	return text;
}

/* TRUE if a reader after update @cursor would not wait. */
static gboolean log_ready(IDictUpdateLog *log, guint64 cursor)
{
	IDictLogReader reader;
	idict__log_reader_init(&reader, cursor);
	return idict__log_reader_ready(&reader, log, FALSE);
}

START_TEST(test_update_log_empty)
{
	IDictUpdateLog *log = idict__update_log_new(8, 1024);
	ck_assert_uint_eq(idict__update_log_last(log), 0);
	ck_assert_uint_eq(idict__update_log_start_cursor(log), 0);
	ck_assert(!log_ready(log, 0));
	guint64 cursor = 0;
	gboolean appended, eof;
	g_autofree char *text = read_lines(log, &cursor, &appended, &eof);
	ck_assert_str_eq(text, "");
	ck_assert(!appended);
	ck_assert(!eof);
	ck_assert_uint_eq(cursor, 0);
	idict__update_log_free(log);
	idict__update_log_free(NULL);
}
END_TEST

START_TEST(test_update_log_line_format)
{
	IDictUpdateLog *log = idict__update_log_new(8, 1024);
	const char *two[] = { "a", "b/c" };
	idict__update_log_append(log, 1, FALSE, two, 2);
	idict__update_log_append(log, 2, FALSE, NULL, 0);
	const char *one[] = { "x" };
	idict__update_log_append(log, 3, TRUE, one, 1);
	ck_assert_uint_eq(idict__update_log_last(log), 3);
	guint64 cursor = 0;
	gboolean appended, eof;
	g_autofree char *text = read_lines(log, &cursor, &appended, &eof);
	ck_assert_str_eq(text, "1 update a b/c\n2 update\n3 final x\n");
	ck_assert_uint_eq(cursor, 3);
	idict__update_log_free(log);
}
END_TEST

/* A reader gets the lines after its cursor, each once. */
START_TEST(test_update_log_cursor)
{
	IDictUpdateLog *log = idict__update_log_new(8, 1024);
	for (guint64 seq = 1; seq <= 3; seq++)
		append_numbered(log, seq, FALSE);

	guint64 cursor = 1;
	gboolean appended, eof = TRUE;
	g_autofree char *text = read_lines(log, &cursor, &appended, &eof);
	ck_assert(!eof);
	ck_assert_uint_eq(cursor, 3);
	ck_assert_str_eq(text, "2 update k2\n3 update k3\n");

	g_autofree char *again = read_lines(log, &cursor, &appended, &eof);
	ck_assert(!appended);
	ck_assert_str_eq(again, "");
	ck_assert_uint_eq(cursor, 3);

	append_numbered(log, 4, FALSE);
	g_autofree char *next = read_lines(log, &cursor, &appended, &eof);
	ck_assert(appended);
	ck_assert_str_eq(next, "4 update k4\n");
	ck_assert_uint_eq(cursor, 4);
	idict__update_log_free(log);
}
END_TEST

/* Ring of 4 lines after updates 1..10: it holds 7..10.  A reader at
 * cursor _i gets "6 missed N" first if it is behind update 6. */
START_TEST(test_update_log_missed)
{
	const guint64 cursor_start = (guint64)_i;
	IDictUpdateLog *log = idict__update_log_new(4, 1 << 20);
	for (guint64 seq = 1; seq <= 10; seq++)
		append_numbered(log, seq, FALSE);

	GString *expected = g_string_new(NULL);
	guint64 first = cursor_start + 1;
	if (first < 7) {
		g_string_append_printf(expected, "6 missed %" G_GUINT64_FORMAT "\n",
				       6 - cursor_start);
		first = 7;
	}
	for (guint64 seq = first; seq <= 10; seq++) {
		g_autofree char *line = numbered_line(seq, FALSE);
		g_string_append(expected, line);
	}

	guint64 cursor = cursor_start;
	gboolean appended, eof;
	g_autofree char *text = read_lines(log, &cursor, &appended, &eof);
	ck_assert_str_eq(text, expected->str);
	ck_assert_uint_eq(cursor, 10);
	ck_assert_int_eq(appended, cursor_start < 10);
	ck_assert(!eof);
	g_string_free(expected, TRUE);
	idict__update_log_free(log);
}
END_TEST

/* The ring wraps around many times and still serves the right lines. */
START_TEST(test_update_log_wraparound)
{
	IDictUpdateLog *log = idict__update_log_new(3, 1 << 20);
	guint64 cursor = 0;
	for (guint64 seq = 1; seq <= 100; seq++) {
		append_numbered(log, seq, FALSE);
		if (seq % 2 == 0) {
			gboolean appended, eof;
			g_autofree char *text = read_lines(log, &cursor, &appended, &eof);
			g_autofree char *a = numbered_line(seq - 1, FALSE);
			g_autofree char *b = numbered_line(seq, FALSE);
			g_autofree char *expected = g_strconcat(a, b, NULL);
			ck_assert_str_eq(text, expected);
			ck_assert_uint_eq(cursor, seq);
		}
	}
	idict__update_log_free(log);
}
END_TEST

/* Lines of 14 bytes ("NN update kNN\n") in a log of 64
 * bytes: the four newest fit, a fifth would not. */
START_TEST(test_update_log_byte_bound)
{
	const gsize max_bytes = 64;
	IDictUpdateLog *log = idict__update_log_new(100, max_bytes);
	for (guint64 seq = 1; seq <= 40; seq++)
		append_numbered(log, seq, FALSE);

	guint64 cursor = 0;
	gboolean appended, eof;
	g_autofree char *text = read_lines(log, &cursor, &appended, &eof);
	ck_assert_uint_eq(cursor, 40);
	/* The first line reports the loss; the others are the newest updates. */
	const char *rest = strchr(text, '\n') + 1;
	g_autofree char *first = g_strndup(text, (gsize)(rest - text));
	guint64 oldest = 41;
	GString *expected = g_string_new(NULL);
	gsize kept = strlen(rest);
	for (guint64 seq = 40; seq >= 1; seq--) {
		g_autofree char *line = numbered_line(seq, FALSE);
		if (expected->len + strlen(line) > max_bytes)
			break;
		g_string_prepend(expected, line);
		oldest = seq;
	}
	ck_assert_str_eq(rest, expected->str);
	ck_assert_uint_le(kept, max_bytes);
	g_autofree char *missed = g_strdup_printf("%" G_GUINT64_FORMAT " missed %" G_GUINT64_FORMAT
						  "\n", oldest - 1, oldest - 1);
	ck_assert_str_eq(first, missed);
	g_string_free(expected, TRUE);
	idict__update_log_free(log);
}
END_TEST

/* A line longer than the byte bound is still kept, alone. */
START_TEST(test_update_log_huge_line)
{
	IDictUpdateLog *log = idict__update_log_new(100, 10);
	const char *keys[] = { "a_key_name_longer_than_the_bound" };
	idict__update_log_append(log, 1, FALSE, keys, 1);
	guint64 cursor = 0;
	gboolean appended, eof;
	g_autofree char *t1 = read_lines(log, &cursor, &appended, &eof);
	ck_assert_str_eq(t1, "1 update a_key_name_longer_than_the_bound\n");

	idict__update_log_append(log, 2, FALSE, keys, 1);
	cursor = 0;
	g_autofree char *t2 = read_lines(log, &cursor, &appended, &eof);
	ck_assert_str_eq(t2, "1 missed 1\n2 update a_key_name_longer_than_the_bound\n");
	ck_assert_uint_eq(cursor, 2);
	idict__update_log_free(log);
}
END_TEST

/* New readers start at the last update, so they wait for the next one;
 * after the final update they start just before it, so they still see it. */
START_TEST(test_update_log_start_cursor)
{
	IDictUpdateLog *log = idict__update_log_new(8, 1024);
	ck_assert_uint_eq(idict__update_log_start_cursor(log), 0);
	for (guint64 seq = 1; seq <= 3; seq++)
		append_numbered(log, seq, FALSE);
	guint64 cursor = idict__update_log_start_cursor(log);
	ck_assert_uint_eq(cursor, 3);
	ck_assert(!log_ready(log, cursor));
	gboolean appended, eof;
	g_autofree char *nothing = read_lines(log, &cursor, &appended, &eof);
	ck_assert_str_eq(nothing, "");

	append_numbered(log, 4, TRUE);
	guint64 late = idict__update_log_start_cursor(log);
	ck_assert_uint_eq(late, 3);
	ck_assert(log_ready(log, late));
	g_autofree char *text = read_lines(log, &late, &appended, &eof);
	ck_assert_str_eq(text, "4 final k4\n");
	ck_assert(appended);
	ck_assert(eof);
	ck_assert_uint_eq(late, 4);
	idict__update_log_free(log);
}
END_TEST

/* After the final line: end-of-file, and nothing more. */
START_TEST(test_update_log_eof)
{
	IDictUpdateLog *log = idict__update_log_new(8, 1024);
	append_numbered(log, 1, FALSE);
	append_numbered(log, 2, FALSE);
	guint64 cursor = 0;
	gboolean appended, eof;
	g_autofree char *t1 = read_lines(log, &cursor, &appended, &eof);
	ck_assert_str_eq(t1, "1 update k1\n2 update k2\n");
	ck_assert(!eof);
	append_numbered(log, 3, TRUE);
	g_autofree char *t2 = read_lines(log, &cursor, &appended, &eof);
	ck_assert_str_eq(t2, "3 final k3\n");
	ck_assert(eof);
	ck_assert(log_ready(log, cursor)); /* eof is ready */
	g_autofree char *t3 = read_lines(log, &cursor, &appended, &eof);
	ck_assert_str_eq(t3, "");
	ck_assert(!appended);
	ck_assert(eof);
	ck_assert_uint_eq(cursor, 3);

	/* A reader from the start reads everything, then eof. */
	guint64 other = 0;
	g_autofree char *all = read_lines(log, &other, &appended, &eof);
	ck_assert_str_eq(all, "1 update k1\n2 update k2\n3 final k3\n");
	ck_assert(eof);
	idict__update_log_free(log);
}
END_TEST

/* A reader that fell behind the final update: missed, the rest, eof. */
START_TEST(test_update_log_missed_then_final)
{
	IDictUpdateLog *log = idict__update_log_new(2, 1024);
	for (guint64 seq = 1; seq <= 5; seq++)
		append_numbered(log, seq, seq == 5);
	guint64 cursor = 0;
	gboolean appended, eof;
	g_autofree char *text = read_lines(log, &cursor, &appended, &eof);
	ck_assert_str_eq(text, "3 missed 3\n4 update k4\n5 final k5\n");
	ck_assert(eof);
	ck_assert_uint_eq(idict__update_log_start_cursor(log), 4);
	idict__update_log_free(log);
}
END_TEST

START_TEST(test_update_log_ready)
{
	IDictUpdateLog *log = idict__update_log_new(8, 1024);
	ck_assert(!log_ready(log, 0));
	append_numbered(log, 1, FALSE);
	ck_assert(log_ready(log, 0));
	ck_assert(!log_ready(log, 1));
	append_numbered(log, 2, TRUE);
	ck_assert(log_ready(log, 0));
	ck_assert(log_ready(log, 1));
	ck_assert(log_ready(log, 2)); /* eof */
	idict__update_log_free(log);
}
END_TEST

/* ---- a writer and a reader at once ---- */

#define STRESS_UPDATES 20000

static gpointer stress_writer(gpointer data)
{
	IDictUpdateLog *log = data;
	for (guint64 seq = 1; seq <= STRESS_UPDATES; seq++)
		append_numbered(log, seq, seq == STRESS_UPDATES);
	return NULL;
}

/* Whatever the interleaving, the reader sees every update once, in order,
 * each either as its line or counted in a `missed` line, then eof. */
START_TEST(test_update_log_concurrent)
{
	IDictUpdateLog *log = idict__update_log_new(16, 1 << 20);
	GThread *writer = g_thread_new("writer", stress_writer, log);
	guint64 cursor = 0, seen = 0, missed_total = 0;
	gboolean eof = FALSE;
	while (!eof) {
		if (!log_ready(log, cursor)) {
			g_thread_yield();
			continue;
		}
		g_autofree char *text = tu_read_log(log, &cursor, &eof);
		g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
		for (char **line = lines; *line && **line; line++) {
			guint64 seq = 0, n = 0;
			char kind[16];
			int fields = sscanf(*line, "%" G_GUINT64_FORMAT " %15s", &seq, kind);
			ck_assert_msg(fields == 2, "bad line \"%s\"", *line);
			if (strcmp(kind, "missed") == 0) {
				fields = sscanf(*line, "%*u missed %" G_GUINT64_FORMAT, &n);
				ck_assert_msg(fields == 1, "bad line \"%s\"", *line);
				ck_assert_uint_eq(seq, seen + n);
				missed_total += n;
			} else {
				ck_assert_msg(seq == seen + 1, "line %" G_GUINT64_FORMAT " after %"
					      G_GUINT64_FORMAT, seq, seen);
				g_autofree char *expected =
					numbered_line(seq, seq == STRESS_UPDATES);
				expected[strlen(expected) - 1] = '\0';
				ck_assert_str_eq(*line, expected);
			}
			seen = seq;
		}
		ck_assert_uint_eq(cursor, seen);
	}
	g_thread_join(writer);
	ck_assert_uint_eq(seen, STRESS_UPDATES);
	ck_assert_uint_lt(missed_total, STRESS_UPDATES);
	idict__update_log_free(log);
}
END_TEST

static Suite *update_log_suite(void)
{
	Suite *suite = suite_create("update_log");
	TCase *tc = tcase_create("lines");
	tcase_add_test(tc, test_update_log_empty);
	tcase_add_test(tc, test_update_log_line_format);
	tcase_add_test(tc, test_update_log_cursor);
	tcase_add_loop_test(tc, test_update_log_missed, 0, 11);
	tcase_add_test(tc, test_update_log_wraparound);
	tcase_add_test(tc, test_update_log_byte_bound);
	tcase_add_test(tc, test_update_log_huge_line);
	tcase_add_test(tc, test_update_log_start_cursor);
	tcase_add_test(tc, test_update_log_eof);
	tcase_add_test(tc, test_update_log_missed_then_final);
	tcase_add_test(tc, test_update_log_ready);
	suite_add_tcase(suite, tc);

	tc = tcase_create("threads");
	tcase_add_test(tc, test_update_log_concurrent);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(suite, tc);
	return suite;
}

int main(void)
{
	return tu_run_suite(update_log_suite());
}
