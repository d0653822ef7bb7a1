/*
 * topk - each user's N best-scored items from a stream of scores.
 *
 * Rows come in any order, users interleaved; each user has a bounded heap
 * of N hits whose root is the worst kept, so memory is O(users x N) and a
 * row below a full heap's root costs one hash lookup and a compare (its
 * item id is not even stored).  Users are written in order of first
 * appearance, each best first: higher score, then raw item id in byte
 * order, as mf-score ranks.
 */
#include "frame.h"
#include "idmap.h"
#include "out.h"
#include "util.h"

#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct hit {
	float score;
	uint32_t item;          /* index in the items map */
} hit;

typedef struct uheap {
	hit *h;                 /* h[0] is the worst hit kept */
	uint32_t cnt, cap;
} uheap;

typedef struct state {
	uint32_t n;
	cf_idmap *users, *items;
	uheap *heaps;
	size_t hcap;
} state;

static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: topk N [FILE]\n"
	    "Keeps each user's N best items from a 'scores' table (stdin, or FILE):\n"
	    "user str, item str, score f32 (mf-score's output; a 'topk' table is\n"
	    "accepted too).  Rows may come in any order, users interleaved; memory\n"
	    "is O(users x N).  Every table of the input is read, as one sequence of\n"
	    "rows, so outputs concatenated work: (mf-score --user 1 < M; mf-score\n"
	    "--user 2 < M) | topk 3 lists both users.  A table of another kind, or\n"
	    "bytes that are no table, are an error naming their byte offset.\n"
	    "\n"
	    "Writes a table 'topk': user, item, score, rank (u32, from 1).  Users come\n"
	    "in order of first appearance, each user's items best first: higher score,\n"
	    "equal scores by item id in byte order.  Rows scoring NaN are dropped;\n"
	    "other columns are not carried over.  On a terminal (the last stage of\n"
	    "a pipe typed by hand) it prints those rows as CSV instead, with a header,\n"
	    "as '| bin2csv' would: frames are binary and other programs refuse to\n"
	    "write them to a terminal.\n"
	    "\n"
	    "  N                    items kept per user (1 or more)\n"
	    "  -h, --help           this help;  -V, --version  the version\n");
}

/* 1 if a ranks before b: higher score, then smaller raw item id. */
static int
before(const state *st, hit a, hit b)
{
	if (a.score != b.score)
		return a.score > b.score;
	size_t la, lb;
	const char *x = cf_idmap_id(st->items, a.item, &la);
	const char *y = cf_idmap_id(st->items, b.item, &lb);
	int c = memcmp(x, y, la < lb ? la : lb);
	return c ? c < 0 : la < lb;
}

static void
sift_down(const state *st, hit *h, uint32_t cnt, uint32_t i)
{
	hit x = h[i];

	for (;;) {
		uint32_t c = 2 * i + 1;
		if (c >= cnt)
			break;
		if (c + 1 < cnt && before(st, h[c], h[c + 1]))
			c++;
		if (!before(st, x, h[c]))
			break;
		h[i] = h[c];
		i = c;
	}
	h[i] = x;
}

static void
add(state *st, const char *uid, size_t ulen, const char *iid, size_t ilen, float score)
{
	int added;
	uint32_t u = cf_idmap_intern(st->users, uid, ulen, &added);

	if (added) {
		cf_grow((void **)&st->heaps, &st->hcap, (size_t)u + 1, sizeof *st->heaps);
		memset(&st->heaps[u], 0, sizeof st->heaps[u]);
	}
	if (isnan(score))
		return;
	uheap *hp = &st->heaps[u];
	if (hp->cnt == st->n && score < hp->h[0].score)
		return;         /* the common case once full: nothing stored */
	hit x = {score, cf_idmap_intern(st->items, iid, ilen, NULL)};
	if (hp->cnt < st->n) {
		if (hp->cnt == hp->cap) {
			size_t cap = hp->cap;
			cf_grow((void **)&hp->h, &cap, (size_t)hp->cnt + 1, sizeof *hp->h);
			hp->cap = cap > st->n ? st->n : (uint32_t)cap;
		}
		uint32_t i = hp->cnt++;
		while (i > 0) {
			uint32_t p = (i - 1) / 2;
			if (!before(st, hp->h[p], x))
				break;
			hp->h[i] = hp->h[p];
			i = p;
		}
		hp->h[i] = x;
	} else if (before(st, x, hp->h[0])) {
		hp->h[0] = x;
		sift_down(st, hp->h, hp->cnt, 0);
	}
}

/* Reads every table of the stream: each a 'scores' or 'topk' table. */
static void
read_scores(cf_reader *r, state *st)
{
	const cf_schema *s;
	cf_block b;
	int rc, ntables = 0;

	while ((rc = cf_read_table(r, &s)) == 1) {
		ntables++;
		if (strcmp(s->name, "scores") != 0 && strcmp(s->name, "topk") != 0)
			cf_die("%s: byte %llu: expected a 'scores' table, found '%s'%s",
			       cf_reader_name(r), (unsigned long long)cf_reader_table_at(r),
			       s->name, ntables > 1 ? " (every table of the input is read)" : "");
		int cu = cf_schema_col(s, "user"), ci = cf_schema_col(s, "item");
		int cs = cf_schema_col(s, "score");
		if (cu < 0 || ci < 0 || cs < 0 || s->cols[cu].type != CF_STR ||
		    s->cols[ci].type != CF_STR || s->cols[cs].type != CF_F32 ||
		    s->cols[cs].width != 1)
			cf_die("%s: byte %llu: '%s' must have columns user str, item str, score f32",
			       cf_reader_name(r), (unsigned long long)cf_reader_table_at(r), s->name);
		while ((rc = cf_read_block(r, &b)) == 1) {
			const float *sc = b.col[cs];
			for (uint32_t j = 0; j < b.nrows; j++) {
				size_t ul, il;
				const char *u = cf_str(&b, cu, j, &ul);
				const char *i = cf_str(&b, ci, j, &il);
				add(st, u, ul, i, il, sc[j]);
			}
		}
		if (rc < 0)
			cf_die("%s", cf_reader_error(r));
	}
	if (rc < 0)
		cf_die("%s", cf_reader_error(r));
	if (ntables == 0)
		cf_die("%s: %s: expected a 'scores' table", cf_reader_name(r), cf_reader_empty(r));
}

/* Heapsort: the worst goes to the end, leaving the best first. */
static void
sort_heap(const state *st, uheap *hp)
{
	for (uint32_t e = hp->cnt; e > 1; e--) {
		hit t = hp->h[0];
		hp->h[0] = hp->h[e - 1];
		hp->h[e - 1] = t;
		sift_down(st, hp->h, e - 1, 0);
	}
}

static void
write_topk(const state *st, cf_writer *w)
{
	cf_schema *s = cf_schema_new("topk");
	cf_rowbuf *b;
	size_t len;

	cf_schema_add(s, "user", CF_STR, 1);
	cf_schema_add(s, "item", CF_STR, 1);
	cf_schema_add(s, "score", CF_F32, 1);
	cf_schema_add(s, "rank", CF_U32, 1);
	b = cf_rowbuf_new(w, s, CF_BLOCK_ROWS);
	for (uint32_t u = 0; u < cf_idmap_count(st->users); u++) {
		uheap *hp = &st->heaps[u];
		const char *uid = cf_idmap_id(st->users, u, &len);
		size_t ulen = len;
		sort_heap(st, hp);
		for (uint32_t r = 0; r < hp->cnt; r++) {
			const char *iid = cf_idmap_id(st->items, hp->h[r].item, &len);
			cf_rowbuf_str(b, 0, uid, ulen);
			cf_rowbuf_str(b, 1, iid, len);
			cf_rowbuf_f32(b, 2, hp->h[r].score);
			cf_rowbuf_u32(b, 3, r + 1);
			cf_rowbuf_end_row(b);
		}
	}
	cf_rowbuf_finish(b);
	cf_schema_free(s);
}

/* The same rows as CSV, bin2csv's bytes: for a person at a terminal. */
static void
print_topk(const state *st)
{
	size_t len, ulen;

	cf_out_init();
	cf_out("user,item,score,rank\n", 21);
	for (uint32_t u = 0; u < cf_idmap_count(st->users); u++) {
		uheap *hp = &st->heaps[u];
		const char *uid = cf_idmap_id(st->users, u, &ulen);
		sort_heap(st, hp);
		for (uint32_t r = 0; r < hp->cnt; r++) {
			const char *iid = cf_idmap_id(st->items, hp->h[r].item, &len);
			cf_out_field(uid, ulen, ',');
			cf_outc(',');
			cf_out_field(iid, len, ',');
			cf_outc(',');
			cf_out_f32(hp->h[r].score);
			cf_outc(',');
			cf_out_u64(r + 1);
			cf_outc('\n');
		}
	}
}

int
main(int argc, char **argv)
{
	static const struct option lo[] = {CF_STD_LONGOPTS, {0, 0, 0, 0}};
	state st = {0};
	unsigned long long n;
	const char *input;
	cf_reader *r;
	cf_writer *w;
	int c;

	cf_setprog(argv[0]);
	while ((c = getopt_long(argc, argv, "hV", lo, NULL)) != -1) {
		switch (c) {
		case 'h': usage(stdout); cf_close_stdout(); exit(CF_EXIT_OK);
		case 'V': cf_version();
		default: cf_usage_hint();      /* getopt said what was wrong */
		}
	}
	if (optind >= argc)
		cf_usage_error(usage, "N is required (items kept per user)");
	if (cf_parse_u64(argv[optind], &n) < 0 || n < 1 || n > UINT32_MAX / 2)
		cf_usage_error(usage, "N '%s': expected a whole number from 1 to %u",
		               argv[optind], UINT32_MAX / 2);
	optind++;
	input = cf_one_operand(argc, argv, usage);
	st.n = (uint32_t)n;
	st.users = cf_idmap_new();
	st.items = cf_idmap_new();
	r = input ? cf_reader_open_path(input) : cf_reader_open(0, "stdin");
	read_scores(r, &st);
	cf_reader_close(r);
	if (isatty(1)) {
		print_topk(&st);
	} else {
		w = cf_writer_new(stdout, "stdout");
		write_topk(&st, w);
		cf_writer_finish(w);
	}
	for (uint32_t u = 0; u < cf_idmap_count(st.users); u++)
		free(st.heaps[u].h);
	free(st.heaps);
	cf_idmap_free(st.users);
	cf_idmap_free(st.items);
	cf_close_stdout();
	return CF_EXIT_OK;
}
