/*
 * test_util.c - unit tests of src/lib/util.c: number parsing, allocation
 * helpers, program name, messages, operands, and atomic output files
 * (including their removal when the program dies, and on signals).
 */
#include <check.h>

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check_util.h"
#include "progress.h"
#include "util.h"

Suite *util_suite(void);

START_TEST(parse_double)
{
	double d;

	ck_assert_int_eq(cf_parse_double("2.5", &d), 0);
	ck_assert(d == 2.5);
	ck_assert_int_eq(cf_parse_double("-0", &d), 0);
	ck_assert(d == 0.0);
	ck_assert_int_eq(cf_parse_double("1e-3", &d), 0);
	ck_assert(d == 1e-3);
	ck_assert_int_eq(cf_parse_double("0.1", &d), 0);
	ck_assert(d == 0.1);
	ck_assert_int_eq(cf_parse_double("", &d), -1);
	ck_assert_int_eq(cf_parse_double("abc", &d), -1);
	ck_assert_int_eq(cf_parse_double("2.5x", &d), -1);
	ck_assert_int_eq(cf_parse_double("2.5 ", &d), -1);
	ck_assert_int_eq(cf_parse_double("inf", &d), -1);
	ck_assert_int_eq(cf_parse_double("nan", &d), -1);
	ck_assert_int_eq(cf_parse_double("1e400", &d), -1);
}
END_TEST

START_TEST(parse_ints)
{
	long long i;
	unsigned long long u;

	ck_assert_int_eq(cf_parse_i64("-9223372036854775808", &i), 0);
	ck_assert(i == INT64_MIN);
	ck_assert_int_eq(cf_parse_i64("9223372036854775807", &i), 0);
	ck_assert(i == INT64_MAX);
	ck_assert_int_eq(cf_parse_i64("9223372036854775808", &i), -1);
	ck_assert_int_eq(cf_parse_i64("0", &i), 0);
	ck_assert(i == 0);
	ck_assert_int_eq(cf_parse_i64("", &i), -1);
	ck_assert_int_eq(cf_parse_i64("12a", &i), -1);
	ck_assert_int_eq(cf_parse_i64("1.0", &i), -1);
	ck_assert_int_eq(cf_parse_u64("18446744073709551615", &u), 0);
	ck_assert(u == UINT64_MAX);
	ck_assert_int_eq(cf_parse_u64("18446744073709551616", &u), -1);
	ck_assert_int_eq(cf_parse_u64("42", &u), 0);
	ck_assert(u == 42);
	ck_assert_int_eq(cf_parse_u64("", &u), -1);
	ck_assert_int_eq(cf_parse_u64("-1", &u), -1);
	/* strtoull negates "-1" after leading blanks: still negative, still rejected */
	ck_assert_int_eq(cf_parse_u64(" -1", &u), -1);
	ck_assert_int_eq(cf_parse_u64("1x", &u), -1);
}
END_TEST

START_TEST(alloc_helpers)
{
	int *p = NULL;
	size_t cap = 0;
	char *s;

	cf_grow((void **)&p, &cap, 10, sizeof *p);
	ck_assert_uint_ge(cap, 10);
	for (int i = 0; i < 10; i++)
		p[i] = i;
	cf_grow((void **)&p, &cap, 5, sizeof *p);       /* no shrink */
	ck_assert_uint_ge(cap, 10);
	cf_grow((void **)&p, &cap, 100000, sizeof *p);
	ck_assert_uint_ge(cap, 100000);
	for (int i = 0; i < 10; i++)
		ck_assert_int_eq(p[i], i);
	p[99999] = 1;
	free(p);
	s = cf_xstrdup("h\xc3\xa9llo");
	ck_assert_str_eq(s, "h\xc3\xa9llo");
	free(s);
	free(cf_xmalloc(0));
	free(cf_xcalloc(0, 0));
	p = cf_xrealloc(NULL, 4);
	free(p);
}
END_TEST

START_TEST(progname)
{
	const char *saved = cf_progname;

	cf_setprog("/usr/local/bin/csv2bin");
	ck_assert_str_eq(cf_progname, "csv2bin");
	cf_setprog("split");
	ck_assert_str_eq(cf_progname, "split");
	cf_progname = saved;
}
END_TEST

static void
do_warn(void *arg)
{
	(void)arg;
	cf_setprog("prog");
	errno = ENOENT;
	cf_warn("%s: cannot open:", "x.csv");
	cf_warn("plain %d", 7);
}

static void
do_die(void *arg)
{
	cf_setprog("prog");
	cf_die("bad thing %s", (const char *)arg);
}

static void
usage_stub(FILE *fp)
{
	fputs("usage: prog [FILE]\n", fp);
}

static void
do_usage_error2(void *arg)
{
	(void)arg;
	cf_setprog("prog");
	cf_usage_error(usage_stub, "unknown option -%c", 'z');
}

static char *argv_one[] = {"prog", "-x", "in.csv", NULL};
static char *argv_two[] = {"prog", "a", "b", NULL};

static void
do_two_operands(void *arg)
{
	(void)arg;
	cf_setprog("prog");
	optind = 1;
	cf_one_operand(3, argv_two, usage_stub);
}

static void
do_no_operand(void *arg)
{
	cf_setprog("prog");
	optind = 1;
	cf_no_operand(3, argv_two, usage_stub, arg);
}

START_TEST(operands)
{
	char msg[1024];
	int saved = optind;

	optind = 2;             /* after getopt: "-x" was an option */
	ck_assert_str_eq(cf_one_operand(3, argv_one, usage_stub), "in.csv");
	ck_assert_int_eq(optind, 3);
	ck_assert_ptr_null(cf_one_operand(3, argv_one, usage_stub));    /* none left: stdin */
	cf_no_operand(3, argv_one, usage_stub, NULL);                   /* none: no error */
	ck_assert_int_eq(cf_test_in_child(do_two_operands, NULL, msg, sizeof msg), CF_EXIT_USAGE);
	ck_assert_str_eq(msg, "prog: unexpected argument 'b': one input at most\n"
	                      "try 'prog --help'\n");
	ck_assert_int_eq(cf_test_in_child(do_no_operand, NULL, msg, sizeof msg), CF_EXIT_USAGE);
	ck_assert_str_eq(msg, "prog: unexpected argument 'a'\ntry 'prog --help'\n");
	ck_assert_int_eq(cf_test_in_child(do_no_operand, "it reads stdin", msg, sizeof msg),
	                 CF_EXIT_USAGE);
	ck_assert_str_eq(msg, "prog: unexpected argument 'a': it reads stdin\n"
	                      "try 'prog --help'\n");
	optind = saved;
}
END_TEST

START_TEST(messages)
{
	char msg[1024];
	char want[256];

	ck_assert_int_eq(cf_test_in_child(do_warn, NULL, msg, sizeof msg), 0);
	snprintf(want, sizeof want, "prog: x.csv: cannot open: %s\nprog: plain 7\n", strerror(ENOENT));
	ck_assert_str_eq(msg, want);
	ck_assert_int_eq(cf_test_in_child(do_die, "here", msg, sizeof msg), CF_EXIT_FAIL);
	ck_assert_str_eq(msg, "prog: bad thing here\n");
	ck_assert_int_eq(cf_test_in_child(do_usage_error2, NULL, msg, sizeof msg), CF_EXIT_USAGE);
	ck_assert_str_eq(msg, "prog: unknown option -z\ntry 'prog --help'\n");
}
END_TEST

/* ------------------------------------------------------------ outfiles */

static char tmpdir[64];

static int
count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

static void
rm_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[600];

	if (!d)
		return;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		unlink(path);
	}
	closedir(d);
	rmdir(dir);
}

START_TEST(outfile_commit)
{
	char path[128], buf[64];
	cf_outfile *o;
	FILE *fp;
	struct stat st;
	mode_t um = umask(022);

	cf_test_mkdtemp(tmpdir, sizeof tmpdir, "unit-dir");
	snprintf(path, sizeof path, "%s/out.cf", tmpdir);
	o = cf_outfile_open(path);
	ck_assert_ptr_nonnull(o->fp);
	ck_assert_int_eq(access(path, F_OK), -1);       /* not there until commit */
	fputs("hello\n", o->fp);
	ck_assert_int_eq(count_entries(tmpdir), 1);     /* the temp file */
	cf_outfile_commit(o);
	ck_assert_int_eq(count_entries(tmpdir), 1);
	fp = fopen(path, "r");
	ck_assert_ptr_nonnull(fp);
	ck_assert_ptr_nonnull(fgets(buf, sizeof buf, fp));
	ck_assert_str_eq(buf, "hello\n");
	fclose(fp);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_uint_eq(st.st_mode & 0777, 0644);
	/* committing again over an existing file replaces it */
	o = cf_outfile_open(path);
	fputs("bye\n", o->fp);
	cf_outfile_commit(o);
	fp = fopen(path, "r");
	ck_assert_ptr_nonnull(fgets(buf, sizeof buf, fp));
	ck_assert_str_eq(buf, "bye\n");
	fclose(fp);
	umask(um);
	rm_dir(tmpdir);
}
END_TEST

static void
do_die_with_outfile(void *arg)
{
	static cf_outfile *o;           /* static: reachable at exit */

	o = cf_outfile_open(arg);
	fputs("partial", o->fp);
	cf_die("failed midway");
}

START_TEST(outfile_removed_on_die)
{
	char path[128], msg[256];

	cf_test_mkdtemp(tmpdir, sizeof tmpdir, "unit-dir");
	snprintf(path, sizeof path, "%s/out.cf", tmpdir);
	ck_assert_int_eq(cf_test_in_child(do_die_with_outfile, path, msg, sizeof msg), CF_EXIT_FAIL);
	ck_assert_ptr_nonnull(strstr(msg, "failed midway"));
	ck_assert_int_eq(count_entries(tmpdir), 0);     /* no temp file, no target */
	rm_dir(tmpdir);
}
END_TEST

/* ------------------------------------------------------------ signals */

static const int fatal[] = {SIGINT, SIGTERM, SIGHUP};

/* Two files pending, then a signal: both temp files go, the child dies of it. */
static void
do_signal_with_outfiles(void *arg)
{
	static cf_outfile *a, *b;       /* static: reachable at exit */
	char pa[160], pb[160];
	int sig = *(const int *)arg;

	signal(sig, SIG_DFL);           /* as a program starts (not ignored) */
	snprintf(pa, sizeof pa, "%s/a.cf", tmpdir);
	snprintf(pb, sizeof pb, "%s/b.cf", tmpdir);
	a = cf_outfile_open(pa);
	b = cf_outfile_open(pb);
	fputs("partial", a->fp);
	fputs("partial", b->fp);
	fflush(a->fp);
	raise(sig);
	_exit(7);                       /* survived: the test fails */
}

START_TEST(outfiles_removed_on_signals)
{
	char msg[512];

	for (size_t i = 0; i < sizeof fatal / sizeof fatal[0]; i++) {
		cf_test_mkdtemp(tmpdir, sizeof tmpdir, "unit-dir");
		int st = cf_test_in_child_status(do_signal_with_outfiles, (void *)&fatal[i], msg, sizeof msg);
		ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == fatal[i],
		              "signal %d: status %#x", fatal[i], st);
		ck_assert_str_eq(msg, "");      /* interrupts are quiet */
		ck_assert_int_eq(count_entries(tmpdir), 0);
		rm_dir(tmpdir);
	}
}
END_TEST

/* A disposition the parent chose (nohup's SIG_IGN) is kept: nothing happens. */
static void
do_ignored_signal(void *arg)
{
	char p[160];
	cf_outfile *o;

	(void)arg;
	signal(SIGHUP, SIG_IGN);
	snprintf(p, sizeof p, "%s/kept.cf", tmpdir);
	o = cf_outfile_open(p);
	fputs("whole\n", o->fp);
	raise(SIGHUP);
	cf_outfile_commit(o);
}

START_TEST(ignored_signal_stays_ignored)
{
	char msg[512], p[160];
	struct stat st;

	cf_test_mkdtemp(tmpdir, sizeof tmpdir, "unit-dir");
	ck_assert_int_eq(cf_test_in_child_status(do_ignored_signal, NULL, msg, sizeof msg), 0);
	snprintf(p, sizeof p, "%s/kept.cf", tmpdir);
	ck_assert_int_eq(stat(p, &st), 0);
	ck_assert_int_eq(st.st_size, 6);
	ck_assert_int_eq(count_entries(tmpdir), 1);
	rm_dir(tmpdir);
}
END_TEST

/* The file size limit: the file named, temp files gone, exit 1. */
static void
do_file_too_big(void *arg)
{
	static cf_outfile *small, *big;
	struct rlimit rl = {4096, 4096};
	char ps[160], pb[160], buf[1024];

	(void)arg;
	cf_setprog("prog");
	signal(SIGXFSZ, SIG_DFL);
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);
	snprintf(ps, sizeof ps, "%s/small.cf", tmpdir);
	snprintf(pb, sizeof pb, "%s/big.cf", tmpdir);
	small = cf_outfile_open(ps);
	big = cf_outfile_open(pb);
	fputs("log line\n", small->fp);
	fflush(small->fp);
	memset(buf, 'x', sizeof buf);
	for (int i = 0; i < 64; i++)
		fwrite(buf, 1, sizeof buf, big->fp);
	fflush(big->fp);
	_exit(7);                       /* survived: the test fails */
}

START_TEST(file_size_limit_says_which_file)
{
	char msg[512], want[256];

	cf_test_mkdtemp(tmpdir, sizeof tmpdir, "unit-dir");
	int st = cf_test_in_child_status(do_file_too_big, NULL, msg, sizeof msg);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == CF_EXIT_FAIL, "status %#x", st);
	snprintf(want, sizeof want, "prog: %s/big.cf: file size limit exceeded\n", tmpdir);
	ck_assert_str_eq(msg, want);
	ck_assert_int_eq(count_entries(tmpdir), 0);
	rm_dir(tmpdir);
}
END_TEST

/*
 * The reader of stdout goes away while a file is pending: the file goes,
 * and one line says so; with SIGPIPE the child dies of it, with SIGPIPE
 * ignored (arg) the write's EPIPE makes it exit 1.
 */
static void
do_reader_gone(void *arg)
{
	static cf_outfile *o;
	int p[2];
	char path[160], buf[4096];

	cf_setprog("prog");
	signal(SIGPIPE, arg ? SIG_IGN : SIG_DFL);
	ck_assert_int_eq(pipe(p), 0);
	dup2(p[1], 1);
	close(p[0]);
	close(p[1]);
	snprintf(path, sizeof path, "%s/test.cf", tmpdir);
	o = cf_outfile_open(path);
	fputs("test rows", o->fp);
	memset(buf, 'x', sizeof buf);
	errno = 0;
	if (fwrite(buf, 1, sizeof buf, stdout) != sizeof buf || fflush(stdout) != 0)
		cf_write_failed("stdout");
	_exit(7);
}

START_TEST(reader_gone_says_what_is_lost)
{
	char msg[512], want[256];
	int st;

	for (int ign = 0; ign < 2; ign++) {
		cf_test_mkdtemp(tmpdir, sizeof tmpdir, "unit-dir");
		st = cf_test_in_child_status(do_reader_gone, ign ? (void *)1 : NULL, msg, sizeof msg);
		if (ign)
			ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == CF_EXIT_FAIL, "%#x", st);
		else
			ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGPIPE, "%#x", st);
		snprintf(want, sizeof want, "prog: stdout: the reader went away (%s); "
		         "%s/test.cf not written\n", ign ? "EPIPE" : "SIGPIPE", tmpdir);
		ck_assert_str_eq(msg, want);
		ck_assert_int_eq(count_entries(tmpdir), 0);
		rm_dir(tmpdir);
	}
}
END_TEST

/* Status-line counts: three significant figures, SI suffixes. */
START_TEST(progress_human)
{
	static const struct {
		double n;
		const char *want;
	} c[] = {{0, "0"}, {999, "999"}, {1000, "1.00k"}, {12500, "12.5k"}, {65536, "65.5k"},
	         {999499, "999k"}, {12.5e6, "12.5M"}, {25e6, "25.0M"}, {1.234e9, "1.23G"},
	         {5e12, "5.00T"}};
	char b[32];

	for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
		cf_progress_human(b, sizeof b, c[i].n);
		ck_assert_str_eq(b, c[i].want);
	}
}
END_TEST

static void
do_empty_pipe(void *arg)
{
	int fd[2];

	(void)arg;
	if (pipe(fd) != 0)
		exit(3);
	fputs(cf_empty_input(fd[0]), stderr);
	fputc('|', stderr);
	fputs(cf_empty_input(-1), stderr);
	exit(0);
}

/* An empty pipe points back at the stage before; anything else is "empty input". */
START_TEST(empty_input_names_the_pipe)
{
	char msg[512];

	ck_assert_int_eq(cf_test_in_child(do_empty_pipe, NULL, msg, sizeof msg), 0);
	ck_assert_str_eq(msg, "empty input from a pipe: the stage before wrote nothing "
	                      "(if it failed, its own message says why)|empty input");
}
END_TEST

static void
do_dash_o(void *arg)
{
	(void)arg;
	if (!freopen("/dev/null", "w", stdout))
		exit(5);
	cf_outfile *o = cf_outfile_open("-");
	if (o->fp != stdout || strcmp(o->path, "stdout") != 0)
		exit(3);
	fputs("to stdout", o->fp);
	cf_outfile_commit(o);
	exit(access("-", F_OK) == 0 ? 4 : 0);   /* no file named "-" */
}

/* -o -: standard output as it is, no temp file, no file called "-". */
START_TEST(outfile_dash_is_stdout)
{
	char msg[256];

	ck_assert_int_eq(cf_test_in_child(do_dash_o, NULL, msg, sizeof msg), 0);
}
END_TEST

Suite *
util_suite(void)
{
	Suite *s = suite_create("util");
	TCase *tc = tcase_create("util");

	tcase_add_test(tc, parse_double);
	tcase_add_test(tc, parse_ints);
	tcase_add_test(tc, alloc_helpers);
	tcase_add_test(tc, progname);
	tcase_add_test(tc, messages);
	tcase_add_test(tc, operands);
	tcase_add_test(tc, outfile_commit);
	tcase_add_test(tc, outfile_removed_on_die);
	tcase_add_test(tc, outfiles_removed_on_signals);
	tcase_add_test(tc, ignored_signal_stays_ignored);
	tcase_add_test(tc, file_size_limit_says_which_file);
	tcase_add_test(tc, reader_gone_says_what_is_lost);
	tcase_add_test(tc, progress_human);
	tcase_add_test(tc, empty_input_names_the_pipe);
	tcase_add_test(tc, outfile_dash_is_stdout);
	suite_add_tcase(s, tc);
	return s;
}
