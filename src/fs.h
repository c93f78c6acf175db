/* fs.h - the FUSE operations (fs.c). */
#ifndef IDICT_FS_H
#define IDICT_FS_H

#include "common.h"
#include <fuse_lowlevel.h>

G_BEGIN_DECLS

const struct fuse_lowlevel_ops *idict__fs_ops(void);
/* Frees a file handle of a file still open when the server closes. */
void idict__fs_free_open_file(gpointer file);

G_END_DECLS

#endif /* IDICT_FS_H */
