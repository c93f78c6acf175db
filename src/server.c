/* server.c - mounting, the threads that serve the filesystem, and shutdown.
 *
 * The threads have the shape of libfuse's fuse_session_loop_mt(): workers
 * block in read() on /dev/fuse, where the kernel wakes one of them per
 * request, and each serves the request it read.  A worker that takes a
 * request when no other worker is idle first starts another one, up to
 * MAX_WORKERS, so that a slow request (rendering a large array, a client's
 * write checked by the computation) holds up no other, ctl/ included.
 * Workers stay until the server closes, as with libfuse's default
 * (max_idle_threads -1): letting extra idle ones end made bursts of opens
 * start and end threads continuously, and each start and end changes the
 * process's mappings (stack guard, arena, buffer), which interrupts every
 * CPU the computation runs on: with 100 slow readers of `updates` the
 * computation's thread took 20% more CPU per step, with 22,000
 * function-call interrupts a second on its CPU.
 *
 * No request handler ever waits for an update: a read of `updates` that
 * must wait is parked (updates.c), and one dispatcher thread answers the
 * parked reads after an update.  The computation's thread tells the
 * dispatcher through the update hook (a condition signalled when the
 * dispatcher sleeps and a reader waits), holding no lock of its own; only
 * when exactly one read waits does it answer that read itself, with no
 * lock held (answer_lone_reader() in updates.c, a measured win).
 *
 * Shutdown stops the workers as fuse_session_loop_mt() does, with
 * pthread_cancel(): a worker accepts cancellation only while it waits in
 * read(), so it is never stopped half-way through a request, and the read()
 * ends at once even when a client holds a file open or is stopped with
 * SIGSTOP (glibc's cancellation signal is its own, outside the signal mask
 * and the application's handlers).  When the connection ends (unmounted
 * from outside), read() fails with ENODEV and the workers end by
 * themselves.
 *
 * All threads run with every signal blocked: signals stay the application's
 * business.  Locks: see the table in src/README.
 */
#include "server.h"

#include "fs.h"
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <libmount.h>
#include <linux/fuse.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

/* Workers, at most: what slow requests can occupy at once. */
#define MAX_WORKERS 16
/* The serving threads' nice value above the computation's, by default. */
#define DEFAULT_SERVER_NICE 10
/* What clients may hold in all (option client_memory=), by default. */
#define DEFAULT_CLIENT_MEMORY (G_GUINT64_CONSTANT(256) << 20)
#define MIN_CLIENT_MEMORY (G_GUINT64_CONSTANT(64) << 10)

typedef struct _Worker Worker;

struct _IDictServer {
	IDict *dict;
	char *mountpoint;
	struct fuse_session *session;
	int nice; /* added to the serving threads' nice value (option server_nice) */
	int base_nice; /* that of the thread that called idict_serve() */
	IDictFs fs; /* what the operations serve: clients, streams, pins... */
	GThread *dispatcher;

	/* The workers.  pool_lock protects the fields below. */
	GMutex pool_lock;
	GQueue workers;          /* Worker*: to cancel and join at close */
	guint n_idle;            /* workers waiting for a request */
	gboolean pool_stopping;  /* closing: no worker starts */
};

IDictClients *idict__server_clients(IDictServer *server)
{
	return server->fs.clients;
}

IDictStreams *idict__server_streams(IDictServer *server)
{
	return server->fs.streams;
}

const char *idict_server_mountpoint(IDictServer *server)
{
	g_return_val_if_fail(server != NULL, NULL);
	return server->mountpoint;
}

/* ---- libfuse's messages go to g_log ---- */

/* libfuse reports why a mount failed in several fuse_log() calls; they are
 * collected here and handed to the caller in its GError. */
static GMutex fuse_message_lock;
static GString *fuse_messages; /* protected by fuse_message_lock */

static void log_fuse_message(enum fuse_log_level level, const char *fmt, va_list ap)
	G_GNUC_PRINTF(2, 0);
static void log_fuse_message(enum fuse_log_level level, const char *fmt, va_list ap)
{
	g_autofree char *message = g_strdup_vprintf(fmt, ap);
	g_strchomp(message);
	if (level <= FUSE_LOG_ERR) {
		g_mutex_lock(&fuse_message_lock);
		if (fuse_messages == NULL)
			fuse_messages = g_string_new(NULL);
		if (fuse_messages->len < 1024)
			g_string_append_printf(fuse_messages, "%s%s", fuse_messages->len ? " " : "",
					       message);
		g_mutex_unlock(&fuse_message_lock);
	}
	g_log(G_LOG_DOMAIN, level <= FUSE_LOG_ERR ? G_LOG_LEVEL_INFO : G_LOG_LEVEL_DEBUG,
	      "libfuse: %s", message);
}

/* Returns: (transfer full): what libfuse said since the last call. */
static char *take_fuse_messages(void)
{
	g_mutex_lock(&fuse_message_lock);
	char *message = fuse_messages && fuse_messages->len
		? g_strdup(fuse_messages->str) : g_strdup("no reason given");
	if (fuse_messages)
		g_string_truncate(fuse_messages, 0);
	g_mutex_unlock(&fuse_message_lock);
	return message;
}

/* ---- threads ---- */

/* Sets the calling serving thread's nice value to the computation's plus
 * the server_nice option, so that when CPUs are scarce the computation gets
 * them before its watchers: a thread's nice value is its own on Linux (and
 * a thread started by a worker inherits the worker's). */
static void lower_priority(IDictServer *server)
{
	if (server->nice <= 0)
		return;
	if (setpriority(PRIO_PROCESS, (id_t)gettid(), MIN(server->base_nice + server->nice, 19)) != 0)
		g_debug("server_nice: %s", g_strerror(errno));
}

/* Answers parked reads of `updates` after each update a reader waits for. */
static gpointer dispatcher_main(gpointer data)
{
	IDictServer *server = data;
	lower_priority(server);
	while (idict__streams_wait_for_update(server->fs.streams))
		idict__streams_dispatch(server->fs.streams, FALSE);
	return NULL;
}

struct _Worker {
	IDictServer *server;
	pthread_t thread;
	struct fuse_buf buf;
	GList link; /* in server->workers */
};

static void *worker_main(void *data);

/* Starts a worker with every signal blocked.  Pool lock held.
 * Returns: 0 or an errno. */
static int start_worker_locked(IDictServer *server)
{
	Worker *worker = g_new0(Worker, 1);
	worker->server = server;
	worker->link.data = worker;
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	int err = pthread_create(&worker->thread, NULL, worker_main, worker);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err) {
		g_free(worker);
		return err;
	}
	g_queue_push_tail_link(&server->workers, &worker->link);
	server->n_idle++;
	return 0;
}

/* Frees the receive buffer when the worker is cancelled. */
static void free_buffer(void *data)
{
	struct fuse_buf *buf = data;
	free(buf->mem);
	buf->mem = NULL;
}

/* TRUE for FORGETs, which do not count as work (as in libfuse: a burst of
 * them must not start workers). */
static gboolean is_forget(const struct fuse_buf *buf)
{
	if (buf->flags & FUSE_BUF_IS_FD || buf->size < sizeof(struct fuse_in_header))
		return FALSE;
	guint32 opcode = ((const struct fuse_in_header *)buf->mem)->opcode;
	return opcode == FUSE_FORGET || opcode == FUSE_BATCH_FORGET;
}

/* Serves requests until the connection ends. */
static void serve_requests(Worker *worker)
{
	IDictServer *server = worker->server;
	struct fuse_session *session = server->session;
	for (;;) {
		/* Cancellable only while waiting for a request: read() is a
		 * cancellation point, and glibc does not cancel a read() that
		 * has returned a request. */
		pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, NULL);
		int res = fuse_session_receive_buf(session, &worker->buf);
		pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL);
		if (res == -EINTR || res == -EAGAIN)
			continue;
		if (res <= 0)
			return; /* ENODEV (libfuse then reports 0): unmounted */

		gboolean counts = !is_forget(&worker->buf);
		g_mutex_lock(&server->pool_lock);
		if (counts)
			server->n_idle--;
		if (server->n_idle == 0 && !server->pool_stopping &&
		    server->workers.length < MAX_WORKERS) {
			int err = start_worker_locked(server);
			if (err)
				g_debug("cannot start a worker: %s", g_strerror(err));
		}
		g_mutex_unlock(&server->pool_lock);

		fuse_session_process_buf(session, &worker->buf);

		if (counts) {
			g_mutex_lock(&server->pool_lock);
			server->n_idle++;
			g_mutex_unlock(&server->pool_lock);
		}
	}
}

static void *worker_main(void *data)
{
	Worker *worker = data;
	IDictServer *server = worker->server;
	pthread_setname_np(pthread_self(), "idict-fuse");
	lower_priority(server);
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL);
	pthread_cleanup_push(free_buffer, &worker->buf);
	serve_requests(worker);
	pthread_cleanup_pop(1);
	/* The connection ended: wait-then-close must not wait for clients. */
	idict__fs_connection_ended(&server->fs);
	return NULL;
}

/* Cancels the workers (see the top of this file) and joins them. */
static void stop_workers(IDictServer *server)
{
	g_mutex_lock(&server->pool_lock);
	server->pool_stopping = TRUE;
	GQueue workers = server->workers;
	g_queue_init(&server->workers);
	for (GList *l = workers.head; l != NULL; l = l->next)
		pthread_cancel(((Worker *)l->data)->thread);
	g_mutex_unlock(&server->pool_lock);
	GList *l;
	while ((l = g_queue_pop_head_link(&workers)) != NULL) {
		Worker *worker = l->data;
		pthread_join(worker->thread, NULL);
		g_free(worker);
	}
}

/* Starts a thread with every signal blocked. */
static GThread *start_thread(const char *name, GThreadFunc func, gpointer data)
{
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	GThread *thread = g_thread_new(name, func, data);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return thread;
}

/* ---- mounting ---- */

/* TRUE if a live idict filesystem is the top mount at @mountpoint
 * (canonical), as /proc/self/mountinfo says, read with libmount. */
static gboolean served_already(const char *mountpoint)
{
	struct libmnt_table *table = mnt_new_table_from_file("/proc/self/mountinfo");
	if (table == NULL)
		return FALSE;
	struct libmnt_fs *fs = mnt_table_find_target(table, mountpoint, MNT_ITER_BACKWARD);
	gboolean served = fs != NULL && g_strcmp0(mnt_fs_get_fstype(fs), "fuse.idict") == 0;
	mnt_unref_table(table);
	return served;
}

/* TRUE if the directory @path has an entry (its files would be hidden
 * while the mount is on it). */
static gboolean has_entries(const char *path)
{
	GDir *dir = g_dir_open(path, 0, NULL);
	if (dir == NULL)
		return FALSE;
	gboolean any = g_dir_read_name(dir) != NULL;
	g_dir_close(dir);
	return any;
}

/* Makes @mountpoint a usable directory: creates it (its last component
 * only: a mistyped path must not make a tree of directories anywhere), or
 * clears the stale mount of a crashed run ("Transport endpoint is not
 * connected").  *@non_empty tells whether it holds files. */
static gboolean prepare_mountpoint(const char *mountpoint, gboolean *non_empty, GError **error)
{
	struct stat st;
	*non_empty = FALSE;
	if (stat(mountpoint, &st) == 0) {
		if (!S_ISDIR(st.st_mode)) {
			g_set_error(error, IDICT_ERROR, IDICT_ERROR_MOUNT,
				    "mount point %s is not a directory", mountpoint);
			return FALSE;
		}
		g_autofree char *canonical = g_canonicalize_filename(mountpoint, NULL);
		if (served_already(canonical)) {
			g_set_error(error, IDICT_ERROR, IDICT_ERROR_MOUNT,
				    "%s is already served by a running computation", mountpoint);
			return FALSE;
		}
		*non_empty = has_entries(mountpoint);
		return TRUE;
	}
	if (errno == ENOENT) {
		if (mkdir(mountpoint, 0755) != 0) {
			int err = errno;
			g_autofree char *parent = g_path_get_dirname(mountpoint);
			if (err == ENOENT)
				g_set_error(error, IDICT_ERROR, IDICT_ERROR_MOUNT,
					    "cannot create mount point %s: its parent %s does not "
					    "exist (only the last component is created)",
					    mountpoint, parent);
			else
				g_set_error(error, IDICT_ERROR, IDICT_ERROR_MOUNT,
					    "cannot create mount point %s: %s", mountpoint,
					    g_strerror(err));
			return FALSE;
		}
		return TRUE;
	}
	if (errno != ENOTCONN) {
		g_set_error(error, IDICT_ERROR, IDICT_ERROR_MOUNT, "mount point %s: %s",
			    mountpoint, g_strerror(errno));
		return FALSE;
	}

	g_info("clearing the stale mount at %s", mountpoint);
	if (umount2(mountpoint, MNT_DETACH) != 0) {
		/* Not root: fusermount3 may unmount what this user mounted. */
		const char *argv[] = { "fusermount3", "-u", "-z", "-q", mountpoint, NULL };
		int status = 0;
		g_autoptr(GError) local = NULL;
		if (!g_spawn_sync(NULL, (char **)argv, NULL,
				  G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL |
				  G_SPAWN_STDERR_TO_DEV_NULL,
				  NULL, NULL, NULL, NULL, &status, &local))
			g_info("fusermount3: %s", local->message);
	}
	if (stat(mountpoint, &st) != 0) {
		g_set_error(error, IDICT_ERROR, IDICT_ERROR_MOUNT,
			    "cannot clear the stale mount at %s: %s", mountpoint,
			    g_strerror(errno));
		return FALSE;
	}
	return TRUE;
}

static void server_free(IDictServer *server)
{
	idict__store_set_update_hook(server->dict, NULL, server->fs.streams, NULL, NULL);
	/* Files that clients still hold open: their release will never come. */
	idict__fs_clear(&server->fs);
	idict__pins_free(server->fs.pins);
	idict__streams_unref(server->fs.streams);
	if (server->session)
		fuse_session_destroy(server->session);
	/* After the open files and the snapshot, which it counts. */
	idict__snapshot_cache_free(server->fs.snapshot, server->fs.clients);
	idict__clients_free(server->fs.clients);
	g_mutex_clear(&server->pool_lock);
	g_free(server->mountpoint);
	/* The server's reference: the dictionary goes too if its caller has
	 * freed it meanwhile. */
	idict_free(server->dict);
	g_free(server);
}

/* ---- auto_unmount after a crash ----
 *
 * With auto_unmount, fusermount3 stays behind as a helper holding one end
 * of a socket; libfuse keeps the other end open in this process.  When the
 * process dies, the helper sees the socket close and unmounts only if
 * opening the mount point then fails with ENOTCONN, i.e. only if /dev/fuse
 * has already been released.  At exit the kernel closes the descriptors in
 * ascending order but runs the deferred releases last-closed first, so the
 * descriptor with the higher number is released first.  libfuse leaves the
 * socket above /dev/fuse: the helper could wake while the connection was
 * still alive, see its open() fail with ECONNABORTED instead, and leave a
 * dead mount behind (measured: 1 in 30 SIGKILLs on a loaded machine).  So
 * the socket is moved below /dev/fuse, into a descriptor reserved before
 * mounting; /dev/fuse then goes first. */
/* Returns: (transfer full): the set of this process's open descriptors. */
static GHashTable *open_fds(void)
{
	GHashTable *fds = g_hash_table_new(NULL, NULL);
	g_autoptr(GDir) dir = g_dir_open("/proc/self/fd", 0, NULL);
	const char *name;
	while (dir && (name = g_dir_read_name(dir)) != NULL)
		g_hash_table_add(fds, GINT_TO_POINTER(atoi(name)));
	return fds;
}

/* TRUE if @fd is one end of a Unix stream socket (libfuse's end of the
 * socket to fusermount3 is the only one it opens while mounting). */
static gboolean is_unix_stream(int fd)
{
	struct stat st;
	int domain = 0, type = 0;
	socklen_t len = sizeof domain, tlen = sizeof type;
	return fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode) &&
		getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) == 0 && domain == AF_UNIX &&
		getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tlen) == 0 && type == SOCK_STREAM;
}

/* Moves the auto_unmount socket (a descriptor that is not in @before and
 * lies above @fuse_fd) into @reserved, a descriptor below it opened on
 * /dev/null before mounting; releases @reserved if it is not used. */
static void socket_below_fuse(GHashTable *before, int reserved, int fuse_fd)
{
	if (reserved >= 0 && reserved < fuse_fd) {
		g_autoptr(GHashTable) after = open_fds();
		GHashTableIter iter;
		gpointer key;
		g_hash_table_iter_init(&iter, after);
		while (g_hash_table_iter_next(&iter, &key, NULL)) {
			int fd = GPOINTER_TO_INT(key);
			if (fd > fuse_fd && !g_hash_table_contains(before, key) && is_unix_stream(fd) &&
			    dup3(fd, reserved, O_CLOEXEC) == reserved) {
				close(fd);
				return;
			}
		}
	}
	if (reserved >= 0)
		close(reserved);
}

/* ---- mount options ----
 *
 * Our own options are picked out with fuse_opt_parse(), which splits the
 * list as libfuse does (a comma inside a value is escaped as "\,"); the
 * others are kept, escaped again, for fuse_session_new().  By default the
 * mount is made through fusermount3's auto_unmount, whose helper process
 * unmounts when this process dies, even by SIGKILL: no stale mount is
 * left.  allow_other does not bring default_permissions: fs.c enforces the
 * files' modes itself (open, access, setattr), so that the server may open
 * its own read-only files for writing (pins.c); a caller's
 * default_permissions is passed on, and then the kernel checks too. */
typedef struct {
	char *write_mode;  /* write_mode=OCTAL; malloc()ed by fuse_opt_parse() */
	char *server_nice; /* server_nice=N; likewise */
	char *client_memory; /* client_memory=SIZE; likewise */
	int no_auto_unmount;
} ServeOptions;

static const struct fuse_opt serve_options[] = {
	{ "write_mode=%s", offsetof(ServeOptions, write_mode), 0 },
	{ "server_nice=%s", offsetof(ServeOptions, server_nice), 0 },
	{ "client_memory=%s", offsetof(ServeOptions, client_memory), 0 },
	{ "no_auto_unmount", offsetof(ServeOptions, no_auto_unmount), 1 },
	FUSE_OPT_KEY("auto_unmount", FUSE_OPT_KEY_DISCARD), /* the default */
	FUSE_OPT_END,
};

/* Keeps every option that is not ours for libfuse. */
static int keep_fuse_option(void *data, const char *arg, int key, struct fuse_args *outargs)
{
	(void)data, (void)arg, (void)key, (void)outargs;
	return 1;
}

/* Parses a size in bytes, with an optional binary suffix: 4096, 512K, 256M,
 * 2G, 1T (upper or lower case).  Returns: FALSE if @text is not one. */
static gboolean parse_size(const char *text, guint64 *out)
{
	static const char suffixes[] = "KMGT";
	char *end = NULL;
	if (!g_ascii_isdigit(*text))
		return FALSE;
	errno = 0;
	guint64 n = g_ascii_strtoull(text, &end, 10);
	if (errno != 0)
		return FALSE;
	guint shift = 0;
	if (*end != '\0') {
		const char *at = strchr(suffixes, g_ascii_toupper(*end));
		if (at == NULL || end[1] != '\0')
			return FALSE;
		shift = 10 * (guint)(at - suffixes + 1);
	}
	if (n > (G_MAXUINT64 >> shift))
		return FALSE;
	*out = n << shift;
	return TRUE;
}

/* Fails for option @name=@value, which should have been @wanted.
 * Returns: FALSE. */
static gboolean refuse_option(const char *name, const char *value, const char *wanted,
			      GError **error)
{
	g_set_error(error, IDICT_ERROR, IDICT_ERROR_MOUNT, "bad option %s=%s: %s", name, value,
		    wanted);
	return FALSE;
}

/* Takes our options out of @options (nullable) into @server and
 * *@auto_unmount, and fills @args (empty) with what libfuse gets.
 * Returns: FALSE with @error set for a bad option. */
static gboolean parse_options(IDictServer *server, const char *options, struct fuse_args *args,
			      gboolean *auto_unmount, GError **error)
{
	ServeOptions opts = { 0 };
	fuse_opt_add_arg(args, "idict");
	if (options && *options) {
		fuse_opt_add_arg(args, "-o");
		fuse_opt_add_arg(args, options);
	}
	gboolean ok = fuse_opt_parse(args, &opts, serve_options, keep_fuse_option) == 0;
	guint64 mode = 0644, nice = DEFAULT_SERVER_NICE, client_memory = DEFAULT_CLIENT_MEMORY;
	if (!ok) {
		g_autofree char *why = take_fuse_messages();
		g_set_error(error, IDICT_ERROR, IDICT_ERROR_MOUNT, "bad mount options \"%s\": %s",
			    options ? options : "", why);
	} else if (opts.write_mode &&
		 (!g_ascii_string_to_unsigned(opts.write_mode, 8, 0, 0777, &mode, NULL) ||
		  (mode & 0200) == 0))
		ok = refuse_option("write_mode", opts.write_mode,
				   "an octal mode with the owner's write bit (e.g. 0664)", error);
	else if (opts.server_nice &&
		 !g_ascii_string_to_unsigned(opts.server_nice, 10, 0, 19, &nice, NULL))
		ok = refuse_option("server_nice", opts.server_nice,
				   "a number from 0 (the computation's priority) to 19", error);
	else if (opts.client_memory &&
		 (!parse_size(opts.client_memory, &client_memory) ||
		  client_memory < MIN_CLIENT_MEMORY))
		ok = refuse_option("client_memory", opts.client_memory,
				   "a size of at least 64K, in bytes or with a suffix K, M, G or T "
				   "(e.g. 256M)", error);
	free(opts.write_mode);
	free(opts.server_nice);
	free(opts.client_memory);
	if (!ok)
		return FALSE;
	server->fs.write_mode = (mode_t)mode;
	server->nice = (int)nice;
	server->fs.clients = idict__clients_new(client_memory);
	server->fs.snapshot = idict__snapshot_cache_new();
	*auto_unmount = !opts.no_auto_unmount;
	/* First, so that the caller's fsname or subtype, if any, wins. */
	fuse_opt_insert_arg(args, 1, "-ofsname=idict,subtype=idict");
	return TRUE;
}

/* Creates the FUSE session with @args and mounts it; with @auto_unmount,
 * tries fusermount3's auto_unmount first and falls back to a plain mount.
 * @options: what the caller gave, for messages. */
static gboolean mount_session(IDictServer *server, const struct fuse_args *args,
			      const char *options, gboolean auto_unmount, GError **error)
{
	for (gsize i = 0; i < (auto_unmount ? 2u : 1u); i++) {
		g_free(take_fuse_messages());
		struct fuse_args attempt = FUSE_ARGS_INIT(0, NULL);
		for (int a = 0; a < args->argc; a++)
			fuse_opt_add_arg(&attempt, args->argv[a]);
		if (auto_unmount && i == 0)
			fuse_opt_add_arg(&attempt, "-oauto_unmount");
		server->session = fuse_session_new(&attempt, idict__fs_ops(),
						   sizeof(struct fuse_lowlevel_ops), &server->fs);
		fuse_opt_free_args(&attempt);
		if (server->session == NULL) {
			g_autofree char *why = take_fuse_messages();
			g_set_error(error, IDICT_ERROR, IDICT_ERROR_MOUNT,
				    "bad mount options \"%s\": %s", options ? options : "", why);
			return FALSE;
		}
		gboolean with_helper = i == 0 && auto_unmount;
		g_autoptr(GHashTable) before = with_helper ? open_fds() : NULL;
		int reserved = with_helper ? open("/dev/null", O_RDONLY | O_CLOEXEC) : -1;
		if (fuse_session_mount(server->session, server->mountpoint) == 0) {
			if (with_helper)
				socket_below_fuse(before, reserved, fuse_session_fd(server->session));
			return TRUE;
		}
		if (reserved >= 0)
			close(reserved);
		g_autofree char *why = take_fuse_messages();
		fuse_session_destroy(server->session);
		server->session = NULL;
		if (i + 1 < (auto_unmount ? 2u : 1u)) {
			g_info("mounting %s with auto_unmount failed (%s); trying without",
			       server->mountpoint, why);
			continue;
		}
		g_set_error(error, IDICT_ERROR, IDICT_ERROR_MOUNT, "cannot mount %s: %s",
			    server->mountpoint, why);
	}
	return FALSE;
}

IDictServer *idict_serve(IDict *self, const char *mountpoint, const char *options,
			 GError **error)
{
	g_return_val_if_fail(self != NULL, NULL);
	g_return_val_if_fail(mountpoint != NULL, NULL);

	static gsize log_once = 0;
	if (g_once_init_enter(&log_once)) {
		fuse_set_log_func(log_fuse_message);
		g_once_init_leave(&log_once, 1);
	}

	gboolean non_empty = FALSE;
	if (!prepare_mountpoint(mountpoint, &non_empty, error))
		return NULL;
	g_free(take_fuse_messages());

	IDictServer *server = g_new0(IDictServer, 1);
	/* A reference of the server's own: the caller may free the dictionary
	 * while it is served (idict_free() then leaves it to the server). */
	server->dict = idict__ref(self);
	server->mountpoint = g_canonicalize_filename(mountpoint, NULL);
	server->fs.uid = getuid();
	server->fs.gid = getgid();
	IDictStatus status;
	idict__store_status(self, &status);
	server->fs.started_us = status.started_us;
	server->fs.generation = (guint32)status.started_us ^ (guint32)(status.started_us >> 32);
	if (server->fs.generation == 0)
		server->fs.generation = 1;
	g_mutex_init(&server->pool_lock);
	server->fs.dict = server->dict;
	idict__fs_init(&server->fs);
	server->fs.streams = idict__streams_new(idict__store_update_log(self));
	if (!idict__store_set_update_hook(self, idict__streams_on_update, server->fs.streams,
					  idict__streams_ref, idict__streams_unref)) {
		g_set_error(error, IDICT_ERROR, IDICT_ERROR_MOUNT,
			    "cannot serve at %s: this dictionary is already served elsewhere",
			    server->mountpoint);
		server_free(server);
		return NULL;
	}

	errno = 0;
	server->base_nice = getpriority(PRIO_PROCESS, (id_t)gettid());
	if (server->base_nice == -1 && errno != 0)
		server->base_nice = 0;
	gboolean auto_unmount = TRUE;
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
	gboolean mounted = parse_options(server, options, &args, &auto_unmount, error) &&
			   mount_session(server, &args, options, auto_unmount, error);
	fuse_opt_free_args(&args);
	if (!mounted) {
		server_free(server);
		return NULL;
	}
	if (non_empty)
		g_warning("mounted over %s, which is not empty: its files are hidden while the "
			  "computation serves it", server->mountpoint);
	server->fs.pins = idict__pins_new(server->dict, server->mountpoint);

	/* One worker; it starts more as requests come (see the top). */
	g_mutex_lock(&server->pool_lock);
	int err = start_worker_locked(server);
	g_mutex_unlock(&server->pool_lock);
	if (err) {
		g_set_error(error, IDICT_ERROR, IDICT_ERROR_MOUNT, "cannot serve %s: %s",
			    server->mountpoint, g_strerror(err));
		stop_workers(server);
		fuse_session_unmount(server->session);
		server_free(server);
		return NULL;
	}
	server->dispatcher = start_thread("idict-dispatch", dispatcher_main, server);
	g_debug("serving at %s", server->mountpoint);
	return server;
}

void idict_server_wait_then_close(IDictServer *server, double timeout)
{
	if (server == NULL)
		return;
	gint64 deadline = idict__deadline(timeout);

	guint left = idict__fs_wait_for_clients(&server->fs, deadline);
	if (left > 0)
		g_debug("closing %s with %u files still open", server->mountpoint, left);

	/* Parked opens are answered while the workers still serve the pin
	 * thread's own opens. */
	idict__pins_stop(server->fs.pins);

	idict__store_set_update_hook(server->dict, NULL, server->fs.streams, NULL, NULL);
	idict__streams_stop_waiting(server->fs.streams);
	g_thread_join(server->dispatcher);
	/* Answer every parked read (end-of-file) while the workers still run. */
	idict__streams_dispatch(server->fs.streams, TRUE);

	stop_workers(server);

	/* Closes /dev/fuse (which aborts the connection, so no client stays
	 * blocked) and detaches the mount. */
	fuse_session_unmount(server->session);
	g_debug("unmounted %s", server->mountpoint);
	/* The connection is gone: closing the pins sends nothing. */
	g_clear_pointer(&server->fs.pins, idict__pins_free);
	server_free(server);
}

void idict_server_close(IDictServer *server)
{
	idict_server_wait_then_close(server, 0);
}
