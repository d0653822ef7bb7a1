/*
 * train/nn.c - what the item-neighbour models (ease, rp3b) share: each
 * item's row of weights cut to the `keep` of largest magnitude (fit.h),
 * gathered into f->nn, the CSR the model stores as its 'neighbors' table.
 *
 * Rows are computed in parallel, one item per call, each into its own
 * slot of a fixed ni x keep buffer: the result does not depend on which
 * thread computed a row, so models are the same bits at any thread count.
 */
#include "fit.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

void
cf_nn_rows_free(struct nn_rows *R)
{
	free(R->idx);
	free(R->w);
	free(R->cnt);
	for (int t = 0; R->row && t < R->threads; t++) {
		free(R->row[t]);
		free(R->hw[t]);
		free(R->hi[t]);
		free(R->key[t]);
	}
	free(R->row);
	free(R->hw);
	free(R->hi);
	free(R->key);
	memset(R, 0, sizeof *R);
}

int
cf_nn_rows_init(struct fit *f, struct nn_rows *R, size_t rowlen)
{
	/* An item has at most ni - 1 neighbours: a larger --keep costs nothing. */
	int keep = (uint32_t)f->p.keep < f->ni ? f->p.keep : (int)(f->ni ? f->ni : 1);
	size_t cells = (size_t)f->ni * (size_t)keep;

	memset(R, 0, sizeof *R);
	R->ni = f->ni;
	R->keep = keep;
	R->idx = malloc((cells ? cells : 1) * sizeof *R->idx);
	R->w = malloc((cells ? cells : 1) * sizeof *R->w);
	R->cnt = calloc((size_t)f->ni + 1, sizeof *R->cnt);
	if (!R->idx || !R->w || !R->cnt) {
		cf_nn_rows_free(R);
		cf_fit_fail(f, "no memory for %u items x --keep %d weights (%.3g GB)", f->ni,
		            f->p.keep, cells * 8 / 1e9);
		return -1;
	}
	R->threads = f->threads;
	R->row = cf_xcalloc((size_t)R->threads, sizeof *R->row);
	R->hw = cf_xcalloc((size_t)R->threads, sizeof *R->hw);
	R->hi = cf_xcalloc((size_t)R->threads, sizeof *R->hi);
	R->key = cf_xcalloc((size_t)R->threads, sizeof *R->key);
	for (int t = 0; t < R->threads; t++) {
		R->row[t] = cf_xmalloc((rowlen + 1) * sizeof **R->row);
		R->hw[t] = cf_xmalloc((size_t)keep * sizeof **R->hw);
		R->hi[t] = cf_xmalloc((size_t)keep * sizeof **R->hi);
		R->key[t] = cf_xmalloc((size_t)keep * sizeof **R->key);
	}
	return 0;
}

/* a is a worse candidate than b: smaller magnitude, or equal and later. */
static int
worse(float aw, uint32_t ai, float bw, uint32_t bi)
{
	return aw < bw || (aw == bw && ai > bi);
}

/* Min-heap of magnitudes hw[] with positions hi[] (the worst at the root). */
static void
heap_down(float *hw, uint32_t *hi, uint32_t cnt, uint32_t i)
{
	float xw = hw[i];
	uint32_t xi = hi[i];

	for (;;) {
		uint32_t c = 2 * i + 1;
		if (c >= cnt)
			break;
		if (c + 1 < cnt && worse(hw[c + 1], hi[c + 1], hw[c], hi[c]))
			c++;
		if (!worse(hw[c], hi[c], xw, xi))
			break;
		hw[i] = hw[c];
		hi[i] = hi[c];
		i = c;
	}
	hw[i] = xw;
	hi[i] = xi;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

void
cf_nn_keep_row(struct nn_rows *R, int tid, uint32_t j, uint32_t n, const uint32_t *map,
               uint32_t self)
{
	const float *row = R->row[tid];
	float *hw = R->hw[tid];
	uint32_t *hi = R->hi[tid];
	uint64_t *key = R->key[tid];
	uint32_t cnt = 0, keep = (uint32_t)R->keep;
	uint32_t *oi = R->idx + (size_t)j * keep;
	float *ow = R->w + (size_t)j * keep;

	for (uint32_t c = 0; c < n; c++) {
		float a = fabsf(row[c]);
		if (c == self || a == 0)
			continue;
		if (cnt < keep) {
			/* sift up */
			uint32_t i = cnt++;
			while (i > 0 && worse(a, c, hw[(i - 1) / 2], hi[(i - 1) / 2])) {
				hw[i] = hw[(i - 1) / 2];
				hi[i] = hi[(i - 1) / 2];
				i = (i - 1) / 2;
			}
			hw[i] = a;
			hi[i] = c;
		} else if (worse(hw[0], hi[0], a, c)) {
			hw[0] = a;
			hi[0] = c;
			heap_down(hw, hi, cnt, 0);
		}
	}
	/* The kept ones by model item: (item << 32 | position) keys. */
	for (uint32_t t = 0; t < cnt; t++) {
		uint32_t c = hi[t];
		hi[t] = map ? map[c] : c;
		oi[t] = c;
	}
	for (uint32_t t = 0; t < cnt; t++)
		key[t] = (uint64_t)hi[t] << 32 | oi[t];
	qsort(key, cnt, sizeof *key, cmp_u64);
	for (uint32_t t = 0; t < cnt; t++) {
		oi[t] = (uint32_t)(key[t] >> 32);
		ow[t] = row[(uint32_t)key[t]];
	}
	R->cnt[j] = cnt;
}

void
cf_nn_rows_done(struct fit *f, struct nn_rows *R)
{
	uint64_t n = 0;

	f->nn.ptr = cf_xmalloc(((size_t)R->ni + 1) * sizeof *f->nn.ptr);
	f->nn.ptr[0] = 0;
	for (uint32_t j = 0; j < R->ni; j++)
		f->nn.ptr[j + 1] = n += R->cnt[j];
	f->nn.idx = cf_xmalloc((n ? n : 1) * sizeof *f->nn.idx);
	f->nn.val = cf_xmalloc((n ? n : 1) * sizeof *f->nn.val);
	for (uint32_t j = 0; j < R->ni; j++) {
		memcpy(f->nn.idx + f->nn.ptr[j], R->idx + (size_t)j * R->keep,
		       R->cnt[j] * sizeof *f->nn.idx);
		memcpy(f->nn.val + f->nn.ptr[j], R->w + (size_t)j * R->keep,
		       R->cnt[j] * sizeof *f->nn.val);
	}
	cf_nn_rows_free(R);
}

void
cf_nn_attrs(cf_schema *a, const cf_mf_params *p)
{
	char b[32];

	snprintf(b, sizeof b, "%d", p->keep);
	cf_schema_set(a, "keep", b);
}
