/* answers.c - the words of admission answers: what the webhook says when it
 * denies, warns or exempts, which the admission policies say too. */
#include "rules/checks.h"

char *ds_say_denied(const char *ns, const char *name)
{
	return ds_format("DaemonSet %s/%s is not allowed:", ns, name);
}

char *ds_say_denied_rule(const ds_rule *rule, const char *message, bool first)
{
	return ds_format("%s %s %s: %s", first ? "" : ";", rule->id, rule->name, message);
}

char *ds_say_warning(const ds_rule *rule, const char *message, bool template_kept)
{
	return ds_format("%s %s: %s%s", rule->id, rule->name, message,
			 template_kept ? " (this update leaves spec.template as it was)" : "");
}

char *ds_say_exempted(const ds_rule *rule, ds_exempt_source by, const char *reason, const char *message)
{
	if (by == DS_EXEMPT_CONFIG)
		return ds_format("%s %s exempted by config (%s): %s", rule->id, rule->name, reason ? reason : "",
				 message);
	if (reason)
		return ds_format("%s %s exempted by annotation " DS_IGNORE_ANNOTATION " (%s): %s", rule->id,
				 rule->name, reason, message);
	return ds_format("%s %s exempted by annotation " DS_IGNORE_ANNOTATION ": %s", rule->id, rule->name, message);
}

char *ds_say_grant_refused(const ds_rule *rule, const char *user)
{
	return ds_format(DS_IGNORE_ANNOTATION ": only the users and groups allowExemptionAnnotation lists may add an "
					      "exemption by annotation (here for %s %s), and the request's user \"%s\" "
					      "is not one of them",
			 rule->id, rule->name, user ? user : "");
}
