/*
 * bin2csv - frame stream -> CSV with a header row; the inverse of csv2bin.
 *
 * Prints the first table of the stream (or the one named by --table, or
 * every table with --all).  Vector columns f32[k] become k columns
 * NAME_0..NAME_{k-1}.  Floats print in the shortest form that reads back
 * to the same value, so csv2bin | bin2csv reproduces a file's values.
 * With --decode, encoded user/item indices print as the raw ids of the
 * stream's dictionaries (the table is then held in memory, since the
 * dictionaries follow it).  With --ids, a factor table (a model's
 * user_factors or item_factors) prints each row's raw id first, from the
 * users/items dictionary that follows it in the model stream.
 */
#include "frame.h"
#include "out.h"
#include "util.h"

#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct opts {
	const char *input;      /* or NULL: stdin */
	const char *table;      /* table to print, or NULL: the first */
	int all;                /* print every table */
	int list;               /* print a summary line per table instead */
	int header;
	int decode;
	int ids;                /* --ids: the row's raw id first */
	char delim;
};

static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: bin2csv [-t NAME | -a | -l] [-d CHAR] [--no-header] [--decode] [--ids] [FILE]\n"
	    "Writes a cinefilter frame stream (stdin, or FILE) as CSV on stdout.\n"
	    "\n"
	    "  -t, --table NAME   print the table named NAME (default: the first table)\n"
	    "  -a, --all          print every table, each introduced by a line '# table NAME'\n"
	    "                     and separated by a blank line\n"
	    "  -l, --list         print one line per table: name, rows, columns:types\n"
	    "  -d, --delimiter C  field delimiter, one character (default ','; '\\t' for\n"
	    "                     tab); not '\"', CR or LF, which CSV quoting needs\n"
	    "      --no-header    omit the header row\n"
	    "      --decode       print encoded user/item indices as the raw ids of the\n"
	    "                     stream's users/items dictionaries\n"
	    "      --ids          with a model's factor table (-t user_factors or\n"
	    "                     -t item_factors): a first column 'id', the raw id of\n"
	    "                     each row from the model's users/items dictionary\n"
	    "  -h, --help         this help;  -V, --version  the version\n"
	    "\n"
	    "Fields holding the delimiter, a quote or a line break are quoted (RFC 4180).\n"
	    "A vector column NAME of width k prints as columns NAME_0 .. NAME_{k-1}.\n"
	    "Floats print in the shortest form that reads back to the same value.\n");
}

/* ---- tables ---- */

static void
header_row(const cf_schema *s, const struct opts *o)
{
	for (uint32_t i = 0; i < s->ncols; i++) {
		const cf_col *c = &s->cols[i];
		for (uint32_t k = 0; k < c->width; k++) {
			if (i || k)
				cf_outc(o->delim);
			cf_out_field(c->name, strlen(c->name), o->delim);
			if (c->width > 1) {
				cf_outc('_');
				cf_out_u64(k);
			}
		}
	}
	cf_outc('\n');
}

/* One value: element k of row r of a numeric column. */
static void
value(cf_type t, const void *col, uint64_t idx)
{
	switch (t) {
	case CF_U8: cf_out_u64(((const uint8_t *)col)[idx]); break;
	case CF_I32: cf_out_i64(((const int32_t *)col)[idx]); break;
	case CF_U32: cf_out_u64(((const uint32_t *)col)[idx]); break;
	case CF_I64: cf_out_i64(((const int64_t *)col)[idx]); break;
	case CF_U64: cf_out_u64(((const uint64_t *)col)[idx]); break;
	case CF_F32: cf_out_f32(((const float *)col)[idx]); break;
	case CF_F64: cf_out_f64(((const double *)col)[idx]); break;
	case CF_STR: break;
	}
}

static void
print_block(const cf_schema *s, const cf_block *b, const struct opts *o)
{
	for (uint32_t r = 0; r < b->nrows; r++) {
		for (uint32_t i = 0; i < s->ncols; i++) {
			const cf_col *c = &s->cols[i];
			if (i)
				cf_outc(o->delim);
			if (c->type == CF_STR) {
				size_t n;
				const char *p = cf_str(b, (int)i, r, &n);
				cf_out_field(p, n, o->delim);
				continue;
			}
			for (uint32_t k = 0; k < c->width; k++) {
				if (k)
					cf_outc(o->delim);
				value(c->type, b->col[i], (uint64_t)r * c->width + k);
			}
		}
		cf_outc('\n');
	}
}

static void
print_table(cf_reader *r, const cf_schema *s, const struct opts *o)
{
	cf_block b;

	if (o->header)
		header_row(s, o);
	while (cf_read_block(r, &b) == 1)
		print_block(s, &b, o);
}

static void
list_table(cf_reader *r, const cf_schema *s)
{
	cf_block b;
	char line[64];

	while (cf_read_block(r, &b) == 1)
		;
	cf_out(s->name, strlen(s->name));
	snprintf(line, sizeof line, "\t%" PRIu64 "\t", cf_reader_rows(r));
	cf_out(line, strlen(line));
	for (uint32_t i = 0; i < s->ncols; i++) {
		const cf_col *c = &s->cols[i];
		if (i)
			cf_outc(',');
		cf_out(c->name, strlen(c->name));
		cf_outc(':');
		cf_out(cf_type_name(c->type), strlen(cf_type_name(c->type)));
		if (c->width > 1) {
			snprintf(line, sizeof line, "[%u]", c->width);
			cf_out(line, strlen(line));
		}
	}
	for (uint32_t i = 0; i < s->nattrs; i++) {
		cf_out(i ? " " : "\t", 1);
		cf_out(s->attrs[i].key, strlen(s->attrs[i].key));
		cf_outc('=');
		cf_out(s->attrs[i].val, strlen(s->attrs[i].val));
	}
	cf_outc('\n');
}

/* The dictionary (0 users, 1 items) whose ids name the rows of a factor table, or -1. */
static int
row_dict(const char *table)
{
	return strcmp(table, "user_factors") == 0 ? 0 : strcmp(table, "item_factors") == 0 ? 1 : -1;
}

/*
 * --decode, --ids: the table is held (cf_read_all), the rest of the stream
 * is read for the users/items dictionaries, then rows print with raw ids.
 */
static void
print_decoded(cf_reader *r, const struct opts *o)
{
	cf_table t, dict[2] = {{0}};
	const char *dname[2] = {"users", "items"}, *cname[2] = {"user", "item"};
	int dcol[2];
	const cf_schema *s;

	cf_read_all(r, &t);
	int rd = o->ids ? row_dict(t.schema->name) : -1;
	if (o->ids && rd < 0)
		cf_die("%s: --ids: table '%s' is not a model's factor table "
		       "(user_factors or item_factors)", cf_reader_name(r), t.schema->name);
	for (int d = 0; d < 2; d++) {
		dcol[d] = o->decode ? cf_schema_col(t.schema, cname[d]) : -1;
		if (dcol[d] >= 0 && t.schema->cols[dcol[d]].type != CF_U32)
			dcol[d] = -1;   /* raw ids already */
	}
	while (cf_read_table(r, &s) == 1) {
		for (int d = 0; d < 2; d++) {
			if (strcmp(s->name, dname[d]) == 0 && !dict[d].schema) {
				if (cf_schema_col(s, "id") != 0 || s->cols[0].type != CF_STR)
					cf_die("%s: table '%s' has no str column 'id'",
					       cf_reader_name(r), s->name);
				cf_read_all(r, &dict[d]);
			}
		}
	}
	for (int d = 0; d < 2; d++)
		if ((dcol[d] >= 0 || rd == d) && !dict[d].schema)
			cf_die("%s: %s: the stream has no '%s' dictionary",
			       cf_reader_name(r), rd == d ? "--ids" : "--decode", dname[d]);
	if (rd >= 0 && dict[rd].nrows != t.nrows)
		cf_die("%s: --ids: table '%s' has %" PRIu64 " rows, its '%s' dictionary %" PRIu64,
		       cf_reader_name(r), t.schema->name, t.nrows, dname[rd], dict[rd].nrows);
	if (o->header) {
		if (rd >= 0) {
			cf_out("id", 2);
			if (t.schema->ncols)
				cf_outc(o->delim);
		}
		header_row(t.schema, o);
	}
	for (uint64_t row = 0; row < t.nrows; row++) {
		if (rd >= 0) {
			size_t n;
			const char *p = cf_table_str(&dict[rd], 0, row, &n);
			cf_out_field(p, n, o->delim);
		}
		for (uint32_t i = 0; i < t.schema->ncols; i++) {
			const cf_col *c = &t.schema->cols[i];
			size_t n;
			if (i || rd >= 0)
				cf_outc(o->delim);
			int d = (int)i == dcol[0] ? 0 : (int)i == dcol[1] ? 1 : -1;
			if (d >= 0) {
				uint32_t idx = ((const uint32_t *)t.col[i])[row];
				if (idx >= dict[d].nrows)
					cf_die("%s: row %" PRIu64 ": %s index %u outside the %s "
					       "dictionary (%" PRIu64 " ids)", cf_reader_name(r), row,
					       cname[d], idx, dname[d], dict[d].nrows);
				const char *p = cf_table_str(&dict[d], 0, idx, &n);
				cf_out_field(p, n, o->delim);
			} else if (c->type == CF_STR) {
				const char *p = cf_table_str(&t, (int)i, row, &n);
				cf_out_field(p, n, o->delim);
			} else {
				for (uint32_t k = 0; k < c->width; k++) {
					if (k)
						cf_outc(o->delim);
					value(c->type, t.col[i], row * c->width + k);
				}
			}
		}
		cf_outc('\n');
	}
	cf_table_free(&t);
	cf_table_free(&dict[0]);
	cf_table_free(&dict[1]);
}

static void
parse(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{"table", 1, 0, 't'}, {"all", 0, 0, 'a'}, {"list", 0, 0, 'l'},
		{"delimiter", 1, 0, 'd'}, {"no-header", 0, 0, 'H'},
		{"decode", 0, 0, 'D'}, {"ids", 0, 0, 'I'}, CF_STD_LONGOPTS, {0, 0, 0, 0},
	};
	int c;

	o->header = 1;
	o->delim = ',';
	while ((c = getopt_long(argc, argv, "t:ald:hV", lo, NULL)) != -1) {
		switch (c) {
		case 't': o->table = optarg; break;
		case 'a': o->all = 1; break;
		case 'l': o->list = 1; break;
		case 'H': o->header = 0; break;
		case 'D': o->decode = 1; break;
		case 'I': o->ids = 1; break;
		case 'd':
			if (strcmp(optarg, "\\t") == 0 || strcmp(optarg, "tab") == 0)
				o->delim = '\t';
			else if (strlen(optarg) != 1)
				cf_usage_error(usage, "delimiter must be one character: '%s'", optarg);
			else if (optarg[0] == '"')
				cf_usage_error(usage, "bad delimiter '\"': the quote starts and ends "
				               "quoted fields (RFC 4180), so it cannot separate them");
			else if (optarg[0] == '\n' || optarg[0] == '\r')
				cf_usage_error(usage, "bad delimiter '%s': a line break (CR or LF) "
				               "ends a record, so it cannot separate fields",
				               optarg[0] == '\n' ? "\\n" : "\\r");
			else
				o->delim = optarg[0];
			break;
		case 'h': usage(stdout); cf_close_stdout(); exit(0);
		case 'V': cf_version();
		default: cf_usage_hint();      /* getopt said what was wrong */
		}
	}
	if (o->all + o->list + (o->table != NULL) > 1)
		cf_usage_error(usage, "--table, --all and --list exclude each other");
	if ((o->decode || o->ids) && (o->all || o->list))
		cf_usage_error(usage, "--decode and --ids print one table: not with --all or --list");
	o->input = cf_one_operand(argc, argv, usage);
}

int
main(int argc, char **argv)
{
	struct opts o = {0};
	const cf_schema *s;
	cf_reader *r;
	int found = 0, ntables = 0;

	cf_setprog(argv[0]);
	parse(argc, argv, &o);
	cf_out_init();
	r = o.input ? cf_reader_open_path(o.input) : cf_reader_open(0, "stdin");
	while (cf_read_table(r, &s) == 1) {
		ntables++;
		if (o.list) {
			list_table(r, s);
			continue;
		}
		if (o.table && strcmp(s->name, o.table) != 0)
			continue;
		if (o.decode || o.ids) {
			print_decoded(r, &o);
			found = 1;
			break;
		}
		if (o.all) {
			if (ntables > 1)
				cf_outc('\n');
			cf_out("# table ", 8);
			cf_out(s->name, strlen(s->name));
			cf_outc('\n');
		}
		print_table(r, s, &o);
		found = 1;
		if (!o.all)
			break;
	}
	if (ntables == 0 && cf_reader_offset(r) == 0)
		cf_die("%s: %s: no table to print", cf_reader_name(r), cf_reader_empty(r));
	if (o.table && !found)
		cf_die("%s: no table named '%s' in the stream", cf_reader_name(r), o.table);
	/* Read to the end so a corrupt or truncated tail is still reported. */
	while (!o.list && cf_read_table(r, &s) == 1)
		;
	cf_reader_close(r);
	cf_close_stdout();
	return 0;
}
