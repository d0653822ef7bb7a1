/*
 * train/fit.h - inside training (private to src/lib/train/): the state of
 * one fit, the table of functions every algorithm provides, and the
 * pieces they share (compressed rows, figures, least-squares half-steps).
 *
 * The driver (driver.c) owns the data, the parameters, warm start and
 * fine-tuning, validation, early stopping, progress and building the
 * model; an algorithm owns only its epoch.  Adding an algorithm: a row in
 * algo.c's table (name, defaults, how its models score), a file here
 * defining its cf_fit_ops, and a row in driver.c's ops[] table.
 *
 * Internals:
 *  - factors live in padded matrices (row stride kp = k rounded up to a
 *    multiple of 8, 64-byte aligned, padding zero) so inner loops run
 *    over whole 8-float vectors; the model gets the k real columns;
 *  - every reduction (train RMSE, loss, validation) is done per entity or
 *    per fixed chunk into an array summed in index order afterwards, so
 *    models are byte-identical for a seed at any thread count.
 */
#ifndef CF_TRAIN_FIT_H
#define CF_TRAIN_FIT_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "mf.h"

/* Compressed rows: row r's entries are idx/val[ptr[r] .. ptr[r+1]). */
struct csr {
	uint64_t *ptr;
	uint32_t *idx;
	float *val;
};

/* Timestamps: none (w 0), u32 offsets from base (w 4), or i64 (w 8). */
struct tsv {
	int w;
	int64_t base;
	void *a;
};

/* Training rows in input order (model indices once mapped): consumed by cf_fit_build. */
struct rows {
	size_t n;
	uint32_t *u, *i;
	float *r;
	struct tsv t;
};

struct cf_fit_ops;

struct fit {
	cf_mf_params p;
	const cf_algo_info *info;
	const struct cf_fit_ops *ops;
	void *state;            /* the algorithm's own (sgd) */
	int k, kp, threads, explicit_;
	int finetune;           /* fine-tuning a model (init), not training anew */
	uint32_t nu, ni;
	size_t n;
	/*
	 * The training ratings.  byu: by user, each user's in input order
	 * (its ptr always; idx/val except while SGD holds them as blocks);
	 * byi: by item, in input order (ptr always; idx/val when the
	 * algorithm needs them).  ts: the timestamps, in byu's order.
	 */
	struct csr byu, byi;
	struct tsv ts;
	double mu;
	float *bu, *bi, *P, *Q; /* P: nu x kp, Q: ni x kp */
	/* Fine-tuning: rows that keep their parameters (untouched by the new
	 * ratings); NULL when training from scratch. */
	unsigned char *ufix, *ifix;
	/* validation rows (model indices; UINT32_MAX: unknown) */
	size_t vn;
	uint32_t *vu, *vi;
	float *vr;
	int64_t *vts;           /* their timestamps, or NULL */
	struct csr vbyu;        /* validation items by user (known ones), top-N */
	/* Item-neighbour models (ease, rp3b): the weights, ni rows (nn.c); the
	 * driver hands them to the model.  ptr NULL for the other algorithms. */
	struct csr nn;
	int has_scale;
	float lo, hi;
	char *err;
	size_t errlen;
	const cf_idmap *items;  /* the model's item dictionary (fm's --items) */
	const cf_idmap *users;  /* the model's user dictionary (fm's --users) */
	struct cf_itemfeat *itemfeat;   /* fm: new items' features, moved into the model */
	struct cf_timefeat *timefeat;   /* fm: its time features, moved into the model */
};

/*
 * An algorithm.  Every function but epoch may be NULL.
 *   setup    before the first epoch of training from scratch (not when
 *            fine-tuning); may take byu's arrays (f->state holds them)
 *   epoch    one epoch (ep from 1); returns the training figure (RMSE,
 *            or loss per rating), NAN on failure (f->err set) or divergence
 *   refit    one fine-tuning sweep over the rows not in ufix/ifix, each
 *            against its whole history (NULL: epoch, which must then
 *            honour ufix/ifix)
 *   finite   1 if the parameters are all finite (NULL: f's arrays checked)
 *   sync     the parameters into f's arrays, in model order
 *   finish   after the last epoch (f's arrays and byu in place again):
 *            returns 1 if it changed the parameters
 *   release  frees f->state (after finish, or on failure)
 *   attrs    the model attributes of its hyper-parameters
 */
typedef struct cf_fit_ops {
	cf_algo algo;
	int need_byi;           /* byi's idx/val are built (always when fine-tuning) */
	int one_pass;           /* a single epoch says everything (popular) */
	int (*setup)(struct fit *f);
	double (*epoch)(struct fit *f, int ep);
	double (*refit)(struct fit *f, int ep);
	double (*valid)(const struct fit *f);   /* the validation figure (NULL: the driver's) */
	int (*finite)(const struct fit *f);
	void (*sync)(struct fit *f);
	int (*finish)(struct fit *f);
	void (*release)(struct fit *f);
	void (*attrs)(cf_schema *a, const cf_mf_params *p);
} cf_fit_ops;

extern const cf_fit_ops cf_fit_sgd, cf_fit_als, cf_fit_ials, cf_fit_baseline, cf_fit_popular,
                        cf_fit_fm;
extern const cf_fit_ops cf_fit_ease, cf_fit_rp3b;

/* Sets f's message (if it has room for one). */
void cf_fit_fail(struct fit *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A numeric model attribute, printed to round-trip. */
void cf_fit_attr_num(cf_schema *s, const char *key, double v);
/* reg_weight (and reg_bias_weight) as algo.c's table says p->algo trains. */
void cf_fit_attr_weights(cf_schema *s, const cf_mf_params *p, int with_bias);
/* solver (and cg_steps): how als and ials solved their rows (half.c). */
void cf_fit_attr_solver(cf_schema *s, const cf_mf_params *p);

/* ---- csr.c: the training structures, built with bounded memory ---- */
float *cf_fmat(size_t rows, int kp);
void cf_csr_build(struct csr *c, uint32_t nrows, size_t n, const uint32_t *row,
                  const uint32_t *col, const float *val);
void cf_csr_free(struct csr *c);
struct tsv cf_ts_pack(int64_t *a, size_t n, int take);
int64_t *cf_ts_unpack(struct tsv *t, size_t n);
void cf_rows_free(struct rows *rw);
int cf_nondecreasing(const uint32_t *key, size_t n);
/* byu and byi (per f->ops->need_byi) from the rows, which it consumes. */
void cf_fit_build(struct fit *f, struct rows *rw);

static inline int64_t
cf_ts_at(const struct tsv *t, size_t k)
{
	if (t->w == 4)
		return t->base + (int64_t)((const uint32_t *)t->a)[k];
	return ((const int64_t *)t->a)[k];
}

/* ---- eval.c: training and validation figures ---- */
int cf_finite_all(const float *x, size_t n);
int cf_fit_params_finite(const struct fit *f, const float *bu, const float *bi,
                         const float *P, const float *Q);
double cf_fit_rmse(const struct fit *f, const uint32_t *u, const uint32_t *i, const float *r,
                   size_t n);
double cf_fit_train_rmse(const struct fit *f);
/* NDCG@10 (returned) and recall@10 over the validation rows by user. */
double cf_fit_topn(const struct fit *f, double *recall);

typedef float cf_v8f __attribute__((vector_size(32)));

/* a . b over padded rows (kp a multiple of 8, padding zero). */
static inline float
cf_dotkp(const float *a, const float *b, int kp)
{
	cf_v8f acc = {0, 0, 0, 0, 0, 0, 0, 0};

	for (int c = 0; c < kp; c += 8) {
		cf_v8f x, y;
		memcpy(&x, a + c, sizeof x);
		memcpy(&y, b + c, sizeof y);
		acc += x * y;
	}
	return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
}

/* ---- half.c: the ALS half-step, shared by als, ials and fine-tuning ---- */
/*
 * Solves every row of c (nrows of them) against the other side's fixed
 * factors F and biases fb (nother rows), into X and xb; rows with
 * fix[e] set are left as they are.  Penalties reg x cf_reg_weight(regw, n)
 * on factors, reg_bias x cf_reg_weight(regbw, n) on the bias.  implicit:
 * the iALS solve.  Returns the summed loss, or NAN (f->err set) if a
 * system was singular.
 */
double cf_fit_half(struct fit *f, const struct csr *c, uint32_t nrows, const float *F,
                   const float *fb, uint32_t nother, float *X, float *xb,
                   const unsigned char *fix, int implicit, cf_regw regw, cf_regw regbw,
                   const char *what);

/*
 * One ALS sweep: every item (not in ifix) against the users, then every
 * user (not in ufix) against the items, with the algorithm's penalty
 * weights, by f->p.solver (exact when fine-tuning).  Returns the user
 * half's summed loss, or NAN (f->err set).
 */
double cf_fit_sweep(struct fit *f, int implicit);

/* ---- nn.c: the item-neighbour models' weights, the largest kept per item ---- */
/*
 * Rows of at most `keep` weights per item, filled in parallel (a row per
 * call, any thread), then made into f->nn (CSR sorted by neighbour).
 */
struct nn_rows {
	uint32_t ni;
	int keep;
	uint32_t *idx, *cnt;    /* ni x keep, ni */
	float *w;
	/* per thread: a row of rowlen to fill, and the keep-sized scratch */
	int threads;
	float **row, **hw;
	uint32_t **hi;
	uint64_t **key;
};
/*
 * 0, or -1 (f->err set) if there is no memory for ni x keep weights; each
 * of f->threads threads gets a row of rowlen floats (cf_nn_row).
 */
int cf_nn_rows_init(struct fit *f, struct nn_rows *R, size_t rowlen);
/* Thread tid's row to compute an item's weights into. */
static inline float *cf_nn_row(const struct nn_rows *R, int tid) { return R->row[tid]; }
/*
 * Row j, computed by thread tid into cf_nn_row(R, tid): the `keep`
 * weights of largest magnitude among row[0 .. n) (zeros and position
 * `self` left out; ties by lower position); position c is model item
 * map[c] (map NULL: c itself).
 */
void cf_nn_keep_row(struct nn_rows *R, int tid, uint32_t j, uint32_t n, const uint32_t *map,
                    uint32_t self);
/* Frees the rows and scratch without making f->nn (a failed fit). */
void cf_nn_rows_free(struct nn_rows *R);
/* f->nn from the rows (freed), each sorted by neighbour. */
void cf_nn_rows_done(struct fit *f, struct nn_rows *R);
/* The weights as model attributes: keep (and what the algorithm adds). */
void cf_nn_attrs(cf_schema *a, const cf_mf_params *p);

/*
 * After CG training: every user solved exactly against the final items,
 * so that a model's users are the exact solutions fold-in and --explain
 * compute (as sgd ends with its exact user step).  Returns 1 if it
 * changed the parameters (the solver was CG), else 0.
 */
int cf_fit_exact_users(struct fit *f, int implicit);

/*
 * One half-step of cf_fit_sweep over the rows of c alone (a shard of one
 * side: dist.c), each row's loss into loss[0 .. nrows).  Returns their sum.
 */
double cf_fit_half_rows(struct fit *f, const struct csr *c, uint32_t nrows, const float *F,
                        const float *fb, uint32_t nother, float *X, float *xb, int implicit,
                        const char *what, double *loss);

/* ---- driver.c: a fit run step by step (dist.c) ---- */
/*
 * The state of a fit from scratch before its first epoch, as
 * cf_mf_train_take makes it (train's arrays taken): the data, mu, byu and
 * byi, the factors' start.  0, or -1 with err set (f then needs nothing).
 */
int cf_fit_prepare(struct fit *f, cf_ratings *train, const cf_mf_params *p, cf_idmap **users,
                   cf_idmap **items, char *err, size_t errlen);
/* The model after p.epochs epochs without validation, the last epoch's
 * figure last_train (as an epoch returns it); frees f, takes the dictionaries. */
cf_model *cf_fit_model_after(struct fit *f, const cf_ratings *train, double last_train,
                             cf_idmap *users, cf_idmap *items);
/* Frees a prepared fit (on failure). */
void cf_fit_release(struct fit *f);

/* ---- seen.c ---- */
/* The model's seen table from byu (whose arrays it takes) and the timestamps. */
void cf_fit_build_seen(cf_model *m, struct fit *f);

#endif
