/* shadowctl ca: the cluster's certificate authority, with the openssl API
 * (no shell-out).
 *   shadowctl ca init DIR [--days N]
 *       DIR/ca.key (EC P-256, mode 0600) and DIR/ca.crt (self-signed CA).
 *   shadowctl ca issue DIR HOSTNAME [--ip ADDR]... [--days N]
 *       DIR/HOSTNAME.key and DIR/HOSTNAME.crt signed by the CA, CN and
 *       subjectAltName = HOSTNAME (DNS, or IP if it is an address) plus each
 *       --ip, extendedKeyUsage serverAuth + clientAuth: the same certificate
 *       serves shadowd and authenticates it as a client.
 * Existing files are never overwritten. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/parse.h"
#include "predictor/store_locate.h"
#include "sync/tls.h"
#include "tools/ctl.h"
#include "tools/ctl_store.h"

static void ca_usage(FILE *out)
{
	fprintf(out, "usage: shadowctl ca init DIR [--days N]\n"
		     "       shadowctl ca issue DIR HOSTNAME [--ip ADDR]... [--days N]\n");
}

static void ssl_fail(const char *what)
{
	unsigned long e = ERR_get_error();
	fprintf(stderr, "shadowctl ca: %s%s%s\n", what, e ? ": " : "",
		e ? ERR_error_string(e, NULL) : "");
}

/* Opens path for writing, refusing to replace an existing file. */
static FILE *create_file(const char *path, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0) {
		fprintf(stderr, "shadowctl ca: cannot create %s: %s\n", path, strerror(errno));
		return NULL;
	}
	FILE *f = fdopen(fd, "w");
	if (!f)
		close(fd);
	return f;
}

static int write_pem(const char *dir, const char *base, EVP_PKEY *key, X509 *crt)
{
	char kp[4096], cp[4096];
	FILE *f;
	int ok;
	snprintf(kp, sizeof(kp), "%s/%s.key", dir, base);
	snprintf(cp, sizeof(cp), "%s/%s.crt", dir, base);
	if (access(kp, F_OK) == 0 || access(cp, F_OK) == 0) {
		fprintf(stderr, "shadowctl ca: %s or %s already exists; not overwriting\n", kp, cp);
		return -EEXIST;
	}
	if (!(f = create_file(kp, 0600)))
		return -EIO;
	ok = PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL);
	ok = (fclose(f) == 0) && ok;
	if (!ok) {
		ssl_fail("cannot write the key");
		unlink(kp);
		return -EIO;
	}
	if (!(f = create_file(cp, 0644))) {
		unlink(kp);
		return -EIO;
	}
	ok = PEM_write_X509(f, crt);
	ok = (fclose(f) == 0) && ok;
	if (!ok) {
		ssl_fail("cannot write the certificate");
		unlink(kp);
		unlink(cp);
		return -EIO;
	}
	printf("wrote %s and %s\n", kp, cp);
	return 0;
}

static int add_ext(X509 *crt, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, issuer, crt, NULL, NULL, 0);
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (!ext)
		return -EINVAL;
	int ok = X509_add_ext(crt, ext, -1);
	X509_EXTENSION_free(ext);
	return ok ? 0 : -EINVAL;
}

/* A certificate for key with subject CN=cn, valid for days, not yet signed. */
static X509 *new_cert(EVP_PKEY *key, const char *cn, long days)
{
	X509 *crt = X509_new();
	BIGNUM *bn = BN_new();
	if (!crt || !bn || !X509_set_version(crt, 2) ||
	    !BN_rand(bn, 63, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) ||
	    !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(crt)) ||
	    !X509_gmtime_adj(X509_getm_notBefore(crt), -3600) ||
	    !X509_gmtime_adj(X509_getm_notAfter(crt), days * 86400L) ||
	    !X509_set_pubkey(crt, key) ||
	    !X509_NAME_add_entry_by_txt(X509_get_subject_name(crt), "CN", MBSTRING_UTF8,
					(const unsigned char *)cn, -1, -1, 0)) {
		X509_free(crt);
		crt = NULL;
	}
	BN_free(bn);
	return crt;
}

static int parse_days(const char *s, long *ret)
{
	long long v;
	if (sfs_parse_integer(s, 1, 36500, &v)) {
		fprintf(stderr, "shadowctl ca: invalid --days '%s' (1..36500)\n", s);
		return -EINVAL;
	}
	*ret = v;
	return 0;
}

static int ca_init(const char *dir, long days)
{
	EVP_PKEY *key = NULL;
	X509 *crt = NULL;
	int r = -EIO;
	/* Its parents as mkdir -p makes them (/etc/shadowfs/tls on a fresh
	 * host), the CA directory itself private. */
	char parent[PATH_MAX];
	snprintf(parent, sizeof(parent), "%s", dir);
	char *slash = strrchr(parent, '/');
	int pr = 0;
	if (slash && slash != parent) {
		*slash = '\0';
		pr = pred_locate_mkdirs(parent, 0755);
	}
	if (pr < 0 || (mkdir(dir, 0700) < 0 && errno != EEXIST)) {
		int e = pr < 0 ? -pr : errno;
		fprintf(stderr, "shadowctl ca: cannot create %s: %s\n", pr < 0 ? parent : dir,
			strerror(e));
		return -e;
	}
	key = EVP_EC_gen("P-256");
	if (!key) {
		ssl_fail("key generation failed");
		goto out;
	}
	crt = new_cert(key, "shadowfs cluster CA", days);
	if (!crt || !X509_set_issuer_name(crt, X509_get_subject_name(crt)) ||
	    add_ext(crt, crt, NID_basic_constraints, "critical,CA:TRUE") ||
	    add_ext(crt, crt, NID_key_usage, "critical,keyCertSign,cRLSign") ||
	    add_ext(crt, crt, NID_subject_key_identifier, "hash") ||
	    !X509_sign(crt, key, EVP_sha256())) {
		ssl_fail("cannot build the CA certificate");
		goto out;
	}
	r = write_pem(dir, "ca", key, crt);
out:
	X509_free(crt);
	EVP_PKEY_free(key);
	return r;
}

static int load_ca(const char *dir, EVP_PKEY **key, X509 **crt)
{
	char p[4096];
	FILE *f;
	snprintf(p, sizeof(p), "%s/ca.key", dir);
	if (!(f = fopen(p, "re"))) {
		fprintf(stderr, "shadowctl ca: cannot open %s: %s (run 'shadowctl ca init %s')\n",
			p, strerror(errno), dir);
		return -errno;
	}
	*key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	snprintf(p, sizeof(p), "%s/ca.crt", dir);
	if (!(f = fopen(p, "re"))) {
		fprintf(stderr, "shadowctl ca: cannot open %s: %s\n", p, strerror(errno));
		return -errno;
	}
	*crt = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (!*key || !*crt || X509_check_private_key(*crt, *key) != 1) {
		ssl_fail("the CA key and certificate are unreadable or do not match");
		return -EINVAL;
	}
	return 0;
}

static int is_ip(const char *s)
{
	unsigned char b[16];
	return inet_pton(AF_INET, s, b) == 1 || inet_pton(AF_INET6, s, b) == 1;
}

/* host and ips checked by the caller (sync_tls_identity_name_valid, is_ip). */
static int ca_issue(const char *dir, const char *host, char **ips, int nips, long days)
{
	EVP_PKEY *cakey = NULL, *key = NULL;
	X509 *cacrt = NULL, *crt = NULL;
	char san[2048];
	int r = -EIO;
	size_t o;

	o = (size_t)snprintf(san, sizeof(san), "%s:%s", is_ip(host) ? "IP" : "DNS", host);
	for (int i = 0; i < nips; i++) {
		o += (size_t)snprintf(san + o, sizeof(san) - o, ",IP:%s", ips[i]);
		if (o >= sizeof(san))
			return -E2BIG;
	}
	r = load_ca(dir, &cakey, &cacrt);
	if (r < 0)
		goto out;
	r = -EIO;
	key = EVP_EC_gen("P-256");
	crt = key ? new_cert(key, host, days) : NULL;
	if (!crt || !X509_set_issuer_name(crt, X509_get_subject_name(cacrt)) ||
	    add_ext(crt, cacrt, NID_basic_constraints, "critical,CA:FALSE") ||
	    add_ext(crt, cacrt, NID_key_usage, "critical,digitalSignature") ||
	    add_ext(crt, cacrt, NID_ext_key_usage, "serverAuth,clientAuth") ||
	    add_ext(crt, cacrt, NID_subject_alt_name, san) ||
	    add_ext(crt, cacrt, NID_subject_key_identifier, "hash") ||
	    add_ext(crt, cacrt, NID_authority_key_identifier, "keyid") ||
	    !X509_sign(crt, cakey, EVP_sha256())) {
		ssl_fail("cannot build the host certificate");
		goto out;
	}
	r = write_pem(dir, host, key, crt);
out:
	X509_free(crt);
	X509_free(cacrt);
	EVP_PKEY_free(key);
	EVP_PKEY_free(cakey);
	return r;
}

int ctl_ca_main(int argc, char **argv)
{
	long days = 3650;
	char *pos[3];
	char *ips[16];
	int npos = 0, nips = 0;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			ca_usage(stdout);
			return 0;
		} else if (!strcmp(argv[i], "--days") && i + 1 < argc) {
			if (parse_days(argv[++i], &days) < 0)
				return 2;
		} else if (!strcmp(argv[i], "--ip") && i + 1 < argc) {
			if (nips == 16) {
				fprintf(stderr, "shadowctl ca: at most 16 --ip\n");
				return 2;
			}
			ips[nips++] = argv[++i];
		} else if (argv[i][0] == '-' || npos == 3) {
			fprintf(stderr, "shadowctl ca: unexpected argument '%s'\n", argv[i]);
			ca_usage(stderr);
			return 2;
		} else {
			pos[npos++] = argv[i];
		}
	}
	if (npos == 2 && !strcmp(pos[0], "init") && !nips)
		return ca_init(pos[1], days) < 0 ? 1 : 0;
	if (npos == 3 && !strcmp(pos[0], "issue")) {
		/* Bad arguments are usage errors, as a bad --days is (they
		 * exited 1, as a failure to write the files does). */
		if (!sync_tls_identity_name_valid(pos[2])) {
			/* escaped: a newline in it made the message two lines */
			fputs("shadowctl ca: invalid host name '", stderr);
			ctl_print_name(stderr, pos[2], 0);
			fputs("' (letters, digits, '.', '-', ':'; no leading '.' or '-', no '..')\n",
			      stderr);
			return 2;
		}
		for (int i = 0; i < nips; i++)
			if (!is_ip(ips[i])) {
				fprintf(stderr, "shadowctl ca: --ip '%s' is not an IP address\n",
					ips[i]);
				return 2;
			}
		return ca_issue(pos[1], pos[2], ips, nips, days) < 0 ? 1 : 0;
	}
	ca_usage(stderr);
	return 2;
}
