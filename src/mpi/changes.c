/* changes.c - a rank's changed keys as bytes, for MPI messages, and back.
 *
 * Scalars travel as their 8 (or 1) bytes, anything else as its GVariant
 * type and serialized data, so that every type round-trips.  The format is
 * in idict-mpi-private.h.  Unpacking checks every length against the
 * buffer: a short or damaged buffer is an error, never a read past it.
 */
#include "idict-mpi-private.h"

#include <string.h>

static void put(GByteArray *out, const void *data, gsize len)
{
	g_byte_array_append(out, data, (guint)len);
}

static void put_u32(GByteArray *out, guint32 v)
{
	put(out, &v, sizeof v);
}

void idict__mpi_pack(GByteArray *out, const char *name, GVariant *value)
{
	gsize name_len = strlen(name);
	g_return_if_fail(name_len >= 1 && name_len <= IDICT_KEY_MAX);
	IDictMpiKind kind = IDICT__MPI_VARIANT;
	if (value == NULL)
		kind = IDICT__MPI_REMOVED;
	else if (g_variant_is_of_type(value, G_VARIANT_TYPE_DOUBLE))
		kind = IDICT__MPI_DOUBLE;
	else if (g_variant_is_of_type(value, G_VARIANT_TYPE_INT64))
		kind = IDICT__MPI_INT;
	else if (g_variant_is_of_type(value, G_VARIANT_TYPE_BOOLEAN))
		kind = IDICT__MPI_BOOL;
	guint8 head[2] = { (guint8)kind, (guint8)name_len };
	put(out, head, 2);
	put(out, name, name_len);
	switch (kind) {
	case IDICT__MPI_REMOVED:
		break;
	case IDICT__MPI_DOUBLE: {
		double d = g_variant_get_double(value);
		put(out, &d, sizeof d);
		break;
	}
	case IDICT__MPI_INT: {
		gint64 i = g_variant_get_int64(value);
		put(out, &i, sizeof i);
		break;
	}
	case IDICT__MPI_BOOL: {
		guint8 b = g_variant_get_boolean(value) ? 1 : 0;
		put(out, &b, 1);
		break;
	}
	case IDICT__MPI_VARIANT:
	default: {
		const char *type = g_variant_get_type_string(value);
		gsize type_len = strlen(type);
		/* The value's own serialized bytes, no copy until here
		 * (g_variant_store() would want an aligned destination). */
		g_autoptr(GBytes) data = g_variant_get_data_as_bytes(value);
		gsize size = g_bytes_get_size(data);
		g_return_if_fail(size <= G_MAXUINT32);
		put_u32(out, (guint32)type_len);
		put(out, type, type_len);
		put_u32(out, (guint32)size);
		put(out, g_bytes_get_data(data, NULL), size);
		break;
	}
	}
}

/* Reads @n bytes at *@at into @dest (if not NULL); FALSE if fewer remain. */
static gboolean take(const guint8 *data, gsize len, gsize *at, void *dest, gsize n)
{
	if (len - *at < n)
		return FALSE;
	if (dest)
		memcpy(dest, data + *at, n);
	*at += n;
	return TRUE;
}

gboolean idict__mpi_unpack(const guint8 *data, gsize len, IDictMpiRecordFunc func,
			   gpointer user_data, GError **error)
{
	gsize at = 0;
	while (at < len) {
		guint8 head[2];
		IDictMpiRecord record = { 0 };
		if (!take(data, len, &at, head, 2) || head[0] > IDICT__MPI_VARIANT || head[1] == 0)
			goto damaged;
		record.kind = head[0];
		record.name = (const char *)data + at;
		record.name_len = head[1];
		if (!take(data, len, &at, NULL, record.name_len))
			goto damaged;
		gboolean ok = TRUE;
		switch (record.kind) {
		case IDICT__MPI_REMOVED:
			break;
		case IDICT__MPI_DOUBLE:
			ok = take(data, len, &at, &record.as.d, sizeof record.as.d);
			break;
		case IDICT__MPI_INT:
			ok = take(data, len, &at, &record.as.i, sizeof record.as.i);
			break;
		case IDICT__MPI_BOOL: {
			guint8 b = 0;
			ok = take(data, len, &at, &b, 1);
			record.as.b = b != 0;
			break;
		}
		case IDICT__MPI_VARIANT:
		default: {
			guint32 type_len = 0, size = 0;
			if (!take(data, len, &at, &type_len, sizeof type_len) || type_len == 0 ||
			    type_len > 1024 || len - at < type_len)
				goto damaged;
			g_autofree char *type = g_strndup((const char *)data + at, type_len);
			at += type_len;
			if (!g_variant_type_string_is_valid(type) ||
			    !g_variant_type_is_definite(G_VARIANT_TYPE(type)) ||
			    !take(data, len, &at, &size, sizeof size) || len - at < size)
				goto damaged;
			/* A copy: the buffer is reused.  Not trusted: checked as read. */
			g_autoptr(GBytes) bytes = g_bytes_new(data + at, size);
			at += size;
			record.as.v = g_variant_ref_sink(
				g_variant_new_from_bytes(G_VARIANT_TYPE(type), bytes, FALSE));
			break;
		}
		}
		if (!ok)
			goto damaged;
		func(&record, user_data);
	}
	return TRUE;

damaged:
	g_set_error(error, IDICT_ERROR, IDICT_ERROR_FAILED,
		    "damaged list of changes (at byte %" G_GSIZE_FORMAT " of %" G_GSIZE_FORMAT ")",
		    at, len);
	return FALSE;
}

gboolean idict__mpi_apply(IDict *dict, const char *prefix, IDictMpiRecord *record,
			  GError **error)
{
	gsize prefix_len = strlen(prefix);
	g_autoptr(GVariant) variant = record->kind == IDICT__MPI_VARIANT ? record->as.v : NULL;
	if (prefix_len + record->name_len > IDICT_KEY_MAX) {
		g_set_error(error, IDICT_ERROR, IDICT_ERROR_BAD_NAME,
			    "\"%s%.*s\" would be longer than %d bytes", prefix,
			    (int)record->name_len, record->name, IDICT_KEY_MAX);
		return FALSE;
	}
	char key[IDICT_KEY_MAX + 1];
	memcpy(key, prefix, prefix_len);
	memcpy(key + prefix_len, record->name, record->name_len);
	key[prefix_len + record->name_len] = '\0';
	switch (record->kind) {
	case IDICT__MPI_REMOVED:
		idict_remove(dict, key);
		return TRUE;
	case IDICT__MPI_DOUBLE:
		return idict_set_double(dict, key, record->as.d, error);
	case IDICT__MPI_INT:
		return idict_set_int(dict, key, record->as.i, error);
	case IDICT__MPI_BOOL:
		return idict_set_bool(dict, key, record->as.b, error);
	case IDICT__MPI_VARIANT:
	default:
		return idict_set_value(dict, key, variant, error);
	}
}
