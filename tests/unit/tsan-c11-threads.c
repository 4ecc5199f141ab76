/*
 * C11 threads over POSIX threads, linked into the tests of a
 * ThreadSanitizer build only (Makefile.am).  librdkafka makes its threads
 * with thrd_create and locks with mtx_lock; glibc implements those without
 * going through the pthread functions that gcc 12's ThreadSanitizer
 * intercepts, so it never learns of librdkafka's threads (whose first
 * malloc then crashes) nor of their locks.  These definitions, in the
 * executable, take the place of glibc's for librdkafka too.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <threads.h>

struct start {
	thrd_start_t fn;
	void *arg;
};

static int
status_of(int rc)
{
	switch (rc) {
	case 0:
		return thrd_success;
	case ENOMEM:
		return thrd_nomem;
	case ETIMEDOUT:
		return thrd_timedout;
	case EBUSY:
		return thrd_busy;
	default:
		return thrd_error;
	}
}

static void *
trampoline(void *p)
{
	struct start s = *(struct start *)p;

	free(p);
	return (void *)(intptr_t)s.fn(s.arg);
}

int
thrd_create(thrd_t *thr, thrd_start_t fn, void *arg)
{
	struct start *s = malloc(sizeof(*s));
	int rc;

	if (s == NULL)
		return thrd_nomem;
	s->fn = fn;
	s->arg = arg;
	rc = pthread_create((pthread_t *)thr, NULL, trampoline, s);
	if (rc != 0)
		free(s);
	return status_of(rc);
}

int
thrd_join(thrd_t thr, int *res)
{
	void *value;
	int rc = pthread_join((pthread_t)thr, &value);

	if (rc == 0 && res != NULL)
		*res = (int)(intptr_t)value;
	return status_of(rc);
}

int
mtx_init(mtx_t *m, int type)
{
	pthread_mutexattr_t attr;
	int rc;

	pthread_mutexattr_init(&attr);
	if (type & mtx_recursive)
		pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
	rc = pthread_mutex_init((pthread_mutex_t *)m, &attr);
	pthread_mutexattr_destroy(&attr);
	return status_of(rc);
}

int
mtx_lock(mtx_t *m)
{
	return status_of(pthread_mutex_lock((pthread_mutex_t *)m));
}

int
mtx_trylock(mtx_t *m)
{
	return status_of(pthread_mutex_trylock((pthread_mutex_t *)m));
}

int
mtx_unlock(mtx_t *m)
{
	return status_of(pthread_mutex_unlock((pthread_mutex_t *)m));
}

void
mtx_destroy(mtx_t *m)
{
	pthread_mutex_destroy((pthread_mutex_t *)m);
}

int
cnd_init(cnd_t *c)
{
	return status_of(pthread_cond_init((pthread_cond_t *)c, NULL));
}

int
cnd_signal(cnd_t *c)
{
	return status_of(pthread_cond_signal((pthread_cond_t *)c));
}

int
cnd_broadcast(cnd_t *c)
{
	return status_of(pthread_cond_broadcast((pthread_cond_t *)c));
}

int
cnd_wait(cnd_t *c, mtx_t *m)
{
	return status_of(pthread_cond_wait((pthread_cond_t *)c, (pthread_mutex_t *)m));
}

int
cnd_timedwait(cnd_t *restrict c, mtx_t *restrict m, const struct timespec *restrict ts)
{
	return status_of(pthread_cond_timedwait((pthread_cond_t *)c, (pthread_mutex_t *)m, ts));
}

void
cnd_destroy(cnd_t *c)
{
	pthread_cond_destroy((pthread_cond_t *)c);
}

void
call_once(once_flag *flag, void (*fn)(void))
{
	pthread_once((pthread_once_t *)flag, fn);
}
