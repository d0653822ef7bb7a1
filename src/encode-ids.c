/*
 * encode-ids - raw user/item ids -> dense indices 0..n-1, in order of
 * first appearance.
 *
 * Streams: each block of the raw `ratings` table is encoded and written as
 * it is read, so memory grows with the distinct ids, never with the rows;
 * the `users` and `items` dictionaries follow the encoded table (their
 * contents are known only at its end).  Other tables pass through
 * unchanged, and an already encoded stream passes through whole, so the
 * program is idempotent.
 */
#include "frame.h"
#include "idmap.h"
#include "ratings.h"
#include "util.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

struct opts {
	int verbose;
	const char *input;      /* NULL: stdin */
};

/* Per-column scratch for handing a block to the writer. */
struct cols {
	const void **ptr;
	cf_strcol *sc;
	uint32_t *u, *i;        /* encoded user and item indices */
	size_t cap;
};

static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: encode-ids [-v] [FILE] > ENCODED\n"
	    "Replaces the raw user and item ids of the 'ratings' table (stdin, or FILE) by\n"
	    "dense indices 0..n-1 in order of first appearance, and appends the\n"
	    "'users' and 'items' dictionaries (row i holds the raw id of index i).\n"
	    "Other tables pass through unchanged; an encoded stream passes through whole.\n"
	    "\n"
	    "  -v, --verbose   print a summary line on stderr\n"
	    "  -h, --help      this help;  -V, --version  the version\n");
}

static void
parse(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{"verbose", 0, 0, 'v'}, CF_STD_LONGOPTS, {0, 0, 0, 0},
	};
	int c;

	while ((c = getopt_long(argc, argv, "vhV", lo, NULL)) != -1) {
		switch (c) {
		case 'v': o->verbose = 1; break;
		case 'h': usage(stdout); cf_close_stdout(); exit(CF_EXIT_OK);
		case 'V': cf_version();
		default: cf_usage_hint();      /* getopt said what was wrong */
		}
	}
	o->input = cf_one_operand(argc, argv, usage);
}

static void
cols_init(struct cols *c, uint32_t ncols)
{
	c->ptr = cf_xcalloc(ncols ? ncols : 1, sizeof *c->ptr);
	c->sc = cf_xcalloc(ncols ? ncols : 1, sizeof *c->sc);
}

static void
cols_free(struct cols *c)
{
	free(c->ptr);
	free(c->sc);
	free(c->u);
	free(c->i);
	memset(c, 0, sizeof *c);
}

/* Points c->ptr at block b's columns, in the form cf_write_block takes. */
static void
cols_point(struct cols *c, const cf_schema *s, const cf_block *b)
{
	for (uint32_t k = 0; k < s->ncols; k++) {
		if (s->cols[k].type == CF_STR) {
			c->sc[k].off = b->col[k];
			c->sc[k].data = (const char *)((const uint32_t *)b->col[k] + b->nrows + 1);
			c->ptr[k] = &c->sc[k];
		} else {
			c->ptr[k] = b->col[k];
		}
	}
}

/* Copies the rest of the current table, block for block. */
static uint64_t
copy_table(cf_reader *r, cf_writer *w, const cf_schema *s)
{
	struct cols c = {0};
	cf_block b;

	cols_init(&c, s->ncols);
	cf_write_table(w, s);
	while (cf_read_block(r, &b) == 1) {
		cols_point(&c, s, &b);
		cf_write_block(w, b.nrows, c.ptr);
	}
	cf_write_end(w);
	cols_free(&c);
	return cf_reader_rows(r);
}

/* Encodes the raw ratings table s block by block; returns its rows. */
static uint64_t
encode_table(cf_reader *r, cf_writer *w, const cf_schema *s, cf_idmap *users,
             cf_idmap *items)
{
	int cu = cf_schema_col(s, "user"), ci = cf_schema_col(s, "item");
	cf_schema *os = cf_schema_copy(s);
	struct cols c = {0};
	cf_block b;

	/* Same columns in the same places (unknown ones pass through). */
	os->cols[cu].type = CF_U32;
	os->cols[ci].type = CF_U32;
	cf_schema_set(os, "encoded", "1");
	cols_init(&c, s->ncols);
	cf_write_table(w, os);
	while (cf_read_block(r, &b) == 1) {
		if (b.nrows > c.cap) {
			c.cap = b.nrows;
			c.u = cf_xrealloc(c.u, c.cap * sizeof *c.u);
			c.i = cf_xrealloc(c.i, c.cap * sizeof *c.i);
		}
		cf_encode_strcol(&b, cu, users, c.u);
		cf_encode_strcol(&b, ci, items, c.i);
		cols_point(&c, s, &b);
		c.ptr[cu] = c.u;
		c.ptr[ci] = c.i;
		cf_write_block(w, b.nrows, c.ptr);
	}
	cf_write_end(w);
	cols_free(&c);
	cf_schema_free(os);
	return cf_reader_rows(r);
}

int
main(int argc, char **argv)
{
	struct opts o = {0};
	cf_reader *r;
	cf_writer *w;
	const cf_schema *s;
	uint64_t nr, nu = 0, ni = 0;
	int have_u = 0, have_i = 0;

	cf_setprog(argv[0]);
	parse(argc, argv, &o);
	r = o.input ? cf_reader_open_path(o.input) : cf_reader_open(0, "stdin");
	w = cf_writer_new(stdout, "stdout");
	s = cf_expect_table(r, "ratings");
	if (cf_ratings_schema(r, s)) {
		/* Already encoded: the whole stream as it is. */
		nr = copy_table(r, w, s);
		while (cf_read_table(r, &s) == 1) {
			uint64_t n = copy_table(r, w, s);
			if (!have_u && strcmp(s->name, "users") == 0)
				nu = n, have_u = 1;
			else if (!have_i && strcmp(s->name, "items") == 0)
				ni = n, have_i = 1;
		}
	} else {
		cf_idmap *users = cf_idmap_new(), *items = cf_idmap_new();
		nr = encode_table(r, w, s, users, items);
		cf_ratings_write_dict(w, "users", users);
		cf_ratings_write_dict(w, "items", items);
		nu = cf_idmap_count(users);
		ni = cf_idmap_count(items);
		cf_idmap_free(users);
		cf_idmap_free(items);
		while (cf_read_table(r, &s) == 1) {
			/* Dictionaries of raw ratings belong to no encoding: drop them. */
			if (strcmp(s->name, "users") == 0 || strcmp(s->name, "items") == 0)
				continue;
			if (strcmp(s->name, "ratings") == 0)
				cf_die("%s: byte %llu: a second 'ratings' table: one stream "
				       "holds one ratings table and its dictionaries",
				       cf_reader_name(r), (unsigned long long)cf_reader_offset(r));
			copy_table(r, w, s);
		}
	}
	cf_writer_finish(w);
	cf_reader_close(r);
	if (o.verbose)
		cf_warn("%llu ratings, %llu users, %llu items", (unsigned long long)nr,
		        (unsigned long long)nu, (unsigned long long)ni);
	cf_close_stdout();
	return CF_EXIT_OK;
}
