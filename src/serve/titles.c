/*
 * titles.c - title search (see titles.h): each title's normalised words
 * in one buffer, scanned per query.
 */
#include "titles.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

struct tword {
	uint32_t off;           /* into chars */
	uint8_t len;
	uint8_t opt;            /* an article: matching it is optional */
};

struct cf_titles {
	uint32_t n;             /* movies (meta indices) */
	uint32_t *first;        /* movie i's words: w[first[i] .. first[i+1]) */
	struct tword *w;
	char *chars;
	unsigned char *listed;  /* in movies.csv */
};

/* A word as cut from text, before it is stored. */
struct cut {
	char s[CF_TITLES_WORD_MAX * 2];
	size_t len;
	int comma_before, paren_after, opt;
};

/*
 * UTF-8 C3 80 .. C3 BF (Latin-1 letters) folded: a letter, '*' to keep
 * the two bytes as they are, ' ' for a word break (x and the division
 * sign), 'S' for "ss".
 */
static const char fold_c3[65] =
	"aaaaaa*ceeeeiiiidnooooo ouuuuy*S"
	"aaaaaa*ceeeeiiii*nooooo ouuuuy*y";

static const char *const english[] = {"the", "a", "an"};
/* Articles MovieLens moves behind a comma: "Haine, La (1995)". */
static const char *const moved[] = {"the", "a", "an", "la", "le", "les", "l", "il", "el", "lo",
                                    "los", "las", "die", "der", "das", "den", "det", "un",
                                    "une", "gli", "i", "o", "os", "as", "de"};

static int
in_list(const char *w, size_t n, const char *const *list, size_t cnt)
{
	for (size_t i = 0; i < cnt; i++)
		if (strlen(list[i]) == n && !memcmp(list[i], w, n))
			return 1;
	return 0;
}

/* The end of a title without its trailing "(YYYY)" and blanks. */
static size_t
strip_year(const char *s, size_t n)
{
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	if (n >= 6 && s[n - 1] == ')' && s[n - 6] == '(') {
		int digits = 1;
		for (size_t i = n - 5; i < n - 1; i++)
			digits &= s[i] >= '0' && s[i] <= '9';
		if (digits) {
			n -= 6;
			while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
				n--;
		}
	}
	return n;
}

/* The normalised words of s into w (at most CF_TITLES_WORDS_MAX); how many. */
static size_t
cut_words(const char *s, size_t n, int is_title, struct cut *w)
{
	size_t nw = 0;
	int in_word = 0, comma = 0;

	if (is_title)
		n = strip_year(s, n);
	else if (n > CF_TITLES_QUERY_MAX)
		n = CF_TITLES_QUERY_MAX;
	for (size_t i = 0; i <= n; i++) {
		unsigned char c = i < n ? (unsigned char)s[i] : ' ';
		char out[2];
		size_t no = 0;
		if (c >= 'A' && c <= 'Z') {
			out[no++] = (char)(c - 'A' + 'a');
		} else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
			out[no++] = (char)c;
		} else if (c == '\'' || c == '.') {
			continue;       /* "L.A.", "Schindler's": no break */
		} else if (c == 0xc3 && i + 1 < n && (unsigned char)s[i + 1] >= 0x80 &&
		           (unsigned char)s[i + 1] <= 0xbf) {
			char f = fold_c3[(unsigned char)s[i + 1] - 0x80];
			if (f == '*') {
				out[no++] = (char)c;
				out[no++] = s[i + 1];
			} else if (f == 'S') {
				out[no++] = 's';
				out[no++] = 's';
			} else if (f != ' ') {
				out[no++] = f;
			}
			i++;
		} else if (c >= 0x80) {
			out[no++] = (char)c;    /* other UTF-8: kept byte for byte */
		}
		if (no == 0) {          /* a break */
			if (in_word) {
				nw++;
				in_word = 0;
				if (nw == CF_TITLES_WORDS_MAX)
					break;
			}
			if (c == ',')
				comma = 1;
			if (c == '(' && nw > 0 && !w[nw - 1].paren_after)
				w[nw - 1].paren_after = 2;      /* '(' right after the word */
			continue;
		}
		if (!in_word) {
			if (nw > 0 && w[nw - 1].paren_after == 0)
				w[nw - 1].paren_after = 1;      /* another word follows */
			memset(&w[nw], 0, sizeof w[nw]);
			w[nw].comma_before = comma;
			comma = 0;
			in_word = 1;
		}
		for (size_t j = 0; j < no && w[nw].len < sizeof w[nw].s; j++)
			w[nw].s[w[nw].len++] = out[j];
	}
	for (size_t j = 0; j < nw; j++) {
		int last = w[j].paren_after != 1;       /* at the end, or before '(' */
		w[j].opt = in_list(w[j].s, w[j].len, english, 3) ||
		           (w[j].comma_before && last &&
		            in_list(w[j].s, w[j].len, moved, sizeof moved / sizeof *moved));
	}
	return nw;
}

void
cf_titles_normalize(const char *s, size_t n, int is_title, char *out, size_t cap)
{
	struct cut w[CF_TITLES_WORDS_MAX];
	size_t nw = cut_words(s, n, is_title, w), o = 0;

	out[0] = 0;
	for (size_t j = 0; j < nw; j++) {
		int k = snprintf(out + o, cap - o, "%s%s%.*s", j ? " " : "",
		                 is_title && w[j].opt ? "?" : "", (int)w[j].len, w[j].s);
		if (k < 0 || (size_t)k >= cap - o)
			break;
		o += (size_t)k;
	}
}

cf_titles *
cf_titles_new(const cf_meta *m)
{
	cf_titles *t = cf_xcalloc(1, sizeof *t);
	size_t wcap = 1024, ccap = 16384, nw = 0, nc = 0;

	t->n = cf_meta_count(m);
	t->first = cf_xmalloc(((size_t)t->n + 1) * sizeof *t->first);
	t->listed = cf_xcalloc((size_t)t->n + 1, 1);
	t->w = cf_xmalloc(wcap * sizeof *t->w);
	t->chars = cf_xmalloc(ccap);
	for (uint32_t i = 0; i < t->n; i++) {
		cf_movie mv;
		struct cut w[CF_TITLES_WORDS_MAX];
		size_t cnt = 0;
		cf_meta_get(m, i, &mv);
		t->first[i] = (uint32_t)nw;
		t->listed[i] = (unsigned char)mv.in_movies;
		if (mv.in_movies)
			cnt = cut_words(mv.title, mv.title_len, 1, w);
		for (size_t j = 0; j < cnt; j++) {
			if (nw == wcap)
				t->w = cf_xrealloc(t->w, (wcap *= 2) * sizeof *t->w);
			while (nc + w[j].len > ccap)
				t->chars = cf_xrealloc(t->chars, ccap *= 2);
			memcpy(t->chars + nc, w[j].s, w[j].len);
			t->w[nw++] = (struct tword){(uint32_t)nc, (uint8_t)w[j].len, (uint8_t)w[j].opt};
			nc += w[j].len;
		}
	}
	t->first[t->n] = (uint32_t)nw;
	return t;
}

void
cf_titles_free(cf_titles *t)
{
	if (!t)
		return;
	free(t->first);
	free(t->listed);
	free(t->w);
	free(t->chars);
	free(t);
}

int
cf_titles_distance(const char *a, size_t an, const char *b, size_t bn, int max)
{
	int row[CF_TITLES_WORD_MAX * 2 + 1], prev[CF_TITLES_WORD_MAX * 2 + 1];
	int prev2[CF_TITLES_WORD_MAX * 2 + 1];

	if (an > CF_TITLES_WORD_MAX * 2 || bn > CF_TITLES_WORD_MAX * 2 ||
	    (an > bn ? an - bn : bn - an) > (size_t)max)
		return max + 1;
	for (size_t j = 0; j <= bn; j++)
		prev[j] = (int)j;
	for (size_t i = 1; i <= an; i++) {
		int best;
		row[0] = best = (int)i;
		for (size_t j = 1; j <= bn; j++) {
			int d = prev[j - 1] + (a[i - 1] != b[j - 1]);
			if (prev[j] + 1 < d)
				d = prev[j] + 1;
			if (row[j - 1] + 1 < d)
				d = row[j - 1] + 1;
			/* Two letters swapped is one typo ("matirx"). */
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    prev2[j - 2] + 1 < d)
				d = prev2[j - 2] + 1;
			row[j] = d;
			if (d < best)
				best = d;
		}
		if (best > max)
			return max + 1;         /* every path is already too long */
		memcpy(prev2, prev, (bn + 1) * sizeof *row);
		memcpy(prev, row, (bn + 1) * sizeof *row);
	}
	return prev[bn] <= max ? prev[bn] : max + 1;
}

/* How well query word q matches title word w: 3 exact, 2 prefix, 1 typo, 0. */
static int
word_match(const char *q, size_t qn, const char *w, size_t wn)
{
	if (qn == wn && !memcmp(q, w, qn))
		return 3;
	if (qn < wn && !memcmp(q, w, qn))
		return 2;
	if (qn >= 4 && qn <= CF_TITLES_WORD_MAX && wn <= CF_TITLES_WORD_MAX) {
		int max = qn >= 8 ? 2 : 1;
		if (cf_titles_distance(q, qn, w, wn, max) <= max)
			return 1;
	}
	return 0;
}

struct found {
	int quality;
	int64_t pop;
	uint32_t movie;
};

static int
by_rank(const void *x, const void *y)
{
	const struct found *a = x, *b = y;

	if (a->quality != b->quality)
		return a->quality > b->quality ? -1 : 1;
	if (a->pop != b->pop)
		return a->pop > b->pop ? -1 : 1;
	return a->movie < b->movie ? -1 : a->movie > b->movie;
}

size_t
cf_titles_search(const cf_titles *t, const char *q, size_t qlen, size_t k,
                 cf_title_pop pop, void *arg, uint32_t *out)
{
	struct cut qw[CF_TITLES_WORDS_MAX];
	size_t nq = cut_words(q, qlen, 0, qw), keep = 0;

	/* The query's articles do not count, unless it has nothing else. */
	for (size_t j = 0; j < nq; j++)
		if (!in_list(qw[j].s, qw[j].len, english, 3))
			qw[keep++] = qw[j];
	if (keep > 0)
		nq = keep;
	struct found *f = cf_xmalloc(((size_t)t->n + 1) * sizeof *f);
	size_t nf = 0;
	for (uint32_t i = 0; i < t->n; i++) {
		if (!t->listed[i])
			continue;
		const struct tword *w = t->w + t->first[i];
		size_t nw = t->first[i + 1] - t->first[i], needed = 0;
		int quality = 0, all = 1;
		for (size_t j = 0; j < nw; j++)
			needed += !w[j].opt;
		for (size_t a = 0; a < nq && all; a++) {
			int best = 0;
			for (size_t j = 0; j < nw && best < 3; j++) {
				int s = word_match(qw[a].s, qw[a].len, t->chars + w[j].off, w[j].len);
				if (s > best)
					best = s;
			}
			all = best > 0;
			quality += best;
		}
		if (!all)
			continue;
		int64_t p = pop(arg, i);
		if (p < 0)
			continue;
		if (nq > 0 && needed <= nq)
			quality += 2;   /* nothing in the title the query lacks */
		f[nf++] = (struct found){quality, p, i};
	}
	qsort(f, nf, sizeof *f, by_rank);
	if (k > nf)
		k = nf;
	for (size_t j = 0; j < k; j++)
		out[j] = f[j].movie;
	free(f);
	return k;
}
