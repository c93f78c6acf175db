/* mpi_bench.c - `make bench`'s rows for libidict-mpi (issue 15), run as
 * `mpirun -np 4 build/bench/idict-mpi-bench` by tests/bench/run-bench.sh,
 * which passes the rows to idict-bench for its table.
 *
 * The per-step cost of idict_mpi_sync(), each beside an MPI baseline
 * measured in the same run, in interleaved batches: a batch is K steps
 * between two MPI_Barriers, timed on rank 0, so that pipelined operations
 * (MPI_Bcast returns on the root before the others have the data) are
 * counted until every rank is done.  Medians over the batches, p10-p90.
 *   10a  a sync with nothing changed       vs MPI_Bcast of 64 bytes
 *   10b  the same                          vs MPI_Allreduce of 8 bytes (the
 *       least a sync that must hear from every rank can cost)
 *   10c  1,000 changed doubles per rank (one array) vs MPI_Gather of 8,000 B
 *   10d  1,000 changed double keys per rank        vs the same MPI_Gather
 * Prints the rows as markdown table lines on rank 0; nothing asserted.
 * Usage: mpirun -np 4 idict-mpi-bench [--quick]
 */
#include <idict-mpi.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int rank, size;

typedef enum {
	OP_BCAST64,
	OP_ALLREDUCE8,
	OP_GATHER8000,
	OP_SYNC_NOTHING,
	OP_SYNC_ARRAY,
	OP_SYNC_KEYS,
} Op;

typedef struct {
	IDict *dict;
	IDictMpi *mpi;
	double values[1000];
	char names[1000][16];
	guint64 step;
	char buf[8000];
	char *all;
} Ctx;

static void step_once(Ctx *c, Op op)
{
	switch (op) {
	case OP_BCAST64:
		MPI_Bcast(c->buf, 64, MPI_BYTE, 0, MPI_COMM_WORLD);
		break;
	case OP_ALLREDUCE8: {
		long long v = rank;
		MPI_Allreduce(MPI_IN_PLACE, &v, 1, MPI_LONG_LONG, MPI_MAX, MPI_COMM_WORLD);
		break;
	}
	case OP_GATHER8000:
		MPI_Gather(c->buf, 8000, MPI_BYTE, c->all, 8000, MPI_BYTE, 0, MPI_COMM_WORLD);
		break;
	case OP_SYNC_NOTHING:
		idict_mpi_sync(c->mpi, FALSE, NULL);
		break;
	case OP_SYNC_ARRAY:
		c->values[c->step % 1000] += 1e-9;
		idict_set_array(c->dict, "u", c->values, 1000, NULL);
		idict_mpi_sync(c->mpi, FALSE, NULL);
		break;
	case OP_SYNC_KEYS:
		idict_lock(c->dict);
		for (int i = 0; i < 1000; i++)
			idict_set_double(c->dict, c->names[i], c->values[i] + (double)c->step, NULL);
		idict_unlock(c->dict);
		idict_mpi_sync(c->mpi, FALSE, NULL);
		break;
	}
	c->step++;
}

/* Microseconds per step over a batch of @k steps, on rank 0. */
static double batch(Ctx *c, Op op, int k)
{
	MPI_Barrier(MPI_COMM_WORLD);
	double t0 = MPI_Wtime();
	for (int i = 0; i < k; i++)
		step_once(c, op);
	MPI_Barrier(MPI_COMM_WORLD);
	return (MPI_Wtime() - t0) / k * 1e6;
}

typedef struct {
	double p10, p50, p90;
} Stats;

static int compare_doubles(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static Stats stats_of(double *v, int n)
{
	qsort(v, (size_t)n, sizeof *v, compare_doubles);
	Stats s = { v[n / 10], v[n / 2], v[(n * 9) / 10] };
	return s;
}

static void fmt(char *out, size_t len, double v)
{
	if (v >= 100)
		snprintf(out, len, "%.0f", v);
	else if (v >= 10)
		snprintf(out, len, "%.1f", v);
	else
		snprintf(out, len, "%.2f", v);
}

static void row(const char *id, const char *figure, Stats ours, const char *base_name, Stats base)
{
	char a[32], b[32], c[32], d[32], e[32], f[32];
	fmt(a, sizeof a, ours.p50);
	fmt(b, sizeof b, ours.p10);
	fmt(c, sizeof c, ours.p90);
	fmt(d, sizeof d, base.p50);
	fmt(e, sizeof e, base.p10);
	fmt(f, sizeof f, base.p90);
	printf("| %s | %s | %s µs (%s–%s) | %s | %s µs (%s–%s) | %.3g× |  |  |\n", id, figure, a, b,
	       c, base_name, d, e, f, ours.p50 / base.p50);
}

/* Measures @ours against @base in @rounds interleaved pairs of batches. */
static void compare(Ctx *c, Op ours, Op base, int rounds, int k, Stats *s_ours, Stats *s_base)
{
	double *a = g_new(double, rounds), *b = g_new(double, rounds);
	batch(c, base, k / 4 + 1); /* warm up both */
	batch(c, ours, k / 4 + 1);
	for (int r = 0; r < rounds; r++) {
		b[r] = batch(c, base, k);
		a[r] = batch(c, ours, k);
	}
	*s_ours = stats_of(a, rounds);
	*s_base = stats_of(b, rounds);
	g_free(a);
	g_free(b);
}

int main(int argc, char **argv)
{
	MPI_Init(&argc, &argv);
	MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	MPI_Comm_size(MPI_COMM_WORLD, &size);
	gboolean quick = argc > 1 && strcmp(argv[1], "--quick") == 0;
	int rounds = quick ? 5 : 21;

	Ctx *c = g_new0(Ctx, 1);
	c->dict = idict_new();
	c->mpi = idict_mpi_new(c->dict, MPI_COMM_WORLD);
	c->all = g_malloc0((gsize)8000 * (gsize)size);
	for (int i = 0; i < 1000; i++) {
		c->values[i] = rank + i * 1e-3;
		snprintf(c->names[i], sizeof c->names[i], "k/%04d", i);
	}
	idict_mpi_sync(c->mpi, FALSE, NULL);

	Stats nothing, bcast, nothing2, allreduce, array, gather, keys, gather2;
	compare(c, OP_SYNC_NOTHING, OP_BCAST64, rounds, 400, &nothing, &bcast);
	compare(c, OP_SYNC_NOTHING, OP_ALLREDUCE8, rounds, 400, &nothing2, &allreduce);
	compare(c, OP_SYNC_ARRAY, OP_GATHER8000, rounds, 100, &array, &gather);
	compare(c, OP_SYNC_KEYS, OP_GATHER8000, rounds, 10, &keys, &gather2);

	if (rank == 0) {
		char f[128];
		snprintf(f, sizeof f, "idict_mpi_sync per step, nothing changed (-np %d)", size);
		row("10a", f, nothing, "MPI_Bcast of 64 B, back to back", bcast);
		row("10b", "  same", nothing2, "MPI_Allreduce of 8 B", allreduce);
		row("10c", "  1,000 changed doubles per rank (one array key)", array,
		    "MPI_Gather of 8,000 B per rank", gather);
		row("10d", "  1,000 changed double keys per rank", keys,
		    "MPI_Gather of 8,000 B per rank", gather2);
		fflush(stdout);
	}
	idict_mpi_free(c->mpi);
	idict_free(c->dict);
	g_free(c->all);
	g_free(c);
	MPI_Finalize();
	return 0;
}
