/* control.c - the computation's control state: pause, resume, terminate,
 * finished, and idict_wait().  Under the control lock only (a leaf: nothing
 * else is locked under it), so that idict_wait() can sleep on a condition
 * and ctl/ never waits for the store lock.
 */
#include "store-internal.h"

void idict_terminate(IDict *self)
{
	g_return_if_fail(self != NULL);
	g_mutex_lock(&self->control_lock);
	self->terminated = TRUE;
	self->control_changed_us = g_get_real_time();
	g_cond_broadcast(&self->control_cond);
	g_mutex_unlock(&self->control_lock);
}

gboolean idict_terminated(IDict *self)
{
	g_return_val_if_fail(self != NULL, TRUE);
	g_mutex_lock(&self->control_lock);
	gboolean terminated = self->terminated;
	g_mutex_unlock(&self->control_lock);
	return terminated;
}

void idict_pause(IDict *self)
{
	g_return_if_fail(self != NULL);
	g_mutex_lock(&self->control_lock);
	self->paused = TRUE;
	self->control_changed_us = g_get_real_time();
	g_mutex_unlock(&self->control_lock);
}

void idict_resume(IDict *self)
{
	g_return_if_fail(self != NULL);
	g_mutex_lock(&self->control_lock);
	self->paused = FALSE;
	self->control_changed_us = g_get_real_time();
	g_cond_broadcast(&self->control_cond);
	g_mutex_unlock(&self->control_lock);
}

gboolean idict_paused(IDict *self)
{
	g_return_val_if_fail(self != NULL, FALSE);
	g_mutex_lock(&self->control_lock);
	gboolean paused = self->paused;
	g_mutex_unlock(&self->control_lock);
	return paused;
}

gboolean idict_wait(IDict *self, double timeout)
{
	g_return_val_if_fail(self != NULL, TRUE);
	gint64 deadline = idict__deadline(timeout);
	g_mutex_lock(&self->control_lock);
	while (self->paused && !self->terminated) {
		if (deadline == G_MAXINT64)
			g_cond_wait(&self->control_cond, &self->control_lock);
		else if (!g_cond_wait_until(&self->control_cond, &self->control_lock, deadline))
			break;
	}
	gboolean go_on = !self->paused || self->terminated;
	g_mutex_unlock(&self->control_lock);
	return go_on;
}


void idict__control_finish(IDict *self)
{
	g_mutex_lock(&self->control_lock);
	self->finished = TRUE;
	g_mutex_unlock(&self->control_lock);
}

const char *idict__control_state(IDict *self, gint64 *changed_us)
{
	g_mutex_lock(&self->control_lock);
	const char *state = self->finished ? "finished"
		: self->terminated ? "terminating"
		: self->paused ? "paused" : "running";
	*changed_us = self->control_changed_us;
	g_mutex_unlock(&self->control_lock);
	return state;
}
