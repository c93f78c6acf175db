/* signals.c - the opt-in helper that turns Ctrl-C into a clean stop.
 *
 * The library installs no signal handler unless asked.  When asked, it
 * blocks SIGINT, SIGTERM and SIGHUP in the calling thread (and so in the
 * threads it creates later) and takes them in a thread of its own with
 * sigwait(): no async-signal-safety concerns, no handler.  The first signal
 * asks the computation to stop (idict_terminate()); the second restores the
 * default action and re-raises it, so the process ends as if the helper had
 * not been there.
 */
#include "idict-private.h"

#include <pthread.h>
#include <signal.h>

static GMutex signals_lock;
static IDict *signals_dict;   /* protected by signals_lock; NULL once freed */
static gboolean signals_installed;

static void fill_signal_set(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGHUP);
}

static gpointer signal_thread(gpointer data)
{
	(void)data;
	sigset_t set;
	fill_signal_set(&set);
	for (unsigned count = 0;; count++) {
		int sig = 0;
		if (sigwait(&set, &sig) != 0)
			continue;
		if (count > 0) {
			/* The second signal: end the process by it. */
			signal(sig, SIG_DFL);
			sigset_t one;
			sigemptyset(&one);
			sigaddset(&one, sig);
			pthread_sigmask(SIG_UNBLOCK, &one, NULL);
			raise(sig);
			continue;
		}
		g_mutex_lock(&signals_lock);
		if (signals_dict) {
			g_info("signal %d: terminating (a second signal ends the process)", sig);
			idict_terminate(signals_dict);
		}
		g_mutex_unlock(&signals_lock);
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
		signals_dict = self;
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

void idict__signals_forget(IDict *self)
{
	g_mutex_lock(&signals_lock);
	if (signals_dict == self)
		signals_dict = NULL;
	g_mutex_unlock(&signals_lock);
}
