/*
 * progress.h - progress of long work on stderr, the one place that decides
 * how it looks (every program's status line goes through here).
 *
 * On a terminal (stderr a tty), a status line rewritten in place:
 *   epoch 3/15  4.9 s/epoch  ETA 59 s  valid 0.8712
 *   reading ratings 12.5M/25M
 * redrawn at most every 100 ms (a tight loop may call it per block or
 * per row: the clock is read, nothing more), erased before any message
 * (cf_warn, cf_die clear it first) and at exit.  Not on a terminal the
 * status line is never drawn: programs print the lines they always did
 * (cf_progress_tty() says which mode is on).  cf_progress_quiet() (a
 * program's --quiet) silences it.  Reading and writing frames report by
 * themselves (frame.c), but only for a regular file, whose size makes a
 * fraction: stages in a pipe sharing one terminal do not draw over each
 * other.  One status line per process, from one thread at a time.
 */
#ifndef CF_PROGRESS_H
#define CF_PROGRESS_H

#include <stdint.h>

/* 1 if the status line is drawn: stderr is a terminal and not quiet. */
int cf_progress_tty(void);
void cf_progress_quiet(void);
/*
 * The status line, if due (100 ms since the last draw) or force: printf
 * format, one line (no '\n').
 */
void cf_progress(int force, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "WHAT 12.5M/25M" (or "WHAT 12.5M" when total is 0), if due. */
void cf_progress_count(const char *what, uint64_t done, uint64_t total);
/*
 * The same from the frame writer, in the background: drawn only when no
 * other status has been for a second, so a program's own progress
 * (gen-ratings' "generating ratings") or its reading is what shows.
 */
void cf_progress_count_bg(const char *what, uint64_t done, uint64_t total);
/* Erases the status line if one is drawn (before other output on stderr). */
void cf_progress_clear(void);
/* n as 950, 12.5k, 12.5M, 1.2G: for status lines. */
void cf_progress_human(char *buf, unsigned long len, double n);
/* Seconds since some fixed point (monotonic). */
double cf_progress_now(void);

#endif
