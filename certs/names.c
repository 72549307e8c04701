/* names.c - the names a serving certificate is for: checked, then made into
 * its subjectAltName. */
#include "certs/private.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <string.h>

#define LABEL_MAX 63
#define DNS_NAME_MAX 253

/* Whether s[0..len) is an RFC 1123 label: 1 to 63 letters, digits and '-',
 * neither first nor last a '-'. Upper-case letters count only with `upper`. */
static bool is_label(const char *s, size_t len, bool upper)
{
	if (len == 0 || len > LABEL_MAX || s[0] == '-' || s[len - 1] == '-')
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!(islower(c) || isdigit(c) || c == '-' || (upper && isupper(c))))
			return false;
	}
	return true;
}

/* Whether s is a DNS name: labels joined by '.', the first one may be '*'. */
static bool is_dns_name(const char *s)
{
	size_t total = strlen(s);

	if (total == 0 || total > DNS_NAME_MAX)
		return false;
	if (!strncmp(s, "*.", 2))
		s += 2;
	for (;;) {
		const char *dot = strchr(s, '.');
		size_t len = dot ? (size_t)(dot - s) : strlen(s);
		if (!is_label(s, len, true))
			return false;
		if (!dot)
			return true;
		s = dot + 1;
	}
}

/* Stores the binary form of an IPv4 or IPv6 address in addr (16 bytes).
 * Returns its length, or 0 when text is not an IP address. */
static int parse_ip(const char *text, unsigned char *addr)
{
	if (inet_pton(AF_INET, text, addr) == 1)
		return 4;
	if (inet_pton(AF_INET6, text, addr) == 1)
		return 16;
	return 0;
}

static int check_host(const char *host, char **error)
{
	unsigned char addr[16];

	if (!host || !*host)
		return ds_fail(error, "a host must not be empty");
	if (parse_ip(host, addr) || is_dns_name(host))
		return 0;
	return ds_fail(error, "host '%s' is neither an IP address nor a DNS name "
				    "(labels of letters, digits and '-', joined by '.')", host);
}

int ds_certs_check_request(const ds_cert_request *req, char **error)
{
	const char *service = req->service ? req->service : "";
	const char *ns = req->namespace ? req->namespace : "";

	if (!is_label(service, strlen(service), false) || !isalpha((unsigned char)service[0]))
		return ds_fail(error, "service '%s' is not a DNS label: use 1 to 63 lower-case "
					    "letters, digits and '-', starting with a letter and ending "
					    "with a letter or digit", service);
	if (!is_label(ns, strlen(ns), false))
		return ds_fail(error, "namespace '%s' is not a DNS label: use 1 to 63 lower-case "
					    "letters, digits and '-', starting and ending with a letter "
					    "or digit", ns);
	for (size_t i = 0; i < req->host_count; i++)
		if (check_host(req->hosts[i], error))
			return -1;
	if (req->seconds && (req->seconds < 1 || req->seconds > DS_CERT_MAX_SECONDS))
		return ds_fail(error, "the validity must be from 1 to %ld seconds, not %ld", DS_CERT_MAX_SECONDS,
			       req->seconds);
	if (!req->seconds && (req->days < DS_CERT_MIN_DAYS || req->days > DS_CERT_MAX_DAYS))
		return ds_fail(error, "days must be from %d to %d, not %u", DS_CERT_MIN_DAYS,
				     DS_CERT_MAX_DAYS, req->days);
	return 0;
}

long ds_certs_validity(const ds_cert_request *req)
{
	return req->seconds ? req->seconds : (long)req->days * 86400L;
}

/* A new GENERAL_NAME of `type` holding a copy of data[0..len), or NULL. */
static GENERAL_NAME *general_name(int type, const void *data, int len)
{
	GENERAL_NAME *gen = GENERAL_NAME_new();
	ASN1_STRING *value = ASN1_STRING_type_new(type == GEN_DNS ? V_ASN1_IA5STRING : V_ASN1_OCTET_STRING);

	if (!gen || !value || !ASN1_STRING_set(value, data, len)) {
		ASN1_STRING_free(value);
		GENERAL_NAME_free(gen);
		return NULL;
	}
	GENERAL_NAME_set0_value(gen, type, value);
	return gen;
}

/* Appends the name for `host` (an IP SAN or a DNS SAN) to names unless an
 * equal one is there already. Returns 0, or -1 out of memory. */
static int add_name(GENERAL_NAMES *names, const char *host)
{
	unsigned char addr[16];
	int len = parse_ip(host, addr);
	GENERAL_NAME *gen = len ? general_name(GEN_IPADD, addr, len) : general_name(GEN_DNS, host, -1);

	if (!gen)
		return -1;
	for (int i = 0; i < sk_GENERAL_NAME_num(names); i++) {
		if (!GENERAL_NAME_cmp(sk_GENERAL_NAME_value(names, i), gen)) {
			GENERAL_NAME_free(gen);
			return 0;
		}
	}
	if (!sk_GENERAL_NAME_push(names, gen)) {
		GENERAL_NAME_free(gen);
		return -1;
	}
	return 0;
}

/* Appends the four names a Service answers to inside the cluster. */
static int add_service_names(GENERAL_NAMES *names, const ds_cert_request *req)
{
	static const char *const suffixes[] = {"", ".svc", ".svc.cluster.local"};
	char name[DNS_NAME_MAX + 1];

	if (add_name(names, req->service))
		return -1;
	for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		snprintf(name, sizeof(name), "%s.%s%s", req->service, req->namespace, suffixes[i]);
		if (add_name(names, name))
			return -1;
	}
	return 0;
}

GENERAL_NAMES *ds_certs_alt_names(const ds_cert_request *req, char **error)
{
	GENERAL_NAMES *names = sk_GENERAL_NAME_new_null();

	if (!names || add_service_names(names, req))
		goto fail;
	for (size_t i = 0; i < req->host_count; i++)
		if (add_name(names, req->hosts[i]))
			goto fail;
	return names;
fail:
	GENERAL_NAMES_free(names);
	ds_certs_fail_ssl(error, "cannot build the subjectAltName");
	return NULL;
}
