/* signals.c - the opt-in helper that turns Ctrl-C into a clean stop.
 *
 * The library installs no signal handler unless asked.  When asked, it
 * blocks SIGINT, SIGTERM and SIGHUP in the calling thread (and so in the
 * threads it creates later) and takes them in a thread of its own with
 * sigwait(): no async-signal-safety concerns, no handler.  The first signal
 * asks the computation to stop (idict_terminate()).  Signals within
 * REPEAT_WINDOW_US of the first are the same request: timeout(1) and batch
 * schedulers send SIGTERM to the process and then to its process group, a
 * closing terminal sends SIGHUP to every process of the session, and an
 * impatient user presses Ctrl-C twice; none of these means "drop the final
 * checkpoint".  A signal after the window restores the default action and
 * re-raises itself, so the process ends as if the helper had not been there
 * (a second Ctrl-C when the clean stop hangs).
 */
#include "control.h"
#include "store.h"

#include <pthread.h>
#include <signal.h>

static GMutex signals_lock;   /* protects signals_installed */
static gboolean signals_installed;
/* The control state of the dictionary the signal thread ends: a reference
 * of its own, so that the thread never touches the dictionary, which may
 * be freed first (then terminating it does nothing). */
static IDictControl *signals_control;

static void fill_signal_set(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGHUP);
}

/* Signals this soon after the first are the same request to stop. */
#define REPEAT_WINDOW_US G_USEC_PER_SEC

/* Ends the process by @sig, as its default action does. */
static void die_by(int sig)
{
	signal(sig, SIG_DFL);
	sigset_t one;
	sigemptyset(&one);
	sigaddset(&one, sig);
	pthread_sigmask(SIG_UNBLOCK, &one, NULL);
	raise(sig);
}

static gpointer signal_thread(gpointer data)
{
	(void)data;
	sigset_t set;
	fill_signal_set(&set);
	gint64 first_us = 0; /* when the first signal came; 0 before */
	for (;;) {
		int sig = 0;
		if (sigwait(&set, &sig) != 0)
			continue;
		gint64 now = g_get_monotonic_time();
		if (first_us != 0 && now - first_us >= REPEAT_WINDOW_US) {
			die_by(sig);
			continue;
		}
		if (first_us != 0) {
			g_info("signal %d again within %d ms of the first: the same request to stop",
			       sig, (int)(REPEAT_WINDOW_US / 1000));
			continue;
		}
		first_us = now;
		if (idict__control_terminate(signals_control))
			g_info("signal %d: terminating (a signal more than %d ms later ends the "
			       "process)",
			       sig, (int)(REPEAT_WINDOW_US / 1000));
	}
	return NULL;
}

gboolean idict_terminate_on_signals(IDict *self, GError **error)
{
	g_return_val_if_fail(self != NULL, FALSE);
	g_mutex_lock(&signals_lock);
	gboolean already = signals_installed;
	if (!already) {
		signals_installed = TRUE;
		signals_control = idict__control_ref(idict__store_control(self));
	}
	g_mutex_unlock(&signals_lock);
	if (already) {
		g_set_error(error, IDICT_ERROR, IDICT_ERROR_FAILED,
			    "idict_terminate_on_signals() was already called in this process");
		return FALSE;
	}
	sigset_t set;
	fill_signal_set(&set);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	g_thread_unref(g_thread_new("idict-signals", signal_thread, NULL));
	return TRUE;
}
