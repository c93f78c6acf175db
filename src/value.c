/* value.c - a value as the store keeps it (see value.h). */
#include "value.h"

static gboolean type_is_scalar(const GVariantType *type)
{
	return g_variant_type_equal(type, G_VARIANT_TYPE_DOUBLE) ||
		g_variant_type_equal(type, G_VARIANT_TYPE_INT64) ||
		g_variant_type_equal(type, G_VARIANT_TYPE_BOOLEAN);
}

IDictValue idict__value_take_variant(GVariant *variant)
{
	IDictValue value = { .kind = IDICT__VALUE_BOXED, .as.boxed = variant };
	const GVariantType *type = g_variant_get_type(variant);
	if (!type_is_scalar(type))
		return value;
	if (g_variant_type_equal(type, G_VARIANT_TYPE_DOUBLE))
		value = (IDictValue){ .kind = IDICT__VALUE_DOUBLE,
				      .as.d = g_variant_get_double(variant) };
	else if (g_variant_type_equal(type, G_VARIANT_TYPE_INT64))
		value = (IDictValue){ .kind = IDICT__VALUE_INT, .as.i = g_variant_get_int64(variant) };
	else
		value = (IDictValue){ .kind = IDICT__VALUE_BOOL,
				      .as.b = g_variant_get_boolean(variant) };
	g_variant_unref(variant);
	return value;
}

const char *idict__value_type_string(const IDictValue *value)
{
	switch (value->kind) {
	case IDICT__VALUE_DOUBLE:
		return "d";
	case IDICT__VALUE_INT:
		return "x";
	case IDICT__VALUE_BOOL:
		return "b";
	case IDICT__VALUE_BOXED:
	default:
		return g_variant_get_type_string(value->as.boxed);
	}
}

gboolean idict__value_is_of_type(const IDictValue *value, const GVariantType *type)
{
	if (value->kind == IDICT__VALUE_BOXED)
		return g_variant_is_of_type(value->as.boxed, type);
	return g_variant_type_equal(type, (const GVariantType *)idict__value_type_string(value));
}

GVariant *idict__value_steal_variant(IDictValue *value)
{
	GVariant *variant = value->kind == IDICT__VALUE_BOXED ? value->as.boxed
							      : idict__value_to_variant(value);
	*value = IDICT__VALUE_NONE;
	return variant;
}

gboolean idict__value_same_shape(GVariant *a, GVariant *b)
{
	if (g_variant_is_of_type(a, G_VARIANT_TYPE("ad")))
		return g_variant_n_children(a) == g_variant_n_children(b);
	if (g_variant_is_of_type(a, G_VARIANT_TYPE("aad"))) {
		gsize rows = g_variant_n_children(a);
		if (rows != g_variant_n_children(b))
			return FALSE;
		for (gsize r = 0; r < rows; r++) {
			g_autoptr(GVariant) ra = g_variant_get_child_value(a, r);
			g_autoptr(GVariant) rb = g_variant_get_child_value(b, r);
			if (g_variant_n_children(ra) != g_variant_n_children(rb))
				return FALSE;
		}
	}
	return TRUE;
}
