/*
 * test_frame.c - unit tests of the frame library (src/lib/frame.c) against
 * docs/frame-format.md: round trips of every type, schemas and attributes,
 * several tables per stream, multi-block tables, empty tables, both reader
 * code paths (read() from a pipe, mmap of a regular file), cf_read_all,
 * skipping, alignment, and error detection (truncation at every byte, every
 * single-bit flip, bad magic, versions, lost and reordered blocks).
 *
 * Streams are written to memory with open_memstream and read back through
 * a pipe (M_PIPE) or an unlinked temp file (M_FILE); most tests are loop
 * tests run once per mode.
 */
#include <check.h>

#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include "check_util.h"
#include "frame.h"
#include "util.h"

Suite *frame_suite(void);

enum { M_PIPE = 0, M_FILE = 1 };
static const char *const mode_name[] = {"pipe", "file"};

/* ------------------------------------------------------------ helpers */

/* An assertion that costs nothing when it holds (for hot loops). */
#define CHECK(cond, ...) do { if (!(cond)) ck_abort_msg(__VA_ARGS__); } while (0)

/* A stream being written to memory. */
typedef struct memout {
	char *buf;
	size_t len;
	FILE *fp;
	cf_writer *w;
} memout;

static cf_writer *
mo_open(memout *m)
{
	m->buf = NULL;
	m->len = 0;
	m->fp = open_memstream(&m->buf, &m->len);
	ck_assert_ptr_nonnull(m->fp);
	m->w = cf_writer_new(m->fp, "memout");
	return m->w;
}

/* Finishes the writer; m->buf/m->len hold the stream (free m->buf). */
static void
mo_close(memout *m)
{
	ck_assert_int_eq(cf_writer_finish(m->w), 0);
	ck_assert_int_eq(fclose(m->fp), 0);
	m->w = NULL;
	m->fp = NULL;
}

/* A stream being read back through a pipe or a temp file. */
typedef struct input {
	cf_reader *r;
	int wfd;
	int threaded;
	pthread_t th;
	const unsigned char *data;
	size_t len;
} input;

static void *
pipe_feeder(void *arg)
{
	input *in = arg;
	size_t done = 0;

	/* Odd-sized pieces, so the reader sees short reads mid-structure. */
	while (done < in->len) {
		size_t k = in->len - done < 1000 ? in->len - done : 1000;
		ssize_t n = write(in->wfd, in->data + done, k);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			break;          /* EPIPE: the reader stopped early */
		}
		done += (size_t)n;
	}
	close(in->wfd);
	return NULL;
}

static void
write_all(int fd, const void *p, size_t n)
{
	const unsigned char *b = p;

	while (n > 0) {
		ssize_t k = write(fd, b, n);
		if (k < 0 && errno == EINTR)
			continue;
		ck_assert_msg(k > 0, "write: %s", strerror(errno));
		b += k;
		n -= (size_t)k;
	}
}

static cf_reader *
in_open(input *in, const void *data, size_t len, int mode, const char *name)
{
	int fd;

	memset(in, 0, sizeof *in);
	in->data = data;
	in->len = len;
	if (mode == M_FILE) {
		char path[] = "/tmp/cf-unit-XXXXXX";
		fd = mkstemp(path);
		ck_assert_msg(fd >= 0, "mkstemp: %s", strerror(errno));
		unlink(path);
		write_all(fd, data, len);
		ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
	} else {
		int p[2];
		ck_assert_int_eq(pipe(p), 0);
		fd = p[0];
		in->wfd = p[1];
		if (len <= 4096) {      /* fits in any pipe buffer */
			write_all(in->wfd, data, len);
			close(in->wfd);
		} else {
			in->threaded = 1;
			ck_assert_int_eq(pthread_create(&in->th, NULL, pipe_feeder, in), 0);
		}
	}
	in->r = cf_reader_open(fd, name);
	ck_assert_ptr_nonnull(in->r);
	return in->r;
}

static void
in_close(input *in)
{
	cf_reader_close(in->r);         /* closes the fd: a blocked feeder gets EPIPE */
	in->r = NULL;
	if (in->threaded)
		pthread_join(in->th, NULL);
	in->threaded = 0;
}

/*
 * The reader's error must be "NAME: byte N: ..." with N <= maxoff, and
 * contain want (if not NULL).
 */
static void
check_err(const cf_reader *r, const char *name, uint64_t maxoff, const char *want)
{
	const char *e = cf_reader_error(r);
	size_t nl = strlen(name);
	char *end;
	unsigned long long off;

	CHECK(strncmp(e, name, nl) == 0 && strncmp(e + nl, ": byte ", 7) == 0,
	      "error does not name the stream and an offset: '%s'", e);
	off = strtoull(e + nl + 7, &end, 10);
	CHECK(*end == ':', "bad offset in '%s'", e);
	CHECK(off <= maxoff, "offset %llu beyond %llu in '%s'", off, (unsigned long long)maxoff, e);
	CHECK(!want || strstr(e, want) != NULL, "error '%s' lacks '%s'", e, want ? want : "");
	CHECK(strchr(e, '\n') == NULL, "multi-line error '%s'", e);
}

/*
 * Reads a whole stream: every table, every block (or with cf_read_all when
 * use_all).  Returns the number of tables, or -1 on the first error.
 */
static int
read_everything(cf_reader *r, int use_all, uint64_t *rows)
{
	const cf_schema *s;
	int n = 0, rc;

	if (rows)
		*rows = 0;
	while ((rc = cf_read_table(r, &s)) == 1) {
		n++;
		if (use_all) {
			cf_table t;
			if (cf_read_all(r, &t) < 0)
				return -1;
			if (rows)
				*rows += t.nrows;
			cf_table_free(&t);
		} else {
			cf_block b;
			while ((rc = cf_read_block(r, &b)) == 1)
				if (rows)
					*rows += b.nrows;
			if (rc < 0)
				return -1;
		}
	}
	return rc < 0 ? -1 : n;
}

static uint32_t
ld32(const unsigned char *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

static uint64_t
ld64(const unsigned char *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return v;
}

static void
st16(unsigned char *p, uint16_t v)
{
	memcpy(p, &v, 2);
}

static void
st32(unsigned char *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

static uint32_t
crc_of(const unsigned char *p, size_t n)
{
	return (uint32_t)crc32(0, p, (uInt)n);
}

/* ------------------------------------------------- the typed test table */

/*
 * NR rows of every type, with extreme values; numeric columns held as raw
 * bytes so comparisons are bitwise (NaN payloads must survive).
 */
#define NR 12
enum {
	C_U8, C_I32, C_U32, C_I64, C_U64, C_F32, C_F64, C_STR,
	C_VEC, C_RGB, C_PAIR, C_EMPTY, NC
};
static const struct {
	const char *name;
	cf_type type;
	uint32_t width;
} tcols[NC] = {
	{"u8", CF_U8, 1}, {"i32", CF_I32, 1}, {"u32", CF_U32, 1},
	{"i64", CF_I64, 1}, {"u64", CF_U64, 1}, {"f32", CF_F32, 1},
	{"f64", CF_F64, 1}, {"title", CF_STR, 1}, {"factors", CF_F32, 64},
	{"rgb", CF_U8, 3}, {"pair", CF_F64, 2}, {"nothing", CF_STR, 1},
};
static unsigned char *tnum[NC];         /* numeric columns: NR * width values */
static uint32_t toff[NC][NR + 1];       /* string columns */
static char *tstr[NC];
static char longstr[5000];

static void
set_f32(void *p, uint32_t bits)
{
	memcpy(p, &bits, 4);
}

static void
set_f64(void *p, uint64_t bits)
{
	memcpy(p, &bits, 8);
}

static void
typed_free(void)
{
	for (int c = 0; c < NC; c++) {
		free(tnum[c]);
		free(tstr[c]);
		tnum[c] = NULL;
		tstr[c] = NULL;
	}
}

static void
typed_init(void)
{
	static const uint8_t u8v[NR] = {0, 1, 127, 128, 254, 255, 7, 0, 255, 42, 3, 9};
	static const int32_t i32v[NR] = {INT32_MIN, -1, 0, 1, INT32_MAX, -2147483647,
	                                 123456789, -123456789, 65536, -65536, 2, 0};
	static const uint32_t u32v[NR] = {0, 1, UINT32_MAX, 0x80000000u, 0x7fffffffu,
	                                  4000000000u, 12, 0xdeadbeefu, 65535, 65536, 1, 0};
	static const int64_t i64v[NR] = {INT64_MIN, -1, 0, 1, INT64_MAX, INT64_MIN + 1,
	                                 1260759144, -1260759144, (int64_t)1 << 53,
	                                 -((int64_t)1 << 53) - 1, 4294967296LL, 0};
	static const uint64_t u64v[NR] = {0, 1, UINT64_MAX, (uint64_t)1 << 63, UINT32_MAX,
	                                  (uint64_t)UINT32_MAX + 1, 0x0123456789abcdefULL,
	                                  0xfedcba9876543210ULL, 10, 100, 1000, 0};
	static const uint32_t f32bits[NR] = {
		0x00000000, 0x80000000, 0x7f800000, 0xff800000, /* 0, -0, inf, -inf */
		0x7fc00000, 0x7fa00001, 0xffffffff, 0x7fc12345, /* quiet, signalling, payload NaNs */
		0x00000001, 0x7f7fffff, 0x3f800000, 0x40200000, /* denormal, FLT_MAX, 1, 2.5 */
	};
	static const uint64_t f64bits[NR] = {
		0x0000000000000000ULL, 0x8000000000000000ULL, 0x7ff0000000000000ULL,
		0xfff0000000000000ULL, 0x7ff8000000000000ULL, 0x7ff4000000000001ULL,
		0xffffffffffffffffULL, 0x7ff8dead0000beefULL, 0x0000000000000001ULL,
		0x7fefffffffffffffULL, 0x3ff0000000000000ULL, 0x3fb999999999999aULL,
	};
	/* Strings with NULs, non-ASCII UTF-8, CSV specials, empty, long. */
#define S(x) {x, sizeof x - 1}
	static const struct { const char *s; size_t n; } sv[NR] = {
		S(""), S("a"), S("a\0b"), S("h\xc3\xa9llo w\xc3\xb6rld \xe2\x9c\x93 "
		"\xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x8e\xac"), S("\0"),
		S("comma, \"quote\"\nnewline\r\t"), S(""), {NULL, sizeof longstr},
		S("Toy Story (1995)"), S(""), S("\xff\xfe not utf-8"), S("z"),
	};
#undef S

	typed_free();
	memset(longstr, 'L', sizeof longstr);
	longstr[17] = '\0';
	for (int c = 0; c < NC; c++) {
		if (tcols[c].type == CF_STR) {
			size_t total = 0;
			for (int i = 0; i < NR; i++)
				total += c == C_EMPTY ? 0 : sv[i].n;
			tstr[c] = cf_xmalloc(total);
			toff[c][0] = 0;
			for (int i = 0; i < NR; i++) {
				size_t n = c == C_EMPTY ? 0 : sv[i].n;
				if (n)
					memcpy(tstr[c] + toff[c][i], sv[i].s ? sv[i].s : longstr, n);
				toff[c][i + 1] = toff[c][i] + (uint32_t)n;
			}
		} else {
			size_t sz = cf_type_size(tcols[c].type) * tcols[c].width;
			tnum[c] = cf_xcalloc(NR, sz);
		}
	}
	for (int i = 0; i < NR; i++) {
		tnum[C_U8][i] = u8v[i];
		memcpy(tnum[C_I32] + 4 * i, &i32v[i], 4);
		memcpy(tnum[C_U32] + 4 * i, &u32v[i], 4);
		memcpy(tnum[C_I64] + 8 * i, &i64v[i], 8);
		memcpy(tnum[C_U64] + 8 * i, &u64v[i], 8);
		set_f32(tnum[C_F32] + 4 * i, f32bits[i]);
		set_f64(tnum[C_F64] + 8 * i, f64bits[i]);
		for (int k = 0; k < 64; k++) {
			float v = (float)(i * 64 + k) * 0.25f - 3.0f;
			memcpy(tnum[C_VEC] + 4 * (64 * i + k), &v, 4);
		}
		set_f32(tnum[C_VEC] + 4 * (64 * i + i), f32bits[(i + 4) % NR]);
		for (int k = 0; k < 3; k++)
			tnum[C_RGB][3 * i + k] = (unsigned char)(i * 20 + k * 100);
		set_f64(tnum[C_PAIR] + 16 * i, f64bits[i]);
		set_f64(tnum[C_PAIR] + 16 * i + 8, f64bits[NR - 1 - i]);
	}
}

static cf_schema *
typed_schema(const char *name)
{
	cf_schema *s = cf_schema_new(name);

	for (int c = 0; c < NC; c++)
		ck_assert_int_eq(cf_schema_add(s, tcols[c].name, tcols[c].type, tcols[c].width), c);
	cf_schema_set(s, "rating_min", "0.5");
	cf_schema_set(s, "dups", "keep");
	cf_schema_set(s, "empty", "");
	cf_schema_set(s, "k\xc3\xa9y", "v\xc3\xa4lue with spaces = and, commas");
	cf_schema_set(s, "rating_min", "1");  /* replaces */
	return s;
}

/* Writes rows [from, from + n) of the typed table as one block. */
static void
typed_block(cf_writer *w, uint32_t from, uint32_t n, int rebase)
{
	const void *cols[NC];
	cf_strcol sc[NC];
	uint32_t off[NC][NR + 1];

	for (int c = 0; c < NC; c++) {
		if (tcols[c].type == CF_STR) {
			if (rebase) {   /* offsets starting at 0 for this slice */
				for (uint32_t i = 0; i <= n; i++)
					off[c][i] = toff[c][from + i] - toff[c][from];
				sc[c].off = off[c];
				sc[c].data = tstr[c] + toff[c][from];
			} else {        /* the writer must rebase them itself */
				sc[c].off = &toff[c][from];
				sc[c].data = tstr[c];
			}
			cols[c] = &sc[c];
		} else {
			cols[c] = tnum[c] + (size_t)from * cf_type_size(tcols[c].type) * tcols[c].width;
		}
	}
	ck_assert_int_eq(cf_write_block(w, n, cols), 0);
}

static void
check_typed_schema(const cf_schema *s, const char *name)
{
	ck_assert_str_eq(s->name, name);
	ck_assert_uint_eq(s->ncols, NC);
	for (int c = 0; c < NC; c++) {
		ck_assert_str_eq(s->cols[c].name, tcols[c].name);
		ck_assert_int_eq(s->cols[c].type, tcols[c].type);
		ck_assert_uint_eq(s->cols[c].width, tcols[c].width);
		ck_assert_int_eq(cf_schema_col(s, tcols[c].name), c);
	}
	ck_assert_uint_eq(s->nattrs, 4);
	ck_assert_str_eq(cf_schema_get(s, "rating_min"), "1");
	ck_assert_str_eq(cf_schema_get(s, "dups"), "keep");
	ck_assert_str_eq(cf_schema_get(s, "empty"), "");
	ck_assert_str_eq(cf_schema_get(s, "k\xc3\xa9y"), "v\xc3\xa4lue with spaces = and, commas");
	ck_assert_ptr_null(cf_schema_get(s, "absent"));
	ck_assert_int_eq(cf_schema_col(s, "absent"), -1);
}

/* Row j of a block or table must equal typed row src. */
static void
check_typed_row(const void *const *col, uint64_t j, int src,
                const cf_block *b, const cf_table *t)
{
	for (int c = 0; c < NC; c++) {
		if (tcols[c].type == CF_STR) {
			size_t len;
			const char *p = b ? cf_str(b, c, (size_t)j, &len) : cf_table_str(t, c, j, &len);
			size_t want = toff[c][src + 1] - toff[c][src];
			ck_assert_msg(len == want, "col %s row %d: length %zu, want %zu",
			              tcols[c].name, src, len, want);
			ck_assert_msg(memcmp(p, tstr[c] + toff[c][src], len) == 0,
			              "col %s row %d: bytes differ", tcols[c].name, src);
		} else {
			size_t sz = cf_type_size(tcols[c].type) * tcols[c].width;
			ck_assert_msg(memcmp((const char *)col[c] + j * sz, tnum[c] + (size_t)src * sz, sz) == 0,
			              "col %s row %d: value differs", tcols[c].name, src);
		}
	}
}

/* ------------------------------------------------------------- schemas */

START_TEST(schema_basics)
{
	cf_schema *s = cf_schema_new("ratings"), *c;

	ck_assert_str_eq(s->name, "ratings");
	ck_assert_uint_eq(s->ncols, 0);
	ck_assert_int_eq(cf_schema_add(s, "user", CF_STR, 1), 0);
	ck_assert_int_eq(cf_schema_add(s, "rating", CF_F32, 0), 1);  /* width 0 means 1 */
	ck_assert_int_eq(cf_schema_add(s, "v", CF_F32, 64), 2);
	ck_assert_uint_eq(s->cols[1].width, 1);
	ck_assert_uint_eq(s->cols[2].width, 64);
	cf_schema_set(s, "a", "1");
	cf_schema_set(s, "b", "2");
	cf_schema_set(s, "a", "3");
	ck_assert_uint_eq(s->nattrs, 2);
	ck_assert_str_eq(cf_schema_get(s, "a"), "3");
	ck_assert_str_eq(s->attrs[0].key, "a");  /* replaced in place */
	ck_assert_str_eq(cf_schema_get(s, "b"), "2");
	ck_assert_ptr_null(cf_schema_get(s, "c"));
	ck_assert_int_eq(cf_schema_col(s, "v"), 2);
	ck_assert_int_eq(cf_schema_col(s, "V"), -1);
	c = cf_schema_copy(s);
	cf_schema_free(s);
	ck_assert_str_eq(c->name, "ratings");
	ck_assert_uint_eq(c->ncols, 3);
	ck_assert_str_eq(c->cols[2].name, "v");
	ck_assert_int_eq(c->cols[2].type, CF_F32);
	ck_assert_uint_eq(c->cols[2].width, 64);
	ck_assert_str_eq(cf_schema_get(c, "a"), "3");
	cf_schema_free(c);
	cf_schema_free(NULL);
}
END_TEST

START_TEST(type_names)
{
	static const char *names[] = {NULL, "u8", "i32", "u32", "i64", "u64", "f32", "f64", "str"};
	static const size_t sizes[] = {0, 1, 4, 4, 8, 8, 4, 8, 0};

	for (int t = CF_U8; t <= CF_STR; t++) {
		ck_assert_str_eq(cf_type_name((cf_type)t), names[t]);
		ck_assert_uint_eq(cf_type_size((cf_type)t), sizes[t]);
	}
	ck_assert_str_eq(cf_type_name((cf_type)0), "?");
	ck_assert_str_eq(cf_type_name((cf_type)9), "?");
	ck_assert_uint_eq(cf_type_size((cf_type)9), 0);
}
END_TEST

/* The layout of a tiny stream, byte by byte, against the spec. */
START_TEST(layout_bytes)
{
	memout m;
	cf_writer *w = mo_open(&m);
	cf_schema *s = cf_schema_new("t");
	uint32_t v[2] = {7, 9};
	const void *cols[1] = {v};
	const unsigned char *b;
	static const unsigned char magic[8] = {0x89, 'C', 'F', 'R', '\r', '\n', 0x1a, '\n'};

	cf_schema_add(s, "x", CF_U32, 1);
	cf_schema_set(s, "k", "vv");
	ck_assert_int_eq(cf_write_table(w, s), 0);
	ck_assert_int_eq(cf_write_block(w, 2, cols), 0);
	ck_assert_int_eq(cf_write_block(w, 0, cols), 0);       /* no-op */
	mo_close(&m);
	cf_schema_free(s);
	b = (const unsigned char *)m.buf;
	/* header: 32 + name 8 + col 16 + attr 16 + crc 8 = 80 -> 128 */
	ck_assert_uint_eq(m.len, 128 + 64 + 64 + 64);
	ck_assert(memcmp(b, magic, 8) == 0);
	ck_assert_uint_eq(b[8] | b[9] << 8, 1);
	ck_assert_uint_eq(ld32(b + 12), 128);
	ck_assert_uint_eq(ld32(b + 16), 1);
	ck_assert_uint_eq(ld32(b + 20), 1);
	ck_assert_uint_eq(b[24] | b[25] << 8, 1);
	ck_assert_int_eq(b[32], 't');
	ck_assert_int_eq(b[40], CF_U32);
	ck_assert_uint_eq(ld32(b + 44), 1);
	ck_assert_int_eq(b[48], 'x');
	ck_assert_uint_eq(b[56] | b[57] << 8, 1);
	ck_assert_uint_eq(ld32(b + 60), 2);
	ck_assert(memcmp(b + 64, "kvv", 3) == 0);
	for (int i = 72; i < 120; i++)
		ck_assert_int_eq(b[i], 0);
	ck_assert_uint_eq(ld32(b + 120), crc_of(b, 120));
	ck_assert_uint_eq(ld32(b + 124), 0);
	b += 128;                       /* the block */
	ck_assert(memcmp(b, "CFBK", 4) == 0);
	ck_assert_uint_eq(ld32(b + 4), 2);
	ck_assert_uint_eq(ld64(b + 8), 64);
	ck_assert_uint_eq(ld64(b + 16), 0);
	ck_assert_uint_eq(ld64(b + 24), 2);
	ck_assert_uint_eq(ld32(b + 32), crc_of(b + 64, 64));
	ck_assert_uint_eq(ld32(b + 56), crc_of(b, 56));
	ck_assert_uint_eq(ld32(b + 64), 7);
	ck_assert_uint_eq(ld32(b + 68), 9);
	b += 128;                       /* the end marker */
	ck_assert(memcmp(b, "CFBK", 4) == 0);
	ck_assert_uint_eq(ld32(b + 4), 0);
	ck_assert_uint_eq(ld64(b + 8), 0);
	ck_assert_uint_eq(ld64(b + 16), 1);
	ck_assert_uint_eq(ld64(b + 24), 2);
	ck_assert_uint_eq(ld32(b + 32), 0);
	ck_assert_uint_eq(ld32(b + 56), crc_of(b, 56));
	free(m.buf);
}
END_TEST

START_TEST(crc_reference)
{
	/* The spec's check value: the library's CRC is zlib's. */
	ck_assert_uint_eq(crc_of((const unsigned char *)"123456789", 9), 0xCBF43926u);
}
END_TEST

/* ---------------------------------------------------------- round trips */

/*
 * A stream of: "types" (rows 0..NR, then rows 3..NR, two blocks), "single"
 * (rows 0..NR, one block), "empty" (no rows), "nocols" (5 rows, no columns).
 */
static void
typed_stream(memout *m, int variant)
{
	cf_writer *w = mo_open(m);
	cf_schema *s;

	typed_init();
	s = typed_schema("types");
	ck_assert_int_eq(cf_write_table(w, s), 0);
	typed_block(w, 0, NR, 0);
	typed_block(w, 3, NR - 3, variant);
	cf_schema_free(s);
	s = typed_schema("single");
	ck_assert_int_eq(cf_write_table(w, s), 0);  /* ends "types" itself */
	typed_block(w, 0, NR, 1);
	ck_assert_int_eq(cf_write_end(w), 0);
	ck_assert_int_eq(cf_write_end(w), 0);       /* no table open: no-op */
	cf_schema_free(s);
	s = typed_schema("empty");
	ck_assert_int_eq(cf_write_table(w, s), 0);
	ck_assert_int_eq(cf_write_end(w), 0);
	cf_schema_free(s);
	s = cf_schema_new("nocols");
	ck_assert_int_eq(cf_write_table(w, s), 0);
	ck_assert_int_eq(cf_write_block(w, 5, NULL), 0);
	cf_schema_free(s);
	mo_close(m);                                /* ends "nocols" */
}

static int
typed_src(const char *table, uint64_t j)
{
	if (strcmp(table, "types") == 0 && j >= NR)
		return (int)(j - NR + 3);
	return (int)j;
}

START_TEST(roundtrip_blocks)
{
	memout m;
	input in;
	cf_reader *r;
	const cf_schema *s;
	cf_block b;
	int mode = _i;

	typed_stream(&m, _i);
	r = in_open(&in, m.buf, m.len, mode, "typed.cf");
	cf_reader_set_die(r, 0);
	ck_assert_str_eq(cf_reader_name(r), "typed.cf");
	ck_assert_uint_eq(cf_reader_offset(r), 0);

	/* types: two blocks */
	ck_assert_int_eq(cf_read_table(r, &s), 1);
	check_typed_schema(s, "types");
	ck_assert_uint_eq(cf_reader_rows(r), 0);
	ck_assert_int_eq(cf_read_block(r, &b), 1);
	ck_assert_uint_eq(b.nrows, NR);
	ck_assert_uint_eq(b.ncols, NC);
	for (uint32_t j = 0; j < b.nrows; j++)
		check_typed_row(b.col, j, (int)j, &b, NULL);
	ck_assert_uint_eq(cf_reader_rows(r), NR);
	ck_assert_int_eq(cf_read_block(r, &b), 1);
	ck_assert_uint_eq(b.nrows, NR - 3);
	for (uint32_t j = 0; j < b.nrows; j++)
		check_typed_row(b.col, j, (int)j + 3, &b, NULL);
	ck_assert_uint_eq(cf_reader_rows(r), 2 * NR - 3);
	ck_assert_int_eq(cf_read_block(r, &b), 0);
	ck_assert_int_eq(cf_read_block(r, &b), 0);  /* stays at the end */

	/* single */
	ck_assert_int_eq(cf_read_table(r, &s), 1);
	check_typed_schema(s, "single");
	ck_assert_int_eq(cf_read_block(r, &b), 1);
	for (uint32_t j = 0; j < b.nrows; j++)
		check_typed_row(b.col, j, (int)j, &b, NULL);
	ck_assert_int_eq(cf_read_block(r, &b), 0);

	/* empty */
	ck_assert_int_eq(cf_read_table(r, &s), 1);
	check_typed_schema(s, "empty");
	ck_assert_int_eq(cf_read_block(r, &b), 0);
	ck_assert_uint_eq(cf_reader_rows(r), 0);

	/* nocols */
	ck_assert_int_eq(cf_read_table(r, &s), 1);
	ck_assert_str_eq(s->name, "nocols");
	ck_assert_uint_eq(s->ncols, 0);
	ck_assert_uint_eq(s->nattrs, 0);
	ck_assert_int_eq(cf_read_block(r, &b), 1);
	ck_assert_uint_eq(b.nrows, 5);
	ck_assert_int_eq(cf_read_block(r, &b), 0);

	ck_assert_int_eq(cf_read_table(r, &s), 0);  /* clean end */
	ck_assert_int_eq(cf_read_table(r, &s), 0);  /* and stays there */
	ck_assert_uint_eq(cf_reader_offset(r), m.len);
	in_close(&in);
	free(m.buf);
	typed_free();
}
END_TEST

START_TEST(roundtrip_read_all)
{
	memout m;
	input in;
	cf_reader *r;
	const cf_schema *s;
	cf_table t;
	int mode = _i;
	static const char *names[] = {"types", "single", "empty", "nocols"};
	static const uint64_t nrows[] = {2 * NR - 3, NR, 0, 5};

	typed_stream(&m, _i);
	r = in_open(&in, m.buf, m.len, mode, "typed.cf");
	cf_reader_set_die(r, 0);
	for (int k = 0; k < 4; k++) {
		ck_assert_int_eq(cf_read_table(r, &s), 1);
		ck_assert_str_eq(s->name, names[k]);
		ck_assert_int_eq(cf_read_all(r, &t), 0);
		ck_assert_str_eq(t.schema->name, names[k]);
		ck_assert_uint_eq(t.nrows, nrows[k]);
		if (k == 3) {
			ck_assert_uint_eq(t.schema->ncols, 0);
			cf_table_free(&t);
			continue;
		}
		check_typed_schema(t.schema, names[k]);
		for (uint64_t j = 0; j < t.nrows; j++)
			check_typed_row((const void *const *)t.col, j, typed_src(names[k], j), NULL, &t);
		for (int c = 0; c < NC; c++) {
			if (tcols[c].type == CF_STR) {
				ck_assert_ptr_nonnull(t.stroff[c]);
				ck_assert_uint_eq(t.stroff[c][0], 0);
			} else {
				ck_assert_ptr_null(t.stroff[c]);
			}
			ck_assert_ptr_nonnull(t.col[c]);
			/* Zero-copy exactly when one block of an mmapped file. */
			if (mode == M_FILE && k == 1) {
				ck_assert_msg(!t.owned[c], "column %d of a one-block mmapped table copied", c);
				if (tcols[c].type != CF_STR)
					ck_assert_uint_eq((uintptr_t)t.col[c] % CF_ALIGN, 0);
			} else if (k != 2) {
				ck_assert_msg(t.owned[c], "column %d not owned", c);
			}
		}
		cf_table_free(&t);
		cf_table_free(&t);              /* second free is harmless */
	}
	ck_assert_int_eq(cf_read_table(r, &s), 0);
	in_close(&in);
	free(m.buf);
	typed_free();
}
END_TEST

/* cf_read_all after some blocks were read by hand: it reads the rest. */
START_TEST(read_all_rest)
{
	memout m;
	input in;
	cf_reader *r;
	const cf_schema *s;
	cf_block b;
	cf_table t;

	typed_stream(&m, _i);
	r = in_open(&in, m.buf, m.len, _i, "typed.cf");
	ck_assert_int_eq(cf_read_table(r, &s), 1);
	ck_assert_int_eq(cf_read_block(r, &b), 1);
	ck_assert_int_eq(cf_read_all(r, &t), 0);
	ck_assert_uint_eq(t.nrows, NR - 3);
	for (uint64_t j = 0; j < t.nrows; j++)
		check_typed_row((const void *const *)t.col, j, (int)j + 3, NULL, &t);
	cf_table_free(&t);
	ck_assert_int_eq(cf_read_table(r, &s), 1);
	ck_assert_str_eq(s->name, "single");
	in_close(&in);
	free(m.buf);
	typed_free();
}
END_TEST

/* cf_read_table skips what was not read, and still verifies it. */
START_TEST(skip_tables)
{
	memout m;
	input in;
	cf_reader *r;
	const cf_schema *s;
	cf_block b;
	int mode = _i;

	typed_stream(&m, _i);
	/* Read one block of "types", skip the rest; skip "single" entirely. */
	r = in_open(&in, m.buf, m.len, mode, "skip.cf");
	cf_reader_set_die(r, 0);
	ck_assert_int_eq(cf_read_table(r, &s), 1);
	ck_assert_int_eq(cf_read_block(r, &b), 1);
	ck_assert_int_eq(cf_read_table(r, &s), 1);
	ck_assert_str_eq(s->name, "single");
	ck_assert_int_eq(cf_read_table(r, &s), 1);
	ck_assert_str_eq(s->name, "empty");
	ck_assert_int_eq(cf_read_table(r, &s), 1);
	ck_assert_str_eq(s->name, "nocols");
	ck_assert_int_eq(cf_read_table(r, &s), 0);
	in_close(&in);

	/* Damage the payload of the second block of "types": a skip must see it. */
	{
		const unsigned char *p = (const unsigned char *)m.buf;
		uint32_t hl = ld32(p + 12);
		uint64_t b1 = hl + 64 + ld64(p + hl + 8);       /* second block */
		m.buf[b1 + 64 + 10] ^= 0x10;
		r = in_open(&in, m.buf, m.len, mode, "skip.cf");
		cf_reader_set_die(r, 0);
		ck_assert_int_eq(cf_read_table(r, &s), 1);
		ck_assert_int_eq(cf_read_table(r, &s), -1);
		check_err(r, "skip.cf", m.len, "checksum");
		in_close(&in);
	}
	free(m.buf);
	typed_free();
}
END_TEST

/* Every column pointer from an mmapped file is 64-byte aligned. */
START_TEST(mmap_alignment)
{
	memout m;
	input in;
	cf_reader *r;
	const cf_schema *s;
	cf_block b;
	int blocks = 0;

	typed_stream(&m, _i);
	r = in_open(&in, m.buf, m.len, M_FILE, "align.cf");
	while (cf_read_table(r, &s) == 1) {
		while (cf_read_block(r, &b) == 1) {
			blocks++;
			for (uint32_t c = 0; c < b.ncols; c++)
				ck_assert_msg((uintptr_t)b.col[c] % CF_ALIGN == 0,
				              "table %s column %u at %p", s->name, c, b.col[c]);
		}
	}
	ck_assert_int_eq(blocks, 4);
	in_close(&in);
	free(m.buf);
	typed_free();
}
END_TEST

/*
 * cf_rowbuf: 100 rows in blocks of 7 (block boundaries inside the data),
 * a string column with empty strings (also at the end and start of blocks).
 */
#define RB_ROWS 100
static const char *
rb_name(int i, char *buf)
{
	if (i % 3 == 0 || i % 7 == 6)
		return "";
	int n = snprintf(buf, 64, "name-%d", i);
	for (int k = 0; k < i % 4; k++)
		n += snprintf(buf + n, 64 - (size_t)n, "~\xc3\xa9");
	return buf;
}

static void
rowbuf_stream(memout *m, int nrows, uint32_t block_rows)
{
	cf_writer *w = mo_open(m);
	cf_schema *s = cf_schema_new("rows");
	cf_rowbuf *rb;
	char buf[64];

	cf_schema_add(s, "id", CF_U32, 1);
	cf_schema_add(s, "name", CF_STR, 1);
	cf_schema_add(s, "t", CF_I64, 1);
	cf_schema_add(s, "r", CF_F32, 1);
	cf_schema_add(s, "d", CF_F64, 1);
	cf_schema_add(s, "v", CF_F32, 3);
	cf_schema_add(s, "b", CF_U8, 1);
	cf_schema_add(s, "tag", CF_STR, 1);
	cf_schema_set(s, "dups", "latest");
	rb = cf_rowbuf_new(w, s, block_rows);
	for (int i = 0; i < nrows; i++) {
		float v[3] = {(float)i, -(float)i, 0.5f * (float)i};
		unsigned char u = (unsigned char)i;
		const char *nm = rb_name(i, buf);
		cf_rowbuf_u32(rb, 0, (uint32_t)i * 3u);
		cf_rowbuf_str(rb, 1, nm, strlen(nm));
		cf_rowbuf_i64(rb, 2, (int64_t)i * -1000000007LL);
		cf_rowbuf_f32(rb, 3, (float)i * 0.5f);
		cf_rowbuf_f64(rb, 4, (double)i / 3.0);
		cf_rowbuf_raw(rb, 5, v);
		cf_rowbuf_raw(rb, 6, &u);
		if (i % 2)      /* "tag" left unset on even rows: empty */
			cf_rowbuf_str(rb, 7, "t", 1);
		ck_assert_int_eq(cf_rowbuf_end_row(rb), 0);
	}
	ck_assert_int_eq(cf_rowbuf_finish(rb), 0);
	cf_schema_free(s);
	mo_close(m);
}

static void
check_rowbuf_row(int i, uint32_t id, const char *nm, size_t nlen, int64_t t, float r,
                 double d, const float *v, unsigned char u, size_t taglen)
{
	char buf[64];
	const char *want = rb_name(i, buf);

	/* Plain tests, not ck_assert: Check records a mark point per assert. */
	CHECK(id == (uint32_t)i * 3u, "row %d: id %u", i, id);
	CHECK(nlen == strlen(want) && memcmp(nm, want, nlen) == 0, "row %d: name", i);
	CHECK(t == (int64_t)i * -1000000007LL, "row %d: t", i);
	CHECK(r == (float)i * 0.5f, "row %d: r", i);
	CHECK(d == (double)i / 3.0, "row %d: d", i);
	CHECK(v[0] == (float)i && v[1] == -(float)i && v[2] == 0.5f * (float)i, "row %d: v", i);
	CHECK(u == (unsigned char)i, "row %d: b", i);
	CHECK(taglen == (size_t)(i % 2), "row %d: tag length %zu", i, taglen);
}

static void
check_rowbuf_stream(const memout *m, int mode, int nrows, uint32_t block_rows)
{
	input in;
	cf_reader *r = in_open(&in, m->buf, m->len, mode, "rowbuf.cf");
	const cf_schema *s;
	cf_block b;
	cf_table t;
	int row = 0, blocks = 0;

	cf_reader_set_die(r, 0);
	ck_assert_int_eq(cf_read_table(r, &s), 1);
	ck_assert_str_eq(s->name, "rows");
	ck_assert_str_eq(cf_schema_get(s, "dups"), "latest");
	while (cf_read_block(r, &b) == 1) {
		uint32_t want = (uint32_t)nrows - (uint32_t)row < block_rows ?
		                (uint32_t)nrows - (uint32_t)row : block_rows;
		ck_assert_uint_eq(b.nrows, want);
		for (uint32_t j = 0; j < b.nrows; j++, row++) {
			size_t nl, tl;
			const char *nm = cf_str(&b, 1, j, &nl);
			cf_str(&b, 7, j, &tl);
			check_rowbuf_row(row, ((const uint32_t *)b.col[0])[j], nm, nl,
			                 ((const int64_t *)b.col[2])[j], ((const float *)b.col[3])[j],
			                 ((const double *)b.col[4])[j], (const float *)b.col[5] + 3 * j,
			                 ((const unsigned char *)b.col[6])[j], tl);
		}
		blocks++;
	}
	ck_assert_int_eq(row, nrows);
	ck_assert_int_eq(blocks, (int)((uint32_t)nrows + block_rows - 1) / (int)block_rows);
	ck_assert_int_eq(cf_read_table(r, &s), 0);
	in_close(&in);

	r = in_open(&in, m->buf, m->len, mode, "rowbuf.cf");
	ck_assert_int_eq(cf_read_table(r, &s), 1);
	ck_assert_int_eq(cf_read_all(r, &t), 0);
	ck_assert_uint_eq(t.nrows, (uint64_t)nrows);
	ck_assert_uint_eq(t.stroff[1][0], 0);
	for (int i = 0; i < nrows; i++) {
		size_t nl, tl;
		const char *nm = cf_table_str(&t, 1, (uint64_t)i, &nl);
		cf_table_str(&t, 7, (uint64_t)i, &tl);
		check_rowbuf_row(i, ((const uint32_t *)t.col[0])[i], nm, nl,
		                 ((const int64_t *)t.col[2])[i], ((const float *)t.col[3])[i],
		                 ((const double *)t.col[4])[i], (const float *)t.col[5] + 3 * i,
		                 ((const unsigned char *)t.col[6])[i], tl);
	}
	cf_table_free(&t);
	ck_assert_int_eq(cf_read_table(r, &s), 0);
	in_close(&in);
}

START_TEST(rowbuf_blocks)
{
	static const struct { int rows; uint32_t block; } cases[] = {
		{RB_ROWS, 7}, {98, 7}, {1, 7}, {7, 7}, {8, 7}, {RB_ROWS, 1},
		{RB_ROWS, 1000}, {0, 7},
	};

	for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
		memout m;
		rowbuf_stream(&m, cases[k].rows, cases[k].block);
		check_rowbuf_stream(&m, _i, cases[k].rows, cases[k].block);
		free(m.buf);
	}
}
END_TEST

/* The tools' block size, a stream bigger than a pipe buffer, growing string buffers. */
START_TEST(rowbuf_large)
{
	memout m;
	int n = 150000;

	rowbuf_stream(&m, n, CF_BLOCK_ROWS);
	check_rowbuf_stream(&m, _i, n, CF_BLOCK_ROWS);
	free(m.buf);
}
END_TEST

/* Strings bigger than the rowbuf's initial byte buffer. */
START_TEST(rowbuf_long_strings)
{
	memout m;
	cf_writer *w = mo_open(&m);
	cf_schema *s = cf_schema_new("long");
	cf_rowbuf *rb;
	size_t big = 100000;
	char *str = cf_xmalloc(big);
	input in;
	cf_reader *r;
	cf_table t;
	const cf_schema *rs;

	for (size_t i = 0; i < big; i++)
		str[i] = (char)('a' + i % 26);
	cf_schema_add(s, "s", CF_STR, 1);
	rb = cf_rowbuf_new(w, s, 4);        /* 64 bytes of string buffer */
	for (int i = 0; i < 10; i++) {
		cf_rowbuf_str(rb, 0, str, big - (size_t)i * 1000);
		ck_assert_int_eq(cf_rowbuf_end_row(rb), 0);
	}
	ck_assert_int_eq(cf_rowbuf_finish(rb), 0);
	cf_schema_free(s);
	mo_close(&m);
	r = in_open(&in, m.buf, m.len, _i, "long.cf");
	ck_assert_int_eq(cf_read_table(r, &rs), 1);
	ck_assert_int_eq(cf_read_all(r, &t), 0);
	ck_assert_uint_eq(t.nrows, 10);
	for (int i = 0; i < 10; i++) {
		size_t len;
		const char *p = cf_table_str(&t, 0, (uint64_t)i, &len);
		ck_assert_uint_eq(len, big - (size_t)i * 1000);
		ck_assert(memcmp(p, str, len) == 0);
	}
	cf_table_free(&t);
	in_close(&in);
	free(m.buf);
	free(str);
}
END_TEST

/* A factor matrix as one big block: zero-copy and aligned when mmapped. */
START_TEST(matrix_single_block)
{
	memout m;
	cf_writer *w = mo_open(&m);
	cf_schema *s = cf_schema_new("factors");
	uint32_t n = 5000, k = 64;
	float *f = cf_xmalloc((size_t)n * k * sizeof *f);
	uint32_t *id = cf_xmalloc(n * sizeof *id);
	const void *cols[2] = {id, f};
	input in;
	cf_reader *r;
	cf_table t;
	const cf_schema *rs;

	for (uint32_t i = 0; i < n; i++) {
		id[i] = i;
		for (uint32_t j = 0; j < k; j++)
			f[(size_t)i * k + j] = (float)i - (float)j / 64.0f;
	}
	cf_schema_add(s, "id", CF_U32, 1);
	cf_schema_add(s, "f", CF_F32, k);
	cf_schema_set(s, "k", "64");
	ck_assert_int_eq(cf_write_table(w, s), 0);
	ck_assert_int_eq(cf_write_block(w, n, cols), 0);
	cf_schema_free(s);
	mo_close(&m);
	r = in_open(&in, m.buf, m.len, _i, "factors.cf");
	ck_assert_int_eq(cf_read_table(r, &rs), 1);
	ck_assert_str_eq(cf_schema_get(rs, "k"), "64");
	ck_assert_int_eq(cf_read_all(r, &t), 0);
	ck_assert_uint_eq(t.nrows, n);
	ck_assert(memcmp(t.col[0], id, n * sizeof *id) == 0);
	ck_assert(memcmp(t.col[1], f, (size_t)n * k * sizeof *f) == 0);
	if (_i == M_FILE) {
		ck_assert(!t.owned[0] && !t.owned[1]);
		ck_assert_uint_eq((uintptr_t)t.col[1] % CF_ALIGN, 0);
	}
	cf_table_free(&t);
	ck_assert_int_eq(cf_read_table(r, &rs), 0);
	in_close(&in);
	free(m.buf);
	free(f);
	free(id);
}
END_TEST

START_TEST(empty_input)
{
	input in;
	cf_reader *r = in_open(&in, "", 0, _i, "empty");
	const cf_schema *s;

	cf_reader_set_die(r, 0);
	ck_assert_int_eq(cf_read_table(r, &s), 0);
	ck_assert_int_eq(cf_read_table(r, &s), 0);
	in_close(&in);
}
END_TEST

/* A table with no rows, read whole: valid empty columns. */
START_TEST(empty_table_read_all)
{
	memout m;
	cf_writer *w = mo_open(&m);
	cf_schema *s = cf_schema_new("ratings");
	input in;
	cf_reader *r;
	const cf_schema *rs;
	cf_table t;

	cf_schema_add(s, "user", CF_STR, 1);
	cf_schema_add(s, "rating", CF_F32, 1);
	ck_assert_int_eq(cf_write_table(w, s), 0);
	cf_schema_free(s);
	mo_close(&m);
	ck_assert_uint_eq(m.len, 128 + 64);
	r = in_open(&in, m.buf, m.len, _i, "e.cf");
	ck_assert_int_eq(cf_read_table(r, &rs), 1);
	ck_assert_int_eq(cf_read_all(r, &t), 0);
	ck_assert_uint_eq(t.nrows, 0);
	ck_assert_ptr_nonnull(t.stroff[0]);
	ck_assert_uint_eq(t.stroff[0][0], 0);
	ck_assert_ptr_nonnull(t.col[0]);
	ck_assert_ptr_nonnull(t.col[1]);
	cf_table_free(&t);
	ck_assert_int_eq(cf_read_table(r, &rs), 0);
	in_close(&in);
	free(m.buf);
}
END_TEST

/* ---------------------------------------------------------------- errors */

/*
 * The small 2-table stream of the error tests: "ratings" (3 rows in blocks
 * of 2) and "items" (2 rows, one block).  *boundary is the end of table 1.
 */
static void
small_stream(memout *m, size_t *boundary)
{
	cf_writer *w = mo_open(m);
	cf_schema *s = cf_schema_new("ratings");
	cf_rowbuf *rb;
	static const char *users[] = {"1", "", "\xc3\xa9t\xc3\xa9"};

	cf_schema_add(s, "user", CF_STR, 1);
	cf_schema_add(s, "item", CF_U32, 1);
	cf_schema_add(s, "rating", CF_F32, 1);
	cf_schema_set(s, "dups", "latest");
	rb = cf_rowbuf_new(w, s, 2);
	for (int i = 0; i < 3; i++) {
		cf_rowbuf_str(rb, 0, users[i], strlen(users[i]));
		cf_rowbuf_u32(rb, 1, (uint32_t)i + 10);
		cf_rowbuf_f32(rb, 2, 0.5f + (float)i);
		ck_assert_int_eq(cf_rowbuf_end_row(rb), 0);
	}
	ck_assert_int_eq(cf_rowbuf_finish(rb), 0);
	cf_schema_free(s);
	fflush(m->fp);
	*boundary = m->len;
	s = cf_schema_new("items");
	cf_schema_add(s, "id", CF_STR, 1);
	rb = cf_rowbuf_new(w, s, 0);
	cf_rowbuf_str(rb, 0, "tt0114709", 9);
	ck_assert_int_eq(cf_rowbuf_end_row(rb), 0);
	ck_assert_int_eq(cf_rowbuf_end_row(rb), 0);   /* an empty id */
	ck_assert_int_eq(cf_rowbuf_finish(rb), 0);
	cf_schema_free(s);
	mo_close(m);
}

START_TEST(small_stream_ok)
{
	memout m;
	size_t boundary;
	input in;
	cf_reader *r;
	uint64_t rows;

	small_stream(&m, &boundary);
	ck_assert_uint_eq(boundary, 704);
	ck_assert_uint_eq(m.len, boundary + 256);
	for (int all = 0; all < 2; all++) {
		r = in_open(&in, m.buf, m.len, _i, "small.cf");
		cf_reader_set_die(r, 0);
		ck_assert_int_eq(read_everything(r, all, &rows), 2);
		ck_assert_uint_eq(rows, 5);
		in_close(&in);
	}
	free(m.buf);
}
END_TEST

/* Every prefix is an error, except the empty one and one ending at a table boundary. */
START_TEST(truncation_every_byte)
{
	memout m;
	size_t boundary;
	int mode = _i;

	small_stream(&m, &boundary);
	for (size_t cut = 0; cut <= m.len; cut++) {
		for (int all = 0; all < 2; all++) {
			input in;
			cf_reader *r = in_open(&in, m.buf, cut, mode, "cut.cf");
			int want = cut == 0 ? 0 : cut == boundary ? 1 : cut == m.len ? 2 : -1;
			cf_reader_set_die(r, 0);
			int got = read_everything(r, all, NULL);
			ck_assert_msg(got == want, "%s mode, cut at %zu (read_all %d): got %d, want %d (%s)",
			              mode_name[mode], cut, all, got, want, cf_reader_error(r));
			if (got < 0)
				check_err(r, "cut.cf", cut, NULL);
			in_close(&in);
		}
	}
	free(m.buf);
}
END_TEST

/* Every single-bit flip anywhere in the stream is detected. */
START_TEST(bitflip_every_bit)
{
	memout m;
	size_t boundary;
	int mode = _i;
	unsigned missed = 0;

	small_stream(&m, &boundary);
	for (size_t pos = 0; pos < m.len; pos++) {
		for (int bit = 0; bit < 8; bit++) {
			input in;
			cf_reader *r;
			m.buf[pos] ^= (char)(1 << bit);
			r = in_open(&in, m.buf, m.len, mode, "flip.cf");
			cf_reader_set_die(r, 0);
			int got = read_everything(r, bit & 1, NULL);
			if (got != -1) {
				if (missed++ < 10)
					fprintf(stderr, "%s mode: flip of bit %d at byte %zu not detected\n",
					        mode_name[mode], bit, pos);
			} else {
				check_err(r, "flip.cf", m.len, NULL);
			}
			in_close(&in);
			m.buf[pos] ^= (char)(1 << bit);
		}
	}
	ck_assert_msg(missed == 0, "%u single-bit flips not detected", missed);
	free(m.buf);
}
END_TEST

static int
read_expect_error(const void *data, size_t len, int mode, const char *want)
{
	input in;
	cf_reader *r = in_open(&in, data, len, mode, "bad.cf");
	int got;

	cf_reader_set_die(r, 0);
	got = read_everything(r, 0, NULL);
	ck_assert_msg(got == -1, "%s mode: no error (want '%s')", mode_name[mode], want);
	check_err(r, "bad.cf", len, want);
	in_close(&in);
	return got;
}

START_TEST(bad_magic)
{
	memout m;
	size_t boundary;
	static const char csv[] = "userId,movieId,rating,timestamp\n1,31,2.5,1260759144\n";
	static const char shortcsv[] = "a,b\n";

	small_stream(&m, &boundary);
	m.buf[1] = 'X';
	read_expect_error(m.buf, m.len, _i, "magic");
	m.buf[1] = 'C';
	m.buf[0] = 'C';                        /* now printable: looks like text */
	read_expect_error(m.buf, m.len, _i, "magic");
	m.buf[0] = (char)0x89;
	read_expect_error(csv, sizeof csv - 1, _i, "convert it with csv2bin first");
	read_expect_error(shortcsv, sizeof shortcsv - 1, _i, "convert it with csv2bin first");
	/* A text-mode conversion (\r\n -> \n) breaks the magic. */
	{
		char *conv = cf_xmalloc(m.len);
		memcpy(conv, m.buf, 4);
		memcpy(conv + 4, m.buf + 5, m.len - 5);
		read_expect_error(conv, m.len - 1, _i, "magic");
		free(conv);
	}
	/* Garbage after the last table. */
	{
		char *more = cf_xmalloc(m.len + 64);
		memcpy(more, m.buf, m.len);
		memset(more + m.len, 'x', 64);
		read_expect_error(more, m.len + 64, _i, "magic");
		/* a few bytes of a second magic: truncated, not a clean end */
		memcpy(more + m.len, m.buf, 5);
		read_expect_error(more, m.len + 5, _i, "truncated");
		free(more);
	}
	free(m.buf);
}
END_TEST

START_TEST(bad_version)
{
	memout m;
	size_t boundary;
	unsigned char *b;

	small_stream(&m, &boundary);
	b = (unsigned char *)m.buf;
	st16(b + 8, 2);
	st32(b + 120, crc_of(b, 120));          /* a well-formed version-2 header */
	read_expect_error(m.buf, m.len, _i, "version 2");
	st16(b + 8, 1);
	st32(b + 120, crc_of(b, 120));
	/* The second table's version too. */
	st16(b + boundary + 8, 0);
	st32(b + boundary + 56, crc_of(b + boundary, 56));
	read_expect_error(m.buf, m.len, _i, "version 0");
	free(m.buf);
}
END_TEST

/* Header fields that are checksummed but still wrong (a buggy writer). */
START_TEST(bad_header_fields)
{
	memout m;
	size_t boundary;
	unsigned char *b;
	char *copy;

	small_stream(&m, &boundary);
	b = (unsigned char *)m.buf;
	copy = cf_xmalloc(m.len);
	memcpy(copy, m.buf, m.len);
#define RESET() memcpy(b, copy, m.len)
#define REHDR() st32(b + 120, crc_of(b, 120))
	st32(b + 12, 100);                       /* header_len not a multiple of 64 */
	read_expect_error(m.buf, m.len, _i, "length");
	RESET();
	st32(b + 12, 0);
	read_expect_error(m.buf, m.len, _i, "length");
	RESET();
	st32(b + 12, (16u << 20) + 64);          /* over 16 MiB */
	read_expect_error(m.buf, m.len, _i, "length");
	RESET();
	st32(b + 16, 5000);                      /* too many columns */
	REHDR();
	read_expect_error(m.buf, m.len, _i, "columns");
	RESET();
	st32(b + 16, 40);                        /* columns overrun the header */
	REHDR();
	read_expect_error(m.buf, m.len, _i, "overrun");
	RESET();
	b[40] = 9;                               /* unknown type code */
	REHDR();
	read_expect_error(m.buf, m.len, _i, "type");
	RESET();
	b[40] = 0;
	REHDR();
	read_expect_error(m.buf, m.len, _i, "type");
	RESET();
	st32(b + 44, 2);                         /* str with width 2 */
	REHDR();
	read_expect_error(m.buf, m.len, _i, "width");
	RESET();
	st32(b + 60, 0);                         /* width 0 */
	REHDR();
	read_expect_error(m.buf, m.len, _i, "width");
	RESET();
	st32(b + 60, (1u << 24) + 1);            /* width over 2^24 */
	REHDR();
	read_expect_error(m.buf, m.len, _i, "width");
	RESET();
	free(copy);
	free(m.buf);
#undef RESET
#undef REHDR
}
END_TEST

/* Block offsets in the small stream: table 1 header is 128 bytes. */
enum { B0 = 128, B1 = 128 + 256, END1 = 128 + 512 };

static void
rehash_block(unsigned char *h)
{
	st32(h + 56, crc_of(h, 56));
}

START_TEST(lost_block)
{
	memout m;
	size_t boundary;
	char *cut;

	small_stream(&m, &boundary);
	cut = cf_xmalloc(m.len);
	/* Splice out block 0: block 1 arrives with index 1. */
	memcpy(cut, m.buf, B0);
	memcpy(cut + B0, m.buf + B1, m.len - B1);
	read_expect_error(cut, m.len - 256, _i, "sequence");
	/* Splice out block 1: the end marker's counts do not match. */
	memcpy(cut, m.buf, B1);
	memcpy(cut + B1, m.buf + END1, m.len - END1);
	read_expect_error(cut, m.len - 256, _i, "blocks");
	/* Splice out the end marker: the next table's header is not a block. */
	memcpy(cut, m.buf, END1);
	memcpy(cut + END1, m.buf + END1 + 64, m.len - END1 - 64);
	read_expect_error(cut, m.len - 64, _i, "block magic");
	/* Splice out the whole second table's only block. */
	memcpy(cut, m.buf, boundary + 64);
	memcpy(cut + boundary + 64, m.buf + boundary + 192, m.len - boundary - 192);
	read_expect_error(cut, m.len - 128, _i, "blocks");
	free(cut);
	free(m.buf);
}
END_TEST

START_TEST(reordered_blocks)
{
	memout m;
	size_t boundary;
	char *sw;

	small_stream(&m, &boundary);
	sw = cf_xmalloc(m.len + 256);
	/* Swap blocks 0 and 1 (both 256 bytes). */
	memcpy(sw, m.buf, m.len);
	memcpy(sw + B0, m.buf + B1, 256);
	memcpy(sw + B1, m.buf + B0, 256);
	read_expect_error(sw, m.len, _i, "sequence");
	/* Repeat block 0. */
	memcpy(sw, m.buf, B1);
	memcpy(sw + B1, m.buf + B0, 256);
	memcpy(sw + B1 + 256, m.buf + B1, m.len - B1);
	read_expect_error(sw, m.len + 256, _i, "sequence");
	/* Blocks renumbered consistently but with a wrong running total. */
	memcpy(sw, m.buf, m.len);
	st32((unsigned char *)sw + B1 + 24, 4);
	rehash_block((unsigned char *)sw + B1);
	read_expect_error(sw, m.len, _i, "sequence");
	/* An end marker with the wrong row count. */
	memcpy(sw, m.buf, m.len);
	st32((unsigned char *)sw + END1 + 24, 2);
	rehash_block((unsigned char *)sw + END1);
	read_expect_error(sw, m.len, _i, "rows");
	free(sw);
	free(m.buf);
}
END_TEST

/* Payloads whose CRC is right but whose layout is wrong (a buggy writer). */
START_TEST(bad_layout)
{
	memout m;
	size_t boundary;
	unsigned char *b;
	char *copy;

	small_stream(&m, &boundary);
	b = (unsigned char *)m.buf;
	copy = cf_xmalloc(m.len);
	memcpy(copy, m.buf, m.len);
#define REPAY() do { st32(b + B0 + 32, crc_of(b + B0 + 64, 192)); rehash_block(b + B0); } while (0)
	/* string offsets not starting at 0 */
	st32(b + B0 + 64, 1);
	REPAY();
	read_expect_error(m.buf, m.len, _i, "offsets");
	memcpy(b, copy, m.len);
	/* decreasing offsets: row 0 is "1", row 1 "" -> make off[2] < off[1] */
	st32(b + B0 + 64 + 8, 0);
	st32(b + B0 + 64 + 4, 1);
	st32(b + B0 + 64 + 8, 0);
	REPAY();
	read_expect_error(m.buf, m.len, _i, "decrease");
	memcpy(b, copy, m.len);
	/* string bytes past the payload */
	st32(b + B0 + 64 + 8, 1000);
	REPAY();
	read_expect_error(m.buf, m.len, _i, "too short");
	memcpy(b, copy, m.len);
	/* payload_len not a multiple of 64 */
	st32(b + B0 + 8, 100);
	rehash_block(b + B0);
	read_expect_error(m.buf, m.len, _i, "length");
	memcpy(b, copy, m.len);
	/* payload longer than the columns (an extra zero chunk, renumbered right) */
	{
		char *big = cf_xmalloc(m.len + 64);
		unsigned char *g = (unsigned char *)big;
		memcpy(big, m.buf, B0 + 256);
		memset(big + B0 + 256, 0, 64);
		memcpy(big + B0 + 320, m.buf + B0 + 256, m.len - B0 - 256);
		st32(g + B0 + 8, 256);
		st32(g + B0 + 32, crc_of(g + B0 + 64, 256));
		rehash_block(g + B0);
		read_expect_error(big, m.len + 64, _i, "does not match");
		free(big);
	}
	/* end marker with a payload length */
	st32(b + END1 + 8, 64);
	rehash_block(b + END1);
	read_expect_error(m.buf, m.len, _i, NULL);
	free(copy);
	free(m.buf);
#undef REPAY
}
END_TEST

/* cf_read_all propagates errors (in both its zero-copy and copy paths). */
START_TEST(read_all_errors)
{
	memout m;
	size_t boundary;

	small_stream(&m, &boundary);
	for (size_t at = B0 + 70; at < m.len; at += 256) {
		input in;
		cf_reader *r;
		const cf_schema *s;
		cf_table t;
		int rc;
		m.buf[at] ^= 1;
		r = in_open(&in, m.buf, m.len, _i, "all.cf");
		cf_reader_set_die(r, 0);
		while ((rc = cf_read_table(r, &s)) == 1 && (rc = cf_read_all(r, &t)) == 0)
			cf_table_free(&t);
		ck_assert_int_eq(rc, -1);
		check_err(r, "all.cf", m.len, at < boundary ? "checksum" : "magic");
		in_close(&in);
		m.buf[at] ^= 1;
	}
	free(m.buf);
}
END_TEST

/* With die on (the default), errors exit 1: run in a child to see it. */
struct child_read {
	const void *data;
	size_t len;
	const char *want_table;
};

static void
child_read(void *arg)
{
	static input in;        /* static: reachable for LeakSanitizer at exit */
	const struct child_read *c = arg;
	cf_reader *r = in_open(&in, c->data, c->len, M_FILE, "in.cf");

	if (c->want_table)
		cf_expect_table(r, c->want_table);
	else
		read_everything(r, 0, NULL);
}

static int
child_status(const void *data, size_t len, const char *want_table, char *msg, size_t msgsz)
{
	struct child_read c = {data, len, want_table};

	return cf_test_in_child(child_read, &c, msg, msgsz);
}

START_TEST(die_messages)
{
	memout m;
	size_t boundary;
	char msg[1024];

	small_stream(&m, &boundary);
	ck_assert_int_eq(child_status(m.buf, m.len, "ratings", msg, sizeof msg), 0);
	ck_assert_str_eq(msg, "");
	ck_assert_int_eq(child_status(m.buf, m.len, "items", msg, sizeof msg), 1);
	ck_assert_msg(strstr(msg, "in.cf") && strstr(msg, "expected a 'items' table, found 'ratings'"),
	              "message: %s", msg);
	ck_assert_int_eq(child_status(m.buf, 0, "ratings", msg, sizeof msg), 1);
	ck_assert_msg(strstr(msg, "expected a 'ratings' table"), "message: %s", msg);
	ck_assert_int_eq(child_status(m.buf, m.len - 3, NULL, msg, sizeof msg), 1);
	ck_assert_msg(strstr(msg, "in.cf: byte ") && strstr(msg, "truncated"), "message: %s", msg);
	ck_assert_msg(strchr(msg, '\n') == strrchr(msg, '\n'), "not one line: %s", msg);
	m.buf[0] = 'u';
	ck_assert_int_eq(child_status(m.buf, m.len, "ratings", msg, sizeof msg), 1);
	ck_assert_msg(strstr(msg, "csv2bin"), "message: %s", msg);
	free(m.buf);
}
END_TEST

/* Exit tests (fork mode only): cf_expect_table on the wrong table kind. */
static cf_reader *exit_reader;          /* static: reachable at exit */
static input exit_in;
static memout exit_m;

static cf_reader *
exit_setup(size_t cut)
{
	size_t boundary;

	int devnull = open("/dev/null", O_WRONLY);

	/* This runs in Check's per-test child: keep the expected message quiet. */
	if (devnull >= 0) {
		dup2(devnull, 2);
		close(devnull);
	}
	small_stream(&exit_m, &boundary);
	exit_reader = in_open(&exit_in, exit_m.buf, cut ? cut : exit_m.len, M_PIPE, "stdin");
	return exit_reader;
}

START_TEST(expect_wrong_kind)
{
	cf_expect_table(exit_setup(0), "movies");
	ck_abort_msg("cf_expect_table returned on a 'ratings' table");
}
END_TEST

START_TEST(expect_after_end)
{
	cf_reader *r = exit_setup(0);

	ck_assert_ptr_nonnull(cf_expect_table(r, "ratings"));
	ck_assert_ptr_nonnull(cf_expect_table(r, "items"));
	cf_expect_table(r, "users");            /* stream ended */
	ck_abort_msg("cf_expect_table returned at the end of the stream");
}
END_TEST

START_TEST(expect_corrupt)
{
	cf_expect_table(exit_setup(100), "ratings");
	ck_abort_msg("cf_expect_table returned on a truncated header");
}
END_TEST

START_TEST(die_on_truncated_block)
{
	cf_reader *r = exit_setup(500);
	cf_block b;

	ck_assert_ptr_nonnull(cf_expect_table(r, "ratings"));
	while (cf_read_block(r, &b) == 1)
		;
	ck_abort_msg("cf_read_block returned on a truncated block");
}
END_TEST

/* ------------------------------------------------------------ writer errors */

START_TEST(writer_errors)
{
	memout m;
	cf_writer *w = mo_open(&m);
	uint32_t v = 1;
	const void *cols[1] = {&v};
	cf_schema *s;
	char *longname = cf_xmalloc(70000);

	cf_writer_set_die(w, 0);
	ck_assert_int_eq(cf_write_block(w, 1, cols), -1);   /* no table open */
	ck_assert_ptr_nonnull(strstr(cf_writer_error(w), "memout"));
	memset(longname, 'n', 69999);
	longname[69999] = 0;
	s = cf_schema_new(longname);
	ck_assert_int_eq(cf_write_table(w, s), -1);         /* name over 64 KiB */
	cf_schema_free(s);
	s = cf_schema_new("t");
	cf_schema_add(s, longname, CF_U32, 1);
	ck_assert_int_eq(cf_write_table(w, s), -1);         /* column name too */
	cf_schema_free(s);
	s = cf_schema_new("t");
	cf_schema_set(s, longname, "v");
	ck_assert_int_eq(cf_write_table(w, s), -1);         /* attribute key too */
	cf_schema_free(s);
	s = cf_schema_new("t");
	cf_schema_set(s, "k", longname);                    /* a long value is fine */
	longname[65535] = 0;
	cf_schema_add(s, longname, CF_U32, 1);              /* as is a 65535-byte name */
	ck_assert_int_eq(cf_write_table(w, s), 0);
	cf_schema_free(s);
	mo_close(&m);
	{
		input in;
		cf_reader *r = in_open(&in, m.buf, m.len, M_PIPE, "long.cf");
		const cf_schema *rs;
		ck_assert_int_eq(cf_read_table(r, &rs), 1);
		ck_assert_uint_eq(strlen(rs->cols[0].name), 65535);
		ck_assert_uint_eq(strlen(cf_schema_get(rs, "k")), 69999);
		ck_assert_int_eq(cf_read_table(r, &rs), 0);
		in_close(&in);
	}
	free(m.buf);
	free(longname);

	/* A full device. */
	{
		FILE *fp = fopen("/dev/full", "w");
		if (fp) {
			cf_writer *fw = cf_writer_new(fp, "full");
			s = cf_schema_new("t");
			cf_writer_set_die(fw, 0);
			setvbuf(fp, NULL, _IONBF, 0);
			ck_assert_int_eq(cf_write_table(fw, s), -1);
			ck_assert_ptr_nonnull(strstr(cf_writer_error(fw), "full"));
			cf_schema_free(s);
			cf_writer_finish(fw);
			fclose(fp);
		}
	}
}
END_TEST

/* A long stream name must not overflow the reader's message buffer. */
START_TEST(long_stream_name)
{
	char name[2000];
	input in;
	cf_reader *r;

	memset(name, 'p', sizeof name - 1);
	name[sizeof name - 1] = 0;
	r = in_open(&in, "garbage garbage garbage garbage garbage", 39, _i, name);
	cf_reader_set_die(r, 0);
	ck_assert_int_eq(read_everything(r, 0, NULL), -1);
	ck_assert_uint_lt(strlen(cf_reader_error(r)), 512);
	in_close(&in);
}
END_TEST

/* ------------------------------------------------------------------ suite */

static int
fork_mode(void)
{
	const char *e = getenv("CK_FORK");

	return !(e && strcmp(e, "no") == 0);
}

Suite *
frame_suite(void)
{
	Suite *s = suite_create("frame");
	TCase *tc;

	tc = tcase_create("schema");
	tcase_add_test(tc, schema_basics);
	tcase_add_test(tc, type_names);
	tcase_add_test(tc, layout_bytes);
	tcase_add_test(tc, crc_reference);
	suite_add_tcase(s, tc);

	tc = tcase_create("roundtrip");
	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, roundtrip_blocks, M_PIPE, M_FILE + 1);
	tcase_add_loop_test(tc, roundtrip_read_all, M_PIPE, M_FILE + 1);
	tcase_add_loop_test(tc, read_all_rest, M_PIPE, M_FILE + 1);
	tcase_add_loop_test(tc, skip_tables, M_PIPE, M_FILE + 1);
	tcase_add_test(tc, mmap_alignment);
	tcase_add_loop_test(tc, rowbuf_blocks, M_PIPE, M_FILE + 1);
	tcase_add_loop_test(tc, rowbuf_large, M_PIPE, M_FILE + 1);
	tcase_add_loop_test(tc, rowbuf_long_strings, M_PIPE, M_FILE + 1);
	tcase_add_loop_test(tc, matrix_single_block, M_PIPE, M_FILE + 1);
	tcase_add_loop_test(tc, empty_input, M_PIPE, M_FILE + 1);
	tcase_add_loop_test(tc, empty_table_read_all, M_PIPE, M_FILE + 1);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_set_timeout(tc, 300);
	tcase_add_loop_test(tc, small_stream_ok, M_PIPE, M_FILE + 1);
	tcase_add_loop_test(tc, truncation_every_byte, M_PIPE, M_FILE + 1);
	tcase_add_loop_test(tc, bitflip_every_bit, M_PIPE, M_FILE + 1);
	tcase_add_loop_test(tc, bad_magic, M_PIPE, M_FILE + 1);
	tcase_add_loop_test(tc, bad_version, M_PIPE, M_FILE + 1);
	tcase_add_loop_test(tc, bad_header_fields, M_PIPE, M_FILE + 1);
	tcase_add_loop_test(tc, lost_block, M_PIPE, M_FILE + 1);
	tcase_add_loop_test(tc, reordered_blocks, M_PIPE, M_FILE + 1);
	tcase_add_loop_test(tc, bad_layout, M_PIPE, M_FILE + 1);
	tcase_add_loop_test(tc, read_all_errors, M_PIPE, M_FILE + 1);
	tcase_add_test(tc, die_messages);
	tcase_add_test(tc, writer_errors);
	tcase_add_loop_test(tc, long_stream_name, M_PIPE, M_FILE + 1);
	suite_add_tcase(s, tc);

	/* Tests that end in exit(1): only when Check forks a process per test. */
	if (fork_mode()) {
		tc = tcase_create("die");
		tcase_add_exit_test(tc, expect_wrong_kind, 1);
		tcase_add_exit_test(tc, expect_after_end, 1);
		tcase_add_exit_test(tc, expect_corrupt, 1);
		tcase_add_exit_test(tc, die_on_truncated_block, 1);
		suite_add_tcase(s, tc);
	}
	return s;
}
