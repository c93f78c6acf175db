/* idict-private.h - what the modules of libidict share.  Not installed.
 *
 * Layout: names.c (key rules), format.c (value <-> text), store.c (the
 * locked table, control state, callbacks), update_log.c (the ring of update
 * lines, each reader's place in it), ctl.c (control files), refusals.c
 * (ctl/errors: clients' refused writes), fs.c (FUSE operations), clients.c
 * (texts held for clients, sizes promised, the cap on their memory), pins.c
 * (write opens that keep the kernel NFS server from granting delegations),
 * snapshot.c (snapshot.json), updates.c (the `updates` stream file: parked
 * reads, the dispatcher's wakeup), server.c (mount, threads, shutdown).
 *
 * Threads: the computation's (any thread calling the API); the FUSE
 * workers (server.c, up to 16, started as requests need them), which serve
 * clients; the dispatcher (server.c), which answers parked reads of
 * `updates`; the pin thread (pins.c), which answers kernel threads' parked
 * opens; the signal thread of idict_terminate_on_signals().
 *
 * Locks.  The computation's thread is sacred: under a lock it takes, other
 * threads do only O(1) work (take a bounded number of references, copy
 * pointers), and it never waits for work of a client's making.  Nothing
 * that writes to the kernel (fuse_reply_*, fuse_lowlevel_notify_*), renders
 * text, or calls a user's callback runs under a lock of this table, except
 * where the last column says so.
 *
 * lock (where)          | protects               | taken by               | under it
 * ----------------------+------------------------+------------------------+------------------------
 * store lock            | the key tree, tables,  | computation (setters,  | computation: its own
 * IDict.lock, recursive | changed keys, removed  | idict_lock(), notify:  | O(changed keys); log
 * (store.c)             | names, sequence, times,| lock_store()); workers | lock (append); while a
 *                       | progress, cached texts,| (lookup, stat, walks,  | walk is active, an undo
 *                       | active walks           | client writes, status: | record per first change
 *                       |                        | lock_for_reader(),     | of a node it has yet to
 *                       |                        | which lets a waiting   | visit.  Workers:
 *                       |                        | computation go first)  | lookups, references;
 *                       |                        |                        | one chunk of a walk
 *                       |                        |                        | (WALK_CHUNK = 256 nodes)
 * update log lock       | the ring of lines, its | computation (append,   | computation: one line
 * IDictUpdateLog.lock   | counters, waiters,     | under the store lock;  | appended, lines falling
 * (update_log.c)        | each line's holders    | the lone-reader reply);| out freed.  Readers: at
 *                       |                        | workers, dispatcher    | most IDICT__SPAN_PIECES
 *                       |                        | (`updates`: read, stat)| lines looked at and
 *                       |                        |                        | referenced; no copy
 * streams lock          | waiting streams, parked| workers (read, poll,   | one reader's read (the
 * IDictStreams.lock     | reads, closing; every  | release, interrupt);   | log lock inside);
 * (updates.c)           | stream's reader, parked| dispatcher; the        | dispatcher: O(waiting)
 *                       | reads, poll handle     | computation only by    | pointer copies; libfuse
 *                       |                        | trylock (never waits)  | session lock (a check)
 * wake lock             | the dispatcher's       | computation (update    | a condition signal
 * IDictStreams.wake_lock| pending / sleeping /   | hook), dispatcher,     |
 * (updates.c)           | stopping               | wait-then-close        |
 * callbacks lock        | callbacks, their ids,  | computation (notify),  | references to the hook
 * IDict.callbacks_lock  | the update hook        | add/remove callback,   | data and the callbacks:
 * (store.c)             |                        | serve / close          | O(callbacks)
 * control lock          | paused, terminated,    | computation            | nothing else (a
 * IDict.control_lock    | finished, their time   | (idict_wait(), notify),| condition wait in
 * (store.c)             |                        | workers (ctl/), signal | idict_wait())
 *                       |                        | thread                 |
 * pool lock             | the workers, their idle| workers (around each   | starting a worker
 * IDictServer.pool_lock | count, stopping        | request), close        | (pthread_create);
 * (server.c)            |                        |                        | close: cancelling them
 * server lock           | open files, loop ended,| workers (open,         | nothing else
 * IDictServer.lock      | wait-then-close        | release), close        |
 * (server.c)            |                        |                        |
 * refusals lock         | ctl/errors: each user's| workers (refused       | a bounded ring per user
 * IDictRefusals.lock    | last refused writes,   | writes, ctl/errors),   | (32 users, 8 each):
 * (refusals.c)          | the refusal callback   | idict_free()           | O(1); never the
 *                       |                        |                        | computation
 * walk slots            | which of the 4 walks   | workers starting and   | nothing (a condition
 * IDict.walk_slots_lock | (listings, snapshot)   | ending a walk          | wait for a free slot)
 * (store.c)             | are in use             |                        |
 * snapshot render lock  | one capture and render | workers opening        | a walk (the store lock
 * IDictSnapshotCache.   | of snapshot.json at a  | snapshot.json          | in chunks), the JSON
 * render_lock           | time                   |                        | rendering; the cache
 * (snapshot.c)          |                        |                        | and holders locks
 * snapshot cache lock   | the last rendering of  | workers                | the holders lock
 * IDictSnapshotCache.   | snapshot.json          |                        |
 * lock (snapshot.c)     |                        |                        |
 * promises lock         | sizes promised to      | workers (lookup,       | O(promises of one
 * IDictClients.         | requesters, texts read | getattr, reads at      | inode, at most 32);
 * promise_lock          | to their end           | offset 0 and past the  | /proc reads when a
 * (clients.c)           |                        | end)                   | length matches; once a
 *                       |                        |                        | second, expiring all;
 *                       |                        |                        | the holders lock
 * kernel lock           | the kernel's told texts| workers (requests from | O(1): one file's and
 * IDictClients.         | and last reads, local  | kernel threads; local  | one thread's record;
 * kernel_lock           | versions, thread kinds | reads at offset 0)     | once a second, expiring
 * (clients.c)           |                        |                        | all; the holders lock
 * holders lock          | every held text's      | workers (open, reads,  | nothing else (the cap's
 * IDictClients.         | holders count          | promises, close)       | counter is atomic; the
 * hold_lock (clients.c) |                        |                        | computation adds to it
 *                       |                        |                        | for undo records)
 * open file lock        | the text an open file  | workers (reads)        | the holders lock
 * OpenFile.lock (fs.c)  | reads from             |                        |
 * pins lock             | pinned files, their    | workers (kernel opens),| nothing else
 * IDictPins.lock        | descriptors, the pin   | the pin thread, close  |
 * (pins.c)              | thread, the warning    |                        |
 * fuse_message_lock     | libfuse's messages     | serve, libfuse's log   | nothing else
 * signals_lock          | the dictionary the     | signal thread,         | idict_terminate()
 * (signals.c)           | signal thread may end  | idict_free()           | (control lock)
 *
 * Order, outermost first: store lock -> update log lock; streams lock ->
 * update log lock; streams lock -> libfuse's session lock
 * (fuse_req_interrupted()); libfuse's request lock -> streams lock (an
 * interrupt callback); signals_lock -> control lock; snapshot render lock
 * -> store lock -> (atomics); snapshot render lock, snapshot cache lock,
 * promises lock, kernel lock, open file lock -> holders lock.  Every other lock is a
 * leaf: nothing is locked under it.  The update log lock is always
 * innermost of ours.  The computation's thread takes, in idict_notify_update():
 * the store lock, the log lock under it, the control lock, the callbacks
 * lock, then with none of them held the wake lock, or, when exactly one
 * read of `updates` waits and the streams lock is free, the streams lock
 * and the log lock to answer that read, and writes the reply after
 * releasing them (a measured win: see README, "Performance").
 */
#ifndef IDICT_PRIVATE_H
#define IDICT_PRIVATE_H

#include "idict.h"
#include "store.h"
#include "texts.h"

#include <fuse_lowlevel.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>

G_BEGIN_DECLS

#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "idict"

/* Fixed inode numbers of the filesystem's own files; keys start above. */
enum {
	IDICT__INO_ROOT = 1,
	IDICT__INO_CTL = 2,
	IDICT__INO_PAUSE = 3,
	IDICT__INO_TERMINATE = 4,
	IDICT__INO_STATUS = 5,
	IDICT__INO_UPDATES = 6,
	IDICT__INO_HISTORY = 7,
	IDICT__INO_SNAPSHOT = 8,
	IDICT__INO_SEQUENCE = 9,
	IDICT__INO_RAW = 10,
	IDICT__INO_ERRORS = 11,
	IDICT__INO_FIRST_KEY = 16,
};

/* history/PATH has the inode number of PATH with this bit set (inode
 * numbers of keys never get near it). */
#define IDICT__INO_HISTORY_BIT (G_GUINT64_CONSTANT(1) << 62)
/* raw/PATH likewise. */
#define IDICT__INO_RAW_BIT (G_GUINT64_CONSTANT(1) << 61)

/* The monotonic time @timeout seconds from now, G_MAXINT64 for "no limit"
 * (negative, infinite, NaN or more than a century). */
static inline gint64 idict__deadline(double timeout)
{
	if (!(timeout >= 0) || timeout > 3.2e9)
		return G_MAXINT64;
	return g_get_monotonic_time() + (gint64)(timeout * G_USEC_PER_SEC);
}

/* ---- names.c ---- */
/* TRUE if @name is reserved as the first component of a key. */
gboolean idict__names_reserved(const char *name, gsize len);

/* ---- format.c ----
 * Text forms of values.  Locale-independent.  */
#define IDICT__DOUBLE_BUF 40
/* Writes the shortest text (fewest significant digits) that reads back as
 * @value into @buf (NUL-terminated), 24 bytes at most; the rest of @buf may
 * change too (the digits are copied in blocks).
 * Returns: its length. */
gsize idict__format_double(char buf[IDICT__DOUBLE_BUF], double value);
/* Returns: (transfer full): the text of @value, newline-terminated. */
GBytes *idict__format_render(GVariant *value);
/* About how long idict__format_render(@value) is, without rendering it: an
 * upper bound for numbers, arrays and matrices of them and strings. */
gsize idict__format_size_estimate(GVariant *value);
/* Parses @len bytes of @text (not NUL-terminated, may contain NULs, which
 * are refused) as a value of @type.
 * Returns: (transfer full) (nullable): a non-floating value, or NULL with
 * IDICT_ERROR_INVALID_VALUE. */
GVariant *idict__format_parse(const GVariantType *type, const char *text, gsize len,
			      GError **error);

/* Text that a client writes in pieces, examined as it arrives (see
 * idict__text_scan()).  Plain data; zero it or idict__text_scan_init() it. */
typedef enum {
	IDICT__TEXT_MORE,    /* may still become a valid value: wait for more */
	IDICT__TEXT_WHOLE,   /* a whole value as it stands (more text can only be
			      * whitespace, or make it invalid): validate it now */
	IDICT__TEXT_INVALID, /* no continuation can make it a valid value */
} IDictTextState;

typedef enum {
	IDICT__TEXT_SCALAR, /* double, int, bool: one token */
	IDICT__TEXT_STRING,
	IDICT__TEXT_ARRAY,  /* ad */
	IDICT__TEXT_MATRIX, /* aad */
	IDICT__TEXT_OTHER,  /* GVariant text: known only when complete */
} IDictTextKind;

typedef struct {
	IDictTextKind kind;
	gboolean is_double;
	guint64 want_tokens, want_rows, want_cols; /* the key's shape */
	gsize scanned;     /* bytes examined so far */
	gsize token_start; /* the unfinished token's start; strings: valid UTF-8 up to here */
	gboolean in_token;
	guint64 tokens, row_tokens, rows;
	gboolean ends_in_newline; /* strings */
} IDictTextScan;

/* Prepares @scan for text of @current's type and shape. */
void idict__text_scan_init(IDictTextScan *scan, GVariant *current);
/* Examines @text, of which the first scan->scanned bytes were examined
 * before (text only ever grows at the end), in time proportional to the
 * new bytes (and the token they finish).
 * Returns: the state, with IDICT_ERROR_INVALID_VALUE for INVALID. */
IDictTextState idict__text_scan(IDictTextScan *scan, const char *text, gsize len, GError **error);

/* ---- clients.c ----
 * What the server holds for its clients (see clients.c); its texts and
 * cap are in texts.h. */
/* Adds a holder to @text, counting it against the cap if it is the first.
 * Returns: FALSE (not held) if the cap would be passed. */
gboolean idict__clients_hold(IDictClients *clients, IDictText *text);
/* Removes a holder (NULL-safe). */
void idict__clients_release(IDictClients *clients, IDictText *text);
/* Logs, at most every 10 s, that @what was refused for the cap. */
void idict__clients_refused(IDictClients *clients, const char *what);
/* Returns: a new version for a text rendered anew each time (control files). */
guint64 idict__clients_next_version(IDictClients *clients);
IDictSnapshotCache *idict__clients_snapshot(IDictClients *clients);
/* Remembers that a lookup or getattr from thread @tid reported the size of
 * @text (nullable: a directory) for inode @ino. */
void idict__clients_promise(IDictClients *clients, guint64 ino, pid_t tid, IDictText *text);
/* Returns: (transfer full) (nullable): the text promised to the requester
 * of thread @tid for a read at offset 0 of exactly @size bytes of @ino. */
IDictText *idict__clients_promised(IDictClients *clients, guint64 ino, pid_t tid, gsize size);
/* Records that thread @tid read @text of @ino to its end (a read that
 * asked past it): what was promised to it before, no newer, is spent. */
void idict__clients_served(IDictClients *clients, guint64 ino, pid_t tid, const IDictText *text);
/* The kernel's requests (clients.c, "The kernel's requests").
 * idict__clients_is_kernel(): TRUE if thread @tid is a kernel thread (the
 * NFS server's); cached for a second, else one read of /proc.
 * idict__clients_kernel_touch(): a kernel request for file @ino is about to
 * render it: local reads of it are noted from now on.
 * idict__clients_kernel_attr(): a kernel LOOKUP or GETATTR by @tid found
 * @current (transfer none; nullable) with attributes @st, which this
 * replaces with what the rules report.
 * idict__clients_kernel_told(): for a kernel READ of @ino: the told text
 * (transfer full) and its attributes in @st, or NULL if none is recent.
 * idict__clients_kernel_read(): a kernel READ by @tid served @text (with
 * attributes @st), which becomes the told text if @tell.
 * idict__clients_kernel_forget_thread(): @tid sent another request than a
 * GETATTR after its READ.
 * idict__clients_local_read(): a local reader was handed @text of @ino. */
gboolean idict__clients_is_kernel(IDictClients *clients, pid_t tid);
void idict__clients_kernel_touch(IDictClients *clients, guint64 ino);
void idict__clients_kernel_attr(IDictClients *clients, guint64 ino, pid_t tid,
				IDictText *current, struct stat *st);
IDictText *idict__clients_kernel_told(IDictClients *clients, guint64 ino, struct stat *st);
void idict__clients_kernel_read(IDictClients *clients, guint64 ino, pid_t tid, IDictText *text,
				const struct stat *st, gboolean tell);
void idict__clients_kernel_forget_thread(IDictClients *clients, pid_t tid);
void idict__clients_local_read(IDictClients *clients, guint64 ino, const IDictText *text);
/* For tests: the quantum and the post-read windows, in µs. */
void idict__clients_set_kernel_times(IDictClients *clients, gint64 quantum_us,
				     gint64 post_read_us, gint64 post_read_late_us);

/* ---- fs_view.c ----
 * The filesystem's view of the tree: inode numbers, the views root,
 * history/ and raw/, errno, and the attributes files show.  An inode
 * number is the node's id (store.h); history/PATH and raw/PATH add
 * IDICT__INO_HISTORY_BIT / IDICT__INO_RAW_BIT (fs.c). */
typedef struct {
	guint64 ino;
	gboolean is_dir;
	gboolean writable;
	guint64 size;     /* rendered length; 0 for directories */
	gint64 mtime_us;  /* g_get_real_time() of the last change */
	guint nlink;
} IDictNodeInfo;

/* The trees the filesystem shows: every key; history/ (keys with a history,
 * and their directories); raw/ (arrays of doubles, and their directories).
 * Nodes keep their inode numbers in every view. */
typedef enum {
	IDICT__VIEW_KEYS,
	IDICT__VIEW_HISTORY,
	IDICT__VIEW_RAW,
} IDictView;

/* Looks up @name in directory @parent as @view shows it.  info->size is
 * the cached text's length or 0: idict__view_stat() gives the size.
 * Returns: 0 or -ENOENT / -ENOTDIR. */
int idict__view_lookup(IDict *dict, IDictView view, guint64 parent, const char *name,
		       IDictNodeInfo *info);
/* The parent directory of @ino.  Returns: 0 or -ENOENT. */
int idict__view_parent(IDict *dict, guint64 ino, IDictNodeInfo *info);
/* Returns: (transfer full) (nullable): the key (or directory) name of node
 * @ino ("" for the root), NULL if it is gone.  O(1) under the store lock. */
char *idict__view_key_name(IDict *dict, guint64 ino);
/* What readers get, their memory counted with @clients (nullable):
 * idict__view_key_text(): the text of key @ino's current value (transfer
 * full, version = value generation); -ENOMEM if the render would pass the
 * cap.  idict__view_history_text(), idict__view_raw_text(): the same for
 * the file of @ino in history/ and raw/ (the array's own bytes).
 * idict__view_walk_dir(): the entries of directory @ino that @view shows,
 * sorted by name, all from one moment; -ENOMEM if the listing or the
 * walk's undo records would pass the cap.  *@charged: what the listing
 * holds against the cap, for idict__clients_unreserve() when it is freed.
 * The entries' ids are inode numbers. */
int idict__view_key_text(IDict *dict, guint64 ino, IDictNodeInfo *info, IDictClients *clients,
			 IDictText **text_out);
int idict__view_history_text(IDict *dict, guint64 ino, IDictNodeInfo *info,
			     IDictClients *clients, IDictText **text_out);
int idict__view_raw_text(IDict *dict, guint64 ino, IDictNodeInfo *info, IDictText **data_out);
GPtrArray *idict__view_walk_dir(IDict *dict, IDictView view, guint64 ino, IDictClients *clients,
				gsize *charged, int *err);
/* The same without a cap, texts as GBytes (tests, tools):
 * idict__view_stat() for a key also returns its text in @text_out
 * (transfer full, nullable if not wanted), consistent with info->size. */
int idict__view_stat(IDict *dict, guint64 ino, IDictNodeInfo *info, GBytes **text_out);
GPtrArray *idict__view_list_dir(IDict *dict, IDictView view, guint64 ino, int *err);
int idict__view_history_stat(IDict *dict, guint64 ino, IDictNodeInfo *info, GBytes **text_out);
int idict__view_raw_stat(IDict *dict, guint64 ino, IDictNodeInfo *info, GBytes **data_out);
/* A client's write to key @ino, as idict__store_client_*() (store.h).
 * Returns: 0, or -ENOENT, -EISDIR, -EACCES, -EINVAL, -EAGAIN. */
int idict__view_client_value(IDict *dict, guint64 ino, GVariant **value_out,
			     gboolean *has_check_out);
int idict__view_client_validate(IDict *dict, guint64 ino, const char *text, gsize len,
				GVariant **value_out, GError **error);
int idict__view_client_publish(IDict *dict, guint64 ino, GVariant *value);
int idict__view_client_write(IDict *dict, guint64 ino, guint uid, const char *text, gsize len);
/* Returns: the errno value for @status (0 for OK). */
int idict__view_errno(IDictTreeStatus status);

/* ---- checkpoint.c ---- */
/* Returns: (transfer full): the checkpoint file's bytes for @self. */
GBytes *idict__checkpoint_serialize(IDict *self);
/* Reads checkpoint bytes @data (any bytes: damaged or hostile data is
 * refused); @name names it in messages.
 * Returns: (transfer full) (nullable): a new dictionary that shares no
 * memory with @data, or NULL with IDICT_ERROR_FAILED. */
IDict *idict__checkpoint_parse(GBytes *data, const char *name, GError **error);

/* ---- refusals.c ----
 * The last refused writes of each user, for ctl/errors.  Own lock. */
IDictRefusals *idict__refusals_new(void);
void idict__refusals_free(IDictRefusals *self);
/* Records that user @uid's write of @len bytes of @text to @key (a key, or
 * "ctl/pause") was refused for @reason, then calls the computation's
 * refusal callback, if any, in this thread. */
void idict__refusals_record(IDict *dict, guint uid, const char *key, const char *text, gsize len,
			    const char *reason);
/* Who reads ctl/errors: a uid, or IDICT__VIEWER_ALL (the owner, root). */
#define IDICT__VIEWER_ALL G_MAXUINT
/* Returns: (transfer full): the lines of ctl/errors that @viewer may see. */
GBytes *idict__refusals_render(IDict *dict, guint viewer);
/* Returns: the g_get_real_time() of the last refusal, 0 if none. */
gint64 idict__refusals_last_time(IDict *dict);


/* ---- snapshot.c ---- */
/* For tests: renderings of snapshot.json so far, in the process. */
guint idict__snapshot_renders(void);
IDictSnapshotCache *idict__snapshot_cache_new(void);
void idict__snapshot_cache_free(IDictSnapshotCache *cache, IDictClients *clients);
/* The text of snapshot.json for an open: the cached rendering if it is of
 * the current sequence number, else a new one (which then is cached), its
 * keys taken by a walk.  Returns: 0 and *@text_out (transfer full), or
 * -ENOMEM. */
int idict__snapshot_open(IDict *dict, IDictClients *clients, IDictText **text_out);
/* Returns: (transfer full) (nullable): the last rendering, without
 * rendering anything (its length is snapshot.json's st_size). */
IDictText *idict__snapshot_last(IDictClients *clients);
/* Returns: (transfer full): snapshot.json's text. */
GBytes *idict__snapshot_render(IDict *dict);
/* The JSON writer: the text of snapshot.json for @entries (a{s(vb)}, as
 * idict__store_snapshot() captures them; any such GVariant, also one in
 * non-normal form), @sequence and @state.  Always valid JSON (RFC 8259).
 * Returns: (transfer full): the text, newline-terminated. */
GBytes *idict__snapshot_text(GVariant *entries, guint64 sequence, const char *state);


/* ---- update_log.c ----
 * The last updates as text lines "SEQ KIND KEY...\n", bounded in count and
 * bytes, immutable and reference-counted; and each reader's place in them.
 * Has its own lock (see the lock table above).  */
typedef struct _IDictLogLine IDictLogLine;

/* At most this many lines are referenced for one reply. */
#define IDICT__SPAN_LINES 64
/* ...and at most two `missed` lines besides (see idict__log_reader_read()). */
#define IDICT__SPAN_PIECES (IDICT__SPAN_LINES + 2)
#define IDICT__MISSED_MAX 64

IDictUpdateLog *idict__update_log_new(guint max_lines, gsize max_bytes);
void idict__update_log_free(IDictUpdateLog *log);
/* Appends update @seq (which must be the previous one + 1), published at
 * @time_us (g_get_real_time()).  O(1) work under the log lock besides
 * writing the line.
 * Returns: TRUE if a reader waits for it (idict__log_reader_read() or
 * idict__log_reader_ready() with @wait, not yet forgotten). */
gboolean idict__update_log_append(IDictUpdateLog *log, guint64 seq, gint64 time_us,
				  gboolean final, const char *const *keys, guint n_keys);
/* Where a new reader starts: the last sequence number, or the one before
 * the final update so that late readers still see `final`. */
guint64 idict__update_log_start_cursor(IDictUpdateLog *log);
guint64 idict__update_log_last(IDictUpdateLog *log);
/* The time of the last update, 0 before the first: the modification time
 * of `updates`, which a stat thus takes without the store lock. */
gint64 idict__update_log_last_time(IDictUpdateLog *log);
/* The text in the ring, and that of the lines readers are in the middle
 * of (in the ring or not): see the memory bound in update_log.c. */
void idict__update_log_memory(IDictUpdateLog *log, gsize *ring_bytes, gsize *held_bytes);
/* @n waiters counted by a read or readiness check with @wait are answered,
 * interrupted or gone. */
void idict__update_log_forget_waiters(IDictUpdateLog *log, guint n);

/* One piece of a reader's stream: a line of the log, or a `missed` line. */
typedef struct {
	guint64 seq;      /* the line's number; for `missed`, the last update missed */
	gsize len;
	gboolean missed;
} IDictLogPiece;

/* A reader's place: its last reply, bytes [start, end) of its stream, which
 * touched pieces[0 .. n_pieces), beginning @skip bytes into pieces[0],
 * after update @cursor.  Fixed size; initialize with
 * idict__log_reader_init(), free what it holds with idict__log_reader_clear(). */
typedef struct {
	guint64 start, end;
	guint64 cursor;
	gsize skip;
	guint n_pieces;
	IDictLogPiece pieces[IDICT__SPAN_PIECES];
	IDictLogLine *held; /* the line it is in the middle of, if held (a reference) */
} IDictLogReader;

/* The bytes of one reply: parts[] point into the referenced lines and into
 * missed[], so a span must not be copied.  Free with idict__log_span_clear(). */
typedef struct {
	struct {
		const char *data;
		gsize len;
	} parts[IDICT__SPAN_PIECES];
	guint n_parts;
	gsize len;          /* the parts' total; 0: end of file or nothing */
	IDictLogLine *lines[IDICT__SPAN_PIECES];
	guint n_lines;
	char missed[2][IDICT__MISSED_MAX];
} IDictLogSpan;

void idict__log_reader_init(IDictLogReader *reader, guint64 cursor);
void idict__log_reader_clear(IDictLogReader *reader, IDictUpdateLog *log);
/* Answers a read of @size bytes at stream offset @off into @span (which it
 * initializes): at the end of the last reply, what comes next (a `missed`
 * line if lines fell out, then whole lines up to @size if at least one
 * fits, else the first part of the next line); inside it, the same bytes
 * again, or from a line boundary what comes next; before or beyond it,
 * nothing.  Takes references to at most IDICT__SPAN_LINES lines under the
 * log lock and copies nothing.
 * Returns: 1 with @span filled (len 0: end of file or nothing), 0 if the
 * read must wait for the next update (then counted as a waiter if @wait),
 * or -EIO if the rest of a line fell out of the log and was not held. */
int idict__log_reader_read(IDictLogReader *reader, IDictUpdateLog *log, guint64 off, gsize size,
			   gboolean wait, IDictLogSpan *span);
/* TRUE if a read at the end of the last reply would not wait; if not and
 * @wait, counts a waiter. */
gboolean idict__log_reader_ready(const IDictLogReader *reader, IDictUpdateLog *log,
				 gboolean wait);
/* The number of the last update the reader was handed whole. */
guint64 idict__log_reader_cursor(const IDictLogReader *reader);
/* Fills @iov (room for IDICT__SPAN_PIECES) with @span's parts.
 * Returns: how many. */
guint idict__log_span_iov(const IDictLogSpan *span, struct iovec *iov);
void idict__log_span_clear(IDictLogSpan *span);

/* ---- ctl.c ---- */
typedef struct {
	guint64 ino;
	const char *name;
	guint mode;
	/* Returns: (transfer full): the file's text as @viewer (a uid, or
	 * IDICT__VIEWER_ALL) may see it. */
	GBytes *(*render)(IDict *dict, guint viewer);
	/* Applies a write by user @uid; a refusal is recorded for ctl/errors.
	 * Returns: 0 or -EINVAL.  NULL for read-only files. */
	int (*write)(IDict *dict, guint uid, const char *text, gsize len);
	/* Returns: the time of the last change of the file's text; NULL: the
	 * last pause, resume or terminate, and update for read-only files. */
	gint64 (*mtime)(IDict *dict);
} IDictCtlFile;

const IDictCtlFile *idict__ctl_by_ino(guint64 ino);
const IDictCtlFile *idict__ctl_by_name(const char *name);
const IDictCtlFile *idict__ctl_files(guint *n_out);

/* ---- signals.c ---- */
/* Called by idict_free(): the signal thread must not use @self any more. */
void idict__signals_forget(IDict *self);

/* ---- fs.c ---- */
const struct fuse_lowlevel_ops *idict__fs_ops(void);
/* Frees a file handle of a file still open when the server closes. */
void idict__fs_free_open_file(gpointer file);

/* ---- pins.c ----
 * Write opens the server holds on files a kernel NFS server opens, so that
 * it grants no read delegations (see pins.c).  Own lock. */
typedef struct _IDictPins IDictPins;
/* Answers a parked open: registers @file and replies (fs.c). */
typedef void (*IDictPinFinish)(fuse_req_t req, struct fuse_file_info *fi, gpointer file);
/* @dict: borrowed, must outlive the pins; @mountpoint: canonical.
 * Returns: (transfer full): free with idict__pins_free(). */
IDictPins *idict__pins_new(IDict *dict, const char *mountpoint);
/* Closes every pin (after the unmount) and frees @pins.  NULL-safe. */
void idict__pins_free(IDictPins *pins);
/* For a kernel thread's open of regular file @ino, whose reply is ready in
 * @fi: TRUE if it is parked (the pin thread pins the file, then calls
 * @finish with @req, a copy of @fi and @file); FALSE if it is to be
 * answered now (pinned already, leases off, or no pin possible). */
gboolean idict__pins_park(IDictPins *pins, fuse_req_t req, guint64 ino,
			  const struct fuse_file_info *fi, gpointer file, IDictPinFinish finish);
/* TRUE if @tid is the pin thread (whose opens are pins). */
gboolean idict__pins_is_pinner(IDictPins *pins, pid_t tid);
/* Answers every parked open and ends the pin thread (workers still run). */
void idict__pins_stop(IDictPins *pins);
/* The number of files pinned. */
guint idict__pins_count(IDictPins *pins);

/* ---- updates.c ---- */
typedef struct _IDictStreams IDictStreams;
typedef struct _IDictStream IDictStream;

/* The readers of `updates` of one server, reading @log.  Returns:
 * (transfer full): a reference-counted object (the update hook's data). */
IDictStreams *idict__streams_new(IDictUpdateLog *log);
gpointer idict__streams_ref(gpointer streams);
/* Once every stream is released.  NULL-safe. */
void idict__streams_unref(gpointer streams);
/* The update hook (IDictUpdateHook; its data is the streams): wakes the
 * dispatcher.  O(1), and never waits for a lock. */
void idict__streams_on_update(gpointer streams);
/* The dispatcher's wait: returns when an update came that a reader waits
 * for (TRUE) or idict__streams_stop_waiting() was called (FALSE). */
gboolean idict__streams_wait_for_update(IDictStreams *streams);
void idict__streams_stop_waiting(IDictStreams *streams);
/* Opens a reader of `updates`, starting now.  Returns: (transfer full):
 * free with idict__stream_release(). */
IDictStream *idict__stream_open(IDictStreams *streams);
/* Answers or parks read request @req; unless @may_park, answers at once
 * (end of file if nothing is there yet). */
void idict__stream_read(IDictStream *stream, fuse_req_t req, gsize size, off_t off, int flags,
			gboolean may_park);
void idict__stream_poll(IDictStream *stream, fuse_req_t req, struct fuse_pollhandle *ph);
void idict__stream_release(IDictStream *stream);
/* Answers every parked read that can be answered, and pending polls, one
 * reply at a time (from the server's dispatcher thread).  With @closing,
 * answers all parked reads with end-of-file, and every later read at once. */
void idict__streams_dispatch(IDictStreams *streams, gboolean closing);

/* ---- server.c ---- */
IDict *idict__server_dict(IDictServer *server);
/* Fixed when the server starts: the owner of every file (the user and
 * group who serve the mount) and the generation number of every inode but
 * the root (see generation_of() in fs.c), one per dictionary: derived from
 * the time it was created. */
typedef struct {
	uid_t uid;
	gid_t gid;
	guint32 generation;
	gint64 started_us; /* when the dictionary was created */
} IDictServerIds;
const IDictServerIds *idict__server_ids(IDictServer *server);
/* The permission bits of writable keys and control files (option write_mode). */
mode_t idict__server_write_mode(IDictServer *server);
/* What the server holds for its clients (option client_memory). */
IDictClients *idict__server_clients(IDictServer *server);
IDictStreams *idict__server_streams(IDictServer *server);
IDictPins *idict__server_pins(IDictServer *server);
/* Tracks open files, so that wait-then-close knows when clients are gone
 * (a @pin is no client), and frees with idict__fs_free_open_file() those
 * still open when the server closes. */
void idict__server_file_opened(IDictServer *server, gpointer file, gboolean pin);
/* Forgets @file; the caller frees it. */
void idict__server_file_closed(IDictServer *server, gpointer file, gboolean pin);

G_END_DECLS

#endif /* IDICT_PRIVATE_H */
