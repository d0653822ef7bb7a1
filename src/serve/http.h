/*
 * http.h - a small HTTP/1.1 server on libmicrohttpd, for the serve
 * program: one MHD daemon (one epoll thread) per worker on a shared port, each
 * request's body gathered up to a limit, one call of the application's
 * handler per complete request, and one log line per request on stderr:
 *     serve: GET /recommendations 200 87us
 * Everything about MHD stays in http.c; the handler sees a cf_http_req.
 *
 * A request whose body exceeds the limit is answered 413 here, without
 * calling the handler (its Content-Length is checked before anything is
 * read; a chunked body is discarded as it comes, in constant memory).
 */
#ifndef CF_HTTP_H
#define CF_HTTP_H

#include <stddef.h>

#include <jansson.h>

typedef struct cf_http cf_http;
typedef struct cf_http_req cf_http_req;

/* Called on a pool thread once the request (and its body) is complete. */
typedef void (*cf_http_handler)(void *arg, cf_http_req *rq);

typedef struct cf_http_opts {
	const char *bind;       /* an IPv4 or IPv6 address ("127.0.0.1") */
	int port;               /* 0: any free port (see cf_http_port) */
	int threads;            /* pool threads, >= 1 */
	size_t max_body;        /* bytes; a larger body gets 413 */
	unsigned timeout;       /* seconds an idle connection is kept */
	int log;                /* one line per request on stderr */
} cf_http_opts;

/* Starts serving; NULL with a reason in err if it cannot (address in use...). */
cf_http *cf_http_start(const cf_http_opts *o, cf_http_handler h, void *arg,
                       char *err, size_t errlen);
/* The port actually bound (the one asked for, or the one port 0 got). */
int cf_http_port(const cf_http *s);
/* Stops accepting, finishes the requests in progress, joins the threads. */
void cf_http_stop(cf_http *s);

/* ---- inside a handler ---- */

const char *cf_http_method(const cf_http_req *rq);
/* The path, percent-decoded, without the query string. */
const char *cf_http_path(const cf_http_req *rq);
/* A query argument, percent-decoded; NULL if absent or given without '='. */
const char *cf_http_query(const cf_http_req *rq, const char *key);
/* A request header (name in any case), or NULL. */
const char *cf_http_header(const cf_http_req *rq, const char *name);
/* The body (NUL-terminated after len bytes; may hold NULs); len 0 if none. */
const char *cf_http_body(const cf_http_req *rq, size_t *len);

/*
 * Replies; the first reply of a request counts, later ones are ignored.
 * The body is copied.  extra_header/extra_value: one more header, or NULL.
 */
void cf_http_reply(cf_http_req *rq, int status, const char *ctype, const void *body,
                   size_t len, const char *extra_header, const char *extra_value);
/* Replies with v as compact JSON (v is released). */
void cf_http_reply_json(cf_http_req *rq, int status, json_t *v);
/* Replies {"error":"message"} with status. */
void cf_http_error(cf_http_req *rq, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* The same with one more header (Allow for 405, WWW-Authenticate for 401). */
void cf_http_error_hdr(cf_http_req *rq, int status, const char *hdr, const char *val,
                       const char *fmt, ...) __attribute__((format(printf, 5, 6)));

#endif
