/*
 * fuzz_meta.c - movie metadata (src/lib/meta.c): movies.csv and links.csv
 * as text or as frames, which join-meta and the server load, and the
 * helpers that pick titles, years, genres and ids apart.  Loading dies by
 * design on a malformed file (one line, exit 1): an exit with status 1 is
 * an accepted outcome, as for fuzz_ratings.c (same -DCF_FUZZ_WRAP_EXIT
 * arrangement under libFuzzer).
 *
 * Input: a flags byte (bit 0: load as links.csv instead of movies.csv;
 * bit 1: then load the same bytes as the other kind too; bit 2: repair a
 * frame's CRCs, fuzz.h), then the file.  The helpers run on the raw bytes
 * first, so they are fuzzed whatever the loader makes of the file.
 */
#define CF_FUZZ_DIES           /* exit(1) is an accepted outcome: fuzz.h */
#include "fuzz.h"
#include "meta.h"

#ifdef CF_FUZZ_WRAP_EXIT

/*
 * What a jump back strands includes the file's mapping (the loader's
 * tokenizer or frame reader), and a process runs out of mappings after
 * some 65,000 of them: with -Wl,--wrap=mmap,--wrap=munmap too, the
 * mappings made during a run and not unmapped are unmapped after it.
 */
void *__real_mmap(void *addr, size_t len, int prot, int fl, int fd, off_t off);
int __real_munmap(void *addr, size_t len);
static struct {
	void *p;
	size_t n;
} maps[64];
static int nmaps, tracking;

void *
__wrap_mmap(void *addr, size_t len, int prot, int fl, int fd, off_t off)
{
	void *p = __real_mmap(addr, len, prot, fl, fd, off);

	if (tracking && p != MAP_FAILED && nmaps < 64) {
		maps[nmaps].p = p;
		maps[nmaps].n = len;
		nmaps++;
	}
	return p;
}

int
__wrap_munmap(void *addr, size_t len)
{
	for (int i = 0; i < nmaps; i++)
		if (maps[i].p == addr) {
			maps[i] = maps[--nmaps];
			break;
		}
	return __real_munmap(addr, len);
}

static void
track(int on)
{
	tracking = on;
	if (!on)
		while (nmaps > 0) {
			nmaps--;
			__real_munmap(maps[nmaps].p, maps[nmaps].n);
		}
}
#else
static void track(int on) { (void)on; }
#endif

static void
helpers(const uint8_t *d, size_t n)
{
	char *buf = malloc(n + 2);
	const char *out, *g;
	size_t pos = 0, glen, len;

	if (!buf)
		abort();
	len = cf_canon_id((const char *)d, n, buf, &out);
	if (len > n + 1)
		abort();
	(void)cf_title_year((const char *)d, n);
	while (cf_genre_next((const char *)d, n, &pos, &g, &glen))
		if (pos > n + 1 || g < (const char *)d || g + glen > (const char *)d + n)
			abort();
	if (cf_utf8_width((const char *)d, n) > n)
		abort();
	free(buf);
}

static void
check(const cf_meta *m)
{
	for (uint32_t i = 0; i < cf_meta_count(m); i++) {
		cf_movie mv, again;
		cf_meta_get(m, i, &mv);
		if (!cf_meta_find(m, mv.id, mv.id_len, &again) || again.id_len != mv.id_len)
			abort();
		if (mv.in_movies) {
			size_t pos = 0, glen;
			const char *g;
			while (cf_genre_next(mv.genres, mv.genres_len, &pos, &g, &glen))
				;
			(void)cf_utf8_width(mv.title, mv.title_len);
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned flags = size ? data[0] : 0;
	size_t n = size ? size - 1 : 0;
	uint8_t *d = malloc(n ? n : 1);
	char path[64];

	if (!d)
		abort();
	if (n)
		memcpy(d, data + 1, n);
	helpers(d, n);
	if (flags & 4)
		cf_fuzz_fix_frame(d, n, 1);
	/* A memfd's bytes, by a path, as join-meta's --movies FILE opens it. */
	int fd = cf_fuzz_memfd(d, n);
	static int fd_s;        /* static: intact after a longjmp back from exit */
	static cf_meta *m;

	fd_s = fd;
	/* The loader opens the path itself and reads from offset 0. */
	if (lseek(fd, 0, SEEK_SET) != 0 || ftruncate(fd, 0) != 0)
		abort();
	cf_fuzz_write_all(fd, d, n);
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	/* Descriptors the loader opens are the lowest free ones: after a jump
	 * back from exit, those it left open are closed from here on. */
	static int lowest, was_open[16];
	lowest = dup(fd);
	if (lowest < 0)
		abort();
	close(lowest);
	for (int k = 0; k < 16; k++)
		was_open[k] = fcntl(lowest + k, F_GETFD) != -1;
	m = cf_meta_new();
	track(1);
	if (ARM()) {
		if (flags & 1)
			cf_meta_load_links(m, path);
		else
			cf_meta_load_movies(m, path);
		if (flags & 2) {
			if (flags & 1)
				cf_meta_load_movies(m, path);
			else
				cf_meta_load_links(m, path);
		}
		DISARM();
		check(m);
	}
	DISARM();
	cf_meta_free(m);
	track(0);
	for (int k = 0; k < 16; k++)
		if (!was_open[k] && lowest + k != fd_s)
			close(lowest + k);
	close(fd_s);
	free(d);
	return 0;
}
