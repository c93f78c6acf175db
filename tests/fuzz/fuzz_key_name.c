/* fuzz_key_name.c - libFuzzer target for key names: idict_check_key_name()
 * and what the dictionary does with the names it accepts.
 *
 * Input: the key name (an input with a NUL byte is skipped: a C string ends
 * there).  Checked for every input:
 *   - a refused name gives IDICT_ERROR_BAD_NAME, and idict_set_int() refuses
 *     it the same way, storing nothing;
 *   - an accepted name keeps the rules: 1 to IDICT_KEY_MAX bytes, valid
 *     UTF-8, no empty, "." or ".." component, no reserved first component,
 *     no ASCII space or control byte; for an ASCII name the rules decide
 *     exactly (a name that keeps them must be accepted);
 *   - an accepted name can be stored: idict_set_int() succeeds,
 *     idict_contains() and idict_get_int() find it, idict_keys() lists it,
 *     the filesystem's lookups walk to it component by component and render
 *     its text; NAME + "/x" and (for a nested name) its first component
 *     conflict with it; idict_remove() removes it.
 * Each input gets a new dictionary, so that earlier names cannot conflict.
 */
#include "fs_view.h"
#include "names.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FAIL(...) (g_printerr("fuzz_key_name: " __VA_ARGS__), g_printerr("\n"), abort())

/* The rules for a name made of ASCII bytes only (@ascii set to FALSE if
 * there are others, for which the result covers only the structure). */
static gboolean keeps_rules(const char *name, gsize len, gboolean *ascii)
{
	*ascii = TRUE;
	if (len == 0 || len > IDICT_KEY_MAX || !g_utf8_validate(name, (gssize)len, NULL))
		return FALSE;
	gboolean ok = TRUE;
	g_auto(GStrv) parts = g_strsplit(name, "/", -1);
	for (guint i = 0; parts[i] != NULL; i++) {
		const char *c = parts[i];
		if (*c == '\0' || strcmp(c, ".") == 0 || strcmp(c, "..") == 0)
			ok = FALSE;
		if (i == 0 && idict__names_reserved(c, strlen(c)))
			ok = FALSE;
	}
	for (gsize i = 0; i < len; i++) {
		guchar b = (guchar)name[i];
		if (b >= 0x80)
			*ascii = FALSE;
		else if (b <= 0x20 || b == 0x7f)
			ok = FALSE;
	}
	return ok;
}

static void check_stored(const char *name)
{
	g_autoptr(IDict) dict = idict_new();
	g_autoptr(GError) error = NULL;
	if (!idict_set_int(dict, name, 42, &error))
		FAIL("an accepted name was not stored: %s", error->message);
	gint64 value = 0;
	if (!idict_contains(dict, name) || !idict_get_int(dict, name, &value, NULL) || value != 42)
		FAIL("a stored name is not found");
	g_auto(GStrv) keys = idict_keys(dict);
	if (g_strv_length(keys) != 1 || strcmp(keys[0], name) != 0)
		FAIL("idict_keys() does not list exactly the stored name");

	/* The path the kernel would look up, one component at a time. */
	g_auto(GStrv) parts = g_strsplit(name, "/", -1);
	guint64 ino = IDICT__INO_ROOT;
	for (guint i = 0; parts[i] != NULL; i++) {
		IDictNodeInfo info;
		if (idict__view_lookup(dict, IDICT__VIEW_KEYS, ino, parts[i], &info) != 0)
			FAIL("lookup of component %u failed", i);
		if (info.is_dir != (parts[i + 1] != NULL))
			FAIL("component %u: is_dir %d", i, info.is_dir);
		ino = info.ino;
	}
	IDictNodeInfo info;
	GBytes *text = NULL;
	if (idict__view_stat(dict, ino, &info, &text) != 0 || text == NULL ||
	    g_bytes_get_size(text) != 3 || memcmp(g_bytes_get_data(text, NULL), "42\n", 3) != 0)
		FAIL("the key's file does not read \"42\\n\"");
	g_bytes_unref(text);

	/* "a" and "a/b" cannot both be keys. */
	if (strlen(name) + 2 <= IDICT_KEY_MAX) {
		g_autofree char *below = g_strconcat(name, "/x", NULL);
		g_autoptr(GError) conflict = NULL;
		if (idict_set_int(dict, below, 1, &conflict) ||
		    !g_error_matches(conflict, IDICT_ERROR, IDICT_ERROR_NAME_CONFLICT))
			FAIL("NAME/x did not conflict with NAME");
	}
	if (parts[1] != NULL) {
		g_autoptr(GError) conflict = NULL;
		if (idict_set_int(dict, parts[0], 1, &conflict) ||
		    !g_error_matches(conflict, IDICT_ERROR, IDICT_ERROR_NAME_CONFLICT))
			FAIL("the first component did not conflict with the nested name");
	}
	if (!idict_remove(dict, name) || idict_contains(dict, name) || idict_size(dict) != 0)
		FAIL("idict_remove() did not remove the name");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (memchr(data, '\0', size) != NULL)
		return -1; /* not a C string: keep it out of the corpus */
	g_autofree char *name = g_strndup((const char *)data, size);
	g_autoptr(GError) error = NULL;
	gboolean accepted = idict_check_key_name(name, &error);
	gboolean ascii;
	gboolean rules = keeps_rules(name, size, &ascii);

	if (!accepted) {
		if (!g_error_matches(error, IDICT_ERROR, IDICT_ERROR_BAD_NAME))
			FAIL("a refused name without IDICT_ERROR_BAD_NAME");
		if (ascii && rules)
			FAIL("an ASCII name that keeps the rules was refused: %s", error->message);
		g_autoptr(IDict) dict = idict_new();
		g_autoptr(GError) set_error = NULL;
		if (idict_set_int(dict, name, 1, &set_error) ||
		    !g_error_matches(set_error, IDICT_ERROR, IDICT_ERROR_BAD_NAME) ||
		    idict_size(dict) != 0)
			FAIL("idict_set_int() did not refuse a refused name");
		return 0;
	}
	if (error != NULL)
		FAIL("an accepted name set an error");
	if (!rules)
		FAIL("a name that breaks the rules was accepted");
	check_stored(name);
	return 0;
}
