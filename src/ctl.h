/* ctl.h - the control files of ctl/ (ctl.c), one table of them. */
#ifndef IDICT_CTL_H
#define IDICT_CTL_H

#include "common.h"

G_BEGIN_DECLS

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

G_END_DECLS

#endif /* IDICT_CTL_H */
