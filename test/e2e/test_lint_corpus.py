"""dsguard lint over the real-world corpus, compared with an independent
oracle: kubectl's own reading of each file (kubectl annotate --local -o json),
with DS001-DS003 applied to it here, and PyYAML's pure-Python composer for
positions. Never compared with dsguard's own earlier output."""
import json
import os
import shutil
import subprocess
import sys

import yaml

from tap import Tap, run, shared_dir

DS_APIS = {"apps/v1", "apps/v1beta2", "extensions/v1beta1"}


def kubectl_objects(path):
    """The objects kubectl reads from path (Lists flattened), or [] when
    kubectl finds no Kubernetes object in it."""
    p = subprocess.run(["kubectl", "annotate", "--local", "-f", path, "-o", "json", "oracle=1"],
                       capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        if "Object 'Kind' is missing" in p.stderr:
            return []
        raise RuntimeError(f"kubectl failed on {path}: {p.stderr}")
    dec, text, at, out = json.JSONDecoder(), p.stdout, 0, []
    while True:
        while at < len(text) and text[at].isspace():
            at += 1
        if at >= len(text):
            return out
        obj, at = dec.raw_decode(text, at)
        out.extend(obj.get("items", []) if obj.get("kind", "").endswith("List") else [obj])


def is_daemonset(obj):
    return obj.get("kind") == "DaemonSet" and obj.get("apiVersion") in DS_APIS


def namespace_of(obj):
    return (obj.get("metadata") or {}).get("namespace") or "default"


def pod_spec(obj):
    return ((obj.get("spec") or {}).get("template") or {}).get("spec") or {}


def expected_findings(files):
    """(file, namespace, name, rule) for every file, per SPEC's rule table."""
    want, by_ns = set(), {}
    for f, objs in files.items():
        for o in objs:
            if not is_daemonset(o):
                continue
            ns, name = namespace_of(o), o["metadata"].get("name", "")
            if not pod_spec(o).get("priorityClassName"):
                want.add((f, ns, name, "DS001"))
            if pod_spec(o).get("restartPolicy") not in (None, "Always"):
                want.add((f, ns, name, "DS002"))
            by_ns.setdefault(ns, []).append((f, name))
    for ns, members in by_ns.items():
        if len({n for _, n in members}) > 1:
            want.update((f, ns, n, "DS003") for f, n in members)
    return want


def mapping_get(node, key):
    """The (key node, value node) of key in a PyYAML mapping node."""
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            if isinstance(k, yaml.ScalarNode) and k.value == key:
                return k, v
    return None, None


def yaml_daemonsets(path):
    """(namespace, name) -> PyYAML mapping node, for each DaemonSet document
    (and List item) of path."""
    out = {}
    with open(path, encoding="utf-8-sig") as fh:
        docs = list(yaml.compose_all(fh))
    stack = [d for d in docs if d is not None]
    while stack:
        node = stack.pop()
        _, kind = mapping_get(node, "kind")
        _, items = mapping_get(node, "items")
        if kind is not None and kind.value.endswith("List") and isinstance(items, yaml.SequenceNode):
            stack.extend(items.value)
            continue
        if kind is None or kind.value != "DaemonSet":
            continue
        _, meta = mapping_get(node, "metadata")
        _, name = mapping_get(meta, "name")
        _, ns = mapping_get(meta, "namespace")
        out[(ns.value if ns is not None and ns.value else "default", name.value)] = node
    return out


def expected_position(node, rule):
    """Where SPEC says a finding points: the offending value, or for a
    missing priorityClassName the key of the pod template's spec."""
    _, spec = mapping_get(node, "spec")
    _, template = mapping_get(spec, "template")
    spec_key, pod = mapping_get(template, "spec")
    if rule == "DS001":
        _, value = mapping_get(pod, "priorityClassName")
        mark = (value or spec_key).start_mark
    else:
        _, value = mapping_get(pod, "restartPolicy")
        mark = value.start_mark
    return mark.line + 1, mark.column + 1


def main():
    t = Tap()
    shared = shared_dir(t, "lint over the real-world corpus")
    if shared is None:
        return t.done()
    if not shutil.which("kubectl"):
        t.ok(False, "kubectl (the oracle) is installed")
        return t.done()
    corpus = os.path.join(shared, "corpus", "realworld")
    names = sorted(n for n in os.listdir(corpus) if n.endswith((".yaml", ".yml", ".json")))
    files = {os.path.join(corpus, n): kubectl_objects(os.path.join(corpus, n)) for n in names}
    want = expected_findings(files)

    p = run(["lint", "--format", "json", corpus])
    report = json.loads(p.stdout)
    t.ok(p.returncode == (1 if want else 0), "exit status 1 when the corpus has findings", p.stderr)
    t.eq(report["errors"], [], "no input errors over the corpus")
    got = {(f["file"], f["namespace"], f["resourceName"], f["rule"]) for f in report["findings"]}
    for path in files:
        t.eq(sorted(x for x in got if x[0] == path), sorted(x for x in want if x[0] == path),
             f"findings equal the kubectl oracle: {os.path.basename(path)}")
    daemonsets = sum(1 for objs in files.values() for o in objs if is_daemonset(o))
    t.eq(report["summary"]["daemonsets"], daemonsets, "DaemonSet count equals kubectl's")

    one = run(["lint", "--format", "json", "--jobs", "1", corpus])
    four = run(["lint", "--format", "json", "--jobs", "4", corpus])
    t.ok(one.stdout == p.stdout == four.stdout, "the same output with 1, 4 and the default number of threads")

    checked = 0
    for f in report["findings"]:
        if f["rule"] not in ("DS001", "DS002"):
            continue
        node = yaml_daemonsets(f["file"]).get((f["namespace"], f["resourceName"]))
        if node is None:
            t.ok(False, f"PyYAML finds {f['resourceName']} in {f['file']}")
            continue
        want_pos = expected_position(node, f["rule"])
        t.eq((f["line"], f["column"]), want_pos,
             f"{f['rule']} position in {os.path.basename(f['file'])} ({f['resourceName']})")
        checked += 1
    t.ok(checked > 0, f"positions were checked ({checked})")
    t.done()


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(__file__))
    main()
