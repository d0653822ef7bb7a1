/*
 * evalm.c - evaluation metrics (see evalm.h for the definitions).
 *
 * Ranking: the recommendation rows are grouped by user (a counting sort),
 * each user's rows ordered by rank or score and cut at k.  The relevant
 * held-out items of each truth user are a sorted, de-duplicated CSR; a
 * user's list is checked against them through a stamp array indexed by
 * the truth's item index, so evaluating a list costs O(k + |R|).
 */
#include "evalm.h"

#include "util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define NONE UINT32_MAX

/* ---------------------------------------------------------------- errors */

void
cf_errm_add(cf_errm *e, double pred, double truth)
{
	double d = pred - truth;

	e->n++;
	e->se += d * d;
	e->ae += fabs(d);
}

double
cf_errm_rmse(const cf_errm *e)
{
	return e->n ? sqrt(e->se / (double)e->n) : NAN;
}

double
cf_errm_mae(const cf_errm *e)
{
	return e->n ? e->ae / (double)e->n : NAN;
}

/* Column name of s as an f32 or f64 column; dies if absent or mistyped. */
static int
numcol(cf_reader *r, const cf_schema *s, const char *name, const char *why)
{
	int c = cf_schema_col(s, name);

	if (c < 0)
		cf_die("%s: the '%s' table has no '%s' column%s", cf_reader_name(r), s->name,
		       name, why);
	if ((s->cols[c].type != CF_F32 && s->cols[c].type != CF_F64) || s->cols[c].width != 1)
		cf_die("%s: the '%s' table's '%s' column is %s, expected f32", cf_reader_name(r),
		       s->name, name, cf_type_name(s->cols[c].type));
	return c;
}

static double
numval(const cf_block *b, const cf_schema *s, int c, uint32_t i)
{
	return s->cols[c].type == CF_F32 ? (double)((const float *)b->col[c])[i] :
	       ((const double *)b->col[c])[i];
}

void
cf_errm_read(cf_reader *r, const cf_schema *s, cf_errm *e)
{
	int cs = numcol(r, s, "score", "");
	int ct = numcol(r, s, "rating",
	                ": RMSE and MAE need the true ratings (`mf-score --pairs` output);"
	                " ranking metrics need --truth FILE");
	cf_block b;

	while (cf_read_block(r, &b) == 1)
		for (uint32_t i = 0; i < b.nrows; i++)
			cf_errm_add(e, numval(&b, s, cs, i), numval(&b, s, ct, i));
}

/* ---------------------------------------------------------------- one user */

void
cf_rank_user(const unsigned char *hit, size_t m, uint32_t k, size_t nrel, cf_rank1 *out)
{
	double dcg = 0, idcg = 0, apsum = 0, rr = 0;
	size_t ideal = nrel < k ? nrel : k;
	uint32_t hits = 0;

	if (m > k)
		m = k;
	for (size_t j = 0; j < m; j++) {
		if (!hit[j])
			continue;
		hits++;
		dcg += 1.0 / log2((double)j + 2.0);
		apsum += (double)hits / ((double)j + 1.0);
		if (rr == 0)
			rr = 1.0 / ((double)j + 1.0);
	}
	for (size_t j = 0; j < ideal; j++)
		idcg += 1.0 / log2((double)j + 2.0);
	out->hits = hits;
	out->precision = (double)hits / (double)k;
	out->recall = nrel ? (double)hits / (double)nrel : 0;
	out->ndcg = idcg > 0 ? dcg / idcg : 0;
	out->ap = ideal ? apsum / (double)ideal : 0;
	out->hit = hits > 0;
	out->rr = rr;
}

/* ---------------------------------------------------------------- lists */

void
cf_recs_init(cf_recs *rc, int has_rank)
{
	memset(rc, 0, sizeof *rc);
	rc->users = cf_idmap_new();
	rc->items = cf_idmap_new();
	rc->has_rank = has_rank;
}

static void
recs_reserve(cf_recs *rc, size_t need)
{
	size_t cap;

	if (need <= rc->cap)
		return;
	cap = rc->cap ? rc->cap : 1024;
	while (cap < need)
		cap *= 2;
	rc->user = cf_xrealloc(rc->user, cap * sizeof *rc->user);
	rc->item = cf_xrealloc(rc->item, cap * sizeof *rc->item);
	rc->score = cf_xrealloc(rc->score, cap * sizeof *rc->score);
	rc->rank = cf_xrealloc(rc->rank, cap * sizeof *rc->rank);
	rc->cap = cap;
}

void
cf_recs_add(cf_recs *rc, const char *user, size_t ulen, const char *item, size_t ilen,
            float score, uint32_t rank)
{
	recs_reserve(rc, rc->n + 1);
	rc->user[rc->n] = cf_idmap_intern(rc->users, user, ulen, NULL);
	rc->item[rc->n] = cf_idmap_intern(rc->items, item, ilen, NULL);
	rc->score[rc->n] = score;
	rc->rank[rc->n] = rank;
	rc->n++;
}

void
cf_recs_free(cf_recs *rc)
{
	cf_idmap_free(rc->users);
	cf_idmap_free(rc->items);
	free(rc->user);
	free(rc->item);
	free(rc->score);
	free(rc->rank);
	memset(rc, 0, sizeof *rc);
}

static int
strcol(cf_reader *r, const cf_schema *s, const char *name)
{
	int c = cf_schema_col(s, name);

	if (c < 0)
		cf_die("%s: the '%s' table has no '%s' column", cf_reader_name(r), s->name, name);
	if (s->cols[c].type != CF_STR)
		cf_die("%s: the '%s' table's '%s' column is %s, expected str (raw ids)",
		       cf_reader_name(r), s->name, name, cf_type_name(s->cols[c].type));
	return c;
}

void
cf_recs_add_table(cf_reader *r, const cf_schema *s, cf_recs *rc)
{
	int cu = strcol(r, s, "user"), ci = strcol(r, s, "item");
	int ck = cf_schema_col(s, "rank"), cs = -1;
	cf_block b;

	if (ck >= 0 && (s->cols[ck].type != CF_U32 || s->cols[ck].width != 1))
		cf_die("%s: the '%s' table's 'rank' column is %s, expected u32",
		       cf_reader_name(r), s->name, cf_type_name(s->cols[ck].type));
	if (ck < 0 || cf_schema_col(s, "score") >= 0)
		cs = numcol(r, s, "score", ": cannot order the lists (no 'rank' either)");
	if ((ck >= 0) != rc->has_rank)
		cf_die("%s: byte %llu: a '%s' table %s a 'rank' column, the tables before it %s: "
		       "lists are ordered by rank or by score, not both", cf_reader_name(r),
		       (unsigned long long)cf_reader_table_at(r), s->name,
		       ck >= 0 ? "with" : "without", rc->has_rank ? "have one" : "do not");
	while (cf_read_block(r, &b) == 1) {
		recs_reserve(rc, rc->n + b.nrows);
		cf_encode_strcol(&b, cu, rc->users, rc->user + rc->n);
		cf_encode_strcol(&b, ci, rc->items, rc->item + rc->n);
		for (uint32_t i = 0; i < b.nrows; i++) {
			rc->score[rc->n + i] = cs >= 0 ? (float)numval(&b, s, cs, i) : 0;
			rc->rank[rc->n + i] = ck >= 0 ? ((const uint32_t *)b.col[ck])[i] : 0;
		}
		rc->n += b.nrows;
	}
}

void
cf_recs_read(cf_reader *r, const cf_schema *s, cf_recs *rc)
{
	cf_recs_init(rc, cf_schema_col(s, "rank") >= 0);
	cf_recs_add_table(r, s, rc);
}

/* ---------------------------------------------------------------- ranking */

struct ent {
	float score;
	uint32_t rank;
	uint32_t row;
};

static int
by_rank(const void *a, const void *b)
{
	const struct ent *x = a, *y = b;

	if (x->rank != y->rank)
		return x->rank < y->rank ? -1 : 1;
	return x->row < y->row ? -1 : x->row > y->row;
}

/* Highest score first; NaN last; ties in input order. */
static int
by_score(const void *a, const void *b)
{
	const struct ent *x = a, *y = b;
	int xn = isnan(x->score), yn = isnan(y->score);

	if (xn != yn)
		return xn - yn;
	if (!xn && x->score != y->score)
		return x->score > y->score ? -1 : 1;
	return x->row < y->row ? -1 : x->row > y->row;
}

/*
 * The lists: rows grouped by user, each group ordered and cut at k.
 * Returns the row numbers back to back; list u is out[ptr[u] .. ptr[u] + len[u]).
 */
static uint32_t *
make_lists(const cf_recs *rc, uint32_t k, size_t **ptrp, uint32_t **lenp)
{
	uint32_t nu = cf_idmap_count(rc->users);
	size_t *ptr = cf_xcalloc((size_t)nu + 1, sizeof *ptr);
	uint32_t *len = cf_xcalloc(nu ? nu : 1, sizeof *len);
	size_t *fill = cf_xcalloc(nu ? nu : 1, sizeof *fill);
	struct ent *e = cf_xmalloc((rc->n ? rc->n : 1) * sizeof *e);
	uint32_t *out;
	size_t nout = 0;

	for (size_t i = 0; i < rc->n; i++)
		ptr[rc->user[i] + 1]++;
	for (uint32_t u = 0; u < nu; u++)
		ptr[u + 1] += ptr[u];
	for (size_t i = 0; i < rc->n; i++) {
		size_t at = ptr[rc->user[i]] + fill[rc->user[i]]++;
		e[at].score = rc->score[i];
		e[at].rank = rc->rank[i];
		e[at].row = (uint32_t)i;
	}
	out = cf_xmalloc((rc->n ? rc->n : 1) * sizeof *out);
	for (uint32_t u = 0; u < nu; u++) {
		size_t a = ptr[u], n = ptr[u + 1] - a;
		qsort(e + a, n, sizeof *e, rc->has_rank ? by_rank : by_score);
		len[u] = (uint32_t)(n < k ? n : k);
		ptr[u] = nout;
		for (uint32_t j = 0; j < len[u]; j++)
			out[nout++] = e[a + j].row;
	}
	ptr[nu] = nout;
	free(fill);
	free(e);
	*ptrp = ptr;
	*lenp = len;
	return out;
}

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* Relevant items of each truth user: sorted, distinct; user u's are rel[ptr[u] .. ptr[u+1]). */
static uint32_t *
relevant(const cf_ratings *t, const cf_rank_opts *o, size_t **ptrp)
{
	uint32_t nu = cf_idmap_count(t->users);
	size_t *ptr = cf_xcalloc((size_t)nu + 1, sizeof *ptr);
	size_t *fill = cf_xcalloc(nu ? nu : 1, sizeof *fill);
	uint32_t *rel = cf_xmalloc((t->n ? t->n : 1) * sizeof *rel);
	size_t nout = 0;

#define RELEVANT(i) (!o->has_threshold || t->rating[i] >= o->threshold)
	for (size_t i = 0; i < t->n; i++)
		if (RELEVANT(i))
			ptr[t->user[i] + 1]++;
	for (uint32_t u = 0; u < nu; u++)
		ptr[u + 1] += ptr[u];
	for (size_t i = 0; i < t->n; i++)
		if (RELEVANT(i))
			rel[ptr[t->user[i]] + fill[t->user[i]]++] = t->item[i];
#undef RELEVANT
	for (uint32_t u = 0; u < nu; u++) {       /* sort, drop duplicates, compact */
		size_t a = ptr[u], n = ptr[u + 1] - a;
		qsort(rel + a, n, sizeof *rel, cmp_u32);
		ptr[u] = nout;
		for (size_t j = 0; j < n; j++)
			if (j == 0 || rel[a + j] != rel[a + j - 1])
				rel[nout++] = rel[a + j];
	}
	ptr[nu] = nout;
	free(fill);
	*ptrp = ptr;
	return rel;
}

/* Interns the ids of dictionary d used by rows idx[0..n) into cat. */
static void
catalogue_add(cf_idmap *cat, const cf_idmap *d, const uint32_t *idx, size_t n)
{
	uint32_t nd = cf_idmap_count(d);
	unsigned char *done = cf_xcalloc(nd ? nd : 1, 1);

	for (size_t i = 0; i < n; i++) {
		size_t len;
		const char *id;
		if (done[idx[i]])
			continue;
		done[idx[i]] = 1;
		id = cf_idmap_id(d, idx[i], &len);
		cf_idmap_intern(cat, id, len, NULL);
	}
	free(done);
}

int
cf_eval_ranking(const cf_recs *rc, const cf_ratings *truth, const cf_rank_opts *o,
                cf_rank_result *out)
{
	uint32_t nru = cf_idmap_count(rc->users), nri = cf_idmap_count(rc->items);
	uint32_t ntu = cf_idmap_count(truth->users), nti = cf_idmap_count(truth->items);
	size_t *lptr, *rptr;
	uint32_t *llen, *rows = make_lists(rc, o->k, &lptr, &llen);
	uint32_t *rel = relevant(truth, o, &rptr);
	uint32_t *item2t = cf_xmalloc((nri ? nri : 1) * sizeof *item2t);
	uint32_t *relstamp = cf_xcalloc(nti ? nti : 1, sizeof *relstamp);
	uint32_t *hitstamp = cf_xcalloc(nti ? nti : 1, sizeof *hitstamp);
	unsigned char *listed = cf_xcalloc(ntu ? ntu : 1, 1);
	unsigned char *used = cf_xcalloc(nri ? nri : 1, 1);
	unsigned char *hit = cf_xmalloc(o->k);
	double sum[6] = {0};
	cf_rank_result r = {0};

	r.k = o->k;
	r.lists = nru;
	for (uint32_t i = 0; i < nri; i++) {
		size_t len;
		const char *id = cf_idmap_id(rc->items, i, &len);
		item2t[i] = cf_idmap_find(truth->items, id, len);
	}
	for (uint32_t u = 0; u < nru; u++) {
		size_t len;
		const char *id = cf_idmap_id(rc->users, u, &len);
		uint32_t tu = cf_idmap_find(truth->users, id, len);
		const uint32_t *list = rows + lptr[u];
		cf_rank1 m;

		for (uint32_t j = 0; j < llen[u]; j++)
			used[rc->item[list[j]]] = 1;
		if (tu == NONE || rptr[tu + 1] == rptr[tu]) {
			r.lists_unmatched++;
			continue;
		}
		listed[tu] = 1;
		for (size_t j = rptr[tu]; j < rptr[tu + 1]; j++)
			relstamp[rel[j]] = tu + 1;
		for (uint32_t j = 0; j < llen[u]; j++) {
			uint32_t ti = item2t[rc->item[list[j]]];
			hit[j] = ti != NONE && relstamp[ti] == tu + 1 && hitstamp[ti] != tu + 1;
			if (hit[j])
				hitstamp[ti] = tu + 1;
		}
		cf_rank_user(hit, llen[u], o->k, rptr[tu + 1] - rptr[tu], &m);
		sum[0] += m.precision;
		sum[1] += m.recall;
		sum[2] += m.ndcg;
		sum[3] += m.ap;
		sum[4] += m.hit;
		sum[5] += m.rr;
	}
	for (uint32_t tu = 0; tu < ntu; tu++) {
		if (rptr[tu + 1] == rptr[tu])
			continue;
		r.users++;
		r.users_no_list += !listed[tu];
	}
	for (uint32_t i = 0; i < nri; i++)
		r.recommended += used[i];
	if (o->catalogue) {
		r.catalogue = o->catalogue;
		r.catalogue_from = "given";
	} else {
		cf_idmap *cat = cf_idmap_new();
		uint32_t *ids = cf_xmalloc((nri ? nri : 1) * sizeof *ids);
		size_t nids = 0;
		catalogue_add(cat, truth->items, truth->item, truth->n);
		if (o->train)
			catalogue_add(cat, o->train->items, o->train->item, o->train->n);
		for (uint32_t i = 0; i < nri; i++)
			if (used[i])
				ids[nids++] = i;
		catalogue_add(cat, rc->items, ids, nids);
		r.catalogue = cf_idmap_count(cat);
		r.catalogue_from = o->train ? "truth+train+recommended" : "truth+recommended";
		free(ids);
		cf_idmap_free(cat);
	}
	r.coverage = r.catalogue ? (double)r.recommended / (double)r.catalogue : 0;
	if (r.users) {
		double n = (double)r.users;
		r.precision = sum[0] / n;
		r.recall = sum[1] / n;
		r.ndcg = sum[2] / n;
		r.map = sum[3] / n;
		r.hit_rate = sum[4] / n;
		r.mrr = sum[5] / n;
	}
	*out = r;
	free(lptr);
	free(llen);
	free(rows);
	free(rptr);
	free(rel);
	free(item2t);
	free(relstamp);
	free(hitstamp);
	free(listed);
	free(used);
	free(hit);
	/* A given catalogue must hold what was recommended: coverage is at most 1. */
	if (o->catalogue && r.recommended > o->catalogue)
		return -2;
	return r.users ? 0 : -1;
}
