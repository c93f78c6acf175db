/* control.h - the computation's control state (control.c): paused,
 * terminated, finished, and the time of their last change.  Own lock, a
 * leaf.  The dictionary holds one (idict__store_control()); the public
 * idict_pause(), idict_resume(), idict_terminate(), idict_terminated(),
 * idict_paused() and idict_wait() act on it (store.c). */
#ifndef IDICT_CONTROL_H
#define IDICT_CONTROL_H

#include "common.h"

G_BEGIN_DECLS

typedef struct _IDictControl IDictControl;

/* Returns: (transfer full): running, not paused, changed at @started_us. */
IDictControl *idict__control_new(gint64 started_us);
IDictControl *idict__control_ref(IDictControl *control);
void idict__control_unref(IDictControl *control); /* NULL-safe */
/* Its dictionary is freed: drops the dictionary's reference.  Others may
 * still hold one (the signal thread). */
void idict__control_detach(IDictControl *control);
/* Returns: FALSE if the dictionary was freed (nothing to terminate). */
gboolean idict__control_terminate(IDictControl *control);
gboolean idict__control_terminated(IDictControl *control);
void idict__control_set_paused(IDictControl *control, gboolean paused);
gboolean idict__control_paused(IDictControl *control);
/* As idict_wait(). */
gboolean idict__control_wait(IDictControl *control, double timeout);
/* Marks the computation finished (a final update). */
void idict__control_finish(IDictControl *control);
/* Returns: (transfer none): the state ctl/status shows ("running",
 * "paused", "terminating", "finished"), with the time of the last pause,
 * resume or terminate (else the dictionary's start) in *@changed_us. */
const char *idict__control_state(IDictControl *control, gint64 *changed_us);

G_END_DECLS

#endif /* IDICT_CONTROL_H */
