/* audit.c - the continuous audit: every DaemonSet of the cluster cache
 * evaluated, namespace by namespace, by lint's run over its record (the
 * rules and config admission uses), for the metrics, /audit and the
 * PolicyReports (reports.c). */
#include "webhook/internal.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What the cache keeps of each DaemonSet: what the rules read (DS001: the
 * class and the integer priority its fix removes; DS002: the restart
 * policy; the engine: the name, the namespace and the dsguard.io/ignore
 * annotation; apiVersion and kind the cache sets), the uid a PolicyReport
 * names, the resourceVersion, and the labels (bounded by the cache) for
 * exemptions by label. test_webhook_audit checks that the rules give a
 * record the verdicts they give its whole DaemonSet. */
const char *const ds_audit_fields[] = {
	"/metadata/name",
	"/metadata/namespace",
	"/metadata/uid",
	"/metadata/resourceVersion",
	"/metadata/labels",
	"/metadata/annotations/dsguard.io~1ignore", /* DS_IGNORE_ANNOTATION as a pointer token */
	"/spec/template/spec/priorityClassName",
	"/spec/template/spec/priority",
	"/spec/template/spec/restartPolicy",
};
const size_t ds_audit_field_count = sizeof(ds_audit_fields) / sizeof(ds_audit_fields[0]);

uint64_t ds_fnv(uint64_t h, const void *bytes, size_t len)
{
	const unsigned char *p = bytes;

	for (size_t i = 0; i < len; i++)
		h = (h ^ p[i]) * 1099511628211ull;
	return h;
}

static uint64_t fnv_string(uint64_t h, const char *s)
{
	return ds_fnv(h, s, strlen(s) + 1);
}

/* ---- evaluation ---- */

/* The records of an evaluation, parsed one at a time as lint asks. */
struct source {
	const kube_record *records;
	size_t count, next;
	cJSON *current;
	char **uids;
	bool failed;
};

/* ds_lint_next_object over the records: parses the next one and keeps its
 * uid. */
static const cJSON *next_record(void *data)
{
	struct source *s = data;
	const char *uid;

	cJSON_Delete(s->current);
	s->current = NULL;
	if (s->failed || s->next == s->count)
		return NULL;
	s->current = cJSON_Parse(s->records[s->next].record);
	uid = cJSON_GetStringValue(ds_pointer_get(s->current, "/metadata/uid"));
	s->uids[s->next] = s->current ? strdup(uid ? uid : "") : NULL;
	if (!s->uids[s->next]) {
		s->failed = true;
		return NULL;
	}
	s->next++;
	return s->current;
}

void ds_audit_eval_free(ds_audit_eval *ev)
{
	ds_lint_report_free(&ev->report);
	for (size_t i = 0; i < ev->count; i++)
		free(ev->uids[i]);
	free(ev->uids);
	memset(ev, 0, sizeof(*ev));
}

int ds_audit_evaluate(ds_audit *a, const kube_record *records, size_t count, ds_audit_eval *out)
{
	struct source s = {.records = records, .count = count};
	ds_lint_options opts = {0};
	int rc;

	memset(out, 0, sizeof(*out));
	s.uids = calloc(count ? count : 1, sizeof(*s.uids));
	if (!s.uids)
		return -1;
	pthread_rwlock_rdlock(a->config_lock);
	opts.config = a->config;
	rc = ds_lint_objects_from(next_record, &s, &opts, &out->report);
	pthread_rwlock_unlock(a->config_lock);
	cJSON_Delete(s.current);
	out->uids = s.uids;
	out->count = s.next;
	if (rc < 0 || s.failed) {
		ds_audit_eval_free(out);
		return -1;
	}
	return 0;
}

/* ---- namespaces ---- */

/* Where ns is, or would go, among the sorted namespaces. */
static size_t find_at(const ds_audit *a, const char *ns, bool *found)
{
	size_t lo = 0, hi = a->space_count;

	*found = false;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(a->spaces[mid]->ns, ns);
		if (c == 0) {
			*found = true;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

ds_audit_ns *ds_audit_find(ds_audit *a, const char *ns)
{
	bool found;
	size_t at = find_at(a, ns, &found);

	return found ? a->spaces[at] : NULL;
}

static void free_list(ds_audit_ns *s)
{
	for (size_t i = 0; i < s->list_count; i++)
		free(s->list[i].name);
	free(s->list);
	s->list = NULL;
	s->list_count = 0;
}

static void free_space(ds_audit_ns *s)
{
	free_list(s);
	free(s->written_rv);
	free(s->ns);
	free(s);
}

ds_audit_ns *ds_audit_ensure(ds_audit *a, const char *ns)
{
	bool found;
	size_t at = find_at(a, ns, &found);
	ds_audit_ns *s, **grown;

	if (found)
		return a->spaces[at];
	s = calloc(1, sizeof(*s));
	grown = ds_array_grow(a->spaces, a->space_count, sizeof(*grown));
	if (grown)
		a->spaces = grown;
	if (!s || !grown || !(s->ns = strdup(ns))) {
		free(s);
		return NULL;
	}
	memmove(&a->spaces[at + 1], &a->spaces[at], (a->space_count - at) * sizeof(*a->spaces));
	a->spaces[at] = s;
	a->space_count++;
	return s;
}

void ds_audit_drop(ds_audit *a, const char *ns)
{
	bool found;
	size_t at = find_at(a, ns, &found);

	if (!found)
		return;
	a->dirty_count -= a->spaces[at]->dirty;
	free_space(a->spaces[at]);
	memmove(&a->spaces[at], &a->spaces[at + 1], (a->space_count - at - 1) * sizeof(*a->spaces));
	a->space_count--;
}

/* What one namespace's evaluation comes to. */
struct verdicts {
	size_t daemonsets;
	unsigned long violations[DS_RULE_COUNT][2];
	ds_audit_violation *list;
	size_t list_count;
	uint64_t hash;
};

static void free_verdicts(struct verdicts *v)
{
	for (size_t i = 0; i < v->list_count; i++)
		free(v->list[i].name);
	free(v->list);
	memset(v, 0, sizeof(*v));
}

/* Sums up an evaluation. Returns 0, or -1 out of memory. */
static int sum_up(const ds_audit_eval *ev, struct verdicts *v)
{
	const ds_lint_report *rep = &ev->report;
	uint64_t h = DS_FNV_START;

	memset(v, 0, sizeof(*v));
	v->daemonsets = rep->daemonset_count;
	for (size_t i = 0; i < rep->daemonset_count; i++)
		h = fnv_string(fnv_string(h, rep->daemonsets[i].name), ev->uids[rep->daemonsets[i].file_index - 1]);
	for (size_t i = 0; i < rep->finding_count; i++) {
		const ds_lint_finding *f = &rep->findings[i];
		ds_audit_violation *grown;
		const char flags[3] = {(char)('0' + f->severity), f->exempt ? 'x' : '-', '\0'};
		h = fnv_string(fnv_string(fnv_string(fnv_string(h, f->name), f->rule->id), flags), f->message);
		if (f->exempt || f->severity == DS_SEVERITY_OFF)
			continue;
		v->violations[ds_rule_index(f->rule)][f->severity == DS_SEVERITY_ERROR]++;
		grown = ds_array_grow(v->list, v->list_count, sizeof(*grown));
		if (!grown || !(grown[v->list_count].name = strdup(f->name))) {
			if (grown)
				v->list = grown;
			free_verdicts(v);
			return -1;
		}
		v->list = grown;
		v->list[v->list_count++].rule = f->rule;
	}
	v->hash = h;
	return 0;
}

/* Puts a namespace's new verdicts in place (the caller holds a->mu): the
 * totals, and when they changed, the time and the report's due. */
static void apply(ds_audit *a, ds_audit_ns *s, struct verdicts *v, double mono)
{
	time_t now = time(NULL);

	for (size_t r = 0; r < DS_RULE_COUNT; r++)
		for (int sev = 0; sev < 2; sev++) {
			a->totals[r][sev] += v->violations[r][sev] - s->violations[r][sev];
			s->violations[r][sev] = v->violations[r][sev];
		}
	a->daemonsets += v->daemonsets - s->daemonsets;
	s->daemonsets = v->daemonsets;
	free_list(s);
	s->list = v->list;
	s->list_count = v->list_count;
	v->list = NULL;
	v->list_count = 0;
	if (s->hash == v->hash && s->changed_at)
		return;
	s->hash = v->hash;
	s->changed_at = now;
	a->last_change = now;
	if (!a->reports)
		return;
	if (!s->due)
		s->due_first = mono;
	s->due = true;
	s->due_last = mono;
	ds_reports_wake(a->reports);
}

/* Evaluates the records of namespace ns and puts the verdicts in place.
 * Returns 0, or -1 out of memory (logged). */
static int evaluate_namespace(ds_audit *a, const char *ns, const kube_record *records, size_t count)
{
	ds_audit_eval ev;
	struct verdicts v = {.hash = DS_FNV_START};
	ds_audit_ns *s;

	if (count && ds_audit_evaluate(a, records, count, &ev) < 0)
		goto oom;
	if (count && sum_up(&ev, &v) < 0) {
		ds_audit_eval_free(&ev);
		goto oom;
	}
	if (count)
		ds_audit_eval_free(&ev);
	pthread_mutex_lock(&a->mu);
	s = ds_audit_ensure(a, ns);
	if (s)
		apply(a, s, &v, ds_monotonic());
	/* a namespace left without DaemonSets is forgotten, unless its report
	 * is to be deleted first */
	if (s && !count && !s->dirty && !(a->reports && (s->due || s->written)))
		ds_audit_drop(a, ns);
	pthread_mutex_unlock(&a->mu);
	free_verdicts(&v);
	if (!s)
		goto oom;
	return 0;
oom:
	ds_log(DS_LOG_ERROR, "audit: out of memory evaluating namespace %s", ns);
	return -1;
}

/* Whether the snapshot (sorted by namespace) holds a DaemonSet of ns. */
static bool snapshot_holds(const kube_snapshot *snap, const char *ns)
{
	size_t lo = 0, hi = snap->count;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(snap->records[mid].ns, ns);
		if (c == 0)
			return true;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

/* Evaluates every DaemonSet of the cache, namespace by namespace, and the
 * namespaces that have none left. */
static void evaluate_all(ds_audit *a)
{
	kube_snapshot snap;
	size_t i = 0, j = 0, stale_count = 0;
	char **stale = NULL;

	if (kube_cache_snapshot(a->cache, NULL, &snap) < 0) {
		ds_log(DS_LOG_ERROR, "audit: out of memory copying the cluster cache");
		return;
	}
	while (i < snap.count) {
		for (j = i; j < snap.count && !strcmp(snap.records[j].ns, snap.records[i].ns); j++)
			;
		evaluate_namespace(a, snap.records[i].ns, &snap.records[i], j - i);
		i = j;
	}
	/* namespaces known before that the snapshot no longer holds */
	pthread_mutex_lock(&a->mu);
	stale = calloc(a->space_count ? a->space_count : 1, sizeof(*stale));
	for (size_t k = 0; stale && k < a->space_count; k++)
		if (a->spaces[k]->daemonsets && !snapshot_holds(&snap, a->spaces[k]->ns) &&
		    (stale[stale_count] = strdup(a->spaces[k]->ns)))
			stale_count++;
	pthread_mutex_unlock(&a->mu);
	for (size_t k = 0; k < stale_count; k++) {
		evaluate_namespace(a, stale[k], NULL, 0);
		free(stale[k]);
	}
	free(stale);
	kube_snapshot_free(&snap);
	/* a list and a whole pass leave much memory free (pages of the list,
	 * the snapshot): give it back rather than keep it as the high mark */
	malloc_trim(0);
}

/* Logs the audit's totals once, after its first whole pass. */
static void log_summary(ds_audit *a)
{
	cJSON *f = cJSON_CreateObject(), *by_rule = cJSON_AddObjectToObject(f, "violations");
	char line[512];
	size_t used = 0, namespaces = 0;

	pthread_mutex_lock(&a->mu);
	for (size_t i = 0; i < a->space_count; i++)
		namespaces += a->spaces[i]->daemonsets > 0;
	used += (size_t)snprintf(line, sizeof(line), "audit: %zu DaemonSets in %zu namespaces; violations:",
				 a->daemonsets, namespaces);
	cJSON_AddNumberToObject(f, "daemonsets", (double)a->daemonsets);
	cJSON_AddNumberToObject(f, "namespaces", (double)namespaces);
	for (size_t r = 0; r < DS_RULE_COUNT; r++) {
		unsigned long n = a->totals[r][0] + a->totals[r][1];
		cJSON_AddNumberToObject(by_rule, ds_rules[r].id, (double)n);
		if (used < sizeof(line))
			used += (size_t)snprintf(line + used, sizeof(line) - used, "%s %s %s %lu", r ? "," : "",
						 ds_rules[r].id, ds_rules[r].name, n);
	}
	pthread_mutex_unlock(&a->mu);
	ds_log_fields(DS_LOG_INFO, line, f);
}

/* The audit's thread: a whole pass after each list and config reload,
 * else the namespaces the watch changed, as soon as they change. */
static void *run(void *data)
{
	ds_audit *a = data;

	pthread_mutex_lock(&a->mu);
	while (!a->stop) {
		char **names;
		size_t n = 0;

		if (!a->all_dirty && !a->dirty_count) {
			pthread_cond_wait(&a->cond, &a->mu);
			continue;
		}
		if (a->all_dirty) {
			bool first = !a->evaluated;
			a->all_dirty = false;
			for (size_t i = 0; i < a->space_count; i++)
				a->spaces[i]->dirty = false;
			a->dirty_count = 0;
			pthread_mutex_unlock(&a->mu);
			evaluate_all(a);
			if (first)
				log_summary(a);
			pthread_mutex_lock(&a->mu);
			a->evaluated = true;
			if (!a->last_change) /* the verdicts, none included, exist from now */
				a->last_change = time(NULL);
			if (a->reports)
				ds_reports_wake(a->reports);
			continue;
		}
		names = calloc(a->dirty_count, sizeof(*names));
		for (size_t i = 0; names && i < a->space_count; i++)
			if (a->spaces[i]->dirty && (names[n] = strdup(a->spaces[i]->ns))) {
				a->spaces[i]->dirty = false;
				n++;
			}
		a->dirty_count -= n;
		if (!names || !n) {
			/* out of memory: take everything again later */
			a->all_dirty = true;
			free(names);
			continue;
		}
		pthread_mutex_unlock(&a->mu);
		for (size_t i = 0; i < n; i++) {
			kube_snapshot snap;
			if (kube_cache_snapshot(a->cache, names[i], &snap) == 0)
				evaluate_namespace(a, names[i], snap.records, snap.count);
			kube_snapshot_free(&snap);
			free(names[i]);
		}
		free(names);
		pthread_mutex_lock(&a->mu);
	}
	pthread_mutex_unlock(&a->mu);
	return NULL;
}

/* kube_cache_changed_fn: marks the namespace (NULL: all) to evaluate. */
static void changed(void *data, const char *ns)
{
	ds_audit *a = data;
	ds_audit_ns *s;

	pthread_mutex_lock(&a->mu);
	if (!ns) {
		a->all_dirty = true;
	} else if ((s = ds_audit_ensure(a, ns)) == NULL) {
		a->all_dirty = true;
	} else if (!s->dirty) {
		s->dirty = true;
		a->dirty_count++;
	}
	pthread_cond_signal(&a->cond);
	pthread_mutex_unlock(&a->mu);
}

void ds_audit_reconfigured(ds_audit *a)
{
	if (!a)
		return;
	pthread_mutex_lock(&a->mu);
	a->all_dirty = kube_cache_wait_synced(a->cache, 0);
	pthread_cond_signal(&a->cond);
	pthread_mutex_unlock(&a->mu);
}

static void audit_free(ds_audit *a)
{
	for (size_t i = 0; i < a->space_count; i++)
		free_space(a->spaces[i]);
	free(a->spaces);
	pthread_cond_destroy(&a->cond);
	pthread_mutex_destroy(&a->mu);
	free(a);
}

ds_audit *ds_audit_start(const ds_audit_options *opts, char **error)
{
	ds_audit *a = calloc(1, sizeof(*a));

	if (!a) {
		kube_client_free(opts->reports_client);
		ds_fail(error, "out of memory");
		return NULL;
	}
	a->cache = opts->cache;
	a->config = opts->config;
	a->config_lock = opts->config_lock;
	a->detail = opts->detail;
	pthread_mutex_init(&a->mu, NULL);
	pthread_cond_init(&a->cond, NULL);
	/* a cache synced already has no list to tell of */
	a->all_dirty = kube_cache_wait_synced(a->cache, 0);
	if (opts->reports_client && !(a->reports = ds_reports_start(a, opts->reports_client, opts->lease, error))) {
		audit_free(a);
		return NULL;
	}
	if (pthread_create(&a->thread, NULL, run, a) != 0) {
		ds_reports_stop(a->reports);
		audit_free(a);
		ds_fail(error, "cannot start the audit's thread");
		return NULL;
	}
	kube_cache_subscribe(a->cache, changed, a);
	return a;
}

void ds_audit_stop(ds_audit *a)
{
	if (!a)
		return;
	kube_cache_subscribe(a->cache, NULL, NULL);
	ds_reports_stop(a->reports);
	pthread_mutex_lock(&a->mu);
	a->stop = true;
	pthread_cond_signal(&a->cond);
	pthread_mutex_unlock(&a->mu);
	pthread_join(a->thread, NULL);
	audit_free(a);
}

/* ---- what the audit shows ---- */

/* Writes a label value escaped as the text format wants it. */
static void put_label(FILE *out, const char *value)
{
	for (const char *p = value; *p; p++) {
		if (*p == '\\' || *p == '"')
			fputc('\\', out);
		if (*p == '\n')
			fputs("\\n", out);
		else
			fputc(*p, out);
	}
}

/* dsguard_violation: one series per current violation. */
static void detail_metrics(ds_audit *a, FILE *out)
{
	fputs("# HELP dsguard_violation A rule violation of one DaemonSet now (--audit-metrics-detail).\n"
	      "# TYPE dsguard_violation gauge\n",
	      out);
	for (size_t i = 0; i < a->space_count; i++)
		for (size_t j = 0; j < a->spaces[i]->list_count; j++) {
			const ds_audit_violation *v = &a->spaces[i]->list[j];
			fprintf(out, "dsguard_violation{rule=\"%s\",namespace=\"", v->rule->id);
			put_label(out, a->spaces[i]->ns);
			fputs("\",name=\"", out);
			put_label(out, v->name);
			fputs("\"} 1\n", out);
		}
}

void ds_audit_metrics(ds_audit *a, FILE *out)
{
	static const char *const severities[2] = {"warning", "error"};

	pthread_mutex_lock(&a->mu);
	fputs("# HELP dsguard_violations DaemonSets' rule violations in the cluster now, exempted ones left out, by "
	      "rule and severity.\n# TYPE dsguard_violations gauge\n",
	      out);
	for (size_t r = 0; r < DS_RULE_COUNT; r++)
		for (int sev = 1; sev >= 0; sev--)
			fprintf(out, "dsguard_violations{rule=\"%s\",severity=\"%s\"} %lu\n", ds_rules[r].id,
				severities[sev], a->totals[r][sev]);
	fprintf(out,
		"# HELP dsguard_daemonsets_audited DaemonSets of the cluster cache the audit has evaluated.\n"
		"# TYPE dsguard_daemonsets_audited gauge\n"
		"dsguard_daemonsets_audited %zu\n"
		"# HELP dsguard_audit_last_change_timestamp_seconds When the audit's verdicts last changed (Unix "
		"time); 0 before its first pass.\n"
		"# TYPE dsguard_audit_last_change_timestamp_seconds gauge\n"
		"dsguard_audit_last_change_timestamp_seconds %lld\n",
		a->daemonsets, (long long)a->last_change);
	if (a->detail)
		detail_metrics(a, out);
	pthread_mutex_unlock(&a->mu);
	if (a->reports)
		ds_reports_metrics(a->reports, out);
}

/* Writes the report of an evaluation as lint's JSON into a new string.
 * Returns it, or NULL out of memory. */
static char *json_of(const ds_audit_eval *ev)
{
	char *text = NULL;
	size_t size = 0;
	FILE *out = open_memstream(&text, &size);
	int rc;

	if (!out)
		return NULL;
	rc = ds_report_format_find("json")->write(out, &ev->report, NULL);
	if (fclose(out) != 0 || rc < 0) {
		free(text);
		return NULL;
	}
	return text;
}

char *ds_audit_document(ds_audit *a, int *status)
{
	kube_snapshot snap;
	ds_audit_eval ev;
	char *text;
	int rc;

	*status = 500;
	if (!kube_cache_wait_synced(a->cache, 0)) {
		*status = 503;
		return NULL;
	}
	if (kube_cache_snapshot(a->cache, NULL, &snap) < 0)
		return NULL;
	rc = ds_audit_evaluate(a, snap.records, snap.count, &ev);
	kube_snapshot_free(&snap);
	if (rc < 0)
		return NULL;
	text = json_of(&ev);
	ds_audit_eval_free(&ev);
	if (text)
		*status = 200;
	return text;
}
