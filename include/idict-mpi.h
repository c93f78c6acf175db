/* idict-mpi.h - one interactive dictionary for a whole MPI job, steered
 * collectively.  Library libidict-mpi (pkg-config idict-mpi), built on
 * libidict and MPI; libidict itself never depends on MPI.
 *
 * Every rank keeps its own IDict, and rank 0 serves it (idict_serve()).  All
 * ranks call idict_mpi_sync() at the same point of each step.  The sync:
 *   - gives every rank rank 0's control state: a pause from a client stops
 *     every rank inside the same sync, a terminate (from a client on rank 0,
 *     or idict_terminate() on any rank) makes idict_mpi_terminated() true on
 *     every rank after the same sync, and the writable keys clients set on
 *     rank 0 reach every rank in the same sync (rank 0 included: its client
 *     writes are held until then, see idict_hold_client_writes());
 *   - gathers the keys each rank changed since its last sync into rank 0's
 *     dictionary as rank/N/KEY, and sets each key declared with
 *     idict_mpi_reduce() to the reduction over the ranks, on every rank;
 *   - publishes one update per sync on rank 0 (idict_notify_update()), so
 *     that `updates` has one line per step of the whole job.
 * See idict-mpi(3) and README.md, "Parallel (MPI) computations".
 *
 * Collective calls must be made by every rank of the communicator, in the
 * same order, from one thread per rank (MPI_THREAD_FUNNELED is enough).
 * Messages go through g_log() with the log domain "idict-mpi".
 */
#ifndef IDICT_MPI_H
#define IDICT_MPI_H

#include <idict.h>
#include <mpi.h>

G_BEGIN_DECLS

#if defined(IDICT_MPI_COMPILATION)
#define IDICT_MPI_API __attribute__((visibility("default")))
#else
#define IDICT_MPI_API
#endif

typedef struct _IDictMpi IDictMpi;

/* How idict_mpi_reduce() combines the ranks' values of a key. */
typedef enum {
	IDICT_MPI_MAX, /* the largest; NaN if any rank has NaN */
	IDICT_MPI_MIN, /* the smallest; NaN if any rank has NaN */
	IDICT_MPI_SUM, /* the sum */
} IDictMpiOp;

/**
 * idict_mpi_new:
 * Collective over @comm.  Ties @dict, this rank's dictionary, to the job:
 * duplicates @comm (the sync's messages never mix with the program's) and
 * holds client writes on @dict (idict_hold_client_writes()) so that
 * parameters come into force at a sync.  On rank 0, serve @dict with
 * idict_serve() as usual, before or after.  @dict must outlive the result.
 * Returns: (transfer full): the job's handle; idict_mpi_free() it.
 */
IDICT_MPI_API IDictMpi *idict_mpi_new(IDict *dict, MPI_Comm comm);

/**
 * idict_mpi_free:
 * Collective (it frees the duplicated communicator), before MPI_Finalize();
 * after MPI_Finalize() it frees only the memory.  NULL-safe.
 */
IDICT_MPI_API void idict_mpi_free(IDictMpi *self);

/**
 * idict_mpi_reduce:
 * Collective.  Declares that after each sync @key holds, on every rank,
 * @op over the values the ranks last set it to themselves (a double, or a
 * 64-bit int; ints stay ints unless some rank's value is a double).  A rank
 * whose @key is missing or of another type takes no part (a warning is
 * logged once).  Rank 0's dictionary also has each rank's own value, as
 * rank/N/KEY.  Declaring @key again replaces its operation.
 * Every rank must declare the same keys with the same operations in the
 * same order, before its first sync; otherwise every rank gets the error.
 * Returns: %TRUE, or %FALSE with IDICT_ERROR_FAILED on every rank.
 */
IDICT_MPI_API gboolean idict_mpi_reduce(IDictMpi *self, const char *key, IDictMpiOp op,
					GError **error);

/**
 * idict_mpi_sync:
 * Collective; call it on every rank at the same point of each step, in
 * place of idict_notify_update() and idict_wait() (do not call those on a
 * synced dictionary).  Does what the header above says, then, while rank 0
 * is paused, waits inside (every rank, without spinning) until it is
 * resumed or terminated.  With @final on any rank, the sync is the last
 * one on every rank: each dictionary publishes its final update and is
 * terminated.  Costs one small MPI_Allreduce when nothing changed; changes
 * add one MPI_Gather (two if the ranks' sizes differ much) and client
 * writes one MPI_Bcast, of the changed bytes.
 * A rank that calls it more often than the others waits in it for ever,
 * as in any collective: decide when to stop from what every rank has after
 * a sync (idict_terminated(), a reduced key, the step).
 * Returns: %TRUE, or %FALSE with IDICT_ERROR_FAILED on every rank after
 *   the final sync, or if one rank's changes exceed what one MPI message
 *   carries (2 GiB).
 */
IDICT_MPI_API gboolean idict_mpi_sync(IDictMpi *self, gboolean final, GError **error);

/**
 * idict_mpi_terminated:
 * Whether the job was terminated, as of the last sync: the same on every
 * rank.  Leave the loop on this, not on idict_terminated(), which on rank 0
 * turns true the moment a client writes ctl/terminate, before the other
 * ranks know (a rank leaving the loop alone would leave the others waiting
 * for it in their next collective).  The sync also terminates each rank's
 * dictionary, so idict_terminated() agrees after it.
 */
IDICT_MPI_API gboolean idict_mpi_terminated(IDictMpi *self);

/** Returns: the number of syncs done (0 before the first). */
IDICT_MPI_API guint64 idict_mpi_syncs(IDictMpi *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(IDictMpi, idict_mpi_free)

G_END_DECLS

#endif /* IDICT_MPI_H */
