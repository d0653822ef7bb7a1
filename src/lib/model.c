/*
 * model.c - the model's memory and its frame stream (see model.h).
 */
#include "model.h"
#include "blend.h"
#include "itemfeat.h"
#include "timefeat.h"
#include "utf8.h"
#include "util.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

cf_model *
cf_model_new(uint32_t nusers, uint32_t nitems, int k, const char *algo)
{
	cf_model *m = cf_xcalloc(1, sizeof *m);

	m->owned = 1;
	m->nusers = nusers;
	m->nitems = nitems;
	m->k = k;
	snprintf(m->algo, sizeof m->algo, "%s", algo);
	m->attrs = cf_schema_new("model");
	m->bu = cf_xcalloc(nusers, sizeof *m->bu);
	m->bi = cf_xcalloc(nitems, sizeof *m->bi);
	/* 64-byte aligned, as the stream is: the same BLAS/SIMD paths apply. */
	size_t pb = ((size_t)nusers * k * sizeof(float) + 63) & ~(size_t)63;
	size_t qb = ((size_t)nitems * k * sizeof(float) + 63) & ~(size_t)63;
	m->P = aligned_alloc(64, pb ? pb : 64);
	m->Q = aligned_alloc(64, qb ? qb : 64);
	if (!m->P || !m->Q)
		cf_die("out of memory for a %u x %u model at rank %d", nusers, nitems, k);
	memset(m->P, 0, pb);
	memset(m->Q, 0, qb);
	m->seen_ptr = cf_xcalloc((size_t)nusers + 1, sizeof *m->seen_ptr);
	cf_model_parse_hparams(m);
	return m;
}

static void blend_free(cf_model *m);

void
cf_model_free(cf_model *m)
{
	if (!m)
		return;
	if (m->parts) {         /* a blend: its view of part 0 is borrowed */
		blend_free(m);
		return;
	}
	if (m->owned) {
		free(m->bu);
		free(m->bi);
		free(m->P);
		free(m->Q);
		free(m->seen_item);
		free(m->seen_rating);
		free(m->seen_ts);
		free(m->nn_item);
		free(m->nn_w);
	}
	free(m->seen_ptr);
	free(m->nn_ptr);
	for (int t = 0; t < 4; t++)
		cf_table_free(&m->tabs[t]);
	cf_reader_close(m->src);
	cf_idmap_free(m->users);
	cf_idmap_free(m->items);
	cf_itemfeat_free(m->itemfeat);
	cf_timefeat_free(m->timefeat);
	cf_schema_free(m->attrs);
	free(m);
}

void
cf_model_set_dicts(cf_model *m, const cf_idmap *users, const cf_idmap *items)
{
	cf_idmap_free(m->users);
	cf_idmap_free(m->items);
	m->users = cf_idmap_copy(users);
	m->items = cf_idmap_copy(items);
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

void
cf_model_set_seen(cf_model *m, const cf_ratings *rs)
{
	uint64_t n = rs->n;
	uint32_t *order = cf_xmalloc(n * sizeof *order);
	uint64_t *pos;

	/* Counting sort by user, then each user's rows by item. */
	memset(m->seen_ptr, 0, ((size_t)m->nusers + 1) * sizeof *m->seen_ptr);
	for (uint64_t r = 0; r < n; r++)
		m->seen_ptr[rs->user[r] + 1]++;
	for (uint32_t u = 0; u < m->nusers; u++)
		m->seen_ptr[u + 1] += m->seen_ptr[u];
	pos = cf_xmalloc(((size_t)m->nusers + 1) * sizeof *pos);
	memcpy(pos, m->seen_ptr, ((size_t)m->nusers + 1) * sizeof *pos);
	for (uint64_t r = 0; r < n; r++)
		order[pos[rs->user[r]]++] = (uint32_t)r;
	free(pos);
	free(m->seen_item);
	free(m->seen_rating);
	free(m->seen_ts);
	m->nseen = n;
	m->seen_item = cf_xmalloc(n * sizeof *m->seen_item);
	m->seen_rating = cf_xmalloc(n * sizeof *m->seen_rating);
	m->seen_ts = rs->has_ts ? cf_xmalloc(n * sizeof *m->seen_ts) : NULL;
	/* Sort (item << 32 | row) keys within each user to carry the row along. */
	uint64_t *key = cf_xmalloc(n * sizeof *key);
	for (uint64_t r = 0; r < n; r++)
		key[r] = (uint64_t)rs->item[order[r]] << 32 | order[r];
	for (uint32_t u = 0; u < m->nusers; u++) {
		uint64_t a = m->seen_ptr[u], b = m->seen_ptr[u + 1];
		qsort(key + a, b - a, sizeof *key, cmp_u64);
		for (uint64_t j = a; j < b; j++) {
			uint32_t r = (uint32_t)key[j];
			m->seen_item[j] = rs->item[r];
			m->seen_rating[j] = rs->rating[r];
			if (m->seen_ts)
				m->seen_ts[j] = rs->ts[r];
		}
	}
	free(key);
	free(order);
}

int
cf_model_seen(const cf_model *m, uint32_t u, uint32_t i)
{
	uint64_t lo = m->seen_ptr[u], hi = m->seen_ptr[u + 1];

	while (lo < hi) {
		uint64_t mid = lo + (hi - lo) / 2;
		if (m->seen_item[mid] < i)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < m->seen_ptr[u + 1] && m->seen_item[lo] == i;
}

void
cf_nn_add(const uint64_t *ptr, const uint32_t *idx, const float *w, const uint32_t *hist,
          size_t n, uint32_t j0, uint32_t nj, float *c)
{
	uint64_t e1 = (uint64_t)j0 + nj;

	for (size_t h = 0; h < n; h++) {
		uint64_t lo = ptr[hist[h]], hi = ptr[hist[h] + 1], e = hi;
		if (j0 > 0)
			while (lo < hi) {       /* first neighbour >= j0 */
				uint64_t mid = lo + (hi - lo) / 2;
				if (idx[mid] < j0)
					lo = mid + 1;
				else
					hi = mid;
			}
		for (; lo < e && idx[lo] < e1; lo++)
			c[idx[lo] - j0] += w[lo];
	}
}

float
cf_nn_weight(const cf_model *m, uint32_t j, uint32_t i)
{
	uint64_t lo = m->nn_ptr[j], hi = m->nn_ptr[j + 1];

	while (lo < hi) {
		uint64_t mid = lo + (hi - lo) / 2;
		if (m->nn_item[mid] < i)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < m->nn_ptr[j + 1] && m->nn_item[lo] == i ? m->nn_w[lo] : 0.0f;
}

/* ---------------------------------------------------------------- writing */

static void
set_num(cf_schema *s, const char *key, double v)
{
	char b[40];

	snprintf(b, sizeof b, "%.17g", v);
	cf_schema_set(s, key, b);
}

static int
write_factors(cf_writer *w, const char *name, uint32_t n, int k, const float *bias,
              const float *f)
{
	cf_schema *s = cf_schema_new(name);
	const void *cols[2] = {bias, f};
	int rc;

	cf_schema_add(s, "bias", CF_F32, 1);
	if (k > 0)
		cf_schema_add(s, "factors", CF_F32, (uint32_t)k);
	rc = cf_write_table(w, s);
	/* One block: the matrix stays contiguous for BLAS when mmapped. */
	if (rc == 0)
		rc = cf_write_block(w, n, cols);
	if (rc == 0)
		rc = cf_write_end(w);
	cf_schema_free(s);
	return rc;
}

static int
write_dict(cf_writer *w, const char *name, const cf_idmap *d)
{
	return cf_ratings_write_dict(w, name, d);
}

/* The item-neighbour weights (model.h): rows (item, neighbor, weight). */
static int
write_neighbors(cf_writer *w, const cf_model *m, uint32_t *icol)
{
	cf_schema *s = cf_schema_new("neighbors");
	uint32_t j = 0;
	int rc;

	cf_schema_add(s, "item", CF_U32, 1);
	cf_schema_add(s, "neighbor", CF_U32, 1);
	cf_schema_add(s, "weight", CF_F32, 1);
	rc = cf_write_table(w, s);
	cf_schema_free(s);
	for (uint64_t a = 0; rc == 0 && a < m->nnn; a += CF_BLOCK_ROWS) {
		uint32_t n = (uint32_t)(m->nnn - a < CF_BLOCK_ROWS ? m->nnn - a : CF_BLOCK_ROWS);
		for (uint32_t t = 0; t < n; t++) {
			while (m->nn_ptr[j + 1] <= a + t)
				j++;
			icol[t] = j;
		}
		const void *cols[3] = {icol, m->nn_item + a, m->nn_w + a};
		rc = cf_write_block(w, n, cols);
	}
	if (rc == 0)
		rc = cf_write_end(w);
	return rc;
}

static int write_blend(cf_writer *w, const cf_model *m);

int
cf_model_write(cf_writer *w, const cf_model *m)
{
	if (m->parts)
		return write_blend(w, m);
	cf_schema *s = cf_schema_copy(m->attrs);
	char b[32];
	int rc;

	cf_schema_set(s, "algo", m->algo);
	snprintf(b, sizeof b, "%d", m->k);
	cf_schema_set(s, "k", b);
	set_num(s, "mu", m->mu);
	snprintf(b, sizeof b, "%u", m->nusers);
	cf_schema_set(s, "n_users", b);
	snprintf(b, sizeof b, "%u", m->nitems);
	cf_schema_set(s, "n_items", b);
	if (m->has_scale) {
		set_num(s, "rating_min", m->rating_min);
		set_num(s, "rating_max", m->rating_max);
	}
	rc = cf_write_table(w, s);
	cf_schema_free(s);
	if (rc == 0)
		rc = cf_write_end(w);
	if (rc == 0)
		rc = write_factors(w, "user_factors", m->nusers, m->k, m->bu, m->P);
	if (rc == 0)
		rc = write_factors(w, "item_factors", m->nitems, m->k, m->bi, m->Q);
	if (rc == 0)
		rc = write_dict(w, "users", m->users);
	if (rc == 0)
		rc = write_dict(w, "items", m->items);
	if (rc != 0)
		return rc;

	s = cf_schema_new("seen");
	cf_schema_add(s, "user", CF_U32, 1);
	cf_schema_add(s, "item", CF_U32, 1);
	cf_schema_add(s, "rating", CF_F32, 1);
	if (m->seen_ts)
		cf_schema_add(s, "timestamp", CF_I64, 1);
	rc = cf_write_table(w, s);
	cf_schema_free(s);
	uint32_t *ucol = cf_xmalloc(CF_BLOCK_ROWS * sizeof *ucol);
	uint32_t u = 0;
	for (uint64_t a = 0; rc == 0 && a < m->nseen; a += CF_BLOCK_ROWS) {
		uint32_t n = (uint32_t)(m->nseen - a < CF_BLOCK_ROWS ? m->nseen - a : CF_BLOCK_ROWS);
		for (uint32_t j = 0; j < n; j++) {
			while (m->seen_ptr[u + 1] <= a + j)
				u++;
			ucol[j] = u;
		}
		const void *cols[4] = {ucol, m->seen_item + a, m->seen_rating + a,
		                       m->seen_ts ? (const void *)(m->seen_ts + a) : NULL};
		rc = cf_write_block(w, n, cols);
	}
	if (rc == 0)
		rc = cf_write_end(w);
	if (rc == 0 && m->nn_ptr)
		rc = write_neighbors(w, m, ucol);
	free(ucol);
	/* fm's optional table for new items (itemfeat.h). */
	if (rc == 0 && m->itemfeat)
		rc = cf_itemfeat_write(w, m->itemfeat);
	/* and its time features (timefeat.h) */
	if (rc == 0 && m->timefeat)
		rc = cf_timefeat_write(w, m->timefeat);
	return rc;
}

/* ---------------------------------------------------------------- reading */

static cf_model *
bad(cf_model *m, cf_reader *r, char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static cf_model *
bad(cf_model *m, cf_reader *r, char *err, size_t errlen, const char *fmt, ...)
{
	char msg[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (err) {
		snprintf(err, errlen, "%s: byte %" PRIu64 ": model: %s", cf_reader_name(r),
		         cf_reader_offset(r), msg);
		if (errlen)
			cf_oneline(err);        /* it may quote a table name from the stream */
	}
	m->src = NULL;          /* the caller owns the reader */
	cf_model_free(m);
	if (!err)
		cf_die("%s: byte %" PRIu64 ": model: %s", cf_reader_name(r),
		       cf_reader_offset(r), msg);
	return NULL;
}

/*
 * The first NaN or infinite value of n rows of bias and k factors: 1 and
 * its row and column (-1: the bias), or 0 if every value is finite.  The
 * scan is branch-free over runs of 4096, so a model that is fine (all of
 * them but crafted ones) costs a pass over its factors at memory speed.
 */
static int
nonfinite(const float *bias, const float *fac, uint64_t n, int k, uint64_t *row, int *col)
{
	const struct {
		const float *x;
		uint64_t len;
	} part[2] = {{bias, n}, {fac, fac ? n * (uint64_t)k : 0}};

	for (int p = 0; p < 2; p++) {
		for (uint64_t a = 0; a < part[p].len; a += 4096) {
			uint64_t e = part[p].len - a < 4096 ? part[p].len - a : 4096;
			unsigned any = 0;
			for (uint64_t j = 0; j < e; j++) {
				uint32_t b;
				memcpy(&b, &part[p].x[a + j], 4);
				any |= (b & 0x7f800000u) == 0x7f800000u;
			}
			if (!any)
				continue;
			for (uint64_t j = a;; j++) {
				if (!isfinite(part[p].x[j])) {
					*row = p ? j / (uint64_t)k : j;
					*col = p ? (int)(j % (uint64_t)k) : -1;
					return 1;
				}
			}
		}
	}
	return 0;
}

/* Reads the next table, which must be called name; 0 or -1 (message set). */
static int
next_table(cf_reader *r, const char *name, const cf_schema **s, char *msg, size_t len)
{
	int rc = cf_read_table(r, s);

	if (rc < 0) {
		snprintf(msg, len, "%s", cf_reader_error(r));
		return -1;
	}
	if (rc == 0) {
		snprintf(msg, len, "stream ended before the '%s' table", name);
		return -1;
	}
	if (strcmp((*s)->name, name) != 0) {
		snprintf(msg, len, "expected a '%s' table, found '%s'", name, (*s)->name);
		return -1;
	}
	return 0;
}

static int
attr_num(const cf_schema *s, const char *key, double *v)
{
	const char *a = cf_schema_get(s, key);

	return a ? cf_parse_double(a, v) : -1;
}

/* Attribute key as an int / a double / a penalty weight, if it reads as one. */
static void
hp_int(const cf_schema *s, const char *key, int *v)
{
	double x;

	if (attr_num(s, key, &x) == 0 && x >= 0 && x <= 1e9 && x == (int)x)
		*v = (int)x;
}

static void
hp_num(const cf_schema *s, const char *key, double *v)
{
	double x;

	if (attr_num(s, key, &x) == 0)
		*v = x;
}

static void
hp_regw(const cf_schema *s, const char *key, cf_regw *v)
{
	const char *a = cf_schema_get(s, key);
	int w = a ? cf_regw_parse(a) : -1;

	if (w >= 0)
		*v = (cf_regw)w;
}

void
cf_model_parse_hparams(cf_model *m)
{
	cf_hparams *h = &m->hp;
	int a = cf_algo_parse(m->algo);
	const cf_algo_info *d = cf_algo_get(a < 0 ? CF_ALS : (cf_algo)a);
	const cf_schema *s = m->attrs;
	unsigned long long seed;
	const char *sv;

	memset(h, 0, sizeof *h);
	h->algo = a;
	h->form = a < 0 ? CF_FORM_BIASED : d->form;
	if (strcmp(m->algo, "blend") == 0)
		h->form = CF_FORM_BLEND;        /* not an algorithm: no row of the table */
	h->k = m->k;
	h->epochs = d->epochs;
	h->lr = d->lr;
	h->lr_decay = d->lr_decay;
	h->reg = d->reg;
	h->reg_bias = d->reg_bias;
	h->alpha = d->alpha;
	h->init_scale = 0.1;
	/* Models from before these attributes are Hu-Koren-Volinsky's. */
	h->alpha0 = 1;
	h->nu = 0;
	h->seed = 42;
	h->reg_weight = d->reg_weight;
	h->reg_bias_weight = d->reg_bias_weight;
	if (!s)
		return;
	hp_int(s, "epochs", &h->epochs);
	hp_int(s, "epochs_run", &h->epochs_run);
	hp_int(s, "best_epoch", &h->best_epoch);
	hp_int(s, "patience", &h->patience);
	hp_int(s, "warm_start", &h->warm_start);
	/* fm (train/fm.c) */
	h->burn_in = d->burn_in;
	hp_int(s, "burn_in", &h->burn_in);
	hp_int(s, "fm_k", &h->fm_k);
	hp_num(s, "lr", &h->lr);
	hp_num(s, "lr_decay", &h->lr_decay);
	hp_num(s, "reg", &h->reg);
	hp_num(s, "reg_bias", &h->reg_bias);
	hp_num(s, "alpha", &h->alpha);
	hp_num(s, "init_scale", &h->init_scale);
	hp_num(s, "alpha0", &h->alpha0);
	hp_num(s, "nu", &h->nu);
	if (!(h->alpha0 >= 0 && h->alpha0 <= 1))
		h->alpha0 = 1;          /* the solve's weights need 0 <= alpha0 <= 1 */
	if ((sv = cf_schema_get(s, "seed")) && cf_parse_u64(sv, &seed) == 0)
		h->seed = seed;
	hp_regw(s, "reg_weight", &h->reg_weight);
	hp_regw(s, "reg_bias_weight", &h->reg_bias_weight);
	h->beta = d->beta;
	h->keep = d->keep;
	hp_num(s, "beta", &h->beta);
	hp_int(s, "keep", &h->keep);
	hp_int(s, "max_items", &h->max_items);
}

/*
 * The user_factors and item_factors tables into m (bu, P, bi, Q): their
 * shape, their rows and every value finite.  0, or -1 with the message.
 */
static int
read_factors(cf_model *m, cf_reader *r, char *msg, size_t len)
{
	static const char *fname[2] = {"user_factors", "item_factors"};
	const cf_schema *s;

	for (int t = 0; t < 2; t++) {
		uint32_t want = t ? m->nitems : m->nusers;
		if (next_table(r, fname[t], &s, msg, len) < 0)
			return -1;
		int cb = cf_schema_col(s, "bias"), cfac = cf_schema_col(s, "factors");
		if (cb < 0 || s->cols[cb].type != CF_F32 || s->cols[cb].width != 1 ||
		    (m->k > 0 && (cfac < 0 || s->cols[cfac].type != CF_F32 ||
		                  s->cols[cfac].width != (uint32_t)m->k))) {
			snprintf(msg, len, "'%s' must have bias f32 and factors f32[%d]", fname[t], m->k);
			return -1;
		}
		if (cf_read_all(r, &m->tabs[t]) < 0) {
			snprintf(msg, len, "%s", cf_reader_error(r));
			return -1;
		}
		if (m->tabs[t].nrows != want) {
			snprintf(msg, len, "'%s' has %" PRIu64 " rows, expected %u", fname[t],
			         m->tabs[t].nrows, want);
			return -1;
		}
		float *bias = m->tabs[t].col[cb];
		float *fac = m->k > 0 ? m->tabs[t].col[cfac] : NULL;
		uint64_t row;
		int col;
		if (nonfinite(bias, fac, want, m->k, &row, &col)) {
			/* NaN or inf would make every score it enters NaN. */
			if (col < 0)
				snprintf(msg, len, "'%s' row %" PRIu64 ": bias is %g: a model's numbers "
				         "must be finite", fname[t], row, (double)bias[row]);
			else
				snprintf(msg, len, "'%s' row %" PRIu64 ": factor %d is %g: a model's "
				         "numbers must be finite", fname[t], row, col,
				         (double)fac[row * (uint64_t)m->k + (uint64_t)col]);
			return -1;
		}
		if (t == 0)
			m->bu = bias, m->P = fac;
		else
			m->bi = bias, m->Q = fac;
	}
	return 0;
}

/*
 * An item-neighbour model's 'neighbors' table (after 'seen'): its columns,
 * every index in range, sorted by (item, neighbor), weights finite.
 */
static int
read_neighbors(cf_model *m, cf_reader *r, char *msg, size_t len)
{
	const cf_schema *s;

	if (next_table(r, "neighbors", &s, msg, len) < 0)
		return -1;
	int ci = cf_schema_col(s, "item"), cn = cf_schema_col(s, "neighbor");
	int cw = cf_schema_col(s, "weight");
	if (ci < 0 || cn < 0 || cw < 0 || s->cols[ci].type != CF_U32 || s->cols[ci].width != 1 ||
	    s->cols[cn].type != CF_U32 || s->cols[cn].width != 1 || s->cols[cw].type != CF_F32 ||
	    s->cols[cw].width != 1) {
		snprintf(msg, len, "'neighbors' must have item u32, neighbor u32, weight f32");
		return -1;
	}
	if (cf_read_all(r, &m->tabs[3]) < 0) {
		snprintf(msg, len, "%s", cf_reader_error(r));
		return -1;
	}
	const uint32_t *it = m->tabs[3].col[ci];
	m->nnn = m->tabs[3].nrows;
	m->nn_item = m->tabs[3].col[cn];
	m->nn_w = m->tabs[3].col[cw];
	m->nn_ptr = cf_xcalloc((size_t)m->nitems + 1, sizeof *m->nn_ptr);
	for (uint64_t j = 0; j < m->nnn; j++) {
		if (it[j] >= m->nitems || m->nn_item[j] >= m->nitems) {
			snprintf(msg, len, "'neighbors' row %" PRIu64 " is out of range", j);
			return -1;
		}
		if (!isfinite(m->nn_w[j])) {
			snprintf(msg, len, "'neighbors' row %" PRIu64 ": weight is %g: a model's "
			         "numbers must be finite", j, (double)m->nn_w[j]);
			return -1;
		}
		if (j && (it[j] < it[j - 1] || (it[j] == it[j - 1] && m->nn_item[j] <= m->nn_item[j - 1]))) {
			snprintf(msg, len, "'neighbors' is not sorted by (item, neighbor) at row %"
			         PRIu64, j);
			return -1;
		}
		m->nn_ptr[it[j] + 1]++;
	}
	for (uint32_t i = 0; i < m->nitems; i++)
		m->nn_ptr[i + 1] += m->nn_ptr[i];
	return 0;
}

static cf_model *read_blend(cf_model *m, cf_reader *r, char *err, size_t errlen, int part);

/*
 * One model stream from r; a part of a blend (part 1) leaves the reader
 * to the blend (m->src NULL) and what follows to its caller.
 */
static cf_model *
model_read(cf_reader *r, char *err, size_t errlen, int part)
{
	cf_model *m = cf_xcalloc(1, sizeof *m);
	const cf_schema *s;
	char msg[400];
	double k, nu, ni;

	m->src = r;
	if (cf_read_table(r, &s) != 1) {
		if (cf_reader_offset(r) == 0)
			return bad(m, r, err, errlen, "%s: expected a model stream", cf_reader_empty(r));
		return bad(m, r, err, errlen, "%s", cf_reader_error(r));
	}
	if (strcmp(s->name, "model") != 0)
		return bad(m, r, err, errlen, "expected a model stream (a 'model' table first), "
		           "found a '%s' table", s->name);
	m->attrs = cf_schema_copy(s);
	const char *algo = cf_schema_get(s, "algo");
	if (!algo || attr_num(s, "k", &k) || !cf_schema_get(s, "mu") ||
	    attr_num(s, "n_users", &nu) || attr_num(s, "n_items", &ni) ||
	    k < 0 || k > 4096 || nu < 0 || ni < 0 || nu > UINT32_MAX || ni > UINT32_MAX)
		return bad(m, r, err, errlen, "'model' table lacks algo, k, mu, n_users or n_items");
	/* A number the scores are made of must be one: NaN or inf would score as NaN. */
	static const char *const reals[] = {"mu", "rating_min", "rating_max"};
	for (int a = 0; a < 3; a++) {
		const char *v = cf_schema_get(s, reals[a]);
		double x;
		if (v && cf_parse_double(v, &x) != 0)
			return bad(m, r, err, errlen, "'model' attribute %s is '%.40s', not a finite "
			           "number", reals[a], v);
	}
	attr_num(s, "mu", &m->mu);
	snprintf(m->algo, sizeof m->algo, "%s", algo);
	m->k = (int)k;
	m->nusers = (uint32_t)nu;
	m->nitems = (uint32_t)ni;
	m->has_scale = attr_num(s, "rating_min", &m->rating_min) == 0 &&
	               attr_num(s, "rating_max", &m->rating_max) == 0;
	cf_model_parse_hparams(m);
	if (m->hp.form == CF_FORM_BLEND)
		return read_blend(m, r, err, errlen, part);

	if (read_factors(m, r, msg, sizeof msg) < 0)
		return bad(m, r, err, errlen, "%s", msg);
	static const char *dname[2] = {"users", "items"};
	for (int t = 0; t < 2; t++) {
		cf_table d;
		uint32_t want = t ? m->nitems : m->nusers;
		if (next_table(r, dname[t], &s, msg, sizeof msg) < 0)
			return bad(m, r, err, errlen, "%s", msg);
		if (cf_schema_col(s, "id") != 0 || s->cols[0].type != CF_STR)
			return bad(m, r, err, errlen, "'%s' must have a str column 'id'", dname[t]);
		if (cf_read_all(r, &d) < 0)
			return bad(m, r, err, errlen, "%s", cf_reader_error(r));
		cf_idmap *map = cf_idmap_new();
		for (uint64_t i = 0; i < d.nrows; i++) {
			size_t len;
			const char *id = cf_table_str(&d, 0, i, &len);
			int added;
			size_t badat;
			/* The spec's str is UTF-8: an id that is not could never be
			 * put into the server's JSON. */
			if (!cf_utf8_valid(id, len, &badat)) {
				cf_idmap_free(map);
				cf_table_free(&d);
				return bad(m, r, err, errlen, "'%s' row %" PRIu64 ": the id is not "
				           "valid UTF-8 (byte %zu)", dname[t], i, badat);
			}
			cf_idmap_intern(map, id, len, &added);
			if (!added) {
				cf_idmap_free(map);
				cf_table_free(&d);
				return bad(m, r, err, errlen, "'%s' repeats an id at row %" PRIu64,
				           dname[t], i);
			}
		}
		cf_table_free(&d);
		if (t == 0)
			m->users = map;
		else
			m->items = map;
		if (cf_idmap_count(map) != want)
			return bad(m, r, err, errlen, "'%s' has %u ids, expected %u", dname[t],
			           cf_idmap_count(map), want);
	}
	if (next_table(r, "seen", &s, msg, sizeof msg) < 0)
		return bad(m, r, err, errlen, "%s", msg);
	int cu = cf_schema_col(s, "user"), ci = cf_schema_col(s, "item");
	int cr = cf_schema_col(s, "rating"), ct = cf_schema_col(s, "timestamp");
	if (cu < 0 || ci < 0 || cr < 0 || s->cols[cu].type != CF_U32 ||
	    s->cols[ci].type != CF_U32 || s->cols[cr].type != CF_F32 ||
	    (ct >= 0 && s->cols[ct].type != CF_I64))
		return bad(m, r, err, errlen, "'seen' must have user u32, item u32, rating f32");
	if (cf_read_all(r, &m->tabs[2]) < 0)
		return bad(m, r, err, errlen, "%s", cf_reader_error(r));
	cf_table *t = &m->tabs[2];
	const uint32_t *su = t->col[cu];
	m->nseen = t->nrows;
	m->seen_item = t->col[ci];
	m->seen_rating = t->col[cr];
	m->seen_ts = ct >= 0 ? t->col[ct] : NULL;
	m->seen_ptr = cf_xcalloc((size_t)m->nusers + 1, sizeof *m->seen_ptr);
	for (uint64_t j = 0; j < m->nseen; j++) {
		if (su[j] >= m->nusers || m->seen_item[j] >= m->nitems)
			return bad(m, r, err, errlen, "'seen' row %" PRIu64 " is out of range", j);
		if (!isfinite(m->seen_rating[j]))
			return bad(m, r, err, errlen, "'seen' row %" PRIu64 ": rating is %g: a "
			           "model's numbers must be finite", j, (double)m->seen_rating[j]);
		if (j && (su[j] < su[j - 1] ||
		          (su[j] == su[j - 1] && m->seen_item[j] <= m->seen_item[j - 1])))
			return bad(m, r, err, errlen, "'seen' is not sorted by (user, item) at row %"
			           PRIu64, j);
		m->seen_ptr[su[j] + 1]++;
	}
	for (uint32_t u = 0; u < m->nusers; u++)
		m->seen_ptr[u + 1] += m->seen_ptr[u];
	if (m->hp.form == CF_FORM_ITEMNN && read_neighbors(m, r, msg, sizeof msg) < 0)
		return bad(m, r, err, errlen, "%s", msg);
	if (part) {
		/* a blend's part: the next table is the next part's (blend
		 * writes an fm part without its item_features and time_features) */
		m->src = NULL;
		return m;
	}
	/*
	 * Nothing may follow but fm's optional 'item_features' (itemfeat.h)
	 * and 'time_features' (timefeat.h), in that order: data after a model
	 * is no part of it, and is not dropped.
	 */
	const char *after = m->nn_ptr ? "the model's 'neighbors' table, where an item-neighbour "
	                                "model stream ends" :
	                                "the model's 'seen' table, where a model stream ends";
	int rc = cf_read_table(r, &s);
	char end[400] = "";
	if (rc == 1 && !m->nn_ptr && strcmp(s->name, "item_features") == 0) {
		if (!(m->itemfeat = cf_itemfeat_read(r, s, m->k, msg, sizeof msg)))
			return bad(m, r, err, errlen, "%s", msg);
		after = "the model's 'item_features' table, where a model stream ends";
		rc = cf_read_table(r, &s);
	}
	if (rc == 1 && !m->nn_ptr && strcmp(s->name, "time_features") == 0) {
		if (!(m->timefeat = cf_timefeat_read(r, s, m->k, m->nusers, msg, sizeof msg)))
			return bad(m, r, err, errlen, "%s", msg);
		after = "the model's 'time_features' table, where a model stream ends";
		if (cf_read_end(r, after) != 0)
			snprintf(end, sizeof end, "%s", cf_reader_error(r));
	} else if (rc == 1) {
		snprintf(end, sizeof end, "%s: byte %" PRIu64 ": a '%s' table after %s",
		         cf_reader_name(r), cf_reader_table_at(r), s->name, after);
	} else if (rc < 0) {
		snprintf(end, sizeof end, "%s", cf_reader_error(r));
	}
	if (end[0]) {
		/* The reader's message names the offset: passed on as it is. */
		m->src = NULL;
		cf_model_free(m);
		if (!err)
			cf_die("%s", end);
		snprintf(err, errlen, "%s", end);
		if (errlen)
			cf_oneline(err);
		return NULL;
	}
	return m;
}

cf_model *
cf_model_read(cf_reader *r, char *err, size_t errlen)
{
	return model_read(r, err, errlen, 0);
}

/* ------------------------------------------------------------------ blends */

/* 1 if a and b hold the same ids in the same order. */
static int
same_ids(const cf_idmap *a, const cf_idmap *b)
{
	uint32_t n = cf_idmap_count(a);

	if (n != cf_idmap_count(b))
		return 0;
	for (uint32_t i = 0; i < n; i++) {
		size_t la, lb;
		const char *x = cf_idmap_id(a, i, &la), *y = cf_idmap_id(b, i, &lb);
		if (la != lb || memcmp(x, y, la) != 0)
			return 0;
	}
	return 1;
}

/* The blend's view of its first part: users, items and seen are borrowed. */
static void
blend_view(cf_model *m)
{
	const cf_model *p = m->parts[0];

	m->nusers = p->nusers;
	m->nitems = p->nitems;
	m->users = p->users;
	m->items = p->items;
	m->seen_ptr = p->seen_ptr;
	m->seen_item = p->seen_item;
	m->seen_rating = p->seen_rating;
	m->seen_ts = p->seen_ts;
	m->nseen = p->nseen;
	m->bu = cf_xcalloc((size_t)m->nusers + 1, sizeof *m->bu);
	m->bi = cf_xcalloc((size_t)m->nitems + 1, sizeof *m->bi);
	m->k = 0;
	m->mu = 0;
	m->has_scale = 0;
}

/* "" if the parts can be blended, else why not (into msg). */
static int
blend_check(cf_model *const *parts, int np, char *msg, size_t len)
{
	for (int p = 0; p < np; p++) {
		if (parts[p]->parts) {
			snprintf(msg, len, "part %d is itself a blend", p);
			return -1;
		}
		if (p > 0 && (!same_ids(parts[0]->users, parts[p]->users) ||
		              !same_ids(parts[0]->items, parts[p]->items))) {
			snprintf(msg, len, "part %d (%s) has other users or items than part 0 (%s): "
			         "blend models trained on the same ratings", p, parts[p]->algo,
			         parts[0]->algo);
			return -1;
		}
	}
	return 0;
}

static void
blend_free(cf_model *m)
{
	for (int p = 0; p < m->nparts; p++)
		cf_model_free(m->parts[p]);
	free(m->parts);
	free(m->blend_w);
	free(m->bu);
	free(m->bi);
	cf_reader_close(m->src);
	cf_schema_free(m->attrs);
	free(m);
}

cf_model *
cf_model_blend(cf_model **parts, const double *w, int np, char *err, size_t errlen)
{
	char msg[300];

	if (np < 2 || np > CF_BLEND_MAX_PARTS) {
		snprintf(err, errlen, "a blend has 2 to %d parts, not %d", CF_BLEND_MAX_PARTS, np);
		msg[0] = 0;
	} else if (blend_check(parts, np, msg, sizeof msg) == 0) {
		cf_model *m = cf_xcalloc(1, sizeof *m);
		m->owned = 0;
		snprintf(m->algo, sizeof m->algo, "blend");
		m->attrs = cf_schema_new("model");
		m->nparts = np;
		m->parts = cf_xmalloc((size_t)np * sizeof *m->parts);
		m->blend_w = cf_xmalloc((size_t)np * sizeof *m->blend_w);
		memcpy(m->parts, parts, (size_t)np * sizeof *parts);
		memcpy(m->blend_w, w, (size_t)np * sizeof *w);
		blend_view(m);
		cf_model_parse_hparams(m);
		return m;
	} else {
		snprintf(err, errlen, "%s", msg);
	}
	for (int p = 0; p < np; p++)
		cf_model_free(parts[p]);
	return NULL;
}

static int
write_blend(cf_writer *w, const cf_model *m)
{
	cf_schema *s = cf_schema_copy(m->attrs);
	char b[40], key[32];
	int rc;

	cf_schema_set(s, "algo", "blend");
	cf_schema_set(s, "k", "0");
	cf_schema_set(s, "mu", "0");
	snprintf(b, sizeof b, "%u", m->nusers);
	cf_schema_set(s, "n_users", b);
	snprintf(b, sizeof b, "%u", m->nitems);
	cf_schema_set(s, "n_items", b);
	snprintf(b, sizeof b, "%d", m->nparts);
	cf_schema_set(s, "n_parts", b);
	for (int p = 0; p < m->nparts; p++) {
		snprintf(key, sizeof key, "weight_%d", p);
		set_num(s, key, m->blend_w[p]);
		snprintf(key, sizeof key, "part_%d", p);
		cf_schema_set(s, key, m->parts[p]->algo);
	}
	rc = cf_write_table(w, s);
	cf_schema_free(s);
	if (rc == 0)
		rc = cf_write_end(w);
	for (int p = 0; rc == 0 && p < m->nparts; p++) {
		/* Without fm's optional tables: a blend scores the items its
		 * parts know, and pairs without their time (frame-format.md). */
		cf_model part = *m->parts[p];
		part.itemfeat = NULL;
		part.timefeat = NULL;
		rc = cf_model_write(w, &part);
	}
	return rc;
}

/*
 * A blend's parts after its model table: n_parts whole model streams,
 * their weights from weight_0 ...; then the end of the stream.
 */
static cf_model *
read_blend(cf_model *m, cf_reader *r, char *err, size_t errlen, int part)
{
	double np, w;
	char key[32], msg[300];

	if (part)
		return bad(m, r, err, errlen, "a blend's part is itself a blend");
	if (attr_num(m->attrs, "n_parts", &np) || np < 2 || np > CF_BLEND_MAX_PARTS ||
	    np != (int)np)
		return bad(m, r, err, errlen, "a blend's 'model' table needs n_parts from 2 to %d",
		           CF_BLEND_MAX_PARTS);
	m->nparts = (int)np;
	m->parts = cf_xcalloc((size_t)m->nparts, sizeof *m->parts);
	m->blend_w = cf_xcalloc((size_t)m->nparts, sizeof *m->blend_w);
	for (int p = 0; p < m->nparts; p++) {
		snprintf(key, sizeof key, "weight_%d", p);
		if (attr_num(m->attrs, key, &w) || !isfinite(w))
			return bad(m, r, err, errlen, "a blend's %s is missing or not a finite number",
			           key);
		m->blend_w[p] = w;
	}
	uint32_t nu = m->nusers, ni = m->nitems;
	for (int p = 0; p < m->nparts; p++) {
		m->parts[p] = model_read(r, err, errlen, 1);
		if (!m->parts[p]) {     /* err says why (a reader that dies has died) */
			m->src = NULL;
			m->nparts = p;
			blend_free(m);
			return NULL;
		}
	}
	if (blend_check(m->parts, m->nparts, msg, sizeof msg) < 0 ||
	    m->parts[0]->nusers != nu || m->parts[0]->nitems != ni) {
		if (!msg[0] || m->parts[0]->nusers != nu || m->parts[0]->nitems != ni)
			snprintf(msg, sizeof msg, "the blend's n_users/n_items are not its parts'");
		m->src = NULL;
		if (err)
			snprintf(err, errlen, "%s: model: blend: %s", cf_reader_name(r), msg);
		blend_free(m);
		if (!err)
			cf_die("%s: model: blend: %s", cf_reader_name(r), msg);
		return NULL;
	}
	blend_view(m);
	if (cf_read_end(r, "a blend's last part, where a blend stream ends") != 0) {
		m->src = NULL;
		blend_free(m);
		if (!err)
			cf_die("%s", cf_reader_error(r));
		snprintf(err, errlen, "%s", cf_reader_error(r));
		return NULL;
	}
	return m;
}
