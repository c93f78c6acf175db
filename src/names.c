/* names.c - the rules for key names.
 *
 * A key becomes a path below the mount point, so its name must be a path
 * that every shell tool handles without quoting surprises: components
 * separated by single slashes, no `.`/`..`, no whitespace or control
 * characters, valid UTF-8, and none of the filesystem's own names at the top.
 */
#include "names.h"
#include "root.h"

#include <string.h>

G_DEFINE_QUARK(idict-error-quark, idict_error)

gboolean idict__names_reserved(const char *name, gsize len)
{
	/* The first components that belong to the filesystem itself. */
	return idict__root_by_name(name, len) != NULL;
}

static gboolean bad_name(GError **error, const char *key, const char *why)
{
	g_autofree char *shown = g_utf8_validate(key, -1, NULL)
		? g_strescape(key, NULL) : g_strdup("(invalid UTF-8)");
	g_set_error(error, IDICT_ERROR, IDICT_ERROR_BAD_NAME, "bad key name \"%s\": %s",
		    shown, why);
	return FALSE;
}

gboolean idict_check_key_name(const char *key, GError **error)
{
	if (key == NULL)
		return bad_name(error, "", "NULL");
	gsize len = strlen(key);
	if (len == 0)
		return bad_name(error, key, "empty");
	if (len > IDICT_KEY_MAX)
		return bad_name(error, key, "longer than " G_STRINGIFY(IDICT_KEY_MAX) " bytes");
	if (!g_utf8_validate(key, (gssize)len, NULL))
		return bad_name(error, key, "not valid UTF-8");

	const char *component = key;
	for (gboolean first = TRUE;; first = FALSE) {
		const char *slash = strchr(component, '/');
		gsize clen = slash ? (gsize)(slash - component) : strlen(component);
		if (clen == 0)
			return bad_name(error, key, "empty component (leading, trailing or double /)");
		if ((clen == 1 && component[0] == '.') ||
		    (clen == 2 && component[0] == '.' && component[1] == '.'))
			return bad_name(error, key, "\".\" and \"..\" are not allowed");
		if (first && idict__names_reserved(component, clen))
			return bad_name(error, key, "reserved for the filesystem's own files");
		for (const char *p = component; p < component + clen; p = g_utf8_next_char(p)) {
			gunichar c = g_utf8_get_char(p);
			if (g_unichar_isspace(c) || g_unichar_iscntrl(c) ||
			    g_unichar_type(c) == G_UNICODE_FORMAT)
				return bad_name(error, key,
						"whitespace or control characters are not allowed");
		}
		if (slash == NULL)
			break;
		component = slash + 1;
	}
	return TRUE;
}
