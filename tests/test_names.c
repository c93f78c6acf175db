/* test_names.c - the key-name rules of idict_check_key_name(). */
#include "names.h"
#include "testutil.h"

#include <string.h>

typedef struct {
	const char *name;
	const char *why; /* shown when the case fails */
} NameCase;

static const NameCase valid_names[] = {
	{ "a", "one letter" },
	{ "x", "one component" },
	{ "a/b", "two components" },
	{ "a/b/c/d/e", "deep" },
	{ "temperature_2m", "underscore and digits" },
	{ "a-b+c=d:e,f@g%h", "punctuation" },
	{ "a.b", "dot inside" },
	{ ".hidden", "leading dot but not . or .." },
	{ "...", "three dots" },
	{ "a/.b/c.", "dots in components" },
	{ "a\\b", "backslash" },
	{ "a/ctl", "ctl below the top" },
	{ "a/updates/history/snapshot.json", "reserved names below the top" },
	{ "ctlx", "reserved prefix only" },
	{ "xctl", "reserved suffix only" },
	{ "updates2", "reserved prefix only" },
	{ "historyx", "reserved prefix only" },
	{ "snapshot", "prefix of snapshot.json" },
	{ "snapshot.json2", "snapshot.json prefix only" },
	{ "ct", "prefix of ctl" },
	{ "temp\xc3\xa9rature", "Latin letter with accent (U+00E9)" },
	{ "\xce\xb4/\xcf\x83", "Greek letters (U+03B4/U+03C3)" },
	{ "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", "CJK (U+65E5 U+672C U+8A9E)" },
	{ "\xf0\x9f\x98\x80", "emoji (U+1F600), 4-byte UTF-8" },
	{ "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82/x", "Cyrillic" },
};

static const NameCase invalid_names[] = {
	{ "", "empty" },
	{ "/", "only a slash" },
	{ "//", "two slashes" },
	{ "/a", "leading slash" },
	{ "a/", "trailing slash" },
	{ "a//b", "double slash" },
	{ "a/b/", "trailing slash after two components" },
	{ ".", "dot" },
	{ "..", "dot dot" },
	{ "./a", "dot component first" },
	{ "a/.", "dot component last" },
	{ "a/./b", "dot component inside" },
	{ "../a", "dot dot first" },
	{ "a/..", "dot dot last" },
	{ "a/../b", "dot dot inside" },
	{ " ", "only a space" },
	{ "a b", "space" },
	{ " a", "leading space" },
	{ "a ", "trailing space" },
	{ "a/ b", "space after slash" },
	{ "a\tb", "tab" },
	{ "a\nb", "newline" },
	{ "a\n", "trailing newline" },
	{ "a\rb", "carriage return" },
	{ "a\vb", "vertical tab" },
	{ "a\fb", "form feed" },
	{ "a\xc2\xa0" "b", "no-break space U+00A0" },
	{ "a\xe2\x80\x83" "b", "em space U+2003" },
	{ "a\xe3\x80\x80" "b", "ideographic space U+3000" },
	{ "a\xe2\x80\xa8" "b", "line separator U+2028" },
	{ "a\xe2\x80\xa9" "b", "paragraph separator U+2029" },
	{ "a\x01" "b", "control U+0001" },
	{ "\x1b", "escape" },
	{ "a\x7f", "delete U+007F" },
	{ "a\xc2\x85" "b", "next line U+0085 (C1 control)" },
	{ "a\xc2\x9b" "b", "C1 control U+009B" },
	{ "a\xe2\x80\x8b" "b", "zero-width space U+200B (format)" },
	{ "\xef\xbb\xbf" "a", "byte-order mark U+FEFF (format)" },
	{ "a\xe2\x80\xae" "b", "right-to-left override U+202E (format)" },
	{ "\xff", "invalid byte 0xFF" },
	{ "a\xc3", "truncated sequence at the end" },
	{ "a\xc3/b", "truncated sequence before a slash" },
	{ "\x80", "lone continuation byte" },
	{ "\xc0\xaf", "overlong encoding of /" },
	{ "\xe0\x80\xae", "overlong encoding of ." },
	{ "\xed\xa0\x80", "UTF-16 surrogate U+D800" },
	{ "\xf4\x90\x80\x80", "beyond U+10FFFF" },
	{ "ctl", "reserved ctl" },
	{ "ctl/pause", "reserved ctl as first component" },
	{ "updates", "reserved updates" },
	{ "updates/a", "reserved updates as first component" },
	{ "history", "reserved history" },
	{ "history/a/b", "reserved history as first component" },
	{ "snapshot.json", "reserved snapshot.json" },
	{ "snapshot.json/a", "reserved snapshot.json as first component" },
};

START_TEST(test_names_valid)
{
	const NameCase *c = &valid_names[_i];
	g_autoptr(GError) error = NULL;
	ck_assert_msg(idict_check_key_name(c->name, &error), "\"%s\" (%s) refused: %s", c->name,
		      c->why, error ? error->message : "");
	tu_assert_no_error(error);
	/* Without a GError too. */
	ck_assert(idict_check_key_name(c->name, NULL));
}
END_TEST

START_TEST(test_names_invalid)
{
	const NameCase *c = &invalid_names[_i];
	g_autoptr(GError) error = NULL;
	g_autofree char *shown = tu_escape(c->name, strlen(c->name));
	ck_assert_msg(!idict_check_key_name(c->name, &error), "\"%s\" (%s) accepted", shown,
		      c->why);
	tu_assert_error(error, IDICT_ERROR, IDICT_ERROR_BAD_NAME);
	/* The message must be printable even for invalid UTF-8 names. */
	ck_assert_msg(g_utf8_validate(error->message, -1, NULL), "message for %s is not UTF-8",
		      c->why);
	ck_assert(!idict_check_key_name(c->name, NULL));
}
END_TEST

START_TEST(test_names_null)
{
	g_autoptr(GError) error = NULL;
	ck_assert(!idict_check_key_name(NULL, &error));
	tu_assert_error(error, IDICT_ERROR, IDICT_ERROR_BAD_NAME);
	ck_assert(!idict_check_key_name(NULL, NULL));
}
END_TEST

/* Fills @buf with a name of exactly @len bytes: components of 9 letters
 * joined by '/', so that the length limit is on the whole key. */
static void make_long_name(char *buf, gsize len, gboolean with_slashes)
{
	for (gsize i = 0; i < len; i++)
		buf[i] = (char)('a' + i % 26);
	if (with_slashes) {
		for (gsize i = 9; i + 1 < len; i += 10)
			buf[i] = '/';
	}
	buf[len] = '\0';
}

/* _i: 0 one component, 1 several components. */
START_TEST(test_names_length_limit)
{
	char name[IDICT_KEY_MAX + 2];
	gboolean with_slashes = _i == 1;

	make_long_name(name, IDICT_KEY_MAX, with_slashes);
	ck_assert_uint_eq(strlen(name), IDICT_KEY_MAX);
	g_autoptr(GError) error = NULL;
	ck_assert_msg(idict_check_key_name(name, &error), "%d bytes refused: %s", IDICT_KEY_MAX,
		      error ? error->message : "");

	make_long_name(name, IDICT_KEY_MAX + 1, with_slashes);
	ck_assert_uint_eq(strlen(name), IDICT_KEY_MAX + 1);
	ck_assert_msg(!idict_check_key_name(name, &error), "%d bytes accepted", IDICT_KEY_MAX + 1);
	tu_assert_error(error, IDICT_ERROR, IDICT_ERROR_BAD_NAME);
}
END_TEST

/* The limit is in bytes, not characters: 127 two-byte letters (254 bytes)
 * fit, 128 (256 bytes) do not. */
START_TEST(test_names_length_in_bytes)
{
	GString *name = g_string_new(NULL);
	for (int i = 0; i < 127; i++)
		g_string_append(name, "\xc3\xa9");
	ck_assert(idict_check_key_name(name->str, NULL));
	g_string_append(name, "\xc3\xa9");
	ck_assert_uint_eq(name->len, 256);
	g_autoptr(GError) error = NULL;
	ck_assert(!idict_check_key_name(name->str, &error));
	tu_assert_error(error, IDICT_ERROR, IDICT_ERROR_BAD_NAME);
	g_string_free(name, TRUE);
}
END_TEST

START_TEST(test_names_reserved)
{
	static const char *const reserved[] = { "ctl", "updates", "history", "snapshot.json", "raw" };
	for (gsize i = 0; i < G_N_ELEMENTS(reserved); i++)
		ck_assert_msg(idict__names_reserved(reserved[i], strlen(reserved[i])), "%s",
			      reserved[i]);
	/* @len limits the comparison: a component inside a longer key. */
	ck_assert(idict__names_reserved("ctl/x", 3));
	ck_assert(!idict__names_reserved("ctl/x", 5));
	ck_assert(!idict__names_reserved("ctlx", 4));
	ck_assert(!idict__names_reserved("ct", 2));
	ck_assert(!idict__names_reserved("", 0));
	ck_assert(!idict__names_reserved("CTL", 3));
}
END_TEST

static Suite *names_suite(void)
{
	Suite *suite = suite_create("names");
	TCase *tc = tcase_create("check_key_name");
	tcase_add_loop_test(tc, test_names_valid, 0, G_N_ELEMENTS(valid_names));
	tcase_add_loop_test(tc, test_names_invalid, 0, G_N_ELEMENTS(invalid_names));
	tcase_add_test(tc, test_names_null);
	tcase_add_loop_test(tc, test_names_length_limit, 0, 2);
	tcase_add_test(tc, test_names_length_in_bytes);
	tcase_add_test(tc, test_names_reserved);
	suite_add_tcase(suite, tc);
	return suite;
}

int main(void)
{
	return tu_run_suite(names_suite());
}
