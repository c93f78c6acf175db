/* sweep - a parameter sweep served through idictfs: the dictionary
 * operations (set_default, update, pop, clear, copy, foreach) in the loop
 * of mmf.async.server.
 *
 * For each diffusion number alpha = 0.1, 0.2, ..., 0.5 in turn, relaxes the
 * 1-D heat equation u_t = u_xx from the same start until the largest change
 * of a step falls below params/tolerance, publishing the run in progress
 * (sweep, alpha, step, residual, u, message) and, for each finished run,
 * the steps it took as results/ALPHA.  Clients may change params/tolerance
 * (> 0) and restart the sweep (echo true > MNT/params/restart).  At the
 * end a callback prints the results, and the program the best run.
 *
 *   cc sweep.c $(pkg-config --cflags --libs idict) -lm
 *   ./sweep [--points N] [--delay MS] [--linger S] MOUNTPOINT
 */
#include <idict.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

static const double alphas[] = { 0.1, 0.2, 0.3, 0.4, 0.5 };

static gboolean check_tolerance(IDict *dict, const char *key, GVariant *value,
				gpointer user_data, GError **error)
{
	(void)dict, (void)key, (void)user_data;
	if (g_variant_get_double(value) > 0)
		return TRUE;
	g_set_error(error, IDICT_ERROR, IDICT_ERROR_INVALID_VALUE, "the tolerance must be > 0");
	return FALSE;
}

/* Declares the parameters clients may write, at the start and after a
 * restart (idict_clear() takes writable flags and checks with the keys).
 * A tolerance already there is kept.  Returns: the tolerance. */
static double declare_params(IDict *dict)
{
	g_autoptr(GVariant) tolerance =
		idict_set_default(dict, "params/tolerance", g_variant_new_double(1e-4), NULL);
	idict_set_writable(dict, "params/tolerance", TRUE, NULL);
	idict_set_check(dict, "params/tolerance", check_tolerance, NULL, NULL, NULL);
	idict_set_bool(dict, "params/restart", FALSE, NULL);
	idict_set_writable(dict, "params/restart", TRUE, NULL);
	return g_variant_get_double(tolerance);
}

static void print_result(IDict *dict, const char *key, GVariant *value, gpointer user_data)
{
	(void)dict, (void)user_data;
	if (g_str_has_prefix(key, "results/"))
		printf("sweep: alpha %s: %" G_GINT64_FORMAT " steps\n", key + strlen("results/"),
		       g_variant_get_int64(value));
}

/* A callback: after the final update, the results, from one moment. */
static void on_update(IDict *dict, gboolean final, gpointer user_data)
{
	(void)user_data;
	if (!final)
		return;
	idict_foreach(dict, print_result, NULL);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	gint points = 32, delay_ms = 1;
	double linger = 10;
	GOptionEntry entries[] = {
		{ "points", 'n', 0, G_OPTION_ARG_INT, &points, "Grid points (default 32)", "N" },
		{ "delay", 'd', 0, G_OPTION_ARG_INT, &delay_ms, "Pause after each step (default 1)",
		  "MS" },
		{ "linger", 'l', 0, G_OPTION_ARG_DOUBLE, &linger,
		  "At the end, serve while clients have files open, at most S seconds", "S" },
		{ NULL, 0, 0, 0, NULL, NULL, NULL },
	};
	g_autoptr(GOptionContext) context = g_option_context_new("MOUNTPOINT");
	g_option_context_add_main_entries(context, entries, NULL);
	g_autoptr(GError) error = NULL;
	if (!g_option_context_parse(context, &argc, &argv, &error) || argc != 2 || points < 3 ||
	    delay_ms < 0) {
		fprintf(stderr, "sweep: %s\n", error ? error->message : "bad arguments");
		return 2;
	}
	gsize n = (gsize)points;
	g_autofree double *u = g_new(double, n), *next = g_new(double, n);

	g_autoptr(IDict) dict = idict_new();
	idict_terminate_on_signals(dict, NULL);
	double tolerance = declare_params(dict);
	idict_add_callback(dict, on_update, NULL, NULL);
	IDictServer *server = idict_serve(dict, argv[1], NULL, &error);
	if (server == NULL) {
		fprintf(stderr, "sweep: %s\n", error->message);
		return 1;
	}

	g_autoptr(IDict) best = NULL; /* the state at the end of the fastest run */
	gint64 best_steps = G_MAXINT64, sweep = 1;
	gsize run = 0;
	while (!idict_terminated(dict) && run < G_N_ELEMENTS(alphas)) {
		double alpha = alphas[run];
		for (gsize i = 0; i < n; i++) {
			double x = (double)i / (double)(n - 1);
			u[i] = sin(G_PI * x) + 0.5 * sin(5 * G_PI * x);
		}
		u[0] = u[n - 1] = 0;
		/* The run's first state, built aside and published in one
		 * moment: no reader sees the new alpha with the last u. */
		g_autoptr(IDict) first = idict_new();
		idict_set_int(first, "sweep", sweep, NULL);
		idict_set_double(first, "alpha", alpha, NULL);
		idict_set_int(first, "step", 0, NULL);
		idict_set_double(first, "residual", INFINITY, NULL);
		idict_set_array(first, "u", u, n, NULL);
		idict_set_string(first, "message", "running", NULL);
		idict_update(dict, first, NULL);
		idict_notify_update(dict, FALSE);

		gint64 step = 0;
		double residual = INFINITY;
		gboolean restart = FALSE;
		while (residual >= tolerance && !restart) {
			idict_wait(dict, -1); /* blocks while ctl/pause is 1 */
			if (idict_terminated(dict))
				break;
			idict_get_double(dict, "params/tolerance", &tolerance, NULL);
			idict_get_bool(dict, "params/restart", &restart, NULL);
			residual = 0;
			next[0] = next[n - 1] = 0;
			for (gsize i = 1; i + 1 < n; i++) {
				next[i] = u[i] + alpha * (u[i - 1] - 2 * u[i] + u[i + 1]);
				residual = fmax(residual, fabs(next[i] - u[i]));
			}
			memcpy(u, next, n * sizeof *u);
			step++;
			idict_lock(dict); /* readers see all of these or none */
			idict_set_int(dict, "step", step, NULL);
			idict_set_double(dict, "residual", residual, NULL);
			idict_set_array(dict, "u", u, n, NULL);
			idict_unlock(dict);
			idict_notify_update(dict, FALSE);
			if (delay_ms > 0)
				g_usleep((gulong)delay_ms * 1000);
		}
		if (restart) {
			/* Start over: everything goes, in one moment with the
			 * parameters declared again; the client's tolerance is
			 * carried over. */
			idict_lock(dict);
			g_autoptr(GVariant) kept = idict_pop(dict, "params/tolerance");
			idict_clear(dict);
			idict_set_value(dict, "params/tolerance", kept, NULL);
			tolerance = declare_params(dict);
			idict_unlock(dict);
			idict_notify_update(dict, FALSE);
			g_clear_pointer(&best, idict_free);
			best_steps = G_MAXINT64;
			sweep++;
			run = 0;
			continue;
		}
		if (idict_terminated(dict))
			break;
		char key[64] = "results/";
		g_ascii_formatd(key + strlen(key), sizeof key - strlen(key), "%g", alpha);
		idict_set_int(dict, key, step, NULL);
		if (step < best_steps) {
			/* Values are shared with the copy: u is not copied. */
			best_steps = step;
			g_clear_pointer(&best, idict_free);
			best = idict_copy(dict);
		}
		idict_notify_update(dict, FALSE);
		run++;
	}
	idict_set_string(dict, "message", idict_terminated(dict) ? "terminated" : "done", NULL);
	idict_notify_update(dict, TRUE); /* readers get "final", then EOF */
	idict_server_wait_then_close(server, linger);
	if (best) {
		double alpha = 0;
		idict_get_double(best, "alpha", &alpha, NULL);
		printf("sweep: best alpha %g in %" G_GINT64_FORMAT " steps (sweep %" G_GINT64_FORMAT
		       ", %u keys kept)\n", alpha, best_steps, sweep, idict_size(best));
	}
	printf("sweep: %s\n", idict_terminated(dict) ? "terminated" : "done");
	return 0;
}
