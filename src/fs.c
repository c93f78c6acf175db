/* fs.c - the FUSE low-level operations: the dictionary as a directory.
 *
 * Inode numbers: 1 is the root, 2..15 the filesystem's own files (root.h:
 * the root's entries in root.c's table, the control files in ctl.c's), keys
 * and their directories get numbers from 16 up that are never reused while
 * the process runs (the store's node ids, see fs_view.c); history/ and raw/
 * show them again with a bit set (view_of()).
 *
 * Freshness: every file is opened with direct I/O and every attribute and
 * entry is given with a timeout of 0, so the kernel keeps no page cache and
 * no stale size: a `cat` after a change shows the new value.  Reads are
 * served as sysfs and seq_file do: a read at offset 0 takes the current
 * text of the file (rendered once per value generation and shared by every
 * open that takes it, see clients.c), and reads at other offsets go on in
 * the text the handle's last read at offset 0 took (or its open, if none),
 * so that one pass over a file is one consistent value however many reads
 * it takes, and a file held open (an NFS server's, a program that rewinds)
 * still shows current values.  A read that starts after an update was
 * published so gets that update's value or a newer one.  One exception,
 * for clients that ask the size and then read exactly that many bytes in
 * separate requests (NFS): a read at offset 0 asking exactly the length of
 * a text whose size the same requester was told within the last second
 * gets that text (clients.c, "Promises").  Writes to a key are collected
 * and published whole at close or fsync, and examined as they arrive (see
 * "whole writes").
 *
 * Exporting (NFS, issue 4): FUSE export support is asked for, lookups of
 * "." and ".." are answered (the kernel sends them to turn a file handle
 * back into a file after it forgot the inode), and every inode but the root
 * carries one generation number per dictionary, so that a handle kept
 * across a restart of the computation is refused (ESTALE) rather than
 * opening whatever key got the same inode number.
 *
 * Memory: what an open file holds (its text, a directory's listing, the
 * text of a value being written) counts against the clients' cap (mount
 * option client_memory=); an open, read or write that would pass it fails
 * with ENOMEM.
 */
#include "fs.h"
#include "clients.h"
#include "ctl.h"
#include "format.h"
#include "fs_view.h"
#include "pins.h"
#include "refusals.h"
#include "root.h"
#include "snapshot.h"
#include "updates.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

typedef enum {
	OPEN_TEXT,   /* a key or control file: snapshot for reads, writes parsed */
	OPEN_STREAM, /* updates */
	OPEN_DIR,
} OpenKind;

typedef struct {
	OpenKind kind;
	guint64 ino;
	IDictClients *clients; /* where text and entries are counted */
	GMutex lock;           /* protects text */
	IDictText *text;       /* OPEN_TEXT opened for reading: what reads go on
				* from; held (idict__clients_hold()) */
	GPtrArray *entries;    /* OPEN_DIR: IDictTreeEntry*, including . and .. */
	gsize entries_charge;  /* reserved for entries */
	IDictStream *stream;
	gsize stream_charge;   /* reserved for stream */
	struct _PendingWrite *pending; /* a key opened for writing: its text (below) */
	mode_t mode;           /* the file's mode at open, for kernel threads' requests */
	gboolean pin;          /* the server's own pin (pins.c): no client */
	gboolean own;          /* opened by the serving process itself: no FLUSH */
} OpenFile;

/* ---- whole writes ----
 *
 * A value is taken whole or not at all.  The writes of one open file to a
 * key collect its text, contiguous from offset 0 (dd bs=1, cat of a large
 * file, bash's printf line by line all write a value in pieces); the text
 * is validated and published as one value at FLUSH (each close(), whose
 * error close() returns) and at FSYNC (an NFS server writes through a
 * long-lived file and commits instead of closing).  Each write() is also
 * examined as it arrives (idict__text_scan()): one that makes the text
 * invalid whatever might follow (a second number, more values than the
 * array holds, a bad number, invalid UTF-8), or that makes a whole value
 * the key's check refuses (`echo 0.6` to a key whose check wants < 0.5),
 * fails at once, because shells ignore close()'s error.  A failed write,
 * a write at another offset than the end of the text, or text beyond
 * IDICT_WRITE_MAX refuses the value: nothing of it is published, and every
 * later write, flush and fsync of the value fails with the same error.
 * After a publish the text stays the file's: a write at its end continues
 * it (so that the next publish sees the whole text, as in a regular file),
 * a write at offset 0 (or ftruncate to 0) begins a new value; so does a
 * write at offset 0 after a refusal.  Control files (ctl/) still take one
 * whole write at offset 0.
 */
typedef struct _PendingWrite {
	GMutex lock;          /* protects the rest: a file's FUSE requests may overlap */
	GByteArray *text;     /* the value's text so far */
	IDictBudget *budget;  /* (nullable): counts text's bytes, as `reserved` */
	gsize reserved;
	IDictTextScan scan;
	gboolean has_check;   /* the key had a check when the value began */
	GVariant *validated;  /* nullable: the value of text[0..validated_len) */
	gsize validated_len;
	gboolean published;   /* text is the value last published from this file */
	int refused;          /* 0, or the -errno that refused the value */
} PendingWrite;

/* @budget: (nullable) (transfer none): outlives the file, as the server's
 * clients do.  Returns: (transfer full): free with pending_write_free(). */
static PendingWrite *pending_write_new(IDictBudget *budget)
{
	PendingWrite *w = g_new0(PendingWrite, 1);
	g_mutex_init(&w->lock);
	w->text = g_byte_array_new();
	w->budget = budget;
	return w;
}

static void pending_write_free(PendingWrite *w)
{
	idict__budget_unreserve(w->budget, w->reserved);
	g_byte_array_unref(w->text);
	g_clear_pointer(&w->validated, g_variant_unref);
	g_mutex_clear(&w->lock);
	g_free(w);
}

/* Forgets the text: the next write begins a new value. */
static void pending_write_reset(PendingWrite *w)
{
	g_byte_array_set_size(w->text, 0);
	idict__budget_unreserve(w->budget, w->reserved);
	w->reserved = 0;
	g_clear_pointer(&w->validated, g_variant_unref);
	w->validated_len = 0;
	w->published = FALSE;
	w->refused = 0;
	w->scan.kind = IDICT__TEXT_OTHER; /* until the first write sees the key */
	w->scan.scanned = 0;
}

/* Refuses @w's value with @err.  A value refused for what it is (EINVAL,
 * EFBIG; not a permission) is recorded once, with @reason, for ctl/errors
 * and the computation's refusal callback: the only place that tells a
 * refusal at close(), whose error shells ignore. */
static int pending_refuse(IDict *dict, guint64 ino, guint uid, PendingWrite *w, int err,
			  const char *reason)
{
	w->refused = err;
	g_clear_pointer(&w->validated, g_variant_unref);
	if ((err == -EINVAL || err == -EFBIG) && reason != NULL)
		idict__store_refuse(dict, ino, uid, (const char *)w->text->data, w->text->len, reason);
	return err;
}

/* TRUE if bytes [from, len) of @w's text are all whitespace, which does
 * not change a number, an array or a matrix. */
static gboolean only_whitespace_after(PendingWrite *w, gsize from)
{
	for (gsize i = from; i < w->text->len; i++)
		if (!g_ascii_isspace(w->text->data[i]))
			return FALSE;
	return TRUE;
}

/* Parses the whole text and runs the key's check, unless an earlier
 * validation still holds.  Returns: 0 or -errno (-EINVAL with @error set:
 * why). */
static int pending_validate(IDict *dict, guint64 ino, PendingWrite *w, GError **error)
{
	if (w->validated && (w->validated_len == w->text->len ||
			     (w->scan.kind != IDICT__TEXT_STRING &&
			      only_whitespace_after(w, w->validated_len)))) {
		w->validated_len = w->text->len;
		return 0;
	}
	g_clear_pointer(&w->validated, g_variant_unref);
	int err = idict__view_client_validate(dict, ino, (const char *)w->text->data, w->text->len,
					       &w->validated, error);
	if (err)
		return err;
	w->validated_len = w->text->len;
	return 0;
}

/* User @uid's write of @size bytes at @off to key @ino through @w.
 * Returns: 0 or -errno (the write fails; the value is refused). */
static int pending_write(IDict *dict, guint64 ino, guint uid, PendingWrite *w, const char *buf,
			 gsize size, off_t off)
{
	G_GNUC_UNUSED g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&w->lock);
	if (off == 0 && (w->text->len == 0 || w->published || w->refused)) {
		/* A new value: the key's type and shape as of now. */
		pending_write_reset(w);
		g_autoptr(GVariant) current = NULL;
		int err = idict__view_client_value(dict, ino, &current, &w->has_check);
		if (err)
			return err;
		idict__text_scan_init(&w->scan, current);
	} else if (w->refused) {
		return w->refused;
	} else if (off < 0 || (guint64)off != w->text->len) {
		g_autofree char *why = g_strdup_printf(
			"a write at offset %lld, not at the end of the text so far (%u bytes): "
			"a value is written in order from offset 0", (long long)off, w->text->len);
		return pending_refuse(dict, ino, uid, w, -EINVAL, why);
	}
	if (size > IDICT_WRITE_MAX - w->text->len)
		return pending_refuse(dict, ino, uid, w, -EFBIG,
				      "longer than the longest value, IDICT_WRITE_MAX (1044480 bytes)");
	if (size == 0)
		return 0;
	/* Many writers that never close could otherwise hold 1 MiB each. */
	if (w->budget != NULL && !idict__budget_reserve(w->budget, size))
		return pending_refuse(dict, ino, uid, w, -ENOMEM, NULL);
	w->reserved += size;
	g_byte_array_append(w->text, (const guint8 *)buf, (guint)size);
	w->published = FALSE;
	g_autoptr(GError) error = NULL;
	IDictTextState state =
		idict__text_scan(&w->scan, (const char *)w->text->data, w->text->len, &error);
	if (state == IDICT__TEXT_INVALID)
		return pending_refuse(dict, ino, uid, w, -EINVAL, error->message);
	/* A whole value: if it is refused now, no continuation can change that
	 * (more whitespace does not change a number; a string that ends in a
	 * newline is taken as echo's, and only its check can refuse it). */
	if (state == IDICT__TEXT_WHOLE && (w->scan.kind != IDICT__TEXT_STRING || w->has_check)) {
		g_clear_error(&error);
		int err = pending_validate(dict, ino, w, &error);
		if (err)
			return pending_refuse(dict, ino, uid, w, err, error ? error->message : NULL);
	}
	return 0;
}

/* Publishes @w's text as the key's value, if it changed since the last
 * publish; at FLUSH and FSYNC, for user @uid.  Returns: 0 or -errno (for
 * close() or fsync()). */
static int pending_publish(IDict *dict, guint64 ino, guint uid, PendingWrite *w)
{
	G_GNUC_UNUSED g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&w->lock);
	if (w->refused)
		return w->refused;
	if (w->published || w->text->len == 0)
		return 0;
	g_autoptr(GError) error = NULL;
	int err = pending_validate(dict, ino, w, &error);
	if (err == 0)
		err = idict__view_client_publish(dict, ino, w->validated);
	if (err)
		return pending_refuse(dict, ino, uid, w, err,
				      error ? error->message : IDICT__REFUSED_RACE);
	w->published = TRUE;
	return 0;
}

/* ftruncate(fd, 0): the text is gone; the next write begins a new value. */
static void pending_truncate(PendingWrite *w)
{
	G_GNUC_UNUSED g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&w->lock);
	pending_write_reset(w);
}

static IDictFs *fs_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

static IDict *dict_of(fuse_req_t req)
{
	return fs_of(req)->dict;
}

static IDictClients *clients_of(fuse_req_t req)
{
	return fs_of(req)->clients;
}

static OpenFile *open_file_of(const struct fuse_file_info *fi)
{
	return (OpenFile *)(uintptr_t)fi->fh;
}

static OpenFile *open_file_new(fuse_req_t req, OpenKind kind, guint64 ino)
{
	OpenFile *file = g_new0(OpenFile, 1);
	file->kind = kind;
	file->ino = ino;
	file->clients = clients_of(req);
	g_mutex_init(&file->lock);
	return file;
}

static void open_file_free(OpenFile *file)
{
	g_clear_pointer(&file->stream, idict__stream_release);
	idict__clients_unreserve(file->clients, file->stream_charge);
	if (file->text) {
		idict__clients_release(file->clients, file->text);
		idict__text_unref(file->text);
	}
	g_clear_pointer(&file->entries, g_ptr_array_unref);
	idict__clients_unreserve(file->clients, file->entries_charge);
	g_clear_pointer(&file->pending, pending_write_free);
	g_mutex_clear(&file->lock);
	g_free(file);
}

/* ---- open files: the server waits for clients to close theirs ---- */

void idict__fs_init(IDictFs *fs)
{
	g_mutex_init(&fs->lock);
	g_cond_init(&fs->clients_gone);
	fs->open_files = g_hash_table_new(NULL, NULL);
}

void idict__fs_clear(IDictFs *fs)
{
	GHashTableIter iter;
	gpointer file;
	g_hash_table_iter_init(&iter, fs->open_files);
	while (g_hash_table_iter_next(&iter, &file, NULL)) {
		g_hash_table_iter_steal(&iter);
		open_file_free(file);
	}
	g_hash_table_unref(fs->open_files);
	g_mutex_clear(&fs->lock);
	g_cond_clear(&fs->clients_gone);
}

/* Files that clients hold open.  Open files lock held. */
static guint clients_files_locked(IDictFs *fs)
{
	return g_hash_table_size(fs->open_files) - fs->n_pins;
}

static void file_opened(IDictFs *fs, OpenFile *file)
{
	g_mutex_lock(&fs->lock);
	g_hash_table_add(fs->open_files, file);
	if (file->pin)
		fs->n_pins++;
	g_mutex_unlock(&fs->lock);
}

/* Forgets @file; the caller frees it. */
static void file_closed(IDictFs *fs, OpenFile *file)
{
	g_mutex_lock(&fs->lock);
	if (g_hash_table_remove(fs->open_files, file) && file->pin)
		fs->n_pins--;
	/* Wakes the server only when it waits and this was the last. */
	if (fs->waiting && clients_files_locked(fs) == 0)
		g_cond_broadcast(&fs->clients_gone);
	g_mutex_unlock(&fs->lock);
}

void idict__fs_connection_ended(IDictFs *fs)
{
	g_mutex_lock(&fs->lock);
	fs->ended = TRUE;
	g_cond_broadcast(&fs->clients_gone);
	g_mutex_unlock(&fs->lock);
}

guint idict__fs_wait_for_clients(IDictFs *fs, gint64 deadline)
{
	g_mutex_lock(&fs->lock);
	fs->waiting = TRUE;
	while (clients_files_locked(fs) > 0 && !fs->ended) {
		if (deadline == G_MAXINT64)
			g_cond_wait(&fs->clients_gone, &fs->lock);
		else if (!g_cond_wait_until(&fs->clients_gone, &fs->lock, deadline))
			break;
	}
	fs->waiting = FALSE;
	guint left = fs->ended ? 0 : clients_files_locked(fs);
	g_mutex_unlock(&fs->lock);
	return left;
}

/* Hands @file to the kernel as fi->fh and to the list of open files
 * (also from the pin thread, for an open it parked: IDictPinFinish). */
static void open_file_register(fuse_req_t req, struct fuse_file_info *fi, gpointer data)
{
	OpenFile *file = data;
	fi->fh = (uintptr_t)file;
	/* FLUSH at close() only for files other processes opened for writing,
	 * where it publishes the value written (see "whole writes").
	 * Read-only opens and pins have nothing to flush.  The serving process
	 * itself gets no FLUSH either: if it exits or crashes with a file of its
	 * mount open for writing, its serving threads are gone before the
	 * kernel closes the file, and the FLUSH would wait forever; what it
	 * wrote is published at fsync() or when the file is released, just
	 * after close(). */
	fi->noflush = (fi->flags & O_ACCMODE) == O_RDONLY || file->pin || file->own;
	file_opened(fs_of(req), file);
	if (fuse_reply_open(req, fi) == -ENOENT) {
		/* The opener was interrupted meanwhile; no release will come. */
		file_closed(fs_of(req), file);
		open_file_free(file);
	}
}

/* TRUE if @req comes from a kernel thread (the kernel's NFS server). */
static gboolean from_kernel(fuse_req_t req)
{
	return idict__clients_is_kernel(clients_of(req), fuse_req_ctx(req)->pid);
}

/* TRUE if @req comes from a thread of the serving process itself. */
static gboolean from_own_process(fuse_req_t req)
{
	pid_t tid = fuse_req_ctx(req)->pid;
	return tid > 0 && tgkill(getpid(), tid, 0) == 0;
}

/* ---- attributes ---- */

static void fill_stat(fuse_req_t req, struct stat *st, guint64 ino, mode_t mode, guint64 size,
		      gint64 mtime_us, guint nlink)
{
	const IDictFs *ids = fs_of(req);
	memset(st, 0, sizeof *st);
	st->st_ino = ino;
	st->st_mode = mode;
	st->st_nlink = nlink;
	st->st_uid = ids->uid;
	st->st_gid = ids->gid;
	st->st_size = (off_t)size;
	st->st_blksize = 4096;
	st->st_blocks = (blkcnt_t)((size + 511) / 512);
	st->st_mtim.tv_sec = mtime_us / G_USEC_PER_SEC;
	st->st_mtim.tv_nsec = (mtime_us % G_USEC_PER_SEC) * 1000;
	st->st_ctim = st->st_mtim;
	st->st_atim = st->st_mtim;
}

/* history/ and raw/ show the key tree again: a node keeps its inode number
 * there, with the view's bit set; the view's own directory stands for the
 * root. */
static const struct {
	IDictView view;
	guint64 dir_ino;
	guint64 bit;
} views[] = {
	{ IDICT__VIEW_HISTORY, IDICT__INO_HISTORY, IDICT__INO_HISTORY_BIT },
	{ IDICT__VIEW_RAW, IDICT__INO_RAW, IDICT__INO_RAW_BIT },
};

/* Returns: the view @ino belongs to, and in *@node the node's own number. */
static IDictView view_of(guint64 ino, guint64 *node)
{
	for (gsize i = 0; i < G_N_ELEMENTS(views); i++) {
		if (ino == views[i].dir_ino || (ino & views[i].bit)) {
			*node = ino == views[i].dir_ino ? IDICT__INO_ROOT : ino & ~views[i].bit;
			return views[i].view;
		}
	}
	*node = ino;
	return IDICT__VIEW_KEYS;
}

/* The inverse of view_of(). */
static guint64 ino_in_view(IDictView view, guint64 node)
{
	for (gsize i = 0; i < G_N_ELEMENTS(views); i++)
		if (views[i].view == view)
			return node == IDICT__INO_ROOT ? views[i].dir_ino : node | views[i].bit;
	return node;
}

/* Who reads, for files that show each user their own (ctl/errors): the
 * owner of the mount and root see everything. */
static guint viewer_of(fuse_req_t req)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	if (ctx->uid == 0 || ctx->uid == fs_of(req)->uid)
		return IDICT__VIEWER_ALL;
	return (guint)ctx->uid;
}

/* Begins serving @req: what it holds counts against the clients' cap as a
 * guest's, unless it comes from the mount's owner or root (texts.h). */
static void serve(fuse_req_t req)
{
	idict__budget_serve_guest(viewer_of(req) != IDICT__VIEWER_ALL);
}

/* ---- the root's own entries (root.h), their operations by kind ---- */

static int stat_ctl_dir(fuse_req_t req, guint64 ino, struct stat *st, gboolean render,
			IDictText **text_out)
{
	(void)render;
	(void)text_out;
	IDictStatus status;
	idict__store_status(dict_of(req), &status);
	fill_stat(req, st, ino, S_IFDIR | 0555, 0, status.started_us, 2);
	return 0;
}

static int stat_updates(fuse_req_t req, guint64 ino, struct stat *st, gboolean render,
			IDictText **text_out)
{
	(void)render;
	(void)text_out;
	/* From the update log: every open of `updates` looks it up, and takes
	 * no lock the computation holds for long. */
	gint64 mtime_us = idict__update_log_last_time(idict__store_update_log(dict_of(req)));
	fill_stat(req, st, ino, S_IFREG | 0444, 0,
		  mtime_us ? mtime_us : fs_of(req)->started_us, 1);
	return 0;
}

/* snapshot.json: rendered at open (@render), else the last rendering's
 * size (a stat or lookup renders nothing). */
static int stat_snapshot(fuse_req_t req, guint64 ino, struct stat *st, gboolean render,
			 IDictText **text_out)
{
	IDict *dict = dict_of(req);
	IDictClients *clients = clients_of(req);
	IDictStatus status;
	idict__store_status(dict, &status);
	IDictText *text = NULL;
	if (render) {
		int err = idict__snapshot_open(fs_of(req)->snapshot, dict, clients, &text);
		if (err)
			return err;
	} else {
		text = idict__snapshot_last(fs_of(req)->snapshot);
	}
	fill_stat(req, st, ino, S_IFREG | 0444, text ? idict__text_size(text) : 0,
		  status.last_update_us ? status.last_update_us : status.started_us, 1);
	*text_out = text;
	return 0;
}

/* stat: fills @st as stat_ino() does, and *@text_out (the text whose size
 * it reports, or NULL).  NULL for the views (history/, raw/), which stat as
 * the key tree's root does. */
static const struct {
	int (*stat)(fuse_req_t req, guint64 ino, struct stat *st, gboolean render,
		    IDictText **text_out);
} root_ops[] = {
	[IDICT__ROOT_CTL] = { stat_ctl_dir },
	[IDICT__ROOT_UPDATES] = { stat_updates },
	[IDICT__ROOT_VIEW] = { NULL },
	[IDICT__ROOT_SNAPSHOT] = { stat_snapshot },
};

/* Fills @st for @ino.  *@text_out (nullable) is the text whose size @st
 * reports (transfer full; NULL for directories and `updates`): the
 * current text of the file, except for snapshot.json when @render is
 * FALSE (a stat or lookup): its last rendering, or none (size 0).
 * Writable files get the server's write mode (0644 by default).
 * Returns: 0 or -errno (-ENOMEM: rendering would pass the cap). */
static int stat_ino(fuse_req_t req, guint64 ino, struct stat *st, gboolean render,
		    IDictText **text_out)
{
	IDict *dict = dict_of(req);
	IDictClients *clients = clients_of(req);
	mode_t write_mode = fs_of(req)->write_mode;
	IDictText *text = NULL;
	IDictStatus status;
	int err = 0;
	if (text_out)
		*text_out = NULL;
	const IDictRootEntry *own = idict__root_by_ino(ino);
	if (own && root_ops[own->kind].stat) {
		err = root_ops[own->kind].stat(req, ino, st, render, &text);
		if (err)
			return err;
	} else if (idict__ctl_by_ino(ino)) {
		/* mtime: the last change of what the file shows, so that tar and
		 * rsync see a file that changed only when it did.  The read-only
		 * ones (status, sequence) also change with every update. */
		const IDictCtlFile *ctl = idict__ctl_by_ino(ino);
		idict__store_status(dict, &status);
		gint64 mtime = ctl->mtime ? MAX(ctl->mtime(dict), status.started_us)
			: ctl->write == NULL ? MAX(status.control_changed_us, status.last_update_us)
			: status.control_changed_us;
		text = idict__text_new(ctl->render(dict, viewer_of(req)),
				       idict__clients_next_version(clients));
		fill_stat(req, st, ino, S_IFREG | (ctl->write ? write_mode : ctl->mode),
			  idict__text_size(text), mtime, 1);
	} else {
		guint64 node;
		IDictView view = view_of(ino, &node);
		IDictNodeInfo info;
		if (view == IDICT__VIEW_HISTORY)
			err = idict__view_history_text(dict, node, &info, clients, &text);
		else if (view == IDICT__VIEW_RAW)
			err = idict__view_raw_text(dict, node, &info, &text);
		else
			err = idict__view_key_text(dict, ino, &info, clients, &text);
		if (err)
			return err;
		if (info.is_dir && view != IDICT__VIEW_KEYS)
			fill_stat(req, st, ino, S_IFDIR | 0555, 0, info.mtime_us, 2);
		else if (info.is_dir)
			fill_stat(req, st, ino, S_IFDIR | 0555, 0, info.mtime_us,
				  info.nlink + (ino == IDICT__INO_ROOT ? idict__root_n_dirs() : 0));
		else
			fill_stat(req, st, ino,
				  S_IFREG | (info.writable && view == IDICT__VIEW_KEYS ? write_mode : 0444),
				  info.size, info.mtime_us, 1);
	}
	if (text_out)
		*text_out = text;
	else
		idict__text_unref(text);
	return 0;
}

/* The current text of file @ino, for a read at offset 0.
 * Returns: 0 and *@text_out (transfer full, NULL for directories), or -errno. */
static int current_text(fuse_req_t req, guint64 ino, IDictText **text_out)
{
	struct stat st;
	return stat_ino(req, ino, &st, TRUE, text_out);
}

static int lookup_ino(IDict *dict, guint64 parent, const char *name, guint64 *ino_out)
{
	IDictNodeInfo info = { 0 };
	if (strcmp(name, ".") == 0) {
		*ino_out = parent;
		return 0;
	}
	guint64 node;
	IDictView view = view_of(parent, &node);
	if (strcmp(name, "..") == 0) {
		if (parent == IDICT__INO_CTL || parent == IDICT__INO_ROOT || node == IDICT__INO_ROOT) {
			*ino_out = IDICT__INO_ROOT;
			return 0;
		}
		int err = idict__view_parent(dict, node, &info);
		*ino_out = ino_in_view(view, info.ino);
		return err;
	}
	if (parent == IDICT__INO_CTL) {
		const IDictCtlFile *ctl = idict__ctl_by_name(name);
		if (ctl == NULL)
			return -ENOENT;
		*ino_out = ctl->ino;
		return 0;
	}
	const IDictRootEntry *own =
		parent == IDICT__INO_ROOT ? idict__root_by_name(name, strlen(name)) : NULL;
	if (own) {
		*ino_out = own->ino;
		return 0;
	}
	if (view == IDICT__VIEW_KEYS && parent < IDICT__INO_FIRST_KEY && parent != IDICT__INO_ROOT)
		return -ENOTDIR;
	int err = idict__view_lookup(dict, view, node, name, &info);
	*ino_out = ino_in_view(view, info.ino);
	return err;
}

/* The generation number of @ino.  The root's must be 0, the one the kernel
 * gives it at mount: a lookup of ".." that returned the root with another
 * generation would make the kernel take the root for a reused inode and
 * mark it bad.  Every other inode gets one number per dictionary, from the
 * time it was created (32 bits, as the kernel keeps them): inode numbers
 * start at 16 again in each run, and an NFS server exporting with a fixed
 * fsid must find the handles of an earlier run stale. */
static guint64 generation_of(fuse_req_t req, guint64 ino)
{
	if (ino == IDICT__INO_ROOT)
		return 0;
	return fs_of(req)->generation;
}

/* TRUE if the kernel's rules (clients.c, "The kernel's requests") apply to
 * @ino for @req.  ctl/errors shows each user their own lines: one user's
 * text is never another's. */
static gboolean kernel_rules(fuse_req_t req, guint64 ino)
{
	return ino != IDICT__INO_ERRORS && ino != IDICT__INO_UPDATES && from_kernel(req);
}

/* Stats @ino for a LOOKUP or GETATTR into @st, and remembers what was
 * reported (see clients.c): a promise of the text's size to the sender,
 * or for a kernel thread the kernel's rules, which may report the
 * attributes of another text of the file.  Returns: 0 or -errno. */
static int stat_and_tell(fuse_req_t req, guint64 ino, struct stat *st)
{
	IDictClients *clients = clients_of(req);
	gboolean kernel = kernel_rules(req, ino);
	IDictText *text = NULL;
	if (kernel)
		idict__clients_kernel_touch(clients, ino);
	int err = stat_ino(req, ino, st, FALSE, &text);
	if (err == 0 && kernel && !S_ISDIR(st->st_mode))
		idict__clients_kernel_attr(clients, ino, fuse_req_ctx(req)->pid, text, st);
	else if (err == 0 && text && ino != IDICT__INO_ERRORS)
		idict__clients_promise(clients, ino, fuse_req_ctx(req)->pid, text);
	idict__text_unref(text);
	return err;
}

static void fs_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	serve(req);
	IDict *dict = dict_of(req);
	struct fuse_entry_param entry;
	memset(&entry, 0, sizeof entry);
	guint64 ino = 0;
	int err = lookup_ino(dict, parent, name, &ino);
	if (err == 0)
		err = stat_and_tell(req, ino, &entry.attr);
	if (err) {
		fuse_reply_err(req, -err);
		return;
	}
	entry.ino = ino;
	entry.generation = generation_of(req, ino);
	entry.attr_timeout = 0.0;
	entry.entry_timeout = 0.0;
	fuse_reply_entry(req, &entry);
}

static void fs_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	serve(req);
	(void)fi;
	struct stat st;
	int err = stat_and_tell(req, ino, &st);
	if (err) {
		fuse_reply_err(req, -err);
		return;
	}
	fuse_reply_attr(req, &st, 0.0);
}

/* Whether the caller of @req may do @mask (R_OK, W_OK, X_OK, or'ed) to a
 * file of @mode.  The mount has no default_permissions (the server opens
 * its own read-only files for writing: pins.c), so this is the only check:
 * the owner's, the group's (the caller's supplementary groups count too,
 * as in the kernel) or the others' bits, as the kernel's
 * generic_permission() reads them, except that root may write only what
 * has the owner's write bit: read-only files have no write bit, so nobody,
 * not even root, may write them.  Root may read everything, and execute
 * what has an execute bit (directories). */
static gboolean caller_may(fuse_req_t req, mode_t mode, int mask)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	const IDictFs *ids = fs_of(req);
	if (ctx->uid == 0) {
		return (!(mask & W_OK) || (mode & S_IWUSR)) &&
		       (!(mask & X_OK) || (mode & (S_IXUSR | S_IXGRP | S_IXOTH)));
	}
	mode_t bits;
	if (ctx->uid == ids->uid) {
		bits = (mode >> 6) & 7;
	} else {
		gboolean member = ctx->gid == ids->gid;
		if (!member && ((mode >> 3) & 7) != (mode & 7)) {
			gid_t groups[64];
			int n = fuse_req_getgroups(req, G_N_ELEMENTS(groups), groups);
			for (int i = 0; i < MIN(n, (int)G_N_ELEMENTS(groups)) && !member; i++)
				member = groups[i] == ids->gid;
		}
		bits = member ? (mode >> 3) & 7 : mode & 7;
	}
	return ((mode_t)mask & 7 & ~bits) == 0;
}

static gboolean caller_may_write(fuse_req_t req, mode_t mode)
{
	return caller_may(req, mode, W_OK);
}

/* The attribute changes a client may ask for, as -errno or 0: truncation
 * to size 0 of a file it may write, which changes no value (the shell's `>`
 * truncates before it writes; through an open file, ftruncate, it begins a
 * new value: see "whole writes").  Times may come with that truncation and
 * are then ignored: Linux's NFS server turns an NFS client's O_TRUNC into a
 * change of size and mtime together (nfsd_setattr() always adds the mtime).
 * Times alone, the mode and the owner stay refused (EPERM), as does any
 * other size (EINVAL). */
static int setattr_refusal(fuse_req_t req, const struct stat *st, int to_set, off_t size)
{
	const int times = FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME | FUSE_SET_ATTR_ATIME_NOW |
			  FUSE_SET_ATTR_MTIME_NOW | FUSE_SET_ATTR_CTIME;
	const int now_only = FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME | FUSE_SET_ATTR_ATIME_NOW |
			     FUSE_SET_ATTR_MTIME_NOW;
	if (to_set & (FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID))
		return -EPERM;
	if (!(to_set & FUSE_SET_ATTR_SIZE) && (to_set & times) == now_only &&
	    !caller_may_write(req, st->st_mode) && fuse_req_ctx(req)->uid != 0 &&
	    fuse_req_ctx(req)->uid != fs_of(req)->uid)
		return -EACCES; /* touch by another user: the kernel's answer, as before */
	if (!(to_set & FUSE_SET_ATTR_SIZE))
		return to_set & times ? -EPERM : 0;
	if (S_ISDIR(st->st_mode))
		return -EISDIR;
	if (!caller_may_write(req, st->st_mode))
		return -EACCES;
	return size == 0 ? 0 : -EINVAL;
}

static void fs_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		       struct fuse_file_info *fi)
{
	struct stat st;
	int err = stat_ino(req, ino, &st, FALSE, NULL);
	if (err == 0)
		err = setattr_refusal(req, &st, to_set, attr->st_size);
	if (err == 0 && (to_set & FUSE_SET_ATTR_SIZE) && fi && open_file_of(fi)->pending)
		pending_truncate(open_file_of(fi)->pending);
	if (err)
		fuse_reply_err(req, -err);
	else
		fuse_reply_attr(req, &st, 0.0);
}

/* ---- files ---- */

/* Answers @req with ENOMEM for the cap, and says so in the log. */
static void refuse_for_cap(fuse_req_t req, const char *what, guint64 ino)
{
	char where[96];
	g_snprintf(where, sizeof where, "%s of inode %" G_GUINT64_FORMAT, what, ino);
	idict__clients_refused(clients_of(req), where);
	fuse_reply_err(req, ENOMEM);
}

static void fs_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	serve(req);
	int accmode = fi->flags & O_ACCMODE;
	gboolean wants_write = accmode != O_RDONLY;
	IDictClients *clients = clients_of(req);
	IDictPins *pins = fs_of(req)->pins;
	gboolean kernel = from_kernel(req);
	gboolean pin = accmode == O_WRONLY && idict__pins_is_pinner(pins, fuse_req_ctx(req)->pid);
	if (kernel)
		idict__clients_kernel_forget_thread(clients, fuse_req_ctx(req)->pid);

	if (ino == IDICT__INO_UPDATES) {
		if (wants_write && !pin) {
			fuse_reply_err(req, EACCES);
			return;
		}
		/* A reader's state (about 2 KiB) counts against the cap: any
		 * user may open the file as often as their processes may. */
		gsize charge = pin ? 0 : sizeof(OpenFile) + idict__stream_size();
		if (!idict__clients_reserve(clients, charge)) {
			refuse_for_cap(req, "an open", ino);
			return;
		}
		OpenFile *file = open_file_new(req, pin ? OPEN_TEXT : OPEN_STREAM, ino);
		file->pin = pin;
		if (!pin) {
			file->stream = idict__stream_open(fs_of(req)->streams);
			file->stream_charge = charge;
		}
		/* Seekable on purpose: head(1) and bash's read builtin read a
		 * block, then seek back to just after the line they used. */
		fi->direct_io = 1;
		if (kernel && idict__pins_park(pins, req, ino, fi, file, open_file_register))
			return;
		open_file_register(req, fi, file);
		return;
	}

	/* An open for reading takes the current text, for reads at other
	 * offsets than 0 that come before one at 0 (tail, a seek). */
	struct stat st;
	IDictText *text = NULL;
	int err = stat_ino(req, ino, &st, TRUE, accmode == O_WRONLY ? NULL : &text);
	if (err == 0 && S_ISDIR(st.st_mode))
		err = -EISDIR;
	if (err == 0 && accmode != O_WRONLY && !caller_may(req, st.st_mode, R_OK))
		err = -EACCES;
	if (err == 0 && wants_write && !pin && !caller_may_write(req, st.st_mode))
		err = -EACCES;
	if (err == 0 && text && !idict__clients_hold(clients, text))
		err = -ENOMEM;
	if (err) {
		idict__text_unref(text);
		if (err == -ENOMEM)
			refuse_for_cap(req, "an open", ino);
		else
			fuse_reply_err(req, -err);
		return;
	}
	if (text && !kernel)
		idict__clients_local_read(clients, ino, text);
	OpenFile *file = open_file_new(req, OPEN_TEXT, ino);
	file->text = text;
	file->mode = st.st_mode;
	file->pin = pin;
	file->own = !pin && wants_write && from_own_process(req);
	if (wants_write && !pin && ino >= IDICT__INO_FIRST_KEY)
		file->pending = pending_write_new(idict__clients_budget(clients));
	fi->direct_io = 1;
	/* A kernel thread's open waits until the file is pinned (pins.c). */
	if (kernel && idict__pins_park(pins, req, ino, fi, file, open_file_register))
		return;
	open_file_register(req, fi, file);
}

/* For a read at offset 0 of @file: the text it is to serve (transfer full,
 * held by @file from now on), or NULL with *@err. */
static IDictText *take_text(fuse_req_t req, OpenFile *file, gsize size, gboolean kernel,
			    int *err)
{
	IDictClients *clients = file->clients;
	IDictText *text = idict__clients_promised(clients, file->ino, fuse_req_ctx(req)->pid, size);
	if (text == NULL) {
		*err = current_text(req, file->ino, &text);
		if (*err == -ENOENT) {
			/* The key is gone: a file of it opened before reads on
			 * in the value it had. */
			g_mutex_lock(&file->lock);
			text = idict__text_ref(file->text);
			g_mutex_unlock(&file->lock);
			*err = 0;
		}
		if (*err)
			return NULL;
	}
	if (!kernel)
		idict__clients_local_read(clients, file->ino, text);
	g_mutex_lock(&file->lock);
	gboolean same = text == file->text;
	g_mutex_unlock(&file->lock);
	if (!same) {
		if (!idict__clients_hold(clients, text)) {
			idict__text_unref(text);
			*err = -ENOMEM;
			return NULL;
		}
		g_mutex_lock(&file->lock);
		IDictText *old = file->text;
		file->text = idict__text_ref(text);
		g_mutex_unlock(&file->lock);
		idict__clients_release(clients, old);
		idict__text_unref(old);
	}
	return text;
}

/* For a kernel thread's read of @file at any offset: the told text, or the
 * current one, which becomes the told text (clients.c, "The kernel's
 * requests").  Returns: (transfer full) (nullable: the key is gone, or the
 * cap; the read then goes on as any other). */
static IDictText *kernel_text(fuse_req_t req, OpenFile *file)
{
	IDictClients *clients = file->clients;
	struct stat st;
	gboolean tell = FALSE;
	IDictText *text = idict__clients_kernel_told(clients, file->ino, &st);
	if (text == NULL) {
		if (stat_ino(req, file->ino, &st, TRUE, &text) != 0 || text == NULL)
			return NULL;
		tell = TRUE;
	}
	idict__clients_kernel_read(clients, file->ino, fuse_req_ctx(req)->pid, text, &st, tell);
	return text;
}

static void fs_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	serve(req);
	(void)ino;
	OpenFile *file = open_file_of(fi);
	gboolean kernel = from_kernel(req);
	if (file->kind == OPEN_STREAM) {
		/* A kernel thread never waits for an update: the NFS server's
		 * threads are few and serve every client. */
		idict__stream_read(file->stream, req, size, off, fi->flags, !kernel);
		return;
	}
	/* Our own reference: once the kernel has the reply, the client may
	 * close the file and release() drop file->text while the reply is
	 * still being written out. */
	IDictText *text = NULL;
	g_mutex_lock(&file->lock);
	gboolean readable = file->text != NULL;
	g_mutex_unlock(&file->lock);
	if (!readable) {
		fuse_reply_err(req, EBADF); /* opened for writing only */
		return;
	}
	if (kernel && file->ino != IDICT__INO_ERRORS) {
		/* nfsd shares one open file between its clients' users: each
		 * read is checked for the user it serves. */
		if (!caller_may(req, file->mode, R_OK)) {
			fuse_reply_err(req, EACCES);
			return;
		}
		text = kernel_text(req, file);
	}
	if (text == NULL && off != 0) {
		g_mutex_lock(&file->lock);
		text = idict__text_ref(file->text);
		g_mutex_unlock(&file->lock);
	}
	if (text == NULL) {
		int err = 0;
		text = take_text(req, file, size, kernel, &err);
		if (text == NULL) {
			if (err == -ENOMEM)
				refuse_for_cap(req, "a read", file->ino);
			else
				fuse_reply_err(req, -err);
			return;
		}
	}
	gsize len = 0;
	const char *data = g_bytes_get_data(text->bytes, &len);
	/* A read that asks past the end of the text has read it all: sizes
	 * promised to this thread before, of texts no newer, are spent
	 * (clients.c).  An exact read of a promised size asks no further. */
	if (off >= 0 && (guint64)off + size > len && !kernel)
		idict__clients_served(file->clients, file->ino, fuse_req_ctx(req)->pid, text);
	if (off < 0 || (guint64)off >= len)
		fuse_reply_buf(req, NULL, 0);
	else
		fuse_reply_buf(req, data + off, MIN(size, len - (gsize)off));
	idict__text_unref(text);
}

static void fs_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	serve(req);
	IDict *dict = dict_of(req);
	OpenFile *file = open_file_of(fi);
	int err;
	if (file->pin)
		err = -EACCES; /* the server's own open: never written through */
	else if (from_kernel(req) && !caller_may_write(req, file->mode))
		err = -EACCES; /* nfsd's open file serves several users */
	else if (file->pending)
		err = pending_write(dict, ino, fuse_req_ctx(req)->uid, file->pending, buf, size, off);
	else if (size > IDICT_WRITE_MAX)
		err = -EFBIG;
	else if (off != 0)
		err = -EINVAL; /* control files: the whole value in one write at offset 0 */
	else if (idict__ctl_by_ino(ino)) {
		const IDictCtlFile *ctl = idict__ctl_by_ino(ino);
		err = ctl->write ? ctl->write(dict, fuse_req_ctx(req)->uid, buf, size) : -EACCES;
	} else
		err = -EACCES;
	if (err == -ENOMEM)
		refuse_for_cap(req, "a write", ino);
	else if (err)
		fuse_reply_err(req, -err);
	else
		fuse_reply_write(req, size);
}

/* close(): publishes what was written (see "whole writes"). */
static void fs_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	OpenFile *file = open_file_of(fi);
	int err = file->pending
		? pending_publish(dict_of(req), ino, fuse_req_ctx(req)->uid, file->pending) : 0;
	fuse_reply_err(req, -err);
}

/* fsync(), and an NFS server's COMMIT: publishes what was written. */
static void fs_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	(void)datasync;
	OpenFile *file = open_file_of(fi);
	int err = file->pending
		? pending_publish(dict_of(req), ino, fuse_req_ctx(req)->uid, file->pending) : 0;
	fuse_reply_err(req, -err);
}

static void fs_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	OpenFile *file = open_file_of(fi);
	/* The serving process's own files have no FLUSH: what it wrote is
	 * published now (a refusal goes to ctl/errors and the log). */
	if (file->own && file->pending)
		pending_publish(dict_of(req), ino, fs_of(req)->uid,
				file->pending);
	file_closed(fs_of(req), file);
	open_file_free(file);
	fuse_reply_err(req, 0);
}

/* access(2), faccessat(2) (test -r, -w, -x) and chdir: the mount has no
 * default_permissions, and without this the kernel takes every access as
 * allowed. */
static void fs_access(fuse_req_t req, fuse_ino_t ino, int mask)
{
	struct stat st;
	int err = stat_ino(req, ino, &st, FALSE, NULL);
	if (err == 0 && !caller_may(req, st.st_mode, mask))
		err = -EACCES;
	fuse_reply_err(req, -err);
}

static void fs_poll(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
		    struct fuse_pollhandle *ph)
{
	(void)ino;
	OpenFile *file = open_file_of(fi);
	if (file->kind == OPEN_STREAM) {
		idict__stream_poll(file->stream, req, ph);
		return;
	}
	/* Key and control files never block. */
	if (ph)
		fuse_pollhandle_destroy(ph);
	fuse_reply_poll(req, POLLIN | POLLRDNORM | POLLOUT | POLLWRNORM);
}

/* ---- directories ---- */

static IDictTreeEntry *dir_entry_new(const char *name, guint64 ino, gboolean is_dir)
{
	IDictTreeEntry *entry = g_new(IDictTreeEntry, 1);
	entry->name = g_strdup(name);
	entry->id = ino;
	entry->is_dir = is_dir;
	return entry;
}

static void fs_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	serve(req);
	IDict *dict = dict_of(req);
	GPtrArray *entries;
	gsize charged = 0;
	int err = 0;
	guint64 node;
	IDictView view = view_of(ino, &node);
	if (ino == IDICT__INO_CTL) {
		guint n = 0;
		const IDictCtlFile *files = idict__ctl_files(&n);
		entries = g_ptr_array_new_with_free_func((GDestroyNotify)idict__tree_entry_free);
		g_ptr_array_add(entries, dir_entry_new(".", IDICT__INO_CTL, TRUE));
		g_ptr_array_add(entries, dir_entry_new("..", IDICT__INO_ROOT, TRUE));
		for (guint i = 0; i < n; i++)
			g_ptr_array_add(entries, dir_entry_new(files[i].name, files[i].ino, FALSE));
	} else if (view != IDICT__VIEW_KEYS) {
		entries = idict__view_walk_dir(dict, view, node, clients_of(req), &charged, &err);
		if (entries == NULL) {
			if (err == -ENOMEM)
				refuse_for_cap(req, "a listing", ino);
			else
				fuse_reply_err(req, -err);
			return;
		}
		for (guint i = 0; i < entries->len; i++) {
			IDictTreeEntry *entry = entries->pdata[i];
			entry->id = ino_in_view(view, entry->id);
		}
		guint64 parent_ino = IDICT__INO_ROOT;
		lookup_ino(dict, ino, "..", &parent_ino);
		g_ptr_array_insert(entries, 0, dir_entry_new(".", ino, TRUE));
		g_ptr_array_insert(entries, 1, dir_entry_new("..", parent_ino, TRUE));
	} else if (ino < IDICT__INO_FIRST_KEY && ino != IDICT__INO_ROOT) {
		fuse_reply_err(req, ENOTDIR);
		return;
	} else {
		entries = idict__view_walk_dir(dict, IDICT__VIEW_KEYS, ino, clients_of(req), &charged,
						&err);
		if (entries == NULL) {
			if (err == -ENOMEM)
				refuse_for_cap(req, "a listing", ino);
			else
				fuse_reply_err(req, -err);
			return;
		}
		IDictNodeInfo parent;
		guint64 parent_ino = ino;
		if (ino != IDICT__INO_ROOT && idict__view_parent(dict, ino, &parent) == 0)
			parent_ino = parent.ino;
		g_ptr_array_insert(entries, 0, dir_entry_new(".", ino, TRUE));
		g_ptr_array_insert(entries, 1, dir_entry_new("..", parent_ino, TRUE));
		if (ino == IDICT__INO_ROOT) {
			guint n = 0;
			const IDictRootEntry *own = idict__root_entries(&n);
			for (guint i = 0; i < n; i++)
				g_ptr_array_insert(entries, 2 + i,
						   dir_entry_new(own[i].name, own[i].ino, own[i].is_dir));
		}
	}
	OpenFile *file = open_file_new(req, OPEN_DIR, ino);
	file->entries = entries;
	file->entries_charge = charged;
	open_file_register(req, fi, file);
}

static void fs_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	serve(req);
	(void)ino;
	OpenFile *file = open_file_of(fi);
	g_autofree char *buf = g_malloc(size);
	size_t used = 0;
	guint first = off < 0 || (guint64)off > file->entries->len ? file->entries->len : (guint)off;
	for (guint i = first; i < file->entries->len; i++) {
		const IDictTreeEntry *entry = file->entries->pdata[i];
		struct stat st = {
			.st_ino = entry->id,
			.st_mode = entry->is_dir ? S_IFDIR : S_IFREG,
		};
		size_t need = fuse_add_direntry(req, buf + used, size - used, entry->name, &st,
						(off_t)i + 1);
		if (need > size - used)
			break;
		used += need;
	}
	fuse_reply_buf(req, buf, used);
}

static void fs_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	OpenFile *file = open_file_of(fi);
	file_closed(fs_of(req), file);
	open_file_free(file);
	fuse_reply_err(req, 0);
}

/* ---- the rest ---- */

static void fs_statfs(fuse_req_t req, fuse_ino_t ino)
{
	(void)ino;
	struct statvfs st;
	memset(&st, 0, sizeof st);
	st.f_bsize = 4096;
	st.f_frsize = 4096;
	st.f_files = idict_size(dict_of(req)) + IDICT__INO_FIRST_KEY;
	st.f_namemax = IDICT_KEY_MAX;
	fuse_reply_statfs(req, &st);
}

/* Clients cannot create, rename or remove anything: the computation owns
 * the names. */
static void fs_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev)
{
	(void)parent, (void)name, (void)mode, (void)rdev;
	fuse_reply_err(req, EACCES);
}

static void fs_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	(void)parent, (void)name, (void)mode;
	fuse_reply_err(req, EACCES);
}

static void fs_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	(void)parent, (void)name;
	fuse_reply_err(req, EACCES);
}

static void fs_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name)
{
	(void)link, (void)parent, (void)name;
	fuse_reply_err(req, EACCES);
}

static void fs_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
		      const char *newname, unsigned int flags)
{
	(void)parent, (void)name, (void)newparent, (void)newname, (void)flags;
	fuse_reply_err(req, EACCES);
}

static void fs_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname)
{
	(void)ino, (void)newparent, (void)newname;
	fuse_reply_err(req, EACCES);
}

static void fs_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		      struct fuse_file_info *fi)
{
	(void)parent, (void)name, (void)mode, (void)fi;
	fuse_reply_err(req, EACCES);
}

static void fs_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
			size_t size, int flags)
{
	(void)ino, (void)name, (void)value, (void)size, (void)flags;
	fuse_reply_err(req, ENOTSUP);
}

static void fs_init(void *userdata, struct fuse_conn_info *conn)
{
	(void)userdata;
	/* O_TRUNC arrives with open() instead of a separate setattr. */
	if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC)
		conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
	/* Let the kernel send reads of a file in parallel. */
	if (conn->capable & FUSE_CAP_ASYNC_READ)
		conn->want |= FUSE_CAP_ASYNC_READ;
	conn->want &= ~(unsigned)(FUSE_CAP_SPLICE_READ | FUSE_CAP_SPLICE_WRITE |
				  FUSE_CAP_SPLICE_MOVE);
	/* One write request carries up to 1 MiB; a write(2) of at most
	 * IDICT_WRITE_MAX bytes then always arrives whole, whatever the
	 * alignment of the caller's buffer. */
	conn->max_write = 1024 * 1024;
	/* File handles that outlive the kernel's inode cache, so that the
	 * mount can be exported over NFS (lookups of "." and ".." and the
	 * generation numbers in fs_lookup() are what the kernel then needs). */
	if (conn->capable & FUSE_CAP_EXPORT_SUPPORT)
		conn->want |= FUSE_CAP_EXPORT_SUPPORT;
}


static const struct fuse_lowlevel_ops fs_ops = {
	.init = fs_init,
	.lookup = fs_lookup,
	.getattr = fs_getattr,
	.setattr = fs_setattr,
	.open = fs_open,
	.read = fs_read,
	.write = fs_write,
	.flush = fs_flush,
	.fsync = fs_fsync,
	.release = fs_release,
	.access = fs_access,
	.poll = fs_poll,
	.opendir = fs_opendir,
	.readdir = fs_readdir,
	.releasedir = fs_releasedir,
	.statfs = fs_statfs,
	.mknod = fs_mknod,
	.mkdir = fs_mkdir,
	.unlink = fs_unlink,
	.rmdir = fs_unlink,
	.symlink = fs_symlink,
	.rename = fs_rename,
	.link = fs_link,
	.create = fs_create,
	.setxattr = fs_setxattr,
};

const struct fuse_lowlevel_ops *idict__fs_ops(void)
{
	return &fs_ops;
}
