/* bench.c - `make bench`: idictfs measured side by side with its baselines
 * (issue 5), in one run, printed as one table.
 *
 * Baselines, each measured in the same run and interleaved with the figure
 * it is compared to, so that the ratio survives a noisy shared machine:
 *   - the FUSE floor: floor_fs.c, a minimal low-level FUSE filesystem with
 *     idictfs's mount options, served from a thread of this process;
 *   - tmpfs: the computation writes a temporary file and renames it, readers
 *     read the file or follow it with inotify;
 *   - Redis from Debian on a private loopback port, through hiredis (when
 *     built with it and redis-server is installed).
 *
 * Every figure is a median over repeated runs with its p10-p90 spread.
 * Nothing here asserts anything about time: the "met" column only reports.
 *
 * Hygiene: every mount is made in a fresh mkdtemp() directory; every child
 * process runs in its own process group, dies with the bench (PDEATHSIG) and
 * is killed by its id; a watchdog (alarm) and the handlers of fatal signals
 * unmount and kill whatever is left, so no mount or process outlives a
 * failed run.  tests/bench/run-bench.sh adds a last sweep and a timeout.
 *
 * Usage: idict-bench [--quick] [--only SECTIONS] [--updates N] [--large N]
 *                    [--tmpfs DIR] [--budget SECONDS]
 * SECTIONS: comma-separated from cost, watched, read, latency, render, large,
 * scale, readers, clients, redis; and mpi, which run-bench.sh runs
 * (idict-mpi-bench under mpirun -np 4) and passes in with --extra-rows FILE.
 *
 * To profile one figure: idict-bench --loop KIND [--seconds S] runs its loop
 * alone (set, set-100k, set-mounted, read-small, read-floor, read-array, latency,
 * latency-floor, render), e.g. under `perf record --call-graph dwarf` or
 * `perf stat -e sched:sched_wakeup`; `valgrind --tool=callgrind` works for
 * the loops without a mount (set, render); with a mount in the same process
 * it hangs under valgrind.
 */
#include "floor_fs.h"
#include "format.h" /* idict__format_double(), for the render figure */

#include <idict.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <malloc.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifdef HAVE_HIREDIS
#include <hiredis.h>
#endif

#ifndef TMPFS_MAGIC
#define TMPFS_MAGIC 0x01021994
#endif

/* ==== options ============================================================ */

static gboolean opt_quick;
static char *opt_only;
static gint opt_updates = 10000;
static gint opt_large = 10000000;
static char *opt_tmpfs;
static gint opt_budget = 280;
static gint opt_cat_readers = 32;
static gint opt_stream_readers = 8;
static char *opt_loop;
static double opt_seconds = 5;
static char *opt_extra_rows;

static gboolean section_on(const char *name)
{
	if (opt_only == NULL)
		return TRUE;
	g_auto(GStrv) names = g_strsplit(opt_only, ",", -1);
	return g_strv_contains((const char *const *)names, name);
}

/* Scales a repetition count down for --quick. */
static guint reps(guint n)
{
	return opt_quick ? MAX(3u, n / 5) : n;
}

/* ==== time and statistics ================================================ */

static gint64 now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (gint64)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

typedef struct {
	gboolean valid;
	guint n;
	double p10, p50, p90, p99;
} Stats;

static int compare_doubles(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double percentile(const double *sorted, guint n, double q)
{
	double pos = q * (n - 1);
	guint i = (guint)pos;
	if (i + 1 >= n)
		return sorted[n - 1];
	return sorted[i] + (pos - i) * (sorted[i + 1] - sorted[i]);
}

static Stats stats_of(GArray *samples)
{
	Stats s = { 0 };
	if (samples == NULL || samples->len == 0)
		return s;
	g_autofree double *v = g_memdup2(samples->data, samples->len * sizeof(double));
	qsort(v, samples->len, sizeof(double), compare_doubles);
	s.valid = TRUE;
	s.n = samples->len;
	s.p10 = percentile(v, s.n, 0.10);
	s.p50 = percentile(v, s.n, 0.50);
	s.p90 = percentile(v, s.n, 0.90);
	s.p99 = percentile(v, s.n, 0.99);
	return s;
}

static GArray *samples_new(void)
{
	return g_array_new(FALSE, FALSE, sizeof(double));
}

static void add_sample(GArray *samples, double v)
{
	g_array_append_val(samples, v);
}

/* Elementwise a[i] / b[i]: the ratio of paired rounds. */
static Stats ratio_stats(GArray *a, GArray *b)
{
	g_autoptr(GArray) r = samples_new();
	for (guint i = 0; i < MIN(a->len, b->len); i++)
		add_sample(r, g_array_index(a, double, i) / g_array_index(b, double, i));
	return stats_of(r);
}

/* ==== cleanup: mounts and children, also on failure ====================== */

#define MAX_MOUNTS 16
#define MAX_CHILDREN 128

static char mount_dirs[MAX_MOUNTS][512];
static volatile sig_atomic_t n_mount_dirs;
static pid_t children[MAX_CHILDREN]; /* each the leader of its process group */
static volatile sig_atomic_t n_children;

/* Async-signal-safe: kills every child's process group, detaches every
 * mount this run made. */
static void emergency_cleanup(void)
{
	for (int i = 0; i < n_children; i++)
		if (children[i] > 0)
			kill(-children[i], SIGKILL);
	for (int i = 0; i < n_mount_dirs; i++)
		if (mount_dirs[i][0])
			umount2(mount_dirs[i], MNT_DETACH);
}

static void on_fatal_signal(int sig)
{
	static const char msg[] = "idict-bench: stopped by a signal or the time budget; cleaning up\n";
	if (write(STDERR_FILENO, msg, sizeof msg - 1) < 0) {
		/* nothing to do */
	}
	emergency_cleanup();
	int fatal = sig == SIGALRM ? SIGTERM : sig;
	signal(fatal, SIG_DFL);
	raise(fatal);
}

static void install_cleanup_handlers(void)
{
	const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGALRM, SIGSEGV, SIGABRT, SIGBUS, SIGTRAP,
			     SIGFPE };
	for (gsize i = 0; i < G_N_ELEMENTS(sigs); i++)
		signal(sigs[i], on_fatal_signal);
	signal(SIGPIPE, SIG_IGN);
}

static char *work_dir;  /* private, on any filesystem: the mount points */
static char *tmpfs_dir; /* private, on tmpfs */

/* Returns: (transfer full): a fresh empty directory under the work dir,
 * registered so that a mount on it is undone on failure. */
static char *new_mount_dir(const char *what)
{
	g_autofree char *tmpl = g_strdup_printf("%s/%s-XXXXXX", work_dir, what);
	char *dir = g_mkdtemp(g_steal_pointer(&tmpl));
	if (dir == NULL)
		g_error("mkdtemp: %s", g_strerror(errno));
	if (n_mount_dirs < MAX_MOUNTS) {
		g_strlcpy(mount_dirs[n_mount_dirs], dir, sizeof mount_dirs[0]);
		n_mount_dirs++;
	}
	return dir;
}

static char *new_tmpfs_dir(const char *what)
{
	g_autofree char *tmpl = g_strdup_printf("%s/%s-XXXXXX", tmpfs_dir, what);
	char *dir = g_mkdtemp(g_steal_pointer(&tmpl));
	if (dir == NULL)
		g_error("mkdtemp: %s", g_strerror(errno));
	return dir;
}

static void remove_tree(const char *path)
{
	const char *argv[] = { "rm", "-rf", "--one-file-system", path, NULL };
	g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL, NULL,
		     NULL);
}

/* Starts @argv (PATH searched) with stdout and stderr on /dev/null, in a
 * process group of its own, killed if the bench dies, on CPU @cpu only if
 * @cpu >= 0, as user and group @uid (no supplementary groups) unless @uid
 * is (uid_t)-1, in directory @cwd (nullable; entered before the user
 * changes, so that the directories above it need not be open to that
 * user).  Returns: its pid. */
static pid_t spawn_child_as(char *const argv[], int cpu, uid_t uid, const char *cwd)
{
	int slot = 0;
	while (slot < n_children && children[slot] != 0)
		slot++;
	if (slot >= MAX_CHILDREN)
		g_error("too many children");
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid < 0)
		g_error("fork: %s", g_strerror(errno));
	if (pid == 0) {
		/* Only async-signal-safe calls until exec: the parent has threads. */
		setpgid(0, 0);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (cpu >= 0) {
			cpu_set_t set;
			CPU_ZERO(&set);
			CPU_SET(cpu, &set);
			sched_setaffinity(0, sizeof set, &set);
		}
		if (getppid() != parent)
			_exit(127);
		if (cwd && chdir(cwd) != 0)
			_exit(126);
		if (uid != (uid_t)-1 &&
		    (setgroups(0, NULL) != 0 || setgid((gid_t)uid) != 0 || setuid(uid) != 0))
			_exit(126);
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		int null = open("/dev/null", O_RDWR);
		if (null >= 0) {
			dup2(null, STDIN_FILENO);
			dup2(null, STDOUT_FILENO);
			dup2(null, STDERR_FILENO);
		}
		execvp(argv[0], argv);
		_exit(127);
	}
	setpgid(pid, pid); /* also here, so that it holds before we signal */
	children[slot] = pid;
	if (slot == n_children)
		n_children++;
	return pid;
}

static pid_t spawn_child(char *const argv[], int cpu)
{
	return spawn_child_as(argv, cpu, (uid_t)-1, NULL);
}

static void signal_children(pid_t *pids, guint n, int sig)
{
	for (guint i = 0; i < n; i++)
		kill(-pids[i], sig);
}

/* Kills the process groups of @pids and reaps them. */
static void stop_children(pid_t *pids, guint n)
{
	signal_children(pids, n, SIGKILL);
	for (guint i = 0; i < n; i++) {
		while (waitpid(pids[i], NULL, 0) < 0 && errno == EINTR)
			;
		for (int j = 0; j < n_children; j++)
			if (children[j] == pids[i])
				children[j] = 0;
	}
}

/* ==== small I/O helpers ================================================== */

static char io_buf[128 * 1024]; /* cat's buffer size */

/* open + one read + close, as a program reading a small value does. */
static gssize read_small(const char *path)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		g_error("open %s: %s", path, g_strerror(errno));
	gssize n = read(fd, io_buf, 4096);
	close(fd);
	return n;
}

/* open, read to end of file with cat's buffer size, close. */
static gsize read_whole(const char *path)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		g_error("open %s: %s", path, g_strerror(errno));
	gsize total = 0;
	gssize n;
	while ((n = read(fd, io_buf, sizeof io_buf)) > 0)
		total += (gsize)n;
	close(fd);
	return total;
}

/* What a user without idictfs does: write a temporary file, rename it over
 * the old one, so that readers never see a partial value. */
static void tmpfs_publish(const char *dir, const char *name, const char *text, gsize len)
{
	char tmp[512], path[512];
	snprintf(tmp, sizeof tmp, "%s/.%s.tmp", dir, name);
	snprintf(path, sizeof path, "%s/%s", dir, name);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		g_error("open %s: %s", tmp, g_strerror(errno));
	if (write(fd, text, len) != (gssize)len)
		g_error("write %s: %s", tmp, g_strerror(errno));
	close(fd);
	if (rename(tmp, path) != 0)
		g_error("rename %s: %s", tmp, g_strerror(errno));
}

static void tmpfs_publish_double(const char *dir, const char *name, double value)
{
	char text[40];
	int len = snprintf(text, sizeof text, "%.17g\n", value);
	tmpfs_publish(dir, name, text, (gsize)len);
}

static void write_file(const char *path, GBytes *bytes)
{
	g_autoptr(GError) error = NULL;
	gsize len = 0;
	const char *data = g_bytes_get_data(bytes, &len);
	if (!g_file_set_contents(path, data, (gssize)len, &error))
		g_error("%s", error->message);
}

static IDictServer *serve(IDict *dict, const char *what, char **mnt_out)
{
	char *mnt = new_mount_dir(what);
	g_autoptr(GError) error = NULL;
	/* IDICT_BENCH_SERVE_OPTIONS: idict_serve()'s options, to compare them. */
	IDictServer *server =
		idict_serve(dict, mnt, g_getenv("IDICT_BENCH_SERVE_OPTIONS"), &error);
	if (server == NULL)
		g_error("idict_serve: %s", error->message);
	*mnt_out = mnt;
	return server;
}

static GBytes *file_bytes(const char *path)
{
	g_autoptr(GError) error = NULL;
	char *data = NULL;
	gsize len = 0;
	if (!g_file_get_contents(path, &data, &len, &error))
		g_error("%s", error->message);
	return g_bytes_new_take(data, len);
}

/* A field like the demo's: smooth, with full-precision values. */
static double *field_new(gsize n)
{
	double *u = g_new(double, n);
	for (gsize i = 0; i < n; i++) {
		double x = (double)i / (double)(n > 1 ? n - 1 : 1);
		u[i] = sin(G_PI * x) + 0.5 * sin(5 * G_PI * x);
	}
	return u;
}

static const double RESIDUAL = 0.0007125883079622651;

/* ==== results ============================================================ */

static struct {
	/* 1: the computation's cost */
	Stats set_nosrv, set_mounted, set_tmpfs, set_1key, set_100k;
	/* 3: reads */
	Stats small_idict, small_floor, small_tmpfs;
	Stats array_idict, array_floor, array_tmpfs, array_changed;
	gsize small_len, array_len;
	/* 4: update latency */
	Stats lat_idict, lat_floor, lat_inotify, lat_redis;
	/* 5: rendering and large arrays */
	Stats render_idict, render_printf;
	Stats large_first, large_cached, large_floor, large_tmpfs;
	Stats raw_idict, raw_tmpfs; /* raw/big: the doubles' own bytes */
	double raw_bytes;
	gsize large_bytes;
	/* 6: scale */
	Stats ls_idict, ls_floor, ls_tmpfs;
	Stats mem_key, mem_value;
	/* 7: Redis */
	Stats redis_publish, redis_get;
	const char *redis_note;
	/* 9: what clients cost */
	Stats held_rss, held_rss_base;
	gsize held_len;
	guint held_failed;
	int held_errno;
	Stats fresh_older, fresh_back, fresh_worst, fresh_older_big, fresh_back_big;
	const char *fresh_note;
	Stats snap_stat, key_stat;
	Stats snap_set_worst[2], snap_set_worst_base[2], snap_read[2], snap_read_base[2];
} R;

/* ==== 6b: memory per key (first: the process must have no threads) ======= */

static long rss_bytes(void)
{
	long pages = 0, resident = 0;
	FILE *f = fopen("/proc/self/statm", "r");
	if (f == NULL || fscanf(f, "%ld %ld", &pages, &resident) != 2)
		g_error("cannot read /proc/self/statm");
	fclose(f);
	return resident * sysconf(_SC_PAGESIZE);
}

#define N_SCALE_KEYS 100000

/* In a child: RSS growth per item for @n keys (@keys) or @n bare values. */
static double measure_memory_child(gboolean keys, guint n)
{
	int fds[2];
	if (pipe(fds) != 0)
		g_error("pipe: %s", g_strerror(errno));
	pid_t pid = fork();
	if (pid == 0) {
		close(fds[0]);
		char name[32];
		long before = rss_bytes();
		double per = 0;
		if (keys) {
			IDict *dict = idict_new();
			for (guint i = 0; i < n; i++) {
				snprintf(name, sizeof name, "k%06u", i);
				idict_set_double(dict, name, i * RESIDUAL, NULL);
			}
			/* As in a computation's loop: the update lists the new
			 * keys and empties the set of changed keys. */
			idict_notify_update(dict, FALSE);
			per = (double)(rss_bytes() - before) / n;
		} else {
			GPtrArray *values = g_ptr_array_sized_new(n);
			long with_array = rss_bytes();
			for (guint i = 0; i < n; i++)
				g_ptr_array_add(values, g_variant_ref_sink(g_variant_new_double(i * RESIDUAL)));
			per = (double)(rss_bytes() - with_array) / n;
		}
		if (write(fds[1], &per, sizeof per) != sizeof per)
			_exit(1);
		_exit(0);
	}
	close(fds[1]);
	double per = NAN;
	if (read(fds[0], &per, sizeof per) != sizeof per)
		per = NAN;
	close(fds[0]);
	waitpid(pid, NULL, 0);
	return per;
}

static void bench_memory(void)
{
	g_autoptr(GArray) keys = samples_new();
	g_autoptr(GArray) values = samples_new();
	for (guint r = 0; r < reps(5); r++) {
		add_sample(keys, measure_memory_child(TRUE, N_SCALE_KEYS));
		add_sample(values, measure_memory_child(FALSE, N_SCALE_KEYS));
	}
	R.mem_key = stats_of(keys);
	R.mem_value = stats_of(values);
}

/* ==== 1: the computation's cost ========================================== */

/* ns per idict_set_double + idict_notify_update, over @iters iterations. */
static double idict_set_batch(IDict *dict, guint iters)
{
	gint64 t0 = now_ns();
	for (guint i = 0; i < iters; i++) {
		idict_set_double(dict, "residual", RESIDUAL * i, NULL);
		idict_notify_update(dict, FALSE);
	}
	return (double)(now_ns() - t0) / iters;
}

static double tmpfs_set_batch(const char *dir, guint iters)
{
	gint64 t0 = now_ns();
	for (guint i = 0; i < iters; i++)
		tmpfs_publish_double(dir, "residual", RESIDUAL * i);
	return (double)(now_ns() - t0) / iters;
}

static IDict *dict_with_keys(guint n)
{
	IDict *dict = idict_new();
	char name[32];
	for (guint i = 0; i < n; i++) {
		snprintf(name, sizeof name, "k%06u", i);
		idict_set_double(dict, name, i * RESIDUAL, NULL);
	}
	idict_set_double(dict, "residual", RESIDUAL, NULL);
	idict_notify_update(dict, FALSE);
	return dict;
}

static void bench_cost(void)
{
	const guint batch = 20000, tbatch = 200, rounds = reps(31);
	g_autofree char *tdir = new_tmpfs_dir("cost");
	g_autoptr(IDict) one = dict_with_keys(0);
	g_autoptr(IDict) many = dict_with_keys(N_SCALE_KEYS);
	g_autoptr(IDict) served = dict_with_keys(0);
	g_autofree char *mnt = NULL;
	IDictServer *server = serve(served, "cost", &mnt);

	g_autoptr(GArray) nosrv = samples_new(), mounted = samples_new(), tmpfs = samples_new();
	g_autoptr(GArray) s1 = samples_new(), s100k = samples_new();
	/* Warm up, then interleave so that drift hits every series alike. */
	idict_set_batch(one, batch);
	idict_set_batch(many, batch);
	idict_set_batch(served, batch);
	tmpfs_set_batch(tdir, tbatch);
	for (guint r = 0; r < rounds; r++) {
		add_sample(nosrv, idict_set_batch(one, batch));
		add_sample(mounted, idict_set_batch(served, batch));
		add_sample(tmpfs, tmpfs_set_batch(tdir, tbatch));
		add_sample(s1, idict_set_batch(one, batch));
		add_sample(s100k, idict_set_batch(many, batch));
	}
	idict_server_wait_then_close(server, 0);
	R.set_nosrv = stats_of(nosrv);
	R.set_mounted = stats_of(mounted);
	R.set_tmpfs = stats_of(tmpfs);
	R.set_1key = stats_of(s1);
	R.set_100k = stats_of(s100k);
	remove_tree(tdir);
}

/* ==== 2: the computation while watched =================================== */

#define DEMO_POINTS 64

/* The demo's step (contrib/idict-demo.c): an explicit heat-equation step on
 * DEMO_POINTS points, then its five keys published. */
typedef struct {
	double u[DEMO_POINTS], next[DEMO_POINTS];
	double t, dx;
	gint64 step;
} Demo;

static void demo_init(Demo *d)
{
	g_autofree double *u = field_new(DEMO_POINTS);
	memcpy(d->u, u, sizeof d->u);
	d->u[0] = d->u[DEMO_POINTS - 1] = 0;
	d->dx = 1.0 / (DEMO_POINTS - 1);
	d->t = 0;
	d->step = 0;
}

static double demo_compute(Demo *d, double alpha)
{
	double residual = 0;
	d->next[0] = d->next[DEMO_POINTS - 1] = 0;
	for (gsize i = 1; i + 1 < DEMO_POINTS; i++) {
		d->next[i] = d->u[i] + alpha * (d->u[i - 1] - 2 * d->u[i] + d->u[i + 1]);
		residual = fmax(residual, fabs(d->next[i] - d->u[i]));
	}
	memcpy(d->u, d->next, sizeof d->u);
	d->step++;
	d->t += alpha * d->dx * d->dx;
	/* The field decays; restart it so that the values stay non-trivial. */
	if (residual < 1e-12)
		demo_init(d);
	return residual;
}

static void demo_step_idict(IDict *dict, Demo *d)
{
	idict_wait(dict, -1);
	double alpha = 0.25;
	idict_get_double(dict, "params/alpha", &alpha, NULL);
	double residual = demo_compute(d, alpha);
	idict_lock(dict);
	idict_set_int(dict, "step", d->step, NULL);
	idict_set_double(dict, "time", d->t, NULL);
	idict_set_double(dict, "residual", residual, NULL);
	idict_set_array(dict, "u", d->u, DEMO_POINTS, NULL);
	idict_set_string(dict, "message", "running", NULL);
	idict_unlock(dict);
	idict_notify_update(dict, FALSE);
}

static void demo_step_tmpfs(const char *dir, Demo *d)
{
	double residual = demo_compute(d, 0.25);
	char text[DEMO_POINTS * 26 + 64];
	int len = snprintf(text, sizeof text, "%" G_GINT64_FORMAT "\n", d->step);
	tmpfs_publish(dir, "step", text, (gsize)len);
	tmpfs_publish_double(dir, "time", d->t);
	tmpfs_publish_double(dir, "residual", residual);
	len = 0;
	for (gsize i = 0; i < DEMO_POINTS; i++)
		len += snprintf(text + len, sizeof text - (gsize)len, "%.17g\n", d->u[i]);
	tmpfs_publish(dir, "u", text, (gsize)len);
	tmpfs_publish(dir, "message", "running\n", 8);
}

typedef struct {
	IDict *dict;     /* NULL: the tmpfs alternative */
	const char *dir; /* its directory */
	Demo demo;
} Computation;

/* CPU time the calling thread has used, in ns: what the computation's own
 * thread pays, apart from the CPU its watchers take from the machine. */
static gint64 thread_cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (gint64)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Runs for @seconds.  Returns: steps per second; the calling thread's CPU
 * time per step in *@cpu_ns (nullable). */
static double run_demo(Computation *c, double seconds, double *cpu_ns)
{
	gint64 start = now_ns(), end = start + (gint64)(seconds * 1e9), now;
	gint64 cpu0 = thread_cpu_ns();
	guint64 steps = 0;
	do {
		for (int i = 0; i < 16; i++) {
			if (c->dict)
				demo_step_idict(c->dict, &c->demo);
			else
				demo_step_tmpfs(c->dir, &c->demo);
		}
		steps += 16;
	} while ((now = now_ns()) < end);
	if (cpu_ns)
		*cpu_ns = (double)(thread_cpu_ns() - cpu0) / (double)steps;
	return steps * 1e9 / (double)(now - start);
}

/* Runs set + notify (or the tmpfs publish) for @seconds.  Returns: ns each. */
static double run_set(Computation *c, double seconds)
{
	gint64 start = now_ns(), end = start + (gint64)(seconds * 1e9), now;
	guint64 n = 0;
	do {
		if (c->dict) {
			for (int i = 0; i < 256; i++) {
				idict_set_double(c->dict, "residual", RESIDUAL * (double)(n + i), NULL);
				idict_notify_update(c->dict, FALSE);
			}
			n += 256;
		} else {
			for (int i = 0; i < 8; i++)
				tmpfs_publish_double(c->dir, "residual", RESIDUAL * (double)(n + i));
			n += 8;
		}
	} while ((now = now_ns()) < end);
	return (double)(now - start) / (double)n;
}

/* Starts the watchers: cat loops over the five keys, and followers of the
 * updates (cat of `updates` for idictfs; inotify followers that read each
 * renamed file for tmpfs).  Returns: their pids (process group leaders). */
static GArray *start_watchers(Computation *c, const char *self_exe, int cpu)
{
	GArray *pids = g_array_new(FALSE, FALSE, sizeof(pid_t));
	static const char *const keys[] = { "step", "time", "residual", "u", "message" };
	g_autofree char *k0 = g_build_filename(c->dir, keys[0], NULL);
	g_autofree char *k1 = g_build_filename(c->dir, keys[1], NULL);
	g_autofree char *k2 = g_build_filename(c->dir, keys[2], NULL);
	g_autofree char *k3 = g_build_filename(c->dir, keys[3], NULL);
	g_autofree char *k4 = g_build_filename(c->dir, keys[4], NULL);
	for (gint i = 0; i < opt_cat_readers; i++) {
		char *argv[] = { (char *)"sh", (char *)"-c",
				 (char *)"while :; do cat \"$@\"; done", (char *)"sh",
				 k0, k1, k2, k3, k4, NULL };
		pid_t pid = spawn_child(argv, cpu);
		g_array_append_val(pids, pid);
	}
	g_autofree char *updates = g_build_filename(c->dir, "updates", NULL);
	for (gint i = 0; i < opt_stream_readers; i++) {
		char *cat_argv[] = { (char *)"cat", updates, NULL };
		char *follow_argv[] = { (char *)self_exe, (char *)"--follow-inotify",
					(char *)c->dir, NULL };
		pid_t pid = spawn_child(c->dict ? cat_argv : follow_argv, cpu);
		g_array_append_val(pids, pid);
	}
	return pids;
}

/* The figures of one configuration of watchers. */
typedef struct {
	Stats set_un, set_w, set_slow, demo_un, demo_w, demo_slow;
	Stats cpu_un, cpu_w, cpu_ratio; /* the computation thread's CPU ns per demo step */
} Watched;

/* Alternates unwatched rounds (watchers stopped with SIGSTOP) and watched
 * rounds (SIGCONT), for the set + notify loop and for the demo's step. */
static void watched_rounds(Computation *c, GArray *pids, Watched *out)
{
	const guint rounds = reps(8);
	const double secs = opt_quick ? 0.1 : 0.2;
	g_autoptr(GArray) su = samples_new(), sw = samples_new();
	g_autoptr(GArray) du = samples_new(), dw = samples_new();
	g_autoptr(GArray) su_rate = samples_new(), sw_rate = samples_new();
	g_autoptr(GArray) cu = samples_new(), cw = samples_new();
	pid_t *p = (pid_t *)(void *)pids->data;
	double cpu = 0;
	g_usleep(300 * 1000); /* let the watchers get going */
	for (guint r = 0; r < rounds; r++) {
		signal_children(p, pids->len, SIGSTOP);
		g_usleep(20 * 1000);
		add_sample(su, run_set(c, secs));
		add_sample(du, run_demo(c, secs, &cpu));
		add_sample(cu, cpu);
		signal_children(p, pids->len, SIGCONT);
		g_usleep(50 * 1000);
		add_sample(sw, run_set(c, secs));
		add_sample(dw, run_demo(c, secs, &cpu));
		add_sample(cw, cpu);
	}
	/* The set figure is in ns per update: the slowdown is the rate ratio. */
	for (guint i = 0; i < su->len; i++) {
		add_sample(su_rate, 1.0 / g_array_index(su, double, i));
		add_sample(sw_rate, 1.0 / g_array_index(sw, double, i));
	}
	out->set_un = stats_of(su);
	out->set_w = stats_of(sw);
	out->set_slow = ratio_stats(sw_rate, su_rate);
	out->demo_un = stats_of(du);
	out->demo_w = stats_of(dw);
	out->demo_slow = ratio_stats(dw, du);
	out->cpu_un = stats_of(cu);
	out->cpu_w = stats_of(cw);
	out->cpu_ratio = ratio_stats(cw, cu);
}

/* Runs the rounds with the watchers anywhere, then (on 2 or more CPUs) with
 * the computation's thread on CPU 0 and the watchers on CPU 1, so that the
 * second figure shows the interference of serving rather than two cores
 * shared by 40 busy readers. */
static void watched_both(Computation *c, const char *self_exe, Watched *free_cpus, Watched *pinned)
{
	g_autoptr(GArray) pids = start_watchers(c, self_exe, -1);
	watched_rounds(c, pids, free_cpus);
	stop_children((pid_t *)(void *)pids->data, pids->len);
	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		return;
	cpu_set_t old, cpu0;
	sched_getaffinity(0, sizeof old, &old);
	CPU_ZERO(&cpu0);
	CPU_SET(0, &cpu0);
	sched_setaffinity(0, sizeof cpu0, &cpu0);
	g_autoptr(GArray) ppids = start_watchers(c, self_exe, 1);
	watched_rounds(c, ppids, pinned);
	stop_children((pid_t *)(void *)ppids->data, ppids->len);
	sched_setaffinity(0, sizeof old, &old);
}

static Watched W_idict, W_idict_pinned, W_tmpfs, W_tmpfs_pinned;

static void bench_watched(const char *self_exe)
{
	/* idictfs: the demo's keys, served. */
	Computation ci = { 0 };
	ci.dict = idict_new();
	demo_init(&ci.demo);
	idict_set_double(ci.dict, "params/alpha", 0.25, NULL);
	idict_set_writable(ci.dict, "params/alpha", TRUE, NULL);
	demo_step_idict(ci.dict, &ci.demo);
	g_autofree char *mnt = NULL;
	IDictServer *server = serve(ci.dict, "watched", &mnt);
	ci.dir = mnt;
	watched_both(&ci, self_exe, &W_idict, &W_idict_pinned);
	idict_server_wait_then_close(server, 0);
	idict_free(ci.dict);

	/* tmpfs: the same step, each key written to a file and renamed. */
	Computation ct = { 0 };
	g_autofree char *tdir = new_tmpfs_dir("watched");
	ct.dir = tdir;
	demo_init(&ct.demo);
	demo_step_tmpfs(tdir, &ct.demo);
	watched_both(&ct, self_exe, &W_tmpfs, &W_tmpfs_pinned);
	remove_tree(tdir);
}

/* The inotify follower, run as `idict-bench --follow-inotify DIR`: waits for
 * a file to be renamed into DIR, then reads it, as a user's script would. */
static int follow_inotify(const char *dir)
{
	int fd = inotify_init1(IN_CLOEXEC);
	if (fd < 0 || inotify_add_watch(fd, dir, IN_MOVED_TO) < 0)
		return 1;
	char events[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	for (;;) {
		gssize n = read(fd, events, sizeof events);
		if (n <= 0)
			return 0;
		for (char *p = events; p < events + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)(void *)p;
			if (ev->len > 0) {
				char path[4096];
				snprintf(path, sizeof path, "%s/%s", dir, ev->name);
				int f = open(path, O_RDONLY);
				if (f >= 0) {
					while (read(f, io_buf, sizeof io_buf) > 0)
						;
					close(f);
				}
			}
			p += sizeof(struct inotify_event) + ev->len;
		}
	}
}

/* ==== 3: reading a key =================================================== */

typedef struct {
	char *small, *array; /* paths */
} ReadTarget;

static double small_batch(const char *path, guint n)
{
	gint64 t0 = now_ns();
	for (guint i = 0; i < n; i++)
		if (read_small(path) <= 0)
			g_error("empty read of %s", path);
	return (double)(now_ns() - t0) / n / 1000.0;
}

static double whole_batch(const char *path, guint n)
{
	gint64 t0 = now_ns();
	for (guint i = 0; i < n; i++)
		if (read_whole(path) == 0)
			g_error("empty read of %s", path);
	return (double)(now_ns() - t0) / n / 1000.0;
}

static void bench_read(void)
{
	g_autoptr(IDict) dict = idict_new();
	g_autofree double *u = field_new(1000);
	idict_set_double(dict, "small", RESIDUAL, NULL);
	idict_set_array(dict, "array", u, 1000, NULL);
	g_autofree char *mnt = NULL;
	IDictServer *server = serve(dict, "read", &mnt);
	ReadTarget ti = { g_build_filename(mnt, "small", NULL), g_build_filename(mnt, "array", NULL) };

	/* The floor and tmpfs serve the very same bytes. */
	g_autoptr(GBytes) small = file_bytes(ti.small);
	g_autoptr(GBytes) array = file_bytes(ti.array);
	R.small_len = g_bytes_get_size(small);
	R.array_len = g_bytes_get_size(array);
	g_autofree char *fmnt = new_mount_dir("floor");
	g_autoptr(GError) error = NULL;
	FloorFs *floor = floor_fs_start(fmnt, small, array, small, 0, &error);
	if (floor == NULL)
		g_error("%s", error->message);
	ReadTarget tf = { g_build_filename(fmnt, "small", NULL), g_build_filename(fmnt, "array", NULL) };
	g_autofree char *tdir = new_tmpfs_dir("read");
	ReadTarget tt = { g_build_filename(tdir, "small", NULL), g_build_filename(tdir, "array", NULL) };
	write_file(tt.small, small);
	write_file(tt.array, array);

	/* Small batches, many rounds: the machine's noise comes in bursts. */
	const guint rounds = reps(60), n_small = 50, n_array = 20;
	g_autoptr(GArray) si = samples_new(), sf = samples_new(), st = samples_new();
	g_autoptr(GArray) ai = samples_new(), af = samples_new(), at = samples_new();
	g_autoptr(GArray) ac = samples_new();
	small_batch(ti.small, n_small);
	small_batch(tf.small, n_small);
	for (guint r = 0; r < rounds; r++) {
		add_sample(si, small_batch(ti.small, n_small));
		add_sample(sf, small_batch(tf.small, n_small));
		add_sample(st, small_batch(tt.small, n_small));
		add_sample(ai, whole_batch(ti.array, n_array));
		add_sample(af, whole_batch(tf.array, n_array));
		add_sample(at, whole_batch(tt.array, n_array));
		/* The array changed since the last read: the open renders it. */
		gint64 total = 0;
		for (guint i = 0; i < n_array; i++) {
			u[i % 1000] += 1e-9;
			idict_set_array(dict, "array", u, 1000, NULL);
			gint64 t0 = now_ns();
			read_whole(ti.array);
			total += now_ns() - t0;
		}
		add_sample(ac, (double)total / n_array / 1000.0);
	}
	R.small_idict = stats_of(si);
	R.small_floor = stats_of(sf);
	R.small_tmpfs = stats_of(st);
	R.array_idict = stats_of(ai);
	R.array_floor = stats_of(af);
	R.array_tmpfs = stats_of(at);
	R.array_changed = stats_of(ac);

	floor_fs_stop(floor);
	idict_server_wait_then_close(server, 0);
	g_free(ti.small), g_free(ti.array), g_free(tf.small), g_free(tf.array);
	g_free(tt.small), g_free(tt.array);
	remove_tree(tdir);
}

/* ==== 4: update latency ================================================== */

/* A thread blocked in one source of notifications (a read of `updates`, a
 * parked read of the floor, inotify, a Redis subscription).  The main thread
 * waits until it sleeps in the kernel, takes t0, publishes; the follower
 * takes t1 as soon as its blocking call returns. */
typedef struct Follower Follower;
struct Follower {
	const char *name;
	gboolean (*wait_event)(Follower *f); /* blocks; FALSE at the end */
	void (*publish)(Follower *f, guint64 i);
	int fd;
	void *ctx;  /* IDict*, FloorFs*, redisContext* */
	void *ctx2; /* the tmpfs directory, the publisher's redisContext* */

	GThread *thread;
	pid_t tid;
	GMutex lock;
	GCond cond;
	gint armed;     /* index of the event it waits for, atomic */
	guint64 got;    /* index of the last event seen */
	char buf[4096];
	gint64 t1;
	gboolean stop;
	GArray *samples;
};

static gpointer follower_main(gpointer data)
{
	Follower *f = data;
	f->tid = (pid_t)syscall(SYS_gettid);
	for (guint64 i = 1;; i++) {
		g_atomic_int_set(&f->armed, (gint)i);
		gboolean ok = f->wait_event(f);
		gint64 t1 = now_ns();
		g_mutex_lock(&f->lock);
		f->t1 = t1;
		f->got = i;
		gboolean stop = f->stop || !ok;
		g_cond_signal(&f->cond);
		g_mutex_unlock(&f->lock);
		if (stop)
			break;
	}
	return NULL;
}

/* TRUE once thread @tid sleeps (state S). */
static gboolean thread_sleeping(pid_t tid)
{
	char path[64], buf[512];
	snprintf(path, sizeof path, "/proc/self/task/%d/stat", (int)tid);
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return FALSE;
	gssize n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return FALSE;
	buf[n] = '\0';
	const char *paren = strrchr(buf, ')');
	return paren && paren[1] == ' ' && paren[2] == 'S';
}

static void follower_start(Follower *f)
{
	g_mutex_init(&f->lock);
	g_cond_init(&f->cond);
	f->samples = samples_new();
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	f->thread = g_thread_new(f->name, follower_main, f);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

/* One measured event. */
static void follower_measure(Follower *f, guint64 i)
{
	/* Wait until the follower is blocked in its call for event i. */
	gint64 give_up = now_ns() + 2000000000;
	while ((guint64)g_atomic_int_get(&f->armed) != i || f->tid == 0 ||
	       !thread_sleeping(f->tid)) {
		if (now_ns() > give_up)
			break;
		g_usleep(20);
	}
	g_usleep(200); /* the request reaches the server and is parked */
	gint64 t0 = now_ns();
	f->publish(f, i);
	g_mutex_lock(&f->lock);
	while (f->got < i)
		g_cond_wait(&f->cond, &f->lock);
	gint64 t1 = f->t1;
	g_mutex_unlock(&f->lock);
	if (t1 >= t0)
		add_sample(f->samples, (double)(t1 - t0) / 1000.0);
}

static void follower_stop(Follower *f, guint64 next)
{
	g_mutex_lock(&f->lock);
	f->stop = TRUE;
	g_mutex_unlock(&f->lock);
	f->publish(f, next);
	g_thread_join(f->thread);
	g_mutex_clear(&f->lock);
	g_cond_clear(&f->cond);
}

static gboolean read_event(Follower *f)
{
	return read(f->fd, f->buf, sizeof f->buf) > 0;
}

static void publish_idict(Follower *f, guint64 i)
{
	(void)i;
	idict_notify_update(f->ctx, FALSE);
}

static void publish_floor(Follower *f, guint64 i)
{
	char line[64];
	snprintf(line, sizeof line, "%" G_GUINT64_FORMAT " update residual\n", i);
	floor_fs_notify(f->ctx, line);
}

static void publish_tmpfs(Follower *f, guint64 i)
{
	(void)i;
	char tmp[512], path[512];
	snprintf(tmp, sizeof tmp, "%s/.residual.tmp", (const char *)f->ctx2);
	snprintf(path, sizeof path, "%s/residual", (const char *)f->ctx2);
	if (rename(tmp, path) != 0)
		g_error("rename: %s", g_strerror(errno));
}

#ifdef HAVE_HIREDIS
static gboolean redis_event(Follower *f)
{
	redisReply *reply = NULL;
	if (redisGetReply(f->ctx, (void **)&reply) != REDIS_OK || reply == NULL)
		return FALSE;
	freeReplyObject(reply);
	return TRUE;
}

static void publish_redis(Follower *f, guint64 i)
{
	(void)i;
	redisReply *reply = redisCommand(f->ctx2, "PUBLISH updates residual");
	if (reply == NULL)
		g_error("redis PUBLISH failed");
	freeReplyObject(reply);
}
#endif

/* Prepares what publish() sends: the value changes before t0. */
static void prepare_event(Follower *f, guint64 i)
{
	if (f->publish == publish_idict) {
		idict_set_double(f->ctx, "residual", RESIDUAL * (double)i, NULL);
	} else if (f->publish == publish_tmpfs) {
		char tmp[512], text[40];
		snprintf(tmp, sizeof tmp, "%s/.residual.tmp", (const char *)f->ctx2);
		int len = snprintf(text, sizeof text, "%.17g\n", RESIDUAL * (double)i);
		int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd < 0 || write(fd, text, (gsize)len) != len)
			g_error("cannot write %s", tmp);
		close(fd);
	}
#ifdef HAVE_HIREDIS
	else if (f->publish == publish_redis) {
		redisReply *reply = redisCommand(f->ctx2, "SET residual %.17g", RESIDUAL * (double)i);
		if (reply == NULL)
			g_error("redis SET failed");
		freeReplyObject(reply);
	}
#endif
}

#ifdef HAVE_HIREDIS
static int redis_port;
static pid_t redis_pid;
#endif

static void bench_latency(void)
{
	Follower fs[4];
	memset(fs, 0, sizeof fs);
	guint n = 0;

	g_autoptr(IDict) dict = idict_new();
	idict_set_double(dict, "residual", RESIDUAL, NULL);
	g_autofree char *mnt = NULL;
	IDictServer *server = serve(dict, "latency", &mnt);
	g_autofree char *updates = g_build_filename(mnt, "updates", NULL);
	Follower *fi = &fs[n++];
	fi->name = "idictfs";
	fi->ctx = dict;
	fi->fd = open(updates, O_RDONLY);
	fi->wait_event = read_event;
	fi->publish = publish_idict;

	g_autofree char *fmnt = new_mount_dir("floor");
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) one = g_bytes_new_static("0\n", 2);
	FloorFs *floor = floor_fs_start(fmnt, one, one, one, 0, &error);
	if (floor == NULL)
		g_error("%s", error->message);
	g_autofree char *stream = g_build_filename(fmnt, "stream", NULL);
	Follower *ff = &fs[n++];
	ff->name = "floor";
	ff->ctx = floor;
	ff->fd = open(stream, O_RDONLY);
	ff->wait_event = read_event;
	ff->publish = publish_floor;

	g_autofree char *tdir = new_tmpfs_dir("latency");
	Follower *ft = &fs[n++];
	ft->name = "inotify";
	ft->ctx2 = tdir;
	ft->fd = inotify_init1(IN_CLOEXEC);
	if (ft->fd < 0 || inotify_add_watch(ft->fd, tdir, IN_MOVED_TO) < 0)
		g_error("inotify: %s", g_strerror(errno));
	ft->wait_event = read_event;
	ft->publish = publish_tmpfs;

#ifdef HAVE_HIREDIS
	redisContext *sub = NULL, *pub = NULL;
	if (redis_port) {
		struct timeval tv = { 2, 0 };
		sub = redisConnectWithTimeout("127.0.0.1", redis_port, tv);
		pub = redisConnectWithTimeout("127.0.0.1", redis_port, tv);
		if (sub == NULL || sub->err || pub == NULL || pub->err)
			g_error("cannot connect to redis");
		redisReply *reply = redisCommand(sub, "SUBSCRIBE updates");
		freeReplyObject(reply);
		redisSetTimeout(sub, (struct timeval){ 0, 0 }); /* block while waiting */
		Follower *fr = &fs[n++];
		fr->name = "redis";
		fr->ctx = sub;
		fr->ctx2 = pub;
		fr->wait_event = redis_event;
		fr->publish = publish_redis;
	}
#endif
	if (fi->fd < 0 || ff->fd < 0)
		g_error("cannot open the update streams");
	for (guint k = 0; k < n; k++)
		follower_start(&fs[k]);

	/* Blocks of events per source, interleaved. */
	const guint total = opt_quick ? 500 : (guint)opt_updates, block = 250;
	guint64 next[4] = { 1, 1, 1, 1 };
	for (guint done = 0; done < total; done += block) {
		for (guint k = 0; k < n; k++) {
			for (guint j = 0; j < block; j++) {
				prepare_event(&fs[k], next[k]);
				follower_measure(&fs[k], next[k]);
				next[k]++;
			}
		}
	}
	for (guint k = 0; k < n; k++) {
		prepare_event(&fs[k], next[k]);
		follower_stop(&fs[k], next[k]);
	}
	R.lat_idict = stats_of(fi->samples);
	R.lat_floor = stats_of(ff->samples);
	R.lat_inotify = stats_of(ft->samples);
	if (n > 3)
		R.lat_redis = stats_of(fs[3].samples);
	for (guint k = 0; k < n; k++) {
		if (fs[k].fd > 0)
			close(fs[k].fd);
		g_array_unref(fs[k].samples);
	}
#ifdef HAVE_HIREDIS
	if (sub)
		redisFree(sub);
	if (pub)
		redisFree(pub);
#endif
	floor_fs_stop(floor);
	idict_server_wait_then_close(server, 0);
	remove_tree(tdir);
}

/* ==== 5: rendering doubles and large arrays ============================== */

static volatile gsize render_sink;

static double render_idict(const double *v, gsize n)
{
	char buf[IDICT__DOUBLE_BUF];
	gsize total = 0;
	gint64 t0 = now_ns();
	for (gsize i = 0; i < n; i++)
		total += idict__format_double(buf, v[i]);
	gint64 dt = now_ns() - t0;
	render_sink += total;
	return n * 1e3 / (double)dt; /* million per second */
}

static double render_printf(const double *v, gsize n)
{
	char buf[IDICT__DOUBLE_BUF];
	gsize total = 0;
	gint64 t0 = now_ns();
	for (gsize i = 0; i < n; i++)
		total += (gsize)snprintf(buf, sizeof buf, "%.17g", v[i]);
	gint64 dt = now_ns() - t0;
	render_sink += total;
	return n * 1e3 / (double)dt;
}

static void bench_render(void)
{
	/* Typical results: full-precision values over many magnitudes. */
	const gsize n = 50000;
	g_autofree double *v = g_new(double, n);
	GRand *rand = g_rand_new_with_seed(5);
	for (gsize i = 0; i < n; i++)
		v[i] = g_rand_double(rand) * pow(10, g_rand_int_range(rand, -6, 7));
	g_rand_free(rand);
	g_autoptr(GArray) a = samples_new(), b = samples_new();
	render_idict(v, n / 10);
	render_printf(v, n / 10);
	for (guint r = 0; r < reps(21); r++) {
		add_sample(a, render_idict(v, n));
		add_sample(b, render_printf(v, n));
	}
	R.render_idict = stats_of(a);
	R.render_printf = stats_of(b);
}

static double mb_per_s(gsize bytes, gint64 ns)
{
	return bytes * 1e3 / (double)ns; /* bytes/ns * 1000 = MB/s */
}

/* cat @path to the end.  Returns: MB/s. */
static double timed_read_mb_s(const char *path)
{
	gint64 t0 = now_ns();
	gsize bytes = read_whole(path);
	gint64 dt = now_ns() - t0;
	return mb_per_s(bytes, dt);
}

static void bench_large(void)
{
	const gsize n = opt_quick ? (gsize)opt_large / 10 : (gsize)opt_large;
	g_autofree double *u = field_new(n);
	g_autoptr(IDict) dict = idict_new();
	idict_set_array(dict, "big", u, n, NULL);
	g_autofree char *mnt = NULL;
	IDictServer *server = serve(dict, "large", &mnt);
	g_autofree char *path = g_build_filename(mnt, "big", NULL);

	g_autoptr(GArray) first = samples_new(), cached = samples_new();
	g_autoptr(GArray) fl = samples_new(), tf = samples_new();
	/* First read after a change: the open renders the text. */
	gint64 t0 = now_ns();
	gsize bytes = read_whole(path);
	add_sample(first, mb_per_s(bytes, now_ns() - t0));
	R.large_bytes = bytes;

	g_autoptr(GBytes) text = file_bytes(path);
	g_autofree char *fmnt = new_mount_dir("floor");
	g_autoptr(GError) error = NULL;
	FloorFs *floor = floor_fs_start(fmnt, text, text, text, 0, &error);
	if (floor == NULL)
		g_error("%s", error->message);
	g_autofree char *fpath = g_build_filename(fmnt, "big", NULL);
	g_autofree char *tdir = new_tmpfs_dir("large");
	g_autofree char *tpath = g_build_filename(tdir, "big", NULL);
	write_file(tpath, text);
	g_clear_pointer(&text, g_bytes_unref);

	for (guint r = 0; r < reps(5); r++) {
		add_sample(cached, timed_read_mb_s(path));
		add_sample(fl, timed_read_mb_s(fpath));
		add_sample(tf, timed_read_mb_s(tpath));
	}
	/* Two more changes, for the spread of the first read. */
	for (guint r = 0; r < 2; r++) {
		u[0] += 1e-9;
		idict_set_array(dict, "big", u, n, NULL);
		t0 = now_ns();
		bytes = read_whole(path);
		add_sample(first, mb_per_s(bytes, now_ns() - t0));
	}
	/* raw/big, numpy.fromfile's view, against the same bytes on tmpfs. */
	g_autofree char *rpath = g_build_filename(mnt, "raw", "big", NULL);
	g_autofree char *rtpath = g_build_filename(tdir, "big.raw", NULL);
	g_autoptr(GBytes) raw = g_bytes_new_static(u, n * sizeof(double));
	write_file(rtpath, raw);
	R.raw_bytes = (double)(n * sizeof(double));
	g_autoptr(GArray) ri = samples_new(), rt = samples_new();
	for (guint r = 0; r < reps(5); r++) {
		add_sample(ri, timed_read_mb_s(rpath));
		add_sample(rt, timed_read_mb_s(rtpath));
	}
	R.raw_idict = stats_of(ri);
	R.raw_tmpfs = stats_of(rt);
	R.large_first = stats_of(first);
	R.large_cached = stats_of(cached);
	R.large_floor = stats_of(fl);
	R.large_tmpfs = stats_of(tf);
	floor_fs_stop(floor);
	idict_server_wait_then_close(server, 0);
	remove_tree(tdir);
}

/* ==== 6: scale =========================================================== */

/* `ls -f`: open the directory, getdents64 to the end, close; no stat.
 * Returns: ms. */
static double list_dir(const char *path, guint expect_at_least)
{
	gint64 t0 = now_ns();
	int fd = open(path, O_RDONLY | O_DIRECTORY);
	if (fd < 0)
		g_error("open %s: %s", path, g_strerror(errno));
	guint entries = 0;
	long n;
	while ((n = syscall(SYS_getdents64, fd, io_buf, sizeof io_buf)) > 0) {
		for (long off = 0; off < n;) {
			unsigned short reclen;
			memcpy(&reclen, io_buf + off + 16, sizeof reclen); /* d_reclen */
			off += reclen;
			entries++;
		}
	}
	close(fd);
	double ms = (double)(now_ns() - t0) / 1e6;
	if (entries < expect_at_least)
		g_error("%s: %u entries, expected at least %u", path, entries, expect_at_least);
	return ms;
}

static void bench_scale(void)
{
	g_autoptr(IDict) dict = dict_with_keys(N_SCALE_KEYS);
	g_autofree char *mnt = NULL;
	IDictServer *server = serve(dict, "scale", &mnt);

	g_autofree char *fmnt = new_mount_dir("floor");
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) one = g_bytes_new_static("0\n", 2);
	FloorFs *floor = floor_fs_start(fmnt, one, one, one, N_SCALE_KEYS, &error);
	if (floor == NULL)
		g_error("%s", error->message);
	g_autofree char *many = g_build_filename(fmnt, "many", NULL);

	g_autofree char *tdir = new_tmpfs_dir("scale");
	char name[512];
	for (guint i = 0; i < N_SCALE_KEYS; i++) {
		snprintf(name, sizeof name, "%s/k%06u", tdir, i);
		int fd = open(name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (fd < 0)
			g_error("create %s: %s", name, g_strerror(errno));
		close(fd);
	}
	g_autoptr(GArray) li = samples_new(), lf = samples_new(), lt = samples_new();
	list_dir(mnt, N_SCALE_KEYS);
	list_dir(many, N_SCALE_KEYS);
	list_dir(tdir, N_SCALE_KEYS);
	for (guint r = 0; r < reps(11); r++) {
		add_sample(li, list_dir(mnt, N_SCALE_KEYS));
		add_sample(lf, list_dir(many, N_SCALE_KEYS));
		add_sample(lt, list_dir(tdir, N_SCALE_KEYS));
	}
	R.ls_idict = stats_of(li);
	R.ls_floor = stats_of(lf);
	R.ls_tmpfs = stats_of(lt);
	floor_fs_stop(floor);
	idict_server_wait_then_close(server, 0);
	remove_tree(tdir);
}

/* ==== 8: readers of `updates` who cannot slow the computation ============ */

/* Issue 10's attack: a computation publishing ATTACK_KEYS keys with
 * ATTACK_NAME_LEN-byte names per update (16.8 KB update lines), watched
 * through an allow_other mount by readers of `updates` running as uid
 * nobody in a child process (`idict-bench --stream-attack MODE N PATH`):
 *   slow: open, wait 1.2 s, read 1 byte, close; loop (each thread starts
 *         at its own point of the 1.2 s, so that reads are spread out);
 *   cat:  open, read with cat's 128 KiB buffer to end of file, close; loop.
 * Rounds with the readers stopped (SIGSTOP: their files stay open) and
 * running (SIGCONT) alternate, as in section 2. */
#define ATTACK_KEYS 80
#define ATTACK_NAME_LEN 210
#define NOBODY_UID 65534
/* What README and idictfs(7) promise all readers of `updates` cost in
 * total, the update log included: 16 MiB of log, 16 MiB of lines readers
 * are in the middle of, and one reply being written per serving thread
 * (18, each at most 1 MiB and two lines). */
#define ATTACK_RSS_BOUND_MB (50.0 * 1.048576)
#define ATTACK_RSS_BOUND_TEXT "50 MiB"

typedef struct {
	const char *path;
	gboolean slow;
	guint index, n;
} AttackReader;

static void *attack_reader_main(void *data)
{
	AttackReader *r = data;
	const struct timespec wait = { 1, 200000000 };
	/* Spread the slow readers' reads over their 1.2 s period. */
	gint64 delay_ns = r->slow ? 1200000000LL * r->index / MAX(r->n, 1u) : 0;
	const struct timespec first = { delay_ns / 1000000000, delay_ns % 1000000000 };
	nanosleep(&first, NULL);
	gsize size = r->slow ? 1 : sizeof io_buf;
	char *buf = g_malloc(size);
	for (;;) {
		int fd = open(r->path, O_RDONLY);
		if (fd < 0) {
			g_usleep(100000);
			continue;
		}
		if (r->slow) {
			nanosleep(&wait, NULL);
			if (read(fd, buf, size) < 0) {
				/* EINTR, or the server went away: open again */
			}
		} else {
			while (read(fd, buf, size) > 0)
				;
		}
		close(fd);
	}
	return NULL;
}

/* The reader process: @n threads of @mode on @path, until killed. */
static int stream_attack(const char *mode, int n, const char *path)
{
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 64 * 1024);
	for (int i = 0; i < n; i++) {
		AttackReader *r = g_new0(AttackReader, 1);
		r->path = path;
		r->slow = g_str_equal(mode, "slow");
		r->index = (guint)i;
		r->n = (guint)n;
		pthread_t thread;
		if (pthread_create(&thread, &attr, attack_reader_main, r) != 0)
			return 1;
	}
	for (;;)
		pause();
	return 0;
}

typedef struct {
	IDict *dict;
	char *names[ATTACK_KEYS];
	double x;
} Publisher;

static void publisher_init(Publisher *p)
{
	p->dict = idict_new();
	for (guint i = 0; i < ATTACK_KEYS; i++) {
		char prefix[16];
		int len = snprintf(prefix, sizeof prefix, "series%02u_", i);
		p->names[i] = g_malloc(ATTACK_NAME_LEN + 1);
		memcpy(p->names[i], prefix, (gsize)len);
		memset(p->names[i] + len, 'x', ATTACK_NAME_LEN - (gsize)len);
		p->names[i][ATTACK_NAME_LEN] = '\0';
		idict_set_double(p->dict, p->names[i], 0, NULL);
	}
	idict_notify_update(p->dict, FALSE);
}

static void publisher_clear(Publisher *p)
{
	g_clear_pointer(&p->dict, idict_free);
	for (guint i = 0; i < ATTACK_KEYS; i++)
		g_clear_pointer(&p->names[i], g_free);
}

/* Publishes for @seconds, updating *@peak_rss (the process's largest RSS
 * seen) every 20 ms.  Returns: steps per second; the thread's CPU time per
 * step in *@cpu_ns. */
static double run_publisher(Publisher *p, double seconds, long *peak_rss, double *cpu_ns)
{
	gint64 start = now_ns(), end = start + (gint64)(seconds * 1e9), now;
	gint64 cpu0 = thread_cpu_ns(), next_rss = start;
	guint64 steps = 0;
	do {
		for (int s = 0; s < 8; s++) {
			idict_lock(p->dict);
			for (guint i = 0; i < ATTACK_KEYS; i++)
				idict_set_double(p->dict, p->names[i], p->x + i, NULL);
			idict_unlock(p->dict);
			idict_notify_update(p->dict, FALSE);
			p->x += 1;
		}
		steps += 8;
		now = now_ns();
		if (now >= next_rss) {
			*peak_rss = MAX(*peak_rss, rss_bytes());
			next_rss = now + 20000000;
		}
	} while (now < end);
	*cpu_ns = (double)(thread_cpu_ns() - cpu0) / (double)steps;
	return steps * 1e9 / (double)(now - start);
}

typedef struct {
	Stats rate_un, rate_w, rate_ratio, cpu_ratio;
	/* MB: peak RSS over RSS before the first update, with the readers and
	 * without them (the update log filling up) */
	Stats rss_w, rss_un;
	int n_readers;
} Attacked;

static Attacked A_slow, A_cat;

/* Rounds without readers and with them alternate: for each, the reader
 * process is started, runs for 1.3 s unmeasured (a slow reader's first read
 * comes 1.2 s after its open), is measured, and is killed; the rounds
 * without come after its files are closed, so that what the readers left
 * behind (RSS kept by malloc) is all that carries over. */
static void attack_rounds(const char *self_exe, const char *mode, int n, Attacked *out)
{
	Publisher p = { 0 };
	publisher_init(&p);
	g_autofree char *mnt = new_mount_dir("attack");
	g_autoptr(GError) error = NULL;
	IDictServer *server = idict_serve(p.dict, mnt, "allow_other", &error);
	if (server == NULL)
		g_error("idict_serve: %s", error->message);

	/* Warm up without readers: the update log fills to its bound.  The
	 * growth is measured from here, after what earlier figures freed is
	 * given back to the system. */
	malloc_trim(0);
	long base_rss = rss_bytes(), peak_w = base_rss, peak_un = base_rss, unused_rss = 0;
	double cpu = 0;
	run_publisher(&p, opt_quick ? 0.3 : 1.0, &peak_un, &cpu);

	char count[16];
	snprintf(count, sizeof count, "%d", n);
	/* The readers open "updates" in the mount, where they start: the
	 * directories above it are private to this run. */
	char *argv[] = { (char *)self_exe, (char *)"--stream-attack", (char *)mode, count,
			 (char *)"updates", NULL };
	const guint rounds = reps(4);
	const double secs = opt_quick ? 0.5 : 1.5;
	g_autoptr(GArray) ru = samples_new(), rw = samples_new();
	g_autoptr(GArray) cu = samples_new(), cw = samples_new();
	for (guint r = 0; r < rounds; r++) {
		pid_t readers = spawn_child_as(argv, -1, NOBODY_UID, mnt);
		run_publisher(&p, 1.3, &unused_rss, &cpu);
		add_sample(rw, run_publisher(&p, secs, &peak_w, &cpu));
		add_sample(cw, cpu);
		stop_children(&readers, 1);
		run_publisher(&p, 0.2, &unused_rss, &cpu);
		add_sample(ru, run_publisher(&p, secs, &peak_un, &cpu));
		add_sample(cu, cpu);
	}
	idict_server_wait_then_close(server, 0);
	publisher_clear(&p);

	out->n_readers = n;
	out->rate_un = stats_of(ru);
	out->rate_w = stats_of(rw);
	out->rate_ratio = ratio_stats(rw, ru);
	out->cpu_ratio = ratio_stats(cw, cu);
	g_autoptr(GArray) gw = samples_new(), gu = samples_new();
	add_sample(gw, (double)(peak_w - base_rss) / 1e6);
	add_sample(gu, (double)(peak_un - base_rss) / 1e6);
	out->rss_w = stats_of(gw);
	out->rss_un = stats_of(gu);
}

static void bench_attack(const char *self_exe)
{
	attack_rounds(self_exe, "slow", 100, &A_slow);
	attack_rounds(self_exe, "cat", opt_quick ? 100 : 500, &A_cat);
}

/* ==== 7: Redis =========================================================== */

#ifdef HAVE_HIREDIS
static int free_loopback_port(void)
{
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in addr = { .sin_family = AF_INET,
				    .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof addr;
	int port = 0;
	if (s >= 0 && bind(s, (struct sockaddr *)&addr, sizeof addr) == 0 &&
	    getsockname(s, (struct sockaddr *)&addr, &len) == 0)
		port = ntohs(addr.sin_port);
	if (s >= 0)
		close(s);
	return port;
}

static redisContext *redis_connect(void)
{
	struct timeval tv = { 2, 0 };
	redisContext *c = redisConnectWithTimeout("127.0.0.1", redis_port, tv);
	if (c && c->err) {
		redisFree(c);
		c = NULL;
	}
	return c;
}

/* Starts Debian's redis-server on a free loopback port, no persistence. */
static void redis_start(void)
{
	g_autofree char *exe = g_find_program_in_path("redis-server");
	if (exe == NULL) {
		R.redis_note = "redis-server not installed (apt-get install redis-server)";
		return;
	}
	redis_port = free_loopback_port();
	char port[16];
	snprintf(port, sizeof port, "%d", redis_port);
	char *argv[] = { exe,	 (char *)"--port",	 port,		(char *)"--bind",
			 (char *)"127.0.0.1", (char *)"--save",	 (char *)"",	(char *)"--appendonly",
			 (char *)"no",	 (char *)"--dir",	 work_dir,	(char *)"--daemonize",
			 (char *)"no",	 (char *)"--protected-mode", (char *)"yes", (char *)"--unixsocket",
			 (char *)"",	 NULL };
	redis_pid = spawn_child(argv, -1);
	for (int i = 0; i < 200; i++) {
		redisContext *c = redis_connect();
		if (c) {
			redisFree(c);
			return;
		}
		g_usleep(25 * 1000);
	}
	R.redis_note = "redis-server did not start";
	stop_children(&redis_pid, 1);
	redis_pid = 0;
	redis_port = 0;
}

static void redis_stop(void)
{
	if (redis_pid <= 0)
		return;
	kill(redis_pid, SIGTERM);
	for (int i = 0; i < 300; i++) {
		if (waitpid(redis_pid, NULL, WNOHANG) == redis_pid) {
			for (int j = 0; j < n_children; j++)
				if (children[j] == redis_pid)
					children[j] = 0;
			redis_pid = 0;
			return;
		}
		g_usleep(10 * 1000);
	}
	stop_children(&redis_pid, 1);
	redis_pid = 0;
}

static void bench_redis(void)
{
	if (!redis_port)
		return;
	redisContext *c = redis_connect();
	if (c == NULL)
		g_error("cannot connect to redis");
	const guint rounds = reps(21), batch = 200;
	g_autoptr(GArray) pub = samples_new(), get = samples_new();
	for (guint r = 0; r < rounds + 1; r++) {
		/* SET + PUBLISH, pipelined: one round trip per update. */
		gint64 t0 = now_ns();
		for (guint i = 0; i < batch; i++) {
			redisAppendCommand(c, "SET residual %.17g", RESIDUAL * i);
			redisAppendCommand(c, "PUBLISH updates residual");
			for (int k = 0; k < 2; k++) {
				redisReply *reply = NULL;
				if (redisGetReply(c, (void **)&reply) != REDIS_OK)
					g_error("redis: %s", c->errstr);
				freeReplyObject(reply);
			}
		}
		double pub_ns = (double)(now_ns() - t0) / batch;
		t0 = now_ns();
		for (guint i = 0; i < batch; i++) {
			redisReply *reply = redisCommand(c, "GET residual");
			if (reply == NULL || reply->type != REDIS_REPLY_STRING)
				g_error("redis GET failed");
			freeReplyObject(reply);
		}
		double get_us = (double)(now_ns() - t0) / batch / 1000.0;
		if (r > 0) { /* the first round warms up */
			add_sample(pub, pub_ns);
			add_sample(get, get_us);
		}
	}
	redisFree(c);
	R.redis_publish = stats_of(pub);
	R.redis_get = stats_of(get);
}
#endif

/* ==== 9: what clients cost the computation (issue 10) ==================== */

/* The computation of section 9, run as `idict-bench --serve-changing MNT N`
 * in a process of its own, so that its memory is its own: `u` (N doubles,
 * every value changed at every update), `step` (the number of the update
 * that publishes it) and `x` (step + 2^-(step % 24): a double whose text
 * changes length from one update to the next), one update every 2 ms, as
 * the demo at --delay 2.  Ends cleanly at SIGTERM. */
static int serve_changing(const char *mnt, guint n)
{
	g_autoptr(IDict) dict = idict_new();
	g_autofree double *u = field_new(n);
	idict_set_array(dict, "u", u, n, NULL);
	idict_set_int(dict, "step", 0, NULL);
	idict_set_double(dict, "x", 0, NULL);
	idict_notify_update(dict, FALSE);
	if (!idict_terminate_on_signals(dict, NULL))
		return 1;
	g_autoptr(GError) error = NULL;
	IDictServer *server = idict_serve(dict, mnt, g_getenv("IDICT_BENCH_SERVE_OPTIONS"), &error);
	if (server == NULL) {
		fprintf(stderr, "idict-bench: %s\n", error->message);
		return 1;
	}
	while (!idict_terminated(dict)) {
		gint64 seq = (gint64)idict_sequence(dict) + 1;
		for (guint i = 0; i < n; i++)
			u[i] *= 1 + 1e-12;
		idict_lock(dict);
		idict_set_array(dict, "u", u, n, NULL);
		idict_set_int(dict, "step", seq, NULL);
		idict_set_double(dict, "x", (double)seq + ldexp(1, -(int)(seq % 24)), NULL);
		idict_unlock(dict);
		idict_notify_update(dict, FALSE);
		g_usleep(2000);
	}
	idict_notify_update(dict, TRUE);
	idict_server_wait_then_close(server, 0);
	return 0;
}

/* Starts serve_changing() on a fresh mount.  Returns: its pid. */
static pid_t start_changing(const char *self_exe, guint n, char **mnt_out)
{
	char *mnt = new_mount_dir("clients");
	g_autofree char *points = g_strdup_printf("%u", n);
	char *argv[] = { (char *)self_exe, (char *)"--serve-changing", mnt, points, NULL };
	pid_t pid = spawn_child(argv, -1);
	g_autofree char *step = g_build_filename(mnt, "step", NULL);
	for (int i = 0; i < 400 && access(step, R_OK) != 0; i++)
		g_usleep(25 * 1000);
	if (access(step, R_OK) != 0)
		g_error("the computation of section 9 did not mount %s", mnt);
	*mnt_out = mnt;
	return pid;
}

/* Ends it with SIGTERM (it unmounts), SIGKILL after 10 s. */
static void stop_changing(pid_t pid)
{
	kill(pid, SIGTERM);
	for (int i = 0; i < 200; i++) {
		if (waitpid(pid, NULL, WNOHANG) == pid) {
			for (int j = 0; j < n_children; j++)
				if (children[j] == pid)
					children[j] = 0;
			return;
		}
		g_usleep(50 * 1000);
	}
	stop_children(&pid, 1);
}

/* The resident memory of process @pid, in bytes. */
static double rss_of(pid_t pid)
{
	g_autofree char *path = g_strdup_printf("/proc/%d/status", (int)pid);
	g_autofree char *status = NULL;
	if (!g_file_get_contents(path, &status, NULL, NULL))
		return NAN;
	const char *line = strstr(status, "\nVmRSS:");
	return line ? g_ascii_strtod(line + 7, NULL) * 1024 : NAN;
}

/* The largest RSS of @pid over @seconds, sampled every 20 ms. */
static double peak_rss(pid_t pid, double seconds)
{
	double peak = 0;
	gint64 end = now_ns() + (gint64)(seconds * 1e9);
	do {
		peak = fmax(peak, rss_of(pid));
		g_usleep(20 * 1000);
	} while (now_ns() < end);
	return peak;
}

#define HELD_OPENS 500
#define HELD_POINTS 100000

static void bench_held_opens(const char *self_exe)
{
	g_autofree char *mnt = NULL;
	pid_t pid = start_changing(self_exe, HELD_POINTS, &mnt);
	g_autofree char *u = g_build_filename(mnt, "u", NULL);
	R.held_len = read_whole(u);
	g_autoptr(GArray) grown = samples_new(), base = samples_new();
	int fds[HELD_OPENS];
	char byte;
	g_usleep(500 * 1000);
	for (guint r = 0; r < reps(3); r++) {
		/* Baseline: the same time without readers. */
		double before = rss_of(pid);
		add_sample(base, peak_rss(pid, 3) - before);
		/* Each open reads a byte (so that it holds a text, as a reader
		 * between two reads does) and is kept open. */
		before = rss_of(pid);
		guint failed = 0;
		for (guint i = 0; i < HELD_OPENS; i++) {
			fds[i] = open(u, O_RDONLY);
			if (fds[i] >= 0 && read(fds[i], &byte, 1) != 1) {
				close(fds[i]);
				fds[i] = -1;
			}
			if (fds[i] < 0) {
				if (failed++ == 0)
					R.held_errno = errno;
			}
		}
		add_sample(grown, peak_rss(pid, 1) - before);
		R.held_failed = failed;
		for (guint i = 0; i < HELD_OPENS; i++)
			if (fds[i] >= 0)
				close(fds[i]);
		g_usleep(500 * 1000);
	}
	R.held_rss = stats_of(grown);
	R.held_rss_base = stats_of(base);
	stop_changing(pid);
}

/* Python's ordinary read of a file, in a loop: the number of reads whose
 * value is older than the update published before the open, and of reads
 * that went back from the one before.  @how: "read" for open(p).read()
 * (fstat, then a read of st_size + 1), "big" for one os.read of 64 KiB
 * (as cat).  The key is `x` of serve_changing(): its text changes length. */
static const char freshness_script[] =
	"import os, sys\n"
	"mnt, n, how = sys.argv[1], int(sys.argv[2]), sys.argv[3]\n"
	"def published():\n"
	"    fd = os.open(mnt + '/ctl/sequence', os.O_RDONLY)\n"
	"    try:\n"
	"        return int(os.read(fd, 65536))\n"
	"    finally:\n"
	"        os.close(fd)\n"
	"older = backwards = worst = 0\n"
	"last = -1\n"
	"for i in range(n):\n"
	"    s = published()\n"
	"    if how == 'read':\n"
	"        text = open(mnt + '/x').read()\n"
	"    else:\n"
	"        fd = os.open(mnt + '/x', os.O_RDONLY)\n"
	"        text = os.read(fd, 65536).decode()\n"
	"        os.close(fd)\n"
	"    v = int(float(text))\n"
	"    if v < s:\n"
	"        older += 1\n"
	"        worst = max(worst, s - v)\n"
	"    if v < last:\n"
	"        backwards += 1\n"
	"    last = v\n"
	"print(older, backwards, worst)\n";

/* Returns: FALSE if python3 could not run the script. */
static gboolean python_freshness(const char *mnt, guint n, const char *how, double out[3])
{
	g_autofree char *count = g_strdup_printf("%u", n);
	const char *argv[] = { "/usr/bin/python3", "-c", freshness_script, mnt, count, how, NULL };
	g_autofree char *output = NULL;
	int status = 0;
	if (!g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL,
			  &output, NULL, &status, NULL) ||
	    !g_spawn_check_wait_status(status, NULL))
		return FALSE;
	return sscanf(output, "%lf %lf %lf", &out[0], &out[1], &out[2]) == 3;
}

#define FRESH_READS 1000

static void bench_freshness(const char *self_exe)
{
	g_autofree char *mnt = NULL;
	pid_t pid = start_changing(self_exe, 64, &mnt);
	g_autoptr(GArray) older = samples_new(), back = samples_new(), worst = samples_new();
	g_autoptr(GArray) older_big = samples_new(), back_big = samples_new();
	for (guint r = 0; r < reps(3); r++) {
		double py[3], big[3];
		if (!python_freshness(mnt, FRESH_READS, "read", py) ||
		    !python_freshness(mnt, FRESH_READS, "big", big)) {
			R.fresh_note = "python3 (/usr/bin/python3) did not run";
			break;
		}
		add_sample(older, py[0]);
		add_sample(back, py[1]);
		add_sample(worst, py[2]);
		add_sample(older_big, big[0]);
		add_sample(back_big, big[1]);
	}
	R.fresh_older = stats_of(older);
	R.fresh_back = stats_of(back);
	R.fresh_worst = stats_of(worst);
	R.fresh_older_big = stats_of(older_big);
	R.fresh_back_big = stats_of(back_big);
	stop_changing(pid);
}

#define STAT_LOOPS 4

/* The largest set + notify of `residual` over @seconds, in ms. */
static double worst_set(IDict *dict, double seconds)
{
	gint64 end = now_ns() + (gint64)(seconds * 1e9), worst = 0, t0;
	guint64 i = 0;
	while ((t0 = now_ns()) < end) {
		idict_set_double(dict, "residual", RESIDUAL * (double)i++, NULL);
		idict_notify_update(dict, FALSE);
		worst = MAX(worst, now_ns() - t0);
		if (i % 64 == 0)
			g_usleep(100); /* a computation between its updates */
	}
	return (double)worst / 1e6;
}

/* Median ms of @n opens + reads + closes of @path. */
static double read_key_ms(const char *path, guint n)
{
	g_autoptr(GArray) ms = samples_new();
	for (guint i = 0; i < n; i++) {
		gint64 t0 = now_ns();
		read_small(path);
		add_sample(ms, (double)(now_ns() - t0) / 1e6);
	}
	return stats_of(ms).p50;
}

static void bench_snapshot_stat(void)
{
	g_autoptr(IDict) dict = dict_with_keys(N_SCALE_KEYS);
	g_autofree char *mnt = NULL;
	IDictServer *server = serve(dict, "snapshot", &mnt);
	g_autofree char *snapshot = g_build_filename(mnt, "snapshot.json", NULL);
	g_autofree char *key = g_build_filename(mnt, "residual", NULL);
	struct stat st;
	g_autoptr(GArray) one = samples_new(), one_key = samples_new();
	for (guint r = 0; r < reps(5); r++) {
		gint64 t0 = now_ns();
		if (stat(snapshot, &st) != 0)
			g_error("stat %s: %s", snapshot, g_strerror(errno));
		add_sample(one, (double)(now_ns() - t0) / 1e6);
		t0 = now_ns();
		if (stat(key, &st) != 0)
			g_error("stat %s: %s", key, g_strerror(errno));
		add_sample(one_key, (double)(now_ns() - t0) / 1e6);
	}
	R.snap_stat = stats_of(one);
	R.key_stat = stats_of(one_key);

	/* STAT_LOOPS shells stat snapshot.json in a loop (as `watch stat`
	 * does), then list the root with `ls -l` in a loop; stopped (SIGSTOP)
	 * for the baseline rounds. */
	for (int kind = 0; kind < 2; kind++) {
		pid_t loops[STAT_LOOPS];
		for (guint i = 0; i < STAT_LOOPS; i++) {
			char *argv[] = { (char *)"sh", (char *)"-c",
					 kind == 0 ? (char *)"while :; do stat -c %s \"$1/snapshot.json\" >/dev/null; done"
						   : (char *)"while :; do ls -l \"$1\" >/dev/null; done",
					 (char *)"sh", mnt, NULL };
			loops[i] = spawn_child(argv, -1);
		}
		g_autoptr(GArray) wu = samples_new(), ww = samples_new();
		g_autoptr(GArray) ru = samples_new(), rw = samples_new();
		g_usleep(300 * 1000);
		for (guint r = 0; r < reps(kind == 0 ? 4 : 3); r++) {
			signal_children(loops, STAT_LOOPS, SIGSTOP);
			g_usleep(opt_quick ? 500 * 1000 : 2500 * 1000); /* requests under way end */
			add_sample(wu, worst_set(dict, 2));
			add_sample(ru, read_key_ms(key, 10));
			signal_children(loops, STAT_LOOPS, SIGCONT);
			g_usleep(100 * 1000);
			add_sample(ww, worst_set(dict, 2));
			add_sample(rw, read_key_ms(key, 10));
		}
		stop_children(loops, STAT_LOOPS);
		R.snap_set_worst[kind] = stats_of(ww);
		R.snap_set_worst_base[kind] = stats_of(wu);
		R.snap_read[kind] = stats_of(rw);
		R.snap_read_base[kind] = stats_of(ru);
	}
	idict_server_wait_then_close(server, 0);
}

static void bench_clients(const char *self_exe)
{
	bench_held_opens(self_exe);
	bench_freshness(self_exe);
	bench_snapshot_stat();
}

/* ==== --loop: one figure's loop alone, for perf and callgrind ============ */

static int profile_loop(const char *kind, double seconds)
{
	gint64 end = now_ns() + (gint64)(seconds * 1e9);
	guint64 n = 0;
	if (g_str_equal(kind, "set") || g_str_equal(kind, "set-mounted") ||
	    g_str_equal(kind, "set-100k")) {
		g_autoptr(IDict) dict = dict_with_keys(g_str_equal(kind, "set-100k") ? N_SCALE_KEYS : 0);
		g_autofree char *mnt = NULL;
		IDictServer *server = g_str_equal(kind, "set-mounted") ? serve(dict, "loop", &mnt) : NULL;
		while (now_ns() < end) {
			idict_set_batch(dict, 10000);
			n += 10000;
		}
		idict_server_wait_then_close(server, 0);
	} else if (g_str_equal(kind, "read-small") || g_str_equal(kind, "read-floor") ||
		   g_str_equal(kind, "read-array")) {
		g_autoptr(IDict) dict = idict_new();
		g_autofree double *u = field_new(1000);
		idict_set_double(dict, "small", RESIDUAL, NULL);
		idict_set_array(dict, "array", u, 1000, NULL);
		g_autofree char *mnt = NULL;
		IDictServer *server = serve(dict, "loop", &mnt);
		g_autofree char *path = g_build_filename(mnt, "small", NULL);
		g_autofree char *apath = g_build_filename(mnt, "array", NULL);
		g_autoptr(GBytes) small = file_bytes(path);
		FloorFs *floor = NULL;
		g_autofree char *fmnt = NULL;
		if (g_str_equal(kind, "read-floor")) {
			fmnt = new_mount_dir("floor");
			floor = floor_fs_start(fmnt, small, small, small, 0, NULL);
			if (floor == NULL)
				g_error("cannot mount the floor");
			g_free(path);
			path = g_build_filename(fmnt, "small", NULL);
		}
		while (now_ns() < end) {
			if (g_str_equal(kind, "read-array")) {
				u[n % 1000] += 1e-9;
				idict_set_array(dict, "array", u, 1000, NULL);
				read_whole(apath);
			} else {
				read_small(path);
			}
			n++;
		}
		floor_fs_stop(floor);
		idict_server_wait_then_close(server, 0);
	} else if (g_str_equal(kind, "latency") || g_str_equal(kind, "latency-floor")) {
		g_autoptr(IDict) dict = idict_new();
		idict_set_double(dict, "residual", RESIDUAL, NULL);
		g_autofree char *mnt = NULL;
		IDictServer *server = serve(dict, "loop", &mnt);
		g_autofree char *updates = g_build_filename(mnt, "updates", NULL);
		Follower f = { .name = "idictfs", .ctx = dict, .wait_event = read_event,
			       .publish = publish_idict };
		FloorFs *floor = NULL;
		g_autofree char *fmnt = NULL;
		g_autofree char *stream = NULL;
		if (g_str_equal(kind, "latency-floor")) {
			g_autoptr(GBytes) one = g_bytes_new_static("0\n", 2);
			fmnt = new_mount_dir("floor");
			floor = floor_fs_start(fmnt, one, one, one, 0, NULL);
			if (floor == NULL)
				g_error("cannot mount the floor");
			stream = g_build_filename(fmnt, "stream", NULL);
			f.ctx = floor;
			f.publish = publish_floor;
		}
		f.fd = open(stream ? stream : updates, O_RDONLY);
		follower_start(&f);
		while (now_ns() < end) {
			prepare_event(&f, ++n);
			follower_measure(&f, n);
		}
		prepare_event(&f, n + 1);
		follower_stop(&f, n + 1);
		close(f.fd);
		Stats st = stats_of(f.samples);
		fprintf(stderr, "idict-bench: %s: p50 %.1f µs\n", kind, st.p50);
		g_array_unref(f.samples);
		floor_fs_stop(floor);
		idict_server_wait_then_close(server, 0);
	} else if (g_str_equal(kind, "render")) {
		g_autofree double *v = field_new(100000);
		while (now_ns() < end) {
			render_idict(v, 100000);
			n += 100000;
		}
	} else {
		fprintf(stderr, "idict-bench: --loop: set, set-100k, set-mounted, read-small, read-floor, "
				"read-array, latency, latency-floor or render\n");
		return 2;
	}
	fprintf(stderr, "idict-bench: %s: %" G_GUINT64_FORMAT " iterations, %.0f ns each\n", kind, n,
		seconds * 1e9 / (double)n);
	return 0;
}

/* ==== the table ========================================================== */

/* A value with its unit, 3 significant digits. */
static void fmt_value(char *out, gsize size, double v, const char *unit)
{
	double a = fabs(v);
	if (a >= 100 || a == 0)
		snprintf(out, size, "%.0f%s%s", v, *unit ? " " : "", unit);
	else if (a >= 10)
		snprintf(out, size, "%.1f%s%s", v, *unit ? " " : "", unit);
	else if (a >= 1)
		snprintf(out, size, "%.2f%s%s", v, *unit ? " " : "", unit);
	else
		snprintf(out, size, "%.3f%s%s", v, *unit ? " " : "", unit);
}

static void fmt_stats(char *out, gsize size, Stats s, const char *unit, gboolean p99)
{
	if (!s.valid) {
		snprintf(out, size, "—");
		return;
	}
	char a[32], b[32], c[32], d[32];
	fmt_value(a, sizeof a, s.p50, unit);
	fmt_value(b, sizeof b, s.p10, "");
	fmt_value(c, sizeof c, s.p90, "");
	fmt_value(d, sizeof d, s.p99, "");
	if (p99)
		snprintf(out, size, "%s (%s–%s; p99 %s)", a, b, c, d);
	else
		snprintf(out, size, "%s (%s–%s)", a, b, c);
}

typedef enum { LOWER, HIGHER } Better;

/* Prints one row.  @ratio: ours / baseline of the medians (or @ratio_override
 * if not NAN).  @met: 1 met, 0 missed, -1 no target. */
static void row(const char *id, const char *figure, Stats ours, const char *base_name, Stats base,
		const char *unit, gboolean p99, double ratio_override, const char *target, int met)
{
	char so[192], sb[192], sr[32];
	fmt_stats(so, sizeof so, ours, unit, p99);
	fmt_stats(sb, sizeof sb, base, unit, p99);
	double ratio = !isnan(ratio_override) ? ratio_override
		: (ours.valid && base.valid && base.p50 != 0) ? ours.p50 / base.p50 : NAN;
	if (isnan(ratio))
		snprintf(sr, sizeof sr, "—");
	else
		snprintf(sr, sizeof sr, "%.3g×", ratio);
	if (!ours.valid)
		met = -1;
	printf("| %s | %s | %s | %s | %s | %s | %s | %s |\n", id, figure, so,
	       base_name ? base_name : "", base_name ? sb : "", sr, target ? target : "",
	       met < 0 ? "" : met ? "yes" : "**no**");
}

static int meets(gboolean valid, gboolean cond)
{
	return valid ? (cond ? 1 : 0) : -1;
}

static void print_table(void)
{
	char f[256];
	printf("\n| # | figure | idictfs: median (p10–p90) | baseline | baseline: median (p10–p90) | ratio | target | met |\n");
	printf("|---|---|---|---|---|---|---|---|\n");

	/* 1 */
	row("1a", "set_double + notify_update, no server", R.set_nosrv,
	    "tmpfs: write tmp + rename", R.set_tmpfs, "ns", FALSE, NAN, "≤ 150 ns; ≤ 0.033× tmpfs",
	    meets(R.set_nosrv.valid, R.set_nosrv.p50 <= 150 && R.set_nosrv.p50 * 30 <= R.set_tmpfs.p50));
	row("1b", "set_double + notify_update, mounted, no readers", R.set_mounted,
	    "tmpfs: write tmp + rename", R.set_tmpfs, "ns", FALSE, NAN, "≤ 150 ns; ≤ 0.033× tmpfs",
	    meets(R.set_mounted.valid,
		  R.set_mounted.p50 <= 150 && R.set_mounted.p50 * 30 <= R.set_tmpfs.p50));
	row("1c", "set_double + notify_update, 100,000 keys (1 changed)", R.set_100k,
	    "same, 1 key", R.set_1key, "ns", FALSE, NAN, "≤ 1.10×",
	    meets(R.set_100k.valid, R.set_100k.p50 <= 1.10 * R.set_1key.p50));

	/* 2 */
	snprintf(f, sizeof f, "set + notify, watched (%d cat loops + %d updates readers)",
		 opt_cat_readers, opt_stream_readers);
	row("2a", f, W_idict.set_w, "tmpfs publish, same watchers on tmpfs", W_tmpfs.set_w, "ns",
	    FALSE, NAN, NULL, -1);
	row("2b", "set + notify: rate watched / unwatched", W_idict.set_slow,
	    "tmpfs: rate watched / unwatched", W_tmpfs.set_slow, "", FALSE, NAN, "≥ 0.95",
	    meets(W_idict.set_slow.valid, W_idict.set_slow.p50 >= 0.95));
	snprintf(f, sizeof f, "demo step (%d points), unwatched", DEMO_POINTS);
	row("2c", f, W_idict.demo_un, "demo step writing tmpfs files", W_tmpfs.demo_un, "steps/s",
	    FALSE, NAN, NULL, -1);
	snprintf(f, sizeof f, "demo step, watched (%d cat loops + %d updates readers)",
		 opt_cat_readers, opt_stream_readers);
	row("2d", f, W_idict.demo_w, "tmpfs demo, same watchers on tmpfs", W_tmpfs.demo_w,
	    "steps/s", FALSE, NAN, NULL, -1);
	row("2e", "demo steps/s watched / unwatched", W_idict.demo_slow,
	    "tmpfs: watched / unwatched", W_tmpfs.demo_slow, "", FALSE, NAN, "≥ 0.95",
	    meets(W_idict.demo_slow.valid, W_idict.demo_slow.p50 >= 0.95));
	row("2f", "  same, computation on CPU 0, watchers on CPU 1", W_idict_pinned.demo_slow,
	    "tmpfs, pinned alike", W_tmpfs_pinned.demo_slow, "", FALSE, NAN, "≥ 0.95",
	    meets(W_idict_pinned.demo_slow.valid, W_idict_pinned.demo_slow.p50 >= 0.95));
	row("2g", "set + notify: rate watched / unwatched, pinned alike", W_idict_pinned.set_slow,
	    "tmpfs, pinned alike", W_tmpfs_pinned.set_slow, "", FALSE, NAN, "≥ 0.95",
	    meets(W_idict_pinned.set_slow.valid, W_idict_pinned.set_slow.p50 >= 0.95));
	row("2h", "computation thread's CPU per demo step: watched (2d) / unwatched",
	    W_idict.cpu_ratio, "tmpfs demo: the same ratio", W_tmpfs.cpu_ratio, "", FALSE, NAN,
	    "≤ 1.05", meets(W_idict.cpu_ratio.valid, W_idict.cpu_ratio.p50 <= 1.05));
	snprintf(f, sizeof f, "  its CPU per step watched (unwatched: %.0f ns)", W_idict.cpu_un.p50);
	row("2i", f, W_idict.cpu_w, "tmpfs demo, watched", W_tmpfs.cpu_w, "ns", FALSE, NAN, NULL,
	    -1);

	/* 3 */
	snprintf(f, sizeof f, "read a double (%zu B): open + read + close", R.small_len);
	row("3a", f, R.small_idict, "FUSE floor", R.small_floor, "µs", FALSE, NAN, "≤ 1.2×",
	    meets(R.small_idict.valid, R.small_idict.p50 <= 1.2 * R.small_floor.p50));
	row("3b", f, R.small_idict, "tmpfs file", R.small_tmpfs, "µs", FALSE, NAN,
	    "≤ 3× (page cache)", meets(R.small_idict.valid, R.small_idict.p50 <= 3 * R.small_tmpfs.p50));
	snprintf(f, sizeof f, "cat a 1000-double array (%zu B), unchanged", R.array_len);
	row("3c", f, R.array_idict, "FUSE floor", R.array_floor, "µs", FALSE, NAN, NULL, -1);
	row("3d", f, R.array_idict, "tmpfs file", R.array_tmpfs, "µs", FALSE, NAN, NULL, -1);
	row("3e", "cat a 1000-double array, changed since last read", R.array_changed, "FUSE floor",
	    R.array_floor, "µs", FALSE, NAN, NULL, -1);

	/* 4 */
	row("4a", "notify_update → blocked read of updates returns", R.lat_idict,
	    "FUSE floor: parked read answered", R.lat_floor, "µs", TRUE, NAN, "p50 ≤ 1.2×",
	    meets(R.lat_idict.valid, R.lat_idict.p50 <= 1.2 * R.lat_floor.p50));
	row("4b", "  same", R.lat_idict, "inotify on tmpfs (rename)", R.lat_inotify, "µs", TRUE, NAN,
	    "< 1×", meets(R.lat_idict.valid, R.lat_idict.p50 < R.lat_inotify.p50));
	row("4c", "  same", R.lat_idict, "Redis PUBLISH → subscriber", R.lat_redis, "µs", TRUE, NAN,
	    "< 1×", meets(R.lat_idict.valid && R.lat_redis.valid, R.lat_idict.p50 < R.lat_redis.p50));
	row("4d", "  same, p99", (Stats){ R.lat_idict.valid, R.lat_idict.n, R.lat_idict.p99,
					   R.lat_idict.p99, R.lat_idict.p99, R.lat_idict.p99 },
	    "FUSE floor p99", (Stats){ R.lat_floor.valid, R.lat_floor.n, R.lat_floor.p99,
				       R.lat_floor.p99, R.lat_floor.p99, R.lat_floor.p99 },
	    "µs", FALSE, NAN, NULL, -1);

	/* 5 */
	row("5a", "render doubles, shortest round trip", R.render_idict, "snprintf(\"%.17g\")",
	    R.render_printf, "M/s", FALSE, NAN, "≥ 20 M/s",
	    meets(R.render_idict.valid, R.render_idict.p50 >= 20));
	snprintf(f, sizeof f, "cat %d-double array (%.0f MB), first read after a change", opt_quick ? opt_large / 10 : opt_large,
		 R.large_bytes / 1e6);
	row("5b", f, R.large_first, "tmpfs file", R.large_tmpfs, "MB/s", FALSE, NAN, NULL, -1);
	row("5c", "  same, unchanged (text cached)", R.large_cached, "FUSE floor", R.large_floor,
	    "MB/s", FALSE, NAN, NULL, -1);
	row("5d", "  same, unchanged (text cached)", R.large_cached, "tmpfs file", R.large_tmpfs,
	    "MB/s", FALSE, NAN, NULL, -1);
	snprintf(f, sizeof f, "read raw/KEY, the array's doubles as bytes (%.0f MB)",
		 R.raw_bytes / 1e6);
	row("5e", f, R.raw_idict, "tmpfs file, same bytes", R.raw_tmpfs, "MB/s", FALSE, NAN,
	    "≥ 1 GB/s", meets(R.raw_idict.valid, R.raw_idict.p50 >= 1000));

	/* 6 */
	row("6a", "`ls -f` of the root, 100,000 keys", R.ls_idict, "tmpfs, 100,000 files",
	    R.ls_tmpfs, "ms", FALSE, NAN, "≤ 3×",
	    meets(R.ls_idict.valid, R.ls_idict.p50 <= 3 * R.ls_tmpfs.p50));
	row("6b", "  same", R.ls_idict, "FUSE floor, 100,000 entries", R.ls_floor, "ms", FALSE, NAN,
	    NULL, -1);
	row("6c", "memory per key (RSS growth / 100,000 double keys)", R.mem_key,
	    "the values alone (GVariant doubles)", R.mem_value, "B", FALSE, NAN,
	    "≤ 256 B beyond the value",
	    meets(R.mem_key.valid, R.mem_key.p50 - R.mem_value.p50 <= 256));
	row("6d", "notify cost, 1 changed key among 100,000", R.set_100k, "same, 1 key",
	    R.set_1key, "ns", FALSE, NAN, "∝ changed keys",
	    meets(R.set_100k.valid, R.set_100k.p50 <= 1.10 * R.set_1key.p50));

	/* 8 */
	for (int k = 0; k < 2; k++) {
		const Attacked *a = k == 0 ? &A_slow : &A_cat;
		const char *ids[2][3] = { { "8a", "8b", "8c" }, { "8d", "8e", "8f" } };
		char base[64];
		snprintf(f, sizeof f, "publish %d keys (%d-byte names): rate with %d %s `updates` "
			 "readers (uid nobody) / without", ATTACK_KEYS, ATTACK_NAME_LEN,
			 a->n_readers, k == 0 ? "slow" : "cat-like");
		snprintf(base, sizeof base, "without: %.0f steps/s", a->rate_un.p50);
		row(ids[k][0], f, a->rate_ratio, base, (Stats){ 0 }, "", FALSE, NAN,
		    k == 0 ? "≥ 0.9" : NULL,
		    k == 0 ? meets(a->rate_ratio.valid, a->rate_ratio.p50 >= 0.9) : -1);
		row(ids[k][1], "  the computation thread's CPU per step, with / without", a->cpu_ratio,
		    NULL, (Stats){ 0 }, "", FALSE, NAN, NULL, -1);
		row(ids[k][2], "  the computation's RSS growth (peak, from its first update) with them",
		    a->rss_w, "same, rounds without them", a->rss_un, "MB", FALSE, NAN,
		    "≤ " ATTACK_RSS_BOUND_TEXT " in all",
		    meets(a->rss_w.valid, a->rss_w.p50 <= ATTACK_RSS_BOUND_MB));
	}

	/* 7 */
	row("7a", "publish: set_double + notify (mounted)", R.set_mounted,
	    "Redis SET + PUBLISH (pipelined)", R.redis_publish, "ns", FALSE, NAN, NULL, -1);
	row("7b", "read a double: open + read + close", R.small_idict, "Redis GET", R.redis_get,
	    "µs", FALSE, NAN, NULL, -1);
	/* 9 */
	snprintf(f, sizeof f, "computation RSS growth, %d held opens of u (%d doubles, %.1f MB, changing)",
		 HELD_OPENS, HELD_POINTS, R.held_len / 1e6);
	row("9a", f, (Stats){ R.held_rss.valid, R.held_rss.n, R.held_rss.p10 / 1048576,
			      R.held_rss.p50 / 1048576, R.held_rss.p90 / 1048576, 0 },
	    "same time, no readers", (Stats){ R.held_rss_base.valid, R.held_rss_base.n,
					      R.held_rss_base.p10 / 1048576, R.held_rss_base.p50 / 1048576,
					      R.held_rss_base.p90 / 1048576, 0 },
	    "MiB", FALSE, NAN, "≤ the cap (256 MiB)",
	    meets(R.held_rss.valid, R.held_rss.p50 <= 256.0 * 1048576));
	if (R.held_rss.valid)
		printf("|  |   opens refused | %u of %d (%s) |  |  |  |  |  |\n", R.held_failed,
		       HELD_OPENS, R.held_failed ? g_strerror(R.held_errno) : "none");
	snprintf(f, sizeof f, "Python open(p).read() of a changing key: reads older than an update "
		 "published before the open, of %d", FRESH_READS);
	row("9b", f, R.fresh_older, "one os.read(fd, 65536), as cat", R.fresh_older_big, "", FALSE,
	    NAN, "0", meets(R.fresh_older.valid, R.fresh_older.p90 == 0));
	row("9c", "  same: reads that went back from the one before", R.fresh_back,
	    "one os.read(fd, 65536), as cat", R.fresh_back_big, "", FALSE, NAN, "0",
	    meets(R.fresh_back.valid, R.fresh_back.p90 == 0));
	row("9d", "  same: the most updates an older read was behind", R.fresh_worst, NULL,
	    (Stats){ 0 }, "", FALSE, NAN, NULL, -1);
	if (R.fresh_note)
		printf("\n9b–9d: %s\n", R.fresh_note);
	row("9e", "stat snapshot.json, 100,000 keys", R.snap_stat, "stat a key", R.key_stat, "ms",
	    FALSE, NAN, NULL, -1);
	snprintf(f, sizeof f, "worst set + notify in 2 s, %d `stat snapshot.json` loops running",
		 STAT_LOOPS);
	row("9f", f, R.snap_set_worst[0], "same, loops stopped", R.snap_set_worst_base[0], "ms",
	    FALSE, NAN, NULL, -1);
	row("9g", "  read a key (open + read + close) meanwhile", R.snap_read[0],
	    "same, loops stopped", R.snap_read_base[0], "ms", FALSE, NAN, NULL, -1);
	snprintf(f, sizeof f, "worst set + notify in 2 s, %d `ls -l` loops of the root (100,000 keys)",
		 STAT_LOOPS);
	row("9h", f, R.snap_set_worst[1], "same, loops stopped", R.snap_set_worst_base[1], "ms",
	    FALSE, NAN, NULL, -1);
	row("9i", "  read a key (open + read + close) meanwhile", R.snap_read[1],
	    "same, loops stopped", R.snap_read_base[1], "ms", FALSE, NAN, NULL, -1);
	/* 8: libidict-mpi, measured by idict-mpi-bench under mpirun. */
	g_autofree char *extra = NULL;
	if (opt_extra_rows && g_file_get_contents(opt_extra_rows, &extra, NULL, NULL))
		fputs(extra, stdout);
	if (R.redis_note)
		printf("\nRedis: %s\n", R.redis_note);
}

/* ==== main =============================================================== */

static gboolean is_tmpfs(const char *dir)
{
	struct statfs st;
	return statfs(dir, &st) == 0 && st.f_type == TMPFS_MAGIC;
}

static void say(const char *what)
{
	fprintf(stderr, "idict-bench: %s\n", what);
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "--follow-inotify") == 0)
		return follow_inotify(argv[2]);
	if (argc == 5 && strcmp(argv[1], "--stream-attack") == 0)
		return stream_attack(argv[2], atoi(argv[3]), argv[4]);
	if (argc == 4 && strcmp(argv[1], "--serve-changing") == 0)
		return serve_changing(argv[2], (guint)atoi(argv[3]));

	GOptionEntry entries[] = {
		{ "quick", 'q', 0, G_OPTION_ARG_NONE, &opt_quick, "Fewer repetitions (a smoke run)",
		  NULL },
		{ "only", 0, 0, G_OPTION_ARG_STRING, &opt_only,
		  "Only these sections: cost,watched,read,latency,render,large,scale,readers,clients,"
		  "redis,mpi",
		  "LIST" },
		{ "updates", 0, 0, G_OPTION_ARG_INT, &opt_updates,
		  "Updates per source for the latency figure (default 10000)", "N" },
		{ "large", 0, 0, G_OPTION_ARG_INT, &opt_large,
		  "Doubles in the large array (default 10000000)", "N" },
		{ "cat-readers", 0, 0, G_OPTION_ARG_INT, &opt_cat_readers,
		  "cat loops while watched (default 32)", "N" },
		{ "stream-readers", 0, 0, G_OPTION_ARG_INT, &opt_stream_readers,
		  "updates readers while watched (default 8)", "N" },
		{ "tmpfs", 0, 0, G_OPTION_ARG_FILENAME, &opt_tmpfs,
		  "A tmpfs directory for the baselines (default: $TMPDIR, else /dev/shm)", "DIR" },
		{ "loop", 0, 0, G_OPTION_ARG_STRING, &opt_loop,
		  "Run one figure's loop alone, to profile it: set, set-100k, set-mounted, read-small, "
		  "read-floor, read-array, latency, latency-floor, render", "KIND" },
		{ "seconds", 0, 0, G_OPTION_ARG_DOUBLE, &opt_seconds,
		  "How long --loop runs (default 5)", "S" },
		{ "extra-rows", 0, 0, G_OPTION_ARG_FILENAME, &opt_extra_rows,
		  "Table rows measured elsewhere (idict-mpi-bench's), printed at the end", "FILE" },
		{ "budget", 0, 0, G_OPTION_ARG_INT, &opt_budget,
		  "Seconds before the watchdog cleans up and stops the run (default 280)", "S" },
		{ NULL, 0, 0, 0, NULL, NULL, NULL },
	};
	g_autoptr(GOptionContext) context = g_option_context_new("");
	g_option_context_set_summary(context, "idictfs benchmarks against their baselines (issue 5).");
	g_option_context_add_main_entries(context, entries, NULL);
	g_autoptr(GError) error = NULL;
	if (!g_option_context_parse(context, &argc, &argv, &error)) {
		fprintf(stderr, "idict-bench: %s\n", error->message);
		return 2;
	}
	char self_exe[4096];
	gssize len = readlink("/proc/self/exe", self_exe, sizeof self_exe - 1);
	if (len <= 0)
		g_error("readlink /proc/self/exe: %s", g_strerror(errno));
	self_exe[len] = '\0';

	const char *tmp = g_get_tmp_dir();
	const char *tmpfs_base = opt_tmpfs ? opt_tmpfs : is_tmpfs(tmp) ? tmp : "/dev/shm";
	if (!is_tmpfs(tmpfs_base))
		g_error("%s is not a tmpfs; give one with --tmpfs DIR", tmpfs_base);
	g_autofree char *wtmpl = g_build_filename(tmp, "idict-bench-XXXXXX", NULL);
	work_dir = g_mkdtemp(g_strdup(wtmpl));
	g_autofree char *ttmpl = g_build_filename(tmpfs_base, "idict-bench-XXXXXX", NULL);
	tmpfs_dir = g_mkdtemp(g_strdup(ttmpl));
	if (work_dir == NULL || tmpfs_dir == NULL)
		g_error("mkdtemp: %s", g_strerror(errno));

	install_cleanup_handlers();
	alarm((unsigned)opt_budget);
	gint64 start = now_ns();
	if (opt_loop) {
		int status = profile_loop(opt_loop, opt_seconds);
		remove_tree(work_dir);
		remove_tree(tmpfs_dir);
		return status;
	}

	/* Before any thread exists: it forks to measure. */
	if (section_on("scale")) {
		say("memory per key");
		bench_memory();
	}
#ifdef HAVE_HIREDIS
	if (section_on("latency") || section_on("redis"))
		redis_start();
#else
	R.redis_note = "built without hiredis (apt-get install libhiredis-dev redis-server)";
#endif
	if (section_on("cost")) {
		say("1: set + notify against tmpfs");
		bench_cost();
	}
	if (section_on("watched")) {
		say("2: the computation while watched");
		bench_watched(self_exe);
	}
	if (section_on("read")) {
		say("3: reading a key");
		bench_read();
	}
	if (section_on("latency")) {
		say("4: update latency");
		bench_latency();
	}
	if (section_on("render")) {
		say("5: rendering doubles");
		bench_render();
	}
	if (section_on("large")) {
		say("5: a large array");
		bench_large();
	}
	if (section_on("scale")) {
		say("6: 100,000 keys");
		bench_scale();
	}
	if (section_on("readers")) {
		say("8: readers of updates as another user");
		bench_attack(self_exe);
	}
	if (section_on("clients")) {
		say("9: what clients cost the computation");
		bench_clients(self_exe);
	}
#ifdef HAVE_HIREDIS
	if (section_on("redis")) {
		say("7: Redis");
		bench_redis();
	}
	redis_stop();
#endif
	alarm(0);

	printf("idictfs benchmarks (issue 5): %s, %ld CPUs, kernel ", opt_quick ? "quick" : "full",
	       sysconf(_SC_NPROCESSORS_ONLN));
	g_autofree char *kernel = NULL;
	if (g_file_get_contents("/proc/sys/kernel/osrelease", &kernel, NULL, NULL))
		g_strchomp(kernel);
	printf("%s; %.0f s\n", kernel ? kernel : "?", (now_ns() - start) / 1e9);
	print_table();
	printf("\nRatio = idictfs / baseline of the medians (for rates in 2b/2e: of paired rounds). "
	       "Medians over repeated runs, p10–p90 in brackets; 4a–4c give p99 too. "
	       "The met column reports, it asserts nothing.\n");

	remove_tree(work_dir);
	remove_tree(tmpfs_dir);
	return 0;
}
