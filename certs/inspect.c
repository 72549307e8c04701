/* inspect.c - what a certificate file says, and whether a key belongs to it. */
#include "certs/private.h"

#include <arpa/inet.h>
#include <errno.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAME_FLAGS (XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB)

/* Opens path for reading, or returns NULL with *error set. */
static FILE *open_file(const char *path, char **error)
{
	FILE *fp = fopen(path, "r");

	if (!fp)
		ds_fail(error, "%s: cannot open: %s", path, strerror(errno));
	return fp;
}

/* The first certificate in the PEM file at path, or NULL with *error set. */
static X509 *read_cert(const char *path, char **error)
{
	FILE *fp = open_file(path, error);
	X509 *cert;

	if (!fp)
		return NULL;
	cert = PEM_read_X509(fp, NULL, NULL, NULL);
	fclose(fp);
	if (!cert)
		ds_certs_fail_ssl(error, "%s: no PEM certificate", path);
	return cert;
}

/* The private key in the PEM file at path, or NULL with *error set. */
static EVP_PKEY *read_key(const char *path, char **error)
{
	FILE *fp = open_file(path, error);
	EVP_PKEY *key;

	if (!fp)
		return NULL;
	key = PEM_read_PrivateKey(fp, NULL, ds_certs_no_passphrase, NULL);
	fclose(fp);
	if (!key)
		ds_certs_fail_ssl(error, "%s: no unencrypted PEM private key", path);
	return key;
}

/* name in RFC 2253 form as a new string, or NULL out of memory. */
static char *name_text(const X509_NAME *name)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *data, *text = NULL;
	long len;

	if (bio && X509_NAME_print_ex(bio, name, 0, NAME_FLAGS) >= 0) {
		len = BIO_get_mem_data(bio, &data);
		text = strndup(len > 0 ? data : "", len > 0 ? (size_t)len : 0);
	}
	BIO_free(bio);
	return text;
}

/* "prefix:value" with each byte that is not printable ASCII shown as '?',
 * as a new string, or NULL out of memory. */
static char *string_text(const char *prefix, const ASN1_STRING *value)
{
	const unsigned char *data = ASN1_STRING_get0_data(value);
	int len = ASN1_STRING_length(value);
	size_t at = strlen(prefix) + 1;
	char *text = malloc(at + (size_t)len + 1);

	if (!text)
		return NULL;
	snprintf(text, at + 1, "%s:", prefix);
	for (int i = 0; i < len; i++)
		text[at++] = data[i] >= 0x20 && data[i] < 0x7f ? (char)data[i] : '?';
	text[at] = '\0';
	return text;
}

/* "IP:address" for an IPv4 or IPv6 address, as a new string, or NULL out of
 * memory. An address of another length is shown as "IP:?". */
static char *ip_text(const ASN1_OCTET_STRING *value)
{
	char addr[INET6_ADDRSTRLEN] = "?";
	char *text;
	int len = ASN1_STRING_length(value);

	if (len == 4 || len == 16)
		inet_ntop(len == 4 ? AF_INET : AF_INET6, ASN1_STRING_get0_data(value), addr, sizeof(addr));
	return asprintf(&text, "IP:%s", addr) < 0 ? NULL : text;
}

/* Stores in *text a new "TYPE:value" for gen, or NULL for a kind of name
 * left out (not DNS, IP, URI or email). Returns 0, or -1 out of memory. */
static int describe_name(const GENERAL_NAME *gen, char **text)
{
	int type;
	void *value = GENERAL_NAME_get0_value(gen, &type);

	switch (type) {
	case GEN_DNS:
		*text = string_text("DNS", value);
		break;
	case GEN_URI:
		*text = string_text("URI", value);
		break;
	case GEN_EMAIL:
		*text = string_text("email", value);
		break;
	case GEN_IPADD:
		*text = ip_text(value);
		break;
	default:
		*text = NULL;
		return 0;
	}
	return *text ? 0 : -1;
}

/* Fills info->sans from cert's subjectAltName. Returns 0, or -1 on error. */
static int read_sans(X509 *cert, ds_cert_info *info)
{
	GENERAL_NAMES *names = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
	int count = names ? sk_GENERAL_NAME_num(names) : 0;
	int rc = 0;

	if (count > 0 && !(info->sans = calloc((size_t)count, sizeof(*info->sans))))
		rc = -1;
	for (int i = 0; i < count && rc == 0; i++) {
		char *text;
		rc = describe_name(sk_GENERAL_NAME_value(names, i), &text);
		if (text)
			info->sans[info->san_count++] = text;
	}
	GENERAL_NAMES_free(names);
	return rc;
}

int ds_cert_inspect(const char *pem_path, ds_cert_info *out, char **error)
{
	X509 *cert = read_cert(pem_path, error);
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (!cert)
		return -1;
	out->subject = name_text(X509_get_subject_name(cert));
	out->issuer = name_text(X509_get_issuer_name(cert));
	out->is_ca = X509_check_ca(cert) != 0;
	if (out->subject && out->issuer && read_sans(cert, out) == 0 &&
	    ds_certs_time(X509_get0_notBefore(cert), &out->not_before) == 0 &&
	    ds_certs_time(X509_get0_notAfter(cert), &out->not_after) == 0)
		rc = 0;
	X509_free(cert);
	if (rc) {
		ds_cert_info_free(out);
		ds_certs_fail_ssl(error, "%s: cannot read the certificate's fields", pem_path);
	}
	return rc;
}

void ds_cert_info_free(ds_cert_info *info)
{
	for (size_t i = 0; i < info->san_count; i++)
		free(info->sans[i]);
	free(info->sans);
	free(info->subject);
	free(info->issuer);
	memset(info, 0, sizeof(*info));
}

int ds_cert_key_check(const char *cert_path, const char *key_path, char **error)
{
	X509 *cert = read_cert(cert_path, error);
	EVP_PKEY *key = cert ? read_key(key_path, error) : NULL;
	int rc = -1;

	if (key) {
		rc = X509_check_private_key(cert, key) == 1 ? 0 : 1;
		if (rc)
			ds_certs_fail_ssl(error, "%s: not the key of the certificate in %s", key_path, cert_path);
	}
	EVP_PKEY_free(key);
	X509_free(cert);
	return rc;
}
