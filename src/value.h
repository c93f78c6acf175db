/* value.h - a value as the store keeps it.  Used by the store's files
 * (store.c, tree.c, notify.c) and nothing else: others see GVariants.
 *
 * The scalars the computation sets in its loop (double, int64, boolean)
 * are unboxed, so that setting one allocates nothing; any other type is a
 * GVariant.  No lock: a value is plain data, protected by whoever holds it
 * (the store lock, for the values in the tree).
 */
#ifndef IDICT_VALUE_H
#define IDICT_VALUE_H

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
	IDICT__VALUE_BOXED,
	IDICT__VALUE_DOUBLE,
	IDICT__VALUE_INT,
	IDICT__VALUE_BOOL,
} IDictValueKind;

typedef struct {
	IDictValueKind kind;
	union {
		double d;
		gint64 i;
		gboolean b;
		GVariant *boxed; /* owned, non-floating; NULL: no value */
	} as;
} IDictValue;

/* The empty value (what a cleared value holds). */
#define IDICT__VALUE_NONE ((IDictValue){ .kind = IDICT__VALUE_BOXED, .as.boxed = NULL })

/* Returns: a value holding @variant (transfer full, non-floating): scalars
 * are unboxed and @variant released. */
IDictValue idict__value_take_variant(GVariant *variant);
/* Returns: (transfer none): the GVariant type string of @value. */
const char *idict__value_type_string(const IDictValue *value);
gboolean idict__value_is_of_type(const IDictValue *value, const GVariantType *type);
/* Returns: (transfer full): @value as a GVariant, taking over its reference
 * (a scalar is boxed).  @value is left empty. */
GVariant *idict__value_steal_variant(IDictValue *value);
/* Whether @b has the shape of @a (of the same type): as many elements, and
 * for a matrix as many rows of as many columns. */
gboolean idict__value_same_shape(GVariant *a, GVariant *b);

/* The four below are on the computation's path (every set, every
 * capture): inline. */

/* Whether @value is an array of doubles (what raw/ shows). */
static inline gboolean idict__value_is_raw_array(const IDictValue *value)
{
	return value->kind == IDICT__VALUE_BOXED && value->as.boxed != NULL &&
		g_variant_is_of_type(value->as.boxed, G_VARIANT_TYPE("ad"));
}

/* Returns: (transfer full): @value as a non-floating GVariant. */
static inline GVariant *idict__value_to_variant(const IDictValue *value)
{
	switch (value->kind) {
	case IDICT__VALUE_DOUBLE:
		return g_variant_ref_sink(g_variant_new_double(value->as.d));
	case IDICT__VALUE_INT:
		return g_variant_ref_sink(g_variant_new_int64(value->as.i));
	case IDICT__VALUE_BOOL:
		return g_variant_ref_sink(g_variant_new_boolean(value->as.b));
	case IDICT__VALUE_BOXED:
	default:
		return g_variant_ref(value->as.boxed);
	}
}

/* Frees what @value holds and leaves it empty. */
static inline void idict__value_clear(IDictValue *value)
{
	if (value->kind == IDICT__VALUE_BOXED && value->as.boxed)
		g_variant_unref(value->as.boxed);
	*value = IDICT__VALUE_NONE;
}

/* Returns: a copy of @value: the same scalar, or a new reference. */
static inline IDictValue idict__value_copy(const IDictValue *value)
{
	IDictValue copy = *value;
	if (copy.kind == IDICT__VALUE_BOXED && copy.as.boxed)
		g_variant_ref(copy.as.boxed);
	return copy;
}

G_END_DECLS

#endif /* IDICT_VALUE_H */
