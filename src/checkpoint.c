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
 *
 * The temporary file has no name while it is written (O_TMPFILE): a save
 * killed then leaves nothing behind.  It gets one (linkat) only for the
 * instant before the rename, ".NAME.idict-tmp-XXXXXX" beside the
 * checkpoint NAME; where O_TMPFILE is not supported (NFS, older kernels)
 * it has that name from the start.  Either way a save killed before its
 * rename may leave such a file, and every save that completes removes those
 * of its checkpoint, so none outlives the next completed save.
 *
 * Loading copies the file into memory the dictionary owns (never an mmap:
 * a checkpoint replaced, truncated or deleted after the load must change
 * nothing), and every value into memory of its own, so that the
 * dictionary holds exactly its values.
 */
#include "checkpoint.h"
#include "store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CHECKPOINT_MAGIC "idict-checkpoint"
#define CHECKPOINT_VERSION 1
#define CHECKPOINT_TYPE "(sta{s(vb)})"

static gboolean save_failed(GError **error, const char *path, const char *what, int err)
{
	g_set_error(error, IDICT_ERROR, IDICT_ERROR_FAILED, "cannot save %s: %s: %s", path, what,
		    g_strerror(err));
	return FALSE;
}

/* Writes all of @data to @fd.  Returns: 0 or an errno value. */
static int write_all(int fd, const char *data, gsize len)
{
	while (len > 0) {
		ssize_t n = write(fd, data, MIN(len, (gsize)G_MAXSSIZE));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno;
		data += n;
		len -= (gsize)n;
	}
	return 0;
}

/* Returns: (transfer full): "@prefix" and 6 random characters. */
static char *temp_name(const char *prefix)
{
	static const char chars[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
	char suffix[7];
	for (int i = 0; i < 6; i++)
		suffix[i] = chars[g_random_int_range(0, (gint32)sizeof chars - 1)];
	suffix[6] = '\0';
	return g_strconcat(prefix, suffix, NULL);
}

/* Gives the unnamed file @fd (O_TMPFILE) a fresh name starting with
 * @prefix in directory @dirfd.
 * Returns: (transfer full) (nullable): the name, or NULL with errno set. */
static char *link_temp(int fd, int dirfd, const char *prefix)
{
	char proc_path[64];
	snprintf(proc_path, sizeof proc_path, "/proc/self/fd/%d", fd);
	for (int attempt = 0; attempt < 100; attempt++) {
		char *name = temp_name(prefix);
		/* Through /proc, which needs no privilege; AT_EMPTY_PATH, for
		 * where /proc is not mounted, needs CAP_DAC_READ_SEARCH. */
		if (linkat(AT_FDCWD, proc_path, dirfd, name, AT_SYMLINK_FOLLOW) == 0 ||
		    (errno == ENOENT && linkat(fd, "", dirfd, name, AT_EMPTY_PATH) == 0))
			return name;
		int err = errno;
		g_free(name);
		if (err != EEXIST) {
			errno = err;
			return NULL;
		}
	}
	errno = EEXIST;
	return NULL;
}

/* Creates a temporary file named @prefix + 6 characters in @dirfd.
 * Returns: its descriptor, its name in *@name_out (transfer full), or -1
 * with errno set. */
static int create_named_temp(int dirfd, const char *prefix, char **name_out)
{
	for (int attempt = 0; attempt < 100; attempt++) {
		char *name = temp_name(prefix);
		int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (fd >= 0) {
			*name_out = name;
			return fd;
		}
		int err = errno;
		g_free(name);
		if (err != EEXIST) {
			errno = err;
			return -1;
		}
	}
	errno = EEXIST;
	return -1;
}

/* Removes the temporary files (names @prefix + 6 characters) of earlier
 * saves to the same checkpoint that were killed before their rename.  A
 * save to the same path running at this moment in another process may
 * lose its temporary file and fail (with an error, the checkpoint whole):
 * a checkpoint path has one writer. */
static void remove_stale_temps(int dirfd, const char *prefix)
{
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return;
	DIR *dir = fdopendir(fd);
	if (dir == NULL) {
		close(fd);
		return;
	}
	gsize prefix_len = strlen(prefix);
	struct dirent *entry;
	while ((entry = readdir(dir)) != NULL) {
		if (strncmp(entry->d_name, prefix, prefix_len) == 0 &&
		    strlen(entry->d_name) == prefix_len + 6 &&
		    unlinkat(dirfd, entry->d_name, 0) == 0)
			g_debug("removed %s, left by a save that did not finish", entry->d_name);
	}
	closedir(dir);
}

/* Writes @len bytes of @data to @path atomically and durably, and removes
 * the leftovers of killed saves; see the top of this file. */
static gboolean save_bytes(const char *path, const char *data, gsize len, GError **error)
{
	g_autofree char *dir = g_path_get_dirname(path);
	g_autofree char *base = g_path_get_basename(path);
	if (strcmp(base, "/") == 0 || strcmp(base, ".") == 0 || strcmp(base, "..") == 0) {
		g_set_error(error, IDICT_ERROR, IDICT_ERROR_FAILED,
			    "cannot save %s: not a file name", path);
		return FALSE;
	}
	g_autofree char *prefix = g_strdup_printf(".%s.idict-tmp-", base);
	int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return save_failed(error, path, "cannot open its directory", errno);

	g_autofree char *temp = NULL;
	int fd = openat(dirfd, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, 0644);
	if (fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL))
		fd = create_named_temp(dirfd, prefix, &temp);
	if (fd < 0) {
		int err = errno;
		close(dirfd);
		return save_failed(error, path, "cannot create a temporary file", err);
	}
	const char *what = "cannot write it";
	int err = write_all(fd, data, len);
	if (err == 0 && fsync(fd) != 0) {
		err = errno;
		what = "cannot sync it";
	}
	if (err == 0 && temp == NULL && (temp = link_temp(fd, dirfd, prefix)) == NULL) {
		err = errno;
		what = "cannot name its temporary file";
	}
	if (close(fd) != 0 && err == 0) {
		err = errno;
		what = "cannot write it";
	}
	if (err == 0 && renameat(dirfd, temp, dirfd, base) != 0) {
		err = errno;
		what = "cannot rename its temporary file";
	}
	if (err == 0 && fsync(dirfd) != 0) {
		err = errno;
		what = "cannot sync its directory";
		g_clear_pointer(&temp, g_free); /* renamed: it is the checkpoint now */
	}
	if (err != 0) {
		if (temp)
			unlinkat(dirfd, temp, 0);
		close(dirfd);
		return save_failed(error, path, what, err);
	}
	remove_stale_temps(dirfd, prefix);
	close(dirfd);
	return TRUE;
}

GBytes *idict__checkpoint_serialize(IDict *self)
{
	/* References under the lock; serializing outside it. */
	g_autoptr(GVariant) entries = idict__store_snapshot(self, NULL);
	g_autoptr(GVariant) checkpoint = g_variant_ref_sink(
		g_variant_new("(st@a{s(vb)})", CHECKPOINT_MAGIC, (guint64)CHECKPOINT_VERSION,
			      entries));
	if (G_BYTE_ORDER == G_BIG_ENDIAN) {
		GVariant *swapped = g_variant_byteswap(checkpoint);
		g_variant_unref(checkpoint);
		checkpoint = swapped;
	}
	return g_variant_get_data_as_bytes(checkpoint);
}

gboolean idict_save(IDict *self, const char *path, GError **error)
{
	g_return_val_if_fail(self != NULL, FALSE);
	g_return_val_if_fail(path != NULL, FALSE);
	g_autoptr(GBytes) data = idict__checkpoint_serialize(self);
	gsize len = 0;
	const char *bytes = g_bytes_get_data(data, &len);
	return save_bytes(path, bytes ? bytes : "", len, error);
}

/* Returns: (transfer full): @value (from a checkpoint) in normal form, in
 * memory of its own, so that the dictionary holds exactly its values and
 * not the whole file. */
static GVariant *owned_copy(GVariant *value)
{
	g_autoptr(GVariant) normal = g_variant_get_normal_form(value);
	gsize size = g_variant_get_size(normal);
	gpointer data = g_malloc(size);
	g_variant_store(normal, data);
	return g_variant_ref_sink(g_variant_new_from_data(g_variant_get_type(normal), data, size,
							  TRUE, g_free, data));
}

IDict *idict__checkpoint_parse(GBytes *data, const char *name, GError **error)
{
	g_autoptr(GVariant) checkpoint = g_variant_ref_sink(
		g_variant_new_from_bytes(G_VARIANT_TYPE(CHECKPOINT_TYPE), data, FALSE));
	if (G_BYTE_ORDER == G_BIG_ENDIAN) {
		GVariant *swapped = g_variant_byteswap(checkpoint);
		g_variant_unref(checkpoint);
		checkpoint = swapped;
	}
	/* Data that is not a (sta{s(vb)}) reads as empty fields (GVariant's
	 * rule for malformed data): no magic string. */
	const char *magic = NULL;
	guint64 version = 0;
	g_autoptr(GVariant) entries = NULL;
	g_variant_get(checkpoint, "(&st@a{s(vb)})", &magic, &version, &entries);
	if (strcmp(magic, CHECKPOINT_MAGIC) != 0) {
		g_set_error(error, IDICT_ERROR, IDICT_ERROR_FAILED,
			    "%s is not an idict checkpoint, or is damaged (%" G_GSIZE_FORMAT " bytes)",
			    name, g_bytes_get_size(data));
		return NULL;
	}
	if (version != CHECKPOINT_VERSION) {
		g_set_error(error, IDICT_ERROR, IDICT_ERROR_FAILED,
			    "%s is an idict checkpoint of version %" G_GUINT64_FORMAT
			    ", not %d, or is damaged",
			    name, version, CHECKPOINT_VERSION);
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
		g_autoptr(GVariant) copy = owned_copy(inner);
		g_autoptr(GError) local = NULL;
		if (!idict_set_value(dict, key, copy, &local) ||
		    (writable && !idict_set_writable(dict, key, TRUE, &local))) {
			g_set_error(error, IDICT_ERROR, IDICT_ERROR_FAILED, "%s: %s", name,
				    local->message);
			idict_free(dict);
			return NULL;
		}
	}
	return dict;
}

static gboolean load_failed(GError **error, const char *path, const char *what)
{
	g_set_error(error, IDICT_ERROR, IDICT_ERROR_FAILED, "cannot read %s: %s", path, what);
	return FALSE;
}

/* Reads all of the regular file @path into @out.  Anything else is refused
 * before a byte is read: a FIFO would block the caller, a device such as
 * /dev/zero would grow it without end (O_NONBLOCK: opening a FIFO does not
 * wait for a writer).  Returns: %TRUE with @out (transfer full). */
static gboolean read_regular_file(const char *path, GBytes **out, GError **error)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return load_failed(error, path, g_strerror(errno));
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return load_failed(error, path, "not a regular file");
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	/* The size fstat() gave, and more if the file grows meanwhile. */
	gsize room = (gsize)st.st_size + 1, len = 0;
	char *data = g_malloc(room);
	for (;;) {
		if (len == room) {
			room *= 2;
			data = g_realloc(data, room);
		}
		ssize_t n = read(fd, data + len, MIN(room - len, (gsize)G_MAXSSIZE));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int err = errno;
			close(fd);
			g_free(data);
			return load_failed(error, path, g_strerror(err));
		}
		if (n == 0)
			break;
		len += (gsize)n;
	}
	close(fd);
	*out = g_bytes_new_take(data, len);
	return TRUE;
}

IDict *idict_load(const char *path, GError **error)
{
	g_return_val_if_fail(path != NULL, NULL);
	/* Read, not mapped: see the top of this file. */
	g_autoptr(GBytes) data = NULL;
	if (!read_regular_file(path, &data, error))
		return NULL;
	return idict__checkpoint_parse(data, path, error);
}
