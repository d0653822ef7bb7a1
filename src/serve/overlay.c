/*
 * overlay.c - users' ratings through the server (see overlay.h): a hash
 * table of users, each with its movies sorted by id for binary search.
 * Entries are never deleted (a removal is a state), so the item strings a
 * reader copied stay valid as long as the overlay.
 */
#include "overlay.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

struct user {
	char *id;
	size_t len;
	cf_ov_item *v;          /* sorted by (item_len, bytes) */
	size_t n, cap;
};

struct cf_overlay {
	cf_rlog *log;
	cf_ov_limits lim;
	pthread_mutex_t wmx;    /* one writer at a time */
	pthread_rwlock_t rw;    /* readers vs. the writer applying */
	struct user **tab;      /* open addressing, power-of-two size */
	size_t tcap, nusers;
};

static uint64_t
hash(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ULL;    /* FNV-1a */

	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
	return h;
}

static struct user **
slot(const cf_overlay *o, const char *id, size_t len)
{
	size_t i = (size_t)hash(id, len) & (o->tcap - 1);

	while (o->tab[i] && !(o->tab[i]->len == len && !memcmp(o->tab[i]->id, id, len)))
		i = (i + 1) & (o->tcap - 1);
	return &o->tab[i];
}

static struct user *
user_find(const cf_overlay *o, const char *id, size_t len)
{
	return o->tcap ? *slot(o, id, len) : NULL;
}

static struct user *
user_add(cf_overlay *o, const char *id, size_t len)
{
	struct user **s, *u;

	if (2 * (o->nusers + 1) > o->tcap) {
		struct user **old = o->tab;
		size_t ocap = o->tcap;
		o->tcap = ocap ? 2 * ocap : 64;
		o->tab = cf_xcalloc(o->tcap, sizeof *o->tab);
		for (size_t i = 0; i < ocap; i++)
			if (old[i])
				*slot(o, old[i]->id, old[i]->len) = old[i];
		free(old);
	}
	s = slot(o, id, len);
	if (*s)
		return *s;
	u = cf_xcalloc(1, sizeof *u);
	u->id = cf_xmalloc(len + 1);
	memcpy(u->id, id, len);
	u->id[len] = 0;
	u->len = len;
	*s = u;
	o->nusers++;
	return u;
}

static int
cmp_id(const char *a, size_t an, const char *b, size_t bn)
{
	if (an != bn)
		return an < bn ? -1 : 1;
	return memcmp(a, b, an);
}

/* The index of item in u, or where it would go (*found 0). */
static size_t
item_pos(const struct user *u, const char *item, size_t len, int *found)
{
	size_t lo = 0, hi = u->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = cmp_id(u->v[mid].item, u->v[mid].item_len, item, len);
		if (c == 0) {
			*found = 1;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = 0;
	return lo;
}

/* Applies r (under the write lock, or during replay). */
static void
apply(cf_overlay *o, const cf_rl_record *r)
{
	struct user *u = user_add(o, r->user, r->user_len);

	for (size_t j = 0; j < r->n; j++) {
		const cf_rl_entry *e = &r->e[j];
		int found;
		size_t at = item_pos(u, e->item, e->item_len, &found);
		if (!found) {
			if (u->n == u->cap) {
				u->cap = u->cap ? 2 * u->cap : 8;
				u->v = cf_xrealloc(u->v, u->cap * sizeof *u->v);
			}
			memmove(u->v + at + 1, u->v + at, (u->n - at) * sizeof *u->v);
			char *s = cf_xmalloc(e->item_len + 1);
			memcpy(s, e->item, e->item_len);
			s[e->item_len] = 0;
			u->v[at] = (cf_ov_item){.item = s, .item_len = e->item_len};
			u->n++;
		}
		cf_ov_item *it = &u->v[at];
		switch (e->kind) {
		case CF_RL_RATE: it->rated = 1; it->rating = e->rating; it->ts = r->ts; break;
		case CF_RL_UNRATE: it->rated = -1; it->rating = 0; it->ts = r->ts; break;
		case CF_RL_HIDE: it->hidden = 1; break;
		case CF_RL_UNHIDE: it->hidden = 0; break;
		}
	}
}

static int
replay_one(void *arg, const cf_rl_record *r, char *err, size_t errlen)
{
	(void)err;
	(void)errlen;
	apply(arg, r);
	return 0;
}

cf_overlay *
cf_overlay_open(const char *path, int readonly, const cf_ov_limits *lim, char *warn,
                size_t wlen, char *err, size_t errlen)
{
	cf_overlay *o = cf_xcalloc(1, sizeof *o);

	o->lim = *lim;
	pthread_mutex_init(&o->wmx, NULL);
	pthread_rwlock_init(&o->rw, NULL);
	if (!(o->log = cf_rlog_open(path, readonly, replay_one, o, warn, wlen, err, errlen))) {
		cf_overlay_free(o);
		return NULL;
	}
	return o;
}

void
cf_overlay_free(cf_overlay *o)
{
	if (!o)
		return;
	for (size_t i = 0; i < o->tcap; i++) {
		struct user *u = o->tab[i];
		if (!u)
			continue;
		for (size_t j = 0; j < u->n; j++)
			free((char *)u->v[j].item);
		free(u->v);
		free(u->id);
		free(u);
	}
	free(o->tab);
	cf_rlog_close(o->log);
	pthread_mutex_destroy(&o->wmx);
	pthread_rwlock_destroy(&o->rw);
	free(o);
}

/* Movies r adds to its user's overlay (not counting ones already there). */
static size_t
new_items(const cf_overlay *o, const cf_rl_record *r)
{
	const struct user *u = user_find(o, r->user, r->user_len);
	size_t add = 0;

	for (size_t j = 0; j < r->n; j++) {
		int found = 0;
		if (u)
			item_pos(u, r->e[j].item, r->e[j].item_len, &found);
		/* A movie named twice in r counts twice: a bound, not an exact count. */
		add += !found;
	}
	return add;
}

int
cf_overlay_add(cf_overlay *o, const cf_rl_record *r, char *err, size_t errlen)
{
	int rc = 0;

	pthread_mutex_lock(&o->wmx);
	/* Only writers change the table, and this one holds wmx: reading it is safe. */
	const struct user *u = user_find(o, r->user, r->user_len);
	size_t have = u ? u->n : 0, add = new_items(o, r);
	uint64_t size = cf_rlog_size(o->log), grow = cf_rl_size(r);
	if (have + add > o->lim.user_max && add > 0) {
		snprintf(err, errlen, "user has %zu movies rated or hidden through the server; "
		         "this request would pass the limit of %zu (--max-user-ratings)", have,
		         o->lim.user_max);
		rc = 409;
	} else if (size + grow > o->lim.log_max) {
		snprintf(err, errlen, "the ratings log is full (%llu bytes, --max-log-bytes %llu): "
		         "fold it into a model (make retrain) and start a new one",
		         (unsigned long long)size, (unsigned long long)o->lim.log_max);
		rc = 413;
	} else if (cf_rlog_append(o->log, r, err, errlen) < 0) {
		rc = 500;
	} else {
		pthread_rwlock_wrlock(&o->rw);
		apply(o, r);
		pthread_rwlock_unlock(&o->rw);
	}
	pthread_mutex_unlock(&o->wmx);
	return rc;
}

size_t
cf_overlay_get(cf_overlay *o, const char *user, size_t len, cf_ov_item **out)
{
	size_t n = 0;

	*out = NULL;
	pthread_rwlock_rdlock(&o->rw);
	const struct user *u = user_find(o, user, len);
	if (u && u->n) {
		n = u->n;
		*out = cf_xmalloc(n * sizeof **out);
		memcpy(*out, u->v, n * sizeof **out);
	}
	pthread_rwlock_unlock(&o->rw);
	return n;
}

void
cf_overlay_foreach(cf_overlay *o, cf_ov_each fn, void *arg)
{
	pthread_rwlock_rdlock(&o->rw);
	for (size_t i = 0; i < o->tcap; i++) {
		const struct user *u = o->tab[i];
		for (size_t j = 0; u && j < u->n; j++)
			fn(arg, u->id, u->len, &u->v[j]);
	}
	pthread_rwlock_unlock(&o->rw);
}

struct row {
	const struct user *u;
	const cf_ov_item *it;
};

static int
by_user_item(const void *x, const void *y)
{
	const struct row *a = x, *b = y;
	int c = strcmp(a->u->id, b->u->id);

	return c ? c : strcmp(a->it->item, b->it->item);
}

/* Every (user, movie) whose rating changed, sorted; *n of them. */
static struct row *
changed_rows(cf_overlay *o, size_t *n)
{
	size_t cnt = 0, cap = 0;
	struct row *v = NULL;

	for (size_t i = 0; i < o->tcap; i++)
		for (size_t j = 0; o->tab[i] && j < o->tab[i]->n; j++)
			if (o->tab[i]->v[j].rated != 0) {
				if (cnt == cap)
					v = cf_xrealloc(v, (cap = cap ? 2 * cap : 256) * sizeof *v);
				v[cnt++] = (struct row){o->tab[i], &o->tab[i]->v[j]};
			}
	if (cnt)
		qsort(v, cnt, sizeof *v, by_user_item);
	*n = cnt;
	return v;
}

int
cf_overlay_export(cf_overlay *o, FILE *out)
{
	size_t n;

	pthread_rwlock_rdlock(&o->rw);
	struct row *v = changed_rows(o, &n);
	fputs("userId,movieId,rating,timestamp\n", out);
	for (size_t j = 0; j < n; j++) {
		if (v[j].it->rated > 0)
			fprintf(out, "%s,%s,%.9g,%lld\n", v[j].u->id, v[j].it->item,
			        (double)v[j].it->rating, (long long)v[j].it->ts);
		else
			fprintf(out, "%s,%s,,%lld\n", v[j].u->id, v[j].it->item,
			        (long long)v[j].it->ts);
	}
	pthread_rwlock_unlock(&o->rw);
	free(v);
	return fflush(out) == 0 && !ferror(out) ? 0 : -1;
}

size_t
cf_overlay_ratings(cf_overlay *o, const char ***users, const char ***items, float **r)
{
	size_t n, m = 0;

	pthread_rwlock_rdlock(&o->rw);
	struct row *v = changed_rows(o, &n);
	*users = cf_xmalloc((n + 1) * sizeof **users);
	*items = cf_xmalloc((n + 1) * sizeof **items);
	*r = cf_xmalloc((n + 1) * sizeof **r);
	for (size_t j = 0; j < n; j++)
		if (v[j].it->rated > 0) {
			(*users)[m] = v[j].u->id;
			(*items)[m] = v[j].it->item;
			(*r)[m] = v[j].it->rating;
			m++;
		}
	pthread_rwlock_unlock(&o->rw);
	free(v);
	return m;
}

void
cf_overlay_stats(cf_overlay *o, size_t *users, uint64_t *log_bytes)
{
	pthread_mutex_lock(&o->wmx);     /* the writers' lock: they change both */
	*users = o->nusers;
	*log_bytes = cf_rlog_size(o->log);
	pthread_mutex_unlock(&o->wmx);
}
