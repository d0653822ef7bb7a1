/*
 * api.c - the endpoints of serve (see api.h).  Each handler checks its
 * parameters (400 for a malformed one, 404 for an unknown user, item or
 * model), takes a model handle for the whole request, and scores with
 * the library's code: cf_score_user / cf_score_topn as
 * `mf-score --user | topk`, cf_score_similar as `mf-score --similar`,
 * cf_score_given as `mf-score --fold-in`; movies are named by
 * cf_movie_json, the shape join-meta prints.
 *
 * Scratch (a score row, hits, a factor vector) is kept per pool thread
 * and grows to the largest model used, so the hot path allocates only
 * the JSON it returns.
 */
#include "api.h"
#include "api-int.h"
#include "metajson.h"
#include "score.h"
#include "util.h"

#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>


/* ------------------------------------------------------------ scratch */


static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;

static void
scratch_free(void *arg)
{
	struct scratch *s = arg;

	free(s->row);
	free(s->hits);
	free(s->p);
	free(s);
}

static void
scratch_key_init(void)
{
	if (pthread_key_create(&scratch_key, scratch_free) != 0)
		cf_die("pthread_key_create failed");
}

/* This thread's scratch with room for a model of ni items, k factors, n hits. */
struct scratch *
api_scratch(uint32_t ni, int k, size_t n)
{
	struct scratch *s;

	pthread_once(&scratch_once, scratch_key_init);
	if (!(s = pthread_getspecific(scratch_key))) {
		s = cf_xcalloc(1, sizeof *s);
		pthread_setspecific(scratch_key, s);
	}
	if (s->nrow < (size_t)ni + 1) {
		free(s->row);
		s->nrow = (size_t)ni + 1;
		s->row = cf_xmalloc(s->nrow * sizeof *s->row);
	}
	if (s->np < (size_t)k + 1) {
		free(s->p);
		s->np = (size_t)k + 1;
		s->p = cf_xmalloc(s->np * sizeof *s->p);
	}
	if (s->nhits < n + 1) {
		free(s->hits);
		s->nhits = n + 1;
		s->hits = cf_xmalloc(s->nhits * sizeof *s->hits);
	}
	return s;
}

/* ------------------------------------------------------------ helpers */

/* Client text for a message: printable ASCII, at most 40 bytes shown. */
const char *
api_shown(const char *s, size_t n, char *buf, size_t cap)
{
	size_t o = 0;

	for (size_t i = 0; i < n && o + 4 < cap; i++) {
		if (i == 40) {
			memcpy(buf + o, "...", 3);
			o += 3;
			break;
		}
		buf[o++] = (s[i] >= 0x20 && s[i] < 0x7f && s[i] != '"') ? s[i] : '?';
	}
	buf[o] = 0;
	return buf;
}

/* Model index of a raw id in any of its forms ("018" is "18"), or CF_NOID. */
uint32_t
api_lookup(const cf_idmap *d, const char *id, size_t len)
{
	char buf[ID_MAX + 2];
	const char *c;
	size_t n;

	if (len > ID_MAX)
		return CF_NOID;
	n = cf_canon_id(id, len, buf, &c);
	return cf_idmap_find(d, c, n);
}

/* A query number in [lo, hi] (dflt if absent); -1 after a 400. */
int
api_q_count(cf_http_req *rq, const char *key, long long dflt, long long lo, long long hi,
        long long *out)
{
	const char *v = cf_http_query(rq, key);
	char b[48];

	*out = dflt;
	if (!v)
		return 0;
	if (cf_parse_i64(v, out) < 0 || *out < lo || *out > hi) {
		cf_http_error(rq, 400, "%s: expected a whole number from %lld to %lld, not '%s'",
		              key, lo, hi, api_shown(v, strlen(v), b, sizeof b));
		return -1;
	}
	return 0;
}

int
api_q_real(cf_http_req *rq, const char *key, double dflt, double lo, double hi_excl,
       double *out)
{
	const char *v = cf_http_query(rq, key);
	char b[48];

	*out = dflt;
	if (!v)
		return 0;
	if (cf_parse_double(v, out) < 0 || !(*out >= lo && *out < hi_excl)) {
		cf_http_error(rq, 400, "%s: expected a number from %g to below %g, not '%s'", key,
		              lo, hi_excl, api_shown(v, strlen(v), b, sizeof b));
		return -1;
	}
	return 0;
}

int
api_q_bool(cf_http_req *rq, const char *key, int *out)
{
	const char *v = cf_http_query(rq, key);
	char b[48];

	*out = 0;
	if (!v)
		return 0;
	if (!strcasecmp(v, "true") || !strcmp(v, "1") || !strcasecmp(v, "yes")) {
		*out = 1;
	} else if (!(!strcasecmp(v, "false") || !strcmp(v, "0") || !strcasecmp(v, "no"))) {
		cf_http_error(rq, 400, "%s: expected true or false, not '%s'", key,
		              api_shown(v, strlen(v), b, sizeof b));
		return -1;
	}
	return 0;
}

/* A required id from the query; NULL after a 400. */
const char *
api_q_id(cf_http_req *rq, const char *key)
{
	const char *v = cf_http_query(rq, key);

	if (!v || !*v)
		cf_http_error(rq, 400, "%s is required (e.g. ?%s=18)", key, key);
	else if (strlen(v) > ID_MAX)
		cf_http_error(rq, 400, "%s: longer than %d bytes", key, ID_MAX);
	else
		return v;
	return NULL;
}

/* The model of ?model_name= (default: the default one); NULL after a 400/404. */
cf_served *
api_pick_model(const cf_serve_api *a, cf_http_req *rq)
{
	const char *n = cf_http_query(rq, "model_name");
	char b[48];
	cf_served *h;

	if (n && !cf_model_name_ok(n)) {
		cf_http_error(rq, 400, "model_name '%s': expected 1 to %d of A-Z a-z 0-9 _ . -, "
		              "not starting with a dot", api_shown(n, strlen(n), b, sizeof b),
		              CF_MODEL_NAME_MAX);
		return NULL;
	}
	if (!(h = cf_registry_get(a->models, n)))
		cf_http_error(rq, 404, "unknown model '%s' (GET /models lists them)", n);
	return h;
}

/*
 * A raw id from JSON: a string (1 to ID_MAX bytes, no NUL) or an integer.
 * 0; -1 if it is neither; ID_TOO_LONG for a string over ID_MAX bytes.
 */

int
api_json_id(const json_t *v, char *buf, size_t cap, const char **id, size_t *len)
{
	if (json_is_string(v)) {
		*id = json_string_value(v);
		*len = json_string_length(v);
		if (*len > ID_MAX)
			return ID_TOO_LONG;
		return *len > 0 && memchr(*id, 0, *len) == NULL ? 0 : -1;
	}
	if (json_is_integer(v)) {
		int n = snprintf(buf, cap, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		*id = buf;
		*len = n > 0 ? (size_t)n : 0;
		return 0;
	}
	return -1;
}

/* The canonical form of a raw id, NUL-terminated, in buf (>= len + 2 bytes). */
const char *
api_canon(const char *id, size_t len, char *buf)
{
	const char *c;
	size_t n = cf_canon_id(id, len, buf, &c);

	if (c != buf)
		memcpy(buf, c, n);
	buf[n] = 0;
	return buf;
}

/* Parses the body as JSON; NULL after a 400. */
json_t *
api_body_json(cf_http_req *rq)
{
	size_t len;
	const char *body = cf_http_body(rq, &len);
	json_error_t e;
	json_t *v;

	if (len == 0) {
		cf_http_error(rq, 400, "a JSON body is required");
		return NULL;
	}
	if (!(v = json_loadb(body, len, JSON_DECODE_ANY, &e)))
		cf_http_error(rq, 400, "invalid JSON at line %d, column %d: %s", e.line, e.column,
		              e.text);
	return v;
}

/* A rating from JSON: a finite number within the model's scale; -1 if not. */
int
api_json_rating(const json_t *v, const cf_model *m, float *r)
{
	double x;

	if (!json_is_number(v))
		return -1;
	x = json_number_value(v);
	if (!isfinite(x) || (m->has_scale && (x < m->rating_min || x > m->rating_max)))
		return -1;
	*r = (float)x;
	return 0;
}

/* The movie objects of ranked hits. */
json_t *
api_items_json(const cf_serve_api *a, const cf_served *h, const cf_hit *hits, size_t n,
           unsigned flags, int score_rank)
{
	json_t *list = json_array();
	cf_movie mv;
	size_t len;

	for (size_t r = 0; r < n && list; r++) {
		const char *id = cf_idmap_id(h->m->items, hits[r].item, &len);
		int known = flags && cf_meta_find(a->meta, id, len, &mv);
		json_t *o = cf_movie_json(id, len, known ? &mv : NULL, flags);
		if (o && score_rank) {
			json_object_set_new(o, "score", cf_json_f32(hits[r].score));
			json_object_set_new(o, "rank", json_integer((json_int_t)r + 1));
		}
		if (!o || json_array_append_new(list, o) < 0) {
			json_decref(list);
			list = NULL;
		}
	}
	return list;
}

json_t *
api_wrap(const char *key, json_t *v)
{
	json_t *o = v ? json_object() : NULL;

	if (o && json_object_set_new(o, key, v) < 0) {
		json_decref(o);
		return NULL;
	}
	if (!o)
		json_decref(v);
	return o;
}

/* User u's top n unseen items into hits (scratch row s); how many. */
size_t
api_top_user(const cf_served *h, uint32_t u, size_t n, struct scratch *s)
{
	const cf_model *m = h->m;

	cf_score_user(h->sc, u, s->row);
	cf_score_exclude(s->row, m->seen_item + m->seen_ptr[u], m->seen_ptr[u + 1] - m->seen_ptr[u]);
	return cf_score_topn(h->sc, s->row, n, s->hits);
}

/* ---------------------------------------------------------- endpoints */

static void
get_page(const cf_serve_api *a, cf_http_req *rq)
{
	cf_http_reply(rq, 200, "text/html; charset=utf-8", a->page, a->page_len,
	              "Cache-Control", "no-cache");
}

static void
get_healthz(const cf_serve_api *a, cf_http_req *rq)
{
	cf_served *h = cf_registry_get(a->models, NULL);
	size_t n;
	char **names = cf_registry_names(a->models, &n);

	cf_http_reply_json(rq, 200, json_pack("{s:s, s:s, s:I, s:i}", "status", "ok",
	                                      "default", h->name, "models", (json_int_t)n,
	                                      "training", cf_trainer_pending(a->trainer)));
	cf_registry_names_free(names, n);
	cf_served_put(h);
}

struct rated {
	uint32_t item;
	float r;
	size_t pos;
};

static int
by_item_pos(const void *x, const void *y)
{
	const struct rated *a = x, *b = y;

	if (a->item != b->item)
		return a->item < b->item ? -1 : 1;
	return a->pos < b->pos ? -1 : a->pos > b->pos;
}

/* POST /recommendations: fold-in of a person the model has never seen. */
static void
post_recommendations(const cf_serve_api *a, cf_http_req *rq)
{
	long long k;
	int meta;
	cf_served *h = NULL;
	json_t *body = NULL, *list, *v;
	struct rated *rt = NULL;
	size_t n = 0, idx, len;
	char ib[32];
	const char *id;

	if (api_q_count(rq, "k", K_DEFAULT, 1, K_MAX, &k) < 0 ||
	    api_q_bool(rq, "returnMetadata", &meta) < 0 || !(body = api_body_json(rq)))
		goto out;
	list = json_object_get(body, "ratings");
	if (!json_is_array(list) || json_array_size(list) == 0 ||
	    json_array_size(list) > FOLDIN_MAX) {
		cf_http_error(rq, 400, "expected {\"ratings\":[{\"id\":\"89745\",\"rating\":5}, "
		              "...]} with 1 to %d ratings", FOLDIN_MAX);
		goto out;
	}
	if (!(h = api_pick_model(a, rq)))
		goto out;
	rt = cf_xmalloc(json_array_size(list) * sizeof *rt);
	json_array_foreach(list, idx, v) {
		float r;
		int e = json_is_object(v) ? api_json_id(json_object_get(v, "id"), ib, sizeof ib, &id,
		                                    &len) : -1;
		if (e == ID_TOO_LONG) {
			cf_http_error(rq, 400, "ratings[%zu]: \"id\" is %zu bytes long: an id is at "
			              "most %d", idx, len, ID_MAX);
			goto out;
		}
		if (e < 0) {
			cf_http_error(rq, 400, "ratings[%zu]: expected an object with an \"id\" "
			              "(a string or an integer) and a \"rating\"", idx);
			goto out;
		}
		if (api_json_rating(json_object_get(v, "rating"), h->m, &r) < 0) {
			cf_http_error(rq, 400, "ratings[%zu]: \"rating\" must be a number from %g "
			              "to %g", idx, h->m->has_scale ? h->m->rating_min : -INFINITY,
			              h->m->has_scale ? h->m->rating_max : INFINITY);
			goto out;
		}
		uint32_t i = api_lookup(h->m->items, id, len);
		if (i == CF_NOID)
			continue;       /* as mf-score --fold-in: unknown movies are ignored */
		rt[n].item = i;
		rt[n].r = r;
		rt[n].pos = idx;
		n++;
	}
	if (n == 0) {
		cf_http_error(rq, 404, "none of the rated movies is known to model '%s'", h->name);
		goto out;
	}
	/* A movie rated twice counts once, with its last rating. */
	qsort(rt, n, sizeof *rt, by_item_pos);
	size_t m = 0;
	for (size_t j = 0; j < n; j++)
		if (j + 1 == n || rt[j + 1].item != rt[j].item)
			rt[m++] = rt[j];
	struct scratch *s = api_scratch(h->m->nitems, h->m->k, (size_t)k + m);
	uint32_t *items = cf_xmalloc(m * sizeof *items);
	float *r = cf_xmalloc(m * sizeof *r), b;
	for (size_t j = 0; j < m; j++) {
		items[j] = rt[j].item;
		r[j] = rt[j].r;
	}
	if (cf_score_given(h->sc, items, r, m, s->p, &b, s->row) < 0) {
		cf_http_error(rq, 400, "fold-in failed: the ratings give a singular system");
	} else {
		cf_score_exclude(s->row, items, m);
		size_t nh = cf_score_topn(h->sc, s->row, (size_t)k, s->hits);
		cf_http_reply_json(rq, 200, api_wrap("items", api_items_json(a, h, s->hits, nh,
		                                                     meta ? CF_MJ_META : 0, 0)));
	}
	free(items);
	free(r);
out:
	free(rt);
	json_decref(body);
	cf_served_put(h);
}

static void
get_similar(const cf_serve_api *a, cf_http_req *rq)
{
	long long k;
	const char *iid;
	cf_served *h;
	char b[48];

	if (!(iid = api_q_id(rq, "item_id")) || api_q_count(rq, "k", K_DEFAULT, 1, K_MAX, &k) < 0 ||
	    !(h = api_pick_model(a, rq)))
		return;
	uint32_t i = api_lookup(h->m->items, iid, strlen(iid));
	if (i == CF_NOID) {
		cf_http_error(rq, 404, "unknown item '%s'", api_shown(iid, strlen(iid), b, sizeof b));
	} else if (h->sc->kind != CF_SCORE_ITEMNN &&
	           (h->m->k == 0 || h->sc->kind == CF_SCORE_POP)) {
		cf_http_error(rq, 400, "model '%s' (%s) has no item factors to compare", h->name,
		              h->m->algo);
	} else {
		struct scratch *s = api_scratch(h->m->nitems, h->m->k, (size_t)k);
		size_t nh = cf_score_similar(h->sc, i, (size_t)k, s->hits);
		cf_http_reply_json(rq, 200, api_wrap("items", api_items_json(a, h, s->hits, nh,
		                                                     CF_MJ_META, 0)));
	}
	cf_served_put(h);
}

/* POST /recommend_movie {"user_id": 9}: the titles of the user's top movies. */
static void
post_recommend_movie(const cf_serve_api *a, cf_http_req *rq)
{
	long long k;
	json_t *body, *out;
	cf_served *h;
	const char *id;
	size_t len;
	char ib[32], b[48];

	if (api_q_count(rq, "k", K_MOVIE, 1, K_MAX, &k) < 0 || !(body = api_body_json(rq)))
		return;
	int e = json_is_object(body) ? api_json_id(json_object_get(body, "user_id"), ib, sizeof ib,
	                                       &id, &len) : -1;
	if (e < 0) {
		if (e == ID_TOO_LONG)
			cf_http_error(rq, 400, "user_id is %zu bytes long: an id is at most %d", len,
			              ID_MAX);
		else
			cf_http_error(rq, 400, "expected {\"user_id\": 9} (an integer or a string)");
		json_decref(body);
		return;
	}
	if (!(h = api_pick_model(a, rq))) {
		json_decref(body);
		return;
	}
	struct scratch *s = api_scratch(h->m->nitems, h->m->k, (size_t)k);
	/* The user's history with their POST /ratings, as GET /recommendations. */
	long top = api_user_top(a, h, id, len, (size_t)k, s);
	if (top == API_NO_USER) {
		cf_http_error(rq, 404, "unknown user '%s'", api_shown(id, len, b, sizeof b));
	} else if (top < 0) {
		cf_http_error(rq, 400, "fold-in failed: the user's ratings give a singular system");
	} else {
		size_t nh = (size_t)top;
		out = json_array();
		for (size_t r = 0; r < nh && out; r++) {
			cf_movie mv;
			const char *mid = cf_idmap_id(h->m->items, s->hits[r].item, &len);
			json_t *t = cf_meta_find(a->meta, mid, len, &mv) && mv.in_movies ?
			            json_stringn(mv.title, mv.title_len) : json_stringn(mid, len);
			if (!t || json_array_append_new(out, t) < 0) {
				json_decref(out);
				out = NULL;
			}
		}
		cf_http_reply_json(rq, 200, out);
	}
	json_decref(body);
	cf_served_put(h);
}

static void
get_models(const cf_serve_api *a, cf_http_req *rq)
{
	size_t n;
	char **names = cf_registry_names(a->models, &n);
	json_t *v = json_array();

	for (size_t i = 0; i < n; i++)
		json_array_append_new(v, json_string(names[i]));
	cf_registry_names_free(names, n);
	cf_http_reply_json(rq, 200, v);
}

/*
 * POST /predict?model_name=&top_k= with [389, 456]: Moovier's shape.  The
 * cost is bounded before any scoring: at most PREDICT_MAX ids, duplicates
 * (in any spelling: "018" is 18) merged, and distinct users x top_k at
 * most PREDICT_ITEMS_MAX.  The answer is streamed: each user is scored
 * when the client is ready for their movies, one movie object is made at
 * a time, so a request holds a few KB however large its answer.
 */
struct predict {
	const cf_serve_api *a;
	cf_served *h;
	uint32_t *users;        /* distinct, in the order of the body */
	size_t n, at;           /* users; the one being written */
	cf_hit *hits;           /* its movies */
	size_t k, nh, r;        /* top_k; the hits; the next to write */
	unsigned flags;
	int state;              /* 0 "{", 1 a user's key, 2 their movies, 3 done */
	char *pend;             /* text made and not yet given to MHD */
	size_t plen, poff;
};

static void
predict_free(void *cls)
{
	struct predict *p = cls;

	cf_served_put(p->h);
	free(p->users);
	free(p->hits);
	free(p->pend);
	free(p);
}

/* Makes the next piece of the answer into p->pend; 0 at the end. */
static int
predict_next(struct predict *p)
{
	const unsigned dump = JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(9) |
	                      JSON_ENCODE_ANY;
	const char *lit = NULL;
	json_t *v = NULL;
	size_t len;
	int comma = 0;

	free(p->pend);
	p->pend = NULL;
	p->plen = p->poff = 0;
	switch (p->state) {
	case 0:
		lit = "{";
		p->state = 1;
		break;
	case 1: {
		if (p->at == p->n) {
			lit = "}";
			p->state = 3;
			break;
		}
		const cf_model *m = p->h->m;
		uint32_t u = p->users[p->at];
		struct scratch *s = api_scratch(m->nitems, m->k, p->k);
		p->nh = api_top_user(p->h, u, p->k, s);
		memcpy(p->hits, s->hits, p->nh * sizeof *p->hits);
		p->r = 0;
		const char *id = cf_idmap_id(m->users, u, &len);
		char *key = (v = json_stringn(id, len)) ? json_dumps(v, dump) : NULL;
		json_decref(v);
		if (!key)
			return 0;
		size_t kn = strlen(key);
		p->pend = cf_xmalloc(kn + 4);
		p->plen = (size_t)snprintf(p->pend, kn + 4, "%s%s:[", p->at ? "," : "", key);
		free(key);
		p->state = 2;
		return 1;
	}
	case 2:
		if (p->r == p->nh) {
			lit = "]";
			p->at++;
			p->state = 1;
			break;
		}
		const char *id = cf_idmap_id(p->h->m->items, p->hits[p->r].item, &len);
		cf_movie mv;
		int known = cf_meta_find(p->a->meta, id, len, &mv);
		if (!(v = cf_movie_json(id, len, known ? &mv : NULL, p->flags)))
			return 0;
		json_object_set_new(v, "score", cf_json_f32(p->hits[p->r].score));
		json_object_set_new(v, "rank", json_integer((json_int_t)p->r + 1));
		comma = p->r > 0;
		p->r++;
		break;
	default:
		return 0;
	}
	if (lit) {
		p->pend = cf_xstrdup(lit);
		p->plen = strlen(lit);
		return 1;
	}
	char *text = json_dumps(v, dump);
	json_decref(v);
	if (!text)
		return 0;       /* out of memory: the answer ends short */
	size_t tn = strlen(text);
	p->pend = cf_xmalloc(tn + 2);
	p->pend[0] = ',';
	memcpy(p->pend + comma, text, tn + 1);
	p->plen = tn + (size_t)comma;
	free(text);
	return 1;
}

static size_t
predict_fill(void *cls, char *buf, size_t max)
{
	struct predict *p = cls;
	size_t out = 0;

	while (out < max) {
		if (p->poff == p->plen && !predict_next(p))
			break;
		size_t n = p->plen - p->poff < max - out ? p->plen - p->poff : max - out;
		memcpy(buf + out, p->pend + p->poff, n);
		p->poff += n;
		out += n;
	}
	return out;
}

struct upos {
	uint32_t u;
	size_t pos;
};

static int
by_user_pos(const void *x, const void *y)
{
	const struct upos *a = x, *b = y;

	if (a->u != b->u)
		return a->u < b->u ? -1 : 1;
	return a->pos < b->pos ? -1 : a->pos > b->pos;
}

static int
by_pos(const void *x, const void *y)
{
	const struct upos *a = x, *b = y;

	return a->pos < b->pos ? -1 : a->pos > b->pos;
}

static void
post_predict(const cf_serve_api *a, cf_http_req *rq)
{
	long long k;
	json_t *body, *v;
	cf_served *h = NULL;
	struct upos *up = NULL;
	size_t idx, len, n = 0;
	const char *id;
	char ib[32], b[48];

	if (api_q_count(rq, "top_k", K_DEFAULT, 1, K_MAX, &k) < 0 || !(body = api_body_json(rq)))
		return;
	if (!json_is_array(body) || json_array_size(body) > PREDICT_MAX) {
		cf_http_error(rq, 400, "expected a JSON array of at most %d user ids, e.g. "
		              "[389, 456]", PREDICT_MAX);
		goto out;
	}
	if (!(h = api_pick_model(a, rq)))
		goto out;
	up = cf_xmalloc((json_array_size(body) + 1) * sizeof *up);
	json_array_foreach(body, idx, v) {
		int e = api_json_id(v, ib, sizeof ib, &id, &len);
		if (e == ID_TOO_LONG) {
			cf_http_error(rq, 400, "[%zu]: the user id is %zu bytes long: an id is at "
			              "most %d", idx, len, ID_MAX);
			goto out;
		}
		if (e < 0) {
			cf_http_error(rq, 400, "[%zu]: a user id must be an integer or a string", idx);
			goto out;
		}
		uint32_t u = api_lookup(h->m->users, id, len);
		if (u == CF_NOID) {
			cf_http_error(rq, 404, "unknown user '%s'", api_shown(id, len, b, sizeof b));
			goto out;
		}
		up[n].u = u;
		up[n].pos = idx;
		n++;
	}
	/* One answer per user, at the place of their first id. */
	qsort(up, n, sizeof *up, by_user_pos);
	size_t d = 0;
	for (size_t j = 0; j < n; j++)
		if (j == 0 || up[j].u != up[j - 1].u)
			up[d++] = up[j];
	qsort(up, d, sizeof *up, by_pos);
	if ((unsigned long long)d * (unsigned long long)k > PREDICT_ITEMS_MAX) {
		cf_http_error(rq, 400, "%zu users x top_k %lld = %llu movies: the limit is %d "
		              "per request (ask for fewer users or a smaller top_k)", d, k,
		              (unsigned long long)d * (unsigned long long)k, PREDICT_ITEMS_MAX);
		goto out;
	}
	struct predict *p = cf_xcalloc(1, sizeof *p);
	p->a = a;
	p->h = h;
	h = NULL;               /* the stream holds the handle until it is sent */
	p->n = d;
	p->users = cf_xmalloc((d ? d : 1) * sizeof *p->users);
	for (size_t j = 0; j < d; j++)
		p->users[j] = up[j].u;
	p->k = (size_t)k;
	p->hits = cf_xmalloc(((size_t)k + 1) * sizeof *p->hits);
	p->flags = CF_MJ_META | CF_MJ_YEAR | (a->links ? CF_MJ_LINKS : 0);
	cf_http_reply_stream(rq, 200, "application/json", predict_fill, p, predict_free);
out:
	free(up);
	json_decref(body);
	cf_served_put(h);
}

/* 1 if the request carries the configured bearer token (or none is needed). */
static int
authorized(const cf_serve_api *a, cf_http_req *rq)
{
	const char *h = cf_http_header(rq, "Authorization");
	size_t n, want;
	unsigned char diff = 0;

	if (!a->token)
		return 1;
	if (!h || strncasecmp(h, "Bearer ", 7) != 0)
		return 0;
	h += 7;
	n = strlen(h);
	want = strlen(a->token);
	/* Compared in time independent of where they differ. */
	for (size_t i = 0; i < n; i++)
		diff |= (unsigned char)(h[i] ^ a->token[i % (want ? want : 1)]);
	return n == want && diff == 0;
}

/*
 * POST /train without a body: fine-tunes on every rating of the ratings
 * log (overlay.h), the ratings users gave through POST /ratings.
 */
static void
train_from_log(const cf_serve_api *a, cf_http_req *rq, const cf_train_spec *spec)
{
	const char **users, **items;
	float *r;
	char name[CF_MODEL_NAME_MAX + 1], err[600];
	cf_served *h = api_pick_model(a, rq);

	if (!h)
		return;
	size_t n = cf_overlay_ratings(a->ratings, &users, &items, &r);
	if (n == 0) {
		cf_http_error(rq, 400, "the ratings log holds no ratings: POST /ratings first, or "
		              "give {\"users\":[...],\"movies\":[...],\"ratings\":[...]}");
		cf_served_put(h);
	} else {
		/* The job owns the handle now. */
		int rc = cf_trainer_submit(a->trainer, h, users, items, r, n, spec, name,
		                           sizeof name, err, sizeof err);
		if (rc == 0)
			cf_http_reply_json(rq, 200, json_string(name));
		else
			cf_http_error(rq, rc, "%s", err);
	}
	free(users);
	free(items);
	free(r);
}

/* POST /train: fine-tunes in the background; returns the new version's name. */
static void
post_train(const cf_serve_api *a, cf_http_req *rq)
{
	long long patience, epochs;
	double split;
	json_t *body = NULL, *us, *ms, *rs;
	cf_served *h = NULL;
	char **ids = NULL, name[CF_MODEL_NAME_MAX + 1], err[600];
	float *r = NULL;
	size_t n = 0;

	if (!authorized(a, rq)) {
		cf_http_error_hdr(rq, 401, "WWW-Authenticate", "Bearer",
		                  "/train needs the header 'Authorization: Bearer TOKEN'");
		return;
	}
	size_t blen;
	if (api_q_real(rq, "validation_split", 0.2, 0, 1, &split) < 0 ||
	    api_q_count(rq, "patience", 10, 0, 1000, &patience) < 0 ||
	    api_q_count(rq, "epochs", 0, 1, CF_TRAIN_EPOCHS_MAX, &epochs) < 0)
		return;
	cf_train_spec spec = a->train;
	spec.valid_split = split;
	spec.patience = (int)patience;
	spec.epochs = (int)epochs;
	if ((cf_http_body(rq, &blen), blen == 0)) {
		train_from_log(a, rq, &spec);
		return;
	}
	if (!(body = api_body_json(rq)))
		return;
	us = json_object_get(body, "users");
	ms = json_object_get(body, "movies");
	rs = json_object_get(body, "ratings");
	n = json_array_size(rs);
	if (!json_is_array(us) || !json_is_array(ms) || !json_is_array(rs) || n == 0 ||
	    json_array_size(us) != n || json_array_size(ms) != n) {
		cf_http_error(rq, 400, "expected {\"users\":[...],\"movies\":[...],\"ratings\":[...]}: "
		              "three arrays of the same length, at least 1");
		goto out;
	}
	if (!(h = api_pick_model(a, rq)))
		goto out;
	ids = cf_xcalloc(2 * n, sizeof *ids);
	r = cf_xmalloc(n * sizeof *r);
	for (size_t j = 0; j < n; j++) {
		const char *id;
		size_t len;
		char ib[32];
		int e = api_json_id(json_array_get(us, j), ib, sizeof ib, &id, &len);
		if (e < 0) {
			if (e == ID_TOO_LONG)
				cf_http_error(rq, 400, "users[%zu] is %zu bytes long: an id is at most "
				              "%d", j, len, ID_MAX);
			else
				cf_http_error(rq, 400, "users[%zu]: expected an integer or a string", j);
			goto out;
		}
		ids[2 * j] = cf_xmalloc(len + 2);
		api_canon(id, len, ids[2 * j]);
		e = api_json_id(json_array_get(ms, j), ib, sizeof ib, &id, &len);
		if (e < 0) {
			if (e == ID_TOO_LONG)
				cf_http_error(rq, 400, "movies[%zu] is %zu bytes long: an id is at most "
				              "%d", j, len, ID_MAX);
			else
				cf_http_error(rq, 400, "movies[%zu]: expected an integer or a string", j);
			goto out;
		}
		ids[2 * j + 1] = cf_xmalloc(len + 2);
		api_canon(id, len, ids[2 * j + 1]);
		if (api_json_rating(json_array_get(rs, j), h->m, &r[j]) < 0) {
			cf_http_error(rq, 400, "ratings[%zu]: expected a number from %g to %g", j,
			              h->m->has_scale ? h->m->rating_min : -INFINITY,
			              h->m->has_scale ? h->m->rating_max : INFINITY);
			goto out;
		}
	}
	/* Users and items as two interleaved arrays: users = ids[0, 2, ..]. */
	const char **uv = cf_xmalloc(n * sizeof *uv), **iv = cf_xmalloc(n * sizeof *iv);
	for (size_t j = 0; j < n; j++) {
		uv[j] = ids[2 * j];
		iv[j] = ids[2 * j + 1];
	}
	cf_served *from = h;
	h = NULL;       /* the job owns the handle now */
	int rc = cf_trainer_submit(a->trainer, from, uv, iv, r, n, &spec, name, sizeof name,
	                           err, sizeof err);
	free(uv);
	free(iv);
	if (rc == 0)
		cf_http_reply_json(rq, 200, json_string(name));
	else
		cf_http_error(rq, rc, "%s", err);
out:
	for (size_t j = 0; ids && j < 2 * n; j++)
		free(ids[j]);
	free(ids);
	free(r);
	json_decref(body);
	cf_served_put(h);
}

/* A movie's popularity under a model: its ratings; -1 if the model does not know it. */
struct pop_arg {
	const cf_serve_api *a;
	const cf_served *h;
};

static int64_t
movie_pop(void *arg, uint32_t movie)
{
	const struct pop_arg *p = arg;
	cf_movie mv;

	cf_meta_get(p->a->meta, movie, &mv);
	uint32_t i = cf_idmap_find(p->h->m->items, mv.id, mv.id_len);
	return i == CF_NOID ? -1 : (int64_t)p->h->pop[i];
}

/* GET /movies?q=star&k=20: the model's movies by title (titles.h), best first. */
void
api_get_movies(const cf_serve_api *a, cf_http_req *rq)
{
	long long k;
	const char *q = cf_http_query(rq, "q");
	cf_served *h;
	size_t qn = q ? strlen(q) : 0;

	if (api_q_count(rq, "k", 20, 1, K_MAX, &k) < 0 || !(h = api_pick_model(a, rq)))
		return;
	if (qn > CF_TITLES_QUERY_MAX) {
		cf_http_error(rq, 400, "q: longer than %d bytes", CF_TITLES_QUERY_MAX);
		cf_served_put(h);
		return;
	}
	struct pop_arg pa = {a, h};
	uint32_t *found = cf_xmalloc((size_t)k * sizeof *found);
	size_t n = cf_titles_search(a->titles, q ? q : "", qn, (size_t)k, movie_pop, &pa, found);
	json_t *list = json_array();
	for (size_t j = 0; j < n && list; j++) {
		cf_movie mv;
		cf_meta_get(a->meta, found[j], &mv);
		json_t *o = cf_movie_json(mv.id, mv.id_len, &mv, CF_MJ_META |
		                          (a->links ? CF_MJ_LINKS : 0));
		if (!o || json_array_append_new(list, o) < 0) {
			json_decref(list);
			list = NULL;
		}
	}
	free(found);
	cf_http_reply_json(rq, 200, api_wrap("items", list));
	cf_served_put(h);
}

/* GET /users?k=100: the first k user ids of the model (for the page's list). */
static void
get_users(const cf_serve_api *a, cf_http_req *rq)
{
	long long k;
	cf_served *h;

	if (api_q_count(rq, "k", 100, 1, 100000, &k) < 0 || !(h = api_pick_model(a, rq)))
		return;
	json_t *list = json_array();
	for (uint32_t u = 0; u < h->m->nusers && u < (uint64_t)k && list; u++) {
		size_t len;
		const char *id = cf_idmap_id(h->m->users, u, &len);
		if (json_array_append_new(list, json_stringn(id, len)) < 0) {
			json_decref(list);
			list = NULL;
		}
	}
	cf_http_reply_json(rq, 200, api_wrap("users", list));
	cf_served_put(h);
}

/* ------------------------------------------------------------- routing */

typedef void (*endpoint)(const cf_serve_api *a, cf_http_req *rq);

static const struct route {
	const char *path;
	endpoint get, post;
	const char *allow;
} routes[] = {
	{"/", get_page, NULL, "GET, HEAD"},
	{"/index.html", get_page, NULL, "GET, HEAD"},
	{"/healthz", get_healthz, NULL, "GET, HEAD"},
	{"/recommendations", api_get_recommendations, post_recommendations, "GET, HEAD, POST"},
	{"/features", api_get_features, NULL, "GET, HEAD"},
	{"/similar", get_similar, NULL, "GET, HEAD"},
	{"/recommend_movie", NULL, post_recommend_movie, "POST"},
	{"/models", get_models, NULL, "GET, HEAD"},
	{"/predict", NULL, post_predict, "POST"},
	{"/train", NULL, post_train, "POST"},
	{"/movies", api_get_movies, NULL, "GET, HEAD"},
	{"/users", get_users, NULL, "GET, HEAD"},
	{"/ratings", NULL, api_post_ratings, "POST"},
};

void
cf_serve_handle(void *arg, cf_http_req *rq)
{
	const cf_serve_api *a = arg;
	const char *path = cf_http_path(rq), *method = cf_http_method(rq);
	int get = !strcmp(method, "GET") || !strcmp(method, "HEAD");
	char b[48];

	for (size_t i = 0; i < sizeof routes / sizeof *routes; i++) {
		const struct route *r = &routes[i];
		if (strcmp(path, r->path) != 0)
			continue;
		endpoint fn = get ? r->get : !strcmp(method, "POST") ? r->post : NULL;
		if (fn)
			fn(a, rq);
		else
			cf_http_error_hdr(rq, 405, "Allow", r->allow, "%s %s: method not allowed "
			                  "(allowed: %s)", api_shown(method, strlen(method), b, sizeof b),
			                  r->path, r->allow);
		return;
	}
	cf_http_error(rq, 404, "unknown path '%s'", api_shown(path, strlen(path), b, sizeof b));
}
