/*
 * fuzz_csv.c - the delimited-text tokenizer (src/lib/csv.c).
 *
 * Input: a flags byte, then the text.  Bits 0-2 pick the delimiter
 * ("," tab "::" ";" "|" "ab" ":::" or the one the first line suggests,
 * as csv2bin guesses it), bit 3 turns quoting off.  The text is
 * tokenized twice, mapped (memfd) and through a pipe, and both must give
 * the same records; every field's bytes are read.
 */
#include "fuzz.h"
#include "csv.h"

typedef struct seen {
	uint64_t recs, fields, sum, lastline;
} seen;

static uint64_t
mix(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ULL;
	return (h ^ n) * 0x100000001b3ULL;
}

static seen
pass(int fd, unsigned flags, const char *name)
{
	static const char *delims[8] = {",", "\t", "::", ";", "|", "ab", ":::", NULL};
	cf_csv *c = cf_csv_new(fd, name);
	const char *d = delims[flags & 7], *line;
	size_t len;
	cf_csv_rec r;
	seen z = {0, 0, 0, 0};

	if (cf_csv_peek_line(c, &line, &len)) {
		if (len == 0 || memchr(line, '\n', len))
			abort();
		z.sum = mix(z.sum, line, len);
		const char *g = cf_csv_guess_delim(line, len);
		if (!d)
			d = g;
	}
	if (!d)
		d = ",";
	if (cf_csv_set_delim(c, d, strlen(d)) != 0)
		abort();
	if (cf_csv_set_delim(c, "a\"", 2) == 0 || cf_csv_set_delim(c, "", 0) == 0)
		abort();        /* refused, and the delimiter set before is kept */
	cf_csv_set_quotes(c, !(flags & 8));
	while (cf_csv_next(c, &r) == 1) {
		if (r.nfields == 0 || r.line <= z.lastline)
			abort();
		z.lastline = r.line;
		z.recs++;
		z.fields += r.nfields;
		size_t m = r.nfields < CF_CSV_MAX_FIELDS ? r.nfields : CF_CSV_MAX_FIELDS;
		for (size_t i = 0; i < m; i++) {
			if (r.f[i].len && !r.f[i].p)
				abort();
			z.sum = mix(z.sum, r.f[i].p, r.f[i].len);
		}
		if (r.err)
			z.sum = mix(z.sum, r.err, strlen(r.err));
	}
	/* At the end it stays at the end. */
	if (cf_csv_next(c, &r) != 0)
		abort();
	cf_csv_free(c);
	close(fd);
	return z;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned flags = size ? data[0] : 0;
	const uint8_t *d = size ? data + 1 : data;
	size_t n = size ? size - 1 : 0;

	seen a = pass(cf_fuzz_memfd(d, n), flags, "mapped");
	seen b = pass(cf_fuzz_pipe(d, n), flags, "piped");
	if (a.recs != b.recs || a.fields != b.fields || a.sum != b.sum ||
	    a.lastline != b.lastline)
		abort();
	return 0;
}
