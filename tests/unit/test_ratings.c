/*
 * test_ratings.c - unit tests of the in-memory ratings set (ratings.h):
 * raw and encoded input read to the same set, write-then-read round trips,
 * row subsets keep the full dictionaries, bad indices and duplicate
 * dictionary ids are refused naming the row.
 */
#include <check.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "frame.h"
#include "idmap.h"
#include "ratings.h"
#include "util.h"

Suite *ratings_suite(void);

/* Five rows; ids repeat so encoding by first appearance is visible. */
static const struct row {
	const char *u, *i;
	float r;
	int64_t t;
} rows5[] = {
	{"7", "a", 4.5f, 100}, {"7", "b", 3.0f, 200}, {"3", "a", 5.0f, 150},
	{"9", "c", 1.0f, 50}, {"3", "b", 2.5f, 120},
};
#define NROWS5 (sizeof rows5 / sizeof rows5[0])
/* First-appearance indices of rows5. */
static const uint32_t want_u[NROWS5] = {0, 0, 1, 2, 1};
static const uint32_t want_i[NROWS5] = {0, 1, 0, 2, 1};

static void
set_attrs(cf_schema *s)
{
	cf_schema_set(s, "rating_min", "0.5");
	cf_schema_set(s, "rating_max", "5");
	cf_schema_set(s, "dups", "error");
}

/* A table with one string column, for dictionaries and junk tables. */
static void
write_strtable(cf_writer *w, const char *name, const char *col, const char *const *v,
               size_t n)
{
	cf_schema *s = cf_schema_new(name);
	cf_rowbuf *b;

	cf_schema_add(s, col, CF_STR, 1);
	b = cf_rowbuf_new(w, s, 2);     /* small blocks: several per table */
	for (size_t k = 0; k < n; k++) {
		cf_rowbuf_str(b, 0, v[k], strlen(v[k]));
		cf_rowbuf_end_row(b);
	}
	cf_rowbuf_finish(b);
	cf_schema_free(s);
}

/* rows5 as a raw ratings table, followed by a movies table to be ignored. */
static FILE *
raw_stream(void)
{
	FILE *fp = tmpfile();
	cf_writer *w = cf_writer_new(fp, "raw");
	cf_schema *s = cf_schema_new("ratings");
	cf_rowbuf *b;
	static const char *const movies[] = {"a", "b"};

	ck_assert_ptr_nonnull(fp);
	cf_schema_add(s, "user", CF_STR, 1);
	cf_schema_add(s, "item", CF_STR, 1);
	cf_schema_add(s, "rating", CF_F32, 1);
	cf_schema_add(s, "timestamp", CF_I64, 1);
	set_attrs(s);
	b = cf_rowbuf_new(w, s, 2);
	for (size_t k = 0; k < NROWS5; k++) {
		cf_rowbuf_str(b, 0, rows5[k].u, strlen(rows5[k].u));
		cf_rowbuf_str(b, 1, rows5[k].i, strlen(rows5[k].i));
		cf_rowbuf_f32(b, 2, rows5[k].r);
		cf_rowbuf_i64(b, 3, rows5[k].t);
		cf_rowbuf_end_row(b);
	}
	cf_rowbuf_finish(b);
	write_strtable(w, "movies", "item", movies, 2);
	ck_assert_int_eq(cf_writer_finish(w), 0);
	cf_schema_free(s);
	return fp;
}

/*
 * An encoded stream written by hand (not by the module under test):
 * user and item indices as given, a junk table between the ratings and
 * the dictionaries, and the dictionaries items-first to show order does
 * not matter.
 */
static FILE *
enc_stream(const uint32_t *u, const uint32_t *it, size_t n, const char *const *users,
           size_t nu, const char *const *items, size_t ni)
{
	FILE *fp = tmpfile();
	cf_writer *w = cf_writer_new(fp, "enc");
	cf_schema *s = cf_schema_new("ratings");
	float r[NROWS5];
	int64_t t[NROWS5];
	static const char *const junk[] = {"x"};

	ck_assert_ptr_nonnull(fp);
	ck_assert_uint_le(n, NROWS5);
	for (size_t k = 0; k < n; k++) {
		r[k] = rows5[k].r;
		t[k] = rows5[k].t;
	}
	cf_schema_add(s, "user", CF_U32, 1);
	cf_schema_add(s, "item", CF_U32, 1);
	cf_schema_add(s, "rating", CF_F32, 1);
	cf_schema_add(s, "timestamp", CF_I64, 1);
	set_attrs(s);
	cf_schema_set(s, "encoded", "1");
	cf_write_table(w, s);
	const void *cols[4] = {u, it, r, t};
	cf_write_block(w, (uint32_t)n, cols);
	cf_write_end(w);
	write_strtable(w, "notes", "text", junk, 1);
	write_strtable(w, "items", "id", items, ni);
	write_strtable(w, "users", "id", users, nu);
	ck_assert_int_eq(cf_writer_finish(w), 0);
	cf_schema_free(s);
	return fp;
}

static void
read_fp(FILE *fp, cf_ratings *rs)
{
	cf_reader *r;

	fflush(fp);
	rewind(fp);
	/* The reader closes its fd: give it a copy. */
	r = cf_reader_open(dup(fileno(fp)), "test");
	ck_assert_int_eq(cf_ratings_read(r, rs), 0);
	cf_reader_close(r);
}

static void
check_id(const cf_idmap *m, uint32_t k, const char *want)
{
	size_t len;
	const char *id = cf_idmap_id(m, k, &len);

	ck_assert_uint_eq(len, strlen(want));
	ck_assert(memcmp(id, want, len) == 0);
}

/* rs holds rows5 (in the given row order), encoded by first appearance. */
static void
check_rows5(const cf_ratings *rs, const size_t *order, size_t n)
{
	static const char *const users[] = {"7", "3", "9"}, *const items[] = {"a", "b", "c"};

	ck_assert_uint_eq(rs->n, n);
	ck_assert_int_eq(rs->has_ts, 1);
	for (size_t j = 0; j < n; j++) {
		size_t k = order ? order[j] : j;
		ck_assert_uint_eq(rs->user[j], want_u[k]);
		ck_assert_uint_eq(rs->item[j], want_i[k]);
		ck_assert(rs->rating[j] == rows5[k].r);
		ck_assert(rs->ts[j] == rows5[k].t);
	}
	/* The dictionaries are always complete, whatever the rows. */
	ck_assert_uint_eq(cf_idmap_count(rs->users), 3);
	ck_assert_uint_eq(cf_idmap_count(rs->items), 3);
	for (uint32_t k = 0; k < 3; k++) {
		check_id(rs->users, k, users[k]);
		check_id(rs->items, k, items[k]);
	}
	ck_assert_int_eq(rs->has_scale, 1);
	ck_assert(rs->rating_min == 0.5 && rs->rating_max == 5.0);
	ck_assert_ptr_nonnull(rs->dups);
	ck_assert_str_eq(rs->dups, "error");
}

START_TEST(test_read_raw)
{
	cf_ratings rs;
	FILE *fp = raw_stream();

	read_fp(fp, &rs);
	check_rows5(&rs, NULL, NROWS5);
	cf_ratings_free(&rs);
	fclose(fp);
}
END_TEST

START_TEST(test_raw_and_encoded_agree)
{
	static const char *const users[] = {"7", "3", "9"}, *const items[] = {"a", "b", "c"};
	cf_ratings a, b;
	FILE *fa = raw_stream();
	FILE *fb = enc_stream(want_u, want_i, NROWS5, users, 3, items, 3);

	read_fp(fa, &a);
	read_fp(fb, &b);
	ck_assert_uint_eq(a.n, b.n);
	ck_assert(memcmp(a.user, b.user, a.n * 4) == 0);
	ck_assert(memcmp(a.item, b.item, a.n * 4) == 0);
	ck_assert(memcmp(a.rating, b.rating, a.n * 4) == 0);
	ck_assert(memcmp(a.ts, b.ts, a.n * 8) == 0);
	check_rows5(&b, NULL, NROWS5);
	ck_assert_str_eq(cf_schema_get(b.attrs, "encoded"), "1");
	cf_ratings_free(&a);
	cf_ratings_free(&b);
	fclose(fa);
	fclose(fb);
}
END_TEST

START_TEST(test_write_read_roundtrip)
{
	cf_ratings a, b;
	FILE *fa = raw_stream(), *fb = tmpfile();
	cf_writer *w;

	read_fp(fa, &a);
	w = cf_writer_new(fb, "out");
	ck_assert_int_eq(cf_ratings_write(w, &a, NULL, 0), 0);
	ck_assert_int_eq(cf_writer_finish(w), 0);
	read_fp(fb, &b);
	check_rows5(&b, NULL, NROWS5);
	ck_assert_str_eq(cf_schema_get(b.attrs, "encoded"), "1");
	cf_ratings_free(&a);
	cf_ratings_free(&b);
	fclose(fa);
	fclose(fb);
}
END_TEST

START_TEST(test_write_subset_keeps_dicts)
{
	static const uint32_t pick[] = {4, 0};
	static const size_t order[] = {4, 0};
	cf_ratings a, b;
	FILE *fa = raw_stream(), *fb = tmpfile();
	cf_writer *w;

	read_fp(fa, &a);
	w = cf_writer_new(fb, "out");
	/* Row 3 (user 9, item c) is left out; its ids must still be there. */
	ck_assert_int_eq(cf_ratings_write(w, &a, pick, 2), 0);
	ck_assert_int_eq(cf_writer_finish(w), 0);
	read_fp(fb, &b);
	check_rows5(&b, order, 2);
	cf_ratings_free(&a);
	cf_ratings_free(&b);
	fclose(fa);
	fclose(fb);
}
END_TEST

START_TEST(test_write_mask)
{
	static const unsigned char mask[NROWS5] = {1, 0, 1, 0, 1};
	static const size_t odd[] = {1, 3}, even[] = {0, 2, 4};
	cf_ratings a, b, c;
	FILE *fa = raw_stream(), *fb = tmpfile(), *fc = tmpfile();
	cf_writer *w;

	read_fp(fa, &a);
	w = cf_writer_new(fb, "out");
	ck_assert_int_eq(cf_ratings_write_mask(w, &a, mask, 0), 0);
	ck_assert_int_eq(cf_writer_finish(w), 0);
	w = cf_writer_new(fc, "out");
	ck_assert_int_eq(cf_ratings_write_mask(w, &a, mask, 1), 0);
	ck_assert_int_eq(cf_writer_finish(w), 0);
	read_fp(fb, &b);
	read_fp(fc, &c);
	check_rows5(&b, odd, 2);
	check_rows5(&c, even, 3);
	cf_ratings_free(&a);
	cf_ratings_free(&b);
	cf_ratings_free(&c);
	fclose(fa);
	fclose(fb);
	fclose(fc);
}
END_TEST

START_TEST(test_many_blocks)
{
	/* More rows than one block: indices and order survive block edges. */
	size_t n = 3 * (size_t)CF_BLOCK_ROWS + 17;
	cf_ratings a, b;
	FILE *fp = tmpfile();
	cf_writer *w;

	cf_ratings_init(&a, 0);
	for (uint32_t k = 0; k < 1000; k++) {
		char id[16];
		int len = snprintf(id, sizeof id, "u%u", k);
		cf_idmap_intern(a.users, id, (size_t)len, NULL);
		cf_idmap_intern(a.items, id + 1, (size_t)len - 1, NULL);
	}
	for (size_t k = 0; k < n; k++)
		cf_ratings_add(&a, (uint32_t)(k * 7 % 1000), (uint32_t)(k * 13 % 1000),
		               (float)(k % 10) / 2, 0);
	w = cf_writer_new(fp, "out");
	ck_assert_int_eq(cf_ratings_write(w, &a, NULL, 0), 0);
	ck_assert_int_eq(cf_writer_finish(w), 0);
	read_fp(fp, &b);
	ck_assert_uint_eq(b.n, n);
	ck_assert_int_eq(b.has_ts, 0);
	ck_assert_ptr_null(b.ts);
	ck_assert(memcmp(a.user, b.user, n * 4) == 0);
	ck_assert(memcmp(a.item, b.item, n * 4) == 0);
	ck_assert(memcmp(a.rating, b.rating, n * 4) == 0);
	ck_assert_uint_eq(cf_idmap_count(b.users), 1000);
	check_id(b.users, 999, "u999");
	check_id(b.items, 999, "999");
	ck_assert_int_eq(b.has_scale, 0);
	cf_ratings_free(&a);
	cf_ratings_free(&b);
	fclose(fp);
}
END_TEST

/*
 * Runs cf_ratings_read on fp in a child (it dies on bad input) and checks
 * it exits 1 with one stderr line containing want.  A hand-made fork, not
 * an exit test, so it works under CK_FORK=no as well.
 */
static void
expect_death(FILE *fp, const char *want)
{
	FILE *err = tmpfile();
	char line[512] = "", extra[512];
	int st;
	pid_t pid;

	fflush(fp);
	rewind(fp);
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		cf_ratings rs;
		cf_reader *r = cf_reader_open(dup(fileno(fp)), "test");
		dup2(fileno(err), 2);
		cf_ratings_read(r, &rs);
		_exit(0);
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFEXITED(st));
	ck_assert_int_eq(WEXITSTATUS(st), 1);
	rewind(err);
	ck_assert_ptr_nonnull(fgets(line, sizeof line, err));
	ck_assert_msg(strstr(line, want) != NULL, "message '%s' lacks '%s'", line, want);
	ck_assert_ptr_null(fgets(extra, sizeof extra, err));
	fclose(err);
}

START_TEST(test_bad_index)
{
	static const char *const users[] = {"7", "3", "9"}, *const items[] = {"a", "b", "c"};
	static const uint32_t bad_i[NROWS5] = {0, 1, 0, 3, 1};
	static const uint32_t bad_u[NROWS5] = {0, 0, 5, 2, 1};
	FILE *a = enc_stream(want_u, bad_i, NROWS5, users, 3, items, 3);
	FILE *b = enc_stream(bad_u, want_i, NROWS5, users, 3, items, 3);
	/* Valid indices against dictionaries one id short. */
	FILE *c = enc_stream(want_u, want_i, NROWS5, users, 2, items, 3);

	expect_death(a, "'ratings' row 3: item index 3 out of range");
	expect_death(b, "'ratings' row 2: user index 5 out of range");
	expect_death(c, "'ratings' row 3: user index 2 out of range");
	fclose(a);
	fclose(b);
	fclose(c);
}
END_TEST

START_TEST(test_dup_dict_id)
{
	static const char *const users[] = {"7", "3", "7"}, *const items[] = {"a", "b", "c"};
	FILE *fp = enc_stream(want_u, want_i, NROWS5, users, 3, items, 3);

	expect_death(fp, "'users' table row 2: duplicate id '7'");
	fclose(fp);
}
END_TEST

START_TEST(test_missing_dict)
{
	FILE *fp = tmpfile();
	cf_writer *w = cf_writer_new(fp, "enc");
	cf_schema *s = cf_schema_new("ratings");

	cf_schema_add(s, "user", CF_U32, 1);
	cf_schema_add(s, "item", CF_U32, 1);
	cf_schema_add(s, "rating", CF_F32, 1);
	cf_write_table(w, s);
	cf_writer_finish(w);
	cf_schema_free(s);
	expect_death(fp, "expected the 'users' table");
	fclose(fp);
}
END_TEST

START_TEST(test_wrong_table_and_columns)
{
	static const char *const ids[] = {"1"};
	FILE *a = tmpfile(), *b = tmpfile();
	cf_writer *w = cf_writer_new(a, "a");
	cf_schema *s = cf_schema_new("ratings");

	write_strtable(w, "movies", "item", ids, 1);
	cf_writer_finish(w);
	expect_death(a, "expected a 'ratings' table, found 'movies'");

	/* Raw user with encoded item: neither kind. */
	w = cf_writer_new(b, "b");
	cf_schema_add(s, "user", CF_STR, 1);
	cf_schema_add(s, "item", CF_U32, 1);
	cf_schema_add(s, "rating", CF_F32, 1);
	cf_write_table(w, s);
	cf_writer_finish(w);
	expect_death(b, "column 'user' is str but 'item' is u32");
	cf_schema_free(s);
	fclose(a);
	fclose(b);
}
END_TEST

Suite *
ratings_suite(void)
{
	Suite *s = suite_create("ratings");
	TCase *tc = tcase_create("ratings");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_read_raw);
	tcase_add_test(tc, test_raw_and_encoded_agree);
	tcase_add_test(tc, test_write_read_roundtrip);
	tcase_add_test(tc, test_write_subset_keeps_dicts);
	tcase_add_test(tc, test_write_mask);
	tcase_add_test(tc, test_many_blocks);
	tcase_add_test(tc, test_bad_index);
	tcase_add_test(tc, test_dup_dict_id);
	tcase_add_test(tc, test_missing_dict);
	tcase_add_test(tc, test_wrong_table_and_columns);
	suite_add_tcase(s, tc);
	return s;
}
