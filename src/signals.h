/* signals.h - idict_terminate_on_signals()'s signal thread (signals.c). */
#ifndef IDICT_SIGNALS_H
#define IDICT_SIGNALS_H

#include "common.h"

G_BEGIN_DECLS

/* Called by idict_free(): the signal thread must not use @self any more. */
void idict__signals_forget(IDict *self);

G_END_DECLS

#endif /* IDICT_SIGNALS_H */
