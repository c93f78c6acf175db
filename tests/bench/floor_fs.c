/* floor_fs.c - the FUSE floor: the least a low-level FUSE filesystem can do
 * to serve a file, with the same mount options and per-file flags as
 * idictfs, so that the difference to idictfs is idictfs's own cost.
 *
 * One thread runs fuse_session_loop() (blocking reads of /dev/fuse, as
 * libfuse's hello_ll does).  Replies are built from constant buffers: no
 * allocation, no lock except around the one parked read of `stream`.
 */
#include "floor_fs.h"

#include <fuse_lowlevel.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum {
	INO_ROOT = 1,
	INO_SMALL,
	INO_ARRAY,
	INO_BIG,
	INO_STREAM,
	INO_MANY,
	INO_MANY_FIRST = 100,
};

static const struct {
	const char *name;
	fuse_ino_t ino;
	gboolean is_dir;
} root_entries[] = {
	{ ".", INO_ROOT, TRUE },        { "..", INO_ROOT, TRUE },     { "small", INO_SMALL, FALSE },
	{ "array", INO_ARRAY, FALSE },  { "big", INO_BIG, FALSE },    { "stream", INO_STREAM, FALSE },
	{ "many", INO_MANY, TRUE },
};

struct _FloorFs {
	struct fuse_session *session;
	GThread *thread;
	GBytes *files[INO_BIG + 1]; /* by inode: small, array, big */
	guint n_many;

	GMutex lock; /* protects parked and pending */
	fuse_req_t parked;
	GQueue pending; /* char*: lines notified while no read was parked */
};

static FloorFs *fs_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

static gboolean fill_stat(FloorFs *fs, fuse_ino_t ino, struct stat *st)
{
	memset(st, 0, sizeof *st);
	st->st_ino = ino;
	st->st_uid = getuid();
	st->st_gid = getgid();
	st->st_nlink = 1;
	if (ino == INO_ROOT || ino == INO_MANY) {
		st->st_mode = S_IFDIR | 0555;
		st->st_nlink = ino == INO_ROOT ? 3 : 2;
	} else if (ino >= INO_SMALL && ino <= INO_BIG) {
		st->st_mode = S_IFREG | 0444;
		st->st_size = (off_t)g_bytes_get_size(fs->files[ino]);
	} else if (ino == INO_STREAM) {
		st->st_mode = S_IFREG | 0444;
	} else if (ino >= INO_MANY_FIRST && ino < INO_MANY_FIRST + fs->n_many) {
		st->st_mode = S_IFREG | 0444;
	} else {
		return FALSE;
	}
	return TRUE;
}

static void floor_init(void *userdata, struct fuse_conn_info *conn)
{
	(void)userdata;
	/* What idictfs asks for (src/fs.c). */
	if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC)
		conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
	if (conn->capable & FUSE_CAP_ASYNC_READ)
		conn->want |= FUSE_CAP_ASYNC_READ;
	conn->want &= ~(unsigned)(FUSE_CAP_SPLICE_READ | FUSE_CAP_SPLICE_WRITE |
				  FUSE_CAP_SPLICE_MOVE);
	conn->max_write = 1024 * 1024;
}

static void floor_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fuse_entry_param e;
	memset(&e, 0, sizeof e);
	if (parent == INO_ROOT) {
		for (gsize i = 2; i < G_N_ELEMENTS(root_entries); i++)
			if (strcmp(name, root_entries[i].name) == 0)
				e.ino = root_entries[i].ino;
	}
	if (e.ino == 0 || !fill_stat(fs_of(req), e.ino, &e.attr)) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	e.generation = 1;
	e.attr_timeout = 0.0;
	e.entry_timeout = 0.0;
	fuse_reply_entry(req, &e);
}

static void floor_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)fi;
	struct stat st;
	if (!fill_stat(fs_of(req), ino, &st))
		fuse_reply_err(req, ENOENT);
	else
		fuse_reply_attr(req, &st, 0.0);
}

static void floor_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	if (ino == INO_ROOT || ino == INO_MANY) {
		fuse_reply_err(req, EISDIR);
		return;
	}
	if ((fi->flags & O_ACCMODE) != O_RDONLY) {
		fuse_reply_err(req, EACCES);
		return;
	}
	fi->direct_io = 1;
	fi->noflush = 1;
	fuse_reply_open(req, fi);
}

static void floor_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	(void)fi;
	FloorFs *fs = fs_of(req);
	if (ino == INO_STREAM) {
		g_mutex_lock(&fs->lock);
		char *line = g_queue_pop_head(&fs->pending);
		if (line == NULL) {
			if (fs->parked)
				fuse_reply_err(fs->parked, EINTR); /* one reader at a time */
			fs->parked = req;
		}
		g_mutex_unlock(&fs->lock);
		if (line) {
			fuse_reply_buf(req, line, MIN(size, strlen(line)));
			g_free(line);
		}
		return;
	}
	if (ino < INO_SMALL || ino > INO_BIG) {
		fuse_reply_err(req, EISDIR);
		return;
	}
	gsize len = 0;
	const char *data = g_bytes_get_data(fs->files[ino], &len);
	if (off < 0 || (gsize)off >= len)
		fuse_reply_buf(req, NULL, 0);
	else
		fuse_reply_buf(req, data + off, MIN(size, len - (gsize)off));
}

static void floor_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino, (void)fi;
	fuse_reply_err(req, 0);
}

static void floor_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	if (ino != INO_ROOT && ino != INO_MANY)
		fuse_reply_err(req, ENOTDIR);
	else
		fuse_reply_open(req, fi);
}

static void floor_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			  struct fuse_file_info *fi)
{
	(void)fi;
	FloorFs *fs = fs_of(req);
	char *buf = g_malloc(size);
	size_t used = 0;
	guint n = ino == INO_ROOT ? G_N_ELEMENTS(root_entries) : fs->n_many + 2;
	for (guint i = (guint)MAX(off, 0); i < n; i++) {
		char name[32];
		struct stat st = { .st_mode = S_IFREG };
		if (ino == INO_ROOT) {
			g_strlcpy(name, root_entries[i].name, sizeof name);
			st.st_ino = root_entries[i].ino;
			st.st_mode = root_entries[i].is_dir ? S_IFDIR : S_IFREG;
		} else if (i < 2) {
			g_strlcpy(name, i == 0 ? "." : "..", sizeof name);
			st.st_ino = i == 0 ? INO_MANY : INO_ROOT;
			st.st_mode = S_IFDIR;
		} else {
			snprintf(name, sizeof name, "k%06u", i - 2);
			st.st_ino = INO_MANY_FIRST + i - 2;
		}
		size_t need = fuse_add_direntry(req, buf + used, size - used, name, &st, (off_t)i + 1);
		if (need > size - used)
			break;
		used += need;
	}
	fuse_reply_buf(req, buf, used);
	g_free(buf);
}

static void floor_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino, (void)fi;
	fuse_reply_err(req, 0);
}

static const struct fuse_lowlevel_ops floor_ops = {
	.init = floor_init,
	.lookup = floor_lookup,
	.getattr = floor_getattr,
	.open = floor_open,
	.read = floor_read,
	.release = floor_release,
	.opendir = floor_opendir,
	.readdir = floor_readdir,
	.releasedir = floor_releasedir,
};

static gpointer floor_main(gpointer data)
{
	FloorFs *fs = data;
	fuse_session_loop(fs->session);
	return NULL;
}

static void quiet_log(enum fuse_log_level level, const char *fmt, va_list ap) G_GNUC_PRINTF(2, 0);
static void quiet_log(enum fuse_log_level level, const char *fmt, va_list ap)
{
	if (level <= FUSE_LOG_ERR) {
		g_autofree char *message = g_strdup_vprintf(fmt, ap);
		g_printerr("floor-fs: %s", message);
	}
}

FloorFs *floor_fs_start(const char *mountpoint, GBytes *small, GBytes *array, GBytes *big,
			guint n_many, GError **error)
{
	fuse_set_log_func(quiet_log);
	FloorFs *fs = g_new0(FloorFs, 1);
	fs->files[INO_SMALL] = g_bytes_ref(small);
	fs->files[INO_ARRAY] = g_bytes_ref(array);
	fs->files[INO_BIG] = g_bytes_ref(big);
	fs->n_many = n_many;
	g_mutex_init(&fs->lock);
	g_queue_init(&fs->pending);

	/* idictfs's options: fsname/subtype, and auto_unmount (its default). */
	char *argv[] = { (char *)"floor", (char *)"-o",
			 (char *)"fsname=floor,subtype=floor,auto_unmount", NULL };
	struct fuse_args args = FUSE_ARGS_INIT(3, argv);
	fs->session = fuse_session_new(&args, &floor_ops, sizeof floor_ops, fs);
	fuse_opt_free_args(&args);
	if (fs->session == NULL || fuse_session_mount(fs->session, mountpoint) != 0) {
		g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_FAILED, "cannot mount the floor fs at %s",
			    mountpoint);
		if (fs->session)
			fuse_session_destroy(fs->session);
		fs->session = NULL;
		floor_fs_stop(fs);
		return NULL;
	}
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	fs->thread = g_thread_new("floor-fuse", floor_main, fs);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return fs;
}

void floor_fs_notify(FloorFs *fs, const char *line)
{
	g_mutex_lock(&fs->lock);
	fuse_req_t req = fs->parked;
	fs->parked = NULL;
	if (req == NULL)
		g_queue_push_tail(&fs->pending, g_strdup(line));
	g_mutex_unlock(&fs->lock);
	if (req)
		fuse_reply_buf(req, line, strlen(line));
}

void floor_fs_stop(FloorFs *fs)
{
	if (fs == NULL)
		return;
	if (fs->session) {
		g_mutex_lock(&fs->lock);
		fuse_req_t req = fs->parked;
		fs->parked = NULL;
		g_mutex_unlock(&fs->lock);
		if (req)
			fuse_reply_buf(req, NULL, 0);
		/* Unmounting ends the connection: the loop's blocking read of
		 * /dev/fuse returns ENODEV and the thread ends. */
		fuse_session_exit(fs->session);
		fuse_session_unmount(fs->session);
		if (fs->thread)
			g_thread_join(fs->thread);
		fuse_session_destroy(fs->session);
	}
	g_queue_clear_full(&fs->pending, g_free);
	for (gsize i = 0; i < G_N_ELEMENTS(fs->files); i++)
		if (fs->files[i])
			g_bytes_unref(fs->files[i]);
	g_mutex_clear(&fs->lock);
	g_free(fs);
}
