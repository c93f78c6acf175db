/* sync.c - idict_mpi_sync(): one dictionary for a whole MPI job.
 *
 * A sync is a few collectives over a duplicate of the job's communicator:
 *
 *   1. MPI_Allreduce of the header: one Cell per field, each carrying its
 *      own operation (a user-defined MPI_Op, so one call does all of them):
 *      rank 0's pause flag, any rank's terminate and final flags, the sizes
 *      of the ranks' changes (MIN and MAX), the size of rank 0's client
 *      writes, and
 *      one Cell per key declared with idict_mpi_reduce().  With nothing
 *      changed, this is the whole sync.
 *   2. If some rank changed keys: MPI_Gather of blocks of the largest size
 *      (when the sizes are close, one collective), else MPI_Gather of the
 *      sizes and MPI_Gatherv.  Rank 0 stores them as rank/N/KEY.
 *   3. If clients wrote keys on rank 0: MPI_Bcast of them.
 *
 * Every rank then stores the reductions and client writes, and publishes an
 * update: rank 0's is the job's, the others' are local (they keep each
 * rank's list of changed keys to what its own computation changed).  While
 * rank 0 is paused, each round ends with an MPI_Ibcast from rank 0, which
 * the other ranks poll with growing sleeps rather than spinning in MPI.
 */
#include "idict-mpi-private.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "idict-mpi"

/* ---- cells: a reduction that carries its own operation ---- */

typedef enum {
	CELL_BOR, /* bitwise or of i */
	CELL_MAX,
	CELL_MIN,
	CELL_SUM,
} CellOp;

/* One field of the header.  Contributions as double and as int are kept
 * apart (so that ints stay exact) and combined at the end. */
typedef struct {
	double d;        /* the double contributions, reduced */
	gint64 i;        /* the int contributions, reduced */
	double i_sum;    /* CELL_SUM: the ints summed as doubles, for an overflow */
	gint32 op;       /* CellOp */
	gint32 n_d;      /* number of double contributions */
	gint32 n_i;      /* number of int contributions */
	gint32 overflow; /* CELL_SUM of the ints overflowed */
} Cell;

static double combine_double(CellOp op, double a, double b)
{
	if (op == CELL_SUM)
		return a + b;
	if (isnan(a) || isnan(b)) /* a diverging rank must show */
		return NAN;
	return op == CELL_MAX ? MAX(a, b) : MIN(a, b);
}

static gint64 combine_int(Cell *cell, gint64 a, gint64 b)
{
	switch (cell->op) {
	case CELL_BOR:
		return a | b;
	case CELL_MAX:
		return MAX(a, b);
	case CELL_MIN:
		return MIN(a, b);
	case CELL_SUM:
	default: {
		gint64 sum;
		if (__builtin_add_overflow(a, b, &sum)) {
			cell->overflow = 1;
			return a;
		}
		return sum;
	}
	}
}

/* The MPI_User_function: @inout[k] = @in[k] (op) @inout[k]. */
static void reduce_cells(void *in_, void *inout_, int *len, MPI_Datatype *type)
{
	(void)type;
	const Cell *in = in_;
	Cell *inout = inout_;
	for (int k = 0; k < *len; k++) {
		const Cell *a = &in[k];
		Cell *b = &inout[k];
		if (a->n_d > 0)
			b->d = b->n_d > 0 ? combine_double(b->op, a->d, b->d) : a->d;
		if (a->n_i > 0)
			b->i = b->n_i > 0 ? combine_int(b, a->i, b->i) : a->i;
		b->i_sum += a->i_sum;
		b->n_d += a->n_d;
		b->n_i += a->n_i;
		b->overflow |= a->overflow;
	}
}

static Cell cell_int(CellOp op, gint64 value)
{
	return (Cell){ .op = op, .i = value, .i_sum = (double)value, .n_i = 1 };
}

/* ---- the handle ---- */

typedef struct {
	char *key;
	IDictMpiOp op;
	Cell mine; /* this rank's last own value, as a contribution */
} Reduction;

enum {
	FLAG_PAUSED = 1,     /* rank 0 only */
	FLAG_TERMINATED = 2, /* any rank */
	FLAG_FINAL = 4,      /* any rank */
};

/* The header's fields, then one Cell per reduction. */
enum {
	H_FLAGS,
	H_BYTES_MAX,
	H_BYTES_MIN,
	H_CLIENT_BYTES,
	H_N,
};

struct _IDictMpi {
	IDict *dict;   /* not owned */
	MPI_Comm comm; /* our duplicate of the job's */
	int rank;
	int size;
	char prefix[32]; /* "rank/N/" of this rank */
	MPI_Datatype cell_type;
	MPI_Op cell_op;
	guint64 syncs;
	gboolean finished;   /* the final sync is done */
	gboolean terminated; /* the job, as of the last sync */
	GArray *reductions; /* Reduction */
	GHashTable *warned; /* messages logged once, owned */
	GByteArray *mine;   /* this rank's changes, packed */
	GByteArray *all;    /* rank 0: every rank's */
	GByteArray *client; /* rank 0's client writes */
};

static void reduction_clear(gpointer data)
{
	g_free(((Reduction *)data)->key);
}

IDictMpi *idict_mpi_new(IDict *dict, MPI_Comm comm)
{
	g_return_val_if_fail(dict != NULL, NULL);
	IDictMpi *self = g_new0(IDictMpi, 1);
	self->dict = dict;
	MPI_Comm_dup(comm, &self->comm);
	MPI_Comm_rank(self->comm, &self->rank);
	MPI_Comm_size(self->comm, &self->size);
	snprintf(self->prefix, sizeof self->prefix, "rank/%d/", self->rank);
	MPI_Type_contiguous((int)sizeof(Cell), MPI_BYTE, &self->cell_type);
	MPI_Type_commit(&self->cell_type);
	MPI_Op_create(reduce_cells, 1, &self->cell_op);
	self->reductions = g_array_new(FALSE, TRUE, sizeof(Reduction));
	g_array_set_clear_func(self->reductions, reduction_clear);
	self->warned = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	self->mine = g_byte_array_new();
	self->all = g_byte_array_new();
	self->client = g_byte_array_new();
	idict_hold_client_writes(dict, TRUE);
	return self;
}

void idict_mpi_free(IDictMpi *self)
{
	if (self == NULL)
		return;
	int finalized = 0;
	MPI_Finalized(&finalized);
	if (!finalized) {
		MPI_Op_free(&self->cell_op);
		MPI_Type_free(&self->cell_type);
		MPI_Comm_free(&self->comm);
	}
	g_array_unref(self->reductions);
	g_hash_table_unref(self->warned);
	g_byte_array_unref(self->mine);
	g_byte_array_unref(self->all);
	g_byte_array_unref(self->client);
	g_free(self);
}

gboolean idict_mpi_terminated(IDictMpi *self)
{
	g_return_val_if_fail(self != NULL, TRUE);
	return self->terminated;
}

guint64 idict_mpi_syncs(IDictMpi *self)
{
	g_return_val_if_fail(self != NULL, 0);
	return self->syncs;
}

/* Logs a warning the first time @id is seen: a job repeats its steps, and
 * one line per problem is enough. */
G_GNUC_PRINTF(3, 4)
static void warn_once(IDictMpi *self, const char *id, const char *format, ...)
{
	if (g_hash_table_contains(self->warned, id))
		return;
	g_hash_table_add(self->warned, g_strdup(id));
	va_list args;
	va_start(args, format);
	g_autofree char *message = g_strdup_vprintf(format, args);
	va_end(args);
	g_warning("rank %d: %s", self->rank, message);
}

/* ---- reductions ---- */

static CellOp cell_op_of(IDictMpiOp op)
{
	return op == IDICT_MPI_MAX ? CELL_MAX : op == IDICT_MPI_MIN ? CELL_MIN : CELL_SUM;
}

/* Takes this rank's current value of @r's key as its contribution. */
static void reduction_read_mine(IDictMpi *self, Reduction *r)
{
	r->mine = (Cell){ .op = cell_op_of(r->op) };
	g_autoptr(GVariant) value = idict_get_value(self->dict, r->key);
	if (value == NULL)
		return;
	if (g_variant_is_of_type(value, G_VARIANT_TYPE_DOUBLE)) {
		r->mine.d = g_variant_get_double(value);
		r->mine.n_d = 1;
	} else if (g_variant_is_of_type(value, G_VARIANT_TYPE_INT64)) {
		r->mine.i = g_variant_get_int64(value);
		r->mine.i_sum = (double)r->mine.i;
		r->mine.n_i = 1;
	} else {
		g_autofree char *id = g_strconcat("type:", r->key, NULL);
		warn_once(self, id, "\"%s\" holds a %s, not a double or an int: not reduced", r->key,
			  g_variant_get_type_string(value));
	}
}

gboolean idict_mpi_reduce(IDictMpi *self, const char *key, IDictMpiOp op, GError **error)
{
	g_return_val_if_fail(self != NULL, FALSE);
	g_return_val_if_fail(key != NULL, FALSE);
	/* Every rank checks the same things and learns the same result. */
	gboolean valid = idict_check_key_name(key, NULL) &&
		(op == IDICT_MPI_MAX || op == IDICT_MPI_MIN || op == IDICT_MPI_SUM);
	guint n = self->reductions->len;
	guint at = n;
	for (guint k = 0; k < n; k++)
		if (strcmp(g_array_index(self->reductions, Reduction, k).key, key) == 0)
			at = k;
	/* A fingerprint of the call: same on every rank, or an error. */
	gint64 print = valid ? (gint64)(((guint64)g_str_hash(key) << 24) ^ ((guint64)op << 16) ^ at)
			     : -1;
	Cell cells[4] = { cell_int(CELL_MAX, print), cell_int(CELL_MIN, print),
			  cell_int(CELL_MAX, (gint64)self->syncs), cell_int(CELL_MAX, !valid) };
	MPI_Allreduce(MPI_IN_PLACE, cells, 4, self->cell_type, self->cell_op, self->comm);
	if (cells[3].i) {
		g_set_error(error, IDICT_ERROR, IDICT_ERROR_FAILED,
			    "idict_mpi_reduce(\"%s\"): not a valid key and operation on every rank", key);
		return FALSE;
	}
	if (cells[2].i > 0) {
		g_set_error(error, IDICT_ERROR, IDICT_ERROR_FAILED,
			    "idict_mpi_reduce(\"%s\"): declare reductions before the first sync", key);
		return FALSE;
	}
	if (cells[0].i != cells[1].i) {
		g_set_error(error, IDICT_ERROR, IDICT_ERROR_FAILED,
			    "idict_mpi_reduce(\"%s\"): the ranks declare different keys or operations; "
			    "every rank must make the same calls in the same order", key);
		return FALSE;
	}
	if (at == n) {
		Reduction r = { .key = g_strdup(key) };
		g_array_append_val(self->reductions, r);
	}
	Reduction *r = &g_array_index(self->reductions, Reduction, at);
	r->op = op;
	reduction_read_mine(self, r);
	return TRUE;
}

/* Stores the reduced value of @r, from @cell, in this rank's dictionary. */
static void reduction_store(IDictMpi *self, Reduction *r, const Cell *cell)
{
	g_autoptr(GError) error = NULL;
	gboolean ok = TRUE;
	if (cell->n_d > 0) {
		double value = cell->d;
		if (cell->n_i > 0)
			value = combine_double(cell->op, value,
					       cell->op == CELL_SUM ? cell->i_sum : (double)cell->i);
		ok = idict_set_double(self->dict, r->key, value, &error);
	} else if (cell->n_i > 0 && cell->overflow) {
		g_autofree char *id = g_strconcat("overflow:", r->key, NULL);
		warn_once(self, id, "the sum of \"%s\" is beyond 64-bit ints: stored as a double",
			  r->key);
		ok = idict_set_double(self->dict, r->key, cell->i_sum, &error);
	} else if (cell->n_i > 0) {
		ok = idict_set_int(self->dict, r->key, cell->i, &error);
	}
	if (!ok) {
		g_autofree char *id = g_strconcat("store:", r->key, NULL);
		warn_once(self, id, "cannot store the reduction of \"%s\": %s", r->key, error->message);
	}
}

/* ---- one round of a sync ---- */

typedef struct {
	IDictMpi *self;
	const char *prefix;
	int from; /* the rank the records came from */
} ApplyJob;

static void apply_record(IDictMpiRecord *record, gpointer data)
{
	ApplyJob *job = data;
	IDictMpi *self = job->self;
	g_autoptr(GError) error = NULL;
	if (!idict__mpi_apply(self->dict, job->prefix, record, &error)) {
		g_autofree char *id = g_strdup_printf("apply:%d:%.*s", job->from,
						      (int)record->name_len, record->name);
		warn_once(self, id, "cannot store \"%s%.*s\" from rank %d: %s", job->prefix,
			  (int)record->name_len, record->name, job->from, error->message);
	}
}

static void unpack_and_apply(IDictMpi *self, const guint8 *data, gsize len, const char *prefix,
			     int from)
{
	ApplyJob job = { self, prefix, from };
	g_autoptr(GError) error = NULL;
	if (!idict__mpi_unpack(data, len, apply_record, &job, &error))
		g_critical("rank %d: changes from rank %d: %s", self->rank, from, error->message);
}

static gboolean in_sorted(char **sorted, const char *name)
{
	for (char **p = sorted; p && *p; p++) {
		int c = strcmp(*p, name);
		if (c == 0)
			return TRUE;
		if (c > 0)
			break;
	}
	return FALSE;
}

/* Packs into self->mine the keys this rank changed since its last sync,
 * @changed, less @exclude (rank 0: those clients wrote), removals first so that rank
 * 0 can replace a key by a directory of the same name; reads this rank's
 * contributions to the reductions. */
static void pack_mine(IDictMpi *self, char **changed, char **exclude)
{
	g_byte_array_set_size(self->mine, 0);
	gsize room = IDICT_KEY_MAX - strlen(self->prefix);
	/* Each changed name with its value, NULL if removed. */
	guint n = g_strv_length(changed);
	g_autofree GVariant **values = g_new0(GVariant *, MAX(n, 1));
	for (guint c = 0; c < n; c++) {
		const char *name = changed[c];
		if (in_sorted(exclude, name))
			continue;
		values[c] = idict_get_value(self->dict, name);
		for (guint k = 0; k < self->reductions->len; k++) {
			Reduction *r = &g_array_index(self->reductions, Reduction, k);
			if (strcmp(r->key, name) == 0)
				reduction_read_mine(self, r);
		}
	}
	for (guint c = 0; c < n; c++)
		if (values[c] == NULL && !in_sorted(exclude, changed[c]) && strlen(changed[c]) <= room)
			idict__mpi_pack(self->mine, changed[c], NULL);
	for (guint c = 0; c < n; c++) {
		if (values[c] == NULL)
			continue;
		if (strlen(changed[c]) <= room) {
			idict__mpi_pack(self->mine, changed[c], values[c]);
		} else {
			g_autofree char *id = g_strconcat("long:", changed[c], NULL);
			warn_once(self, id,
				  "\"%s\" is too long to be shown as \"%s%s\" (at most %d bytes): "
				  "not gathered",
				  changed[c], self->prefix, changed[c], IDICT_KEY_MAX);
		}
		g_variant_unref(values[c]);
	}
}

/* Packs into self->client the keys clients wrote on rank 0 (now in force). */
static void pack_client_writes(IDictMpi *self, char **client)
{
	g_byte_array_set_size(self->client, 0);
	for (char **p = client; p && *p; p++) {
		g_autoptr(GVariant) value = idict_get_value(self->dict, *p);
		if (value)
			idict__mpi_pack(self->client, *p, value);
	}
}

/* Gathers every rank's self->mine into rank 0's self->all; @spans gets
 * each rank's (start, length) in it.  @max and @min: the largest and
 * smallest size, the same on every rank. */
typedef struct {
	gsize start;
	gsize len;
} Span;

static void gather_changes(IDictMpi *self, gint64 max, gint64 min, Span *spans)
{
	gboolean root = self->rank == 0;
	int size = self->size;
	g_byte_array_set_size(self->all, 0);
	/* Close sizes (the usual case: every rank publishes the same keys), or
	 * too many bytes for MPI_Gatherv's int displacements: one MPI_Gather of
	 * blocks of the largest size, each led by its length. */
	if (max - min <= max / 8 + 64 || max * size > G_MAXINT - 8 * size) {
		gint64 len = (gint64)self->mine->len;
		gsize block = sizeof len + (gsize)max;
		g_byte_array_set_size(self->mine, (guint)block);
		memmove(self->mine->data + sizeof len, self->mine->data, (gsize)len);
		memcpy(self->mine->data, &len, sizeof len);
		if (root)
			g_byte_array_set_size(self->all, (guint)(block * (gsize)size));
		MPI_Gather(self->mine->data, (int)block, MPI_BYTE, self->all->data, (int)block,
			   MPI_BYTE, 0, self->comm);
		for (int r = 0; root && r < size; r++) {
			gint64 n;
			memcpy(&n, self->all->data + block * (gsize)r, sizeof n);
			spans[r] = (Span){ block * (gsize)r + sizeof n, (gsize)CLAMP(n, 0, max) };
		}
		return;
	}
	/* Sizes far apart: the sizes, then exactly the bytes. */
	int len = (int)self->mine->len;
	g_autofree int *lens = root ? g_new(int, size) : NULL;
	g_autofree int *starts = root ? g_new(int, size) : NULL;
	MPI_Gather(&len, 1, MPI_INT, lens, 1, MPI_INT, 0, self->comm);
	int total = 0;
	for (int r = 0; root && r < size; r++) {
		starts[r] = total;
		total += lens[r];
		spans[r] = (Span){ (gsize)starts[r], (gsize)lens[r] };
	}
	if (root)
		g_byte_array_set_size(self->all, (guint)MAX(total, 1));
	MPI_Gatherv(self->mine->data, len, MPI_BYTE, self->all->data, lens, starts, MPI_BYTE, 0,
		    self->comm);
}

/* One round of a sync: the header, then changes and client writes as
 * needed.  The first round of a sync gathers changes and stores the
 * reductions; later ones (after a pause) carry only the control state and
 * client writes.  *@flags_out gets the job's FLAG_*, *@client_out whether
 * client writes came.
 * Returns: FALSE with @error (on every rank) if the changes are too large
 *   for one MPI message. */
static gboolean sync_round(IDictMpi *self, gboolean first, gboolean final, guint *flags_out,
			   gboolean *client_out, GError **error)
{
	gboolean root = self->rank == 0;
	/* Changes before client writes: a write in between is then a client's
	 * (listed by the take), not rank 0's own change. */
	g_auto(GStrv) changed = first ? idict_changed_keys(self->dict) : NULL;
	g_auto(GStrv) client = root ? idict_take_client_writes(self->dict) : NULL;
	g_byte_array_set_size(self->mine, 0);
	if (first)
		pack_mine(self, changed, client);
	if (root)
		pack_client_writes(self, client);

	guint n_cells = H_N + self->reductions->len;
	g_autofree Cell *cells = g_new0(Cell, n_cells);
	guint flags = (root && idict_paused(self->dict) ? FLAG_PAUSED : 0) |
		(idict_terminated(self->dict) ? FLAG_TERMINATED : 0) | (final ? FLAG_FINAL : 0);
	cells[H_FLAGS] = cell_int(CELL_BOR, flags);
	cells[H_BYTES_MAX] = cell_int(CELL_MAX, (gint64)self->mine->len);
	cells[H_BYTES_MIN] = cell_int(CELL_MIN, (gint64)self->mine->len);
	cells[H_CLIENT_BYTES] = cell_int(CELL_MAX, root ? (gint64)self->client->len : 0);
	for (guint k = 0; k < self->reductions->len; k++) {
		Reduction *r = &g_array_index(self->reductions, Reduction, k);
		cells[H_N + k] = first ? r->mine : (Cell){ .op = cell_op_of(r->op) };
	}
	MPI_Allreduce(MPI_IN_PLACE, cells, (int)n_cells, self->cell_type, self->cell_op, self->comm);

	gint64 max = cells[H_BYTES_MAX].i, min = cells[H_BYTES_MIN].i;
	gint64 client_bytes = cells[H_CLIENT_BYTES].i;
	if (max > G_MAXINT - 64 || client_bytes > G_MAXINT) {
		g_set_error(error, IDICT_ERROR, IDICT_ERROR_FAILED,
			    "%" G_GINT64_FORMAT " bytes of changes on one rank in one sync: "
			    "more than one MPI message carries",
			    MAX(max, client_bytes));
		return FALSE;
	}
	g_autofree Span *spans = root && max > 0 ? g_new0(Span, self->size) : NULL;
	if (max > 0)
		gather_changes(self, max, min, spans);
	if (client_bytes > 0) {
		if (!root)
			g_byte_array_set_size(self->client, (guint)client_bytes);
		MPI_Bcast(self->client->data, (int)client_bytes, MPI_BYTE, 0, self->comm);
	}

	/* Stored after the messages, under the lock: a client reading
	 * snapshot.json, or several keys, sees one sync's changes or none. */
	idict_lock(self->dict);
	for (int r = 0; spans && r < self->size; r++) {
		char prefix[32];
		snprintf(prefix, sizeof prefix, "rank/%d/", r);
		unpack_and_apply(self, self->all->data + spans[r].start, spans[r].len, prefix, r);
	}
	if (client_bytes > 0 && !root)
		unpack_and_apply(self, self->client->data, (gsize)client_bytes, "", 0);
	for (guint k = 0; first && k < self->reductions->len; k++)
		reduction_store(self, &g_array_index(self->reductions, Reduction, k),
				&cells[H_N + k]);
	idict_unlock(self->dict);

	flags = (guint)cells[H_FLAGS].i;
	if (flags & (FLAG_TERMINATED | FLAG_FINAL))
		idict_terminate(self->dict);
	if (!root && !(flags & FLAG_PAUSED) != !idict_paused(self->dict)) {
		if (flags & FLAG_PAUSED)
			idict_pause(self->dict);
		else
			idict_resume(self->dict);
	}
	*flags_out = flags;
	*client_out = client_bytes > 0;
	return TRUE;
}

/* Every rank waits until rank 0 is resumed or terminated: rank 0 sleeps in
 * idict_wait(), then wakes the others with an MPI_Ibcast, which they poll
 * with sleeps growing to 20 ms instead of spinning in MPI for the length
 * of the pause. */
static void wait_while_paused(IDictMpi *self)
{
	char wake = 0;
	MPI_Request request;
	if (self->rank == 0) {
		idict_wait(self->dict, -1);
		MPI_Ibcast(&wake, 1, MPI_CHAR, 0, self->comm, &request);
		MPI_Wait(&request, MPI_STATUS_IGNORE);
		return;
	}
	MPI_Ibcast(&wake, 1, MPI_CHAR, 0, self->comm, &request);
	gulong sleep_us = 100;
	for (;;) {
		int done = 0;
		MPI_Test(&request, &done, MPI_STATUS_IGNORE);
		if (done)
			return;
		g_usleep(sleep_us);
		sleep_us = MIN(sleep_us * 2, 20000);
	}
}

gboolean idict_mpi_sync(IDictMpi *self, gboolean final, GError **error)
{
	g_return_val_if_fail(self != NULL, FALSE);
	if (self->finished) {
		/* Every rank had the same final sync: they all fail here. */
		g_set_error(error, IDICT_ERROR, IDICT_ERROR_FAILED,
			    "idict_mpi_sync() after the final sync");
		return FALSE;
	}
	self->syncs++;
	guint flags = 0;
	gboolean client = FALSE;
	if (!sync_round(self, TRUE, final, &flags, &client, error))
		return FALSE;
	gboolean last = (flags & FLAG_FINAL) != 0;
	/* Rank 0's update is the job's; the others' keep their own list of
	 * changed keys to what their computation changes. */
	idict_notify_update(self->dict, last);
	self->finished = last;
	self->terminated = (flags & (FLAG_TERMINATED | FLAG_FINAL)) != 0;
	while ((flags & FLAG_PAUSED) && !(flags & (FLAG_TERMINATED | FLAG_FINAL))) {
		wait_while_paused(self);
		if (!sync_round(self, FALSE, FALSE, &flags, &client, error))
			return FALSE;
		/* Rank 0 publishes once per sync; its client writes are in its
		 * next update already. */
		if (client && self->rank != 0)
			idict_notify_update(self->dict, FALSE);
		self->terminated = (flags & FLAG_TERMINATED) != 0;
	}
	return TRUE;
}
