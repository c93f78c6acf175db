/* idict-mpi-demo - the heat equation split across MPI ranks, one dictionary
 * for the whole job.  Run it as `mpirun -np 4 build/idict-mpi-demo mnt`.
 *
 * u_t = u_xx on [0, 1], u = 0 at both ends, explicit finite differences as in
 * idict-demo; each rank owns --points consecutive points and exchanges one
 * halo point with each neighbour per step.  Every rank publishes its own
 * step, alpha (the one it used), residual (its largest change) and u (its
 * part of the field); rank 0 serves the mount, where they appear as
 * rank/N/step, rank/N/alpha, ... and at the top level as rank 0's own, with
 * residual the MAX over the ranks (idict_mpi_reduce()).  params/alpha is
 * writable: a value set from the shell reaches every rank at the same step.
 *
 * The loop: compute, publish, idict_mpi_sync() (which also pauses and
 * terminates every rank together), then decide on values every rank has
 * after the sync: the global residual, the step, idict_mpi_terminated().
 */
#include <idict-mpi.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

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

/* Rank 0: a progress line at most once a second, and at the end. */
static void print_progress(IDict *dict, gboolean final, gpointer user_data)
{
	gint64 *last_us = user_data;
	gint64 now = g_get_monotonic_time();
	if (!final && now - *last_us < G_USEC_PER_SEC)
		return;
	*last_us = now;
	gint64 step = 0;
	double residual = 0;
	idict_get_int(dict, "step", &step, NULL);
	idict_get_double(dict, "residual", &residual, NULL);
	printf("idict-mpi-demo: step %" G_GINT64_FORMAT " residual %.3g%s\n", step, residual,
	       final ? " (final)" : "");
	fflush(stdout);
}

static void fail(int rank, const char *what, GError *error)
{
	fprintf(stderr, "idict-mpi-demo: rank %d: %s: %s\n", rank, what,
		error ? error->message : "failed");
	MPI_Abort(MPI_COMM_WORLD, 1);
}

int main(int argc, char **argv)
{
	/* Before MPI starts its threads, so that they inherit the mask: the
	 * first SIGINT/SIGTERM terminates the job through the next sync. */
	g_autoptr(IDict) dict = idict_new();
	idict_terminate_on_signals(dict, NULL);
	MPI_Init(&argc, &argv);
	int rank, size;
	MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	MPI_Comm_size(MPI_COMM_WORLD, &size);

	gint points = 16, delay_ms = 100;
	gint64 steps = 100000;
	double linger = 10, tolerance = 1e-9;
	g_autofree char *options = NULL;
	GOptionEntry entries[] = {
		{ "points", 'n', 0, G_OPTION_ARG_INT, &points, "Grid points per rank (default 16)",
		  "N" },
		{ "steps", 's', 0, G_OPTION_ARG_INT64, &steps, "Most steps (default 100000)", "N" },
		{ "delay", 'd', 0, G_OPTION_ARG_INT, &delay_ms, "Pause after each step (default 100)",
		  "MS" },
		{ "tolerance", 't', 0, G_OPTION_ARG_DOUBLE, &tolerance,
		  "Stop when the residual (MAX over the ranks) falls below (default 1e-9)", "X" },
		{ "linger", 'l', 0, G_OPTION_ARG_DOUBLE, &linger,
		  "After the end, keep serving while clients have files open, at most S seconds "
		  "(default 10)", "S" },
		{ "options", 'o', 0, G_OPTION_ARG_STRING, &options,
		  "Mount options, e.g. allow_other (see idict_serve)", "OPTS" },
		{ NULL, 0, 0, 0, NULL, NULL, NULL },
	};
	g_autoptr(GOptionContext) context = g_option_context_new("MOUNTPOINT");
	g_option_context_set_summary(context,
		"Relaxes a 1-D heat equation split across the MPI ranks; rank 0 serves the "
		"job's state as files under MOUNTPOINT.  Run it with mpirun.");
	g_option_context_add_main_entries(context, entries, NULL);
	g_autoptr(GError) error = NULL;
	if (!g_option_context_parse(context, &argc, &argv, &error) || argc != 2 || points < 1 ||
	    steps < 0 || delay_ms < 0) {
		if (rank == 0)
			fprintf(stderr, "idict-mpi-demo: %s\n%s",
				error ? error->message : "bad arguments",
				g_option_context_get_help(context, TRUE, NULL));
		MPI_Finalize();
		return 2;
	}

	/* This rank's points, with a halo point on each side: u[1..n]. */
	gsize n = (gsize)points, total = n * (gsize)size;
	g_autofree double *u = g_new0(double, n + 2);
	g_autofree double *next = g_new0(double, n + 2);
	double dx = 1.0 / (double)(total - 1);
	for (gsize i = 1; i <= n; i++) {
		gsize g = (gsize)rank * n + i - 1;
		double x = (double)g * dx;
		gboolean boundary = g == 0 || g == total - 1;
		u[i] = boundary ? 0 : sin(G_PI * x) + 0.5 * sin(5 * G_PI * x);
	}
	int left = rank > 0 ? rank - 1 : MPI_PROC_NULL;
	int right = rank < size - 1 ? rank + 1 : MPI_PROC_NULL;

	idict_set_int(dict, "step", 0, NULL);
	idict_set_double(dict, "alpha", 0.25, NULL);
	idict_set_double(dict, "residual", INFINITY, NULL);
	idict_set_array(dict, "u", u + 1, n, NULL);
	idict_set_double(dict, "params/alpha", 0.25, NULL);
	idict_set_writable(dict, "params/alpha", TRUE, NULL);
	idict_set_check(dict, "params/alpha", check_alpha, NULL, NULL, NULL);

	g_autoptr(IDictMpi) mpi = idict_mpi_new(dict, MPI_COMM_WORLD);
	if (!idict_mpi_reduce(mpi, "residual", IDICT_MPI_MAX, &error))
		fail(rank, "idict_mpi_reduce", error);

	IDictServer *server = NULL;
	gint64 last_print_us = 0;
	if (rank == 0) {
		idict_set_history(dict, "residual", 10000, NULL);
		idict_set_history(dict, "params/alpha", 1000, NULL);
		idict_set_progress_target(dict, "step", (double)MAX(steps, 1), NULL);
		server = idict_serve(dict, argv[1], options, &error);
		if (server == NULL)
			fail(rank, "idict_serve", error);
		idict_add_callback(dict, print_progress, &last_print_us, NULL);
		g_autofree char *mnt = g_shell_quote(idict_server_mountpoint(server));
		printf("idict-mpi-demo: %d ranks x %d points, serving at %s\n"
		       "  cat %s/rank/*/step %s/residual     # every rank's step, the MAX residual\n"
		       "  echo 0.4 > %s/params/alpha          # reaches every rank at the same step\n"
		       "  echo 1 > %s/ctl/pause; echo 0 > %s/ctl/pause; echo 1 > %s/ctl/terminate\n",
		       size, points, mnt, mnt, mnt, mnt, mnt, mnt, mnt);
		fflush(stdout);
	}

	/* The first sync publishes the starting state. */
	if (!idict_mpi_sync(mpi, FALSE, &error))
		fail(rank, "idict_mpi_sync", error);
	gint64 step = 0;
	double t = 0;
	const char *why = "reached --steps";
	while (step < steps) {
		/* The job's state as of the sync, the same on every rank;
		 * idict_terminated() may turn true on rank 0 alone meanwhile. */
		if (idict_mpi_terminated(mpi)) {
			why = "terminated";
			break;
		}
		/* The same alpha on every rank: client writes come into force
		 * at a sync. */
		double alpha = 0.25;
		idict_get_double(dict, "params/alpha", &alpha, NULL);
		MPI_Sendrecv(&u[1], 1, MPI_DOUBLE, left, 0, &u[n + 1], 1, MPI_DOUBLE, right, 0,
			     MPI_COMM_WORLD, MPI_STATUS_IGNORE);
		MPI_Sendrecv(&u[n], 1, MPI_DOUBLE, right, 1, &u[0], 1, MPI_DOUBLE, left, 1,
			     MPI_COMM_WORLD, MPI_STATUS_IGNORE);
		double residual = 0;
		for (gsize i = 1; i <= n; i++) {
			gsize g = (gsize)rank * n + i - 1;
			next[i] = g == 0 || g == total - 1
				? 0 : u[i] + alpha * (u[i - 1] - 2 * u[i] + u[i + 1]);
			residual = fmax(residual, fabs(next[i] - u[i]));
		}
		double *swap = u;
		u = next;
		next = swap;
		step++;
		t += alpha * dx * dx;

		idict_lock(dict);
		idict_set_int(dict, "step", step, NULL);
		idict_set_double(dict, "alpha", alpha, NULL);
		idict_set_double(dict, "time", t, NULL);
		idict_set_double(dict, "residual", residual, NULL);
		idict_set_array(dict, "u", u + 1, n, NULL);
		idict_unlock(dict);
		if (!idict_mpi_sync(mpi, FALSE, &error))
			fail(rank, "idict_mpi_sync", error);
		/* After the sync, residual is the MAX over the ranks, the same
		 * on every rank: they all stop at the same step. */
		double global = INFINITY;
		idict_get_double(dict, "residual", &global, NULL);
		if (global < tolerance) {
			why = "converged";
			break;
		}
		if (delay_ms > 0 && step < steps)
			g_usleep((gulong)delay_ms * 1000);
	}
	idict_set_string(dict, "message", why, NULL);
	if (!idict_mpi_sync(mpi, TRUE, &error))
		fail(rank, "idict_mpi_sync (final)", error);
	if (rank == 0) {
		printf("idict-mpi-demo: %s after %" G_GINT64_FORMAT " steps; serving up to %g s more\n",
		       why, step, linger);
		fflush(stdout);
		idict_server_wait_then_close(server, linger);
		printf("idict-mpi-demo: unmounted %s\n", argv[1]);
		fflush(stdout);
	}
	g_clear_pointer(&mpi, idict_mpi_free);
	MPI_Finalize();
	return 0;
}
