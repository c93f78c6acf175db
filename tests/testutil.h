/* testutil.h - small helpers shared by the Check test programs.
 *
 * A plain header: static inline functions and macros only, so that every
 * test program can include it without link-time surprises.  Assertions are
 * macros so that a failure names the caller's file and line.
 */
#ifndef IDICT_TESTUTIL_H
#define IDICT_TESTUTIL_H

#include <check.h>
#include <glib.h>
#include <stdlib.h>
#include <string.h>

/* Runs @suite with the CK_ENV verbosity, so that CK_VERBOSITY, CK_RUN_CASE,
 * CK_RUN_SUITE and CK_FORK=no work, then frees the runner (and @suite).
 * Returns: EXIT_SUCCESS if every test passed, else EXIT_FAILURE; for main(). */
static inline int tu_run_suite(Suite *suite)
{
	SRunner *runner = srunner_create(suite);
	srunner_run_all(runner, CK_ENV);
	int failed = srunner_ntests_failed(runner);
	srunner_free(runner);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

/* Returns: (transfer full): @len bytes of @data as a C string literal body,
 * with non-printable bytes, quotes and backslashes escaped; g_free() it.
 * For failure messages about texts that may hold newlines or NULs. */
static inline char *tu_escape(const void *data, gsize len)
{
	const unsigned char *p = data;
	GString *out = g_string_sized_new(len + 2);
	for (gsize i = 0; i < len; i++) {
		if (p[i] == '\n')
			g_string_append(out, "\\n");
		else if (p[i] == '\t')
			g_string_append(out, "\\t");
		else if (p[i] == '"' || p[i] == '\\')
			g_string_append_printf(out, "\\%c", p[i]);
		else if (p[i] < 0x20 || p[i] >= 0x7f)
			g_string_append_printf(out, "\\x%02x", p[i]);
		else
			g_string_append_c(out, (char)p[i]);
	}
	return g_string_free(out, FALSE);
}

/* TRUE if @len bytes at @a and @b are equal; either may be NULL when @len is 0
 * (memcmp() may not be given NULL, even for 0 bytes). */
static inline gboolean tu_mem_equal(const void *a, const void *b, gsize len)
{
	return len == 0 || memcmp(a, b, len) == 0;
}

/* Asserts that @err (a GError *) is set, with domain @dom and code @cod. */
#define tu_assert_error(err, dom, cod)                                                      \
	do {                                                                               \
		const GError *tu_error_ = (err);                                           \
		GQuark tu_domain_ = (dom);                                                 \
		int tu_code_ = (int)(cod);                                                 \
		ck_assert_msg(tu_error_ != NULL, "expected error %s %d, got none",         \
			      g_quark_to_string(tu_domain_), tu_code_);                    \
		ck_assert_msg(tu_error_->domain == tu_domain_ && tu_error_->code == tu_code_, \
			      "expected error %s %d, got %s %d: %s",                       \
			      g_quark_to_string(tu_domain_), tu_code_,                     \
			      g_quark_to_string(tu_error_->domain), tu_error_->code,       \
			      tu_error_->message);                                         \
		ck_assert_msg(tu_error_->message != NULL && tu_error_->message[0] != '\0', \
			      "error without a message");                                  \
	} while (0)

/* Asserts that @err (a GError *) is not set, showing its message if it is. */
#define tu_assert_no_error(err)                                                            \
	do {                                                                               \
		const GError *tu_error_ = (err);                                         \
		ck_assert_msg(tu_error_ == NULL, "unexpected error: %s",                   \
			      tu_error_ ? tu_error_->message : "");                         \
	} while (0)

/* Asserts that @data holds exactly @expected_len bytes equal to @expected. */
#define tu_assert_text_eq(data, len, expected, expected_len)                                \
	do {                                                                               \
		const void *tu_data_ = (data);                                             \
		gsize tu_len_ = (len);                                                     \
		const char *tu_expected_ = (expected);                                     \
		gsize tu_expected_len_ = (expected_len);                                   \
		if (tu_len_ != tu_expected_len_ ||                                         \
		    !tu_mem_equal(tu_data_, tu_expected_, tu_len_)) {                      \
			char *tu_got_ = tu_escape(tu_data_, tu_len_);                      \
			char *tu_want_ = tu_escape(tu_expected_, tu_expected_len_);        \
			ck_abort_msg("got \"%s\" (%zu bytes), expected \"%s\" (%zu bytes)", \
				     tu_got_, tu_len_, tu_want_, tu_expected_len_);        \
		}                                                                          \
	} while (0)

/* Asserts that @bytes (a GBytes *) holds exactly the NUL-terminated @expected. */
#define tu_assert_bytes_eq_str(bytes, expected)                                            \
	do {                                                                               \
		gsize tu_size_ = 0;                                                        \
		const void *tu_bytes_data_ = g_bytes_get_data((bytes), &tu_size_);         \
		const char *tu_str_ = (expected);                                          \
		tu_assert_text_eq(tu_bytes_data_, tu_size_, tu_str_, strlen(tu_str_));     \
	} while (0)

#ifdef IDICT_UPDATE_LOG_H
/* Reads the update lines after *@cursor as a reader of `updates` does
 * (replies of up to 1 MiB at the end of the last one), until the reader
 * would wait or reaches the end; advances *@cursor and sets *@eof
 * (nullable).  Returns: (transfer full): the text. */
static inline char *tu_read_log(IDictUpdateLog *log, guint64 *cursor, gboolean *eof)
{
	IDictLogReader reader;
	idict__log_reader_init(&reader, *cursor);
	GString *out = g_string_new(NULL);
	gboolean at_eof = FALSE;
	for (;;) {
		IDictLogSpan span;
		int res = idict__log_reader_read(&reader, log, reader.end, 1 << 20, FALSE, &span);
		ck_assert_int_ge(res, 0);
		if (res == 0)
			break;
		at_eof = span.len == 0;
		for (guint i = 0; i < span.n_parts; i++)
			g_string_append_len(out, span.parts[i].data, (gssize)span.parts[i].len);
		idict__log_span_clear(&span);
		if (at_eof)
			break;
	}
	*cursor = idict__log_reader_cursor(&reader);
	idict__log_reader_clear(&reader, log);
	if (eof)
		*eof = at_eof;
	return g_string_free(out, FALSE);
}
#endif

#endif /* IDICT_TESTUTIL_H */
