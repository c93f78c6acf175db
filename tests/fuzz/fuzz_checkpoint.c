/* fuzz_checkpoint.c - libFuzzer target for idict_load(): a checkpoint is a
 * file anyone may have truncated, damaged or written by hand.
 *
 * Input: the bytes of a checkpoint file.  Checked for every input:
 *   - idict__checkpoint_parse() (the whole of idict_load() once the file is
 *     read) gives a dictionary, or NULL with IDICT_ERROR_FAILED and a
 *     message; never a crash, a leak or undefined behaviour (ASan, UBSan);
 *   - the dictionary shares no memory with the input: the input is
 *     overwritten before the dictionary is used;
 *   - round trip: a loaded dictionary, saved and loaded again, saves to the
 *     same bytes.
 */
#include "checkpoint.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FAIL(...) (g_printerr("fuzz_checkpoint: " __VA_ARGS__), g_printerr("\n"), abort())

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* Our own copy, aligned as a file read into memory is, and poisoned
	 * after the parse. */
	char *copy = g_malloc(size);
	if (size > 0)
		memcpy(copy, data, size);
	g_autoptr(GBytes) bytes = g_bytes_new_take(copy, size);
	g_autoptr(GError) error = NULL;
	g_autoptr(IDict) dict = idict__checkpoint_parse(bytes, "input", &error);
	if (dict == NULL) {
		if (error == NULL || !g_error_matches(error, IDICT_ERROR, IDICT_ERROR_FAILED) ||
		    error->message == NULL || error->message[0] == '\0')
			FAIL("refused without an IDICT_ERROR_FAILED message");
		return 0;
	}
	if (error != NULL)
		FAIL("loaded but set an error");
	if (size > 0)
		memset(copy, 0xa5, size);
	g_clear_pointer(&bytes, g_bytes_unref);

	g_autoptr(GBytes) saved = idict__checkpoint_serialize(dict);
	g_autoptr(IDict) again = idict__checkpoint_parse(saved, "saved", &error);
	if (again == NULL)
		FAIL("a saved checkpoint does not load: %s", error->message);
	g_autoptr(GBytes) saved_again = idict__checkpoint_serialize(again);
	if (!g_bytes_equal(saved, saved_again))
		FAIL("save, load, save changed the checkpoint");
	return 0;
}
