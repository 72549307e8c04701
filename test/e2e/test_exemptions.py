"""Governed exemptions end to end: one fixture set, one config, and the same
exempt / not-exempt verdicts (with what exempted each finding and why) from
`dsguard lint` over the files, `dsguard audit` over the same objects in the
stand-in API server (fake_apiserver.py), and `/validate` of a real `dsguard
serve` over TLS watching that stand-in, for every case of the decision table
the three share (config entries by namespace, name and label globs, an
expired entry, the annotation within its limits, the config before the
annotation, DS003 across DaemonSets). Then what only one of them does: the
expired entry's warning at its config position (lint, audit) and logged once
and counted (serve); a requester the config does not list, who may not add
the annotation; SARIF suppressions valid against the SARIF 2.1.0 schema;
JUnit valid against junit.xsd; `dsguard exemptions` over files and over the
cluster."""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tap  # noqa: E402
from test_serve_cluster import ClusterServer, StandIn, closed_port, wait_for, write_kubeconfig  # noqa: E402
from test_webhook_serve import make_ca, make_cert, metric, review_request  # noqa: E402

IGNORE, REASON = "dsguard.io/ignore", "dsguard.io/ignore-reason"
CONFIG = """exemptions:
  - rules: [DS001]
    namespaces: ["kube-*"]
    names: ["cilium*", calico-node]
    labels: {app.kubernetes.io/part-of: cni}
    reason: vendor chart pins its own priority
    expires: "2999-12-31"
  - rules: [dedicated-namespace]
    labels: {dsguard.test/shared: "on-purpose"}
    reason: these agents share on purpose
  - rules: [all]
    namespaces: [legacy]
    reason: being retired
    expires: 2001-01-01T00:00:00Z
  - rules: [DS002]
    names: ["csi-?"]
    reason: the CSI sidecar restarts on failure
allowExemptionAnnotation:
  namespaces: ["team-*", "kube-*"]
  users: [admin]
  requireReason: true
"""
EXPIRED_LINE = 11  # where the expired entry starts in CONFIG


def daemonset(ns, name, labels=None, annotations=None, restart=None):
    """A DaemonSet without a priority class (DS001 finds it), restarting
    OnFailure when restart is set (DS002 finds it)."""
    pod = {"containers": [{"name": "agent", "image": "example/agent"}]}
    if restart:
        pod["restartPolicy"] = restart
    meta = {"name": name, "namespace": ns}
    if labels:
        meta["labels"] = labels
    if annotations:
        meta["annotations"] = annotations
    return {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": meta,
            "spec": {"selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}}, "spec": pod}}}


CNI = {"app.kubernetes.io/part-of": "cni"}
SHARED = {"dsguard.test/shared": "on-purpose"}
FIXTURES = [
    daemonset("kube-net", "cilium", CNI),                                   # config: all three selectors
    daemonset("kube-net", "cilium-agent"),                                  # no label: not exempt
    daemonset("kube-net", "calico-node", CNI, {IGNORE: "DS001", REASON: "mine"}),  # config before annotation
    daemonset("kube-net", "calico-nodes", CNI),                             # name glob does not match
    daemonset("kube-net", "cni-x", {"app.kubernetes.io/part-of": "cnix"}),  # label value differs
    daemonset("shared", "a", SHARED),                                       # DS003 exempt by label
    daemonset("shared", "b", SHARED),
    daemonset("shared", "c"),                                               # DS003 not exempt
    daemonset("legacy", "old"),                                             # entry expired
    daemonset("team-a", "agent", None, {IGNORE: "DS001", REASON: "waiting for the class"}),
    daemonset("team-b", "agent", None, {IGNORE: "DS001"}),                  # requireReason
    daemonset("team-c", "agent", None, {IGNORE: "DS001", REASON: " \t"}),   # a blank reason is none
    daemonset("apps", "agent", None, {IGNORE: "all", REASON: "x"}),         # namespace not listed
    daemonset("team-d", "agent", None, {IGNORE: "restart-policy", REASON: "r"}, restart="OnFailure"),
    daemonset("storage", "csi-a", None, None, restart="OnFailure"),         # ? is one character
    daemonset("storage2", "csi-ab", None, None, restart="OnFailure"),
]


def lint_verdicts(report):
    """{(ns, name, rule): (exempt, by, reason)} of a lint or audit JSON report."""
    return {(f["namespace"], f["resourceName"], f["rule"]):
            (f["exempt"], f.get("exemptedBy"), f.get("exemptReason")) for f in report["findings"]}


EXEMPTED = re.compile(r"^(DS\d{3}) [a-z-]+ exempted by (config|annotation dsguard\.io/ignore)(?: \((.*)\))?: ")


def webhook_verdicts(obj, response):
    """The same map from a /validate answer: exemptions from its warnings,
    the rules denied from its message."""
    ns, name = obj["metadata"]["namespace"], obj["metadata"]["name"]
    out = {}
    for w in response.get("warnings") or []:
        m = EXEMPTED.match(w)
        if m:
            out[(ns, name, m.group(1))] = (True, "config" if m.group(2) == "config" else "annotation", m.group(3))
    message = (response.get("status") or {}).get("message", "")
    for rule in ("DS001 priority-class", "DS002 restart-policy", "DS003 dedicated-namespace"):
        if f" {rule}: " in message:
            out[(ns, name, rule[:5])] = (False, None, None)
    return out


def check_parity(t, lint, audit, webhook):
    t.eq(audit, lint, "audit gives lint's verdicts over the same objects (exempt, by what, why)")
    t.eq(webhook, lint, "/validate gives lint's verdicts for each fixture as a CREATE (exempt, by what, why)")
    kinds = {v for v in lint.values()}
    want = [(True, "config", "vendor chart pins its own priority"), (True, "config", "these agents share on purpose"),
            (True, "config", "the CSI sidecar restarts on failure"), (True, "annotation", "waiting for the class"),
            (True, "annotation", "r"), (False, None, None)]
    t.ok(all(k in kinds for k in want), "the fixtures hold every kind of verdict", sorted(kinds, key=str))
    t.eq(lint.get(("kube-net", "calico-node", "DS001")), (True, "config", "vendor chart pins its own priority"),
         "a config entry comes before the annotation")
    t.eq([lint.get(("shared", n, "DS003"))[0] for n in "abc"], [True, True, False],
         "DS003 (checked once every file is read) exempts by label as the object rules do")
    t.eq({k: v for k, v in lint.items() if k[0] in ("team-b", "team-c", "apps", "legacy")},
         {(ns, "agent" if ns != "legacy" else "old", "DS001"): (False, None, None)
          for ns in ("team-b", "team-c", "apps", "legacy")},
         "no reason, a blank reason, a namespace not listed, an expired entry: not exempt")


def write_fixtures(d):
    files = os.path.join(d, "manifests")
    os.mkdir(files)
    for i, obj in enumerate(FIXTURES):
        with open(os.path.join(files, f"{i:02d}.json"), "w") as f:
            json.dump(obj, f)
    return files


def check_lint_outputs(t, d, config, files, shared):
    """The expired entry's warning and the machine formats."""
    p = tap.run(["lint", "--config", config, files])
    t.ok(f"{config}:{EXPIRED_LINE}:5: warning: this exemption expired (expires: 2001-01-01T00:00:00Z)" in p.stdout,
         "lint warns of the expired exemption at its place in the config", p.stdout)
    t.ok("(exempted by config " + config + ":2: vendor chart pins its own priority)" in
         tap.run(["lint", "-v", "--config", config, files]).stdout,
         "lint -v names the config entry and its reason")
    p = tap.run(["lint", "--format", "sarif", "--config", config, files])
    sarif = json.loads(p.stdout)
    sups = [r["suppressions"][0] for r in sarif["runs"][0]["results"] if "suppressions" in r]
    t.ok({("external", "vendor chart pins its own priority"), ("inSource", "waiting for the class")}
         <= {(s["kind"], s["justification"]) for s in sups},
         "SARIF: a config exemption is an external suppression, the annotation an in-source one, each "
         "justified by its reason", sups)
    if shared:
        from jsonschema import Draft4Validator
        with open(os.path.join(shared, "schemas", "sarif-schema-2.1.0.json")) as f:
            errors = [e.message for e in Draft4Validator(json.load(f)).iter_errors(sarif)]
        t.ok(not errors, "SARIF with suppressions is valid against the SARIF 2.1.0 schema", errors[:3])
        junit = os.path.join(d, "report.xml")
        with open(junit, "w") as f:
            f.write(tap.run(["lint", "--format", "junit", "--config", config, files]).stdout)
        x = subprocess.run(["xmllint", "--noout", "--schema", os.path.join(shared, "schemas", "junit.xsd"), junit],
                           capture_output=True, text=True)
        t.ok(x.returncode == 0, "JUnit with exemptions is valid against junit.xsd", x.stderr)
        t.ok('<skipped type="exempt" message="exempted by dsguard.io/ignore: waiting for the class">' in open(junit).read(),
             "JUnit: an exempt finding is skipped with its reason")
    p = tap.run(["exemptions", "--config", config, files])
    t.ok(p.returncode == 1 and f"{config}:{EXPIRED_LINE}:5: EXPIRED all rules" in p.stdout
         and "findings it exempts: 2" in p.stdout,
         "dsguard exemptions over files: each entry with what it exempts, the expired one flagged (exit 1)",
         p.stdout + p.stderr)


def check_audit(t, d, config, info):
    kc = os.path.join(d, "kubeconfig")
    write_kubeconfig(kc, info, f"https://127.0.0.1:{closed_port()}")
    p = tap.run(["audit", "--kubeconfig", kc, "--context", "stand-in", "--config", config, "--format", "json"])
    audit = json.loads(p.stdout)
    t.ok(any(w["file"] == config and w["line"] == EXPIRED_LINE and "expired" in w["message"]
             for w in audit["inputWarnings"]),
         "audit warns of the expired exemption at its place in the config", audit["inputWarnings"])
    p = tap.run(["exemptions", "--config", config, "--cluster", "--kubeconfig", kc, "--context", "stand-in",
                 "--format", "json"])
    listed = json.loads(p.stdout) if p.stdout else {}
    counts = [len(e["exempts"]) for e in listed.get("exemptions", [])]
    t.ok(p.returncode == 1 and counts == [2, 2, 0, 1] and listed["exemptions"][2]["expired"]
         and len(listed["exemptions"][2]["wouldExempt"]) == 1,
         "dsguard exemptions --cluster: the same, over the cluster's DaemonSets", p.stdout + p.stderr)
    return lint_verdicts(audit), kc


def check_serve(t, d, config, kc):
    """/validate's verdicts, the expired entry logged once and counted, and
    the annotation a requester may not add."""
    certs = os.path.join(d, "serve-certs")  # beside the stand-in's own ca.crt
    os.mkdir(certs)
    ca = make_ca(certs, "ca")
    cert, key = make_cert(certs, "server", ca)
    srv = ClusterServer(d, ca[0], cert, key, "--config", config, "--kubeconfig", kc, "--context", "stand-in",
                        "--cluster", "on", name="serve")
    verdicts = {}
    try:
        t.ok(wait_for(lambda: srv.request("GET", "/readyz")[0] == 200), "serve has listed the cluster")
        for obj in FIXTURES:
            _, body = srv.review("/validate", review_request(obj, dry_run=True))
            verdicts.update(webhook_verdicts(obj, body["response"]))
        srv.review("/validate", review_request(daemonset("legacy", "old"), dry_run=True))
        logged = lambda: [x for x in srv.lines() if "has expired" in x.get("msg", "")]  # noqa: E731
        wait_for(lambda: logged())
        time.sleep(0.2)
        t.ok(len(logged()) == 1 and f"{config}:{EXPIRED_LINE}" in logged()[0]["msg"],
             "serve logs the expired exemption once, naming its place", logged())
        t.ok(metric(srv.metrics(), "dsguard_exemptions_expired_total", rule="DS001", name="priority-class") == 2,
             "serve counts each finding the expired exemption no longer exempts")
        t.ok(metric(srv.metrics(), "dsguard_exemptions_total", rule="DS001", name="priority-class", by="config") >= 2,
             "serve counts exemptions by config apart from those by annotation")
        obj = daemonset("team-a", "agent", None, {IGNORE: "DS001", REASON: "mine"})
        req = review_request(obj, dry_run=True)
        req["request"]["userInfo"] = {"username": "bob", "groups": ["system:authenticated"]}
        r = srv.review("/validate", req)[1]["response"]
        t.ok(not r["allowed"] and "only the users and groups allowExemptionAnnotation lists may add an exemption"
             in r["status"]["message"] and '"bob"' in r["status"]["message"],
             "a requester not listed may not add the annotation", r)
        req = review_request(obj, op="UPDATE", old=obj, dry_run=True)
        req["request"]["userInfo"] = {"username": "bob"}
        r = srv.review("/validate", req)[1]["response"]
        t.ok(r["allowed"] and any(w.startswith("DS001 priority-class exempted by annotation") for w in r["warnings"]),
             "on UPDATE the annotation already there counts, whoever asks", r)
    finally:
        t.eq(srv.stop(), 0, "serve exits 0")
    return verdicts


def check_docs(t, d):
    """The examples of README.md and docs/config.md work as written."""
    readme = open(os.path.join(tap.ROOT, "README.md")).read()
    section = readme[readme.index("## Exemptions with an owner"):readme.index("## Documentation")]
    script = re.search(r"```sh\n(.*?)```", section, re.S).group(1)
    work = os.path.join(d, "readme")
    shutil.copytree(os.path.join(tap.ROOT, "examples"), os.path.join(work, "examples"))
    os.symlink(tap.BIN, os.path.join(work, "dsguard"))
    p = subprocess.run(["sh", "-c", script], cwd=work, capture_output=True, text=True, timeout=60)
    t.ok("(exempted by config exemptions.yaml:2: the vendor chart pins its own priority "
         "(LOG-12))" in p.stdout and "findings it exempts: 1" in p.stdout,
         "README's exemptions example runs as written", p.stdout + p.stderr)
    config_md = open(os.path.join(tap.ROOT, "docs", "config.md")).read()
    blocks = [b for b in re.findall(r"```yaml\n(.*?)```", config_md, re.S)
              if b.startswith(("exemptions:", "allowExemptionAnnotation:"))]
    bad = []
    for i, block in enumerate(blocks):
        path = os.path.join(d, f"doc-{i}.yaml")
        with open(path, "w") as f:
            f.write(block)
        p = tap.run(["lint", "--config", path, "-"], stdin="")
        if p.returncode != 0:
            bad.append(p.stderr)
    t.ok(len(blocks) >= 3 and not bad, f"docs/config.md's {len(blocks)} exemption examples load", bad)


def main():
    t = tap.Tap()
    shared = tap.shared_dir(t, "SARIF and JUnit schemas")
    d = tempfile.mkdtemp(prefix="dsguard-exemptions-")
    stand_in = None
    try:
        config = os.path.join(d, "exemptions.yaml")
        with open(config, "w") as f:
            f.write(CONFIG)
        files = write_fixtures(d)
        lint = lint_verdicts(json.loads(tap.run(["lint", "--format", "json", "--config", config, files]).stdout))
        check_lint_outputs(t, d, config, files, shared)
        stand_in = StandIn(d)
        for seed in ("a/agent-a", "b/agent-b", "c/agent-c"):
            ns, name = seed.split("/")
            stand_in.control("delete", {"namespace": ns, "name": name})
        for obj in FIXTURES:
            stand_in.control("object", {"op": "put", "resource": "daemonsets", "namespace": obj["metadata"]["namespace"],
                                        "name": obj["metadata"]["name"], "object": obj})
        audit, kc = check_audit(t, d, config, stand_in.info)
        webhook = check_serve(t, d, config, kc)
        check_parity(t, lint, audit, webhook)
        check_docs(t, d)
    finally:
        if stand_in:
            stand_in.stop()
        shutil.rmtree(d)
    t.done()


main()
