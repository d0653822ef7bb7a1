/*
 * rng.h - the seeded pseudo-random generator every stage uses
 * (xoshiro256**, seeded through splitmix64), so that "the same seed gives
 * the same output" holds across programs and machines.  Header-only:
 * it is a few lines and sits on hot loops.
 */
#ifndef CF_RNG_H
#define CF_RNG_H

#include <math.h>
#include <stdint.h>

typedef struct cf_rng {
	uint64_t s[4];
} cf_rng;

static inline uint64_t
cf_splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Seeds a generator; `stream` gives independent sequences for one seed. */
static inline void
cf_rng_seed(cf_rng *r, uint64_t seed, uint64_t stream)
{
	uint64_t x = seed ^ (stream * 0xd1342543de82ef95ULL);

	for (int i = 0; i < 4; i++)
		r->s[i] = cf_splitmix64(&x);
}

static inline uint64_t
cf_rng_next(cf_rng *r)
{
	uint64_t *s = r->s;
	uint64_t x = s[1] * 5, res = ((x << 7) | (x >> 57)) * 9, t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = (s[3] << 45) | (s[3] >> 19);
	return res;
}

/* Uniform in [0, 1) with 53 random bits. */
static inline double
cf_rng_uniform(cf_rng *r)
{
	return (double)(cf_rng_next(r) >> 11) * 0x1.0p-53;
}

/* Uniform integer in [0, n), without modulo bias (Lemire's method). */
static inline uint64_t
cf_rng_below(cf_rng *r, uint64_t n)
{
	unsigned __int128 m = (unsigned __int128)cf_rng_next(r) * n;
	uint64_t lo = (uint64_t)m;

	if (lo < n) {
		uint64_t t = (0 - n) % n;
		while (lo < t) {
			m = (unsigned __int128)cf_rng_next(r) * n;
			lo = (uint64_t)m;
		}
	}
	return (uint64_t)(m >> 64);
}

/* Standard normal deviate (Marsaglia's polar method, one value per call). */
static inline double
cf_rng_normal(cf_rng *r)
{
	double u, v, s;

	do {
		u = 2 * cf_rng_uniform(r) - 1;
		v = 2 * cf_rng_uniform(r) - 1;
		s = u * u + v * v;
	} while (s >= 1 || s == 0);
	return u * sqrt(-2 * log(s) / s);
}

#endif
