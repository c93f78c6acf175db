/* idict.h - an interactive dictionary of a running computation, served as a
 * FUSE filesystem.
 *
 * The computation keeps its intermediate results in an IDict.  Its loop checks
 * idict_terminated(), calls idict_wait() (which blocks while a client has
 * paused it), changes entries (several at once under idict_lock()) and calls
 * idict_notify_update() after each step, with final = TRUE at the end.
 * idict_serve() shows the dictionary as a directory: one file per key, a ctl/
 * directory to pause and stop the loop, and an `updates` stream.  See
 * idictfs(7) / README.md for the files.
 *
 * Every function is thread-safe and may be called from any thread.  The
 * library installs no signal handlers and prints nothing: messages go through
 * g_log() with the log domain "idict".
 */
#ifndef IDICT_H
#define IDICT_H

#include <glib.h>

G_BEGIN_DECLS

#if defined(IDICT_COMPILATION)
#define IDICT_API __attribute__((visibility("default")))
#else
#define IDICT_API
#endif

typedef struct _IDict IDict;
typedef struct _IDictServer IDictServer;

/** Longest key, in bytes, including the `/` between components. */
#define IDICT_KEY_MAX 255
/** Largest text accepted by one write to a key file, in bytes: one FUSE
 *  request carries 1 MiB (256 pages), so a write(2) this long arrives whole
 *  whatever the alignment of the buffer; longer ones fail with EFBIG. */
#define IDICT_WRITE_MAX (1020 * 1024)

#define IDICT_ERROR (idict_error_quark())
IDICT_API GQuark idict_error_quark(void);

typedef enum {
	IDICT_ERROR_BAD_NAME,      /* key name breaks the rules of idict_check_key_name() */
	IDICT_ERROR_NAME_CONFLICT, /* "a" and "a/b" cannot both be keys */
	IDICT_ERROR_NOT_FOUND,     /* no such key */
	IDICT_ERROR_WRONG_TYPE,    /* the key holds a value of another type */
	IDICT_ERROR_INVALID_VALUE, /* text that does not parse, or a value a check refused */
	IDICT_ERROR_MOUNT,         /* the filesystem could not be mounted */
	IDICT_ERROR_FAILED,        /* anything else, e.g. an I/O error in idict_save() */
} IDictError;

/* ---- Lifecycle ---------------------------------------------------------- */

/** Returns: (transfer full): a new, empty, running dictionary; idict_free() it. */
IDICT_API IDict *idict_new(void);

/**
 * idict_free:
 * Frees the dictionary.  NULL-safe.  Any server must have been closed first
 * (idict_server_wait_then_close()).
 */
IDICT_API void idict_free(IDict *self);

/* ---- Key names ---------------------------------------------------------- */

/**
 * idict_check_key_name:
 * A key is one or more components separated by single `/`; components show as
 * directories.  Each component is non-empty, not `.` or `..`, and has no
 * whitespace, control characters or invalid UTF-8; the whole key is at most
 * IDICT_KEY_MAX bytes; `ctl`, `updates`, `history`, `snapshot.json` and
 * `raw` are reserved as first components (the filesystem's own files).
 * Returns: %TRUE if @key is a valid name, else %FALSE with IDICT_ERROR_BAD_NAME.
 */
IDICT_API gboolean idict_check_key_name(const char *key, GError **error);

/* ---- Values -------------------------------------------------------------
 * Setters copy their argument, mark the key changed (it is listed in the next
 * update) and set its modification time.  They create the key if needed, and
 * may replace a value of another type.  They fail for a bad name, a name
 * conflict, or (idict_set_string) text that is not valid UTF-8.  A new key
 * is read-only for clients.  Setters do not wake
 * readers of `updates`: call idict_notify_update() for that.
 */
IDICT_API gboolean idict_set_double(IDict *self, const char *key, double value, GError **error);
IDICT_API gboolean idict_set_int(IDict *self, const char *key, gint64 value, GError **error);
IDICT_API gboolean idict_set_bool(IDict *self, const char *key, gboolean value, GError **error);
/** @value must be valid UTF-8 (else IDICT_ERROR_INVALID_VALUE). */
IDICT_API gboolean idict_set_string(IDict *self, const char *key, const char *value, GError **error);
/** Stores @n doubles from @values (NULL allowed when @n is 0). */
IDICT_API gboolean idict_set_array(IDict *self, const char *key, const double *values, gsize n,
				   GError **error);
/** Stores a @rows x @cols matrix given row by row (C order) in @values. */
IDICT_API gboolean idict_set_matrix(IDict *self, const char *key, const double *values, gsize rows,
				    gsize cols, GError **error);
/**
 * idict_set_value:
 * Stores any GVariant (sunk if floating; a reference is kept).  Types with a
 * special text form: "d", "x", "b", "s", "ad" and "aad" (a matrix).
 */
IDICT_API gboolean idict_set_value(IDict *self, const char *key, GVariant *value, GError **error);

/* Getters fail with IDICT_ERROR_NOT_FOUND or IDICT_ERROR_WRONG_TYPE. */
IDICT_API gboolean idict_get_double(IDict *self, const char *key, double *out, GError **error);
IDICT_API gboolean idict_get_int(IDict *self, const char *key, gint64 *out, GError **error);
IDICT_API gboolean idict_get_bool(IDict *self, const char *key, gboolean *out, GError **error);
/** Returns: (transfer full) (nullable): a copy of the string; g_free() it. */
IDICT_API char *idict_dup_string(IDict *self, const char *key, GError **error);
/** Returns: (transfer full) (nullable): a copy of the @n_out doubles; g_free() it.
 *  An empty array gives a non-NULL pointer and @n_out 0. */
IDICT_API double *idict_dup_array(IDict *self, const char *key, gsize *n_out, GError **error);
/** Returns: (transfer full) (nullable): the matrix in C order; g_free() it. */
IDICT_API double *idict_dup_matrix(IDict *self, const char *key, gsize *rows_out, gsize *cols_out,
				   GError **error);
/** Returns: (transfer full) (nullable): the value, or NULL if @key is absent;
 *  g_variant_unref() it.  GVariants are immutable: this is a reference, not a copy. */
IDICT_API GVariant *idict_get_value(IDict *self, const char *key);

IDICT_API gboolean idict_contains(IDict *self, const char *key);
/** Removes @key.  Returns: %TRUE if it was there.  The removal counts as a change. */
IDICT_API gboolean idict_remove(IDict *self, const char *key);
/** Returns: (transfer full): the keys in strcmp() order, NULL-terminated;
 *  g_strfreev() it. */
IDICT_API char **idict_keys(IDict *self);
IDICT_API guint idict_size(IDict *self);

/**
 * idict_lock / idict_unlock:
 * Holds the dictionary's lock so that several changes are seen together:
 * no client reads a value between them.  The lock is recursive, and the
 * setters and getters may be called while it is held.  Hold it briefly:
 * clients reading keys wait for it.  Do not call idict_notify_update() or
 * idict_wait() while holding it.
 */
IDICT_API void idict_lock(IDict *self);
IDICT_API void idict_unlock(IDict *self);

/**
 * idict_set_history:
 * Keeps the last @depth values of @key (which must exist), one per update
 * that changed it, for clients to read in history/KEY as lines
 * "SEQ UNIXTIME VALUE": a convergence plot without anyone having watched.
 * Only scalar values (double, int, bool) are recorded.  @depth 0 turns it
 * off.  Costs nothing for updates that do not change @key.
 */
IDICT_API gboolean idict_set_history(IDict *self, const char *key, guint depth, GError **error);
/**
 * idict_set_progress_target:
 * Declares that the value of @key (a double or int, e.g. "step") counts
 * toward @target; ctl/status then shows the fraction done and an estimate
 * of the time left.  @key NULL removes the target.
 */
IDICT_API gboolean idict_set_progress_target(IDict *self, const char *key, double target,
					     GError **error);

/* ---- The whole dictionary -----------------------------------------------
 * Python's dict operations, each done in one moment: a client listing a
 * directory, reading snapshot.json or following `updates` sees the
 * dictionary before the operation or after it, never half of it.  Several
 * of them between idict_lock() and idict_unlock() are seen together.  What
 * a key owns (its writable flag, check and recorded history) goes when the
 * key goes; what the dictionary owns (the mount and its control files,
 * callbacks, sequence number, progress target) stays, and idict_clear()
 * keeps the history settings too.  They hold the lock for work
 * proportional to the keys they touch, as idict_keys() does: the
 * computation's own work; nothing a client does lengthens it.
 */

/**
 * idict_clear:
 * Removes every key, as idict_remove() of each would, in one moment: with
 * its writable flag, its check (whose destroy is called after the lock is
 * released) and the values its history recorded.  Every key is listed in
 * the next update line.  History settings stay: a key set again under the
 * same name keeps a history of the same depth (idict_set_history()),
 * starting empty.  The progress target stays; the rate behind its time
 * estimate is measured anew from the first update at which its key has a
 * value again.
 */
IDICT_API void idict_clear(IDict *self);

/**
 * idict_copy:
 * A new dictionary holding the keys of @self as they were at one moment,
 * with their values and writable flags: what idict_load() gives for a
 * checkpoint written by idict_save() at that moment, without the file.
 * Values are shared, not copied (GVariants are immutable; scalars are
 * stored by value).  Not copied: checks (code), histories, callbacks, the
 * progress target, the control state.  The copy is not served, is running,
 * at sequence 0, with every key changed but not yet published.
 * Returns: (transfer full): the copy; idict_free() it.
 */
IDICT_API IDict *idict_copy(IDict *self);

/**
 * IDictForeachFunc:
 * Called by idict_foreach() with a key and its value (owned by
 * idict_foreach(): g_variant_ref() it to keep it).
 */
typedef void (*IDictForeachFunc)(IDict *dict, const char *key, GVariant *value,
				 gpointer user_data);
/**
 * idict_foreach:
 * Calls @func for every key of @self, in strcmp() order, with the value
 * the key had at one moment.  The names and references to the values are
 * taken under the lock and @func runs after it is released, so @func may
 * call any function of @self (a key it sets or removes is still visited,
 * with its value from that moment), and neither clients nor other threads
 * wait while it runs.
 * Returns: the number of keys visited.
 */
IDICT_API guint idict_foreach(IDict *self, IDictForeachFunc func, gpointer user_data);

/**
 * idict_update:
 * Sets every key of @other in @self, in one moment, as the setters would:
 * a new key is read-only, an existing one keeps its writable flag and check
 * and may change type, and each is listed in the next update line.  Values
 * are shared, not copied.  All or nothing: if a key of @other conflicts
 * with a key of @self ("a" and "a/b"), nothing changes.  The writable
 * flags, checks and histories of @other are not copied.  @other is read
 * in one moment under its own lock, released before @self's lock is taken
 * (never both, unless the caller holds one).  @other may be @self.
 * Returns: %TRUE, or %FALSE with IDICT_ERROR_NAME_CONFLICT.
 */
IDICT_API gboolean idict_update(IDict *self, IDict *other, GError **error);

/**
 * idict_pop:
 * Removes @key as idict_remove() does, and returns the value it had, in one
 * moment.
 * Returns: (transfer full) (nullable): the value, g_variant_unref() it; or
 *   NULL if @key is not a key (then nothing changes and nothing is listed
 *   in the next update).
 */
IDICT_API GVariant *idict_pop(IDict *self, const char *key);

/**
 * idict_set_default:
 * Returns the value of @key if it is a key; else stores @value under @key as
 * idict_set_value() would, and returns @value.  The test and the store
 * happen in one moment: of two threads setting a default for the same key,
 * one stores and both get its value.  @value is sunk if floating (the
 * library keeps a reference if it stores it; a floating @value is consumed
 * in every case).
 * Returns: (transfer full) (nullable): the key's value, of @value's type;
 *   g_variant_unref() it.  NULL with IDICT_ERROR_BAD_NAME or
 *   IDICT_ERROR_NAME_CONFLICT (a new key), or IDICT_ERROR_WRONG_TYPE if the
 *   key holds a value of another type than @value (nothing changes then).
 */
IDICT_API GVariant *idict_set_default(IDict *self, const char *key, GVariant *value,
				      GError **error);

/* ---- Writable keys ------------------------------------------------------ */

/**
 * IDictCheckFunc:
 * Decides whether a client may store @value (already parsed to the key's
 * type) under @key.  Called from a filesystem thread, without the
 * dictionary's lock held.  Returns: %TRUE to accept; %FALSE (optionally
 * setting @error) to refuse: the client's write fails with EINVAL.
 */
typedef gboolean (*IDictCheckFunc)(IDict *dict, const char *key, GVariant *value,
				   gpointer user_data, GError **error);

/** Lets clients write @key (which must exist), or makes it read-only again. */
IDICT_API gboolean idict_set_writable(IDict *self, const char *key, gboolean writable, GError **error);
/**
 * idict_set_check:
 * Attaches @check (replacing any earlier one, whose @destroy is called) to
 * @key, which must exist.  @check may be NULL to remove it.  It runs on each
 * value a client writes, once the text is a whole value (or at the close
 * that publishes it), possibly on values never published: it must have no
 * side effects.  See idict(3).
 */
IDICT_API gboolean idict_set_check(IDict *self, const char *key, IDictCheckFunc check,
				   gpointer user_data, GDestroyNotify destroy, GError **error);

/* ---- Checkpoints -------------------------------------------------------- */

/**
 * idict_save:
 * Writes every key (value, type, writable flag) of @self to @path,
 * atomically and durably: a temporary file in the same directory is synced
 * and renamed over @path, so a crash at any moment leaves the previous
 * checkpoint or the new one, whole.  The temporary file is unnamed while
 * it is written (O_TMPFILE) and named ".NAME.idict-tmp-XXXXXX" only for the
 * instant before the rename (or all along where O_TMPFILE is not
 * supported); each completed save removes those its killed predecessors
 * left, so none outlives the next completed save.  One writer per @path: a
 * concurrent save to the same path may fail (never tearing the checkpoint).
 * The keys are read in one moment (as under idict_lock()).  Checks (code)
 * are not saved.
 * Returns: %TRUE, or %FALSE with IDICT_ERROR_FAILED.
 */
IDICT_API gboolean idict_save(IDict *self, const char *path, GError **error);
/**
 * idict_load:
 * Reads a checkpoint written by idict_save().  The file is data only
 * (serialized GVariant); a damaged, truncated or foreign file is refused
 * with an error, never run and never a crash.  The file is read, not
 * mapped, and every value copied into memory the dictionary owns: the
 * checkpoint replaced, truncated or deleted afterwards changes nothing.
 * Returns: (transfer full) (nullable): a new dictionary with the saved keys
 *   (sequence 0, running, changes not yet published); idict_free() it.
 *   NULL with IDICT_ERROR_FAILED.
 */
IDICT_API IDict *idict_load(const char *path, GError **error);

/* ---- Control ------------------------------------------------------------ */

/** Asks the loop to stop: idict_terminated() becomes %TRUE and idict_wait() returns. */
IDICT_API void idict_terminate(IDict *self);
IDICT_API gboolean idict_terminated(IDict *self);
IDICT_API void idict_pause(IDict *self);
IDICT_API void idict_resume(IDict *self);
IDICT_API gboolean idict_paused(IDict *self);
/**
 * idict_wait:
 * Blocks while the dictionary is paused, without busy waiting, for at most
 * @timeout seconds (negative or infinite: no limit).  Returns at once when
 * terminated.
 * Returns: %TRUE if the loop may go on (not paused, or terminated), %FALSE
 * if the timeout passed while still paused.
 */
IDICT_API gboolean idict_wait(IDict *self, double timeout);

/* ---- Updates ------------------------------------------------------------ */

/**
 * idict_notify_update:
 * Publishes an update: bumps the sequence number, records the keys changed
 * since the previous update, wakes every reader of `updates`, then runs the
 * callbacks in this thread.  After a @final update, readers of `updates` get
 * end-of-file and ctl/status says `finished`.  Cheap: proportional to the
 * number of changed keys, never waits for clients.
 */
IDICT_API void idict_notify_update(IDict *self, gboolean final);
/** Returns: the sequence number of the last update (0 before the first). */
IDICT_API guint64 idict_sequence(IDict *self);

typedef void (*IDictUpdateFunc)(IDict *dict, gboolean final, gpointer user_data);
/**
 * idict_add_callback:
 * Calls @func after each update, from the thread that called
 * idict_notify_update(), without the dictionary's lock held.
 * Returns: an id (> 0) for idict_remove_callback().
 */
IDICT_API guint idict_add_callback(IDict *self, IDictUpdateFunc func, gpointer user_data,
				   GDestroyNotify destroy);
/** Returns: %TRUE if @id was registered.  Safe from within a callback.  A
 *  call of the callback already under way in another thread may still run. */
IDICT_API gboolean idict_remove_callback(IDict *self, guint id);

/* ---- Changed keys and client writes ------------------------------------
 * For a loop that must know what changed, not only publish it: a library
 * that copies changes elsewhere (libidict-mpi gathers them across MPI
 * ranks), or a computation that recomputes something when a client sets a
 * parameter.  Both cost in proportion to the keys listed, never to the size
 * of the dictionary.
 */

/**
 * idict_changed_keys:
 * The keys changed since the last update: set or removed by the
 * computation, or written by a client.  They are what the next
 * idict_notify_update() will list; it empties the list.  A removed key is
 * listed (idict_contains() tells it apart).
 * Returns: (transfer full): the names in strcmp() order, NULL-terminated;
 *   g_strfreev() it.
 */
IDICT_API char **idict_changed_keys(IDict *self);

/**
 * idict_hold_client_writes:
 * With @hold, a client's write to a writable key is taken as usual (parsed,
 * checked, answered, shown at once in the key's file, snapshot.json and the
 * next update line), but the computation's getters go on returning the
 * earlier value until it calls idict_take_client_writes().  The loop then
 * decides when new parameters come into force, so that one step sees one
 * set of them.  A value the computation sets itself replaces a held write.
 * Turning @hold off brings every held write into force at once.  Off by
 * default.
 */
IDICT_API void idict_hold_client_writes(IDict *self, gboolean hold);

/**
 * idict_take_client_writes:
 * Brings the held client writes (idict_hold_client_writes()) into force for
 * the computation, and lists the keys that clients wrote since the last
 * call, held or not.  A key is not listed if the computation set or removed
 * it after the client's write (its own value replaced the client's).
 * Returns: (transfer full): the names in strcmp() order, NULL-terminated;
 *   g_strfreev() it.
 */
IDICT_API char **idict_take_client_writes(IDict *self);

/**
 * idict_terminate_on_signals:
 * Opt-in: makes SIGINT, SIGTERM and SIGHUP call idict_terminate() on
 * @self, so that Ctrl-C, kill, timeout(1), a batch scheduler or a closed
 * ssh session stop the loop cleanly (final checkpoint, final update,
 * wait-then-close, unmount).  Signals within 1 s of the first (of any of
 * the three) are the same request: timeout(1) and schedulers signal the
 * process and then its process group, a closing terminal signals every
 * process.  A signal more than 1 s after the first ends the process by that
 * signal at once (a second Ctrl-C when the clean stop hangs).
 * Blocks these signals in the calling thread and takes them in a thread of
 * its own (sigwait(), no handler): call it from main() before creating
 * other threads, so that they inherit the mask.  Once per process; after
 * idict_free(@self) the first signal is taken but does nothing, and one
 * more than 1 s later ends the process.
 * Returns: %TRUE, or %FALSE with IDICT_ERROR_FAILED if already called.
 */
IDICT_API gboolean idict_terminate_on_signals(IDict *self, GError **error);

/* ---- The server --------------------------------------------------------- */

/**
 * idict_serve:
 * Mounts @self at @mountpoint and serves it from threads of its own.
 * Creates @mountpoint if missing, and clears a stale mount left there by a
 * crashed run ("Transport endpoint is not connected").
 * By default the mount is made with fusermount3's auto_unmount: a helper
 * process unmounts it when this process ends, even by SIGKILL.
 * Only the user running the computation can see inside the mount, unless
 * @options has "allow_other"; then the files' modes are enforced for other
 * users (default_permissions is added): they may read every key and write
 * nothing.
 * @options: (nullable): comma-separated FUSE mount options (e.g.
 *   "allow_other"), and three of ours: "no_auto_unmount" turns auto_unmount
 *   off; "write_mode=0664" (octal) gives the permission bits of writable
 *   keys and of ctl/pause and ctl/terminate (default 0644: the owner
 *   only); "server_nice=N" (0 to 19, default 10) runs the serving threads
 *   N nice levels below the calling thread, so that on a busy machine the
 *   computation gets the CPU before its watchers (0: the same priority).
 *   NULL for none.
 * One server per dictionary, and one computation per mount point: serving
 * a dictionary twice, or at a mount point another process serves, fails.
 * libfuse's own messages are sent to g_log() (process-wide, through
 * fuse_set_log_func()).
 * Returns: (transfer full) (nullable): the server, to be ended with
 *   idict_server_wait_then_close(); NULL with IDICT_ERROR_MOUNT on failure.
 */
IDICT_API IDictServer *idict_serve(IDict *self, const char *mountpoint, const char *options,
				   GError **error);

/**
 * idict_server_wait_then_close:
 * Keeps serving until no client has a file of the mount open, or @timeout
 * seconds (negative: no limit) have passed; then answers every blocked read,
 * unmounts, joins the threads and frees @server.  Call it after the final
 * update, so that readers of `updates` see end-of-file and close.  Returns at
 * once if the filesystem was unmounted from outside.  NULL-safe.
 */
IDICT_API void idict_server_wait_then_close(IDictServer *server, double timeout);

/** Returns: (transfer none): the mount point, owned by @server. */
IDICT_API const char *idict_server_mountpoint(IDictServer *server);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(IDict, idict_free)

G_END_DECLS

#endif /* IDICT_H */
