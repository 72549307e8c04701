/* pem.c - PEM text read into OpenSSL's objects and written back, keys
 * wiped, certificate times as time_t. */
#include "certs/private.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <stdlib.h>
#include <string.h>

char *ds_certs_pem(X509 *cert, EVP_PKEY *key)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *data, *text = NULL;
	long len = 0;

	if (bio && (cert ? PEM_write_bio_X509(bio, cert)
			 : PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL)))
		len = BIO_get_mem_data(bio, &data);
	if (len > 0 && (text = malloc((size_t)len + 1))) {
		memcpy(text, data, (size_t)len);
		text[len] = '\0';
	}
	BIO_free(bio); /* a memory BIO wipes its copy of a key when freed */
	return text;
}

void ds_certs_free_secret(char *text)
{
	if (text)
		OPENSSL_cleanse(text, strlen(text));
	free(text);
}

int ds_certs_no_passphrase(char *buf, int size, int rwflag, void *data)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)data;
	return -1;
}

X509 *ds_certs_read_cert(const char *pem)
{
	BIO *bio = BIO_new_mem_buf(pem, -1);
	X509 *cert = bio ? PEM_read_bio_X509(bio, NULL, ds_certs_no_passphrase, NULL) : NULL;

	BIO_free(bio);
	return cert;
}

STACK_OF(X509) *ds_certs_read_certs(const char *pem)
{
	STACK_OF(X509) *certs = sk_X509_new_null();
	BIO *bio = BIO_new_mem_buf(pem, -1);
	X509 *cert;

	if (!certs || !bio) {
		sk_X509_free(certs);
		BIO_free(bio);
		return NULL;
	}
	while ((cert = PEM_read_bio_X509(bio, NULL, ds_certs_no_passphrase, NULL))) {
		if (!sk_X509_push(certs, cert)) {
			X509_free(cert);
			sk_X509_pop_free(certs, X509_free);
			certs = NULL;
			break;
		}
	}
	ERR_clear_error(); /* the read that found no more */
	BIO_free(bio);
	return certs;
}

EVP_PKEY *ds_certs_read_key(const char *pem)
{
	BIO *bio = BIO_new_mem_buf(pem, -1);
	EVP_PKEY *key = bio ? PEM_read_bio_PrivateKey(bio, NULL, ds_certs_no_passphrase, NULL) : NULL;

	BIO_free(bio);
	return key;
}

int ds_certs_time(const ASN1_TIME *t, time_t *out)
{
	struct tm tm;

	if (!ASN1_TIME_to_tm(t, &tm))
		return -1;
	*out = timegm(&tm);
	return 0;
}
