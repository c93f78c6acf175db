/* ctl.c - the control files in ctl/, dispatched from one table.
 *
 * Each file renders its text from the dictionary's state and, if writable,
 * takes a short command.  A write that is not one of the commands fails with
 * EINVAL, changes nothing, and is listed in ctl/errors with the reason.
 */
#include "ctl.h"
#include "format.h"
#include "root.h"
#include "refusals.h"
#include "store.h"

#include <errno.h>
#include <math.h>
#include <string.h>
#include <unistd.h>

static GBytes *text_bytes(const char *text)
{
	return g_bytes_new(text, strlen(text));
}

/* Returns: 1 or 0 for the text "1" or "0", or "true" or "false" as bool
 * keys take them (surrounding whitespace allowed), -1 for anything else. */
static int parse_flag(const char *text, gsize len)
{
	if (memchr(text, '\0', len) != NULL || len > 16)
		return -1;
	char buf[17];
	memcpy(buf, text, len);
	buf[len] = '\0';
	g_strstrip(buf);
	if (strcmp(buf, "1") == 0 || strcmp(buf, "true") == 0)
		return 1;
	if (strcmp(buf, "0") == 0 || strcmp(buf, "false") == 0)
		return 0;
	return -1;
}

static GBytes *render_pause(IDict *dict, guint viewer)
{
	(void)viewer;
	return text_bytes(idict_paused(dict) ? "1\n" : "0\n");
}

static int write_pause(IDict *dict, guint uid, const char *text, gsize len)
{
	switch (parse_flag(text, len)) {
	case 1:
		idict_pause(dict);
		return 0;
	case 0:
		idict_resume(dict);
		return 0;
	default:
		idict__refusals_record(idict__store_refusals(dict), dict, uid, "ctl/pause", text, len,
				       "ctl/pause takes 1 (or true) to pause, 0 (or false) to resume");
		return -EINVAL;
	}
}

static GBytes *render_terminate(IDict *dict, guint viewer)
{
	(void)viewer;
	return text_bytes(idict_terminated(dict) ? "1\n" : "0\n");
}

static int write_terminate(IDict *dict, guint uid, const char *text, gsize len)
{
	if (parse_flag(text, len) != 1) {
		idict__refusals_record(idict__store_refusals(dict), dict, uid, "ctl/terminate", text, len,
				       "ctl/terminate takes 1 (or true); a stop cannot be undone");
		return -EINVAL;
	}
	idict_terminate(dict);
	return 0;
}

/* ctl/errors: the last refused writes, those of the reader only unless
 * the reader owns the mount (see refusals.c). */
static GBytes *render_errors(IDict *dict, guint viewer)
{
	return idict__refusals_render(idict__store_refusals(dict), viewer);
}

static void append_time(GString *out, const char *name, gint64 usec)
{
	g_string_append_printf(out, "%s ", name);
	if (usec == 0) {
		g_string_append(out, "-\n");
		return;
	}
	g_autoptr(GDateTime) time = g_date_time_new_from_unix_utc(usec / G_USEC_PER_SEC);
	g_autoptr(GDateTime) exact = g_date_time_add(time, usec % G_USEC_PER_SEC);
	g_autofree char *text = g_date_time_format(exact, "%Y-%m-%dT%H:%M:%S.%fZ");
	g_string_append_printf(out, "%s\n", text);
}

/* "NAME VALUE\n", with "-" for an unknown (NAN) value. */
static void append_number(GString *out, const char *name, double value)
{
	char buf[IDICT__DOUBLE_BUF];
	if (isnan(value)) {
		g_string_append_printf(out, "%s -\n", name);
		return;
	}
	/* Six significant digits are plenty for rates and estimates. */
	g_ascii_formatd(buf, sizeof buf, "%.6g", value);
	g_string_append_printf(out, "%s %s\n", name, buf);
}

static GBytes *render_status(IDict *dict, guint viewer)
{
	(void)viewer;
	IDictStatus status;
	idict__store_status(dict, &status);
	GString *out = g_string_sized_new(160);
	g_string_append_printf(out, "state %s\n", status.state);
	g_string_append_printf(out, "sequence %" G_GUINT64_FORMAT "\n", status.sequence);
	g_string_append_printf(out, "keys %u\n", status.n_keys);
	append_time(out, "started", status.started_us);
	append_time(out, "last_update", status.last_update_us);
	g_string_append_printf(out, "pid %ld\n", (long)getpid());
	append_number(out, "updates_per_second", status.updates_per_second);
	append_number(out, "progress", status.progress);
	append_number(out, "eta_seconds", status.eta_seconds);
	return g_string_free_to_bytes(out);
}

/* ctl/sequence: the number of the last update, and a newline.  It never
 * blocks, so a client that cannot hold a blocking read of `updates` (an NFS
 * client, a script polling over sshfs) follows progress by reading it again
 * and re-reading the keys when it changes. */

static GBytes *render_sequence(IDict *dict, guint viewer)
{
	(void)viewer;
	char buf[32];
	g_snprintf(buf, sizeof buf, "%" G_GUINT64_FORMAT "\n", idict_sequence(dict));
	return text_bytes(buf);
}

static gint64 errors_mtime(IDict *dict)
{
	return idict__refusals_last_time(idict__store_refusals(dict));
}

static const IDictCtlFile ctl_files[] = {
	{ IDICT__INO_ERRORS, "errors", 0444, render_errors, NULL, errors_mtime },
	{ IDICT__INO_PAUSE, "pause", 0644, render_pause, write_pause, NULL },
	{ IDICT__INO_SEQUENCE, "sequence", 0444, render_sequence, NULL, NULL },
	{ IDICT__INO_STATUS, "status", 0444, render_status, NULL, NULL },
	{ IDICT__INO_TERMINATE, "terminate", 0644, render_terminate, write_terminate, NULL },
};

const IDictCtlFile *idict__ctl_files(guint *n_out)
{
	*n_out = G_N_ELEMENTS(ctl_files);
	return ctl_files;
}

const IDictCtlFile *idict__ctl_by_ino(guint64 ino)
{
	for (gsize i = 0; i < G_N_ELEMENTS(ctl_files); i++)
		if (ctl_files[i].ino == ino)
			return &ctl_files[i];
	return NULL;
}

const IDictCtlFile *idict__ctl_by_name(const char *name)
{
	for (gsize i = 0; i < G_N_ELEMENTS(ctl_files); i++)
		if (strcmp(ctl_files[i].name, name) == 0)
			return &ctl_files[i];
	return NULL;
}
