/* pins.h - write opens the server holds on files a kernel NFS server
 * opens, so that it grants no read delegations (pins.c).  Own lock. */
#ifndef IDICT_PINS_H
#define IDICT_PINS_H

#include "common.h"
#include <fuse_lowlevel.h>

G_BEGIN_DECLS

typedef struct _IDictPins IDictPins;
/* Answers a parked open: registers @file and replies (fs.c). */
typedef void (*IDictPinFinish)(fuse_req_t req, struct fuse_file_info *fi, gpointer file);
/* @dict: borrowed, must outlive the pins; @mountpoint: canonical.
 * Returns: (transfer full): free with idict__pins_free(). */
IDictPins *idict__pins_new(IDict *dict, const char *mountpoint);
/* Closes every pin (after the unmount) and frees @pins.  NULL-safe. */
void idict__pins_free(IDictPins *pins);
/* For a kernel thread's open of regular file @ino, whose reply is ready in
 * @fi: TRUE if it is parked (the pin thread pins the file, then calls
 * @finish with @req, a copy of @fi and @file); FALSE if it is to be
 * answered now (pinned already, leases off, or no pin possible). */
gboolean idict__pins_park(IDictPins *pins, fuse_req_t req, guint64 ino,
			  const struct fuse_file_info *fi, gpointer file, IDictPinFinish finish);
/* TRUE if @tid is the pin thread (whose opens are pins). */
gboolean idict__pins_is_pinner(IDictPins *pins, pid_t tid);
/* Answers every parked open and ends the pin thread (workers still run). */
void idict__pins_stop(IDictPins *pins);
/* The number of files pinned. */
guint idict__pins_count(IDictPins *pins);

G_END_DECLS

#endif /* IDICT_PINS_H */
