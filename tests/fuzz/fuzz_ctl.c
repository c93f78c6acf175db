/* fuzz_ctl.c - libFuzzer target for the control-file commands: the write
 * functions of the table idict__ctl_files() returns (ctl/pause,
 * ctl/terminate), which see the bytes of `echo ... > mnt/ctl/FILE`.
 *
 * Input: the first byte picks a writable control file, the rest is the text
 * written.  Checked for every input:
 *   - the write returns 0 or -EINVAL, nothing else;
 *   - it accepts only "0", "1", "false" or "true" (pause), "1" or "true"
 *     (terminate), with optional surrounding whitespace and no NUL byte; it
 *     accepts "0", "1", "0\n" and "1\n" (what echo writes);
 *   - after an accepted write, idict_paused()/idict_terminated() say so, and
 *     a refused write changes neither;
 *   - every control file then renders: pause and terminate as "0\n" or "1\n"
 *     matching the state, status as its six documented lines (then any
 *     further "NAME VALUE" lines), errors as one line per refused write
 *     ("ID TIME UID KEY \"VALUE\" REASON", no control character), the
 *     refusal just made last.
 * One dictionary serves every input (as one mount serves every client).
 */
#include "ctl.h"
#include "fs_view.h"
#include "refusals.h"
#include "store.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FAIL(...) (g_printerr("fuzz_ctl: " __VA_ARGS__), g_printerr("\n"), abort())

static IDict *dict;
static const IDictCtlFile *writable[8];
static guint n_writable;

static void setup(void)
{
	dict = idict_new();
	guint n = 0;
	const IDictCtlFile *files = idict__ctl_files(&n);
	for (guint i = 0; i < n; i++) {
		/* The table is consistent: lookups by inode and name agree, and
		 * a file has a write function exactly when its mode lets the
		 * owner write. */
		if (idict__ctl_by_ino(files[i].ino) != &files[i] ||
		    idict__ctl_by_name(files[i].name) != &files[i])
			FAIL("lookup of %s disagrees with the table", files[i].name);
		if ((files[i].write != NULL) != ((files[i].mode & 0200) != 0))
			FAIL("%s: mode %o and write function disagree", files[i].name,
			     files[i].mode);
		if (files[i].write != NULL && n_writable < G_N_ELEMENTS(writable))
			writable[n_writable++] = &files[i];
	}
	if (n_writable == 0)
		FAIL("no writable control file");
}

/* The text without surrounding ASCII whitespace, or NULL if it holds a NUL. */
static char *trimmed(const char *text, gsize len)
{
	if (memchr(text, '\0', len) != NULL)
		return NULL;
	return g_strstrip(g_strndup(text, len));
}

static void check_render(const IDictCtlFile *file)
{
	g_autoptr(GBytes) bytes = file->render(dict, IDICT__VIEWER_ALL);
	gsize len = 0;
	const char *text = g_bytes_get_data(bytes, &len);
	if (file->ino == IDICT__INO_ERRORS) {
		for (gsize i = 0; i < len; i++)
			if (((guchar)text[i] < 0x20 && text[i] != '\n') || text[i] == 0x7f)
				FAIL("errors holds the control character %#x", (guchar)text[i]);
		if (len > 0 && text[len - 1] != '\n')
			FAIL("errors does not end with a newline");
		g_autofree char *s = g_strndup(text, len);
		g_auto(GStrv) lines = g_strsplit(s, "\n", -1);
		for (char **line = lines; *line && **line; line++) {
			g_auto(GStrv) fields = g_strsplit(*line, " ", 5);
			if (g_strv_length(fields) < 5 || fields[4][0] != '"')
				FAIL("errors line \"%s\"", *line);
		}
		return;
	}
	if (len == 0 || text[len - 1] != '\n' || memchr(text, '\0', len) != NULL)
		FAIL("%s renders no newline-terminated text", file->name);
	g_autofree char *s = g_strndup(text, len);
	if (file->ino == IDICT__INO_PAUSE || file->ino == IDICT__INO_TERMINATE) {
		gboolean on = file->ino == IDICT__INO_PAUSE ? idict_paused(dict)
							    : idict_terminated(dict);
		if (strcmp(s, on ? "1\n" : "0\n") != 0)
			FAIL("%s renders \"%s\" in state %d", file->name, s, on);
	} else if (file->ino == IDICT__INO_STATUS) {
		static const char *const names[] = { "state ", "sequence ", "keys ",
						     "started ", "last_update ", "pid " };
		/* The six documented lines first; later ones also "NAME VALUE". */
		g_auto(GStrv) lines = g_strsplit(s, "\n", -1);
		guint n = g_strv_length(lines) - 1; /* the text ends with a newline */
		if (n < G_N_ELEMENTS(names))
			FAIL("status has %u lines", n);
		for (guint i = 0; i < n; i++) {
			const char *space = strchr(lines[i], ' ');
			if (i < G_N_ELEMENTS(names) ? !g_str_has_prefix(lines[i], names[i])
			    : space == NULL || space == lines[i] || space[1] == '\0')
				FAIL("status line %u is \"%s\"", i + 1, lines[i]);
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (dict == NULL)
		setup();
	if (size == 0)
		return 0;
	const IDictCtlFile *file = writable[data[0] % n_writable];
	const char *text = (const char *)data + 1;
	gsize len = size - 1;
	gboolean paused = idict_paused(dict), terminated = idict_terminated(dict);

	int err = file->write(dict, 0, text, len);

	if (err != 0 && err != -EINVAL)
		FAIL("%s: write returned %d", file->name, err);
	g_autofree char *word = trimmed(text, len);
	gboolean is_pause = file->ino == IDICT__INO_PAUSE;
	gboolean is_terminate = file->ino == IDICT__INO_TERMINATE;
	gboolean echo_form = (len == 1 || (len == 2 && text[1] == '\n')) &&
			     (text[0] == '1' || (is_pause && text[0] == '0'));
	if (err == 0) {
		if (word == NULL)
			FAIL("%s: a NUL byte was accepted", file->name);
		gboolean on = strcmp(word, "1") == 0 || strcmp(word, "true") == 0;
		gboolean off = strcmp(word, "0") == 0 || strcmp(word, "false") == 0;
		if (is_pause && !on && !off)
			FAIL("ctl/pause accepted \"%s\"", word);
		if (is_terminate && !on)
			FAIL("ctl/terminate accepted \"%s\"", word);
		if (is_pause && idict_paused(dict) != on)
			FAIL("ctl/pause accepted \"%s\" but paused is %d", word, idict_paused(dict));
		if (is_terminate && !idict_terminated(dict))
			FAIL("ctl/terminate accepted \"%s\" but the loop is not terminated", word);
	} else {
		if (echo_form)
			FAIL("%s refused \"%.*s\"", file->name, (int)len, text);
		if (idict_paused(dict) != paused || idict_terminated(dict) != terminated)
			FAIL("%s: a refused write changed the state", file->name);
		/* ... and said why, last in ctl/errors. */
		g_autoptr(GBytes) errors = idict__refusals_render(idict__store_refusals(dict), 0);
		g_autofree char *e = g_strndup(g_bytes_get_data(errors, NULL), g_bytes_get_size(errors));
		g_autofree char *name = g_strdup_printf(" 0 ctl/%s \"", file->name);
		const char *last = g_strrstr(e, "\n");
		const char *start = last ? g_strrstr_len(e, last - e, "\n") : NULL;
		if (last == NULL || strstr(start ? start : e, name) == NULL)
			FAIL("%s: the refusal is not the last line of ctl/errors", file->name);
	}

	guint n = 0;
	const IDictCtlFile *files = idict__ctl_files(&n);
	for (guint i = 0; i < n; i++)
		check_render(&files[i]);
	return 0;
}
