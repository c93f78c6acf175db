/* texts.c - texts rendered for clients, and the budget (see texts.h). */
#include "texts.h"

#include <stdatomic.h>
#include <stdint.h>

static void text_clear(gpointer mem)
{
	IDictText *text = mem;
	g_bytes_unref(text->bytes);
}

IDictText *idict__text_new(GBytes *bytes, guint64 version)
{
	IDictText *text = g_atomic_rc_box_new0(IDictText);
	text->bytes = bytes;
	text->version = version;
	return text;
}

IDictText *idict__text_ref(IDictText *text)
{
	return g_atomic_rc_box_acquire(text);
}

void idict__text_unref(IDictText *text)
{
	if (text)
		g_atomic_rc_box_release_full(text, text_clear);
}

gsize idict__text_size(const IDictText *text)
{
	return g_bytes_get_size(text->bytes);
}

struct _IDictBudget {
	guint64 cap;
	atomic_uint_least64_t used; /* bytes reserved */
};

IDictBudget *idict__budget_new(guint64 cap)
{
	IDictBudget *budget = g_new0(IDictBudget, 1);
	budget->cap = cap;
	atomic_init(&budget->used, 0);
	return budget;
}

void idict__budget_free(IDictBudget *budget)
{
	g_free(budget);
}

guint64 idict__budget_cap(IDictBudget *budget)
{
	return budget->cap;
}

guint64 idict__budget_used(IDictBudget *budget)
{
	return atomic_load(&budget->used);
}

/* Set by the serving thread for the request it serves (fs.c); FALSE on
 * every other thread (the computation's). */
static _Thread_local gboolean serving_guest;

void idict__budget_serve_guest(gboolean guest)
{
	serving_guest = guest;
}

gboolean idict__budget_reserve(IDictBudget *budget, gsize bytes)
{
	if (budget == NULL)
		return TRUE;
	guint64 limit = serving_guest ? budget->cap - budget->cap / 4 : budget->cap;
	uint_least64_t used = atomic_load(&budget->used);
	do {
		if (used + bytes > limit)
			return FALSE;
	} while (!atomic_compare_exchange_weak(&budget->used, &used, used + bytes));
	return TRUE;
}

void idict__budget_unreserve(IDictBudget *budget, gsize bytes)
{
	if (budget != NULL && bytes > 0)
		atomic_fetch_sub(&budget->used, bytes);
}
