/* soak.c - the load of the soak test (tests/shell/test_soak.sh), against a
 * running idict-demo mounted at MOUNT.
 *
 * Threads make real open/read/write/close system calls on the mount:
 *   --readers N  (32) read step, residual, u, params/alpha and ctl/status in
 *                turn, each with open, read to end-of-file, close, and check
 *                every value: step an integer that never goes backwards,
 *                residual one double, u exactly --points lines of one double,
 *                params/alpha a double in (0, 0.5], ctl/status its six
 *                documented lines (then any "NAME VALUE" lines) with a
 *                sequence that never goes backwards;
 *   --streams N  (8) read `updates` until end-of-file: sequence numbers go up
 *                by one, except after a "SEQ missed N" line, whose SEQ is the
 *                previous one plus N; the last line is "final".  Half of
 *                them read slowly, with a small buffer, so that they fall
 *                behind and get "missed" lines;
 *   --writers N  (4) write params/alpha as the shell's `>` does (open with
 *                O_TRUNC, one write, close), valid values, which must be
 *                taken, and invalid ones, which must fail with EINVAL;
 *   --pausers N  (1) toggle ctl/pause.
 * With --seconds S the load lasts S seconds, then ctl/pause is set to 0 and
 * ctl/terminate to 1; with --until-finished it lasts until ctl/status says
 * "finished".  Either way the streams then read on to their end.
 *
 * Prints "ok - ..." / "not ok - ..." lines, "# soak: ..." figures, and
 * "# soak-rate: STEPS_PER_SECOND" for the driver; exits 1 if a check failed.
 */
#include <glib.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { KEY_STEP, KEY_RESIDUAL, KEY_U, KEY_ALPHA, KEY_STATUS, N_KEYS };
static const char *const key_paths[N_KEYS] = { "step", "residual", "u", "params/alpha",
					       "ctl/status" };
/* The keys an update line of the demo may name. */
static const char *const demo_keys[] = { "step", "time", "residual", "u", "message",
					 "params/alpha", "progress" };

static const char *mount;
static gint points = 64;
static atomic_int stop_load;

typedef struct {
	pthread_t thread;
	guint id;
	/* readers */
	guint64 reads[N_KEYS];
	guint64 malformed;
	guint64 backwards;
	/* streams */
	gboolean slow;
	guint64 lines, update_lines, missed_lines, missed_updates, gaps, after_final;
	guint64 first_seq, last_seq;
	gboolean saw_final, saw_eof;
	/* writers */
	guint64 valid_taken, valid_refused, invalid_refused, invalid_taken;
	/* pausers */
	guint64 toggles;
	/* all */
	guint64 errors; /* unexpected errno from a system call */
	char problem[240]; /* ": " and the first problem seen, for the report */
} Worker;

static void note(Worker *w, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
static void note(Worker *w, const char *fmt, ...)
{
	if (w->problem[0] != '\0')
		return;
	va_list args;
	va_start(args, fmt);
	memcpy(w->problem, ": ", 3);
	g_vsnprintf(w->problem + 2, sizeof w->problem - 2, fmt, args);
	va_end(args);
}

static double now_s(void)
{
	return (double)g_get_monotonic_time() / G_USEC_PER_SEC;
}

static char *path_of(const char *name)
{
	return g_build_filename(mount, name, NULL);
}

/* Reads the whole file at @path (open, read to end-of-file, close) into @out.
 * Returns: 0 or an errno value. */
static int read_file(const char *path, GString *out)
{
	g_string_truncate(out, 0);
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return errno;
	char buf[16384];
	for (;;) {
		ssize_t n = read(fd, buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;
			close(fd);
			return e;
		}
		if (n == 0)
			break;
		g_string_append_len(out, buf, n);
	}
	return close(fd) == 0 ? 0 : errno;
}

/* Writes @text in one write() after an open with O_TRUNC, as `echo >` does.
 * Returns: 0 or an errno value. */
static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_TRUNC);
	if (fd < 0)
		return errno;
	size_t len = strlen(text);
	ssize_t n = write(fd, text, len);
	int e = n < 0 ? errno : (size_t)n == len ? 0 : EIO;
	if (close(fd) != 0 && e == 0)
		e = errno;
	return e;
}

/* ---- values ---- */

static gboolean is_double(const char *s, gsize len, double *out)
{
	char buf[64];
	if (len == 0 || len >= sizeof buf || g_ascii_isspace(s[0]))
		return FALSE;
	memcpy(buf, s, len);
	buf[len] = '\0';
	char *end = NULL;
	double value = g_ascii_strtod(buf, &end);
	if (end != buf + len)
		return FALSE;
	if (out)
		*out = value;
	return TRUE;
}

static gboolean is_uint(const char *s, gsize len, guint64 *out)
{
	if (len == 0 || len > 20)
		return FALSE;
	guint64 value = 0;
	for (gsize i = 0; i < len; i++) {
		if (!g_ascii_isdigit(s[i]))
			return FALSE;
		value = value * 10 + (guint64)(s[i] - '0');
	}
	if (out)
		*out = value;
	return TRUE;
}

/* One newline-terminated line holding a double. */
static gboolean is_double_file(const GString *text, double *out)
{
	return text->len > 0 && text->str[text->len - 1] == '\n' &&
	       memchr(text->str, '\n', text->len) == text->str + text->len - 1 &&
	       is_double(text->str, text->len - 1, out);
}

static gboolean is_timestamp(const char *s)
{
	/* 2026-11-25T16:36:17.240150Z */
	return strlen(s) == 27 && s[4] == '-' && s[10] == 'T' && s[19] == '.' && s[26] == 'Z';
}

/* ctl/status: "state S", "sequence N", "keys N", "started T",
 * "last_update T" or "last_update -", "pid N", then possibly more
 * "NAME VALUE" lines. */
static gboolean is_status(const GString *text, guint64 *sequence)
{
	if (text->len == 0 || text->str[text->len - 1] != '\n')
		return FALSE;
	g_auto(GStrv) lines = g_strsplit(text->str, "\n", -1);
	guint n = g_strv_length(lines) - 1; /* the text ends with a newline */
	if (n < 6)
		return FALSE;
	for (guint i = 6; i < n; i++) {
		const char *space = strchr(lines[i], ' ');
		if (space == NULL || space == lines[i] || space[1] == '\0')
			return FALSE;
	}
	static const char *const states[] = { "state running", "state paused",
					      "state terminating", "state finished" };
	gboolean state_ok = FALSE;
	for (gsize i = 0; i < G_N_ELEMENTS(states); i++)
		state_ok |= strcmp(lines[0], states[i]) == 0;
	return state_ok && g_str_has_prefix(lines[1], "sequence ") &&
	       is_uint(lines[1] + 9, strlen(lines[1] + 9), sequence) &&
	       g_str_has_prefix(lines[2], "keys ") && is_uint(lines[2] + 5, strlen(lines[2] + 5), NULL) &&
	       g_str_has_prefix(lines[3], "started ") && is_timestamp(lines[3] + 8) &&
	       g_str_has_prefix(lines[4], "last_update ") &&
	       (strcmp(lines[4] + 12, "-") == 0 || is_timestamp(lines[4] + 12)) &&
	       g_str_has_prefix(lines[5], "pid ") && is_uint(lines[5] + 4, strlen(lines[5] + 4), NULL);
}

/* u: exactly `points` lines, each one double. */
static gboolean is_field(const GString *text)
{
	if (text->len == 0 || text->str[text->len - 1] != '\n')
		return FALSE;
	const char *p = text->str, *end = text->str + text->len;
	gint lines = 0;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		if (!is_double(p, (gsize)(nl - p), NULL))
			return FALSE;
		lines++;
		p = nl + 1;
	}
	return lines == points;
}

/* ---- the threads ---- */

static void *reader_main(void *data)
{
	Worker *w = data;
	g_autoptr(GString) text = g_string_sized_new(4096);
	char *paths[N_KEYS];
	for (int k = 0; k < N_KEYS; k++)
		paths[k] = path_of(key_paths[k]);
	guint64 last_step = 0, last_sequence = 0;
	guint failures_in_a_row = 0;
	for (guint i = w->id; !atomic_load(&stop_load) && failures_in_a_row < 100; i++) {
		int k = (int)(i % N_KEYS);
		int err = read_file(paths[k], text);
		if (err != 0) {
			w->errors++;
			failures_in_a_row++;
			note(w, "reading %s: %s", key_paths[k], g_strerror(err));
			continue;
		}
		failures_in_a_row = 0;
		w->reads[k]++;
		gboolean good = TRUE;
		guint64 n = 0;
		double x = 0;
		switch (k) {
		case KEY_STEP:
			good = text->len > 1 && text->str[text->len - 1] == '\n' &&
			       is_uint(text->str, text->len - 1, &n);
			if (good && n < last_step) {
				w->backwards++;
				note(w, "step went from %" G_GUINT64_FORMAT " to %" G_GUINT64_FORMAT,
				     last_step, n);
			}
			last_step = good ? n : last_step;
			break;
		case KEY_RESIDUAL:
			good = is_double_file(text, NULL);
			break;
		case KEY_U:
			good = is_field(text);
			break;
		case KEY_ALPHA:
			good = is_double_file(text, &x) && x > 0 && x <= 0.5;
			break;
		case KEY_STATUS:
			good = is_status(text, &n);
			if (good && n < last_sequence) {
				w->backwards++;
				note(w, "ctl/status sequence went from %" G_GUINT64_FORMAT
				     " to %" G_GUINT64_FORMAT, last_sequence, n);
			}
			last_sequence = good ? n : last_sequence;
			break;
		default:
			break;
		}
		if (!good) {
			w->malformed++;
			note(w, "%s read \"%.120s\" (%zu bytes)", key_paths[k], text->str, text->len);
		}
	}
	for (int k = 0; k < N_KEYS; k++)
		g_free(paths[k]);
	return NULL;
}

static gboolean known_keys(const char *keys)
{
	if (*keys == '\0')
		return TRUE;
	g_auto(GStrv) names = g_strsplit(keys, " ", -1);
	for (guint i = 0; names[i] != NULL; i++) {
		gboolean known = FALSE;
		for (gsize j = 0; j < G_N_ELEMENTS(demo_keys); j++)
			known |= strcmp(names[i], demo_keys[j]) == 0;
		if (!known)
			return FALSE;
	}
	return TRUE;
}

/* One line of `updates`, without its newline. */
static void stream_line(Worker *w, const char *line)
{
	w->lines++;
	if (w->saw_final) {
		w->after_final++;
		note(w, "stream %u: \"%.80s\" after the final line", w->id, line);
		return;
	}
	const char *space = strchr(line, ' ');
	guint64 seq = 0;
	if (space == NULL || !is_uint(line, (gsize)(space - line), &seq) || seq == 0) {
		w->gaps++;
		note(w, "stream %u: malformed line \"%.80s\"", w->id, line);
		return;
	}
	const char *kind = space + 1;
	if (g_str_has_prefix(kind, "missed ")) {
		guint64 n = 0;
		if (!is_uint(kind + 7, strlen(kind + 7), &n) || n == 0 ||
		    (w->last_seq != 0 && seq != w->last_seq + n)) {
			w->gaps++;
			note(w, "stream %u: \"%.80s\" after %" G_GUINT64_FORMAT, w->id, line,
			     w->last_seq);
		}
		w->missed_lines++;
		w->missed_updates += n;
	} else {
		gboolean final = g_str_has_prefix(kind, "final");
		const char *keys = kind + (final ? 5 : 6);
		if ((!final && !g_str_has_prefix(kind, "update")) || (*keys != '\0' && *keys != ' ') ||
		    !known_keys(*keys ? keys + 1 : keys)) {
			w->gaps++;
			note(w, "stream %u: malformed line \"%.80s\"", w->id, line);
		} else if (w->last_seq != 0 && seq != w->last_seq + 1) {
			w->gaps++;
			note(w, "stream %u: %" G_GUINT64_FORMAT " after %" G_GUINT64_FORMAT
			     " without a missed line", w->id, seq, w->last_seq);
		}
		w->update_lines++;
		w->saw_final = final;
	}
	if (w->first_seq == 0)
		w->first_seq = seq;
	w->last_seq = seq;
}

static void *stream_main(void *data)
{
	Worker *w = data;
	g_autofree char *path = path_of("updates");
	int fd = open(path, O_RDONLY);
	if (fd < 0) {
		w->errors++;
		note(w, "opening updates: %s", g_strerror(errno));
		return NULL;
	}
	/* Slow readers: a small buffer, and a rest between reads, so that the
	 * log (1,024 lines) overtakes them. */
	gsize size = w->slow ? 512 : 65536;
	g_autofree char *buf = g_malloc(size);
	g_autoptr(GString) pending = g_string_new(NULL);
	for (;;) {
		ssize_t n = read(fd, buf, size);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			w->errors++;
			note(w, "reading updates: %s", g_strerror(errno));
			break;
		}
		if (n == 0) {
			w->saw_eof = TRUE;
			break;
		}
		g_string_append_len(pending, buf, n);
		char *start = pending->str, *nl;
		while ((nl = memchr(start, '\n', pending->len - (gsize)(start - pending->str)))) {
			*nl = '\0';
			stream_line(w, start);
			start = nl + 1;
		}
		g_string_erase(pending, 0, start - pending->str);
		if (w->slow && !atomic_load(&stop_load))
			g_usleep(30000);
	}
	if (pending->len > 0) {
		w->gaps++;
		note(w, "stream %u ended within a line: \"%.80s\"", w->id, pending->str);
	}
	close(fd);
	return NULL;
}

static void *writer_main(void *data)
{
	Worker *w = data;
	static const char *const valid[] = { "0.25\n", "0.3\n", " 0.1 \n", "0.5\n", "2.5e-1\n",
					     "0.45" };
	/* Each refused with EINVAL: by the parser or by the demo's check. */
	static const char *const invalid[] = { "x\n", "0.9\n", "-0.1\n", "0\n", "1e999\n",
					       "0.2 junk\n", "nan\n", "inf\n", "0.3\n0.4\n",
					       "\xff\n" };
	g_autofree char *path = path_of("params/alpha");
	guint failures_in_a_row = 0;
	for (guint i = w->id; !atomic_load(&stop_load) && failures_in_a_row < 100; i++) {
		gboolean good = i % 2 == 0;
		const char *text = good ? valid[(i / 2) % G_N_ELEMENTS(valid)]
					: invalid[(i / 2) % G_N_ELEMENTS(invalid)];
		int err = write_file(path, text);
		if (good && err == 0) {
			w->valid_taken++;
		} else if (good && err == EINVAL) {
			w->valid_refused++;
			note(w, "params/alpha refused valid \"%.*s\"", (int)strcspn(text, "\n"), text);
		} else if (!good && err == EINVAL) {
			w->invalid_refused++;
		} else if (!good && err == 0) {
			w->invalid_taken++;
			note(w, "params/alpha took invalid \"%.*s\"", (int)strcspn(text, "\n"), text);
		} else {
			w->errors++;
			note(w, "writing params/alpha: %s", g_strerror(err));
		}
		failures_in_a_row = (err == 0 || err == EINVAL) ? 0 : failures_in_a_row + 1;
	}
	return NULL;
}

static void *pauser_main(void *data)
{
	Worker *w = data;
	g_autofree char *path = path_of("ctl/pause");
	guint failures_in_a_row = 0;
	while (!atomic_load(&stop_load) && failures_in_a_row < 100) {
		int err = write_file(path, "1\n");
		g_usleep(2000);
		if (err == 0)
			err = write_file(path, "0\n");
		if (err != 0) {
			w->errors++;
			failures_in_a_row++;
			note(w, "writing ctl/pause: %s", g_strerror(err));
		} else {
			w->toggles++;
			failures_in_a_row = 0;
		}
		g_usleep(8000);
	}
	return NULL;
}

/* ---- main ---- */

static gboolean read_step(guint64 *step)
{
	g_autofree char *path = path_of("step");
	g_autoptr(GString) text = g_string_new(NULL);
	return read_file(path, text) == 0 && text->len > 1 &&
	       is_uint(text->str, text->len - 1, step);
}

static gboolean finished(void)
{
	g_autofree char *path = path_of("ctl/status");
	g_autoptr(GString) text = g_string_new(NULL);
	return read_file(path, text) == 0 && g_str_has_prefix(text->str, "state finished\n");
}

static int failures;

static void result(gboolean ok, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
static void result(gboolean ok, const char *fmt, ...)
{
	va_list args;
	va_start(args, fmt);
	g_autofree char *text = g_strdup_vprintf(fmt, args);
	va_end(args);
	printf("%s - soak: %s\n", ok ? "ok" : "not ok", text);
	if (!ok)
		failures++;
}

/* ": " and the first problem any of @n workers noted, or "". */
static const char *first_problem(Worker *ws, guint n)
{
	for (guint i = 0; i < n; i++)
		if (ws[i].problem[0] != '\0')
			return ws[i].problem;
	return "";
}

int main(int argc, char **argv)
{
	gint n_readers = 32, n_streams = 8, n_writers = 4, n_pausers = 1;
	double seconds = 10;
	gboolean until_finished = FALSE;
	GOptionEntry entries[] = {
		{ "seconds", 0, 0, G_OPTION_ARG_DOUBLE, &seconds, "Load for S seconds, then terminate (10)", "S" },
		{ "until-finished", 0, 0, G_OPTION_ARG_NONE, &until_finished, "Load until the computation finishes", NULL },
		{ "points", 0, 0, G_OPTION_ARG_INT, &points, "Lines in u (64)", "N" },
		{ "readers", 0, 0, G_OPTION_ARG_INT, &n_readers, "Threads reading keys (32)", "N" },
		{ "streams", 0, 0, G_OPTION_ARG_INT, &n_streams, "Threads reading updates (8)", "N" },
		{ "writers", 0, 0, G_OPTION_ARG_INT, &n_writers, "Threads writing params/alpha (4)", "N" },
		{ "pausers", 0, 0, G_OPTION_ARG_INT, &n_pausers, "Threads toggling ctl/pause (1)", "N" },
		{ NULL, 0, 0, 0, NULL, NULL, NULL },
	};
	g_autoptr(GOptionContext) context = g_option_context_new("MOUNT");
	g_option_context_add_main_entries(context, entries, NULL);
	g_autoptr(GError) error = NULL;
	if (!g_option_context_parse(context, &argc, &argv, &error) || argc != 2 || n_readers < 0 ||
	    n_streams < 0 || n_writers < 0 || n_pausers < 0 || points < 1) {
		fprintf(stderr, "soak: %s\n", error ? error->message : "bad arguments");
		return 2;
	}
	mount = argv[1];
	setvbuf(stdout, NULL, _IOLBF, 0);

	guint n_all = (guint)(n_readers + n_streams + n_writers + n_pausers);
	Worker *all = g_new0(Worker, n_all);
	Worker *readers = all, *streams = readers + n_readers, *writers = streams + n_streams,
	       *pausers = writers + n_writers;
	/* Streams first, so that their cursors start before the load. */
	for (gint i = 0; i < n_streams; i++) {
		streams[i].id = (guint)i;
		streams[i].slow = i >= n_streams / 2;
		if (pthread_create(&streams[i].thread, NULL, stream_main, &streams[i]) != 0)
			g_error("pthread_create failed");
	}
	g_usleep(50000);
	guint64 step0 = 0, step1 = 0;
	if (!read_step(&step0)) {
		result(FALSE, "cannot read %s/step", mount);
		return 1;
	}
	double t0 = now_s();
	struct {
		Worker *ws;
		gint n;
		void *(*run)(void *);
	} kinds[] = { { readers, n_readers, reader_main },
		      { writers, n_writers, writer_main },
		      { pausers, n_pausers, pauser_main } };
	for (gsize k = 0; k < G_N_ELEMENTS(kinds); k++) {
		for (gint i = 0; i < kinds[k].n; i++) {
			kinds[k].ws[i].id = (guint)i;
			if (pthread_create(&kinds[k].ws[i].thread, NULL, kinds[k].run,
					   &kinds[k].ws[i]) != 0)
				g_error("pthread_create failed");
		}
	}

	/* While the load runs: keep ctl/status open, so that a computation
	 * that finishes keeps serving (wait-then-close) until this is done. */
	g_autofree char *status_path = path_of("ctl/status");
	int hold = open(status_path, O_RDONLY);
	gboolean ended = FALSE;
	if (until_finished) {
		while (!(ended = finished()) && now_s() - t0 < 600)
			g_usleep(10000);
	} else {
		while (now_s() - t0 < seconds)
			g_usleep(20000);
	}
	double t1 = now_s();
	gboolean have_step1 = read_step(&step1);
	atomic_store(&stop_load, 1);
	for (gsize k = 0; k < G_N_ELEMENTS(kinds); k++)
		for (gint i = 0; i < kinds[k].n; i++)
			pthread_join(kinds[k].ws[i].thread, NULL);

	int terminate_err = 0, resume_err = 0;
	if (!until_finished) {
		g_autofree char *pause_path = path_of("ctl/pause");
		g_autofree char *terminate_path = path_of("ctl/terminate");
		resume_err = write_file(pause_path, "0\n");
		terminate_err = write_file(terminate_path, "1\n");
	}
	if (hold >= 0)
		close(hold);
	/* The streams end with the final update; wait-then-close answers any
	 * read still parked at its timeout. */
	struct timespec deadline;
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += 60;
	gint stuck = 0; /* streams still reading after 60 s: not joined, left to exit() */
	for (gint i = 0; i < n_streams; i++)
		stuck += pthread_timedjoin_np(streams[i].thread, NULL, &deadline) != 0;
	if (stuck > 0)
		printf("# soak: %d streams did not end within 60 s\n", stuck);

	/* ---- the figures ---- */
	guint64 reads[N_KEYS] = { 0 }, total_reads = 0, malformed = 0, backwards = 0, errors = 0;
	for (gint i = 0; i < n_readers; i++) {
		for (int k = 0; k < N_KEYS; k++) {
			reads[k] += readers[i].reads[k];
			total_reads += readers[i].reads[k];
		}
		malformed += readers[i].malformed;
		backwards += readers[i].backwards;
	}
	for (guint i = 0; i < n_all; i++)
		errors += all[i].errors;
	guint64 lines = 0, update_lines = 0, missed_lines = 0, missed_updates = 0, gaps = 0,
		after_final = 0, updates = 0;
	gint with_final = 0, empty = 0;
	for (gint i = 0; i < n_streams; i++) {
		Worker *s = &streams[i];
		lines += s->lines;
		update_lines += s->update_lines;
		missed_lines += s->missed_lines;
		missed_updates += s->missed_updates;
		gaps += s->gaps;
		after_final += s->after_final;
		with_final += s->saw_final && s->saw_eof && s->after_final == 0;
		empty += s->lines == 0;
		if (s->saw_final)
			updates = MAX(updates, s->last_seq);
	}
	guint64 valid_taken = 0, valid_refused = 0, invalid_refused = 0, invalid_taken = 0,
		toggles = 0;
	for (gint i = 0; i < n_writers; i++) {
		valid_taken += writers[i].valid_taken;
		valid_refused += writers[i].valid_refused;
		invalid_refused += writers[i].invalid_refused;
		invalid_taken += writers[i].invalid_taken;
	}
	for (gint i = 0; i < n_pausers; i++)
		toggles += pausers[i].toggles;

	if (n_readers > 0) {
		result(malformed == 0 && total_reads > 0,
		       "%d readers made %" G_GUINT64_FORMAT " reads (step %" G_GUINT64_FORMAT
		       ", residual %" G_GUINT64_FORMAT ", u %" G_GUINT64_FORMAT ", params/alpha %"
		       G_GUINT64_FORMAT ", ctl/status %" G_GUINT64_FORMAT "), %" G_GUINT64_FORMAT
		       " torn or malformed%s", n_readers, total_reads, reads[KEY_STEP],
		       reads[KEY_RESIDUAL], reads[KEY_U], reads[KEY_ALPHA], reads[KEY_STATUS],
		       malformed, first_problem(readers, (guint)n_readers));
		result(backwards == 0, "step and ctl/status sequence never went backwards for a reader%s",
		       backwards ? first_problem(readers, (guint)n_readers) : "");
	}
	if (n_streams > 0) {
		result(gaps == 0 && empty == 0,
		       "%d streams: %" G_GUINT64_FORMAT " lines, sequence numbers strictly increasing; "
		       "%" G_GUINT64_FORMAT " missed lines account exactly for %" G_GUINT64_FORMAT
		       " dropped updates%s", n_streams, lines, missed_lines, missed_updates,
		       first_problem(streams, (guint)n_streams));
		result(stuck == 0 && with_final == n_streams,
		       "%d of %d streams ended with a final line (update %" G_GUINT64_FORMAT
		       "), then end-of-file%s", with_final, n_streams, updates,
		       first_problem(streams, (guint)n_streams));
	}
	if (n_writers > 0)
		result(valid_refused == 0 && invalid_taken == 0 && valid_taken > 0 &&
		       invalid_refused > 0,
		       "%d writers: %" G_GUINT64_FORMAT " valid values of params/alpha taken, %"
		       G_GUINT64_FORMAT " refused; %" G_GUINT64_FORMAT
		       " invalid ones refused with EINVAL, %" G_GUINT64_FORMAT " taken%s",
		       n_writers, valid_taken, valid_refused, invalid_refused, invalid_taken,
		       first_problem(writers, (guint)n_writers));
	if (n_pausers > 0)
		result(toggles > 0, "ctl/pause toggled %" G_GUINT64_FORMAT " times", toggles);
	result(errors == 0, "%" G_GUINT64_FORMAT " unexpected errors from open/read/write/close%s",
	       errors, first_problem(all, n_all));
	if (!until_finished)
		result(resume_err == 0 && terminate_err == 0,
		       "echo 0 > ctl/pause, echo 1 > ctl/terminate at the end%s%s",
		       terminate_err || resume_err ? ": " : "",
		       terminate_err || resume_err
			       ? g_strerror(terminate_err ? terminate_err : resume_err) : "");
	else
		result(ended, "the computation finished");

	double rate = have_step1 && t1 > t0 ? (double)(step1 - step0) / (t1 - t0) : 0;
	printf("# soak: %.1f s of load, steps %" G_GUINT64_FORMAT " -> %" G_GUINT64_FORMAT
	       " (%.0f steps/s), %" G_GUINT64_FORMAT " reads, %" G_GUINT64_FORMAT
	       " update lines, %" G_GUINT64_FORMAT " missed lines\n",
	       t1 - t0, step0, step1, rate, total_reads, update_lines, missed_lines);
	printf("# soak-rate: %.1f\n", rate);
	g_free(all);
	return failures ? 1 : 0;
}
