"""The webhook's answers to the fixes' edge cases, as `dsguard review` gives
them (the exact body of /validate and /mutate): the JSONPatch of /mutate is
decoded and applied to the object by the small RFC 6902 implementation
below, which shares nothing with dsguard, and the result is checked by hand.

- restartPolicy "" is unset to Kubernetes (defaulted to Always): no finding;
- DS001's patch removes spec.template.spec.priority, which the Priority
  admission plugin refuses beside a class it computes another from;
- a pod template whose spec is null gets a spec holding the class."""
import base64
import copy
import json
import os
import tempfile

from tap import Tap, run

CLASS = "node-agents"


# ---- RFC 6902, strictly: a missing parent or member is an error ----

def unescape(token):
    return token.replace("~1", "/").replace("~0", "~")


def parent_of(doc, path):
    """The container that holds the last token of path, and that token."""
    if not path.startswith("/"):
        raise ValueError(f"not a JSON Pointer: {path!r}")
    tokens = [unescape(t) for t in path[1:].split("/")]
    node = doc
    for t in tokens[:-1]:
        if isinstance(node, dict) and t in node:
            node = node[t]
        elif isinstance(node, list) and t.isdigit() and int(t) < len(node):
            node = node[int(t)]
        else:
            raise ValueError(f"{path}: {t} does not exist")
    if not isinstance(node, (dict, list)):
        raise ValueError(f"{path}: the parent is not an object or array")
    return node, tokens[-1]


def apply_patch(doc, patch):
    """Applies the operations add, remove and replace to a copy of doc (the
    only ones a fix may use; any other is an error)."""
    doc = copy.deepcopy(doc)
    for op in patch:
        kind, path = op["op"], op["path"]
        if path == "":
            if kind != "replace":
                raise ValueError(f"{kind} of the whole document")
            doc = copy.deepcopy(op["value"])
            continue
        parent, key = parent_of(doc, path)
        if isinstance(parent, list):
            raise ValueError(f"{path}: a fix never edits an array")
        if kind == "add":
            parent[key] = copy.deepcopy(op["value"])
        elif kind in ("remove", "replace"):
            if key not in parent:
                raise ValueError(f"{kind} of a missing member {path}")
            if kind == "remove":
                if "value" in op:
                    raise ValueError(f"remove with a value: {op}")
                del parent[key]
            else:
                parent[key] = copy.deepcopy(op["value"])
        else:
            raise ValueError(f"unexpected operation {kind}")
    return doc


# ---- dsguard review ----

def daemonset(pod_spec, name="agent"):
    """A DaemonSet whose pod template's spec is pod_spec (None: null)."""
    template = {"metadata": {"labels": {"app": name}}, "spec": pod_spec}
    return {"apiVersion": "apps/v1", "kind": "DaemonSet",
            "metadata": {"name": name, "namespace": name},
            "spec": {"selector": {"matchLabels": {"app": name}}, "template": template}}


def review(tmp, obj, mutate=True, default_class=CLASS, allowed=()):
    """dsguard review of a CREATE of obj, with DS001's default class and
    allowed classes; returns (exit code, response)."""
    req = {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
           "request": {"uid": "0b6f1f5e-8d2c-4c1e-9a57-3e1f2a4b5c6d",
                       "kind": {"group": "apps", "version": "v1", "kind": "DaemonSet"},
                       "resource": {"group": "apps", "version": "v1", "resource": "daemonsets"},
                       "name": obj["metadata"]["name"], "namespace": obj["metadata"]["namespace"],
                       "operation": "CREATE", "userInfo": {"username": "test"}, "object": obj}}
    path = os.path.join(tmp, "request.json")
    with open(path, "w") as f:
        json.dump(req, f)
    config = os.path.join(tmp, "config.yaml")
    with open(config, "w") as f:
        f.write("rules:\n  priority-class:\n    default: %s\n    allowed: %s\n"
                % (default_class or "null", json.dumps(list(allowed))))
    p = run(["review"] + (["--mutate"] if mutate else []) + ["--config", config, path])
    try:
        return p.returncode, json.loads(p.stdout)["response"]
    except ValueError:
        return p.returncode, {"stdout": p.stdout, "stderr": p.stderr}


def patch_of(resp):
    """The decoded JSONPatch of a response, or None."""
    if resp.get("patchType") != "JSONPatch" or "patch" not in resp:
        return None
    return json.loads(base64.b64decode(resp["patch"]))


def lint_findings(tmp, text, name="ds.yaml"):
    path = os.path.join(tmp, name)
    with open(path, "w") as f:
        f.write(text)
    p = run(["lint", "--format", "json", path])
    return [f["rule"] for f in json.loads(p.stdout)["findings"]]


# ---- the tests ----

def test_empty_restart_policy(t, tmp):
    """restartPolicy "" is defaulted to Always by Kubernetes: no finding in
    /validate, /mutate or lint."""
    obj = daemonset({"priorityClassName": "pc", "restartPolicy": "", "containers": [{"name": "a", "image": "a"}]})
    code, resp = review(tmp, obj, mutate=False)
    t.ok(code == 0 and resp.get("allowed") is True and not resp.get("warnings"),
         'restartPolicy "": /validate allows it, no warning', resp)
    code, resp = review(tmp, obj)
    t.ok(code == 0 and resp.get("allowed") is True and "patch" not in resp,
         'restartPolicy "": /mutate allows it with no patch', resp)
    for quoted in ('""', "''"):
        text = ("apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: a, namespace: a}\nspec:\n  template:\n"
                f"    spec:\n      priorityClassName: pc\n      restartPolicy: {quoted}\n      containers: []\n")
        t.eq(lint_findings(tmp, text), [], f"restartPolicy: {quoted}: lint reports nothing")
    obj = daemonset({"priorityClassName": "pc", "restartPolicy": "Never"})
    code, resp = review(tmp, obj, mutate=False)
    t.ok(code == 1 and resp.get("allowed") is False, "restartPolicy Never is still denied", resp)


def test_null_pod_spec(t, tmp):
    """A pod template whose spec (or a template that) is null: /mutate
    replaces the null with a mapping holding the class."""
    null_template = daemonset(None)
    null_template["spec"]["template"] = None
    for name, obj, path in (("spec: null", daemonset(None), "/spec/template/spec"),
                            ("template: null", null_template, "/spec/template")):
        code, resp = review(tmp, obj)
        patch = patch_of(resp)
        t.ok(code == 0 and resp.get("allowed") is True and patch is not None, f"{name}: /mutate patches", resp)
        if patch is None:
            continue
        t.eq([(op["op"], op["path"]) for op in patch], [("replace", path)], f"{name}: one replace of the null")
        try:
            after = apply_patch(obj, patch)
        except ValueError as e:
            t.ok(False, f"{name}: the patch applies", e)
            continue
        t.eq(after["spec"]["template"]["spec"], {"priorityClassName": CLASS},
             f"{name}: the pod spec holds the default class and nothing else")
    obj = daemonset(["not", "a", "mapping"])
    code, resp = review(tmp, obj)
    t.ok(code == 1 and resp.get("allowed") is False and "patch" not in resp,
         "a pod spec that is a list: /mutate cannot patch it and denies", resp)


def test_priority_removed(t, tmp):
    """DS001's patch removes spec.template.spec.priority: the Priority
    admission plugin refuses a pod whose integer priority is not the one it
    computes from the class."""
    containers = [{"name": "a", "image": "a"}]
    for name, pod_spec, allowed, ops in (
            ("no class, priority 1000", {"priority": 1000, "containers": containers}, (),
             [("add", "/spec/template/spec/priorityClassName"), ("remove", "/spec/template/spec/priority")]),
            ("a class not allowed, priority 5", {"priorityClassName": "low", "priority": 5, "containers": containers},
             (CLASS,),
             [("replace", "/spec/template/spec/priorityClassName"), ("remove", "/spec/template/spec/priority")])):
        code, resp = review(tmp, daemonset(pod_spec), allowed=allowed)
        patch = patch_of(resp)
        t.ok(code == 0 and resp.get("allowed") is True and patch is not None, f"{name}: /mutate patches", resp)
        if patch is None:
            continue
        t.eq([(op["op"], op["path"]) for op in patch], ops, f"{name}: the class is set and the priority removed")
        t.ok(all("value" not in op for op in patch if op["op"] == "remove"), f"{name}: the remove has no value",
             patch)
        try:
            after = apply_patch(daemonset(pod_spec), patch)
        except ValueError as e:
            t.ok(False, f"{name}: the patch applies", e)
            continue
        t.eq(after["spec"]["template"]["spec"], {"priorityClassName": CLASS, "containers": containers},
             f"{name}: the pod spec has the class and no priority")
    # no default class: no patch, so the priority stays with the denial
    code, resp = review(tmp, daemonset({"priority": 1000, "containers": containers}), default_class=None)
    t.ok(code == 1 and resp.get("allowed") is False and "patch" not in resp,
         "no default class: denied, nothing patched", resp)
    # a null priority is no priority: nothing to remove
    code, resp = review(tmp, daemonset({"priority": None, "containers": containers}))
    t.eq([(op["op"], op["path"]) for op in patch_of(resp) or []],
         [("add", "/spec/template/spec/priorityClassName")], "priority null: only the class is added")


def main():
    t = Tap()
    with tempfile.TemporaryDirectory() as tmp:
        test_empty_restart_policy(t, tmp)
        test_null_pod_spec(t, tmp)
        test_priority_removed(t, tmp)
    t.done()


main()
