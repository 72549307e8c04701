#!/usr/bin/env python3
"""The Helm chart (charts/dsguard): `helm lint --strict`; `helm template` in each
certificate mode and with the optional parts on and off; every rendered object
against the Kubernetes JSON schema of its kind and API version; and the wiring
Kubernetes relies on, checked by evaluating it the way Kubernetes does (label
selectors, webhook rule matching, Service port resolution, Pod Security
Standards "restricted", Helm hook ordering, X.509 trust). Finally
`dsguard lint` over the rendered chart.

helm is fetched by test/chart/get-helm.sh (HELM_BIN overrides); a missing helm
is a failure, never a skip. The schemas are read from the shared data
directory (DSGUARD_SHARED)."""
import base64
import json
import os
import re
import subprocess
import sys
import tempfile
import traceback
from concurrent.futures import ThreadPoolExecutor

import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tap import BIN, ROOT, Tap, shared_dir  # noqa: E402

CHART = os.path.join(ROOT, "charts", "dsguard")
DATA = os.path.join(ROOT, "test", "chart")
K8S_SCHEMAS = os.path.join("schemas", "kubernetes", "v1.32.2-standalone-strict")
CRD_SCHEMAS = os.path.join("schemas", "crds")

# Kinds that exist once per cluster (no namespace).
CLUSTER_SCOPED = {"ClusterRole", "ClusterRoleBinding", "ValidatingWebhookConfiguration",
                  "MutatingWebhookConfiguration", "Namespace", "PriorityClass"}
# The flags of `dsguard serve` (SPEC, "The webhook"; docs/webhook.md for --manage-certs).
SERVE_FLAGS = {"policy-reports", "lease-namespace", "audit-metrics-detail",
               "listen", "tls-cert", "tls-key", "client-ca", "config", "cluster", "kubeconfig",
               "on-unsynced", "claims", "claim-ttl", "claim-deadline", "claim-namespace", "max-body-bytes",
               "log-format", "log-level", "manage-certs", "cert-secret", "service", "service-namespace",
               "validating-webhook", "mutating-webhook", "ca-validity", "cert-validity", "ca-overlap"}
# The keys of the dsguard config file (SPEC, "Configuration").
CONFIG_KEYS = {"enforce", "allowExemptionAnnotation", "rules"}

_rule_keys = {}


def rule_keys():
    """{rule name: the keys its settings take}, from `dsguard rules --format
    json` (read once)."""
    if not _rule_keys:
        p = subprocess.run([BIN, "rules", "--format", "json"], capture_output=True, text=True, timeout=60)
        rules = json.loads(p.stdout)["rules"] if p.returncode == 0 else []
        _rule_keys.update({r["name"]: {"severity"} | {o["key"] for o in r["options"]} for r in rules})
    return _rule_keys


DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
LABEL_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")


# ---------------------------------------------------------------- helm

def get_helm():
    """Returns (path, error): the helm binary from test/chart/get-helm.sh."""
    p = subprocess.run(["sh", os.path.join(DATA, "get-helm.sh")], capture_output=True, text=True,
                       timeout=300)
    if p.returncode != 0 or not p.stdout.strip():
        return None, p.stderr or f"get-helm.sh exited {p.returncode}"
    return p.stdout.strip().splitlines()[-1], ""


def helm_run(helm, args, kubeconfig=None):
    """Runs helm (against the cluster of kubeconfig, else none); returns
    (exit code, stdout, stderr)."""
    tmp = tempfile.gettempdir()
    env = dict(os.environ, HELM_CACHE_HOME=os.path.join(tmp, "dsguard-helm-cache"),
               HELM_CONFIG_HOME=os.path.join(tmp, "dsguard-helm-config"),
               HELM_DATA_HOME=os.path.join(tmp, "dsguard-helm-data"),
               KUBECONFIG=kubeconfig or os.path.join(tmp, "dsguard-no-kubeconfig"))
    p = subprocess.run([helm] + args, capture_output=True, text=True, timeout=120, env=env)
    return p.returncode, p.stdout, p.stderr


def values_args(scenario):
    args = []
    for f in scenario.get("files", []):
        args += ["-f", os.path.join(DATA, f)]
    for k, v in scenario.get("set", {}).items():
        args += ["--set-string" if isinstance(v, str) else "--set", f"{k}={v}"]
    return args


def template_args(scenario):
    return ["template", scenario.get("release", "dsguard"), CHART,
            "--namespace", scenario.get("namespace", "dsguard-system")] + values_args(scenario)


def render(helm, scenario):
    """helm template for a scenario; returns (exit code, objects, stderr)."""
    rc, out, err = helm_run(helm, template_args(scenario))
    objs = [d for d in yaml.safe_load_all(out) if d] if rc == 0 else []
    return rc, objs, err


# ---------------------------------------------------------------- Kubernetes semantics

def selector_matches(selector, labels):
    """A LabelSelector (matchLabels, matchExpressions) against a label set, as
    the Kubernetes docs define it: all requirements ANDed; an empty selector
    matches everything; None matches nothing."""
    if selector is None:
        return False
    for k, v in (selector.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for e in selector.get("matchExpressions") or []:
        key, op, vals = e["key"], e["operator"], e.get("values") or []
        if op == "In" and labels.get(key) not in vals:
            return False
        if op == "NotIn" and key in labels and labels[key] in vals:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def namespace_labels(name):
    """Labels every namespace has (kubernetes.io/metadata.name, set by the API server)."""
    return {"kubernetes.io/metadata.name": name}


def rule_matches(rules, group, version, resource, operation, namespaced=True):
    """Whether a webhook's rules match a request (RuleWithOperations semantics:
    '*' wildcards, 'resource/subresource', scope)."""
    for r in rules:
        if not any(g in ("*", group) for g in r.get("apiGroups", [])):
            continue
        if not any(v in ("*", version) for v in r.get("apiVersions", [])):
            continue
        if not any(o in ("*", operation) for o in r.get("operations", [])):
            continue
        base, _, sub = resource.partition("/")
        ok = False
        for res in r.get("resources", []):
            rb, _, rs = res.partition("/")
            if (rb in ("*", base)) and ((not sub and not rs) or (sub and rs in ("*", sub))):
                ok = True
        if not ok:
            continue
        scope = r.get("scope", "*")
        if scope == "*" or scope == ("Namespaced" if namespaced else "Cluster"):
            return True
    return False


def find(objs, kind, name=None, namespace=None):
    return [o for o in objs if o.get("kind") == kind
            and (name is None or o["metadata"].get("name") == name)
            and (namespace is None or o["metadata"].get("namespace") == namespace)]


def one(objs, kind, name=None, namespace=None):
    found = find(objs, kind, name, namespace)
    return found[0] if len(found) == 1 else None


def is_hook(o):
    return "helm.sh/hook" in (o["metadata"].get("annotations") or {})


def pod_specs(objs):
    """(owner, pod template labels, pod spec) for every workload."""
    out = []
    for o in objs:
        k = o.get("kind")
        if k in ("Deployment", "DaemonSet", "Job", "StatefulSet", "ReplicaSet"):
            t = o["spec"]["template"]
            out.append((o, t.get("metadata", {}).get("labels", {}), t["spec"]))
        elif k == "Pod":
            out.append((o, o["metadata"].get("labels", {}), o["spec"]))
    return out


def restricted_violations(spec):
    """Violations of the Pod Security Standards "restricted" profile (plus
    readOnlyRootFilesystem and resource requests, which this chart promises)."""
    bad = []
    psc = spec.get("securityContext") or {}
    for f in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(f):
            bad.append(f"pod {f}")
    allowed_vols = {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral",
                    "persistentVolumeClaim", "projected", "secret"}
    for v in spec.get("volumes") or []:
        kinds = set(v) - {"name"}
        if not kinds <= allowed_vols:
            bad.append(f"volume {v['name']} of type {sorted(kinds - allowed_vols)}")
    if psc.get("runAsUser") == 0:
        bad.append("pod runAsUser 0")
    for c in (spec.get("initContainers") or []) + spec.get("containers", []):
        sc = c.get("securityContext") or {}
        n = c["name"]

        def eff(key):
            return sc[key] if key in sc else psc.get(key)
        if sc.get("privileged"):
            bad.append(f"{n}: privileged")
        if sc.get("allowPrivilegeEscalation") is not False:
            bad.append(f"{n}: allowPrivilegeEscalation is not false")
        caps = sc.get("capabilities") or {}
        if "ALL" not in (caps.get("drop") or []):
            bad.append(f"{n}: capabilities do not drop ALL")
        if set(caps.get("add") or []) - {"NET_BIND_SERVICE"}:
            bad.append(f"{n}: adds capabilities {caps['add']}")
        if eff("runAsNonRoot") is not True:
            bad.append(f"{n}: runAsNonRoot is not true")
        if eff("runAsUser") == 0:
            bad.append(f"{n}: runAsUser 0")
        sp = (eff("seccompProfile") or {}).get("type")
        if sp not in ("RuntimeDefault", "Localhost"):
            bad.append(f"{n}: seccompProfile {sp}")
        if sc.get("readOnlyRootFilesystem") is not True:
            bad.append(f"{n}: root filesystem is writable")
        for p in c.get("ports") or []:
            if p.get("hostPort"):
                bad.append(f"{n}: hostPort {p['hostPort']}")
        if not (c.get("resources") or {}).get("requests"):
            bad.append(f"{n}: no resource requests")
    return bad


def container_port(container, port):
    """Resolves a Service targetPort or probe port (number or name) against a
    container's ports; returns the number or None."""
    for p in container.get("ports") or []:
        if port == p.get("name") or port == p.get("containerPort"):
            return p["containerPort"]
    return port if isinstance(port, int) and not container.get("ports") else None


def mounted_source(spec, container, path):
    """What a file path inside the container comes from: (volume, key) where
    the volume is a pod volume and key the Secret/ConfigMap key, or None."""
    for m in container.get("volumeMounts") or []:
        mp = m["mountPath"].rstrip("/") + "/"
        if not path.startswith(mp) or m.get("subPath"):
            continue
        rel = path[len(mp):]
        vol = next((v for v in spec.get("volumes") or [] if v["name"] == m["name"]), None)
        if vol is None:
            return None
        src = vol.get("secret") or vol.get("configMap") or {}
        items = src.get("items")
        if items:
            key = next((i["key"] for i in items if i["path"] == rel), None)
        else:
            key = rel
        return vol, key
    return None


def parse_flags(args):
    """--name=value / --name value pairs after the subcommand (a flag
    followed by another option has the value "")."""
    flags, i = {}, 0
    while i < len(args):
        a = args[i]
        if a.startswith("--"):
            if "=" in a:
                k, v = a[2:].split("=", 1)
            elif i + 1 < len(args) and not args[i + 1].startswith("--"):
                k, v = a[2:], args[i + 1]
                i += 1
            else:
                k, v = a[2:], ""  # a flag such as --manage-certs
            flags[k] = v
        i += 1
    return flags


def openssl(args, stdin=None):
    p = subprocess.run(["openssl"] + args, input=stdin, capture_output=True, text=True, timeout=30)
    return p.returncode, p.stdout + p.stderr


# ---------------------------------------------------------------- schema validation

class Schemas:
    """Validators built once per schema file (the big ones take ~0.4 s)."""

    def __init__(self, shared):
        from jsonschema import Draft7Validator
        self.Draft7Validator = Draft7Validator
        self.shared = shared
        self.cache = {}

    def path(self, api_version, kind):
        group, _, version = api_version.rpartition("/")
        if "." in group and not group.endswith(".k8s.io"):  # not a built-in API group
            return os.path.join(self.shared, CRD_SCHEMAS, group, f"{kind.lower()}_{version}.json"), True
        suffix = f"-{group.split('.')[0]}" if group else ""
        return os.path.join(self.shared, K8S_SCHEMAS, f"{kind.lower()}{suffix}-{version}.json"), False

    def errors(self, obj):
        """Schema errors of one object; a kind without a schema is an error."""
        path, crd = self.path(obj.get("apiVersion", ""), obj.get("kind", ""))
        if not os.path.exists(path):
            return [f"no schema for {obj.get('apiVersion')} {obj.get('kind')} ({os.path.basename(path)})"]
        if path not in self.cache:
            with open(path) as f:
                self.cache[path] = self.Draft7Validator(json.load(f))
        errs = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
                for e in self.cache[path].iter_errors(obj)]
        if crd:
            # CRD schemas are not strict at the top level: check it here.
            extra = set(obj) - {"apiVersion", "kind", "metadata", "spec"}
            if extra:
                errs.append(f"unknown top-level keys {sorted(extra)}")
            if not isinstance(obj.get("metadata"), dict) or not obj["metadata"].get("name"):
                errs.append("metadata.name missing")
        return errs


def name_errors(obj):
    """Object names and labels as the API server validates them."""
    md = obj["metadata"]
    name = md.get("name", "")
    errs = []
    if obj["kind"] == "Service":
        if len(name) > 63 or not DNS1035_LABEL.match(name):
            errs.append(f"Service name {name!r} is not a DNS-1035 label")
    elif len(name) > 253 or not DNS1123_SUBDOMAIN.match(name):
        errs.append(f"name {name!r} is not a DNS-1123 subdomain")
    for k, v in (md.get("labels") or {}).items():
        prefix, _, lname = k.rpartition("/")
        if len(lname) > 63 or not LABEL_NAME.match(lname) or (prefix and not DNS1123_SUBDOMAIN.match(prefix)):
            errs.append(f"label key {k!r}")
        if len(str(v)) > 63 or not LABEL_VALUE.match(str(v)):
            errs.append(f"label {k}={v!r}: not a valid label value")
    return errs


# ---------------------------------------------------------------- scenarios

def make_ca():
    """A throwaway CA certificate (PEM) for the existing-Secret scenario."""
    with tempfile.TemporaryDirectory() as d:
        rc, out = openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                           "-nodes", "-keyout", os.path.join(d, "k"), "-out", os.path.join(d, "c"),
                           "-days", "2", "-subj", "/CN=test-ca"])
        if rc != 0:
            return None
        with open(os.path.join(d, "c")) as f:
            return f.read()


def scenarios(ca_pem):
    ca_b64 = base64.b64encode(ca_pem.encode()).decode() if ca_pem else "bm8tY2E="
    return [
        {"id": "default", "mode": "self"},
        {"id": "generate", "mode": "generate", "set": {"certificates.mode": "generate"}},
        {"id": "certmanager", "mode": "certManager", "files": ["values-certmanager.yaml"],
         "set": {"networkPolicy.enabled": False}, "networkPolicy": False},
        {"id": "certmanager-issuer", "mode": "certManager", "files": ["values-certmanager-issuer.yaml"],
         "issuerRef": {"name": "platform-ca", "kind": "ClusterIssuer", "group": "cert-manager.io"}},
        {"id": "existing-secret", "mode": "existingSecret", "files": ["values-existing-secret.yaml"],
         "set": {"certificates.existingSecret.caBundle": ca_b64}, "caBundle": ca_b64,
         "secret": "dsguard-serving-cert"},
        {"id": "optional-on", "mode": "self", "files": ["values-optional-on.yaml"],
         "set": {"certificates.self.caValidity": "730d", "certificates.self.certValidity": "30d",
                 "certificates.self.caOverlap": "2h"},
         "durations": {"ca-validity": "730d", "cert-validity": "30d", "ca-overlap": "2h"},
         "failurePolicy": "Fail", "timeoutSeconds": 10, "replicas": 3, "serviceMonitor": True,
         "networkPolicy": True, "exclude": ["cni-system", "storage-system"],
         "image": "registry.example.com/platform/dsguard@sha256:"
                  "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
         "config": {"enforce": False, "allowExemptionAnnotation": False,
                    "rules": {"priority-class": {"severity": "warning", "default": "node-agents",
                                                 "allowed": ["node-agents", "system-node-critical"]},
                              "restart-policy": {"severity": "off"},
                              "dedicated-namespace": {"severity": "error",
                                                      "exemptNamespaces": ["kube-system", "monitoring"]}}}},
        {"id": "validating-only", "mode": "self", "files": ["values-validating-only.yaml"],
         "mutating": False, "pdb": False},
        {"id": "mutating-only", "mode": "self", "files": ["values-mutating-only.yaml"],
         "validating": False, "preDelete": False},
        {"id": "generate-validating-only", "mode": "generate", "files": ["values-validating-only.yaml"],
         "set": {"certificates.mode": "generate"}, "mutating": False, "pdb": False},
        {"id": "other-release", "mode": "self", "release": "guard", "namespace": "ops",
         "fullname": "guard-dsguard"},
        {"id": "audit-on", "mode": "self", "audit": True,
         "set": {"prometheusRule.enabled": True, "dashboards.enabled": True, "policyReports.enabled": True,
                 "audit.metricsDetail": True}},
        {"id": "one-replica", "mode": "self", "set": {"replicaCount": 1, "podDisruptionBudget.enabled": False},
         "replicas": 1, "pdb": False},
        {"id": "claims-local", "mode": "self", "set": {"webhook.claims": "local"}, "claims": "local"},
        {"id": "claims-tuned", "mode": "self", "set": {"webhook.claimTTLSeconds": 90,
                                                           "webhook.claimDeadlineSeconds": 4},
         "claimTTL": "90", "claimDeadline": "4"},
    ]


# Values the schema (or the templates) must refuse, and a word the error names.
INVALID = [
    ("failurePolicy outside Ignore|Fail", {"webhook.failurePolicy": "Maybe"}, "failurePolicy"),
    ("timeoutSeconds over 30 (API server limit)", {"webhook.timeoutSeconds": 31}, "timeoutSeconds"),
    ("timeoutSeconds 0", {"webhook.timeoutSeconds": 0}, "timeoutSeconds"),
    ("unknown key", {"webhook.failurPolicy": "Fail"}, "failurPolicy"),
    ("unknown certificate mode", {"certificates.mode": "selfsigned"}, "mode"),
    ("a self-mode duration without a unit", {"certificates.self.certValidity": "90"}, "certValidity"),
    ("a self-mode duration in Go's form", {"certificates.self.caOverlap": "1h30m"}, "caOverlap"),
    ("unknown rule severity", {"config.rules.restart-policy.severity": "fatal"}, "severity"),
    ("a rule option that is a number", {"config.rules.priority-class.default": 5}, "default"),
    ("a rule that is not a mapping", {"config.rules.new-rule": "strict"}, "new-rule"),
    ("a rule name that is no name", {"config.rules.no_such rule.severity": "error"}, "no_such rule"),
    ("unknown key under config", {"config.enforcing": True}, "enforcing"),
    ("existingSecret without caBundle", {"certificates.mode": "existingSecret",
                                         "certificates.existingSecret.name": "x"}, "caBundle"),
    ("grace period not longer than drain + timeout", {"terminationGracePeriodSeconds": 10,
                                                      "drainSeconds": 5}, "terminationGracePeriodSeconds"),
    ("replicaCount 0", {"replicaCount": 0}, "replicaCount"),
    ("policyReports.enabled outside auto|true|false", {"policyReports.enabled": "maybe"}, "enabled"),
    ("prometheusRule.violationsFor that is no duration", {"prometheusRule.violationsFor": "soon"},
     "violationsFor"),
    ("unknown claims mode", {"webhook.claims": "everywhere"}, "claims"),
    ("claimTTLSeconds 0", {"webhook.claimTTLSeconds": 0}, "claimTTLSeconds"),
    ("claimDeadlineSeconds 0", {"webhook.claimDeadlineSeconds": 0}, "claimDeadlineSeconds"),
    ("claimDeadlineSeconds not below timeoutSeconds", {"webhook.claimDeadlineSeconds": 5}, "claimDeadlineSeconds"),
]


# ---------------------------------------------------------------- checks

def check_scenario(t, sc, objs, schemas):
    sid = sc["id"]
    ns = sc.get("namespace", "dsguard-system")
    full = sc.get("fullname", "dsguard")
    host = f"{full}.{ns}.svc"

    # Schemas and API-server validation of names.
    if schemas is not None:
        errs = []
        for o in objs:
            for e in schemas.errors(o):
                errs.append(f"{o.get('kind')}/{o.get('metadata', {}).get('name')}: {e}")
        t.ok(not errs, f"{sid}: all {len(objs)} objects valid against their Kubernetes/CRD schemas",
             "\n".join(errs))
    errs = [f"{o['kind']}/{o['metadata'].get('name')}: {e}" for o in objs for e in name_errors(o)]
    t.ok(not errs, f"{sid}: names and labels are valid for the API server", "\n".join(errs))
    keys = [(o["apiVersion"].split("/")[0] if "/" in o["apiVersion"] else "", o["kind"],
             o["metadata"].get("namespace"), o["metadata"]["name"]) for o in objs]
    t.ok(len(keys) == len(set(keys)), f"{sid}: no two objects share kind and name",
         "\n".join(str(k) for k in keys if keys.count(k) > 1))
    scope_errs = [f"{o['kind']}/{o['metadata']['name']}: namespace {o['metadata'].get('namespace')!r}"
                  for o in objs
                  if (o["kind"] in CLUSTER_SCOPED) != (o["metadata"].get("namespace") is None)
                  or (o["kind"] not in CLUSTER_SCOPED and o["metadata"].get("namespace") != ns)]
    t.ok(not scope_errs, f"{sid}: namespaced objects are in {ns}, cluster-scoped ones have no namespace",
         "\n".join(scope_errs))

    svc = one(objs, "Service", full, ns)
    dep = one(objs, "Deployment", full, ns)
    if not t.ok(svc is not None and dep is not None, f"{sid}: one Service and one Deployment named {full}"):
        return
    pod = dep["spec"]["template"]
    pspec = pod["spec"]
    plabels = pod["metadata"].get("labels", {})
    ctr = next((c for c in pspec["containers"] if c["name"] == "dsguard"), pspec["containers"][0])

    # --- the Deployment
    t.eq(dep["spec"].get("replicas"), sc.get("replicas", 2), f"{sid}: replicas")
    t.ok(selector_matches(dep["spec"]["selector"], plabels),
         f"{sid}: Deployment selector matches its pod template labels")
    aff = (pspec.get("affinity") or {}).get("podAntiAffinity") or {}
    terms = [x for x in aff.get("requiredDuringSchedulingIgnoredDuringExecution") or []] + \
            [x["podAffinityTerm"] for x in aff.get("preferredDuringSchedulingIgnoredDuringExecution") or []]
    t.ok(any(x.get("topologyKey") == "kubernetes.io/hostname" and selector_matches(x.get("labelSelector"), plabels)
             for x in terms), f"{sid}: pod anti-affinity keeps replicas on different nodes")
    args = ctr.get("args") or []
    flags = parse_flags(args[1:])
    t.eq(args[:1], ["serve"], f"{sid}: the container runs dsguard serve")
    t.ok(set(flags) <= SERVE_FLAGS, f"{sid}: serve gets only its documented flags",
         f"unknown: {sorted(set(flags) - SERVE_FLAGS)}")
    t.eq((flags.get("cluster"), flags.get("log-format")), ("on", "json"),
         f"{sid}: --cluster on (in the cluster) and --log-format json")
    claims = sc.get("claims", "cluster" if sc.get("replicas", 2) > 1 else "local")
    want = {"claims": claims}
    if claims == "cluster":
        want.update({"claim-namespace": ns, "claim-ttl": sc.get("claimTTL", "30"),
                     "claim-deadline": sc.get("claimDeadline", "2")})
    t.eq({k: v for k, v in flags.items() if k.startswith("claim")}, want,
         f"{sid}: --claims {claims} ({sc.get('replicas', 2)} replicas), its Leases in the release namespace")
    listen = flags.get("listen", "")
    lport = int(listen.rpartition(":")[2]) if listen.rpartition(":")[2].isdigit() else None
    t.ok(lport is not None and any(p.get("containerPort") == lport for p in ctr.get("ports") or []),
         f"{sid}: --listen port {lport} is a declared containerPort")
    tls_name = sc.get("secret", f"{full}-tls")
    if sc["mode"] == "self":
        check_self_flags(t, sc, objs, flags, pspec, ctr, full, ns, tls_name)
    for flag, key in (("tls-cert", "tls.crt"), ("tls-key", "tls.key")) if sc["mode"] != "self" else ():
        src = mounted_source(pspec, ctr, flags.get(flag, ""))
        t.ok(src is not None and (src[0].get("secret") or {}).get("secretName") == tls_name and src[1] == key,
             f"{sid}: --{flag} is key {key} of Secret {tls_name}, mounted without subPath",
             f"{flags.get(flag)} -> {src}")
    src = mounted_source(pspec, ctr, flags.get("config", ""))
    cm = one(objs, "ConfigMap", src[0]["configMap"].get("name"), ns) if src and "configMap" in src[0] else None
    t.ok(cm is not None and src[1] in (cm.get("data") or {}),
         f"{sid}: --config is a key of the rendered ConfigMap, mounted without subPath (so reloads reach it)")
    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        g = (ctr.get(probe) or {}).get("httpGet") or {}
        t.ok(g.get("path") == path and g.get("scheme") == "HTTPS" and container_port(ctr, g.get("port")) == lport,
             f"{sid}: {probe} is GET {path} over HTTPS on the listening port", json.dumps(g))
    pre = (((ctr.get("lifecycle") or {}).get("preStop") or {}).get("exec") or {}).get("command") or []
    drain = int(pre[-1]) if pre and pre[-1].isdigit() else 0
    grace = pspec.get("terminationGracePeriodSeconds", 30)
    t.ok(drain > 0 and grace > drain + sc.get("timeoutSeconds", 5),
         f"{sid}: grace period {grace}s outlasts the drain ({drain}s) plus the webhook timeout")
    t.eq(ctr.get("image"), sc.get("image", f"dsguard:{VERSION}"), f"{sid}: image")
    rv = restricted_violations(pspec)
    t.ok(not rv, f"{sid}: webhook pod meets Pod Security 'restricted', read-only root, requests set",
         "\n".join(rv))
    t.ok(pspec.get("automountServiceAccountToken") is not False,
         f"{sid}: the service account token is mounted (the DaemonSet watch needs it)")

    # --- RBAC for the watch
    sa_name = pspec.get("serviceAccountName")
    t.ok(one(objs, "ServiceAccount", sa_name, ns) is not None, f"{sid}: the pod's ServiceAccount is rendered")
    rules, bound = [], []
    for b in find(objs, "ClusterRoleBinding") + find(objs, "RoleBinding"):
        if is_hook(b):
            continue
        if any(s.get("kind") == "ServiceAccount" and s.get("name") == sa_name and s.get("namespace", ns) == ns
               for s in b.get("subjects") or []):
            role = one(objs, b["roleRef"]["kind"], b["roleRef"]["name"])
            bound.append(b)
            # a RoleBinding grants in its own namespace only, whatever its role
            where = b["metadata"].get("namespace") if b["kind"] == "RoleBinding" else None
            rules += [(where, r) for r in (role or {}).get("rules") or [{"missing role": b["roleRef"]["name"]}]]
    # (namespace or None for cluster-wide, group, resource, verb, resource name or "*")
    grants = {(role_ns, g, r, v, n) for role_ns, rule in rules for g in rule.get("apiGroups", [])
              for r in rule.get("resources", []) for v in rule.get("verbs", [])
              for n in rule.get("resourceNames", ["*"])}
    want = {(None, "apps", "daemonsets", v, "*") for v in ("get", "list", "watch")}
    if claims == "cluster":
        want |= {(ns, "coordination.k8s.io", "leases", v, "*") for v in ("get", "create", "update", "delete")}
    if sc.get("audit"):
        want |= {(None, "wgpolicyk8s.io", "policyreports", v, "*") for v in ("get", "list", "create", "update",
                                                                             "delete")}
        want |= {(ns, "coordination.k8s.io", "leases", "create", "*")}
        want |= {(ns, "coordination.k8s.io", "leases", v, "dsguard-audit") for v in ("get", "update")}
    if sc["mode"] == "self":
        # The one Secret in the release namespace (a Role): by name, except
        # create, which resourceNames cannot restrict; the two webhook
        # configurations by name.
        want |= {(ns, "", "secrets", v, tls_name) for v in ("get", "watch", "update")}
        want |= {(ns, "", "secrets", "create", "*")}
        for kind, on in (("validatingwebhookconfigurations", sc.get("validating", True)),
                         ("mutatingwebhookconfigurations", sc.get("mutating", True))):
            want |= {(None, "admissionregistration.k8s.io", kind, v, full)
                     for v in ("get", "watch", "patch")} if on else set()
    t.eq(grants, want, f"{sid}: the server may get/list/watch apps daemonsets cluster-wide"
                       + (", and get/create/update/delete leases in its own namespace" if claims == "cluster" else "")
                       + (", and write PolicyReports and its Lease" if sc.get("audit") else "")
                       + (", and get/watch/update its Secret, create Secrets in its namespace, "
                          "get/watch/patch its webhook configurations" if sc["mode"] == "self" else "")
                       + ", nothing more")
    roles = [one(objs, b["roleRef"]["kind"], b["roleRef"]["name"]) for b in bound]
    t.ok(all(r is not None and (r["kind"] == "ClusterRole" or r["metadata"].get("namespace") == ns) for r in roles),
         f"{sid}: every Role the server is bound to is in {ns}")

    # --- Service wiring
    sport = next((p for p in svc["spec"]["ports"] if p.get("port") == 443), None)
    t.ok(selector_matches({"matchLabels": svc["spec"].get("selector") or {}}, plabels) and svc["spec"].get("selector"),
         f"{sid}: Service selects the webhook pods")
    t.ok(sport is not None and container_port(ctr, sport.get("targetPort", 443)) == lport,
         f"{sid}: Service port 443 reaches the listening container port")

    # --- PodDisruptionBudget
    pdbs = find(objs, "PodDisruptionBudget")
    if sc.get("pdb", True):
        pdb = pdbs[0] if len(pdbs) == 1 else None
        allows = pdb is not None and (
            (isinstance(pdb["spec"].get("maxUnavailable"), int) and pdb["spec"]["maxUnavailable"] >= 1)
            or (isinstance(pdb["spec"].get("minAvailable"), int) and pdb["spec"]["minAvailable"] < dep["spec"]["replicas"]))
        t.ok(pdb is not None and selector_matches(pdb["spec"]["selector"], plabels) and allows,
             f"{sid}: PodDisruptionBudget covers the pods and still lets a node drain")
    else:
        t.eq(len(pdbs), 0, f"{sid}: no PodDisruptionBudget when disabled")

    # --- ConfigMap contents
    if cm is not None and src is not None:
        try:
            conf = yaml.safe_load(cm["data"][src[1]])
        except yaml.YAMLError as e:
            conf = {"unparsable": str(e)}
        unknown = set(conf) - CONFIG_KEYS
        known = rule_keys()
        for r, body in (conf.get("rules") or {}).items():
            unknown |= {f"rules.{r}.{k}" for k in set(body or {}) - known[r]} if r in known else {f"rules.{r}"}
        t.ok(not unknown, f"{sid}: the config file has only the keys dsguard reads", str(unknown))
        want = sc.get("config", {"enforce": True, "allowExemptionAnnotation": True,
                                 "rules": {"priority-class": {"severity": "error", "allowed": []},
                                           "restart-policy": {"severity": "error"},
                                           "dedicated-namespace": {"severity": "error",
                                                                   "exemptNamespaces": ["kube-system"]}}})
        t.eq(conf, want, f"{sid}: the config file says what the values say")

    # --- webhook configurations
    check_webhooks(t, sc, objs, svc, lport, ctr, host)
    check_certificates(t, sc, objs, host, pspec, ctr, tls_name)
    check_hooks(t, sc, objs, full, ns, host)
    check_optional(t, sc, objs, svc, plabels, lport, host, tls_name)
    check_audit(t, sc, objs, flags)


def check_webhooks(t, sc, objs, svc, lport, ctr, host):
    sid = sc["id"]
    ns = sc.get("namespace", "dsguard-system")
    want = {"ValidatingWebhookConfiguration": ("/validate", sc.get("validating", True)),
            "MutatingWebhookConfiguration": ("/mutate", sc.get("mutating", True))}
    for kind, (path, enabled) in want.items():
        cfgs = find(objs, kind)
        if not enabled:
            t.eq(len(cfgs), 0, f"{sid}: no {kind} when disabled")
            continue
        if not t.eq(len(cfgs), 1, f"{sid}: one {kind}"):
            continue
        hooks = cfgs[0].get("webhooks") or []
        t.ok(len(hooks) >= 1, f"{sid}: {kind} has a webhook")
        for w in hooks:
            n = f"{sid}: {kind} {w['name']}"
            t.ok(len(w["name"].split(".")) >= 3 and DNS1123_SUBDOMAIN.match(w["name"]),
                 f"{n}: name is fully qualified")
            claims = sc.get("claims", "cluster" if sc.get("replicas", 2) > 1 else "local")
            t.eq(w.get("sideEffects"), "NoneOnDryRun" if claims == "cluster" else "None",
                 f"{n}: sideEffects {'NoneOnDryRun (claims are made, never on a dry run)' if claims == 'cluster' else 'None'}")
            t.eq(w.get("admissionReviewVersions"), ["v1", "v1beta1"], f"{n}: admissionReviewVersions")
            t.eq(w.get("failurePolicy"), sc.get("failurePolicy", "Ignore"), f"{n}: failurePolicy")
            t.eq(w.get("timeoutSeconds"), sc.get("timeoutSeconds", 5), f"{n}: timeoutSeconds")
            t.eq(w.get("matchPolicy"), "Equivalent", f"{n}: matchPolicy Equivalent")
            rules = w.get("rules") or []
            t.ok(all(rule_matches(rules, "apps", "v1", "daemonsets", op) for op in ("CREATE", "UPDATE")),
                 f"{n}: matches apps/v1 daemonsets CREATE and UPDATE")
            t.ok(not any(rule_matches(rules, "apps", "v1", "daemonsets", op) for op in ("DELETE", "CONNECT"))
                 and not rule_matches(rules, "apps", "v1", "deployments", "CREATE")
                 and not rule_matches(rules, "apps", "v1", "daemonsets/status", "UPDATE")
                 and not rule_matches(rules, "", "v1", "pods", "CREATE"),
                 f"{n}: matches nothing else (DELETE, CONNECT, other resources, the status subresource)")
            sel = w.get("namespaceSelector", {})
            left_out = [ns, "kube-system"] + sc.get("exclude", [])
            t.ok(not any(selector_matches(sel, namespace_labels(x)) for x in left_out),
                 f"{n}: namespaceSelector leaves out {', '.join(left_out)}")
            t.ok(all(selector_matches(sel, namespace_labels(x)) for x in ("default", "logging", "monitoring")),
                 f"{n}: namespaceSelector covers other namespaces")
            cc = w.get("clientConfig") or {}
            s = cc.get("service") or {}
            t.ok("url" not in cc and s.get("name") == svc["metadata"]["name"] and s.get("namespace") == ns
                 and s.get("path") == path and s.get("port", 443) in [p["port"] for p in svc["spec"]["ports"]],
                 f"{n}: calls the chart's Service at {path} on a Service port", json.dumps(cc)[:300])


def pem_of(b64):
    try:
        return base64.b64decode(b64, validate=True).decode()
    except Exception:  # noqa: BLE001 - any decoding problem is a test failure
        return ""


def check_certificates(t, sc, objs, host, pspec, ctr, tls_name):
    sid = sc["id"]
    ns = sc.get("namespace", "dsguard-system")
    cfgs = find(objs, "ValidatingWebhookConfiguration") + find(objs, "MutatingWebhookConfiguration")
    bundles = [w.get("clientConfig", {}).get("caBundle") for c in cfgs for w in c.get("webhooks") or []]
    secret = one(objs, "Secret", tls_name, ns)
    mode = sc["mode"]
    if mode == "self":
        t.ok(secret is None and not find(objs, "Certificate") and not find(objs, "Secret"),
             f"{sid}: the chart renders no Secret and no Certificate (dsguard makes {tls_name})")
        t.ok(bundles and not any("caBundle" in (w.get("clientConfig") or {})
                                 for c in cfgs for w in c.get("webhooks") or []),
             f"{sid}: no webhook configuration renders a caBundle (dsguard publishes it)")
        t.ok(not any("cert-manager.io/inject-ca-from" in (c["metadata"].get("annotations") or {}) for c in cfgs),
             f"{sid}: no CA injection annotation")
        vols = [v.get("secret", {}).get("secretName") for v in pspec.get("volumes") or []]
        t.ok(tls_name not in vols, f"{sid}: the pods mount no TLS Secret (the server reads it through the API)")
    elif mode == "generate":
        if not t.ok(secret is not None and secret.get("type") == "kubernetes.io/tls",
                    f"{sid}: the chart renders the kubernetes.io/tls Secret {tls_name}"):
            return
        data = secret.get("data") or {}
        t.ok(bundles and all(b == data.get("ca.crt") for b in bundles),
             f"{sid}: every webhook's caBundle is the Secret's ca.crt")
        ca, crt, key = (pem_of(data.get(k, "")) for k in ("ca.crt", "tls.crt", "tls.key"))
        with tempfile.TemporaryDirectory() as d:
            for name, text in (("ca", ca), ("crt", crt), ("key", key)):
                with open(os.path.join(d, name), "w") as f:
                    f.write(text)
            rc, out = openssl(["x509", "-in", os.path.join(d, "ca"), "-noout", "-text"])
            t.ok(rc == 0 and re.search(r"CA:TRUE", out), f"{sid}: caBundle is a PEM CA certificate", out[:400])
            rc, out = openssl(["verify", "-CAfile", os.path.join(d, "ca"), "-purpose", "sslserver",
                               os.path.join(d, "crt")])
            t.ok(rc == 0, f"{sid}: tls.crt is a server certificate signed by the caBundle", out)
            for name in (host, f"{host}.cluster.local"):
                rc, out = openssl(["x509", "-in", os.path.join(d, "crt"), "-noout", "-checkhost", name])
                t.ok(rc == 0 and "does match" in out, f"{sid}: tls.crt is valid for {name}", out)
            _, pub_crt = openssl(["x509", "-in", os.path.join(d, "crt"), "-noout", "-pubkey"])
            _, pub_key = openssl(["pkey", "-in", os.path.join(d, "key"), "-pubout"])
            t.ok("BEGIN PUBLIC KEY" in pub_crt and pub_crt == pub_key, f"{sid}: tls.key is tls.crt's key")
            rc, out = openssl(["x509", "-in", os.path.join(d, "crt"), "-noout", "-checkend", str(3600 * 24 * 3000)])
            t.ok(rc == 0, f"{sid}: the generated certificate is valid for years (validityDays 3650)", out)
    elif mode == "certManager":
        t.ok(secret is None, f"{sid}: the chart renders no TLS Secret (cert-manager writes it)")
        t.ok(bundles and not any(bundles), f"{sid}: no caBundle rendered (the CA injector fills it)")
        inject = {(c["metadata"].get("annotations") or {}).get("cert-manager.io/inject-ca-from") for c in cfgs}
        cert_ref = next(iter(inject)) if len(inject) == 1 else None
        cns, _, cname = (cert_ref or "").partition("/")
        cert = one(objs, "Certificate", cname, cns)
        t.ok(cert is not None and cns == ns, f"{sid}: every webhook configuration injects the CA of the "
             f"rendered Certificate ({cert_ref})")
        if cert is None:
            return
        spec = cert["spec"]
        t.eq(spec.get("secretName"), tls_name, f"{sid}: the Certificate writes the Secret the pods mount")
        t.ok(host in (spec.get("dnsNames") or []), f"{sid}: the Certificate is for {host}", spec.get("dnsNames"))
        t.ok("server auth" in (spec.get("usages") or ["server auth"]), f"{sid}: the Certificate allows server auth")
        ref = spec.get("issuerRef") or {}
        if "issuerRef" in sc:
            t.eq({k: ref.get(k) for k in ("name", "kind", "group")}, sc["issuerRef"],
                 f"{sid}: the given issuerRef is used")
            t.eq(find(objs, "Issuer"), [], f"{sid}: no Issuer rendered when one is given")
        else:
            issuer = one(objs, "Issuer", ref.get("name"), ns) if ref.get("kind", "Issuer") == "Issuer" else None
            ca_secret = ((issuer or {}).get("spec") or {}).get("ca", {}).get("secretName")
            ca_cert = next((c for c in find(objs, "Certificate", namespace=ns)
                            if c["spec"].get("secretName") == ca_secret), None)
            root_ref = ((ca_cert or {}).get("spec") or {}).get("issuerRef") or {}
            root = one(objs, "Issuer", root_ref.get("name"), ns)
            t.ok(issuer is not None and ca_cert is not None and ca_cert["spec"].get("isCA") is True
                 and root is not None and "selfSigned" in root["spec"],
                 f"{sid}: serving Certificate <- CA Issuer <- CA Certificate (isCA) <- self-signed Issuer")
    elif mode == "existingSecret":
        t.ok(secret is None and not find(objs, "Certificate"), f"{sid}: the chart makes no certificate")
        t.ok(bundles and all(b == sc["caBundle"] for b in bundles), f"{sid}: caBundle is the given one")


def check_self_flags(t, sc, objs, flags, pspec, ctr, full, ns, tls_name):
    """certificates.mode=self: serve --manage-certs names the Secret the
    helm test and the ServiceMonitor read, the Service, its namespace, the
    rendered webhook configurations (and only those), and the durations."""
    sid = sc["id"]
    names = {"validating-webhook": [c["metadata"]["name"] for c in find(objs, "ValidatingWebhookConfiguration")],
             "mutating-webhook": [c["metadata"]["name"] for c in find(objs, "MutatingWebhookConfiguration")]}
    t.ok("manage-certs" in flags and "tls-cert" not in flags and "tls-key" not in flags,
         f"{sid}: serve --manage-certs, without --tls-cert and --tls-key", str(flags))
    t.eq((flags.get("cert-secret"), flags.get("service"), flags.get("service-namespace")), (tls_name, full, ns),
         f"{sid}: --cert-secret, --service and --service-namespace name {tls_name}, the Service {full}, {ns}")
    t.eq({k: [flags[k]] if k in flags else [] for k in names}, names,
         f"{sid}: --validating-webhook and --mutating-webhook name exactly the rendered configurations")
    want = sc.get("durations", {"ca-validity": "1825d", "cert-validity": "90d", "ca-overlap": "1h"})
    t.eq({k: flags.get(k) for k in want}, want, f"{sid}: the durations of certificates.self")
    t.ok(not any(m.get("mountPath") == "/etc/dsguard/tls" for m in ctr.get("volumeMounts") or []),
         f"{sid}: no TLS volume mounted")


def check_gitops_examples(t, objs):
    """examples/gitops: Argo CD's ignoreDifferences and Flux's drift
    detection ignore rules name exactly the caBundle fields of the webhook
    configurations the chart renders (group, kind, name; every webhook)."""
    with open(os.path.join(ROOT, "examples", "gitops", "argocd-application.yaml")) as f:
        app = yaml.safe_load(f)
    with open(os.path.join(ROOT, "examples", "gitops", "flux-helmrelease.yaml")) as f:
        rel = next((d for d in yaml.safe_load_all(f) if d and d.get("kind") == "HelmRelease"), {})
    cfgs = find(objs, "ValidatingWebhookConfiguration") + find(objs, "MutatingWebhookConfiguration")
    want = {("admissionregistration.k8s.io", c["kind"], c["metadata"]["name"]) for c in cfgs}
    ignores = app["spec"].get("ignoreDifferences") or []
    got = {(i.get("group"), i.get("kind"), i.get("name")) for i in ignores
           if i.get("jqPathExpressions") == [".webhooks[]?.clientConfig.caBundle"]}
    t.ok(app.get("kind") == "Application" and got == want
         and "RespectIgnoreDifferences=true" in app["spec"]["syncPolicy"].get("syncOptions", []),
         "Argo CD example: ignoreDifferences on .webhooks[]?.clientConfig.caBundle of both configurations, "
         "RespectIgnoreDifferences=true", json.dumps(ignores))
    hr = rel["spec"]
    rules = hr.get("driftDetection", {}).get("ignore") or []
    for c in cfgs:
        paths = {p for r in rules if (r.get("target") or {}).get("kind") == c["kind"]
                 and (r.get("target") or {}).get("name", c["metadata"]["name"]) == c["metadata"]["name"]
                 for p in r.get("paths", [])}
        pointers = {f"/webhooks/{i}/clientConfig/caBundle" for i in range(len(c["webhooks"]))}
        t.ok(rel.get("kind") == "HelmRelease" and paths == pointers,
             f"Flux example: driftDetection ignores every caBundle of the {c['kind']} (JSON pointers)", str(paths))
    t.ok(hr.get("values", {}).get("certificates", {}).get("mode") == "self"
         and app["spec"]["source"].get("helm", {}).get("valuesObject", {}).get("certificates", {})
         .get("mode") == "self", "both examples install the chart in certificates.mode=self")


def hook_weight(o):
    return int((o["metadata"].get("annotations") or {}).get("helm.sh/hook-weight", "0"))


def check_hooks(t, sc, objs, full, ns, host):
    sid = sc["id"]
    jobs = [o for o in find(objs, "Job") if "pre-delete" in
            (o["metadata"].get("annotations") or {}).get("helm.sh/hook", "")]
    cfgs = find(objs, "ValidatingWebhookConfiguration") + find(objs, "MutatingWebhookConfiguration")
    if not sc.get("preDelete", True):
        t.eq(jobs, [], f"{sid}: no pre-delete Job when hooks.preDelete is false")
    elif t.eq(len(jobs), 1, f"{sid}: one pre-delete hook Job"):
        job = jobs[0]
        spec = job["spec"]["template"]["spec"]
        c = spec["containers"][0]
        words = (c.get("command") or []) + (c.get("args") or [])
        targets = {w.lower() for w in words if "/" in w and not w.startswith("-")}
        want = {f"{o['kind'].lower()}/{o['metadata']['name']}" for o in cfgs}
        t.ok("delete" in words and targets == want and "--ignore-not-found" in words,
             f"{sid}: the pre-delete Job deletes exactly the rendered webhook configurations", f"{targets} vs {want}")
        sa = spec.get("serviceAccountName")
        pre = [o for o in objs if is_hook(o) and o is not job]
        sa_obj = next((o for o in pre if o["kind"] == "ServiceAccount" and o["metadata"]["name"] == sa), None)
        binding = next((o for o in pre if o["kind"] == "ClusterRoleBinding" and any(
            s.get("name") == sa and s.get("namespace") == ns for s in o.get("subjects") or [])), None)
        role = next((o for o in pre if binding and o["kind"] == "ClusterRole"
                     and o["metadata"]["name"] == binding["roleRef"]["name"]), None)
        grants = set()
        for r in (role or {}).get("rules") or []:
            for res in r.get("resources", []):
                for n in r.get("resourceNames", ["*"]):
                    if "delete" in r.get("verbs", []):
                        grants.add(f"{res.rstrip('s')}/{n}")
        t.ok(sa_obj is not None and binding is not None and role is not None and grants == want,
             f"{sid}: the hook's ServiceAccount may delete those configurations by name, nothing else",
             f"{grants} vs {want}")
        t.ok(all("pre-delete" in o["metadata"]["annotations"]["helm.sh/hook"] and hook_weight(o) < hook_weight(job)
                 for o in (sa_obj, binding, role) if o),
             f"{sid}: the hook's RBAC objects are pre-delete hooks created before the Job (lower weight)")
        t.ok(spec.get("restartPolicy") in ("Never", "OnFailure"), f"{sid}: the Job's restartPolicy is valid")
        rv = restricted_violations(spec)
        t.ok(not rv, f"{sid}: the hook pod meets Pod Security 'restricted'", "\n".join(rv))

    tests = [o for o in find(objs, "Pod") if (o["metadata"].get("annotations") or {}).get("helm.sh/hook") == "test"]
    if t.eq(len(tests), 1, f"{sid}: one helm test Pod"):
        p = tests[0]["spec"]
        c = p["containers"][0]
        words = (c.get("command") or []) + (c.get("args") or [])
        url = f"https://{host}:443/readyz"
        cafile = words[words.index("--cacert") + 1] if "--cacert" in words else ""
        src = mounted_source(p, c, cafile)
        ca_ok = False
        if src:
            vol, key = src
            if "secret" in vol:
                ca_ok = vol["secret"]["secretName"] == sc.get("secret", f"{full}-tls") and key == "ca.crt"
            elif "configMap" in vol:
                cm = one(objs, "ConfigMap", vol["configMap"]["name"], ns)
                ca_ok = cm is not None and (cm.get("data") or {}).get(key, "").strip() == \
                    pem_of(sc.get("caBundle", "")).strip()
        t.ok(url in words and ca_ok, f"{sid}: helm test calls {url} trusting only the webhook CA",
             " ".join(words))
        rv = restricted_violations(p)
        t.ok(not rv, f"{sid}: the test pod meets Pod Security 'restricted'", "\n".join(rv))


def promtool_check(t, sid, rule):
    """promtool check rules over the PrometheusRule's groups (Debian's
    prometheus package has promtool; without it, one skip saying so)."""
    import shutil
    if not shutil.which("promtool"):
        t.skip(f"{sid}: promtool check rules", "promtool not installed (apt-get install prometheus)")
        return
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
        yaml.safe_dump(rule["spec"], f)
    p = subprocess.run(["promtool", "check", "rules", f.name], capture_output=True, text=True, timeout=60)
    os.unlink(f.name)
    t.ok(p.returncode == 0 and "SUCCESS" in p.stdout, f"{sid}: promtool check rules passes", p.stdout + p.stderr)


def check_audit(t, sc, objs, flags):
    """The audit's parts: PolicyReport RBAC with exactly the verbs needed, the
    Lease Role apart, the flags, the PrometheusRule, the dashboard."""
    sid = sc["id"]
    ns = sc.get("namespace", "dsguard-system")
    roles = {o["metadata"]["name"]: o for o in objs if o["kind"] in ("ClusterRole", "Role")}
    pr_role = [o for o in roles.values() if o["metadata"]["name"].endswith("-policy-reports")]
    lease_role = [o for o in roles.values() if o["metadata"]["name"].endswith("-audit-lease")]
    if not sc.get("audit"):
        t.ok(not pr_role and not lease_role and "policy-reports" not in flags and
             not find(objs, "PrometheusRule") and not [o for o in find(objs, "ConfigMap")
                                                         if o["metadata"]["name"].endswith("-dashboard")],
             f"{sid}: no PolicyReports (the cluster serves no wgpolicyk8s.io here), alerts or dashboard by default")
        return
    t.ok(len(pr_role) == 1 and pr_role[0]["rules"] == [{"apiGroups": ["wgpolicyk8s.io"], "resources": ["policyreports"],
                                                         "verbs": ["get", "list", "create", "update", "delete"]}],
         f"{sid}: PolicyReports: get, list, create, update, delete and nothing else", pr_role)
    t.ok(len(lease_role) == 1 and lease_role[0]["kind"] == "Role" and lease_role[0]["metadata"]["namespace"] == ns and
         lease_role[0]["rules"] == [
             {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["create"]},
             {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "resourceNames": ["dsguard-audit"],
              "verbs": ["get", "update"]}],
         f"{sid}: the audit's Lease: a Role of its own in the release namespace, get and update by name", lease_role)
    bindings = [o for o in objs if o["kind"] in ("ClusterRoleBinding", "RoleBinding") and
                o["roleRef"]["name"] in {r["metadata"]["name"] for r in pr_role + lease_role}]
    t.eq(len(bindings), 2, f"{sid}: both are bound to the ServiceAccount")
    t.ok(flags.get("policy-reports") is not None and flags.get("lease-namespace") == ns and
         flags.get("audit-metrics-detail") is not None, f"{sid}: serve gets --policy-reports, --lease-namespace, "
         "--audit-metrics-detail", flags)
    rules = find(objs, "PrometheusRule")
    if t.eq(len(rules), 1, f"{sid}: one PrometheusRule"):
        alerts = {r["alert"] for g in rules[0]["spec"]["groups"] for r in g["rules"]}
        t.eq(alerts, {"DsguardViolations", "DsguardWebhookErrors", "DsguardWebhookSlow",
                      "DsguardCertificateExpiresSoon", "DsguardCacheNotSynced"}, f"{sid}: the alerts")
        promtool_check(t, sid, rules[0])
    dash = [o for o in find(objs, "ConfigMap") if o["metadata"]["name"].endswith("-dashboard")]
    if t.eq(len(dash), 1, f"{sid}: one dashboard ConfigMap"):
        t.eq(dash[0]["metadata"]["labels"].get("grafana_dashboard"), "1", f"{sid}: labelled for the Grafana sidecar")
        with open(os.path.join(CHART, "dashboards", "dsguard.json")) as f:
            t.eq(json.loads(dash[0]["data"]["dsguard.json"]), json.load(f), f"{sid}: the dashboard JSON as shipped")


def check_optional(t, sc, objs, svc, plabels, lport, host, tls_name):
    sid = sc["id"]
    ns = sc.get("namespace", "dsguard-system")
    sms = find(objs, "ServiceMonitor")
    if not sc.get("serviceMonitor"):
        t.eq(sms, [], f"{sid}: no ServiceMonitor by default")
    elif t.eq(len(sms), 1, f"{sid}: one ServiceMonitor"):
        sm = sms[0]["spec"]
        nsel = sm.get("namespaceSelector") or {}
        ep = (sm.get("endpoints") or [{}])[0]
        t.ok(selector_matches(sm.get("selector"), svc["metadata"].get("labels") or {})
             and (nsel.get("any") or ns in (nsel.get("matchNames") or [ns])),
             f"{sid}: ServiceMonitor selects the Service")
        t.ok(ep.get("port") in [p.get("name") for p in svc["spec"]["ports"]] and ep.get("scheme") == "https"
             and ep.get("path") == "/metrics", f"{sid}: ServiceMonitor scrapes https /metrics on a named Service port")
        tls = ep.get("tlsConfig") or {}
        t.ok(tls.get("serverName") == host and (tls.get("ca") or {}).get("secret") ==
             {"name": tls_name, "key": "ca.crt"} and not tls.get("insecureSkipVerify"),
             f"{sid}: ServiceMonitor verifies the server against the webhook CA", json.dumps(tls))
    nps = find(objs, "NetworkPolicy")
    if not sc.get("networkPolicy", True):
        t.eq(nps, [], f"{sid}: no NetworkPolicy when networkPolicy.enabled is false")
    elif t.eq(len(nps), 1, f"{sid}: one NetworkPolicy"):
        np = nps[0]["spec"]
        t.ok(selector_matches(np.get("podSelector"), plabels) and {"Ingress", "Egress"} <= set(np.get("policyTypes", [])),
             f"{sid}: NetworkPolicy isolates the webhook pods both ways")
        t.ok(any(any(p.get("port") == lport and p.get("protocol", "TCP") == "TCP" for p in r.get("ports") or [])
                 for r in np.get("ingress") or []),
             f"{sid}: NetworkPolicy admits the webhook port {lport}")
        eg = {p.get("port") for r in np.get("egress") or [] for p in r.get("ports") or []}
        t.ok({443, 6443} <= eg, f"{sid}: NetworkPolicy lets the pods reach the API server (443, 6443)", str(eg))


class FakeSecrets:
    """Just enough of a Kubernetes API server for Helm's `lookup` of one
    Secret: discovery of /api/v1 and GET of namespaces/NS/secrets/NAME
    (404 when unset). `helm template --dry-run=server` talks to it."""

    def __init__(self):
        import http.server
        import threading
        fake = self
        self.secret = None
        self.requests = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                path = self.path.split("?")[0]
                fake.requests.append(path)
                body, code = {"kind": "Status", "apiVersion": "v1", "status": "Failure",
                              "reason": "NotFound", "code": 404}, 404
                if path == "/api/v1":
                    body, code = {"kind": "APIResourceList", "groupVersion": "v1", "resources": [
                        {"name": "secrets", "singularName": "secret", "namespaced": True, "kind": "Secret",
                         "verbs": ["get", "list"]}]}, 200
                elif fake.secret is not None and path == "/api/v1/namespaces/{}/secrets/{}".format(
                        fake.secret["metadata"]["namespace"], fake.secret["metadata"]["name"]):
                    body, code = fake.secret, 200
                out = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.dir = tempfile.mkdtemp()
        self.kubeconfig = os.path.join(self.dir, "kubeconfig")
        with open(self.kubeconfig, "w") as f:
            yaml.safe_dump({"apiVersion": "v1", "kind": "Config", "current-context": "fake",
                            "clusters": [{"name": "fake", "cluster": {
                                "server": f"http://127.0.0.1:{self.server.server_address[1]}"}}],
                            "users": [{"name": "fake", "user": {}}],
                            "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "fake"}}]}, f)

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        os.remove(self.kubeconfig)
        os.rmdir(self.dir)


def tls_of(objs):
    """(Secret data, [caBundle of each webhook]) of a generate-mode render."""
    sec = one(objs, "Secret", "dsguard-tls", "dsguard-system") or {}
    cfgs = find(objs, "ValidatingWebhookConfiguration") + find(objs, "MutatingWebhookConfiguration")
    return sec.get("data") or {}, [w["clientConfig"].get("caBundle") for c in cfgs for w in c["webhooks"]]


def check_upgrade_keeps_certificates(t, helm, first):
    """helm upgrade renders with `lookup` against the cluster: an existing
    TLS Secret must come back unchanged, with its CA in both webhooks; a
    missing or incomplete one is generated anew (certificates.mode=generate)."""
    fake = FakeSecrets()
    try:
        args = template_args({"set": {"certificates.mode": "generate"}}) + ["--dry-run=server"]
        data, _ = tls_of(first)
        fake.secret = {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
                       "metadata": {"name": "dsguard-tls", "namespace": "dsguard-system"}, "data": data}
        rc, out, err = helm_run(helm, args, fake.kubeconfig)
        objs = [d for d in yaml.safe_load_all(out) if d] if rc == 0 else []
        again, bundles = tls_of(objs)
        t.ok(rc == 0 and "/api/v1/namespaces/dsguard-system/secrets/dsguard-tls" in fake.requests,
             "upgrade render: the chart looks up its TLS Secret in the cluster", err[-800:] + str(fake.requests))
        t.ok(again == data and len(bundles) == 2 and all(b == data["ca.crt"] for b in bundles),
             "upgrade render: the existing certificate and CA are kept, and both webhooks trust that CA")

        fake.secret = dict(fake.secret, data={k: v for k, v in data.items() if k != "ca.crt"})
        rc, out, err = helm_run(helm, args, fake.kubeconfig)
        objs = [d for d in yaml.safe_load_all(out) if d] if rc == 0 else []
        fresh, bundles = tls_of(objs)
        t.ok(rc == 0 and fresh.get("ca.crt") and fresh.get("tls.crt") != data["tls.crt"]
             and all(b == fresh["ca.crt"] for b in bundles),
             "upgrade render: a Secret without ca.crt is replaced by a new, consistent CA and certificate", err[-800:])

        fake.secret = None
        rc, out, err = helm_run(helm, args, fake.kubeconfig)
        objs = [d for d in yaml.safe_load_all(out) if d] if rc == 0 else []
        fresh, bundles = tls_of(objs)
        t.ok(rc == 0 and fresh.get("tls.crt") and fresh.get("tls.crt") != data["tls.crt"]
             and all(b == fresh["ca.crt"] for b in bundles),
             "install render: no Secret in the cluster, a new CA and certificate", err[-800:])
    finally:
        fake.close()


def lint_rendered(t, sid, objs, config_text=None):
    """dsguard lint over the rendered chart: no DaemonSet, so no findings."""
    stream = yaml.safe_dump_all(objs)
    with tempfile.TemporaryDirectory() as d:
        args = ["lint", "--format", "json"]
        if config_text is not None:
            cfg = os.path.join(d, "config.yaml")
            with open(cfg, "w") as f:
                f.write(config_text)
            args += ["--config", cfg]
        try:
            p = subprocess.run([BIN] + args + ["-"], input=stream, capture_output=True, text=True, timeout=60)
        except OSError as e:
            t.ok(False, f"{sid}: dsguard lint - over the rendered chart", f"{BIN}: {e}")
            return
    try:
        rep = json.loads(p.stdout)
    except ValueError:
        rep = {}
    what = " with the chart's rendered config" if config_text is not None else ""
    t.ok(p.returncode == 0 and rep.get("findings") == [] and not rep.get("errors"),
         f"{sid}: dsguard lint -{what} over the rendered chart: exit 0, no findings",
         f"exit {p.returncode}\n{p.stdout[:800]}\n{p.stderr[:800]}")


def values_keys(path):
    """(dotted key path, documented) for every key line of a values.yaml:
    documented means a comment line sits directly above it."""
    keys, stack, prev = [], [], ""
    with open(path) as f:
        for line in f:
            m = re.match(r"^( *)([A-Za-z0-9_.-]+):(\s|$)", line)
            if m:
                indent = len(m.group(1))
                while stack and stack[-1][0] >= indent:
                    stack.pop()
                stack.append((indent, m.group(2)))
                keys.append((".".join(k for _, k in stack), prev.lstrip().startswith("#")))
            if line.strip():
                prev = line
    return keys


def schema_node(schema, dotted):
    """The schema of a dotted values path: ("typed", node), ("free", None)
    when an ancestor is a free-form map, or ("missing", None)."""
    node = schema
    for key in dotted.split("."):
        props = node.get("properties")
        if props is None:
            return "free", None
        if key not in props:
            return "missing", None
        node = props[key]
    return "typed", node


def check_values_file(t):
    """Item: every value documented in values.yaml and typed in values.schema.json."""
    with open(os.path.join(CHART, "values.schema.json")) as f:
        schema = json.load(f)
    keys = values_keys(os.path.join(CHART, "values.yaml"))
    status = {k: schema_node(schema, k) for k, _ in keys}
    untyped = [k for k, (st, node) in status.items() if st == "missing" or (st == "typed" and "type" not in node
                                                                             and "enum" not in node)]
    t.ok(keys and not untyped, f"all {len(keys)} keys of values.yaml are typed in values.schema.json", str(untyped))
    undocumented = [k for k, doc in keys if status[k][0] == "typed" and not doc]
    t.ok(not undocumented, "every value in values.yaml has a comment", str(undocumented))
    top = set(schema.get("properties", {})) - {"global"}
    t.eq(sorted(top - {k for k, _ in keys if "." not in k}), [],
         "values.schema.json types no top-level value that values.yaml leaves out")


VERSION = open(os.path.join(ROOT, "VERSION")).read().strip()


def main():
    t = Tap()
    helm, err = get_helm()
    if not t.ok(helm is not None, "helm is available (test/chart/get-helm.sh)", err):
        t.done()
    with open(os.path.join(CHART, "Chart.yaml")) as f:
        chart = yaml.safe_load(f)
    t.eq(str(chart.get("appVersion")), VERSION, "Chart appVersion is the project VERSION")
    t.eq(chart.get("name"), "dsguard", "Chart name")
    check_values_file(t)

    ca_pem = make_ca()
    t.ok(ca_pem is not None, "openssl makes a CA for the existing-Secret scenario")
    scs = scenarios(ca_pem)
    schemas = None
    shared = shared_dir(t, "rendered objects against the Kubernetes JSON schemas")
    if shared is not None:
        try:
            schemas = Schemas(shared)
        except ImportError as e:
            t.ok(False, "python3-jsonschema is installed", str(e))

    # Every helm call at once: lint --strict per scenario, template per scenario,
    # template with invalid values.
    with ThreadPoolExecutor(max_workers=8) as pool:
        lints = [pool.submit(helm_run, helm, ["lint", "--strict", CHART, "--namespace",
                                              sc.get("namespace", "dsguard-system")] + values_args(sc))
                 for sc in scs]
        renders = [pool.submit(render, helm, sc) for sc in scs]
        invalid = [pool.submit(helm_run, helm, template_args({"set": s})) for _, s, _ in INVALID]
        for sc, fut in zip(scs, lints):
            rc, out, err = fut.result()
            t.ok(rc == 0, f"{sc['id']}: helm lint --strict", out[-1500:] + err[-1500:])
        results = [f.result() for f in renders]
        for (what, _, word), fut in zip(INVALID, invalid):
            rc, out, err = fut.result()
            t.ok(rc != 0 and word in err, f"helm template refuses {what}", f"exit {rc}\n{err[-800:]}")

    rendered = {}
    for sc, (rc, objs, err) in zip(scs, results):
        if t.ok(rc == 0 and objs, f"{sc['id']}: helm template renders", err[-1500:]):
            rendered[sc["id"]] = objs
            try:
                check_scenario(t, sc, objs, schemas)
            except Exception:  # noqa: BLE001 - a chart shape the checks did not expect
                t.ok(False, f"{sc['id']}: the checks ran to the end", traceback.format_exc())

    if "generate" in rendered:
        check_upgrade_keeps_certificates(t, helm, rendered["generate"])
    if "default" in rendered:
        check_gitops_examples(t, rendered["default"])

    # dsguard lint over the rendered chart, and with the config the chart renders.
    for sid in ("default", "optional-on"):
        if sid in rendered:
            lint_rendered(t, sid, rendered[sid])
            cm = one(rendered[sid], "ConfigMap", "dsguard-config")
            if t.ok(cm is not None, f"{sid}: the config ConfigMap is rendered"):
                lint_rendered(t, sid, rendered[sid], cm["data"]["config.yaml"])
    t.done()


if __name__ == "__main__":
    main()
