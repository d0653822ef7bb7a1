/*
 * api.h - the recommendation API of the serve program: routes each
 * request (http.h) to its endpoint, which scores through score.h with a
 * model handle from models.h, names movies through meta.h and
 * metajson.h, and queues fine-tuning through train.h.
 *
 * Endpoints (README, "serve", has an example of each):
 *   GET  /                        the web page
 *   GET  /healthz                 {"status":"ok",...}
 *   GET  /recommendations         ?user_id=&k=&returnMetadata=  {"items":[...]}
 *   POST /recommendations         fold-in: {"ratings":[{"id":..,"rating":..}]}
 *   GET  /features                ?user_id=   {"features":[{"histories":[...]}]}
 *   GET  /similar                 ?item_id=&k=   {"items":[...]} with metadata
 *   POST /recommend_movie         {"user_id":9} -> ["title", ...]
 *   GET  /models                  ["als", ...]
 *   POST /predict                 ?model_name=&top_k=, body [389, 456]
 *   POST /train                   ?model_name=&validation_split=&patience=
 *   GET  /movies                  ?q=&k=   title search (for the page)
 *   GET  /users                   ?k=      some user ids (for the page)
 *   POST /ratings                 {"user_id":..,"ratings":[{"id":..,"rating":4|null}],
 *                                 "not_interested":[..],"interested":[..]}: durable
 *                                 (overlay.h); /recommendations and /features of
 *                                 the user follow at once
 * Every read endpoint takes an optional model_name (default: the default
 * model).  Errors are {"error":"..."} with 400, 401, 404, 405, 409, 413 or 503
 * (and, from http.c, 414, 431 and 501).  /predict's cost is bounded (at
 * most 1000 ids, duplicates merged, users x top_k at most 20000) and its
 * answer streamed; /train's epochs are at most 200.
 */
#ifndef CF_SERVE_API_H
#define CF_SERVE_API_H

#include <stddef.h>

#include "http.h"
#include "meta.h"
#include "models.h"
#include "overlay.h"
#include "titles.h"
#include "train.h"

typedef struct cf_serve_api {
	cf_registry *models;
	cf_trainer *trainer;
	cf_meta *meta;          /* never NULL (may be empty) */
	cf_titles *titles;      /* the search index of meta's titles */
	cf_overlay *ratings;    /* what users rated through POST /ratings */
	int links;              /* links.csv was loaded: imdb/tmdb in /predict */
	const char *token;      /* bearer token for /train, or NULL: open */
	const char *page;       /* the web page (HTML) and its length */
	size_t page_len;
	cf_train_spec train;    /* threads and seed of fine-tuning */
} cf_serve_api;

/* The cf_http_handler: arg is a cf_serve_api. */
void cf_serve_handle(void *arg, cf_http_req *rq);

#endif
