/*
 * dist.h - ALS and iALS run step by step, each half-iteration as row
 * shards that any host can solve (src/lib/train/dist.c; the GNU parallel
 * fan-out is pipelines/dist.mk).
 *
 * A run lives in one directory of frame files (docs/scaling.md):
 *   state.bin         the parameters, mu, counts and the shards' row bounds
 *   SIDE-S.rows       shard S's ratings of SIDE (items or users), in the
 *                     one-machine fit's per-row order
 *   SIDE-E.S.fac      shard S's factors after epoch E (0: the start)
 *   SIDE-E.fac        the whole side after epoch E (the pieces merged;
 *                     users-0.fac from the start)
 * Epoch E solves items against users-(E-1).fac, warm-started from
 * items-(E-1).S.fac, then users against items-E.fac.  Each row is solved
 * by the one-machine fit's own row solve (train/half.c), so the model
 * equals mf-fit's byte for byte for the same data, flags and seed.
 * Every function dies (cf_die) with one line naming the file on bad
 * input, and writes its files atomically.
 */
#ifndef CF_DIST_H
#define CF_DIST_H

#include <stddef.h>

#include "mf.h"

/* The run's start in dir (which exists) from train (its arrays taken):
 * p as mf-fit takes it (als or ials, no validation), shards >= 1. */
void cf_dist_init(cf_ratings *train, const cf_mf_params *p, int shards, const char *dir);
/* Solves shard `shard` of side "items" or "users" at epoch (>= 1) in dir. */
void cf_dist_solve(const char *dir, const char *side, int epoch, int shard, int threads);
/* Merges side's pieces of epoch into SIDE-E.fac, checking they are finite. */
void cf_dist_merge(const char *dir, const char *side, int epoch);
/* The model after p->epochs from dir's last factors and train (taken):
 * p must be the flags cf_dist_init was given. */
cf_model *cf_dist_model(cf_ratings *train, const cf_mf_params *p, const char *dir);

#endif
