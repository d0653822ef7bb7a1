/*
 * models.c - the served models and their versions (see models.h).  One
 * mutex guards the list and the default; lookups hold it for a few
 * string compares, so the hot path never waits on a publish (the file
 * is written and mapped before the lock is taken).
 */
#include "models.h"
#include "frame.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

struct cf_registry {
	char *dir;
	pthread_mutex_t mu;
	cf_served **v;          /* sorted by name */
	size_t n, cap;
	cf_served *dflt;
	char **reserved;        /* version names being trained */
	size_t nres, capres;
};

int
cf_model_name_ok(const char *s)
{
	size_t n = 0;

	if (!s || !*s || *s == '.')
		return 0;
	for (; s[n]; n++) {
		char c = s[n];
		if (n >= CF_MODEL_NAME_MAX ||
		    !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-'))
			return 0;
	}
	return 1;
}

/* ------------------------------------------------------------- handles */

static void
served_free(cf_served *h)
{
	cf_scorer_free(h->sc);
	free(h->pop);
	cf_model_free(h->m);
	free(h);
}

void
cf_served_put(cf_served *h)
{
	if (h && atomic_fetch_sub_explicit(&h->refs, 1, memory_order_acq_rel) == 1)
		served_free(h);
}

/* Maps dir/name.bin; NULL with a reason if it is not a readable model. */
static cf_served *
load(const char *dir, const char *name, char *err, size_t errlen)
{
	char path[4096];
	int fd;

	snprintf(path, sizeof path, "%s/%s.bin", dir, name);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	cf_reader *r = cf_reader_open(fd, path);
	cf_reader_set_die(r, 0);
	cf_model *m = cf_model_read(r, err, errlen);
	if (!m) {
		cf_reader_close(r);
		return NULL;
	}
	cf_served *h = cf_xcalloc(1, sizeof *h);
	snprintf(h->name, sizeof h->name, "%s", name);
	h->m = m;
	h->sc = cf_scorer_new(m);
	/* Ratings per movie in the training data: search ranks ties by it. */
	h->pop = cf_xcalloc((size_t)m->nitems + 1, sizeof *h->pop);
	for (uint64_t j = 0; m->seen_ptr && j < m->seen_ptr[m->nusers]; j++)
		h->pop[m->seen_item[j]]++;
	/*
	 * An ials explainer builds the scorer's Gram matrix on first use, which
	 * is not thread-safe: build it now, before any request thread.
	 */
	if (h->sc->kind == CF_SCORE_DOT) {
		uint32_t none = 0;
		float r0 = 0;
		cf_explain_free(cf_explain_new(h->sc, &none, &r0, 0, 0));
	}
	atomic_init(&h->refs, 1);
	return h;
}

static int
by_name(const void *a, const void *b)
{
	return strcmp((*(cf_served *const *)a)->name, (*(cf_served *const *)b)->name);
}

/* The model name of a directory entry "NAME.bin", or 0. */
static int
entry_name(const char *file, char *name, size_t len)
{
	size_t n = strlen(file);

	if (n <= 4 || strcmp(file + n - 4, ".bin") != 0 || n - 4 >= len)
		return 0;
	memcpy(name, file, n - 4);
	name[n - 4] = 0;
	return cf_model_name_ok(name);
}

/* 1 if file is a temp version: ".NAME.bin.tmp-XXXXXX", as write_model names it. */
static int
temp_name(const char *file)
{
	const char *t = strstr(file, ".bin.tmp-");

	return file[0] == '.' && t && t > file + 1 && strlen(t + 9) == 6;
}

/*
 * Removes the temp versions a server killed while writing one left in
 * dir, saying so.  A server writes one holding a shared lock on the
 * directory (write_model): with the exclusive lock, every temp file there
 * is a leftover.  If servers keep publishing for a second, the leftovers
 * stay until a later start.
 */
static void
remove_temps(const char *dir)
{
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), got = 0;
	DIR *d;
	struct dirent *e;
	char path[4096];
	struct stat st;

	if (dfd < 0)
		return;
	for (int i = 0; i < 20 && !(got = flock(dfd, LOCK_EX | LOCK_NB) == 0); i++)
		usleep(50 * 1000);
	if (!got || !(d = opendir(dir))) {
		close(dfd);
		return;
	}
	while ((e = readdir(d))) {
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		if (!temp_name(e->d_name) || lstat(path, &st) != 0 || !S_ISREG(st.st_mode))
			continue;
		if (unlink(path) == 0)
			cf_warn("removed %s: a /train version left half-written by a server that "
			        "was killed (%lld bytes)", path, (long long)st.st_size);
		else
			cf_warn("cannot remove %s (left by an interrupted /train): %s", path,
			        strerror(errno));
	}
	closedir(d);
	close(dfd);             /* the lock with it */
}

cf_registry *
cf_registry_open(const char *dir, const char *dflt, char *err, size_t errlen)
{
	cf_registry *g = cf_xcalloc(1, sizeof *g);
	DIR *d = opendir(dir);
	struct dirent *e;
	char name[CF_MODEL_NAME_MAX + 1];

	g->dir = cf_xstrdup(dir);
	pthread_mutex_init(&g->mu, NULL);
	if (!d) {
		snprintf(err, errlen, "--models %s: %s", dir, strerror(errno));
		goto fail;
	}
	remove_temps(dir);
	while ((e = readdir(d))) {
		if (!entry_name(e->d_name, name, sizeof name))
			continue;       /* temp files start with a dot: never models */
		cf_served *h = load(dir, name, err, errlen);
		if (!h) {
			closedir(d);
			goto fail;
		}
		cf_grow((void **)&g->v, &g->cap, g->n + 1, sizeof *g->v);
		g->v[g->n++] = h;
	}
	closedir(d);
	if (g->n == 0) {
		snprintf(err, errlen, "--models %s: no model in it (files NAME.bin)", dir);
		goto fail;
	}
	qsort(g->v, g->n, sizeof *g->v, by_name);
	g->dflt = g->v[0];
	if (dflt) {
		g->dflt = NULL;
		for (size_t i = 0; i < g->n && !g->dflt; i++)
			if (strcmp(g->v[i]->name, dflt) == 0)
				g->dflt = g->v[i];
		if (!g->dflt) {
			snprintf(err, errlen, "--default %s: no such model in %s (%s.bin)", dflt,
			         dir, dflt);
			goto fail;
		}
	}
	return g;
fail:
	cf_registry_free(g);
	return NULL;
}

void
cf_registry_free(cf_registry *g)
{
	if (!g)
		return;
	for (size_t i = 0; i < g->n; i++)
		cf_served_put(g->v[i]);
	for (size_t i = 0; i < g->nres; i++)
		free(g->reserved[i]);
	free(g->reserved);
	free(g->v);
	free(g->dir);
	pthread_mutex_destroy(&g->mu);
	free(g);
}

/* The handle of name, with the lock held; NULL if none. */
static cf_served *
find_locked(cf_registry *g, const char *name)
{
	size_t lo = 0, hi = g->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(g->v[mid]->name, name);
		if (c == 0)
			return g->v[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

cf_served *
cf_registry_get(cf_registry *g, const char *name)
{
	cf_served *h;

	pthread_mutex_lock(&g->mu);
	h = name ? find_locked(g, name) : g->dflt;
	if (h)
		atomic_fetch_add_explicit(&h->refs, 1, memory_order_relaxed);
	pthread_mutex_unlock(&g->mu);
	return h;
}

char **
cf_registry_names(cf_registry *g, size_t *n)
{
	char **v;

	pthread_mutex_lock(&g->mu);
	v = cf_xmalloc((g->n ? g->n : 1) * sizeof *v);
	for (size_t i = 0; i < g->n; i++)
		v[i] = cf_xstrdup(g->v[i]->name);
	*n = g->n;
	pthread_mutex_unlock(&g->mu);
	return v;
}

void
cf_registry_names_free(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/* ------------------------------------------------------------ versions */

/* If name is base_N (N digits, no leading zero), N; else 0. */
static unsigned long
version_of(const char *name, const char *base, size_t blen)
{
	const char *p = name + blen + 1;
	unsigned long v = 0;

	if (strncmp(name, base, blen) != 0 || name[blen] != '_' || !*p || *p == '0')
		return 0;
	for (; *p; p++) {
		if (*p < '0' || *p > '9' || v > 100000000)
			return 0;
		v = v * 10 + (unsigned long)(*p - '0');
	}
	return v;
}

int
cf_registry_reserve(cf_registry *g, const char *from, char *name, size_t len)
{
	char base[CF_MODEL_NAME_MAX + 1], file[CF_MODEL_NAME_MAX + 8];
	size_t blen = strlen(from), d = blen;
	unsigned long top = 0, v;
	DIR *dir;
	struct dirent *e;

	/* "als_3" is version 3 of "als": its successor is "als_4", not "als_3_1". */
	while (d > 0 && from[d - 1] >= '0' && from[d - 1] <= '9')
		d--;
	if (d > 1 && d < blen && from[d - 1] == '_' && from[d] != '0')
		blen = d - 1;
	snprintf(base, sizeof base, "%.*s", (int)blen, from);

	pthread_mutex_lock(&g->mu);
	for (size_t i = 0; i < g->n; i++)
		if ((v = version_of(g->v[i]->name, base, blen)) > top)
			top = v;
	for (size_t i = 0; i < g->nres; i++)
		if ((v = version_of(g->reserved[i], base, blen)) > top)
			top = v;
	/* Files a previous run published but this one did not load count too. */
	if ((dir = opendir(g->dir))) {
		while ((e = readdir(dir)))
			if (entry_name(e->d_name, file, sizeof file) &&
			    (v = version_of(file, base, blen)) > top)
				top = v;
		closedir(dir);
	}
	int n = snprintf(name, len, "%s_%lu", base, top + 1);
	int rc = n > 0 && (size_t)n < len && cf_model_name_ok(name) ? 0 : -1;
	if (rc == 0) {
		cf_grow((void **)&g->reserved, &g->capres, g->nres + 1, sizeof *g->reserved);
		g->reserved[g->nres++] = cf_xstrdup(name);
	}
	pthread_mutex_unlock(&g->mu);
	return rc;
}

void
cf_registry_unreserve(cf_registry *g, const char *name)
{
	pthread_mutex_lock(&g->mu);
	for (size_t i = 0; i < g->nres; i++) {
		if (strcmp(g->reserved[i], name) == 0) {
			free(g->reserved[i]);
			g->reserved[i] = g->reserved[--g->nres];
			break;
		}
	}
	pthread_mutex_unlock(&g->mu);
}

/* Writes m to dir/name.bin through a temp file; 0 or -1 with err. */
static int
write_model(const char *dir, const char *name, const cf_model *m, char *err, size_t errlen)
{
	char tmp[4096], path[4096];
	int fd, rc = 0;
	FILE *fp;

	snprintf(path, sizeof path, "%s/%s.bin", dir, name);
	/* A leading dot: the loader never takes a temp file for a model. */
	snprintf(tmp, sizeof tmp, "%s/.%s.bin.tmp-XXXXXX", dir, name);
	/*
	 * From before the temp file exists until it is renamed, a shared lock
	 * on the directory: a server starting on it meanwhile (remove_temps)
	 * leaves the temp file be.
	 */
	int lockfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (lockfd >= 0)
		flock(lockfd, LOCK_SH);
	if ((fd = mkstemp(tmp)) < 0) {
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		if (lockfd >= 0)
			close(lockfd);
		return -1;
	}
	/* mkstemp makes it 0600; a model is as readable as the pipeline's own. */
	if (fchmod(fd, 0644) != 0 || !(fp = fdopen(fd, "wb"))) {
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		close(fd);
		unlink(tmp);
		if (lockfd >= 0)
			close(lockfd);
		return -1;
	}
	cf_writer *w = cf_writer_new(fp, tmp);
	cf_writer_set_die(w, 0);
	if (cf_model_write(w, m) < 0) {
		snprintf(err, errlen, "%s", cf_writer_error(w));
		rc = -1;
	}
	if (cf_writer_finish(w) < 0 && rc == 0) {
		snprintf(err, errlen, "%s: write error: %s", tmp, strerror(errno));
		rc = -1;
	}
	/* Durable before it is visible: a crash after the rename finds it whole. */
	if (rc == 0 && (fflush(fp) != 0 || fsync(fileno(fp)) != 0)) {
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		rc = -1;
	}
	if (fclose(fp) != 0 && rc == 0) {
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		rc = -1;
	}
	if (rc == 0 && rename(tmp, path) != 0) {
		snprintf(err, errlen, "rename %s -> %s: %s", tmp, path, strerror(errno));
		rc = -1;
	}
	if (rc < 0)
		unlink(tmp);
	if (lockfd >= 0)
		close(lockfd);
	return rc;
}

int
cf_registry_publish(cf_registry *g, const char *name, const cf_model *m, const char *from,
                    char *err, size_t errlen)
{
	cf_served *h = NULL;

	if (write_model(g->dir, name, m, err, errlen) == 0)
		h = load(g->dir, name, err, errlen);
	pthread_mutex_lock(&g->mu);
	if (h) {
		size_t at = 0;
		while (at < g->n && strcmp(g->v[at]->name, name) < 0)
			at++;
		cf_grow((void **)&g->v, &g->cap, g->n + 1, sizeof *g->v);
		memmove(g->v + at + 1, g->v + at, (g->n - at) * sizeof *g->v);
		g->v[at] = h;
		g->n++;
		/* The swap: from here on new requests get the new version. */
		if (strcmp(g->dflt->name, from) == 0)
			g->dflt = h;
	}
	pthread_mutex_unlock(&g->mu);
	cf_registry_unreserve(g, name);
	return h ? 0 : -1;
}
