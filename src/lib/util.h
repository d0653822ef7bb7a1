/*
 * util.h - what every cinefilter program shares: its name in messages,
 * fatal and non-fatal diagnostics, checked allocation, the common flags
 * (--help, --version), the operands and writing files atomically (temp file
 * + rename).
 */
#ifndef CF_UTIL_H
#define CF_UTIL_H

#include <stddef.h>
#include <stdio.h>

#define CF_VERSION "0.1.0"

/*
 * Exit codes shared by every program, one rule: 2 when the command line is
 * wrong (an unknown flag, a missing or malformed value, a value out of its
 * range, flags that exclude each other, frames asked to go to a terminal),
 * found before any input is read; 1 when the input is bad or the work
 * fails (including a flag that does not fit the input: -k 4 for a k = 8
 * model).
 */
enum { CF_EXIT_OK = 0, CF_EXIT_FAIL = 1, CF_EXIT_USAGE = 2 };

/*
 * Name used as the prefix of every message; set once from argv[0] (its
 * last component; argv[0] itself is cut to it, so that getopt's own
 * messages, "mf-fit: unrecognized option '--x'", carry the same prefix).
 * cf_setprog also catches SIGXFSZ (unless ignored): reaching the file size
 * limit (ulimit -f) prints "prog: FILE: file size limit exceeded", FILE the
 * output that reached it (an atomic output's name, or stdout), and exits 1.
 */
extern const char *cf_progname;
void cf_setprog(const char *argv0);

/*
 * die() prints "prog: message" and exits 1; a trailing ':' in the format
 * appends strerror(errno), as in sbase's eprintf.  Before exiting, the
 * pending atomic output (if any) is removed so no half-written file stays.
 */
void cf_die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
void cf_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Replaces control characters (line breaks above all) in s by '?', in place,
 * so a message quoting input keeps to one line. */
void cf_oneline(char *s);

void *cf_xmalloc(size_t n);
void *cf_xcalloc(size_t n, size_t size);
void *cf_xrealloc(void *p, size_t n);
/* Grows *p (holding *cap elements of size sz) to hold at least need. */
void cf_grow(void **p, size_t *cap, size_t need, size_t sz);
char *cf_xstrdup(const char *s);

/*
 * Output files written through a temp file in the same directory and
 * renamed over the target only when complete.  cf_die() unlinks every
 * temp file still open, so a failure never leaves a partial file; so do
 * SIGINT, SIGTERM, SIGHUP, SIGPIPE and SIGXFSZ, whose handler the first
 * cf_outfile_open installs (only over the default disposition: a signal
 * the parent ignored stays ignored).  The program then dies of the
 * signal, quietly for the interrupts; SIGPIPE, or an EPIPE write error
 * (cf_write_failed), says which files were not written, one line:
 * "prog: stdout: the reader went away (SIGPIPE); t.bin not written";
 * SIGXFSZ names the file and exits 1 (see cf_setprog).  A path that
 * exists and is not a regular file (a FIFO, a device) is written
 * directly, with no temp file.
 */
typedef struct cf_outfile {
	FILE *fp;
	char *path;
	char *tmp;
} cf_outfile;
cf_outfile *cf_outfile_open(const char *path);     /* "-": stdout, as it is */
void cf_outfile_commit(cf_outfile *o);     /* flush, fsync-free close, rename */

/*
 * Flushes and closes stdout, dying with a message if anything failed
 * (a full disk must fail the pipeline).  A reader that went away (EPIPE)
 * is not an error worth a message: the program exits quietly (but for
 * the line naming output files it abandons, above).
 */
void cf_close_stdout(void);
/* Called on a write error to a stream: quiet exit on EPIPE, die otherwise. */
void cf_write_failed(const char *what) __attribute__((noreturn));

/*
 * The flags every program has, for getopt_long tables and switches:
 *   case 'h': usage(stdout); exit(0);    case 'V': cf_version();
 */
#define CF_STD_LONGOPTS {"help", 0, 0, 'h'}, {"version", 0, 0, 'V'}
void cf_version(void) __attribute__((noreturn));
/*
 * A usage error: "prog: message" and one hint line, "try 'prog --help'",
 * on stderr (not the whole help), exit 2.  usage is not printed (kept
 * for the callers' sake: every program passes its own).
 */
void cf_usage_error(void (*usage)(FILE *), const char *fmt, ...)
	__attribute__((noreturn, format(printf, 2, 3)));
/* The hint line alone and exit 2: for getopt's '?', whose message getopt printed. */
void cf_usage_hint(void) __attribute__((noreturn));

/*
 * Frames are binary: a program does not write them to a terminal (as
 * gzip does not), but with -o - (cf_outfile_open("-")), which says so.
 * cf_stdout_frames() is the check, a usage error when stdout is a
 * terminal; the frame writer makes it for stdout, and a program that
 * works long before it writes makes it first.
 */
void cf_stdout_frames(void);

/*
 * What to call an input that ended before its first byte: "empty input",
 * or for a pipe "empty input from a pipe: the stage before wrote nothing
 * (if it failed, its own message says why)", so that the
 * message of a stage after a failed one points at the real error.
 */
const char *cf_empty_input(int fd);

/*
 * The operands left after getopt_long, one rule for every program: at most
 * one, the input file.  cf_one_operand() returns it (advancing optind), or
 * NULL when there is none (read stdin); another is a usage error
 * "unexpected argument 'X': one input at most".  cf_no_operand() is for a
 * program that takes none: any is a usage error naming it, and why (NULL:
 * no reason given).
 */
const char *cf_one_operand(int argc, char **argv, void (*usage)(FILE *));
void cf_no_operand(int argc, char **argv, void (*usage)(FILE *), const char *why);

/* The index of s among names[0..n) (exact match), or -1: for flags' words. */
int cf_lookup(const char *s, const char *const *names, int n);

/* Strict number parsing of a whole NUL-terminated string; 0 on success. */
int cf_parse_double(const char *s, double *out);
int cf_parse_i64(const char *s, long long *out);
int cf_parse_u64(const char *s, unsigned long long *out);

#endif
