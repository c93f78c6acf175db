/* checkpoint.c - saving the dictionary to a file and loading it back.
 *
 * The file is one serialized GVariant of type (sta{s(vb)}): a magic string,
 * a format version, and every key with its value and its writable flag,
 * little-endian.  GVariant's binary format is data only: loading it never
 * runs or builds code, and GLib reads untrusted (even malformed) data
 * safely.  Checks attached with idict_set_check() are code, so they are not
 * saved: attach them again after loading.
 *
 * Saving is atomic and durable: the data goes to a temporary file in the
 * same directory, which is fsync()ed and renamed over the old checkpoint,
 * and then the directory is fsync()ed.  A crash at any moment leaves either
 * the old or the new checkpoint, whole.
 */
#include "idict-private.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#define CHECKPOINT_MAGIC "idict-checkpoint"
#define CHECKPOINT_VERSION 1
#define CHECKPOINT_TYPE "(sta{s(vb)})"

static gboolean fsync_directory_of(const char *path, GError **error)
{
	g_autofree char *dir = g_path_get_dirname(path);
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) != 0) {
		int err = errno;
		if (fd >= 0)
			close(fd);
		g_set_error(error, IDICT_ERROR, IDICT_ERROR_FAILED, "cannot sync directory %s: %s",
			    dir, g_strerror(err));
		return FALSE;
	}
	close(fd);
	return TRUE;
}

gboolean idict_save(IDict *self, const char *path, GError **error)
{
	g_return_val_if_fail(self != NULL, FALSE);
	g_return_val_if_fail(path != NULL, FALSE);

	/* References under the lock; serializing and writing outside it. */
	g_autoptr(GVariant) entries = idict__store_snapshot(self, NULL);
	g_autoptr(GVariant) checkpoint = g_variant_ref_sink(
		g_variant_new("(st@a{s(vb)})", CHECKPOINT_MAGIC, (guint64)CHECKPOINT_VERSION,
			      entries));
	if (G_BYTE_ORDER == G_BIG_ENDIAN) {
		GVariant *swapped = g_variant_byteswap(checkpoint);
		g_variant_unref(checkpoint);
		checkpoint = swapped;
	}
	g_autoptr(GBytes) data = g_variant_get_data_as_bytes(checkpoint);
	gsize len = 0;
	const char *bytes = g_bytes_get_data(data, &len);
	g_autoptr(GError) local = NULL;
	if (!g_file_set_contents_full(path, bytes ? bytes : "", (gssize)len,
				      G_FILE_SET_CONTENTS_CONSISTENT | G_FILE_SET_CONTENTS_DURABLE,
				      0644, &local)) {
		g_set_error(error, IDICT_ERROR, IDICT_ERROR_FAILED, "cannot save %s: %s", path,
			    local->message);
		return FALSE;
	}
	return fsync_directory_of(path, error);
}

IDict *idict_load(const char *path, GError **error)
{
	g_return_val_if_fail(path != NULL, NULL);
	g_autoptr(GMappedFile) file = NULL;
	g_autoptr(GError) local = NULL;
	file = g_mapped_file_new(path, FALSE, &local);
	if (file == NULL) {
		g_set_error(error, IDICT_ERROR, IDICT_ERROR_FAILED, "cannot read %s: %s", path,
			    local->message);
		return NULL;
	}
	g_autoptr(GBytes) data = g_mapped_file_get_bytes(file);
	g_autoptr(GVariant) checkpoint = g_variant_ref_sink(
		g_variant_new_from_bytes(G_VARIANT_TYPE(CHECKPOINT_TYPE), data, FALSE));
	if (G_BYTE_ORDER == G_BIG_ENDIAN) {
		GVariant *swapped = g_variant_byteswap(checkpoint);
		g_variant_unref(checkpoint);
		checkpoint = swapped;
	}
	const char *magic = NULL;
	guint64 version = 0;
	g_autoptr(GVariant) entries = NULL;
	g_variant_get(checkpoint, "(&st@a{s(vb)})", &magic, &version, &entries);
	if (strcmp(magic, CHECKPOINT_MAGIC) != 0 || version != CHECKPOINT_VERSION) {
		g_set_error(error, IDICT_ERROR, IDICT_ERROR_FAILED,
			    "%s is not an idict checkpoint (version %d)", path, CHECKPOINT_VERSION);
		return NULL;
	}

	IDict *dict = idict_new();
	GVariantIter iter;
	const char *key;
	GVariant *value;
	gboolean writable;
	g_variant_iter_init(&iter, entries);
	while (g_variant_iter_next(&iter, "{&s(@vb)}", &key, &value, &writable)) {
		g_autoptr(GVariant) boxed = value;
		g_autoptr(GVariant) inner = g_variant_get_variant(boxed);
		if (!idict_set_value(dict, key, inner, &local) ||
		    (writable && !idict_set_writable(dict, key, TRUE, &local))) {
			g_set_error(error, IDICT_ERROR, IDICT_ERROR_FAILED, "%s: %s", path,
				    local->message);
			idict_free(dict);
			return NULL;
		}
	}
	return dict;
}
