/* util.c - diagnostics, allocation, atomic output files, operands, number parsing. */
#include "util.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *cf_progname = "cinefilter";

/* Temp files not yet renamed; removed by cf_die(). */
#define MAX_PENDING 8
static cf_outfile *pending[MAX_PENDING];

void
cf_setprog(const char *argv0)
{
	const char *s = strrchr(argv0, '/');
	cf_progname = s ? s + 1 : argv0;
}

void
cf_oneline(char *s)
{
	for (; *s; s++)
		if (((unsigned char)*s < 0x20 && *s != '\t') || *s == 0x7f)
			*s = '?';
}

static void
vmsg(const char *fmt, va_list ap)
{
	int saved = errno;
	size_t n = strlen(fmt);
	char buf[4096];

	fflush(stdout);
	/*
	 * Formatted first, then cleaned: a message quotes names and ids taken
	 * from the input (a table name, a raw id), and one holding a line
	 * break must not turn the one-line error into two (found by fuzzing).
	 */
	vsnprintf(buf, sizeof buf, fmt, ap);
	cf_oneline(buf);
	fprintf(stderr, "%s: %s", cf_progname, buf);
	if (n > 0 && fmt[n - 1] == ':')
		fprintf(stderr, " %s", strerror(saved));
	fputc('\n', stderr);
}

static void
drop_pending(void)
{
	for (int i = 0; i < MAX_PENDING; i++) {
		if (pending[i]) {
			unlink(pending[i]->tmp);
			pending[i] = NULL;
		}
	}
}

void
cf_die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(fmt, ap);
	va_end(ap);
	drop_pending();
	exit(CF_EXIT_FAIL);
}

void
cf_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(fmt, ap);
	va_end(ap);
}

void
cf_usage_error(void (*usage)(FILE *), const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(fmt, ap);
	va_end(ap);
	usage(stderr);
	exit(CF_EXIT_USAGE);
}

void
cf_no_operand(int argc, char **argv, void (*usage)(FILE *), const char *why)
{
	if (optind < argc)
		cf_usage_error(usage, "unexpected argument '%s'%s%s", argv[optind],
		               why ? ": " : "", why ? why : "");
}

const char *
cf_one_operand(int argc, char **argv, void (*usage)(FILE *))
{
	const char *input = optind < argc ? argv[optind++] : NULL;

	cf_no_operand(argc, argv, usage, "one input at most");
	return input;
}

void
cf_version(void)
{
	printf("%s (cinefilter) %s\n", cf_progname, CF_VERSION);
	cf_close_stdout();
	exit(CF_EXIT_OK);
}

void *
cf_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p)
		cf_die("out of memory allocating %zu bytes", n);
	return p;
}

void *
cf_xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (!p)
		cf_die("out of memory allocating %zu x %zu bytes", n, size);
	return p;
}

void *
cf_xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);

	if (!q)
		cf_die("out of memory allocating %zu bytes", n);
	return q;
}

void
cf_grow(void **p, size_t *cap, size_t need, size_t sz)
{
	size_t c = *cap;

	if (need <= c)
		return;
	if (c < 16)
		c = 16;
	while (c < need)
		c += c / 2;
	if (c > SIZE_MAX / sz)
		cf_die("out of memory: %zu elements of %zu bytes", c, sz);
	*p = cf_xrealloc(*p, c * sz);
	*cap = c;
}

char *
cf_xstrdup(const char *s)
{
	size_t n = strlen(s) + 1;

	return memcpy(cf_xmalloc(n), s, n);
}

cf_outfile *
cf_outfile_open(const char *path)
{
	cf_outfile *o = cf_xcalloc(1, sizeof *o);
	size_t n = strlen(path);
	int fd, slot = -1;

	for (int i = 0; i < MAX_PENDING; i++)
		if (!pending[i]) {
			slot = i;
			break;
		}
	if (slot < 0)
		cf_die("%s: too many output files open at once", path);
	o->path = cf_xstrdup(path);
	/*
	 * Something that is not a regular file (/dev/null, a FIFO, a
	 * terminal) is written as it is: renaming a temp file over it would
	 * replace the device with a file, and there is no partial file to
	 * avoid.
	 */
	struct stat st;
	if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
		if (S_ISDIR(st.st_mode))
			cf_die("%s: is a directory", path);
		if (!(o->fp = fopen(path, "wb")))
			cf_die("%s:", path);
		return o;
	}
	o->tmp = cf_xmalloc(n + 16);
	snprintf(o->tmp, n + 16, "%s.tmp.XXXXXX", path);
	if ((fd = mkstemp(o->tmp)) < 0)
		cf_die("%s: cannot create temp file %s:", path, o->tmp);
	pending[slot] = o;
	if (!(o->fp = fdopen(fd, "wb")))
		cf_die("%s:", o->tmp);
	return o;
}

void
cf_outfile_commit(cf_outfile *o)
{
	if (fflush(o->fp) != 0 || ferror(o->fp))
		cf_die("%s: write error:", o->path);
	if (fclose(o->fp) != 0)
		cf_die("%s: write error:", o->path);
	if (!o->tmp) {
		free(o->path);
		free(o);
		return;
	}
	/* mkstemp creates mode 0600; give the file the usual umask mode. */
	mode_t um = umask(0);
	umask(um);
	chmod(o->tmp, 0666 & ~um);
	if (rename(o->tmp, o->path) != 0)
		cf_die("%s: cannot rename %s into place:", o->path, o->tmp);
	for (int i = 0; i < MAX_PENDING; i++)
		if (pending[i] == o)
			pending[i] = NULL;
	free(o->path);
	free(o->tmp);
	free(o);
}

void
cf_write_failed(const char *what)
{
	if (errno == EPIPE) {
		/* The reader went away (e.g. "| head"): nothing to report. */
		drop_pending();
		_exit(CF_EXIT_FAIL);
	}
	cf_die("%s: write error:", what);
}

void
cf_close_stdout(void)
{
	errno = 0;
	if (fflush(stdout) != 0 || ferror(stdout))
		cf_write_failed("stdout");
	if (fclose(stdout) != 0)
		cf_write_failed("stdout");
}

int
cf_lookup(const char *s, const char *const *names, int n)
{
	for (int i = 0; i < n; i++)
		if (strcmp(s, names[i]) == 0)
			return i;
	return -1;
}

int
cf_parse_double(const char *s, double *out)
{
	char *end;

	if (!*s)
		return -1;
	errno = 0;
	*out = strtod(s, &end);
	if (*end || errno == ERANGE || !isfinite(*out))
		return -1;
	return 0;
}

int
cf_parse_i64(const char *s, long long *out)
{
	char *end;

	if (!*s)
		return -1;
	errno = 0;
	*out = strtoll(s, &end, 10);
	return (*end || errno) ? -1 : 0;
}

int
cf_parse_u64(const char *s, unsigned long long *out)
{
	char *end;

	if (!*s || strchr(s, '-'))      /* strtoull negates "-1" and " -1" */
		return -1;
	errno = 0;
	*out = strtoull(s, &end, 10);
	return (*end || errno) ? -1 : 0;
}
