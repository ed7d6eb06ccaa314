/* Tuning values: parsing, resolution, STATE/tuning lines (see
 * tuning_value.h). */
#include "fs/tuning_value.h"
#include "common/line_escape.h"
#include "common/parse.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "predictor/model.h"

static const char *const key_names[FS_TUNE_NKEYS] = {"threshold", "capacity", "window",
						     "never",	  "copies",   "hosts"};

const char *fs_tune_key_name(enum fs_tune_key k)
{
	return (unsigned)k < FS_TUNE_NKEYS ? key_names[k] : "?";
}

#define STR_(x) #x
#define STR(x) STR_(x)

const char *fs_tune_key_values(enum fs_tune_key k)
{
	static const char *const values[FS_TUNE_NKEYS] = {
		[FS_TUNE_THRESHOLD] = "a probability, a plain decimal number in (0, 1]",
		[FS_TUNE_CAPACITY] = "reads per forecast bucket, a plain decimal number "
				     "from 0 to 1e15",
		[FS_TUNE_WINDOW] = "forecast steps (buckets), a whole number from 1 to "
				   STR(PRED_MAX_H),
		[FS_TUNE_NEVER] = "1 or 0",
		[FS_TUNE_COPIES] = "a whole number from 1 to " STR(FS_TUNE_COPIES_MAX),
		[FS_TUNE_HOSTS] = "host names as 'shadowctl hosts' shows them, ','-separated, "
				  "or '*' (no blanks)",
	};
	return (unsigned)k < FS_TUNE_NKEYS && values[k] ? values[k] : "?";
}

int fs_tune_key_of(const char *name)
{
	for (int k = 0; k < FS_TUNE_NKEYS; k++)
		if (!strcmp(name, key_names[k]))
			return k;
	return -1;
}

const char *fs_tune_source_name(enum fs_tune_source s)
{
	switch (s) {
	case FS_TUNE_FROM_OPTION: return "option";
	case FS_TUNE_FROM_ROOT: return "root";
	case FS_TUNE_FROM_DIR: return "dir";
	case FS_TUNE_FROM_FILE: return "file";
	}
	return "?";
}

/* A host name's character: printable, no blank, no ',' (the separator);
 * bytes of UTF-8 sequences pass. */
static bool host_char(unsigned char c)
{
	return (c > ' ' && c < 0x7f && c != ',') || c >= 0x80;
}

/* The next ','-separated name of a hosts text at *p (advanced past it and
 * its ','): its length, less a trailing '/' (a directory host spelled
 * with one is the host without: "/d/h/" and "/d/h" are one name); 0 at
 * the end. */
static size_t next_name(const char **p, const char **ret)
{
	const char *s = *p;
	size_t len = strcspn(s, ",");
	*ret = s;
	*p = s[len] ? s + len + 1 : s + len;
	while (len > 1 && s[len - 1] == '/')
		len--;
	return len;
}

/* A hosts list (NUL-terminated): "*", or names as in tuning_value.h. The
 * number of names, or -EINVAL. */
static int hosts_text(const char *s)
{
	if (!strcmp(s, "*"))
		return 0;
	int n = 0;
	for (const char *p = s;; p++) {
		if (*p != ',' && *p != '\0') {
			if (!host_char((unsigned char)*p) ||
			    (*p == '*' && (p == s || p[-1] == ',') && (p[1] == ',' || !p[1])))
				return -EINVAL; /* a bad character; "*" among names */
			continue;
		}
		if (p == s || p[-1] == ',')
			return -EINVAL; /* an empty name */
		n++;
		if (!*p)
			break;
	}
	/* no name twice */
	const char *a = s, *x;
	for (size_t la; (la = next_name(&a, &x)) > 0;) {
		const char *b = a, *y;
		for (size_t lb; (lb = next_name(&b, &y)) > 0;)
			if (la == lb && !memcmp(x, y, la))
				return -EINVAL;
	}
	return n;
}

int fs_tune_parse(enum fs_tune_key k, const char *value, size_t size, double *ret,
		  char text[FS_TUNE_TEXT_MAX])
{
	char s[FS_TUNE_TEXT_MAX];
	size_t max = k == FS_TUNE_HOSTS ? FS_TUNE_TEXT_MAX : FS_TUNE_NUMBER_MAX;
	if (!value && size)
		return -EINVAL;
	if (size && value[size - 1] == '\n')
		size--;
	if (size == 0 || size >= max || memchr(value, '\0', size))
		return -EINVAL;
	memcpy(s, value, size);
	s[size] = '\0';
	double v;
	char *end;
	errno = 0;
	switch (k) {
	case FS_TUNE_THRESHOLD:
	case FS_TUNE_CAPACITY:
		if (k == FS_TUNE_THRESHOLD ? sfs_parse_number(s, 0, 1, &v) < 0 || v == 0
					   : sfs_parse_number(s, 0, 1e15, &v) < 0)
			return -EINVAL;
		break;
	case FS_TUNE_WINDOW:
	case FS_TUNE_COPIES: {
		if (!sfs_decimal_text(s, true))
			return -EINVAL;
		unsigned long w = strtoul(s, &end, 10);
		unsigned long hi = k == FS_TUNE_WINDOW ? PRED_MAX_H : FS_TUNE_COPIES_MAX;
		if (errno || *end || w < 1 || w > hi)
			return -EINVAL;
		v = (double)w;
		break;
	}
	case FS_TUNE_NEVER:
		if (strcmp(s, "0") && strcmp(s, "1"))
			return -EINVAL;
		v = s[0] == '1';
		break;
	case FS_TUNE_HOSTS: {
		int n = hosts_text(s);
		if (n < 0)
			return -EINVAL;
		v = n;
		break;
	}
	default:
		return -EINVAL;
	}
	*ret = v;
	memcpy(text, s, size + 1);
	return 0;
}

int fs_tune_node_set(struct fs_tune_node *n, enum fs_tune_key k, double v, const char *text)
{
	char *copy = text ? strndup(text, FS_TUNE_TEXT_MAX - 1) : NULL;
	if (text && !copy)
		return -ENOMEM;
	free(n->text[k]);
	n->text[k] = copy;
	n->set[k] = text != NULL;
	n->value[k] = text ? v : 0;
	return 0;
}

void fs_tune_node_free(struct fs_tune_node *n)
{
	for (int k = 0; k < FS_TUNE_NKEYS; k++)
		fs_tune_node_set(n, (enum fs_tune_key)k, 0, NULL);
}

bool fs_tune_node_empty(const struct fs_tune_node *n)
{
	for (int k = 0; k < FS_TUNE_NKEYS; k++)
		if (n->set[k])
			return false;
	return true;
}

void fs_tune_resolve(const double defaults[FS_TUNE_NKEYS], const struct fs_tune_node *file,
		     const struct fs_tune_node *const *dirs, size_t ndirs, int root_index,
		     struct fs_tune_effective *ret)
{
	for (int k = 0; k < FS_TUNE_NKEYS; k++) {
		ret->value[k] = defaults[k];
		ret->text[k] = NULL;
		ret->source[k] = FS_TUNE_FROM_OPTION;
		ret->dir_index[k] = -1;
		if (file && file->set[k]) {
			ret->value[k] = file->value[k];
			ret->text[k] = file->text[k];
			ret->source[k] = FS_TUNE_FROM_FILE;
			continue;
		}
		for (size_t d = 0; d < ndirs; d++) {
			if (!dirs[d] || !dirs[d]->set[k])
				continue;
			ret->value[k] = dirs[d]->value[k];
			ret->text[k] = dirs[d]->text[k];
			ret->source[k] = (int)d == root_index ? FS_TUNE_FROM_ROOT : FS_TUNE_FROM_DIR;
			ret->dir_index[k] = (int)d;
			break;
		}
	}
}

uint64_t fs_tune_hosts_mask(const char *text, const char *const *names, size_t n,
			    size_t *ret_unknown)
{
	uint64_t mask = 0;
	size_t unknown = 0;
	if (!strcmp(text, "*")) {
		for (size_t i = 0; i < n && i < 64; i++)
			mask |= UINT64_C(1) << i;
		text = "";
	}
	const char *p = text, *x;
	for (size_t len; (len = next_name(&p, &x)) > 0;) {
		size_t i = 0;
		while (i < n && !(strlen(names[i]) == len && !memcmp(names[i], x, len)))
			i++;
		if (i == n)
			unknown++;
		else if (i < 64)
			mask |= UINT64_C(1) << i;
	}
	if (ret_unknown)
		*ret_unknown = unknown;
	return mask;
}

/* Cuts the next blank-separated field off *p. */
static char *field(char **p)
{
	char *s = *p, *e = strchr(s, ' ');
	if (!e || e == s)
		return NULL;
	*e = '\0';
	*p = e + 1;
	return s;
}

/* An "h" line's TYPE and HEX fields into ret; -EINVAL. */
static int handle_fields(const char *type, const char *hex, struct fs_tune_line *ret)
{
	long long ty;
	size_t n = strlen(hex);
	if (sfs_parse_integer(type, 0, INT32_MAX, &ty) < 0 || !n || n % 2 ||
	    n / 2 > FS_TUNE_HANDLE_MAX)
		return -EINVAL;
	if (sfs_hex_decode(hex, ret->handle, n / 2) < 0)
		return -EINVAL;
	ret->handle_type = (int)ty;
	ret->handle_len = (unsigned)(n / 2);
	return 0;
}

int fs_tune_line_parse(char *line, struct fs_tune_line *ret)
{
	char *p = line, *kind = field(&p), *id = NULL;
	if (!kind || (strcmp(kind, "d") && strcmp(kind, "D") && strcmp(kind, "f") && strcmp(kind, "h")))
		return -EINVAL;
	ret->is_dir = kind[0] == 'd' || kind[0] == 'D';
	ret->is_handle = kind[0] == 'h';
	if (!ret->is_dir) {
		id = field(&p);
		if (!id || strlen(id) != 36)
			return -EINVAL;
	}
	char *key = field(&p), *text = field(&p);
	if (!key || !text || *p != '/' || strchr(p, '\n'))
		return -EINVAL;
	int k = ret->is_handle ? 0 : fs_tune_key_of(key);
	if (ret->is_handle ? handle_fields(key, text, ret) < 0
			   : k < 0 || fs_tune_parse((enum fs_tune_key)k, text, strlen(text),
						    &ret->value, ret->text) < 0)
		return -EINVAL;
	ret->key = (enum fs_tune_key)k;
	if (id)
		memcpy(ret->id, id, 37);
	else
		ret->id[0] = '\0';
	ret->path = p + 1;
	if (kind[0] == 'D') /* a path holding a newline, escaped */
		sfs_line_unescape(p + 1);
	return 0;
}
