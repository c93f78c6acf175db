/* snapshot.c - snapshot.json: every key from one moment, as JSON.
 *
 * A client that reads several keys one file at a time may see them from
 * different updates; this file holds them all from a single moment (a walk
 * of the store, see tree.c), with the sequence number, so that `jq` or a
 * script gets a consistent picture.
 *
 * Rendering the whole dictionary costs time and memory in proportion to
 * it, so it happens only at open, at most once per update: the last
 * rendering is kept (held against the clients' cap) and every open while
 * the sequence number has not moved shares it.  A stat or lookup renders
 * nothing: st_size is the length of the last rendering (0 before the
 * first), exact for a reader that opens the file before asking its size
 * (cat, Python, jq), and promised to a reader that asked it first (an NFS
 * client reading exactly st_size bytes gets that rendering whole, see
 * clients.c).
 *
 * The text is always valid JSON (RFC 8259), written here rather than by
 * json-glib, whose generator prints doubles as "%.17g" followed by ".0"
 * and so writes 1e-08 as `1e-08.0`, which no JSON parser reads.  Numbers
 * are written exactly as in the key files (idict__format_double(): the
 * shortest text that reads back to the same double, "0.1", "1e-08",
 * "5e-324", "100"), which is always a JSON number, except -0, written
 * "-0.0" so that parsers that read "-0" as an integer keep its sign.  JSON
 * has no NaN or infinities: those doubles appear as the strings "nan",
 * "inf", "-inf" (as in the key files; null would lose which one).
 * Strings are escaped per RFC 8259 (", \, and control characters; every
 * other character as its UTF-8), and a byte that is not UTF-8 (GVariant
 * strings from a checkpoint need not be) becomes U+FFFD.
 */
#include "snapshot.h"
#include "clients.h"
#include "format.h"
#include "fs_view.h"
#include "store.h"

#include <errno.h>
#include <math.h>
#include <string.h>

static void append_value(GString *out, GVariant *value);

static void append_string(GString *out, const char *s, gsize len)
{
	static const char hex[] = "0123456789abcdef";
	const char *end = s + len;
	g_string_append_c(out, '"');
	while (s < end) {
		/* The longest run that needs no escape, copied at once. */
		const char *run = s;
		while (s < end && (guchar)*s >= 0x20 && (guchar)*s < 0x80 && *s != '"' && *s != '\\')
			s++;
		g_string_append_len(out, run, s - run);
		if (s == end)
			break;
		guchar c = (guchar)*s;
		if (c >= 0x80) {
			gunichar u = g_utf8_get_char_validated(s, end - s);
			if (u == (gunichar)-1 || u == (gunichar)-2) {
				g_string_append(out, "\\ufffd");
				s++;
			} else {
				const char *next = g_utf8_next_char(s);
				g_string_append_len(out, s, next - s);
				s = next;
			}
			continue;
		}
		s++;
		switch (c) {
		case '"': g_string_append(out, "\\\""); break;
		case '\\': g_string_append(out, "\\\\"); break;
		case '\b': g_string_append(out, "\\b"); break;
		case '\f': g_string_append(out, "\\f"); break;
		case '\n': g_string_append(out, "\\n"); break;
		case '\r': g_string_append(out, "\\r"); break;
		case '\t': g_string_append(out, "\\t"); break;
		default: {
			char esc[7] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15], '\0' };
			g_string_append(out, esc);
			break;
		}
		}
	}
	g_string_append_c(out, '"');
}

static void append_double(GString *out, double value)
{
	if (!isfinite(value)) {
		g_string_append(out, isnan(value) ? "\"nan\"" : value > 0 ? "\"inf\"" : "\"-inf\"");
		return;
	}
	if (value == 0 && signbit(value)) {
		/* Parsers that read "-0" as the integer 0 (Python's json) would
		 * lose the sign. */
		g_string_append(out, "-0.0");
		return;
	}
	char buf[IDICT__DOUBLE_BUF];
	gsize len = idict__format_double(buf, value);
	g_string_append_len(out, buf, (gssize)len);
}

static void append_doubles(GString *out, GVariant *array)
{
	gsize n = 0;
	const double *values = g_variant_get_fixed_array(array, &n, sizeof(double));
	g_string_append_c(out, '[');
	for (gsize i = 0; i < n; i++) {
		if (i > 0)
			g_string_append_c(out, ',');
		append_double(out, values[i]);
	}
	g_string_append_c(out, ']');
}

/* The key of a dictionary entry as a JSON object member name: strings as
 * they are, any other basic type as its JSON text. */
static void append_member_name(GString *out, GVariant *key)
{
	if (g_variant_is_of_type(key, G_VARIANT_TYPE_STRING) ||
	    g_variant_is_of_type(key, G_VARIANT_TYPE_OBJECT_PATH) ||
	    g_variant_is_of_type(key, G_VARIANT_TYPE_SIGNATURE)) {
		gsize len = 0;
		const char *s = g_variant_get_string(key, &len);
		append_string(out, s, len);
		return;
	}
	GString *text = g_string_new(NULL);
	append_value(text, key);
	if (text->str[0] == '"')
		g_string_append_len(out, text->str, (gssize)text->len); /* nan, inf */
	else
		append_string(out, text->str, text->len);
	g_string_free(text, TRUE);
}

/* Every GVariant as JSON: booleans, numbers (all integer types in decimal,
 * doubles as above), strings, object paths and signatures as strings; a
 * variant as its value; a maybe as null or its value; an array of
 * dictionary entries as an object; other arrays and tuples as arrays;
 * a lone dictionary entry as [key, value]. */
static void append_value(GString *out, GVariant *value)
{
	switch (g_variant_classify(value)) {
	case G_VARIANT_CLASS_BOOLEAN:
		g_string_append(out, g_variant_get_boolean(value) ? "true" : "false");
		return;
	case G_VARIANT_CLASS_BYTE:
		g_string_append_printf(out, "%u", (unsigned)g_variant_get_byte(value));
		return;
	case G_VARIANT_CLASS_INT16:
		g_string_append_printf(out, "%d", (int)g_variant_get_int16(value));
		return;
	case G_VARIANT_CLASS_UINT16:
		g_string_append_printf(out, "%u", (unsigned)g_variant_get_uint16(value));
		return;
	case G_VARIANT_CLASS_INT32:
		g_string_append_printf(out, "%" G_GINT32_FORMAT, g_variant_get_int32(value));
		return;
	case G_VARIANT_CLASS_UINT32:
		g_string_append_printf(out, "%" G_GUINT32_FORMAT, g_variant_get_uint32(value));
		return;
	case G_VARIANT_CLASS_INT64:
		g_string_append_printf(out, "%" G_GINT64_FORMAT, g_variant_get_int64(value));
		return;
	case G_VARIANT_CLASS_UINT64:
		g_string_append_printf(out, "%" G_GUINT64_FORMAT, g_variant_get_uint64(value));
		return;
	case G_VARIANT_CLASS_HANDLE:
		g_string_append_printf(out, "%" G_GINT32_FORMAT, g_variant_get_handle(value));
		return;
	case G_VARIANT_CLASS_DOUBLE:
		append_double(out, g_variant_get_double(value));
		return;
	case G_VARIANT_CLASS_STRING:
	case G_VARIANT_CLASS_OBJECT_PATH:
	case G_VARIANT_CLASS_SIGNATURE: {
		gsize len = 0;
		const char *s = g_variant_get_string(value, &len);
		append_string(out, s, len);
		return;
	}
	case G_VARIANT_CLASS_VARIANT: {
		g_autoptr(GVariant) inner = g_variant_get_variant(value);
		append_value(out, inner);
		return;
	}
	case G_VARIANT_CLASS_MAYBE: {
		g_autoptr(GVariant) inner = g_variant_get_maybe(value);
		if (inner)
			append_value(out, inner);
		else
			g_string_append(out, "null");
		return;
	}
	case G_VARIANT_CLASS_ARRAY:
		if (g_variant_is_of_type(value, G_VARIANT_TYPE("ad"))) {
			append_doubles(out, value);
			return;
		}
		if (g_variant_type_is_dict_entry(
			    g_variant_type_element(g_variant_get_type(value)))) {
			gsize n = g_variant_n_children(value);
			g_string_append_c(out, '{');
			for (gsize i = 0; i < n; i++) {
				g_autoptr(GVariant) entry = g_variant_get_child_value(value, i);
				g_autoptr(GVariant) key = g_variant_get_child_value(entry, 0);
				g_autoptr(GVariant) item = g_variant_get_child_value(entry, 1);
				if (i > 0)
					g_string_append_c(out, ',');
				append_member_name(out, key);
				g_string_append_c(out, ':');
				append_value(out, item);
			}
			g_string_append_c(out, '}');
			return;
		}
		break; /* an array */
	case G_VARIANT_CLASS_TUPLE:
	case G_VARIANT_CLASS_DICT_ENTRY:
		break; /* an array */
	}
	gsize n = g_variant_n_children(value);
	g_string_append_c(out, '[');
	for (gsize i = 0; i < n; i++) {
		g_autoptr(GVariant) child = g_variant_get_child_value(value, i);
		if (i > 0)
			g_string_append_c(out, ',');
		append_value(out, child);
	}
	g_string_append_c(out, ']');
}

static gint renders; /* atomic: renderings made, for tests */

guint idict__snapshot_renders(void)
{
	return (guint)g_atomic_int_get(&renders);
}

GBytes *idict__snapshot_text(GVariant *entries, guint64 sequence, const char *state)
{
	g_atomic_int_inc(&renders);
	GString *out = g_string_sized_new(256);
	g_string_append_printf(out, "{\"sequence\":%" G_GUINT64_FORMAT ",\"state\":", sequence);
	append_string(out, state, strlen(state));
	g_string_append(out, ",\"values\":{");
	GVariantIter iter;
	const char *key;
	GVariant *boxed;
	gboolean writable;
	gboolean first = TRUE;
	g_variant_iter_init(&iter, entries);
	while (g_variant_iter_next(&iter, "{&s(@vb)}", &key, &boxed, &writable)) {
		g_autoptr(GVariant) value = g_variant_get_variant(boxed);
		g_variant_unref(boxed);
		if (!first)
			g_string_append_c(out, ',');
		first = FALSE;
		append_string(out, key, strlen(key));
		g_string_append_c(out, ':');
		append_value(out, value);
	}
	/* A newline at the end, like every other file of the mount. */
	g_string_append(out, "}}\n");
	return g_string_free_to_bytes(out);
}

GBytes *idict__snapshot_render(IDict *dict)
{
	guint64 sequence = 0;
	g_autoptr(GVariant) entries = idict__store_snapshot(dict, &sequence);
	IDictStatus status;
	idict__store_status(dict, &status);
	return idict__snapshot_text(entries, sequence, status.state);
}

/* ---- the last rendering, shared by opens ---- */

struct _IDictSnapshotCache {
	/* Held by serving threads for a whole capture and rendering, so that
	 * opens that come meanwhile wait for it and share it. */
	GMutex render_lock;
	/* Protects text. */
	GMutex lock;
	IDictText *text; /* the last rendering, held; version: its sequence number */
};

IDictSnapshotCache *idict__snapshot_cache_new(void)
{
	IDictSnapshotCache *cache = g_new0(IDictSnapshotCache, 1);
	g_mutex_init(&cache->render_lock);
	g_mutex_init(&cache->lock);
	return cache;
}

void idict__snapshot_cache_free(IDictSnapshotCache *cache, IDictClients *clients)
{
	if (cache == NULL)
		return;
	if (cache->text) {
		idict__clients_release(clients, cache->text);
		idict__text_unref(cache->text);
	}
	g_mutex_clear(&cache->render_lock);
	g_mutex_clear(&cache->lock);
	g_free(cache);
}

IDictText *idict__snapshot_last(IDictSnapshotCache *cache)
{
	g_mutex_lock(&cache->lock);
	IDictText *text = cache->text ? idict__text_ref(cache->text) : NULL;
	g_mutex_unlock(&cache->lock);
	return text;
}

/* Returns: (transfer full) (nullable): the last rendering if it is of
 * update @sequence. */
static IDictText *cached(IDictSnapshotCache *cache, guint64 sequence)
{
	g_mutex_lock(&cache->lock);
	IDictText *text = cache->text && cache->text->version == sequence
		? idict__text_ref(cache->text) : NULL;
	g_mutex_unlock(&cache->lock);
	return text;
}

int idict__snapshot_open(IDictSnapshotCache *cache, IDict *dict, IDictClients *clients,
			 IDictText **text_out)
{
	*text_out = cached(cache, idict_sequence(dict));
	if (*text_out)
		return 0;
	g_mutex_lock(&cache->render_lock);
	/* Another open may have rendered it while this one waited. */
	*text_out = cached(cache, idict_sequence(dict));
	if (*text_out) {
		g_mutex_unlock(&cache->render_lock);
		return 0;
	}
	IDictStatus status;
	idict__store_status(dict, &status);
	guint64 sequence = 0;
	gsize charged = 0;
	IDictTreeStatus captured = IDICT__TREE_OK;
	GVariant *entries = idict__tree_capture(dict, idict__clients_budget(clients), &sequence, &charged, &captured);
	if (entries == NULL) {
		g_mutex_unlock(&cache->render_lock);
		return idict__view_errno(captured);
	}
	/* JSON takes about three times the doubles' eight bytes: room for
	 * that first, so that a render never takes the memory past the cap. */
	gsize estimate = 4 * charged;
	if (!idict__clients_reserve(clients, estimate)) {
		g_variant_unref(entries);
		idict__clients_unreserve(clients, charged);
		g_mutex_unlock(&cache->render_lock);
		return -ENOMEM;
	}
	IDictText *text =
		idict__text_new(idict__snapshot_text(entries, sequence, status.state), sequence);
	g_variant_unref(entries);
	idict__clients_unreserve(clients, estimate + charged);
	if (!idict__clients_hold(clients, text)) {
		idict__text_unref(text);
		g_mutex_unlock(&cache->render_lock);
		return -ENOMEM;
	}
	g_mutex_lock(&cache->lock);
	IDictText *old = cache->text;
	cache->text = idict__text_ref(text);
	g_mutex_unlock(&cache->lock);
	g_mutex_unlock(&cache->render_lock);
	if (old) {
		idict__clients_release(clients, old);
		idict__text_unref(old);
	}
	*text_out = text;
	return 0;
}
