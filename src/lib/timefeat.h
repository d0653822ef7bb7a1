/*
 * timefeat.h - what fm keeps of its time features (train/fm.c, groups
 * `time` and `userday`), so that a pair with a timestamp (mf-score
 * --pairs) is scored as the sampler's average predicts it: the model
 * stream's optional `time_features` table (docs/frame-format.md).
 *
 * Time is counted in calendar days (UTC): day = floor(ts / 86400).
 *   time     one-hot bin of the rating's day: bin b covers the days
 *            [start_b, start_b+1); a day before the first bin is in the
 *            first, one after the last in the last (training's span is
 *            all the model knows; "now" is its latest bin)
 *   userday  one-hot (user, day) of timeSVD++'s b_{u,t}: a pair whose
 *            (user, day) never occurs in training has no such feature
 * A feature's row holds its bias averaged over the samples and its S
 * samples' vectors end to end, each / sqrt(S) (P's layout), so with the
 * pair's active features F (a bin; a user-day if known)
 *     score = mu + bu + bi + P[u].Q[i] + sum_F (bias_F + V_F . (P[u] + Q[i]))
 * is exactly the mean of the samples' predictions; a user-day's bias also
 * holds the mean product of its vector with its day's bin's (a day lies
 * in one bin: bin edges are day boundaries).  With no timestamp (every
 * other mode: --user, --all, --similar, --fold-in, serve) no time
 * feature is active: the stored form mu + bu + bi + P.Q alone, which is
 * the sampler's prediction with the time features absent.
 */
#ifndef CF_TIMEFEAT_H
#define CF_TIMEFEAT_H

#include <stddef.h>
#include <stdint.h>

#include "frame.h"

#define CF_DAY_SECONDS 86400
/* The user column of a bin's row. */
#define CF_TIMEFEAT_BIN UINT32_MAX

typedef struct cf_timefeat {
	uint32_t nb, nd;        /* bins, user-days */
	int k;                  /* the model's k */
	int64_t *day;           /* nb + nd: a bin's first day, a user-day's day */
	uint32_t *user;         /* nb + nd: CF_TIMEFEAT_BIN, or the user (model index) */
	float *bias;            /* nb + nd */
	float *V;               /* (nb + nd) x k */
} cf_timefeat;

/* nb bins and nd user-days at rank k, zeroed. */
cf_timefeat *cf_timefeat_new(uint32_t nb, uint32_t nd, int k);
void cf_timefeat_free(cf_timefeat *t);
/* floor(ts / 86400). */
int64_t cf_day_of(int64_t ts);

/* The table (after the model's others). 0, or -1 if w does not die. */
int cf_timefeat_write(cf_writer *w, const cf_timefeat *t);
/*
 * Reads the rest of a `time_features` table whose header s has just been
 * read, for a model of rank k and nusers users: NULL with msg set if
 * malformed (the wrong columns, bins not first or not increasing,
 * user-days not sorted by (user, day) or naming no model user, a number
 * that is not finite).
 */
cf_timefeat *cf_timefeat_read(cf_reader *r, const cf_schema *s, int k, uint32_t nusers,
                              char *msg, size_t len);

/*
 * The two lookups, on plain arrays (the table's and the sampler's own):
 * the bin of day d among nb >= 1 increasing first days (the last whose
 * first day is <= d; the first for an earlier day), and the position in
 * lo .. hi of (u, d) among pairs sorted by (user, day), or SIZE_MAX.
 */
uint32_t cf_day_bin(const int64_t *first, uint32_t nb, int64_t d);
size_t cf_userday_find(const uint32_t *user, const int64_t *day, size_t lo, size_t hi,
                       uint32_t u, int64_t d);

/* The bin of a day (a row < nb), or UINT32_MAX if the table has no bins. */
uint32_t cf_timefeat_bin(const cf_timefeat *t, int64_t day);
/* The row of user u's day, or UINT32_MAX (none: unseen day, or u unknown). */
uint32_t cf_timefeat_userday(const cf_timefeat *t, uint32_t u, int64_t day);
/*
 * What the time features add to a pair's score at timestamp ts; p and q
 * the user's and item's factors (k floats, NULL for an unknown one), u
 * the user (UINT32_MAX: unknown).
 */
double cf_timefeat_term(const cf_timefeat *t, uint32_t u, const float *p, const float *q,
                        int64_t ts);

#endif
