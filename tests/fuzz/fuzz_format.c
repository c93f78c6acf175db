/* fuzz_format.c - libFuzzer target for the value parser, which sees every
 * byte a client writes to a key.
 *
 * Input: the first byte picks the key's type from types[] below, the rest
 * is the text written.  Checked for every input:
 *   - idict__format_parse() gives a non-floating value of exactly that type,
 *     or NULL with IDICT_ERROR_INVALID_VALUE; text with a NUL byte is refused;
 *   - a double (alone, or in an array or matrix) is infinite only if the text
 *     says "inf": an overflow such as 1e999 is refused;
 *   - round trip: what parses, rendered by idict__format_render() and parsed
 *     again, gives an equal value (NaNs compare equal whatever their sign or
 *     payload: the text "nan" carries neither);
 *   - the same text examined in pieces, as writes arrive
 *     (idict__text_scan()), is never refused early if it is valid whole;
 *   - the same text written by a client to a writable key of that type
 *     (idict__view_client_write()) is accepted only if it parses and keeps
 *     an array's or matrix's shape; then the key holds the parsed value,
 *     otherwise it is unchanged and the write fails with EINVAL.
 */
#include "format.h"
#include "fs_view.h"
#include "texts.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The types with a text form of their own, then some that go through the
 * GVariant text format. */
static const struct {
	const char *type;
	const char *initial; /* the key's first value, GVariant text */
} types[] = {
	{ "d", "0.5" },
	{ "x", "int64 7" },
	{ "b", "true" },
	{ "s", "'x'" },
	{ "ad", "[1.0, 2.0, 3.0]" },
	{ "aad", "[[1.0, 2.0], [3.0, 4.0]]" },
	{ "(is)", "(1, 'a')" },
	{ "as", "['a', 'b']" },
	{ "a{sd}", "{'a': 1.0}" },
	{ "(dd)", "(1.0, 2.0)" },
	{ "ay", "b'ab'" },
	{ "mi", "@mi nothing" },
	{ "v", "<1>" },
	{ "a{sv}", "{'a': <1>}" },
};

static IDict *dict;
static guint64 inos[G_N_ELEMENTS(types)];

#define FAIL(...) (g_printerr("fuzz_format: " __VA_ARGS__), g_printerr("\n"), abort())

static void setup(void)
{
	dict = idict_new();
	for (gsize i = 0; i < G_N_ELEMENTS(types); i++) {
		g_autofree char *key = g_strdup_printf("t%zu", i);
		g_autoptr(GError) error = NULL;
		GVariant *value = g_variant_parse(G_VARIANT_TYPE(types[i].type), types[i].initial,
						  NULL, NULL, &error);
		if (value == NULL)
			FAIL("bad initial value for %s: %s", types[i].type, error->message);
		if (!idict_set_value(dict, key, value, &error) ||
		    !idict_set_writable(dict, key, TRUE, &error))
			FAIL("%s", error->message);
		g_variant_unref(value);
		IDictNodeInfo info;
		if (idict__view_lookup(dict, IDICT__VIEW_KEYS, IDICT__INO_ROOT, key, &info) != 0)
			FAIL("lookup of %s failed", key);
		inos[i] = info.ino;
	}
}

/* Equal values, except that every NaN equals every other NaN. */
static gboolean same_value(GVariant *a, GVariant *b)
{
	if (!g_variant_type_equal(g_variant_get_type(a), g_variant_get_type(b)))
		return FALSE;
	if (g_variant_is_of_type(a, G_VARIANT_TYPE_DOUBLE)) {
		double x = g_variant_get_double(a), y = g_variant_get_double(b);
		return (isnan(x) && isnan(y)) || memcmp(&x, &y, sizeof x) == 0;
	}
	if (!g_variant_is_container(a))
		return g_variant_equal(a, b);
	gsize n = g_variant_n_children(a);
	if (n != g_variant_n_children(b))
		return FALSE;
	for (gsize i = 0; i < n; i++) {
		g_autoptr(GVariant) ca = g_variant_get_child_value(a, i);
		g_autoptr(GVariant) cb = g_variant_get_child_value(b, i);
		if (!same_value(ca, cb))
			return FALSE;
	}
	return TRUE;
}

/* Doubles of "d", "ad" and "aad" values: infinite only if the text
 * (@lower, in lower case) says so. */
static void check_no_overflow(GVariant *value, const char *lower)
{
	if (g_variant_is_of_type(value, G_VARIANT_TYPE_DOUBLE)) {
		if (isinf(g_variant_get_double(value)) && strstr(lower, "inf") == NULL)
			FAIL("an overflow was accepted as infinity");
		return;
	}
	gsize n = g_variant_n_children(value);
	for (gsize i = 0; i < n; i++) {
		g_autoptr(GVariant) child = g_variant_get_child_value(value, i);
		check_no_overflow(child, lower);
	}
}

static void check_parse(gsize t, const char *text, gsize len)
{
	const GVariantType *type = G_VARIANT_TYPE(types[t].type);
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) value = idict__format_parse(type, text, len, &error);
	if (value == NULL) {
		if (error == NULL || !g_error_matches(error, IDICT_ERROR, IDICT_ERROR_INVALID_VALUE))
			FAIL("parse failed without IDICT_ERROR_INVALID_VALUE");
		return;
	}
	if (error != NULL)
		FAIL("parse succeeded but set an error");
	if (memchr(text, '\0', len) != NULL)
		FAIL("a NUL byte was accepted");
	if (g_variant_is_floating(value))
		FAIL("parse returned a floating reference");
	if (!g_variant_is_of_type(value, type))
		FAIL("parse returned type %s for %s", g_variant_get_type_string(value),
		     types[t].type);
	if (strcmp(types[t].type, "d") == 0 || strcmp(types[t].type, "ad") == 0 ||
	    strcmp(types[t].type, "aad") == 0) {
		g_autofree char *lower = g_ascii_strdown(text, (gssize)len);
		check_no_overflow(value, lower);
	}

	g_autoptr(GBytes) rendered = idict__format_render(value);
	gsize rlen = 0;
	const char *rtext = g_bytes_get_data(rendered, &rlen);
	if (rlen > 0 && rtext[rlen - 1] != '\n')
		FAIL("the text of a value does not end with a newline");
	g_autoptr(GError) error2 = NULL;
	g_autoptr(GVariant) again = idict__format_parse(type, rtext ? rtext : "", rlen, &error2);
	if (again == NULL)
		FAIL("round trip: the rendered text \"%.*s\" does not parse: %s", (int)rlen, rtext,
		     error2->message);
	if (!same_value(value, again)) {
		g_autofree char *a = g_variant_print(value, TRUE);
		g_autofree char *b = g_variant_print(again, TRUE);
		FAIL("round trip changed the value: %s -> \"%.*s\" -> %s", a, (int)rlen, rtext, b);
	}
}

/* The same bytes as a client's write to the key of that type. */
static void check_client_write(gsize t, const char *text, gsize len)
{
	g_autofree char *key = g_strdup_printf("t%zu", t);
	g_autoptr(GVariant) before = idict_get_value(dict, key);
	int err = idict__view_client_write(dict, inos[t], 0, text, len);
	g_autoptr(GVariant) after = idict_get_value(dict, key);
	g_autoptr(GVariant) parsed =
		idict__format_parse(G_VARIANT_TYPE(types[t].type), text, len, NULL);
	if (err != 0 && err != -EINVAL)
		FAIL("client write returned %d", err);
	if (err == 0) {
		if (parsed == NULL)
			FAIL("client write accepted text that does not parse");
		if (!same_value(after, parsed))
			FAIL("client write stored another value than the text's");
	} else if (!same_value(before, after)) {
		FAIL("a refused client write changed the value");
	}
	if (parsed != NULL && err != 0) {
		/* Refused only for changing the shape of an array or matrix. */
		const char *ts = types[t].type;
		if (strcmp(ts, "ad") != 0 && strcmp(ts, "aad") != 0)
			FAIL("client write refused text that parses as %s", ts);
	}
}

/* The same text arriving in pieces (idict__text_scan(), as the filesystem
 * examines each write): it may be refused early (INVALID) only if the whole
 * text would be refused, and WHOLE only if its value is complete: what the
 * scan calls WHOLE and parses stays a valid value only if nothing but
 * whitespace follows. */
static void check_pieces(gsize t, const char *text, gsize len)
{
	g_autofree char *key = g_strdup_printf("t%zu", t);
	g_autoptr(GVariant) current = idict_get_value(dict, key);
	IDictTextScan scan;
	idict__text_scan_init(&scan, current);
	if (scan.kind == IDICT__TEXT_OTHER)
		return;
	g_autoptr(GVariant) whole = idict__format_parse(G_VARIANT_TYPE(types[t].type), text, len, NULL);
	gboolean valid = whole != NULL;
	if (valid && (scan.kind == IDICT__TEXT_ARRAY || scan.kind == IDICT__TEXT_MATRIX))
		valid = g_variant_n_children(current) == g_variant_n_children(whole);
	if (valid && scan.kind == IDICT__TEXT_MATRIX && g_variant_n_children(whole) > 0) {
		g_autoptr(GVariant) a = g_variant_get_child_value(current, 0);
		g_autoptr(GVariant) b = g_variant_get_child_value(whole, 0);
		valid = g_variant_n_children(a) == g_variant_n_children(b);
	}
	/* Pieces: split at the bytes whose value is odd, and at the end. */
	for (gsize end = 1; end <= len; end++) {
		if (end < len && (text[end - 1] & 1))
			continue;
		g_autoptr(GError) error = NULL;
		IDictTextState state = idict__text_scan(&scan, text, end, &error);
		if (state == IDICT__TEXT_INVALID) {
			if (valid)
				FAIL("a valid %s was refused after %zu of %zu bytes: %s", types[t].type,
				     end, len, error->message);
			return;
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (dict == NULL)
		setup();
	if (size == 0)
		return 0;
	gsize t = data[0] % G_N_ELEMENTS(types);
	const char *text = (const char *)data + 1;
	gsize len = size - 1;
	check_parse(t, text, len);
	check_client_write(t, text, len);
	check_pieces(t, text, len);
	return 0;
}
