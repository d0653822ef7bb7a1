/*
 * fuzz.h - what the fuzz targets in tests/fuzz/ share: turning the
 * fuzzer's bytes into a file descriptor the library reads (a memfd, which
 * the readers map, or a pipe, which they read()), and a pass that repairs
 * the CRCs (and optionally the block sequence numbers) of a mutated frame
 * stream so that mutations reach the code behind the checksums.
 *
 * Each target defines LLVMFuzzerTestOneInput; libFuzzer links it with
 * -fsanitize=fuzzer, tests/fuzz/replay.c with a plain main() (see
 * tests/fuzz/README.md).
 */
#ifndef CF_FUZZ_H
#define CF_FUZZ_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE             /* memfd_create, F_SETPIPE_SZ */
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <zlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Inputs larger than this are cut (a pipe must hold all of them). */
#define CF_FUZZ_MAX (1u << 20)

static inline void
cf_fuzz_abort(const char *what)
{
	fprintf(stderr, "fuzz harness: %s: %s\n", what, strerror(errno));
	abort();
}

static inline void
cf_fuzz_write_all(int fd, const uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t k = write(fd, p, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			cf_fuzz_abort("write");
		p += k;
		n -= (size_t)k;
	}
}

/*
 * A regular file (memfd) holding the bytes, positioned at their start.
 * They are preceded by padding, a multiple of 64 so the stream stays
 * 64-byte aligned, chosen so that an input whose length is a multiple of
 * 64 ends exactly at a page boundary: a read past its end then faults
 * instead of landing in the zeroes of the mapping's last page.
 */
static inline int
cf_fuzz_memfd(const uint8_t *d, size_t n)
{
	static const uint8_t zero[4096];
	size_t pad = (4096 - n % 4096) % 4096 & ~(size_t)63;
	int fd = memfd_create("fuzz", MFD_CLOEXEC);

	if (fd < 0)
		cf_fuzz_abort("memfd_create");
	cf_fuzz_write_all(fd, zero, pad);
	cf_fuzz_write_all(fd, d, n);
	if (lseek(fd, (off_t)pad, SEEK_SET) < 0)
		cf_fuzz_abort("lseek");
	return fd;
}

/* A pipe holding the bytes, its write end closed: read() sees them, then EOF. */
static inline int
cf_fuzz_pipe(const uint8_t *d, size_t n)
{
	int p[2];

	if (n > CF_FUZZ_MAX)
		n = CF_FUZZ_MAX;
	if (pipe2(p, O_CLOEXEC) < 0)
		cf_fuzz_abort("pipe");
	if (n > 65536 && fcntl(p[1], F_SETPIPE_SZ, (int)CF_FUZZ_MAX) < 0)
		n = 65536;      /* pipe-max-size too small: feed what fits */
	cf_fuzz_write_all(p[1], d, n);
	close(p[1]);
	return p[0];
}

static inline uint32_t cf_fuzz_rd32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static inline uint64_t cf_fuzz_rd64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }
static inline void cf_fuzz_wr32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static inline void cf_fuzz_wr64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }

static inline uint32_t
cf_fuzz_crc(const uint8_t *p, size_t n)
{
	return (uint32_t)crc32(0, p, (uInt)n);
}

/*
 * Walks a frame stream the way a lenient reader would and rewrites every
 * header and payload CRC it can find (and, with seq, each block's index
 * and running total), so that a mutated stream is judged on its structure.
 * Stops at the first thing it cannot walk past.
 */
static inline void
cf_fuzz_fix_frame(uint8_t *d, size_t n, int seq)
{
	size_t o = 0;

	while (n - o >= 64) {
		uint32_t len = cf_fuzz_rd32(d + o + 12);
		if (len < 64 || len % 64 || len > n - o)
			return;
		cf_fuzz_wr32(d + o + len - 8, cf_fuzz_crc(d + o, len - 8));
		o += len;
		uint64_t index = 0, total = 0;
		while (n - o >= 64 && memcmp(d + o, "CFBK", 4) == 0) {
			uint32_t nrows = cf_fuzz_rd32(d + o + 4);
			uint64_t plen = cf_fuzz_rd64(d + o + 8);
			if (plen > n - o - 64)
				return;
			if (seq) {
				cf_fuzz_wr64(d + o + 16, index);
				cf_fuzz_wr64(d + o + 24, total + nrows);
			}
			cf_fuzz_wr32(d + o + 32, nrows ? cf_fuzz_crc(d + o + 64, (size_t)plen) : 0);
			cf_fuzz_wr32(d + o + 56, cf_fuzz_crc(d + o, 56));
			o += 64 + (size_t)plen;
			if (nrows == 0)
				break;
			index++;
			total += nrows;
		}
	}
}

/*
 * The fuzzed bytes as a frame stream: byte 0 holds flags (bit 0: repair
 * the CRCs, bit 1: the sequence numbers too), the stream follows.  The
 * copy is malloc'd to its exact size (ASan sees any overrun); free it.
 */
static inline uint8_t *
cf_fuzz_frame_input(const uint8_t *data, size_t size, size_t *n, unsigned *flags)
{
	*flags = size ? data[0] : 0;
	*n = size ? size - 1 : 0;
	uint8_t *d = malloc(*n ? *n : 1);
	if (!d)
		cf_fuzz_abort("malloc");
	if (*n)
		memcpy(d, data + 1, *n);
	if (*flags & 3)
		cf_fuzz_fix_frame(d, *n, (*flags & 2) != 0);
	return d;
}

/*
 * Targets whose library code exits by design on bad input (cf_die) define
 * CF_FUZZ_DIES before including this: exit(1) is then an accepted outcome
 * (replay.c reads cf_fuzz_exit_ok).  Under libFuzzer, which cannot survive
 * an exit, they are built with -DCF_FUZZ_WRAP_EXIT and -Wl,--wrap=exit, and
 * an exit(1) between ARM() and DISARM() jumps back into the target.
 */
#ifdef CF_FUZZ_DIES
#include <setjmp.h>
#include <stdlib.h>

const int cf_fuzz_exit_ok = 1;

#ifdef CF_FUZZ_WRAP_EXIT
static jmp_buf back;
static int armed;
void __real_exit(int status) __attribute__((noreturn));
void __wrap_exit(int status) __attribute__((noreturn));
void
__wrap_exit(int status)
{
	if (armed) {
		armed = 0;
		if (status != 1)
			abort();
		longjmp(back, 1);
	}
	__real_exit(status);
}
#define ARM() (armed = 1, setjmp(back) == 0)
#define DISARM() (armed = 0)
#else
#define ARM() 1
#define DISARM() ((void)0)
#endif
#endif

#endif
