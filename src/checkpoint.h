/* checkpoint.h - the checkpoint file's format (checkpoint.c);
 * idict_save_checkpoint() and idict_load_checkpoint() are public. */
#ifndef IDICT_CHECKPOINT_H
#define IDICT_CHECKPOINT_H

#include "common.h"

G_BEGIN_DECLS

/* Returns: (transfer full): the checkpoint file's bytes for @self. */
GBytes *idict__checkpoint_serialize(IDict *self);
/* Reads checkpoint bytes @data (any bytes: damaged or hostile data is
 * refused); @name names it in messages.
 * Returns: (transfer full) (nullable): a new dictionary that shares no
 * memory with @data, or NULL with IDICT_ERROR_FAILED. */
IDict *idict__checkpoint_parse(GBytes *data, const char *name, GError **error);

G_END_DECLS

#endif /* IDICT_CHECKPOINT_H */
