/*
 * test_idmap.c - unit tests of the id dictionary (src/lib/idmap.c): dense
 * indices in order of first appearance, lookups of absent ids, ids that are
 * prefixes of each other or differ only in NUL bytes, the empty id, a
 * million ids (several rehashes), and ids whose hashes are equal.
 */
#include <check.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "idmap.h"
#include "util.h"

Suite *idmap_suite(void);

/* An assertion that costs nothing when it holds (Check marks every ck_assert). */
#define CHECK(cond, ...) do { if (!(cond)) ck_abort_msg(__VA_ARGS__); } while (0)

static void
check_id(const cf_idmap *m, uint32_t i, const char *id, size_t len)
{
	size_t l;
	const char *p = cf_idmap_id(m, i, &l);

	CHECK(l == len && memcmp(p, id, len) == 0, "id %u: wrong bytes", i);
}

START_TEST(basics)
{
	cf_idmap *m = cf_idmap_new();
	int added = -1;

	ck_assert_uint_eq(cf_idmap_count(m), 0);
	ck_assert_uint_eq(cf_idmap_find(m, "a", 1), UINT32_MAX);
	ck_assert_uint_eq(cf_idmap_intern(m, "a", 1, &added), 0);
	ck_assert_int_eq(added, 1);
	ck_assert_uint_eq(cf_idmap_intern(m, "b", 1, &added), 1);
	ck_assert_int_eq(added, 1);
	ck_assert_uint_eq(cf_idmap_intern(m, "a", 1, &added), 0);
	ck_assert_int_eq(added, 0);
	ck_assert_uint_eq(cf_idmap_intern(m, "c", 1, NULL), 2);
	ck_assert_uint_eq(cf_idmap_intern(m, "b", 1, NULL), 1);
	ck_assert_uint_eq(cf_idmap_count(m), 3);
	ck_assert_uint_eq(cf_idmap_find(m, "c", 1), 2);
	ck_assert_uint_eq(cf_idmap_find(m, "d", 1), UINT32_MAX);
	check_id(m, 0, "a", 1);
	check_id(m, 1, "b", 1);
	check_id(m, 2, "c", 1);
	cf_idmap_free(m);
	cf_idmap_free(NULL);
}
END_TEST

/* The empty id, NUL bytes, prefixes, case, long ids: all distinct. */
START_TEST(tricky_ids)
{
	static const struct { const char *s; size_t n; } ids[] = {
		{"", 0}, {"\0", 1}, {"\0\0", 2}, {"1", 1}, {"1\0", 2}, {"12", 2},
		{"123", 3}, {"1234567", 7}, {"12345678", 8}, {"123456789", 9},
		{"1234567890123456", 16}, {"12345678901234567", 17}, {"a", 1}, {"A", 1},
		{"tt0114709", 9}, {"tt0114709 ", 10}, {"\xc3\xa9", 2}, {"e\xcc\x81", 3},
		{"18", 2}, {"018", 3}, {"18.0", 4}, {"\xff", 1},
	};
	size_t n = sizeof ids / sizeof ids[0];
	cf_idmap *m = cf_idmap_new();
	char longid[1000];

	for (size_t i = 0; i < n; i++) {
		int added;
		ck_assert_uint_eq(cf_idmap_intern(m, ids[i].s, ids[i].n, &added), i);
		ck_assert_int_eq(added, 1);
	}
	memset(longid, 'x', sizeof longid);
	ck_assert_uint_eq(cf_idmap_intern(m, longid, sizeof longid, NULL), n);
	ck_assert_uint_eq(cf_idmap_intern(m, longid, sizeof longid - 1, NULL), n + 1);
	for (size_t i = 0; i < n; i++) {
		int added;
		ck_assert_uint_eq(cf_idmap_find(m, ids[i].s, ids[i].n), i);
		ck_assert_uint_eq(cf_idmap_intern(m, ids[i].s, ids[i].n, &added), i);
		ck_assert_int_eq(added, 0);
		check_id(m, (uint32_t)i, ids[i].s, ids[i].n);
	}
	ck_assert_uint_eq(cf_idmap_find(m, longid, sizeof longid), n);
	ck_assert_uint_eq(cf_idmap_find(m, longid, 2), UINT32_MAX);
	ck_assert_uint_eq(cf_idmap_find(m, "\0\0\0", 3), UINT32_MAX);
	ck_assert_uint_eq(cf_idmap_find(m, "12345678\0", 9), UINT32_MAX);
	ck_assert_uint_eq(cf_idmap_count(m), n + 2);
	cf_idmap_free(m);
}
END_TEST

/* The empty id alone, first and later. */
START_TEST(empty_id)
{
	cf_idmap *m = cf_idmap_new();
	size_t len = 99;

	ck_assert_uint_eq(cf_idmap_find(m, "", 0), UINT32_MAX);
	ck_assert_uint_eq(cf_idmap_intern(m, "", 0, NULL), 0);
	ck_assert_uint_eq(cf_idmap_find(m, "", 0), 0);
	ck_assert_uint_eq(cf_idmap_find(m, "x", 0), 0);  /* only len counts */
	cf_idmap_id(m, 0, &len);
	ck_assert_uint_eq(len, 0);
	ck_assert_uint_eq(cf_idmap_intern(m, "x", 1, NULL), 1);
	ck_assert_uint_eq(cf_idmap_intern(m, "", 0, NULL), 0);
	cf_idmap_free(m);
}
END_TEST

/* A million ids, with repeats: dense first-appearance indices throughout. */
#define MANY 1000000u
START_TEST(million)
{
	cf_idmap *m = cf_idmap_new();
	char buf[32];

	for (uint32_t i = 0; i < MANY; i++) {
		int added, len = snprintf(buf, sizeof buf, "u%u", i);
		uint32_t k = cf_idmap_intern(m, buf, (size_t)len, &added);
		CHECK(k == i && added == 1, "id %s got %u (added %d)", buf, k, added);
		/* a repeat of an earlier id changes nothing */
		len = snprintf(buf, sizeof buf, "u%u", i / 2);
		k = cf_idmap_intern(m, buf, (size_t)len, &added);
		CHECK(k == i / 2 && added == 0, "repeat %s got %u (added %d)", buf, k, added);
	}
	ck_assert_uint_eq(cf_idmap_count(m), MANY);
	for (uint32_t i = 0; i < MANY; i++) {
		int len = snprintf(buf, sizeof buf, "u%u", i);
		CHECK(cf_idmap_find(m, buf, (size_t)len) == i, "find %s", buf);
		check_id(m, i, buf, (size_t)len);
		len = snprintf(buf, sizeof buf, "v%u", i);
		CHECK(cf_idmap_find(m, buf, (size_t)len) == UINT32_MAX, "absent %s found", buf);
		len = snprintf(buf, sizeof buf, "u%u", i + MANY);
		CHECK(cf_idmap_find(m, buf, (size_t)len) == UINT32_MAX, "absent %s found", buf);
	}
	ck_assert_uint_eq(cf_idmap_count(m), MANY);
	cf_idmap_free(m);
}
END_TEST

/*
 * Ids whose hashes agree in their high 32 bits (the map's tag) occur by
 * chance among a million ids (about 116 pairs expected); the map must still
 * keep them apart.
 */
typedef struct hrec {
	uint64_t h;
	uint32_t i;
} hrec;

static int
hrec_cmp(const void *a, const void *b)
{
	uint64_t x = ((const hrec *)a)->h >> 32, y = ((const hrec *)b)->h >> 32;

	return x < y ? -1 : x > y;
}

START_TEST(equal_hash_tags)
{
	hrec *r = cf_xmalloc(MANY * sizeof *r);
	cf_idmap *m = cf_idmap_new();
	char buf[32], buf2[32];
	uint32_t pairs = 0;

	for (uint32_t i = 0; i < MANY; i++) {
		int len = snprintf(buf, sizeof buf, "%u", i);
		r[i].h = cf_hash_bytes(buf, (size_t)len, 0);
		r[i].i = i;
		CHECK(cf_idmap_intern(m, buf, (size_t)len, NULL) == i, "id %s", buf);
	}
	qsort(r, MANY, sizeof *r, hrec_cmp);
	for (uint32_t k = 1; k < MANY; k++) {
		if (r[k].h >> 32 != r[k - 1].h >> 32)
			continue;
		int l1 = snprintf(buf, sizeof buf, "%u", r[k].i);
		int l2 = snprintf(buf2, sizeof buf2, "%u", r[k - 1].i);
		CHECK(cf_idmap_find(m, buf, (size_t)l1) == r[k].i, "find %s", buf);
		CHECK(cf_idmap_find(m, buf2, (size_t)l2) == r[k - 1].i, "find %s", buf2);
		pairs++;
	}
	ck_assert_msg(pairs > 0, "no ids with equal hash tags among %u", MANY);
	free(r);
	cf_idmap_free(m);
}
END_TEST

/*
 * Ids with identical 64-bit hashes.  Constructed from the structure of
 * cf_hash_bytes (a multiply-xorshift chain over 8-byte words): for 16-byte
 * ids, choosing the second word to cancel the state after the first makes
 * the whole hash equal.  If the hash function changes, the ids are merely
 * distinct and the map checks below still apply.
 */
static uint64_t
first_word_state(uint64_t w1, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ULL ^ (len * 0x9e3779b97f4a7c15ULL);

	h = (h ^ w1) * 0x100000001b3ULL;
	h ^= h >> 29;
	return h;
}

START_TEST(equal_full_hashes)
{
	enum { N = 300 };
	cf_idmap *m = cf_idmap_new();
	unsigned char ids[N + 1][16];
	uint64_t h0;
	int same = 0;

	for (int k = 0; k <= N; k++) {
		uint64_t w1 = 0x3030303030303030ULL + (uint64_t)k;
		uint64_t w2 = 0x1234567890abcdefULL ^ first_word_state(w1, 16);
		memcpy(ids[k], &w1, 8);
		memcpy(ids[k] + 8, &w2, 8);
	}
	h0 = cf_hash_bytes(ids[0], 16, 0);
	for (int k = 0; k <= N; k++)
		same += cf_hash_bytes(ids[k], 16, 0) == h0;
	if (same != N + 1)
		fprintf(stderr, "note: equal_full_hashes: only %d of %d ids collide "
		        "(cf_hash_bytes changed?)\n", same, N + 1);
	for (int k = 0; k < N; k++) {
		int added;
		ck_assert_uint_eq(cf_idmap_intern(m, (const char *)ids[k], 16, &added), (uint32_t)k);
		ck_assert_int_eq(added, 1);
	}
	for (int k = 0; k < N; k++) {
		ck_assert_uint_eq(cf_idmap_find(m, (const char *)ids[k], 16), (uint32_t)k);
		check_id(m, (uint32_t)k, (const char *)ids[k], 16);
	}
	/* colliding but absent */
	ck_assert_uint_eq(cf_idmap_find(m, (const char *)ids[N], 16), UINT32_MAX);
	/* same first 15 bytes, different length */
	ck_assert_uint_eq(cf_idmap_find(m, (const char *)ids[0], 15), UINT32_MAX);
	ck_assert_uint_eq(cf_idmap_count(m), N);
	cf_idmap_free(m);
}
END_TEST

START_TEST(hash_functions)
{
	/* Deterministic, seeded, length-sensitive. */
	ck_assert(cf_hash_bytes("abc", 3, 0) == cf_hash_bytes("abc", 3, 0));
	ck_assert(cf_hash_bytes("abc", 3, 0) != cf_hash_bytes("abc", 3, 1));
	ck_assert(cf_hash_bytes("abc", 3, 0) != cf_hash_bytes("abc\0", 4, 0));
	ck_assert(cf_hash_bytes("", 0, 0) != cf_hash_bytes("\0", 1, 0));
	ck_assert(cf_hash_bytes("12345678", 8, 0) != cf_hash_bytes("12345679", 8, 0));
	/* Unaligned input is fine (read with memcpy). */
	{
		char buf[40];
		memcpy(buf + 1, "0123456789abcdefghij", 20);
		ck_assert(cf_hash_bytes(buf + 1, 20, 7) == cf_hash_bytes("0123456789abcdefghij", 20, 7));
	}
	ck_assert(cf_hash_u64(0) == cf_hash_u64(0));
	ck_assert(cf_hash_u64(1) != cf_hash_u64(2));
	ck_assert(cf_hash_u64(1) != 1);
}
END_TEST

Suite *
idmap_suite(void)
{
	Suite *s = suite_create("idmap");
	TCase *tc = tcase_create("idmap");

	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, basics);
	tcase_add_test(tc, tricky_ids);
	tcase_add_test(tc, empty_id);
	tcase_add_test(tc, million);
	tcase_add_test(tc, equal_hash_tags);
	tcase_add_test(tc, equal_full_hashes);
	tcase_add_test(tc, hash_functions);
	suite_add_tcase(s, tc);
	return s;
}
