/* format.c - values to text and back.
 *
 * Every number goes through g_ascii_formatd()/g_ascii_strtod(), never
 * printf("%g")/strtod(), so the host program's LC_NUMERIC cannot turn 3.14
 * into "3,14".  Doubles print with the fewest significant digits (1 to 17)
 * that read back to the same double: 0.1 as "0.1", 5e-324 as "5e-324";
 * like Python's repr(), in positional notation from 1e-4 to below 1e16
 * ("100", "0.0001"), in exponent notation outside ("1e+16", "1e-05").
 */
#include "idict-private.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

gsize idict__format_double(char buf[IDICT__DOUBLE_BUF], double value)
{
	if (isnan(value)) {
		memcpy(buf, "nan", 4);
		return 3;
	}
	if (isinf(value)) {
		const char *text = value > 0 ? "inf" : "-inf";
		gsize len = strlen(text);
		memcpy(buf, text, len + 1);
		return len;
	}
	static const char *const formats[] = {
		NULL,    "%.1g",  "%.2g",  "%.3g",  "%.4g",  "%.5g",  "%.6g",  "%.7g",  "%.8g",
		"%.9g",  "%.10g", "%.11g", "%.12g", "%.13g", "%.14g", "%.15g", "%.16g", "%.17g",
	};
	/* A normal double whose shortest form has at most 15 digits prints
	 * exactly that way with %.15g (its 15-digit rounding is that form,
	 * trailing zeros dropped), and 16 or 17 digits are the correctly
	 * rounded, closest forms: try 15, 16, 17 in turn. */
	if (fabs(value) >= DBL_MIN || value == 0) {
		for (int digits = 15; digits <= 17; digits++) {
			g_ascii_formatd(buf, IDICT__DOUBLE_BUF, formats[digits], value);
			if (digits == 17 || g_ascii_strtod(buf, NULL) == value)
				break;
		}
	} else {
		/* Subnormals have fewer significant bits: if N digits read
		 * back exactly, so do N + 1, so binary search for the fewest. */
		int low = 1, high = 17;
		while (low < high) {
			int mid = (low + high) / 2;
			g_ascii_formatd(buf, IDICT__DOUBLE_BUF, formats[mid], value);
			if (g_ascii_strtod(buf, NULL) == value)
				high = mid;
			else
				low = mid + 1;
		}
		g_ascii_formatd(buf, IDICT__DOUBLE_BUF, formats[low], value);
	}
	/* %g writes 100 with one digit as 1e+02; like Python's repr(), write
	 * whole numbers below 1e16 out in full. */
	const char *e = strchr(buf, 'e');
	if (e != NULL) {
		int exponent = atoi(e + 1);
		if (exponent >= 0 && exponent < 16)
			g_ascii_formatd(buf, IDICT__DOUBLE_BUF, formats[exponent + 1], value);
	}
	return strlen(buf);
}

static void append_double(GString *out, double value)
{
	char buf[IDICT__DOUBLE_BUF];
	gsize len = idict__format_double(buf, value);
	g_string_append_len(out, buf, (gssize)len);
}

static void render_array(GString *out, GVariant *array, char separator)
{
	gsize n = 0;
	const double *values = g_variant_get_fixed_array(array, &n, sizeof(double));
	for (gsize i = 0; i < n; i++) {
		if (i > 0)
			g_string_append_c(out, separator);
		append_double(out, values[i]);
	}
}

GBytes *idict__format_render(GVariant *value)
{
	GString *out = g_string_sized_new(32);
	const GVariantType *type = g_variant_get_type(value);

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
	} else if (g_variant_type_equal(type, G_VARIANT_TYPE("ad"))) {
		gsize n = 0;
		const double *values = g_variant_get_fixed_array(value, &n, sizeof(double));
		for (gsize i = 0; i < n; i++) {
			append_double(out, values[i]);
			g_string_append_c(out, '\n');
		}
	} else if (g_variant_type_equal(type, G_VARIANT_TYPE("aad"))) {
		gsize rows = g_variant_n_children(value);
		for (gsize r = 0; r < rows; r++) {
			g_autoptr(GVariant) row = g_variant_get_child_value(value, r);
			render_array(out, row, ' ');
			g_string_append_c(out, '\n');
		}
	} else {
		g_autofree char *text = g_variant_print(value, FALSE);
		g_string_append(out, text);
		g_string_append_c(out, '\n');
	}
	return g_string_free_to_bytes(out);
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

/* Parses one double from the NUL-terminated, already trimmed @token. */
static gboolean parse_double(const char *token, double *out, GError **error)
{
	if (*token == '\0')
		return invalid(error, "empty number");
	char *end = NULL;
	errno = 0;
	double value = g_ascii_strtod(token, &end);
	if (end == token || *end != '\0')
		return invalid(error, "not a number: \"%.40s\"", token);
	if (errno == ERANGE && isinf(value))
		return invalid(error, "number out of range: \"%.40s\"", token);
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
