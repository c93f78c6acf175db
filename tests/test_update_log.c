/* test_update_log.c - the ring of update lines read by `updates` readers. */
#include "update_log.h"
#include "testutil.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* Appends update @seq listing the one key "k<seq>". */
static void append_numbered(IDictUpdateLog *log, guint64 seq, gboolean final)
{
	g_autofree char *key = g_strdup_printf("k%" G_GUINT64_FORMAT, seq);
	const char *keys[] = { key };
	idict__update_log_append(log, seq, 0, final, keys, 1);
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
	idict__update_log_append(log, 1, 0, FALSE, two, 2);
	idict__update_log_append(log, 2, 0, FALSE, NULL, 0);
	const char *one[] = { "x" };
	idict__update_log_append(log, 3, 0, TRUE, one, 1);
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
	idict__update_log_append(log, 1, 0, FALSE, keys, 1);
	guint64 cursor = 0;
	gboolean appended, eof;
	g_autofree char *t1 = read_lines(log, &cursor, &appended, &eof);
	ck_assert_str_eq(t1, "1 update a_key_name_longer_than_the_bound\n");

	idict__update_log_append(log, 2, 0, FALSE, keys, 1);
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

/* ---- a reader's place: the stream of one open `updates` file ---- */

/* One read of @size bytes at stream offset @off.  Returns: (transfer full):
 * the bytes, or NULL if the read would wait; *@res_out (nullable): the
 * result of idict__log_reader_read(). */
static char *read_at(IDictLogReader *reader, IDictUpdateLog *log, guint64 off, gsize size,
		     int *res_out)
{
	IDictLogSpan span;
	int res = idict__log_reader_read(reader, log, off, size, FALSE, &span);
	if (res_out)
		*res_out = res;
	if (res <= 0)
		return NULL;
	ck_assert_uint_le(span.len, size);
	ck_assert_uint_le(span.n_lines, IDICT__SPAN_LINES);
	GString *out = g_string_new(NULL);
	for (guint i = 0; i < span.n_parts; i++)
		g_string_append_len(out, span.parts[i].data, (gssize)span.parts[i].len);
	ck_assert_uint_eq(out->len, span.len);
	idict__log_span_clear(&span);
	return g_string_free(out, FALSE);
}

/* The text of lines @first..@last as append_numbered() writes them. */
static char *numbered_lines(guint64 first, guint64 last)
{
	GString *out = g_string_new(NULL);
	for (guint64 seq = first; seq <= last; seq++) {
		g_autofree char *line = numbered_line(seq, FALSE);
		g_string_append(out, line);
	}
	return g_string_free(out, FALSE);
}

static gsize held_bytes(IDictUpdateLog *log)
{
	gsize ring, held;
	idict__update_log_memory(log, &ring, &held);
	return held;
}

/* Whole lines when at least one fits; a read at the end waits. */
START_TEST(test_update_log_reader_whole_lines)
{
	IDictUpdateLog *log = idict__update_log_new(8, 1024);
	for (guint64 seq = 1; seq <= 3; seq++)
		append_numbered(log, seq, FALSE);
	IDictLogReader reader;
	idict__log_reader_init(&reader, 0);
	g_autofree char *two = read_at(&reader, log, 0, 30, NULL); /* lines are 12 bytes */
	ck_assert_str_eq(two, "1 update k1\n2 update k2\n");
	ck_assert_uint_eq(idict__log_reader_cursor(&reader), 2);
	g_autofree char *third = read_at(&reader, log, 24, 30, NULL);
	ck_assert_str_eq(third, "3 update k3\n");
	int res;
	ck_assert_ptr_null(read_at(&reader, log, 36, 30, &res));
	ck_assert_int_eq(res, 0);
	append_numbered(log, 4, FALSE);
	g_autofree char *fourth = read_at(&reader, log, 36, 30, NULL);
	ck_assert_str_eq(fourth, "4 update k4\n");
	idict__log_reader_clear(&reader, log);
	idict__update_log_free(log);
}
END_TEST

/* Reads shorter than a line get it piece by piece; the cursor moves when
 * the line is whole. */
START_TEST(test_update_log_reader_partial_lines)
{
	IDictUpdateLog *log = idict__update_log_new(8, 1024);
	for (guint64 seq = 1; seq <= 3; seq++)
		append_numbered(log, seq, FALSE);
	IDictLogReader reader;
	idict__log_reader_init(&reader, 0);
	const char *expected[] = { "1 upd", "ate k", "1\n", "2 upd", "ate k", "2\n", "3 upd" };
	guint64 off = 0;
	for (gsize i = 0; i < G_N_ELEMENTS(expected); i++) {
		g_autofree char *got = read_at(&reader, log, off, 5, NULL);
		ck_assert_str_eq(got, expected[i]);
		off += strlen(got);
		ck_assert_uint_eq(idict__log_reader_cursor(&reader), off / 12);
	}
	/* In the middle of a line: ready (the rest of it) and held. */
	ck_assert(idict__log_reader_ready(&reader, log, FALSE));
	ck_assert_uint_eq(held_bytes(log), 12);
	g_autofree char *rest = read_at(&reader, log, off, 100, NULL);
	ck_assert_str_eq(rest, "ate k3\n");
	ck_assert_uint_eq(held_bytes(log), 0);
	ck_assert(!idict__log_reader_ready(&reader, log, FALSE));
	idict__log_reader_clear(&reader, log);
	idict__update_log_free(log);
}
END_TEST

/* Inside the last reply, the same bytes again (head(1) and bash's read
 * seek back); before it or beyond the end, nothing. */
START_TEST(test_update_log_reader_seek_back)
{
	IDictUpdateLog *log = idict__update_log_new(8, 1024);
	for (guint64 seq = 1; seq <= 3; seq++)
		append_numbered(log, seq, FALSE);
	IDictLogReader reader;
	idict__log_reader_init(&reader, 0);
	g_autofree char *all = read_at(&reader, log, 0, 100, NULL);
	ck_assert_str_eq(all, "1 update k1\n2 update k2\n3 update k3\n");
	g_autofree char *from_line = read_at(&reader, log, 12, 100, NULL);
	ck_assert_str_eq(from_line, "2 update k2\n3 update k3\n");
	g_autofree char *mid_line = read_at(&reader, log, 15, 100, NULL);
	ck_assert_str_eq(mid_line, "pdate k2\n3 update k3\n");
	g_autofree char *gone = read_at(&reader, log, 12, 100, NULL); /* before the last reply */
	ck_assert_str_eq(gone, "");
	g_autofree char *beyond = read_at(&reader, log, 37, 100, NULL); /* read-ahead */
	ck_assert_str_eq(beyond, "");
	ck_assert_ptr_null(read_at(&reader, log, 36, 100, NULL));

	/* Lines 2 and 3 fall out of the ring: from a line boundary inside the
	 * last reply the reader goes on as a reader that far behind does; in
	 * the middle of a line nobody held, EIO. */
	for (guint64 seq = 4; seq <= 20; seq++)
		append_numbered(log, seq, FALSE);
	int res;
	ck_assert_ptr_null(read_at(&reader, log, 15, 100, &res));
	ck_assert_int_eq(res, -EIO);
	g_autofree char *after = read_at(&reader, log, 24, 1000, NULL);
	g_autofree char *lines = numbered_lines(13, 20);
	g_autofree char *expected = g_strconcat("12 missed 10\n", lines, NULL);
	ck_assert_str_eq(after, expected);
	idict__log_reader_clear(&reader, log);
	idict__update_log_free(log);
}
END_TEST

/* The line a reader is in the middle of is held: it gets the rest even
 * after the line fell out of the ring, then a `missed` line. */
START_TEST(test_update_log_reader_held_line)
{
	IDictUpdateLog *log = idict__update_log_new(4, 1024);
	append_numbered(log, 1, FALSE);
	IDictLogReader reader;
	idict__log_reader_init(&reader, 0);
	g_autofree char *head = read_at(&reader, log, 0, 3, NULL);
	ck_assert_str_eq(head, "1 u");
	for (guint64 seq = 2; seq <= 10; seq++)
		append_numbered(log, seq, FALSE);
	ck_assert_uint_eq(held_bytes(log), 12);
	g_autofree char *rest = read_at(&reader, log, 3, 1000, NULL);
	g_autofree char *lines = numbered_lines(7, 10);
	g_autofree char *expected = g_strconcat("pdate k1\n6 missed 5\n", lines, NULL);
	ck_assert_str_eq(rest, expected);
	ck_assert_uint_eq(held_bytes(log), 0);
	idict__log_reader_clear(&reader, log);
	idict__update_log_free(log);
}
END_TEST

/* A line held by several readers is counted once; the held lines stay
 * within the byte bound (or one line), and a reader past it holds
 * nothing: the rest of its line comes while the line is in the ring, EIO
 * after. */
START_TEST(test_update_log_reader_held_bound)
{
	const gsize max_bytes = 40; /* three 12-byte lines */
	IDictUpdateLog *log = idict__update_log_new(100, max_bytes);
	for (guint64 seq = 1; seq <= 3; seq++)
		append_numbered(log, seq, FALSE);
	IDictLogReader readers[5];
	for (guint i = 0; i < G_N_ELEMENTS(readers); i++)
		idict__log_reader_init(&readers[i], i < 2 ? 0 : i - 1);
	/* Readers 0 and 1 in line 1, 2 in line 2, 3 in line 3, 4 in line 4. */
	for (guint i = 0; i < 4; i++) {
		g_autofree char *one = read_at(&readers[i], log, 0, 1, NULL);
		ck_assert_str_eq(one, i < 2 ? "1" : i == 2 ? "2" : "3");
	}
	ck_assert_uint_eq(held_bytes(log), 36);
	append_numbered(log, 4, FALSE);
	g_autofree char *four = read_at(&readers[4], log, 0, 1, NULL);
	ck_assert_str_eq(four, "4");
	ck_assert_uint_eq(held_bytes(log), 36); /* reader 4 holds nothing */
	/* Lines 1 to 4 fall out of the ring. */
	for (guint64 seq = 5; seq <= 12; seq++)
		append_numbered(log, seq, FALSE);
	ck_assert_uint_eq(held_bytes(log), 36);
	int res;
	ck_assert_ptr_null(read_at(&readers[4], log, 1, 100, &res));
	ck_assert_int_eq(res, -EIO);
	for (guint i = 0; i < 4; i++) {
		g_autofree char *rest = read_at(&readers[i], log, 1, 11, NULL);
		g_autofree char *line = numbered_line(i < 2 ? 1 : i, FALSE);
		ck_assert_str_eq(rest, line + 1);
	}
	ck_assert_uint_eq(held_bytes(log), 0);
	for (guint i = 0; i < G_N_ELEMENTS(readers); i++)
		idict__log_reader_clear(&readers[i], log);

	/* A line longer than the bound is held when nothing else is. */
	const char *keys[] = { "a_key_name_much_longer_than_forty_bytes_in_all" };
	idict__update_log_append(log, 13, 0, FALSE, keys, 1);
	IDictLogReader big;
	idict__log_reader_init(&big, 12);
	g_autofree char *first = read_at(&big, log, 0, 4, NULL);
	ck_assert_str_eq(first, "13 u");
	ck_assert_uint_eq(held_bytes(log), strlen("13 update \n") + strlen(keys[0]));
	idict__log_reader_clear(&big, log);
	ck_assert_uint_eq(held_bytes(log), 0);
	idict__update_log_free(log);
}
END_TEST

/* A reply references at most IDICT__SPAN_LINES lines, however large the
 * read. */
START_TEST(test_update_log_reader_span_bounded)
{
	IDictUpdateLog *log = idict__update_log_new(1024, 1 << 20);
	for (guint64 seq = 1; seq <= 200; seq++)
		append_numbered(log, seq, FALSE);
	IDictLogReader reader;
	idict__log_reader_init(&reader, 0);
	GString *all = g_string_new(NULL);
	guint reads = 0;
	for (;;) {
		g_autofree char *text = read_at(&reader, log, reader.end, 1 << 20, NULL);
		if (text == NULL)
			break;
		ck_assert(g_str_has_suffix(text, "\n"));
		reads++;
		g_string_append(all, text);
	}
	ck_assert_uint_eq(reads, (200 + IDICT__SPAN_LINES - 1) / IDICT__SPAN_LINES);
	g_autofree char *expected = numbered_lines(1, 200);
	ck_assert_str_eq(all->str, expected);
	g_string_free(all, TRUE);
	idict__log_reader_clear(&reader, log);
	idict__update_log_free(log);
}
END_TEST

/* A `missed` line read in parts is the same line; if more fell out
 * meanwhile, a second `missed` line follows it. */
START_TEST(test_update_log_reader_missed_in_parts)
{
	IDictUpdateLog *log = idict__update_log_new(4, 1 << 20);
	for (guint64 seq = 1; seq <= 10; seq++)
		append_numbered(log, seq, FALSE);
	IDictLogReader reader;
	idict__log_reader_init(&reader, 0);
	g_autofree char *head = read_at(&reader, log, 0, 3, NULL);
	ck_assert_str_eq(head, "6 m");
	ck_assert_uint_eq(held_bytes(log), 0);
	for (guint64 seq = 11; seq <= 20; seq++)
		append_numbered(log, seq, FALSE);
	g_autofree char *rest = read_at(&reader, log, 3, 1000, NULL);
	g_autofree char *lines = numbered_lines(17, 20);
	g_autofree char *expected = g_strconcat("issed 6\n16 missed 10\n", lines, NULL);
	ck_assert_str_eq(rest, expected);
	idict__log_reader_clear(&reader, log);
	idict__update_log_free(log);
}
END_TEST

/* A reply's lines stay valid after they fall out of the ring, until the
 * reply is done (AddressSanitizer checks the reads). */
START_TEST(test_update_log_reader_span_outlives_ring)
{
	IDictUpdateLog *log = idict__update_log_new(2, 1 << 20);
	append_numbered(log, 1, FALSE);
	append_numbered(log, 2, FALSE);
	IDictLogReader reader;
	idict__log_reader_init(&reader, 0);
	IDictLogSpan span;
	ck_assert_int_eq(idict__log_reader_read(&reader, log, 0, 100, FALSE, &span), 1);
	for (guint64 seq = 3; seq <= 10; seq++)
		append_numbered(log, seq, FALSE);
	GString *out = g_string_new(NULL);
	for (guint i = 0; i < span.n_parts; i++)
		g_string_append_len(out, span.parts[i].data, (gssize)span.parts[i].len);
	ck_assert_str_eq(out->str, "1 update k1\n2 update k2\n");
	g_string_free(out, TRUE);
	idict__log_span_clear(&span);
	idict__log_reader_clear(&reader, log);
	idict__update_log_free(log);
}
END_TEST

/* Waiters: a read or a readiness check that must wait counts one, and the
 * next append says so, until it is forgotten. */
START_TEST(test_update_log_reader_waiters)
{
	IDictUpdateLog *log = idict__update_log_new(8, 1024);
	const char *keys[] = { "k" };
	ck_assert(!idict__update_log_append(log, 1, 0, FALSE, keys, 1));
	IDictLogReader reader;
	idict__log_reader_init(&reader, 1);
	IDictLogSpan span;
	ck_assert_int_eq(idict__log_reader_read(&reader, log, 0, 100, FALSE, &span), 0);
	ck_assert(!idict__update_log_append(log, 2, 0, FALSE, keys, 1)); /* not counted */
	ck_assert_int_eq(idict__log_reader_read(&reader, log, 0, 100, TRUE, &span), 1);
	idict__log_span_clear(&span);
	ck_assert_int_eq(idict__log_reader_read(&reader, log, reader.end, 100, TRUE, &span), 0);
	ck_assert(!idict__log_reader_ready(&reader, log, TRUE));
	ck_assert(idict__update_log_append(log, 3, 0, FALSE, keys, 1));
	idict__update_log_forget_waiters(log, 1);
	ck_assert(idict__update_log_append(log, 4, 0, FALSE, keys, 1));
	idict__update_log_forget_waiters(log, 1);
	ck_assert(!idict__update_log_append(log, 5, 0, FALSE, keys, 1));
	idict__log_reader_clear(&reader, log);
	idict__update_log_free(log);
}
END_TEST

/* After the final line, end of file for good; a reader then is ready. */
START_TEST(test_update_log_reader_eof)
{
	IDictUpdateLog *log = idict__update_log_new(8, 1024);
	append_numbered(log, 1, FALSE);
	append_numbered(log, 2, TRUE);
	IDictLogReader reader;
	idict__log_reader_init(&reader, idict__update_log_start_cursor(log));
	g_autofree char *last = read_at(&reader, log, 0, 5, NULL);
	ck_assert_str_eq(last, "2 fin");
	g_autofree char *rest = read_at(&reader, log, 5, 100, NULL);
	ck_assert_str_eq(rest, "al k2\n");
	ck_assert(idict__log_reader_ready(&reader, log, FALSE));
	for (int i = 0; i < 2; i++) {
		g_autofree char *eof = read_at(&reader, log, 11, 100, NULL);
		ck_assert_str_eq(eof, "");
	}
	idict__log_reader_clear(&reader, log);
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

/* A reader with random read sizes that sometimes reads part of its last
 * reply again, against a writer: what it consumes is every update once,
 * in order, as its line or counted in a `missed` line, then eof. */
START_TEST(test_update_log_reader_concurrent)
{
	IDictUpdateLog *log = idict__update_log_new(16, 1 << 20);
	GThread *writer = g_thread_new("writer", stress_writer, log);
	IDictLogReader reader;
	idict__log_reader_init(&reader, 0);
	GRand *rand = g_rand_new_with_seed(10);
	GString *consumed = g_string_new(NULL);
	for (;;) {
		guint64 off = reader.end;
		if (reader.end > reader.start && g_rand_int_range(rand, 0, 4) == 0) {
			/* Read inside the last reply, as head(1) does after a seek. */
			guint64 back = reader.start +
				(guint64)g_rand_int_range(rand, 0, (gint32)(reader.end - reader.start));
			int res;
			g_autofree char *again = read_at(&reader, log, back, 4096, &res);
			/* In the middle of a line that fell out of the ring: EIO,
			 * and the reader's place is unchanged. */
			ck_assert(res >= 0 || res == -EIO);
			if (again == NULL)
				continue;
			/* The bytes before the old end are the same ones, up to a
			 * line boundary after which lines fell out of the ring
			 * meanwhile: from there it goes on with a `missed` line,
			 * as a reader that far behind does. */
			gsize same = MIN(strlen(again), (gsize)(off - back));
			const char *before = consumed->str + consumed->len - (off - back);
			gsize p = 0;
			while (p < same && again[p] == before[p])
				p++;
			if (p < same) {
				/* Back to the start of the line that differs. */
				while (p > 0 && again[p - 1] != '\n')
					p--;
				guint64 seq, n;
				ck_assert(p > 0 || before == consumed->str || before[-1] == '\n');
				ck_assert_msg(sscanf(again + p, "%" G_GUINT64_FORMAT " missed %"
						     G_GUINT64_FORMAT, &seq, &n) == 2,
					      "re-read differs at \"%.30s\"", again + p);
			}
			g_string_truncate(consumed, consumed->len - (gsize)(off - back));
			g_string_append(consumed, again);
			continue;
		}
		int res;
		g_autofree char *text =
			read_at(&reader, log, off, (gsize)g_rand_int_range(rand, 1, 64), &res);
		ck_assert_int_ge(res, 0);
		if (text == NULL) {
			g_thread_yield();
			continue;
		}
		if (text[0] == '\0')
			break;
		g_string_append(consumed, text);
	}
	g_thread_join(writer);
	g_rand_free(rand);
	g_auto(GStrv) lines = g_strsplit(consumed->str, "\n", -1);
	guint64 seen = 0;
	for (char **line = lines; *line && **line; line++) {
		guint64 seq = 0, n = 0;
		char kind[16];
		ck_assert_msg(sscanf(*line, "%" G_GUINT64_FORMAT " %15s", &seq, kind) == 2,
			      "bad line \"%s\"", *line);
		if (strcmp(kind, "missed") == 0) {
			ck_assert(sscanf(*line, "%*u missed %" G_GUINT64_FORMAT, &n) == 1);
			ck_assert_uint_eq(seq, seen + n);
		} else {
			ck_assert_msg(seq == seen + 1, "line %" G_GUINT64_FORMAT " after %"
				      G_GUINT64_FORMAT, seq, seen);
			g_autofree char *expected = numbered_line(seq, seq == STRESS_UPDATES);
			expected[strlen(expected) - 1] = '\0';
			ck_assert_str_eq(*line, expected);
		}
		seen = seq;
	}
	ck_assert_uint_eq(seen, STRESS_UPDATES);
	ck_assert(g_str_has_suffix(consumed->str, "\n"));
	g_string_free(consumed, TRUE);
	idict__log_reader_clear(&reader, log);
	ck_assert_uint_eq(held_bytes(log), 0);
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

	tc = tcase_create("reader");
	tcase_add_test(tc, test_update_log_reader_whole_lines);
	tcase_add_test(tc, test_update_log_reader_partial_lines);
	tcase_add_test(tc, test_update_log_reader_seek_back);
	tcase_add_test(tc, test_update_log_reader_held_line);
	tcase_add_test(tc, test_update_log_reader_held_bound);
	tcase_add_test(tc, test_update_log_reader_span_bounded);
	tcase_add_test(tc, test_update_log_reader_missed_in_parts);
	tcase_add_test(tc, test_update_log_reader_span_outlives_ring);
	tcase_add_test(tc, test_update_log_reader_waiters);
	tcase_add_test(tc, test_update_log_reader_eof);
	suite_add_tcase(suite, tc);

	tc = tcase_create("threads");
	tcase_add_test(tc, test_update_log_concurrent);
	tcase_add_test(tc, test_update_log_reader_concurrent);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(suite, tc);
	return suite;
}

int main(void)
{
	return tu_run_suite(update_log_suite());
}
