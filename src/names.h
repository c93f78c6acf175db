/* names.h - key-name rules (names.c); idict_check_key_name() is public. */
#ifndef IDICT_NAMES_H
#define IDICT_NAMES_H

#include "common.h"

G_BEGIN_DECLS

/* TRUE if @name is reserved as the first component of a key. */
gboolean idict__names_reserved(const char *name, gsize len);

G_END_DECLS

#endif /* IDICT_NAMES_H */
