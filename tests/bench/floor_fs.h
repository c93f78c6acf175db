/* floor_fs.h - the FUSE floor for the benchmarks: a minimal low-level FUSE
 * filesystem (in the spirit of libfuse's example/hello_ll.c) served from one
 * thread of the bench process, with idictfs's mount options (auto_unmount),
 * direct I/O, no FLUSH, zero entry and attribute timeouts.
 *
 *   small    constant bytes (the text of a double)
 *   array    constant bytes (the text of a 1000-double array)
 *   big      constant bytes (a large array), for throughput
 *   stream   each read blocks (the request is parked) until floor_fs_notify()
 *   many/    a directory of n_many empty files, names generated on the fly
 */
#ifndef IDICT_BENCH_FLOOR_FS_H
#define IDICT_BENCH_FLOOR_FS_H

#include <glib.h>

typedef struct _FloorFs FloorFs;

/* Mounts at @mountpoint (an existing empty directory) and serves from a
 * thread.  The GBytes are referenced.  Returns: (nullable): NULL with
 * @error set if the mount failed. */
FloorFs *floor_fs_start(const char *mountpoint, GBytes *small, GBytes *array, GBytes *big,
			guint n_many, GError **error);

/* Answers the parked read of `stream` with @line, or, if no read is parked,
 * lets the next read return it at once.  Callable from any thread. */
void floor_fs_notify(FloorFs *fs, const char *line);

/* Answers a parked read with end-of-file, stops the thread, unmounts, frees.
 * NULL-safe. */
void floor_fs_stop(FloorFs *fs);

#endif /* IDICT_BENCH_FLOOR_FS_H */
