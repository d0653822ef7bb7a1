/*
 * itemfeat.c - fm's item metadata features for new items (itemfeat.h).
 */
#include "itemfeat.h"

#include "meta.h"
#include "util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

cf_itemfeat *
cf_itemfeat_new(uint32_t n, int k)
{
	cf_itemfeat *f = cf_xcalloc(1, sizeof *f);

	f->n = n;
	f->k = k;
	f->ids = cf_idmap_new();
	f->bias = cf_xcalloc((size_t)n + 1, sizeof *f->bias);
	f->V = cf_xcalloc((size_t)n * k + 1, sizeof *f->V);
	f->pair = cf_xcalloc((size_t)n * n + 1, sizeof *f->pair);
	return f;
}

void
cf_itemfeat_free(cf_itemfeat *f)
{
	if (!f)
		return;
	cf_idmap_free(f->ids);
	free(f->bias);
	free(f->V);
	free(f->pair);
	free(f);
}

int
cf_itemfeat_write(cf_writer *w, const cf_itemfeat *f)
{
	cf_schema *s = cf_schema_new("item_features");
	uint32_t *off = cf_xmalloc(((size_t)f->n + 1) * sizeof *off);
	size_t total = 0, len;
	int rc;

	for (uint32_t j = 0; j < f->n; j++) {
		cf_idmap_id(f->ids, j, &len);
		total += len;
	}
	char *bytes = cf_xmalloc(total + 1);
	off[0] = 0;
	for (uint32_t j = 0; j < f->n; j++) {
		const char *id = cf_idmap_id(f->ids, j, &len);
		memcpy(bytes + off[j], id, len);
		off[j + 1] = off[j] + (uint32_t)len;
	}
	cf_strcol names = {off, bytes};
	const void *cols[4] = {&names, f->bias, f->V, f->pair};
	cf_schema_add(s, "feature", CF_STR, 1);
	cf_schema_add(s, "bias", CF_F32, 1);
	cf_schema_add(s, "factors", CF_F32, (uint32_t)f->k);
	cf_schema_add(s, "pair", CF_F32, f->n);
	rc = cf_write_table(w, s);
	if (rc == 0)
		rc = cf_write_block(w, f->n, cols);
	if (rc == 0)
		rc = cf_write_end(w);
	cf_schema_free(s);
	free(off);
	free(bytes);
	return rc;
}

static int
all_finite(const float *x, size_t n)
{
	for (size_t j = 0; j < n; j++)
		if (!isfinite(x[j]))
			return 0;
	return 1;
}

cf_itemfeat *
cf_itemfeat_read(cf_reader *r, const cf_schema *s, int k, char *msg, size_t len)
{
	int cn = cf_schema_col(s, "feature"), cb = cf_schema_col(s, "bias");
	int cv = cf_schema_col(s, "factors"), cp = cf_schema_col(s, "pair");
	cf_table t;

	if (cn < 0 || cb < 0 || cv < 0 || cp < 0 || s->cols[cn].type != CF_STR ||
	    s->cols[cb].type != CF_F32 || s->cols[cv].type != CF_F32 ||
	    s->cols[cp].type != CF_F32 || k < 1 || s->cols[cv].width != (uint32_t)k ||
	    s->cols[cp].width < 1 || s->cols[cp].width > CF_ITEMFEAT_MAX) {
		snprintf(msg, len, "'item_features' must have feature str, bias f32, factors "
		         "f32[k] (k = the model's, >= 1), pair f32[n] (1 <= n <= %d)",
		         CF_ITEMFEAT_MAX);
		return NULL;
	}
	uint32_t n = s->cols[cp].width;
	if (cf_read_all(r, &t) < 0) {
		snprintf(msg, len, "%s", cf_reader_error(r));
		return NULL;
	}
	if (t.nrows != n) {
		snprintf(msg, len, "'item_features' has %llu rows, its pair column %u",
		         (unsigned long long)t.nrows, n);
		cf_table_free(&t);
		return NULL;
	}
	cf_itemfeat *f = cf_itemfeat_new(n, k);
	for (uint32_t j = 0; j < n; j++) {
		size_t l;
		const char *id = cf_table_str(&t, cn, j, &l);
		int added;
		cf_idmap_intern(f->ids, id, l, &added);
		if (!added) {
			snprintf(msg, len, "'item_features' row %u: feature '%.*s' repeated", j,
			         (int)(l > 40 ? 40 : l), id);
			cf_table_free(&t);
			cf_itemfeat_free(f);
			return NULL;
		}
	}
	memcpy(f->bias, t.col[cb], (size_t)n * sizeof *f->bias);
	memcpy(f->V, t.col[cv], (size_t)n * k * sizeof *f->V);
	memcpy(f->pair, t.col[cp], (size_t)n * n * sizeof *f->pair);
	cf_table_free(&t);
	if (!all_finite(f->bias, n) || !all_finite(f->V, (size_t)n * k) ||
	    !all_finite(f->pair, (size_t)n * n)) {
		snprintf(msg, len, "'item_features' holds a number that is not finite");
		cf_itemfeat_free(f);
		return NULL;
	}
	return f;
}

/* Feature index of prefix + name, or UINT32_MAX. */
static uint32_t
find(const cf_itemfeat *f, const char *prefix, const char *name, size_t len)
{
	size_t pl = strlen(prefix);
	char small[128], *b = pl + len <= sizeof small ? small : cf_xmalloc(pl + len);

	memcpy(b, prefix, pl);
	memcpy(b + pl, name, len);
	uint32_t j = cf_idmap_find(f->ids, b, pl + len);
	if (b != small)
		free(b);
	return j;
}

uint32_t
cf_itemfeat_item(const cf_itemfeat *f, const char *genres, size_t glen, int year,
                 double *bias, float *q)
{
	size_t pos = 0, gl, m = 0, cap = 0, nt = 0;
	const char *g;
	uint32_t *js = NULL;
	double *xs = NULL;

	while (cf_genre_next(genres, glen, &pos, &g, &gl)) {
		cf_grow((void **)&js, &cap, nt + 2, sizeof *js);
		js[nt++] = find(f, "genre:", g, gl);
	}
	xs = cf_xmalloc((nt + 2) * sizeof *xs);
	for (size_t t = 0; t < nt; t++)
		xs[t] = 1 / sqrt((double)nt);
	if (year > 0) {
		char y[24];
		int n = snprintf(y, sizeof y, "%d", year - year % 5);
		cf_grow((void **)&js, &cap, nt + 2, sizeof *js);
		xs[nt] = 1;
		js[nt++] = find(f, "year:", y, (size_t)n);
	}
	/* Every new item has the "raters" feature where the model keeps it. */
	cf_grow((void **)&js, &cap, nt + 2, sizeof *js);
	xs[nt] = 1;
	js[nt++] = cf_idmap_find(f->ids, "raters", 6);
	/* Drop the unknown ones: they add nothing (their x stays in the rest's). */
	for (size_t t = 0; t < nt; t++)
		if (js[t] != UINT32_MAX) {
			js[m] = js[t];
			xs[m++] = xs[t];
		}
	double b = 0, *acc = cf_xcalloc((size_t)f->k + 1, sizeof *acc);
	for (size_t a = 0; a < m; a++) {
		b += xs[a] * f->bias[js[a]];
		for (size_t c = a + 1; c < m; c++)
			b += xs[a] * xs[c] * f->pair[(size_t)js[a] * f->n + js[c]];
		const float *v = f->V + (size_t)js[a] * f->k;
		for (int c = 0; c < f->k; c++)
			acc[c] += xs[a] * v[c];
	}
	for (int c = 0; c < f->k; c++)
		q[c] = (float)acc[c];
	*bias = b;
	free(acc);
	free(js);
	free(xs);
	return (uint32_t)m;
}
