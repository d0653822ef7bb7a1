/*
 * frame.c - reader and writer of the frame format (docs/frame-format.md).
 *
 * The reader mmaps regular files, so a block's columns are pointers into
 * the page cache (a factor matrix written as one block goes to BLAS with no
 * copy); pipes are read into a buffer that grows as bytes arrive, so a
 * corrupt length never makes us allocate more than the input holds.
 */
#include "frame.h"
#include "idmap.h"
#include "progress.h"
#include "util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

static const unsigned char TABLE_MAGIC[8] = {0x89, 'C', 'F', 'R', '\r', '\n', 0x1a, '\n'};
static const unsigned char BLOCK_MAGIC[4] = {'C', 'F', 'B', 'K'};

#define BLOCK_HDR 64
#define MAX_HEADER (16u << 20)
#define MAX_COLS 4096u
#define MAX_WIDTH (1u << 24)
#define MAX_NAME 65535u

/* The format is little-endian; so is every machine we build on. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "cinefilter's frame code assumes a little-endian host"
#endif

static uint32_t
crc(uint32_t c, const void *p, size_t n)
{
	const unsigned char *b = p;

	/* zlib's crc32 takes a uInt length: feed large buffers in pieces. */
	while (n > 0) {
		size_t k = n > (1u << 30) ? (1u << 30) : n;
		c = (uint32_t)crc32(c, b, (uInt)k);
		b += k;
		n -= k;
	}
	return c;
}

static uint16_t rd16(const unsigned char *p) { uint16_t v; memcpy(&v, p, 2); return v; }
static uint32_t rd32(const unsigned char *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t rd64(const unsigned char *p) { uint64_t v; memcpy(&v, p, 8); return v; }
static void wr16(unsigned char *p, uint16_t v) { memcpy(p, &v, 2); }
static void wr32(unsigned char *p, uint32_t v) { memcpy(p, &v, 4); }
static void wr64(unsigned char *p, uint64_t v) { memcpy(p, &v, 8); }

static size_t pad8(size_t n) { return (n + 7) & ~(size_t)7; }
static uint64_t pad64(uint64_t n) { return (n + CF_ALIGN - 1) & ~(uint64_t)(CF_ALIGN - 1); }

/* ---------------------------------------------------------------- schemas */

static const struct {
	const char *name;
	size_t size;
} types[] = {
	[CF_U8] = {"u8", 1},   [CF_I32] = {"i32", 4}, [CF_U32] = {"u32", 4},
	[CF_I64] = {"i64", 8}, [CF_U64] = {"u64", 8}, [CF_F32] = {"f32", 4},
	[CF_F64] = {"f64", 8}, [CF_STR] = {"str", 0},
};

static int
valid_type(unsigned t)
{
	return t >= CF_U8 && t <= CF_STR;
}

const char *
cf_type_name(cf_type t)
{
	return valid_type(t) ? types[t].name : "?";
}

size_t
cf_type_size(cf_type t)
{
	return valid_type(t) ? types[t].size : 0;
}

cf_schema *
cf_schema_new(const char *name)
{
	cf_schema *s = cf_xcalloc(1, sizeof *s);

	s->name = cf_xstrdup(name);
	return s;
}

void
cf_schema_free(cf_schema *s)
{
	if (!s)
		return;
	for (uint32_t i = 0; i < s->ncols; i++)
		free(s->cols[i].name);
	for (uint32_t i = 0; i < s->nattrs; i++) {
		free(s->attrs[i].key);
		free(s->attrs[i].val);
	}
	free(s->cols);
	free(s->attrs);
	free(s->name);
	free(s);
}

cf_schema *
cf_schema_copy(const cf_schema *s)
{
	cf_schema *c = cf_schema_new(s->name);

	for (uint32_t i = 0; i < s->ncols; i++)
		cf_schema_add(c, s->cols[i].name, s->cols[i].type, s->cols[i].width);
	/*
	 * Keys are unique already: copied as they are, since cf_schema_set's
	 * search per key is quadratic in their number, and a stream's header
	 * may hold a million attributes (hours; found by fuzzing).
	 */
	c->attrs = cf_xcalloc(s->nattrs ? s->nattrs : 1, sizeof *c->attrs);
	for (uint32_t i = 0; i < s->nattrs; i++) {
		c->attrs[i].key = cf_xstrdup(s->attrs[i].key);
		c->attrs[i].val = cf_xstrdup(s->attrs[i].val);
	}
	c->nattrs = s->nattrs;
	return c;
}

int
cf_schema_add(cf_schema *s, const char *name, cf_type type, uint32_t width)
{
	s->cols = cf_xrealloc(s->cols, (s->ncols + 1) * sizeof *s->cols);
	s->cols[s->ncols].name = cf_xstrdup(name);
	s->cols[s->ncols].type = type;
	s->cols[s->ncols].width = width ? width : 1;
	return (int)s->ncols++;
}

void
cf_schema_set(cf_schema *s, const char *key, const char *val)
{
	for (uint32_t i = 0; i < s->nattrs; i++) {
		if (strcmp(s->attrs[i].key, key) == 0) {
			free(s->attrs[i].val);
			s->attrs[i].val = cf_xstrdup(val);
			return;
		}
	}
	s->attrs = cf_xrealloc(s->attrs, (s->nattrs + 1) * sizeof *s->attrs);
	s->attrs[s->nattrs].key = cf_xstrdup(key);
	s->attrs[s->nattrs].val = cf_xstrdup(val);
	s->nattrs++;
}

int
cf_schema_col(const cf_schema *s, const char *name)
{
	for (uint32_t i = 0; i < s->ncols; i++)
		if (strcmp(s->cols[i].name, name) == 0)
			return (int)i;
	return -1;
}

const char *
cf_schema_get(const cf_schema *s, const char *key)
{
	for (uint32_t i = 0; i < s->nattrs; i++)
		if (strcmp(s->attrs[i].key, key) == 0)
			return s->attrs[i].val;
	return NULL;
}

/* ----------------------------------------------------------------- reader */

struct cf_reader {
	int fd;
	char *name;
	int die;
	char err[512];

	/* mmap mode: the whole file; read mode: buf holds the current item. */
	const unsigned char *map;
	uint64_t maplen;
	unsigned char *buf;
	size_t bufcap;
	int eof;                /* read mode: read() returned 0 */

	uint64_t off;           /* stream offset of the next unread byte */
	uint64_t dropped;       /* mmap mode: pages before this were given back */
	cf_schema *schema;      /* current table, or NULL between tables */
	int in_table;           /* 1 while blocks of the current table remain */
	uint64_t rows;          /* rows read from the current table */
	uint64_t blocks;        /* data blocks read from the current table */
	uint64_t table_at;      /* stream offset of the current table's header */
	const void **colptr;
};

static int
rfail(cf_reader *r, uint64_t at, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int
rfail(cf_reader *r, uint64_t at, const char *fmt, ...)
{
	va_list ap;
	int n;

	n = snprintf(r->err, sizeof r->err, "%s: byte %llu: ", r->name,
	             (unsigned long long)at);
	if (n < 0 || (size_t)n >= sizeof r->err)        /* a very long name */
		n = (int)sizeof r->err - 1;
	va_start(ap, fmt);
	vsnprintf(r->err + n, sizeof r->err - (size_t)n, fmt, ap);
	va_end(ap);
	cf_oneline(r->err);     /* names from the stream may hold line breaks */
	if (r->die)
		cf_die("%s", r->err);
	return -1;
}

cf_reader *
cf_reader_open(int fd, const char *name)
{
	cf_reader *r = cf_xcalloc(1, sizeof *r);
	struct stat st;

	r->fd = fd;
	r->name = cf_xstrdup(name);
	r->die = 1;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
		off_t pos = lseek(fd, 0, SEEK_CUR);
		void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (m != MAP_FAILED && pos >= 0) {
			r->map = m;
			r->maplen = (uint64_t)st.st_size;
			r->off = (uint64_t)pos;
			madvise(m, (size_t)st.st_size, MADV_SEQUENTIAL);
		} else if (m != MAP_FAILED) {
			munmap(m, (size_t)st.st_size);
		}
	}
	return r;
}

cf_reader *
cf_reader_open_path(const char *path)
{
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		cf_die("%s:", path);
	return cf_reader_open(fd, path);
}

void
cf_reader_close(cf_reader *r)
{
	if (!r)
		return;
	if (r->map)
		munmap((void *)r->map, (size_t)r->maplen);
	if (r->fd > 2)
		close(r->fd);
	cf_schema_free(r->schema);
	free(r->buf);
	free(r->colptr);
	free(r->name);
	free(r);
}

void cf_reader_set_die(cf_reader *r, int die) { r->die = die; }
const char *cf_reader_empty(const cf_reader *r) { return cf_empty_input(r->fd); }

/*
 * "reading TABLE 12.5M/25M" on a terminal, for a mapped (regular) file:
 * the table's row count estimated from the bytes its rows took so far
 * and the bytes left in the file (a ratings stream's dictionaries after
 * it are small).
 */
static void
read_progress(const cf_reader *r)
{
	char what[96];
	uint64_t used = r->off - r->table_at, left = r->maplen - r->table_at;

	if (!cf_progress_tty() || used == 0)
		return;
	snprintf(what, sizeof what, "reading %s", r->schema->name);
	cf_progress_count(what, r->rows, (uint64_t)((double)r->rows * (double)left / (double)used));
}
const char *cf_reader_error(const cf_reader *r) { return r->err; }
const char *cf_reader_name(const cf_reader *r) { return r->name; }
uint64_t cf_reader_offset(const cf_reader *r) { return r->off; }
uint64_t cf_reader_rows(const cf_reader *r) { return r->rows; }
uint64_t cf_reader_table_at(const cf_reader *r) { return r->table_at; }

/*
 * Makes n bytes at the current offset available and returns them; the
 * offset advances.  Returns NULL with *got < n at end of input.  In read
 * mode the buffer grows only as data actually arrives.
 */
static const unsigned char *
take(cf_reader *r, uint64_t n, uint64_t *got)
{
	if (r->map) {
		uint64_t left = r->maplen - r->off;
		if (left < n) {
			*got = left;
			return NULL;
		}
		const unsigned char *p = r->map + r->off;
		/*
		 * Give back the pages already read every 16 MiB, so reading a
		 * large file once does not count all of it in RSS.  Safe: a
		 * private read-only mapping refaults from the page cache, so
		 * pointers handed out earlier stay valid.
		 */
		if (r->off > r->dropped && r->off - r->dropped >= (16u << 20)) {
			uint64_t end = r->off & ~(uint64_t)4095;
			madvise((void *)(r->map + r->dropped), (size_t)(end - r->dropped),
			        MADV_DONTNEED);
			r->dropped = end;
		}
		r->off += n;
		*got = n;
		return p;
	}
	size_t have = 0;
	while (have < n) {
		size_t want = (size_t)(n - have);
		if (want > (16u << 20))
			want = 16u << 20;
		cf_grow((void **)&r->buf, &r->bufcap, have + want, 1);
		ssize_t k = read(r->fd, r->buf + have, want);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			*got = have;
			errno = errno ? errno : EIO;
			return NULL;
		}
		if (k == 0) {
			r->eof = 1;
			break;
		}
		have += (size_t)k;
	}
	*got = have;
	r->off += have;
	return have == n ? r->buf : NULL;
}

static int
truncated(cf_reader *r, uint64_t at, const char *what)
{
	if (!r->map && errno && errno != EINTR && !r->eof)
		return rfail(r, at, "read error: %s", strerror(errno));
	return rfail(r, at, "truncated stream: %s cut short", what);
}

/* Parses a verified table header; fills r->schema. */
static int
parse_header(cf_reader *r, uint64_t at, const unsigned char *h, uint32_t len)
{
	uint32_t ncols = rd32(h + 16), nattrs = rd32(h + 20);
	uint16_t nlen = rd16(h + 24);
	size_t p = 32, end = len - 8;
	cf_schema *s;
	cf_idmap *keys = NULL;

#define NEED(n) do { if ((n) > end - p) { cf_schema_free(s); cf_idmap_free(keys); \
	return rfail(r, at, "bad table header: fields overrun its length"); } } while (0)

	if (ncols > MAX_COLS)
		return rfail(r, at, "bad table header: %u columns (at most %u)", ncols, MAX_COLS);
	s = cf_xcalloc(1, sizeof *s);
	NEED(pad8(nlen));
	s->name = cf_xmalloc((size_t)nlen + 1);
	memcpy(s->name, h + p, nlen);
	s->name[nlen] = 0;
	p += pad8(nlen);
	for (uint32_t i = 0; i < ncols; i++) {
		NEED(8);
		unsigned t = h[p];
		uint16_t cl = rd16(h + p + 2);
		uint32_t width = rd32(h + p + 4);
		p += 8;
		NEED(pad8(cl));
		if (!valid_type(t)) {
			cf_schema_free(s);
			return rfail(r, at, "bad table header: column %u has unknown type %u", i, t);
		}
		if (width == 0 || width > MAX_WIDTH || (t == CF_STR && width != 1)) {
			cf_schema_free(s);
			return rfail(r, at, "bad table header: column %u has width %u", i, width);
		}
		char *cn = cf_xmalloc((size_t)cl + 1);
		memcpy(cn, h + p, cl);
		cn[cl] = 0;
		p += pad8(cl);
		cf_schema_add(s, cn, (cf_type)t, width);
		free(cn);
	}
	/*
	 * Attributes: a repeated key keeps the last value, found through a
	 * hash of the keys, not cf_schema_set's linear search: a 16 MiB header
	 * holds up to 2M attributes, and a search per key took hours (found
	 * by fuzzing).  Each takes at least 8 bytes: that bounds the array.
	 */
	keys = cf_idmap_new();
	s->attrs = cf_xcalloc(nattrs < (end - p) / 8 ? nattrs : (end - p) / 8 + 1,
	                      sizeof *s->attrs);
	for (uint32_t i = 0; i < nattrs; i++) {
		NEED(8);
		uint16_t kl = rd16(h + p);
		uint32_t vl = rd32(h + p + 4);
		p += 8;
		NEED(pad8((size_t)kl + vl));
		char *k = cf_xmalloc((size_t)kl + 1), *v = cf_xmalloc((size_t)vl + 1);
		memcpy(k, h + p, kl);
		k[kl] = 0;
		memcpy(v, h + p + kl, vl);
		v[vl] = 0;
		p += pad8((size_t)kl + vl);
		int added;
		/* strlen: a key is looked up as a C string (cf_schema_get). */
		uint32_t at_key = cf_idmap_intern(keys, k, strlen(k), &added);
		if (added) {
			s->attrs[s->nattrs].key = k;
			s->attrs[s->nattrs].val = v;
			s->nattrs++;
		} else {
			free(s->attrs[at_key].val);
			s->attrs[at_key].val = v;
			free(k);
		}
	}
	cf_idmap_free(keys);
#undef NEED
	cf_schema_free(r->schema);
	r->schema = s;
	r->colptr = cf_xrealloc(r->colptr, (ncols ? ncols : 1) * sizeof *r->colptr);
	return 0;
}

int
cf_read_table(cf_reader *r, const cf_schema **out)
{
	cf_block b;
	uint64_t got, at;
	const unsigned char *h;

	while (r->in_table) {           /* skip what the caller left unread */
		int rc = cf_read_block(r, &b);
		if (rc < 0)
			return -1;
	}
	at = r->off;
	h = take(r, 32, &got);
	if (!h) {
		if (got == 0 && (r->map || r->eof))
			return 0;       /* clean end of stream */
		if (memcmp(r->map ? r->map + at : r->buf, TABLE_MAGIC, got < 8 ? got : 8) != 0)
			goto badmagic;
		return truncated(r, at, "table header");
	}
	if (memcmp(h, TABLE_MAGIC, 8) != 0) {
badmagic:;
		const unsigned char *m = r->map ? r->map + at : r->buf;
		if (at == 0)
			return rfail(r, at, "not a cinefilter frame stream (bad magic)%s",
			             (m[0] >= 0x20 && m[0] < 0x7f) ?
			             "; it looks like text: convert it with csv2bin first" : "");
		return rfail(r, at, "bad table magic: corrupt stream, or data after the last table");
	}
	uint16_t version = rd16(h + 8);
	uint32_t len = rd32(h + 12);
	if (version != CF_FRAME_VERSION)
		return rfail(r, at, "unsupported frame format version %u (this build reads version %u)",
		             version, CF_FRAME_VERSION);
	if (len < 64 || len % CF_ALIGN || len > MAX_HEADER)
		return rfail(r, at, "bad table header length %u", len);
	/* In read mode take() reuses the buffer: re-read the whole header. */
	if (!r->map) {
		unsigned char first[32];
		memcpy(first, h, 32);
		const unsigned char *rest = take(r, len - 32, &got);
		if (!rest)
			return truncated(r, at, "table header");
		cf_grow((void **)&r->buf, &r->bufcap, len, 1);
		memmove(r->buf + 32, r->buf, len - 32);
		memcpy(r->buf, first, 32);
		h = r->buf;
	} else {
		if (!take(r, len - 32, &got))
			return truncated(r, at, "table header");
	}
	if (crc(0, h, len - 8) != rd32(h + len - 8))
		return rfail(r, at, "table header checksum mismatch (corrupt stream)");
	/* The 4 bytes after the CRC are outside it: only their being zero protects them. */
	if (rd32(h + len - 4) != 0)
		return rfail(r, at, "table header reserved trailer not zero (corrupt stream)");
	if (parse_header(r, at, h, len) < 0)
		return -1;
	r->in_table = 1;
	r->table_at = at;
	r->rows = 0;
	r->blocks = 0;
	if (out)
		*out = r->schema;
	return 1;
}

/* Checks the column chunks of a verified payload and points colptr at them. */
static int
layout(cf_reader *r, uint64_t at, const unsigned char *pay, uint64_t plen, uint32_t nrows)
{
	uint64_t p = 0;

	for (uint32_t i = 0; i < r->schema->ncols; i++) {
		const cf_col *c = &r->schema->cols[i];
		uint64_t n;
		if (c->type == CF_STR) {
			uint64_t offbytes = ((uint64_t)nrows + 1) * 4;
			if (offbytes > plen - p)
				return rfail(r, at, "block payload too short for column '%s'", c->name);
			const unsigned char *o = pay + p;
			uint32_t prev = rd32(o);
			if (prev != 0)
				return rfail(r, at, "column '%s': string offsets must start at 0", c->name);
			for (uint32_t k = 1; k <= nrows; k++) {
				uint32_t v = rd32(o + 4 * (uint64_t)k);
				if (v < prev)
					return rfail(r, at, "column '%s': string offsets decrease at row %u",
					             c->name, k - 1);
				prev = v;
			}
			n = offbytes + prev;
		} else {
			n = (uint64_t)nrows * c->width * cf_type_size(c->type);
		}
		if (n > plen - p)
			return rfail(r, at, "block payload too short for column '%s'", c->name);
		r->colptr[i] = pay + p;
		p += pad64(n);
		if (p > plen)
			p = plen;
	}
	if (pad64(p) != plen)
		return rfail(r, at, "block payload length %llu does not match its columns (%llu)",
		             (unsigned long long)plen, (unsigned long long)pad64(p));
	return 0;
}

int
cf_read_block(cf_reader *r, cf_block *b)
{
	uint64_t got, at = r->off;
	const unsigned char *h;
	unsigned char hdr[BLOCK_HDR];

	if (!r->in_table)
		return 0;
	if (!(h = take(r, BLOCK_HDR, &got)))
		return truncated(r, at, got ? "block header" : "table (no end marker)");
	if (memcmp(h, BLOCK_MAGIC, 4) != 0)
		return rfail(r, at, "bad block magic (corrupt stream)");
	if (crc(0, h, 56) != rd32(h + 56))
		return rfail(r, at, "block header checksum mismatch (corrupt stream)");
	if (rd32(h + 60) != 0)          /* outside the CRC: must be zero */
		return rfail(r, at, "block header reserved trailer not zero (corrupt stream)");
	memcpy(hdr, h, BLOCK_HDR);
	uint32_t nrows = rd32(hdr + 4);
	uint64_t plen = rd64(hdr + 8), index = rd64(hdr + 16), total = rd64(hdr + 24);
	uint32_t pcrc = rd32(hdr + 32);

	if (nrows == 0) {               /* end marker */
		if (plen != 0 || index != r->blocks || total != r->rows)
			return rfail(r, at, "end of table '%s' says %llu blocks and %llu rows, "
			             "but %llu and %llu were read (blocks lost)", r->schema->name,
			             (unsigned long long)index, (unsigned long long)total,
			             (unsigned long long)r->blocks, (unsigned long long)r->rows);
		r->in_table = 0;
		return 0;
	}
	if (index != r->blocks || total != r->rows + nrows)
		return rfail(r, at, "block %llu of table '%s' out of sequence (expected block %llu)",
		             (unsigned long long)index, r->schema->name,
		             (unsigned long long)r->blocks);
	if (plen % CF_ALIGN)
		return rfail(r, at, "bad block payload length %llu", (unsigned long long)plen);
	const unsigned char *pay = take(r, plen, &got);
	if (!pay)
		return truncated(r, at, "block payload");
	if (crc(0, pay, (size_t)plen) != pcrc)
		return rfail(r, at, "block checksum mismatch (corrupt stream)");
	if (layout(r, at, pay, plen, nrows) < 0)
		return -1;
	r->rows += nrows;
	r->blocks++;
	b->nrows = nrows;
	b->ncols = r->schema->ncols;
	b->col = r->colptr;
	if (r->map)
		read_progress(r);
	return 1;
}

const cf_schema *
cf_expect_table(cf_reader *r, const char *want)
{
	const cf_schema *s;
	int rc = cf_read_table(r, &s);

	if (rc < 0)
		cf_die("%s", r->err);
	if (rc == 0) {
		if (r->off == 0)
			cf_die("%s: %s: expected a '%s' table", r->name, cf_empty_input(r->fd), want);
		cf_die("%s: byte %llu: stream ended: expected a '%s' table", r->name,
		       (unsigned long long)r->off, want);
	}
	if (strcmp(s->name, want) != 0)
		cf_die("%s: byte %llu: expected a '%s' table, found '%s'", r->name,
		       (unsigned long long)(r->off), want, s->name);
	return s;
}

int
cf_read_end(cf_reader *r, const char *after)
{
	const cf_schema *s;
	int rc = cf_read_table(r, &s);

	if (rc <= 0)
		return rc;      /* the end, or the reader's own message (bytes that are no table) */
	return rfail(r, r->table_at, "a '%s' table after %s", s->name, after);
}

/* Appends block b to the contiguous columns of t (cf_read_all). */
static void
copy_block(cf_table *t, const cf_schema *s, const cf_block *b, size_t *cap,
           uint64_t *used, size_t *offcap)
{
	for (uint32_t i = 0; i < s->ncols; i++) {
		const cf_col *c = &s->cols[i];
		if (c->type == CF_STR) {
			const uint32_t *o = b->col[i];
			const char *bytes = (const char *)(o + b->nrows + 1);
			uint64_t base = t->nrows ? t->stroff[i][t->nrows] : 0;
			cf_grow((void **)&t->stroff[i], &offcap[i], t->nrows + b->nrows + 1, 8);
			t->stroff[i][0] = 0;
			for (uint32_t k = 0; k < b->nrows; k++)
				t->stroff[i][t->nrows + k + 1] = base + o[k + 1];
			cf_grow(&t->col[i], &cap[i], used[i] + o[b->nrows], 1);
			if (o[b->nrows])        /* col[i] is still NULL if all were empty */
				memcpy((char *)t->col[i] + used[i], bytes, o[b->nrows]);
			used[i] += o[b->nrows];
		} else {
			size_t sz = cf_type_size(c->type) * c->width;
			uint64_t n = (uint64_t)b->nrows * sz;
			cf_grow(&t->col[i], &cap[i], used[i] + n, 1);
			memcpy((char *)t->col[i] + used[i], b->col[i], n);
			used[i] += n;
		}
		t->owned[i] = 1;
	}
	t->nrows += b->nrows;
}

int
cf_read_all(cf_reader *r, cf_table *t)
{
	const cf_schema *s = r->schema;
	uint32_t nc = s->ncols;
	size_t *cap = cf_xcalloc(nc, sizeof *cap);
	uint64_t *used = cf_xcalloc(nc, sizeof *used);
	cf_block b;
	int rc, first = 1;

	memset(t, 0, sizeof *t);
	t->schema = cf_schema_copy(s);
	t->col = cf_xcalloc(nc, sizeof *t->col);
	t->stroff = cf_xcalloc(nc, sizeof *t->stroff);
	t->owned = cf_xcalloc(nc, 1);
	size_t offcap[nc ? nc : 1];
	memset(offcap, 0, sizeof offcap);
	while ((rc = cf_read_block(r, &b)) == 1) {
		/* One block of an mmapped file: point into the map, no copy. */
		if (first && r->map) {
			uint64_t at = r->off;
			const void *saved[nc ? nc : 1];
			cf_block nb;
			memcpy(saved, b.col, nc * sizeof *saved);
			b.col = saved;
			int nrc = cf_read_block(r, &nb);
			if (nrc < 0)
				goto fail;
			if (nrc == 0) {
				t->nrows = b.nrows;
				for (uint32_t i = 0; i < nc; i++) {
					if (s->cols[i].type == CF_STR) {
						const uint32_t *o = b.col[i];
						t->stroff[i] = cf_xmalloc(((size_t)b.nrows + 1) * 8);
						for (uint32_t k = 0; k <= b.nrows; k++)
							t->stroff[i][k] = o[k];
						t->col[i] = (void *)(o + b.nrows + 1);
					} else {
						t->col[i] = (void *)b.col[i];
					}
				}
				free(cap);
				free(used);
				return 0;
			}
			/*
			 * More than one block: copy them all.  Step back so the
			 * second block is read again by the loop; b still points
			 * into the map, so it is copied first.
			 */
			r->off = at;
			r->blocks--;
			r->rows -= nb.nrows;
			first = 0;
			copy_block(t, s, &b, cap, used, offcap);
			continue;
		}
		first = 0;
		copy_block(t, s, &b, cap, used, offcap);
	}
	if (rc < 0)
		goto fail;
	for (uint32_t i = 0; i < nc; i++) {
		if (s->cols[i].type == CF_STR && !t->stroff[i])
			t->stroff[i] = cf_xcalloc(1, 8);
		if (!t->col[i]) {
			t->col[i] = cf_xmalloc(1);
			t->owned[i] = 1;
		}
	}
	free(cap);
	free(used);
	return 0;
fail:
	free(cap);
	free(used);
	cf_table_free(t);
	return -1;
}

void
cf_table_free(cf_table *t)
{
	if (!t->schema)
		return;
	for (uint32_t i = 0; i < t->schema->ncols; i++) {
		if (t->owned[i])
			free(t->col[i]);
		free(t->stroff[i]);
	}
	free(t->col);
	free(t->stroff);
	free(t->owned);
	cf_schema_free(t->schema);
	memset(t, 0, sizeof *t);
}

/* ----------------------------------------------------------------- writer */

struct cf_writer {
	FILE *fp;
	char *name;
	int die;
	char err[512];
	cf_schema *schema;
	uint64_t rows, blocks;
	int progress;           /* to a regular file: "writing TABLE N" on a terminal */
	char what[80];
};

static int
wfail(cf_writer *w, const char *what)
{
	snprintf(w->err, sizeof w->err, "%s: %s: %s", w->name, what, strerror(errno));
	if (w->die) {
		/* A write error on stdout (a closed pipe: quietly), but not a
		 * refused table, whose reason would be lost. */
		if (w->fp == stdout && strcmp(what, "write error") == 0)
			cf_write_failed(w->name);
		cf_die("%s", w->err);
	}
	return -1;
}

cf_writer *
cf_writer_new(FILE *fp, const char *name)
{
	cf_writer *w;

	if (fp == stdout)
		cf_stdout_frames();     /* binary frames on a terminal: refused */
	w = cf_xcalloc(1, sizeof *w);
	w->fp = fp;
	struct stat st;
	int fd = fileno(fp);
	w->progress = fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && cf_progress_tty();
	w->name = cf_xstrdup(name);
	w->die = 1;
	return w;
}

void cf_writer_set_die(cf_writer *w, int die) { w->die = die; }
const char *cf_writer_error(const cf_writer *w) { return w->err; }

static int
put(cf_writer *w, const void *p, size_t n)
{
	if (n && fwrite(p, 1, n, w->fp) != n)
		return wfail(w, "write error");
	return 0;
}

static const unsigned char zeros[CF_ALIGN];

int
cf_write_table(cf_writer *w, const cf_schema *s)
{
	size_t len = 32 + pad8(strlen(s->name));
	unsigned char *h;
	size_t p, longest = strlen(s->name);   /* names and keys have 16-bit lengths */

	if (w->schema && cf_write_end(w) < 0)
		return -1;
	snprintf(w->what, sizeof w->what, "writing %s", s->name);
	for (uint32_t i = 0; i < s->ncols; i++) {
		len += 8 + pad8(strlen(s->cols[i].name));
		if (strlen(s->cols[i].name) > longest)
			longest = strlen(s->cols[i].name);
	}
	for (uint32_t i = 0; i < s->nattrs; i++) {
		len += 8 + pad8(strlen(s->attrs[i].key) + strlen(s->attrs[i].val));
		if (strlen(s->attrs[i].key) > longest)
			longest = strlen(s->attrs[i].key);
	}
	len = (size_t)pad64(len + 8);
	if (len > MAX_HEADER || s->ncols > MAX_COLS || longest > MAX_NAME) {
		errno = EINVAL;
		return wfail(w, "table header too large");
	}
	h = cf_xcalloc(1, len);
	memcpy(h, TABLE_MAGIC, 8);
	wr16(h + 8, CF_FRAME_VERSION);
	wr16(h + 10, 0);
	wr32(h + 12, (uint32_t)len);
	wr32(h + 16, s->ncols);
	wr32(h + 20, s->nattrs);
	wr16(h + 24, (uint16_t)strlen(s->name));
	p = 32;
	memcpy(h + p, s->name, strlen(s->name));
	p += pad8(strlen(s->name));
	for (uint32_t i = 0; i < s->ncols; i++) {
		size_t n = strlen(s->cols[i].name);
		h[p] = (unsigned char)s->cols[i].type;
		wr16(h + p + 2, (uint16_t)n);
		wr32(h + p + 4, s->cols[i].width);
		memcpy(h + p + 8, s->cols[i].name, n);
		p += 8 + pad8(n);
	}
	for (uint32_t i = 0; i < s->nattrs; i++) {
		size_t kl = strlen(s->attrs[i].key), vl = strlen(s->attrs[i].val);
		wr16(h + p, (uint16_t)kl);
		wr32(h + p + 4, (uint32_t)vl);
		memcpy(h + p + 8, s->attrs[i].key, kl);
		memcpy(h + p + 8 + kl, s->attrs[i].val, vl);
		p += 8 + pad8(kl + vl);
	}
	wr32(h + len - 8, crc(0, h, len - 8));
	int rc = put(w, h, len);
	free(h);
	if (rc < 0)
		return -1;
	cf_schema_free(w->schema);
	w->schema = cf_schema_copy(s);
	w->rows = w->blocks = 0;
	return 0;
}

static void
block_header(unsigned char *h, uint32_t nrows, uint64_t plen, uint64_t index,
             uint64_t total, uint32_t pcrc)
{
	memset(h, 0, BLOCK_HDR);
	memcpy(h, BLOCK_MAGIC, 4);
	wr32(h + 4, nrows);
	wr64(h + 8, plen);
	wr64(h + 16, index);
	wr64(h + 24, total);
	wr32(h + 32, pcrc);
	wr32(h + 56, crc(0, h, 56));
}

/* Size of column i's chunk before padding. */
static uint64_t
chunk_len(const cf_col *c, uint32_t nrows, const void *data, uint32_t *base)
{
	if (c->type == CF_STR) {
		const cf_strcol *sc = data;
		*base = sc->off[0];
		return ((uint64_t)nrows + 1) * 4 + (sc->off[nrows] - sc->off[0]);
	}
	return (uint64_t)nrows * c->width * cf_type_size(c->type);
}

int
cf_write_block(cf_writer *w, uint32_t nrows, const void *const *cols)
{
	const cf_schema *s = w->schema;
	uint64_t plen = 0;
	uint32_t pcrc = 0;
	unsigned char h[BLOCK_HDR];
	uint32_t tmp[256];

	if (!s) {
		errno = EINVAL;
		return wfail(w, "block written outside a table");
	}
	if (nrows == 0)
		return 0;
	/*
	 * First pass: lengths and the CRC (string offsets are rebased to 0,
	 * so the CRC is over the rebased values, as they are written).
	 */
	for (uint32_t i = 0; i < s->ncols; i++) {
		const cf_col *c = &s->cols[i];
		uint32_t base = 0;
		uint64_t n = chunk_len(c, nrows, cols[i], &base);
		if (c->type == CF_STR) {
			const cf_strcol *sc = cols[i];
			for (uint64_t k = 0; k <= nrows; k += 256) {
				uint32_t m = (uint32_t)(nrows + 1 - k < 256 ? nrows + 1 - k : 256);
				for (uint32_t j = 0; j < m; j++)
					tmp[j] = sc->off[k + j] - base;
				pcrc = crc(pcrc, tmp, (size_t)m * 4);
			}
			pcrc = crc(pcrc, sc->data + base, sc->off[nrows] - base);
		} else {
			pcrc = crc(pcrc, cols[i], (size_t)n);
		}
		pcrc = crc(pcrc, zeros, (size_t)(pad64(n) - n));
		plen += pad64(n);
	}
	block_header(h, nrows, plen, w->blocks, w->rows + nrows, pcrc);
	if (put(w, h, BLOCK_HDR) < 0)
		return -1;
	for (uint32_t i = 0; i < s->ncols; i++) {
		const cf_col *c = &s->cols[i];
		uint32_t base = 0;
		uint64_t n = chunk_len(c, nrows, cols[i], &base);
		if (c->type == CF_STR) {
			const cf_strcol *sc = cols[i];
			if (base == 0) {
				if (put(w, sc->off, ((size_t)nrows + 1) * 4) < 0)
					return -1;
			} else {
				for (uint64_t k = 0; k <= nrows; k += 256) {
					uint32_t m = (uint32_t)(nrows + 1 - k < 256 ? nrows + 1 - k : 256);
					for (uint32_t j = 0; j < m; j++)
						tmp[j] = sc->off[k + j] - base;
					if (put(w, tmp, (size_t)m * 4) < 0)
						return -1;
				}
			}
			if (put(w, sc->data + base, sc->off[nrows] - base) < 0)
				return -1;
		} else if (put(w, cols[i], (size_t)n) < 0) {
			return -1;
		}
		if (put(w, zeros, (size_t)(pad64(n) - n)) < 0)
			return -1;
	}
	w->rows += nrows;
	w->blocks++;
	if (w->progress)
		cf_progress_count_bg(w->what, w->rows, 0);
	return 0;
}

int
cf_write_end(cf_writer *w)
{
	unsigned char h[BLOCK_HDR];

	if (!w->schema)
		return 0;
	block_header(h, 0, 0, w->blocks, w->rows, 0);
	cf_schema_free(w->schema);
	w->schema = NULL;
	return put(w, h, BLOCK_HDR);
}

int
cf_writer_finish(cf_writer *w)
{
	int rc = cf_write_end(w);

	if (rc == 0 && fflush(w->fp) != 0)
		rc = wfail(w, "write error");
	free(w->name);
	cf_schema_free(w->schema);
	free(w);
	return rc;
}

/* ----------------------------------------------------------------- rowbuf */

struct cf_rowbuf {
	cf_writer *w;
	cf_schema *s;
	uint32_t cap, n;
	void **data;            /* numeric columns: cap * width values */
	uint32_t **off;         /* string columns: n + 1 offsets */
	char **bytes;           /* string columns: their bytes */
	size_t *bcap;
	cf_strcol *sc;
	const void **ptrs;
};

cf_rowbuf *
cf_rowbuf_new(cf_writer *w, const cf_schema *s, uint32_t block_rows)
{
	cf_rowbuf *b = cf_xcalloc(1, sizeof *b);
	uint32_t nc = s->ncols;

	b->w = w;
	b->s = cf_schema_copy(s);
	b->cap = block_rows ? block_rows : CF_BLOCK_ROWS;
	b->data = cf_xcalloc(nc, sizeof *b->data);
	b->off = cf_xcalloc(nc, sizeof *b->off);
	b->bytes = cf_xcalloc(nc, sizeof *b->bytes);
	b->bcap = cf_xcalloc(nc, sizeof *b->bcap);
	b->sc = cf_xcalloc(nc, sizeof *b->sc);
	b->ptrs = cf_xcalloc(nc, sizeof *b->ptrs);
	for (uint32_t i = 0; i < nc; i++) {
		const cf_col *c = &s->cols[i];
		if (c->type == CF_STR) {
			b->off[i] = cf_xcalloc((size_t)b->cap + 1, 4);
			b->bcap[i] = 16 * (size_t)b->cap;
			b->bytes[i] = cf_xmalloc(b->bcap[i]);
		} else {
			b->data[i] = cf_xcalloc((size_t)b->cap * c->width, cf_type_size(c->type));
		}
	}
	cf_write_table(w, s);
	return b;
}

static int
rowbuf_flush(cf_rowbuf *b)
{
	for (uint32_t i = 0; i < b->s->ncols; i++) {
		if (b->s->cols[i].type == CF_STR) {
			b->sc[i].off = b->off[i];
			b->sc[i].data = b->bytes[i];
			b->ptrs[i] = &b->sc[i];
		} else {
			b->ptrs[i] = b->data[i];
		}
	}
	int rc = cf_write_block(b->w, b->n, b->ptrs);
	b->n = 0;
	for (uint32_t i = 0; i < b->s->ncols; i++)
		if (b->s->cols[i].type == CF_STR)
			b->off[i][1] = 0;
	return rc;
}

void
cf_rowbuf_u32(cf_rowbuf *b, int col, uint32_t v)
{
	((uint32_t *)b->data[col])[b->n] = v;
}

void
cf_rowbuf_i64(cf_rowbuf *b, int col, int64_t v)
{
	((int64_t *)b->data[col])[b->n] = v;
}

void
cf_rowbuf_f32(cf_rowbuf *b, int col, float v)
{
	((float *)b->data[col])[b->n] = v;
}

void
cf_rowbuf_f64(cf_rowbuf *b, int col, double v)
{
	((double *)b->data[col])[b->n] = v;
}

void
cf_rowbuf_raw(cf_rowbuf *b, int col, const void *p)
{
	const cf_col *c = &b->s->cols[col];
	size_t sz = cf_type_size(c->type) * c->width;

	memcpy((char *)b->data[col] + (size_t)b->n * sz, p, sz);
}

void
cf_rowbuf_str(cf_rowbuf *b, int col, const char *s, size_t len)
{
	uint32_t *off = b->off[col];
	uint64_t at = off[b->n];

	/* Keep a block's string bytes under 4 GiB: its offsets are 32-bit. */
	if (at + len > UINT32_MAX)
		cf_die("%s: string data of one block over 4 GiB", b->w->name);
	if (at + len > b->bcap[col]) {
		size_t c = b->bcap[col];
		cf_grow((void **)&b->bytes[col], &c, (size_t)(at + len), 1);
		b->bcap[col] = c;
	}
	memcpy(b->bytes[col] + at, s, len);
	off[b->n + 1] = (uint32_t)(at + len);
}

int
cf_rowbuf_end_row(cf_rowbuf *b)
{
	b->n++;
	if (b->n == b->cap)
		return rowbuf_flush(b);
	/* Next row's strings start where this row's ended. */
	for (uint32_t i = 0; i < b->s->ncols; i++)
		if (b->s->cols[i].type == CF_STR)
			b->off[i][b->n + 1] = b->off[i][b->n];
	return 0;
}

int
cf_rowbuf_finish(cf_rowbuf *b)
{
	int rc = 0;

	if (b->n > 0)
		rc = rowbuf_flush(b);
	if (rc == 0)
		rc = cf_write_end(b->w);
	for (uint32_t i = 0; i < b->s->ncols; i++) {
		free(b->data[i]);
		free(b->off[i]);
		free(b->bytes[i]);
	}
	free(b->data);
	free(b->off);
	free(b->bytes);
	free(b->bcap);
	free(b->sc);
	free(b->ptrs);
	cf_schema_free(b->s);
	free(b);
	return rc;
}
