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

void
cf_out_f32(float v)
{
	char b[32];
	int n = 0;

	if (isnan(v)) {
		cf_out("nan", 3);
		return;
	}
	for (int p = 6; p <= 9; p++) {
		n = snprintf(b, sizeof b, "%.*g", p, (double)v);
		if (strtof(b, NULL) == v)
			break;
	}
	cf_out(b, (size_t)n);
}

void
cf_out_f64(double v)
{
	char b[40];
	int n = 0;

	if (isnan(v)) {
		cf_out("nan", 3);
		return;
	}
	for (int p = 15; p <= 17; p++) {
		n = snprintf(b, sizeof b, "%.*g", p, v);
		if (strtod(b, NULL) == v)
			break;
	}
	cf_out(b, (size_t)n);
}
