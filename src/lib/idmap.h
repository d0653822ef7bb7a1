/*
 * idmap.h - dictionaries from raw ids (byte strings) to dense indices
 * 0..n-1, in order of first appearance.  Used by encode-ids, csv2bin's
 * duplicate detection, split and every stage that encodes ids on the fly.
 * Memory is proportional to the distinct ids: the bytes once in an arena
 * plus one 8-byte slot per id in an open-addressing table.
 */
#ifndef CF_IDMAP_H
#define CF_IDMAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct cf_idmap cf_idmap;

cf_idmap *cf_idmap_new(void);
void cf_idmap_free(cf_idmap *m);
/* Index of id, adding it if new (*added set to 1 then, if added != NULL). */
uint32_t cf_idmap_intern(cf_idmap *m, const char *id, size_t len, int *added);
/* Index of id, or UINT32_MAX if absent. */
uint32_t cf_idmap_find(const cf_idmap *m, const char *id, size_t len);
uint32_t cf_idmap_count(const cf_idmap *m);
/* The id of index i (not NUL-terminated). */
const char *cf_idmap_id(const cf_idmap *m, uint32_t i, size_t *len);

/*
 * Dictionary algebra, the one place ids go from one dictionary to another:
 * a copy; base's ids then those of more it lacks (base's indices stay);
 * the index in `to` of every id of `from` (UINT32_MAX where absent; an
 * array of count(from) entries, freed by the caller).
 */
cf_idmap *cf_idmap_copy(const cf_idmap *d);
cf_idmap *cf_idmap_union(const cf_idmap *base, const cf_idmap *more);
uint32_t *cf_idmap_map(const cf_idmap *from, const cf_idmap *to);

/* 64-bit hash of a byte string (also used for pair hashing). */
uint64_t cf_hash_bytes(const void *p, size_t len, uint64_t seed);
static inline uint64_t
cf_hash_u64(uint64_t x)
{
	/* splitmix64 finalizer: a cheap, well-mixed hash of an integer key. */
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

#endif
