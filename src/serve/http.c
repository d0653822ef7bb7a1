/*
 * http.c - the HTTP server under serve: libmicrohttpd daemons, one epoll
 * thread each, sharing the port (see http.h).  A request's life in MHD:
 *   uri_log()      the request line has arrived: our context is made here,
 *                  so its clock starts before anything else is done
 *   on_request()   called first with no body, then once per body chunk,
 *                  then a last time with none: the handler runs then
 *   completed()    the response was sent (or the client went away): the
 *                  log line, and the context is freed
 */
#include "http.h"
#include "util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/*
 * The log: request threads append lines to a buffer under a mutex, and a
 * thread of its own writes it out every LOG_MS or when half full.  A
 * write(2) per request from every pool thread made them queue on the
 * file's lock and halved the throughput; this way a line costs a memcpy.
 */
enum { LOG_CAP = 1 << 18, LOG_MS = 50 };

struct log {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t thread;
	char *buf, *spare;      /* filled by requests; written by the thread */
	size_t len;
	int stop;
};

#define MAX_DAEMONS 64

struct cf_http {
	/*
	 * One daemon (one epoll thread) per worker, all listening on the same
	 * port with SO_REUSEPORT, so the kernel spreads connections over
	 * them.  MHD's own thread pool shares one listening socket, and a
	 * burst of connections opened together (a load generator's, a
	 * browser's) often lands on one thread, leaving the other cores idle.
	 */
	struct MHD_Daemon *d[MAX_DAEMONS];
	int nd;
	cf_http_opts o;
	cf_http_handler h;
	void *arg;
	int port;
	struct log log;
	int log_running;
};

struct cf_http_req {
	cf_http *s;
	struct MHD_Connection *con;
	const char *method;
	struct timespec t0;
	int started;            /* on_request has seen the headers */
	int too_big;            /* body over the limit: discarded, 413 */
	int status;             /* of the reply queued, 0 if none */
	int queued;             /* MHD accepted the reply */
	char *body;
	size_t len, cap;
	char path[160];         /* for the log line: printable, truncated */
	char meth[16];
};

/* ------------------------------------------------------------ log line */

static void log_start(cf_http *s);
static void log_stop(cf_http *s);

/* Copies the printable ASCII of s (up to stop or NUL) into dst, '?' for the rest. */
static void
copy_printable(char *dst, size_t cap, const char *s, char stop)
{
	size_t n = 0;

	for (; s && *s && *s != stop && n + 1 < cap; s++)
		dst[n++] = (*s >= 0x20 && *s < 0x7f) ? *s : '?';
	dst[n] = 0;
}

static void
write_all(const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(2, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;         /* stderr is gone: nothing better to do */
		p += w;
		n -= (size_t)w;
	}
}

static void *
log_thread(void *arg)
{
	struct log *g = arg;

	pthread_mutex_lock(&g->mu);
	for (;;) {
		if (g->len == 0 && g->stop)
			break;
		if (g->len < LOG_CAP / 2 && !g->stop) {
			struct timespec t;
			clock_gettime(CLOCK_REALTIME, &t);
			t.tv_nsec += LOG_MS * 1000000L;
			if (t.tv_nsec >= 1000000000L) {
				t.tv_sec++;
				t.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&g->cv, &g->mu, &t);
		}
		char *b = g->buf;
		size_t n = g->len;
		g->buf = g->spare;
		g->spare = b;
		g->len = 0;
		pthread_mutex_unlock(&g->mu);
		write_all(b, n);
		pthread_mutex_lock(&g->mu);
	}
	pthread_mutex_unlock(&g->mu);
	return NULL;
}

static void
log_append(cf_http *s, const char *line, size_t n)
{
	struct log *g = &s->log;

	pthread_mutex_lock(&g->mu);
	if (g->len + n > LOG_CAP) {
		/* The writer is behind: this thread waits for the disk instead. */
		write_all(g->buf, g->len);
		g->len = 0;
	}
	memcpy(g->buf + g->len, line, n);
	g->len += n;
	if (g->len >= LOG_CAP / 2)
		pthread_cond_signal(&g->cv);
	pthread_mutex_unlock(&g->mu);
}

static void
log_line(const struct cf_http_req *rq)
{
	struct timespec t1;
	char line[320];
	long long us;
	int n;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	us = (long long)(t1.tv_sec - rq->t0.tv_sec) * 1000000 +
	     (t1.tv_nsec - rq->t0.tv_nsec) / 1000;
	if (rq->status)
		n = snprintf(line, sizeof line, "%s: %s %s %d %lldus\n", cf_progname,
		             rq->meth[0] ? rq->meth : "-", rq->path, rq->status, us);
	else
		n = snprintf(line, sizeof line, "%s: %s %s - %lldus (no response: the client "
		             "went away)\n", cf_progname, rq->meth[0] ? rq->meth : "-", rq->path, us);
	if (n > (int)sizeof line - 1)
		n = (int)sizeof line - 1;
	if (n > 0)
		log_append(rq->s, line, (size_t)n);
}

/* ------------------------------------------------------------ MHD hooks */

static void *
uri_log(void *cls, const char *uri, struct MHD_Connection *con)
{
	struct cf_http_req *rq = calloc(1, sizeof *rq);

	(void)con;
	if (!rq)
		return NULL;    /* on_request answers 500 without a context */
	rq->s = cls;
	clock_gettime(CLOCK_MONOTONIC, &rq->t0);
	copy_printable(rq->path, sizeof rq->path, uri, '?');
	return rq;
}

static void
completed(void *cls, struct MHD_Connection *con, void **req_cls,
          enum MHD_RequestTerminationCode toe)
{
	struct cf_http_req *rq = *req_cls;

	(void)con;
	(void)toe;
	if (!rq)
		return;
	if (((cf_http *)cls)->o.log)
		log_line(rq);
	free(rq->body);
	free(rq);
	*req_cls = NULL;
}

static void
queue(struct cf_http_req *rq, int status, struct MHD_Response *resp, const char *ctype,
      const char *hdr, const char *val)
{
	if (!resp)
		return;
	if (ctype)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	if (hdr && val)
		MHD_add_response_header(resp, hdr, val);
	rq->queued = MHD_queue_response(rq->con, (unsigned)status, resp) == MHD_YES;
	rq->status = status;
	MHD_destroy_response(resp);
}

/* 1 if the Content-Length header announces more than max bytes. */
static int
announced_too_big(struct MHD_Connection *con, size_t max)
{
	const char *cl = MHD_lookup_connection_value(con, MHD_HEADER_KIND,
	                                             MHD_HTTP_HEADER_CONTENT_LENGTH);
	unsigned long long n;

	return cl && cf_parse_u64(cl, &n) == 0 && n > max;
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *con, const char *url, const char *method,
           const char *version, const char *upload, size_t *upload_size, void **req_cls)
{
	cf_http *s = cls;
	struct cf_http_req *rq = *req_cls;

	(void)version;
	if (!rq) {
		static const char oom[] = "{\"error\":\"out of memory\"}";
		struct MHD_Response *r = MHD_create_response_from_buffer(
			sizeof oom - 1, (void *)oom, MHD_RESPMEM_PERSISTENT);
		enum MHD_Result ok = r ? MHD_queue_response(con, 500, r) : MHD_NO;
		MHD_destroy_response(r);
		return ok;
	}
	if (!rq->started) {
		rq->started = 1;
		rq->con = con;
		rq->method = method;
		copy_printable(rq->meth, sizeof rq->meth, method, 0);
		copy_printable(rq->path, sizeof rq->path, url, 0);
		/* Refused before a byte of it is read. */
		if (announced_too_big(con, s->o.max_body)) {
			cf_http_error(rq, 413, "request body too large: the limit is %zu bytes",
			              s->o.max_body);
			return rq->queued ? MHD_YES : MHD_NO;
		}
		return MHD_YES;
	}
	if (*upload_size) {
		size_t n = *upload_size;
		*upload_size = 0;
		if (rq->too_big)
			return MHD_YES;
		if (n > s->o.max_body - rq->len) {
			rq->too_big = 1;
			free(rq->body);
			rq->body = NULL;
			rq->len = rq->cap = 0;
			return MHD_YES;
		}
		if (rq->len + n + 1 > rq->cap) {
			size_t cap = rq->cap ? rq->cap : 1024;
			while (cap < rq->len + n + 1)
				cap *= 2;
			char *b = realloc(rq->body, cap);
			if (!b) {
				rq->too_big = 1;        /* answered 413: it did not fit */
				return MHD_YES;
			}
			rq->body = b;
			rq->cap = cap;
		}
		memcpy(rq->body + rq->len, upload, n);
		rq->len += n;
		rq->body[rq->len] = 0;
		return MHD_YES;
	}
	if (rq->status)         /* answered already (413 on the first call) */
		return rq->queued ? MHD_YES : MHD_NO;
	if (rq->too_big)
		cf_http_error(rq, 413, "request body too large: the limit is %zu bytes",
		              s->o.max_body);
	else
		s->h(s->arg, rq);
	if (!rq->status)
		cf_http_error(rq, 500, "internal error: no response");
	return rq->queued ? MHD_YES : MHD_NO;
}

/* ------------------------------------------------------------- daemon */

cf_http *
cf_http_start(const cf_http_opts *o, cf_http_handler h, void *arg, char *err, size_t errlen)
{
	cf_http *s = cf_xcalloc(1, sizeof *s);
	struct sockaddr_storage ss;
	struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
	/* Turbo: no shutdown() before close, accept4(); nothing we rely on. */
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_TURBO;

	s->o = *o;
	s->h = h;
	s->arg = arg;
	if (o->log)
		log_start(s);
	memset(&ss, 0, sizeof ss);
	if (inet_pton(AF_INET, o->bind, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t)o->port);
	} else if (inet_pton(AF_INET6, o->bind, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)o->port);
		flags |= MHD_USE_IPv6;
	} else {
		snprintf(err, errlen, "--bind '%s': not an IPv4 or IPv6 address", o->bind);
		log_stop(s);
		free(s);
		return NULL;
	}
	int n = o->threads < 1 ? 1 : o->threads > MAX_DAEMONS ? MAX_DAEMONS : o->threads;
	/*
	 * SO_REUSEPORT would also let us share a port another server holds:
	 * bind it plainly first, so a port in use is an error as usual (and
	 * port 0 becomes a free port), then let the daemons share it.
	 */
	int fd = socket(ss.ss_family, SOCK_STREAM, 0), one = 1;
	socklen_t sl = a4->sin_family == AF_INET ? sizeof *a4 : sizeof *a6;
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
	    bind(fd, (struct sockaddr *)&ss, sl) != 0 ||
	    getsockname(fd, (struct sockaddr *)&ss, &sl) != 0) {
		snprintf(err, errlen, "cannot listen on %s port %d: %s", o->bind, o->port,
		         strerror(errno));
		if (fd >= 0)
			close(fd);
		log_stop(s);
		free(s);
		return NULL;
	}
	close(fd);
	s->port = ntohs(a4->sin_family == AF_INET ? a4->sin_port : a6->sin6_port);
	for (s->nd = 0; s->nd < n; s->nd++) {
		int port = s->port;
		if (a4->sin_family == AF_INET)
			a4->sin_port = htons((uint16_t)port);
		else
			a6->sin6_port = htons((uint16_t)port);
		errno = 0;
		s->d[s->nd] = MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, on_request, s,
		                        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
		                        MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned)1,
		                        MHD_OPTION_CONNECTION_TIMEOUT, o->timeout,
		                        MHD_OPTION_CONNECTION_LIMIT, (unsigned)4096,
		                        MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)1024,
		                        MHD_OPTION_URI_LOG_CALLBACK, uri_log, s,
		                        MHD_OPTION_NOTIFY_COMPLETED, completed, s,
		                        MHD_OPTION_END);
		if (!s->d[s->nd]) {
			snprintf(err, errlen, "cannot listen on %s port %d%s%s", o->bind, port,
			         errno ? ": " : "", errno ? strerror(errno) : "");
			for (int i = 0; i < s->nd; i++)
				MHD_stop_daemon(s->d[i]);
			log_stop(s);
			free(s);
			return NULL;
		}
	}
	return s;
}

static void
log_start(cf_http *s)
{
	struct log *g = &s->log;

	pthread_mutex_init(&g->mu, NULL);
	pthread_cond_init(&g->cv, NULL);
	g->buf = cf_xmalloc(LOG_CAP);
	g->spare = cf_xmalloc(LOG_CAP);
	if (pthread_create(&g->thread, NULL, log_thread, g) != 0)
		cf_die("cannot start the log thread:");
	s->log_running = 1;
}

static void
log_stop(cf_http *s)
{
	struct log *g = &s->log;

	if (!s->log_running)
		return;
	pthread_mutex_lock(&g->mu);
	g->stop = 1;
	pthread_cond_signal(&g->cv);
	pthread_mutex_unlock(&g->mu);
	pthread_join(g->thread, NULL);
	pthread_cond_destroy(&g->cv);
	pthread_mutex_destroy(&g->mu);
	free(g->buf);
	free(g->spare);
	s->log_running = 0;
}

int
cf_http_port(const cf_http *s)
{
	return s->port;
}

void
cf_http_stop(cf_http *s)
{
	if (!s)
		return;
	for (int i = 0; i < s->nd; i++)
		MHD_stop_daemon(s->d[i]);
	log_stop(s);            /* after the daemon: the last lines are in */
	free(s);
}

/* ----------------------------------------------------------- requests */

const char *
cf_http_method(const cf_http_req *rq)
{
	return rq->method;
}

const char *
cf_http_path(const cf_http_req *rq)
{
	return rq->path;
}

const char *
cf_http_query(const cf_http_req *rq, const char *key)
{
	return MHD_lookup_connection_value(rq->con, MHD_GET_ARGUMENT_KIND, key);
}

const char *
cf_http_header(const cf_http_req *rq, const char *name)
{
	return MHD_lookup_connection_value(rq->con, MHD_HEADER_KIND, name);
}

const char *
cf_http_body(const cf_http_req *rq, size_t *len)
{
	*len = rq->len;
	return rq->body ? rq->body : "";
}

void
cf_http_reply(cf_http_req *rq, int status, const char *ctype, const void *body, size_t len,
              const char *hdr, const char *val)
{
	if (rq->status)
		return;
	queue(rq, status, MHD_create_response_from_buffer(len, (void *)body,
	                                                  MHD_RESPMEM_MUST_COPY),
	      ctype, hdr, val);
}

void
cf_http_reply_json(cf_http_req *rq, int status, json_t *v)
{
	char *text = v ? json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER |
	                               JSON_REAL_PRECISION(9) | JSON_ENCODE_ANY) : NULL;

	json_decref(v);
	if (rq->status) {
		free(text);
		return;
	}
	if (!text) {
		cf_http_error(rq, 500, "internal error: cannot encode the response");
		return;
	}
	/* jansson allocates with malloc: MHD frees it with free() once sent. */
	queue(rq, status, MHD_create_response_from_buffer(strlen(text), text,
	                                                  MHD_RESPMEM_MUST_FREE),
	      "application/json", NULL, NULL);
}

static void
verror(cf_http_req *rq, int status, const char *hdr, const char *val, const char *fmt,
       va_list ap)
{
	char msg[512];
	json_t *o = json_object(), *m;

	vsnprintf(msg, sizeof msg, fmt, ap);
	m = json_string(msg);
	if (!m)                 /* not UTF-8: callers quote ids printable, but be safe */
		m = json_string("invalid request");
	json_object_set_new(o, "error", m);
	char *text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (!text || rq->status) {
		free(text);
		return;
	}
	queue(rq, status, MHD_create_response_from_buffer(strlen(text), text,
	                                                  MHD_RESPMEM_MUST_FREE),
	      "application/json", hdr, val);
}

void
cf_http_error(cf_http_req *rq, int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verror(rq, status, NULL, NULL, fmt, ap);
	va_end(ap);
}

void
cf_http_error_hdr(cf_http_req *rq, int status, const char *hdr, const char *val,
                  const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verror(rq, status, hdr, val, fmt, ap);
	va_end(ap);
}
