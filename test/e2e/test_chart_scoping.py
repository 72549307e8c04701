"""The chart's webhook scoping (docs/install.md): namespaceSelector and
objectSelector as given, merged with the namespaces always left out;
excludeNamespaces names in the selector and its globs as a config exemption
dsguard matches itself; matchConditions rendered only for Kubernetes 1.30
and later, their default evaluated by a CEL implementation (the one
test_policy_cel.py uses) on the requests it must let through or skip; the
exemption list and the annotation's limits set through values. Oracles: the
Kubernetes JSON schemas (the newest folder that has each kind), helm lint
--strict, the CEL evaluator, and dsguard reading the rendered config."""
import copy
import json
import os
import subprocess
import sys
import tempfile

import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tap import BIN, ROOT, Tap, shared_dir  # noqa: E402
from test_chart import CHART, get_helm, helm_run  # noqa: E402
from test_policy_cel import get_cel  # noqa: E402

VALUES = os.path.join(ROOT, "test", "chart", "values-scoping.yaml")
WEBHOOKS = ("ValidatingWebhookConfiguration", "MutatingWebhookConfiguration")


def render(helm, version, *extra):
    rc, out, err = helm_run(helm, ["template", "dsguard", CHART, "--namespace", "dsguard-system",
                                   "--kube-version", version, "-f", VALUES, *extra])
    return rc, [d for d in yaml.safe_load_all(out) if d] if rc == 0 else [], err


def schema_for(shared, obj):
    """The schema of obj's kind from the newest schema folder that has it."""
    group, _, version = obj["apiVersion"].rpartition("/")
    name = f"{obj['kind'].lower()}-{group.split('.')[0]}-{version}.json" if group else \
        f"{obj['kind'].lower()}-{version}.json"
    base = os.path.join(shared, "schemas", "kubernetes")
    for folder in sorted(os.listdir(base), key=lambda v: [int(x) for x in v[1:].split("-")[0].split(".")],
                         reverse=True):
        path = os.path.join(base, folder, name)
        if os.path.exists(path):
            with open(path) as f:
                return folder, json.load(f)
    return None, None


def check_schemas(t, shared, objs):
    from jsonschema import Draft7Validator
    errors, folders = [], {}
    for o in objs:
        folder, schema = schema_for(shared, o)
        if schema is None:
            continue
        folders[o["kind"]] = folder
        errors += [f"{o['kind']}: {e.message}" for e in Draft7Validator(schema).iter_errors(o)]
    t.ok(not errors and all(folders.get(k, "").startswith("v1.34") for k in WEBHOOKS),
         "every rendered object is valid against its Kubernetes schema (webhook configurations: v1.34.0)",
         "\n".join(errors[:5]) + f"\n{folders}")


def check_selectors(t, webhooks):
    for w in webhooks:
        sel = w["namespaceSelector"]
        exprs = sel.get("matchExpressions", [])
        names = [e for e in exprs if e["key"] == "kubernetes.io/metadata.name"]
        t.ok(sel.get("matchLabels") == {"dsguard.io/enforce": "true"}
             and {"key": "tier", "operator": "NotIn", "values": ["sandbox"]} in exprs
             and len(names) == 1 and names[0]["operator"] == "NotIn"
             and names[0]["values"] == ["dsguard-system", "kube-system", "cni-system"],
             f"{w['name']}: namespaceSelector is the one given, plus the names left out (globs are not "
             "names)", sel)
        t.eq(w.get("objectSelector"), {"matchExpressions": [
            {"key": "app.kubernetes.io/managed-by", "operator": "NotIn", "values": ["vendor"]}]},
            f"{w['name']}: objectSelector is the one given")


def ds(labels=None, annotations=None, template_label="a"):
    meta = {"name": "agent", "namespace": "apps"}
    if annotations is not None:
        meta["annotations"] = annotations
    return {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": meta,
            "spec": {"selector": {}, "template": {"metadata": {"labels": {"l": template_label}},
                                                  "spec": {"containers": [{"name": "c", "image": "i"}]}}}}


def check_match_conditions(t, modules, webhooks):
    """The default condition lets CREATEs and UPDATEs that change the
    template or dsguard.io/ignore through, and skips the others."""
    conds = webhooks[0]["matchConditions"]
    t.eq([c["name"] for c in conds], ["changes-template-or-exemption", "not-dry-run"],
         "matchConditions: the default, then the extra ones")
    for w in webhooks[1:]:
        t.eq(w["matchConditions"], conds, f"{w['name']}: the same matchConditions")
    if not modules:
        return
    base = ds()
    objects = [base, ds(template_label="b"), ds(annotations={"dsguard.io/ignore": "DS001"}),
               ds(annotations={"other": "x"}), ds(annotations={"dsguard.io/ignore": "DS002"})]
    cases = [  # (object, oldObject, operation, called)
        (0, None, "CREATE", True), (0, 0, "UPDATE", False), (1, 0, "UPDATE", True), (2, 0, "UPDATE", True),
        (0, 2, "UPDATE", True), (3, 0, "UPDATE", False), (4, 2, "UPDATE", True), (2, 2, "UPDATE", False)]
    job = {"policies": {"conds": {"matchConditions": [conds[0]]}}, "objects": objects,
           "cases": [{"id": i, "object": o, "oldObject": old,
                      "request": {"operation": op, "dryRun": False, "namespace": "apps", "name": "agent"},
                      "params": []} for i, (o, old, op, _) in enumerate(cases)],
           "evaluate": [[i, "conds"] for i in range(len(cases))]}
    p = subprocess.run(["node", os.path.join(ROOT, "test", "policy", "cel_eval.js"), modules],
                       input=json.dumps(job), capture_output=True, text=True, timeout=300)
    results = json.loads(p.stdout)["results"] if p.returncode == 0 else []
    got = [(r["matched"], r["error"]) for r in sorted(results, key=lambda r: r["case"])]
    t.eq(got, [(called, None) for *_, called in cases],
         "the default matchCondition (CEL): CREATE and UPDATEs that change the template or dsguard.io/ignore "
         "call the webhook, the others do not")


def check_config(t, objs):
    """The rendered config loads in dsguard; the exclude globs exempt every
    rule in their namespaces, by config, naming why."""
    cm = next(o for o in objs if o["kind"] == "ConfigMap" and o["metadata"]["name"].endswith("-config"))
    with tempfile.TemporaryDirectory() as d:
        cfg = os.path.join(d, "config.yaml")
        with open(cfg, "w") as f:
            f.write(cm["data"]["config.yaml"])
        stream = yaml.safe_dump_all([dict(ds(), metadata={"name": n, "namespace": ns})
                                     for ns, n in (("legacy-x", "a"), ("ci-7", "b"), ("ci-77", "c"))])
        p = subprocess.run([BIN, "lint", "--format", "json", "--config", cfg, "-"], input=stream,
                           capture_output=True, text=True, timeout=60)
    rep = json.loads(p.stdout) if p.stdout.startswith("{") else {}
    by = {(f["namespace"], f["exempt"], f.get("exemptReason")) for f in rep.get("findings", [])}
    why = "left out by the chart's webhook.excludeNamespaces"
    t.eq(by, {("legacy-x", True, why), ("ci-7", True, why), ("ci-77", False, None)},
         "excludeNamespaces globs become a config exemption that dsguard matches (legacy-*, ci-?)")
    t.ok("allowExemptionAnnotation: {\"groups\":[\"platform-admins\"]" in cm["data"]["config.yaml"]
         and "vendor chart pins its own priority" in cm["data"]["config.yaml"],
         "config.exemptions and the annotation's limits are set through values", cm["data"]["config.yaml"])


def main():
    t = Tap()
    helm, err = get_helm()
    if not t.ok(helm is not None, "helm is available", err):
        t.done()
    rc, out, err = helm_run(helm, ["lint", "--strict", CHART, "-f", VALUES])
    t.ok(rc == 0, "helm lint --strict with the scoping values", out[-1500:] + err[-1500:])
    rc, objs, err = render(helm, "1.34.0")
    if not t.ok(rc == 0 and objs, "helm template --kube-version 1.34 renders", err[-1500:]):
        t.done()
    t.ok("warning" not in err.lower(), "no warning from helm (a mapping for allowExemptionAnnotation)", err)
    webhooks = [w for o in objs if o["kind"] in WEBHOOKS for w in o["webhooks"]]
    t.eq(len(webhooks), 2, "both webhooks rendered")
    shared = shared_dir(t, "the rendered objects against the Kubernetes schemas")
    if shared:
        check_schemas(t, shared, objs)
    check_selectors(t, webhooks)
    check_match_conditions(t, get_cel(t), webhooks)
    check_config(t, objs)
    rc, old, err = render(helm, "1.29.0")
    t.ok(rc == 0 and old and not any("matchConditions" in w for o in old if o["kind"] in WEBHOOKS
                                     for w in o["webhooks"]),
         "--kube-version 1.29: no matchConditions rendered", err[-800:])
    rc, plain, err = helm_run(helm, ["template", "dsguard", CHART, "--kube-version", "1.34.0"])
    defaults = [w for d in yaml.safe_load_all(plain) if d and d["kind"] in WEBHOOKS for w in d["webhooks"]]
    t.ok(rc == 0 and all([c["name"] for c in w["matchConditions"]] == ["changes-template-or-exemption"]
                         and "objectSelector" not in w for w in defaults),
         "by default: the one default matchCondition, no objectSelector", defaults[:1])
    t.done()


main()
