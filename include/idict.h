/* idict.h - an interactive dictionary of a running computation, served as a
 * FUSE filesystem.
 *
 * The computation keeps its intermediate results in an IDict.  Its loop checks
 * idict_terminated(), calls idict_wait() (which blocks while a client has
 * paused it), changes entries (several at once under idict_lock()) and calls
 * idict_notify_update() after each step, with final = TRUE at the end.
 * idict_serve() shows the dictionary as a directory: one file per key, a ctl/
 * directory to pause and stop the loop, and an `updates` stream.  See
 * idict(3) for the API, idictfs(7) / README.md for the files.
 *
 * Threads: every function may be called from any thread, at any time,
 * except three, whose comments say so: idict_free() (the last call on a
 * dictionary), idict_server_wait_then_close() and idict_server_close() (the
 * last call on a server) and idict_terminate_on_signals() (from main(),
 * before other threads start).  Each function's comment ends with its
 * thread-safety.
 *
 * The library installs no signal handlers and prints nothing: messages go
 * through g_log() with the log domain "idict".  Programmer errors (a NULL
 * dictionary or key) are g_return_val_if_fail() criticals.
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

/* ---- Versions ----------------------------------------------------------- */

/**
 * IDICT_MAJOR_VERSION:
 *
 * The major version of the libidict this header belongs to (0 in 0.1.0).
 */
#define IDICT_MAJOR_VERSION 0
/**
 * IDICT_MINOR_VERSION:
 *
 * The minor version of the libidict this header belongs to (1 in 0.1.0).
 */
#define IDICT_MINOR_VERSION 1
/**
 * IDICT_MICRO_VERSION:
 *
 * The micro version of the libidict this header belongs to (0 in 0.1.0).
 */
#define IDICT_MICRO_VERSION 0

/**
 * IDICT_CHECK_VERSION:
 * @major: a major version
 * @minor: a minor version
 * @micro: a micro version
 *
 * Compile-time check, as GLIB_CHECK_VERSION():
 * `#if IDICT_CHECK_VERSION(0, 2, 0)` uses what 0.2.0 brought.
 *
 * Returns: %TRUE if this header is of version @major.@minor.@micro or later.
 */
#define IDICT_CHECK_VERSION(major, minor, micro)                                    \
	(IDICT_MAJOR_VERSION > (major) ||                                           \
	 (IDICT_MAJOR_VERSION == (major) && IDICT_MINOR_VERSION > (minor)) ||       \
	 (IDICT_MAJOR_VERSION == (major) && IDICT_MINOR_VERSION == (minor) &&       \
	  IDICT_MICRO_VERSION >= (micro)))

/* ---- Types, limits, errors ---------------------------------------------- */

/**
 * IDict:
 *
 * An interactive dictionary: a locked table of typed values (keys named like
 * paths), the loop's control state (paused, terminated) and its update
 * stream.  Opaque; created with idict_new() or idict_load(), freed with
 * idict_free() (or g_autoptr(IDict)).
 */
typedef struct _IDict IDict;

/**
 * IDictServer:
 *
 * A dictionary mounted and served as a FUSE filesystem by threads of the
 * library.  Opaque; created with idict_serve(), ended with
 * idict_server_wait_then_close() or idict_server_close() (or
 * g_autoptr(IDictServer), which calls idict_server_close()).
 */
typedef struct _IDictServer IDictServer;

/**
 * IDICT_KEY_MAX:
 *
 * The longest key, in bytes, including the `/` between components.
 */
#define IDICT_KEY_MAX 255

/**
 * IDICT_WRITE_MAX:
 *
 * The largest text accepted by one write to a key file, in bytes: one FUSE
 * request carries 1 MiB (256 pages), so a write(2) this long arrives whole
 * whatever the alignment of the buffer; longer ones fail with EFBIG.
 */
#define IDICT_WRITE_MAX (1020 * 1024)

/**
 * IDICT_ERROR:
 *
 * The error domain of libidict; the codes are #IDictError.
 */
#define IDICT_ERROR (idict_error_quark())

/**
 * idict_error_quark:
 *
 * Thread-safe.
 *
 * Returns: the quark of the %IDICT_ERROR domain.
 */
IDICT_API GQuark idict_error_quark(void);

/**
 * IDictError:
 * @IDICT_ERROR_BAD_NAME: the key name breaks the rules of idict_check_key_name()
 * @IDICT_ERROR_NAME_CONFLICT: "a" and "a/b" cannot both be keys
 * @IDICT_ERROR_NOT_FOUND: no such key
 * @IDICT_ERROR_WRONG_TYPE: the key holds a value of another type
 * @IDICT_ERROR_INVALID_VALUE: text that does not parse, or a value a check refused
 * @IDICT_ERROR_MOUNT: the filesystem could not be mounted
 * @IDICT_ERROR_FAILED: anything else, e.g. an I/O error in idict_save()
 *
 * The error codes of the %IDICT_ERROR domain.
 */
typedef enum {
	IDICT_ERROR_BAD_NAME,
	IDICT_ERROR_NAME_CONFLICT,
	IDICT_ERROR_NOT_FOUND,
	IDICT_ERROR_WRONG_TYPE,
	IDICT_ERROR_INVALID_VALUE,
	IDICT_ERROR_MOUNT,
	IDICT_ERROR_FAILED,
} IDictError;

/* ---- Lifecycle ---------------------------------------------------------- */

/**
 * idict_new:
 *
 * Creates an empty dictionary, running (neither paused nor terminated), at
 * sequence number 0.
 *
 * Thread-safe.
 *
 * Returns: (transfer full): the dictionary; idict_free() it.
 */
IDICT_API IDict *idict_new(void) G_GNUC_WARN_UNUSED_RESULT;

/**
 * idict_free:
 * @self: (nullable): a dictionary, or %NULL
 *
 * Releases the caller's dictionary, its values, checks and callbacks (their
 * destroy functions run).  A server still serving @self holds a reference
 * of its own: the dictionary then lives on, still served and still changed
 * by clients, until that server is closed, and is freed then.  NULL-safe.
 *
 * Not thread-safe: the caller's last call on @self; no other call on @self
 * may run at the same time or follow.
 */
IDICT_API void idict_free(IDict *self);

/* ---- Key names ---------------------------------------------------------- */

/**
 * idict_check_key_name:
 * @key: a key name
 * @error: (nullable): return location for a #GError, or %NULL
 *
 * A key is one or more components separated by single `/`; components show as
 * directories.  Each component is non-empty, not `.` or `..`, and has no
 * whitespace, control characters or invalid UTF-8; the whole key is at most
 * %IDICT_KEY_MAX bytes; `ctl`, `updates`, `history`, `snapshot.json` and
 * `raw` are reserved as first components (the filesystem's own files).
 *
 * Thread-safe.
 *
 * Returns: %TRUE if @key is a valid name, else %FALSE with
 *   %IDICT_ERROR_BAD_NAME.
 */
IDICT_API gboolean idict_check_key_name(const char *key, GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* ---- Values -------------------------------------------------------------
 * Setters copy their argument, mark the key changed (it is listed in the next
 * update) and set its modification time.  They create the key if needed, and
 * may replace a value of another type.  A new key is read-only for clients.
 * Setters do not wake readers of `updates`: call idict_notify_update() for
 * that.  They fail with IDICT_ERROR_BAD_NAME or IDICT_ERROR_NAME_CONFLICT,
 * and change nothing then.
 */

/**
 * idict_set_double:
 * @self: a dictionary
 * @key: the key (see idict_check_key_name())
 * @value: the value
 * @error: (nullable): return location for a #GError, or %NULL
 *
 * Stores @value under @key (read by clients as its shortest round-trip
 * text).  Costs no allocation when @key holds a double already.
 *
 * Thread-safe.
 *
 * Returns: %TRUE, or %FALSE with @error set.
 */
IDICT_API gboolean idict_set_double(IDict *self, const char *key, double value, GError **error);

/**
 * idict_set_int:
 * @self: a dictionary
 * @key: the key (see idict_check_key_name())
 * @value: the value
 * @error: (nullable): return location for a #GError, or %NULL
 *
 * Stores the 64-bit integer @value under @key.
 *
 * Thread-safe.
 *
 * Returns: %TRUE, or %FALSE with @error set.
 */
IDICT_API gboolean idict_set_int(IDict *self, const char *key, gint64 value, GError **error);

/**
 * idict_set_bool:
 * @self: a dictionary
 * @key: the key (see idict_check_key_name())
 * @value: the value
 * @error: (nullable): return location for a #GError, or %NULL
 *
 * Stores @value under @key (read as `true` or `false`).
 *
 * Thread-safe.
 *
 * Returns: %TRUE, or %FALSE with @error set.
 */
IDICT_API gboolean idict_set_bool(IDict *self, const char *key, gboolean value, GError **error);

/**
 * idict_set_string:
 * @self: a dictionary
 * @key: the key (see idict_check_key_name())
 * @value: a NUL-terminated string, valid UTF-8; copied
 * @error: (nullable): return location for a #GError, or %NULL
 *
 * Stores a copy of @value under @key.
 *
 * Thread-safe.
 *
 * Returns: %TRUE, or %FALSE with @error set (also
 *   %IDICT_ERROR_INVALID_VALUE for text that is not valid UTF-8).
 */
IDICT_API gboolean idict_set_string(IDict *self, const char *key, const char *value, GError **error);

/**
 * idict_set_array:
 * @self: a dictionary
 * @key: the key (see idict_check_key_name())
 * @values: (array length=n) (nullable): @n doubles; copied.  %NULL when @n is 0.
 * @n: the number of doubles
 * @error: (nullable): return location for a #GError, or %NULL
 *
 * Stores a copy of the @n doubles under @key (read as one value per line,
 * and as raw bytes in raw/KEY).
 *
 * Thread-safe.
 *
 * Returns: %TRUE, or %FALSE with @error set.
 */
IDICT_API gboolean idict_set_array(IDict *self, const char *key, const double *values, gsize n,
				   GError **error);

/**
 * idict_set_matrix:
 * @self: a dictionary
 * @key: the key (see idict_check_key_name())
 * @values: (nullable): @rows x @cols doubles, row by row (C order); copied.
 *   %NULL when there are none.
 * @rows: the number of rows
 * @cols: the number of columns
 * @error: (nullable): return location for a #GError, or %NULL
 *
 * Stores a copy of the matrix under @key (read as one row per line).
 *
 * Thread-safe.
 *
 * Returns: %TRUE, or %FALSE with @error set.
 */
IDICT_API gboolean idict_set_matrix(IDict *self, const char *key, const double *values, gsize rows,
				    gsize cols, GError **error);

/**
 * idict_set_value:
 * @self: a dictionary
 * @key: the key (see idict_check_key_name())
 * @value: (transfer floating): any GVariant; a floating one is sunk, and a
 *   reference is kept
 * @error: (nullable): return location for a #GError, or %NULL
 *
 * Stores @value under @key.  Types with a text form of their own: "d", "x",
 * "b", "s", "ad" and "aad" (a matrix); others read as GVariant text.
 *
 * Thread-safe.
 *
 * Returns: %TRUE, or %FALSE with @error set.
 */
IDICT_API gboolean idict_set_value(IDict *self, const char *key, GVariant *value, GError **error);

/**
 * idict_get_double:
 * @self: a dictionary
 * @key: the key
 * @out: (out): where to store the value; untouched on failure
 * @error: (nullable): return location for a #GError, or %NULL
 *
 * Reads the double stored under @key.
 *
 * Thread-safe.
 *
 * Returns: %TRUE, or %FALSE with %IDICT_ERROR_NOT_FOUND or
 *   %IDICT_ERROR_WRONG_TYPE.
 */
IDICT_API gboolean idict_get_double(IDict *self, const char *key, double *out, GError **error);

/**
 * idict_get_int:
 * @self: a dictionary
 * @key: the key
 * @out: (out): where to store the value; untouched on failure
 * @error: (nullable): return location for a #GError, or %NULL
 *
 * Reads the 64-bit integer stored under @key.
 *
 * Thread-safe.
 *
 * Returns: %TRUE, or %FALSE with %IDICT_ERROR_NOT_FOUND or
 *   %IDICT_ERROR_WRONG_TYPE.
 */
IDICT_API gboolean idict_get_int(IDict *self, const char *key, gint64 *out, GError **error);

/**
 * idict_get_bool:
 * @self: a dictionary
 * @key: the key
 * @out: (out): where to store the value; untouched on failure
 * @error: (nullable): return location for a #GError, or %NULL
 *
 * Reads the boolean stored under @key.
 *
 * Thread-safe.
 *
 * Returns: %TRUE, or %FALSE with %IDICT_ERROR_NOT_FOUND or
 *   %IDICT_ERROR_WRONG_TYPE.
 */
IDICT_API gboolean idict_get_bool(IDict *self, const char *key, gboolean *out, GError **error);

/**
 * idict_dup_string:
 * @self: a dictionary
 * @key: the key
 * @error: (nullable): return location for a #GError, or %NULL
 *
 * Copies the string stored under @key.
 *
 * Thread-safe.
 *
 * Returns: (transfer full) (nullable): the copy; g_free() it.  %NULL with
 *   %IDICT_ERROR_NOT_FOUND or %IDICT_ERROR_WRONG_TYPE.
 */
IDICT_API char *idict_dup_string(IDict *self, const char *key, GError **error)
	G_GNUC_WARN_UNUSED_RESULT;

/**
 * idict_dup_array:
 * @self: a dictionary
 * @key: the key
 * @n_out: (out): the number of doubles
 * @error: (nullable): return location for a #GError, or %NULL
 *
 * Copies the array of doubles stored under @key.
 *
 * Thread-safe.
 *
 * Returns: (transfer full) (array length=n_out) (nullable): a copy of the
 *   @n_out doubles; g_free() it.  An empty array gives a non-%NULL pointer
 *   and @n_out 0.  %NULL with %IDICT_ERROR_NOT_FOUND or
 *   %IDICT_ERROR_WRONG_TYPE.
 */
IDICT_API double *idict_dup_array(IDict *self, const char *key, gsize *n_out, GError **error)
	G_GNUC_WARN_UNUSED_RESULT;

/**
 * idict_dup_matrix:
 * @self: a dictionary
 * @key: the key
 * @rows_out: (out): the number of rows
 * @cols_out: (out): the number of columns
 * @error: (nullable): return location for a #GError, or %NULL
 *
 * Copies the matrix stored under @key.
 *
 * Thread-safe.
 *
 * Returns: (transfer full) (nullable): the @rows_out x @cols_out doubles in
 *   C order; g_free() it.  %NULL with %IDICT_ERROR_NOT_FOUND or
 *   %IDICT_ERROR_WRONG_TYPE.
 */
IDICT_API double *idict_dup_matrix(IDict *self, const char *key, gsize *rows_out, gsize *cols_out,
				   GError **error) G_GNUC_WARN_UNUSED_RESULT;

/**
 * idict_get_value:
 * @self: a dictionary
 * @key: the key
 *
 * Reads the value stored under @key, whatever its type.  It has no #GError:
 * a missing key is its only failure, and %NULL says so unambiguously (as
 * g_hash_table_lookup() does); any type is accepted, so there is no wrong
 * one.
 *
 * Thread-safe.
 *
 * Returns: (transfer full) (nullable): the value, or %NULL if @key is
 *   absent; g_variant_unref() it.  GVariants are immutable: this is a
 *   reference, not a copy.
 */
IDICT_API GVariant *idict_get_value(IDict *self, const char *key) G_GNUC_WARN_UNUSED_RESULT;

/**
 * idict_contains:
 * @self: a dictionary
 * @key: the key
 *
 * Thread-safe.
 *
 * Returns: %TRUE if @key is a key (not a directory of keys).
 */
IDICT_API gboolean idict_contains(IDict *self, const char *key);

/**
 * idict_remove:
 * @self: a dictionary
 * @key: the key
 *
 * Removes @key, and the directories it leaves empty.  The removal counts as
 * a change (the key is listed in the next update).
 *
 * Thread-safe.
 *
 * Returns: %TRUE if it was there.
 */
IDICT_API gboolean idict_remove(IDict *self, const char *key);

/**
 * idict_keys:
 * @self: a dictionary
 *
 * Thread-safe; the keys are taken in one moment.
 *
 * Returns: (transfer full) (array zero-terminated=1): the keys in strcmp()
 *   order; g_strfreev() it.
 */
IDICT_API char **idict_keys(IDict *self) G_GNUC_WARN_UNUSED_RESULT;

/**
 * idict_size:
 * @self: a dictionary
 *
 * Thread-safe.
 *
 * Returns: the number of keys.
 */
IDICT_API guint idict_size(IDict *self);

/**
 * idict_lock:
 * @self: a dictionary
 *
 * Holds the dictionary's lock so that several changes are seen together:
 * no client reads a value between them.  The lock is recursive, and the
 * setters and getters may be called while it is held.  Hold it briefly:
 * clients reading keys wait for it.  Do not call idict_notify_update() or
 * idict_wait() while holding it.  Release it with idict_unlock().
 *
 * Thread-safe.
 */
IDICT_API void idict_lock(IDict *self);

/**
 * idict_unlock:
 * @self: a dictionary
 *
 * Releases the lock taken with idict_lock(), once for each idict_lock().
 *
 * Thread-safe, from the thread that holds the lock.
 */
IDICT_API void idict_unlock(IDict *self);

/**
 * idict_set_history:
 * @self: a dictionary
 * @key: an existing key
 * @depth: the number of values to keep; 0 turns it off
 * @error: (nullable): return location for a #GError, or %NULL
 *
 * Keeps the last @depth values of @key, one per update that changed it, for
 * clients to read in history/KEY as lines "SEQ UNIXTIME VALUE": a
 * convergence plot without anyone having watched.  Only scalar values
 * (double, int, bool) are recorded.  Costs nothing for updates that do not
 * change @key.
 *
 * Thread-safe.
 *
 * Returns: %TRUE, or %FALSE with %IDICT_ERROR_NOT_FOUND.
 */
IDICT_API gboolean idict_set_history(IDict *self, const char *key, guint depth, GError **error);

/**
 * idict_set_progress_target:
 * @self: a dictionary
 * @key: (nullable): a key holding a double or int (e.g. "step"); %NULL
 *   removes the target
 * @target: the value of @key at which the run is done; positive
 * @error: (nullable): return location for a #GError, or %NULL
 *
 * Declares that the value of @key counts toward @target; ctl/status then
 * shows the fraction done and an estimate of the time left, at the rate
 * since this call.
 *
 * Thread-safe.
 *
 * Returns: %TRUE, or %FALSE with %IDICT_ERROR_BAD_NAME or
 *   %IDICT_ERROR_INVALID_VALUE (a @target that is not positive).
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
 * @self: a dictionary
 *
 * Removes every key, as idict_remove() of each would, in one moment: with
 * its writable flag, its check (whose destroy is called after the lock is
 * released) and the values its history recorded.  Every key is listed in
 * the next update line.  History settings stay: a key set again under the
 * same name keeps a history of the same depth (idict_set_history()),
 * starting empty.  The progress target stays; the rate behind its time
 * estimate is measured anew from the first update at which its key has a
 * value again.
 *
 * Thread-safe.
 */
IDICT_API void idict_clear(IDict *self);

/**
 * idict_copy:
 * @self: a dictionary
 *
 * A new dictionary holding the keys of @self as they were at one moment,
 * with their values and writable flags: what idict_load() gives for a
 * checkpoint written by idict_save() at that moment, without the file.
 * Values are shared, not copied (GVariants are immutable; scalars are
 * stored by value).  Not copied: checks (code), histories, callbacks, the
 * progress target, the control state.  The copy is not served, is running,
 * at sequence 0, with every key changed but not yet published.
 *
 * Thread-safe.
 *
 * Returns: (transfer full): the copy; idict_free() it.
 */
IDICT_API IDict *idict_copy(IDict *self) G_GNUC_WARN_UNUSED_RESULT;

/**
 * IDictForeachFunc:
 * @dict: the dictionary
 * @key: a key
 * @value: (transfer none): its value at the moment idict_foreach() looked;
 *   g_variant_ref() it to keep it
 * @user_data: the data given to idict_foreach()
 *
 * Called by idict_foreach() for each key, without the dictionary's lock
 * held.
 */
typedef void (*IDictForeachFunc)(IDict *dict, const char *key, GVariant *value,
				 gpointer user_data);
/**
 * idict_foreach:
 * @self: a dictionary
 * @func: the function to call
 * @user_data: (closure): passed to @func
 *
 * Calls @func for every key of @self, in strcmp() order, with the value
 * the key had at one moment.  The names and references to the values are
 * taken under the lock and @func runs after it is released, so @func may
 * call any function of @self (a key it sets or removes is still visited,
 * with its value from that moment), and neither clients nor other threads
 * wait while it runs.
 *
 * Thread-safe.
 *
 * Returns: the number of keys visited.
 */
IDICT_API guint idict_foreach(IDict *self, IDictForeachFunc func, gpointer user_data);

/**
 * idict_update:
 * @self: the dictionary to change
 * @other: the dictionary whose keys to set in @self (may be @self)
 * @error: (nullable): return location for a #GError, or %NULL
 *
 * Sets every key of @other in @self, in one moment, as the setters would:
 * a new key is read-only, an existing one keeps its writable flag and check
 * and may change type, and each is listed in the next update line.  Values
 * are shared, not copied.  All or nothing: if a key of @other conflicts
 * with a key of @self ("a" and "a/b"), nothing changes.  The writable
 * flags, checks and histories of @other are not copied.  @other is read
 * in one moment under its own lock, released before @self's lock is taken
 * (never both, unless the caller holds one).  @other may be @self.
 *
 * Thread-safe.
 *
 * Returns: %TRUE, or %FALSE with IDICT_ERROR_NAME_CONFLICT.
 */
IDICT_API gboolean idict_update(IDict *self, IDict *other, GError **error);

/**
 * idict_pop:
 * @self: a dictionary
 * @key: the key
 *
 * Removes @key as idict_remove() does, and returns the value it had, in one
 * moment.
 *
 * Thread-safe.
 *
 * Returns: (transfer full) (nullable): the value, g_variant_unref() it; or
 *   NULL if @key is not a key (then nothing changes and nothing is listed
 *   in the next update).
 */
IDICT_API GVariant *idict_pop(IDict *self, const char *key) G_GNUC_WARN_UNUSED_RESULT;

/**
 * idict_set_default:
 * @self: a dictionary
 * @key: the key (see idict_check_key_name())
 * @value: (transfer floating): the value to store if @key is absent
 * @error: (nullable): return location for a #GError, or %NULL
 *
 * Returns the value of @key if it is a key; else stores @value under @key as
 * idict_set_value() would, and returns @value.  The test and the store
 * happen in one moment: of two threads setting a default for the same key,
 * one stores and both get its value.  @value is sunk if floating (the
 * library keeps a reference if it stores it; a floating @value is consumed
 * in every case).
 *
 * Thread-safe.
 *
 * Returns: (transfer full) (nullable): the key's value, of @value's type;
 *   g_variant_unref() it.  NULL with IDICT_ERROR_BAD_NAME or
 *   IDICT_ERROR_NAME_CONFLICT (a new key), or IDICT_ERROR_WRONG_TYPE if the
 *   key holds a value of another type than @value (nothing changes then).
 */
IDICT_API GVariant *idict_set_default(IDict *self, const char *key, GVariant *value,
				      GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* ---- Writable keys ------------------------------------------------------ */

/**
 * IDictCheckFunc:
 * @dict: the dictionary
 * @key: the key a client wrote
 * @value: the new value, already parsed to the key's type (borrowed)
 * @user_data: the data given to idict_set_check()
 * @error: (nullable): where to say why a value is refused
 *
 * Decides whether a client may store @value under @key.  Called from a
 * filesystem thread, without the dictionary's lock held (it may read the
 * dictionary); keep it quick.
 *
 * Returns: %TRUE to accept; %FALSE (optionally setting @error, whose
 *   message clients read in ctl/errors) to refuse: the client's write
 *   fails with EINVAL and changes nothing.
 */
typedef gboolean (*IDictCheckFunc)(IDict *dict, const char *key, GVariant *value,
				   gpointer user_data, GError **error);

/**
 * idict_set_writable:
 * @self: a dictionary
 * @key: an existing key
 * @writable: %TRUE to let clients write it, %FALSE to make it read-only again
 * @error: (nullable): return location for a #GError, or %NULL
 *
 * Lets clients write @key (its file gets the write mode of the server's
 * write_mode option, 0644 by default), or not.
 *
 * Thread-safe.
 *
 * Returns: %TRUE, or %FALSE with %IDICT_ERROR_NOT_FOUND.
 */
IDICT_API gboolean idict_set_writable(IDict *self, const char *key, gboolean writable, GError **error);

/**
 * idict_set_check:
 * @self: a dictionary
 * @key: an existing key
 * @check: (nullable): the check, or %NULL to remove it
 * @user_data: (closure): passed to @check
 * @destroy: (nullable): frees @user_data once the check is replaced or the
 *   key or dictionary freed, and no call of @check is under way
 * @error: (nullable): return location for a #GError, or %NULL
 *
 * Attaches @check to @key, replacing any earlier one (whose @destroy is
 * called).  Clients' values that the check refuses are not stored.  It runs
 * on each value a client writes, once the text is a whole value (or at the
 * close that publishes it), possibly on values never published: it must
 * have no side effects.  See idict(3).
 *
 * Thread-safe.
 *
 * Returns: %TRUE, or %FALSE with %IDICT_ERROR_NOT_FOUND.
 */
IDICT_API gboolean idict_set_check(IDict *self, const char *key, IDictCheckFunc check,
				   gpointer user_data, GDestroyNotify destroy, GError **error);

/**
 * IDictRefusalFunc:
 * @dict: the dictionary
 * @key: the key the client wrote, or "ctl/pause" or "ctl/terminate"
 * @uid: the user id of the client's process
 * @value: what the client wrote, as ctl/errors shows it: in double quotes,
 *   cut to 40 bytes (then `...` follows), non-printable bytes escaped
 * @reason: why it was refused: the check's or the parser's message
 * @user_data: the data given to idict_set_refusal_callback()
 *
 * Told of a client's write that was refused for its value (the write
 * failed with EINVAL), e.g. to print it where the computation's user looks.
 * Called from a filesystem thread, without the dictionary's lock held;
 * keep it quick.
 */
typedef void (*IDictRefusalFunc)(IDict *dict, const char *key, guint uid, const char *value,
				 const char *reason, gpointer user_data);

/**
 * idict_set_refusal_callback:
 * @self: a dictionary
 * @func: (nullable): the callback, or %NULL to remove it
 * @user_data: (closure): passed to @func
 * @destroy: (nullable): frees @user_data once the callback is replaced or
 *   the dictionary freed, and no call of it is under way
 *
 * Calls @func for each client's write refused for its value, as it is
 * listed in ctl/errors.  Replaces any earlier callback (whose @destroy is
 * called).
 *
 * Thread-safe.
 */
IDICT_API void idict_set_refusal_callback(IDict *self, IDictRefusalFunc func, gpointer user_data,
					  GDestroyNotify destroy);

/* ---- Checkpoints -------------------------------------------------------- */

/**
 * idict_save:
 * @self: a dictionary
 * @path: the file to write
 * @error: (nullable): return location for a #GError, or %NULL
 *
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
 *
 * Thread-safe.
 *
 * Returns: %TRUE, or %FALSE with %IDICT_ERROR_FAILED.
 */
IDICT_API gboolean idict_save(IDict *self, const char *path, GError **error);

/**
 * idict_load:
 * @path: a file written by idict_save()
 * @error: (nullable): return location for a #GError, or %NULL
 *
 * Reads a checkpoint written by idict_save().  The file is data only
 * (serialized GVariant); a damaged, truncated or foreign file is refused
 * with an error, never run and never a crash, and anything but a regular
 * file (a FIFO, /dev/zero) before it is read.  The file is read, not
 * mapped, and every value copied into memory the dictionary owns: the
 * checkpoint replaced, truncated or deleted afterwards changes nothing.
 *
 * Thread-safe.
 *
 * Returns: (transfer full) (nullable): a new dictionary with the saved keys
 *   (sequence 0, running, changes not yet published); idict_free() it.
 *   %NULL with %IDICT_ERROR_FAILED.
 */
IDICT_API IDict *idict_load(const char *path, GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* ---- Control ------------------------------------------------------------ */

/**
 * idict_terminate:
 * @self: a dictionary
 *
 * Asks the loop to stop: idict_terminated() becomes %TRUE and idict_wait()
 * returns (as a client's `echo 1 > ctl/terminate`).  It cannot be undone.
 *
 * Thread-safe.
 */
IDICT_API void idict_terminate(IDict *self);

/**
 * idict_terminated:
 * @self: a dictionary
 *
 * Thread-safe.
 *
 * Returns: %TRUE once idict_terminate() was called or a client wrote
 *   ctl/terminate.
 */
IDICT_API gboolean idict_terminated(IDict *self);

/**
 * idict_pause:
 * @self: a dictionary
 *
 * Pauses the loop: idict_wait() blocks until idict_resume() (as a client's
 * `echo 1 > ctl/pause`).
 *
 * Thread-safe.
 */
IDICT_API void idict_pause(IDict *self);

/**
 * idict_resume:
 * @self: a dictionary
 *
 * Ends a pause: idict_wait() returns (as a client's `echo 0 > ctl/pause`).
 *
 * Thread-safe.
 */
IDICT_API void idict_resume(IDict *self);

/**
 * idict_paused:
 * @self: a dictionary
 *
 * Thread-safe.
 *
 * Returns: %TRUE while paused.
 */
IDICT_API gboolean idict_paused(IDict *self);

/**
 * idict_wait:
 * @self: a dictionary
 * @timeout: the longest wait, in seconds; negative or infinite: no limit
 *
 * Blocks while the dictionary is paused, without busy waiting.  Returns at
 * once when terminated.
 *
 * Thread-safe.
 *
 * Returns: %TRUE if the loop may go on (not paused, or terminated), %FALSE
 *   if the timeout passed while still paused.
 */
IDICT_API gboolean idict_wait(IDict *self, double timeout);

/* ---- Updates ------------------------------------------------------------ */

/**
 * idict_notify_update:
 * @self: a dictionary
 * @final: %TRUE for the last update of the run
 *
 * Publishes an update: bumps the sequence number, records the keys changed
 * since the previous update, wakes every reader of `updates`, then runs the
 * callbacks in this thread.  After a @final update, readers of `updates` get
 * end-of-file and ctl/status says `finished`.  Cheap: proportional to the
 * number of changed keys, never waits for clients.
 *
 * Thread-safe; not while holding idict_lock().
 */
IDICT_API void idict_notify_update(IDict *self, gboolean final);

/**
 * idict_sequence:
 * @self: a dictionary
 *
 * Thread-safe.
 *
 * Returns: the sequence number of the last update (0 before the first).
 */
IDICT_API guint64 idict_sequence(IDict *self);

/**
 * IDictUpdateFunc:
 * @dict: the dictionary
 * @final: %TRUE after the final update
 * @user_data: the data given to idict_add_callback()
 *
 * Called after each update, from the thread that called
 * idict_notify_update(), without the dictionary's lock held.
 */
typedef void (*IDictUpdateFunc)(IDict *dict, gboolean final, gpointer user_data);

/**
 * idict_add_callback:
 * @self: a dictionary
 * @func: the callback
 * @user_data: (closure): passed to @func
 * @destroy: (nullable): frees @user_data once the callback is removed and
 *   no call of it is under way, or when the dictionary is freed
 *
 * Calls @func after each update.
 *
 * Thread-safe; also from within a callback.
 *
 * Returns: an id (> 0) for idict_remove_callback().
 */
IDICT_API guint idict_add_callback(IDict *self, IDictUpdateFunc func, gpointer user_data,
				   GDestroyNotify destroy);

/**
 * idict_remove_callback:
 * @self: a dictionary
 * @id: an id from idict_add_callback()
 *
 * Removes the callback @id.  A call of it already under way in another
 * thread may still run.
 *
 * Thread-safe; also from within a callback.
 *
 * Returns: %TRUE if @id was registered.
 */
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
 * @self: a dictionary
 *
 * The keys changed since the last update: set or removed by the
 * computation, or written by a client.  They are what the next
 * idict_notify_update() will list; it empties the list.  A removed key is
 * listed (idict_contains() tells it apart).
 *
 * Thread-safe; the list is taken in one moment.
 *
 * Returns: (transfer full): the names in strcmp() order, NULL-terminated;
 *   g_strfreev() it.
 */
IDICT_API char **idict_changed_keys(IDict *self) G_GNUC_WARN_UNUSED_RESULT;

/**
 * idict_hold_client_writes:
 * @self: a dictionary
 * @hold: %TRUE to hold clients' writes until idict_take_client_writes(),
 *   %FALSE to let them come into force at once again
 *
 * With @hold, a client's write to a writable key is taken as usual (parsed,
 * checked, answered, shown at once in the key's file, snapshot.json and the
 * next update line), but the computation's getters go on returning the
 * earlier value until it calls idict_take_client_writes().  The loop then
 * decides when new parameters come into force, so that one step sees one
 * set of them.  A value the computation sets itself replaces a held write.
 * Turning @hold off brings every held write into force at once.  Off by
 * default.
 *
 * Thread-safe.
 */
IDICT_API void idict_hold_client_writes(IDict *self, gboolean hold);

/**
 * idict_take_client_writes:
 * @self: a dictionary
 *
 * Brings the held client writes (idict_hold_client_writes()) into force for
 * the computation, and lists the keys that clients wrote since the last
 * call, held or not.  A key is not listed if the computation set or removed
 * it after the client's write (its own value replaced the client's).
 *
 * Thread-safe; the writes are taken in one moment.
 *
 * Returns: (transfer full): the names in strcmp() order, NULL-terminated;
 *   g_strfreev() it.
 */
IDICT_API char **idict_take_client_writes(IDict *self) G_GNUC_WARN_UNUSED_RESULT;

/**
 * idict_terminate_on_signals:
 * @self: a dictionary
 * @error: (nullable): return location for a #GError, or %NULL
 *
 * Opt-in: makes SIGINT, SIGTERM and SIGHUP call idict_terminate() on
 * @self, so that Ctrl-C, kill, timeout(1), a batch scheduler or a closed
 * ssh session stop the loop cleanly (final checkpoint, final update,
 * wait-then-close, unmount).  Signals within 1 s of the first (of any of
 * the three) are the same request: timeout(1) and schedulers signal the
 * process and then its process group, a closing terminal signals every
 * process.  A signal more than 1 s after the first ends the process by that
 * signal at once (a second Ctrl-C when the clean stop hangs).
 * Blocks these signals in the calling thread and takes them in a thread of
 * its own (sigwait(), no handler).  Once per process; after
 * idict_free(@self) the first signal is taken but does nothing, and one
 * more than 1 s later ends the process.
 *
 * Not thread-safe: call it from main() before creating other threads
 * (also those of idict_serve()), so that they inherit the signal mask;
 * a thread started before would still take these signals and die by them.
 *
 * Returns: %TRUE, or %FALSE with %IDICT_ERROR_FAILED if already called.
 */
IDICT_API gboolean idict_terminate_on_signals(IDict *self, GError **error);

/* ---- The server --------------------------------------------------------- */

/**
 * idict_serve:
 * @self: a dictionary
 * @mountpoint: the directory to mount on
 * @options: (nullable): comma-separated mount options, or %NULL for none
 * @error: (nullable): return location for a #GError, or %NULL
 *
 * Mounts @self at @mountpoint and serves it from threads of its own.  The
 * server holds a reference to @self until it is closed, so idict_free() on
 * a served dictionary frees it only then.
 *
 * @mountpoint is created if missing (its last component only: its parent
 * must exist), and a stale mount left there by a crashed run ("Transport
 * endpoint is not connected") is cleared.  Mounting over a directory that
 * is not empty hides its files while served: a warning says so (g_warning()).
 *
 * By default the mount is made with fusermount3's auto_unmount: a helper
 * process unmounts it when this process ends, even by SIGKILL.  Only the
 * user running the computation can see inside the mount, unless @options
 * has "allow_other"; then the files' modes are enforced for other users
 * (by the library, not with default_permissions: see idictfs(7), NOTES):
 * they may read every key and write nothing.
 *
 * @options are FUSE mount options (e.g. "allow_other"; escape a comma
 * inside a value as `\,`), and four of ours: "no_auto_unmount" turns
 * auto_unmount off; "write_mode=0664" (octal) gives the permission bits of
 * writable keys and of ctl/pause and ctl/terminate (default 0644: the
 * owner only); "server_nice=N" (0 to 19, default 10) runs the serving
 * threads N nice levels below the calling thread, so that on a busy
 * machine the computation gets the CPU before its watchers (0: the same
 * priority); "client_memory=SIZE" (bytes, or with a suffix K, M, G or T; at
 * least 64K; default 256M) caps the memory held for the mount's clients in
 * all (texts held by open files, listings, snapshot.json, values being
 * written): an open, read or write past it fails with ENOMEM for that
 * client, and a message says so; other users than the owner and root
 * share three quarters of it.
 *
 * One server per dictionary, and one computation per mount point: serving
 * a dictionary twice, or at a mount point another process serves, fails.
 * libfuse's own messages are sent to g_log() (process-wide, through
 * fuse_set_log_func()).
 *
 * Thread-safe.
 *
 * Returns: (transfer full) (nullable): the server, to be ended with
 *   idict_server_wait_then_close() or idict_server_close(); %NULL with
 *   %IDICT_ERROR_MOUNT on failure.
 */
IDICT_API IDictServer *idict_serve(IDict *self, const char *mountpoint, const char *options,
				   GError **error) G_GNUC_WARN_UNUSED_RESULT;

/**
 * idict_server_wait_then_close:
 * @server: (transfer full) (nullable): a server, or %NULL
 * @timeout: the longest wait for clients, in seconds; negative: no limit
 *
 * Keeps serving until no client has a file of the mount open, or @timeout
 * seconds have passed; then answers every blocked read, unmounts, joins the
 * threads, drops the server's reference to its dictionary and frees
 * @server.  Call it after the final update, so that readers of `updates`
 * see end-of-file and close.  Returns at once if the filesystem was
 * unmounted from outside.  NULL-safe.
 *
 * Not thread-safe: the last call on @server, once.
 */
IDICT_API void idict_server_wait_then_close(IDictServer *server, double timeout);

/**
 * idict_server_close:
 * @server: (transfer full) (nullable): a server, or %NULL
 *
 * Closes @server without waiting for clients: idict_server_wait_then_close()
 * with a timeout of 0.  The cleanup function of g_autoptr(IDictServer).
 * NULL-safe.
 *
 * Not thread-safe: the last call on @server, once.
 */
IDICT_API void idict_server_close(IDictServer *server);

/**
 * idict_server_mountpoint:
 * @server: a server
 *
 * Thread-safe.
 *
 * Returns: (transfer none): the mount point (canonical, absolute), owned by
 *   @server.
 */
IDICT_API const char *idict_server_mountpoint(IDictServer *server);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(IDict, idict_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(IDictServer, idict_server_close)

G_END_DECLS

#endif /* IDICT_H */
