/*
 * train/fmfeat.c - fm's feature groups (fm-int.h): their arrays, the
 * lists built from --items (genres, year bins), --users (the profile) and
 * the ratings' timestamps (time bins, user-days: the context side),
 * the sums new items are scored by (the model's item_features,
 * itemfeat.h), and the --groups names.
 */
#include "fm-int.h"
#include "itemfeat.h"
#include "timefeat.h"
#include "util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
cf_fm_group_alloc(struct group *g, const char *name, int side, uint32_t nf, int k)
{
	g->name = name;
	g->side = side;
	g->nf = nf;
	g->w = cf_xcalloc((size_t)nf + 1, sizeof *g->w);
	g->V = cf_xcalloc((size_t)nf * k + 1, sizeof *g->V);
	g->act = cf_xcalloc((size_t)nf + 1, 1);
	g->mv = cf_xcalloc((size_t)k, sizeof *g->mv);
	g->lv = cf_xmalloc((size_t)k * sizeof *g->lv);
	for (int f = 0; f < k; f++)
		g->lv[f] = 1;
	g->lw = 1;
}

void
cf_fm_group_free(struct group *g)
{
	free(g->own_fptr);
	free(g->own_eptr);
	free(g->own_fidx);
	free(g->own_eidx);
	free(g->xs);
	free(g->act);
	free(g->w);
	free(g->V);
	free(g->mv);
	free(g->lv);
}

/* 1/sqrt(n) of each entity's ratings (0 for none). */
float *
cf_fm_inv_sqrt_counts(const struct csr *c, uint32_t n)
{
	float *x = cf_xmalloc(((size_t)n + 1) * sizeof *x);

	for (uint32_t e = 0; e < n; e++) {
		uint64_t m = c->ptr[e + 1] - c->ptr[e];
		x[e] = m ? (float)(1 / sqrt((double)m)) : 0;
	}
	return x;
}

/* Transposes entity -> feature lists into feature -> entity lists. */
static void
transpose(struct group *g, uint32_t nent)
{
	uint64_t m = g->own_eptr[nent];

	g->own_fptr = cf_xcalloc((size_t)g->nf + 2, sizeof *g->own_fptr);
	g->own_fidx = cf_xmalloc((m + 1) * sizeof *g->own_fidx);
	for (uint64_t t = 0; t < m; t++)
		g->own_fptr[g->own_eidx[t] + 2]++;
	for (uint32_t j = 0; j < g->nf; j++)
		g->own_fptr[j + 2] += g->own_fptr[j + 1];
	for (uint32_t e = 0; e < nent; e++)
		for (uint64_t t = g->own_eptr[e]; t < g->own_eptr[e + 1]; t++)
			g->own_fidx[g->own_fptr[g->own_eidx[t] + 1]++] = e;
	g->fptr = g->own_fptr;
	g->eptr = g->own_eptr;
	g->fidx = g->own_fidx;
	g->eidx = g->own_eidx;
}

/* A name's index in a growing list of names (genres). */
static uint32_t
name_index(cf_idmap *names, const char *s, size_t len)
{
	int added;

	return cf_idmap_intern(names, s, len, &added);
}

/*
 * The item side's metadata groups from --items: genres (each
 * 1/sqrt|G(i)|) and the year in 5-year bins (1).  Items the metadata
 * does not list have neither.
 */
void
cf_fm_meta_groups(struct fm *s, const struct fit *f, const cf_meta *meta, int genres, int years)
{
	uint32_t ni = f->ni;
	cf_idmap *gn = cf_idmap_new();
	uint64_t *gp = cf_xcalloc((size_t)ni + 1, sizeof *gp), *yp = cf_xcalloc((size_t)ni + 1, 8);
	size_t gcap = 1024, gm = 0;
	uint32_t *gi = cf_xmalloc(gcap * sizeof *gi), *yi = cf_xmalloc(((size_t)ni + 1) * 4);
	float *gx = cf_xcalloc((size_t)ni + 1, sizeof *gx);
	int ylo = 1 << 30, yhi = -1;
	int *year = cf_xcalloc((size_t)ni + 1, sizeof *year);

	for (uint32_t i = 0; i < ni; i++) {
		size_t len, pos = 0, glen, n0 = gm;
		const char *id = cf_idmap_id(f->items, i, &len), *g;
		cf_movie mv;
		if (cf_meta_find(meta, id, len, &mv) && mv.in_movies) {
			while (genres && cf_genre_next(mv.genres, mv.genres_len, &pos, &g, &glen)) {
				if (gm == gcap)
					gi = cf_xrealloc(gi, (gcap *= 2) * sizeof *gi);
				gi[gm++] = name_index(gn, g, glen);
			}
			year[i] = mv.year;
			if (mv.year > 0) {
				ylo = mv.year / 5 < ylo ? mv.year / 5 : ylo;
				yhi = mv.year / 5 > yhi ? mv.year / 5 : yhi;
			}
		}
		gp[i + 1] = gm;
		gx[i] = gm > n0 ? (float)(1 / sqrt((double)(gm - n0))) : 0;
	}
	if (genres && gm > 0) {
		struct group *g = &s->g[s->ng++];
		cf_fm_group_alloc(g, "genres", SI, cf_idmap_count(gn), s->k);
		g->own_eptr = gp;
		g->own_eidx = gi;
		g->xs = gx;
		gp = NULL;
		gi = NULL;
		gx = NULL;
		transpose(g, ni);
		s->ggen = s->ng - 1;
	}
	if (years && yhi >= 0) {
		size_t m = 0;
		for (uint32_t i = 0; i < ni; i++) {
			if (year[i] > 0)
				yi[m++] = (uint32_t)(year[i] / 5 - ylo);
			yp[i + 1] = m;
		}
		struct group *g = &s->g[s->ng++];
		cf_fm_group_alloc(g, "year", SI, (uint32_t)(yhi - ylo + 1), s->k);
		g->own_eptr = yp;
		g->own_eidx = yi;
		yp = NULL;
		yi = NULL;
		transpose(g, ni);
		s->gyear = s->ng - 1;
		s->ylo = ylo;
	}
	s->gnames = gn;         /* the names of new items' features */
	free(gp);
	free(gi);
	free(gx);
	free(yp);
	free(yi);
	free(year);
}

/*
 * The user side's profile group from --users: each training user's
 * features (a value or bin per column), each 1/sqrt(their count).  Every
 * training user must be in the table: a user without a profile would
 * silently get none.  -1 (f's message set) if one is missing.
 */
int
cf_fm_profile_group(struct fm *s, struct fit *f, const cf_ufeat *uf)
{
	uint32_t nu = f->nu;
	uint64_t *ep = cf_xcalloc((size_t)nu + 1, sizeof *ep), m = 0;
	uint32_t *ei = NULL;
	size_t cap = 0;
	float *xs = cf_xcalloc((size_t)nu + 1, sizeof *xs);

	for (uint32_t u = 0; u < nu; u++) {
		size_t len;
		const char *id = cf_idmap_id(f->users, u, &len);
		uint32_t row = cf_ufeat_find(uf, id, len), n;
		const uint32_t *idx;
		if (row == UINT32_MAX) {
			cf_fit_fail(f, "%s: user '%.*s' of the training ratings is not in the table "
			            "(--users needs every user)", cf_ufeat_path(uf),
			            (int)(len > 40 ? 40 : len), id);
			free(ep);
			free(ei);
			free(xs);
			return -1;
		}
		cf_ufeat_row(uf, row, &idx, &n);
		cf_grow((void **)&ei, &cap, m + n + 1, sizeof *ei);
		memcpy(ei + m, idx, n * sizeof *idx);
		m += n;
		ep[u + 1] = m;
		xs[u] = n ? (float)(1 / sqrt((double)n)) : 0;
	}
	struct group *g = &s->g[s->ng++];
	cf_fm_group_alloc(g, "profile", SU, cf_ufeat_count(uf), s->k);
	g->own_eptr = ep;
	g->own_eidx = ei ? ei : cf_xcalloc(1, sizeof *ei);
	g->xs = xs;
	transpose(g, nu);
	return 0;
}
/* Time bins: at most this many, of about equal rating counts (timeSVD++'s 30). */
#define TIME_BINS 30

static int
cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

uint32_t
cf_fm_time_bins(const int64_t *day, size_t n, uint32_t nb, int64_t *first)
{
	uint32_t m = 0;

	/* Bin b starts at the day of the (b n / nb)-th rating, so the edges are
	 * day boundaries (a day lies in one bin); a day holding more than a
	 * bin's share merges bins. */
	for (uint32_t b = 0; b < nb && n; b++) {
		int64_t d = day[(size_t)((double)b * (double)n / nb)];
		if (m == 0 || d > first[m - 1])
			first[m++] = d;
	}
	return m;
}

/* A context group: one feature per rating (value 1), eidx given. */
static struct group *
context_group(struct fm *s, const char *name, uint32_t nf, uint32_t *eidx, size_t n)
{
	struct group *g = &s->g[s->ng++];

	cf_fm_group_alloc(g, name, SC, nf, s->k);
	g->own_eptr = cf_xmalloc((n + 1) * sizeof *g->own_eptr);
	for (size_t t = 0; t <= n; t++)
		g->own_eptr[t] = t;
	g->own_eidx = eidx;
	transpose(g, (uint32_t)n);
	return g;
}

/*
 * The context side's groups from the timestamps (byu order): time, the
 * rating's day's bin of TIME_BINS equal-count bins over training's days;
 * userday, the (user, day) pair, numbered by (user, day).
 */
void
cf_fm_time_groups(struct fm *s, const struct fit *f, int time, int userday)
{
	size_t n = f->n;
	int64_t *day = cf_xmalloc((n + 1) * sizeof *day), *sorted = cf_xmalloc((n + 1) * 8);

	for (size_t t = 0; t < n; t++)
		sorted[t] = day[t] = cf_day_of(cf_ts_at(&f->ts, t));
	qsort(sorted, n, sizeof *sorted, cmp_i64);
	s->bday = cf_xmalloc((TIME_BINS + 1) * sizeof *s->bday);
	s->nbins = time ? cf_fm_time_bins(sorted, n, TIME_BINS, s->bday) : 0;
	if (time) {
		uint32_t *ei = cf_xmalloc((n + 1) * sizeof *ei);
		for (size_t t = 0; t < n; t++)
			ei[t] = cf_day_bin(s->bday, s->nbins, day[t]);
		context_group(s, "time", s->nbins, ei, n);
		s->gtime = s->ng - 1;
	}
	if (userday) {
		/* each user's distinct days, sorted: the features in (user, day) order */
		uint32_t *ei = cf_xmalloc((n + 1) * sizeof *ei);
		size_t m = 0;
		s->uduser = cf_xmalloc((n + 1) * sizeof *s->uduser);
		s->udday = cf_xmalloc((n + 1) * sizeof *s->udday);
		for (uint32_t u = 0; u < f->nu; u++) {
			uint64_t a = f->byu.ptr[u], z = f->byu.ptr[u + 1];
			size_t m0 = m;
			memcpy(sorted, day + a, (z - a) * sizeof *day);
			qsort(sorted, z - a, sizeof *sorted, cmp_i64);
			for (uint64_t t = a; t < z; t++)
				if (m == m0 || sorted[t - a] != s->udday[m - 1]) {
					s->uduser[m] = u;
					s->udday[m++] = sorted[t - a];
				}
			for (uint64_t t = a; t < z; t++)    /* the user's day: always there */
				ei[t] = (uint32_t)cf_userday_find(s->uduser, s->udday, m0, m, u, day[t]);
		}
		s->nud = (uint32_t)m;
		s->udbin = cf_xcalloc(m + 1, sizeof *s->udbin);
		for (size_t d = 0; d < m && time; d++)
			s->udbin[d] = cf_day_bin(s->bday, s->nbins, s->udday[d]);
		context_group(s, "userday", (uint32_t)m, ei, n);
		s->gud = s->ng - 1;
	}
	free(day);
	free(sorted);
}

/* The metadata groups' feature a (genres first, then years): its group and index. */
static const struct group *
meta_feature(const struct fm *s, uint32_t a, uint32_t *j)
{
	const struct group *g = s->ggen >= 0 ? &s->g[s->ggen] : NULL;

	if (g && a < g->nf) {
		*j = a;
		return g;
	}
	*j = a - (g ? g->nf : 0);
	return &s->g[s->gyear];
}

/* Feature a is the last, "raters" (itemfeat.h). */
static int
is_raters(const struct fm *s, uint32_t a)
{
	return s->grat >= 0 && a == s->fn - 1;
}

/*
 * This sample's raters block as a new item is expected to carry it: the
 * mean over the training ratings of their item's block (a rating of a
 * new item is drawn as the training ones are, so its item's block is
 * each item's weighed by its ratings).  An item i with raters R(i) and
 * x = 1/sqrt|R(i)| has the block's linear term x sum w_u, vector
 * x sum v_u and, pairwise within the block, x^2 (|sum v_u|^2 -
 * sum |v_u|^2) / 2; the prediction is linear in the first two and the
 * pair terms with other features, so their means are exact.  The vector
 * into s->rv; returns the bias (the linear and within-block terms).
 * Without it a new item lacks a block every rated item has, which the
 * other terms were fitted around: on MovieLens that put new movies 0.45
 * below their ratings (README).
 */
static double
raters_expected(struct fm *s)
{
	const struct group *g = &s->g[s->grat];
	int k = s->k;
	double *rv = s->rv, *sum = s->rv + k, b = 0, nall = 0;

	memset(rv, 0, (size_t)k * sizeof *rv);
	for (uint32_t i = 0; i < s->s[SI].n; i++) {
		uint64_t a0 = g->eptr[i], a1 = g->eptr[i + 1];
		if (a0 == a1)
			continue;
		double x = g->xs[i], n = (double)(a1 - a0), w = 0, sq = 0, nn = 0;
		memset(sum, 0, (size_t)k * sizeof *sum);
		for (uint64_t t = a0; t < a1; t++) {
			const double *v = g->V + (size_t)g->eidx[t] * k;
			w += g->w[g->eidx[t]];
			for (int c = 0; c < k; c++) {
				sum[c] += v[c];
				sq += v[c] * v[c];
			}
		}
		for (int c = 0; c < k; c++) {
			nn += sum[c] * sum[c];
			rv[c] += n * x * sum[c];
		}
		b += n * (x * w + x * x * (nn - sq) / 2);
		nall += n;
	}
	if (nall > 0) {
		for (int c = 0; c < k; c++)
			rv[c] /= nall;
		b /= nall;
	}
	return b;
}

/* Feature a's vector and bias in this sample. */
static const double *
feature_of(const struct fm *s, uint32_t a, double rb, double *w)
{
	uint32_t j;

	if (is_raters(s, a)) {
		*w = rb;
		return s->rv;
	}
	const struct group *g = meta_feature(s, a, &j);
	*w = g->w[j];
	return g->V + (size_t)j * s->k;
}

/* Adds this sample's metadata features to the sums new items are scored by. */
void
cf_fm_meta_sample(struct fm *s, int c0, float sc)
{
	int k = s->k;
	double rb = s->grat >= 0 && s->fn ? raters_expected(s) : 0;

	for (uint32_t a = 0; a < s->fn; a++) {
		double wa, wb;
		const double *va = feature_of(s, a, rb, &wa);
		s->fw[a] += wa;
		for (int c = 0; c < k; c++)
			s->fV[(size_t)a * s->kpS + c0 + c] = (float)va[c] * sc;
		for (uint32_t b = 0; b < s->fn; b++) {
			const double *vb = feature_of(s, b, rb, &wb);
			double d = 0;
			for (int c = 0; c < k; c++)
				d += va[c] * vb[c];
			s->fG[(size_t)a * s->fn + b] += d;
		}
	}
}

/* The sums as the model's item_features table (f->itemfeat). */
void
cf_fm_meta_finish(struct fm *s, struct fit *f, float rescale)
{
	int K = s->taken * s->k;
	cf_itemfeat *it = cf_itemfeat_new(s->fn, K);
	char b[64];

	for (uint32_t a = 0; a < s->fn; a++) {
		uint32_t j = 0;
		const struct group *g = is_raters(s, a) ? NULL : meta_feature(s, a, &j);
		size_t len;
		int added;
		/* The names itemfeat.h's rule gives an item's genres and year. */
		if (is_raters(s, a)) {
			cf_idmap_intern(it->ids, "raters", 6, &added);
		} else if (s->ggen >= 0 && g == &s->g[s->ggen]) {
			const char *nm = cf_idmap_id(s->gnames, j, &len);
			char *key = cf_xmalloc(len + 7);
			memcpy(key, "genre:", 6);
			memcpy(key + 6, nm, len);
			cf_idmap_intern(it->ids, key, len + 6, &added);
			free(key);
		} else {
			int n = snprintf(b, sizeof b, "year:%d", (s->ylo + (int)j) * 5);
			cf_idmap_intern(it->ids, b, (size_t)n, &added);
		}
		it->bias[a] = (float)(s->fw[a] / s->taken);
		for (int c = 0; c < K; c++)
			it->V[(size_t)a * K + c] = s->fV[(size_t)a * s->kpS + c] * rescale;
		for (uint32_t o = 0; o < s->fn; o++)
			it->pair[(size_t)a * s->fn + o] = (float)(s->fG[(size_t)a * s->fn + o] / s->taken);
	}
	cf_itemfeat_free(f->itemfeat);
	f->itemfeat = it;
}
/* ------------------------------------------------------------ groups */

static const struct {
	const char *name;
	unsigned bit;
} group_names[] = {
	{"user", CF_FM_USER}, {"item", CF_FM_ITEM}, {"implicit", CF_FM_IMPLICIT},
	{"raters", CF_FM_RATERS}, {"genres", CF_FM_GENRES}, {"year", CF_FM_YEAR},
	{"profile", CF_FM_PROFILE}, {"time", CF_FM_TIME}, {"userday", CF_FM_USERDAY},
};

int
cf_fm_groups_parse(const char *s, unsigned *mask)
{
	unsigned m = 0;

	while (*s) {
		size_t len = strcspn(s, ",");
		size_t g;
		for (g = 0; g < sizeof group_names / sizeof group_names[0]; g++)
			if (strlen(group_names[g].name) == len && !strncmp(s, group_names[g].name, len))
				break;
		if (g == sizeof group_names / sizeof group_names[0])
			return -1;
		m |= group_names[g].bit;
		s += len + (s[len] == ',');
	}
	if (!m)
		return -1;
	*mask = m;
	return 0;
}

void
cf_fm_groups_format(unsigned mask, int with_meta, int with_users, char *b, size_t len)
{
	size_t w = 0;

	b[0] = 0;
	for (size_t g = 0; g < sizeof group_names / sizeof group_names[0]; g++) {
		unsigned bit = group_names[g].bit;
		if (!(mask & bit) || (!with_meta && (bit & (CF_FM_GENRES | CF_FM_YEAR))) ||
		    (!with_users && bit == CF_FM_PROFILE))
			continue;
		int r = snprintf(b + w, len - w, "%s%s", w ? "," : "", group_names[g].name);
		if (r < 0 || (size_t)r >= len - w)
			break;
		w += (size_t)r;
	}
}
