/*
 * http.c - the HTTP server under serve: libmicrohttpd daemons, one epoll
 * thread each, sharing the port (see http.h).  A request's life in MHD:
 *   uri_log()      the request line has arrived: our context is made here,
 *                  so its clock starts before anything else is done
 *   on_request()   called first with no body, then once per body chunk,
 *                  then a last time with none: the handler runs then
 *   completed()    the response was sent (or the client went away): the
 *                  log line, and the context is freed
 * and a connection's, around its requests:
 *   admit()        accept policy: the caps on connections (all, per address)
 *   on_conn()      opened / closed: counted, and tracked while it waits for
 *                  a request, so that one that takes too long is closed by
 *                  the reaper thread, and the longest waiting one can make
 *                  room for a new connection
 */
#define _GNU_SOURCE             /* dlsym(RTLD_NEXT) */
#include "http.h"
#include "util.h"

#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
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

/* Addresses with connections open, and how many each. */
enum { IP_BUCKETS = 4096 };

struct ipent {
	struct ipent *next;
	unsigned char addr[16]; /* IPv6, or IPv4 mapped into it */
	unsigned n;
};

/*
 * A connection (MHD's socket context).  While it waits for a request
 * (from its opening or its previous response until the request is whole)
 * it is on the waiting list, oldest first; s->cmu guards the list, the
 * counts and every field but rq.
 */
struct conn {
	struct conn *prev, *next;
	int fd;
	int waiting;            /* on the list */
	int closing;            /* shut down by us: counted in s->nclosing */
	long long since;        /* waiting since (ms, monotonic) */
	struct ipent *ip;
	struct cf_http_req *rq; /* the request in progress (its thread only) */
};

/* Connections turned away or closed, for the periodic summary line. */
struct counts {
	unsigned long per_ip, full, room, slow;
};

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

	/* Connections, over every daemon (MHD's own limits are per daemon). */
	pthread_mutex_t cmu;
	pthread_cond_t ccv;     /* wakes the reaper to stop */
	pthread_t reaper;
	int reaper_running, reaper_stop;
	struct conn *head, *tail;       /* waiting, oldest first */
	unsigned total, nclosing;
	unsigned closing_max;   /* fds left for connections being closed */
	struct ipent *ips[IP_BUCKETS];
	struct counts cnt, said;        /* so far; as of the last summary */
};

struct cf_http_req {
	cf_http *s;
	struct MHD_Connection *con;
	struct conn *c;         /* its connection, or NULL */
	const char *method;
	struct timespec t0;
	int started;            /* on_request has seen the headers */
	int too_big;            /* body over the limit: discarded, 413 */
	int nul;                /* %00 in the request line */
	int status;             /* of the reply queued, 0 if none */
	int queued;             /* MHD accepted the reply */
	char *body;
	size_t len, cap;
	char path[160];         /* for the log line: printable, truncated */
	char meth[16];
};

/*
 * libmicrohttpd's MHD_queue_response.  http.c defines a function of that
 * name below, which takes the library's own calls (its error replies);
 * every reply of ours goes through this pointer to the real one.
 */
typedef enum MHD_Result (*queue_fn)(struct MHD_Connection *, unsigned int,
                                    struct MHD_Response *);
static queue_fn real_queue;
/* --max-body, for the library's own 413 (one server per process). */
static size_t lib_max_body;

/* ------------------------------------------------------------ log line */

static void log_start(cf_http *s);
static void log_stop(cf_http *s);
static void req_done(cf_http *s, struct cf_http_req *rq);

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

/* --------------------------------------------------------- connections */

static long long
now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* The 16-byte key of a client address; 0, or -1 if it is neither IPv4 nor IPv6. */
static int
addr_key(const struct sockaddr *sa, unsigned char key[16])
{
	memset(key, 0, 16);
	if (sa && sa->sa_family == AF_INET) {
		key[10] = key[11] = 0xff;
		memcpy(key + 12, &((const struct sockaddr_in *)sa)->sin_addr, 4);
		return 0;
	}
	if (sa && sa->sa_family == AF_INET6) {
		memcpy(key, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
		return 0;
	}
	return -1;
}

static struct ipent **
ip_slot(cf_http *s, const unsigned char key[16])
{
	uint32_t h = 2166136261u;

	for (int i = 0; i < 16; i++)
		h = (h ^ key[i]) * 16777619u;
	struct ipent **p = &s->ips[h % IP_BUCKETS];
	while (*p && memcmp((*p)->addr, key, 16) != 0)
		p = &(*p)->next;
	return p;
}

/* With s->cmu held. */
static void
wait_unlink(cf_http *s, struct conn *c)
{
	if (!c->waiting)
		return;
	if (c->prev)
		c->prev->next = c->next;
	else
		s->head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	else
		s->tail = c->prev;
	c->prev = c->next = NULL;
	c->waiting = 0;
}

static void
wait_append(cf_http *s, struct conn *c)
{
	c->since = now_ms();
	c->prev = s->tail;
	c->next = NULL;
	if (s->tail)
		s->tail->next = c;
	else
		s->head = c;
	s->tail = c;
	c->waiting = 1;
}

/*
 * Closes c from outside its daemon's thread (with s->cmu held): shutdown()
 * makes its next read see the end, and its thread closes it.  The fd is
 * still c's: MHD tells on_conn() of the close, which takes s->cmu, before
 * it closes the fd.
 */
static void
shut(cf_http *s, struct conn *c)
{
	wait_unlink(s, c);
	if (c->closing)
		return;
	c->closing = 1;
	s->nclosing++;
	shutdown(c->fd, SHUT_RDWR);
}

/* A request of c is whole (or answered early): it no longer waits. */
static void
conn_busy(cf_http *s, struct conn *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&s->cmu);
	wait_unlink(s, c);
	pthread_mutex_unlock(&s->cmu);
}

/* c's response is sent: its next request's clock starts. */
static void
conn_idle(cf_http *s, struct conn *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&s->cmu);
	if (!c->closing && !c->waiting)
		wait_append(s, c);
	pthread_mutex_unlock(&s->cmu);
}

/* The accept policy: the caps.  Runs on the accepting daemon's thread. */
static enum MHD_Result
admit(void *cls, const struct sockaddr *sa, socklen_t len)
{
	cf_http *s = cls;
	unsigned char key[16];
	enum MHD_Result ok = MHD_YES;

	(void)len;
	pthread_mutex_lock(&s->cmu);
	struct ipent *ip = addr_key(sa, key) == 0 ? *ip_slot(s, key) : NULL;
	if (s->o.max_conns_per_ip && ip && ip->n >= s->o.max_conns_per_ip) {
		s->cnt.per_ip++;
		ok = MHD_NO;
	} else if (s->total - s->nclosing >= s->o.max_conns) {
		/*
		 * Full: the connection that has waited longest for a request
		 * (a slow sender's, or an idle keep-alive one) makes room, so a
		 * client that sends its request at once always gets in.  Those
		 * being closed still hold their fds: a bounded number of them.
		 */
		if (s->head && s->nclosing < s->closing_max) {
			shut(s, s->head);
			s->cnt.room++;
		} else {
			s->cnt.full++;
			ok = MHD_NO;
		}
	}
	pthread_mutex_unlock(&s->cmu);
	return ok;
}

static void
on_conn(void *cls, struct MHD_Connection *con, void **ctx,
        enum MHD_ConnectionNotificationCode what)
{
	cf_http *s = cls;
	struct conn *c = *ctx;

	if (what == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *fi, *ai;
		unsigned char key[16];
		if (!(c = calloc(1, sizeof *c)))
			return;         /* untracked: not counted, never reaped */
		fi = MHD_get_connection_info(con, MHD_CONNECTION_INFO_CONNECTION_FD);
		ai = MHD_get_connection_info(con, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
		c->fd = fi ? fi->connect_fd : -1;
		pthread_mutex_lock(&s->cmu);
		if (ai && addr_key(ai->client_addr, key) == 0) {
			struct ipent **p = ip_slot(s, key);
			if (!*p && (*p = calloc(1, sizeof **p)))
				memcpy((*p)->addr, key, 16);
			if ((c->ip = *p))
				c->ip->n++;
		}
		s->total++;
		wait_append(s, c);
		pthread_mutex_unlock(&s->cmu);
		*ctx = c;
		return;
	}
	if (what != MHD_CONNECTION_NOTIFY_CLOSED || !c)
		return;
	pthread_mutex_lock(&s->cmu);
	wait_unlink(s, c);
	if (c->closing)
		s->nclosing--;
	if (c->ip && --c->ip->n == 0) {
		struct ipent **p = ip_slot(s, c->ip->addr), *e = *p;
		*p = e->next;
		free(e);
	}
	s->total--;
	pthread_mutex_unlock(&s->cmu);
	/*
	 * A request MHD never completed (it closed the connection before
	 * presenting the request, after one of its own errors): done here.
	 */
	if (c->rq)
		req_done(s, c->rq);
	free(c);
	*ctx = NULL;
}

/* The connection of a request's MHD connection, or NULL. */
static struct conn *
conn_of(struct MHD_Connection *con)
{
	const union MHD_ConnectionInfo *i =
		MHD_get_connection_info(con, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return i ? i->socket_context : NULL;
}

/* One line, at most every SUMMARY_MS, of what the caps and the deadline did. */
enum { SUMMARY_MS = 5000 };

/* The line, in line (with s->cmu held); 0 if there is nothing new to say. */
static int
summary(cf_http *s, char *line, size_t cap)
{
	struct counts d = {
		s->cnt.per_ip - s->said.per_ip, s->cnt.full - s->said.full,
		s->cnt.room - s->said.room, s->cnt.slow - s->said.slow,
	};
	int n = 0;

	if (!d.per_ip && !d.full && !d.room && !d.slow)
		return 0;
	s->said = s->cnt;
#define PART(...) do { \
		if (n < (int)cap) \
			n += snprintf(line + n, cap - (size_t)n, __VA_ARGS__); \
	} while (0)
	if (d.slow)
		PART("%s%lu closed for not sending a whole request within %u s "
		     "(--request-timeout)", n ? "; " : "", d.slow, s->o.request_timeout);
	if (d.per_ip)
		PART("%s%lu refused: %u open from their address (--max-conns-per-ip)",
		     n ? "; " : "", d.per_ip, s->o.max_conns_per_ip);
	if (d.room)
		PART("%s%lu waiting longest closed to make room (%u open: --max-conns)",
		     n ? "; " : "", d.room, s->o.max_conns);
	if (d.full)
		PART("%s%lu refused: %u open (--max-conns)", n ? "; " : "", d.full,
		     s->o.max_conns);
#undef PART
	return 1;
}

/* Closes the connections whose request has not arrived whole in time. */
static void *
reaper(void *arg)
{
	cf_http *s = arg;
	long long limit = (long long)s->o.request_timeout * 1000, said = now_ms();

	pthread_mutex_lock(&s->cmu);
	while (!s->reaper_stop) {
		long long now = now_ms();
		while (s->head && now - s->head->since >= limit) {
			shut(s, s->head);
			s->cnt.slow++;
		}
		if (now - said >= SUMMARY_MS) {
			char line[600];
			said = now;
			if (summary(s, line, sizeof line)) {
				/* Not under the lock: stderr may be slow. */
				pthread_mutex_unlock(&s->cmu);
				cf_warn("connections: %s", line);
				pthread_mutex_lock(&s->cmu);
				continue;
			}
		}
		struct timespec t;
		clock_gettime(CLOCK_REALTIME, &t);
		t.tv_nsec += 200 * 1000000L;    /* deadlines are kept to 0.2 s */
		if (t.tv_nsec >= 1000000000L) {
			t.tv_sec++;
			t.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&s->ccv, &s->cmu, &t);
	}
	char line[600];
	int say = summary(s, line, sizeof line);
	pthread_mutex_unlock(&s->cmu);
	if (say)
		cf_warn("connections: %s", line);
	return NULL;
}

/* ------------------------------------------- libmicrohttpd's own errors */

/* 1 if s is a Content-Length: 1 to 19 digits (at most 10^19 - 1). */
static int
length_ok(const char *s)
{
	size_t n = strspn(s, "0123456789");

	return n > 0 && n < 20 && s[n] == 0;
}

/*
 * The library answers some requests itself, before any handler: a request
 * line or headers that do not fit its memory (414, 431), a malformed or
 * huge Content-Length (400, 413), a malformed chunked body (400, 413).
 * Its bodies are HTML, and for a bad Content-Length libmicrohttpd 0.9.75
 * sends its status line and headers twice.  It queues them through
 * MHD_queue_response, which this program defines (so the library's own
 * calls land here; ours go to real_queue): the answer is written here as
 * JSON, straight to the socket (the connection is between responses),
 * and MHD_NO makes the library close the connection without a byte of
 * its own.
 */
enum MHD_Result
MHD_queue_response(struct MHD_Connection *con, unsigned int status,
                   struct MHD_Response *resp)
{
	const union MHD_ConnectionInfo *fi =
		MHD_get_connection_info(con, MHD_CONNECTION_INFO_CONNECTION_FD);
	const char *cl = MHD_lookup_connection_value(con, MHD_HEADER_KIND,
	                                             MHD_HTTP_HEADER_CONTENT_LENGTH);
	const char *te = MHD_lookup_connection_value(con, MHD_HEADER_KIND,
	                                             MHD_HTTP_HEADER_TRANSFER_ENCODING);
	const char *reason = MHD_get_reason_phrase_for(status);
	struct conn *c = conn_of(con);
	char msg[200], shown[48], head[300];

	(void)resp;
	copy_printable(shown, sizeof shown, cl ? cl : "", 0);
	switch (status) {
	case 400:
		if (cl && !te && !length_ok(cl))
			snprintf(msg, sizeof msg, "Content-Length '%s': expected a number of bytes",
			         shown);
		else if (te)
			snprintf(msg, sizeof msg, "malformed chunked request body");
		else
			snprintf(msg, sizeof msg, "malformed request");
		break;
	case 413:
		if (te)
			snprintf(msg, sizeof msg, "a chunk of the request body is too large");
		else
			snprintf(msg, sizeof msg, "request body too large: the limit is %zu bytes",
			         lib_max_body);
		break;
	case 414:
		snprintf(msg, sizeof msg, "request line too long: the request line and headers "
		         "must fit in about %d bytes", CF_HTTP_HEAD_MAX);
		break;
	case 431:
		snprintf(msg, sizeof msg, "request headers too large: the request line and "
		         "headers must fit in about %d bytes", CF_HTTP_HEAD_MAX);
		break;
	default:
		snprintf(msg, sizeof msg, "%s", reason && *reason ? reason : "error");
	}
	json_t *o = json_pack("{s:s}", "error", msg);
	char *body = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	if (fi && body) {
		int n = snprintf(head, sizeof head, "HTTP/1.1 %u %s\r\nConnection: close\r\n"
		                 "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
		                 status, reason && *reason ? reason : "Error", strlen(body));
		struct iovec iov[2] = {{head, (size_t)n}, {body, strlen(body)}};
		struct msghdr mh = {.msg_iov = iov, .msg_iovlen = 2};
		if (sendmsg(fi->connect_fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
			/* The client is gone or does not read: nothing to do. */
		}
		/*
		 * Read what the client sent past the error (the rest of a body):
		 * closing a socket with unread bytes resets it, and the client
		 * could lose the answer.  Bounded: a client still sending gets
		 * the reset.
		 */
		char junk[4096];
		for (int i = 0; i < 64 && recv(fi->connect_fd, junk, sizeof junk, MSG_DONTWAIT) > 0;
		     i++)
			;
		shutdown(fi->connect_fd, SHUT_WR);
	}
	free(body);
	if (c && c->rq && !c->rq->status)
		c->rq->status = (int)status;
	return MHD_NO;
}

/* ------------------------------------------------------------ MHD hooks */

/* The end of a request's context: its log line, and it is freed. */
static void
req_done(cf_http *s, struct cf_http_req *rq)
{
	if (s->o.log)
		log_line(rq);
	free(rq->body);
	free(rq);
}

static void *
uri_log(void *cls, const char *uri, struct MHD_Connection *con)
{
	struct cf_http_req *rq = calloc(1, sizeof *rq);

	if (!rq)
		return NULL;    /* on_request answers 500 without a context */
	rq->s = cls;
	rq->con = con;
	clock_gettime(CLOCK_MONOTONIC, &rq->t0);
	copy_printable(rq->path, sizeof rq->path, uri, '?');
	/* MHD decodes %00 into a NUL, which would cut the path or a value short. */
	rq->nul = strstr(uri, "%00") != NULL;
	if ((rq->c = conn_of(con)))
		rq->c->rq = rq;
	return rq;
}

static void
completed(void *cls, struct MHD_Connection *con, void **req_cls,
          enum MHD_RequestTerminationCode toe)
{
	cf_http *s = cls;
	struct cf_http_req *rq = *req_cls;

	(void)con;
	if (!rq)
		return;
	if (rq->c) {
		rq->c->rq = NULL;
		if (toe == MHD_REQUEST_TERMINATED_COMPLETED_OK)
			conn_idle(s, rq->c);
	}
	req_done(s, rq);
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
	rq->queued = real_queue(rq->con, (unsigned)status, resp) == MHD_YES;
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

struct framing {
	int ncl;                /* Content-Length headers */
	const char *te;         /* the (last) Transfer-Encoding */
	int nte;
};

static enum MHD_Result
count_framing(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	struct framing *f = cls;

	(void)kind;
	if (!strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH))
		f->ncl++;
	else if (!strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING)) {
		f->nte++;
		f->te = value;
	}
	return MHD_YES;
}

/*
 * Requests whose body has no one meaning (the way to request smuggling
 * through a proxy that reads it otherwise): answered here, and the
 * connection is closed after.  0 if the request is fine.
 */
static int
bad_framing(struct cf_http_req *rq)
{
	struct framing f = {0};
	char b[48];

	MHD_get_connection_values(rq->con, MHD_HEADER_KIND, count_framing, &f);
	if (f.ncl > 1)
		cf_http_error_hdr(rq, 400, "Connection", "close",
		                  "more than one Content-Length header");
	else if (f.nte && f.ncl)
		cf_http_error_hdr(rq, 400, "Connection", "close",
		                  "both Content-Length and Transfer-Encoding");
	else if (f.nte > 1 || (f.nte && strcasecmp(f.te, "chunked") != 0)) {
		copy_printable(b, sizeof b, f.te, 0);
		cf_http_error_hdr(rq, 501, "Connection", "close", "Transfer-Encoding '%s': only "
		                  "chunked is supported", f.nte > 1 ? "(several)" : b);
	} else
		return 0;
	return 1;
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
		enum MHD_Result ok = r ? real_queue(con, 500, r) : MHD_NO;
		MHD_destroy_response(r);
		return ok;
	}
	if (!rq->started) {
		rq->started = 1;
		rq->con = con;
		rq->method = method;
		copy_printable(rq->meth, sizeof rq->meth, method, 0);
		copy_printable(rq->path, sizeof rq->path, url, 0);
		if (rq->nul) {
			cf_http_error_hdr(rq, 400, "Connection", "close", "%%00 (a NUL byte) in "
			                  "the path or the query");
		} else if (bad_framing(rq)) {
			/* answered */
		} else if (announced_too_big(con, s->o.max_body)) {
			/* Refused before a byte of it is read. */
			cf_http_error(rq, 413, "request body too large: the limit is %zu bytes",
			              s->o.max_body);
		} else {
			return MHD_YES;
		}
		conn_busy(s, rq->c);
		return rq->queued ? MHD_YES : MHD_NO;
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
	if (rq->status)         /* answered already (on the first call) */
		return rq->queued ? MHD_YES : MHD_NO;
	conn_busy(s, rq->c);    /* whole: the deadline is met */
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

static void
fail_start(cf_http *s)
{
	for (int i = 0; i < s->nd; i++)
		MHD_stop_daemon(s->d[i]);
	log_stop(s);
	pthread_cond_destroy(&s->ccv);
	pthread_mutex_destroy(&s->cmu);
	free(s);
}

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
	if (s->o.max_conns < 1)
		s->o.max_conns = 1;
	if (s->o.request_timeout < 1)
		s->o.request_timeout = 1;
	s->h = h;
	s->arg = arg;
	lib_max_body = o->max_body;
	pthread_mutex_init(&s->cmu, NULL);
	pthread_cond_init(&s->ccv, NULL);
	if (!real_queue)
		real_queue = (queue_fn)dlsym(RTLD_NEXT, "MHD_queue_response");
	if (!real_queue) {
		snprintf(err, errlen, "cannot find libmicrohttpd's MHD_queue_response: %s",
		         dlerror());
		fail_start(s);
		return NULL;
	}
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
		fail_start(s);
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
		fail_start(s);
		return NULL;
	}
	close(fd);
	s->port = ntohs(a4->sin_family == AF_INET ? a4->sin_port : a6->sin6_port);
	/*
	 * Connections being closed to make room still hold their fds for a
	 * moment: as many as the open-file limit leaves above max_conns (less
	 * 64 for the rest of the process), at least 16.
	 */
	struct rlimit rl;
	unsigned long long fdmax = getrlimit(RLIMIT_NOFILE, &rl) == 0 ? rl.rlim_cur : 1024;
	s->closing_max = fdmax > (unsigned long long)s->o.max_conns + 64 + 16 ?
	                 (unsigned)(fdmax - s->o.max_conns - 64 < 4096 ?
	                            fdmax - s->o.max_conns - 64 : 4096) : 16;
	/*
	 * The caps are ours, over every daemon (admit); MHD's per daemon is
	 * only a backstop above them, with room for connections being closed.
	 */
	unsigned backstop = s->o.max_conns + s->closing_max + 64;
	for (s->nd = 0; s->nd < n; s->nd++) {
		int port = s->port;
		if (a4->sin_family == AF_INET)
			a4->sin_port = htons((uint16_t)port);
		else
			a6->sin6_port = htons((uint16_t)port);
		errno = 0;
		s->d[s->nd] = MHD_start_daemon(flags, (uint16_t)port, admit, s, on_request, s,
		                        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
		                        MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned)1,
		                        MHD_OPTION_CONNECTION_TIMEOUT, o->timeout,
		                        MHD_OPTION_CONNECTION_LIMIT, backstop,
		                        MHD_OPTION_CONNECTION_MEMORY_LIMIT,
		                        (size_t)CF_HTTP_HEAD_MAX,
		                        MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)1024,
		                        MHD_OPTION_URI_LOG_CALLBACK, uri_log, s,
		                        MHD_OPTION_NOTIFY_COMPLETED, completed, s,
		                        MHD_OPTION_NOTIFY_CONNECTION, on_conn, s,
		                        MHD_OPTION_END);
		if (!s->d[s->nd]) {
			snprintf(err, errlen, "cannot listen on %s port %d%s%s", o->bind, port,
			         errno ? ": " : "", errno ? strerror(errno) : "");
			fail_start(s);
			return NULL;
		}
	}
	if (pthread_create(&s->reaper, NULL, reaper, s) != 0)
		cf_die("cannot start the connection reaper thread:");
	s->reaper_running = 1;
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
	if (s->reaper_running) {
		pthread_mutex_lock(&s->cmu);
		s->reaper_stop = 1;
		pthread_cond_signal(&s->ccv);
		pthread_mutex_unlock(&s->cmu);
		pthread_join(s->reaper, NULL);
	}
	for (int i = 0; i < s->nd; i++)
		MHD_stop_daemon(s->d[i]);
	log_stop(s);            /* after the daemon: the last lines are in */
	for (int i = 0; i < IP_BUCKETS; i++)
		for (struct ipent *e = s->ips[i], *nx; e; e = nx) {
			nx = e->next;
			free(e);
		}
	pthread_cond_destroy(&s->ccv);
	pthread_mutex_destroy(&s->cmu);
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

struct stream {
	cf_http_fill fill;
	void (*release)(void *);
	void *cls;
};

static ssize_t
stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct stream *st = cls;
	size_t n;

	(void)pos;
	n = max ? st->fill(st->cls, buf, max) : 0;
	return n ? (ssize_t)n : MHD_CONTENT_READER_END_OF_STREAM;
}

static void
stream_free(void *cls)
{
	struct stream *st = cls;

	st->release(st->cls);
	free(st);
}

void
cf_http_reply_stream(cf_http_req *rq, int status, const char *ctype, cf_http_fill fill,
                     void *cls, void (*release)(void *cls))
{
	struct stream *st;
	struct MHD_Response *r;

	if (rq->status || !(st = malloc(sizeof *st))) {
		release(cls);
		if (!rq->status)
			cf_http_error(rq, 500, "internal error: out of memory");
		return;
	}
	st->fill = fill;
	st->release = release;
	st->cls = cls;
	if (!(r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024, stream_read,
	                                            st, stream_free))) {
		stream_free(st);
		cf_http_error(rq, 500, "internal error: cannot make the response");
		return;
	}
	queue(rq, status, r, ctype, NULL, NULL);
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
