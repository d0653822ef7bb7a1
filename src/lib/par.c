/*
 * par.c - the thread pool (par.h).
 */
#include "par.h"
#include "util.h"

#include <cblas.h>
#include <pthread.h>
#include <stdlib.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------- chunked loop */

struct loop {
	cf_range_fn fn;
	void *arg;
	size_t n, grain;
	atomic_size_t next;
};

struct loop_thread {
	struct loop *l;
	int tid;
};

static void *
loop_main(void *a)
{
	struct loop_thread *t = a;
	struct loop *l = t->l;

	for (;;) {
		size_t lo = atomic_fetch_add(&l->next, l->grain);
		if (lo >= l->n)
			break;
		size_t hi = lo + l->grain < l->n ? lo + l->grain : l->n;
		l->fn(l->arg, lo, hi, t->tid);
	}
	return NULL;
}

void
cf_par_for(int threads, size_t n, size_t grain, cf_range_fn fn, void *arg)
{
	struct loop l = {fn, arg, n, grain ? grain : 1, 0};
	struct loop_thread t[64];
	pthread_t th[64];
	int nt = threads < 1 ? 1 : threads > 64 ? 64 : threads;

	atomic_init(&l.next, 0);
	if ((size_t)nt > (n + l.grain - 1) / l.grain)
		nt = (int)((n + l.grain - 1) / l.grain);
	if (nt <= 1) {
		for (size_t lo = 0; lo < n; lo += l.grain)
			fn(arg, lo, lo + l.grain < n ? lo + l.grain : n, 0);
		return;
	}
	for (int i = 0; i < nt; i++) {
		t[i].l = &l;
		t[i].tid = i;
		if (i > 0 && pthread_create(&th[i], NULL, loop_main, &t[i]) != 0)
			cf_die("cannot create a thread:");
	}
	loop_main(&t[0]);
	for (int i = 1; i < nt; i++)
		pthread_join(th[i], NULL);
}

/* ------------------------------------------------------- ordered blocks */

struct ordered {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	size_t nblocks, next, emitted;
	int ring, stop;
	unsigned char *ready;
	void (*work)(void *ctx, size_t b, int slot, int tid);
	void *ctx;
};

struct ordered_worker {
	struct ordered *p;
	int tid;
};

static void *
ordered_main(void *arg)
{
	struct ordered_worker *wk = arg;
	struct ordered *p = wk->p;

	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (!p->stop && p->next < p->nblocks && p->next >= p->emitted + p->ring)
			pthread_cond_wait(&p->cv, &p->mu);
		if (p->stop || p->next >= p->nblocks)
			break;
		size_t b = p->next++;
		pthread_mutex_unlock(&p->mu);
		p->work(p->ctx, b, (int)(b % p->ring), wk->tid);
		pthread_mutex_lock(&p->mu);
		p->ready[b % p->ring] = 1;
		pthread_cond_broadcast(&p->cv);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

int
cf_par_ordered(size_t nblocks, int threads, int ring,
               void (*work)(void *ctx, size_t b, int slot, int tid),
               int (*emit)(void *ctx, size_t b, int slot), void *ctx)
{
	int rc = 0;

	if (threads <= 1) {
		for (size_t b = 0; b < nblocks && rc == 0; b++) {
			work(ctx, b, 0, 0);
			rc = emit(ctx, b, 0);
		}
		return rc;
	}
	struct ordered p = {.nblocks = nblocks, .ring = ring, .work = work, .ctx = ctx};
	pthread_t *th = cf_xmalloc((size_t)threads * sizeof *th);
	struct ordered_worker *wk = cf_xmalloc((size_t)threads * sizeof *wk);
	int started = 0;

	pthread_mutex_init(&p.mu, NULL);
	pthread_cond_init(&p.cv, NULL);
	p.ready = cf_xcalloc((size_t)ring, 1);
	for (int t = 0; t < threads; t++) {
		wk[t].p = &p;
		wk[t].tid = t;
		if (pthread_create(&th[t], NULL, ordered_main, &wk[t]) != 0)
			cf_die("cannot start a thread:");
		started++;
	}
	for (size_t b = 0; b < nblocks && rc == 0; b++) {
		int slot = (int)(b % ring);
		pthread_mutex_lock(&p.mu);
		while (!p.ready[slot])
			pthread_cond_wait(&p.cv, &p.mu);
		pthread_mutex_unlock(&p.mu);
		rc = emit(ctx, b, slot);
		pthread_mutex_lock(&p.mu);
		p.ready[slot] = 0;
		p.emitted++;
		if (rc != 0)
			p.stop = 1;
		pthread_cond_broadcast(&p.cv);
		pthread_mutex_unlock(&p.mu);
	}
	for (int t = 0; t < started; t++)
		pthread_join(th[t], NULL);
	pthread_mutex_destroy(&p.mu);
	pthread_cond_destroy(&p.cv);
	free(p.ready);
	free(th);
	free(wk);
	return rc;
}

/* ------------------------------------------------------- the rest */

int
cf_par_threads(int threads)
{
	int t = threads > 0 ? threads : (int)sysconf(_SC_NPROCESSORS_ONLN);

	return t < 1 ? 1 : t > 64 ? 64 : t;
}

static pthread_once_t blas_once = PTHREAD_ONCE_INIT;

static void
blas_one(void)
{
	openblas_set_num_threads(1);
}

void
cf_blas_single(void)
{
	pthread_once(&blas_once, blas_one);
}

double
cf_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}
