"""dsguard policy's CEL, run by a real CEL implementation (@bufbuild/cel,
fetched by test/policy/get-cel.sh; test/policy/cel_eval.js evaluates each
policy as the API server does one request) over every DaemonSet of the
shared real-world corpus and of the project's fixtures and examples, plus
copies of some carrying dsguard.io/ignore values, as CREATE and UPDATE
requests, under several configs. The oracles are other programs:

- the verdicts (denied, warned, with which message) are derived from
  `dsguard lint --format json` over the same objects, worded as
  docs/webhook.md says the webhook words them;
- the messages are also compared with what `dsguard review` (the webhook's
  own code) answers for the same AdmissionReview;
- the mutating policies' patches, applied here (RFC 6902), give what
  `dsguard lint --fix` writes, read back by kubectl.
"""
import copy
import json
import os
import re
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor

import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tap import ROOT, Tap, run, shared_dir  # noqa: E402
from test_lint_corpus import is_daemonset, kubectl_objects  # noqa: E402

POLICY_DIR = os.path.join(ROOT, "test", "policy")
IGNORE = "dsguard.io/ignore"
KEPT = " (this update leaves spec.template as it was)"
# The configs the policies are generated from; those in MUTATING also get
# --mutating (they name a default class, and patch: error, enforced).
CONFIGS = {
    "default": None,
    "allowed": {"rules": {"priority-class": {"default": "system-node-critical",
                                             "allowed": ["system-node-critical", "system-cluster-critical"]},
                          "dedicated-namespace": {"exemptNamespaces": ["kube-system"]}}},
    "default-class": {"rules": {"priority-class": {"default": "node-agents"}}},
    "warning": {"rules": {"priority-class": {"severity": "warning"},
                          "dedicated-namespace": {"severity": "warning"}}},
    "enforce-false": {"enforce": False},
    "annotation-off": {"allowExemptionAnnotation": False, "rules": {"priority-class": {"default": "node-agents"}}},
}
MUTATING = {"allowed", "default-class", "annotation-off"}
REASON = "dsguard.io/ignore-reason"
# The user every request comes from (Run below), listed where a config
# limits who may exempt by annotation: lint, which knows no user, then
# agrees with the admission policies.
USER, GROUP = "system:admin", "system:masters"
# dsguard.io/ignore values, read by the engine (rules/engine.c) one way and
# by the policies' regular expression another: they must agree.
ANNOTATIONS = ["DS001", "ds001", " priority-class ", "DS002", "all", "ALL", "DS003", "dedicated-namespace",
               "DS001,DS003", " , DS001 ,", "DS0011", "priority-class-x", "Priority-Class", "\tdedicated-namespace\n",
               "x, all", "DS001 DS003", "", "\vDS001", "DS001\v", "restart-policy, priority-class"]


def get_cel(t):
    """The node_modules folder of the CEL evaluator, or None after one skip
    (a failure with DSGUARD_REQUIRE_SHARED=1, as for shared data)."""
    p = subprocess.run(["sh", os.path.join(POLICY_DIR, "get-cel.sh")], capture_output=True, text=True, timeout=600)
    if p.returncode == 0:
        return p.stdout.strip()
    why = (p.stderr.strip().splitlines() or ["get-cel.sh failed"])[-1]
    if os.environ.get("DSGUARD_REQUIRE_SHARED") == "1":
        t.ok(False, "the CEL evaluator is available (test/policy/get-cel.sh)", p.stderr)
    else:
        t.skip("policy CEL parity", f"no CEL evaluator: {why}")
    return None


def manifest_paths(t):
    paths = []
    shared = shared_dir(t, "policy CEL parity over the real-world corpus")
    if shared:
        corpus = os.path.join(shared, "corpus", "realworld")
        paths += [os.path.join(corpus, f) for f in sorted(os.listdir(corpus)) if f.endswith((".yaml", ".yml"))]
    for d in ("test/fixtures/lint", "test/fixtures/fix", "test/fixtures/policy", "examples/manifests"):
        full = os.path.join(ROOT, d)
        paths += [os.path.join(full, f) for f in sorted(os.listdir(full)) if f.endswith((".yaml", ".yml", ".json"))]
    return paths, shared is not None


def daemonsets(paths):
    """Every DaemonSet kubectl reads from paths (its marker annotation
    taken off again), and the files kubectl refuses."""
    out, refused = [], []
    for path in paths:
        try:
            objs = kubectl_objects(path)
        except RuntimeError:
            refused.append(os.path.basename(path))
            continue
        for o in objs:
            if not is_daemonset(o):
                continue
            ann = o.get("metadata", {}).get("annotations", {})
            ann.pop("oracle", None)
            if not ann:
                o["metadata"].pop("annotations", None)
            out.append(o)
    return out, refused


def namespace(o):
    return (o.get("metadata") or {}).get("namespace") or "default"


def name(o):
    n = (o.get("metadata") or {}).get("name")
    return n if isinstance(n, str) else ""


def with_annotations(objs):
    """Copies of some DaemonSets (half of them in namespaces they share)
    carrying each value of ANNOTATIONS, every other one with a reason (one
    of them blank, which counts as none)."""
    by_ns = {}
    for o in objs:
        by_ns.setdefault(namespace(o), set()).add(name(o))
    shared = [o for o in objs if len(by_ns[namespace(o)]) > 1]
    variants = []
    for i, value in enumerate(ANNOTATIONS):
        for pool in (shared, objs):
            if not pool:
                continue
            o = copy.deepcopy(pool[(i * 7) % len(pool)])
            ann = o.setdefault("metadata", {}).setdefault("annotations", {})
            ann[IGNORE] = value
            if len(variants) % 2:
                ann[REASON] = " \t" if len(variants) % 10 == 1 else f"owner's call #{len(variants)}"
            variants.append(o)
    return variants


def exemption_configs(objs):
    """Configs with config exemptions, built from what the objects hold: a
    namespace glob, a name glob, a label, an entry that has expired (the
    policies leave it out; lint and the webhook warn that it exempts
    nothing), and the annotation within limits that the requests' user
    meets."""
    namespaces = sorted({namespace(o) for o in objs})
    labelled = [(k, v) for o in objs for k, v in ((o.get("metadata") or {}).get("labels") or {}).items()
                if isinstance(v, str) and re.fullmatch(r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?", v or "-")
                and re.fullmatch(r"([a-z0-9.-]+/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?", k)]
    key, value = sorted(labelled)[len(labelled) // 2] if labelled else ("app", "none")
    ns_glob = namespaces[len(namespaces) // 2][:3] + "*"
    first = {"rules": ["DS001"], "namespaces": [ns_glob, "kube-syste?"],
             "reason": "vendor charts pin their own priority", "expires": "2999-12-31"}
    return {
        "exemptions": {"exemptions": [
            first,
            {"rules": ["all"], "names": ["*exporter*", "fluent?bit", "a\\*"], "reason": "agents we do not own"},
            {"rules": ["dedicated-namespace", "DS001"], "labels": {key: value}, "reason": f"labelled {key}"},
            {"rules": ["all"], "namespaces": ["*"], "reason": "long gone", "expires": "2001-01-01T00:00:00Z"},
        ], "rules": {"priority-class": {"default": "node-agents"}}},
        "exemptions-limits": {"exemptions": [first], "allowExemptionAnnotation": {
            "namespaces": ["*e*", "default"], "users": [USER], "groups": ["not-this-one"], "requireReason": True}},
        "exemptions-groups": {"allowExemptionAnnotation": {"groups": [GROUP, "other"]}},
    }


def template(o):
    spec = o.get("spec")
    return spec.get("template") if isinstance(spec, dict) and "template" in spec else None


def template_kept(new, old):
    """The webhook's test: both objects have spec.template and it is equal."""
    return (isinstance(new.get("spec"), dict) and "template" in new["spec"] and isinstance(old.get("spec"), dict)
            and "template" in old["spec"] and new["spec"]["template"] == old["spec"]["template"])


def old_objects(o):
    """(oldObject of an update that keeps the template, of one that changes it)."""
    kept = copy.deepcopy(o)
    kept.setdefault("metadata", {}).setdefault("labels", {})["dsguard.io/test"] = "old"
    changed = copy.deepcopy(o)
    t = template(changed)
    if isinstance(t, dict):
        t.setdefault("metadata", {}).setdefault("annotations", {})["dsguard.io/test"] = "old"
    else:
        changed["spec"] = dict(changed.get("spec") or {}, template={"metadata": {"labels": {"old": "1"}}})
    return kept, changed


def selector_matches(sel, labels):
    """A LabelSelector against labels, as Kubernetes matches one."""
    if sel is None:
        return True
    for k, v in (sel.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for e in sel.get("matchExpressions") or []:
        k, op, vals = e["key"], e["operator"], e.get("values") or []
        if op == "In" and labels.get(k) not in vals:
            return False
        if op == "NotIn" and k in labels and labels[k] in vals:
            return False
        if op == "Exists" and k not in labels:
            return False
        if op == "DoesNotExist" and k in labels:
            return False
    return True


def apply_patch(doc, ops):
    """RFC 6902 add, replace and remove on object members and array items."""
    doc = copy.deepcopy(doc)
    for op in ops:
        tokens = [t.replace("~1", "/").replace("~0", "~") for t in op["path"].split("/")[1:]]
        parent = doc
        for t in tokens[:-1]:
            parent = parent[int(t)] if isinstance(parent, list) else parent[t]
        last = tokens[-1]
        if op["op"] == "add":
            if isinstance(parent, list):
                parent.insert(len(parent) if last == "-" else int(last), op["value"])
            else:
                parent[last] = op["value"]
        elif op["op"] == "replace":
            if isinstance(parent, list):
                parent[int(last)] = op["value"]
            else:
                if last not in parent:
                    raise KeyError(op["path"])
                parent[last] = op["value"]
        elif op["op"] == "remove":
            del parent[int(last) if isinstance(parent, list) else last]
        else:
            raise ValueError(f"unexpected op {op['op']}")
    return doc


def write_config(workdir, label, cfg):
    if cfg is None:
        return None
    path = os.path.join(workdir, f"{label}.yaml")
    with open(path, "w") as f:
        yaml.safe_dump(cfg, f)
    return path


def generate(config_path, mutating):
    args = ["policy", "--kube-version", "1.34"] + (["--config", config_path] if config_path else [])
    p = run(args + (["--mutating"] if mutating else []))
    if p.returncode != 0:
        raise RuntimeError(f"dsguard {' '.join(args)}: {p.stderr}")
    return [d for d in yaml.safe_load_all(p.stdout) if d]


def lint(objdir, config_path, *extra):
    p = run(["lint", "--format", "json"] + (["--config", config_path] if config_path else []) + list(extra)
            + [objdir])
    report = json.loads(p.stdout)
    by_file = {}
    for f in report["findings"]:
        by_file.setdefault(os.path.basename(f["file"]), []).append(f)
    return by_file, report


def expected(findings, op, kept, others):
    """(denials, warnings) the webhook gives for lint's findings, in its
    words (docs/webhook.md): DS001 and DS003 only, since the API server
    itself refuses what DS002 finds. DS003 (CREATE only) is reported once
    per other DaemonSet of the namespace, as params make it."""
    deny, warn = set(), set()
    for f in findings:
        rule, rname = f["rule"], f["name"]
        if rule == "DS002" or (rule == "DS003" and op != "CREATE"):
            continue
        msgs = {f["message"]}
        if rule == "DS003":
            ns = f["namespace"]
            m = re.search(rf"shared with DaemonSet {re.escape(ns)}/(.*); each", f["message"])
            msgs = {f["message"].replace(f"{ns}/{m.group(1)};", f"{ns}/{x};") for x in others}
        for msg in msgs:
            if f["exempt"]:
                why = f" ({f['exemptReason']})" if "exemptReason" in f else ""
                by = "config" if f["exemptedBy"] == "config" else f"annotation {IGNORE}"
                warn.add(f"{rule} {rname} exempted by {by}{why}: {msg}")
            elif f["severity"] != "error":
                warn.add(f"{rule} {rname}: {msg}")
            elif op == "UPDATE" and kept:
                warn.add(f"{rule} {rname}: {msg}{KEPT}")
            else:
                deny.add(f"DaemonSet {f['namespace']}/{f['resourceName']} is not allowed: {rule} {rname}: {msg}")
    return deny, warn


def evaluate(modules, policies, objects, cases, todo):
    job = {"policies": policies, "objects": objects, "cases": cases, "evaluate": todo}
    p = subprocess.run(["node", os.path.join(POLICY_DIR, "cel_eval.js"), modules], input=json.dumps(job),
                       capture_output=True, text=True, timeout=1200)
    if p.returncode != 0:
        raise RuntimeError(p.stderr)
    return json.loads(p.stdout)


def review(config_path, request):
    body = {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request}
    p = run(["review"] + (["--config", config_path] if config_path else []) + ["-"], stdin=json.dumps(body))
    if p.returncode not in (0, 1):
        raise RuntimeError(p.stderr)
    return json.loads(p.stdout)["response"]


def expressions(spec):
    out = [mc["expression"] for mc in spec.get("matchConditions") or []]
    out += [v["expression"] for v in spec.get("variables") or []]
    for v in spec.get("validations") or []:
        out += [v["expression"], v["messageExpression"]]
    out += [m["jsonPatch"]["expression"] for m in spec.get("mutations") or []]
    return out


class Run:
    """The objects and cases every config is evaluated over."""

    def __init__(self, objs, workdir):
        self.objs = objs
        self.objdir = os.path.join(workdir, "objects")
        os.mkdir(self.objdir)
        self.files = []
        # YAML files: lint --fix writes a class over a number or null as a
        # plain scalar, which a JSON file cannot hold.
        for i, o in enumerate(objs):
            self.files.append(f"ds-{i:04d}.yaml")
            with open(os.path.join(self.objdir, self.files[-1]), "w") as f:
                yaml.safe_dump(o, f, sort_keys=False)
        self.objects = list(objs)  # the objects table of the job: then the old ones
        self.cases = []
        by_ns = {}
        for i, o in enumerate(objs):
            by_ns.setdefault(namespace(o), []).append(i)
        for i, o in enumerate(objs):
            ns = namespace(o)
            req = {"uid": f"case-{i}", "kind": {"group": "apps", "version": "v1", "kind": "DaemonSet"},
                   "resource": {"group": "apps", "version": "v1", "resource": "daemonsets"},
                   "namespace": ns, "name": name(o), "dryRun": False,
                   "userInfo": {"username": USER, "groups": [GROUP]}}
            params = [j for j in by_ns[ns] if j != i]
            kept, changed = old_objects(o)
            self.objects += [kept, changed]
            self.cases.append({"id": 3 * i, "index": i, "object": i, "oldObject": None,
                               "request": dict(req, operation="CREATE"), "params": params})
            for k, old in ((1, kept), (2, changed)):
                self.cases.append({"id": 3 * i + k, "index": i, "object": i, "oldObject": len(self.objects) - 3 + k,
                                   "request": dict(req, operation="UPDATE"), "params": params,
                                   "kept": template_kept(o, old)})

    def others(self, case):
        me = name(self.objs[case["index"]])
        return {name(self.objs[j]) for j in case["params"]} - {me}


def check_config(t, modules, r, label, cfg, workdir, counts):
    config_path = write_config(workdir, label, cfg)
    mutating = label in MUTATING
    docs = generate(config_path, mutating)
    policies = {d["metadata"]["name"] + "/" + d["kind"]: d["spec"] for d in docs if not d["kind"].endswith("Binding")}
    bindings = {d["spec"]["policyName"] + "/" + d["kind"][:-len("Binding")]: d["spec"]
                for d in docs if d["kind"].endswith("Binding")}
    t.ok(set(policies) == set(bindings), f"{label}: each policy has its binding", f"{sorted(policies)} {sorted(bindings)}")
    findings, _ = lint(r.objdir, config_path)
    todo = []
    for c in r.cases:
        op, ns = c["request"]["operation"], c["request"]["namespace"]
        for key, spec in policies.items():
            b = bindings[key]
            rules = spec["matchConstraints"]["resourceRules"]
            if not any(op in rr["operations"] for rr in rules):
                continue
            if not selector_matches((b.get("matchResources") or {}).get("namespaceSelector"),
                                    {"kubernetes.io/metadata.name": ns}):
                continue
            if spec.get("paramKind") and not c["params"]:
                continue  # parameterNotFoundAction: Allow
            todo.append([c["id"], key])
    out = evaluate(modules, policies, r.objects, [{k: c[k] for k in ("id", "object", "oldObject", "request", "params")}
                                                  for c in r.cases], todo)
    counts["evaluations"] += len(todo)
    results = {}
    errors = []
    for res in out["results"]:
        results.setdefault(res["case"], []).append(res)
        if res["error"]:
            errors.append(f"{res['policy']} case {res['case']}: {res['error']}")
    t.ok(not errors, f"{label}: no CEL expression fails on any request ({len(todo)} evaluations)", "\n".join(errors))
    unevaluated = [f"{k}: {e}" for k, s in policies.items() for e in expressions(s) if e not in out["evaluated"]]
    t.ok(not unevaluated, f"{label}: every expression of every policy was evaluated", "\n".join(unevaluated[:5]))

    verdicts_wrong, case_by_id = [], {c["id"]: c for c in r.cases}
    for c in r.cases:
        deny, warn = set(), set()
        for res in results.get(c["id"], []):
            kind = res["policy"].split("/")[1]
            if kind != "ValidatingAdmissionPolicy" or not res["matched"]:
                continue
            actions = bindings[res["policy"]]["validationActions"]
            (deny if "Deny" in actions else warn).update(res["failures"])
        op = c["request"]["operation"]
        want = expected(findings.get(r.files[c["index"]], []), op, c.get("kept", False), r.others(c))
        if (deny, warn) != want:
            verdicts_wrong.append(f"{r.files[c['index']]} {op}{' kept' if c.get('kept') else ''}:\n"
                                  f"  policies: {sorted(deny)} {sorted(warn)}\n  lint:     {sorted(want[0])} "
                                  f"{sorted(want[1])}")
        c["verdict"] = (deny, warn)
        counts["denied"] += bool(deny)
        counts["warned"] += bool(warn)
    counts["cases"] += len(r.cases)
    t.ok(not verdicts_wrong, f"{label}: the policies deny and warn as dsguard lint's findings say, for "
         f"{len(r.cases)} requests", "\n".join(verdicts_wrong[:6]))
    check_webhook(t, r, label, cfg, workdir)
    if mutating:
        check_mutating(t, r, label, config_path, results, workdir, counts)
    return case_by_id


def check_webhook(t, r, label, cfg, workdir):
    """The DS001 messages are the webhook's own: `dsguard review` with
    DS002 off (so that its denial holds DS001 alone; it asks no DS003)."""
    cfg = copy.deepcopy(cfg) or {}
    cfg.setdefault("rules", {}).setdefault("restart-policy", {})["severity"] = "off"
    path = write_config(workdir, label + "-webhook", cfg)
    wrong = 0
    diags = []

    def ask(c):
        request = dict(c["request"], object=r.objects[c["object"]])
        if c["oldObject"] is not None:
            request["oldObject"] = r.objects[c["oldObject"]]
        return review(path, request)

    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(ask, r.cases))
    for c, resp in zip(r.cases, answers):
        deny = {m for m in c["verdict"][0] if " DS001 " in m}
        warn = {m for m in c["verdict"][1] if m.startswith("DS001 ")}
        got_deny = {resp["status"]["message"]} if not resp["allowed"] else set()
        got_warn = set(resp.get("warnings") or [])
        if (got_deny, got_warn) != (deny, warn):
            wrong += 1
            diags.append(f"{r.files[c['index']]} {c['request']['operation']}: webhook {got_deny} {got_warn}, "
                         f"policies {deny} {warn}")
    t.ok(not wrong, f"{label}: DS001's denials and warnings are word for word the webhook's "
         f"(dsguard review, {len(r.cases)} requests)", "\n".join(diags[:6]))


def check_mutating(t, r, label, config_path, results, workdir, counts):
    """The mutating policies' patches give what lint --fix writes."""
    fixdir = os.path.join(workdir, f"fix-{label}")
    os.mkdir(fixdir)
    for f in r.files:
        with open(os.path.join(r.objdir, f)) as src, open(os.path.join(fixdir, f), "w") as dst:
            dst.write(src.read())
    lint(fixdir, config_path, "--fix")
    # kubectl reads the folder in file name order: one DaemonSet a file.
    fixed_objs = kubectl_objects(fixdir)
    wrong, no_pod_spec, priority = [], 0, 0
    for c in r.cases:
        o = r.objs[c["index"]]
        patch = []
        for res in results.get(c["id"], []):
            if res["policy"].endswith("/MutatingAdmissionPolicy") and res["matched"] and res["patch"]:
                patch += res["patch"]
        op = c["request"]["operation"]
        if op == "UPDATE" and c["kept"]:
            if patch:
                wrong.append(f"{r.files[c['index']]}: an update that keeps the template is patched: {patch}")
            continue
        mutated = apply_patch(o, patch)
        fixed = fixed_objs[c["index"]]
        ann = fixed.get("metadata", {}).get("annotations", {})
        ann.pop("oracle", None)
        if not ann:
            fixed["metadata"].pop("annotations", None)
        pod = (template(o) or {}).get("spec") if isinstance(template(o), dict) else None
        if not isinstance(pod, dict):
            # No pod template spec (the API server always has one): lint
            # --fix writes one, the policies leave the object alone.
            no_pod_spec += 1
            if patch:
                wrong.append(f"{r.files[c['index']]}: patched without a pod spec: {patch}")
            continue
        if any(p["op"] == "remove" and p["path"].endswith("/priority") for p in patch):
            priority += 1  # lint --fix removes it too: compared below like the rest
        if mutated != fixed:
            wrong.append(f"{r.files[c['index']]} {op}: patch {patch}")
        elif op == "CREATE":
            counts["patched" if patch else "unpatched"] += 1
    t.ok(not wrong, f"{label}: the mutating policies' patches give what lint --fix writes "
         f"({no_pod_spec} requests without a pod spec left alone, {priority} with an integer priority removed)",
         "\n".join(wrong[:6]))


def check_exempted(t, r, case_by_id):
    """The exemptions config exempts by config and by annotation both, so
    that the comparisons above covered each kind of message."""
    warned = [w for c in case_by_id.values() for w in c["verdict"][1]]
    t.ok(any(" exempted by config (" in w for w in warned) and any(" exempted by annotation " in w for w in warned),
         "exemptions: the policies warned of exemptions by config and by annotation",
         "\n".join(sorted(set(warned))[:6]))


def main():
    t = Tap()
    modules = get_cel(t)
    if not modules:
        t.done()
    paths, had_shared = manifest_paths(t)
    objs, refused = daemonsets(paths)
    t.ok(len(objs) > (80 if had_shared else 5), f"{len(objs)} DaemonSets read from {len(paths)} files",
         f"kubectl refused: {refused}")
    objs += with_annotations(objs)
    configs = dict(CONFIGS, **exemption_configs(objs))
    MUTATING.add("exemptions")
    counts = {"evaluations": 0, "cases": 0, "patched": 0, "unpatched": 0, "denied": 0, "warned": 0}
    with tempfile.TemporaryDirectory(prefix="dsguard-policy-cel-") as workdir:
        r = Run(objs, workdir)
        for label, cfg in configs.items():
            case_by_id = check_config(t, modules, r, label, cfg, workdir, counts)
            if label == "exemptions":
                check_exempted(t, r, case_by_id)
    print(f"# {len(objs)} DaemonSets ({len(ANNOTATIONS)} dsguard.io/ignore values on copies), {len(configs)} configs, "
          f"{counts['cases']} requests ({counts['denied']} denied, {counts['warned']} warned), "
          f"{counts['evaluations']} policy evaluations, "
          f"{counts['patched']} CREATEs patched and {counts['unpatched']} left as they were by mutating policies")
    t.done()


if __name__ == "__main__":
    main()
