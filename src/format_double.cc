/* format_double.cc - the shortest decimal digits of a double, from {fmt}.
 *
 * One job, in C++ because {fmt} is C++: format.c lays the digits out.
 * {fmt} (libfmt9 in Debian 12) implements Dragonbox (Jeon, 2020), the
 * shortest-round-trip algorithm behind its "{}" for doubles.  We call its
 * digit generator, fmt::detail::dragonbox::to_decimal(), rather than
 * format "{}" and take the text: that skips {fmt}'s generic float writer
 * (padding, grouping, alignment), which took two thirds of the time, and
 * leaves the layout to format.c, where the rules of the text are.
 *
 * to_decimal() lives in fmt::detail, but it is an exported symbol of
 * libfmt (FMT_API, explicitly instantiated for double in libfmt.so.9), with
 * the same declaration from {fmt} 7.1 to 12; should it change, this file
 * stops compiling, and tests/test_format.c checks the output against a
 * printf-and-strtod reference.
 *
 * Built with -fno-exceptions -fno-rtti: nothing here throws
 * (to_decimal() is noexcept), and no C++ runtime is needed beyond libfmt.
 */
#include "format_double.h"

#include <fmt/format.h>

extern "C" uint64_t idict__format_shortest(double value, int *exponent)
{
	auto decimal = fmt::detail::dragonbox::to_decimal(value);
	*exponent = decimal.exponent;
	return decimal.significand;
}
