/*
 * fuzz_model.c - the model reader (cf_model_read, src/lib/model.c) as the
 * server uses it: a reader that does not die and an error buffer, so a
 * bad model file must come back as NULL and a one-line message, never an
 * exit.  Input: a flags byte (fuzz.h: bit 0 repairs the CRCs, bit 1 the
 * sequence numbers; bit 2 reads through a pipe instead of a mapped file),
 * then the model stream.  A model that loads is then used the way
 * mf-score and the server use one (scorer, pair and user scores, top-N,
 * similar items, every user's top-N), written back and read again.
 */
#include "fuzz.h"
#include "frame.h"
#include "model.h"
#include "score.h"

static int
emit(void *arg, uint32_t u0, uint32_t u1, size_t n, const cf_hit *hits,
     const uint32_t *cnt)
{
	uint64_t *acc = arg;

	for (uint32_t u = u0; u < u1; u++) {
		if (cnt[u - u0] > n)
			abort();
		for (uint32_t j = 0; j < cnt[u - u0]; j++)
			*acc += hits[(size_t)(u - u0) * n + j].item;
	}
	return 0;
}

/* Uses a loaded model as the programs do; ASan/UBSan watch. */
static void
exercise(const cf_model *m)
{
	if (m->k < 0 || (m->k > 0 && (!m->P || !m->Q)) || !m->bu || !m->bi ||
	    !m->users || !m->items || !m->seen_ptr ||
	    cf_idmap_count(m->users) != m->nusers || cf_idmap_count(m->items) != m->nitems ||
	    m->seen_ptr[m->nusers] != m->nseen)
		abort();
	/* Inputs are small: keep the work so (the limits are for huge models). */
	if ((uint64_t)m->nusers * m->nitems * (m->k + 1) > (1u << 22))
		return;
	cf_scorer *s = cf_scorer_new(m);
	float *row = malloc(((size_t)m->nitems + 1) * sizeof *row);
	cf_hit hits[8];
	uint64_t acc = 0;

	(void)cf_score_pair(s, CF_NOID, CF_NOID);
	for (uint32_t u = 0; u < m->nusers && u < 4; u++) {
		(void)cf_score_pair(s, u, CF_NOID);
		for (uint32_t i = 0; i < m->nitems && i < 4; i++) {
			(void)cf_score_pair(s, u, i);
			(void)cf_model_seen(m, u, i);
		}
		cf_score_user(s, u, row);
		cf_score_exclude(row, m->seen_item + m->seen_ptr[u],
		                 (size_t)(m->seen_ptr[u + 1] - m->seen_ptr[u]));
		size_t got = cf_score_topn(s, row, 8, hits);
		if (got > 8)
			abort();
		for (size_t j = 0; j < got; j++)
			if (hits[j].item >= m->nitems)
				abort();
	}
	for (uint32_t i = 0; i < m->nitems && i < 4; i++) {
		(void)cf_score_pair(s, CF_NOID, i);
		size_t got = cf_score_similar(s, i, 8, hits);
		for (size_t j = 0; j < got; j++)
			if (hits[j].item >= m->nitems || hits[j].item == i)
				abort();
	}
	(void)cf_score_all_topn(s, 3, 0, 1, emit, &acc);
	(void)cf_score_all_topn(s, 2, 1, 1, emit, &acc);
	free(row);
	cf_scorer_free(s);
}

/* A loaded model, written again, must read back. */
static void
roundtrip(const cf_model *m)
{
	char *buf = NULL, err[600];
	size_t len = 0;
	FILE *fp = open_memstream(&buf, &len);
	cf_writer *w = cf_writer_new(fp, "memstream");

	cf_writer_set_die(w, 0);
	if (cf_model_write(w, m) != 0 || cf_writer_finish(w) != 0)
		abort();
	fclose(fp);
	cf_reader *r = cf_reader_open(cf_fuzz_memfd((const uint8_t *)buf, len), "again");
	cf_reader_set_die(r, 0);
	cf_model *m2 = cf_model_read(r, err, sizeof err);
	if (!m2) {
		fprintf(stderr, "model written back does not read: %s\n", err);
		abort();
	}
	if (m2->nusers != m->nusers || m2->nitems != m->nitems || m2->k != m->k ||
	    m2->nseen != m->nseen)
		abort();
	cf_model_free(m2);
	free(buf);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t n;
	unsigned flags;
	uint8_t *d = cf_fuzz_frame_input(data, size, &n, &flags);
	int fd = (flags & 4) ? cf_fuzz_pipe(d, n) : cf_fuzz_memfd(d, n);
	cf_reader *r = cf_reader_open(fd, "model.bin");
	char err[600];

	err[0] = '\0';
	cf_reader_set_die(r, 0);
	cf_model *m = cf_model_read(r, err, sizeof err);
	if (m) {
		exercise(m);
		roundtrip(m);
		cf_model_free(m);       /* closes r: the model keeps it for its map */
	} else {
		if (err[0] == '\0' || strchr(err, '\n'))
			abort();        /* a failure says why, in one line */
		cf_reader_close(r);
	}
	free(d);
	return 0;
}
