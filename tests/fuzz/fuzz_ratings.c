/*
 * fuzz_ratings.c - cf_ratings_read (src/lib/ratings.c) on raw and encoded
 * ratings streams.  It dies by design on bad input (cf_die: one line on
 * stderr, exit 1), so an exit with status 1 is an accepted outcome here;
 * a crash, a sanitizer report or any other exit status is a bug.
 *
 * Input: a flags byte (fuzz.h: bit 0 repairs the CRCs, bit 1 the
 * sequence numbers; bit 2 reads through a pipe instead of a mapped file;
 * bit 3 reads as the programs do, cf_ratings_read_input: one ratings
 * stream and nothing after it), then the stream.  A set that loads is checked (every index inside its
 * dictionary), written back with cf_ratings_write and read again.
 *
 * replay.c runs every input in a child process and takes exit 1 as fine
 * (cf_fuzz_exit_ok below).  Under libFuzzer, which cannot survive an
 * exit, build with -DCF_FUZZ_WRAP_EXIT and link with -Wl,--wrap=exit:
 * exit(1) from inside the target then jumps back here (tests/fuzz/run.sh).
 */
#define CF_FUZZ_DIES           /* exit(1) is an accepted outcome: fuzz.h */
#include "fuzz.h"
#include "frame.h"
#include "ratings.h"


static void
check(const cf_ratings *rs)
{
	uint32_t nu = cf_idmap_count(rs->users), ni = cf_idmap_count(rs->items);

	if (rs->n && rs->has_ts != (rs->ts != NULL))
		abort();
	for (size_t k = 0; k < rs->n; k++)
		if (rs->user[k] >= nu || rs->item[k] >= ni)
			abort();
	for (uint32_t i = 0; i < nu; i++) {
		size_t len;
		(void)cf_idmap_id(rs->users, i, &len);
	}
	if (rs->has_scale && (!cf_schema_get(rs->attrs, "rating_min") ||
	                      !cf_schema_get(rs->attrs, "rating_max")))
		abort();
}

/* The set written as an encoded stream must read back the same. */
static void
roundtrip(const cf_ratings *rs)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&buf, &len);
	cf_writer *w = cf_writer_new(fp, "memstream");
	cf_ratings again;

	cf_writer_set_die(w, 0);
	if (cf_ratings_write(w, rs, NULL, 0) != 0 || cf_writer_finish(w) != 0)
		abort();
	fclose(fp);
	cf_reader *r = cf_reader_open(cf_fuzz_memfd((const uint8_t *)buf, len), "again");
	if (cf_ratings_read(r, &again) != 0 || again.n != rs->n ||
	    cf_idmap_count(again.users) != cf_idmap_count(rs->users) ||
	    cf_idmap_count(again.items) != cf_idmap_count(rs->items) ||
	    (rs->n && (memcmp(again.user, rs->user, rs->n * 4) ||
	               memcmp(again.item, rs->item, rs->n * 4))))
		abort();
	cf_ratings_free(&again);
	cf_reader_close(r);
	free(buf);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t n;
	unsigned flags;
	uint8_t *d = cf_fuzz_frame_input(data, size, &n, &flags);
	int fd = (flags & 4) ? cf_fuzz_pipe(d, n) : cf_fuzz_memfd(d, n);
	/* volatile: read again after a longjmp back from exit. */
	cf_reader *volatile r = cf_reader_open(fd, "stdin");
	static cf_ratings rs;   /* static: intact after a longjmp back from exit */

	memset(&rs, 0, sizeof rs);      /* cf_ratings_free works on it whatever happens */
	if (ARM()) {
		if ((flags & 8 ? cf_ratings_read_input(r, &rs) : cf_ratings_read(r, &rs)) == 0) {
			DISARM();
			check(&rs);
			roundtrip(&rs);
		}
		DISARM();
	}
	cf_ratings_free(&rs);
	cf_reader_close(r);
	free(d);
	return 0;
}
