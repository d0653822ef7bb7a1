/* util.c - diagnostics, allocation, atomic output files, operands, number parsing. */
#include "util.h"
#include "progress.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

const char *cf_progname = "cinefilter";

/*
 * Temp files not yet renamed, removed by cf_die() and by the signal
 * handler below, which reads this array and nothing else the program
 * changes: a slot is in use while tmp is set (set last when a file is
 * opened, cleared last when it is renamed), and fd is its descriptor
 * until it is closed (-1 after), for naming the file that hit the file
 * size limit.
 */
#define MAX_PENDING 8
static struct pending {
	const char *volatile tmp;       /* the temp file, or NULL: a free slot */
	const char *volatile path;      /* the file it becomes, for messages */
	volatile sig_atomic_t fd;
} pending[MAX_PENDING];
static rlim_t fsize_limit = RLIM_INFINITY;      /* RLIMIT_FSIZE, read before catching */

static void catch_signals(int all);

#ifdef __GLIBC__
extern char *program_invocation_name;
#endif

static int frames_to_tty;       /* -o - was given: frames may go to a terminal */

void
cf_setprog(const char *argv0)
{
	const char *s = strrchr(argv0, '/');
	cf_progname = s ? s + 1 : argv0;
#ifdef __GLIBC__
	/*
	 * getopt prefixes its messages with argv[0]: the program's own argv[0]
	 * (glibc's program_invocation_name is that string, writable) is cut to
	 * the name, so "bin/mf-fit: unrecognized option" and "mf-fit: ..." are
	 * not two prefixes.  A caller's other string (a unit test's literal)
	 * is left alone.
	 */
	if (s && argv0 == program_invocation_name) {
		memmove(program_invocation_name, s + 1, strlen(s + 1) + 1);
		cf_progname = program_invocation_name;
	}
#endif
	catch_signals(0);       /* SIGXFSZ says why, even without temp files */
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
	cf_progress_clear();    /* a status line on the terminal goes first */
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

/* Removes every pending temp file.  Async-signal-safe: the signal handler calls it too. */
static void
drop_pending(void)
{
	for (int i = 0; i < MAX_PENDING; i++) {
		const char *t = pending[i].tmp;
		if (t) {
			unlink(t);
			pending[i].tmp = NULL;
		}
	}
}

/* ------------------------------------------------------------- signals */

/* A one-line message built and written without stdio (async-signal-safe). */
struct sigmsg {
	char b[1024];
	size_t n;
};

/* Appends s to the message m (it is cut short rather than overflow). */
static void
sm_cat(struct sigmsg *m, const char *s)
{
	while (s && *s && m->n + 2 < sizeof m->b)
		m->b[m->n++] = *s++;
}

static void
sm_send(struct sigmsg *m)
{
	m->b[m->n++] = '\n';
	if (write(2, m->b, m->n) < 0) {
		/* nothing to do: stderr is gone too */
	}
}

/*
 * When output files are abandoned because a reader went away: one line
 * naming them, "prog: stdout: the reader went away (SIGPIPE); t.bin not
 * written".  Nothing when none is pending (a quiet exit, the Unix norm
 * for "| head").  Async-signal-safe.
 */
static void
say_abandoned(const char *stream, const char *why)
{
	struct sigmsg m = {.n = 0};
	int any = 0;

	for (int i = 0; i < MAX_PENDING; i++) {
		const char *t = pending[i].tmp, *p = pending[i].path;
		if (!t)
			continue;
		if (!any) {
			sm_cat(&m, cf_progname);
			sm_cat(&m, ": ");
			sm_cat(&m, stream);
			sm_cat(&m, ": the reader went away (");
			sm_cat(&m, why);
			sm_cat(&m, "); ");
		} else {
			sm_cat(&m, ", ");
		}
		sm_cat(&m, p);
		any = 1;
	}
	if (any) {
		sm_cat(&m, " not written");
		sm_send(&m);
	}
}

/* The output that reached the file size limit: a pending file's target, "stdout" or NULL. */
static const char *
over_limit(void)
{
	struct stat st;

	for (int i = 0; i < MAX_PENDING; i++) {
		int fd = pending[i].fd;
		if (pending[i].tmp && fd >= 0 && fstat(fd, &st) == 0 &&
		    (rlim_t)st.st_size >= fsize_limit)
			return pending[i].path;
	}
	if (fstat(1, &st) == 0 && S_ISREG(st.st_mode) && (rlim_t)st.st_size >= fsize_limit)
		return "stdout";
	return NULL;
}

/*
 * SIGINT, SIGTERM, SIGHUP, SIGPIPE, SIGXFSZ: the pending temp files are
 * removed, then the program dies of the signal (the handler was reset to
 * the default on entry: SA_RESETHAND), but for SIGXFSZ, which says which
 * file hit the limit and exits 1, as a failure does.  SIGPIPE says which
 * files were abandoned, if any; the interrupts are quiet (the shell or
 * make reports them).
 */
static void
on_signal(int sig)
{
	if (sig == SIGXFSZ) {
		struct sigmsg m = {.n = 0};
		const char *f = over_limit();
		drop_pending();
		sm_cat(&m, cf_progname);
		sm_cat(&m, ": ");
		if (f) {
			sm_cat(&m, f);
			sm_cat(&m, ": ");
		}
		sm_cat(&m, "file size limit exceeded");
		sm_send(&m);
		_exit(CF_EXIT_FAIL);
	}
	if (sig == SIGPIPE) {
		struct stat st;
		int pipe_out = fstat(1, &st) == 0 && (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode));
		say_abandoned(pipe_out ? "stdout" : "an output pipe", "SIGPIPE");
	}
	drop_pending();
	raise(sig);
	_exit(128 + sig);       /* not reached: the default action ends us */
}

/*
 * Catches SIGXFSZ and, with all, the signals that end a program while it
 * may have temp files.  Only where the disposition is the default: one
 * the parent ignored (nohup's SIGHUP, SIGINT of a background job, a
 * SIGPIPE ignored to get EPIPE) stays ignored, a program's own handler
 * stays.
 */
static void
catch_signals(int all)
{
	static const int sigs[] = {SIGXFSZ, SIGINT, SIGTERM, SIGHUP, SIGPIPE};
	struct sigaction sa, old;
	struct rlimit rl;

	if (getrlimit(RLIMIT_FSIZE, &rl) == 0)
		fsize_limit = rl.rlim_cur;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_RESETHAND | SA_NODEFER;
	for (int i = 0; i < (all ? 5 : 1); i++) {
		sigemptyset(&sa.sa_mask);
		for (int j = 0; j < 5; j++)     /* the others wait: one handler at a time */
			if (j != i)
				sigaddset(&sa.sa_mask, sigs[j]);
		if (sigaction(sigs[i], NULL, &old) == 0 && !(old.sa_flags & SA_SIGINFO) &&
		    old.sa_handler == SIG_DFL)
			sigaction(sigs[i], &sa, NULL);
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
cf_usage_hint(void)
{
	fflush(stdout);
	cf_progress_clear();
	fprintf(stderr, "try '%s --help'\n", cf_progname);
	drop_pending();
	exit(CF_EXIT_USAGE);
}

void
cf_usage_error(void (*usage)(FILE *), const char *fmt, ...)
{
	va_list ap;

	(void)usage;
	va_start(ap, fmt);
	vmsg(fmt, ap);
	va_end(ap);
	cf_usage_hint();
}

void
cf_stdout_frames(void)
{
	if (!frames_to_tty && isatty(1))
		cf_usage_error(NULL, "stdout is a terminal: frames are binary; redirect them "
		               "(> FILE, | bin2csv), or -o - where there is -o to write them anyway");
}

const char *
cf_empty_input(int fd)
{
	struct stat st;

	if (fstat(fd, &st) == 0 && (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode)))
		return "empty input from a pipe: the stage before wrote nothing "
		       "(if it failed, its own message says why)";
	return "empty input";
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
	sigset_t block, was;

	if (strcmp(path, "-") == 0) {
		/* Standard output, written as it is; frames may go to a terminal. */
		frames_to_tty = 1;
		o->fp = stdout;
		o->path = cf_xstrdup("stdout");
		return o;
	}
	for (int i = 0; i < MAX_PENDING; i++)
		if (!pending[i].tmp) {
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
	catch_signals(1);
	/* Created and recorded with the signals held, so none falls in between. */
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGHUP);
	sigaddset(&block, SIGPIPE);
	sigaddset(&block, SIGXFSZ);
	pthread_sigmask(SIG_BLOCK, &block, &was);
	if ((fd = mkstemp(o->tmp)) >= 0) {
		pending[slot].path = o->path;
		pending[slot].fd = fd;
		pending[slot].tmp = o->tmp;
	}
	pthread_sigmask(SIG_SETMASK, &was, NULL);
	if (fd < 0)
		cf_die("%s: cannot create temp file %s:", path, o->tmp);
	if (!(o->fp = fdopen(fd, "wb")))
		cf_die("%s:", o->tmp);
	return o;
}

void
cf_outfile_commit(cf_outfile *o)
{
	int slot = -1;

	for (int i = 0; i < MAX_PENDING; i++)
		if (o->tmp && pending[i].tmp == o->tmp)
			slot = i;
	if (o->fp == stdout) {          /* -o -: closed with stdout, at exit */
		if (fflush(stdout) != 0 || ferror(stdout))
			cf_write_failed("stdout");
		free(o->path);
		free(o);
		return;
	}
	if (fflush(o->fp) != 0 || ferror(o->fp))
		cf_die("%s: write error:", o->path);
	if (slot >= 0)
		pending[slot].fd = -1;  /* closed next: the number may be reused */
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
	/* A signal before this line unlinks a name that is gone: harmless. */
	if (slot >= 0)
		pending[slot].tmp = NULL;
	free(o->path);
	free(o->tmp);
	free(o);
}

void
cf_write_failed(const char *what)
{
	if (errno == EPIPE) {
		/*
		 * The reader went away (e.g. "| head"): nothing to report, unless
		 * an output file is abandoned with it (SIGPIPE was ignored, so
		 * this is the EPIPE that would have been the signal).
		 */
		say_abandoned(what, "EPIPE");
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
