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

/**
 * IDictMpi:
 *
 * A whole MPI job's tie to this rank's dictionary: the duplicated
 * communicator, the declared reductions and the state of the last sync.
 * Opaque; created with idict_mpi_new(), freed with idict_mpi_free() (or
 * g_autoptr(IDictMpi)).
 */
typedef struct _IDictMpi IDictMpi;

/**
 * IDictMpiOp:
 * @IDICT_MPI_MAX: the largest value; NaN if any rank's value is NaN
 * @IDICT_MPI_MIN: the smallest value; NaN if any rank's value is NaN
 * @IDICT_MPI_SUM: the sum
 *
 * How idict_mpi_reduce() combines the ranks' values of a key.
 */
typedef enum {
	IDICT_MPI_MAX,
	IDICT_MPI_MIN,
	IDICT_MPI_SUM,
} IDictMpiOp;

/**
 * idict_mpi_new:
 * @dict: this rank's dictionary; it must outlive the result
 * @comm: the job's communicator, usually MPI_COMM_WORLD (duplicated: the
 *   sync's messages never mix with the program's)
 *
 * Ties @dict to the job: holds client writes on @dict
 * (idict_hold_client_writes()) so that parameters come into force at a
 * sync, on every rank at once.  On rank 0, serve @dict with idict_serve()
 * as usual, before or after.
 *
 * Not thread-safe: collective over @comm, called by every rank from the
 * thread that makes its MPI calls, after MPI_Init().
 *
 * Returns: (transfer full): the job's handle; idict_mpi_free() it.
 */
IDICT_MPI_API IDictMpi *idict_mpi_new(IDict *dict, MPI_Comm comm) G_GNUC_WARN_UNUSED_RESULT;

/**
 * idict_mpi_free:
 * @self: (nullable): the job's handle, or %NULL
 *
 * Frees the handle and the duplicated communicator; the dictionary stays
 * (it was never owned).  After MPI_Finalize() it frees only the memory.
 * NULL-safe.
 *
 * Not thread-safe: collective (it frees the communicator) when called
 * before MPI_Finalize(), by every rank from the thread that makes its MPI
 * calls; the handle's last call.
 */
IDICT_MPI_API void idict_mpi_free(IDictMpi *self);

/**
 * idict_mpi_reduce:
 * @self: the job's handle
 * @key: a key this rank sets to a double or a 64-bit int
 * @op: how to combine the ranks' values
 * @error: (nullable): return location for a #GError, or %NULL
 *
 * Declares that after each sync @key holds, on every rank, @op over the
 * values the ranks last set it to themselves (ints stay ints unless some
 * rank's value is a double).  A rank whose @key is missing or of another
 * type takes no part (a warning is logged once).  Rank 0's dictionary also
 * has each rank's own value, as rank/N/KEY.  Declaring @key again replaces
 * its operation.  Every rank must declare the same keys with the same
 * operations in the same order, before its first sync.
 *
 * Not thread-safe: collective, called by every rank from the thread that
 * makes its MPI calls.
 *
 * Returns: %TRUE, or %FALSE with IDICT_ERROR_FAILED on every rank: a bad
 *   name or operation on any rank, ranks that declared differently, or a
 *   declaration after the first sync.
 */
IDICT_MPI_API gboolean idict_mpi_reduce(IDictMpi *self, const char *key, IDictMpiOp op,
					GError **error);

/**
 * idict_mpi_sync:
 * @self: the job's handle
 * @final: %TRUE on any rank: this is the last sync, on every rank
 * @error: (nullable): return location for a #GError, or %NULL
 *
 * The step's collective, called on every rank at the same point of each
 * step in place of idict_notify_update() and idict_wait() (do not call
 * those on a synced dictionary).  It does what the top of this header
 * says: rank 0's control state and client writes to every rank, every
 * rank's changes to rank 0 as rank/N/KEY, the reductions, one update on
 * rank 0.  While rank 0 is paused, every rank waits inside it, without
 * spinning, until rank 0 is resumed or terminated.  With @final, each
 * dictionary publishes its final update and is terminated.  Costs one
 * small MPI_Allreduce when nothing changed; changes add one MPI_Gather
 * (two if the ranks' sizes differ much) and client writes one MPI_Bcast,
 * of the changed bytes.
 *
 * A rank that calls it more often than the others waits in it for ever,
 * as in any collective: leave the loop on what every rank has after a
 * sync, idict_mpi_terminated() (not idict_terminated()), a reduced key or
 * the step.
 *
 * Not thread-safe: collective, called by every rank from the thread that
 * makes its MPI calls.  Other threads may go on using the dictionary with
 * idict(3)'s functions.
 *
 * Returns: %TRUE, or %FALSE with IDICT_ERROR_FAILED on every rank: a sync
 *   after the final one, or changes on one rank that exceed what one MPI
 *   message carries (2 GiB).
 */
IDICT_MPI_API gboolean idict_mpi_sync(IDictMpi *self, gboolean final, GError **error);

/**
 * idict_mpi_terminated:
 * @self: the job's handle
 *
 * Whether the job was terminated, as of the last sync: the same on every
 * rank.  Leave the loop on this, not on idict_terminated(), which on rank 0
 * turns true the moment a client writes ctl/terminate, before the other
 * ranks know (a rank leaving the loop alone would leave the others waiting
 * for it in their next collective).  The sync also terminates each rank's
 * dictionary, so idict_terminated() agrees after it.
 *
 * Not thread-safe: call it from the thread that calls idict_mpi_sync().
 *
 * Returns: %TRUE once a sync has seen a terminate (or a final sync) on any
 *   rank.
 */
IDICT_MPI_API gboolean idict_mpi_terminated(IDictMpi *self);

/**
 * idict_mpi_syncs:
 * @self: the job's handle
 *
 * Not thread-safe: call it from the thread that calls idict_mpi_sync().
 *
 * Returns: the number of syncs done on this rank (0 before the first): the
 *   same on every rank.
 */
IDICT_MPI_API guint64 idict_mpi_syncs(IDictMpi *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(IDictMpi, idict_mpi_free)

G_END_DECLS

#endif /* IDICT_MPI_H */
