/*
 * idmap.c - string -> dense index hash map.  A slot holds 32 bits of the
 * hash (as a tag, so most mismatches need no string compare) and the index;
 * ids live back to back in one arena with 64-bit offsets.
 */
#include "idmap.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

struct cf_idmap {
	uint64_t *slot;         /* 0 = empty, else (hash high 32 bits | 1) << 32 | index */
	uint64_t mask;
	uint32_t n;
	char *bytes;            /* ids back to back */
	size_t nbytes, bcap;
	uint64_t *off;          /* id i is bytes[off[i] .. off[i+1]) */
	size_t ocap;
};

uint64_t
cf_hash_bytes(const void *p, size_t len, uint64_t seed)
{
	/* FNV-1a over 8-byte words, then a splitmix finalizer: fast for the
	 * short ids we see (1-10 bytes) and well mixed. */
	const unsigned char *b = p;
	uint64_t h = 0xcbf29ce484222325ULL ^ seed ^ (len * 0x9e3779b97f4a7c15ULL);

	while (len >= 8) {
		uint64_t w;
		memcpy(&w, b, 8);
		h = (h ^ w) * 0x100000001b3ULL;
		h ^= h >> 29;
		b += 8;
		len -= 8;
	}
	if (len) {
		uint64_t w = 0;
		memcpy(&w, b, len);
		h = (h ^ w) * 0x100000001b3ULL;
	}
	return cf_hash_u64(h);
}

cf_idmap *
cf_idmap_new(void)
{
	cf_idmap *m = cf_xcalloc(1, sizeof *m);

	m->mask = 1023;
	m->slot = cf_xcalloc(m->mask + 1, sizeof *m->slot);
	m->off = cf_xcalloc(1, sizeof *m->off);
	m->ocap = 1;
	m->bcap = 64;           /* never NULL, even if only empty ids are added */
	m->bytes = cf_xmalloc(m->bcap);
	return m;
}

void
cf_idmap_free(cf_idmap *m)
{
	if (!m)
		return;
	free(m->slot);
	free(m->bytes);
	free(m->off);
	free(m);
}

uint32_t cf_idmap_count(const cf_idmap *m) { return m->n; }

const char *
cf_idmap_id(const cf_idmap *m, uint32_t i, size_t *len)
{
	*len = (size_t)(m->off[i + 1] - m->off[i]);
	return m->bytes + m->off[i];
}

static uint64_t
tag_of(uint64_t h)
{
	return ((h >> 32) | 1) << 32;
}

static int
same(const cf_idmap *m, uint32_t i, const char *id, size_t len)
{
	size_t l = (size_t)(m->off[i + 1] - m->off[i]);

	return l == len && memcmp(m->bytes + m->off[i], id, len) == 0;
}

static uint64_t
lookup(const cf_idmap *m, const char *id, size_t len, uint64_t h, uint32_t *found)
{
	uint64_t tag = tag_of(h), i = h & m->mask;

	for (;;) {
		uint64_t s = m->slot[i];
		if (s == 0) {
			*found = UINT32_MAX;
			return i;
		}
		if ((s & 0xffffffff00000000ULL) == tag && same(m, (uint32_t)s, id, len)) {
			*found = (uint32_t)s;
			return i;
		}
		i = (i + 1) & m->mask;
	}
}

uint32_t
cf_idmap_find(const cf_idmap *m, const char *id, size_t len)
{
	uint32_t found;

	lookup(m, id, len, cf_hash_bytes(id, len, 0), &found);
	return found;
}

static void
rehash(cf_idmap *m)
{
	uint64_t nmask = m->mask * 2 + 1;
	uint64_t *ns = cf_xcalloc(nmask + 1, sizeof *ns);

	for (uint64_t i = 0; i <= m->mask; i++) {
		uint64_t s = m->slot[i];
		if (!s)
			continue;
		size_t len;
		const char *id = cf_idmap_id(m, (uint32_t)s, &len);
		uint64_t j = cf_hash_bytes(id, len, 0) & nmask;
		while (ns[j])
			j = (j + 1) & nmask;
		ns[j] = s;
	}
	free(m->slot);
	m->slot = ns;
	m->mask = nmask;
}

uint32_t
cf_idmap_intern(cf_idmap *m, const char *id, size_t len, int *added)
{
	uint64_t h = cf_hash_bytes(id, len, 0);
	uint32_t found;
	uint64_t i = lookup(m, id, len, h, &found);

	if (added)
		*added = 0;
	if (found != UINT32_MAX)
		return found;
	if (m->n == UINT32_MAX - 1)
		cf_die("more than %u distinct ids", UINT32_MAX - 1);
	cf_grow((void **)&m->bytes, &m->bcap, m->nbytes + len, 1);
	memcpy(m->bytes + m->nbytes, id, len);
	m->nbytes += len;
	cf_grow((void **)&m->off, &m->ocap, (size_t)m->n + 2, sizeof *m->off);
	m->off[m->n + 1] = m->nbytes;
	m->slot[i] = tag_of(h) | m->n;
	m->n++;
	if ((uint64_t)m->n * 10 > (m->mask + 1) * 7)   /* load factor 0.7 */
		rehash(m);
	if (added)
		*added = 1;
	return m->n - 1;
}

/* ---------------------------------------------------------------- algebra */

static void
intern_all(cf_idmap *d, const cf_idmap *from)
{
	size_t len;

	for (uint32_t a = 0; a < cf_idmap_count(from); a++) {
		const char *id = cf_idmap_id(from, a, &len);
		cf_idmap_intern(d, id, len, NULL);
	}
}

cf_idmap *
cf_idmap_copy(const cf_idmap *d)
{
	cf_idmap *c = cf_idmap_new();

	intern_all(c, d);
	return c;
}

cf_idmap *
cf_idmap_union(const cf_idmap *base, const cf_idmap *more)
{
	cf_idmap *d = cf_idmap_copy(base);

	intern_all(d, more);
	return d;
}

uint32_t *
cf_idmap_map(const cf_idmap *from, const cf_idmap *to)
{
	uint32_t n = cf_idmap_count(from);
	uint32_t *m = cf_xmalloc(((size_t)n + 1) * sizeof *m);
	size_t len;

	for (uint32_t a = 0; a < n; a++) {
		const char *id = cf_idmap_id(from, a, &len);
		m[a] = cf_idmap_find(to, id, len);
	}
	return m;
}
