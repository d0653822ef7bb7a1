/*
 * ratelog.c - the ratings log's codec and file (see ratelog.h).
 */
#include "ratelog.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "util.h"

enum { FD_READONLY = -1, FD_LATER = -2 };

struct cf_rlog {
	int fd;                 /* or FD_READONLY, or FD_LATER: created by the first append */
	uint64_t size;
	char *path;
};

/* ------------------------------------------------------------- codec */

static void
put16(unsigned char *p, uint16_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
}

static void
put32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static void
put64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint16_t
get16(const unsigned char *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t
get32(const unsigned char *p)
{
	uint32_t v = 0;

	for (int i = 3; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static uint64_t
get64(const unsigned char *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static size_t
payload_size(const cf_rl_record *r)
{
	size_t n = 8 + 2 + r->user_len + 4;

	for (size_t j = 0; j < r->n; j++)
		n += 1 + 2 + r->e[j].item_len + 4;
	return n;
}

size_t
cf_rl_size(const cf_rl_record *r)
{
	return 8 + payload_size(r);
}

void
cf_rl_encode(const cf_rl_record *r, unsigned char *out)
{
	size_t len = payload_size(r);
	unsigned char *p = out + 8;
	uint32_t bits;

	put64(p, (uint64_t)r->ts);
	p += 8;
	put16(p, (uint16_t)r->user_len);
	memcpy(p + 2, r->user, r->user_len);
	p += 2 + r->user_len;
	put32(p, (uint32_t)r->n);
	p += 4;
	for (size_t j = 0; j < r->n; j++) {
		const cf_rl_entry *e = &r->e[j];
		*p++ = e->kind;
		put16(p, (uint16_t)e->item_len);
		memcpy(p + 2, e->item, e->item_len);
		p += 2 + e->item_len;
		float x = e->kind == CF_RL_RATE ? e->rating : 0.0f;
		memcpy(&bits, &x, 4);
		put32(p, bits);
		p += 4;
	}
	put32(out, (uint32_t)len);
	put32(out + 4, (uint32_t)crc32(0L, out + 8, (uInt)len));
}

/* An id of the payload at *at: 1 to CF_RL_ID_MAX bytes, no NUL.  0 or -1. */
static int
get_id(const unsigned char *p, size_t len, size_t *at, const char **id, size_t *n)
{
	if (len - *at < 2)
		return -1;
	*n = get16(p + *at);
	*at += 2;
	if (*n == 0 || *n > CF_RL_ID_MAX || len - *at < *n || memchr(p + *at, 0, *n))
		return -1;
	*id = (const char *)p + *at;
	*at += *n;
	return 0;
}

int
cf_rl_decode(const unsigned char *p, size_t len, cf_rl_record *r, cf_rl_entry *e)
{
	size_t at = 8;
	uint32_t bits;

	if (len < 8)
		return -1;
	r->ts = (int64_t)get64(p);
	if (get_id(p, len, &at, &r->user, &r->user_len) < 0 || len - at < 4)
		return -1;
	r->n = get32(p + at);
	at += 4;
	if (r->n == 0 || r->n > CF_RL_ENTRIES_MAX)
		return -1;
	r->e = e;
	for (size_t j = 0; j < r->n; j++) {
		if (len - at < 1)
			return -1;
		e[j].kind = p[at++];
		if (e[j].kind < CF_RL_RATE || e[j].kind > CF_RL_UNHIDE ||
		    get_id(p, len, &at, &e[j].item, &e[j].item_len) < 0 || len - at < 4)
			return -1;
		bits = get32(p + at);
		at += 4;
		memcpy(&e[j].rating, &bits, 4);
		if (!isfinite(e[j].rating))
			return -1;
	}
	return at == len ? 0 : -1;
}

/* -------------------------------------------------------------- file */

/* Reads up to n bytes at off; how many (short only at the end of the file). */
static ssize_t
read_at(int fd, unsigned char *buf, size_t n, uint64_t off)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = pread(fd, buf + got, n - got, (off_t)(off + got));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

static void
sync_dir(const char *path)
{
	char *copy = cf_xstrdup(path);
	int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY);

	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
	free(copy);
}

/*
 * Replays the records of fd (size bytes) from the magic on.  0 with *good
 * the end of the last whole record (< size if the tail is torn), or -1.
 */
static int
replay(int fd, const char *path, uint64_t size, cf_rl_apply apply, void *arg,
       uint64_t *good, char *err, size_t errlen)
{
	unsigned char hdr[8], *buf = cf_xmalloc(CF_RL_PAYLOAD_MAX);
	cf_rl_entry *e = cf_xmalloc(CF_RL_ENTRIES_MAX * sizeof *e);
	uint64_t off = CF_RL_MAGIC_LEN;
	int rc = 0;

	while (off < size) {
		uint64_t left = size - off;
		/* A record that cannot be whole ends the file: torn, if it is one record's worth. */
		int last = left <= 8 + CF_RL_PAYLOAD_MAX;
		if (left < 8)
			break;          /* a torn header */
		if (read_at(fd, hdr, 8, off) != 8) {
			snprintf(err, errlen, "%s: cannot read at byte %llu: %s", path,
			         (unsigned long long)off, strerror(errno));
			rc = -1;
			break;
		}
		uint32_t len = get32(hdr), crc = get32(hdr + 4);
		if (len > CF_RL_PAYLOAD_MAX || len > left - 8) {
			if (last)
				break;
			snprintf(err, errlen, "%s: corrupt record at byte %llu (length %u)", path,
			         (unsigned long long)off, len);
			rc = -1;
			break;
		}
		if (read_at(fd, buf, len, off + 8) != (ssize_t)len) {
			snprintf(err, errlen, "%s: cannot read at byte %llu: %s", path,
			         (unsigned long long)off, strerror(errno));
			rc = -1;
			break;
		}
		if ((uint32_t)crc32(0L, buf, len) != crc) {
			/* Torn only if it is the last record. */
			if (off + 8 + len == size)
				break;
			snprintf(err, errlen, "%s: corrupt record at byte %llu (bad checksum)", path,
			         (unsigned long long)off);
			rc = -1;
			break;
		}
		cf_rl_record r;
		if (cf_rl_decode(buf, len, &r, e) < 0) {
			snprintf(err, errlen, "%s: malformed record at byte %llu", path,
			         (unsigned long long)off);
			rc = -1;
			break;
		}
		if (apply && apply(arg, &r, err, errlen) != 0) {
			char why[400];
			snprintf(why, sizeof why, "%s", err);
			snprintf(err, errlen, "%s: record at byte %llu: %s", path,
			         (unsigned long long)off, why);
			rc = -1;
			break;
		}
		off += 8 + len;
	}
	*good = off;
	free(buf);
	free(e);
	return rc;
}

cf_rlog *
cf_rlog_open(const char *path, int readonly, cf_rl_apply apply, void *arg, char *warn,
             size_t wlen, char *err, size_t errlen)
{
	unsigned char magic[CF_RL_MAGIC_LEN];
	struct stat st;
	int fd = open(path, readonly ? O_RDONLY : O_RDWR | O_CLOEXEC);

	warn[0] = 0;
	if (fd < 0 && errno == ENOENT && !readonly) {
		/* No log yet: made by the first append (serving needs no write access). */
		cf_rlog *l = cf_xcalloc(1, sizeof *l);
		l->fd = FD_LATER;
		l->size = CF_RL_MAGIC_LEN;
		l->path = cf_xstrdup(path);
		return l;
	}
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		close(fd);
		return NULL;
	}
	uint64_t size = (uint64_t)st.st_size, good = 0;
	ssize_t got = read_at(fd, magic, CF_RL_MAGIC_LEN, 0);
	if (got < 0 || (size_t)got < (size < CF_RL_MAGIC_LEN ? size : CF_RL_MAGIC_LEN) ||
	    memcmp(magic, CF_RL_MAGIC, (size_t)got) != 0) {
		snprintf(err, errlen, "%s: not a ratings log (it should start with \"CFRLOG1\")",
		         path);
		close(fd);
		return NULL;
	}
	if (size >= CF_RL_MAGIC_LEN &&
	    replay(fd, path, size, apply, arg, &good, err, errlen) < 0) {
		close(fd);
		return NULL;
	}
	if (size > 0 && size < CF_RL_MAGIC_LEN)
		good = 0;       /* a torn magic: a log that never held a record */
	if (good < size)
		snprintf(warn, wlen, "warning: %s: torn last record at byte %llu (%llu bytes, "
		         "never acknowledged) dropped", path, (unsigned long long)good,
		         (unsigned long long)(size - good));
	if (!readonly) {
		if ((good < size && ftruncate(fd, (off_t)good) < 0) ||
		    (good == 0 && pwrite(fd, CF_RL_MAGIC, CF_RL_MAGIC_LEN, 0) != CF_RL_MAGIC_LEN) ||
		    fdatasync(fd) < 0) {
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			close(fd);
			return NULL;
		}
		if (good == 0)
			good = CF_RL_MAGIC_LEN;
	}
	cf_rlog *l = cf_xcalloc(1, sizeof *l);
	l->size = good;
	l->path = cf_xstrdup(path);
	if (readonly) {
		close(fd);
		fd = FD_READONLY;
	}
	l->fd = fd;
	return l;
}

int
cf_rlog_append(cf_rlog *l, const cf_rl_record *r, char *err, size_t errlen)
{
	size_t n = cf_rl_size(r), done = 0;
	unsigned char *buf = cf_xmalloc(n);

	if (l->fd == FD_READONLY) {
		snprintf(err, errlen, "%s: opened read-only", l->path);
		free(buf);
		return -1;
	}
	if (l->fd == FD_LATER) {
		int fd = open(l->path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (fd < 0 || pwrite(fd, CF_RL_MAGIC, CF_RL_MAGIC_LEN, 0) != CF_RL_MAGIC_LEN ||
		    fdatasync(fd) < 0) {
			snprintf(err, errlen, "%s: cannot create it: %s", l->path, strerror(errno));
			if (fd >= 0) {
				close(fd);
				unlink(l->path);
			}
			free(buf);
			return -1;
		}
		sync_dir(l->path);
		l->fd = fd;
	}
	cf_rl_encode(r, buf);
	while (done < n) {
		ssize_t w = pwrite(l->fd, buf + done, n - done, (off_t)(l->size + done));
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		done += (size_t)w;
	}
	free(buf);
	if (done < n || fdatasync(l->fd) < 0) {
		int e = errno;
		/* Leave nothing of it: a later record must not follow a torn one. */
		if (ftruncate(l->fd, (off_t)l->size) == 0)
			fdatasync(l->fd);
		snprintf(err, errlen, "%s: cannot append: %s", l->path, strerror(e ? e : EIO));
		return -1;
	}
	l->size += n;
	return 0;
}

uint64_t
cf_rlog_size(const cf_rlog *l)
{
	return l->size;
}

void
cf_rlog_close(cf_rlog *l)
{
	if (!l)
		return;
	if (l->fd >= 0)
		close(l->fd);
	free(l->path);
	free(l);
}
