/* refusals.h - ctl/errors: the last refused writes of each user
 * (refusals.c).  Own lock. */
#ifndef IDICT_REFUSALS_H
#define IDICT_REFUSALS_H

#include "common.h"

G_BEGIN_DECLS

typedef struct _IDictRefusals IDictRefusals;

/* Returns: (transfer full): an empty record; idict__refusals_free() it. */
IDictRefusals *idict__refusals_new(void);
void idict__refusals_free(IDictRefusals *self);
/* Records that user @uid's write of @len bytes of @text to @key (a key, or
 * "ctl/pause") was refused for @reason, then calls the computation's
 * refusal callback, if any, in this thread, with @dict. */
void idict__refusals_record(IDictRefusals *self, IDict *dict, guint uid, const char *key,
			    const char *text, gsize len, const char *reason);
/* As idict_set_refusal_callback(). */
void idict__refusals_set_callback(IDictRefusals *self, IDictRefusalFunc func,
				  gpointer user_data, GDestroyNotify destroy);
/* Who reads ctl/errors: a uid, or IDICT__VIEWER_ALL (the owner, root). */
#define IDICT__VIEWER_ALL G_MAXUINT
/* Returns: (transfer full): the lines of ctl/errors that @viewer may see. */
GBytes *idict__refusals_render(IDictRefusals *self, guint viewer);
/* Returns: the g_get_real_time() of the last refusal, 0 if none. */
gint64 idict__refusals_last_time(IDictRefusals *self);

G_END_DECLS

#endif /* IDICT_REFUSALS_H */
