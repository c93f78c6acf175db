/* test_mpi.c - libidict-mpi under a real MPI job, without a mount:
 * run as `mpirun -np 4 build/tests/test_mpi` (tests/shell/test_mpi.sh does).
 *
 * Every check is decided on every rank and combined (MPI_MIN), so that a
 * failure anywhere shows; rank 0 prints "ok - NAME" / "not ok - NAME".
 * Client writes are made with idict__view_client_write(), what the FUSE
 * layer calls; tests/shell/test_mpi.sh writes through a real mount.
 *
 * The library's collectives are counted through MPI's profiling interface
 * (MPI_Allreduce and the others, wrapped below, call PMPI_*): that is how
 * the cost of a sync is checked without timing anything.
 */
#include "idict-mpi-private.h"
#include "fs_view.h" /* idict__view_client_write(), idict__view_lookup() */

#include <math.h>
#include <stdio.h>
#include <string.h>

static int rank, size;
static int failures;

/* ---- counting the library's collectives (not those on MPI_COMM_WORLD) ---- */

static struct {
	int allreduce, gather, gatherv, bcast, ibcast;
	gint64 gather_bytes; /* sent by this rank in MPI_Gather(v) */
} calls;

int MPI_Allreduce(const void *send, void *recv, int count, MPI_Datatype type, MPI_Op op,
		  MPI_Comm comm)
{
	if (comm != MPI_COMM_WORLD)
		calls.allreduce++;
	return PMPI_Allreduce(send, recv, count, type, op, comm);
}

int MPI_Gather(const void *send, int send_count, MPI_Datatype send_type, void *recv,
	       int recv_count, MPI_Datatype recv_type, int root, MPI_Comm comm)
{
	if (comm != MPI_COMM_WORLD) {
		calls.gather++;
		int type_size = 0;
		MPI_Type_size(send_type, &type_size);
		calls.gather_bytes += (gint64)send_count * type_size;
	}
	return PMPI_Gather(send, send_count, send_type, recv, recv_count, recv_type, root, comm);
}

int MPI_Gatherv(const void *send, int send_count, MPI_Datatype send_type, void *recv,
		const int recv_counts[], const int displs[], MPI_Datatype recv_type, int root,
		MPI_Comm comm)
{
	if (comm != MPI_COMM_WORLD) {
		calls.gatherv++;
		calls.gather_bytes += send_count;
	}
	return PMPI_Gatherv(send, send_count, send_type, recv, recv_counts, displs, recv_type,
			    root, comm);
}

int MPI_Bcast(void *buffer, int count, MPI_Datatype type, int root, MPI_Comm comm)
{
	if (comm != MPI_COMM_WORLD)
		calls.bcast++;
	return PMPI_Bcast(buffer, count, type, root, comm);
}

int MPI_Ibcast(void *buffer, int count, MPI_Datatype type, int root, MPI_Comm comm,
	       MPI_Request *request)
{
	if (comm != MPI_COMM_WORLD)
		calls.ibcast++;
	return PMPI_Ibcast(buffer, count, type, root, comm, request);
}

/* ---- helpers ---- */

/* Reports @name: ok only if @ok_here on every rank. */
static void report(const char *name, gboolean ok_here)
{
	int ok = ok_here ? 1 : 0, all = 0;
	MPI_Allreduce(&ok, &all, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
	if (rank == 0) {
		printf("%s - %s\n", all ? "ok" : "not ok", name);
		fflush(stdout);
	}
	if (!all)
		failures++;
}

static gboolean has_double(IDict *dict, const char *key, double expected)
{
	double value;
	return idict_get_double(dict, key, &value, NULL) &&
		(value == expected || (isnan(value) && isnan(expected)));
}

static gboolean has_int(IDict *dict, const char *key, gint64 expected)
{
	gint64 value;
	return idict_get_int(dict, key, &value, NULL) && value == expected;
}

static gboolean has_string(IDict *dict, const char *key, const char *expected)
{
	g_autofree char *value = idict_dup_string(dict, key, NULL);
	return value && strcmp(value, expected) == 0;
}

static char *rank_key(int r, const char *key)
{
	return g_strdup_printf("rank/%d/%s", r, key);
}

static guint64 ino_of(IDict *dict, const char *key)
{
	g_auto(GStrv) parts = g_strsplit(key, "/", -1);
	guint64 ino = IDICT__INO_ROOT;
	for (char **p = parts; *p; p++) {
		IDictNodeInfo info;
		if (idict__view_lookup(dict, IDICT__VIEW_KEYS, ino, *p, &info) != 0)
			return 0;
		ino = info.ino;
	}
	return ino;
}

/* A client's write of @text to @key of @dict (as through the mount). */
static gboolean client_write(IDict *dict, const char *key, const char *text)
{
	return idict__view_client_write(dict, ino_of(dict, key), 0, text, strlen(text)) == 0;
}

/* Warnings of the library, counted (and kept quiet). */
static int warnings;
static GString *last_warning;

static void count_warning(const char *domain, GLogLevelFlags level, const char *message,
			  gpointer data)
{
	(void)domain, (void)level, (void)data;
	warnings++;
	g_string_assign(last_warning, message);
}

typedef struct {
	IDict *dict;
	IDictMpi *mpi;
} Job;

static Job job_new(void)
{
	Job job;
	job.dict = idict_new();
	job.mpi = idict_mpi_new(job.dict, MPI_COMM_WORLD);
	memset(&calls, 0, sizeof calls);
	warnings = 0;
	return job;
}

static void job_free(Job *job)
{
	idict_mpi_free(job->mpi);
	idict_free(job->dict);
}

static gboolean sync_ok(Job *job)
{
	g_autoptr(GError) error = NULL;
	gboolean ok = idict_mpi_sync(job->mpi, FALSE, &error);
	if (!ok)
		fprintf(stderr, "rank %d: sync: %s\n", rank, error->message);
	return ok;
}

/* ---- the tests ---- */

static void test_gather_every_type(void)
{
	Job job = job_new();
	idict_set_int(job.dict, "step", 10 * rank, NULL);
	g_autofree char *name = g_strdup_printf("r%d", rank);
	idict_set_string(job.dict, "name", name, NULL);
	double u[4] = { rank, rank + 0.5, 1e-300, -0.0 };
	idict_set_array(job.dict, "u", u, (gsize)rank + 1, NULL);
	idict_set_bool(job.dict, "flag", rank % 2, NULL);
	idict_set_value(job.dict, "pair", g_variant_new("(is)", rank, "x"), NULL);
	guint64 seq = idict_sequence(job.dict);
	report("gather: the sync succeeds", sync_ok(&job));

	gboolean ok = TRUE;
	if (rank == 0) {
		for (int r = 0; r < size; r++) {
			g_autofree char *step = rank_key(r, "step");
			g_autofree char *name_key = rank_key(r, "name");
			g_autofree char *u_key = rank_key(r, "u");
			g_autofree char *flag = rank_key(r, "flag");
			g_autofree char *pair = rank_key(r, "pair");
			g_autofree char *expected = g_strdup_printf("r%d", r);
			gsize n = 0;
			g_autofree double *got = idict_dup_array(job.dict, u_key, &n, NULL);
			gboolean b = FALSE;
			g_autoptr(GVariant) p = idict_get_value(job.dict, pair);
			ok = ok && has_int(job.dict, step, 10 * r) &&
				has_string(job.dict, name_key, expected) && got &&
				n == (gsize)r + 1 && got[0] == r &&
				(n < 4 || (got[2] == 1e-300 && signbit(got[3]))) &&
				idict_get_bool(job.dict, flag, &b, NULL) && b == (r % 2) && p &&
				g_variant_is_of_type(p, G_VARIANT_TYPE("(is)"));
		}
		/* Rank 0's own keys stay at the top. */
		ok = ok && has_int(job.dict, "step", 0);
	}
	report("gather: rank 0 has every rank's keys as rank/N/KEY, every type exact", ok);
	report("gather: one update per sync", idict_sequence(job.dict) == seq + 1);
	report("gather: one MPI_Allreduce and one MPI_Gather (sizes close)",
	       calls.allreduce == 1 && calls.gather == 1 && calls.gatherv == 0 && calls.bcast == 0);

	/* Only what changed travels. */
	memset(&calls, 0, sizeof calls);
	if (rank == 2)
		idict_set_int(job.dict, "step", 21, NULL);
	report("gather: a second sync", sync_ok(&job));
	ok = TRUE;
	if (rank == 0) {
		g_autofree char *step2 = rank_key(2, "step");
		g_autofree char *step1 = rank_key(1, "step");
		ok = has_int(job.dict, step2, 21) && has_int(job.dict, step1, 10);
		g_auto(GStrv) changed_on_0 = idict_changed_keys(job.dict);
		ok = ok && changed_on_0[0] == NULL;
	}
	report("gather: only the changed key travels; the others keep their values", ok);
	/* Small changes go in one MPI_Gather of equal blocks: the others send
	 * a length and padding, no data. */
	report("gather: only rank 2 sent its change", rank == 2 ? calls.gather_bytes > 8
				: calls.gather_bytes <= 8 + 64);

	/* Nothing changed: one small MPI_Allreduce and nothing else. */
	memset(&calls, 0, sizeof calls);
	report("gather: a sync with nothing changed", sync_ok(&job));
	report("cost: a sync with nothing changed is one MPI_Allreduce and nothing else",
	       calls.allreduce == 1 && calls.gather + calls.gatherv + calls.bcast +
			       calls.ibcast == 0);

	/* Removals; a key replaced by a directory of the same name. */
	if (rank == 1) {
		idict_remove(job.dict, "name");
		idict_remove(job.dict, "flag");
		idict_set_double(job.dict, "flag/inner", 1.5, NULL);
	}
	report("gather: a sync after removals", sync_ok(&job));
	ok = TRUE;
	if (rank == 0)
		ok = !idict_contains(job.dict, "rank/1/name") &&
			!idict_contains(job.dict, "rank/1/flag") &&
			has_double(job.dict, "rank/1/flag/inner", 1.5) &&
			idict_contains(job.dict, "rank/2/name");
	report("gather: a removed key goes; a key may become a directory", ok);
	job_free(&job);
}

static void test_cost_proportional(void)
{
	Job job = job_new();
	double values[1000];
	for (int i = 0; i < 1000; i++)
		values[i] = rank + i * 1e-3;
	idict_set_array(job.dict, "u", values, 1000, NULL);
	report("cost: a sync with 1000 changed doubles", sync_ok(&job));
	/* 8000 bytes of doubles, plus the record's head and the block's length. */
	report("cost: 1000 changed doubles send at most 8000 + 64 bytes per rank",
	       calls.allreduce == 1 && calls.gather == 1 && calls.gather_bytes >= 8000 &&
		       calls.gather_bytes <= 8000 + 64);

	/* Sizes far apart: the sizes, then exactly the bytes. */
	memset(&calls, 0, sizeof calls);
	if (rank == 2) {
		g_autofree double *big = g_new(double, 10000);
		for (int i = 0; i < 10000; i++)
			big[i] = i / 7.0;
		idict_set_array(job.dict, "big", big, 10000, NULL);
	}
	report("cost: one rank with a large change", sync_ok(&job));
	gboolean ok = calls.gather == 1 && calls.gatherv == 1 &&
		(rank == 2 ? calls.gather_bytes > 80000 : calls.gather_bytes <= 4);
	if (rank == 0) {
		gsize n = 0;
		g_autofree double *big = idict_dup_array(job.dict, "rank/2/big", &n, NULL);
		ok = ok && big && n == 10000 && big[9999] == 9999 / 7.0;
	}
	report("cost: sizes far apart go by MPI_Gatherv, the others send only their size", ok);
	job_free(&job);
}

static void test_reductions(void)
{
	Job job = job_new();
	g_autoptr(GError) error = NULL;
	gboolean declared = idict_mpi_reduce(job.mpi, "residual", IDICT_MPI_MAX, &error) &&
		idict_mpi_reduce(job.mpi, "lowest", IDICT_MPI_MIN, &error) &&
		idict_mpi_reduce(job.mpi, "cells", IDICT_MPI_SUM, &error) &&
		idict_mpi_reduce(job.mpi, "mixed", IDICT_MPI_SUM, &error) &&
		idict_mpi_reduce(job.mpi, "absent", IDICT_MPI_MAX, &error);
	report("reduce: declared on every rank", declared);
	idict_set_double(job.dict, "residual", 1.0 / (rank + 1), NULL);
	idict_set_double(job.dict, "lowest", rank - 1.5, NULL);
	memset(&calls, 0, sizeof calls);
	idict_set_int(job.dict, "cells", 100 + rank, NULL);
	if (rank % 2)
		idict_set_int(job.dict, "mixed", 1, NULL);
	else
		idict_set_double(job.dict, "mixed", 0.25, NULL);
	report("reduce: sync", sync_ok(&job));
	gint64 cells_sum = 0;
	double mixed_sum = 0;
	for (int r = 0; r < size; r++) {
		cells_sum += 100 + r;
		mixed_sum += r % 2 ? 1 : 0.25;
	}
	report("reduce: MAX, MIN and SUM on every rank",
	       has_double(job.dict, "residual", 1.0) && has_double(job.dict, "lowest", -1.5) &&
		       has_int(job.dict, "cells", cells_sum));
	report("reduce: ints and doubles summed together give a double",
	       has_double(job.dict, "mixed", mixed_sum));
	report("reduce: a key no rank has stays absent", !idict_contains(job.dict, "absent"));
	gboolean ok = TRUE;
	if (rank == 0)
		for (int r = 0; r < size; r++) {
			g_autofree char *key = rank_key(r, "residual");
			ok = ok && has_double(job.dict, key, 1.0 / (r + 1));
		}
	report("reduce: rank 0 keeps each rank's own value as rank/N/KEY", ok);
	report("reduce: no extra collective for reductions", calls.allreduce == 1);

	/* Unchanged since: each rank's own last value counts, not the sum. */
	report("reduce: sync without changes", sync_ok(&job));
	report("reduce: a rank that did not set the key again contributes its own last value",
	       has_int(job.dict, "cells", cells_sum) && has_double(job.dict, "residual", 1.0));

	/* NaN on one rank shows in MAX and MIN. */
	if (rank == 3 % size)
		idict_set_double(job.dict, "residual", NAN, NULL);
	report("reduce: sync with a NaN", sync_ok(&job));
	report("reduce: a NaN on one rank makes the MAX NaN", has_double(job.dict, "residual", NAN));

	/* A rank whose key holds another type takes no part, with one warning. */
	warnings = 0;
	idict_set_double(job.dict, "residual", rank, NULL);
	if (rank == 1)
		idict_set_string(job.dict, "residual", "diverged", NULL);
	report("reduce: sync with a string on rank 1", sync_ok(&job));
	report("reduce: a rank with another type takes no part",
	       has_double(job.dict, "residual", size - 1 == 1 ? 0 : size - 1));
	report("reduce: ... and warns once, on that rank", rank == 1 ? warnings == 1 : warnings == 0);

	/* Int overflow in a SUM: a double, with a warning. */
	idict_set_int(job.dict, "cells", G_MAXINT64 - 1, NULL);
	report("reduce: sync with an overflowing sum", sync_ok(&job));
	report("reduce: an int SUM beyond 64 bits is stored as a double",
	       has_double(job.dict, "cells", (double)(G_MAXINT64 - 1) * size));

	/* After the first sync, declarations are refused on every rank. */
	g_clear_error(&error);
	gboolean late = idict_mpi_reduce(job.mpi, "late", IDICT_MPI_SUM, &error);
	report("reduce: a declaration after the first sync is refused on every rank",
	       !late && error && strstr(error->message, "before the first sync"));
	job_free(&job);

	/* Ranks that declare different things all get the error. */
	job = job_new();
	g_clear_error(&error);
	gboolean ok_decl = idict_mpi_reduce(job.mpi, rank == 2 ? "other" : "residual",
					    IDICT_MPI_MAX, &error);
	report("reduce: different keys on different ranks: refused on every rank",
	       !ok_decl && error && strstr(error->message, "different"));
	g_clear_error(&error);
	ok_decl = idict_mpi_reduce(job.mpi, "residual", rank == 1 ? IDICT_MPI_MIN : IDICT_MPI_MAX,
				   &error);
	report("reduce: different operations: refused on every rank", !ok_decl && error);
	g_clear_error(&error);
	ok_decl = idict_mpi_reduce(job.mpi, rank == 0 ? "bad name" : "residual", IDICT_MPI_MAX,
				   &error);
	report("reduce: a bad name on one rank: refused on every rank", !ok_decl && error);
	/* The refused declarations left nothing behind. */
	idict_set_double(job.dict, "residual", rank, NULL);
	report("reduce: sync after refused declarations", sync_ok(&job));
	report("reduce: refused declarations reduce nothing",
	       has_double(job.dict, "residual", rank));
	job_free(&job);
}

static void test_client_writes(void)
{
	Job job = job_new();
	idict_set_double(job.dict, "params/alpha", 0.25, NULL);
	idict_set_writable(job.dict, "params/alpha", TRUE, NULL);
	report("params: first sync", sync_ok(&job));

	gboolean ok = TRUE;
	if (rank == 0) {
		/* A client writes between two syncs: rank 0's computation must
		 * not see it before the others do. */
		ok = client_write(job.dict, "params/alpha", "0.3\n") &&
			has_double(job.dict, "params/alpha", 0.25);
	}
	report("params: a client's write on rank 0 is held until the sync", ok);
	memset(&calls, 0, sizeof calls);
	report("params: sync", sync_ok(&job));
	report("params: after the sync every rank has the client's value",
	       has_double(job.dict, "params/alpha", 0.3));
	report("params: client writes cost one MPI_Bcast", calls.bcast == 1);
	ok = TRUE;
	if (rank == 0)
		for (int r = 0; r < size; r++) {
			/* Gathered at the first sync, as each rank set it. */
			g_autofree char *key = rank_key(r, "params/alpha");
			ok = ok && has_double(job.dict, key, 0.25);
		}
	report("params: a client's write is not gathered back as a rank's change", ok);
	report("params: a sync after it sends nothing", sync_ok(&job));

	/* A rank on which the key cannot be stored warns, the others take it. */
	if (rank == 2) {
		idict_remove(job.dict, "params/alpha");
		idict_set_double(job.dict, "params/alpha/x", 1, NULL);
	}
	report("params: sync", sync_ok(&job));
	warnings = 0;
	if (rank == 0)
		client_write(job.dict, "params/alpha", "0.125");
	report("params: sync with a write rank 2 cannot store", sync_ok(&job));
	report("params: the others have it",
	       rank == 2 ? warnings == 1 && strstr(last_warning->str, "params/alpha")
			 : has_double(job.dict, "params/alpha", 0.125));
	job_free(&job);
}

/* Rank 0's helper thread, a stand-in for a shell: pauses the job, waits
 * until every rank is inside the sync, checks what a watcher would see,
 * writes a parameter, and resumes. */
typedef struct {
	IDict *dict;
	gboolean steps_equal_and_still;
	gboolean held_while_paused;
} PauseJob;

static gpointer pause_helper(gpointer data)
{
	PauseJob *pj = data;
	/* The sync publishes, then waits: the update says it is there. */
	while (idict_sequence(pj->dict) < 2)
		g_usleep(1000);
	gint64 first[64] = { 0 };
	gboolean ok = TRUE;
	for (int round = 0; round < 2; round++) {
		for (int r = 0; r < size && r < 64; r++) {
			g_autofree char *key = rank_key(r, "step");
			gint64 step = -1;
			ok = ok && idict_get_int(pj->dict, key, &step, NULL) && step == 1;
			if (round == 0)
				first[r] = step;
			else
				ok = ok && step == first[r];
		}
		g_usleep(200 * 1000);
	}
	pj->steps_equal_and_still = ok && idict_sequence(pj->dict) == 2;
	pj->held_while_paused = client_write(pj->dict, "params/alpha", "0.375") &&
		has_double(pj->dict, "params/alpha", 0.25);
	idict_resume(pj->dict);
	return NULL;
}

static void test_pause(void)
{
	Job job = job_new();
	idict_set_double(job.dict, "params/alpha", 0.25, NULL);
	idict_set_writable(job.dict, "params/alpha", TRUE, NULL);
	idict_set_int(job.dict, "step", 0, NULL);
	report("pause: first sync", sync_ok(&job));
	idict_set_int(job.dict, "step", 1, NULL);
	PauseJob pj = { .dict = job.dict };
	GThread *helper = NULL;
	if (rank == 0) {
		idict_pause(job.dict);
		helper = g_thread_new("pause-helper", pause_helper, &pj);
	}
	memset(&calls, 0, sizeof calls);
	report("pause: the sync returns after the resume", sync_ok(&job));
	if (helper)
		g_thread_join(helper);
	report("pause: while paused every rank/N/step is equal and still, one update",
	       rank != 0 || pj.steps_equal_and_still);
	report("pause: a write during the pause is held on rank 0",
	       rank != 0 || pj.held_while_paused);
	report("pause: after the resume every rank has it",
	       has_double(job.dict, "params/alpha", 0.375));
	report("pause: every rank waited without spinning in MPI (an MPI_Ibcast)",
	       calls.ibcast == 1);
	report("pause: not paused any more on any rank", !idict_paused(job.dict));
	job_free(&job);
}

static void test_terminate_and_final(void)
{
	for (int who = 0; who < 2; who++) {
		Job job = job_new();
		report("terminate: sync", sync_ok(&job));
		int from = who == 0 ? 0 : size - 1;
		if (rank == from)
			idict_terminate(job.dict);
		report("terminate: the job's state changes only at a sync",
		       !idict_mpi_terminated(job.mpi));
		report("terminate: sync", sync_ok(&job));
		g_autofree char *name = g_strdup_printf(
			"terminate: from rank %d, every rank is terminated after the same sync", from);
		report(name, idict_mpi_terminated(job.mpi) && idict_terminated(job.dict));
		job_free(&job);
	}

	Job job = job_new();
	report("final: sync", sync_ok(&job));
	g_autoptr(GError) error = NULL;
	report("final: one rank asks for the final sync",
	       idict_mpi_sync(job.mpi, rank == 1 % size, &error));
	IDictStatus status;
	idict__store_status(job.dict, &status);
	report("final: every rank published its final update and is terminated",
	       strcmp(status.state, "finished") == 0 && idict_terminated(job.dict) &&
		       idict_mpi_terminated(job.mpi));
	gboolean again = idict_mpi_sync(job.mpi, FALSE, &error);
	report("final: a sync after the final one fails on every rank",
	       !again && error && strstr(error->message, "after the final"));
	job_free(&job);
}

static void test_names(void)
{
	Job job = job_new();
	/* rank/N/ takes 7 bytes for ranks 0-9. */
	char longest[IDICT_KEY_MAX + 2];
	memset(longest, 'k', sizeof longest);
	longest[IDICT_KEY_MAX - 7] = '\0';
	char too_long[IDICT_KEY_MAX + 2];
	memset(too_long, 'l', sizeof too_long);
	too_long[IDICT_KEY_MAX - 6] = '\0';
	idict_set_int(job.dict, longest, 1, NULL);
	idict_set_int(job.dict, too_long, 2, NULL);
	warnings = 0;
	report("names: sync", sync_ok(&job));
	gboolean ok = TRUE;
	if (rank == 0) {
		g_autofree char *a = rank_key(1, longest);
		g_autofree char *b = rank_key(1, too_long);
		ok = has_int(job.dict, a, 1) && !idict_contains(job.dict, b);
	}
	report("names: the longest key that fits under rank/N/ is gathered, a longer one not", ok);
	report("names: each rank warns once about its key too long",
	       warnings == 1 && strstr(last_warning->str, "too long"));
	idict_set_int(job.dict, too_long, 3, NULL);
	report("names: sync", sync_ok(&job));
	report("names: ... once only", warnings == 1 && idict_contains(job.dict, too_long));

	/* A key of different types on different ranks. */
	if (rank % 2)
		idict_set_string(job.dict, "x", "text", NULL);
	else
		idict_set_double(job.dict, "x", rank, NULL);
	report("names: sync", sync_ok(&job));
	ok = TRUE;
	if (rank == 0)
		for (int r = 0; r < size; r++) {
			g_autofree char *key = rank_key(r, "x");
			ok = ok && (r % 2 ? has_string(job.dict, key, "text")
					  : has_double(job.dict, key, r));
		}
	report("names: a key of different types on different ranks keeps each rank's type", ok);

	job_free(&job);

	/* Rank 0 owning a key named "rank" cannot take the others' keys. */
	job = job_new();
	if (rank == 0)
		idict_set_int(job.dict, "rank", 7, NULL);
	if (rank != 0)
		idict_set_int(job.dict, "y", 1, NULL);
	report("names: sync with rank 0 holding a key \"rank\"", sync_ok(&job));
	report("names: rank 0 warns about the keys it cannot store, and keeps its own",
	       rank != 0 || (warnings >= 1 && has_int(job.dict, "rank", 7)));
	job_free(&job);
}

int main(int argc, char **argv)
{
	MPI_Init(&argc, &argv);
	MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	MPI_Comm_size(MPI_COMM_WORLD, &size);
	last_warning = g_string_new(NULL);
	g_log_set_handler("idict-mpi", G_LOG_LEVEL_WARNING, count_warning, NULL);
	if (size < 2) {
		if (rank == 0)
			printf("not ok - test_mpi needs at least 2 ranks (mpirun -np 4)\n");
		MPI_Finalize();
		return 1;
	}
	test_gather_every_type();
	test_cost_proportional();
	test_reductions();
	test_client_writes();
	test_pause();
	test_terminate_and_final();
	test_names();
	g_string_free(last_warning, TRUE);
	MPI_Finalize();
	return failures == 0 ? 0 : 1;
}
