/* format.h - values to text and back (format.c): locale-free, the
 * shortest round-trip doubles, and the scanner that checks a client's text
 * as it arrives.  No lock, no state. */
#ifndef IDICT_FORMAT_H
#define IDICT_FORMAT_H

#include "common.h"

G_BEGIN_DECLS

/* Text forms of values.  Locale-independent.  */
#define IDICT__DOUBLE_BUF 40
/* Writes the shortest text (fewest significant digits) that reads back as
 * @value into @buf (NUL-terminated), 24 bytes at most; the rest of @buf may
 * change too (the digits are copied in blocks).
 * Returns: its length. */
gsize idict__format_double(char buf[IDICT__DOUBLE_BUF], double value);
/* Returns: (transfer full): the text of @value, newline-terminated. */
GBytes *idict__format_render(GVariant *value);
/* About how long idict__format_render(@value) is, without rendering it: an
 * upper bound for numbers, arrays and matrices of them and strings. */
gsize idict__format_size_estimate(GVariant *value);
/* Parses @len bytes of @text (not NUL-terminated, may contain NULs, which
 * are refused) as a value of @type.
 * Returns: (transfer full) (nullable): a non-floating value, or NULL with
 * IDICT_ERROR_INVALID_VALUE. */
GVariant *idict__format_parse(const GVariantType *type, const char *text, gsize len,
			      GError **error);

/* Text that a client writes in pieces, examined as it arrives (see
 * idict__text_scan()).  Plain data; zero it or idict__text_scan_init() it. */
typedef enum {
	IDICT__TEXT_MORE,    /* may still become a valid value: wait for more */
	IDICT__TEXT_WHOLE,   /* a whole value as it stands (more text can only be
			      * whitespace, or make it invalid): validate it now */
	IDICT__TEXT_INVALID, /* no continuation can make it a valid value */
} IDictTextState;

typedef enum {
	IDICT__TEXT_SCALAR, /* double, int, bool: one token */
	IDICT__TEXT_STRING,
	IDICT__TEXT_ARRAY,  /* ad */
	IDICT__TEXT_MATRIX, /* aad */
	IDICT__TEXT_OTHER,  /* GVariant text: known only when complete */
} IDictTextKind;

typedef struct {
	IDictTextKind kind;
	gboolean is_double;
	guint64 want_tokens, want_rows, want_cols; /* the key's shape */
	gsize scanned;     /* bytes examined so far */
	gsize token_start; /* the unfinished token's start; strings: valid UTF-8 up to here */
	gboolean in_token;
	guint64 tokens, row_tokens, rows;
	gboolean ends_in_newline; /* strings */
} IDictTextScan;

/* Prepares @scan for text of @current's type and shape. */
void idict__text_scan_init(IDictTextScan *scan, GVariant *current);
/* Examines @text, of which the first scan->scanned bytes were examined
 * before (text only ever grows at the end), in time proportional to the
 * new bytes (and the token they finish).
 * Returns: the state, with IDICT_ERROR_INVALID_VALUE for INVALID. */
IDictTextState idict__text_scan(IDictTextScan *scan, const char *text, gsize len, GError **error);

G_END_DECLS

#endif /* IDICT_FORMAT_H */
