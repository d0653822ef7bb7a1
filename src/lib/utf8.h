/*
 * utf8.h - the library's one UTF-8 validator (RFC 3629), for what the
 * frame format's `str` type holds: csv2bin checks every string it
 * writes, the metadata loader (meta.h) every string it loads.
 *
 * Valid: U+0000 to U+10FFFF in the shortest form, surrogates excepted.
 * Invalid: a stray continuation byte (80-BF), the bytes C0, C1 and F5-FF,
 * a lead byte without all its continuation bytes, overlong forms (E0
 * 80-9F .., F0 80-8F ..), UTF-16 surrogates (ED A0-BF .., U+D800-U+DFFF)
 * and code points above U+10FFFF (F4 90-BF ..).  NUL is valid (JSON
 * writes it as \u0000), so what passes here is what jansson accepts.
 */
#ifndef CF_UTF8_H
#define CF_UTF8_H

#include <stddef.h>

/*
 * 1 if s[0..n) is valid UTF-8; else 0, and *bad (unless NULL) is the
 * offset of the first byte of the first invalid sequence.
 */
int cf_utf8_valid(const char *s, size_t n, size_t *bad);

/* 1 if s[0..n) is ASCII (so valid UTF-8): the inline test for short strings. */
static inline int
cf_utf8_ascii(const char *s, size_t n)
{
	unsigned char m = 0;

	for (size_t i = 0; i < n; i++)
		m |= (unsigned char)s[i];
	return m < 0x80;
}

/*
 * The length of the valid UTF-8 sequence (one code point) at s[0..n):
 * 1 to 4, or 0 if it is invalid or cut short by n.
 */
size_t cf_utf8_seq(const char *s, size_t n);

/* Longest output of cf_utf8_show() with at most `max` input bytes, NUL included. */
#define CF_UTF8_SHOW_SIZE(max) (4 * (max) + 6)

/*
 * s[0..n) quoted for a one-line message: 'text', at most max input
 * bytes (cut at a code point, then "..." after the closing quote);
 * control bytes and bytes that are not valid UTF-8 are written \xNN.
 * out must hold CF_UTF8_SHOW_SIZE(max) bytes; returns out.
 */
char *cf_utf8_show(char *out, const char *s, size_t n, size_t max);

#endif
