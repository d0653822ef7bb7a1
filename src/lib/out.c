/* out.c - text output helpers (see out.h). */
#include "out.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void
cf_out_init(void)
{
	static char buf[1 << 16];

	setvbuf(stdout, buf, _IOFBF, sizeof buf);
}

void
cf_out_field(const char *s, size_t n, char delim)
{
	int q = 0;

	for (size_t i = 0; i < n && !q; i++)
		q = s[i] == delim || s[i] == '"' || s[i] == '\n' || s[i] == '\r';
	if (!q) {
		cf_out(s, n);
		return;
	}
	cf_outc('"');
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '"')
			cf_outc('"');
		cf_outc(s[i]);
	}
	cf_outc('"');
}

void
cf_out_u64(uint64_t v)
{
	char b[24];
	int i = 24;

	do {
		b[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	cf_out(b + i, (size_t)(24 - i));
}

void
cf_out_i64(int64_t v)
{
	if (v < 0) {
		cf_outc('-');
		cf_out_u64((uint64_t)0 - (uint64_t)v);
	} else {
		cf_out_u64((uint64_t)v);
	}
}

int
cf_fmt_f32(char *b, size_t n, float v)
{
	int len = 0;

	if (isnan(v))
		return snprintf(b, n, "nan");
	for (int p = 6; p <= 9; p++) {
		len = snprintf(b, n, "%.*g", p, (double)v);
		if (strtof(b, NULL) == v)
			break;
	}
	return len;
}

int
cf_fmt_f64(char *b, size_t n, double v)
{
	int len = 0;

	if (isnan(v))
		return snprintf(b, n, "nan");
	for (int p = 15; p <= 17; p++) {
		len = snprintf(b, n, "%.*g", p, v);
		if (strtod(b, NULL) == v)
			break;
	}
	return len;
}

void
cf_out_f32(float v)
{
	char b[CF_FMT_MAX];

	cf_out(b, (size_t)cf_fmt_f32(b, sizeof b, v));
}

void
cf_out_f64(double v)
{
	char b[CF_FMT_MAX];

	cf_out(b, (size_t)cf_fmt_f64(b, sizeof b, v));
}
