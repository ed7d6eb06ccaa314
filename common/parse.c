/* Numbers, sizes and HOST:PORT as users type them: see parse.h. */
#include "common/parse.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

int sfs_parse_size(const char *s, uint64_t *ret)
{
	char *end;
	uint64_t mul = 1;
	/* digits first: strtoull skips leading blanks (" 8" was 8) */
	if (!s || !(*s >= '0' && *s <= '9'))
		return -EINVAL;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -EINVAL;
	switch (*end) {
	case 'k':
	case 'K':
		mul = 1ull << 10;
		break;
	case 'm':
	case 'M':
		mul = 1ull << 20;
		break;
	case 'g':
	case 'G':
		mul = 1ull << 30;
		break;
	case 't':
	case 'T':
		mul = 1ull << 40;
		break;
	}
	if (mul > 1)
		end++;
	if (*end || v > UINT64_MAX / mul)
		return -EINVAL;
	*ret = v * mul;
	return 0;
}

bool sfs_decimal_text(const char *s, bool integer)
{
	const char *p = s;
	bool digits = false;
	if (!p)
		return false;
	while (*p >= '0' && *p <= '9')
		p++, digits = true;
	if (integer)
		return digits && !*p;
	if (*p == '.') {
		p++;
		while (*p >= '0' && *p <= '9')
			p++, digits = true;
	}
	if (!digits)
		return false;
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '+' || *p == '-')
			p++;
		if (!(*p >= '0' && *p <= '9'))
			return false;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	return !*p;
}

int sfs_parse_number(const char *s, double lo, double hi, double *ret)
{
	if (!sfs_decimal_text(s, false))
		return -EINVAL;
	errno = 0;
	double v = strtod(s, NULL);
	if (errno || !isfinite(v) || !(v >= lo && v <= hi))
		return -EINVAL; /* ERANGE: too large, or so small it underflowed */
	*ret = v;
	return 0;
}

int sfs_parse_integer(const char *s, long long lo, long long hi, long long *ret)
{
	if (!s || !sfs_decimal_text(s, true))
		return -EINVAL;
	errno = 0;
	long long v = strtoll(s, NULL, 10);
	if (errno || v < lo || v > hi)
		return -EINVAL;
	*ret = v;
	return 0;
}

int sfs_parse_hostport(const char *s, char *host, size_t hostlen, uint16_t *port)
{
	const char *colon = s ? strrchr(s, ':') : NULL;
	const char *h = s;
	if (!colon)
		return -EINVAL;
	size_t n = (size_t)(colon - s);
	if (s[0] == '[') {
		if (n < 2 || s[n - 1] != ']')
			return -EINVAL;
		h = s + 1;
		n -= 2;
	}
	if (n == 0 || n >= hostlen || !(colon[1] >= '0' && colon[1] <= '9'))
		return -EINVAL; /* digits first: strtoul skips blanks, takes signs */
	char *end;
	errno = 0;
	unsigned long p = strtoul(colon + 1, &end, 10);
	if (errno || *end || p > 65535)
		return -EINVAL;
	memcpy(host, h, n);
	host[n] = '\0';
	*port = (uint16_t)p;
	return 0;
}

int sfs_hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int sfs_hex_decode(const char *hex, uint8_t *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int hi = sfs_hex_value(hex[2 * i]);
		int lo = hi < 0 ? -1 : sfs_hex_value(hex[2 * i + 1]);
		if (lo < 0)
			return -EINVAL;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}
