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
 *
 * Hostile clients, handled here so the handler never sees them:
 *   - connections: at most max_conns in all (below the process's file
 *     descriptor limit) and max_conns_per_ip from one address, counted
 *     over every daemon.  A new connection beyond max_conns closes the
 *     connection that has been waiting longest for its next request (a
 *     slow sender, or an idle keep-alive one) instead of being turned
 *     away; beyond max_conns_per_ip it is closed at once.
 *   - a request must arrive whole (its line, headers and body) within
 *     request_timeout seconds of the connection opening or of the
 *     previous response on it being sent, however slowly bytes drip;
 *     else the connection is closed.  `timeout` (idle seconds) still
 *     applies while a response is being sent.
 *   - every error answer is {"error":"..."}: also the ones libmicrohttpd
 *     makes itself (a request line or headers over 32 KiB, a malformed
 *     Content-Length or chunked body), which http.c intercepts; a %00
 *     in the path or query, two Content-Length headers, Content-Length
 *     with Transfer-Encoding, or a Transfer-Encoding other than chunked
 *     are 400 (501 for the last), and such a connection is closed.
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
	unsigned request_timeout; /* seconds a request may take to arrive whole */
	unsigned max_conns;     /* connections open at once, over all threads */
	unsigned max_conns_per_ip; /* from one client address; 0: no limit */
	int log;                /* one line per request on stderr */
} cf_http_opts;

/* The size the request line and headers must fit in together. */
#define CF_HTTP_HEAD_MAX (32 * 1024)

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
/*
 * A streamed reply (chunked; for answers too large to build at once):
 * fill(cls, buf, max) writes 1 to max bytes of it and returns how many,
 * or 0 at its end; it runs on the request's thread, after the handler
 * has returned.  release(cls) is called once, when the reply is done or
 * abandoned (also if it cannot be queued).
 */
typedef size_t (*cf_http_fill)(void *cls, char *buf, size_t max);
void cf_http_reply_stream(cf_http_req *rq, int status, const char *ctype, cf_http_fill fill,
                          void *cls, void (*release)(void *cls));
/* Replies with v as compact JSON (v is released). */
void cf_http_reply_json(cf_http_req *rq, int status, json_t *v);
/* Replies {"error":"message"} with status. */
void cf_http_error(cf_http_req *rq, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* The same with one more header (Allow for 405, WWW-Authenticate for 401). */
void cf_http_error_hdr(cf_http_req *rq, int status, const char *hdr, const char *val,
                       const char *fmt, ...) __attribute__((format(printf, 5, 6)));

#endif
