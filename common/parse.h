/* Parsers for the values users type in options and flags, shared by the
 * mount, shadowd and shadowctl so that one spelling means one thing
 * everywhere. Pure: no I/O, no messages (callers say what was wrong). */
#ifndef SHADOWFS_COMMON_PARSE_H
#define SHADOWFS_COMMON_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A size: decimal digits with an optional k/m/g/t suffix (powers of 1024,
 * either case). 0 or -EINVAL (empty, sign, junk, overflow). */
int sfs_parse_size(const char *s, uint64_t *ret);

/* A plain decimal number in [lo, hi]: digits with at most one '.' and an
 * optional exponent ("0.8", "1e6", ".5"); no sign, blank, hex, "inf" or
 * "nan" (every value users give is >= 0). 0 or -EINVAL. */
int sfs_parse_number(const char *s, double lo, double hi, double *ret);
/* The same text check alone; integer: digits only. */
bool sfs_decimal_text(const char *s, bool integer);
/* A count or an amount: decimal digits only (no blank, sign or suffix:
 * strtol alone took " 5" and "+5") in [lo, hi]. 0 or -EINVAL. */
int sfs_parse_integer(const char *s, long long lo, long long hi, long long *ret);

/* HOST:PORT, or [IPV6]:PORT, PORT 0..65535 (callers that need a real port
 * refuse 0). host gets the name or address without brackets. 0 or -EINVAL
 * (no port, empty host, host longer than hostlen - 1, bad port). */
int sfs_parse_hostport(const char *s, char *host, size_t hostlen, uint16_t *port);

/* The value of a lowercase hex digit, or -1 (ids, digests and names in
 * state files and stores are written lowercase). */
int sfs_hex_value(char c);
/* n bytes from the 2n lowercase hex digits at hex (not necessarily
 * terminated after them): 0, or -EINVAL at the first that is not one. */
int sfs_hex_decode(const char *hex, uint8_t *out, size_t n);

#endif
