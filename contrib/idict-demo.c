/* idict-demo - a small real computation served through idictfs.
 *
 * Solves the 1-D heat equation u_t = u_xx on [0, 1] with u = 0 at both ends,
 * by explicit finite differences, relaxing an initial profile towards zero.
 * Each step publishes step, time, residual (largest change in u), the field
 * u and a message; params/alpha (the step's diffusion number dt/dx^2) may be
 * changed by clients within (0, 0.5], where the scheme is stable.
 *
 * The loop is the mmf.async.server pattern in C: check terminated, wait
 * while paused, update under the lock, notify; final update at the end, then
 * wait-then-close so clients can read the last values.
 */
#include <idict.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

typedef struct {
	gint64 last_print_us;
} Progress;

static gboolean check_alpha(IDict *dict, const char *key, GVariant *value, gpointer user_data,
			    GError **error)
{
	(void)dict, (void)key, (void)user_data;
	double alpha = g_variant_get_double(value);
	if (!(alpha > 0 && alpha <= 0.5)) {
		g_set_error(error, IDICT_ERROR, IDICT_ERROR_INVALID_VALUE,
			    "alpha must lie in (0, 0.5] for the scheme to be stable");
		return FALSE;
	}
	return TRUE;
}

/* The fraction of the run done, step / the step at which it will end: at
 * --steps, or sooner when the residual falls below --tolerance.  The
 * residual falls geometrically (once the fast modes have died out, the
 * field's slowest mode decays by the same factor each step), so the steps
 * left until the tolerance are log(residual / tolerance) / the decay per
 * step.  A run at a steady pace then makes steady progress, which is
 * what ctl/status's eta_seconds assumes.  @decay: log(previous residual /
 * residual), smoothed over the last steps. */
static double progress_of(gint64 step, gint64 steps, double residual, double decay,
			  double tolerance)
{
	double end = (double)MAX(steps, 1);
	if (residual < tolerance)
		return 1;
	if (decay > 0 && isfinite(residual))
		end = fmin(end, (double)step + log(residual / tolerance) / decay);
	return fmin(1, (double)step / end);
}

/* Prints each value a client wrote that was refused, with the reason the
 * client can also read in ctl/errors. */
static void print_refusal(IDict *dict, const char *key, guint uid, const char *value,
			  const char *reason, gpointer user_data)
{
	(void)dict, (void)user_data;
	printf("idict-demo: refused %s = %s from uid %u: %s\n", key, value, uid, reason);
	fflush(stdout);
}

/* A callback: prints a progress line at most once a second, and at the end:
 * the step and the key progress, the fraction of the run done toward
 * whichever end comes first (progress_of()). */
static void print_progress(IDict *dict, gboolean final, gpointer user_data)
{
	Progress *progress = user_data;
	gint64 now = g_get_monotonic_time();
	if (!final && now - progress->last_print_us < G_USEC_PER_SEC)
		return;
	progress->last_print_us = now;
	gint64 step = 0;
	double residual = 0, done = 0;
	idict_get_int(dict, "step", &step, NULL);
	idict_get_double(dict, "residual", &residual, NULL);
	idict_get_double(dict, "progress", &done, NULL);
	printf("idict-demo: step %" G_GINT64_FORMAT ", %.1f%% done, residual %.3g%s%s\n", step,
	       100 * done, residual, idict_paused(dict) ? " (paused)" : "",
	       final ? " (final)" : "");
	fflush(stdout);
}

int main(int argc, char **argv)
{
	gint points = 64, delay_ms = 100;
	gint64 steps = 100000;
	double linger = 10, tolerance = 1e-9;
	g_autofree char *checkpoint = NULL, *resume = NULL, *options = NULL;
	GOptionEntry entries[] = {
		{ "points", 'n', 0, G_OPTION_ARG_INT, &points, "Grid points (default 64)", "N" },
		{ "steps", 's', 0, G_OPTION_ARG_INT64, &steps, "Most steps (default 100000)", "N" },
		{ "delay", 'd', 0, G_OPTION_ARG_INT, &delay_ms, "Pause after each step (default 100)",
		  "MS" },
		{ "tolerance", 't', 0, G_OPTION_ARG_DOUBLE, &tolerance,
		  "Stop when the residual falls below (default 1e-9)", "X" },
		{ "linger", 'l', 0, G_OPTION_ARG_DOUBLE, &linger,
		  "After the end, keep serving while clients have files open, at most S seconds "
		  "(default 10)", "S" },
		{ "checkpoint", 'c', 0, G_OPTION_ARG_FILENAME, &checkpoint,
		  "At the end, save the state to FILE (atomically)", "FILE" },
		{ "resume", 'r', 0, G_OPTION_ARG_FILENAME, &resume,
		  "Start from a checkpoint saved with --checkpoint (its grid replaces --points)",
		  "FILE" },
		{ "options", 'o', 0, G_OPTION_ARG_STRING, &options,
		  "Mount options, e.g. allow_other,write_mode=0664 (see idict_serve)", "OPTS" },
		{ NULL, 0, 0, 0, NULL, NULL, NULL },
	};
	g_autoptr(GOptionContext) context = g_option_context_new("MOUNTPOINT");
	g_option_context_set_summary(context,
		"Relaxes a 1-D heat equation and serves its state as files under MOUNTPOINT.");
	g_option_context_add_main_entries(context, entries, NULL);
	g_autoptr(GError) error = NULL;
	if (!g_option_context_parse(context, &argc, &argv, &error) || argc != 2 || points < 3 ||
	    steps < 0 || delay_ms < 0) {
		fprintf(stderr, "idict-demo: %s\n%s", error ? error->message : "bad arguments",
			g_option_context_get_help(context, TRUE, NULL));
		return 2;
	}
	const char *mountpoint = argv[1];

	g_autoptr(IDict) dict = resume ? idict_load(resume, &error) : idict_new();
	if (dict == NULL) {
		fprintf(stderr, "idict-demo: %s\n", error->message);
		return 1;
	}
	/* Ctrl-C: the first stops the loop cleanly, a second ends the process. */
	idict_terminate_on_signals(dict, NULL);

	gsize n = (gsize)points;
	g_autofree double *u = NULL;
	double t = 0, residual = INFINITY;
	gint64 step = 0;
	if (resume) {
		u = idict_dup_array(dict, "u", &n, &error);
		if (u == NULL || n < 3 || !idict_get_int(dict, "step", &step, &error) ||
		    !idict_get_double(dict, "time", &t, &error)) {
			fprintf(stderr, "idict-demo: %s is not a checkpoint of this demo%s%s\n",
				resume, error ? ": " : "", error ? error->message : "");
			return 1;
		}
		idict_get_double(dict, "residual", &residual, NULL);
		if (!idict_contains(dict, "params/alpha"))
			idict_set_double(dict, "params/alpha", 0.25, NULL);
		idict_set_string(dict, "message", "resumed", NULL);
	} else {
		u = g_new(double, n);
		double dx = 1.0 / (double)(n - 1);
		for (gsize i = 0; i < n; i++) {
			double x = (double)i * dx;
			u[i] = sin(G_PI * x) + 0.5 * sin(5 * G_PI * x);
		}
		u[0] = u[n - 1] = 0;
		idict_set_int(dict, "step", 0, NULL);
		idict_set_double(dict, "time", 0, NULL);
		idict_set_double(dict, "residual", INFINITY, NULL);
		idict_set_array(dict, "u", u, n, NULL);
		idict_set_double(dict, "params/alpha", 0.25, NULL);
		idict_set_string(dict, "message", "starting", NULL);
	}
	/* Clients can plot convergence from history/residual, and ctl/status
	 * shows the fraction done (the key progress, below) and the time
	 * left. */
	idict_set_history(dict, "residual", 10000, NULL);
	idict_set_history(dict, "params/alpha", 1000, NULL);
	idict_set_double(dict, "progress", 0, NULL);
	idict_set_progress_target(dict, "progress", 1, NULL);
	/* Checks are code, not data: attached again after a resume. */
	idict_set_writable(dict, "params/alpha", TRUE, NULL);
	idict_set_check(dict, "params/alpha", check_alpha, NULL, NULL, NULL);
	idict_set_refusal_callback(dict, print_refusal, NULL, NULL);
	g_autofree double *next = g_new(double, n);
	double dx = 1.0 / (double)(n - 1);

	IDictServer *server = idict_serve(dict, mountpoint, options, &error);
	if (server == NULL) {
		fprintf(stderr, "idict-demo: %s\n", error->message);
		return 1;
	}
	/* Quoted, so that the lines can be pasted whatever the path. */
	g_autofree char *mnt = g_shell_quote(idict_server_mountpoint(server));
	printf("idict-demo: serving at %s (Ctrl-C to stop; twice to quit at once).\n"
	       "Try, in another shell:\n"
	       "  cat %s/residual %s/step        # current values\n"
	       "  cat %s/ctl/status              # state, sequence, times\n"
	       "  echo 0.4 > %s/params/alpha     # change a parameter (0 < alpha <= 0.5)\n"
	       "  cat %s/ctl/errors              # why a value was refused\n"
	       "  echo 1 > %s/ctl/pause; echo 0 > %s/ctl/pause\n"
	       "  while read -r seq kind keys; do echo \"$seq $kind\"; done < %s/updates\n"
	       "  echo 1 > %s/ctl/terminate      # stop cleanly\n",
	       mnt, mnt, mnt, mnt, mnt, mnt, mnt, mnt, mnt, mnt);
	fflush(stdout);

	Progress progress = { 0 };
	idict_add_callback(dict, print_progress, &progress, NULL);

	const char *why = "reached --steps";
	double decay = 0; /* log(previous residual / residual), smoothed */
	while (step < steps) {
		idict_wait(dict, -1);
		if (idict_terminated(dict)) {
			why = "terminated";
			break;
		}
		double alpha = 0.25;
		idict_get_double(dict, "params/alpha", &alpha, NULL);
		double previous_residual = residual;
		residual = 0;
		next[0] = next[n - 1] = 0;
		for (gsize i = 1; i + 1 < n; i++) {
			next[i] = u[i] + alpha * (u[i - 1] - 2 * u[i] + u[i + 1]);
			residual = fmax(residual, fabs(next[i] - u[i]));
		}
		if (residual > 0 && isfinite(previous_residual))
			decay = 0.99 * decay + 0.01 * log(previous_residual / residual);
		double *swap = u;
		u = next;
		next = swap;
		step++;
		t += alpha * dx * dx;

		idict_lock(dict);
		idict_set_double(dict, "progress", progress_of(step, steps, residual, decay, tolerance),
				 NULL);
		idict_set_int(dict, "step", step, NULL);
		idict_set_double(dict, "time", t, NULL);
		idict_set_double(dict, "residual", residual, NULL);
		idict_set_array(dict, "u", u, n, NULL);
		idict_set_string(dict, "message", "running", NULL);
		idict_unlock(dict);
		idict_notify_update(dict, FALSE);

		if (residual < tolerance) {
			why = "converged";
			break;
		}
		if (delay_ms > 0)
			g_usleep((gulong)delay_ms * 1000);
	}
	idict_set_string(dict, "message", why, NULL);
	/* Saved before the final update, so a client that sees "final" finds it. */
	if (checkpoint) {
		if (idict_save(dict, checkpoint, &error))
			printf("idict-demo: saved the state to %s (--resume it)\n", checkpoint);
		else
			fprintf(stderr, "idict-demo: %s\n", error->message);
	}
	idict_notify_update(dict, TRUE);
	printf("idict-demo: %s after %" G_GINT64_FORMAT " steps; serving up to %g s more\n", why,
	       step, linger);
	fflush(stdout);
	idict_server_wait_then_close(server, linger);
	printf("idict-demo: unmounted %s\n", mountpoint);
	return 0;
}
