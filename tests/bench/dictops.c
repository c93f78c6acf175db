/* dictops.c - what the whole-dictionary operations cost (issue 16):
 * idict_clear(), idict_update(), idict_copy() and idict_foreach() on N
 * double keys, each beside the same work done key by key with the older
 * API (the baseline, measured in the same run, interleaved), and the
 * longest a reader's idict_contains() waited during the operation (how
 * long the store lock was held against it).
 *
 *   make build/bench/dictops && build/bench/dictops [N...]   (default 1000 100000)
 *
 * Medians of 7 rounds.  Not part of `make check` (timings).
 */
#include <idict.h>

#include <stdio.h>
#include <stdlib.h>

#define ROUNDS 7

static gint64 now_ns(void)
{
	return g_get_monotonic_time() * 1000; /* µs resolution is enough here */
}

/* A reader that calls idict_contains() in a loop and keeps its longest wait. */
typedef struct {
	IDict *dict;
	gint stop;
	gint64 longest_ns;
} Reader;

static gpointer reader_run(gpointer data)
{
	Reader *reader = data;
	while (!g_atomic_int_get(&reader->stop)) {
		gint64 t0 = now_ns();
		idict_contains(reader->dict, "k0");
		gint64 waited = now_ns() - t0;
		if (waited > reader->longest_ns)
			reader->longest_ns = waited;
	}
	return NULL;
}

static IDict *filled(guint n)
{
	IDict *dict = idict_new();
	for (guint i = 0; i < n; i++) {
		char key[32];
		g_snprintf(key, sizeof key, "d%u/k%u", i % 100, i);
		idict_set_double(dict, key, i, NULL);
	}
	return dict;
}

typedef enum { OP_CLEAR, OP_UPDATE, OP_UPDATE_EXISTING, OP_COPY, OP_FOREACH, N_OPS } Op;
static const char *const op_names[] = { "clear", "update (new keys)", "update (existing keys)",
					"copy", "foreach" };
static const char *const baseline_names[] = {
	"idict_remove of each key", "idict_set_value of each key", "idict_set_value of each key",
	"idict_keys, get and set each", "idict_keys, get_value of each",
};

static void visit(IDict *dict, const char *key, GVariant *value, gpointer data)
{
	(void)dict, (void)key, (void)value;
	(*(guint *)data)++;
}

/* Runs @op (or its baseline) on a fresh dictionary of @n keys; returns the
 * time it took and the reader's longest wait in *@wait_ns. */
static gint64 run(Op op, gboolean baseline, guint n, gint64 *wait_ns)
{
	IDict *dict = filled(n);
	gboolean updating = op == OP_UPDATE || op == OP_UPDATE_EXISTING;
	IDict *other = updating ? dict : NULL;
	IDict *target = op == OP_UPDATE ? idict_new() : op == OP_UPDATE_EXISTING ? filled(n) : dict;
	IDict *result = NULL;
	char **keys = baseline ? idict_keys(dict) : NULL;
	Reader reader = { .dict = target };
	GThread *thread = g_thread_new("reader", reader_run, &reader);
	g_usleep(1000);
	guint visited = 0;
	gint64 t0 = now_ns();
	switch (op) {
	case OP_CLEAR:
		if (!baseline)
			idict_clear(dict);
		else
			for (char **k = keys; *k; k++)
				idict_remove(dict, *k);
		break;
	case OP_UPDATE:
	case OP_UPDATE_EXISTING:
		if (!baseline) {
			idict_update(target, other, NULL);
		} else {
			for (char **k = keys; *k; k++) {
				GVariant *value = idict_get_value(other, *k);
				idict_set_value(target, *k, value, NULL);
				g_variant_unref(value);
			}
		}
		break;
	case OP_COPY:
		if (!baseline) {
			result = idict_copy(dict);
		} else {
			char **now = idict_keys(dict);
			result = idict_new();
			for (char **k = now; *k; k++) {
				GVariant *value = idict_get_value(dict, *k);
				idict_set_value(result, *k, value, NULL);
				g_variant_unref(value);
			}
			g_strfreev(now);
		}
		break;
	case OP_FOREACH:
	default:
		if (!baseline) {
			idict_foreach(dict, visit, &visited);
		} else {
			char **now = idict_keys(dict);
			for (char **k = now; *k; k++) {
				GVariant *value = idict_get_value(dict, *k);
				visit(dict, *k, value, &visited);
				g_variant_unref(value);
			}
			g_strfreev(now);
		}
		break;
	}
	gint64 took = now_ns() - t0;
	g_atomic_int_set(&reader.stop, 1);
	g_thread_join(thread);
	*wait_ns = reader.longest_ns;
	g_strfreev(keys);
	if (result)
		idict_free(result);
	if (target != dict)
		idict_free(target);
	idict_free(dict);
	return took;
}

static int compare_gint64(const void *a, const void *b)
{
	gint64 x = *(const gint64 *)a, y = *(const gint64 *)b;
	return (x > y) - (x < y);
}

static double median(gint64 *values)
{
	qsort(values, ROUNDS, sizeof *values, compare_gint64);
	return (double)values[ROUNDS / 2];
}

int main(int argc, char **argv)
{
	guint sizes[8] = { 1000, 100000 };
	guint n_sizes = 2;
	if (argc > 1) {
		n_sizes = 0;
		for (int i = 1; i < argc && n_sizes < G_N_ELEMENTS(sizes); i++)
			sizes[n_sizes++] = (guint)strtoul(argv[i], NULL, 10);
	}
	printf("| keys | operation | time | per key | reader's longest wait | baseline: the same "
	       "key by key | time | reader's longest wait | ratio |\n");
	printf("|---|---|---|---|---|---|---|---|---|\n");
	for (guint s = 0; s < n_sizes; s++) {
		guint n = sizes[s];
		for (Op op = 0; op < N_OPS; op++) {
			gint64 t[ROUNDS], w[ROUNDS], bt[ROUNDS], bw[ROUNDS];
			for (int r = 0; r < ROUNDS; r++) { /* interleaved */
				t[r] = run(op, FALSE, n, &w[r]);
				bt[r] = run(op, TRUE, n, &bw[r]);
			}
			double mt = median(t), mw = median(w), mbt = median(bt), mbw = median(bw);
			printf("| %u | %s | %.2f ms | %.0f ns | %.2f ms | %s | %.2f ms | %.2f ms | "
			       "%.2f× |\n",
			       n, op_names[op], mt / 1e6, mt / n, mw / 1e6, baseline_names[op],
			       mbt / 1e6, mbw / 1e6, mt / mbt);
			fflush(stdout);
		}
	}
	return 0;
}
