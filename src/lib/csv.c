/*
 * csv.c - delimited text tokenizer (see csv.h).
 *
 * The buffer holds [pos, end) unconsumed bytes.  A record is looked for in
 * it; when it may run past `end`, the buffer is compacted (and grown if a
 * single record fills it) and more is read, and the search restarts at the
 * record's first byte.  Nothing in the buffer is modified, so a restart is
 * always possible: the fast path points fields into the buffer, the slow
 * (quoted) path copies unescaped fields into a scratch buffer.
 */
#include "csv.h"
#include "util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define CSV_BUF (4u << 20)

struct cf_csv {
	int fd;
	char *name;
	char *buf;
	size_t cap, pos, end;
	int eof, started;
	char *map;              /* a mapped regular file (buf points into it) */
	size_t maplen, released;
	uint64_t line;          /* line the next record starts on */
	char *delim;
	size_t dlen;
	int quotes;
	cf_csv_field *f;
	size_t fcap;
	char *scratch;
	size_t slen, scap;
};

/*
 * A regular file is mapped rather than read: no copy from the page cache,
 * and all of it is "in the buffer" at once.  From the fd's current offset,
 * like read().  Returns 0 if the fd cannot be mapped (a pipe, an empty file).
 */
static int
map_file(cf_csv *c)
{
	struct stat st;
	off_t at, base;
	long pg = sysconf(_SC_PAGESIZE);
	void *p;

	if (fstat(c->fd, &st) != 0 || !S_ISREG(st.st_mode) || pg <= 0)
		return 0;
	if ((at = lseek(c->fd, 0, SEEK_CUR)) < 0 || at >= st.st_size)
		return 0;
	if ((uint64_t)st.st_size > (uint64_t)SIZE_MAX / 2)
		return 0;
	base = at - at % pg;
	p = mmap(NULL, (size_t)(st.st_size - base), PROT_READ, MAP_PRIVATE, c->fd, base);
	if (p == MAP_FAILED)
		return 0;
#ifdef MADV_SEQUENTIAL
	madvise(p, (size_t)(st.st_size - base), MADV_SEQUENTIAL);
#endif
	c->map = p;
	c->maplen = (size_t)(st.st_size - base);
	c->buf = c->map;
	c->cap = c->end = c->maplen;
	c->pos = (size_t)(at - base);
	c->eof = 1;
	return 1;
}

cf_csv *
cf_csv_new(int fd, const char *name)
{
	cf_csv *c = cf_xcalloc(1, sizeof *c);

	c->fd = fd;
	c->name = cf_xstrdup(name);
	c->line = 1;
	c->delim = cf_xstrdup(",");
	c->dlen = 1;
	c->quotes = 1;
	c->fcap = 16;
	c->f = cf_xcalloc(c->fcap, sizeof *c->f);
	if (!map_file(c)) {
		c->cap = CSV_BUF;
		c->buf = cf_xmalloc(c->cap);
	}
	return c;
}

void
cf_csv_free(cf_csv *c)
{
	if (!c)
		return;
	free(c->name);
	if (c->map)
		munmap(c->map, c->maplen);
	else
		free(c->buf);
	free(c->delim);
	free(c->f);
	free(c->scratch);
	free(c);
}

int
cf_csv_set_delim(cf_csv *c, const char *d, size_t len)
{
	if (len == 0 || memchr(d, '"', len) || memchr(d, '\n', len) || memchr(d, '\r', len))
		return -1;
	free(c->delim);
	c->delim = cf_xmalloc(len + 1);
	memcpy(c->delim, d, len);
	c->delim[len] = '\0';
	c->dlen = len;
	return 0;
}

void cf_csv_set_quotes(cf_csv *c, int quotes) { c->quotes = quotes; }

static void
too_long(const cf_csv *c)
{
	cf_die("%s:%llu: record longer than 1 GiB", c->name, (unsigned long long)c->line);
}

/*
 * Makes room and reads more input after [pos, end).  Sets eof at end of
 * input.  Dies on a read error or when the pending record is too long.
 */
static void
fill(cf_csv *c)
{
	ssize_t n;

	if (c->eof)
		return;
	if (c->end - c->pos > CF_CSV_MAX_RECORD)
		too_long(c);
	if (c->pos > 0) {
		memmove(c->buf, c->buf + c->pos, c->end - c->pos);
		c->end -= c->pos;
		c->pos = 0;
	}
	if (c->end == c->cap) {
		size_t nc = c->cap * 2;
		if (nc > CF_CSV_MAX_RECORD + 65536)
			nc = CF_CSV_MAX_RECORD + 65536;
		c->buf = cf_xrealloc(c->buf, nc);
		c->cap = nc;
	}
	/*
	 * Fill the buffer (a pipe gives 64 KiB a read): the caller rescans the
	 * pending record after each fill, so filling completely keeps the
	 * total rescanning linear even for a record of a gigabyte.
	 */
	while (c->end < c->cap) {
		n = read(c->fd, c->buf + c->end, c->cap - c->end);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			cf_die("%s: read error:", c->name);
		if (n == 0) {
			c->eof = 1;
			break;
		}
		c->end += (size_t)n;
	}
}

/* Reads the first bytes and skips a UTF-8 byte order mark. */
static void
start(cf_csv *c)
{
	if (c->started)
		return;
	c->started = 1;
	while (c->end < 3 && !c->eof)
		fill(c);
	if (c->end - c->pos >= 3 && memcmp(c->buf + c->pos, "\xEF\xBB\xBF", 3) == 0)
		c->pos += 3;
}

int
cf_csv_peek_line(cf_csv *c, const char **p, size_t *len)
{
	size_t at = 0;  /* offset from pos of the line being looked at */

	start(c);
	for (;;) {
		char *s = c->buf + c->pos + at, *e = c->buf + c->end;
		char *nl = memchr(s, '\n', (size_t)(e - s));
		if (!nl && !c->eof && c->end - c->pos <= CF_CSV_MAX_RECORD) {
			fill(c);
			continue;
		}
		char *le = nl ? nl : e;
		if (le > s && le[-1] == '\r')
			le--;
		if (le > s) {
			*p = s;
			*len = (size_t)(le - s);
			return 1;
		}
		if (!nl)
			return 0;
		at = (size_t)(nl + 1 - (c->buf + c->pos));
	}
}

const char *
cf_csv_guess_delim(const char *line, size_t len)
{
	for (size_t i = 0; i + 1 < len; i++)
		if (line[i] == ':' && line[i + 1] == ':')
			return "::";
	if (memchr(line, '\t', len))
		return "\t";
	return ",";
}

/* Records field number n (counting all, storing at most CF_CSV_MAX_FIELDS). */
static void
add_field(cf_csv *c, size_t n, const char *p, size_t len)
{
	if (n >= CF_CSV_MAX_FIELDS)
		return;
	if (n >= c->fcap)
		cf_grow((void **)&c->f, &c->fcap, n + 1, sizeof *c->f);
	c->f[n].p = p;
	c->f[n].len = len;
}

static void
append(cf_csv *c, const char *p, size_t n)
{
	if (c->slen + n > c->scap)
		cf_grow((void **)&c->scratch, &c->scap, c->slen + n, 1);
	if (n)
		memcpy(c->scratch + c->slen, p, n);
	c->slen += n;
}

/*
 * Splits the line [s, e) (no quoted fields expected).  Returns the number of
 * fields, or 0 if some field starts with a quote (take the slow path).
 */
static size_t
split_fast(cf_csv *c, const char *s, const char *e)
{
	const char *p = s;
	size_t n = 0;
	const char d = c->delim[0];

	for (;;) {
		const char *q = p;
		if (c->quotes && p < e && *p == '"')
			return 0;
		if (c->dlen == 1) {
			while (q < e && *q != d)
				q++;
		} else {
			for (;;) {
				q = memchr(q, d, (size_t)(e - q));
				if (!q) {
					q = e;
					break;
				}
				if ((size_t)(e - q) >= c->dlen && memcmp(q, c->delim, c->dlen) == 0)
					break;
				q++;
			}
		}
		add_field(c, n++, p, (size_t)(q - p));
		if (q == e)
			return n;
		p = q + c->dlen;
	}
}

enum { SLOW_DONE, SLOW_NEED };

/* Is there a delimiter at p?  -1: cannot tell before more input arrives. */
static int
delim_at(const cf_csv *c, const char *p, const char *e)
{
	size_t avail = (size_t)(e - p);

	if (avail >= c->dlen)
		return memcmp(p, c->delim, c->dlen) == 0;
	if (!c->eof && memcmp(p, c->delim, avail) == 0)
		return -1;
	return 0;
}

/*
 * The quote-aware scan of the record starting at pos.  On SLOW_DONE the
 * fields are in c->f (pointing into scratch), *next is the offset after the
 * record, *nf the field count, *err set if malformed.
 */
static int
split_slow(cf_csv *c, size_t *next, size_t *nf, const char **err)
{
	const char *s = c->buf + c->pos, *e = c->buf + c->end, *p = s;
	size_t n = 0, fstart;
	int done = 0;

	*err = NULL;
	c->slen = 0;
	while (!done) {
		fstart = c->slen;
		if (p < e && *p == '"') {
			p++;
			for (;;) {
				const char *q = memchr(p, '"', (size_t)(e - p));
				if (!q) {
					if (!c->eof)
						return SLOW_NEED;
					append(c, p, (size_t)(e - p));
					p = e;
					*err = "unterminated quoted field";
					break;
				}
				append(c, p, (size_t)(q - p));
				if (q + 1 == e && !c->eof)
					return SLOW_NEED;
				if (q + 1 < e && q[1] == '"') {
					append(c, "\"", 1);
					p = q + 2;
					continue;
				}
				p = q + 1;
				break;
			}
			/* After the closing quote: a delimiter, a line end or the end. */
			if (p == e) {
				add_field(c, n++, NULL, c->slen - fstart);
				break;
			}
			int dm = delim_at(c, p, e);
			if (dm < 0)
				return SLOW_NEED;
			if (dm) {
				add_field(c, n++, NULL, c->slen - fstart);
				p += c->dlen;
				continue;
			}
			if (*p == '\n') {
				add_field(c, n++, NULL, c->slen - fstart);
				p++;
				break;
			}
			if (*p == '\r') {
				if (p + 1 == e && !c->eof)
					return SLOW_NEED;
				if (p + 1 == e || p[1] == '\n') {
					add_field(c, n++, NULL, c->slen - fstart);
					p += p + 1 == e ? 1 : 2;
					break;
				}
			}
			if (!*err)
				*err = "text after a closing quote";
			/* Keep the rest of the field as ordinary text. */
		}
		/* An unquoted field (or the tail of a malformed quoted one). */
		const char *q = p;
		int dm = 0;
		for (; q < e; q++) {
			if (*q == '\n')
				break;
			if (*q == c->delim[0] && (dm = delim_at(c, q, e)) != 0)
				break;
		}
		if (dm < 0 || (q == e && !c->eof))
			return SLOW_NEED;
		const char *fe = q;
		if (q == e || *q == '\n') {
			if (fe > p && fe[-1] == '\r')
				fe--;
			done = 1;
		}
		append(c, p, (size_t)(fe - p));
		add_field(c, n++, NULL, c->slen - fstart);
		p = q == e ? e : *q == '\n' ? q + 1 : q + c->dlen;
	}
	/* Fields are back to back in scratch: point them there. */
	size_t off = 0, m = n < CF_CSV_MAX_FIELDS ? n : CF_CSV_MAX_FIELDS;
	for (size_t i = 0; i < m; i++) {
		c->f[i].p = c->scratch ? c->scratch + off : "";
		off += c->f[i].len;
	}
	*next = (size_t)(p - c->buf);
	*nf = n;
	return SLOW_DONE;
}

/*
 * Drops the mapped pages already consumed from this process (they stay in
 * the page cache), so memory does not grow with the input.
 */
static void
release(cf_csv *c)
{
	size_t upto = c->pos & ~(size_t)((1u << 20) - 1);

	if (upto >= c->released + ((size_t)16 << 20)) {
		madvise(c->map + c->released, upto - c->released, MADV_DONTNEED);
		c->released = upto;
	}
}

int
cf_csv_next(cf_csv *c, cf_csv_rec *r)
{
	start(c);
	if (c->map)
		release(c);
	for (;;) {
		if (c->pos == c->end) {
			if (c->eof)
				return 0;
			fill(c);
			continue;
		}
		const char *s = c->buf + c->pos, *e = c->buf + c->end;
		const char *nl = memchr(s, '\n', (size_t)(e - s));
		if (!nl && !c->eof) {
			fill(c);
			continue;
		}
		const char *ce = nl ? nl : e;
		size_t next = nl ? (size_t)(nl + 1 - c->buf) : c->end;
		if (ce > s && ce[-1] == '\r')
			ce--;
		if (ce == s) {          /* blank line */
			c->pos = next;
			c->line++;
			continue;
		}
		if (next - c->pos > CF_CSV_MAX_RECORD)
			too_long(c);
		size_t n = split_fast(c, s, ce);
		if (n > 0) {
			r->nfields = n;
			r->f = c->f;
			r->line = c->line++;
			r->err = NULL;
			c->pos = next;
			return 1;
		}
		size_t nf;
		const char *err;
		if (split_slow(c, &next, &nf, &err) == SLOW_NEED) {
			fill(c);
			continue;
		}
		if (next - c->pos > CF_CSV_MAX_RECORD)
			too_long(c);
		uint64_t lines = 0;
		for (const char *p = s; (p = memchr(p, '\n', (size_t)(c->buf + next - p))) != NULL; p++)
			lines++;
		r->nfields = nf;
		r->f = c->f;
		r->line = c->line;
		r->err = err;
		c->line += lines ? lines : 1;
		c->pos = next;
		return 1;
	}
}
