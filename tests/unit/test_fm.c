/*
 * test_fm.c - unit tests of the factorization machine's sampler
 * (train/fm.c): every conditional draw (each group's bias and factors)
 * against a dense reference built here, independently of the sampler's
 * relation blocks: the design matrix of the ratings written out feature
 * by feature, the FM's prediction by its definition (every pair of
 * active features), and the coordinate's conditional from the
 * prediction's linearity in it (h = y(theta = 1) - y(theta = 0)):
 * precision alpha sum h^2 + lambda, mean (alpha sum (r - y0) h + lambda
 * mu) / precision.  Many draws from one state must show that mean and
 * variance.  Also: the stored model predicts the average of the samples
 * (its valid RMSE against the averaged one), and thread counts do not
 * change a bit.  The users have a profile (--users: an occupation and an
 * age, ufeat.h), its features numbered as ufeat.h says: the occupations
 * in order of first appearance, then the ages' distinct values in order.
 */
#include <check.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_util.h"
#include "frame.h"
#include "itemfeat.h"
#include "meta.h"
#include "mf.h"
#include "model.h"
#include "ratings.h"
#include "rng.h"
#include "ufeat.h"
#include "timefeat.h"
#include "train/fm-int.h"
#include "util.h"

Suite *fm_suite(void);

enum { NU = 7, NI = 6, K = 3, NDRAWS = 20000 };

/* Items' genres and years (the movies.csv written for --items). */
static const char *const genres[NI] = {"A|B", "B", "A|C", "C", "B|C|A", "A"};
static const int years[NI] = {1990, 1994, 2001, 1990, 2012, 1996};
/* Users' profiles (the users frame written for --users; "" is none). */
static const char *const occs[NU] = {"b", "a", "b", "c", "", "a", "c"};
static const char *const ages[NU] = {"30", "20", "", "30", "50", "20", "40"};
static const int occ_level[NU] = {0, 1, 0, 2, -1, 1, 2};
static const int age_level[NU] = {1, 0, -1, 1, 3, 0, 2};

/* The users frame: userId, occupation, age (all str, as csv2bin writes). */
static cf_ufeat *
tiny_users(const char *dir)
{
	char path[512], err[256], ids[NU][16], bytes[3][128];
	uint32_t off[3][NU + 1];
	cf_strcol sc[3];
	const void *cols[3];

	snprintf(path, sizeof path, "%s/users.bin", dir);
	FILE *fp = fopen(path, "wb");
	ck_assert_ptr_nonnull(fp);
	cf_schema *s = cf_schema_new("users");
	cf_schema_add(s, "userId", CF_STR, 1);
	cf_schema_add(s, "occupation", CF_STR, 1);
	cf_schema_add(s, "age", CF_STR, 1);
	for (int c = 0; c < 3; c++) {
		off[c][0] = 0;
		for (int u = 0; u < NU; u++) {
			snprintf(ids[u], sizeof ids[u], "u%d", u);
			const char *v = c == 0 ? ids[u] : c == 1 ? occs[u] : ages[u];
			memcpy(bytes[c] + off[c][u], v, strlen(v));
			off[c][u + 1] = off[c][u] + (uint32_t)strlen(v);
		}
		sc[c].off = off[c];
		sc[c].data = bytes[c];
		cols[c] = &sc[c];
	}
	cf_writer *w = cf_writer_new(fp, path);
	cf_write_table(w, s);
	cf_write_block(w, NU, cols);
	cf_writer_finish(w);
	fclose(fp);
	cf_schema_free(s);
	cf_ufeat *uf = cf_ufeat_load(path, NULL, err, sizeof err);
	ck_assert_msg(uf != NULL, "%s", err);
	ck_assert_int_eq(cf_ufeat_count(uf), 3 + 4);
	return uf;
}

/* A rating's day: a few per user, over five days in all. */
static int64_t
day_of_rating(uint32_t u, uint32_t i)
{
	return 17000 + (int64_t)((u * 3 + i) % 5);
}

static void
tiny(cf_ratings *rs)
{
	cf_rng g;
	char b[32];

	cf_ratings_init(rs, 1);
	for (uint32_t u = 0; u < NU; u++) {
		snprintf(b, sizeof b, "u%u", u);
		cf_idmap_intern(rs->users, b, strlen(b), NULL);
	}
	for (uint32_t i = 0; i < NI; i++) {
		snprintf(b, sizeof b, "%u", i + 1);
		cf_idmap_intern(rs->items, b, strlen(b), NULL);
	}
	cf_rng_seed(&g, 7, 0);
	for (uint32_t u = 0; u < NU; u++)
		for (uint32_t i = 0; i < NI; i++)
			if (cf_rng_uniform(&g) < 0.55 || i == u % NI)
				cf_ratings_add(rs, u, i, (float)(1 + floor(cf_rng_uniform(&g) * 5)),
				               day_of_rating(u, i) * 86400 + 3600 * (int64_t)i);
}

static cf_meta *
tiny_meta(char *dir, size_t len)
{
	char path[512];
	size_t rows;
	char err[256];

	cf_test_mkdtemp(dir, len, "fm");
	snprintf(path, sizeof path, "%s/movies.csv", dir);
	FILE *fp = fopen(path, "w");
	ck_assert_ptr_nonnull(fp);
	fprintf(fp, "movieId,title,genres\n");
	for (int i = 0; i < NI; i++)
		fprintf(fp, "%d,Movie %d (%d),%s\n", i + 1, i + 1, years[i], genres[i]);
	fclose(fp);
	cf_meta *m = cf_meta_new();
	ck_assert_int_eq(cf_meta_read_movies(m, path, &rows, err, sizeof err), 0);
	return m;
}

/* ---- the dense reference ---- */

struct dense {
	int p;                  /* features */
	int off[9];             /* each group's first feature */
	double *X;              /* n x p */
	double *w, *V;          /* p, p x K (the probe's state) */
};

static int
group_index(const cf_fm_probe *pr, const char *name)
{
	for (int g = 0; g < pr->ngroups; g++)
		if (!strcmp(pr->names[g], name))
			return g;
	return -1;
}

/* The design matrix, written from the ratings as the features are defined. */
static void
dense_build(struct dense *d, const cf_ratings *rs, const cf_fm_probe *pr)
{
	int nu_[NU] = {0}, ni_[NI] = {0}, ng = 0, ylo = 1 << 30;
	char gname[8];

	for (size_t t = 0; t < rs->n; t++) {
		nu_[rs->user[t]]++;
		ni_[rs->item[t]]++;
	}
	/* genres numbered in order of first appearance over the items */
	for (int i = 0; i < NI; i++) {
		ylo = years[i] / 5 < ylo ? years[i] / 5 : ylo;
		for (const char *c = genres[i]; *c; c++)
			if (*c != '|') {
				int f = 0;
				for (int j = 0; j < ng; j++)
					f |= gname[j] == *c;
				if (!f)
					gname[ng++] = *c;
			}
	}
	d->p = 0;
	for (int g = 0; g < pr->ngroups; g++) {
		d->off[g] = d->p;
		d->p += (int)pr->nf[g];
	}
	d->X = cf_xcalloc(rs->n * d->p, sizeof *d->X);
	d->w = cf_xcalloc(d->p, sizeof *d->w);
	d->V = cf_xcalloc((size_t)d->p * K, sizeof *d->V);
	for (int g = 0; g < pr->ngroups; g++) {
		memcpy(d->w + d->off[g], pr->w[g], pr->nf[g] * sizeof(double));
		memcpy(d->V + (size_t)d->off[g] * K, pr->V[g], pr->nf[g] * K * sizeof(double));
	}
	int gu = group_index(pr, "user"), gi = group_index(pr, "item");
	int gm = group_index(pr, "implicit"), gr = group_index(pr, "raters");
	int gg = group_index(pr, "genres"), gy = group_index(pr, "year");
	int gp = group_index(pr, "profile");
	int gt = group_index(pr, "time"), gd = group_index(pr, "userday");
	/* time bins: 30 of equal counts, each starting at the day of rating
	 * floor(b n / 30) in day order, repeats merged; user-days numbered in
	 * (user, day) order */
	int64_t *days = cf_xmalloc(rs->n * sizeof *days), first[30];
	int nb = 0;
	for (size_t t = 0; t < rs->n; t++)
		days[t] = day_of_rating(rs->user[t], rs->item[t]);
	for (size_t a = 1; a < rs->n; a++)        /* insertion sort: a few dozen */
		for (size_t b = a; b > 0 && days[b] < days[b - 1]; b--) {
			int64_t x = days[b];
			days[b] = days[b - 1];
			days[b - 1] = x;
		}
	for (int b = 0; b < 30; b++) {
		int64_t d0 = days[(size_t)((double)b * rs->n / 30)];
		if (nb == 0 || d0 > first[nb - 1])
			first[nb++] = d0;
	}
	free(days);
	if (gt >= 0)
		ck_assert_int_eq(pr->nf[gt], nb);
	for (size_t t = 0; t < rs->n; t++) {
		double *x = d->X + t * d->p;
		uint32_t u = rs->user[t], i = rs->item[t];
		if (gu >= 0)
			x[d->off[gu] + u] = 1;
		if (gi >= 0)
			x[d->off[gi] + i] = 1;
		for (size_t s = 0; s < rs->n; s++) {
			if (gm >= 0 && rs->user[s] == u)
				x[d->off[gm] + rs->item[s]] = 1 / sqrt(nu_[u]);
			if (gr >= 0 && rs->item[s] == i)
				x[d->off[gr] + rs->user[s]] = 1 / sqrt(ni_[i]);
		}
		if (gg >= 0) {
			int m = 0;
			for (const char *c = genres[i]; *c; c++)
				m += *c != '|';
			for (const char *c = genres[i]; *c; c++)
				for (int j = 0; j < ng && *c != '|'; j++)
					if (gname[j] == *c)
						x[d->off[gg] + j] = 1 / sqrt(m);
		}
		if (gy >= 0)
			x[d->off[gy] + years[i] / 5 - ylo] = 1;
		int64_t day = day_of_rating(u, i);
		if (gt >= 0) {
			int b = 0;
			while (b + 1 < nb && first[b + 1] <= day)
				b++;
			x[d->off[gt] + b] = 1;
		}
		if (gd >= 0) {
			/* the user-days before (u, day): other users' below u, u's before day */
			int j = 0;
			for (uint32_t v = 0; v < NU; v++)
				for (int64_t e = 17000; e < 17005; e++) {
					int has = 0;
					for (size_t s2 = 0; s2 < rs->n; s2++)
						has |= rs->user[s2] == v &&
						       day_of_rating(v, rs->item[s2]) == e;
					j += has && (v < u || (v == u && e < day));
				}
			x[d->off[gd] + j] = 1;
		}
		if (gp >= 0) {
			int m = (occ_level[u] >= 0) + (age_level[u] >= 0);
			if (occ_level[u] >= 0)
				x[d->off[gp] + occ_level[u]] = 1 / sqrt(m);
			if (age_level[u] >= 0)
				x[d->off[gp] + 3 + age_level[u]] = 1 / sqrt(m);
		}
	}
}

/* The FM's prediction for row t, every pair of features by definition. */
static double
dense_pred(const struct dense *d, double w0, size_t t)
{
	const double *x = d->X + t * d->p;
	double y = w0;

	for (int j = 0; j < d->p; j++) {
		if (x[j] == 0)
			continue;
		y += d->w[j] * x[j];
		for (int l = j + 1; l < d->p; l++) {
			double s = 0;
			for (int c = 0; c < K; c++)
				s += d->V[j * K + c] * d->V[l * K + c];
			y += s * x[j] * x[l];
		}
	}
	return y;
}

static void
dense_free(struct dense *d)
{
	free(d->X);
	free(d->w);
	free(d->V);
}

/* The conditional of one coordinate; draws checked against it. */
static void
check_coordinate(const char *group, uint32_t feature, int coord)
{
	cf_ratings rs;
	char dir[256], err[256];
	cf_meta *meta;
	cf_fm_probe pr;
	struct dense d;

	tiny(&rs);
	meta = tiny_meta(dir, sizeof dir);
	cf_ufeat *uf = tiny_users(dir);
	memset(&pr, 0, sizeof pr);
	pr.group = group;
	pr.feature = feature;
	pr.coord = coord;
	pr.ndraws = NDRAWS;
	cf_mf_params p = cf_mf_defaults(CF_FM);
	p.k = K;
	p.epochs = 2;
	p.burn_in = 3;
	p.quiet = 1;
	p.threads = 2;
	p.items_meta = meta;
	p.users_feat = uf;
	p.fm_probe = &pr;
	p.fm_groups = CF_FM_ALL;        /* the time groups too: the context side */
	cf_model *m = cf_mf_train(&rs, NULL, &p, NULL, err, sizeof err);
	ck_assert_msg(m != NULL, "%s", err);
	ck_assert_msg(pr.draws != NULL, "no draws for %s %u %d", group, feature, coord);
	ck_assert_int_eq(pr.ngroups, 9);

	dense_build(&d, &rs, &pr);
	int g = group_index(&pr, group);
	int j = d.off[g] + (int)feature;
	double *th = coord < 0 ? &d.w[j] : &d.V[j * K + coord];
	double H = 0, R = 0;
	for (size_t t = 0; t < rs.n; t++) {
		*th = 0;
		double y0 = dense_pred(&d, pr.w0, t);
		*th = 1;
		double h = dense_pred(&d, pr.w0, t) - y0;
		H += h * h;
		R += (rs.rating[t] - y0) * h;
	}
	double prec = pr.alpha * H + pr.prior_prec;
	double mean = (pr.alpha * R + pr.prior_prec * pr.prior_mean) / prec, var = 1 / prec;
	double sm = 0, sv = 0;
	for (int k = 0; k < NDRAWS; k++)
		sm += pr.draws[k];
	sm /= NDRAWS;
	for (int k = 0; k < NDRAWS; k++)
		sv += (pr.draws[k] - sm) * (pr.draws[k] - sm);
	sv /= NDRAWS - 1;
	ck_assert_msg(H > 0, "%s %u %d: the feature is active", group, feature, coord);
	ck_assert_msg(fabs(sm - mean) < 5 * sqrt(var / NDRAWS),
	              "%s %u coord %d: mean %g, reference %g (sd %g)", group, feature, coord, sm,
	              mean, sqrt(var));
	ck_assert_msg(fabs(sv / var - 1) < 0.05, "%s %u coord %d: variance %g, reference %g",
	              group, feature, coord, sv, var);
	dense_free(&d);
	cf_fm_probe_free(&pr);
	cf_model_free(m);
	cf_meta_free(meta);
	cf_ufeat_free(uf);
	cf_ratings_free(&rs);
	cf_test_rmdir(dir);
}

START_TEST(conditional_user) { check_coordinate("user", 2, -1); check_coordinate("user", 4, 1); }
END_TEST
START_TEST(conditional_item) { check_coordinate("item", 1, -1); check_coordinate("item", 5, 2); }
END_TEST
START_TEST(conditional_implicit)
{
	check_coordinate("implicit", 0, -1);
	check_coordinate("implicit", 3, 0);
}
END_TEST
START_TEST(conditional_raters)
{
	check_coordinate("raters", 6, -1);
	check_coordinate("raters", 1, 2);
}
END_TEST
START_TEST(conditional_genres)
{
	check_coordinate("genres", 0, -1);
	check_coordinate("genres", 2, 1);
}
END_TEST
START_TEST(conditional_year)
{
	check_coordinate("year", 0, -1);
	check_coordinate("year", 4, 0);
}
END_TEST
START_TEST(conditional_profile)
{
	check_coordinate("profile", 0, -1);     /* occupation b */
	check_coordinate("profile", 5, 2);      /* age 40 */
}
END_TEST

/*
 * A numeric column of many values: deciles by rank, ties in one bin, NaN
 * no feature; an integer column of few values: a level per value.
 */
START_TEST(conditional_time) { check_coordinate("time", 0, -1); check_coordinate("time", 2, 1); }
END_TEST
START_TEST(conditional_userday)
{
	check_coordinate("userday", 3, -1);
	check_coordinate("userday", 9, 0);
}
END_TEST

/* The time bins' rule, and the model's lookups: a day's bin (before the
 * first: the first; after the last: the last), a user's day (absent if
 * training had no rating of that user that day). */
START_TEST(time_features)
{
	int64_t day[10] = {5, 5, 5, 5, 5, 6, 7, 9, 9, 12}, first[4];
	/* ratings 0, 2, 5, 7 (b n / 4) -> days 5, 5, 6, 9: bins start 5, 6, 9 */
	ck_assert_uint_eq(cf_fm_time_bins(day, 10, 4, first), 3);
	ck_assert(first[0] == 5 && first[1] == 6 && first[2] == 9);
	ck_assert_uint_eq(cf_fm_time_bins(day, 10, 2, first), 2);
	ck_assert(first[0] == 5 && first[1] == 6);
	ck_assert_uint_eq(cf_fm_time_bins(day, 5, 3, first), 1);       /* one day: one bin */
	ck_assert(cf_day_of(-1) == -1 && cf_day_of(86399) == 0 && cf_day_of(86400) == 1);

	cf_ratings rs;
	char err[256];
	tiny(&rs);
	cf_mf_params p = cf_mf_defaults(CF_FM);
	p.k = K;
	p.epochs = 3;
	p.burn_in = 2;
	p.quiet = 1;
	p.fm_groups = CF_FM_USER | CF_FM_ITEM | CF_FM_TIME | CF_FM_USERDAY;
	p.fm_groups_set = p.fm_groups;
	cf_model *m = cf_mf_train(&rs, NULL, &p, NULL, err, sizeof err);
	ck_assert_msg(m != NULL, "%s", err);
	const cf_timefeat *tf = m->timefeat;
	ck_assert_ptr_nonnull(tf);
	ck_assert_int_eq(tf->k, 3 * K);
	ck_assert_uint_eq(cf_timefeat_bin(tf, 0), 0);
	ck_assert_uint_eq(cf_timefeat_bin(tf, 1 << 30), tf->nb - 1);
	for (uint32_t b = 0; b < tf->nb; b++)
		ck_assert_uint_eq(cf_timefeat_bin(tf, tf->day[b]), b);
	/* every training (user, day) has its row; the other days none */
	uint32_t nd = 0;
	for (uint32_t u = 0; u < NU; u++)
		for (int64_t d = 16990; d < 17010; d++) {
			int has = 0;
			for (size_t t = 0; t < rs.n; t++)
				has |= rs.user[t] == u && day_of_rating(u, rs.item[t]) == d;
			uint32_t r = cf_timefeat_userday(tf, u, d);
			ck_assert_msg(has == (r != UINT32_MAX), "user %u day %lld", u, (long long)d);
			if (has) {
				ck_assert(tf->user[r] == u && tf->day[r] == d);
				nd++;
			}
		}
	ck_assert_uint_eq(nd, tf->nd);
	ck_assert_uint_eq(cf_timefeat_userday(tf, UINT32_MAX, 17000), UINT32_MAX);
	/* the stream keeps them */
	char dir[256], path[512];
	cf_test_mkdtemp(dir, sizeof dir, "fmt");
	snprintf(path, sizeof path, "%s/m.bin", dir);
	FILE *fp = fopen(path, "wb");
	ck_assert_ptr_nonnull(fp);
	cf_writer *w = cf_writer_new(fp, path);
	ck_assert_int_eq(cf_model_write(w, m), 0);
	cf_writer_finish(w);
	fclose(fp);
	cf_reader *rd = cf_reader_open_path(path);
	cf_model *back = cf_model_read(rd, err, sizeof err);
	ck_assert_msg(back != NULL, "%s", err);
	ck_assert_ptr_nonnull(back->timefeat);
	ck_assert_uint_eq(back->timefeat->nb + back->timefeat->nd, tf->nb + tf->nd);
	ck_assert_mem_eq(back->timefeat->V, tf->V, (size_t)(tf->nb + tf->nd) * tf->k * 4);
	ck_assert_mem_eq(back->timefeat->bias, tf->bias, (size_t)(tf->nb + tf->nd) * 4);
	cf_model_free(back);    /* and its reader */
	cf_test_rmdir(dir);
	/* without timestamps, asked for by name: refused */
	cf_ratings r0;
	cf_ratings_init(&r0, 0);
	for (size_t t = 0; t < rs.n; t++)
		cf_ratings_add(&r0, rs.user[t], rs.item[t], rs.rating[t], 0);
	cf_idmap_free(r0.users);
	cf_idmap_free(r0.items);
	r0.users = cf_idmap_copy(rs.users);
	r0.items = cf_idmap_copy(rs.items);
	ck_assert_ptr_null(cf_mf_train(&r0, NULL, &p, NULL, err, sizeof err));
	ck_assert_msg(strstr(err, "timestamps") != NULL, "%s", err);
	cf_ratings_free(&r0);
	cf_model_free(m);
	cf_ratings_free(&rs);
}
END_TEST

START_TEST(profile_deciles)
{
	enum { N = 101 };
	char dir[256], path[512], err[256];
	int64_t id[N];
	double score[N];
	int32_t kids[N];
	const void *cols[3] = {id, score, kids};

	cf_test_mkdtemp(dir, sizeof dir, "ufeat");
	snprintf(path, sizeof path, "%s/u.bin", dir);
	for (int r = 0; r < N; r++) {
		id[r] = 1000 + r;
		score[r] = r < N - 1 ? (double)(r / 2) : NAN;  /* pairs tie */
		kids[r] = (r * 7) % 3 - 1;                      /* -1, 0 or 1 */
	}
	FILE *fp = fopen(path, "wb");
	ck_assert_ptr_nonnull(fp);
	cf_schema *s = cf_schema_new("people");
	cf_schema_add(s, "id", CF_I64, 1);
	cf_schema_add(s, "score", CF_F64, 1);
	cf_schema_add(s, "kids", CF_I32, 1);
	cf_writer *w = cf_writer_new(fp, path);
	cf_write_table(w, s);
	cf_write_block(w, N, cols);
	cf_writer_finish(w);
	fclose(fp);
	cf_schema_free(s);
	cf_ufeat *uf = cf_ufeat_load(path, NULL, err, sizeof err);
	ck_assert_msg(uf != NULL, "%s", err);
	ck_assert_int_eq(cf_ufeat_count(uf), 10 + 3);
	for (int r = 0; r < N; r++) {
		char b[16];
		snprintf(b, sizeof b, "%d", 1000 + r);
		uint32_t row = cf_ufeat_find(uf, b, strlen(b)), n;
		const uint32_t *idx;
		ck_assert_uint_eq(row, (uint32_t)r);
		cf_ufeat_row(uf, row, &idx, &n);
		uint32_t want_kids = 10 + (uint32_t)(kids[r] + 1);
		if (r == N - 1) {
			ck_assert_uint_eq(n, 1);
			ck_assert_uint_eq(idx[0], want_kids);
		} else {
			ck_assert_uint_eq(n, 2);
			ck_assert_uint_eq(idx[0], (uint32_t)(r / 2 * 2 * 10 / (N - 1)));
			ck_assert_uint_eq(idx[1], want_kids);
		}
	}
	ck_assert_uint_eq(cf_ufeat_find(uf, "0999", 4), UINT32_MAX);
	ck_assert_uint_eq(cf_ufeat_find(uf, "01000", 5), 0);     /* canonical ids */
	cf_ufeat_free(uf);
	ck_assert_ptr_null(cf_ufeat_load(path, "kids,nope", err, sizeof err));
	ck_assert_msg(strstr(err, "no feature column 'nope'") != NULL, "%s", err);
	cf_test_rmdir(dir);
}
END_TEST

/*
 * The item_features table's "raters" row (itemfeat.h): with one kept
 * sample, the mean over the ratings of their item's raters block, here
 * summed over the raters' pairs one by one (fmfeat.c uses the square of
 * the sum), from the state the probe hands out (a user-side coordinate:
 * its extra pass leaves the item side as the sample had it).
 */
START_TEST(new_item_raters)
{
	cf_ratings rs;
	char dir[256], err[256];
	cf_fm_probe pr;

	tiny(&rs);
	cf_meta *meta = tiny_meta(dir, sizeof dir);
	memset(&pr, 0, sizeof pr);
	pr.group = "user";
	pr.feature = 0;
	pr.coord = -1;
	pr.ndraws = 1;
	cf_mf_params p = cf_mf_defaults(CF_FM);
	p.k = K;
	p.epochs = 1;           /* one kept sample, after 3 burn-in sweeps */
	p.burn_in = 3;
	p.quiet = 1;
	p.items_meta = meta;
	p.fm_probe = &pr;
	cf_model *m = cf_mf_train(&rs, NULL, &p, NULL, err, sizeof err);
	ck_assert_msg(m != NULL, "%s", err);
	ck_assert_ptr_nonnull(m->itemfeat);
	ck_assert_int_eq(m->k, K);
	const cf_itemfeat *it = m->itemfeat;
	uint32_t jr = cf_idmap_find(it->ids, "raters", 6), jg = cf_idmap_find(it->ids, "genre:B", 7);
	ck_assert_uint_eq(jr, it->n - 1);
	ck_assert_uint_ne(jg, UINT32_MAX);
	int g = group_index(&pr, "raters"), gb = group_index(&pr, "genres");
	const double *w = pr.w[g], *V = pr.V[g];
	/* genre B: the second genre to appear ("A|B" first) */
	const double *vB = pr.V[gb] + 1 * K;
	double b = 0, v[K] = {0};
	for (size_t t = 0; t < rs.n; t++) {
		uint32_t i = rs.item[t], who[NU], n = 0;
		for (size_t q = 0; q < rs.n; q++)
			if (rs.item[q] == i)
				who[n++] = rs.user[q];
		double x = 1 / sqrt((double)n);
		for (uint32_t a = 0; a < n; a++) {
			b += x * w[who[a]];
			for (int c = 0; c < K; c++)
				v[c] += x * V[who[a] * K + c];
			for (uint32_t e = a + 1; e < n; e++)
				for (int c = 0; c < K; c++)
					b += x * x * V[who[a] * K + c] * V[who[e] * K + c];
		}
	}
	b /= (double)rs.n;
	double pair = 0;
	for (int c = 0; c < K; c++) {
		v[c] /= (double)rs.n;
		pair += v[c] * vB[c];
		ck_assert_double_eq_tol(it->V[(size_t)jr * K + c], v[c], 1e-5);
	}
	ck_assert_double_eq_tol(it->bias[jr], b, 1e-5);
	ck_assert_double_eq_tol(it->pair[(size_t)jr * it->n + jg], pair, 1e-5);
	ck_assert_double_eq_tol(it->pair[(size_t)jg * it->n + jr], pair, 1e-5);
	/* a new item with genre B and no year: genre B's terms, then the raters' */
	double nb;
	float q[K];
	ck_assert_uint_eq(cf_itemfeat_item(it, "B", 1, 0, &nb, q), 2);
	ck_assert_double_eq_tol(nb, it->bias[jg] + b + pair, 1e-5);
	for (int c = 0; c < K; c++)
		ck_assert_double_eq_tol(q[c], it->V[(size_t)jg * K + c] + v[c], 1e-5);
	cf_fm_probe_free(&pr);
	cf_model_free(m);
	cf_meta_free(meta);
	cf_ratings_free(&rs);
	cf_test_rmdir(dir);
}
END_TEST

/* The stored model: its predictions are the samples' averaged ones, and
 * the same bytes come out at 1 and 2 threads. */
START_TEST(stored_is_average)
{
	cf_ratings rs;
	char err[256];
	cf_model *m[2];

	tiny(&rs);
	for (int t = 0; t < 2; t++) {
		cf_mf_params p = cf_mf_defaults(CF_FM);
		p.k = K;
		p.epochs = 7;
		p.burn_in = 2;
		p.quiet = 1;
		p.threads = t + 1;
		m[t] = cf_mf_train(&rs, &rs, &p, NULL, err, sizeof err);
		ck_assert_msg(m[t] != NULL, "%s", err);
	}
	ck_assert_int_eq(m[0]->k, 7 * K);
	ck_assert_mem_eq(m[0]->P, m[1]->P, (size_t)NU * m[0]->k * sizeof(float));
	ck_assert_mem_eq(m[0]->Q, m[1]->Q, (size_t)NI * m[0]->k * sizeof(float));
	ck_assert_mem_eq(m[0]->bu, m[1]->bu, NU * sizeof(float));
	ck_assert_mem_eq(m[0]->bi, m[1]->bi, NI * sizeof(float));
	/* valid_rmse: the averaged sample predictions (in double) on rs. */
	double avg = atof(cf_schema_get(m[0]->attrs, "valid_rmse")), q = 0;
	for (size_t t = 0; t < rs.n; t++) {
		const cf_model *a = m[0];
		double y = a->mu + a->bu[rs.user[t]] + a->bi[rs.item[t]];
		for (int c = 0; c < a->k; c++)
			y += (double)a->P[(size_t)rs.user[t] * a->k + c] * a->Q[(size_t)rs.item[t] * a->k + c];
		q += (rs.rating[t] - y) * (rs.rating[t] - y);
	}
	ck_assert_double_eq_tol(sqrt(q / rs.n), avg, 1e-5);
	cf_model_free(m[0]);
	cf_model_free(m[1]);
	cf_ratings_free(&rs);
}
END_TEST

Suite *
fm_suite(void)
{
	Suite *s = suite_create("fm");
	TCase *tc = tcase_create("sampler");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, conditional_user);
	tcase_add_test(tc, conditional_item);
	tcase_add_test(tc, conditional_implicit);
	tcase_add_test(tc, conditional_raters);
	tcase_add_test(tc, conditional_genres);
	tcase_add_test(tc, conditional_year);
	tcase_add_test(tc, conditional_profile);
	tcase_add_test(tc, conditional_time);
	tcase_add_test(tc, conditional_userday);
	tcase_add_test(tc, time_features);
	tcase_add_test(tc, profile_deciles);
	tcase_add_test(tc, stored_is_average);
	tcase_add_test(tc, new_item_raters);
	suite_add_tcase(s, tc);
	return s;
}
