/*
 * test_utf8.c - unit tests of src/lib/utf8.c (the one UTF-8 validator),
 * checked exhaustively against a decoder written from RFC 3629 and
 * against jansson (what the JSON of join-meta and the server accepts),
 * and of what builds on it: the tokenizer's encodings and text sniffing
 * (csv.h) and the metadata loader's errors (meta.h).
 */
#include <check.h>

#include "check_util.h"

#include <fcntl.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "csv.h"
#include "meta.h"
#include "utf8.h"

Suite *utf8_suite(void);

static char tmpdir[64];

#define N(a) (sizeof (a) / sizeof (a)[0])

/*
 * The reference: the length of the one code point at s[0..n) if it is
 * encoded in its shortest form and is a scalar value (not a surrogate,
 * at most U+10FFFF), else 0.  Decodes first, judges after.
 */
static size_t
ref_seq(const unsigned char *s, size_t n)
{
	size_t len;
	uint32_t cp;

	if (n == 0)
		return 0;
	if (s[0] < 0x80)
		return 1;
	if ((s[0] & 0xE0) == 0xC0)
		len = 2, cp = s[0] & 0x1F;
	else if ((s[0] & 0xF0) == 0xE0)
		len = 3, cp = s[0] & 0x0F;
	else if ((s[0] & 0xF8) == 0xF0)
		len = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3F);
	}
	static const uint32_t least[5] = {0, 0, 0x80, 0x800, 0x10000};
	if (cp < least[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		return 0;
	return len;
}

START_TEST(known_sequences)
{
	static const struct {
		const char *s;
		size_t n;
		int ok;
		size_t bad;
	} cases[] = {
		{"", 0, 1, 0},
		{"plain ASCII, longer than eight bytes", 36, 1, 0},
		{"a\0b", 3, 1, 0},                      /* NUL is a code point */
		{"\x7f", 1, 1, 0},
		{"\xc2\x80", 2, 1, 0},                  /* U+0080 */
		{"\xdf\xbf", 2, 1, 0},                  /* U+07FF */
		{"\xe0\xa0\x80", 3, 1, 0},              /* U+0800 */
		{"\xed\x9f\xbf", 3, 1, 0},              /* U+D7FF */
		{"\xee\x80\x80", 3, 1, 0},              /* U+E000 */
		{"\xef\xbf\xbf", 3, 1, 0},              /* U+FFFF */
		{"\xf0\x90\x80\x80", 4, 1, 0},          /* U+10000 */
		{"\xf4\x8f\xbf\xbf", 4, 1, 0},          /* U+10FFFF */
		{"Caf\xc3\xa9 \xf0\x9f\x8e\xac", 10, 1, 0},
		{"\x80", 1, 0, 0},                      /* stray continuation */
		{"abc\xbf", 4, 0, 3},
		{"\xc0\x80", 2, 0, 0},                  /* overlong NUL */
		{"\xc0\xaf", 2, 0, 0},                  /* overlong '/' */
		{"\xc1\xbf", 2, 0, 0},
		{"\xe0\x80\x80", 3, 0, 0},              /* overlong, 3 bytes */
		{"\xe0\x9f\xbf", 3, 0, 0},
		{"\xf0\x80\x80\x80", 4, 0, 0},          /* overlong, 4 bytes */
		{"\xf0\x8f\xbf\xbf", 4, 0, 0},
		{"x\xed\xa0\x80", 4, 0, 1},             /* U+D800 */
		{"\xed\xbf\xbf", 3, 0, 0},              /* U+DFFF */
		{"\xed\xa0\xbd\xed\xb2\xa9", 6, 0, 0},  /* a CESU-8 surrogate pair */
		{"\xf4\x90\x80\x80", 4, 0, 0},          /* U+110000 */
		{"\xf5\x80\x80\x80", 4, 0, 0},
		{"\xf8\x88\x80\x80\x80", 5, 0, 0},      /* 5-byte form */
		{"\xfe", 1, 0, 0},
		{"\xff\xfe", 2, 0, 0},
		{"ok \xc3", 4, 0, 3},                   /* cut short */
		{"\xe2\x82", 2, 0, 0},
		{"\xf0\x9f\x8e", 3, 0, 0},
		{"\xe2\x28\xa1", 3, 0, 0},              /* a non-continuation inside */
		{"12345678\xc3\xa9\xff", 11, 0, 10},    /* after the ASCII fast path */
	};

	for (size_t k = 0; k < N(cases); k++) {
		size_t bad = 999;
		int ok = cf_utf8_valid(cases[k].s, cases[k].n, &bad);
		ck_assert_msg(ok == cases[k].ok, "case %zu: valid %d", k, ok);
		if (!ok)
			ck_assert_msg(bad == cases[k].bad, "case %zu: bad at %zu", k, bad);
		ck_assert_int_eq(cf_utf8_valid(cases[k].s, cases[k].n, NULL), ok);
		int ascii = 1;
		for (size_t i = 0; i < cases[k].n; i++)
			ascii &= (unsigned char)cases[k].s[i] < 0x80;
		ck_assert_int_eq(cf_utf8_ascii(cases[k].s, cases[k].n), ascii);
	}
}
END_TEST

/* Every sequence of 1, 2 and 3 bytes, and every lead byte with a sample of 4-byte tails. */
START_TEST(exhaustive_against_reference)
{
	unsigned char b[4];

	for (unsigned i = 0; i < 256; i++) {
		b[0] = (unsigned char)i;
		ck_assert_uint_eq(cf_utf8_seq((char *)b, 1), ref_seq(b, 1));
		for (unsigned j = 0; j < 256; j++) {
			b[1] = (unsigned char)j;
			ck_assert_uint_eq(cf_utf8_seq((char *)b, 2), ref_seq(b, 2));
			ck_assert_int_eq(cf_utf8_valid((char *)b, 2, NULL),
			                 ref_seq(b, 2) == 2 || (ref_seq(b, 1) == 1 && ref_seq(b + 1, 1) == 1));
			for (unsigned k = 0; k < 256; k++) {
				b[2] = (unsigned char)k;
				if (cf_utf8_seq((char *)b, 3) != ref_seq(b, 3))
					ck_abort_msg("%02x %02x %02x", i, j, k);
			}
		}
	}
	for (unsigned i = 0xF0; i < 0x100; i++)
		for (unsigned j = 0x70; j < 0xD0; j++)
			for (unsigned k = 0x70; k < 0xD0; k += 7)
				for (unsigned l = 0x70; l < 0xD0; l += 5) {
					b[0] = (unsigned char)i, b[1] = (unsigned char)j;
					b[2] = (unsigned char)k, b[3] = (unsigned char)l;
					if (cf_utf8_seq((char *)b, 4) != ref_seq(b, 4))
						ck_abort_msg("%02x %02x %02x %02x", i, j, k, l);
				}
}
END_TEST

/* Every code point encodes to a valid sequence, every surrogate to an invalid one. */
START_TEST(every_code_point)
{
	for (uint32_t cp = 0; cp <= 0x10FFFF; cp++) {
		unsigned char b[4];
		size_t n;
		if (cp < 0x80)
			b[0] = (unsigned char)cp, n = 1;
		else if (cp < 0x800)
			b[0] = (unsigned char)(0xC0 | cp >> 6), b[1] = (unsigned char)(0x80 | (cp & 0x3F)), n = 2;
		else if (cp < 0x10000)
			b[0] = (unsigned char)(0xE0 | cp >> 12), b[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3F)),
			b[2] = (unsigned char)(0x80 | (cp & 0x3F)), n = 3;
		else
			b[0] = (unsigned char)(0xF0 | cp >> 18), b[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3F)),
			b[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3F)), b[3] = (unsigned char)(0x80 | (cp & 0x3F)),
			n = 4;
		int want = cp < 0xD800 || cp > 0xDFFF;
		if (cf_utf8_valid((char *)b, n, NULL) != want || cf_utf8_seq((char *)b, n) != (want ? n : 0))
			ck_abort_msg("U+%04X", cp);
		if (n > 1 && cf_utf8_valid((char *)b, n - 1, NULL))
			ck_abort_msg("U+%04X cut short", cp);
	}
}
END_TEST

/* What is valid here is what jansson takes into a JSON string, and only that. */
START_TEST(agrees_with_jansson)
{
	unsigned char b[4];

	for (unsigned i = 0; i < 256; i++)
		for (unsigned j = 0; j < 256; j++) {
			b[0] = (unsigned char)i, b[1] = (unsigned char)j;
			json_t *v = json_stringn((char *)b, 2);
			ck_assert_msg((v != NULL) == cf_utf8_valid((char *)b, 2, NULL), "%02x %02x", i, j);
			json_decref(v);
		}
	for (unsigned i = 0xE0; i < 0x100; i++)
		for (unsigned j = 0x70; j < 0xD0; j++)
			for (unsigned k = 0x70; k < 0xD0; k += 3) {
				b[0] = (unsigned char)i, b[1] = (unsigned char)j;
				b[2] = (unsigned char)k, b[3] = 0xBF;
				for (size_t n = 3; n <= 4; n++) {
					json_t *v = json_stringn((char *)b, n);
					ck_assert_msg((v != NULL) == cf_utf8_valid((char *)b, n, NULL),
					              "%02x %02x %02x (%zu)", i, j, k, n);
					json_decref(v);
				}
			}
}
END_TEST

START_TEST(show)
{
	char out[CF_UTF8_SHOW_SIZE(40)], small[CF_UTF8_SHOW_SIZE(4)];
	static const char long_ascii[] = "0123456789012345678901234567890123456789AB";

	ck_assert_str_eq(cf_utf8_show(out, "Bad \xff (1999)", 12, 40), "'Bad \\xff (1999)'");
	ck_assert_str_eq(cf_utf8_show(out, "a\tb\nc\x7f", 6, 40), "'a\\x09b\\x0ac\\x7f'");
	ck_assert_str_eq(cf_utf8_show(out, "Caf\xc3\xa9", 5, 40), "'Caf\xc3\xa9'");
	ck_assert_str_eq(cf_utf8_show(out, "\xed\xa0\x80", 3, 40), "'\\xed\\xa0\\x80'");
	ck_assert_str_eq(cf_utf8_show(out, long_ascii, 42, 40),
	                 "'0123456789012345678901234567890123456789'...");
	/* Cut at a code point, never inside one. */
	ck_assert_str_eq(cf_utf8_show(small, "ab\xc3\xa9z", 5, 3), "'ab'...");
	ck_assert_str_eq(cf_utf8_show(small, "ab\xc3\xa9", 4, 4), "'ab\xc3\xa9'");
	ck_assert_str_eq(cf_utf8_show(small, "\xff\xff\xff\xff\xff", 5, 4), "'\\xff\\xff\\xff\\xff'...");
	ck_assert_str_eq(cf_utf8_show(small, "", 0, 4), "''");
}
END_TEST

/* ---------------------------------------------------------------- csv.h */

static void
write_file(const char *path, const void *p, size_t n)
{
	FILE *fp = fopen(path, "wb");

	ck_assert_ptr_nonnull(fp);
	ck_assert_uint_eq(fwrite(p, 1, n, fp), n);
	ck_assert_int_eq(fclose(fp), 0);
}

/* A tokenizer on the bytes, from a file (mapped) or a pipe. */
static cf_csv *
open_csv(const char *bytes, size_t n, int piped, int *fdp)
{
	int fd;

	if (piped) {
		int p[2];
		ck_assert_int_eq(pipe(p), 0);
		ck_assert(n < 65536);
		ck_assert_int_eq(write(p[1], bytes, n), (ssize_t)n);
		close(p[1]);
		fd = p[0];
	} else {
		char path[128];
		snprintf(path, sizeof path, "%s/in.csv", tmpdir);
		write_file(path, bytes, n);
		fd = open(path, O_RDONLY);
		ck_assert_int_ge(fd, 0);
	}
	*fdp = fd;
	return cf_csv_new(fd, "in.csv");
}

START_TEST(sniff)
{
	static const struct {
		const char *s;
		size_t n;
		int want;
	} cases[] = {
		{"a,b\n1,2\n", 8, CF_CSV_TEXT_OK},
		{"a,b\r\n1,2\r\n", 10, CF_CSV_TEXT_OK},
		{"\xef\xbb\xbf" "a,b\n", 7, CF_CSV_TEXT_OK},
		{"", 0, CF_CSV_TEXT_OK},
		{"a", 1, CF_CSV_TEXT_OK},
		{"a,b\r", 4, CF_CSV_TEXT_OK},                   /* one line, then CR */
		{"a,\"b\rc\"\n", 8, CF_CSV_TEXT_OK},            /* a CR inside quotes */
		{"\xff\xfe" "a\0,\0", 6, CF_CSV_UTF16LE},
		{"\xfe\xff\0a\0,", 6, CF_CSV_UTF16BE},
		{"a\0,\0b\0", 6, CF_CSV_UTF16LE_NOBOM},
		{"\0a\0,\0b", 6, CF_CSV_UTF16BE_NOBOM},
		{"a,b\r1,2\r", 8, CF_CSV_CR_ONLY},
		{"\n\na,b\r1,2", 9, CF_CSV_CR_ONLY},            /* the first non-blank line */
	};

	for (size_t k = 0; k < N(cases); k++)
		for (int piped = 0; piped < 2; piped++) {
			int fd;
			cf_csv *c = open_csv(cases[k].s, cases[k].n, piped, &fd);
			ck_assert_msg(cf_csv_sniff(c) == cases[k].want, "case %zu", k);
			ck_assert_ptr_nonnull(cf_csv_sniff_name(cases[k].want));
			cf_csv_free(c);
			close(fd);
		}
	ck_assert_ptr_nonnull(strstr(cf_csv_sniff_name(CF_CSV_UTF16LE), "UTF-16LE"));
	ck_assert_ptr_nonnull(strstr(cf_csv_sniff_name(CF_CSV_CR_ONLY), "CR-only"));
}
END_TEST

/* The fields of the first two records, "f1|f2;f3|f4" (at most 255 bytes), or NULL on an error. */
static const char *
fields(cf_csv *c, char *out)
{
	cf_csv_rec r;
	size_t k = 0;

	for (int n = 0; n < 2 && cf_csv_next(c, &r); n++)
		for (size_t i = 0; i < r.nfields; i++) {
			if (k)
				out[k++] = i ? '|' : ';';
			memcpy(out + k, r.f[i].p, r.f[i].len);
			k += r.f[i].len;
		}
	out[k] = '\0';
	return cf_csv_error(c) ? NULL : out;
}

START_TEST(encodings)
{
	static const struct {
		const char *enc, *in;
		size_t n;
		const char *want;
	} cases[] = {
		{"latin1", "a,Caf\xe9\n\xc0,b\n", 11, "a|Caf\xc3\xa9;\xc3\x80|b"},
		{"ISO-8859-1", "\xff", 1, "\xc3\xbf"},
		{"cp1252", "\x93q\x94,\x80\n", 6, "\xe2\x80\x9cq\xe2\x80\x9d|\xe2\x82\xac"},
		{"utf-16", "\xff\xfe" "a\0,\0\xe9\0\n\0", 10, "a|\xc3\xa9"},
		{"utf-16", "\xfe\xff\0a\0,\0b", 8, "a|b"},
		{"utf-16", "\0a\0,\0b", 6, "a|b"},                      /* no BOM: big endian */
		{"utf-16le", "\xff\xfe" "a\0", 4, "a"},                 /* the BOM as U+FEFF, skipped */
		{"utf-16", "\xff\xfe\xff\xfe" "a\0", 6, "a"},         /* a mark, then a UTF-8 BOM's U+FEFF */
		{"utf-16le", "=\xd8\x00\xdf", 4, "\xf0\x9f\x9c\x80"},   /* a pair: U+1F700 */
		{"utf-16be", "\0a\0,\0b\0\n\0c", 10, "a|b;c"},
		{"utf-8", "\xef\xbb\xbf" "a,\xff", 6, "a|\xff"},        /* bytes as they are */
	};
	char out[256];

	for (size_t k = 0; k < N(cases); k++)
		for (int piped = 0; piped < 2; piped++) {
			int fd;
			cf_csv *c = open_csv(cases[k].in, cases[k].n, piped, &fd);
			ck_assert_int_eq(cf_csv_set_encoding(c, cases[k].enc), 0);
			ck_assert_int_eq(cf_csv_sniff(c), CF_CSV_TEXT_OK);
			const char *got = fields(c, out);
			ck_assert_msg(got && strcmp(got, cases[k].want) == 0, "case %zu (%s): %s", k,
			              piped ? "pipe" : "file", got ? got : cf_csv_error(c));
			cf_csv_free(c);
			close(fd);
		}
	ck_assert(cf_csv_encoding_known("UTF-16LE") && cf_csv_encoding_known("Latin1"));
	ck_assert(!cf_csv_encoding_known("ebcdic") && !cf_csv_encoding_known(""));
}
END_TEST

START_TEST(decoding_errors)
{
	static const struct {
		const char *enc, *in;
		size_t n;
		const char *want;
	} cases[] = {
		{"cp1252", "a,b\nc,\x81\n", 7, "in.csv:2: byte 6: not valid cp1252"},
		{"utf-16le", "a\0\n\0b", 5, "in.csv:2: byte 4: the input ends inside a character of utf-16le"},
		{"utf-16le", "a\0\n\0\x00\xdc", 6, "in.csv:2: byte 4: not valid utf-16le"},
		{"ebcdic", "a", 1, "unknown encoding 'ebcdic': want utf-8, latin1"},
	};
	char out[256];

	for (size_t k = 0; k < N(cases); k++)
		for (int piped = 0; piped < 2; piped++) {
			int fd;
			cf_csv *c = open_csv(cases[k].in, cases[k].n, piped, &fd);
			cf_csv_set_die(c, 0);
			int rc = cf_csv_set_encoding(c, cases[k].enc);
			ck_assert_int_eq(rc, k == 3 ? -1 : 0);
			ck_assert_ptr_null(fields(c, out));
			ck_assert_msg(strncmp(cf_csv_error(c), cases[k].want, strlen(cases[k].want)) == 0,
			              "case %zu: %s", k, cf_csv_error(c));
			cf_csv_rec r;
			ck_assert_int_eq(cf_csv_next(c, &r), 0);        /* it stays ended */
			cf_csv_free(c);
			close(fd);
		}
}
END_TEST

/* ---------------------------------------------------------------- meta.h */

START_TEST(meta_errors_returned)
{
	static const struct {
		int links;
		const char *text;
		size_t n;
		const char *want;
	} cases[] = {
		{0, "", 0, "bad.csv: empty file: expected a header naming movieId, title, genres, then movies"},
		{1, "\n\n", 2, "bad.csv: empty file: expected a header naming movieId, imdbId, tmdbId, then links"},
		{0, "movieId,title,genres\n", 21, "bad.csv: no movies: the header is followed by no rows"},
		{1, "movieId,imdbId,tmdbId\r\n", 23, "bad.csv: no links: the header is followed by no rows"},
		{0, "movieId,title,genres\n1,A,B\n2,Bad \xff,C\n", 38,
		 "bad.csv: line 3: invalid UTF-8 in the title, byte 5: 'Bad \\xff' (convert the file to UTF-8"},
		{0, "movieId,title,genres\n\xc0\xb1,A,B\n", 29, "bad.csv: line 2: invalid UTF-8 in the movie id, byte 1"},
		{1, "movieId,imdbId,tmdbId\n1,\xed\xa0\x80,2\n", 31, "bad.csv: line 2: invalid UTF-8 in imdbId, byte 1"},
		{0, "\xff\xfem\0o\0", 6, "bad.csv: line 1: UTF-16LE text (byte order mark FF FE), not UTF-8"},
		{0, "movieId,title,genres\r1,A,B\r", 27, "bad.csv: line 1: CR-only line ends (classic Mac OS)"},
		{0, "movieId,title,genres\n1,A,B\n1,C,D\n", 33, "bad.csv: line 3: duplicate movie id '1'"},
	};
	char path[128], err[512];

	snprintf(path, sizeof path, "%s/bad.csv", tmpdir);
	for (size_t k = 0; k < N(cases); k++) {
		cf_meta *m = cf_meta_new();
		size_t rows = 99;
		write_file(path, cases[k].text, cases[k].n);
		int rc = cases[k].links ? cf_meta_read_links(m, path, &rows, err, sizeof err) :
		         cf_meta_read_movies(m, path, &rows, err, sizeof err);
		ck_assert_int_eq(rc, -1);
		const char *at = strstr(err, "bad.csv");
		ck_assert_msg(at && strncmp(at, cases[k].want, strlen(cases[k].want)) == 0,
		              "case %zu: %s", k, err);
		ck_assert_msg(!strchr(err, '\n'), "case %zu: not one line", k);
		cf_meta_free(m);
	}
	/* A file that loads: 0, the rows; a missing one: its errno. */
	cf_meta *m = cf_meta_new();
	size_t rows = 0;
	write_file(path, "movieId,title,genres\n1,Caf\xc3\xa9 (1999),Drama\n", 42);
	ck_assert_int_eq(cf_meta_read_movies(m, path, &rows, err, sizeof err), 0);
	ck_assert_uint_eq(rows, 1);
	ck_assert_uint_eq(cf_meta_count(m), 1);
	snprintf(path, sizeof path, "%s/missing.csv", tmpdir);
	ck_assert_int_eq(cf_meta_read_links(m, path, NULL, err, sizeof err), -1);
	ck_assert_ptr_nonnull(strstr(err, "missing.csv: No such file"));
	cf_meta_free(m);
}
END_TEST

static void
setup(void)
{
	cf_test_mkdtemp(tmpdir, sizeof tmpdir, "utf8");
}

static void
teardown(void)
{
	cf_test_rmdir(tmpdir);
}

Suite *
utf8_suite(void)
{
	Suite *s = suite_create("utf8");
	TCase *tc = tcase_create("validator");
	TCase *io = tcase_create("text");

	tcase_add_test(tc, known_sequences);
	tcase_add_test(tc, exhaustive_against_reference);
	tcase_add_test(tc, every_code_point);
	tcase_add_test(tc, agrees_with_jansson);
	tcase_add_test(tc, show);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	tcase_add_checked_fixture(io, setup, teardown);
	tcase_add_test(io, sniff);
	tcase_add_test(io, encodings);
	tcase_add_test(io, decoding_errors);
	tcase_add_test(io, meta_errors_returned);
	suite_add_tcase(s, io);
	return s;
}
