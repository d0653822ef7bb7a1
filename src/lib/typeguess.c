/* typeguess.c - the kind and columns of a delimited file (see typeguess.h). */
#include "typeguess.h"

#include "util.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const kind_name[CF_NKINDS] = {
	"ratings", "movies", "links", "tags", "generic",
};
static const char *const kind_need[CF_NKINDS] = {
	"user,item,rating[,timestamp]", "item,title,genres", "item,imdb,tmdb",
	"user,item,tag[,timestamp]", "",
};
/* Columns of each known kind in output order; CF_ROLE_TS is optional. */
static const cf_role kind_roles[CF_NKINDS][5] = {
	[CF_KIND_RATINGS] = {CF_ROLE_USER, CF_ROLE_ITEM, CF_ROLE_RATING, CF_ROLE_TS, CF_ROLE_SKIP},
	[CF_KIND_MOVIES] = {CF_ROLE_ITEM, CF_ROLE_TITLE, CF_ROLE_GENRES, CF_ROLE_SKIP},
	[CF_KIND_LINKS] = {CF_ROLE_ITEM, CF_ROLE_IMDB, CF_ROLE_TMDB, CF_ROLE_SKIP},
	[CF_KIND_TAGS] = {CF_ROLE_USER, CF_ROLE_ITEM, CF_ROLE_TAG, CF_ROLE_TS, CF_ROLE_SKIP},
	[CF_KIND_GENERIC] = {CF_ROLE_SKIP},
};

/* Column names (lower case) and the role they play. */
static const struct { const char *name; cf_role role; } role_names[] = {
	{"userid", CF_ROLE_USER}, {"user_id", CF_ROLE_USER}, {"user", CF_ROLE_USER},
	{"movieid", CF_ROLE_ITEM}, {"movie_id", CF_ROLE_ITEM}, {"movie", CF_ROLE_ITEM},
	{"itemid", CF_ROLE_ITEM}, {"item_id", CF_ROLE_ITEM}, {"item", CF_ROLE_ITEM},
	{"rating", CF_ROLE_RATING}, {"timestamp", CF_ROLE_TS},
	{"title", CF_ROLE_TITLE}, {"genres", CF_ROLE_GENRES}, {"tag", CF_ROLE_TAG},
	{"imdbid", CF_ROLE_IMDB}, {"imdb_id", CF_ROLE_IMDB}, {"imdb", CF_ROLE_IMDB},
	{"tmdbid", CF_ROLE_TMDB}, {"tmdb_id", CF_ROLE_TMDB}, {"tmdb", CF_ROLE_TMDB},
};
/* Output column names of the known kinds, by role. */
static const char *const role_out[CF_NROLES] = {
	[CF_ROLE_USER] = "user", [CF_ROLE_ITEM] = "item", [CF_ROLE_RATING] = "rating",
	[CF_ROLE_TS] = "timestamp", [CF_ROLE_TITLE] = "title", [CF_ROLE_GENRES] = "genres",
	[CF_ROLE_IMDB] = "imdb", [CF_ROLE_TMDB] = "tmdb", [CF_ROLE_TAG] = "tag",
};

const char *
cf_kind_name(cf_kind k)
{
	return (unsigned)k < CF_NKINDS ? kind_name[k] : "?";
}

int
cf_kind_parse(const char *name)
{
	return cf_lookup(name, kind_name, CF_NKINDS);
}

const char *
cf_kind_need(cf_kind k)
{
	return (unsigned)k < CF_NKINDS ? kind_need[k] : "";
}

const cf_role *
cf_kind_roles(cf_kind k)
{
	return kind_roles[(unsigned)k < CF_NKINDS ? k : CF_KIND_GENERIC];
}

cf_role
cf_role_of(const char *p, size_t n)
{
	for (size_t k = 0; k < sizeof role_names / sizeof role_names[0]; k++)
		if (strlen(role_names[k].name) == n && strncasecmp(p, role_names[k].name, n) == 0)
			return role_names[k].role;
	return CF_ROLE_OTHER;
}

const char *
cf_role_column(cf_role r)
{
	return (unsigned)r < CF_NROLES && role_out[r] ? role_out[r] : "";
}

cf_type
cf_role_type(cf_role r)
{
	return r == CF_ROLE_TS ? CF_I64 : r == CF_ROLE_RATING ? CF_F32 : CF_STR;
}

cf_kind
cf_kind_of(const cf_role *role, size_t n)
{
	int count[CF_NROLES] = {0};

	for (size_t k = 0; k < n; k++)
		count[role[k]]++;
	for (int kind = 0; kind < CF_KIND_GENERIC; kind++) {
		int ok = 1, want[CF_NROLES] = {0};
		for (const cf_role *r = kind_roles[kind]; *r != CF_ROLE_SKIP; r++)
			want[*r] = 1;
		for (int r = CF_ROLE_USER; r < CF_NROLES; r++) {
			if (count[r] > 1 || (count[r] && !want[r]) ||
			    (!count[r] && want[r] && r != CF_ROLE_TS))
				ok = 0;
		}
		if (ok)
			return (cf_kind)kind;
	}
	return CF_KIND_GENERIC;
}

static int isdig(char c) { return c >= '0' && c <= '9'; }

int
cf_is_decimal(const char *p, size_t n)
{
	size_t i = 0, d = 0;

	if (i < n && (p[i] == '+' || p[i] == '-'))
		i++;
	while (i < n && isdig(p[i]))
		i++, d++;
	if (i < n && p[i] == '.')
		for (i++; i < n && isdig(p[i]); i++)
			d++;
	if (d == 0)
		return 0;
	if (i < n && (p[i] == 'e' || p[i] == 'E')) {
		size_t e = 0;
		i++;
		if (i < n && (p[i] == '+' || p[i] == '-'))
			i++;
		while (i < n && isdig(p[i]))
			i++, e++;
		if (e == 0)
			return 0;
	}
	return i == n;
}

int
cf_all_numeric(const cf_csv_rec *r)
{
	for (size_t k = 0; k < r->nfields && k < CF_CSV_MAX_FIELDS; k++)
		if (!cf_is_decimal(r->f[k].p, r->f[k].len))
			return 0;
	return 1;
}

int
cf_guess_columns(const cf_csv_rec *first, char *const *cols, size_t ncols, int header,
                 cf_kind kind, cf_guess *g)
{
	size_t n = ncols ? ncols : first->nfields;

	g->header = header >= 0 ? header : !cf_all_numeric(first);
	g->n = n;
	g->role = cf_xcalloc(n, sizeof *g->role);
	for (size_t k = 0; k < n; k++) {
		if (ncols)
			g->role[k] = strcmp(cols[k], "_") == 0 ? CF_ROLE_SKIP :
			             cf_role_of(cols[k], strlen(cols[k]));
		else if (g->header)
			g->role[k] = cf_role_of(first->f[k].p, first->f[k].len);
		else
			g->role[k] = CF_ROLE_OTHER;
	}
	if (kind == CF_KIND_GENERIC) {
		g->kind = CF_KIND_GENERIC;
		return CF_GUESS_OK;
	}
	if (ncols > 0 || g->header) {   /* named columns: their roles make the kind */
		g->kind = cf_kind_of(g->role, n);
		return kind != CF_KIND_AUTO && g->kind != kind ? CF_GUESS_NOT_KIND : CF_GUESS_OK;
	}
	/* Headerless, no --columns: the kind's columns in their usual order. */
	if (kind == CF_KIND_AUTO)
		kind = (n == 3 || n == 4) && cf_all_numeric(first) ? CF_KIND_RATINGS : CF_KIND_GENERIC;
	g->kind = kind;
	if (kind == CF_KIND_GENERIC)
		return CF_GUESS_OK;
	size_t need = 0;
	while (kind_roles[kind][need] != CF_ROLE_SKIP)
		need++;
	if (n != need && !(kind_roles[kind][need - 1] == CF_ROLE_TS && n == need - 1))
		return CF_GUESS_NFIELDS;
	for (size_t k = 0; k < n; k++)
		g->role[k] = kind_roles[kind][k];
	return CF_GUESS_OK;
}
