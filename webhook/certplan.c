/* certplan.c - what the certificate manager writes next, decided from what
 * the Secret holds and how long the caBundles have held it: no I/O, no
 * clock of its own. The rotation timeline is in docs/certs.md. */
#include "webhook/internal.h"

/* When two thirds of [from, until] have passed. */
static time_t two_thirds(time_t from, time_t until)
{
	return from + (time_t)(((long long)until - (long long)from) * 2 / 3);
}

/* The plan of a step, with no timer. */
static ds_certs_plan plan(ds_certs_step step, const char *why)
{
	return (ds_certs_plan){step, why, -1};
}

/* A plan to write nothing until `seconds` from now (or an event). */
static ds_certs_plan wait_for(const char *why, double seconds)
{
	return (ds_certs_plan){DS_CERTS_WAIT, why, seconds < 0 ? 0 : seconds};
}

/* The serving certificate is signed by an older CA (the first of ca.crt
 * is new): it is switched to the new CA once the new CA has been in every
 * caBundle for the overlap, so that the API server trusts it first. */
static ds_certs_plan new_ca_published(const ds_certs_plan_input *in)
{
	const ds_cert_exam *e = in->exam;

	if (in->bundles_for >= (double)in->overlap)
		return plan(DS_CERTS_NEW_SERVING, "the new CA has been in every caBundle for the overlap: the serving "
						  "certificate moves to it");
	if (in->bundles_for >= 0)
		return wait_for("the new CA is in every caBundle; the serving certificate moves to it after the overlap",
				(double)in->overlap - in->bundles_for);
	return wait_for("the new CA is not in every caBundle yet", (double)(e->tls_not_after - in->now));
}

/* Both are usable and the serving certificate comes from the first CA. */
static ds_certs_plan steady(const ds_certs_plan_input *in)
{
	const ds_cert_exam *e = in->exam;
	time_t tls_due = two_thirds(e->tls_not_before, e->tls_not_after);
	time_t ca_due = two_thirds(e->ca_not_before, e->ca_not_after);

	if (!e->names_ok)
		return plan(DS_CERTS_NEW_SERVING, "the serving certificate does not name every name of the Service");
	if (in->now >= tls_due)
		return plan(DS_CERTS_NEW_SERVING, "two thirds of the serving certificate's validity have passed");
	if (e->ca_count > 1) {
		if (in->rotated_for >= (double)in->overlap && in->bundles_for >= 0)
			return plan(DS_CERTS_DROP_OLD_CA, "the serving certificate has come from the new CA for the "
							  "overlap: the old CA leaves ca.crt and the caBundles");
		if (in->rotated_for >= 0 && in->bundles_for >= 0)
			return wait_for("the old CA leaves the caBundles after the overlap",
					(double)in->overlap - in->rotated_for);
		return wait_for("the caBundles do not hold ca.crt yet", (double)(tls_due - in->now));
	}
	if (in->now >= ca_due)
		return plan(DS_CERTS_NEW_CA, "two thirds of the CA's validity have passed");
	return wait_for("nothing is due", (double)((tls_due < ca_due ? tls_due : ca_due) - in->now));
}

ds_certs_plan ds_certs_decide(const ds_certs_plan_input *in)
{
	const ds_cert_exam *e = in->exam;

	if (!in->secret_exists)
		return plan(DS_CERTS_CREATE, "the Secret does not exist");
	if (!e->tls_ok && e->ca_ok)
		return plan(DS_CERTS_NEW_SERVING, "the serving certificate cannot be used");
	if (!e->tls_ok)
		return plan(DS_CERTS_REPLACE, "neither the CA nor the serving certificate can be used");
	if (!e->ca_ok)
		return plan(DS_CERTS_NEW_CA, "the CA cannot sign: a new one is published beside the one the serving "
					     "certificate comes from");
	if (e->issuer > 0)
		return new_ca_published(in);
	return steady(in);
}

const char *ds_certs_step_name(ds_certs_step step)
{
	static const char *const names[] = {"wait", "create", "replace", "new serving certificate", "new CA",
					    "drop the old CA"};

	return (unsigned)step < sizeof(names) / sizeof(names[0]) ? names[step] : "?";
}
