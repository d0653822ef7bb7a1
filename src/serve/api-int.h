/*
 * api-int.h - what the endpoint files of serve share (api.c: the model
 * endpoints and routing; user.c: a user's history with what they rated
 * through the server, /ratings, /recommendations, /features; titles.c:
 * title search): limits, per-thread scratch, parameter and JSON helpers.
 * Internal to src/serve/.
 */
#ifndef CF_SERVE_API_INT_H
#define CF_SERVE_API_INT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "api.h"
#include "score.h"

enum {
	K_DEFAULT = 10,         /* /recommendations, /similar, /predict */
	K_MOVIE = 20,           /* /recommend_movie: the reference demo's 20 */
	K_MAX = 1000,
	ID_MAX = 256,           /* bytes in an id */
	FOLDIN_MAX = 10000,     /* ratings in a fold-in request */
	PREDICT_MAX = 1000,     /* ids in a /predict request */
	PREDICT_ITEMS_MAX = 20000,      /* distinct users x top_k in a /predict answer */
	EXPLAIN_MAX = 5,        /* "because" movies per recommendation */
};

/* api_json_id's answer for a string over ID_MAX bytes. */
enum { ID_TOO_LONG = -2 };

/* A pool thread's scratch, grown to the largest model used. */
struct scratch {
	float *row;
	size_t nrow;
	cf_hit *hits;
	size_t nhits;
	float *p;
	size_t np;
};

/* This thread's scratch with room for a model of ni items, k factors, n hits. */
struct scratch *api_scratch(uint32_t ni, int k, size_t n);
/* Client text for a message: printable ASCII, at most 40 bytes shown. */
const char *api_shown(const char *s, size_t n, char *buf, size_t cap);
/* Model index of a raw id in any of its forms ("018" is "18"), or CF_NOID. */
uint32_t api_lookup(const cf_idmap *d, const char *id, size_t len);
/* Query parameters: 0, or -1 after a 400. */
int api_q_count(cf_http_req *rq, const char *key, long long dflt, long long lo,
                long long hi, long long *out);
int api_q_real(cf_http_req *rq, const char *key, double dflt, double lo, double hi_excl,
               double *out);
int api_q_bool(cf_http_req *rq, const char *key, int *out);
/* A required id from the query; NULL after a 400. */
const char *api_q_id(cf_http_req *rq, const char *key);
/* The model of ?model_name= (default: the default one); NULL after a 400/404. */
cf_served *api_pick_model(const cf_serve_api *a, cf_http_req *rq);
/* A raw id from JSON (string or integer): 0; -1 neither; ID_TOO_LONG. */
int api_json_id(const json_t *v, char *buf, size_t cap, const char **id, size_t *len);
/* The canonical form of a raw id, NUL-terminated, in buf (>= len + 2 bytes). */
const char *api_canon(const char *id, size_t len, char *buf);
/* Parses the body as JSON; NULL after a 400. */
json_t *api_body_json(cf_http_req *rq);
/* A rating from JSON: a finite number within the model's scale; -1 if not. */
int api_json_rating(const json_t *v, const cf_model *m, float *r);
/* The movie objects of ranked hits (flags: metajson.h's CF_MJ_*). */
json_t *api_items_json(const cf_serve_api *a, const cf_served *h, const cf_hit *hits,
                       size_t n, unsigned flags, int score_rank);
/* {key: v}; NULL (v released) if v is NULL or out of memory. */
json_t *api_wrap(const char *key, json_t *v);
/* User u's top n unseen items (the model's history only) into s->hits; how many. */
size_t api_top_user(const cf_served *h, uint32_t u, size_t n, struct scratch *s);

/*
 * User uid's top n under model h (user.c): their history merged with
 * what they rated through POST /ratings, as GET /recommendations scores
 * it; the hits into s->hits.  How many; API_NO_USER if neither the model
 * nor the log knows the user; API_SINGULAR if the fold-in failed.
 */
enum { API_NO_USER = -1, API_SINGULAR = -2 };
long api_user_top(const cf_serve_api *a, const cf_served *h, const char *uid, size_t len,
                  size_t n, struct scratch *s);

/* Endpoints outside api.c. */
void api_get_recommendations(const cf_serve_api *a, cf_http_req *rq);
void api_get_features(const cf_serve_api *a, cf_http_req *rq);
void api_post_ratings(const cf_serve_api *a, cf_http_req *rq);
void api_get_movies(const cf_serve_api *a, cf_http_req *rq);

#endif
