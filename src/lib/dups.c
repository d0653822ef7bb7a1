/*
 * dups.c - the duplicate-rating policy (see dups.h): its rule, the
 * streaming resolver on raw ids and the in-place one on a ratings set.
 */
#include "dups.h"

#include "idmap.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

static const char *const dups_name[CF_NDUPS] = {
	"latest", "first", "last", "mean", "error", "keep",
};

const char *
cf_dups_name(cf_dups p)
{
	return (unsigned)p < CF_NDUPS ? dups_name[p] : "?";
}

int
cf_dups_parse(const char *name)
{
	return cf_lookup(name, dups_name, CF_NDUPS);
}

/*
 * The rule, for latest, first and last: 1 if a later row of a pair (time
 * t) wins over the earlier one it meets (time told); has_ts 0: no times.
 */
static int
later_wins(cf_dups p, int has_ts, int64_t told, int64_t t)
{
	switch (p) {
	case CF_DUPS_LATEST: return !(has_ts && t < told);
	case CF_DUPS_LAST: return 1;
	default: return 0;
	}
}

/* ---------------------------------------------------------------- streaming */

/*
 * Each user (found through a code -> index table, with a one-entry cache
 * for runs of the same user) has its own open-addressing table of slots
 *     item code << 32 | value,   all ones = empty,
 * where value is the line of the pair's first row (first, error) or the
 * index of the pair's live held row (latest, last, mean).
 */
#define STRCODE 0x80000000u
#define EMPTY64 UINT64_MAX
struct uset {
	uint64_t *slot;
	uint32_t mask, n;       /* mask + 1 slots (0 before the first pair) */
};
struct pairs {
	struct uset *set;       /* by user index */
	size_t nset, setcap;
	uint64_t *umap;         /* user code << 32 | user index */
	size_t umask;
	uint32_t last_code, last_ix;
	int have_last;
	uint64_t n;             /* distinct pairs */
};

/* Rows held until the end (latest, last, mean), in chunks. */
#define CHUNK_BITS 16
#define CHUNK ((size_t)1 << CHUNK_BITS)
#define DEAD UINT32_MAX
struct held {
	uint32_t **u, **i;      /* codes; u DEAD: the row lost */
	float **r;
	int64_t **t;            /* if the input has timestamps */
	double **sum;           /* mean */
	uint32_t **cnt;
	size_t nchunks, ccap;
	uint64_t n;
};

#define AT(arr, r) ((arr)[(r) >> CHUNK_BITS][(r) & (CHUNK - 1)])

struct cf_dupset {
	cf_dups p;
	int has_ts;
	const char *name;
	cf_idmap *users, *items;        /* the non-numeric ids */
	struct pairs pm;
	struct held h;
	uint64_t ndups;
};

static uint32_t
id_code(cf_idmap *m, const char *p, size_t n)
{
	if (n >= 1 && n <= 10 && (p[0] != '0' || n == 1)) {
		uint64_t v = 0;
		size_t k;
		for (k = 0; k < n && p[k] >= '0' && p[k] <= '9'; k++)
			v = v * 10 + (uint64_t)(p[k] - '0');
		if (k == n && v < STRCODE)
			return (uint32_t)v;
	}
	uint32_t ix = cf_idmap_intern(m, p, n, NULL);
	if (ix >= STRCODE - 1)
		cf_die("more than %u distinct non-numeric ids", STRCODE - 2);
	return STRCODE | ix;
}

/* The id of a code; buf holds at least 12 bytes. */
static const char *
id_str(const cf_idmap *m, uint32_t code, char *buf, size_t *len)
{
	char *p = buf + 12;

	if (code & STRCODE)
		return cf_idmap_id(m, code & ~STRCODE, len);
	do {
		*--p = (char)('0' + code % 10);
		code /= 10;
	} while (code);
	*len = (size_t)(buf + 12 - p);
	return p;
}

static uint64_t *
slots_new(size_t n)
{
	uint64_t *p = cf_xmalloc(n * sizeof *p);

	memset(p, 0xff, n * sizeof *p);
	return p;
}

/* Moves the used slots of old[0..on) into the empty table t (mask), by key >> 32. */
static void
rehash(const uint64_t *old, size_t on, uint64_t *t, size_t mask)
{
	for (size_t k = 0; k < on; k++) {
		size_t j;
		if (old[k] == EMPTY64)
			continue;
		for (j = (size_t)cf_hash_u64(old[k] >> 32) & mask; t[j] != EMPTY64; j = (j + 1) & mask)
			;
		t[j] = old[k];
	}
}

/* The index of the user with this code (a new one if unseen). */
static uint32_t
user_index(struct pairs *m, uint32_t code)
{
	size_t j;

	if (m->have_last && m->last_code == code)
		return m->last_ix;
	for (j = (size_t)cf_hash_u64(code) & m->umask; m->umap[j] != EMPTY64;
	     j = (j + 1) & m->umask) {
		if ((uint32_t)(m->umap[j] >> 32) == code) {
			m->have_last = 1;
			m->last_code = code;
			return m->last_ix = (uint32_t)m->umap[j];
		}
	}
	if (m->nset >= UINT32_MAX - 1)
		cf_die("more than %u distinct users", UINT32_MAX - 2);
	uint32_t ix = (uint32_t)m->nset;
	cf_grow((void **)&m->set, &m->setcap, m->nset + 1, sizeof *m->set);
	m->set[m->nset++] = (struct uset){NULL, 0, 0};
	m->umap[j] = (uint64_t)code << 32 | ix;
	if (m->nset * 4 > (m->umask + 1) * 3) {        /* load 0.75: double */
		size_t on = m->umask + 1;
		uint64_t *old = m->umap;
		m->umask = on * 2 - 1;
		m->umap = slots_new(on * 2);
		rehash(old, on, m->umap, m->umask);
		free(old);
	}
	m->have_last = 1;
	m->last_code = code;
	return m->last_ix = ix;
}

/*
 * The slot of (user, item): *found = 1 if the pair was there; else the pair
 * is added with value 0 and the caller sets the value (the low 32 bits).
 */
static uint64_t *
pair_slot(struct pairs *m, uint32_t ucode, uint32_t item, int *found)
{
	uint32_t ux = user_index(m, ucode);   /* may move m->set */
	struct uset *u = &m->set[ux];
	size_t j;

	if (u->slot == NULL || (u->n + 1) * 4 > (u->mask + 1) * 3) {
		size_t on = u->slot ? (size_t)u->mask + 1 : 0, nn = on ? on * 2 : 8;
		uint64_t *old = u->slot;
		if (nn - 1 > UINT32_MAX)
			cf_die("out of memory: too many items for one user");
		u->slot = slots_new(nn);
		u->mask = (uint32_t)(nn - 1);
		rehash(old, on, u->slot, u->mask);
		free(old);
	}
	for (j = (size_t)cf_hash_u64(item) & u->mask; u->slot[j] != EMPTY64; j = (j + 1) & u->mask) {
		if ((uint32_t)(u->slot[j] >> 32) == item) {
			*found = 1;
			return &u->slot[j];
		}
	}
	u->slot[j] = (uint64_t)item << 32;
	u->n++;
	m->n++;
	*found = 0;
	return &u->slot[j];
}

/* Holds a row; returns its index. */
static uint32_t
held_add(cf_dupset *d, uint32_t u, uint32_t i, float r, int64_t t)
{
	struct held *h = &d->h;
	uint64_t k = h->n;
	int mean = d->p == CF_DUPS_MEAN;

	if (k == UINT32_MAX)
		cf_die("%s: more than %lu ratings to hold; use --dups keep",
		       d->name, (unsigned long)UINT32_MAX - 1);
	if ((k & (CHUNK - 1)) == 0) {
		size_t c = h->nchunks;
		if (c == h->ccap) {
			size_t cap = h->ccap;
			cf_grow((void **)&h->u, &cap, c + 1, sizeof *h->u);
			cap = h->ccap;
			cf_grow((void **)&h->i, &cap, c + 1, sizeof *h->i);
			cap = h->ccap;
			cf_grow((void **)&h->r, &cap, c + 1, sizeof *h->r);
			cap = h->ccap;
			cf_grow((void **)&h->t, &cap, c + 1, sizeof *h->t);
			cap = h->ccap;
			cf_grow((void **)&h->sum, &cap, c + 1, sizeof *h->sum);
			cap = h->ccap;
			cf_grow((void **)&h->cnt, &cap, c + 1, sizeof *h->cnt);
			h->ccap = cap;
		}
		h->u[c] = cf_xmalloc(CHUNK * sizeof **h->u);
		h->i[c] = cf_xmalloc(CHUNK * sizeof **h->i);
		h->r[c] = cf_xmalloc(CHUNK * sizeof **h->r);
		h->t[c] = d->has_ts ? cf_xmalloc(CHUNK * sizeof **h->t) : NULL;
		h->sum[c] = mean ? cf_xmalloc(CHUNK * sizeof **h->sum) : NULL;
		h->cnt[c] = mean ? cf_xmalloc(CHUNK * sizeof **h->cnt) : NULL;
		h->nchunks++;
	}
	AT(h->u, k) = u;
	AT(h->i, k) = i;
	AT(h->r, k) = r;
	if (d->has_ts)
		AT(h->t, k) = t;
	if (mean) {
		AT(h->sum, k) = r;
		AT(h->cnt, k) = 1;
	}
	h->n++;
	return (uint32_t)k;
}

/* Frees the held rows. */
static void
held_free(struct held *h)
{
	for (size_t c = 0; c < h->nchunks; c++) {
		free(h->u[c]);
		free(h->i[c]);
		free(h->r[c]);
		free(h->t[c]);
		free(h->sum[c]);
		free(h->cnt[c]);
	}
	free(h->u);
	free(h->i);
	free(h->r);
	free(h->t);
	free(h->sum);
	free(h->cnt);
	memset(h, 0, sizeof *h);
}

cf_dupset *
cf_dupset_new(cf_dups p, int has_ts, const char *name)
{
	cf_dupset *d = cf_xcalloc(1, sizeof *d);

	d->p = p;
	d->has_ts = has_ts;
	d->name = name;
	if (p != CF_DUPS_KEEP) {
		d->users = cf_idmap_new();
		d->items = cf_idmap_new();
		d->pm.umask = 1023;
		d->pm.umap = slots_new(d->pm.umask + 1);
	}
	return d;
}

int
cf_dupset_holds(const cf_dupset *d)
{
	return d->p == CF_DUPS_LATEST || d->p == CF_DUPS_LAST || d->p == CF_DUPS_MEAN;
}

uint64_t
cf_dupset_resolved(const cf_dupset *d)
{
	return d->ndups;
}

int
cf_dupset_add(cf_dupset *d, const char *u, size_t ul, const char *i, size_t il,
              float r, int64_t t, uint64_t line, uint64_t *first_line)
{
	if (d->p == CF_DUPS_KEEP)
		return CF_DUP_WRITE;

	uint32_t uc = id_code(d->users, u, ul), ic = id_code(d->items, i, il);
	int found;
	uint64_t *slot = pair_slot(&d->pm, uc, ic, &found);
	uint32_t old = (uint32_t)*slot;
	struct held *h = &d->h;

	switch (d->p) {
	case CF_DUPS_FIRST:
		if (found) {
			d->ndups++;
			return CF_DUP_NONE;
		}
		return CF_DUP_WRITE;
	case CF_DUPS_ERROR:
		if (found) {
			*first_line = old != UINT32_MAX ? old : 0;
			return CF_DUP_REPEAT;
		}
		*slot |= line < UINT32_MAX ? (uint32_t)line : UINT32_MAX;
		return CF_DUP_WRITE;
	case CF_DUPS_MEAN:
		if (found) {
			d->ndups++;
			AT(h->sum, old) += r;
			AT(h->cnt, old)++;
			if (d->has_ts && t > AT(h->t, old))
				AT(h->t, old) = t;
			return CF_DUP_NONE;
		}
		break;
	default:        /* latest, last */
		if (found) {
			d->ndups++;
			if (!later_wins(d->p, d->has_ts, d->has_ts ? AT(h->t, old) : 0, t))
				return CF_DUP_NONE;
			AT(h->u, old) = DEAD;
		}
		break;
	}
	*slot = (uint64_t)ic << 32 | held_add(d, uc, ic, r, t);
	return CF_DUP_NONE;
}

void
cf_dupset_flush(cf_dupset *d, cf_dup_emit *emit, void *ctx)
{
	struct held *h = &d->h;
	int mean = d->p == CF_DUPS_MEAN;

	for (uint64_t k = 0; k < h->n; k++) {
		uint32_t u = AT(h->u, k);
		size_t ul, il;
		const char *us, *is;
		char ub[12], ib[12];
		float r;
		if (u == DEAD)
			continue;
		us = id_str(d->users, u, ub, &ul);
		is = id_str(d->items, AT(h->i, k), ib, &il);
		r = AT(h->r, k);
		if (mean && AT(h->cnt, k) > 1)
			r = (float)(AT(h->sum, k) / AT(h->cnt, k));
		emit(ctx, us, ul, is, il, r, d->has_ts ? AT(h->t, k) : 0);
	}
	held_free(h);
}

void
cf_dupset_free(cf_dupset *d)
{
	if (!d)
		return;
	held_free(&d->h);
	for (size_t k = 0; k < d->pm.nset; k++)
		free(d->pm.set[k].slot);
	free(d->pm.set);
	free(d->pm.umap);
	cf_idmap_free(d->users);
	cf_idmap_free(d->items);
	free(d);
}

/* ---------------------------------------------------------------- in place */

size_t
cf_dups_mark(const cf_ratings *rs, cf_dups p, uint64_t *drop)
{
	uint32_t nu = cf_idmap_count(rs->users), ni = cf_idmap_count(rs->items);
	uint64_t *ptr = NULL;
	uint32_t *row = NULL, *last;
	size_t dropped = 0;
	int sorted = 1;

	if (p != CF_DUPS_LATEST && p != CF_DUPS_FIRST && p != CF_DUPS_LAST)
		cf_die("duplicates of a ratings set: policy '%s' is not one of latest, "
		       "first, last", cf_dups_name(p));
	for (size_t j = 1; j < rs->n && sorted; j++)
		sorted = rs->user[j] >= rs->user[j - 1];
	if (!sorted) {
		/* Rows grouped by user (counting sort, in row order). */
		ptr = cf_xcalloc((size_t)nu + 2, sizeof *ptr);
		for (size_t j = 0; j < rs->n; j++)
			ptr[rs->user[j] + 2]++;
		for (uint32_t u = 0; u < nu; u++)
			ptr[u + 2] += ptr[u + 1];
		row = cf_xmalloc((rs->n + 1) * sizeof *row);
		for (size_t j = 0; j < rs->n; j++)
			row[ptr[rs->user[j] + 1]++] = (uint32_t)j;
	}
#define ROW(t) (row ? row[t] : (uint32_t)(t))
	/* User by user (rows [a, b) of the grouping): the pair's row so far in last[item]. */
	last = cf_xmalloc(((size_t)ni + 1) * sizeof *last);
	memset(last, 0xff, ((size_t)ni + 1) * sizeof *last);
	for (size_t a = 0, b; a < rs->n; a = b) {
		uint32_t u = rs->user[ROW(a)];
		b = a + 1;
		while (b < rs->n && rs->user[ROW(b)] == u)
			b++;
		for (size_t t = a; t < b; t++) {
			uint32_t j = ROW(t), i = rs->item[j], prev = last[i];
			if (prev != UINT32_MAX && prev >= a && prev < b && rs->item[ROW(prev)] == i) {
				uint32_t pj = ROW(prev);
				/* j is a later row than pj. */
				dropped++;
				if (!later_wins(p, rs->has_ts, rs->has_ts ? rs->ts[pj] : 0,
				                rs->has_ts ? rs->ts[j] : 0)) {
					drop[j / 64] |= (uint64_t)1 << (j % 64);
					continue;
				}
				drop[pj / 64] |= (uint64_t)1 << (pj % 64);
			}
			last[i] = (uint32_t)t;
		}
	}
#undef ROW
	free(ptr);
	free(row);
	free(last);
	return dropped;
}

size_t
cf_dups_resolve(cf_ratings *rs, cf_dups p)
{
	uint64_t *drop = cf_xcalloc(rs->n / 64 + 1, sizeof *drop);
	size_t dropped = cf_dups_mark(rs, p, drop), w = 0;

	if (dropped) {
		for (size_t j = 0; j < rs->n; j++) {
			if (drop[j / 64] >> (j % 64) & 1)
				continue;
			rs->user[w] = rs->user[j];
			rs->item[w] = rs->item[j];
			rs->rating[w] = rs->rating[j];
			if (rs->has_ts)
				rs->ts[w] = rs->ts[j];
			w++;
		}
		rs->n = w;
	}
	free(drop);
	return dropped;
}
