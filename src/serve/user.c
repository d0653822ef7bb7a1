/*
 * user.c - the endpoints about one user: POST /ratings (what they rate
 * through the server, made durable by overlay.h), and GET
 * /recommendations and /features, which see the model's history of the
 * user merged with those ratings.
 *
 * A user whose ratings the server changed is scored from factors
 * re-solved against the model's fixed item factors (cf_score_given, the
 * fold-in of mf-score), from the merged history; a user it did not change
 * is scored from the model's own factors, so the answer is the command
 * line's.  Movies rated, and movies marked not interested, are excluded.
 * "because" (?explain=N) comes from cf_explain_*, on the same history.
 */
#include "api-int.h"
#include "metajson.h"
#include "util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A user's history for a model: its training data merged with the overlay. */
struct hist {
	uint32_t u;             /* the model's index of the user, or CF_NOID */
	size_t n;               /* rated movies the model knows */
	uint32_t *items;
	float *r;
	int64_t *ts;
	size_t nhid;
	uint32_t *hidden;       /* not interested (and known to the model) */
	int changed;            /* the overlay changed a rating: factors are re-solved */
};

struct ovx {
	uint32_t item;
	const cf_ov_item *ov;
};

static int
by_ovx(const void *x, const void *y)
{
	const struct ovx *a = x, *b = y;

	return a->item < b->item ? -1 : a->item > b->item;
}

static void
hist_free(struct hist *hs)
{
	free(hs->items);
	free(hs->r);
	free(hs->ts);
	free(hs->hidden);
}

/* The history of user uid under model h; -1 if neither knows the user. */
static int
hist_get(const cf_serve_api *a, const cf_served *h, const char *uid, size_t len,
         struct hist *hs)
{
	const cf_model *m = h->m;
	char cb[ID_MAX + 2];
	cf_ov_item *ov = NULL;
	size_t nov = 0, nx = 0;

	memset(hs, 0, sizeof *hs);
	hs->u = api_lookup(m->users, uid, len);
	if (len <= ID_MAX && a->ratings) {
		api_canon(uid, len, cb);
		nov = cf_overlay_get(a->ratings, cb, strlen(cb), &ov);
	}
	if (hs->u == CF_NOID && nov == 0)
		return -1;
	struct ovx *x = cf_xmalloc((nov ? nov : 1) * sizeof *x);
	for (size_t j = 0; j < nov; j++) {
		uint32_t i = api_lookup(m->items, ov[j].item, ov[j].item_len);
		if (i != CF_NOID)
			x[nx++] = (struct ovx){i, &ov[j]};
	}
	qsort(x, nx, sizeof *x, by_ovx);
	uint64_t lo = hs->u == CF_NOID ? 0 : m->seen_ptr[hs->u];
	uint64_t ns = hs->u == CF_NOID ? 0 : m->seen_ptr[hs->u + 1] - lo;
	size_t cap = (size_t)ns + nx + 1;
	hs->items = cf_xmalloc(cap * sizeof *hs->items);
	hs->r = cf_xmalloc(cap * sizeof *hs->r);
	hs->ts = cf_xmalloc(cap * sizeof *hs->ts);
	hs->hidden = cf_xmalloc((nx + 1) * sizeof *hs->hidden);
	for (uint64_t j = 0; j < ns; j++) {
		struct ovx key = {m->seen_item[lo + j], NULL};
		const struct ovx *f = nx ? bsearch(&key, x, nx, sizeof *x, by_ovx) : NULL;
		if (f && f->ov->rated != 0)
			continue;       /* re-rated or removed through the server */
		hs->items[hs->n] = key.item;
		hs->r[hs->n] = m->seen_rating[lo + j];
		hs->ts[hs->n] = m->seen_ts ? m->seen_ts[lo + j] : 0;
		hs->n++;
	}
	for (size_t j = 0; j < nx; j++) {
		const cf_ov_item *o = x[j].ov;
		if (o->rated != 0)
			hs->changed = 1;
		if (o->rated == 1) {
			hs->items[hs->n] = x[j].item;
			hs->r[hs->n] = o->rating;
			hs->ts[hs->n] = o->ts;
			hs->n++;
		}
		if (o->hidden)
			hs->hidden[hs->nhid++] = x[j].item;
	}
	free(x);
	free(ov);
	return 0;
}

/*
 * The user's scores into s->row (rated and hidden movies excluded), and
 * the factors and bias scored with (*p; *bu).  -1 if fold-in is singular.
 */
static int
hist_scores(const struct hist *hs, const cf_served *h, struct scratch *s, const float **p,
            float *bu)
{
	const cf_model *m = h->m;

	if (!hs->changed && hs->u != CF_NOID) {
		cf_score_user(h->sc, hs->u, s->row);
		*p = m->k ? m->P + (size_t)hs->u * m->k : s->p;
		*bu = m->bu ? m->bu[hs->u] : 0;
	} else {
		/* the one rule for a given history, every model kind (score.h) */
		*bu = 0;
		if (cf_score_given(h->sc, hs->items, hs->r, hs->n, s->p, bu, s->row) < 0)
			return -1;
		*p = s->p;
	}
	cf_score_exclude(s->row, hs->items, hs->n);
	cf_score_exclude(s->row, hs->hidden, hs->nhid);
	return 0;
}

/* Adds "because":[{"id","title"},...] to each item: its top positive contributions. */
static void
add_because(const cf_serve_api *a, const cf_served *h, const struct hist *hs, float bu,
            const cf_hit *hits, size_t nh, json_t *list, size_t top)
{
	cf_explainer *e = hs->n ? cf_explain_new(h->sc, hs->items, hs->r, hs->n, bu) : NULL;
	cf_because bc[EXPLAIN_MAX];

	for (size_t r = 0; r < nh; r++) {
		json_t *arr = json_array();
		size_t nb = e ? cf_explain_top(e, hits[r].item, top, bc) : 0;
		for (size_t j = 0; j < nb && arr; j++) {
			size_t len;
			cf_movie mv;
			if (!(bc[j].contribution > 0))
				break;
			const char *id = cf_idmap_id(h->m->items, bc[j].item, &len);
			int known = cf_meta_find(a->meta, id, len, &mv);
			json_array_append_new(arr, cf_movie_json(id, len, known ? &mv : NULL,
			                                         known ? CF_MJ_META : 0));
		}
		json_object_set_new(json_array_get(list, r), "because", arr ? arr : json_null());
	}
	cf_explain_free(e);
}

long
api_user_top(const cf_serve_api *a, const cf_served *h, const char *uid, size_t len,
             size_t n, struct scratch *s)
{
	struct hist hs;
	const float *p;
	float bu;
	long rc;

	if (hist_get(a, h, uid, len, &hs) < 0)
		return API_NO_USER;
	rc = hist_scores(&hs, h, s, &p, &bu) < 0 ? API_SINGULAR :
	     (long)cf_score_topn(h->sc, s->row, n, s->hits);
	hist_free(&hs);
	return rc;
}

void
api_get_recommendations(const cf_serve_api *a, cf_http_req *rq)
{
	long long k, explain;
	int meta, links;
	const char *uid;
	cf_served *h;
	struct hist hs;
	char b[48];

	if (!(uid = api_q_id(rq, "user_id")) ||
	    api_q_count(rq, "k", K_DEFAULT, 1, K_MAX, &k) < 0 ||
	    api_q_bool(rq, "returnMetadata", &meta) < 0 || api_q_bool(rq, "links", &links) < 0 ||
	    api_q_count(rq, "explain", 0, 0, EXPLAIN_MAX, &explain) < 0 ||
	    !(h = api_pick_model(a, rq)))
		return;
	if (hist_get(a, h, uid, strlen(uid), &hs) < 0) {
		cf_http_error(rq, 404, "unknown user '%s'", api_shown(uid, strlen(uid), b, sizeof b));
		cf_served_put(h);
		return;
	}
	struct scratch *s = api_scratch(h->m->nitems, h->m->k, (size_t)k);
	const float *p;
	float bu;
	if (hist_scores(&hs, h, s, &p, &bu) < 0) {
		cf_http_error(rq, 400, "fold-in failed: the user's ratings give a singular system");
	} else {
		size_t nh = cf_score_topn(h->sc, s->row, (size_t)k, s->hits);
		unsigned flags = (meta ? CF_MJ_META : 0) | (meta && links && a->links ? CF_MJ_LINKS : 0);
		json_t *list = api_items_json(a, h, s->hits, nh, flags, 0);
		if (list && explain > 0)
			add_because(a, h, &hs, bu, s->hits, nh, list, (size_t)explain);
		cf_http_reply_json(rq, 200, api_wrap("items", list));
	}
	hist_free(&hs);
	cf_served_put(h);
}

/* History positions by time, most recent first; ties by position. */
struct seenpos {
	int64_t ts;
	size_t at;
};

static int
by_recent(const void *x, const void *y)
{
	const struct seenpos *a = x, *b = y;

	if (a->ts != b->ts)
		return a->ts > b->ts ? -1 : 1;
	return a->at < b->at ? -1 : a->at > b->at;
}

void
api_get_features(const cf_serve_api *a, cf_http_req *rq)
{
	const char *uid;
	int meta;
	cf_served *h;
	struct hist hs;
	char b[48];

	if (!(uid = api_q_id(rq, "user_id")) || api_q_bool(rq, "returnMetadata", &meta) < 0 ||
	    !(h = api_pick_model(a, rq)))
		return;
	const cf_model *m = h->m;
	if (hist_get(a, h, uid, strlen(uid), &hs) < 0) {
		cf_http_error(rq, 404, "unknown user '%s'", api_shown(uid, strlen(uid), b, sizeof b));
		cf_served_put(h);
		return;
	}
	struct seenpos *sp = cf_xmalloc((hs.n ? hs.n : 1) * sizeof *sp);
	for (size_t j = 0; j < hs.n; j++)
		sp[j] = (struct seenpos){hs.ts[j], j};
	qsort(sp, hs.n, sizeof *sp, by_recent);
	json_t *list = json_array();
	for (size_t j = 0; j < hs.n && list; j++) {
		size_t len;
		const char *id = cf_idmap_id(m->items, hs.items[sp[j].at], &len);
		json_t *v;
		cf_movie mv;
		if (meta) {
			int known = cf_meta_find(a->meta, id, len, &mv);
			v = cf_movie_json(id, len, known ? &mv : NULL, CF_MJ_META);
			if (v)
				json_object_set_new(v, "rating", cf_json_f32(hs.r[sp[j].at]));
		} else {
			v = json_stringn(id, len);
		}
		if (!v || json_array_append_new(list, v) < 0) {
			json_decref(list);
			list = NULL;
		}
	}
	free(sp);
	hist_free(&hs);
	json_t *f = list ? json_array() : NULL;
	json_t *one = api_wrap("histories", list);
	if (f && (!one || json_array_append_new(f, one) < 0)) {
		json_decref(f);
		f = NULL;
	}
	cf_http_reply_json(rq, 200, api_wrap("features", f));
	cf_served_put(h);
}

/* ------------------------------------------------------------ POST /ratings */

/* Room for a request's entries and their canonical ids. */
struct req_entries {
	cf_rl_entry e[CF_RL_ENTRIES_MAX];
	char ids[CF_RL_ENTRIES_MAX][ID_MAX + 2];
	size_t n;
};

/*
 * Adds the entries of body[key] (kind: CF_RL_RATE takes objects {"id",
 * "rating"}, the others ids) to q.  0, or -1 after a 400/404.
 */
static int
add_entries(cf_http_req *rq, const cf_served *h, const json_t *body, const char *key,
            int kind, struct req_entries *q)
{
	const json_t *list = json_object_get(body, key), *v;
	size_t idx;

	if (!list)
		return 0;
	if (!json_is_array(list)) {
		cf_http_error(rq, 400, "\"%s\" must be an array", key);
		return -1;
	}
	json_array_foreach(list, idx, v) {
		const json_t *idv = kind == CF_RL_RATE ? json_object_get(v, "id") : v;
		const char *id;
		size_t len;
		char ib[32], b[48];
		int e = idv ? api_json_id(idv, ib, sizeof ib, &id, &len) : -1;
		if (q->n == CF_RL_ENTRIES_MAX) {
			cf_http_error(rq, 400, "at most %d movies per request", CF_RL_ENTRIES_MAX);
			return -1;
		}
		if (e == ID_TOO_LONG) {
			cf_http_error(rq, 400, "%s[%zu]: the id is %zu bytes long: an id is at most %d",
			              key, idx, len, ID_MAX);
			return -1;
		}
		if (e < 0) {
			cf_http_error(rq, 400, kind == CF_RL_RATE ?
			              "%s[%zu]: expected {\"id\": 260, \"rating\": 4.5 or null}" :
			              "%s[%zu]: expected a movie id (an integer or a string)", key, idx);
			return -1;
		}
		if (api_lookup(h->m->items, id, len) == CF_NOID) {
			cf_http_error(rq, 404, "%s[%zu]: movie '%s' is unknown to model '%s'", key, idx,
			              api_shown(id, len, b, sizeof b), h->name);
			return -1;
		}
		cf_rl_entry *en = &q->e[q->n];
		api_canon(id, len, q->ids[q->n]);
		*en = (cf_rl_entry){.kind = (uint8_t)kind, .item = q->ids[q->n],
		                    .item_len = strlen(q->ids[q->n])};
		if (kind == CF_RL_RATE) {
			const json_t *rv = json_object_get(v, "rating");
			if (json_is_null(rv)) {
				en->kind = CF_RL_UNRATE;
			} else if (api_json_rating(rv, h->m, &en->rating) < 0) {
				cf_http_error(rq, 400, "%s[%zu]: \"rating\" must be null (remove it) or a "
				              "number from %g to %g", key, idx,
				              h->m->has_scale ? h->m->rating_min : -INFINITY,
				              h->m->has_scale ? h->m->rating_max : INFINITY);
				return -1;
			}
		}
		q->n++;
	}
	return 0;
}

/*
 * POST /ratings {"user_id": 18, "ratings": [{"id": 260, "rating": 5},
 * {"id": 1, "rating": null}], "not_interested": [2], "interested": [3]}:
 * written to the log and fsynced, then answered {"user_id": "18",
 * "changed": 4}.  Movies must be known to the model (model_name, default:
 * the default one), ratings within its scale.
 */
void
api_post_ratings(const cf_serve_api *a, cf_http_req *rq)
{
	json_t *body;
	cf_served *h = NULL;
	struct req_entries *q = NULL;
	const char *uid;
	size_t ulen;
	char ib[32], err[400], cu[ID_MAX + 2];

	if (!(body = api_body_json(rq)))
		return;
	int e = json_is_object(body) ? api_json_id(json_object_get(body, "user_id"), ib, sizeof ib,
	                                           &uid, &ulen) : -1;
	if (e < 0) {
		if (e == ID_TOO_LONG)
			cf_http_error(rq, 400, "user_id is %zu bytes long: an id is at most %d", ulen,
			              ID_MAX);
		else
			cf_http_error(rq, 400, "expected {\"user_id\": 18, \"ratings\": [{\"id\": 260, "
			              "\"rating\": 5}, ...], \"not_interested\": [...]}");
		goto out;
	}
	for (size_t j = 0; j < ulen; j++) {
		unsigned char c = (unsigned char)uid[j];
		/* The log is exported as CSV (make retrain): no quoting needed, ever. */
		if (c < 0x20 || c == 0x7f || c == ',' || c == '"') {
			cf_http_error(rq, 400, "user_id: a control character, comma or double quote "
			              "at byte %zu: not allowed in a user id here", j);
			goto out;
		}
	}
	if (!(h = api_pick_model(a, rq)))
		goto out;
	q = cf_xmalloc(sizeof *q);
	q->n = 0;
	if (add_entries(rq, h, body, "ratings", CF_RL_RATE, q) < 0 ||
	    add_entries(rq, h, body, "not_interested", CF_RL_HIDE, q) < 0 ||
	    add_entries(rq, h, body, "interested", CF_RL_UNHIDE, q) < 0)
		goto out;
	if (q->n == 0) {
		cf_http_error(rq, 400, "nothing to record: give \"ratings\", \"not_interested\" or "
		              "\"interested\" (1 to %d movies in all)", CF_RL_ENTRIES_MAX);
		goto out;
	}
	api_canon(uid, ulen, cu);
	cf_rl_record r = {.ts = (int64_t)time(NULL), .user = cu, .user_len = strlen(cu),
	                  .n = q->n, .e = q->e};
	int rc = cf_overlay_add(a->ratings, &r, err, sizeof err);
	if (rc != 0) {
		if (rc >= 500)
			cf_warn("%s", err);
		cf_http_error(rq, rc, "%s", rc >= 500 ? "the ratings log could not be written" : err);
	} else {
		cf_http_reply_json(rq, 200, json_pack("{s:s, s:I}", "user_id", cu, "changed",
		                                      (json_int_t)q->n));
	}
out:
	free(q);
	json_decref(body);
	cf_served_put(h);
}
