/* test_format.c - values to text and back: idict__format_double(),
 * idict__format_render() and idict__format_parse(). */
#include "format.h"
#include "testutil.h"

#include <float.h>
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

/* Seed of the randomized tests: fixed so that a failure can be repeated. */
#define RANDOM_SEED 20240611u
#define RANDOM_ROUNDS 8
#define RANDOM_PER_ROUND 16000
/* Random bit patterns checked against reference_double(), in 16 rounds:
 * 800,000 in all, 3.5 s on a slow machine (the reference takes 4 us a
 * double); a tenth of that under the sanitizers.  IDICT_TEST_DOUBLES=N
 * checks N instead, for a long run. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_UNDEFINED__)
#define REFERENCE_DOUBLES 80000
#else
#define REFERENCE_DOUBLES 800000
#endif
#define REFERENCE_ROUNDS 16

/* ---- idict__format_double ---- */

typedef struct {
	double value;
	const char *expected;
} DoubleCase;

static const DoubleCase double_cases[] = {
	{ 0.1, "0.1" },
	{ 1.0, "1" },
	{ 0.0, "0" },
	{ -0.0, "-0" },
	{ -1.5, "-1.5" },
	{ 100.0, "100" },
	{ 0.30000000000000004, "0.30000000000000004" },
	{ 0.1 + 0.2, "0.30000000000000004" },
	{ 1.0 / 3.0, "0.3333333333333333" },
	{ 9007199254740992.0, "9007199254740992" }, /* 2^53: 16 digits */
	{ 1e300, "1e+300" },
	{ 1e-5, "1e-05" },
	/* The fewest significant digits that read back: the smallest
	 * subnormal needs one. */
	{ 5e-324, "5e-324" },
	{ 1e23, "1e+23" },
	{ 1e16, "1e+16" },
	{ 1e15, "1000000000000000" },
	{ 0.0001, "0.0001" },
	{ 123456.0, "123456" },
	{ DBL_MAX, "1.7976931348623157e+308" },
	{ DBL_MIN, "2.2250738585072014e-308" },
	{ -DBL_MAX, "-1.7976931348623157e+308" },
	{ NAN, "nan" },
	{ -NAN, "nan" },
	{ INFINITY, "inf" },
	{ -INFINITY, "-inf" },
	/* At the edges of positional notation: 1e-4 to below 1e16. */
	{ 9999999999999998.0, "9999999999999998" },
	{ 16683461004315472.0, "1.6683461004315472e+16" }, /* not as %.17g: "16683461004315472" */
	{ 0.00009999999999999999, "9.999999999999999e-05" },
	{ 0.00012345678901234567, "0.00012345678901234567" },
	{ 1234567890123456.7, "1234567890123456.8" },
	{ 0.1234567890123456789, "0.12345678901234568" },
	{ 4.5e15, "4500000000000000" },
	{ 1.5e-7, "1.5e-07" },
	{ 2e-300, "2e-300" },
	{ 1.5e100, "1.5e+100" },
	/* 2^-1017: 16 digits read back though the 16-digit rounding does not
	 * (the doubles below a power of two are closer together). */
	{ 0x1p-1017, "7.120236347223045e-307" },
	{ 0x1p-1022 - 0x1p-1074, "2.225073858507201e-308" }, /* the largest subnormal */
	{ 0x1p-1073, "1e-323" },
};

START_TEST(test_format_double_cases)
{
	const DoubleCase *c = &double_cases[_i];
	char buf[IDICT__DOUBLE_BUF];
	memset(buf, 'X', sizeof buf);
	gsize len = idict__format_double(buf, c->value);
	ck_assert_str_eq(buf, c->expected);
	ck_assert_uint_eq(len, strlen(c->expected));
	if (!isnan(c->value)) {
		double back = g_ascii_strtod(buf, NULL);
		ck_assert_msg(back == c->value && !signbit(back) == !signbit(c->value),
			      "\"%s\" does not read back as %.17g", buf, c->value);
	}
}
END_TEST

/* The reference for idict__format_double(): slow and plain, after the
 * printf-and-strtod search it replaced.  Returns: (transfer full) the text
 * of @value; g_free() it.
 *
 * The digits: for N significant digits, the N-digit rounding of @value that
 * printf gives, or else, at a power of two, the N-digit decimal next to it
 * on the other side of @value (only there can that one read back and the
 * rounding not: the doubles below a power of two are closer together than
 * those above); the first that reads back as @value, with N from 15 for
 * normal doubles, from 1 for subnormals.  From 15, because at most one
 * 15-digit decimal reads back as a normal double (they are further apart
 * than doubles are), so a shorter form, being one of them, is that one
 * with trailing zeros.
 * The layout: positional for 1e-4 <= |value| < 1e16, else d.ddde+XX. */
static char *reference_double(double value)
{
	if (isnan(value))
		return g_strdup("nan");
	if (isinf(value))
		return g_strdup(value > 0 ? "inf" : "-inf");
	if (value == 0)
		return g_strdup(signbit(value) ? "-0" : "0");

	double magnitude = fabs(value);
	int binary_exponent;
	gboolean power_of_two = frexp(magnitude, &binary_exponent) == 0.5 && magnitude >= DBL_MIN;
	guint64 significand = 0; /* the digits, as an integer */
	int exponent = 0;	 /* of its last digit */
	gboolean found = FALSE;
	for (int n = magnitude >= DBL_MIN ? 15 : 1; n <= 17 && !found; n++) {
		char text[64];
		snprintf(text, sizeof text, "%.*e", n - 1, magnitude);
		/* (17 digits always read back.) */
		found = n == 17 || g_ascii_strtod(text, NULL) == magnitude;
		/* "d.ddde+XX" */
		char *e = strchr(text, 'e');
		g_assert(e != NULL);
		exponent = atoi(e + 1) - (n - 1);
		significand = 0;
		for (const char *p = text; p < e; p++)
			if (g_ascii_isdigit(*p))
				significand = significand * 10 + (guint64)(*p - '0');
		if (found || !power_of_two)
			continue;
		/* The neighbour on the other side of @value. */
		guint64 lowest = 1; /* of N digits */
		for (int i = 1; i < n; i++)
			lowest *= 10;
		char check[64];
		snprintf(check, sizeof check, "%" G_GUINT64_FORMAT "e%d", significand, exponent);
		if (g_ascii_strtod(check, NULL) < magnitude) {
			significand++;
		} else if (significand > lowest) {
			significand--;
		} else { /* 1000 - 1 is 9999 of the next place down */
			significand = lowest * 10 - 1;
			exponent--;
		}
		snprintf(check, sizeof check, "%" G_GUINT64_FORMAT "e%d", significand, exponent);
		found = g_ascii_strtod(check, NULL) == magnitude;
	}
	g_assert(found);
	while (significand % 10 == 0) {
		significand /= 10;
		exponent++;
	}

	char digits[32];
	int n = snprintf(digits, sizeof digits, "%" G_GUINT64_FORMAT, significand);
	int point = exponent + n; /* |value| = 0.DIGITS * 10^point */
	GString *out = g_string_new(signbit(value) ? "-" : "");
	if (point - 1 < -4 || point - 1 >= 16) {
		g_string_append_c(out, digits[0]);
		if (n > 1)
			g_string_append_printf(out, ".%s", digits + 1);
		g_string_append_printf(out, "e%c%02d", point - 1 < 0 ? '-' : '+', abs(point - 1));
	} else if (point <= 0) {
		g_string_append(out, "0.");
		for (int i = point; i < 0; i++)
			g_string_append_c(out, '0');
		g_string_append(out, digits);
	} else if (point >= n) {
		g_string_append(out, digits);
		for (int i = n; i < point; i++)
			g_string_append_c(out, '0');
	} else {
		g_string_append_len(out, digits, point);
		g_string_append_printf(out, ".%s", digits + point);
	}
	return g_string_free(out, FALSE);
}

/* Checks idict__format_double(@value) against reference_double() and that
 * it reads back.  Returns: NULL, or a description of the problem (g_free()
 * it). */
static char *check_double(double value)
{
	char buf[IDICT__DOUBLE_BUF];
	memset(buf, 'X', sizeof buf);
	gsize len = idict__format_double(buf, value);
	if (len >= IDICT__DOUBLE_BUF || buf[len] != '\0' || strlen(buf) != len)
		return g_strdup_printf("%a: length %" G_GSIZE_FORMAT " for \"%.*s\"", value, len,
				       IDICT__DOUBLE_BUF, buf);
	g_autofree char *expected = reference_double(value);
	if (strcmp(buf, expected) != 0)
		return g_strdup_printf("%a: \"%s\" printed, expected \"%s\"", value, buf, expected);
	double back = g_ascii_strtod(buf, NULL);
	if (!isnan(value) && (back != value || !signbit(back) != !signbit(value)))
		return g_strdup_printf("%a: \"%s\" reads back as %a", value, buf, back);
	return NULL;
}

/* The reference itself, on values whose text is known. */
START_TEST(test_format_double_reference_cases)
{
	const DoubleCase *c = &double_cases[_i];
	g_autofree char *text = reference_double(c->value);
	ck_assert_str_eq(text, c->expected);
}
END_TEST

/* Random bit patterns: every double, normal or not, of either sign. */
START_TEST(test_format_double_random_bits)
{
	g_autoptr(GRand) rand = g_rand_new_with_seed(RANDOM_SEED + (guint32)_i);
	const char *env = g_getenv("IDICT_TEST_DOUBLES");
	guint64 total = env ? g_ascii_strtoull(env, NULL, 10) : REFERENCE_DOUBLES;
	for (guint64 n = 0; n < total / REFERENCE_ROUNDS; n++) {
		guint64 bits = ((guint64)g_rand_int(rand) << 32) | g_rand_int(rand);
		/* One in 256 a subnormal, else they would be 1 in 2048. */
		if (n % 256 == 0)
			bits &= ~(G_GUINT64_CONSTANT(0x7ff) << 52);
		double value;
		memcpy(&value, &bits, sizeof value);
		/* Not ck_assert(), which records its location (a write) even
		 * when it passes. */
		g_autofree char *problem = check_double(value);
		if (problem != NULL)
			ck_abort_msg("bits 0x%016" G_GINT64_MODIFIER "x (seed %u): %s", bits,
				     RANDOM_SEED + (guint)_i, problem);
	}
}
END_TEST

/* Where the text changes form or the search is hard: powers of two (the
 * spacing of doubles halves below them), powers of ten (digits roll over,
 * notation changes at 1e-4 and 1e16), each with its neighbours, and the
 * ends of the range. */
START_TEST(test_format_double_reference_edges)
{
	GArray *values = g_array_new(FALSE, FALSE, sizeof(double));
	for (int e = -1074; e <= 1023; e++) {
		double v = ldexp(1.0, e);
		g_array_append_val(values, v);
	}
	for (int e = -323; e <= 308; e++) {
		char text[16];
		snprintf(text, sizeof text, "1e%d", e);
		double v = g_ascii_strtod(text, NULL);
		g_array_append_val(values, v);
		v = 5 * v;
		g_array_append_val(values, v);
		v = 9.999999999999999 * v / 5;
		g_array_append_val(values, v);
	}
	static const double ends[] = { DBL_MAX, DBL_MIN, DBL_TRUE_MIN, 0.0,     1.0,
				       0.5,     0.1,     1e16,         1e-4,    9007199254740993.0 };
	g_array_append_vals(values, ends, G_N_ELEMENTS(ends));
	guint count = values->len;
	for (guint i = 0; i < count; i++) {
		double v = g_array_index(values, double, i);
		double up = nextafter(v, INFINITY), down = nextafter(v, 0);
		g_array_append_val(values, up);
		g_array_append_val(values, down);
	}
	for (guint i = 0; i < values->len; i++) {
		for (int sign = 1; sign >= -1; sign -= 2) {
			double v = sign * g_array_index(values, double, i);
			g_autofree char *problem = check_double(v);
			if (problem != NULL)
				ck_abort_msg("%s", problem);
		}
	}
	g_array_unref(values);
}
END_TEST

/* Returns: the significant digits in the %g-style text @buf. */
static int significant_digits(const char *buf)
{
	GString *mantissa = g_string_new(NULL);
	for (const char *p = buf; *p && *p != 'e'; p++)
		if (g_ascii_isdigit(*p))
			g_string_append_c(mantissa, *p);
	const char *start = mantissa->str;
	while (*start == '0')
		start++;
	int n = (int)strlen(start);
	while (n > 0 && start[n - 1] == '0')
		n--;
	g_string_free(mantissa, TRUE);
	return n;
}

/* Random decimals of at most 15 significant digits (DBL_DIG) in the normal
 * range read back from that many digits, so they print with no more. */
START_TEST(test_format_double_random_decimals)
{
	g_autoptr(GRand) rand = g_rand_new_with_seed(RANDOM_SEED + 1000u + (guint32)_i);
	for (int n = 0; n < RANDOM_PER_ROUND; n++) {
		int digits = g_rand_int_range(rand, 1, 16);
		GString *text = g_string_new(g_rand_boolean(rand) ? "-" : "");
		g_string_append_c(text, (char)('1' + g_rand_int_range(rand, 0, 9)));
		if (digits > 1)
			g_string_append_c(text, '.');
		for (int d = 1; d < digits; d++)
			g_string_append_c(text, (char)('0' + g_rand_int_range(rand, 0, 10)));
		g_string_append_printf(text, "e%d", g_rand_int_range(rand, -300, 301));
		double value = g_ascii_strtod(text->str, NULL);
		if (fabs(value) < DBL_MIN || isinf(value)) {
			g_string_free(text, TRUE);
			continue;
		}
		char buf[IDICT__DOUBLE_BUF];
		idict__format_double(buf, value);
		ck_assert_msg(g_ascii_strtod(buf, NULL) == value && significant_digits(buf) <= digits,
			      "%s printed as \"%s\"", text->str, buf);
		g_string_free(text, TRUE);
	}
}
END_TEST

/* ---- values: rendering and round trips ---- */

typedef struct {
	const char *type;
	const char *text;     /* GVariant text of the value; NULL: use @d */
	double d;
	const char *expected; /* its rendering; NULL: not checked (round trip only) */
} ValueCase;

static const ValueCase value_cases[] = {
	/* doubles */
	{ "d", NULL, 0.1, "0.1\n" },
	{ "d", NULL, 1.0, "1\n" },
	{ "d", NULL, -0.0, "-0\n" },
	{ "d", NULL, 0.0, "0\n" },
	{ "d", NULL, 1e300, "1e+300\n" },
	{ "d", NULL, 5e-324, "5e-324\n" },
	{ "d", NULL, 0.30000000000000004, "0.30000000000000004\n" },
	{ "d", NULL, -123456.789, "-123456.789\n" },
	{ "d", NULL, DBL_MAX, "1.7976931348623157e+308\n" },
	{ "d", NULL, DBL_MIN, "2.2250738585072014e-308\n" },
	{ "d", NULL, NAN, "nan\n" },
	{ "d", NULL, INFINITY, "inf\n" },
	{ "d", NULL, -INFINITY, "-inf\n" },
	/* 64-bit integers */
	{ "x", "0", 0, "0\n" },
	{ "x", "42", 0, "42\n" },
	{ "x", "-7", 0, "-7\n" },
	{ "x", "-9223372036854775808", 0, "-9223372036854775808\n" },
	{ "x", "9223372036854775807", 0, "9223372036854775807\n" },
	/* booleans */
	{ "b", "true", 0, "true\n" },
	{ "b", "false", 0, "false\n" },
	/* strings: the text plus one newline */
	{ "s", "'hello'", 0, "hello\n" },
	{ "s", "''", 0, "\n" },
	{ "s", "'a\\nb'", 0, "a\nb\n" },
	{ "s", "'ends with a newline\\n'", 0, "ends with a newline\n\n" },
	{ "s", "'\\n'", 0, "\n\n" },
	{ "s", "'  spaces and\\ttab  '", 0, "  spaces and\ttab  \n" },
	{ "s", "'temp\xc3\xa9rature \xe2\x82\xac'", 0, "temp\xc3\xa9rature \xe2\x82\xac\n" },
	{ "s", "'quote \" and \\\\ backslash'", 0, "quote \" and \\ backslash\n" },
	/* arrays: one value per line; empty: no bytes at all */
	{ "ad", "[]", 0, "" },
	{ "ad", "[1.0]", 0, "1\n" },
	{ "ad", "[1.0, 0.5, -2.0, 0.1]", 0, "1\n0.5\n-2\n0.1\n" },
	{ "ad", "[1e300, 2.5e-300, 0.30000000000000004]", 0,
	  "1e+300\n2.5e-300\n0.30000000000000004\n" },
	/* matrices: one row per line, values separated by one space */
	{ "aad", "[]", 0, "" },
	{ "aad", "[[5.0]]", 0, "5\n" },
	{ "aad", "[[1.0, 2.0], [3.0, 4.5]]", 0, "1 2\n3 4.5\n" },
	{ "aad", "[[1.0, 2.0, 3.0]]", 0, "1 2 3\n" },
	{ "aad", "[[1.0], [2.0], [3.0]]", 0, "1\n2\n3\n" },
	{ "aad", "[[0.1, -0.0], [1e-05, 1e+21]]", 0, "0.1 -0\n1e-05 1e+21\n" },
	/* anything else: GVariant text format, one line */
	{ "(ii)", "(1, 2)", 0, "(1, 2)\n" },
	{ "as", "['a', 'b c']", 0, "['a', 'b c']\n" },
	{ "as", "[]", 0, "[]\n" },
	{ "(xsb)", "(5, 'x', true)", 0, "(5, 'x', true)\n" },
	{ "a{sd}", "{'x': 1.5}", 0, "{'x': 1.5}\n" },
	{ "u", "7", 0, "7\n" },
	{ "ai", "[1, -2]", 0, "[1, -2]\n" },
	{ "(dd)", "(0.5, -1.0)", 0, NULL },
	{ "ms", "just 'x'", 0, NULL },
};

/* Returns: (transfer full): the value of @c, not floating. */
static GVariant *value_case_new(const ValueCase *c)
{
	if (c->text == NULL) {
		g_assert(strcmp(c->type, "d") == 0);
		return g_variant_ref_sink(g_variant_new_double(c->d));
	}
	g_autoptr(GError) error = NULL;
	GVariant *value = g_variant_parse(G_VARIANT_TYPE(c->type), c->text, NULL, NULL, &error);
	ck_assert_msg(value != NULL, "test table: %s %s: %s", c->type, c->text,
		      error ? error->message : "");
	return value; /* g_variant_parse() returns a non-floating reference */
}

START_TEST(test_format_render_cases)
{
	const ValueCase *c = &value_cases[_i];
	if (c->expected == NULL)
		return;
	g_autoptr(GVariant) value = value_case_new(c);
	g_autoptr(GBytes) text = idict__format_render(value);
	tu_assert_bytes_eq_str(text, c->expected);
}
END_TEST

/* parse(render(v)) == v, with the same bits (-0 stays -0). */
START_TEST(test_format_roundtrip_cases)
{
	const ValueCase *c = &value_cases[_i];
	g_autoptr(GVariant) value = value_case_new(c);
	g_autoptr(GBytes) text = idict__format_render(value);
	gsize len = 0;
	const char *data = g_bytes_get_data(text, &len);
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) back = idict__format_parse(g_variant_get_type(value), data ? data : "",
						       len, &error);
	g_autofree char *shown = tu_escape(data, len);
	ck_assert_msg(back != NULL, "type %s: \"%s\" does not parse: %s", c->type, shown,
		      error ? error->message : "");
	tu_assert_no_error(error);
	ck_assert(!g_variant_is_floating(back));
	g_autofree char *want = g_variant_print(value, TRUE);
	g_autofree char *got = g_variant_print(back, TRUE);
	ck_assert_msg(g_variant_equal(back, value), "type %s: \"%s\" reads back as %s, not %s",
		      c->type, shown, got, want);
}
END_TEST

/* Random doubles and arrays of them survive render + parse bit for bit. */
START_TEST(test_format_roundtrip_random)
{
	g_autoptr(GRand) rand = g_rand_new_with_seed(RANDOM_SEED + 2000u + (guint32)_i);
	double values[7];
	for (int n = 0; n < RANDOM_PER_ROUND / 8; n++) {
		for (gsize k = 0; k < G_N_ELEMENTS(values); k++) {
			guint64 bits;
			do {
				bits = ((guint64)g_rand_int(rand) << 32) | g_rand_int(rand);
				memcpy(&values[k], &bits, sizeof(double));
			} while (isnan(values[k])); /* NaN payloads do not survive */
		}
		g_autoptr(GVariant) d = g_variant_ref_sink(g_variant_new_double(values[0]));
		g_autoptr(GVariant) ad = g_variant_ref_sink(g_variant_new_fixed_array(
			G_VARIANT_TYPE_DOUBLE, values, G_N_ELEMENTS(values), sizeof(double)));
		GVariant *originals[] = { d, ad };
		for (gsize k = 0; k < G_N_ELEMENTS(originals); k++) {
			g_autoptr(GBytes) text = idict__format_render(originals[k]);
			gsize len = 0;
			const char *data = g_bytes_get_data(text, &len);
			g_autoptr(GVariant) back = idict__format_parse(
				g_variant_get_type(originals[k]), data, len, NULL);
			g_autofree char *shown = tu_escape(data, len);
			ck_assert_msg(back != NULL && g_variant_equal(back, originals[k]),
				      "\"%s\" does not read back (seed %u)", shown,
				      RANDOM_SEED + 2000u + (guint)_i);
		}
	}
}
END_TEST

/* The text must not depend on the host program's LC_NUMERIC.  Needs a locale
 * with a decimal comma: contrib/install-deps.sh generates de_DE.UTF-8. */
START_TEST(test_format_locale_independent)
{
	static const char *const comma_locales[] = {
		"de_DE.UTF-8", "de_DE.utf8", "fr_FR.UTF-8",
		"fr_FR.utf8",  "ru_RU.UTF-8", "ru_RU.utf8",
	};
	locale_t comma = (locale_t)0;
	for (gsize i = 0; i < G_N_ELEMENTS(comma_locales) && comma == (locale_t)0; i++)
		comma = newlocale(LC_NUMERIC_MASK, comma_locales[i], (locale_t)0);
	ck_assert_msg(comma != (locale_t)0,
		      "no locale with a decimal comma (de_DE.UTF-8): run contrib/install-deps.sh");

	GPtrArray *before = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
	for (gsize i = 0; i < G_N_ELEMENTS(value_cases); i++) {
		g_autoptr(GVariant) value = value_case_new(&value_cases[i]);
		g_ptr_array_add(before, idict__format_render(value));
	}

	locale_t old = uselocale(comma);
	char check[32];
	snprintf(check, sizeof check, "%.1f", 1.5);
	int comma_active = strcmp(check, "1,5") == 0;
	for (gsize i = 0; i < G_N_ELEMENTS(value_cases); i++) {
		g_autoptr(GVariant) value = value_case_new(&value_cases[i]);
		g_autoptr(GBytes) after = idict__format_render(value);
		ck_assert_msg(g_bytes_equal(after, before->pdata[i]),
			      "case %zu renders differently", i);
	}
	char buf[IDICT__DOUBLE_BUF];
	idict__format_double(buf, 3.25);
	ck_assert_str_eq(buf, "3.25");
	g_autoptr(GVariant) parsed = idict__format_parse(G_VARIANT_TYPE_DOUBLE, "3.25\n", 5, NULL);
	ck_assert_ptr_nonnull(parsed);
	ck_assert_double_eq(g_variant_get_double(parsed), 3.25);
	g_autoptr(GVariant) refused = idict__format_parse(G_VARIANT_TYPE_DOUBLE, "3,25\n", 5, NULL);
	ck_assert_ptr_null(refused);
	uselocale(old);
	freelocale(comma);
	g_ptr_array_unref(before);
	ck_assert_msg(comma_active, "the comma locale did not take effect: \"%s\"", check);
}
END_TEST

/* ---- idict__format_parse ---- */

typedef struct {
	const char *type;
	const char *text;
	gssize len;         /* -1: strlen(text) */
	const char *expect; /* GVariant text of the result; NULL: must be refused */
} ParseCase;

static const ParseCase parse_cases[] = {
	/* doubles: surrounding whitespace is fine, anything else is not */
	{ "d", "1.5", -1, "1.5" },
	{ "d", "1.5\n", -1, "1.5" },
	{ "d", " \t1.5 \r\n", -1, "1.5" },
	{ "d", "-2e3", -1, "-2000.0" },
	{ "d", "0.1", -1, "0.1" },
	{ "d", "1e308", -1, "1e308" },
	{ "d", "42", -1, "42.0" },
	{ "d", "1.59", 3, "1.5" }, /* only @len bytes count */
	{ "d", "1e999", -1, NULL },
	{ "d", "-1e999\n", -1, NULL },
	{ "d", "1.5x", -1, NULL },
	{ "d", "1.5 2", -1, NULL },
	{ "d", "1.5\n2\n", -1, NULL },
	{ "d", "1,5", -1, NULL },
	{ "d", "x", -1, NULL },
	{ "d", ".", -1, NULL },
	{ "d", "", -1, NULL },
	{ "d", " \n", -1, NULL },
	{ "d", "1.5\0", 4, NULL },
	{ "d", "1.5\0" "7", 5, NULL },
	{ "d", "\0" "1.5", 4, NULL },
	/* out of a double's range: overflow to infinity, a nonzero literal
	 * that would read as 0 (subnormals are accepted: see
	 * test_format_parse_special_doubles) */
	{ "d", "1e-400", -1, NULL },
	{ "d", "-1e-400\n", -1, NULL },
	{ "d", "2e-324", -1, NULL },
	{ "d", "1.7976931348623159e308", -1, NULL },
	{ "d", "2.2250738585072014e-308", -1, "2.2250738585072014e-308" },
	{ "d", "1.7976931348623157e308", -1, "1.7976931348623157e308" },
	{ "d", "0e-999", -1, "0.0" },
	{ "d", "0.000e-5000\n", -1, "0.0" },
	/* hexadecimal floats are not taken (the files never print them) */
	{ "d", "0x1p-2", -1, NULL },
	{ "d", "-0X10", -1, NULL },
	{ "d", "+0x1.8p1", -1, NULL },
	{ "d", "0x", -1, NULL },
	{ "ad", "1\n0x10\n", -1, NULL },
	{ "ad", "1\n1e-400\n", -1, NULL },
	{ "aad", "1 0x2\n", -1, NULL },
	{ "aad", "1 1e-999\n", -1, NULL },
	/* 64-bit integers */
	{ "x", "42", -1, "42" },
	{ "x", " -7 \n", -1, "-7" },
	{ "x", "0", -1, "0" },
	{ "x", "9223372036854775807", -1, "9223372036854775807" },
	{ "x", "-9223372036854775808\n", -1, "-9223372036854775808" },
	{ "x", "9223372036854775808", -1, NULL },
	{ "x", "-9223372036854775809", -1, NULL },
	{ "x", "99999999999999999999999", -1, NULL },
	{ "x", "1.0", -1, NULL },
	{ "x", "1e3", -1, NULL },
	{ "x", "0x10", -1, NULL },
	{ "x", "12abc", -1, NULL },
	{ "x", "1 2", -1, NULL },
	{ "x", "", -1, NULL },
	{ "x", "\n", -1, NULL },
	{ "x", "4\0", 2, NULL },
	/* booleans */
	{ "b", "true", -1, "true" },
	{ "b", "false", -1, "false" },
	{ "b", "1", -1, "true" },
	{ "b", "0", -1, "false" },
	{ "b", " true\n", -1, "true" },
	{ "b", "0\n", -1, "false" },
	{ "b", "yes", -1, NULL },
	{ "b", "no", -1, NULL },
	{ "b", "2", -1, NULL },
	{ "b", "truex", -1, NULL },
	{ "b", "true false", -1, NULL },
	{ "b", "", -1, NULL },
	{ "b", "true\0", 5, NULL },
	/* strings: exactly the text, less one trailing newline */
	{ "s", "abc", -1, "'abc'" },
	{ "s", "abc\n", -1, "'abc'" },
	{ "s", "abc\n\n", -1, "'abc\\n'" },
	{ "s", "a\nb\n", -1, "'a\\nb'" },
	{ "s", "", -1, "''" },
	{ "s", "\n", -1, "''" },
	{ "s", " x \n", -1, "' x '" },
	{ "s", "tab\t\n", -1, "'tab\\t'" },
	{ "s", "cr\r\n", -1, "'cr\\r'" },
	{ "s", "\xc3\xa9t\xc3\xa9\n", -1, "'\xc3\xa9t\xc3\xa9'" },
	{ "s", "abcdef", 3, "'abc'" },
	{ "s", "\xff\n", -1, NULL },
	{ "s", "a\xc3", -1, NULL },
	{ "s", "\xed\xa0\x80", -1, NULL },
	{ "s", "a\0b", 3, NULL },
	{ "s", "ab\n\0", 4, NULL },
	/* arrays: values separated by newlines or blanks */
	{ "ad", "", -1, "@ad []" },
	{ "ad", "\n", -1, "@ad []" },
	{ "ad", "1\n2\n3\n", -1, "[1.0, 2.0, 3.0]" },
	{ "ad", "1\n2\n3", -1, "[1.0, 2.0, 3.0]" },
	{ "ad", "1 2\n3\n", -1, "[1.0, 2.0, 3.0]" },
	{ "ad", "1\t2  3\n\n4\r\n", -1, "[1.0, 2.0, 3.0, 4.0]" },
	{ "ad", " 0.5 \n-1e-3\n", -1, "[0.5, -0.001]" },
	{ "ad", "1\nx\n", -1, NULL },
	{ "ad", "1\n1e999\n", -1, NULL },
	{ "ad", "1,2\n", -1, NULL },
	{ "ad", "1\n2x\n", -1, NULL },
	{ "ad", "1\n\0", 3, NULL },
	/* matrices: rows on lines, values separated by blanks, all rows alike */
	{ "aad", "", -1, "@aad []" },
	{ "aad", "5\n", -1, "[[5.0]]" },
	{ "aad", "1 2\n3 4\n", -1, "[[1.0, 2.0], [3.0, 4.0]]" },
	{ "aad", "1 2\n3 4", -1, "[[1.0, 2.0], [3.0, 4.0]]" },
	{ "aad", "1\t2\r\n 3   4 \n", -1, "[[1.0, 2.0], [3.0, 4.0]]" },
	{ "aad", "1 2\n\n3 4\n\n", -1, "[[1.0, 2.0], [3.0, 4.0]]" },
	{ "aad", "1\n2\n3\n", -1, "[[1.0], [2.0], [3.0]]" },
	{ "aad", "1 2\n3\n", -1, NULL },
	{ "aad", "1 2 3\n4 5\n", -1, NULL },
	{ "aad", "1\n2 3\n", -1, NULL },
	{ "aad", "1 2\n3 4\n5 6 7\n", -1, NULL },
	{ "aad", "1 a\n", -1, NULL },
	{ "aad", "1 2\n3 1e999\n", -1, NULL },
	{ "aad", "1 2\n\0", 5, NULL },
	/* anything else: GVariant text format */
	{ "(ii)", "(1, 2)", -1, "(1, 2)" },
	{ "(ii)", " (1,2) \n", -1, "(1, 2)" },
	{ "(ii)", "(1)", -1, NULL },
	{ "(ii)", "(1, 2, 3)", -1, NULL },
	{ "(ii)", "(1, 'a')", -1, NULL },
	{ "(ii)", "1 2", -1, NULL },
	{ "(ii)", "(1, 2) x", -1, NULL },
	{ "(ii)", "", -1, NULL },
	{ "(ii)", "(1, 2)\0", 7, NULL },
	{ "as", "['a', 'b']", -1, "['a', 'b']" },
	{ "as", "[]\n", -1, "@as []" },
	{ "as", "['a', 1]", -1, NULL },
	{ "as", "'a'", -1, NULL },
	{ "u", "7", -1, "uint32 7" },
	{ "u", "-1", -1, NULL },
	{ "a{sd}", "{'x': 1.5}", -1, "{'x': 1.5}" },
};

START_TEST(test_format_parse_cases)
{
	const ParseCase *c = &parse_cases[_i];
	gsize len = c->len < 0 ? strlen(c->text) : (gsize)c->len;
	g_autofree char *shown = tu_escape(c->text, len);
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) value =
		idict__format_parse(G_VARIANT_TYPE(c->type), c->text, len, &error);

	if (c->expect == NULL) {
		g_autofree char *got = value ? g_variant_print(value, TRUE) : NULL;
		ck_assert_msg(value == NULL, "type %s: \"%s\" accepted as %s", c->type, shown, got);
		tu_assert_error(error, IDICT_ERROR, IDICT_ERROR_INVALID_VALUE);
		return;
	}
	ck_assert_msg(value != NULL, "type %s: \"%s\" refused: %s", c->type, shown,
		      error ? error->message : "");
	tu_assert_no_error(error);
	ck_assert(!g_variant_is_floating(value));
	ck_assert_str_eq(g_variant_get_type_string(value), c->type);
	g_autoptr(GVariant) expected =
		g_variant_parse(G_VARIANT_TYPE(c->type), c->expect, NULL, NULL, NULL);
	ck_assert_msg(expected != NULL, "test table: %s %s", c->type, c->expect);
	g_autofree char *got = g_variant_print(value, TRUE);
	ck_assert_msg(g_variant_equal(value, expected), "type %s: \"%s\" parsed as %s, not %s",
		      c->type, shown, got, c->expect);
}
END_TEST

/* Not expressible in GVariant text: NaN, infinities and the sign of zero. */
START_TEST(test_format_parse_special_doubles)
{
	static const struct {
		const char *text;
		int kind; /* 0 NaN, 1 +inf, -1 -inf, 2 -0 */
	} cases[] = {
		{ "nan", 0 }, { "nan\n", 0 }, { " NaN ", 0 }, { "inf", 1 }, { "inf\n", 1 },
		{ "infinity", 1 }, { "-inf\n", -1 }, { "-0", 2 }, { "-0.0\n", 2 },
	};
	for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(GError) error = NULL;
		g_autoptr(GVariant) value = idict__format_parse(
			G_VARIANT_TYPE_DOUBLE, cases[i].text, strlen(cases[i].text), &error);
		ck_assert_msg(value != NULL, "\"%s\" refused: %s", cases[i].text,
			      error ? error->message : "");
		double d = g_variant_get_double(value);
		switch (cases[i].kind) {
		case 0:
			ck_assert_msg(isnan(d), "\"%s\" is %g", cases[i].text, d);
			break;
		case 1:
			ck_assert_msg(isinf(d) && d > 0, "\"%s\" is %g", cases[i].text, d);
			break;
		case -1:
			ck_assert_msg(isinf(d) && d < 0, "\"%s\" is %g", cases[i].text, d);
			break;
		default:
			ck_assert_msg(d == 0 && signbit(d), "\"%s\" is %g", cases[i].text, d);
			break;
		}
	}
	/* Subnormals are doubles: taken, though glibc's strtod flags them
	 * with ERANGE. */
	static const struct {
		const char *text;
		double value;
	} subnormals[] = {
		{ "5e-324", 0x1p-1074 },      { "3e-324\n", 0x1p-1074 },
		{ "-5e-324", -0x1p-1074 },    { "1e-310", 1e-310 },
		{ "2.225073858507201e-308", 2.225073858507201e-308 },
	};
	for (gsize i = 0; i < G_N_ELEMENTS(subnormals); i++) {
		g_autoptr(GError) error = NULL;
		g_autoptr(GVariant) value = idict__format_parse(
			G_VARIANT_TYPE_DOUBLE, subnormals[i].text, strlen(subnormals[i].text), &error);
		ck_assert_msg(value != NULL, "\"%s\" refused: %s", subnormals[i].text,
			      error ? error->message : "");
		double d = g_variant_get_double(value);
		ck_assert_msg(memcmp(&d, &subnormals[i].value, sizeof d) == 0, "\"%s\" read as %a",
			      subnormals[i].text, d);
	}
	/* In arrays and matrices as well. */
	const char *array_text = "nan\ninf\n-inf\n";
	g_autoptr(GVariant) array =
		idict__format_parse(G_VARIANT_TYPE("ad"), array_text, strlen(array_text), NULL);
	ck_assert_ptr_nonnull(array);
	gsize n = 0;
	const double *values = g_variant_get_fixed_array(array, &n, sizeof(double));
	ck_assert_uint_eq(n, 3);
	ck_assert(isnan(values[0]));
	ck_assert(isinf(values[1]) && values[1] > 0);
	ck_assert(isinf(values[2]) && values[2] < 0);
	g_autoptr(GVariant) matrix =
		idict__format_parse(G_VARIANT_TYPE("aad"), "nan inf\n", 8, NULL);
	ck_assert_ptr_nonnull(matrix);
	ck_assert_uint_eq(g_variant_n_children(matrix), 1);
}
END_TEST

/* A NULL error pointer is allowed on failure. */
START_TEST(test_format_parse_without_error)
{
	static const char *const types[] = { "d", "x", "b", "s", "ad", "aad", "(ii)" };
	for (gsize i = 0; i < G_N_ELEMENTS(types); i++) {
		GVariant *value =
			idict__format_parse(G_VARIANT_TYPE(types[i]), "\xff z\0", 4, NULL);
		ck_assert_msg(value == NULL, "type %s accepted a NUL byte", types[i]);
	}
}
END_TEST

static Suite *format_suite(void)
{
	Suite *suite = suite_create("format");

	TCase *tc = tcase_create("double");
	tcase_add_loop_test(tc, test_format_double_cases, 0, G_N_ELEMENTS(double_cases));
	tcase_add_loop_test(tc, test_format_double_reference_cases, 0, G_N_ELEMENTS(double_cases));
	tcase_add_test(tc, test_format_double_reference_edges);
	tcase_add_loop_test(tc, test_format_double_random_bits, 0, REFERENCE_ROUNDS);
	tcase_add_loop_test(tc, test_format_double_random_decimals, 0, RANDOM_ROUNDS);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(suite, tc);

	tc = tcase_create("render");
	tcase_add_loop_test(tc, test_format_render_cases, 0, G_N_ELEMENTS(value_cases));
	tcase_add_test(tc, test_format_locale_independent);
	suite_add_tcase(suite, tc);

	tc = tcase_create("parse");
	tcase_add_loop_test(tc, test_format_parse_cases, 0, G_N_ELEMENTS(parse_cases));
	tcase_add_test(tc, test_format_parse_special_doubles);
	tcase_add_test(tc, test_format_parse_without_error);
	suite_add_tcase(suite, tc);

	tc = tcase_create("roundtrip");
	tcase_add_loop_test(tc, test_format_roundtrip_cases, 0, G_N_ELEMENTS(value_cases));
	tcase_add_loop_test(tc, test_format_roundtrip_random, 0, RANDOM_ROUNDS);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(suite, tc);

	return suite;
}

int main(void)
{
	return tu_run_suite(format_suite());
}
