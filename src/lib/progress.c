/* progress.c - the status line on a terminal (progress.h). */
#include "progress.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int mode = -1;           /* -1 undecided, 0 off, 1 drawing on stderr */
static int shown;               /* a status line is on the screen */
static double last;             /* when it was drawn */
static double last_fg;          /* when a status other than the writer's was */

#define REDRAW_S 0.1

double
cf_progress_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void
at_exit_clear(void)
{
	cf_progress_clear();
}

int
cf_progress_tty(void)
{
	if (mode < 0) {
		mode = isatty(2) ? 1 : 0;
		if (mode)
			atexit(at_exit_clear);
	}
	return mode;
}

void
cf_progress_quiet(void)
{
	cf_progress_clear();
	mode = 0;
}

void
cf_progress_clear(void)
{
	if (shown) {
		/* Back to the line's start, erase to its end (ECMA-48 EL). */
		fputs("\r\033[K", stderr);
		fflush(stderr);
		shown = 0;
	}
}

void
cf_progress(int force, const char *fmt, ...)
{
	char line[256];
	va_list ap;
	double t;

	if (!cf_progress_tty())
		return;
	t = cf_progress_now();
	if (!force && t - last < REDRAW_S)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	for (char *p = line; *p; p++)       /* one line, whatever it quotes */
		if ((unsigned char)*p < 0x20)
			*p = '?';
	fprintf(stderr, "\r%s\033[K", line);
	fflush(stderr);
	shown = 1;
	last = last_fg = t;
}

void
cf_progress_human(char *buf, unsigned long len, double n)
{
	static const char unit[] = " kMGT";
	int u = 0;

	while (n >= 1000 && u < 4) {
		n /= 1000;
		u++;
	}
	if (u == 0)
		snprintf(buf, len, "%.0f", n);
	else
		snprintf(buf, len, n < 10 ? "%.2f%c" : n < 100 ? "%.1f%c" : "%.0f%c", n, unit[u]);
}

static void
count(const char *what, uint64_t done, uint64_t total, int bg)
{
	char a[32], b[32];
	double t;

	if (!cf_progress_tty())
		return;
	t = cf_progress_now();
	if (t - last < REDRAW_S || (bg && t - last_fg < 1.0))
		return;         /* cheap when not due: no formatting */
	double fg = last_fg;
	cf_progress_human(a, sizeof a, (double)done);
	if (total) {
		cf_progress_human(b, sizeof b, (double)total);
		cf_progress(0, "%s %s/%s", what, a, b);
	} else {
		cf_progress(0, "%s %s", what, a);
	}
	if (bg)
		last_fg = fg;   /* the writer's line does not hold others back */
}

void
cf_progress_count(const char *what, uint64_t done, uint64_t total)
{
	count(what, done, total, 0);
}

void
cf_progress_count_bg(const char *what, uint64_t done, uint64_t total)
{
	count(what, done, total, 1);
}
