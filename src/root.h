/* root.h - the root directory's own entries, in one table (root.c), and
 * the inode numbers of the filesystem's own files.  The key names reserved
 * for them (names.c), lookup, readdir and stat (fs.c) all read the table:
 * a new root entry is one line there, and its operations in fs.c's table
 * of kinds.  No FUSE. */
#ifndef IDICT_ROOT_H
#define IDICT_ROOT_H

#include "common.h"

G_BEGIN_DECLS

/* Fixed inode numbers of the filesystem's own files (the control files'
 * are in ctl.c's table); keys start above. */
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

/* What a root entry is; fs.c's operations are chosen by it. */
typedef enum {
	IDICT__ROOT_CTL,      /* ctl/: the control files (ctl.c) */
	IDICT__ROOT_UPDATES,  /* the update stream (updates.c) */
	IDICT__ROOT_VIEW,     /* history/ and raw/: the key tree again (fs_view.c) */
	IDICT__ROOT_SNAPSHOT, /* snapshot.json (snapshot.c) */
} IDictRootKind;

typedef struct {
	const char *name;
	guint64 ino;
	IDictRootKind kind;
	gboolean is_dir;
} IDictRootEntry;

/* Returns: (transfer none): the entries, in the order readdir lists them;
 * their number in *@n_out. */
const IDictRootEntry *idict__root_entries(guint *n_out);
/* Returns: (transfer none) (nullable): the entry named by the @len bytes
 * of @name. */
const IDictRootEntry *idict__root_by_name(const char *name, gsize len);
/* Returns: (transfer none) (nullable): the entry with inode number @ino. */
const IDictRootEntry *idict__root_by_ino(guint64 ino);
/* The number of directories among them (for the root's link count). */
guint idict__root_n_dirs(void);

G_END_DECLS

#endif /* IDICT_ROOT_H */
