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
#include <iconv.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define CSV_BUF (4u << 20)
#define RAW_BUF (1u << 20)      /* undecoded bytes read from a pipe */

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
	int die;                /* 1: errors cf_die(); 0: they end the input */
	char err[512];          /* the error that ended the input, or "" */

	/* Decoding (cf_csv_set_encoding): the raw input becomes UTF-8 in buf. */
	int decoding;           /* 0: buf holds the input's bytes */
	iconv_t cd;             /* (iconv_t)-1 until opened (utf-16: at the first bytes) */
	const char *encname;
	char *raw;              /* the undecoded bytes: into the map, or rawbuf */
	char *rawbuf;
	size_t rawpos, rawend;
	int raweof;
	uint64_t rawoff;        /* input bytes before raw[0] */
	uint64_t lines_out;     /* line feeds decoded so far */
};

/*
 * An error: dies (the default), or, for a caller that asked for errors
 * (cf_csv_set_die), ends the input with the message kept in err.
 */
static void
fail(cf_csv *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
fail(cf_csv *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->err, sizeof c->err, fmt, ap);
	va_end(ap);
	cf_oneline(c->err);
	if (c->die)
		cf_die("%s", c->err);
	c->eof = 1;
}

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
	c->die = 1;
	c->cd = (iconv_t)-1;
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
	if (!c->map || c->decoding)
		free(c->buf);
	if (c->cd != (iconv_t)-1)
		iconv_close(c->cd);
	free(c->rawbuf);
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
void cf_csv_set_die(cf_csv *c, int die) { c->die = die; }
const char *cf_csv_error(const cf_csv *c) { return c->err[0] ? c->err : NULL; }

static void
too_long(cf_csv *c)
{
	fail(c, "%s:%llu: record longer than 1 GiB", c->name, (unsigned long long)c->line);
}

/* ---------------------------------------------------------------- decoding */

static const struct {
	const char *name, *iconv;       /* iconv NULL: UTF-8, read as it is */
} encodings[] = {
	{"utf-8", NULL}, {"utf8", NULL},
	{"latin1", "ISO-8859-1"}, {"latin-1", "ISO-8859-1"}, {"iso-8859-1", "ISO-8859-1"},
	{"cp1252", "CP1252"}, {"windows-1252", "CP1252"},
	{"utf-16", "UTF-16"}, {"utf16", "UTF-16"},
	{"utf-16le", "UTF-16LE"}, {"utf16le", "UTF-16LE"},
	{"utf-16be", "UTF-16BE"}, {"utf16be", "UTF-16BE"},
};

/* The index of enc in encodings[], or -1. */
static int
encoding(const char *enc)
{
	for (size_t k = 0; k < sizeof encodings / sizeof encodings[0]; k++)
		if (strcasecmp(enc, encodings[k].name) == 0)
			return (int)k;
	return -1;
}

int cf_csv_encoding_known(const char *enc) { return encoding(enc) >= 0; }

int
cf_csv_set_encoding(cf_csv *c, const char *enc)
{
	int k = encoding(enc);

	if (k < 0) {
		snprintf(c->err, sizeof c->err, "unknown encoding '%s': want %s", enc,
		         CF_CSV_ENCODINGS);
		cf_oneline(c->err);
		return -1;
	}
	if (c->decoding || c->started) {
		snprintf(c->err, sizeof c->err, "the encoding is set once, before reading");
		return -1;
	}
	if (!encodings[k].iconv)
		return 0;       /* UTF-8: the bytes as they are */
	/* utf-16 is opened as LE or BE once its first bytes are read (decode()). */
	if (strcmp(encodings[k].iconv, "UTF-16") != 0 &&
	    (c->cd = iconv_open("UTF-8", encodings[k].iconv)) == (iconv_t)-1) {
		snprintf(c->err, sizeof c->err, "encoding '%s': iconv cannot convert %s: %s",
		         enc, encodings[k].iconv, strerror(errno));
		return -1;
	}
	c->decoding = 1;
	c->encname = encodings[k].name;
	if (c->map) {           /* the mapping is the raw input, decoded into a buffer */
		c->raw = c->map + c->pos;
		c->rawend = c->maplen - c->pos;
		c->raweof = 1;
		c->eof = 0;
		c->buf = cf_xmalloc(CSV_BUF);
		c->cap = CSV_BUF;
		c->pos = c->end = 0;
	} else {                /* read into rawbuf, decoded into buf as it was */
		c->rawbuf = cf_xmalloc(RAW_BUF);
		c->raw = c->rawbuf;
	}
	return 0;
}

/* Reads more raw input after [rawpos, rawend) (a pipe); sets raweof at its end. */
static void
read_raw(cf_csv *c)
{
	ssize_t n;

	if (c->rawpos > 0) {
		memmove(c->rawbuf, c->rawbuf + c->rawpos, c->rawend - c->rawpos);
		c->rawoff += c->rawpos;
		c->rawend -= c->rawpos;
		c->rawpos = 0;
	}
	if (c->rawend == RAW_BUF)
		return;         /* full: nothing to make room for (decode() never asks) */
	for (;;) {
		n = read(c->fd, c->rawbuf + c->rawend, RAW_BUF - c->rawend);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fail(c, "%s: read error: %s", c->name, strerror(errno));
			return;
		}
		if (n == 0)
			c->raweof = 1;
		c->rawend += (size_t)n;
		return;
	}
}

/*
 * utf-16: the byte order of the byte order mark (dropped, as iconv's
 * "UTF-16" does), else little endian unless the first byte is zero (an
 * ASCII character in big endian); iconv's own guess differs by platform.
 */
static void
open_utf16(cf_csv *c)
{
	const unsigned char *b;
	const char *order;

	while (c->rawend - c->rawpos < 2 && !c->raweof && !c->err[0])
		read_raw(c);
	b = (const unsigned char *)c->raw + c->rawpos;
	if (c->rawend - c->rawpos >= 2 && b[0] == 0xFE && b[1] == 0xFF)
		order = "UTF-16BE";
	else if (c->rawend - c->rawpos >= 2 && b[0] == 0xFF && b[1] == 0xFE)
		order = "UTF-16LE";
	else
		order = NULL;
	if (order)
		c->rawpos += 2;         /* the mark is not text (a second one would be) */
	else
		order = c->rawend > c->rawpos && b[0] == 0 ? "UTF-16BE" : "UTF-16LE";
	if ((c->cd = iconv_open("UTF-8", order)) == (iconv_t)-1)
		fail(c, "%s: encoding '%s': iconv cannot convert %s: %s", c->name, c->encname,
		     order, strerror(errno));
}

/* Decodes raw input into buf after [pos, end) until buf is full or the input ends. */
static void
decode(cf_csv *c)
{
	if (c->cd == (iconv_t)-1 && !c->err[0])
		open_utf16(c);
	while (c->end < c->cap && !c->err[0]) {
		size_t inleft = c->rawend - c->rawpos, outleft = c->cap - c->end, r;
		int flush = inleft == 0, e;

		if (flush && !c->raweof) {
			read_raw(c);
			continue;
		}
		char *in = c->raw + c->rawpos, *out = c->buf + c->end, *was = out;
		r = flush ? iconv(c->cd, NULL, NULL, &out, &outleft) :
		    iconv(c->cd, &in, &inleft, &out, &outleft);
		e = errno;
		for (const char *p = was; (p = memchr(p, '\n', (size_t)(out - p))) != NULL; p++)
			c->lines_out++;
		c->end = (size_t)(out - c->buf);
		c->rawpos = (size_t)(in - c->raw);
		if (r != (size_t)-1) {
			if (flush) {
				c->eof = 1;
				return;
			}
			continue;
		}
		if (e == E2BIG)
			return;         /* buf is full: the caller compacts or grows it */
		if (e == EINVAL && !c->raweof) {
			read_raw(c);    /* a character cut by the end of the read */
			continue;
		}
		fail(c, "%s:%llu: byte %llu: %s %s", c->name,
		     (unsigned long long)c->lines_out + 1,
		     (unsigned long long)(c->rawoff + c->rawpos),
		     e == EINVAL ? "the input ends inside a character of" : "not valid",
		     c->encname);
	}
}

/*
 * Makes room and reads more input after [pos, end).  Sets eof at end of
 * input.  Fails (fail()) on a read error, a decoding error or when the
 * pending record is too long.
 */
static void
fill(cf_csv *c)
{
	ssize_t n;

	if (c->eof)
		return;
	if (c->end - c->pos > CF_CSV_MAX_RECORD) {
		too_long(c);
		return;
	}
	if (c->pos > 0) {
		memmove(c->buf, c->buf + c->pos, c->end - c->pos);
		c->end -= c->pos;
		c->pos = 0;
	}
	/* Decoding needs room for a whole character (4 bytes of UTF-8). */
	if (c->cap - c->end < (c->decoding ? 4 : 1)) {
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
	if (c->decoding) {
		decode(c);
		return;
	}
	while (c->end < c->cap) {
		n = read(c->fd, c->buf + c->end, c->cap - c->end);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fail(c, "%s: read error: %s", c->name, strerror(errno));
			return;
		}
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
			if (c->err[0])
				return 0;
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

int
cf_csv_sniff(cf_csv *c)
{
	const unsigned char *b;
	const char *line;
	size_t n, len;
	int quoted = 0;

	start(c);
	while (c->end - c->pos < 4 && !c->eof)
		fill(c);
	b = (const unsigned char *)c->buf + c->pos;
	n = c->end - c->pos;
	if (n >= 2 && b[0] == 0xFF && b[1] == 0xFE)
		return CF_CSV_UTF16LE;
	if (n >= 2 && b[0] == 0xFE && b[1] == 0xFF)
		return CF_CSV_UTF16BE;
	/* No byte order mark: two ASCII characters, each beside a zero byte. */
	if (n >= 4 && b[0] && b[0] < 0x80 && !b[1] && b[2] && b[2] < 0x80 && !b[3])
		return CF_CSV_UTF16LE_NOBOM;
	if (n >= 4 && !b[0] && b[1] && b[1] < 0x80 && !b[2] && b[3] && b[3] < 0x80)
		return CF_CSV_UTF16BE_NOBOM;
	/* A CR followed by more of the line, outside quotes: CR-only line ends. */
	if (!cf_csv_peek_line(c, &line, &len))
		return CF_CSV_TEXT_OK;
	for (size_t i = 0; i + 1 < len; i++) {
		if (line[i] == '"' && c->quotes)
			quoted = !quoted;
		else if (line[i] == '\r' && !quoted)
			return CF_CSV_CR_ONLY;
	}
	return CF_CSV_TEXT_OK;
}

const char *
cf_csv_sniff_encoding(int what)
{
	switch (what) {
	case CF_CSV_UTF16LE: case CF_CSV_UTF16BE: return "utf-16";
	case CF_CSV_UTF16LE_NOBOM: return "utf-16le";
	case CF_CSV_UTF16BE_NOBOM: return "utf-16be";
	}
	return NULL;
}

const char *
cf_csv_sniff_name(int what)
{
	switch (what) {
	case CF_CSV_UTF16LE: return "UTF-16LE text (byte order mark FF FE), not UTF-8";
	case CF_CSV_UTF16BE: return "UTF-16BE text (byte order mark FE FF), not UTF-8";
	case CF_CSV_UTF16LE_NOBOM: return "UTF-16LE text (zero bytes after ASCII), not UTF-8";
	case CF_CSV_UTF16BE_NOBOM: return "UTF-16BE text (zero bytes before ASCII), not UTF-8";
	case CF_CSV_CR_ONLY: return "CR-only line ends (classic Mac OS), not LF or CRLF";
	}
	return "text";
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

/* [s, s + n) is ASCII: eight bytes at a time (a record's fields lie in its line). */
static int
is_ascii(const char *s, size_t n)
{
	uint64_t w, m = 0;
	size_t i = 0;

	if (n < 8) {
		for (; i < n; i++)
			m |= (unsigned char)s[i];
		return m < 0x80;
	}
	for (; i + 8 <= n; i += 8) {
		memcpy(&w, s + i, 8);
		m |= w;
	}
	memcpy(&w, s + n - 8, 8);       /* the tail, overlapping what was read */
	return !((m | w) & 0x8080808080808080ULL);
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
	if (c->map && !c->decoding)
		release(c);
	for (;;) {
		if (c->err[0])
			return 0;
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
		if (next - c->pos > CF_CSV_MAX_RECORD) {
			too_long(c);
			return 0;
		}
		size_t n = split_fast(c, s, ce);
		if (n > 0) {
			r->nfields = n;
			r->f = c->f;
			r->line = c->line++;
			r->err = NULL;
			r->ascii = is_ascii(s, (size_t)(ce - s));
			c->pos = next;
			return 1;
		}
		size_t nf;
		const char *err;
		if (split_slow(c, &next, &nf, &err) == SLOW_NEED) {
			fill(c);
			continue;
		}
		if (next - c->pos > CF_CSV_MAX_RECORD) {
			too_long(c);
			return 0;
		}
		uint64_t lines = 0;
		for (const char *p = s; (p = memchr(p, '\n', (size_t)(c->buf + next - p))) != NULL; p++)
			lines++;
		r->nfields = nf;
		r->f = c->f;
		r->line = c->line;
		r->err = err;
		r->ascii = 0;
		c->line += lines ? lines : 1;
		c->pos = next;
		return 1;
	}
}
