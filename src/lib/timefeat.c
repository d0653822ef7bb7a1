/*
 * timefeat.c - fm's time features as the model stores them (timefeat.h).
 */
#include "timefeat.h"

#include "util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

cf_timefeat *
cf_timefeat_new(uint32_t nb, uint32_t nd, int k)
{
	cf_timefeat *t = cf_xcalloc(1, sizeof *t);
	size_t n = (size_t)nb + nd;

	t->nb = nb;
	t->nd = nd;
	t->k = k;
	t->day = cf_xcalloc(n + 1, sizeof *t->day);
	t->user = cf_xcalloc(n + 1, sizeof *t->user);
	t->bias = cf_xcalloc(n + 1, sizeof *t->bias);
	t->V = cf_xcalloc(n * k + 1, sizeof *t->V);
	for (uint32_t b = 0; b < nb; b++)
		t->user[b] = CF_TIMEFEAT_BIN;
	return t;
}

void
cf_timefeat_free(cf_timefeat *t)
{
	if (!t)
		return;
	free(t->day);
	free(t->user);
	free(t->bias);
	free(t->V);
	free(t);
}

int64_t
cf_day_of(int64_t ts)
{
	int64_t d = ts / CF_DAY_SECONDS;

	return ts % CF_DAY_SECONDS < 0 ? d - 1 : d;
}

int
cf_timefeat_write(cf_writer *w, const cf_timefeat *t)
{
	cf_schema *s = cf_schema_new("time_features");
	const void *cols[4] = {t->user, t->day, t->bias, t->V};
	int rc;

	cf_schema_add(s, "user", CF_U32, 1);
	cf_schema_add(s, "day", CF_I64, 1);
	cf_schema_add(s, "bias", CF_F32, 1);
	cf_schema_add(s, "factors", CF_F32, (uint32_t)t->k);
	rc = cf_write_table(w, s);
	if (rc == 0)
		rc = cf_write_block(w, (uint64_t)t->nb + t->nd, cols);
	if (rc == 0)
		rc = cf_write_end(w);
	cf_schema_free(s);
	return rc;
}

cf_timefeat *
cf_timefeat_read(cf_reader *r, const cf_schema *s, int k, uint32_t nusers, char *msg,
                 size_t len)
{
	int cu = cf_schema_col(s, "user"), cd = cf_schema_col(s, "day");
	int cb = cf_schema_col(s, "bias"), cv = cf_schema_col(s, "factors");
	cf_table tb;

	if (cu < 0 || cd < 0 || cb < 0 || cv < 0 || s->cols[cu].type != CF_U32 ||
	    s->cols[cd].type != CF_I64 || s->cols[cb].type != CF_F32 ||
	    s->cols[cv].type != CF_F32 || k < 1 || s->cols[cv].width != (uint32_t)k ||
	    s->cols[cu].width != 1 || s->cols[cd].width != 1 || s->cols[cb].width != 1) {
		snprintf(msg, len, "'time_features' must have user u32, day i64, bias f32, "
		         "factors f32[k] (k = the model's, >= 1)");
		return NULL;
	}
	if (cf_read_all(r, &tb) < 0) {
		snprintf(msg, len, "%s", cf_reader_error(r));
		return NULL;
	}
	const uint32_t *us = tb.col[cu];
	const int64_t *ds = tb.col[cd];
	uint64_t n = tb.nrows, nb = 0;
	while (nb < n && us[nb] == CF_TIMEFEAT_BIN)
		nb++;
	for (uint64_t j = 0; j < n; j++) {
		const char *why = NULL;
		if (j >= nb && us[j] == CF_TIMEFEAT_BIN)
			why = "a bin after the user-days (bins come first)";
		else if (j >= nb && us[j] >= nusers)
			why = "a user the model does not have";
		else if (j > 0 && j < nb && ds[j] <= ds[j - 1])
			why = "bins not in increasing order of day";
		else if (j > nb && (us[j] < us[j - 1] || (us[j] == us[j - 1] && ds[j] <= ds[j - 1])))
			why = "user-days not sorted by (user, day)";
		if (why) {
			snprintf(msg, len, "'time_features' row %llu: %s", (unsigned long long)j, why);
			cf_table_free(&tb);
			return NULL;
		}
	}
	cf_timefeat *t = cf_timefeat_new((uint32_t)nb, (uint32_t)(n - nb), k);
	memcpy(t->user, us, n * sizeof *t->user);
	memcpy(t->day, ds, n * sizeof *t->day);
	memcpy(t->bias, tb.col[cb], n * sizeof *t->bias);
	memcpy(t->V, tb.col[cv], n * k * sizeof *t->V);
	cf_table_free(&tb);
	for (size_t j = 0; j < n * ((size_t)k + 1); j++) {
		float x = j < n ? t->bias[j] : t->V[j - n];
		if (!isfinite(x)) {
			snprintf(msg, len, "'time_features' holds a number that is not finite");
			cf_timefeat_free(t);
			return NULL;
		}
	}
	return t;
}

uint32_t
cf_day_bin(const int64_t *first, uint32_t nb, int64_t d)
{
	uint32_t lo = 0, hi = nb;

	while (hi - lo > 1) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (first[mid] <= d)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

size_t
cf_userday_find(const uint32_t *user, const int64_t *day, size_t lo, size_t hi, uint32_t u,
                int64_t d)
{
	size_t end = hi;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (user[mid] < u || (user[mid] == u && day[mid] < d))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < end && user[lo] == u && day[lo] == d ? lo : SIZE_MAX;
}

uint32_t
cf_timefeat_bin(const cf_timefeat *t, int64_t day)
{
	return t->nb ? cf_day_bin(t->day, t->nb, day) : UINT32_MAX;
}

uint32_t
cf_timefeat_userday(const cf_timefeat *t, uint32_t u, int64_t day)
{
	if (u == UINT32_MAX)
		return UINT32_MAX;
	size_t r = cf_userday_find(t->user, t->day, t->nb, (size_t)t->nb + t->nd, u, day);
	return r == SIZE_MAX ? UINT32_MAX : (uint32_t)r;
}

double
cf_timefeat_term(const cf_timefeat *t, uint32_t u, const float *p, const float *q, int64_t ts)
{
	int64_t day = cf_day_of(ts);
	uint32_t rows[2] = {cf_timefeat_bin(t, day), cf_timefeat_userday(t, u, day)};
	double y = 0;

	for (int a = 0; a < 2; a++) {
		if (rows[a] == UINT32_MAX)
			continue;
		const float *v = t->V + (size_t)rows[a] * t->k;
		float d = 0;
		for (int c = 0; c < t->k; c++)
			d += v[c] * ((p ? p[c] : 0) + (q ? q[c] : 0));
		y += (double)t->bias[rows[a]] + d;
	}
	return y;
}
