/* ids.c - the canonical form of raw ids (see ids.h). */
#include "ids.h"

#include <string.h>

size_t
cf_canon_id(const char *p, size_t n, char *buf, const char **out)
{
	size_t i = 0, ds, de;
	int neg = 0;

	*out = p;
	if (i < n && (p[i] == '+' || p[i] == '-'))
		neg = p[i++] == '-';
	for (ds = i; i < n && p[i] >= '0' && p[i] <= '9'; i++)
		;
	de = i;
	if (de == ds)
		return n;
	if (i < n) {
		if (p[i] != '.')
			return n;
		for (i++; i < n && p[i] == '0'; i++)
			;
		if (i != n)
			return n;
	}
	while (de - ds > 1 && p[ds] == '0')
		ds++;
	if (de - ds == 1 && p[ds] == '0')
		neg = 0;
	if (!neg) {
		*out = p + ds;
		return de - ds;
	}
	buf[0] = '-';
	memcpy(buf + 1, p + ds, de - ds);
	*out = buf;
	return de - ds + 1;
}
