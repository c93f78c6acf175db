/* control.c - the computation's control state: pause, resume, terminate,
 * finished, and idict_wait().  An object of its own (IDictControl,
 * reference-counted) under its own lock, the control lock, a leaf: nothing
 * else is locked under it, so that idict_wait() can sleep on a condition
 * and ctl/ never waits for the store lock.  The signal thread holds a
 * reference (signals.c), so that it never needs the dictionary itself.
 */
#include "control.h"

struct _IDictControl {
	GMutex lock;     /* the control lock: everything below */
	GCond cond;      /* paused, terminated or detached changed */
	gboolean paused;
	gboolean terminated;
	gboolean finished;
	gboolean detached; /* its dictionary is freed */
	gint64 changed_us; /* the last pause, resume or terminate */
};

static void control_clear(gpointer mem)
{
	IDictControl *control = mem;
	g_mutex_clear(&control->lock);
	g_cond_clear(&control->cond);
}

IDictControl *idict__control_new(gint64 started_us)
{
	IDictControl *control = g_atomic_rc_box_new0(IDictControl);
	g_mutex_init(&control->lock);
	g_cond_init(&control->cond);
	control->changed_us = started_us;
	return control;
}

IDictControl *idict__control_ref(IDictControl *control)
{
	return g_atomic_rc_box_acquire(control);
}

void idict__control_unref(IDictControl *control)
{
	if (control)
		g_atomic_rc_box_release_full(control, control_clear);
}

void idict__control_detach(IDictControl *control)
{
	g_mutex_lock(&control->lock);
	control->detached = TRUE;
	g_mutex_unlock(&control->lock);
	idict__control_unref(control);
}

gboolean idict__control_terminate(IDictControl *control)
{
	g_mutex_lock(&control->lock);
	gboolean alive = !control->detached;
	control->terminated = TRUE;
	control->changed_us = g_get_real_time();
	g_cond_broadcast(&control->cond);
	g_mutex_unlock(&control->lock);
	return alive;
}

gboolean idict__control_terminated(IDictControl *control)
{
	g_mutex_lock(&control->lock);
	gboolean terminated = control->terminated;
	g_mutex_unlock(&control->lock);
	return terminated;
}

void idict__control_set_paused(IDictControl *control, gboolean paused)
{
	g_mutex_lock(&control->lock);
	control->paused = paused;
	control->changed_us = g_get_real_time();
	if (!paused)
		g_cond_broadcast(&control->cond);
	g_mutex_unlock(&control->lock);
}

gboolean idict__control_paused(IDictControl *control)
{
	g_mutex_lock(&control->lock);
	gboolean paused = control->paused;
	g_mutex_unlock(&control->lock);
	return paused;
}

gboolean idict__control_wait(IDictControl *control, double timeout)
{
	gint64 deadline = idict__deadline(timeout);
	g_mutex_lock(&control->lock);
	while (control->paused && !control->terminated) {
		if (deadline == G_MAXINT64)
			g_cond_wait(&control->cond, &control->lock);
		else if (!g_cond_wait_until(&control->cond, &control->lock, deadline))
			break;
	}
	gboolean go_on = !control->paused || control->terminated;
	g_mutex_unlock(&control->lock);
	return go_on;
}

void idict__control_finish(IDictControl *control)
{
	g_mutex_lock(&control->lock);
	control->finished = TRUE;
	g_mutex_unlock(&control->lock);
}

const char *idict__control_state(IDictControl *control, gint64 *changed_us)
{
	g_mutex_lock(&control->lock);
	const char *state = control->finished ? "finished"
		: control->terminated ? "terminating"
		: control->paused ? "paused" : "running";
	*changed_us = control->changed_us;
	g_mutex_unlock(&control->lock);
	return state;
}
