/* format.c - values to text and back.
 *
 * Text never depends on the host program's LC_NUMERIC: numbers are read
 * with g_ascii_strtod(), never strtod(), so "3.14" reads the same in a
 * German locale and "3,14" is refused, and doubles are written here, not
 * with printf().  They print with the fewest significant digits (1 to 17)
 * that read back to the same double, 0.1 as "0.1" and 5e-324 as "5e-324":
 * the digits come from {fmt}'s Dragonbox (format_double.cc), the layout is
 * ours, like Python's repr(): positional from 1e-4 to below 1e16 ("100",
 * "0.0001", "1000000000000000"), with an exponent of at least two digits
 * outside ("1e+16", "1e-05"); unlike Python, no ".0" ("-0", "nan", "inf").
 */
#include "format.h"

#include "format_double.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The two decimal digits of each of 0..99, for writing two at a time. */
static const char digit_pairs[201] =
	"00010203040506070809101112131415161718192021222324252627282930313233343536373839"
	"40414243444546474849505152535455565758596061626364656667686970717273747576777879"
	"8081828384858687888990919293949596979899";

/* Writes the 8 decimal digits of @x < 10^8, leading zeros included. */
static inline void put_8_digits(char *p, guint32 x)
{
	guint32 high = x / 10000, low = x % 10000;
	memcpy(p, digit_pairs + 2 * (high / 100), 2);
	memcpy(p + 2, digit_pairs + 2 * (high % 100), 2);
	memcpy(p + 4, digit_pairs + 2 * (low / 100), 2);
	memcpy(p + 6, digit_pairs + 2 * (low % 100), 2);
}

/* Returns: the number of decimal digits of 0 < @x < 10^17. */
static inline int count_digits(guint64 x)
{
	static const guint64 powers[] = {
		G_GUINT64_CONSTANT(1), G_GUINT64_CONSTANT(10), G_GUINT64_CONSTANT(100),
		G_GUINT64_CONSTANT(1000), G_GUINT64_CONSTANT(10000), G_GUINT64_CONSTANT(100000),
		G_GUINT64_CONSTANT(1000000), G_GUINT64_CONSTANT(10000000),
		G_GUINT64_CONSTANT(100000000), G_GUINT64_CONSTANT(1000000000),
		G_GUINT64_CONSTANT(10000000000), G_GUINT64_CONSTANT(100000000000),
		G_GUINT64_CONSTANT(1000000000000), G_GUINT64_CONSTANT(10000000000000),
		G_GUINT64_CONSTANT(100000000000000), G_GUINT64_CONSTANT(1000000000000000),
		G_GUINT64_CONSTANT(10000000000000000), G_GUINT64_CONSTANT(100000000000000000),
	};
	/* floor(log10(x)) is floor(bits * log10(2)) or one less, and
	 * 1233 / 4096 is log10(2) closely enough for 57 bits. */
	int bits = 64 - __builtin_clzll(x);
	int guess = (bits * 1233) >> 12;
	return guess + (x >= powers[guess]);
}

/* The longest text of a double: "-1.2345678901234567e-308". */
#define DOUBLE_TEXT_MAX 24
/* write_double() copies digits in fixed-size blocks, for speed, and may
 * write past the end of the text: it needs this much room (the worst case
 * is 34 bytes: "-", 16 digits, ".", a 16-byte block). */
#define DOUBLE_ROOM 40
G_STATIC_ASSERT(DOUBLE_ROOM <= IDICT__DOUBLE_BUF);

/* Writes the text of @value at @p, no NUL; see the top of this file.
 * Up to DOUBLE_ROOM bytes at @p may change.
 * Returns: the end of the text. */
static inline char *write_double(char *p, double value)
{
	if (isnan(value)) {
		memcpy(p, "nan", 3); /* whatever its sign bit */
		return p + 3;
	}
	if (signbit(value))
		*p++ = '-';
	if (isinf(value)) {
		memcpy(p, "inf", 3);
		return p + 3;
	}
	if (value == 0) {
		*p = '0'; /* and "-0" for -0, as %g */
		return p + 1;
	}

	int exponent;
	guint64 significand = idict__format_shortest(fabs(value), &exponent);
	/* All 17 digit places of the significand, then 16 zeros to pad
	 * whole numbers with: @digits[0..n) are the significant digits. */
	char all[40];
	guint32 high = (guint32)(significand / 100000000);
	all[0] = (char)('0' + high / 100000000);
	put_8_digits(all + 1, high % 100000000);
	put_8_digits(all + 9, (guint32)(significand % 100000000));
	memset(all + 17, '0', 16);
	int n = count_digits(significand);
	const char *digits = all + 17 - n;
	/* value = 0.DIGITS * 10^point */
	int point = exponent + n;

	if (point > 16 || point < -3) {
		/* Exponent notation: 1e+16 and up, below 1e-4.  Like %g, at
		 * least two digits of exponent. */
		int e = point - 1;
		p[0] = digits[0];
		p[1] = '.';
		memcpy(p + 2, digits + 1, 16);
		p += n + (n > 1); /* no "." for one digit */
		*p++ = 'e';
		*p++ = e < 0 ? '-' : '+';
		guint e_abs = (guint)ABS(e);
		if (e_abs >= 100) {
			*p++ = (char)('0' + e_abs / 100);
			e_abs %= 100;
		}
		memcpy(p, digit_pairs + 2 * e_abs, 2);
		return p + 2;
	}
	if (point <= 0) {
		/* 0.0001 to below 1: "0.", up to three zeros, the digits. */
		memcpy(p, "0.000", 5);
		memcpy(p + 2 - point, digits, 17);
		return p + 2 - point + n;
	}
	memcpy(p, digits, 16);
	if (point >= n)
		return p + point; /* a whole number, padded with zeros */
	p[point] = '.';
	memcpy(p + point + 1, digits + point, 16);
	return p + n + 1;
}

gsize idict__format_double(char buf[IDICT__DOUBLE_BUF], double value)
{
	char *end = write_double(buf, value);
	*end = '\0';
	return (gsize)(end - buf);
}

static void append_double(GString *out, double value)
{
	char buf[IDICT__DOUBLE_BUF];
	gsize len = idict__format_double(buf, value);
	g_string_append_len(out, buf, (gssize)len);
}

/* Writes @n doubles at @p, each followed by @separator but the last,
 * followed by '\n' (nothing at all for n == 0).  Needs room for
 * n * (DOUBLE_TEXT_MAX + 1) bytes plus DOUBLE_ROOM.
 * Returns: the end of the text. */
static char *write_doubles(char *p, const double *values, gsize n, char separator)
{
	for (gsize i = 0; i < n; i++) {
		p = write_double(p, values[i]);
		*p++ = separator;
	}
	if (n > 0)
		p[-1] = '\n';
	return p;
}

/* The text of an "ad" (one value a line) or "aad" (one row a line, values
 * separated by one space), written straight into one buffer sized for the
 * longest text: arrays of millions of doubles are rendered whole when a
 * client opens them, and appending them one by one to a GString took a
 * quarter of the time. */
static GBytes *render_array(GVariant *value, gboolean matrix)
{
	/* Each double takes 8 bytes of @value and at most DOUBLE_TEXT_MAX + 1
	 * of text, and each row a newline.  The room is checked row by row
	 * all the same, since a GVariant from outside need not be in normal
	 * form. */
	gsize rows = matrix ? g_variant_n_children(value) : 1;
	gsize room = g_variant_get_size(value) / sizeof(double) * (DOUBLE_TEXT_MAX + 1) + rows +
		     DOUBLE_ROOM;
	char *text = g_malloc(room);
	gsize len = 0;
	for (gsize r = 0; r < rows; r++) {
		g_autoptr(GVariant) row = matrix ? g_variant_get_child_value(value, r) :
						   g_variant_ref(value);
		gsize n = 0;
		const double *values = g_variant_get_fixed_array(row, &n, sizeof(double));
		gsize need = len + n * (DOUBLE_TEXT_MAX + 1) + 1 + DOUBLE_ROOM;
		if (need > room) {
			room = MAX(need, 2 * room);
			text = g_realloc(text, room);
		}
		char *end = write_doubles(text + len, values, n, matrix ? ' ' : '\n');
		if (matrix && n == 0)
			*end++ = '\n'; /* an empty row is an empty line */
		len = (gsize)(end - text);
	}
	/* Give back the room the text did not take (glibc shrinks in place). */
	return g_bytes_new_take(g_realloc(text, MAX(len, 1)), len);
}

GBytes *idict__format_render(GVariant *value)
{
	const GVariantType *type = g_variant_get_type(value);
	if (g_variant_type_equal(type, G_VARIANT_TYPE("ad")))
		return render_array(value, FALSE);
	if (g_variant_type_equal(type, G_VARIANT_TYPE("aad")))
		return render_array(value, TRUE);

	GString *out = g_string_sized_new(32);

	if (g_variant_type_equal(type, G_VARIANT_TYPE_DOUBLE)) {
		append_double(out, g_variant_get_double(value));
		g_string_append_c(out, '\n');
	} else if (g_variant_type_equal(type, G_VARIANT_TYPE_INT64)) {
		g_string_append_printf(out, "%" G_GINT64_FORMAT "\n", g_variant_get_int64(value));
	} else if (g_variant_type_equal(type, G_VARIANT_TYPE_BOOLEAN)) {
		g_string_append(out, g_variant_get_boolean(value) ? "true\n" : "false\n");
	} else if (g_variant_type_equal(type, G_VARIANT_TYPE_STRING)) {
		gsize len = 0;
		const char *s = g_variant_get_string(value, &len);
		g_string_append_len(out, s, (gssize)len);
		g_string_append_c(out, '\n');
	} else {
		g_autofree char *text = g_variant_print(value, FALSE);
		g_string_append(out, text);
		g_string_append_c(out, '\n');
	}
	return g_string_free_to_bytes(out);
}

gsize idict__format_size_estimate(GVariant *value)
{
	const GVariantType *type = g_variant_get_type(value);
	gsize size = g_variant_get_size(value);
	/* Arrays and matrices: what render_array() allocates at most. */
	if (g_variant_type_equal(type, G_VARIANT_TYPE("ad")) ||
	    g_variant_type_equal(type, G_VARIANT_TYPE("aad")))
		return size / sizeof(double) * (DOUBLE_TEXT_MAX + 1) + DOUBLE_ROOM + 64;
	if (g_variant_type_equal(type, G_VARIANT_TYPE_STRING))
		return size + 64;
	if (g_variant_type_is_basic(type))
		return 64;
	/* GVariant text: about twice the data for numbers and strings; bytes
	 * printed one by one ("0x01, ") take six times. */
	return 8 * size + 64;
}

static gboolean invalid(GError **error, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
static gboolean invalid(GError **error, const char *fmt, ...)
{
	va_list args;
	va_start(args, fmt);
	g_autofree char *message = g_strdup_vprintf(fmt, args);
	va_end(args);
	g_set_error_literal(error, IDICT_ERROR, IDICT_ERROR_INVALID_VALUE, message);
	return FALSE;
}

/* Parses one double from the NUL-terminated, already trimmed @token:
 * decimal (as the files print them), "nan", "inf", "infinity".  Refused:
 * a literal beyond the largest double (it would read as infinity), a
 * nonzero literal below half the smallest subnormal (it would read as 0),
 * and hexadecimal floats ("0x1p-2"), which the files never print and which
 * would make "0x10" a double but not an int.  Subnormals (down to 5e-324)
 * are accepted: they are doubles, the files print them, and every text a
 * file shows must read back. */
static gboolean parse_double(const char *token, double *out, GError **error)
{
	if (*token == '\0')
		return invalid(error, "empty number");
	/* g_ascii_strtod() skips leading whitespace as isspace() knows it,
	 * vertical tab included, which g_strstrip() (g_ascii_isspace()) leaves:
	 * so does the check for hex. */
	const char *start = token;
	while (*start != '\0' && strchr(" \t\n\v\f\r", *start) != NULL)
		start++;
	const char *digits = start + (*start == '+' || *start == '-');
	if (digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'X'))
		return invalid(error, "hexadecimal numbers are not accepted: \"%.40s\"", token);
	char *end = NULL;
	errno = 0;
	double value = g_ascii_strtod(token, &end);
	if (end == token || *end != '\0')
		return invalid(error, "not a number: \"%.40s\"", token);
	/* glibc sets ERANGE for subnormal results as well: only overflow and
	 * underflow to zero are refused.  A literal that is zero ("0e-999")
	 * reads as 0 without ERANGE. */
	if (errno == ERANGE && isinf(value))
		return invalid(error, "number out of range (beyond 1.8e+308): \"%.40s\"", token);
	if (errno == ERANGE && value == 0)
		return invalid(error, "number out of range (nonzero, below 5e-324): \"%.40s\"",
			       token);
	*out = value;
	return TRUE;
}

/* Splits @text into doubles separated by spaces/tabs, appending to @values. */
static gboolean parse_row(char *text, GArray *values, GError **error)
{
	char *save = NULL;
	for (char *token = strtok_r(text, " \t\r\v\f", &save); token != NULL;
	     token = strtok_r(NULL, " \t\r\v\f", &save)) {
		double value;
		if (!parse_double(token, &value, error))
			return FALSE;
		g_array_append_val(values, value);
	}
	return TRUE;
}

static GVariant *parse_array(char *text, GError **error)
{
	g_autoptr(GArray) values = g_array_new(FALSE, FALSE, sizeof(double));
	char *save = NULL;
	for (char *line = strtok_r(text, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		if (!parse_row(line, values, error))
			return NULL;
	}
	return g_variant_ref_sink(g_variant_new_fixed_array(G_VARIANT_TYPE_DOUBLE, values->data,
							    values->len, sizeof(double)));
}

static GVariant *parse_matrix(char *text, GError **error)
{
	g_autoptr(GArray) values = g_array_new(FALSE, FALSE, sizeof(double));
	gsize cols = 0, rows = 0;
	char *save = NULL;
	/* Rows end at newlines, or at ';' so that a matrix can be written in one
	 * line: bash's echo and printf write each line separately. */
	for (char *line = strtok_r(text, "\n;", &save); line != NULL;
	     line = strtok_r(NULL, "\n;", &save)) {
		guint before = values->len;
		if (!parse_row(line, values, error))
			return NULL;
		gsize n = values->len - before;
		if (n == 0)
			continue; /* a blank line */
		if (rows > 0 && n != cols) {
			invalid(error, "row %" G_GSIZE_FORMAT " has %" G_GSIZE_FORMAT
				" columns, not %" G_GSIZE_FORMAT, rows + 1, n, cols);
			return NULL;
		}
		cols = n;
		rows++;
	}
	GVariantBuilder builder;
	g_variant_builder_init(&builder, G_VARIANT_TYPE("aad"));
	for (gsize r = 0; r < rows; r++) {
		g_variant_builder_add_value(&builder,
			g_variant_new_fixed_array(G_VARIANT_TYPE_DOUBLE,
						  &g_array_index(values, double, r * cols), cols,
						  sizeof(double)));
	}
	return g_variant_ref_sink(g_variant_builder_end(&builder));
}

GVariant *idict__format_parse(const GVariantType *type, const char *text, gsize len,
			      GError **error)
{
	if (memchr(text, '\0', len) != NULL) {
		invalid(error, "NUL byte in value");
		return NULL;
	}
	g_autofree char *copy = g_strndup(text, len);

	if (g_variant_type_equal(type, G_VARIANT_TYPE_STRING)) {
		/* Exactly the text, less the one newline that echo adds. */
		if (len > 0 && copy[len - 1] == '\n')
			copy[len - 1] = '\0';
		if (!g_utf8_validate(copy, -1, NULL)) {
			invalid(error, "string is not valid UTF-8");
			return NULL;
		}
		return g_variant_ref_sink(g_variant_new_string(copy));
	}
	if (g_variant_type_equal(type, G_VARIANT_TYPE("ad")))
		return parse_array(copy, error);
	if (g_variant_type_equal(type, G_VARIANT_TYPE("aad")))
		return parse_matrix(copy, error);

	g_strstrip(copy);
	if (g_variant_type_equal(type, G_VARIANT_TYPE_DOUBLE)) {
		double value;
		if (!parse_double(copy, &value, error))
			return NULL;
		return g_variant_ref_sink(g_variant_new_double(value));
	}
	if (g_variant_type_equal(type, G_VARIANT_TYPE_INT64)) {
		gint64 value;
		GError *local = NULL;
		if (!g_ascii_string_to_signed(copy, 10, G_MININT64, G_MAXINT64, &value, &local)) {
			invalid(error, "not a 64-bit integer: %s", local->message);
			g_error_free(local);
			return NULL;
		}
		return g_variant_ref_sink(g_variant_new_int64(value));
	}
	if (g_variant_type_equal(type, G_VARIANT_TYPE_BOOLEAN)) {
		if (strcmp(copy, "true") == 0 || strcmp(copy, "1") == 0)
			return g_variant_ref_sink(g_variant_new_boolean(TRUE));
		if (strcmp(copy, "false") == 0 || strcmp(copy, "0") == 0)
			return g_variant_ref_sink(g_variant_new_boolean(FALSE));
		invalid(error, "not a boolean (true, false, 1 or 0): \"%.40s\"", copy);
		return NULL;
	}

	/* Any other type: GVariant text format, data only.  It must be UTF-8
	 * (g_variant_parse() fails an assertion, without an error, on
	 * invalid UTF-8 inside a string literal). */
	if (!g_utf8_validate(copy, -1, NULL)) {
		invalid(error, "GVariant text is not valid UTF-8");
		return NULL;
	}
	GError *local = NULL;
	GVariant *value = g_variant_parse(type, copy, NULL, NULL, &local);
	if (value == NULL) {
		invalid(error, "not a GVariant of type %.*s: %s",
			(int)g_variant_type_get_string_length(type), g_variant_type_peek_string(type),
			local ? local->message : "parse error");
		g_clear_error(&local);
		return NULL;
	}
	return value; /* g_variant_parse() returns a non-floating reference */
}

/* ---- text that arrives in pieces ----
 *
 * A client may write a value in several write() calls (dd bs=1, cat of a
 * large file, bash's printf line by line).  The filesystem keeps the text
 * and publishes it whole at close; meanwhile each write is examined here,
 * so that text no continuation could make valid fails at once, in that
 * write(), where every shell reports the error (bash ignores close()'s).
 * Only the new bytes are examined (and a token they finish), so a value
 * written a byte at a time costs linear time, not quadratic.
 */

void idict__text_scan_init(IDictTextScan *scan, GVariant *current)
{
	memset(scan, 0, sizeof *scan);
	const GVariantType *type = g_variant_get_type(current);
	if (g_variant_type_equal(type, G_VARIANT_TYPE_DOUBLE)) {
		scan->kind = IDICT__TEXT_SCALAR;
		scan->is_double = TRUE;
	} else if (g_variant_type_equal(type, G_VARIANT_TYPE_INT64) ||
		   g_variant_type_equal(type, G_VARIANT_TYPE_BOOLEAN)) {
		scan->kind = IDICT__TEXT_SCALAR;
	} else if (g_variant_type_equal(type, G_VARIANT_TYPE_STRING)) {
		scan->kind = IDICT__TEXT_STRING;
	} else if (g_variant_type_equal(type, G_VARIANT_TYPE("ad"))) {
		scan->kind = IDICT__TEXT_ARRAY;
		scan->want_tokens = g_variant_n_children(current);
	} else if (g_variant_type_equal(type, G_VARIANT_TYPE("aad"))) {
		scan->kind = IDICT__TEXT_MATRIX;
		scan->want_rows = g_variant_n_children(current);
		if (scan->want_rows > 0) {
			g_autoptr(GVariant) row = g_variant_get_child_value(current, 0);
			scan->want_cols = g_variant_n_children(row);
		}
	} else {
		scan->kind = IDICT__TEXT_OTHER;
	}
}

static gboolean is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* Returns: FALSE with @error if the value is already complete, so that a
 * new token makes it invalid whatever follows. */
static gboolean token_may_start(IDictTextScan *scan, GError **error)
{
	switch (scan->kind) {
	case IDICT__TEXT_SCALAR:
		if (scan->tokens >= 1)
			return invalid(error, "more than one value");
		return TRUE;
	case IDICT__TEXT_ARRAY:
		if (scan->tokens >= scan->want_tokens)
			return invalid(error, "more than the array's %" G_GUINT64_FORMAT " values",
				       scan->want_tokens);
		return TRUE;
	case IDICT__TEXT_MATRIX:
		if (scan->row_tokens == 0 && scan->rows >= scan->want_rows)
			return invalid(error, "more than the matrix's %" G_GUINT64_FORMAT " rows",
				       scan->want_rows);
		if (scan->row_tokens >= scan->want_cols)
			return invalid(error, "row %" G_GUINT64_FORMAT " has more than the matrix's %"
				       G_GUINT64_FORMAT " columns", scan->rows + 1, scan->want_cols);
		return TRUE;
	default:
		return TRUE;
	}
}

/* A token of @scan has just ended at @end (token_may_start() allowed it):
 * counts it and, if it must be a double, checks it.  Returns: FALSE with @error if no continuation can help. */
static gboolean token_done(IDictTextScan *scan, const char *text, gsize end, GError **error)
{
	scan->in_token = FALSE;
	scan->tokens++;
	scan->row_tokens++;
	if (scan->is_double || scan->kind != IDICT__TEXT_SCALAR) {
		g_autofree char *token = g_strndup(text + scan->token_start, end - scan->token_start);
		double value;
		if (!parse_double(token, &value, error))
			return FALSE;
	}
	return TRUE;
}

/* A row of a matrix has just ended.  Returns: FALSE with @error if no
 * continuation can help. */
static gboolean row_done(IDictTextScan *scan, GError **error)
{
	if (scan->row_tokens == 0)
		return TRUE; /* a blank line */
	if (scan->row_tokens != scan->want_cols)
		return invalid(error, "row %" G_GUINT64_FORMAT " has %" G_GUINT64_FORMAT
			       " columns, not %" G_GUINT64_FORMAT, scan->rows + 1, scan->row_tokens,
			       scan->want_cols);
	scan->rows++;
	scan->row_tokens = 0;
	return TRUE;
}

static IDictTextState scan_string(IDictTextScan *scan, const char *text, gsize len,
				  GError **error)
{
	/* token_start: the text is valid UTF-8 up to there. */
	const char *end = NULL;
	const char *from = text + scan->token_start;
	if (!g_utf8_validate_len(from, len - scan->token_start, &end)) {
		gsize rest = len - (gsize)(end - text);
		/* An incomplete character at the end may be completed. */
		if (rest >= 4 || g_utf8_get_char_validated(end, (gssize)rest) != (gunichar)-2) {
			invalid(error, "string is not valid UTF-8");
			return IDICT__TEXT_INVALID;
		}
	}
	scan->token_start = (gsize)(end - text);
	scan->scanned = len;
	scan->ends_in_newline = len > 0 && text[len - 1] == '\n';
	return scan->ends_in_newline ? IDICT__TEXT_WHOLE : IDICT__TEXT_MORE;
}

IDictTextState idict__text_scan(IDictTextScan *scan, const char *text, gsize len, GError **error)
{
	if (len > scan->scanned && memchr(text + scan->scanned, '\0', len - scan->scanned)) {
		invalid(error, "NUL byte in value");
		return IDICT__TEXT_INVALID;
	}
	if (scan->kind == IDICT__TEXT_STRING)
		return scan_string(scan, text, len, error);
	if (scan->kind == IDICT__TEXT_OTHER) {
		scan->scanned = len;
		return IDICT__TEXT_MORE;
	}
	gboolean matrix = scan->kind == IDICT__TEXT_MATRIX;
	for (gsize i = scan->scanned; i < len; i++) {
		char c = text[i];
		gboolean row_end = matrix ? (c == '\n' || c == ';') : FALSE;
		gboolean separator = is_blank(c) || c == '\n' || row_end;
		if (!separator) {
			if (!scan->in_token) {
				if (!token_may_start(scan, error)) {
					scan->scanned = i;
					return IDICT__TEXT_INVALID;
				}
				scan->in_token = TRUE;
				scan->token_start = i;
			}
			continue;
		}
		if (scan->in_token && !token_done(scan, text, i, error)) {
			scan->scanned = i;
			return IDICT__TEXT_INVALID;
		}
		if (row_end && !row_done(scan, error)) {
			scan->scanned = i;
			return IDICT__TEXT_INVALID;
		}
	}
	scan->scanned = len;
	if (scan->in_token || len == 0)
		return IDICT__TEXT_MORE;
	switch (scan->kind) {
	case IDICT__TEXT_SCALAR:
		return scan->tokens == 1 ? IDICT__TEXT_WHOLE : IDICT__TEXT_MORE;
	case IDICT__TEXT_ARRAY:
		return scan->tokens == scan->want_tokens ? IDICT__TEXT_WHOLE : IDICT__TEXT_MORE;
	default:
		return scan->rows == scan->want_rows && scan->row_tokens == 0 ? IDICT__TEXT_WHOLE
									     : IDICT__TEXT_MORE;
	}
}
