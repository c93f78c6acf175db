/* common.h - what every module of libidict includes first: the public
 * API, the log domain, and small helpers with no home of their own. */
#ifndef IDICT_COMMON_H
#define IDICT_COMMON_H

#include "idict.h"

G_BEGIN_DECLS

#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "idict"

/* The monotonic time @timeout seconds from now, G_MAXINT64 for "no limit"
 * (negative, infinite, NaN or more than a century). */
static inline gint64 idict__deadline(double timeout)
{
	if (!(timeout >= 0) || timeout > 3.2e9)
		return G_MAXINT64;
	return g_get_monotonic_time() + (gint64)(timeout * G_USEC_PER_SEC);
}


G_END_DECLS

#endif /* IDICT_COMMON_H */
