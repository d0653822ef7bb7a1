/*
 * train.h - the server's /train: fine-tuning a served model on new
 * ratings in the background and publishing the result as a new version
 * (models.h).  The model is warm-started from the served one
 * (cf_mf_train's init: users and items it knows start from their
 * factors), trained with the same algorithm and rank, and stopped early
 * on a validation split of the new ratings.  Jobs run one at a time on
 * threads of their own, so serving is never blocked; the queue is
 * bounded.
 */
#ifndef CF_SERVE_TRAIN_H
#define CF_SERVE_TRAIN_H

#include <stddef.h>
#include <stdint.h>

#include "models.h"

typedef struct cf_trainer cf_trainer;

typedef struct cf_train_spec {
	double valid_split;     /* the last fraction of the ratings validates, in [0, 1) */
	int patience;           /* epochs without improvement before stopping (0: never) */
	int epochs;             /* 0: the model's own (both capped at CF_TRAIN_EPOCHS_MAX) */
	int threads;            /* training threads */
	uint64_t seed;
} cf_train_spec;

/* The most epochs a job runs (its model's own count, or epochs=, is capped). */
#define CF_TRAIN_EPOCHS_MAX 200

/* max_jobs: jobs queued or running at once (more are refused). */
cf_trainer *cf_trainer_new(cf_registry *g, int max_jobs);
/*
 * The movies' metadata (serve --movies; read-only, outliving the trainer)
 * that fm models retrain with: their genres and year groups (mf-fit
 * --items).  Call before the first job.
 */
struct cf_meta;
void cf_trainer_set_items(cf_trainer *t, const struct cf_meta *items);
/*
 * Shutting down: no job is taken any more, the queued ones are cancelled
 * (their names given back; logged), and a job that is publishing (writing
 * its file) is waited for.  Returns 1 if a job is still training: it
 * cannot be interrupted (cf_mf_train has no hook), so the caller exits
 * the process without cf_trainer_free() or freeing the registry; the job
 * dies with it and leaves nothing (its version is written only when
 * training is done).  0 if no job runs.
 */
int cf_trainer_stop(cf_trainer *t);
/* Stops (as cf_trainer_stop) and frees t; waits for a job still training. */
void cf_trainer_free(cf_trainer *t);

/*
 * Queues a job that fine-tunes `from` (a handle; the job takes this
 * reference) on n ratings: users[j] rated items[j] (raw ids) with r[j].
 * Duplicate (user, item) pairs keep the last.  Writes the new version's
 * name to name.  Returns 0; or, with a reason in err (the handle is then
 * released): 400 (too few ratings to split), 503 (queue full, or
 * shutting down).
 */
int cf_trainer_submit(cf_trainer *t, cf_served *from, const char *const *users,
                      const char *const *items, const float *r, size_t n,
                      const cf_train_spec *spec, char *name, size_t namelen,
                      char *err, size_t errlen);

/* Jobs queued or running now. */
int cf_trainer_pending(cf_trainer *t);

#endif
