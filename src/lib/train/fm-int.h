/*
 * train/fm-int.h - the factorization machine's state, shared by its two
 * files: fm.c (the sampler: sums, draws, sweeps, the model) and fmfeat.c
 * (the feature groups built from the ratings, --items and --users; what
 * new items are scored by; the --groups names).  Nothing outside train/fm*.c
 * includes it.
 */
#ifndef CF_FM_INT_H
#define CF_FM_INT_H

#include "fit.h"
#include "idmap.h"
#include "meta.h"
#include "ufeat.h"

#include <stddef.h>
#include <stdint.h>

/* The sides: the user's features, the item's, and the rating's own (its
 * time: the context side, whose entities are the ratings in byu order). */
enum { SU, SI, SC };

/*
 * A feature group on one side.  Feature j is active for the entities
 * fidx[fptr[j] .. fptr[j+1]); entity e's features are eidx[eptr[e] ..
 * eptr[e+1]); the value of any feature of e is xs[e] (NULL: 1).  A
 * one-hot group has no lists: feature e is entity e.
 */
struct group {
	const char *name;
	int side, onehot;
	uint32_t nf;
	const uint64_t *fptr, *eptr;
	const uint32_t *fidx, *eidx;
	uint64_t *own_fptr, *own_eptr;  /* lists built here (genres, years) */
	uint32_t *own_fidx, *own_eidx;
	float *xs;
	unsigned char *act;             /* sampled: active for some rated entity */
	uint32_t nact;
	double *w, *V;                  /* nf, nf x k */
	double mw, lw, *mv, *lv;        /* hyperparameters: means, precisions */
};

/*
 * An entity's working set for the coordinate being drawn, in one cache
 * line: the draws visit entities in the order of a feature's incidence
 * (random), so everything one visit needs sits together.  p is the
 * coordinate's side sum (for the biases: the linear sum b), d its sum of
 * x^2 v^2, n the entity's ratings.
 */
struct slot {
	double p, d, E1, E2, Q1, Q2, n, pad;
};

/* One side's entities: their ratings, residuals and the sums above. */
struct side {
	uint32_t n;
	const struct csr *c;            /* ratings by entity (idx: the other side's) */
	double *e;                      /* residuals, in c's order */
	double *b, *p, *d, *cst;        /* linear sum; k sums of x v and x^2 v^2; the constant */
	struct slot *w;                 /* the coordinate being drawn */
	double *pold, *dold;            /* its values before the draws */
};

struct fm {
	int k, S, ng, taken;
	struct group g[9];
	struct side s[3];
	double w0, alpha;
	float *P, *Q;                   /* the stored model: nu x kpS, ni x kpS */
	double *bu, *bi, mu;            /* sums over samples */
	int kpS;
	double *vsum, vrmse, *part;
	/* New items' features (itemfeat.h): the genres and year groups' sums
	 * over samples, features numbered genres first, then years. */
	int ggen, gyear, ylo;           /* group indices (-1: none); the lowest year bin */
	int grat;                       /* the raters group (-1: none); with metadata
	                                 * features, the last one is "raters" (itemfeat.h) */
	double *rv;                     /* k: a sample's expected raters vector */
	cf_idmap *gnames;               /* genre j's name */
	uint32_t fn;                    /* 0: not kept */
	double *fw, *fG;                /* fn; fn x fn */
	float *fV;                      /* fn x kpS, like P */
	/* The context side (time groups; ctx 0: none).  ru: each byu rating's
	 * user; i2u: each byi rating's byu position; cptr: 0, 1, .., n (one
	 * rating per context entity). */
	int ctx, gtime, gud;            /* group indices (-1: none) */
	uint32_t *ru;
	uint64_t *i2u, *cptr;
	struct csr cc;
	/* Time features kept for the model (timefeat.h): bins, then user-days. */
	uint32_t nbins, nud;
	int64_t *bday;                  /* nbins: a bin's first day */
	uint32_t *uduser, *udbin;       /* nud */
	int64_t *udday;
	double *tw;                     /* nbins + nud: bias sums over samples */
	float *tV;                      /* (nbins + nud) x kpS */
};
/* A group's arrays for nf features at rank k (fmfeat.c). */
void cf_fm_group_alloc(struct group *g, const char *name, int side, uint32_t nf, int k);
void cf_fm_group_free(struct group *g);
/* 1/sqrt(n) of each entity's ratings (0 for none). */
float *cf_fm_inv_sqrt_counts(const struct csr *c, uint32_t n);
/* The item side's genres and year groups from --items. */
void cf_fm_meta_groups(struct fm *s, const struct fit *f, const cf_meta *meta, int genres,
                       int years);
/* The user side's profile group from --users; -1 (f's message set) on a missing user. */
int cf_fm_profile_group(struct fm *s, struct fit *f, const cf_ufeat *uf);
/* The context side's time and userday groups from the ratings' timestamps. */
void cf_fm_time_groups(struct fm *s, const struct fit *f, int time, int userday);
/* Bins of equal rating counts over sorted days (day[0..n)): at most nb
 * first days, increasing; returns how many. */
uint32_t cf_fm_time_bins(const int64_t *day, size_t n, uint32_t nb, int64_t *first);
/* New items' sums: a sample's (at factor offset c0, scale sc); then the model's table. */
void cf_fm_meta_sample(struct fm *s, int c0, float sc);
void cf_fm_meta_finish(struct fm *s, struct fit *f, float rescale);

#endif
