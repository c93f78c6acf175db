/* idict-remote-check - the client side of the remote access tests (issue 4).
 *
 * Used by tests/shell/test_sshfs.sh and tests/shell/test_nfs.sh:
 *
 *   read [OPTIONS] DIR KEY...      reads keys through a mounted path (an
 *                                  sshfs mount): open, read to EOF, close
 *   nfs-read [OPTIONS] URL KEY...  reads keys over NFSv4 with libnfs, reading
 *                                  exactly st_size bytes as nfs-cat does,
 *                                  alternately stat-open-read and
 *                                  open-fstat-read
 *       --count N    reads in all, round robin over the keys (default 1000)
 *       --local DIR  the computation's own mount: a key's line count there
 *                    is the expected one, and --fresh is checked against it
 *       --fresh KEY  an integer key that only grows (the demo's `step`): a
 *                    remote read must not give less than a local read just
 *                    before it
 *       --label L    the name in the summary line
 *     Prints "# L: N reads, I incomplete, S stale, median X ms, p99 Y ms";
 *     exits 1 if a read was incomplete or stale or failed.
 *   nfs-cat [--uid U] URL PATH        prints PATH read over NFS
 *   nfs-write [--uid U] URL PATH TEXT  writes TEXT at offset 0 (O_WRONLY), commits, closes
 *     Both print the errno name (EACCES, EINVAL...) and exit 1 on failure.
 *   nfs-follow [--lines N] URL        reads N lines of `updates` over NFS
 *                                     with blocking preads at increasing
 *                                     offsets, prints them
 *   handles DIR PATH...    takes name_to_handle_at() handles of the paths,
 *                          drops the kernel's dentry and inode caches, opens
 *                          them again with open_by_handle_at() and checks
 *                          that they are the same files (what an NFS server
 *                          does after the kernel forgot them)
 *
 * URL is nfs://HOST/PSEUDO?version=4&nfsport=PORT (libnfs syntax).
 */
#include <glib.h>

#include <errno.h>
#include <fcntl.h>
#include <nfsc/libnfs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_TEXT (4 * 1024 * 1024)

static const char *errno_name(int err)
{
	switch (err) {
	case EACCES: return "EACCES";
	case EPERM: return "EPERM";
	case EINVAL: return "EINVAL";
	case ENOENT: return "ENOENT";
	case EISDIR: return "EISDIR";
	case ESTALE: return "ESTALE";
	case EFBIG: return "EFBIG";
	case EIO: return "EIO";
	default: return "E?";
	}
}

/* ---- reading and checking values ---- */

/* Reads all of @path (a local path) as cat does: read() until end-of-file.
 * (g_file_get_contents() reads st_size bytes and stops there.)
 * Returns: (transfer full) (nullable). */
static GBytes *read_local(const char *path)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return NULL;
	GByteArray *out = g_byte_array_new();
	char buf[65536];
	ssize_t n;
	while ((n = read(fd, buf, sizeof buf)) > 0 && out->len <= MAX_TEXT)
		g_byte_array_append(out, (const guint8 *)buf, (guint)n);
	close(fd);
	if (n < 0) {
		g_byte_array_unref(out);
		return NULL;
	}
	return g_byte_array_free_to_bytes(out);
}

static guint count_lines(GBytes *text)
{
	gsize len = 0;
	const char *data = g_bytes_get_data(text, &len);
	guint n = 0;
	for (gsize i = 0; i < len; i++)
		n += data[i] == '\n';
	return n;
}

/* A value text is complete if it ends with a newline and has the expected
 * number of lines (0: not known). */
static gboolean text_complete(GBytes *text, guint expected_lines)
{
	gsize len = 0;
	const char *data = g_bytes_get_data(text, &len);
	if (len == 0 || data[len - 1] != '\n')
		return FALSE;
	return expected_lines == 0 || count_lines(text) == expected_lines;
}

static gboolean parse_int(GBytes *text, gint64 *out)
{
	gsize len = 0;
	const char *data = g_bytes_get_data(text, &len);
	g_autofree char *s = g_strndup(data, len);
	return g_ascii_string_to_signed(g_strchomp(s), 10, G_MININT64, G_MAXINT64, out, NULL);
}

/* A remote client: reads one key, or fails with -errno. */
typedef struct Client Client;
typedef GBytes *(*ReadFunc)(Client *client, const char *key, guint iteration, int *err);

struct Client {
	ReadFunc read;
	char *dir;                 /* read: the mount */
	struct nfs_context *nfs;   /* nfs-read */
	guint n_short;             /* nfs-read: fewer bytes than st_size */
};

static GBytes *posix_read(Client *client, const char *key, guint iteration, int *err)
{
	(void)iteration;
	g_autofree char *path = g_build_filename(client->dir, key, NULL);
	int fd = open(path, O_RDONLY);
	if (fd < 0) {
		*err = -errno;
		return NULL;
	}
	GByteArray *out = g_byte_array_new();
	char buf[65536];
	for (;;) {
		ssize_t n = read(fd, buf, sizeof buf);
		if (n < 0) {
			*err = -errno;
			close(fd);
			g_byte_array_unref(out);
			return NULL;
		}
		if (n == 0 || out->len > MAX_TEXT)
			break;
		g_byte_array_append(out, (const guint8 *)buf, (guint)n);
	}
	close(fd);
	return g_byte_array_free_to_bytes(out);
}

/* Reads exactly st_size bytes, as nfs-cat and page-cache clients do.  Even
 * iterations ask the size first (GETATTR, then OPEN and READ), odd ones open
 * first (OPEN, GETATTR on the handle, READ). */
static GBytes *nfs_read_sized(Client *client, const char *key, guint iteration, int *err)
{
	g_autofree char *path = g_strdup_printf("/%s", key);
	struct nfs_stat_64 st;
	struct nfsfh *fh = NULL;
	int res;
	if (iteration % 2 == 0) {
		res = nfs_stat64(client->nfs, path, &st);
		if (res == 0)
			res = nfs_open(client->nfs, path, O_RDONLY, &fh);
	} else {
		res = nfs_open(client->nfs, path, O_RDONLY, &fh);
		if (res == 0)
			res = nfs_fstat64(client->nfs, fh, &st);
	}
	if (res < 0) {
		*err = res;
		if (fh)
			nfs_close(client->nfs, fh);
		return NULL;
	}
	gsize size = MIN(st.nfs_size, (guint64)MAX_TEXT);
	char *buf = g_malloc(size + 1);
	gsize got = 0;
	while (got < size) {
		res = nfs_pread(client->nfs, fh, got, size - got, buf + got);
		if (res < 0) {
			*err = res;
			g_free(buf);
			nfs_close(client->nfs, fh);
			return NULL;
		}
		if (res == 0)
			break;
		got += (gsize)res;
	}
	nfs_close(client->nfs, fh);
	if (got < size)
		client->n_short++;
	return g_bytes_new_take(buf, got);
}

static int compare_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

typedef struct {
	guint count;
	char *local;
	char *fresh;
	char *label;
	int uid;
	guint lines;
} Options;

/* The loop of `read` and `nfs-read`.  Returns: the exit status. */
static int run_reads(Client *client, const Options *opt, char **keys, guint n_keys)
{
	guint *expected = g_new0(guint, n_keys);
	for (guint k = 0; opt->local && k < n_keys; k++) {
		g_autofree char *path = g_build_filename(opt->local, keys[k], NULL);
		g_autoptr(GBytes) text = read_local(path);
		if (text == NULL) {
			fprintf(stderr, "cannot read %s\n", path);
			g_free(expected);
			return 1;
		}
		expected[k] = count_lines(text);
	}
	g_autofree char *fresh_path =
		opt->local && opt->fresh ? g_build_filename(opt->local, opt->fresh, NULL) : NULL;

	double *ms = g_new(double, MAX(opt->count, 1));
	guint n_incomplete = 0, n_stale = 0, n_failed = 0;
	for (guint i = 0; i < opt->count; i++) {
		guint k = i % n_keys;
		gboolean check_fresh = fresh_path && strcmp(keys[k], opt->fresh) == 0;
		gint64 before = 0;
		if (check_fresh) {
			g_autoptr(GBytes) local = read_local(fresh_path);
			if (local == NULL || !parse_int(local, &before))
				check_fresh = FALSE;
		}
		int err = 0;
		gint64 t0 = g_get_monotonic_time();
		g_autoptr(GBytes) text = client->read(client, keys[k], i, &err);
		ms[i] = (double)(g_get_monotonic_time() - t0) / 1000.0;
		if (text == NULL) {
			if (n_failed++ < 5)
				fprintf(stderr, "read %u of %s failed: %s\n", i, keys[k],
					g_strerror(-err));
			continue;
		}
		if (!text_complete(text, expected[k])) {
			gsize len = 0;
			const char *data = g_bytes_get_data(text, &len);
			if (n_incomplete++ < 5)
				fprintf(stderr, "read %u of %s incomplete (%zu bytes): \"%.*s\"\n", i,
					keys[k], len, (int)MIN(len, 60), data);
			continue;
		}
		gint64 value = 0;
		if (check_fresh && parse_int(text, &value) && value < before) {
			if (n_stale++ < 5)
				fprintf(stderr, "read %u of %s stale: %" G_GINT64_FORMAT
					" < %" G_GINT64_FORMAT " read locally before\n",
					i, keys[k], value, before);
		}
	}
	qsort(ms, opt->count, sizeof *ms, compare_double);
	double median = opt->count ? ms[opt->count / 2] : 0;
	double p99 = opt->count ? ms[MIN(opt->count - 1, opt->count * 99 / 100)] : 0;
	printf("# %s: %u reads, %u incomplete, %u stale, %u failed, median %.2f ms, p99 %.2f ms",
	       opt->label, opt->count, n_incomplete, n_stale, n_failed, median, p99);
	if (client->nfs)
		printf(", %u shorter than st_size", client->n_short);
	printf("\n");
	g_free(ms);
	g_free(expected);
	return n_incomplete || n_stale || n_failed ? 1 : 0;
}

/* ---- NFS ---- */

/* Returns: (transfer full) (nullable): a mounted libnfs context. */
static struct nfs_context *nfs_connect(const char *url_text, int uid)
{
	struct nfs_context *nfs = nfs_init_context();
	if (nfs == NULL) {
		fprintf(stderr, "nfs_init_context failed\n");
		return NULL;
	}
	if (uid >= 0) {
		nfs_set_uid(nfs, uid);
		nfs_set_gid(nfs, uid);
	}
	struct nfs_url *url = nfs_parse_url_dir(nfs, url_text);
	if (url == NULL) {
		fprintf(stderr, "%s: %s\n", url_text, nfs_get_error(nfs));
		nfs_destroy_context(nfs);
		return NULL;
	}
	nfs_set_timeout(nfs, 30000);
	int res = nfs_mount(nfs, url->server, url->path);
	nfs_destroy_url(url);
	if (res != 0) {
		fprintf(stderr, "mounting %s: %s\n", url_text, nfs_get_error(nfs));
		nfs_destroy_context(nfs);
		return NULL;
	}
	return nfs;
}

static int nfs_cat(const Options *opt, const char *url, const char *path)
{
	struct nfs_context *nfs = nfs_connect(url, opt->uid);
	if (nfs == NULL)
		return 2;
	struct nfsfh *fh = NULL;
	int res = nfs_open(nfs, path, O_RDONLY, &fh);
	char buf[65536];
	guint64 off = 0;
	while (res == 0) {
		int n = nfs_pread(nfs, fh, off, sizeof buf, buf);
		if (n <= 0) {
			res = n;
			break;
		}
		fwrite(buf, 1, (size_t)n, stdout);
		off += (guint64)n;
	}
	if (fh)
		nfs_close(nfs, fh);
	nfs_destroy_context(nfs);
	if (res < 0) {
		printf("%s\n", errno_name(-res));
		return 1;
	}
	return 0;
}

static int nfs_write_text(const Options *opt, const char *url, const char *path, const char *text)
{
	struct nfs_context *nfs = nfs_connect(url, opt->uid);
	if (nfs == NULL)
		return 2;
	struct nfsfh *fh = NULL;
	int res = nfs_open(nfs, path, O_WRONLY, &fh);
	if (res == 0) {
		res = nfs_pwrite(nfs, fh, 0, strlen(text), text);
		/* COMMIT, as the kernel's NFS client sends at close(): the
		 * value is published there (and refused with its error). */
		if (res >= 0)
			res = nfs_fsync(nfs, fh);
		int closed = nfs_close(nfs, fh);
		if (res >= 0 && closed < 0)
			res = closed;
	}
	nfs_destroy_context(nfs);
	if (res < 0) {
		printf("%s\n", errno_name(-res));
		return 1;
	}
	printf("ok\n");
	return 0;
}

/* Reads @opt->lines lines of `updates` with blocking preads, each at the
 * offset where the previous one ended. */
static int nfs_follow(const Options *opt, const char *url)
{
	struct nfs_context *nfs = nfs_connect(url, opt->uid);
	if (nfs == NULL)
		return 2;
	struct nfsfh *fh = NULL;
	int res = nfs_open(nfs, "/updates", O_RDONLY, &fh);
	guint64 off = 0;
	guint lines = 0;
	char buf[4096];
	while (res == 0 && lines < opt->lines) {
		int n = nfs_pread(nfs, fh, off, sizeof buf, buf);
		if (n <= 0) {
			res = n < 0 ? n : -EIO; /* end-of-file before the lines */
			break;
		}
		fwrite(buf, 1, (size_t)n, stdout);
		for (int i = 0; i < n; i++)
			lines += buf[i] == '\n';
		off += (guint64)n;
	}
	if (fh)
		nfs_close(nfs, fh);
	nfs_destroy_context(nfs);
	if (res < 0) {
		fprintf(stderr, "following updates: %s\n", g_strerror(-res));
		return 1;
	}
	return 0;
}

/* ---- file handles ---- */

static int drop_caches(void)
{
	sync();
	int fd = open("/proc/sys/vm/drop_caches", O_WRONLY);
	if (fd < 0)
		return -errno;
	int res = write(fd, "2\n", 2) == 2 ? 0 : -errno; /* dentries and inodes */
	close(fd);
	return res;
}

static int check_handles(const char *dir, char **paths, guint n)
{
	int mount_fd = open(dir, O_RDONLY | O_DIRECTORY);
	if (mount_fd < 0) {
		fprintf(stderr, "%s: %s\n", dir, g_strerror(errno));
		return 1;
	}
	struct file_handle **handles = g_new0(struct file_handle *, n);
	struct stat *before = g_new0(struct stat, n);
	int failures = 0;
	for (guint i = 0; i < n; i++) {
		g_autofree char *path = g_build_filename(dir, paths[i], NULL);
		handles[i] = g_malloc0(sizeof(struct file_handle) + MAX_HANDLE_SZ);
		handles[i]->handle_bytes = MAX_HANDLE_SZ;
		int mount_id;
		if (stat(path, &before[i]) != 0 ||
		    name_to_handle_at(AT_FDCWD, path, handles[i], &mount_id, 0) != 0) {
			fprintf(stderr, "%s: %s\n", paths[i], g_strerror(errno));
			return 1;
		}
	}
	int res = drop_caches();
	if (res < 0) {
		fprintf(stderr, "cannot drop caches: %s\n", g_strerror(-res));
		return 1;
	}
	for (guint i = 0; i < n; i++) {
		gboolean is_dir = S_ISDIR(before[i].st_mode);
		int fd = open_by_handle_at(mount_fd, handles[i], O_RDONLY | (is_dir ? O_DIRECTORY : 0));
		struct stat st;
		if (fd < 0) {
			printf("%s: open_by_handle_at: %s\n", paths[i], errno_name(errno));
			failures++;
			continue;
		}
		if (fstat(fd, &st) != 0 || st.st_ino != before[i].st_ino ||
		    (st.st_mode & S_IFMT) != (before[i].st_mode & S_IFMT)) {
			printf("%s: the handle opens another file (inode %ju, was %ju)\n", paths[i],
			       (uintmax_t)st.st_ino, (uintmax_t)before[i].st_ino);
			failures++;
		} else if (is_dir) {
			/* ".." through the handle: the kernel asks the filesystem. */
			int parent = openat(fd, "..", O_RDONLY | O_DIRECTORY);
			if (parent < 0) {
				printf("%s/..: %s\n", paths[i], errno_name(errno));
				failures++;
			} else {
				close(parent);
			}
		} else {
			char buf[256];
			if (read(fd, buf, sizeof buf) < 0 && errno != EAGAIN) {
				printf("%s: read through the handle: %s\n", paths[i],
				       errno_name(errno));
				failures++;
			}
		}
		close(fd);
	}
	for (guint i = 0; i < n; i++)
		g_free(handles[i]);
	g_free(handles);
	g_free(before);
	close(mount_fd);
	return failures ? 1 : 0;
}

int main(int argc, char **argv)
{
	Options opt = { .count = 1000, .label = NULL, .uid = -1, .lines = 10 };
	gint count = 1000, lines = 10;
	GOptionEntry entries[] = {
		{ "count", 0, 0, G_OPTION_ARG_INT, &count, "Reads in all", "N" },
		{ "local", 0, 0, G_OPTION_ARG_FILENAME, &opt.local, "The local mount", "DIR" },
		{ "fresh", 0, 0, G_OPTION_ARG_STRING, &opt.fresh, "An integer key that grows", "KEY" },
		{ "label", 0, 0, G_OPTION_ARG_STRING, &opt.label, "Name in the summary", "L" },
		{ "uid", 0, 0, G_OPTION_ARG_INT, &opt.uid, "NFS: the uid and gid to send", "U" },
		{ "lines", 0, 0, G_OPTION_ARG_INT, &lines, "nfs-follow: lines to read", "N" },
		{ NULL, 0, 0, 0, NULL, NULL, NULL },
	};
	g_autoptr(GOptionContext) context = g_option_context_new("COMMAND ARGS...");
	g_option_context_add_main_entries(context, entries, NULL);
	g_autoptr(GError) error = NULL;
	if (!g_option_context_parse(context, &argc, &argv, &error) || argc < 3 || count < 0 ||
	    lines < 0) {
		fprintf(stderr, "usage: %s read|nfs-read|nfs-cat|nfs-write|nfs-follow|handles "
			"[OPTIONS] ARGS... (%s)\n", g_get_prgname(),
			error ? error->message : "see the comment at the top of the source");
		return 2;
	}
	opt.count = (guint)count;
	opt.lines = (guint)lines;
	const char *command = argv[1];
	int status;
	if (strcmp(command, "read") == 0) {
		Client client = { .read = posix_read, .dir = argv[2] };
		if (opt.label == NULL)
			opt.label = g_strdup("read");
		status = argc > 3 ? run_reads(&client, &opt, argv + 3, (guint)argc - 3) : 2;
	} else if (strcmp(command, "nfs-read") == 0) {
		Client client = { .read = nfs_read_sized, .nfs = nfs_connect(argv[2], opt.uid) };
		if (opt.label == NULL)
			opt.label = g_strdup("nfs");
		if (client.nfs == NULL)
			status = 2;
		else
			status = argc > 3 ? run_reads(&client, &opt, argv + 3, (guint)argc - 3) : 2;
		if (client.nfs)
			nfs_destroy_context(client.nfs);
	} else if (strcmp(command, "nfs-cat") == 0 && argc == 4) {
		status = nfs_cat(&opt, argv[2], argv[3]);
	} else if (strcmp(command, "nfs-write") == 0 && argc == 5) {
		status = nfs_write_text(&opt, argv[2], argv[3], argv[4]);
	} else if (strcmp(command, "nfs-follow") == 0) {
		status = nfs_follow(&opt, argv[2]);
	} else if (strcmp(command, "handles") == 0 && argc > 3) {
		status = check_handles(argv[2], argv + 3, (guint)argc - 3);
	} else {
		fprintf(stderr, "%s: unknown command or wrong arguments\n", command);
		status = 2;
	}
	g_free(opt.local);
	g_free(opt.fresh);
	g_free(opt.label);
	return status;
}
