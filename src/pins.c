/* pins.c - write opens the server holds on its own files, so that Linux's
 * NFS server grants its clients no read delegations of them.
 *
 * An NFSv4 client with a read delegation serves every later open and read
 * of the file from its own cache, and only a conflicting open on the
 * server recalls it: a value the computation changes never does.  nfsd
 * grants no delegation on a file that some process has open for writing
 * (nfsd4_check_conflicting_opens(): i_writecount > 0), so the server pins
 * each file a kernel thread opens: before a kernel thread's FUSE OPEN of a
 * regular file not pinned yet is answered, the pin thread opens the file
 * through the mount with O_WRONLY|O_NONBLOCK|O_CLOEXEC (retrying while a
 * delegation from before is being recalled: EWOULDBLOCK) and holds it.
 * The OPEN is parked meanwhile (its worker goes back to serving; the pin
 * thread answers it), so the write open exists before nfsd can reach its
 * delegation.  Only while /proc/sys/fs/leases-enable is 1: with leases off
 * nfsd grants no delegation at all.
 *
 * fs.c lets the pin thread open any file for writing (it is mounted
 * without default_permissions and checks modes itself), refuses every
 * write through a pin, and gives pins no FLUSH; they are not clients for
 * wait-then-close.  A pin costs one descriptor and keeps one kernel inode;
 * at most half the descriptor limit (RLIMIT_NOFILE) are held, and past
 * that the server warns once and answers opens unpinned.  Pins of removed
 * keys are closed within a second; all are closed when the server closes,
 * after the unmount (the connection is gone, so close() never waits).
 *
 * Threads: workers park opens (idict__pins_park()); one pin thread, started
 * at the first park, opens, answers and sweeps.  pins->lock protects the
 * table of pins and the counters; nothing else is done under it.  The
 * computation's thread never takes it.
 */
#include "pins.h"
#include "ctl.h"
#include "fs_view.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#define RETRY_USEC 10000
#define RETRY_FOR_USEC G_USEC_PER_SEC
#define SWEEP_USEC G_USEC_PER_SEC
#define LEASES_CHECK_USEC G_USEC_PER_SEC

typedef struct {
	fuse_req_t req;
	struct fuse_file_info fi;
	gpointer file;
	guint64 ino;
	IDictPinFinish finish;
} ParkedOpen;

struct _IDictPins {
	IDict *dict;          /* borrowed: the server's */
	char *mountpoint;
	GAsyncQueue *queue;   /* ParkedOpen*, or &stop_job */
	GThread *thread;      /* nullable: started at the first park */
	atomic_int pinner;    /* the pin thread's id, 0 before it runs */

	GMutex lock;          /* protects the fields below */
	GHashTable *fds;      /* guint64* ino -> descriptor + 1 (0: not pinned) */
	guint cap;
	gboolean stopping;
	gboolean warned;
	gint64 leases_checked_us;
	gboolean leases_on;
};

static ParkedOpen stop_job;

IDictPins *idict__pins_new(IDict *dict, const char *mountpoint)
{
	IDictPins *pins = g_new0(IDictPins, 1);
	pins->dict = dict;
	pins->mountpoint = g_strdup(mountpoint);
	pins->queue = g_async_queue_new();
	atomic_init(&pins->pinner, 0);
	g_mutex_init(&pins->lock);
	pins->fds = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL);
	struct rlimit limit;
	pins->cap = getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY
		? (guint)MIN(limit.rlim_cur / 2, G_MAXUINT) : 512;
	return pins;
}

gboolean idict__pins_is_pinner(IDictPins *pins, pid_t tid)
{
	return tid > 0 && atomic_load(&pins->pinner) == tid;
}

/* Says once per server why files cannot be pinned.  pins->lock held. */
static void warn_locked(IDictPins *pins, const char *why)
{
	if (pins->warned)
		return;
	pins->warned = TRUE;
	g_warning("%s is read by the kernel NFS server while fs.leases-enable=1, and %s: NFSv4 "
		  "clients may keep old values of files they hold a delegation of (see README, "
		  "\"Remote access\")", pins->mountpoint, why);
}

/* TRUE if the kernel grants leases (and so nfsd delegations).  Read at most
 * once a second.  pins->lock held. */
static gboolean leases_on_locked(IDictPins *pins)
{
	gint64 now = g_get_monotonic_time();
	if (pins->leases_checked_us == 0 || now - pins->leases_checked_us > LEASES_CHECK_USEC) {
		g_autofree char *text = NULL;
		pins->leases_on = !g_file_get_contents("/proc/sys/fs/leases-enable", &text, NULL,
						       NULL) || g_ascii_strtoll(text, NULL, 10) != 0;
		pins->leases_checked_us = now;
	}
	return pins->leases_on;
}

/* The path of file @ino below the mount point, or NULL if it is gone.
 * Returns: (transfer full) (nullable). */
static char *file_path(IDictPins *pins, guint64 ino)
{
	const IDictCtlFile *ctl = idict__ctl_by_ino(ino);
	if (ctl)
		return g_strdup_printf("%s/ctl/%s", pins->mountpoint, ctl->name);
	if (ino == IDICT__INO_SNAPSHOT)
		return g_strdup_printf("%s/snapshot.json", pins->mountpoint);
	if (ino == IDICT__INO_UPDATES)
		return g_strdup_printf("%s/updates", pins->mountpoint);
	const char *view = "";
	if (ino & IDICT__INO_HISTORY_BIT)
		view = "history/";
	else if (ino & IDICT__INO_RAW_BIT)
		view = "raw/";
	guint64 node = ino & ~(IDICT__INO_HISTORY_BIT | IDICT__INO_RAW_BIT);
	if (node < IDICT__INO_FIRST_KEY)
		return NULL;
	g_autofree char *key = idict__view_key_name(pins->dict, node);
	return key ? g_strdup_printf("%s/%s%s", pins->mountpoint, view, key) : NULL;
}

/* Opens @ino for writing, retrying while a lease is being broken.
 * Returns: the descriptor, or -errno. */
static int pin_open(IDictPins *pins, guint64 ino)
{
	g_autofree char *path = file_path(pins, ino);
	if (path == NULL)
		return -ENOENT;
	gint64 give_up = g_get_monotonic_time() + RETRY_FOR_USEC;
	for (;;) {
		int fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
		if (fd >= 0)
			return fd;
		int err = errno;
		if (err != EWOULDBLOCK || g_get_monotonic_time() > give_up)
			return -err;
		g_usleep(RETRY_USEC);
	}
}

static void pin(IDictPins *pins, ParkedOpen *job)
{
	g_mutex_lock(&pins->lock);
	gboolean wanted = !pins->stopping &&
		GPOINTER_TO_INT(g_hash_table_lookup(pins->fds, &job->ino)) == 0;
	g_mutex_unlock(&pins->lock);
	if (wanted) {
		int fd = pin_open(pins, job->ino);
		g_mutex_lock(&pins->lock);
		if (fd >= 0) {
			g_hash_table_insert(pins->fds, g_memdup2(&job->ino, sizeof job->ino),
					    GINT_TO_POINTER(fd + 1));
		} else if (fd != -ENOENT) {
			g_autofree char *why = g_strdup_printf("the server cannot hold its files "
							       "open (%s)", g_strerror(-fd));
			warn_locked(pins, why);
		}
		g_mutex_unlock(&pins->lock);
	}
	job->finish(job->req, &job->fi, job->file);
}

/* Closes the pins of files that are gone.  Pin thread. */
static void sweep(IDictPins *pins)
{
	g_autoptr(GArray) inos = g_array_new(FALSE, FALSE, sizeof(guint64));
	g_mutex_lock(&pins->lock);
	GHashTableIter iter;
	gpointer key;
	g_hash_table_iter_init(&iter, pins->fds);
	while (g_hash_table_iter_next(&iter, &key, NULL))
		g_array_append_val(inos, *(guint64 *)key);
	g_mutex_unlock(&pins->lock);
	for (guint i = 0; i < inos->len; i++) {
		guint64 ino = g_array_index(inos, guint64, i);
		guint64 node = ino & ~(IDICT__INO_HISTORY_BIT | IDICT__INO_RAW_BIT);
		if (node < IDICT__INO_FIRST_KEY)
			continue;
		g_autofree char *name = idict__view_key_name(pins->dict, node);
		if (name != NULL)
			continue;
		g_mutex_lock(&pins->lock);
		int fd = GPOINTER_TO_INT(g_hash_table_lookup(pins->fds, &ino)) - 1;
		g_hash_table_remove(pins->fds, &ino);
		g_mutex_unlock(&pins->lock);
		if (fd >= 0)
			close(fd);
	}
}

static gpointer pin_main(gpointer data)
{
	IDictPins *pins = data;
	atomic_store(&pins->pinner, (int)gettid());
	gint64 swept = g_get_monotonic_time();
	for (;;) {
		ParkedOpen *job = g_async_queue_timeout_pop(pins->queue, SWEEP_USEC);
		if (job == &stop_job)
			break;
		if (job != NULL) {
			pin(pins, job);
			g_free(job);
		}
		if (g_get_monotonic_time() - swept >= SWEEP_USEC) {
			sweep(pins);
			swept = g_get_monotonic_time();
		}
	}
	return NULL;
}

gboolean idict__pins_park(IDictPins *pins, fuse_req_t req, guint64 ino,
			  const struct fuse_file_info *fi, gpointer file, IDictPinFinish finish)
{
	g_mutex_lock(&pins->lock);
	gboolean park = !pins->stopping &&
		GPOINTER_TO_INT(g_hash_table_lookup(pins->fds, &ino)) == 0 &&
		leases_on_locked(pins);
	if (park && g_hash_table_size(pins->fds) >= pins->cap) {
		g_autofree char *why = g_strdup_printf(
			"%u files are pinned, half the descriptor limit (ulimit -n)", pins->cap);
		warn_locked(pins, why);
		park = FALSE;
	}
	if (park && pins->thread == NULL) {
		sigset_t all, old;
		sigfillset(&all);
		pthread_sigmask(SIG_BLOCK, &all, &old);
		pins->thread = g_thread_try_new("idict-pin", pin_main, pins, NULL);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		if (pins->thread == NULL) {
			warn_locked(pins, "the pin thread cannot start");
			park = FALSE;
		}
	}
	if (park) {
		ParkedOpen *job = g_new0(ParkedOpen, 1);
		job->req = req;
		job->fi = *fi;
		job->file = file;
		job->ino = ino;
		job->finish = finish;
		g_async_queue_push(pins->queue, job);
	}
	g_mutex_unlock(&pins->lock);
	return park;
}

void idict__pins_stop(IDictPins *pins)
{
	g_mutex_lock(&pins->lock);
	pins->stopping = TRUE;
	GThread *thread = g_steal_pointer(&pins->thread);
	g_mutex_unlock(&pins->lock);
	if (thread) {
		g_async_queue_push(pins->queue, &stop_job);
		g_thread_join(thread);
	}
	/* Opens parked after the stop job: answered unpinned. */
	ParkedOpen *job;
	while ((job = g_async_queue_try_pop(pins->queue)) != NULL) {
		if (job == &stop_job)
			continue;
		job->finish(job->req, &job->fi, job->file);
		g_free(job);
	}
}

guint idict__pins_count(IDictPins *pins)
{
	g_mutex_lock(&pins->lock);
	guint n = g_hash_table_size(pins->fds);
	g_mutex_unlock(&pins->lock);
	return n;
}

void idict__pins_free(IDictPins *pins)
{
	if (pins == NULL)
		return;
	idict__pins_stop(pins);
	GHashTableIter iter;
	gpointer value;
	g_hash_table_iter_init(&iter, pins->fds);
	while (g_hash_table_iter_next(&iter, NULL, &value))
		close(GPOINTER_TO_INT(value) - 1);
	g_hash_table_unref(pins->fds);
	g_async_queue_unref(pins->queue);
	g_mutex_clear(&pins->lock);
	g_free(pins->mountpoint);
	g_free(pins);
}
