"""The continuous audit of `dsguard serve` against the stand-in API server
(fake_apiserver.py): DaemonSets violating each rule in several namespaces;
/metrics and /audit agree with `dsguard lint` over the same objects written
to files (and /audit is byte for byte `dsguard audit --format json`); a
MODIFIED event that fixes a DaemonSet clears its violation within 2 s;
PolicyReports that say what lint says, valid against the wgpolicyk8s.io
schema, not rewritten when nothing changed (the stand-in counts the PUTs)
and deleted with the last DaemonSet of their namespace; a config reload
re-evaluates; two serve processes of which only the Lease holder writes,
and killing it hands over within the lease duration; without the CRD one
log line and the rest working; the chart's dashboard asks only for metrics
that /metrics exposes."""
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tap  # noqa: E402
from test_serve_cluster import PYTHON, STAND_IN  # noqa: E402
from test_webhook_serve import Server, make_ca, make_cert, metric  # noqa: E402

SLOW = os.environ.get("DSGUARD_SANITIZE") == "1" or os.environ.get("DSGUARD_VALGRIND") == "1"
WAIT = 40 if SLOW else 15
LEASE_DURATION = 15  # kube_lease_options' default, what serve uses
DASHBOARD = os.path.join(tap.ROOT, "charts", "dsguard", "dashboards", "dsguard.json")
RULES = ("DS001", "DS002", "DS003")


def daemonset(spec=None, annotations=None, labels=None):
    """A DaemonSet object body for the stand-in's object control."""
    meta = {"labels": labels or {"app": "agent"}}
    if annotations:
        meta["annotations"] = annotations
    return {"metadata": meta,
            "spec": {"selector": {"matchLabels": {"app": "agent"}},
                     "template": {"metadata": {"labels": {"app": "agent"}},
                                  "spec": dict({"containers": [{"name": "agent", "image": "busybox"}]},
                                               **(spec or {}))}}}


# Every rule violated, in several namespaces, an exemption and a clean one.
CLUSTER = {
    ("logging", "fluentd"): daemonset(),
    ("logging", "fluent-bit"): daemonset({"priorityClassName": "node-agents", "restartPolicy": "OnFailure"}),
    ("monitoring", "node-exporter"): daemonset({"priorityClassName": "node-agents"}),
    ("cni", "calico-node"): daemonset(annotations={"dsguard.io/ignore": "DS001"}),
    ("storage", "csi-node"): daemonset({"priorityClassName": "node-agents", "restartPolicy": "Never",
                                        "priority": 5}),
}


class StandIn:
    """fake_apiserver.py in a process of its own."""

    def __init__(self, d):
        self.proc = subprocess.Popen([PYTHON, STAND_IN, "--dir", d], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True)
        self.info = json.loads(self.proc.stdout.readline())

    def control(self, cmd, body=None):
        import http.client
        import ssl
        host, port = self.info["url"].rsplit("/", 1)[1].split(":")
        conn = http.client.HTTPSConnection(host, int(port), timeout=30,
                                           context=ssl.create_default_context(cafile=self.info["ca"]))
        conn.request("POST", "/_control/" + cmd, body=json.dumps(body or {}),
                     headers={"Content-Type": "application/json"})
        data = json.loads(conn.getresponse().read())
        conn.close()
        return data

    def put(self, ns, name, obj):
        return self.control("object", {"op": "put", "resource": "daemonsets", "namespace": ns, "name": name,
                                       "object": obj})

    def delete(self, ns, name):
        return self.control("object", {"op": "delete", "resource": "daemonsets", "namespace": ns, "name": name})

    def report(self, ns):
        return self.control("object", {"op": "get", "resource": "policyreports", "namespace": ns,
                                       "name": "dsguard"})["object"]

    def lease(self, ns="dsguard"):
        return self.control("object", {"op": "get", "resource": "leases", "namespace": ns,
                                       "name": "dsguard-audit"})["object"]

    def report_calls(self):
        return self.control("calls")["calls"].get("policyreports", {})

    def stop(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=10)


def renew_time(lease):
    """A Lease's spec.renewTime (MicroTime) as Unix seconds."""
    import datetime
    text = (lease or {}).get("spec", {}).get("renewTime", "1970-01-01T00:00:00.000000Z")
    return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()


def kubeconfig(path, info):
    with open(path, "w") as f:
        f.write(f"""apiVersion: v1
kind: Config
current-context: stand-in
clusters:
- name: stand-in
  cluster: {{server: "{info['url']}", certificate-authority: "{info['ca']}"}}
users:
- name: tester
  user: {{token: "{info['token']}"}}
contexts:
- name: stand-in
  context: {{cluster: stand-in, user: tester, namespace: dsguard}}
""")


def wait_for(cond, timeout=WAIT, step=0.05):
    deadline = time.time() + timeout
    while True:
        value = cond()
        if value or time.time() > deadline:
            return value
        time.sleep(step)


def lint_files(d, stand_in, extra=()):
    """dsguard lint --format json over the cluster's DaemonSets written to
    files, as a list answer carries them."""
    import http.client
    import ssl
    host, port = stand_in.info["url"].rsplit("/", 1)[1].split(":")
    conn = http.client.HTTPSConnection(host, int(port), timeout=30,
                                       context=ssl.create_default_context(cafile=stand_in.info["ca"]))
    conn.request("GET", "/apis/apps/v1/daemonsets", headers={"Authorization": "Bearer " + stand_in.info["token"]})
    items = json.loads(conn.getresponse().read())["items"]
    conn.close()
    files = tempfile.mkdtemp(dir=d)
    for i, obj in enumerate(items):
        obj.update({"kind": "DaemonSet", "apiVersion": "apps/v1"})
        with open(os.path.join(files, f"{i:03d}.json"), "w") as f:
            json.dump(obj, f)
    return json.loads(tap.run(["lint", "--format", "json", *extra, files]).stdout)


def key(f):
    return (f["namespace"], f["resourceName"], f["rule"], f["severity"], f["message"], f["exempt"])


def violations_of(report):
    """{(rule, severity): count} of non-exempt findings."""
    out = {}
    for f in report["findings"]:
        if not f["exempt"]:
            out[(f["rule"], f["severity"])] = out.get((f["rule"], f["severity"]), 0) + 1
    return out


def metric_violations(m):
    return {(r, s): int(metric(m, "dsguard_violations", rule=r, severity=s))
            for r in RULES for s in ("error", "warning") if metric(m, "dsguard_violations", rule=r, severity=s)}


def detail_series(m):
    return sorted(dict(labels).get("namespace") + "/" + dict(labels).get("name") + " " + dict(labels).get("rule")
                  for (name, labels) in m if name == "dsguard_violation")


def report_findings(reports):
    """The fail/warn/skip results of PolicyReports as lint-like keys."""
    out = []
    for rep in reports:
        for r in rep.get("results", []):
            if r["result"] == "pass":
                continue
            res = r["resources"][0]
            rule = r["rule"].split()[0]
            message = r["message"]
            if r["result"] == "skip":
                message = message.split(": ", 1)[1]
            out.append((res["namespace"], res["name"], rule, "error" if r["severity"] == "high" else "warning",
                        message, r["result"] == "skip"))
    return sorted(out)


def check_agreement(t, d, stand_in, srv, kc, what):
    """/audit, /metrics and the PolicyReports against lint over files."""
    lint = lint_files(d, stand_in)
    status, _, body = srv.request("GET", "/audit")
    doc = json.loads(body) if status == 200 else {}
    t.eq(status, 200, f"{what}: /audit answers 200")
    t.eq(doc.get("source"), "cluster", f"{what}: /audit says source cluster")
    t.eq(sorted(map(key, doc.get("findings", []))), sorted(map(key, lint["findings"])),
         f"{what}: /audit's findings are lint's over the same objects in files")
    for k in ("daemonsets", "errors", "warnings", "exempted"):
        t.eq(doc.get("summary", {}).get(k), lint["summary"][k], f"{what}: /audit's summary.{k} is lint's")
    p = tap.run(["audit", "--kubeconfig", kc, "--format", "json"])
    t.eq(body.decode(), p.stdout, f"{what}: /audit is byte for byte dsguard audit --format json")
    m = srv.metrics()
    t.eq(metric_violations(m), violations_of(lint), f"{what}: dsguard_violations{{rule,severity}} counts lint's")
    t.eq(int(metric(m, "dsguard_daemonsets_audited")), lint["summary"]["daemonsets"],
         f"{what}: dsguard_daemonsets_audited is lint's DaemonSet count")
    t.eq(detail_series(m), sorted(f"{f['namespace']}/{f['resourceName']} {f['rule']}"
                                  for f in lint["findings"] if not f["exempt"]),
         f"{what}: dsguard_violation has one series per violation lint finds")
    return lint


def report_matches(stand_in, lint):
    """Whether every namespace's PolicyReport says what lint says."""
    namespaces = sorted({f["namespace"] for f in lint["findings"]} | {ns for ns, _ in CLUSTER})
    reports = [stand_in.report(ns) for ns in namespaces]
    reports = [r for r in reports if r]
    return report_findings(reports) == sorted(map(key, lint["findings"])), reports


def check_reports_schema(t, reports, lint):
    shared = tap.shared_dir(t, "PolicyReports against the wgpolicyk8s.io/v1alpha2 schema")
    if shared is None:
        return
    from jsonschema import Draft7Validator
    with open(os.path.join(shared, "schemas", "crds", "wgpolicyk8s.io", "policyreport_v1alpha2.json")) as f:
        v = Draft7Validator(json.load(f))
    errs = [f"{r['metadata']['namespace']}: {e.message}" for r in reports for e in v.iter_errors(r)]
    t.ok(reports and not errs, "every PolicyReport validates against the wgpolicyk8s.io/v1alpha2 schema", errs)
    rep = next(r for r in reports if r["metadata"]["namespace"] == "logging")
    results = rep["results"]
    t.ok(rep["metadata"]["name"] == "dsguard" and
         rep["metadata"]["labels"].get("app.kubernetes.io/managed-by") == "dsguard",
         "a report is named dsguard, labelled app.kubernetes.io/managed-by: dsguard")
    s = rep["summary"]
    t.eq((s["fail"], s["pass"], s["warn"], s["skip"]),
         (sum(r["result"] == "fail" for r in results), sum(r["result"] == "pass" for r in results),
          sum(r["result"] == "warn" for r in results), sum(r["result"] == "skip" for r in results)),
         "the summary counts the results")
    t.eq(s["fail"] + s["pass"] + s["warn"] + s["skip"], 2 * 3, "logging: a result per rule per DaemonSet")
    r0 = results[0]
    t.ok(r0["policy"] == "dsguard" and re.match(r"^DS00\d [a-z-]+$", r0["rule"]) and r0["scored"] is True and
         r0["resources"][0]["kind"] == "DaemonSet" and r0["resources"][0]["uid"] and
         set(r0["timestamp"]) == {"seconds", "nanos"}, "a result names policy, rule, resource with uid, time",
         json.dumps(r0))
    cni = next(r for r in reports if r["metadata"]["namespace"] == "cni")
    t.ok(any(r["result"] == "skip" and r["rule"].startswith("DS001") for r in cni["results"]),
         "an exempted finding is a skip result")


def main():
    t = tap.Tap()
    d = tempfile.mkdtemp()
    ca = make_ca(d, "ca")
    cert, key_path = make_cert(d, "srv", ca)
    os.mkdir(os.path.join(d, "api"))
    stand_in = StandIn(os.path.join(d, "api"))  # its certificates apart from the webhook's
    servers = []
    try:
        for (ns, name), obj in CLUSTER.items():
            stand_in.put(ns, name, obj)
        kc = os.path.join(d, "kubeconfig")
        kubeconfig(kc, stand_in.info)
        cfg = os.path.join(d, "config.yaml")
        with open(cfg, "w") as f:
            f.write("rules:\n  priority-class:\n    severity: error\n")
        a = Server(d, ca[0], cert, key_path, "--kubeconfig", kc, "--config", cfg, "--policy-reports",
                   "--audit-metrics-detail", name="audit-a", cluster=None)
        servers.append(a)
        t.ok(a.port, "serve starts with --policy-reports and --audit-metrics-detail", open(a.log_path).read()[-2000:])
        if not a.port:
            t.done()
        t.ok(wait_for(lambda: metric(a.metrics(), "dsguard_daemonsets_audited") == len(CLUSTER)),
             "the audit evaluates every DaemonSet of the cluster")
        summary = [x for x in a.lines() if str(x.get("msg", "")).startswith("audit: ")]
        t.ok(len(summary) == 1 and summary[0].get("daemonsets") == len(CLUSTER) and
             summary[0].get("violations", {}).get("DS001") == 1,
             "one start-up line with the audit's totals", summary)

        lint = check_agreement(t, d, stand_in, a, kc, "at start")
        t.ok(violations_of(lint).get(("DS002", "error")) and violations_of(lint).get(("DS003", "error")) and
             violations_of(lint).get(("DS001", "error")), "the cluster violates every rule", lint)
        ok, reports = wait_for(lambda: report_matches(stand_in, lint)[0] and report_matches(stand_in, lint))
        t.ok(ok, "each namespace's PolicyReport says what lint says",
             json.dumps(report_findings(report_matches(stand_in, lint)[1])))
        check_reports_schema(t, reports, lint)

        # A MODIFIED event that fixes fluentd: its violation is gone within 2 s.
        time.sleep(2)  # the reports settle
        stand_in.control("calls", {"reset": True})
        fixed = daemonset({"priorityClassName": "node-agents"})
        started = time.time()
        stand_in.put("logging", "fluentd", fixed)
        cleared = wait_for(lambda: "logging/fluentd DS001" not in detail_series(a.metrics()), timeout=10, step=0.02)
        took = time.time() - started
        t.ok(cleared and (took <= 2 or SLOW), f"a MODIFIED fix clears its violation in {took:.2f} s (within 2 s)")
        lint = check_agreement(t, d, stand_in, a, kc, "after the fix")
        t.ok(wait_for(lambda: report_matches(stand_in, lint)[0]), "the PolicyReport follows the fix")
        calls = stand_in.report_calls()
        t.ok((calls.get("update", 0), calls.get("create", 0)) == (1, 0), "only logging's report was rewritten, once",
             calls)

        # Changes that change no verdict: no report written.
        stand_in.control("calls", {"reset": True})
        stand_in.put("monitoring", "node-exporter", daemonset({"priorityClassName": "node-agents"},
                                                              labels={"app": "agent", "tier": "node"}))
        obj = daemonset({"priorityClassName": "node-agents", "restartPolicy": "Never", "priority": 5})
        obj["spec"]["template"]["spec"]["containers"][0]["image"] = "busybox:2"
        stand_in.put("storage", "csi-node", obj)
        time.sleep(4)
        calls = stand_in.report_calls()
        t.ok(calls.get("update", 0) + calls.get("create", 0) + calls.get("delete", 0) == 0,
             "MODIFIED events that change no verdict write no report", calls)

        # The last DaemonSet of a namespace goes: so does its report.
        stand_in.delete("storage", "csi-node")
        t.ok(wait_for(lambda: stand_in.report("storage") is None), "the report goes with the last DaemonSet")
        t.ok(stand_in.report("monitoring") is not None, "other reports stay")

        # A config reload evaluates everything again.
        with open(cfg, "w") as f:
            f.write("rules:\n  restart-policy:\n    severity: warning\n")
        t.ok(wait_for(lambda: metric(a.metrics(), "dsguard_violations", rule="DS002", severity="warning") >= 1 and
                      metric(a.metrics(), "dsguard_violations", rule="DS002", severity="error") == 0),
             "a config reload re-evaluates every DaemonSet")
        lint = lint_files(d, stand_in, ["--config", cfg])
        t.eq(metric_violations(a.metrics()), violations_of(lint), "after the reload, the counts are lint's with it")

        check_dashboard(t, a)

        # Two replicas: only the Lease holder writes.
        holder = (stand_in.lease() or {}).get("spec", {}).get("holderIdentity", "")
        b = Server(d, ca[0], cert, key_path, "--kubeconfig", kc, "--config", cfg, "--policy-reports",
                   name="audit-b", cluster=None)
        servers.append(b)
        t.ok(b.port and wait_for(lambda: metric(b.metrics(), "dsguard_daemonsets_audited") == len(CLUSTER) - 1),
             "a second replica audits too")
        stand_in.control("calls", {"reset": True})
        stand_in.put("tracing", "otel-agent", daemonset())
        t.ok(wait_for(lambda: stand_in.report("tracing") is not None), "the leader writes the new namespace's report")
        mb = b.metrics()
        t.ok(metric(a.metrics(), "dsguard_audit_leader") == 1 and metric(mb, "dsguard_audit_leader") == 0 and
             sum(v for (n, _), v in mb.items() if n == "dsguard_policy_report_writes_total") == 0,
             "only the Lease holder writes", holder)
        t.ok(holder and holder == (stand_in.lease() or {}).get("spec", {}).get("holderIdentity"),
             "the Lease keeps its holder while it renews", holder)

        # Killing the holder hands over within the lease duration of its
        # last renewal (plus the new holder's request to the API server).
        a.proc.send_signal(signal.SIGKILL)
        killed = time.time()
        last_renewal = renew_time(stand_in.lease())
        taken = wait_for(lambda: (stand_in.lease() or {}).get("spec", {}).get("holderIdentity") not in (holder, None),
                         timeout=LEASE_DURATION + 30, step=0.05)
        took = time.time() - killed
        lease = stand_in.lease() or {}
        after_renewal = renew_time(lease) - last_renewal
        t.ok(taken and (took <= LEASE_DURATION + 0.5 or SLOW) and (after_renewal <= LEASE_DURATION + 0.5 or SLOW),
             f"killing the holder hands over {took:.2f} s after the kill, {after_renewal:.2f} s after its last "
             f"renewal (lease duration {LEASE_DURATION} s)")
        a.stop()
        t.ok(wait_for(lambda: metric(b.metrics(), "dsguard_audit_leader") == 1), "the standby says it leads")
        t.ok(lease.get("spec", {}).get("holderIdentity", holder) != holder and
             lease["spec"].get("leaseTransitions", 0) >= 1 and
             re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$", lease["spec"].get("renewTime", "")),
             "the new holder's Lease: another identity, a transition, a MicroTime renewal", lease)
        stand_in.put("tracing", "otel-agent", fixed)
        t.ok(wait_for(lambda: all(r["result"] != "fail" or not r["rule"].startswith("DS001")
                                  for r in (stand_in.report("tracing") or {"results": [{"result": "fail",
                                                                                         "rule": "DS001"}]})
                                  ["results"])),
             "the new leader writes the reports")
        t.eq(b.stop(), 0, "the new leader stops on SIGTERM")
        released = stand_in.lease() or {}
        t.eq(released.get("spec", {}).get("holderIdentity"), "", "SIGTERM releases the Lease")

        check_no_crd(t, d, ca, cert, key_path, stand_in, kc)
    finally:
        for s in servers:
            s.stop()
        stand_in.stop()
    t.done()


def check_no_crd(t, d, ca, cert, key_path, stand_in, kc):
    """Without the PolicyReport CRD: one clear log line, the rest works."""
    stand_in.control("crd", {"resource": "policyreports", "installed": False})
    c = Server(d, ca[0], cert, key_path, "--kubeconfig", kc, "--policy-reports", name="audit-nocrd", cluster=None)
    try:
        t.ok(c.port and wait_for(lambda: metric(c.metrics(), "dsguard_audit_leader") == 1), "without the CRD: leader")
        t.ok(wait_for(lambda: [x for x in c.lines() if "does not serve" in str(x.get("msg"))]),
             "without the CRD: a log line says so")
        time.sleep(3)
        lines = [x for x in c.lines() if "does not serve" in str(x.get("msg"))]
        t.ok(len(lines) == 1 and "PolicyReport CRD is not installed" in lines[0]["msg"],
             "without the CRD: one clear log line", lines)
        status, _, body = c.request("GET", "/audit")
        t.ok(status == 200 and json.loads(body)["summary"]["daemonsets"] >= 1, "without the CRD: /audit works")
        t.ok(metric(c.metrics(), "dsguard_daemonsets_audited") >= 1 and
             metric(c.metrics(), "dsguard_policy_reports_served") == 0, "without the CRD: the metrics work")
    finally:
        t.eq(c.stop(), 0, "without the CRD: exits 0")
        stand_in.control("crd", {"resource": "policyreports", "installed": True})


# The metric names a PromQL expression reads (what precedes "{" or a space,
# not a function, keyword or label), from the dashboard's expressions.
PROMQL_WORDS = {"sum", "rate", "irate", "increase", "histogram_quantile", "by", "without", "max", "min", "avg",
                "count", "time", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "clamp_min",
                "label_replace", "topk", "bottomk", "vector", "le", "bool", "offset", "absent", "changes", "delta",
                "sort_desc", "count_values", "max_over_time", "min_over_time", "avg_over_time"}


def expression_metrics(expr):
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)       # label values
    expr = re.sub(r"\{[^}]*\}", "", expr)                    # matchers
    expr = re.sub(r"\[[^\]]*\]", "", expr)                   # ranges
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", expr)
    names = set(re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", expr))
    return {n for n in names if n not in PROMQL_WORDS and not n.startswith("__") and not re.fullmatch(r"\d.*", n)
            and n.startswith("dsguard_")}


def dashboard_exprs(dash):
    out = []
    for panel in dash.get("panels", []):
        for target in panel.get("targets", []):
            out.append(target["expr"])
    return out


def check_dashboard(t, srv):
    """The dashboard's queries name only metrics a running serve exposes."""
    with open(DASHBOARD) as f:
        dash = json.load(f)
    exprs = dashboard_exprs(dash)
    srv.request("POST", "/validate", b"{}")   # a request of each kind the dashboard plots
    srv.metrics()
    exposed = {n for n, _ in srv.metrics()}
    exposed |= {n[:-len(s)] for n in exposed for s in ("_bucket", "_sum", "_count") if n.endswith(s)}
    used = set().union(*map(expression_metrics, exprs)) if exprs else set()
    t.ok(exprs and used and used <= exposed, f"the dashboard's {len(exprs)} queries use only exposed metrics",
         sorted(used - exposed))


if __name__ == "__main__":
    main()
