/* format_double.h - between format.c and format_double.cc, the C++ shim
 * that asks {fmt} for the shortest digits of a double.  Not installed.
 * Plain C types, no GLib: the C++ side includes only this and {fmt}. */
#ifndef IDICT_FORMAT_DOUBLE_H
#define IDICT_FORMAT_DOUBLE_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* For a finite @value > 0: the fewest decimal digits that read back as
 * @value (among them the closest to it), as @value ~= significand *
 * 10^@exponent with no trailing zeros in the significand (below 10^17).
 * Dragonbox, through {fmt}.  Zero, negative, infinite and NaN values are
 * for the caller to handle: the result is undefined for them.
 * Returns: the significand; sets *@exponent. */
uint64_t idict__format_shortest(double value, int *exponent);

#ifdef __cplusplus
}
#endif

#endif /* IDICT_FORMAT_DOUBLE_H */
