/*
 * train.c - background fine-tuning for the server (see train.h).  One
 * worker thread takes jobs from a bounded queue: a job holds its ratings
 * (already split into train and validation), a handle on the model it
 * starts from (so that version stays mapped while it trains) and its
 * reserved version name.
 */
#include "train.h"
#include "dups.h"
#include "frame.h"
#include "mf.h"
#include "ratings.h"
#include "util.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct job {
	struct job *next;
	cf_served *from;
	char name[CF_MODEL_NAME_MAX + 1];
	cf_ratings train, valid;
	cf_mf_params p;
};

struct cf_trainer {
	cf_registry *g;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t worker;
	struct job *head, *tail;
	int pending;            /* queued + running */
	int max_jobs;
	int stop;
	int training;           /* the worker is inside cf_mf_train */
	int publishing;         /* the worker is writing a version */
	char running[CF_MODEL_NAME_MAX + 1];    /* its job's name */
	const struct cf_meta *items;            /* fm's --items, or NULL */
};

/* ------------------------------------------------------------- worker */

static void
job_free(struct job *j)
{
	cf_served_put(j->from);
	cf_ratings_free(&j->train);
	cf_ratings_free(&j->valid);
	free(j);
}

static void
run(cf_trainer *t, struct job *j)
{
	char err[600];
	struct timespec t0, t1;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	cf_model *m = cf_mf_train(&j->train, j->valid.n ? &j->valid : NULL, &j->p, j->from->m,
	                          err, sizeof err);
	if (!m) {
		cf_warn("train %s from %s: failed: %s", j->name, j->from->name, err);
		cf_registry_unreserve(t->g, j->name);
		return;
	}
	/* Shutting down meanwhile: nothing is published (the caller may be exiting). */
	pthread_mutex_lock(&t->mu);
	int stop = t->stop;
	t->training = 0;
	t->publishing = !stop;
	pthread_mutex_unlock(&t->mu);
	if (stop) {
		cf_warn("train %s from %s: trained, not published: shutting down", j->name,
		        j->from->name);
		cf_registry_unreserve(t->g, j->name);
		cf_model_free(m);
		return;
	}
	if (cf_registry_publish(t->g, j->name, m, j->from->name, err, sizeof err) < 0) {
		cf_warn("train %s from %s: cannot publish: %s", j->name, j->from->name, err);
	} else {
		const char *e = cf_schema_get(m->attrs, "epochs_run");
		const char *v = cf_schema_get(m->attrs, "valid_rmse");
		if (!v)
			v = cf_schema_get(m->attrs, "valid_ndcg10");
		clock_gettime(CLOCK_MONOTONIC, &t1);
		cf_warn("train %s from %s: %zu ratings (%zu validate), %s epochs%s%s, %.0f ms: "
		        "published", j->name, j->from->name, j->train.n, j->valid.n,
		        e ? e : "?", v ? ", validation " : "", v ? v : "",
		        (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6);
	}
	cf_model_free(m);
}

static void *
worker(void *arg)
{
	cf_trainer *t = arg;

	pthread_mutex_lock(&t->mu);
	for (;;) {
		while (!t->head && !t->stop)
			pthread_cond_wait(&t->cv, &t->mu);
		struct job *j = t->head;
		if (!j)
			break;          /* stopping, and the queue is drained */
		t->head = j->next;
		if (!t->head)
			t->tail = NULL;
		if (t->stop) {          /* cancelled by cf_trainer_stop meanwhile */
			pthread_mutex_unlock(&t->mu);
			cf_registry_unreserve(t->g, j->name);
			job_free(j);
			pthread_mutex_lock(&t->mu);
			t->pending--;
			continue;
		}
		t->training = 1;
		snprintf(t->running, sizeof t->running, "%s", j->name);
		pthread_mutex_unlock(&t->mu);
		run(t, j);
		job_free(j);
		pthread_mutex_lock(&t->mu);
		t->training = t->publishing = 0;
		t->running[0] = 0;
		t->pending--;
		pthread_cond_broadcast(&t->cv);
	}
	pthread_mutex_unlock(&t->mu);
	return NULL;
}

cf_trainer *
cf_trainer_new(cf_registry *g, int max_jobs)
{
	cf_trainer *t = cf_xcalloc(1, sizeof *t);

	t->g = g;
	t->max_jobs = max_jobs > 0 ? max_jobs : 1;
	pthread_mutex_init(&t->mu, NULL);
	pthread_cond_init(&t->cv, NULL);
	if (pthread_create(&t->worker, NULL, worker, t) != 0)
		cf_die("cannot start the training thread:");
	return t;
}

void
cf_trainer_set_items(cf_trainer *t, const struct cf_meta *items)
{
	t->items = items;
}

int
cf_trainer_stop(cf_trainer *t)
{
	struct job *q;
	char names[600];
	size_t n = 0;
	int nq = 0;

	pthread_mutex_lock(&t->mu);
	t->stop = 1;
	q = t->head;
	t->head = t->tail = NULL;
	for (struct job *j = q; j; j = j->next, nq++)
		if (n < sizeof names - 1)
			n += (size_t)snprintf(names + n, sizeof names - n, "%s%s", nq ? ", " : "",
			                      j->name);
	t->pending -= nq;
	pthread_cond_broadcast(&t->cv);
	pthread_mutex_unlock(&t->mu);
	if (nq)
		cf_warn("cancelled %d queued training job%s: %s", nq, nq == 1 ? "" : "s", names);
	for (struct job *j = q, *nx; j; j = nx) {
		nx = j->next;
		cf_registry_unreserve(t->g, j->name);
		job_free(j);
	}
	pthread_mutex_lock(&t->mu);
	if (t->publishing)
		cf_warn("waiting for training job %s to finish writing its version", t->running);
	while (t->publishing)
		pthread_cond_wait(&t->cv, &t->mu);
	int busy = t->training;
	if (busy)
		cf_warn("abandoning training job %s: nothing of it is written", t->running);
	pthread_mutex_unlock(&t->mu);
	return busy;
}

void
cf_trainer_free(cf_trainer *t)
{
	if (!t)
		return;
	cf_trainer_stop(t);
	pthread_mutex_lock(&t->mu);
	pthread_cond_broadcast(&t->cv);
	pthread_mutex_unlock(&t->mu);
	pthread_join(t->worker, NULL);
	pthread_cond_destroy(&t->cv);
	pthread_mutex_destroy(&t->mu);
	free(t);
}

int
cf_trainer_pending(cf_trainer *t)
{
	pthread_mutex_lock(&t->mu);
	int n = t->pending;
	pthread_mutex_unlock(&t->mu);
	return n;
}

/* --------------------------------------------------------------- jobs */

/*
 * keep[j] = 1 for the rows that survive the duplicate policy mf-fit uses
 * (dups.h: latest; the rows have no times of their own, so the last row
 * of a pair); returns how many.  Pairs are numbered through a temporary
 * ratings set.
 */
static size_t
last_of_pairs(const char *const *users, const char *const *items, size_t n,
              unsigned char *keep)
{
	uint64_t *drop = cf_xcalloc(n / 64 + 1, sizeof *drop);
	size_t dropped;
	cf_ratings rs;

	cf_ratings_init(&rs, 0);
	for (size_t j = 0; j < n; j++)
		cf_ratings_add(&rs, cf_idmap_intern(rs.users, users[j], strlen(users[j]), NULL),
		               cf_idmap_intern(rs.items, items[j], strlen(items[j]), NULL), 0, 0);
	dropped = cf_dups_mark(&rs, CF_DUPS_LATEST, drop);
	for (size_t j = 0; j < n; j++)
		keep[j] = !(drop[j / 64] >> (j % 64) & 1);
	free(drop);
	cf_ratings_free(&rs);
	return n - dropped;
}

static void
add(cf_ratings *rs, const char *user, const char *item, float r, int64_t ts)
{
	uint32_t u = cf_idmap_intern(rs->users, user, strlen(user), NULL);
	uint32_t i = cf_idmap_intern(rs->items, item, strlen(item), NULL);

	cf_ratings_add(rs, u, i, r, ts);
}

static void
set_scale(cf_ratings *rs, const cf_model *m)
{
	rs->has_scale = m->has_scale;
	rs->rating_min = m->rating_min;
	rs->rating_max = m->rating_max;
}

int
cf_trainer_submit(cf_trainer *t, cf_served *from, const char *const *users,
                  const char *const *items, const float *r, size_t n,
                  const cf_train_spec *spec, char *name, size_t namelen,
                  char *err, size_t errlen)
{
	const cf_model *m = from->m;
	cf_mf_params base;
	unsigned char *keep;
	size_t kept, ntrain, seen = 0;
	int64_t now = (int64_t)time(NULL);

	if (cf_mf_params_of(m, &base) < 0) {
		snprintf(err, errlen, "model '%s' has algorithm '%s', which cannot be trained",
		         from->name, m->algo);
		cf_served_put(from);
		return 400;
	}
	keep = cf_xmalloc(n ? n : 1);
	kept = last_of_pairs(users, items, n, keep);
	/* As Keras' validation_split: the last fraction of the data validates. */
	ntrain = (size_t)((double)kept * (1.0 - spec->valid_split));
	if (ntrain == 0) {
		snprintf(err, errlen, "%zu distinct ratings leave none to train on with "
		         "validation_split=%g", kept, spec->valid_split);
		free(keep);
		cf_served_put(from);
		return 400;
	}

	struct job *j = cf_xcalloc(1, sizeof *j);
	j->from = from;
	cf_ratings_init(&j->train, 1);
	cf_ratings_init(&j->valid, 1);
	set_scale(&j->train, m);
	set_scale(&j->valid, m);
	for (size_t x = 0; x < n; x++) {
		if (!keep[x])
			continue;
		add(seen++ < ntrain ? &j->train : &j->valid, users[x], items[x], r[x], now);
	}
	free(keep);

	/* The served model's algorithm, rank and hyper-parameters. */
	cf_mf_params *p = &j->p;
	*p = base;
	if (spec->epochs > 0)
		p->epochs = spec->epochs;
	if (p->epochs > CF_TRAIN_EPOCHS_MAX)
		p->epochs = CF_TRAIN_EPOCHS_MAX;
	p->seed = spec->seed;
	p->threads = spec->threads > 0 ? spec->threads : 1;
	p->patience = j->valid.n ? spec->patience : 0;
	if (p->algo == CF_FM) {
		p->patience = 0;        /* fm averages its samples: no early stopping */
		p->items_meta = t->items;
	}
	p->quiet = 1;
	p->log = NULL;

	pthread_mutex_lock(&t->mu);
	int busy = t->stop || t->pending >= t->max_jobs;
	if (!busy)
		t->pending++;   /* counted before the name exists: the queue stays bounded */
	pthread_mutex_unlock(&t->mu);
	if (busy) {
		snprintf(err, errlen, "%s", t->stop ? "shutting down" :
		         "too many training jobs queued: try again later");
		job_free(j);
		return 503;
	}
	if (cf_registry_reserve(t->g, from->name, j->name, sizeof j->name) < 0) {
		snprintf(err, errlen, "model '%s': no version name is left for it", from->name);
		job_free(j);
		pthread_mutex_lock(&t->mu);
		t->pending--;
		pthread_mutex_unlock(&t->mu);
		return 400;
	}
	pthread_mutex_lock(&t->mu);
	if (t->stop) {          /* stopped since the check above */
		t->pending--;
		pthread_mutex_unlock(&t->mu);
		snprintf(err, errlen, "shutting down");
		cf_registry_unreserve(t->g, j->name);
		job_free(j);
		return 503;
	}
	snprintf(name, namelen, "%s", j->name);
	if (t->tail)
		t->tail->next = j;
	else
		t->head = j;
	t->tail = j;
	pthread_cond_broadcast(&t->cv);
	pthread_mutex_unlock(&t->mu);
	return 0;
}
