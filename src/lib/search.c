/*
 * search.c - search spaces, sampling and successive halving (search.h).
 */
#include "search.h"
#include "util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const scale_names[] = {"lin", "log", "int", "logint", "log2"};
/* What mf-fit takes, and may be searched. */
static const char *const tunable[] = {"k", "lr", "lr_decay", "reg", "reg_bias", "alpha",
                                      "init_scale", "alpha0", "nu", "beta"};

static void
add(cf_space *s, const char *name, double lo, double hi, cf_pscale sc)
{
	cf_param *p = &s->p[s->n++];

	snprintf(p->name, sizeof p->name, "%s", name);
	p->lo = lo;
	p->hi = hi;
	p->scale = sc;
}

/*
 * The defaults bracket each algorithm's MovieLens defaults by one to two
 * orders of magnitude, and reach the light regularization that data with
 * many ratings per user wants (README: generated data).
 */
void
cf_space_default(cf_algo a, cf_space *s)
{
	memset(s, 0, sizeof *s);
	switch (a) {
	case CF_SGD:
		add(s, "k", 4, 256, CF_PS_LOG2);
		add(s, "lr", 0.003, 0.1, CF_PS_LOG);
		add(s, "lr_decay", 0, 0.1, CF_PS_LIN);
		add(s, "reg", 0.003, 0.5, CF_PS_LOG);
		add(s, "reg_bias", 0.1, 30, CF_PS_LOG);
		break;
	case CF_ALS:
		add(s, "k", 4, 256, CF_PS_LOG2);
		add(s, "reg", 0.01, 10, CF_PS_LOG);
		add(s, "reg_bias", 0.1, 30, CF_PS_LOG);
		break;
	case CF_IALS:
		add(s, "k", 4, 256, CF_PS_LOG2);
		add(s, "reg", 0.5, 300, CF_PS_LOG);
		add(s, "alpha", 0.05, 20, CF_PS_LOG);
		break;
	case CF_BASELINE:
		add(s, "reg_bias", 0.1, 100, CF_PS_LOG);
		break;
	/* ease's lambda and rp3b's exponents: one fit each, nothing to halve. */
	case CF_EASE:
		add(s, "reg", 20, 3000, CF_PS_LOG);
		break;
	case CF_RP3B:
		add(s, "alpha", 0.1, 2, CF_PS_LOG);
		add(s, "beta", 0, 1, CF_PS_LIN);
		break;
	default:
		break;
	}
}

static int
find(const cf_space *s, const char *name)
{
	for (int i = 0; i < s->n; i++)
		if (strcmp(s->p[i].name, name) == 0)
			return i;
	return -1;
}

static int
parse_one(cf_space *s, char *item, char *err, size_t errlen)
{
	char *eq = strchr(item, '='), *f[3];
	int nf = 0, known = 0;
	double lo, hi;

	if (!eq)
		return snprintf(err, errlen, "'%s': expected name=lo:hi:scale", item), -1;
	*eq = 0;
	for (char *t = item; *t; t++)
		if (*t == '-')
			*t = '_';
	for (size_t j = 0; j < sizeof tunable / sizeof *tunable; j++)
		known |= strcmp(item, tunable[j]) == 0;
	if (!known)
		return snprintf(err, errlen, "'%s' is not a parameter tune can search (k, lr, "
		                "lr_decay, reg, reg_bias, alpha, init_scale, alpha0, nu, beta)", item), -1;
	int at = find(s, item);
	if (strcmp(eq + 1, "off") == 0) {
		if (at >= 0)
			memmove(&s->p[at], &s->p[at + 1], (size_t)(--s->n - at) * sizeof *s->p);
		return 0;
	}
	for (char *t = eq + 1, *c; nf < 3; t = c + 1) {
		f[nf++] = t;
		if (!(c = strchr(t, ':')))
			break;
		*c = 0;
	}
	cf_pscale sc = CF_PS_LIN;
	if (nf == 1) {          /* a fixed value */
		if (cf_parse_double(f[0], &lo) < 0)
			return snprintf(err, errlen, "%s: '%s' is not a number", item, f[0]), -1;
		hi = lo;
	} else {
		if (nf != 3 || cf_parse_double(f[0], &lo) < 0 || cf_parse_double(f[1], &hi) < 0)
			return snprintf(err, errlen, "%s: expected lo:hi:scale", item), -1;
		int k = -1;
		for (int j = 0; j < 5; j++)
			if (strcmp(f[2], scale_names[j]) == 0)
				k = j;
		if (k < 0)
			return snprintf(err, errlen, "%s: scale '%s' is not lin, log, int, logint "
			                "or log2", item, f[2]), -1;
		sc = (cf_pscale)k;
	}
	if (!(lo <= hi) || !isfinite(lo) || !isfinite(hi) || lo < 0)
		return snprintf(err, errlen, "%s: need 0 <= lo <= hi", item), -1;
	if ((sc == CF_PS_LOG || sc == CF_PS_LOGINT || sc == CF_PS_LOG2) && lo <= 0)
		return snprintf(err, errlen, "%s: a log scale needs lo > 0", item), -1;
	if (sc == CF_PS_LOG2 && pow(2, ceil(log2(lo))) > hi)
		return snprintf(err, errlen, "%s: no power of two in [%g, %g]", item, lo, hi), -1;
	if (at < 0) {
		if (s->n == CF_SPACE_MAX)
			return snprintf(err, errlen, "too many parameters"), -1;
		at = s->n++;
	}
	snprintf(s->p[at].name, sizeof s->p[at].name, "%s", item);
	s->p[at].lo = lo;
	s->p[at].hi = hi;
	s->p[at].scale = sc;
	return 0;
}

int
cf_space_parse(cf_space *s, const char *spec, char *err, size_t errlen)
{
	char *copy = cf_xstrdup(spec), *save = NULL;
	int rc = 0;

	for (char *t = strtok_r(copy, ",", &save); t && rc == 0; t = strtok_r(NULL, ",", &save))
		rc = parse_one(s, t, err, errlen);
	free(copy);
	return rc;
}

void
cf_param_describe(const cf_param *p, char *buf, size_t len)
{
	if (p->lo == p->hi)
		snprintf(buf, len, "%s=%g", p->name, p->lo);
	else
		snprintf(buf, len, "%s=%g:%g:%s", p->name, p->lo, p->hi, scale_names[p->scale]);
}

void
cf_space_sample(const cf_space *s, cf_rng *r, double *x)
{
	for (int i = 0; i < s->n; i++) {
		const cf_param *p = &s->p[i];
		double u = cf_rng_uniform(r), v;
		switch (p->scale) {
		case CF_PS_LOG:
			v = exp(log(p->lo) + u * (log(p->hi) - log(p->lo)));
			break;
		case CF_PS_INT:
			v = floor(p->lo + u * (floor(p->hi) - p->lo + 1));
			v = v > p->hi ? floor(p->hi) : v;
			break;
		case CF_PS_LOGINT:
			v = round(exp(log(p->lo) + u * (log(p->hi) - log(p->lo))));
			break;
		case CF_PS_LOG2: {
			double a = ceil(log2(p->lo)), b = floor(log2(p->hi));
			v = pow(2, a + floor(u * (b - a + 1)));
			v = v > pow(2, b) ? pow(2, b) : v;
			break;
		}
		default:
			v = p->lo + u * (p->hi - p->lo);
		}
		x[i] = p->lo == p->hi ? p->lo : v;
	}
}

void
cf_space_defaults(const cf_space *s, cf_algo a, double *x)
{
	const cf_algo_info *d = cf_algo_get(a);

	for (int i = 0; i < s->n; i++) {
		const char *nm = s->p[i].name;
		double v = strcmp(nm, "k") == 0 ? d->k : strcmp(nm, "lr") == 0 ? d->lr :
		           strcmp(nm, "lr_decay") == 0 ? d->lr_decay : strcmp(nm, "reg") == 0 ?
		           d->reg : strcmp(nm, "reg_bias") == 0 ? d->reg_bias :
		           strcmp(nm, "alpha") == 0 ? d->alpha : strcmp(nm, "beta") == 0 ? d->beta :
		           /* ials' Rendle et al. parameters (mf-fit --alpha0, --nu) */
		           strcmp(nm, "alpha0") == 0 ? cf_algo_lsq(a)->alpha0 :
		           strcmp(nm, "nu") == 0 ? cf_algo_lsq(a)->nu :
		           0.1;                                             /* init_scale */
		x[i] = v < s->p[i].lo ? s->p[i].lo : v > s->p[i].hi ? s->p[i].hi : v;
	}
}

void
cf_space_flags(const cf_space *s, const double *x, char *buf, size_t len)
{
	size_t at = 0;

	buf[0] = 0;
	for (int i = 0; i < s->n && at < len; i++) {
		const char *nm = s->p[i].name;
		char flag[32];
		if (strcmp(nm, "k") == 0)
			snprintf(flag, sizeof flag, "-k");
		else {
			snprintf(flag, sizeof flag, "--%s", nm);
			for (char *t = flag + 2; *t; t++)
				if (*t == '_')
					*t = '-';
		}
		at += (size_t)snprintf(buf + at, len - at, "%s%s %.6g", at ? " " : "", flag, x[i]);
	}
}

/* ------------------------------------------------------------ halving */

void
cf_halving_plan(int trials, int eta, int min_epochs, int max_epochs, cf_halving *h)
{
	int R = 0;
	double d = 1;

	memset(h, 0, sizeof *h);
	if (min_epochs < 1)
		min_epochs = 1;
	while (eta >= 2 && R + 1 < CF_RUNGS_MAX && max_epochs / (d * eta) >= min_epochs) {
		d *= eta;
		R++;
	}
	h->rungs = R + 1;
	double div = pow(eta, R), cnt = trials;
	for (int r = 0; r <= R; r++, div /= eta) {
		int e = (int)floor(max_epochs / div);
		h->epochs[r] = r == R ? max_epochs : e < min_epochs ? min_epochs : e;
		h->n[r] = (int)ceil(cnt);
		cnt = ceil(cnt) / eta;
		if (h->n[r] < 1)
			h->n[r] = 1;
	}
}

struct ranked {
	double v;
	uint32_t id;
	int minimize;
};

static int
by_objective(const void *a, const void *b)
{
	const struct ranked *x = a, *y = b;
	double u = x->minimize ? x->v : -x->v, w = y->minimize ? y->v : -y->v;

	if (u != w)
		return u < w ? -1 : 1;
	return (x->id > y->id) - (x->id < y->id);
}

size_t
cf_halving_select(const double *obj, const uint32_t *ids, size_t n, size_t keep,
                  int minimize, uint32_t *out)
{
	struct ranked *r = cf_xmalloc((n ? n : 1) * sizeof *r);
	size_t m = 0;

	for (size_t j = 0; j < n; j++)
		if (!isnan(obj[j])) {
			r[m].v = obj[j];
			r[m].id = ids[j];
			r[m++].minimize = minimize;
		}
	qsort(r, m, sizeof *r, by_objective);
	if (keep > m)
		keep = m;
	for (size_t j = 0; j < keep; j++)
		out[j] = r[j].id;
	free(r);
	return keep;
}
