/* snapshot.c - snapshot.json: every key from one moment, as JSON.
 *
 * A client that reads several keys one file at a time may see them from
 * different updates; this file holds them all from a single moment (under
 * the store lock), with the sequence number, so that `jq` or a script gets
 * a consistent picture.  Built with json-glib.  JSON has no NaN or
 * infinities: those doubles appear as the strings "nan", "inf", "-inf".
 */
#include "idict-private.h"

#include <json-glib/json-glib.h>
#include <math.h>

static JsonNode *double_node(double value)
{
	JsonNode *node = json_node_new(JSON_NODE_VALUE);
	if (isfinite(value))
		json_node_set_double(node, value);
	else
		json_node_set_string(node, isnan(value) ? "nan" : value > 0 ? "inf" : "-inf");
	return node;
}

static JsonNode *array_node(GVariant *array)
{
	gsize n = 0;
	const double *values = g_variant_get_fixed_array(array, &n, sizeof(double));
	JsonArray *json = json_array_sized_new((guint)n);
	for (gsize i = 0; i < n; i++)
		json_array_add_element(json, double_node(values[i]));
	JsonNode *node = json_node_new(JSON_NODE_ARRAY);
	json_node_take_array(node, json);
	return node;
}

static JsonNode *value_node(GVariant *value)
{
	if (g_variant_is_of_type(value, G_VARIANT_TYPE_DOUBLE))
		return double_node(g_variant_get_double(value));
	if (g_variant_is_of_type(value, G_VARIANT_TYPE("ad")))
		return array_node(value);
	if (g_variant_is_of_type(value, G_VARIANT_TYPE("aad"))) {
		gsize rows = g_variant_n_children(value);
		JsonArray *json = json_array_sized_new((guint)rows);
		for (gsize r = 0; r < rows; r++) {
			g_autoptr(GVariant) row = g_variant_get_child_value(value, r);
			json_array_add_element(json, array_node(row));
		}
		JsonNode *node = json_node_new(JSON_NODE_ARRAY);
		json_node_take_array(node, json);
		return node;
	}
	/* Ints, bools, strings and every other type: json-glib's mapping. */
	return json_gvariant_serialize(value);
}

GBytes *idict__snapshot_render(IDict *dict)
{
	guint64 sequence = 0;
	g_autoptr(GVariant) entries = idict__store_snapshot(dict, &sequence);
	IDictStatus status;
	idict__store_status(dict, &status);

	g_autoptr(JsonBuilder) builder = json_builder_new();
	json_builder_begin_object(builder);
	json_builder_set_member_name(builder, "sequence");
	json_builder_add_int_value(builder, (gint64)sequence);
	json_builder_set_member_name(builder, "state");
	json_builder_add_string_value(builder, status.state);
	json_builder_set_member_name(builder, "values");
	json_builder_begin_object(builder);
	GVariantIter iter;
	const char *key;
	GVariant *boxed;
	gboolean writable;
	g_variant_iter_init(&iter, entries);
	while (g_variant_iter_next(&iter, "{&s(@vb)}", &key, &boxed, &writable)) {
		g_autoptr(GVariant) value = g_variant_get_variant(boxed);
		g_variant_unref(boxed);
		json_builder_set_member_name(builder, key);
		json_builder_add_value(builder, value_node(value));
	}
	json_builder_end_object(builder);
	json_builder_end_object(builder);

	g_autoptr(JsonNode) root = json_builder_get_root(builder);
	g_autoptr(JsonGenerator) generator = json_generator_new();
	json_generator_set_root(generator, root);
	gsize len = 0;
	char *text = json_generator_to_data(generator, &len);
	/* A newline at the end, like every other file of the mount. */
	text = g_realloc(text, len + 2);
	text[len] = '\n';
	text[len + 1] = '\0';
	return g_bytes_new_take(text, len + 1);
}
