"""dsguard policy's output is what the Kubernetes API accepts, for every
--kube-version: each object validates against the Kubernetes JSON schemas of
the shared data (the newest folder holding its kind, and the v1.32.2 one
where it holds it too), and against the rules of the API reference that the
schemas leave out (enumerations, names, one of two fields). The v1alpha1
MutatingAdmissionPolicy kinds of 1.32 and 1.33 have no schema there: their
shape is checked by hand against the v1alpha1 API reference
(mutating-admission-policy-v1alpha1, Kubernetes 1.32)."""
import json
import os
import re
import sys
import tempfile

import yaml
from jsonschema import Draft7Validator

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tap import ROOT, Tap, run, shared_dir  # noqa: E402

VERSIONS = ["1.30", "1.31", "1.32", "1.33", "1.34", "1.35"]
CONFIGS = {
    "defaults": None,
    "full": {"rules": {"priority-class": {"default": "node-agents", "allowed": ["node-agents", "system-node-critical"]},
                       "dedicated-namespace": {"exemptNamespaces": ["kube-system", "monitoring"]}}},
    "warning": {"rules": {"priority-class": {"severity": "warning", "default": "node-agents"},
                          "dedicated-namespace": {"severity": "warning"}}},
    "no-annotation": {"allowExemptionAnnotation": False, "rules": {"priority-class": {"default": "x"},
                                                                   "restart-policy": {"severity": "off"}}},
    "audit": {"enforce": False},
}
SELECTOR = ["--namespace-selector", "kubernetes.io/metadata.name notin (kube-system),team in (a, b)",
            "--namespace-selector", "!legacy", "--object-selector", "app.kubernetes.io/managed-by notin (vendor)"]

DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
QUALIFIED_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
CEL_IDENT = re.compile(r"^[_a-zA-Z][_a-zA-Z0-9]*$")
CEL_RESERVED = {"true", "false", "null", "in", "as", "break", "const", "continue", "else", "for", "function", "if",
                "import", "let", "loop", "package", "namespace", "return", "var", "void", "while"}

# The v1alpha1 API reference, as nested shapes: a dict names the fields an
# object may have ("!" marks a required one), [shape] a list of them, str a
# string, dict a map of strings to strings.
RULE = {"apiGroups": [str], "apiVersions": [str], "operations": [str], "resourceNames": [str], "resources": [str],
        "scope": str}
SELECTOR_SHAPE = {"matchLabels": dict, "matchExpressions": [{"!key": str, "!operator": str, "values": [str]}]}
MATCH_RESOURCES = {"excludeResourceRules": [RULE], "matchPolicy": str, "namespaceSelector": SELECTOR_SHAPE,
                   "objectSelector": SELECTOR_SHAPE, "resourceRules": [RULE]}
METADATA = {"!name": str, "labels": dict, "annotations": dict}
NAMED_EXPRESSION = {"!name": str, "!expression": str}
V1ALPHA1 = {
    "MutatingAdmissionPolicy": {
        "!apiVersion": str, "!kind": str, "!metadata": METADATA,
        "!spec": {"failurePolicy": str, "matchConditions": [NAMED_EXPRESSION],
                  "!matchConstraints": dict(MATCH_RESOURCES, **{"!resourceRules": [RULE]}),
                  "!mutations": [{"!patchType": str, "applyConfiguration": {"expression": str},
                                  "jsonPatch": {"expression": str}}],
                  "paramKind": {"apiVersion": str, "kind": str}, "!reinvocationPolicy": str,
                  "variables": [NAMED_EXPRESSION]},
    },
    "MutatingAdmissionPolicyBinding": {
        "!apiVersion": str, "!kind": str, "!metadata": METADATA,
        "!spec": {"matchResources": MATCH_RESOURCES, "!policyName": str,
                  "paramRef": {"name": str, "namespace": str, "parameterNotFoundAction": str,
                               "selector": SELECTOR_SHAPE}},
    },
}


def shape_errors(value, shape, where):
    """Where value does not have shape (see V1ALPHA1)."""
    if shape is str:
        return [] if isinstance(value, str) else [f"{where}: not a string"]
    if shape is dict:
        ok = isinstance(value, dict) and all(isinstance(v, str) for v in value.values())
        return [] if ok else [f"{where}: not a map of strings"]
    if isinstance(shape, list):
        if not isinstance(value, list):
            return [f"{where}: not a list"]
        return [e for i, v in enumerate(value) for e in shape_errors(v, shape[0], f"{where}[{i}]")]
    if not isinstance(value, dict):
        return [f"{where}: not an object"]
    fields = {k.lstrip("!"): s for k, s in shape.items()}
    errs = [f"{where}.{k}: unknown field" for k in value if k not in fields]
    errs += [f"{where}.{k[1:]}: required" for k in shape if k.startswith("!") and k[1:] not in value]
    return errs + [e for k, v in value.items() if k in fields for e in shape_errors(v, fields[k], f"{where}.{k}")]


def selector_errors(sel, where):
    errs = []
    for e in (sel or {}).get("matchExpressions") or []:
        op = e.get("operator")
        if op not in ("In", "NotIn", "Exists", "DoesNotExist"):
            errs.append(f"{where}: operator {op}")
        elif (op in ("In", "NotIn")) != bool(e.get("values")):
            errs.append(f"{where}: {op} with values {e.get('values')}")
    return errs


def rules_errors(doc, names):
    """What the API reference requires besides the schema."""
    kind, spec, errs = doc["kind"], doc.get("spec") or {}, []
    name = doc["metadata"]["name"]
    if not (len(name) <= 253 and DNS_SUBDOMAIN.match(name)):
        errs.append(f"name {name!r} is not a DNS subdomain")
    if kind.endswith("Binding"):
        if (spec.get("policyName"), kind[:-len("Binding")]) not in names:
            errs.append(f"binds {spec.get('policyName')}, which the output does not hold")
        actions = spec.get("validationActions")
        if kind == "ValidatingAdmissionPolicyBinding":
            if not actions or set(actions) - {"Deny", "Warn", "Audit"} or len(set(actions)) != len(actions):
                errs.append(f"validationActions {actions}")
            elif {"Deny", "Warn"} <= set(actions):
                errs.append("Deny and Warn together")
        ref = spec.get("paramRef")
        if ref is not None:
            if ("name" in ref) == ("selector" in ref):
                errs.append("paramRef needs one of name and selector")
            if ref.get("parameterNotFoundAction") not in ("Allow", "Deny"):
                errs.append(f"parameterNotFoundAction {ref.get('parameterNotFoundAction')}")
            errs += selector_errors(ref.get("selector"), "paramRef.selector")
        errs += selector_errors((spec.get("matchResources") or {}).get("namespaceSelector"), "namespaceSelector")
        return errs
    if spec.get("failurePolicy") not in ("Fail", "Ignore"):
        errs.append(f"failurePolicy {spec.get('failurePolicy')}")
    rules = (spec.get("matchConstraints") or {}).get("resourceRules") or []
    if not rules:
        errs.append("matchConstraints.resourceRules is empty")
    allowed_ops = {"CREATE", "UPDATE", "CONNECT", "*"} | ({"DELETE"} if kind.startswith("Validating") else set())
    for r in rules:
        if not r.get("operations") or set(r["operations"]) - allowed_ops:
            errs.append(f"operations {r.get('operations')}")
    conds = spec.get("matchConditions") or []
    if len(conds) > 64 or len({c["name"] for c in conds}) != len(conds):
        errs.append("matchConditions: too many or names repeated")
    for c in conds:
        if not (len(c["name"]) <= 63 and QUALIFIED_NAME.match(c["name"])) or not c["expression"].strip():
            errs.append(f"matchCondition {c['name']!r}")
    variables = spec.get("variables") or []
    if len({v["name"] for v in variables}) != len(variables):
        errs.append("variable names repeated")
    for v in variables:
        if not CEL_IDENT.match(v["name"]) or v["name"] in CEL_RESERVED or not v["expression"].strip():
            errs.append(f"variable {v['name']!r}")
    if kind == "ValidatingAdmissionPolicy":
        if not spec.get("validations"):
            errs.append("no validations")
        for v in spec.get("validations") or []:
            if not v.get("expression", "").strip():
                errs.append("a validation without expression")
            if "\n" in v.get("message", ""):
                errs.append("a message with a line break")
            if v.get("reason", "Invalid") not in ("Unauthorized", "Forbidden", "Invalid", "RequestEntityTooLarge"):
                errs.append(f"reason {v.get('reason')}")
    else:
        if spec.get("reinvocationPolicy") not in ("Never", "IfNeeded"):
            errs.append(f"reinvocationPolicy {spec.get('reinvocationPolicy')}")
        for m in spec.get("mutations") or [None]:
            if not m or m.get("patchType") not in ("JSONPatch", "ApplyConfiguration"):
                errs.append(f"mutation {m}")
            elif m["patchType"] == "JSONPatch" and not (m.get("jsonPatch") or {}).get("expression"):
                errs.append("a JSONPatch mutation without expression")
    return errs


class Schemas:
    """Validators by schema file, built once (the files are large)."""

    def __init__(self, shared):
        self.dirs = [os.path.join(shared, "schemas", "kubernetes", d)
                     for d in ("v1.34.0-standalone-strict", "v1.32.2-standalone-strict")]
        self.cache = {}

    def for_doc(self, doc):
        """(folder, validator) of every folder holding the kind, newest first."""
        group, version = doc["apiVersion"].split("/")
        base = f"{doc['kind'].lower()}-{group.split('.')[0]}-{version}.json"
        out = []
        for d in self.dirs:
            path = os.path.join(d, base)
            if os.path.exists(path):
                if path not in self.cache:
                    self.cache[path] = Draft7Validator(json.load(open(path)))
                out.append((os.path.basename(d), self.cache[path]))
        return out


def generate(args):
    p = run(["policy"] + args)
    return p, [d for d in yaml.safe_load_all(p.stdout) if d] if p.returncode == 0 else []


def main():
    t = Tap()
    shared = shared_dir(t, "the admission policies against the Kubernetes schemas")
    schemas = Schemas(shared) if shared else None
    version_text = open(os.path.join(ROOT, "VERSION")).read().strip()
    with tempfile.TemporaryDirectory(prefix="dsguard-policy-schema-") as tmp:
        checked = {}
        for label, cfg in CONFIGS.items():
            path = None
            if cfg is not None:
                path = os.path.join(tmp, f"{label}.yaml")
                with open(path, "w") as f:
                    yaml.safe_dump(cfg, f)
            for v in VERSIONS:
                minor = int(v.split(".")[1])
                mutating = minor >= 32 and label != "audit"
                args = ["--kube-version", v] + (["--config", path] if path else []) + (["--mutating"] if mutating else [])
                args += SELECTOR if label == "full" else []
                args += ["--priority-class", "node-agents"] if mutating and cfg is None else []
                p, docs = generate(args)
                if not t.ok(p.returncode == 0 and docs, f"{label} {v}: policies made", p.stderr):
                    continue
                header = p.stdout.split("\n---\n")[0]
                t.ok(f"dsguard {version_text}" in header and (f"Config: {path}" if path else "Config: defaults") in header
                     and "dsguard policy --kube-version" in header,
                     f"{label} {v}: the header names the dsguard version, the config and the command", header)
                names = {(d["metadata"]["name"], d["kind"]) for d in docs}
                errors = []
                for d in docs:
                    where = f"{d['kind']} {d['metadata']['name']}"
                    errors += [f"{where}: {e}" for e in rules_errors(d, names)]
                    found = schemas.for_doc(d) if schemas else []
                    if d["apiVersion"].endswith("/v1alpha1"):
                        errors += [f"{where}: {e}" for e in shape_errors(d, V1ALPHA1[d["kind"]], "")]
                        checked["v1alpha1 (by hand)"] = checked.get("v1alpha1 (by hand)", 0) + 1
                    elif schemas and not found:
                        errors.append(f"{where}: no schema for {d['apiVersion']}")
                    for folder, validator in found:
                        errors += [f"{where} ({folder}): {e.message} at {list(e.absolute_path)}"
                                   for e in validator.iter_errors(d)]
                        checked[folder] = checked.get(folder, 0) + 1
                t.ok(not errors, f"{label} {v}: {len(docs)} objects valid", "\n".join(errors[:10]))
                want = ("v1alpha1" if minor < 34 else "v1beta1") if mutating else None
                got = {d["apiVersion"].split("/")[1] for d in docs if d["kind"].startswith("Mutating")}
                t.eq(got, {want} if want else set(), f"{label} {v}: the MutatingAdmissionPolicy API version")
                again = run(["policy"] + args)
                t.eq(again.stdout, p.stdout, f"{label} {v}: the same output every time")
        t.ok(not shared or (checked.get("v1.34.0-standalone-strict") and checked.get("v1.32.2-standalone-strict")),
             f"objects validated by schema folder: {checked}")
    t.done()


if __name__ == "__main__":
    main()
