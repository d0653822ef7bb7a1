/* utf8.c - UTF-8 validation (see utf8.h). */
#include "utf8.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

size_t
cf_utf8_seq(const char *p, size_t n)
{
	const unsigned char *s = (const unsigned char *)p;
	unsigned char lo = 0x80, hi = 0xBF;
	size_t len;

	if (n == 0)
		return 0;
	if (s[0] < 0x80)
		return 1;
	if (s[0] < 0xC2)                /* continuation byte, or overlong C0/C1 */
		return 0;
	if (s[0] < 0xE0) {
		len = 2;
	} else if (s[0] < 0xF0) {
		len = 3;
		if (s[0] == 0xE0)
			lo = 0xA0;      /* overlong below U+0800 */
		else if (s[0] == 0xED)
			hi = 0x9F;      /* surrogates U+D800-U+DFFF */
	} else if (s[0] < 0xF5) {
		len = 4;
		if (s[0] == 0xF0)
			lo = 0x90;      /* overlong below U+10000 */
		else if (s[0] == 0xF4)
			hi = 0x8F;      /* above U+10FFFF */
	} else {
		return 0;
	}
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if ((s[i] & 0xC0) != 0x80)
			return 0;
	return len;
}

int
cf_utf8_valid(const char *s, size_t n, size_t *bad)
{
	size_t i = 0;

	while (i < n) {
		/* ASCII eight bytes at a time: most text is. */
		while (i + 8 <= n) {
			uint64_t w;
			memcpy(&w, s + i, 8);
			if (w & 0x8080808080808080ULL)
				break;
			i += 8;
		}
		while (i < n && (unsigned char)s[i] < 0x80)
			i++;
		if (i == n)
			break;
		size_t k = cf_utf8_seq(s + i, n - i);
		if (k == 0) {
			if (bad)
				*bad = i;
			return 0;
		}
		i += k;
	}
	return 1;
}

char *
cf_utf8_show(char *out, const char *s, size_t n, size_t max)
{
	size_t k = 0, i = 0;

	out[k++] = '\'';
	while (i < n && i < max) {
		unsigned char ch = (unsigned char)s[i];
		size_t len = cf_utf8_seq(s + i, n - i);
		if (len > 1 && i + len > max)
			break;          /* the next code point does not fit */
		if (len == 0 || ch < 0x20 || ch == 0x7f) {
			k += (size_t)snprintf(out + k, 5, "\\x%02x", ch);
			i++;
			continue;
		}
		memcpy(out + k, s + i, len);
		k += len;
		i += len;
	}
	out[k++] = '\'';
	if (n > max)
		k += (size_t)snprintf(out + k, 4, "...");
	out[k] = '\0';
	return out;
}
