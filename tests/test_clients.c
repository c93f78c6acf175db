/* test_clients.c - what the server holds for its clients (clients.c):
 * texts counted once against the cap, reservations, and the sizes promised
 * to requesters. */
#include "clients.h"
#include "format.h"
#include "texts.h"
#include "testutil.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>


static IDictText *text_of(const char *s, guint64 version)
{
	return idict__text_new(g_bytes_new(s, strlen(s)), version);
}

static pid_t my_tid(void)
{
	return (pid_t)syscall(SYS_gettid);
}

/* A text held by many is counted once, and no more once released. */
START_TEST(test_clients_text_counted_once)
{
	IDictClients *clients = idict__clients_new(1 << 20);
	IDictText *text = idict__text_new(g_bytes_new_take(g_malloc0(1000), 1000), 1);
	for (int i = 0; i < 500; i++)
		ck_assert(idict__clients_hold(clients, text));
	guint64 used = idict__clients_used(clients);
	ck_assert_uint_ge(used, 1000);
	ck_assert_uint_lt(used, 2000);
	for (int i = 0; i < 499; i++)
		idict__clients_release(clients, text);
	ck_assert_uint_eq(idict__clients_used(clients), used);
	idict__clients_release(clients, text);
	ck_assert_uint_eq(idict__clients_used(clients), 0);
	idict__text_unref(text);
	idict__clients_free(clients);
}
END_TEST

/* What would pass the cap is refused and counts nothing. */
START_TEST(test_clients_cap)
{
	IDictClients *clients = idict__clients_new(64 * 1024);
	ck_assert_uint_eq(idict__clients_cap(clients), 64 * 1024);
	ck_assert(idict__clients_reserve(clients, 60 * 1024));
	ck_assert(!idict__clients_reserve(clients, 8 * 1024));
	IDictText *big = idict__text_new(g_bytes_new_take(g_malloc0(8 * 1024), 8 * 1024), 1);
	ck_assert(!idict__clients_hold(clients, big));
	ck_assert_uint_eq(idict__clients_used(clients), 60 * 1024);
	idict__clients_unreserve(clients, 60 * 1024);
	ck_assert(idict__clients_hold(clients, big));
	idict__clients_release(clients, big);
	ck_assert_uint_eq(idict__clients_used(clients), 0);
	/* NULL clients: nothing counted, nothing refused. */
	ck_assert(idict__clients_reserve(NULL, G_MAXSIZE));
	idict__clients_unreserve(NULL, G_MAXSIZE);
	idict__text_unref(big);
	idict__clients_free(clients);
}
END_TEST

/* A read at offset 0 asking exactly the length of a text told to the same
 * thread gets it; another length, another file: nothing. */
/* Another user's requests stop at three quarters of the cap; the owner's
 * (and the computation's, which never says) go on to the cap. */
START_TEST(test_clients_owner_quarter)
{
	IDictBudget *budget = idict__budget_new(1000);
	idict__budget_serve_guest(TRUE);
	ck_assert(idict__budget_reserve(budget, 700));
	ck_assert(!idict__budget_reserve(budget, 100)); /* 800 > 750 */
	ck_assert(idict__budget_reserve(budget, 50));
	idict__budget_serve_guest(FALSE);
	ck_assert(idict__budget_reserve(budget, 250));
	ck_assert(!idict__budget_reserve(budget, 1));
	ck_assert_uint_eq(idict__budget_used(budget), 1000);
	idict__budget_unreserve(budget, 1000);
	idict__budget_free(budget);
}
END_TEST

START_TEST(test_clients_promise_matches_length)
{
	IDictClients *clients = idict__clients_new(1 << 20);
	IDictText *told = text_of("0.25\n", 3);
	idict__clients_promise(clients, 20, my_tid(), told);
	IDictText *got = idict__clients_promised(clients, 20, my_tid(), 5);
	ck_assert_ptr_eq(got, told);
	idict__text_unref(got);
	ck_assert_ptr_null(idict__clients_promised(clients, 20, my_tid(), 6));
	ck_assert_ptr_null(idict__clients_promised(clients, 21, my_tid(), 5));
	/* A promise holds its text: counted. */
	ck_assert_uint_gt(idict__clients_used(clients), 5);
	idict__text_unref(told);
	idict__clients_free(clients);
}
END_TEST

/* Once the thread was served a text at least as new at offset 0, its
 * promise is spent (a read of the old text would go back); told again, it
 * holds again. */
START_TEST(test_clients_promise_spent)
{
	IDictClients *clients = idict__clients_new(1 << 20);
	IDictText *old = text_of("0.25\n", 3), *now = text_of("0.5\n", 4);
	idict__clients_promise(clients, 20, my_tid(), old);
	/* A newer one told, then the thread reads (5 bytes: not `now`): */
	idict__clients_promise(clients, 20, my_tid(), now);
	idict__clients_served(clients, 20, my_tid(), now);
	ck_assert_ptr_null(idict__clients_promised(clients, 20, my_tid(), 5));
	/* The same text served as told: spent too, until told again. */
	idict__clients_served(clients, 20, my_tid(), old);
	idict__clients_promise(clients, 20, my_tid(), now);
	ck_assert_ptr_null(idict__clients_promised(clients, 20, my_tid(), 5));
	IDictText *got = idict__clients_promised(clients, 20, my_tid(), 4);
	ck_assert_ptr_eq(got, now);
	idict__text_unref(got);
	idict__clients_served(clients, 20, my_tid(), now);
	ck_assert_ptr_null(idict__clients_promised(clients, 20, my_tid(), 4));
	idict__clients_promise(clients, 20, my_tid(), now);
	got = idict__clients_promised(clients, 20, my_tid(), 4);
	ck_assert_ptr_eq(got, now);
	idict__text_unref(got);
	idict__text_unref(old);
	idict__text_unref(now);
	idict__clients_free(clients);
}
END_TEST

typedef struct {
	GMutex lock;
	GCond cond;
	pid_t tid;
	gboolean done;
} Thread;

/* Tells its thread id, then waits until told to end. */
static gpointer tid_main(gpointer data)
{
	Thread *t = data;
	g_mutex_lock(&t->lock);
	t->tid = my_tid();
	g_cond_broadcast(&t->cond);
	while (!t->done)
		g_cond_wait(&t->cond, &t->lock);
	g_mutex_unlock(&t->lock);
	return NULL;
}

/* Requesters are processes: a promise to one thread holds for another of
 * the same process, not for another process; kernel threads are one
 * requester; senders outside our pid namespace (0) another. */
START_TEST(test_clients_promise_requesters)
{
	IDictClients *clients = idict__clients_new(1 << 20);
	IDictText *told = text_of("17\n", 1);
	Thread other = { .tid = 0 };
	g_mutex_init(&other.lock);
	g_cond_init(&other.cond);
	GThread *thread = g_thread_new("tid", tid_main, &other);
	g_mutex_lock(&other.lock);
	while (other.tid == 0)
		g_cond_wait(&other.cond, &other.lock);
	g_mutex_unlock(&other.lock);
	ck_assert_int_ne(other.tid, my_tid());
	/* Told to the other thread, read by this one: the same process. */
	idict__clients_promise(clients, 20, other.tid, told);
	IDictText *got = idict__clients_promised(clients, 20, my_tid(), 3);
	ck_assert_ptr_eq(got, told);
	idict__text_unref(got);
	g_mutex_lock(&other.lock);
	other.done = TRUE;
	g_cond_broadcast(&other.cond);
	g_mutex_unlock(&other.lock);
	g_thread_join(thread);
	g_mutex_clear(&other.lock);
	g_cond_clear(&other.cond);

	idict__clients_promise(clients, 21, getppid(), told);
	ck_assert_ptr_null(idict__clients_promised(clients, 21, my_tid(), 3));

	idict__clients_promise(clients, 22, 0, told);
	ck_assert_ptr_null(idict__clients_promised(clients, 22, my_tid(), 3));
	got = idict__clients_promised(clients, 22, 0, 3);
	ck_assert_ptr_eq(got, told);
	idict__text_unref(got);

	/* Two kernel threads, if this pid namespace shows any. */
	pid_t kthreads[2] = { 0, 0 };
	guint n = 0;
	g_autoptr(GDir) proc = g_dir_open("/proc", 0, NULL);
	const char *name;
	while (proc && n < 2 && (name = g_dir_read_name(proc)) != NULL) {
		if (!g_ascii_isdigit(name[0]))
			continue;
		g_autofree char *path = g_strdup_printf("/proc/%s/stat", name);
		g_autofree char *stat = NULL;
		unsigned long flags = 0;
		if (g_file_get_contents(path, &stat, NULL, NULL) && strrchr(stat, ')') &&
		    sscanf(strrchr(stat, ')') + 1, " %*c %*d %*d %*d %*d %*d %lu", &flags) == 1 &&
		    (flags & 0x00200000))
			kthreads[n++] = (pid_t)atoi(name);
	}
	if (n == 2) {
		idict__clients_promise(clients, 23, kthreads[0], told);
		got = idict__clients_promised(clients, 23, kthreads[1], 3);
		ck_assert_ptr_eq(got, told);
		idict__text_unref(got);
		ck_assert_ptr_null(idict__clients_promised(clients, 23, my_tid(), 3));
	}
	idict__text_unref(told);
	idict__clients_free(clients);
}
END_TEST

/* A promise lasts a second. */
START_TEST(test_clients_promise_expires)
{
	IDictClients *clients = idict__clients_new(1 << 20);
	IDictText *told = text_of("17\n", 1);
	idict__clients_promise(clients, 20, my_tid(), told);
	g_usleep(1100 * 1000);
	ck_assert_ptr_null(idict__clients_promised(clients, 20, my_tid(), 3));
	/* Forgotten, also for the cap, once any promise is made a second
	 * later. */
	idict__clients_promise(clients, 99, my_tid(), told);
	g_usleep(1100 * 1000);
	idict__clients_promise(clients, 98, my_tid(), told);
	guint64 one = idict__clients_used(clients);
	idict__text_unref(told);
	idict__clients_free(clients);
	ck_assert_uint_lt(one, 400);
}
END_TEST

/* At most a few texts per thread and file are remembered. */
START_TEST(test_clients_promises_bounded)
{
	IDictClients *clients = idict__clients_new(1 << 20);
	IDictText *texts[10];
	for (guint i = 0; i < G_N_ELEMENTS(texts); i++) {
		g_autofree char *s = g_strnfill(i + 1, 'x');
		texts[i] = text_of(s, i + 1);
		idict__clients_promise(clients, 20, my_tid(), texts[i]);
	}
	/* The newest are there, the oldest gone. */
	IDictText *got = idict__clients_promised(clients, 20, my_tid(), 10);
	ck_assert_ptr_eq(got, texts[9]);
	idict__text_unref(got);
	ck_assert_ptr_null(idict__clients_promised(clients, 20, my_tid(), 1));
	for (guint i = 0; i < G_N_ELEMENTS(texts); i++)
		idict__text_unref(texts[i]);
	idict__clients_free(clients);
}
END_TEST

/* ---- the kernel's requests (nfsd's threads; any tid will do here) ---- */

static struct stat stat_of(IDictText *text, gint64 mtime_s)
{
	struct stat st;
	memset(&st, 0, sizeof st);
	st.st_mode = S_IFREG | 0444;
	st.st_size = (off_t)idict__text_size(text);
	st.st_mtim.tv_sec = mtime_s;
	return st;
}

/* A kernel GETATTR tells a text; others within the quantum are told the
 * same, and every READ, whatever its thread, serves it; after the quantum
 * the current text is told. */
START_TEST(test_clients_kernel_told_stands)
{
	IDictClients *clients = idict__clients_new(1 << 20);
	/* No timing: a quantum that lasts, then one that is over at once. */
	idict__clients_set_kernel_times(clients, (gint64)3600 * G_USEC_PER_SEC, (gint64)3600 * G_USEC_PER_SEC, 0);
	IDictText *t1 = text_of("0.1\n", 1), *t2 = text_of("0.25\n", 2);
	struct stat st = stat_of(t1, 100);
	idict__clients_kernel_touch(clients, 20);
	idict__clients_kernel_attr(clients, 20, 1001, t1, &st);
	ck_assert_int_eq(st.st_size, 4);
	/* The value changed; another nfsd thread asks at once: T1 stands. */
	st = stat_of(t2, 200);
	idict__clients_kernel_attr(clients, 20, 1002, t2, &st);
	ck_assert_int_eq(st.st_size, 4);
	ck_assert_int_eq(st.st_mtim.tv_sec, 100);
	struct stat read_st;
	IDictText *got = idict__clients_kernel_told(clients, 20, &read_st);
	ck_assert_ptr_eq(got, t1);
	ck_assert_int_eq(read_st.st_size, 4);
	idict__text_unref(got);
	/* A quantum later, the current text is told. */
	idict__clients_set_kernel_times(clients, 0, (gint64)3600 * G_USEC_PER_SEC, 0);
	st = stat_of(t2, 200);
	idict__clients_kernel_attr(clients, 20, 1002, t2, &st);
	ck_assert_int_eq(st.st_size, 5);
	got = idict__clients_kernel_told(clients, 20, &read_st);
	ck_assert_ptr_eq(got, t2);
	ck_assert_int_eq(read_st.st_mtim.tv_sec, 200);
	idict__text_unref(got);
	/* Other files are apart. */
	ck_assert_ptr_null(idict__clients_kernel_told(clients, 21, &read_st));
	idict__text_unref(t1);
	idict__text_unref(t2);
	idict__clients_free(clients);
}
END_TEST

/* A local reader handed a newer text ends the quantum at once: a kernel
 * client never reads a value older than a local read that ended before. */
START_TEST(test_clients_kernel_never_behind_local)
{
	IDictClients *clients = idict__clients_new(1 << 20);
	idict__clients_set_kernel_times(clients, (gint64)3600 * G_USEC_PER_SEC, (gint64)3600 * G_USEC_PER_SEC, 0);
	IDictText *t1 = text_of("1\n", 1), *t2 = text_of("22\n", 2);
	struct stat st = stat_of(t1, 1);
	idict__clients_kernel_attr(clients, 20, 1001, t1, &st);
	idict__clients_local_read(clients, 20, t1); /* the same: T1 stands */
	st = stat_of(t2, 2);
	idict__clients_kernel_attr(clients, 20, 1001, t2, &st);
	ck_assert_int_eq(st.st_size, 2);
	idict__clients_local_read(clients, 20, t2);
	st = stat_of(t2, 2);
	idict__clients_kernel_attr(clients, 20, 1001, t2, &st);
	ck_assert_int_eq(st.st_size, 3);
	struct stat read_st;
	IDictText *got = idict__clients_kernel_told(clients, 20, &read_st);
	ck_assert_ptr_eq(got, t2);
	idict__text_unref(got);
	idict__text_unref(t1);
	idict__text_unref(t2);
	idict__clients_free(clients);
}
END_TEST

/* NFSv3: the GETATTR that follows a thread's READ reports what that READ
 * served, once; a READ with no recent told text serves the current text
 * and tells it. */
START_TEST(test_clients_kernel_post_read)
{
	IDictClients *clients = idict__clients_new(1 << 20);
	idict__clients_set_kernel_times(clients, 0, (gint64)3600 * G_USEC_PER_SEC, 0);
	IDictText *t1 = text_of("0.5\n", 1), *t2 = text_of("0.125\n", 2);
	struct stat read_st;
	ck_assert_ptr_null(idict__clients_kernel_told(clients, 20, &read_st));
	struct stat st1 = stat_of(t1, 1);
	idict__clients_kernel_read(clients, 20, 1001, t1, &st1, TRUE);
	IDictText *got = idict__clients_kernel_told(clients, 20, &read_st);
	ck_assert_ptr_eq(got, t1);
	idict__text_unref(got);
	/* After the quantum, the same thread's GETATTR right after its READ
	 * reports T1, though T2 is current. */
	idict__clients_kernel_read(clients, 20, 1001, t1, &st1, FALSE);
	struct stat st = stat_of(t2, 2);
	idict__clients_kernel_attr(clients, 20, 1001, t2, &st);
	ck_assert_int_eq(st.st_size, 4);
	ck_assert_int_eq(st.st_mtim.tv_sec, 1);
	/* ... once: the next is told the current text. */
	st = stat_of(t2, 2);
	idict__clients_kernel_attr(clients, 20, 1001, t2, &st);
	ck_assert_int_eq(st.st_size, 6);
	/* Another thread's READ, or a READ of another file, is no post-read. */
	idict__clients_kernel_read(clients, 21, 1001, t1, &st1, FALSE);
	st = stat_of(t2, 2);
	idict__clients_kernel_attr(clients, 20, 1001, t2, &st);
	ck_assert_int_eq(st.st_size, 6);
	idict__clients_kernel_read(clients, 20, 1002, t1, &st1, FALSE);
	idict__clients_kernel_forget_thread(clients, 1002);
	st = stat_of(t2, 2);
	idict__clients_kernel_attr(clients, 20, 1002, t2, &st);
	ck_assert_int_eq(st.st_size, 6);
	idict__text_unref(t1);
	idict__text_unref(t2);
	idict__clients_free(clients);
}
END_TEST

/* NFSv3, a READ's GETATTR held up past the post-read window: it still
 * reports what the READ served while that is the told text and no local
 * reader was handed a newer one; never an older text than the told one. */
START_TEST(test_clients_kernel_post_read_late)
{
	IDictClients *clients = idict__clients_new(1 << 20);
	/* No timing: the quantum and the short window over at once, the late
	 * window lasting. */
	idict__clients_set_kernel_times(clients, 0, -1, (gint64)3600 * G_USEC_PER_SEC);
	IDictText *t1 = text_of("0.5\n", 1), *t2 = text_of("0.125\n", 2);
	IDictText *t3 = text_of("0.0625\n", 3);
	struct stat st1 = stat_of(t1, 1), st2 = stat_of(t2, 2), st;
	idict__clients_kernel_read(clients, 20, 1001, t1, &st1, TRUE);
	st = stat_of(t2, 2);
	idict__clients_kernel_attr(clients, 20, 1001, t2, &st);
	ck_assert_int_eq(st.st_size, 4); /* T1's, though T2 is current */
	/* The told text moved on meanwhile (another thread): no older text. */
	idict__clients_kernel_read(clients, 20, 1001, t1, &st1, FALSE);
	idict__clients_kernel_read(clients, 20, 1002, t2, &st2, TRUE);
	st = stat_of(t3, 3);
	idict__clients_kernel_attr(clients, 20, 1001, t3, &st);
	ck_assert_int_eq(st.st_size, 7);
	/* A local reader was handed a newer text: the current one. */
	idict__clients_kernel_read(clients, 20, 1001, t3, &st, FALSE);
	IDictText *t4 = text_of("1\n", 4);
	idict__clients_local_read(clients, 20, t4);
	st = stat_of(t4, 4);
	idict__clients_kernel_attr(clients, 20, 1001, t4, &st);
	ck_assert_int_eq(st.st_size, 2);
	idict__text_unref(t1);
	idict__text_unref(t2);
	idict__text_unref(t3);
	idict__text_unref(t4);
	idict__clients_free(clients);
}
END_TEST

/* What is kept for the kernel counts against the cap; what does not fit is
 * not kept, and the kernel is then told current texts. */
START_TEST(test_clients_kernel_memory)
{
	IDictClients *clients = idict__clients_new(64 * 1024);
	IDictText *big = idict__text_new(g_bytes_new_take(g_malloc0(20000), 20000), 1);
	struct stat st = stat_of(big, 1);
	idict__clients_kernel_attr(clients, 20, 1001, big, &st);
	ck_assert_uint_gt(idict__clients_used(clients), 20000);
	ck_assert(idict__clients_reserve(clients, 40 * 1024));
	IDictText *other = idict__text_new(g_bytes_new_take(g_malloc0(30000), 30000), 1);
	st = stat_of(other, 1);
	idict__clients_kernel_attr(clients, 30, 1001, other, &st);
	ck_assert_int_eq(st.st_size, 30000);
	struct stat read_st;
	ck_assert_ptr_null(idict__clients_kernel_told(clients, 30, &read_st));
	idict__clients_unreserve(clients, 40 * 1024);
	idict__text_unref(big);
	idict__text_unref(other);
	idict__clients_free(clients);
}
END_TEST

/* Kernel threads are told apart from processes by their flags. */
START_TEST(test_clients_is_kernel)
{
	IDictClients *clients = idict__clients_new(1 << 20);
	ck_assert(!idict__clients_is_kernel(clients, my_tid()));
	ck_assert(!idict__clients_is_kernel(clients, 0));
	g_autofree char *comm = NULL;
	/* kthreadd is pid 2 in the initial pid namespace. */
	if (g_file_get_contents("/proc/2/comm", &comm, NULL, NULL) &&
	    strcmp(comm, "kthreadd\n") == 0)
		ck_assert(idict__clients_is_kernel(clients, 2));
	ck_assert(!idict__clients_is_kernel(clients, my_tid())); /* cached */
	idict__clients_free(clients);
}
END_TEST

static Suite *clients_suite(void)
{
	Suite *suite = suite_create("clients");
	TCase *tc = tcase_create("memory");
	tcase_add_test(tc, test_clients_text_counted_once);
	tcase_add_test(tc, test_clients_cap);
	tcase_add_test(tc, test_clients_owner_quarter);
	suite_add_tcase(suite, tc);
	tc = tcase_create("promises");
	tcase_add_test(tc, test_clients_promise_matches_length);
	tcase_add_test(tc, test_clients_promise_spent);
	tcase_add_test(tc, test_clients_promise_requesters);
	tcase_add_test(tc, test_clients_promise_expires);
	tcase_add_test(tc, test_clients_promises_bounded);
	tcase_set_timeout(tc, 20);
	suite_add_tcase(suite, tc);
	tc = tcase_create("kernel");
	tcase_add_test(tc, test_clients_kernel_told_stands);
	tcase_add_test(tc, test_clients_kernel_never_behind_local);
	tcase_add_test(tc, test_clients_kernel_post_read);
	tcase_add_test(tc, test_clients_kernel_post_read_late);
	tcase_add_test(tc, test_clients_kernel_memory);
	tcase_add_test(tc, test_clients_is_kernel);
	suite_add_tcase(suite, tc);
	return suite;
}

int main(void)
{
	return tu_run_suite(clients_suite());
}
