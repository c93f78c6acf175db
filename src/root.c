/* root.c - the root directory's own entries (see root.h). */
#include "root.h"

#include <string.h>

static const IDictRootEntry entries[] = {
	{ "ctl", IDICT__INO_CTL, IDICT__ROOT_CTL, TRUE },
	{ "updates", IDICT__INO_UPDATES, IDICT__ROOT_UPDATES, FALSE },
	{ "history", IDICT__INO_HISTORY, IDICT__ROOT_VIEW, TRUE },
	{ "snapshot.json", IDICT__INO_SNAPSHOT, IDICT__ROOT_SNAPSHOT, FALSE },
	{ "raw", IDICT__INO_RAW, IDICT__ROOT_VIEW, TRUE },
};

const IDictRootEntry *idict__root_entries(guint *n_out)
{
	*n_out = G_N_ELEMENTS(entries);
	return entries;
}

const IDictRootEntry *idict__root_by_name(const char *name, gsize len)
{
	for (gsize i = 0; i < G_N_ELEMENTS(entries); i++)
		if (strlen(entries[i].name) == len && memcmp(entries[i].name, name, len) == 0)
			return &entries[i];
	return NULL;
}

const IDictRootEntry *idict__root_by_ino(guint64 ino)
{
	for (gsize i = 0; i < G_N_ELEMENTS(entries); i++)
		if (entries[i].ino == ino)
			return &entries[i];
	return NULL;
}

guint idict__root_n_dirs(void)
{
	guint n = 0;
	for (gsize i = 0; i < G_N_ELEMENTS(entries); i++)
		n += entries[i].is_dir;
	return n;
}
