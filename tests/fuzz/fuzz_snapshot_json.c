/* fuzz_snapshot_json.c - libFuzzer target for snapshot.json's writer,
 * idict__snapshot_text().
 *
 * Input: the first byte picks the mode, the rest is
 *   - mode 0: doubles (8 bytes each, any bits), served as an array, a
 *     one-row matrix and scalar keys;
 *   - mode 1: a serialized a{s(vb)} (the captured entries, untrusted: any
 *     type behind the variants, any strings, non-normal forms);
 *   - mode 2: a type string, a NUL, and serialized data of that type, served
 *     as the value of one key.
 * Checked for every input: the text is valid JSON by RFC 8259's grammar
 * (a strict recursive-descent check below: no NaN, no `1e-08.0`, no raw
 * control characters, valid escapes, valid UTF-8), ends with "\n"; in mode
 * 0 every finite double reads back (g_ascii_strtod()) to the same bits,
 * NaN and the infinities are the strings "nan", "inf", "-inf".
 */
#include "snapshot.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FAIL(...) (g_printerr("fuzz_snapshot_json: " __VA_ARGS__), g_printerr("\n"), abort())

typedef struct {
	const char *p, *end;
	GArray *numbers; /* double: every number, in order */
	GPtrArray *strings; /* char*: every string's raw text (escapes kept), in order */
	const char *text;
} Json;

static gboolean json_value(Json *j, int depth);

static void json_ws(Json *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
		j->p++;
}

static gboolean json_literal(Json *j, const char *word)
{
	gsize n = strlen(word);
	if ((gsize)(j->end - j->p) < n || memcmp(j->p, word, n) != 0)
		return FALSE;
	j->p += n;
	return TRUE;
}

static gboolean json_string(Json *j)
{
	if (j->p >= j->end || *j->p != '"')
		return FALSE;
	const char *start = ++j->p;
	while (j->p < j->end && *j->p != '"') {
		guchar c = (guchar)*j->p;
		if (c < 0x20)
			return FALSE;
		if (c == '\\') {
			j->p++;
			if (j->p >= j->end)
				return FALSE;
			if (*j->p == 'u') {
				for (int i = 1; i <= 4; i++)
					if (j->p + i >= j->end || !g_ascii_isxdigit(j->p[i]))
						return FALSE;
				j->p += 4;
			} else if (strchr("\"\\/bfnrt", *j->p) == NULL || *j->p == '\0') {
				return FALSE;
			}
		}
		j->p++;
	}
	if (j->p >= j->end)
		return FALSE;
	g_ptr_array_add(j->strings, g_strndup(start, (gsize)(j->p - start)));
	j->p++;
	return TRUE;
}

static gboolean json_digits(Json *j)
{
	const char *start = j->p;
	while (j->p < j->end && g_ascii_isdigit(*j->p))
		j->p++;
	return j->p > start;
}

static gboolean json_number(Json *j)
{
	const char *start = j->p;
	if (j->p < j->end && *j->p == '-')
		j->p++;
	if (j->p < j->end && *j->p == '0')
		j->p++;
	else if (!(j->p < j->end && *j->p >= '1' && *j->p <= '9' && json_digits(j)))
		return FALSE;
	if (j->p < j->end && *j->p == '.') {
		j->p++;
		if (!json_digits(j))
			return FALSE;
	}
	if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
		j->p++;
		if (j->p < j->end && (*j->p == '+' || *j->p == '-'))
			j->p++;
		if (!json_digits(j))
			return FALSE;
	}
	g_autofree char *token = g_strndup(start, (gsize)(j->p - start));
	double value = g_ascii_strtod(token, NULL);
	g_array_append_val(j->numbers, value);
	return TRUE;
}

static gboolean json_value(Json *j, int depth)
{
	if (depth > 1000)
		FAIL("nesting deeper than GVariant allows");
	json_ws(j);
	if (j->p >= j->end)
		return FALSE;
	gboolean ok;
	switch (*j->p) {
	case '{':
		j->p++;
		json_ws(j);
		if (j->p < j->end && *j->p == '}') {
			j->p++;
			ok = TRUE;
			break;
		}
		for (;;) {
			json_ws(j);
			if (!json_string(j))
				return FALSE;
			json_ws(j);
			if (j->p >= j->end || *j->p != ':')
				return FALSE;
			j->p++;
			if (!json_value(j, depth + 1))
				return FALSE;
			json_ws(j);
			if (j->p < j->end && *j->p == ',') {
				j->p++;
				continue;
			}
			if (j->p < j->end && *j->p == '}') {
				j->p++;
				break;
			}
			return FALSE;
		}
		ok = TRUE;
		break;
	case '[':
		j->p++;
		json_ws(j);
		if (j->p < j->end && *j->p == ']') {
			j->p++;
			ok = TRUE;
			break;
		}
		for (;;) {
			if (!json_value(j, depth + 1))
				return FALSE;
			json_ws(j);
			if (j->p < j->end && *j->p == ',') {
				j->p++;
				continue;
			}
			if (j->p < j->end && *j->p == ']') {
				j->p++;
				break;
			}
			return FALSE;
		}
		ok = TRUE;
		break;
	case '"':
		ok = json_string(j);
		break;
	case 't':
		ok = json_literal(j, "true");
		break;
	case 'f':
		ok = json_literal(j, "false");
		break;
	case 'n':
		ok = json_literal(j, "null");
		break;
	default:
		ok = json_number(j);
		break;
	}
	return ok;
}

/* Checks that @text is one JSON value and a newline; fills @j's lists. */
static void check_json(Json *j, GBytes *text)
{
	gsize len = 0;
	const char *s = g_bytes_get_data(text, &len);
	if (len == 0 || s[len - 1] != '\n')
		FAIL("the text does not end with a newline");
	if (!g_utf8_validate(s, (gssize)len, NULL))
		FAIL("the text is not valid UTF-8");
	j->p = s;
	j->end = s + len;
	j->text = s;
	j->numbers = g_array_new(FALSE, FALSE, sizeof(double));
	j->strings = g_ptr_array_new_with_free_func(g_free);
	if (!json_value(j, 0))
		FAIL("invalid JSON at byte %td: \"%.*s\"", j->p - s, (int)MIN(len, 400), s);
	json_ws(j);
	if (j->p != j->end)
		FAIL("trailing bytes after the JSON value at byte %td", j->p - s);
}

static void json_clear(Json *j)
{
	g_array_unref(j->numbers);
	g_ptr_array_unref(j->strings);
}

static GBytes *render(GVariantBuilder *builder)
{
	g_autoptr(GVariant) entries = g_variant_ref_sink(g_variant_builder_end(builder));
	return idict__snapshot_text(entries, 42, "running");
}

/* Mode 0: every double read back, in order, after the sequence number. */
static void check_doubles(const uint8_t *data, gsize size)
{
	gsize n = MIN(size / sizeof(double), 512);
	g_autofree double *values = g_new0(double, n + 1);
	memcpy(values, data, n * sizeof(double));
	GVariantBuilder builder;
	g_variant_builder_init(&builder, G_VARIANT_TYPE("a{s(vb)}"));
	GVariant *array = g_variant_new_fixed_array(G_VARIANT_TYPE_DOUBLE, values, n, sizeof(double));
	g_variant_builder_add(&builder, "{s(vb)}", "a", array, FALSE);
	GVariantBuilder rows;
	g_variant_builder_init(&rows, G_VARIANT_TYPE("aad"));
	g_variant_builder_add_value(
		&rows, g_variant_new_fixed_array(G_VARIANT_TYPE_DOUBLE, values, n, sizeof(double)));
	g_variant_builder_add(&builder, "{s(vb)}", "m", g_variant_builder_end(&rows), FALSE);
	for (gsize i = 0; i < MIN(n, 8); i++) {
		g_autofree char *key = g_strdup_printf("s%zu", i);
		g_variant_builder_add(&builder, "{s(vb)}", key, g_variant_new_double(values[i]), TRUE);
	}
	g_autoptr(GBytes) text = render(&builder);
	Json j;
	check_json(&j, text);
	/* The numbers: 42, the array, the matrix, the scalars; the strings:
	 * keys, "running", and "nan", "inf", "-inf" for the rest. */
	gsize k = 1, s = 0;
	const double *got = (const double *)(void *)j.numbers->data;
	if (got[0] != 42)
		FAIL("sequence number lost");
	for (int pass = 0; pass < 3; pass++) {
		gsize count = pass < 2 ? n : MIN(n, 8);
		for (gsize i = 0; i < count; i++) {
			double v = values[i];
			if (isfinite(v)) {
				if (k >= j.numbers->len || memcmp(&got[k], &v, sizeof v) != 0)
					FAIL("%a came back as %a", v, k < j.numbers->len ? got[k] : 0.0);
				k++;
			} else {
				const char *want = isnan(v) ? "nan" : v > 0 ? "inf" : "-inf";
				/* Skip member names to the next value string. */
				while (s < j.strings->len && strcmp(j.strings->pdata[s], want) != 0)
					s++;
				if (s == j.strings->len)
					FAIL("%a not written as \"%s\"", v, want);
				s++;
			}
		}
	}
	if (k != j.numbers->len)
		FAIL("%u numbers, not %zu", j.numbers->len, k);
	json_clear(&j);
}

static void check_any(GVariant *entries)
{
	g_autoptr(GBytes) text = idict__snapshot_text(entries, G_MAXUINT64, "fuzz \"state\"\n");
	Json j;
	check_json(&j, text);
	json_clear(&j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	int mode = data[0] % 3;
	data++;
	size--;
	if (mode == 0) {
		check_doubles(data, size);
		return 0;
	}
	const GVariantType *type = G_VARIANT_TYPE("a{s(vb)}");
	g_autofree char *type_string = NULL;
	if (mode == 2) {
		const uint8_t *nul = memchr(data, '\0', size);
		if (nul == NULL)
			return 0;
		/* At most 64 characters, so at most 64 levels deep: the store
		 * never holds an untrusted value nested near GLib's limit of
		 * 128 (client text is parsed with GLib's depth limit, and
		 * checkpoint values are kept in trusted normal form), and
		 * g_variant_get_child_value() asserts on an untrusted container
		 * whose children pass that limit. */
		if (nul - data > 64)
			return 0;
		type_string = g_strndup((const char *)data, (gsize)(nul - data));
		if (!g_variant_type_string_is_valid(type_string) ||
		    !g_variant_type_is_definite(G_VARIANT_TYPE(type_string)))
			return 0;
		type = G_VARIANT_TYPE(type_string);
		size -= (gsize)(nul + 1 - data);
		data = nul + 1;
	}
	/* An aligned copy, as the store's data always is. */
	g_autoptr(GBytes) bytes = g_bytes_new(data, size);
	g_autoptr(GVariant) value = g_variant_ref_sink(g_variant_new_from_bytes(type, bytes, FALSE));
	if (mode == 1) {
		check_any(value);
		return 0;
	}
	GVariantBuilder builder;
	g_variant_builder_init(&builder, G_VARIANT_TYPE("a{s(vb)}"));
	g_variant_builder_add(&builder, "{s(vb)}", "k", value, FALSE);
	g_autoptr(GVariant) entries = g_variant_ref_sink(g_variant_builder_end(&builder));
	check_any(entries);
	return 0;
}
