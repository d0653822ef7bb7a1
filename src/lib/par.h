/*
 * par.h - the one thread pool of training and scoring: a parallel loop
 * over index chunks taken from a shared counter, and a parallel loop over
 * blocks whose results are handed back in block order.  Neither lets the
 * thread count change a result: callers keep per-index (per-block)
 * results and reduce them in index order.  Also: OpenBLAS kept to one
 * thread inside our own parallel loops, and a monotonic clock.
 */
#ifndef CF_PAR_H
#define CF_PAR_H

#include <stddef.h>

/*
 * Runs fn(arg, lo, hi, tid) over [0, n) in chunks of grain, on `threads`
 * threads (at most 64; fewer when there are fewer chunks) taking chunks
 * from a shared counter.  Which thread runs a chunk varies: fn must make
 * each index's result independent of that (per-thread scratch by tid).
 */
typedef void (*cf_range_fn)(void *arg, size_t lo, size_t hi, int tid);
void cf_par_for(int threads, size_t n, size_t grain, cf_range_fn fn, void *arg);

/*
 * Runs work(ctx, b, slot, tid) for blocks b = 0 .. nblocks-1 on `threads`
 * workers and emit(ctx, b, slot) on the calling thread in order of b; a
 * block's results live in slot b % ring until emitted, so at most `ring`
 * blocks are held.  A non-zero emit() stops the loop and is returned.
 */
int cf_par_ordered(size_t nblocks, int threads, int ring,
                   void (*work)(void *ctx, size_t b, int slot, int tid),
                   int (*emit)(void *ctx, size_t b, int slot), void *ctx);

/* The number of threads "0" (all cores) means, at least 1 and at most 64. */
int cf_par_threads(int threads);

/* Sets OpenBLAS to one thread (once): our loops parallelize, BLAS must not. */
void cf_blas_single(void);

/* Seconds on a monotonic clock. */
double cf_now(void);

#endif
