/* refusals.c - why clients' writes were refused: ctl/errors, and the
 * computation's refusal callback.
 *
 * A write refused for its value (text that does not parse, another shape, a
 * check that says no, a bad control command) fails with EINVAL, and a shell
 * prints only "Invalid argument".  The reason is kept here, for the user
 * who wrote to read in ctl/errors:
 *
 *     ID TIME UID KEY "VALUE" REASON
 *
 * VALUE is what was written, less one trailing newline (echo's), cut to
 * VALUE_MAX bytes (then `...` follows the closing quote), with `"`, `\` and
 * every byte that is not printable ASCII escaped (\n, \t, \xHH): a
 * client's bytes never reach a terminal that shows the file.  REASON is the check's or the parser's message on one
 * line, at most REASON_MAX bytes.
 *
 * Who sees what: the owner of the mount and root see every user's lines;
 * any other user sees only the lines of their own writes (the values they
 * wrote are nobody else's business).  Each user has a ring of their last
 * PER_USER refusals, so that no user can push another's out by writing
 * bad values fast; the table keeps MAX_USERS users, dropping the one whose
 * last refusal is oldest.  Memory is bounded whatever clients do, and the
 * computation never takes this lock (only filesystem threads do, and
 * idict_free()).
 */
#include "refusals.h"

#include <string.h>

#define PER_USER 8
#define MAX_USERS 32
#define VALUE_MAX 40
#define REASON_MAX 200

typedef struct {
	guint64 id;
	gint64 time_us;
	guint uid;
	char *key;
	char *value;  /* quoted and escaped, maybe followed by "..." */
	char *reason; /* one line */
} Refusal;

typedef struct {
	guint uid;
	guint head;  /* oldest */
	guint count;
	gint64 last_us;
	Refusal ring[PER_USER];
} UserLog;

/* The refusal callback, reference-counted (g_atomic_rc_box) so that a call
 * under way keeps it while the computation replaces it. */
typedef struct {
	IDictRefusalFunc func;
	gpointer data;
	GDestroyNotify destroy;
} CallbackRec;

struct _IDictRefusals {
	GMutex lock;       /* protects everything below */
	GHashTable *users; /* uid -> UserLog* */
	guint64 next_id;
	gint64 last_us;    /* the time of the last refusal; 0: none */
	CallbackRec *callback; /* nullable */
};

static void refusal_clear(Refusal *refusal)
{
	g_free(refusal->key);
	g_free(refusal->value);
	g_free(refusal->reason);
	memset(refusal, 0, sizeof *refusal);
}

static void user_log_free(gpointer data)
{
	UserLog *log = data;
	for (guint i = 0; i < PER_USER; i++)
		refusal_clear(&log->ring[i]);
	g_free(log);
}

static void callback_rec_clear(gpointer mem)
{
	CallbackRec *rec = mem;
	if (rec->destroy)
		rec->destroy(rec->data);
}

static void callback_rec_release(CallbackRec *rec)
{
	if (rec)
		g_atomic_rc_box_release_full(rec, callback_rec_clear);
}

IDictRefusals *idict__refusals_new(void)
{
	IDictRefusals *self = g_new0(IDictRefusals, 1);
	g_mutex_init(&self->lock);
	self->users = g_hash_table_new_full(NULL, NULL, NULL, user_log_free);
	self->next_id = 1;
	return self;
}

void idict__refusals_free(IDictRefusals *self)
{
	if (self == NULL)
		return;
	callback_rec_release(self->callback);
	g_hash_table_unref(self->users);
	g_mutex_clear(&self->lock);
	g_free(self);
}

/* Returns: (transfer full): @len bytes of @text, cut and escaped as the
 * top of this file says, in double quotes. */
static char *quote_value(const char *text, gsize len)
{
	if (len > 0 && text[len - 1] == '\n')
		len--;
	GString *out = g_string_sized_new(VALUE_MAX + 8);
	g_string_append_c(out, '"');
	for (gsize i = 0; i < MIN(len, VALUE_MAX); i++) {
		guchar c = (guchar)text[i];
		if (c == '"' || c == '\\')
			g_string_append_printf(out, "\\%c", c);
		else if (c == '\n')
			g_string_append(out, "\\n");
		else if (c == '\t')
			g_string_append(out, "\\t");
		else if (c < 0x20 || c >= 0x7f)
			g_string_append_printf(out, "\\x%02x", c);
		else
			g_string_append_c(out, (char)c);
	}
	g_string_append_c(out, '"');
	if (len > VALUE_MAX)
		g_string_append(out, "...");
	return g_string_free(out, FALSE);
}

/* Returns: (transfer full): @reason as valid UTF-8 on one line, control
 * and format characters (bidi overrides among them) made spaces, at most
 * REASON_MAX bytes. */
static char *one_line(const char *reason)
{
	g_autofree char *valid = g_utf8_make_valid(reason, -1);
	GString *out = g_string_sized_new(64);
	for (const char *p = valid; *p; p = g_utf8_next_char(p)) {
		gunichar c = g_utf8_get_char(p);
		GUnicodeType type = g_unichar_type(c);
		if (type == G_UNICODE_CONTROL || type == G_UNICODE_FORMAT ||
		    type == G_UNICODE_LINE_SEPARATOR || type == G_UNICODE_PARAGRAPH_SEPARATOR)
			c = ' ';
		if (out->len + (gsize)g_unichar_to_utf8(c, NULL) > REASON_MAX)
			break;
		g_string_append_unichar(out, c);
	}
	return g_string_free(out, FALSE);
}

/* The log of @uid, made if needed, dropping the user whose last refusal is
 * oldest when MAX_USERS are kept.  Lock held. */
static UserLog *user_log_locked(IDictRefusals *self, guint uid)
{
	UserLog *log = g_hash_table_lookup(self->users, GUINT_TO_POINTER(uid));
	if (log)
		return log;
	if (g_hash_table_size(self->users) >= MAX_USERS) {
		GHashTableIter iter;
		gpointer value;
		UserLog *oldest = NULL;
		g_hash_table_iter_init(&iter, self->users);
		while (g_hash_table_iter_next(&iter, NULL, &value))
			if (oldest == NULL || ((UserLog *)value)->last_us < oldest->last_us)
				oldest = value;
		g_hash_table_remove(self->users, GUINT_TO_POINTER(oldest->uid));
	}
	log = g_new0(UserLog, 1);
	log->uid = uid;
	g_hash_table_insert(self->users, GUINT_TO_POINTER(uid), log);
	return log;
}

void idict__refusals_record(IDictRefusals *self, IDict *dict, guint uid, const char *key,
			    const char *text, gsize len, const char *reason)
{
	Refusal refusal = {
		.time_us = g_get_real_time(),
		.uid = uid,
		.key = g_strdup(key),
		.value = quote_value(text, len),
		.reason = one_line(reason),
	};
	g_debug("uid %u: write to \"%s\" refused: %s", uid, key, refusal.reason);

	g_mutex_lock(&self->lock);
	refusal.id = self->next_id++;
	self->last_us = refusal.time_us;
	UserLog *log = user_log_locked(self, uid);
	Refusal *slot;
	if (log->count == PER_USER) {
		slot = &log->ring[log->head];
		log->head = (log->head + 1) % PER_USER;
		refusal_clear(slot);
	} else {
		slot = &log->ring[(log->head + log->count) % PER_USER];
		log->count++;
	}
	*slot = refusal;
	log->last_us = refusal.time_us;
	/* The callback is called with copies, outside the lock: another
	 * refusal may replace this slot meanwhile. */
	CallbackRec *callback = self->callback ? g_atomic_rc_box_acquire(self->callback) : NULL;
	g_autofree char *value = callback ? g_strdup(refusal.value) : NULL;
	g_autofree char *why = callback ? g_strdup(refusal.reason) : NULL;
	g_mutex_unlock(&self->lock);

	if (callback) {
		callback->func(dict, key, uid, value, why, callback->data);
		callback_rec_release(callback);
	}
}

static int compare_ids(gconstpointer a, gconstpointer b)
{
	guint64 x = (*(Refusal *const *)a)->id, y = (*(Refusal *const *)b)->id;
	return x < y ? -1 : x > y;
}

GBytes *idict__refusals_render(IDictRefusals *self, guint viewer)
{
	GString *out = g_string_new(NULL);
	g_mutex_lock(&self->lock);
	g_autoptr(GPtrArray) shown = g_ptr_array_new();
	GHashTableIter iter;
	gpointer value;
	g_hash_table_iter_init(&iter, self->users);
	while (g_hash_table_iter_next(&iter, NULL, &value)) {
		UserLog *log = value;
		if (viewer != IDICT__VIEWER_ALL && log->uid != viewer)
			continue;
		for (guint i = 0; i < log->count; i++)
			g_ptr_array_add(shown, &log->ring[(log->head + i) % PER_USER]);
	}
	g_ptr_array_sort(shown, compare_ids);
	for (guint i = 0; i < shown->len; i++) {
		const Refusal *r = shown->pdata[i];
		g_autoptr(GDateTime) time = g_date_time_new_from_unix_utc(r->time_us / G_USEC_PER_SEC);
		g_autoptr(GDateTime) exact = g_date_time_add(time, r->time_us % G_USEC_PER_SEC);
		g_autofree char *when = g_date_time_format(exact, "%Y-%m-%dT%H:%M:%S.%fZ");
		g_string_append_printf(out, "%" G_GUINT64_FORMAT " %s %u %s %s %s\n", r->id, when,
				       r->uid, r->key, r->value, r->reason);
	}
	g_mutex_unlock(&self->lock);
	return g_string_free_to_bytes(out);
}

gint64 idict__refusals_last_time(IDictRefusals *self)
{
	g_mutex_lock(&self->lock);
	gint64 last = self->last_us;
	g_mutex_unlock(&self->lock);
	return last;
}

void idict__refusals_set_callback(IDictRefusals *refusals, IDictRefusalFunc func,
				  gpointer user_data, GDestroyNotify destroy)
{
	CallbackRec *rec = NULL;
	if (func) {
		rec = g_atomic_rc_box_new0(CallbackRec);
		rec->func = func;
		rec->data = user_data;
		rec->destroy = destroy;
	}
	g_mutex_lock(&refusals->lock);
	CallbackRec *old = refusals->callback;
	refusals->callback = rec;
	g_mutex_unlock(&refusals->lock);
	callback_rec_release(old);
}
