/*
 * test_ratelog.c - the server's ratings log (src/serve/ratelog.c): the
 * record codec against bytes laid out by hand, every malformed payload
 * refused, and the file: replay in order, a torn tail dropped and
 * truncated away with a warning, corruption before the tail an error
 * naming the byte offset; the overlay (overlay.c) over it: ratings,
 * removals, not-interested, limits; and title search (titles.c).
 */
#include <check.h>

#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "check_util.h"
#include "meta.h"
#include "overlay.h"
#include "ratelog.h"
#include "titles.h"

Suite *ratelog_suite(void);

static cf_rl_record
sample(cf_rl_entry *e)
{
	e[0] = (cf_rl_entry){CF_RL_RATE, "260", 3, 4.5f};
	e[1] = (cf_rl_entry){CF_RL_UNRATE, "1", 1, 0};
	e[2] = (cf_rl_entry){CF_RL_HIDE, "1210", 4, 0};
	return (cf_rl_record){.ts = 1700000000, .user = "18", .user_len = 2, .n = 3, .e = e};
}

START_TEST(codec_bytes)
{
	cf_rl_entry e[3], d[CF_RL_ENTRIES_MAX];
	cf_rl_record r = sample(e), back;
	unsigned char buf[256];
	/* The payload, laid out by hand (ratelog.h). */
	static const unsigned char want[] = {
		0x00, 0xf1, 0x53, 0x65, 0, 0, 0, 0,     /* ts 1700000000 */
		2, 0, '1', '8', 3, 0, 0, 0,
		1, 3, 0, '2', '6', '0', 0x00, 0x00, 0x90, 0x40, /* 4.5f */
		2, 1, 0, '1', 0, 0, 0, 0,
		3, 4, 0, '1', '2', '1', '0', 0, 0, 0, 0,
	};
	size_t n = cf_rl_size(&r);

	ck_assert_uint_eq(n, 8 + sizeof want);
	cf_rl_encode(&r, buf);
	ck_assert_uint_eq(buf[0] | buf[1] << 8, sizeof want);
	ck_assert_int_eq(memcmp(buf + 8, want, sizeof want), 0);
	uint32_t crc = (uint32_t)crc32(0L, want, sizeof want);
	ck_assert_uint_eq((uint32_t)(buf[4] | buf[5] << 8 | buf[6] << 16 | (uint32_t)buf[7] << 24),
	                  crc);
	ck_assert_int_eq(cf_rl_decode(buf + 8, sizeof want, &back, d), 0);
	ck_assert_int_eq(back.ts, 1700000000);
	ck_assert_uint_eq(back.user_len, 2);
	ck_assert_int_eq(memcmp(back.user, "18", 2), 0);
	ck_assert_uint_eq(back.n, 3);
	ck_assert_uint_eq(d[0].kind, CF_RL_RATE);
	ck_assert(d[0].rating == 4.5f);
	ck_assert_uint_eq(d[2].item_len, 4);
	ck_assert_int_eq(memcmp(d[2].item, "1210", 4), 0);
}
END_TEST

START_TEST(codec_refuses)
{
	cf_rl_entry e[3], d[CF_RL_ENTRIES_MAX];
	cf_rl_record r = sample(e), back;
	unsigned char buf[256], bad[256];
	size_t n = cf_rl_size(&r) - 8;

	cf_rl_encode(&r, buf);
	/* Every truncation, and one byte too many. */
	for (size_t len = 0; len < n; len++)
		ck_assert_msg(cf_rl_decode(buf + 8, len, &back, d) < 0, "length %zu", len);
	memcpy(bad, buf + 8, n);
	bad[n] = 0;
	ck_assert_int_lt(cf_rl_decode(bad, n + 1, &back, d), 0);
	/* A kind out of range; an empty id; no entries; a NaN rating; a NUL in an id. */
	memcpy(bad, buf + 8, n);
	bad[16] = 9;
	ck_assert_int_lt(cf_rl_decode(bad, n, &back, d), 0);
	memcpy(bad, buf + 8, n);
	bad[8] = 0;
	ck_assert_int_lt(cf_rl_decode(bad, n, &back, d), 0);
	memcpy(bad, buf + 8, n);
	bad[12] = 0;
	ck_assert_int_lt(cf_rl_decode(bad, n, &back, d), 0);
	memcpy(bad, buf + 8, n);
	bad[22] = 0x00, bad[23] = 0x00, bad[24] = 0xc0, bad[25] = 0x7f;
	ck_assert_int_lt(cf_rl_decode(bad, n, &back, d), 0);
	memcpy(bad, buf + 8, n);
	bad[10] = 0;
	ck_assert_int_lt(cf_rl_decode(bad, n, &back, d), 0);
}
END_TEST

/* Replays into a count of records and the sum of their ratings. */
struct tally {
	int records;
	double sum;
};

static int
count(void *arg, const cf_rl_record *r, char *err, size_t errlen)
{
	struct tally *t = arg;

	(void)err;
	(void)errlen;
	t->records++;
	for (size_t j = 0; j < r->n; j++)
		t->sum += r->e[j].rating;
	return 0;
}

static off_t
file_size(const char *path)
{
	struct stat st;

	ck_assert_int_eq(stat(path, &st), 0);
	return st.st_size;
}

static void
write_log(const char *path, int records)
{
	char warn[600], err[600];
	cf_rl_entry e[3];
	cf_rl_record r = sample(e);
	cf_rlog *l = cf_rlog_open(path, 0, NULL, NULL, warn, sizeof warn, err, sizeof err);

	ck_assert_msg(l != NULL, "%s", err);
	for (int i = 0; i < records; i++) {
		e[0].rating = (float)(i + 1);
		ck_assert_int_eq(cf_rlog_append(l, &r, err, sizeof err), 0);
	}
	cf_rlog_close(l);
}

START_TEST(file_replay_torn_corrupt)
{
	char dir[256], path[300], warn[600], err[600];
	struct tally t = {0};
	cf_rl_entry e[3];
	cf_rl_record r = sample(e);
	off_t one = (off_t)cf_rl_size(&r);

	cf_test_mkdtemp(dir, sizeof dir, "ratelog");
	snprintf(path, sizeof path, "%s/ratings.log", dir);
	write_log(path, 3);
	ck_assert_int_eq(file_size(path), CF_RL_MAGIC_LEN + 3 * one);
	cf_rlog *l = cf_rlog_open(path, 0, count, &t, warn, sizeof warn, err, sizeof err);
	ck_assert_msg(l != NULL, "%s", err);
	ck_assert_str_eq(warn, "");
	ck_assert_int_eq(t.records, 3);
	ck_assert(t.sum == 1 + 2 + 3);
	cf_rlog_close(l);

	/* Torn: the last record cut in its middle. */
	ck_assert_int_eq(truncate(path, CF_RL_MAGIC_LEN + 2 * one + one / 2), 0);
	t = (struct tally){0};
	l = cf_rlog_open(path, 0, count, &t, warn, sizeof warn, err, sizeof err);
	ck_assert_msg(l != NULL, "%s", err);
	ck_assert_int_eq(t.records, 2);
	ck_assert_msg(strstr(warn, "torn last record at byte") != NULL, "%s", warn);
	ck_assert_int_eq(file_size(path), CF_RL_MAGIC_LEN + 2 * one);
	/* What is appended after the repair replays. */
	ck_assert_int_eq(cf_rlog_append(l, &r, err, sizeof err), 0);
	cf_rlog_close(l);
	t = (struct tally){0};
	l = cf_rlog_open(path, 0, count, &t, warn, sizeof warn, err, sizeof err);
	ck_assert_int_eq(t.records, 3);
	ck_assert_str_eq(warn, "");
	cf_rlog_close(l);

	/* Corrupt: a flipped byte in the first record, two whole records after it. */
	int fd = open(path, O_RDWR);
	unsigned char c;
	ck_assert_int_eq(pread(fd, &c, 1, CF_RL_MAGIC_LEN + 20), 1);
	c ^= 0x40;
	ck_assert_int_eq(pwrite(fd, &c, 1, CF_RL_MAGIC_LEN + 20), 1);
	close(fd);
	off_t before = file_size(path);
	t = (struct tally){0};
	ck_assert(cf_rlog_open(path, 0, count, &t, warn, sizeof warn, err, sizeof err) == NULL);
	ck_assert_msg(strstr(err, "corrupt record at byte 8 ") != NULL, "%s", err);
	ck_assert_msg(strstr(err, path) != NULL, "%s", err);
	ck_assert_int_eq(file_size(path), before);      /* untouched */

	/* Not a log at all. */
	fd = open(path, O_WRONLY | O_TRUNC);
	ck_assert_int_eq(write(fd, "hello, world\n", 13), 13);
	close(fd);
	ck_assert(cf_rlog_open(path, 0, NULL, NULL, warn, sizeof warn, err, sizeof err) == NULL);
	ck_assert_msg(strstr(err, "not a ratings log") != NULL, "%s", err);
	cf_test_rmdir(dir);
}
END_TEST

START_TEST(overlay_states_limits)
{
	char dir[256], path[300], warn[600], err[600];
	cf_ov_limits lim = {3, 1 << 20};
	cf_rl_entry e[3];
	cf_rl_record r = sample(e);
	cf_ov_item *it;

	cf_test_mkdtemp(dir, sizeof dir, "overlay");
	snprintf(path, sizeof path, "%s/ratings.log", dir);
	cf_overlay *o = cf_overlay_open(path, 0, &lim, warn, sizeof warn, err, sizeof err);
	ck_assert_msg(o != NULL, "%s", err);
	ck_assert_int_eq(cf_overlay_add(o, &r, err, sizeof err), 0);
	/* 260 re-rated, 1210 interested again: the last word counts. */
	cf_rl_entry e2[2] = {{CF_RL_RATE, "260", 3, 2}, {CF_RL_UNHIDE, "1210", 4, 0}};
	cf_rl_record r2 = {.ts = 5, .user = "18", .user_len = 2, .n = 2, .e = e2};
	ck_assert_int_eq(cf_overlay_add(o, &r2, err, sizeof err), 0);
	/* A fourth movie passes the user's limit of 3: refused, nothing applied. */
	cf_rl_entry e3[1] = {{CF_RL_RATE, "50", 2, 4}};
	cf_rl_record r3 = {.ts = 6, .user = "18", .user_len = 2, .n = 1, .e = e3};
	ck_assert_int_eq(cf_overlay_add(o, &r3, err, sizeof err), 409);
	ck_assert_int_eq(cf_overlay_get(o, "19", 2, &it), 0);
	cf_overlay_free(o);

	/* Replayed: the same state. */
	o = cf_overlay_open(path, 0, &lim, warn, sizeof warn, err, sizeof err);
	ck_assert_msg(o != NULL, "%s", err);
	size_t n = cf_overlay_get(o, "18", 2, &it);
	ck_assert_uint_eq(n, 3);
	for (size_t j = 0; j < n; j++) {
		if (!strcmp(it[j].item, "260")) {
			ck_assert_int_eq(it[j].rated, 1);
			ck_assert(it[j].rating == 2);
			ck_assert_int_eq(it[j].ts, 5);
		} else if (!strcmp(it[j].item, "1")) {
			ck_assert_int_eq(it[j].rated, -1);
		} else {
			ck_assert_str_eq(it[j].item, "1210");
			ck_assert_int_eq(it[j].rated, 0);
			ck_assert_int_eq(it[j].hidden, 0);
		}
	}
	free(it);
	cf_overlay_free(o);

	/* The log's limit: 413. */
	lim.log_max = CF_RL_MAGIC_LEN + 1;
	o = cf_overlay_open(path, 0, &lim, warn, sizeof warn, err, sizeof err);
	ck_assert_int_eq(cf_overlay_add(o, &r2, err, sizeof err), 413);
	ck_assert_msg(strstr(err, "ratings log is full") != NULL, "%s", err);
	cf_overlay_free(o);
	cf_test_rmdir(dir);
}
END_TEST

START_TEST(titles_normalize)
{
	char out[256];

	cf_titles_normalize("Matrix, The (1999)", 18, 1, out, sizeof out);
	ck_assert_str_eq(out, "matrix ?the");
	cf_titles_normalize("Godfather: Part II, The (1974)", 30, 1, out, sizeof out);
	ck_assert_str_eq(out, "godfather part ii ?the");
	cf_titles_normalize("Haine, La (Hate) (1995)", 23, 1, out, sizeof out);
	ck_assert_str_eq(out, "haine ?la hate");
	cf_titles_normalize("Die Hard (1988)", 15, 1, out, sizeof out);
	ck_assert_str_eq(out, "die hard");
	cf_titles_normalize("L.A. Confidential (1997)", 24, 1, out, sizeof out);
	ck_assert_str_eq(out, "la confidential");
	const char *amelie = "Am\xc3\xa9lie (Fabuleux destin d'Am\xc3\xa9lie Poulain, Le) (2001)";
	cf_titles_normalize(amelie, strlen(amelie), 1, out, sizeof out);
	ck_assert_str_eq(out, "amelie fabuleux destin damelie poulain ?le");
	cf_titles_normalize("  THE   Matrix!! ", 17, 0, out, sizeof out);
	ck_assert_str_eq(out, "the matrix");
	/* Hand-counted distances, a swap counting one. */
	ck_assert_int_eq(cf_titles_distance("kitten", 6, "sitting", 7, 3), 3);
	ck_assert_int_eq(cf_titles_distance("matirx", 6, "matrix", 6, 2), 1);
	ck_assert_int_eq(cf_titles_distance("godfater", 8, "godfather", 9, 2), 1);
	ck_assert_int_eq(cf_titles_distance("abc", 3, "xyz", 3, 1), 2);
}
END_TEST

/* Popularity: the movie's index plus one (later rows more popular). */
static int64_t
pop_index(void *arg, uint32_t movie)
{
	(void)arg;
	return movie;
}

START_TEST(titles_search)
{
	char dir[256], path[300];
	static const char csv[] =
		"movieId,title,genres\n"
		"1,\"Matrix, The (1999)\",Action\n"
		"2,\"Matrix Reloaded, The (2003)\",Action\n"
		"3,\"Godfather, The (1972)\",Crime\n"
		"4,\"Godfather: Part II, The (1974)\",Crime\n"
		"5,\"Godfather: Part III, The (1990)\",Crime\n"
		"6,Mathematics (2000),Drama\n";
	uint32_t out[8];

	cf_test_mkdtemp(dir, sizeof dir, "titles");
	snprintf(path, sizeof path, "%s/movies.csv", dir);
	FILE *fp = fopen(path, "w");
	fputs(csv, fp);
	fclose(fp);
	cf_meta *m = cf_meta_new();
	cf_meta_load_movies(m, path);
	cf_titles *t = cf_titles_new(m);
	/* Exact title first, although Reloaded is more popular. */
	ck_assert_uint_eq(cf_titles_search(t, "the matrix", 10, 8, pop_index, NULL, out), 2);
	ck_assert_uint_eq(out[0], 0);
	ck_assert_uint_eq(out[1], 1);
	ck_assert_uint_eq(cf_titles_search(t, "godfather part ii", 17, 8, pop_index, NULL, out), 2);
	ck_assert_uint_eq(out[0], 3);
	ck_assert_uint_eq(out[1], 4);   /* "ii" a prefix of "iii" */
	/* A prefix: by quality, then popularity. */
	ck_assert_uint_eq(cf_titles_search(t, "mat", 3, 8, pop_index, NULL, out), 3);
	ck_assert_uint_eq(out[0], 5);   /* whole-title prefix matches first, */
	ck_assert_uint_eq(out[1], 0);
	ck_assert_uint_eq(out[2], 1);   /* then the longer title */
	/* A typo: the exact title ranks first. */
	ck_assert_uint_eq(cf_titles_search(t, "Godfater", 8, 1, pop_index, NULL, out), 1);
	ck_assert_uint_eq(out[0], 2);
	ck_assert_uint_eq(cf_titles_search(t, "zzzz", 4, 8, pop_index, NULL, out), 0);
	/* Empty: everything, most popular first. */
	ck_assert_uint_eq(cf_titles_search(t, "", 0, 2, pop_index, NULL, out), 2);
	ck_assert_uint_eq(out[0], 5);
	cf_titles_free(t);
	cf_meta_free(m);
	cf_test_rmdir(dir);
}
END_TEST

Suite *
ratelog_suite(void)
{
	Suite *s = suite_create("ratelog");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, codec_bytes);
	tcase_add_test(tc, codec_refuses);
	tcase_add_test(tc, file_replay_torn_corrupt);
	tcase_add_test(tc, overlay_states_limits);
	tcase_add_test(tc, titles_normalize);
	tcase_add_test(tc, titles_search);
	suite_add_tcase(s, tc);
	return s;
}
