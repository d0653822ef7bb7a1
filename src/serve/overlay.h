/*
 * overlay.h - what users rated through the server, on top of the models'
 * training data: per user, the movies rated (or whose rating was removed)
 * and the movies marked "not interested", kept in memory and made durable
 * by the ratings log (ratelog.h) it replays at start and appends to.
 *
 * Ids are canonical (ids.h) raw ids, so an overlay is the same for every
 * model of the directory; api.c merges it with a model's history.
 *
 * Concurrency: any number of writers and readers.  Writers are serialized
 * (one mutex: the log is appended and fsynced, then the whole request is
 * applied under the write side of a rwlock); a reader copies a user's
 * entries under the read side, so it sees each request's changes all or
 * not at all, and a request is visible exactly when it is durable.
 *
 * Bounded cost: a request changes at most CF_RL_ENTRIES_MAX movies; a
 * user holds at most limits.user_max movies in the overlay (a request that
 * would pass it is refused: 409); the log may grow to limits.log_max bytes
 * (a request that would pass it is refused: 507 is not a client's fault,
 * but the client must be told plainly: 413).  Memory is proportional to
 * the log.
 */
#ifndef CF_SERVE_OVERLAY_H
#define CF_SERVE_OVERLAY_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ratelog.h"

/* One movie of a user's overlay. */
typedef struct cf_ov_item {
	const char *item;       /* canonical, NUL-terminated; lives as long as the overlay */
	size_t item_len;
	int rated;              /* 1: rated `rating`; -1: rating removed; 0: not changed */
	float rating;
	int hidden;             /* not interested */
	int64_t ts;             /* of the last rating change */
} cf_ov_item;

typedef struct cf_ov_limits {
	size_t user_max;        /* movies per user */
	uint64_t log_max;       /* bytes of the log */
} cf_ov_limits;

typedef struct cf_overlay cf_overlay;

/*
 * Opens the log at path (created if need be) and replays it.  warn gets a
 * torn tail's warning (or ""); NULL with the message in err.  readonly:
 * the log is neither created nor repaired, and cf_overlay_add fails.
 */
cf_overlay *cf_overlay_open(const char *path, int readonly, const cf_ov_limits *lim,
                            char *warn, size_t wlen, char *err, size_t errlen);
void cf_overlay_free(cf_overlay *o);

/*
 * Makes r durable (appended, fsynced) and visible.  Its ids must be
 * canonical, its ratings valid for the models (api.c checks).  0, or an
 * HTTP status with the reason in err: 409 the user's limit, 413 the log's
 * limit, 500 the log could not be written (nothing was applied).
 */
int cf_overlay_add(cf_overlay *o, const cf_rl_record *r, char *err, size_t errlen);

/*
 * A copy of user's movies (the item strings are shared, not copied), in
 * no particular order; *out is NULL and 0 is returned if there are none.
 * Free *out with free().
 */
size_t cf_overlay_get(cf_overlay *o, const char *user, size_t len, cf_ov_item **out);

/* Every user's every movie, under the read lock (fn must not call back in). */
typedef void (*cf_ov_each)(void *arg, const char *user, size_t ulen, const cf_ov_item *it);
void cf_overlay_foreach(cf_overlay *o, cf_ov_each fn, void *arg);

/*
 * The overlay as CSV for folding it into training data (make retrain):
 * "userId,movieId,rating,timestamp", a row per movie a user rated (its
 * last rating) or whose rating was removed (rating empty), sorted by user
 * then movie (bytes); not-interested marks are not ratings and are left
 * out.  0, or -1 if out could not be written.
 */
int cf_overlay_export(cf_overlay *o, FILE *out);

/*
 * Every current rating (rated, not removed), as three arrays of n entries
 * (pointers shared with the overlay; free the arrays with free()).
 */
size_t cf_overlay_ratings(cf_overlay *o, const char ***users, const char ***items,
                          float **r);

/* Users with an overlay, and the log's size in bytes. */
void cf_overlay_stats(cf_overlay *o, size_t *users, uint64_t *log_bytes);

#endif
