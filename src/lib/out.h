/*
 * out.h - text output on stdout for the programs that print CSV or tables
 * (bin2csv, join-meta, gen-ratings): unlocked stdio writes, RFC 4180
 * fields, integers, and floats in the shortest form that reads back to
 * the same value (found here for every program and the server's JSON).
 * A write error goes through cf_write_failed(): a reader that went away
 * ends the program quietly, anything else is a one-line error.
 * cf_close_stdout() flushes.
 */
#ifndef CF_OUT_H
#define CF_OUT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "util.h"

static inline void
cf_out(const char *s, size_t n)
{
	if (n && fwrite_unlocked(s, 1, n, stdout) != n)
		cf_write_failed("stdout");
}

static inline void
cf_outc(int c)
{
	if (putc_unlocked(c, stdout) == EOF)
		cf_write_failed("stdout");
}

/* Makes stdout fully buffered with a large buffer (call before output). */
void cf_out_init(void);
/* A field, quoted as RFC 4180 requires when it holds delim, '"', CR or LF. */
void cf_out_field(const char *s, size_t n, char delim);
void cf_out_u64(uint64_t v);
void cf_out_i64(int64_t v);
/* Shortest %g form that reads back as the same float / double ("nan", "inf"). */
void cf_out_f32(float v);
void cf_out_f64(double v);

/*
 * The one place that finds that form: writes it, NUL-terminated, into b
 * (CF_FMT_MAX bytes hold any) and returns its length.  Shared with
 * join-meta, metrics and the JSON of metajson.h.
 */
#define CF_FMT_MAX 32
int cf_fmt_f32(char *b, size_t n, float v);
int cf_fmt_f64(char *b, size_t n, double v);

#endif
