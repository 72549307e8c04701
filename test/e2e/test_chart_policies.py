#!/usr/bin/env python3
"""The chart's admission policies (admissionPolicies.enabled) are the objects
`dsguard policy` makes from the same config. For each config below and each
Kubernetes version (1.30, 1.32, 1.34; with admissionPolicies.mutating where
the version and config allow it), `helm template` renders the chart with the
webhook and the policies on; the config.yaml of its ConfigMap goes to
`dsguard policy --config ... --kube-version V [--mutating] --name-prefix
<fullname>- --namespace-selector ... --object-selector ...`, the selectors
written here from the values (the webhook's namespaceSelector and
objectSelector, and the namespaces it leaves out); both outputs are parsed
and compared as JSON, the chart's own labels (helm.sh/chart and the
app.kubernetes.io ones) set apart and checked on their own. Every object
validates against the Kubernetes schemas (the newest folder holding its
kind; v1alpha1 against the API reference's shape, as test_policy_schema.py
does). With webhook.enabled false the chart renders the same policies and
nothing else. Where `dsguard policy` refuses a config, or the Kubernetes
version cannot hold the policies, the chart refuses too. The install notes
say what was installed and which exemptions are kept until when; the helm
install commands of docs/install.md and docs/policies.md render as written.

helm is fetched by test/chart/get-helm.sh, as in test_chart.py: a missing helm
is a failure, never a skip."""
import datetime
import difflib
import json
import os
import re
import shlex
import shutil
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor

import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tap import Tap, run, shared_dir  # noqa: E402
from test_chart import CHART, ROOT, get_helm, helm_run  # noqa: E402
from test_policy_schema import V1ALPHA1, Schemas, rules_errors, shape_errors  # noqa: E402

POLICY_KINDS = {"ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding",
                "MutatingAdmissionPolicy", "MutatingAdmissionPolicyBinding"}
# The labels every object of the chart carries (dsguard.labels) besides
# the two `dsguard policy` writes.
CHART_LABELS = {"helm.sh/chart", "app.kubernetes.io/name", "app.kubernetes.io/instance",
                "app.kubernetes.io/version", "app.kubernetes.io/managed-by"}
VERSIONS = ["1.30", "1.32", "1.34"]

# A reason longer than the 256 bytes the engine keeps, with characters of
# two and three bytes where the cut falls.
LONG_REASON = "vendor's chart \"cilium\"! — " + "é" * 120 + "€" * 20
# An allowed list whose names, joined, pass the 511 bytes a message keeps.
# names a webhook's CEL must quote (non-ASCII), and one valid PriorityClass
# name (a default must be one, as the API server validates it)
LONG_ALLOWED = [f"class-{i:03d}-ünïcödé-{'x' * 20}" for i in range(20)] + ["class-020-" + "x" * 20]

CONFIGS = {
    "default": {},
    "allowed": {"config": {"rules": {"priority-class": {"default": "node-agents",
                                                        "allowed": ["node-agents", "system-node-critical",
                                                                    "it's"]}}}},
    "long-allowed": {"config": {"rules": {"priority-class": {"allowed": LONG_ALLOWED,
                                                             "default": LONG_ALLOWED[-1]}}}},
    "warning": {"config": {"rules": {"priority-class": {"severity": "warning", "default": "node-agents"},
                                     "dedicated-namespace": {"severity": "warning"}}}},
    "enforce-false": {"config": {"enforce": False}},
    "annotation-off": {"config": {"allowExemptionAnnotation": False,
                                  "rules": {"restart-policy": {"severity": "off"},
                                            "dedicated-namespace": {"exemptNamespaces": []}}}},
    "annotation-mapping": {"config": {"allowExemptionAnnotation": {
        "namespaces": ["team-*", "prod", "odd\\*name"], "users": ["alice", "o'neil"], "groups": ["ops"],
        "requireReason": True}}},
    "annotation-users-only": {"config": {"allowExemptionAnnotation": {"users": ["alice"]}}},
    "exemptions": {
        "config": {"exemptions": [
            {"rules": ["DS001", "restart-policy"], "namespaces": ["vendor-*", "cni", "a\\?b"],
             "names": ["cilium?", "exact", "star\\*"], "labels": {"app.kubernetes.io/name": "cilium", "tier": "node",
                                                                  "true": "", "x.io/y_z": "q"},
             "reason": LONG_REASON, "expires": "2999-01-01"},
            {"rules": ["all"], "namespaces": ["old"], "reason": "expired", "expires": "2001-01-01"},
            {"rules": ["ds003"], "names": ["logging-*"], "reason": "until noon, +02:00",
             "expires": "2999-03-31T12:00:00.5+02:00"},
            {"rules": ["All"], "labels": {"team": "platform"}, "reason": "expired by the minute",
             "expires": "2001-03-31T23:59:59Z"},
            {"rules": ["dedicated-namespace"], "namespaces": ["monitoring"], "reason": "for good, " + "x" * 300}]},
        "webhook": {"excludeNamespaces": ["cni-system", "legacy-*", "ci-?"],
                    "namespaceSelector": {"matchLabels": {"dsguard.io/enforce": "true", "env": ""},
                                          "matchExpressions": [{"key": "tier", "operator": "NotIn",
                                                                "values": ["sandbox", "dev"]},
                                                               {"key": "managed", "operator": "Exists"}]},
                    "objectSelector": {"matchLabels": {"app.kubernetes.io/part-of": "node-agents"},
                                       "matchExpressions": [{"key": "vendor", "operator": "DoesNotExist"},
                                                            {"key": "app.kubernetes.io/managed-by",
                                                             "operator": "In", "values": ["helm", "argo"]}]}}},
    "by-id-and-name": {"config": {"rules": {"DS001": {"severity": "warning", "default": "from-id"},
                                            "priority-class": {"severity": "error"},
                                            "ds003": {"severity": False}}}},
    "mutating": {"config": {"rules": {"priority-class": {"default": "node-agents"}}},
                 "admissionPolicies": {"mutating": True}},
    "mutating-exempt": {"config": {"rules": {"priority-class": {"default": "system-node-critical"},
                                             "dedicated-namespace": {"severity": "off"}},
                                   "exemptions": [{"rules": ["all"], "namespaces": ["kube-*"], "reason": "system"}]},
                        "admissionPolicies": {"mutating": True}},
    "mutating-ds002-only": {"config": {"rules": {"priority-class": {"severity": "warning"},
                                                 "dedicated-namespace": {"exemptNamespaces": [
                                                     "monitoring", "odd.ns", "kube-system"]}}},
                            "admissionPolicies": {"mutating": True}},
    "other-release": {"release": "guard", "namespace": "ops",
                      "config": {"rules": {"priority-class": {"severity": "warning"}}}},
}


def merge(base, over):
    """Values `over` laid onto `base`, maps merged key by key."""
    out = dict(base)
    for k, v in over.items():
        out[k] = merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def values_of(case, webhook=True, mutating=None):
    """The values file of a case, with the policies on."""
    v = {"admissionPolicies": {"enabled": True}, "webhook": {"enabled": webhook}}
    for key in ("config", "webhook", "admissionPolicies"):
        if key in case:
            v = merge(v, {key: case[key]})
    if mutating is not None:
        v = merge(v, {"admissionPolicies": {"mutating": mutating}})
    return v


def helm_template(helm, case, tmp, version, **kw):
    """helm template of a case at a Kubernetes version; (exit code, objects, stderr)."""
    path = os.path.join(tmp, f"values-{len(os.listdir(tmp))}.yaml")
    with open(path, "w") as f:
        yaml.safe_dump(values_of(case, **kw), f)
    args = ["template", case.get("release", "dsguard"), CHART, "--namespace", case.get("namespace", "dsguard-system"),
            "-f", path, "--kube-version", version]
    rc, out, err = helm_run(helm, args)
    return rc, ([d for d in yaml.safe_load_all(out) if d] if rc == 0 else []), err


def requirements(selector):
    """A label selector of the values as `kubectl -l` requirements, in the
    order the chart writes them: each label of matchLabels (by key), then
    the expressions."""
    out = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for e in selector.get("matchExpressions") or []:
        op = e["operator"]
        out.append({"In": f"{e['key']} in ({','.join(e.get('values', []))})",
                    "NotIn": f"{e['key']} notin ({','.join(e.get('values', []))})",
                    "Exists": e["key"], "DoesNotExist": f"!{e['key']}"}[op])
    return out


def policy_args(case, version, mutating, config_path):
    """The `dsguard policy` command line for a case: the webhook's scope
    written from the values (docs/install.md): its namespaceSelector less the
    release namespace, kube-system and the names (not globs) of
    excludeNamespaces; its objectSelector."""
    hook = case.get("webhook", {})
    ns = case.get("namespace", "dsguard-system")
    release = case.get("release", "dsguard")
    fullname = release if "dsguard" in release else f"{release}-dsguard"
    left_out = []
    for name in [ns, "kube-system"] + [x for x in hook.get("excludeNamespaces", []) if not set("*?") & set(x)]:
        if name not in left_out:
            left_out.append(name)
    args = ["policy", "--config", config_path, "--kube-version", version, "--name-prefix", f"{fullname}-"]
    for r in requirements(hook.get("namespaceSelector", {})) + \
            [f"kubernetes.io/metadata.name notin ({','.join(left_out)})"]:
        args += ["--namespace-selector", r]
    for r in requirements(hook.get("objectSelector", {})):
        args += ["--object-selector", r]
    return args + (["--mutating"] if mutating else [])


def wants_mutating(case, version):
    """Whether a case asks for mutating policies at a version where they exist."""
    return bool(case.get("admissionPolicies", {}).get("mutating")) and version != "1.30"


def keyed(objs):
    return {(o["apiVersion"], o["kind"], o["metadata"]["name"]): o for o in objs}


def split_labels(objs):
    """The objects without the chart's own labels, and those labels of each."""
    bare, extra = [], {}
    for o in objs:
        o = json.loads(json.dumps(o))
        labels = o["metadata"].get("labels") or {}
        extra[o["metadata"]["name"] + "/" + o["kind"]] = {k: labels.pop(k) for k in list(labels) if k in CHART_LABELS}
        bare.append(o)
    return bare, extra


def schema_errors(schemas, docs):
    """Schema and API-reference errors of every object."""
    errs = []
    names = {(d["metadata"]["name"], d["kind"]) for d in docs}
    for d in docs:
        where = f"{d['kind']}/{d['metadata']['name']}"
        if d["apiVersion"].endswith("/v1alpha1"):
            errs += [f"{where}: {e}" for e in shape_errors(d, V1ALPHA1[d["kind"]], d["kind"])]
        else:
            found = schemas.for_doc(d)
            if not found:
                errs.append(f"{where}: no schema for {d['apiVersion']}")
            else:  # the newest folder holding the kind
                errs += [f"{where}: {found[0][0]}: {'/'.join(map(str, e.path))}: {e.message}"
                         for e in found[0][1].iter_errors(d)]
        errs += [f"{where}: {e}" for e in rules_errors(d, names)]
    return errs


def check_case(t, schemas, cid, case, version, rendered, tmp):
    """One config at one version (rendered: what helm_template gave): the
    chart's policies equal dsguard policy's."""
    mutating = wants_mutating(case, version)
    what = f"{cid} at {version}" + (" with mutating" if mutating else "")
    rc, objs, err = rendered
    if not t.ok(rc == 0, f"{what}: helm template renders", err[-1500:]):
        return
    chart = [o for o in objs if o["kind"] in POLICY_KINDS]
    cm = next((o for o in objs if o["kind"] == "ConfigMap" and o["metadata"]["name"].endswith("-config")), None)
    if not t.ok(cm is not None, f"{what}: the ConfigMap holds the config file"):
        return
    config = os.path.join(tmp, f"config-{len(os.listdir(tmp))}.yaml")
    with open(config, "w") as f:
        f.write(cm["data"]["config.yaml"])
    args = policy_args(case, version, mutating, config)
    p = run(args)
    if not t.ok(p.returncode == 0, f"{what}: dsguard policy makes the policies", p.stderr):
        return
    want = [d for d in yaml.safe_load_all(p.stdout) if d]
    bare, labels = split_labels(chart)
    got_k, want_k = keyed(bare), keyed(want)
    diff = [line for k in sorted(set(got_k) | set(want_k), key=str) if got_k.get(k) != want_k.get(k)
            for line in [f"{'/'.join(k)}:"] + list(difflib.unified_diff(
                yaml.safe_dump(want_k.get(k), width=1 << 20).splitlines(),
                yaml.safe_dump(got_k.get(k), width=1 << 20).splitlines(), "dsguard policy", "chart", n=1, lineterm=""))]
    t.ok(want and not diff, f"{what}: the chart renders the {len(want)} objects dsguard policy makes, as JSON",
         "\n".join(diff))
    own = {k: v for k, v in (cm["metadata"].get("labels") or {}).items() if k in CHART_LABELS}
    t.ok(own and all(v == own for v in labels.values()),
         f"{what}: each also carries the chart's labels, and no other", json.dumps(labels)[:800])
    if schemas is not None:
        errs = schema_errors(schemas, chart)
        t.ok(chart and not errs, f"{what}: the objects are valid against the Kubernetes schemas", "\n".join(errs))
    if cid == "exemptions":
        text = json.dumps(chart)
        t.ok("expired by the minute" not in text and "expired)" not in text and "for good" in text
             and "until noon" in text, f"{what}: expired entries are left out, the others kept")


def expiry_case():
    """Exemptions whose expiry lies five minutes either side of now, in each
    form `expires` takes (a date; an RFC 3339 time in UTC, east and west of
    it, with a fraction, in lower case), and which of them hold."""
    utc = datetime.timezone.utc
    now = datetime.datetime.now(utc).replace(microsecond=0)
    east, west = datetime.timezone(datetime.timedelta(hours=5, minutes=30)), \
        datetime.timezone(-datetime.timedelta(hours=8))
    soon, past = now + datetime.timedelta(minutes=5), now - datetime.timedelta(minutes=5)
    forms = {
        "yesterday": ((now - datetime.timedelta(days=1)).date().isoformat(), False),
        "tomorrow": ((now + datetime.timedelta(days=1)).date().isoformat(), True),
        "past-east": (past.astimezone(east).isoformat(), False),
        "soon-east": (soon.astimezone(east).isoformat(), True),
        "past-west": (past.astimezone(west).isoformat(), False),
        "soon-west": (soon.astimezone(west).isoformat(), True),
        "past-fraction": (past.strftime("%Y-%m-%dT%H:%M:%S.25Z"), False),
        "soon-lower": (soon.strftime("%Y-%m-%dt%H:%M:%Sz"), True),
    }
    entries = [{"rules": ["all"], "names": [f"ds-{k}"], "reason": f"reason-{k}", "expires": v}
               for k, (v, _) in forms.items()]
    return {"config": {"exemptions": entries}}, {k: holds for k, (_, holds) in forms.items()}


def check_expiry(t, schemas, helm, tmp):
    """Expiry is judged when the chart renders, as dsguard policy judges it
    when it runs: the entries expired by then are left out."""
    case, holds = expiry_case()
    d = os.path.join(tmp, "expiry")
    os.mkdir(d)
    rendered = helm_template(helm, case, d, "1.34")
    check_case(t, schemas, "expiry", case, "1.34", rendered, d)
    text = json.dumps([o for o in rendered[1] if o["kind"] in POLICY_KINDS])
    t.eq({k: f"reason-{k}" in text for k in holds}, holds,
         "the entries that expire in five minutes or tomorrow are kept; those that expired five minutes ago "
         "or yesterday are left out (dates, UTC, +05:30, -08:00, a fraction, lower case)")


def check_policies_only(t, helm, cid, case, tmp):
    """webhook.enabled false: the same policies, nothing of the server."""
    version = "1.34"
    mutating = wants_mutating(case, version)
    rc, both, err = helm_template(helm, case, tmp, version, mutating=mutating)
    rc2, alone, err2 = helm_template(helm, case, tmp, version, webhook=False, mutating=mutating)
    if not t.ok(rc == 0 and rc2 == 0, f"{cid}: renders with and without the webhook", err[-800:] + err2[-800:]):
        return
    t.eq(sorted({o["kind"] for o in alone}), sorted({o["kind"] for o in alone} & POLICY_KINDS),
         f"{cid}: webhook.enabled false renders only admission policies (no Deployment, Service, "
         "certificates, RBAC, ConfigMap, webhook configurations, hooks)")
    t.ok(keyed(alone) == keyed([o for o in both if o["kind"] in POLICY_KINDS]),
         f"{cid}: the policies are the same with the webhook off")


def check_refusals(t, helm, tmp):
    """The chart refuses where dsguard policy refuses, and where the cluster
    cannot hold the policies, with words that say why."""
    cases = [
        ("Kubernetes 1.29", {}, "1.29", {}, "needs Kubernetes 1.30 or later"),
        ("mutating at 1.31", {"config": {"rules": {"priority-class": {"default": "a"}}}}, "1.31",
         {"mutating": True}, "needs Kubernetes 1.32 or later"),
        ("mutating without a default class", {}, "1.34", {"mutating": True}, "no default priority class"),
        ("mutating where nothing is enforced", {"config": {"enforce": False, "rules": {"priority-class": {"default": "a"}}}},
         "1.34", {"mutating": True}, "no rule is to be patched"),
    ]
    for what, case, version, kw, words in cases:
        rc, _, err = helm_template(helm, case, tmp, version, **kw)
        t.ok(rc != 0 and words in err, f"the chart refuses {what}: \"{words}\"", f"exit {rc}\n{err[-800:]}")
        if version in ("1.29", "1.31"):
            continue
        rc, objs, err = helm_template(helm, case, tmp, version, mutating=False)
        cm = next((o for o in objs if o["kind"] == "ConfigMap"), None)
        path = os.path.join(tmp, f"refused-{len(os.listdir(tmp))}.yaml")
        with open(path, "w") as f:
            f.write(cm["data"]["config.yaml"] if cm else "")
        p = run(["policy", "--config", path, "--kube-version", version, "--mutating"])
        t.ok(p.returncode == 2, f"dsguard policy refuses {what} too", p.stderr)
    rc, _, err = helm_template(helm, {}, tmp, "1.34", webhook=False)
    rc2, _, err2 = helm_run(helm, ["template", "dsguard", CHART, "--set", "webhook.enabled=false"])
    t.ok(rc == 0 and rc2 != 0 and "nothing to install" in err2,
         "webhook.enabled and admissionPolicies.enabled both false: refused, nothing to install", err2[-800:])
    rc, _, err = helm_run(helm, ["template", "dsguard", CHART, "--set", "admissionPolicies.mutating=true",
                                 "--kube-version", "1.34"])
    t.ok(rc != 0 and "set admissionPolicies.enabled=true" in err,
         "admissionPolicies.mutating without admissionPolicies.enabled: refused, not ignored", err[-800:])

    # Configs dsguard refuses when it loads them: with the webhook off nothing
    # else reads the file, so the chart refuses them itself.
    bad = [
        ("an unknown rule", {"rules": {"priority-clas": {"severity": "error"}}}, "unknown rule"),
        ("an unknown option", {"rules": {"restart-policy": {"default": "x"}}}, "unknown key"),
        ("a list where a name goes", {"rules": {"priority-class": {"default": ["a"]}}}, "must be a name"),
        ("a default outside allowed", {"rules": {"priority-class": {"default": "a", "allowed": ["b"]}}},
         "not one of the allowed classes"),
        ("an expiry that is no date", {"exemptions": [{"rules": ["all"], "namespaces": ["x"], "reason": "r",
                                                       "expires": "next week"}]}, "expires must be"),
        ("an expiry on a day that does not exist", {"exemptions": [{"rules": ["all"], "namespaces": ["x"],
                                                                    "reason": "r", "expires": "2027-02-29"}]},
         "expires must be"),
        ("an exemption of an unknown rule", {"exemptions": [{"rules": ["DS999"], "namespaces": ["x"], "reason": "r"}]},
         "unknown rule"),
        ("an exemption that selects nothing", {"exemptions": [{"rules": ["all"], "reason": "r"}]},
         "must select DaemonSets"),
        ("an exemption's label key that is none", {"exemptions": [{"rules": ["all"], "labels": {"a b": "c"},
                                                                   "reason": "r"}]}, "label key"),
        ("a glob ending in a lone backslash", {"exemptions": [{"rules": ["all"], "names": ["a\\"], "reason": "r"}]},
         "lone backslash"),
    ]
    for what, config, words in bad:
        case = {"config": config}
        rc, _, err = helm_template(helm, case, tmp, "1.34", webhook=False)
        t.ok(rc != 0 and words in err, f"with the webhook off, the chart refuses {what}: \"{words}\"",
             f"exit {rc}\n{err[-800:]}")
        rc, objs, err = helm_run(helm, ["template", "dsguard", CHART, "-f", write_values(tmp, {"config": config})])
        objs = [d for d in yaml.safe_load_all(objs) if d] if rc == 0 else []
        cm = next((o for o in objs if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "dsguard-config"), None)
        if not t.ok(cm is not None, f"{what}: the webhook's ConfigMap renders (dsguard checks the file)", err[-800:]):
            continue
        path = os.path.join(tmp, f"bad-{len(os.listdir(tmp))}.yaml")
        with open(path, "w") as f:
            f.write(cm["data"]["config.yaml"])
        p = run(["policy", "--config", path])
        t.ok(p.returncode == 2, f"dsguard policy refuses {what} too", p.stderr)


def write_values(tmp, values):
    path = os.path.join(tmp, f"v-{len(os.listdir(tmp))}.yaml")
    with open(path, "w") as f:
        yaml.safe_dump(values, f)
    return path


def check_lint(t, helm, tmp):
    """helm lint --strict with the policies alone and with both."""
    for what, values, version in (("policies alone, mutating", {"webhook": {"enabled": False}, "admissionPolicies": {
            "enabled": True, "mutating": True}, "config": {"rules": {"priority-class": {"default": "a"}}}}, "1.34"),
                                  ("webhook and policies", {"admissionPolicies": {"enabled": True}}, "1.30")):
        rc, out, err = helm_run(helm, ["lint", "--strict", CHART, "--kube-version", version, "-f",
                                       write_values(tmp, values)])
        t.ok(rc == 0, f"helm lint --strict: {what}", out[-1500:] + err[-1500:])


def render_notes(helm, tmp, values):
    """NOTES.txt as `helm install` prints it, for a values file: helm
    template leaves NOTES.txt out, so a copy of the chart holds its text in a
    template of its own that writes the rendered text as a YAML string.
    (exit code, text, stderr)."""
    copy = os.path.join(tmp, f"chart-{len(os.listdir(tmp))}")
    shutil.copytree(CHART, copy)
    notes = os.path.join(copy, "templates", "NOTES.txt")
    with open(notes) as f:
        text = f.read()
    os.remove(notes)
    with open(os.path.join(copy, "templates", "notes-probe.yaml"), "w") as f:
        f.write('{{- define "probe.notes" }}' + text + '{{- end }}\nnotes: {{ include "probe.notes" . | toJson }}\n')
    rc, out, err = helm_run(helm, ["template", "dsguard", copy, "--namespace", "dsguard-system",
                                   "--kube-version", "1.34",
                                   "--show-only", "templates/notes-probe.yaml", "-f", write_values(tmp, values)])
    return rc, (yaml.safe_load(out)["notes"] if rc == 0 else ""), err


def check_notes(t, helm, tmp):
    """The install notes say what was installed, and which config
    exemptions the policies left out as expired or keep until a date."""
    values = values_of({"config": {"rules": {"priority-class": {"default": "a"}}, "exemptions": [
        {"rules": ["all"], "namespaces": ["a"], "reason": "gone", "expires": "2001-01-01"},
        {"rules": ["all"], "namespaces": ["b"], "reason": "kept", "expires": "2999-01-01T10:00:00Z"},
        {"rules": ["all"], "namespaces": ["c"], "reason": "for good"}]}}, webhook=False, mutating=True)
    rc, text, err = render_notes(helm, tmp, values)
    if t.ok(rc == 0, "the install notes render with the policies alone", err[-800:]):
        t.ok("installed." in text and "Webhook:" not in text and "rollout status" not in text,
             "policies alone: the notes name no webhook, namespace or Deployment", text)
        t.ok('"gone" left out of the policies: it expired (2001-01-01)' in text
             and '"kept" holds until 2999-01-01T10:00:00Z' in text and "for good" not in text,
             "the notes name the exemption left out as expired and the one kept until its expiry", text)
        t.ok("mutatingadmissionpolicies,mutatingadmissionpolicybindings -l app.kubernetes.io/instance=dsguard" in text,
             "the notes' kubectl get names the mutating policies too", text)
    rc, text, err = render_notes(helm, tmp, values_of({}))
    if t.ok(rc == 0, "the install notes render with both", err[-800:]):
        t.ok("in namespace dsguard-system" in text and "Webhook: https://dsguard.dsguard-system.svc:443" in text
             and "the floor that holds while the webhook is down" in text
             and "validatingadmissionpolicybindings -l" in text, "both: the notes name the webhook and the policies",
             text)


def doc_commands(path):
    """The `helm install` commands of a page's sh blocks that set
    admissionPolicies, each as its words (continued lines joined)."""
    with open(path) as f:
        blocks = re.findall(r"^```sh\n(.*?)^```", f.read(), re.S | re.M)
    out = []
    for block in blocks:
        for cmd in block.replace("\\\n", " ").splitlines():
            if cmd.startswith("helm install ") and "admissionPolicies" in cmd:
                out.append(shlex.split(cmd))
    return out


def check_doc_examples(t, helm):
    """The helm install commands of docs/install.md and docs/policies.md that
    set the policies render as written (helm template, with the words of
    install, at Kubernetes 1.34), with what the pages say they install."""
    for page in ("install.md", "policies.md"):
        cmds = doc_commands(os.path.join(ROOT, "docs", page))
        t.ok(cmds, f"docs/{page} shows helm install with the admission policies")
        for words in cmds:
            args = ["template"] + [CHART if w == "charts/dsguard" else w for w in words[2:]]
            args += ["--kube-version", "1.34"]
            rc, out, err = helm_run(helm, args)
            kinds = {d["kind"] for d in yaml.safe_load_all(out) if d} if rc == 0 else set()
            alone = "webhook.enabled=false" in words
            t.ok(rc == 0 and "ValidatingAdmissionPolicy" in kinds
                 and (kinds <= POLICY_KINDS if alone else "Deployment" in kinds)
                 and ("MutatingAdmissionPolicy" in kinds) == ("admissionPolicies.mutating=true" in words),
                 f"docs/{page}: {' '.join(words)[:160]} renders the policies"
                 + (" alone" if alone else " beside the webhook"), f"exit {rc}: {sorted(kinds)}\n{err[-800:]}")


def main():
    t = Tap()
    helm, err = get_helm()
    if not t.ok(helm is not None, "helm is available (test/chart/get-helm.sh)", err):
        t.done()
    shared = shared_dir(t, "the chart's admission policies against the Kubernetes schemas")
    schemas = Schemas(shared) if shared else None
    with tempfile.TemporaryDirectory(prefix="dsguard-chart-policies-") as tmp:
        runs = [(cid, case, v, os.path.join(tmp, f"{cid}-{v}")) for cid, case in CONFIGS.items() for v in VERSIONS]
        for *_, d in runs:
            os.mkdir(d)
        with ThreadPoolExecutor(max_workers=4) as pool:
            renders = [pool.submit(helm_template, helm, case, d, v, mutating=wants_mutating(case, v))
                       for _, case, v, d in runs]
            for (cid, case, v, d), f in zip(runs, renders):
                check_case(t, schemas, cid, case, v, f.result(), d)
        check_expiry(t, schemas, helm, tmp)
        for cid in ("default", "exemptions", "mutating"):
            check_policies_only(t, helm, cid, CONFIGS[cid], tmp)
        check_refusals(t, helm, tmp)
        check_lint(t, helm, tmp)
        check_notes(t, helm, tmp)
        check_doc_examples(t, helm)
    t.done()


if __name__ == "__main__":
    main()
