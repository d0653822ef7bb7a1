/*
 * fuzz_frame.c - the frame reader (src/lib/frame.c) on arbitrary bytes.
 *
 * Input: a flags byte, then the stream (fuzz.h: bit 0 repairs the CRCs,
 * bit 1 the block sequence numbers; bit 2 reads each table with
 * cf_read_all instead of block by block; bit 3 reads only every other
 * table, leaving the reader to skip the rest).  The stream is read twice,
 * mapped (memfd) and through a pipe, with a reader that returns errors
 * instead of dying; every value of every block is touched, and the two
 * modes must agree on what they read.  Any exit, crash or sanitizer
 * report is a bug.
 */
#include "fuzz.h"
#include "frame.h"

/* What one pass saw, to compare the mmap and read modes. */
typedef struct seen {
	uint64_t tables, rows, sum;
	int rc;
} seen;

static uint64_t
mix(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ULL;
	return h;
}

static void
check_schema(const cf_schema *s)
{
	if (!s || !s->name)
		abort();
	for (uint32_t i = 0; i < s->ncols; i++) {
		const cf_col *c = &s->cols[i];
		if (!c->name || c->type < CF_U8 || c->type > CF_STR || c->width == 0)
			abort();
	}
	for (uint32_t i = 0; i < s->nattrs; i++)
		if (!s->attrs[i].key || !s->attrs[i].val)
			abort();
	/* Look-ups must work on any name the stream holds. */
	(void)cf_schema_get(s, "rating_min");
	(void)cf_schema_col(s, "user");
}

static uint64_t
touch_block(const cf_schema *s, const cf_block *b, uint64_t h)
{
	if (b->ncols != s->ncols || b->nrows == 0)
		abort();
	for (uint32_t i = 0; i < s->ncols; i++) {
		const cf_col *c = &s->cols[i];
		if (c->type == CF_STR) {
			for (uint32_t k = 0; k < b->nrows; k++) {
				size_t len;
				const char *p = cf_str(b, (int)i, k, &len);
				h = mix(h, p, len);
			}
		} else {
			h = mix(h, b->col[i], (size_t)b->nrows * c->width * cf_type_size(c->type));
		}
	}
	return h;
}

static uint64_t
touch_table(const cf_table *t, uint64_t h)
{
	const cf_schema *s = t->schema;

	for (uint32_t i = 0; i < s->ncols; i++) {
		const cf_col *c = &s->cols[i];
		if (c->type == CF_STR) {
			if (t->stroff[i][0] != 0)
				abort();
			for (uint64_t k = 0; k < t->nrows; k++) {
				size_t len;
				const char *p = cf_table_str(t, (int)i, k, &len);
				h = mix(h, p, len);
			}
		} else {
			h = mix(h, t->col[i], (size_t)t->nrows * c->width * cf_type_size(c->type));
		}
	}
	return h;
}

static seen
pass(int fd, const char *name, unsigned flags)
{
	cf_reader *r = cf_reader_open(fd, name);
	const cf_schema *s;
	seen z = {0, 0, 0, 0};
	int rc;

	cf_reader_set_die(r, 0);
	while ((rc = cf_read_table(r, &s)) == 1) {
		check_schema(s);
		z.tables++;
		z.sum = mix(z.sum, s->name, strlen(s->name));
		if ((flags & 8) && z.tables % 2 == 0)
			continue;               /* cf_read_table skips it */
		if (flags & 4) {
			cf_table t;
			if ((rc = cf_read_all(r, &t)) < 0)
				break;
			z.rows += t.nrows;
			z.sum = touch_table(&t, z.sum);
			cf_table_free(&t);
		} else {
			cf_block b;
			while ((rc = cf_read_block(r, &b)) == 1) {
				z.rows += b.nrows;
				z.sum = touch_block(s, &b, z.sum);
			}
			if (rc < 0)
				break;
			if (cf_reader_rows(r) > z.rows)
				abort();
		}
	}
	z.rc = rc;
	if (rc < 0 && cf_reader_error(r)[0] == '\0')
		abort();                /* an error must say what */
	/* The message must be one line. */
	if (rc < 0 && strchr(cf_reader_error(r), '\n'))
		abort();
	(void)cf_reader_offset(r);
	cf_reader_close(r);
	return z;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t n;
	unsigned flags;
	uint8_t *d = cf_fuzz_frame_input(data, size, &n, &flags);

	seen a = pass(cf_fuzz_memfd(d, n), "mapped", flags);
	seen b = pass(cf_fuzz_pipe(d, n), "piped", flags);
	/* Both modes see the same stream: same verdict, same data. */
	if (a.rc != b.rc || (a.rc == 0 && (a.tables != b.tables || a.rows != b.rows ||
	                                   a.sum != b.sum)))
		abort();
	free(d);
	return 0;
}
