"""dsguard lint over Helm charts and Kustomize directories, rendered with the
real tools (helm from test/chart/get-helm.sh, kubectl's kustomize).

The oracle for what is found is the renderer itself: the findings of a
rendered directory equal, as a set of (rule, namespace, name), those of the
renderer's own output piped to `dsguard lint -`. Positions are checked
against the files: the line a finding names holds the key (or the mapping)
it is about, and the expected places of the fixtures
(test/fixtures/render/README.md) were counted by hand. Real inputs: the
fixtures, this project's charts/dsguard and the fluent-bit chart of the
shared corpus (read in place; copied to a temporary directory where a test
writes). Failures (no helm, no kustomize, a chart that does not render, a
renderer that hangs, a kustomization that reaches outside its repository)
are each one line, exit 2, with the other inputs still linted."""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tap import BIN, ROOT, Tap, shared_dir  # noqa: E402

FIXTURES = os.path.join(ROOT, "test", "fixtures", "render")
KUSTOMIZE = os.path.join(FIXTURES, "kustomize")
AGENT = os.path.join(FIXTURES, "charts", "agent")
DSGUARD_CHART = os.path.join(ROOT, "charts", "dsguard")
VALGRIND = os.environ.get("DSGUARD_VALGRIND") == "1"
PLAIN_DS = """\
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: plain, namespace: plain}
spec:
  template:
    spec:
      containers: [{name: a, image: b}]
"""


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as fh:
        fh.write(text)


def get_helm():
    p = subprocess.run(["sh", os.path.join(ROOT, "test", "chart", "get-helm.sh")], capture_output=True, text=True,
                       timeout=300)
    return p.stdout.strip().splitlines()[-1] if p.returncode == 0 and p.stdout.strip() else None


class Env:
    """Where the tools are: a PATH with helm and kubectl, and without."""

    def __init__(self, top, helm):
        self.top = top
        self.helm = helm
        self.kubectl = shutil.which("kubectl")
        self.bin = os.path.join(top, "bin")
        os.makedirs(self.bin)
        for tool in (helm, self.kubectl):
            if tool:
                os.symlink(tool, os.path.join(self.bin, os.path.basename(tool)))
        # no renderer in it; valgrind, for make valgrind's wrapper of dsguard
        self.empty = os.path.join(top, "no-renderer-bin")
        os.makedirs(self.empty)
        valgrind = shutil.which("valgrind")
        for name in ("valgrind", "valgrind.bin"):  # Debian's valgrind runs valgrind.bin beside it
            if valgrind and os.path.exists(os.path.join(os.path.dirname(valgrind), name)):
                os.symlink(os.path.join(os.path.dirname(valgrind), name), os.path.join(self.empty, name))

    def env(self, path=None):
        return dict(os.environ, PATH=path if path is not None else self.bin + os.pathsep + "/usr/bin:/bin")

    def lint(self, args, cwd=None, path=None, timeout=300):
        return subprocess.run([BIN, "lint"] + list(args), cwd=cwd, env=self.env(path), capture_output=True,
                              text=True, timeout=timeout)

    def lint_json(self, args, cwd=None, path=None):
        p = self.lint(["--format", "json"] + list(args), cwd=cwd, path=path)
        return p.returncode, json.loads(p.stdout) if p.stdout.strip() else {}, p.stderr

    def render(self, argv, cwd=None):
        p = subprocess.run(argv, cwd=cwd, env=self.env(), capture_output=True, text=True, timeout=300)
        if p.returncode != 0:
            raise RuntimeError(f"{argv}: {p.stderr}")
        return p.stdout


def triples(doc):
    return {(f["rule"], f["namespace"], f["resourceName"]) for f in doc.get("findings", [])}


def piped(env, streams, args=()):
    """The findings of rendered streams joined and linted from stdin."""
    text = "\n---\n".join(streams)
    p = subprocess.run([BIN, "lint", "--format", "json"] + list(args) + ["-"], input=text, env=env.env(),
                       capture_output=True, text=True, timeout=120)
    return json.loads(p.stdout)


def line_of(path, line):
    with open(path) as fh:
        lines = fh.read().split("\n")
    return lines[line - 1] if 0 < line <= len(lines) else ""


# The key each finding is about, by rule and message: the field when it is
# there, else the mapping it belongs in.
def finding_keys(f):
    if f["rule"] == "DS001":
        return ["spec"] if "is not set" in f["message"] else ["priorityClassName"]
    if f["rule"] == "DS002":
        return ["restartPolicy"]
    return ["namespace", "metadata"]


def holds_key(text, column, keys):
    """Whether the text of a line at column starts a key of keys, or the
    value of one (the key written just before it on the line)."""
    at = text[column - 1:]
    before = text[:column - 1].rstrip()
    return any(at.startswith(k + ":") or before.endswith(k + ":") or before.endswith(f'"{k}":')
               for k in keys)


def json_patch_value(path, line, keys):
    """Whether line of the file at path is the value of a JSON 6902 operation
    whose path ends in a key of keys."""
    with open(path) as fh:
        ops = yaml.safe_load(fh)
    if not isinstance(ops, list):
        return False
    with open(path) as fh:
        text = fh.read().split("\n")
    # the operation the line belongs to: the last "- " item at or before it
    start = max(i for i in range(line) if text[i].startswith("- "))
    op = ops[sum(1 for i in range(start + 1) if text[i].startswith("- ")) - 1]
    return text[line - 1].lstrip(" -").startswith("value:") and any(op["path"].endswith("/" + k) for k in keys)


def check_positions(t, doc, base, what):
    """Every rendered finding's line holds its key; one at 1:1 says where
    it rendered instead (its key is not written there)."""
    for f in doc["findings"]:
        if "renderedFrom" not in f:
            continue
        path = os.path.join(base, f["file"])
        text = line_of(path, f["line"])
        if f["line"] == 1 and f["column"] == 1 and "(rendered" in f["message"]:
            t.ok(not any(holds_key(text, 1, [k]) for k in finding_keys(f)),
                 f"{what}: {f['rule']} {f['resourceName']} at 1:1 of {f['file']} with the rendered place in the "
                 "message", f["message"])
            # a template that writes the field's key once, literally, is
            # placed there: line 1 only when it does not (or writes it twice)
            key = finding_keys(f)[0]
            if key in ("priorityClassName", "restartPolicy") and "helm template output" in f["message"]:
                with open(path) as fh:
                    written = [ln for ln in fh if re.match(r"\s*(- )?" + key + r"\s*:", ln)]
                t.ok(len(written) != 1, f"{what}: {f['rule']} {f['resourceName']} at 1:1: {f['file']} does not "
                     f"write {key}: once", written)
            continue
        t.ok(holds_key(text, f["column"], finding_keys(f)) or json_patch_value(path, f["line"], finding_keys(f)),
             f"{what}: {f['file']}:{f['line']}:{f['column']} holds {'/'.join(finding_keys(f))} "
             f"({f['rule']} {f['resourceName']})", repr(text))


def at(doc, rule, name):
    """(file, line, column, renderedFrom) of the finding rule about name."""
    hits = [(f["file"], f["line"], f["column"], f.get("renderedFrom")) for f in doc["findings"]
            if f["rule"] == rule and f["resourceName"] == name]
    return hits[0] if len(hits) == 1 else hits


def kustomize_streams(env, overlays):
    return [env.render([env.kubectl, "kustomize", os.path.join(KUSTOMIZE, "overlays", o)]) for o in overlays]


def patch_definitions():
    """Each patch file of the fixtures' kustomizations and the names of the
    objects it defines (its metadata.name, or its target's name)."""
    defs = {}
    for d, _, files in os.walk(KUSTOMIZE):
        if "kustomization.yaml" not in files:
            continue
        with open(os.path.join(d, "kustomization.yaml")) as fh:
            k = yaml.safe_load(fh)
        for p in k.get("patches", []):
            path = os.path.relpath(os.path.join(d, p["path"]), ROOT)
            with open(os.path.join(ROOT, path)) as fh:
                body = yaml.safe_load(fh)
            name = p.get("target", {}).get("name") or body["metadata"]["name"]
            defs[path] = name
    return defs


def test_kustomize(t, env):
    rc, doc, err = env.lint_json([os.path.relpath(KUSTOMIZE, ROOT)], cwd=ROOT)
    want = triples(piped(env, kustomize_streams(env, ["prod", "dev"])))
    t.eq(triples(doc), want, "kustomize: the findings of both overlays equal kubectl kustomize's output piped "
         "to dsguard lint -")
    t.eq(rc, 1, "kustomize: exit 1 on findings")
    k = "test/fixtures/render/kustomize/"
    prod, dev = k + "overlays/prod", k + "overlays/dev"
    t.eq(at(doc, "DS001", "dev-fluentd"), (k + "base/fluentd.yaml", 13, 5, dev),
         "kustomize: DS001 of dev-fluentd at the base's pod template spec:, rendered from overlays/dev")
    t.eq(at(doc, "DS002", "prod-fluentd"), (prod + "/fluentd-restart.yaml", 8, 22, prod),
         "kustomize: restartPolicy set by a strategic-merge patch: at the patch's value")
    t.eq(at(doc, "DS002", "prod-node-exporter"), (k + "components/node-exporter/node-exporter.yaml", 13, 22, prod),
         "kustomize: a component's DaemonSet: at the component's file")
    t.eq(at(doc, "DS003", "prod-fluentd"), (prod + "/kustomization.yaml", 5, 12, prod),
         "kustomize: DS003 in the final namespace, at the overlay's namespace: (the transformer)")
    t.eq(at(doc, "DS003", "prod-node-exporter"), (prod + "/kustomization.yaml", 5, 12, prod),
         "kustomize: DS003 of the component's DaemonSet too")
    t.ok(not [f for f in doc["findings"] if f.get("renderedFrom") in (k + "base", k + "components/node-exporter")],
         "kustomize: the base and the component are rendered only as part of the overlays")
    t.eq(doc["summary"]["files"], 2, "kustomize: two roots rendered, no file of theirs read alone")
    defs = patch_definitions()
    wrong = [f for f in doc["findings"] if f["file"] in defs and not f["resourceName"].endswith(defs[f["file"]])]
    t.ok(not wrong and not any(f["file"].endswith("fluentd-resources.yaml") for f in doc["findings"]),
         "kustomize: no finding points at a patch file for an object the patch does not define", wrong)
    check_positions(t, doc, ROOT, "kustomize")
    for overlay in ("prod", "dev"):
        rc, one, _ = env.lint_json([os.path.join(KUSTOMIZE, "overlays", overlay)])
        t.eq(triples(one), triples(piped(env, kustomize_streams(env, [overlay]))),
             f"kustomize: overlays/{overlay} alone equals its rendering piped")
    # DS001 with an allowed list: node-agents, set by the JSON 6902 patch
    # for prod-fluentd and in the component's own file for node-exporter.
    cfg = os.path.join(env.top, "allowed.yaml")
    write(cfg, "rules:\n  priority-class:\n    allowed: [system-node-critical]\n")
    rc, doc, _ = env.lint_json(["--config", cfg, os.path.relpath(KUSTOMIZE, ROOT)], cwd=ROOT)
    t.eq(triples(doc), triples(piped(env, kustomize_streams(env, ["prod", "dev"]), ["--config", cfg])),
         "kustomize, allowed classes: the findings equal the piped rendering's")
    t.eq(at(doc, "DS001", "prod-fluentd")[:3], (prod + "/fluentd-priority.yaml", 3, 10),
         "kustomize: a class added by a JSON 6902 patch: at the operation's value")
    t.eq(at(doc, "DS001", "prod-node-exporter")[:3], (k + "components/node-exporter/node-exporter.yaml", 12, 26),
         "kustomize: a class written in the component: at its value")
    check_positions(t, doc, ROOT, "kustomize, allowed classes")
    # config exemptions select rendered objects by their final names and
    # namespaces, DS003 (checked once every input is read) included
    write(cfg, "exemptions:\n  - rules: [DS003]\n    namespaces: [logging-prod]\n    names: [\"prod-*\"]\n"
          "    reason: shared (OPS-1)\n  - rules: [DS001]\n    namespaces: [logging-dev]\n    names: [dev-fluentd]\n"
          "    reason: dev\n")
    rc, doc, _ = env.lint_json(["--config", cfg, os.path.relpath(KUSTOMIZE, ROOT)], cwd=ROOT)
    t.eq(sorted((f["rule"], f["resourceName"], f["file"], f["line"], f.get("exemptReason"))
                for f in doc["findings"] if f.get("exempt")),
         [("DS001", "dev-fluentd", k + "base/fluentd.yaml", 13, "dev"),
          ("DS003", "prod-fluentd", prod + "/kustomization.yaml", 5, "shared (OPS-1)"),
          ("DS003", "prod-node-exporter", prod + "/kustomization.yaml", 5, "shared (OPS-1)")],
         "kustomize: config exemptions match the rendered names and namespaces, each finding still at its source")
    # --no-render: today's reading, the patch files as objects of their own
    rc, doc, _ = env.lint_json(["--no-render", os.path.join(KUSTOMIZE, "overlays", "prod")])
    t.ok(any(f["file"].endswith("fluentd-resources.yaml") for f in doc["findings"]) and
         "renderedFrom" not in json.dumps(doc), "--no-render: the files are linted as they are")


def tree_state(top):
    """Every file under top with its bytes and modification time."""
    state = {}
    for d, _, files in os.walk(top):
        for f in files:
            path = os.path.join(d, f)
            with open(path, "rb") as fh:
                state[path] = (fh.read(), os.stat(path).st_mtime_ns)
    return state


FORM_DS = """\
# {name}: written as people write it
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: {name}   # the name
  namespace: forms
  labels:
    app: {name}
spec:
  selector:
    matchLabels: {{app: {name}}}
  template:
    metadata:
      labels:
        app: {name}
    spec:
      containers:
      - name: a
        image: "example/a:1"
        args: ["--x=1", '--y']
        command:
        - /bin/sh
        - -c
        - |
          echo "it's: here"
      restartPolicy: "Never" # not allowed
"""


def test_kustomize_written_forms(t, env):
    """Findings of objects a kustomization takes as they are written are
    placed where `dsguard lint` of the same file puts them, in every way a
    file may be written: CRLF and lone CR line breaks, comments, flow
    mappings, anchors, several documents (the object found by its name)."""
    forms = os.path.join(env.top, "forms")
    files = {
        "crlf.yaml": FORM_DS.format(name="crlf").replace("\n", "\r\n"),
        "cr.yaml": FORM_DS.format(name="cr").replace("\n", "\r"),
        "flow.yaml": FORM_DS.format(name="flow").replace(
            "metadata:\n  name: flow   # the name\n  namespace: forms\n  labels:\n    app: flow\n",
            "metadata: {name: flow, namespace: forms, labels: {app: flow}}\n"),
        "anchors.yaml": FORM_DS.format(name="anchors").replace("      - name: a\n", "      - &c\n        name: a\n"),
        "multi.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n---\n" + FORM_DS.format(name="first") +
                      "---\n" + FORM_DS.format(name="second").replace('      restartPolicy: "Never" # not allowed\n', ""),
    }
    os.makedirs(forms)
    for name, text in files.items():
        with open(os.path.join(forms, name), "w", newline="") as fh:
            fh.write(text)
    write(os.path.join(forms, "kustomization.yaml"), "resources:\n" + "".join(f"- {n}\n" for n in files))
    rc, rendered, err = env.lint_json(["forms"], cwd=env.top)
    rc2, plain, err2 = env.lint_json(["--no-render"] + [os.path.join("forms", n) for n in files], cwd=env.top)

    def places(doc):
        return sorted((f["rule"], f["resourceName"], f["file"], f["line"], f["column"]) for f in doc.get("findings", []))
    t.ok(len(places(rendered)) >= 2 * len(files) and all("renderedFrom" in f for f in rendered["findings"]),
         "written forms: each DaemonSet rendered has findings", f"{err} {rendered}")
    t.ok(places(rendered) == places(plain), "written forms: every finding placed where linting the file puts it",
         f"rendered {places(rendered)} plain {places(plain)} {err} {err2}")


def test_kustomize_build(t, env):
    """A kustomize program (not kubectl) is run as `kustomize build DIR`, DIR
    a temporary kustomization outside the repository that asks for origin
    annotations; it is gone afterwards and the user's files are untouched."""
    shim = os.path.join(env.top, "kustomize-bin")
    log = os.path.join(env.top, "kustomize-argv")
    wrappers = os.path.join(env.top, "kustomize-wrappers")
    write(os.path.join(shim, "kustomize"),
          f"#!/bin/sh\nPATH=/usr/bin:/bin\nprintf '%s\\n' \"$#\" \"$@\" >> {log}\n"
          f"cat \"$2/kustomization.yaml\" >> {wrappers}\nexec {env.kubectl} kustomize \"$2\"\n")
    os.chmod(os.path.join(shim, "kustomize"), 0o755)
    before = tree_state(KUSTOMIZE)
    rc, doc, err = env.lint_json([os.path.relpath(KUSTOMIZE, ROOT)], cwd=ROOT, path=shim + os.pathsep + env.bin +
                                 os.pathsep + "/usr/bin:/bin")
    t.ok(triples(doc) and triples(doc) == triples(piped(env, kustomize_streams(env, ["prod", "dev"]))),
         "kustomize build: the findings equal kubectl kustomize's output piped", err)
    with open(log) as fh:
        calls = fh.read().split("\n")[:-1]
    dirs = [calls[i + 2] for i in range(0, len(calls), 3) if calls[i:i + 2] == ["2", "build"]]
    t.ok(len(dirs) == 2 and len(calls) == 6, "kustomize build: run twice (one per overlay) as `kustomize build DIR`",
         calls)
    t.ok(all(not os.path.realpath(d).startswith(ROOT + os.sep) and not os.path.exists(d) for d in dirs),
         "kustomize build: DIR is a temporary directory outside the repository, removed afterwards", dirs)
    with open(wrappers) as fh:
        text = fh.read()
    t.eq(text.count("originAnnotations"), 2, "kustomize build: the temporary kustomization asks for origin "
         "annotations")
    t.ok(tree_state(KUSTOMIZE) == before, "kustomize build: the user's kustomizations are not edited nor added to")
    rc, named, _ = env.lint_json(["--kustomize", os.path.join(shim, "kustomize"), os.path.relpath(KUSTOMIZE, ROOT)],
                                 cwd=ROOT, path=env.empty)
    t.eq(triples(named), triples(doc), "--kustomize PATH names the program when none is on PATH")


def test_kustomization_names(t, env):
    """kustomization.yml and Kustomization are kustomizations too; a base
    named so, included by an overlay, is rendered only within it."""
    top = os.path.join(env.top, "names")
    write(os.path.join(top, ".git", "HEAD"), "ref: refs/heads/main\n")
    write(os.path.join(top, "base", "Kustomization"), "resources: [ds.yaml]\n")
    write(os.path.join(top, "base", "ds.yaml"), PLAIN_DS)
    write(os.path.join(top, "overlay", "kustomization.yml"), "resources: [../base]\nnamespace: yml\n")
    rc, doc, err = env.lint_json(["."], cwd=top)
    stream = env.render([env.kubectl, "kustomize", os.path.join(top, "overlay")])
    t.ok(triples(doc) and triples(doc) == triples(piped(env, [stream])) and
         {f["renderedFrom"] for f in doc["findings"]} == {"./overlay"},
         "kustomization.yml and Kustomization: the overlay rendered, its base only within it", (doc, err))
    t.eq(sorted((f["rule"], f["namespace"], f["file"]) for f in doc["findings"]),
         [("DS001", "yml", "./base/ds.yaml")], "kustomization.yml: the namespace transformer's namespace, at the base "
         "(named as the walk from . names it)")


def test_helm_agent(t, env):
    for args, helm_args in (([], []), (["--set", "exporter.enabled=true", "--namespace", "agents"],
                                       ["--set", "exporter.enabled=true", "--namespace", "agents"])):
        rc, doc, err = env.lint_json(args + [os.path.relpath(AGENT, ROOT)], cwd=ROOT)
        stream = env.render([env.helm, "template", "agent", AGENT] + helm_args)
        ns = ["--namespace", "agents"] if "agents" in args else []
        t.eq(triples(doc), triples(piped(env, [stream], ns)),
             f"agent chart {' '.join(args) or '(default values)'}: findings equal helm template's output piped")
        check_positions(t, doc, ROOT, f"agent chart {' '.join(args)}")
    c = "test/fixtures/render/charts/agent"
    t.eq(at(doc, "DS001", "agent-agent"), (c + "/templates/daemonset.yaml", 13, 5, c),
         "agent: DS001 at the pod template's spec: of the template, rendered from the chart")
    t.eq(at(doc, "DS002", "agent-agent")[:3], (c + "/templates/daemonset.yaml", 14, 22),
         "agent: DS002 at the literal OnFailure")
    t.eq(at(doc, "DS003", "agent-exporter")[:3], (c + "/templates/exporter.yaml", 6, 3),
         "agent: DS003 in the release namespace, at the namespace: key (its value is an action)")
    t.eq(at(doc, "DS003", "agent-agent")[:3], (c + "/templates/daemonset.yaml", 3, 1),
         "agent: DS003 of a template without a namespace: at its metadata:")
    rc, doc, _ = env.lint_json(["--release-name", "edge", os.path.relpath(AGENT, ROOT)], cwd=ROOT)
    t.eq(sorted(f["resourceName"] for f in doc["findings"]), ["edge-agent", "edge-agent"],
         "--release-name names the release")
    rc, doc, _ = env.lint_json(["--values", "nothing=/nonexistent.yaml", os.path.relpath(AGENT, ROOT)], cwd=ROOT)
    errs = [e["message"] for e in doc["errors"]]
    t.ok(rc == 2 and len(errs) == 1 and "nothing=/nonexistent.yaml" in errs[0],
         "a CHART= that names no chart of the run: the whole value is a file for helm, which says it is missing",
         errs)


def test_helm_values_targeting(t, env):
    top = env.top
    vals = os.path.join(top, "values-exporter.yaml")
    write(vals, "exporter:\n  enabled: true\n")
    other = os.path.join(top, "charts", "other")
    shutil.copytree(AGENT, other)
    agent = os.path.join(top, "charts", "agent")
    shutil.copytree(AGENT, agent)
    rc, doc, _ = env.lint_json(["--values", f"agent={vals}", "charts"], cwd=top)
    names = sorted(f["resourceName"] for f in doc["findings"] if f["rule"] == "DS001")
    t.eq(names, ["agent-agent", "agent-exporter", "other-agent"],
         "--values CHART=FILE applies to that chart alone (named by its directory's name)")
    rc, doc, _ = env.lint_json(["--set", "charts/other=exporter.enabled=true", "charts"], cwd=top)
    names = sorted(f["resourceName"] for f in doc["findings"] if f["rule"] == "DS001")
    t.eq(names, ["agent-agent", "other-agent", "other-exporter"], "--set CHART=K=V with CHART a path")
    rc, doc, _ = env.lint_json(["--values", vals, "charts"], cwd=top)
    t.eq(len([f for f in doc["findings"] if f["rule"] == "DS001"]), 4, "--values FILE applies to every chart")
    off = os.path.join(top, "values-no-exporter.yaml")
    write(off, "exporter:\n  enabled: false\n")
    for order, want in (([vals, off], 2), ([off, vals], 4)):
        args = [a for v in order for a in ("--values", v)]
        rc, doc, _ = env.lint_json(args + ["charts"], cwd=top)
        t.eq(len([f for f in doc["findings"] if f["rule"] == "DS001"]), want,
             f"--values repeats, in order, the last winning as in helm ({want} DS001 findings)")
    rc, doc, _ = env.lint_json(["--set", "exporter.enabled=true", "--set", "agent=exporter.enabled=false",
                                "charts"], cwd=top)
    names = sorted(f["resourceName"] for f in doc["findings"] if f["rule"] == "DS001")
    t.eq(names, ["agent-agent", "other-agent", "other-exporter"], "--set repeats; CHART=K=V after K=V wins there")


TRACED_CHART = {
    "Chart.yaml": "apiVersion: v2\nname: traced\nversion: 0.1.0\n",
    "values.yaml": "policy: OnFailure\nclass: nightly\n",
    "templates/_pod.tpl": '{{- define "traced.pod" -}}\nrestartPolicy: {{ .Values.policy }}\n'
                          'priorityClassName: {{ .Values.class }}\n{{- end }}\n',
    # the pod spec's fields from an include: not written in this template
    "templates/included.yaml": """\
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: included}
spec:
  template:
    spec:
      {{- include "traced.pod" . | nindent 6 }}
      containers: [{name: a, image: b}]
""",
    # the same fields written here, their values actions
    "templates/literal.yaml": """\
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: literal}
spec:
  template:
    spec:
      containers: [{name: a, image: b}]
      priorityClassName: {{ .Values.class }}
      restartPolicy: {{ .Values.policy | quote }}
""",
}


def test_helm_traced_or_not(t, env):
    """A field written in the template (its value an action) is reported at
    its key; one an include writes, at line 1 with the rendered place."""
    chart = os.path.join(env.top, "traced")
    for name, text in TRACED_CHART.items():
        write(os.path.join(chart, name), text)
    cfg = os.path.join(env.top, "traced-allowed.yaml")
    write(cfg, "rules:\n  priority-class:\n    allowed: [system-node-critical]\n")
    rc, doc, err = env.lint_json(["--config", cfg, "traced"], cwd=env.top)
    stream = env.render([env.helm, "template", "traced", chart])
    t.eq(triples(doc), triples(piped(env, [stream], ["--config", cfg])),
         "traced chart: findings equal helm template's output piped")
    t.eq(sorted((f["rule"], f["resourceName"], f["file"], f["line"], f["column"]) for f in doc["findings"]
                if f["rule"] != "DS003"),
         [("DS001", "included", "traced/templates/included.yaml", 1, 1),
          ("DS001", "literal", "traced/templates/literal.yaml", 8, 7),
          ("DS002", "included", "traced/templates/included.yaml", 1, 1),
          ("DS002", "literal", "traced/templates/literal.yaml", 9, 7)],
         "traced chart: literal keys at their lines (8 and 9, column 7); fields from an include at 1:1")
    t.ok(all("(rendered: line " in f["message"] for f in doc["findings"] if f["line"] == 1),
         "traced chart: a finding at 1:1 gives its rendered place in the message")
    check_positions(t, doc, env.top, "traced chart")


def test_fluent_bit(t, env):
    shared = shared_dir(t, "the fluent-bit chart of the shared corpus")
    if shared is None:
        return
    chart = os.path.join(shared, "corpus", "charts", "fluent-bit")
    rc, doc, _ = env.lint_json([chart])
    stream = env.render([env.helm, "template", "fluent-bit", chart])
    t.eq(triples(doc), triples(piped(env, [stream])) | set(), "fluent-bit, default values: findings equal helm "
         "template's output piped")
    t.eq(triples(doc), {("DS001", "default", "fluent-bit")}, "fluent-bit, default values: DS001 alone")
    t.eq(at(doc, "DS001", "fluent-bit")[1:3], (46, 5), "fluent-bit: DS001 at templates/daemonset.yaml:46:5")
    t.ok(doc["findings"][0]["file"].endswith("fluent-bit/templates/daemonset.yaml"),
         "fluent-bit: the finding names the template", doc["findings"][0]["file"])
    check_positions(t, doc, "/", "fluent-bit")
    vals = os.path.join(env.top, "fluent-bit-priority.yaml")
    write(vals, "priorityClassName: system-node-critical\n")
    rc, doc, _ = env.lint_json(["--values", f"fluent-bit={vals}", chart])
    stream = env.render([env.helm, "template", "fluent-bit", chart, "--values", vals])
    t.eq((rc, triples(doc), triples(piped(env, [stream]))), (0, set(), set()),
         "fluent-bit with a values file that sets a priority class: clean, as its rendering piped")
    copy = os.path.join(env.top, "fluent-bit")
    shutil.copytree(chart, copy)
    os.makedirs(os.path.join(env.top, ".git"), exist_ok=True)
    p = env.lint(["--diff", "--priority-class", "node-agents", "fluent-bit"], cwd=env.top)
    t.ok(p.stdout == "" and "cannot fix: rendered from fluent-bit/templates/daemonset.yaml; change the template or "
         "the values" in p.stderr, "fluent-bit --diff: the pod spec is an include: cannot fix, nothing edited",
         p.stdout + p.stderr)


def test_dsguard_chart(t, env):
    rc, doc, _ = env.lint_json([DSGUARD_CHART])
    stream = env.render([env.helm, "template", "dsguard", DSGUARD_CHART])
    pipe = piped(env, [stream])
    t.eq((rc, triples(doc), doc["summary"]["resources"], doc["summary"]["rendered"]),
         (0, triples(pipe), pipe["summary"]["resources"], 1),
         "charts/dsguard: rendered, the same resources and findings as helm template's output piped")


FIXED_DIFF = """\
--- charts/agent/templates/daemonset.yaml
+++ charts/agent/templates/daemonset.yaml
@@ -11,7 +11,7 @@
     metadata:
       labels: {app: agent}
     spec:
-      restartPolicy: OnFailure
+      restartPolicy: Always
       containers:
         - name: agent
           image: "registry.example.com/agent:{{ .Chart.AppVersion }}"
--- charts/agent/templates/exporter.yaml
+++ charts/agent/templates/exporter.yaml
@@ -11,6 +11,7 @@
     metadata:
       labels: {app: exporter}
     spec:
+      priorityClassName: node-agents
       containers:
         - name: exporter
           image: registry.example.com/exporter:1.0
--- kustomize/base/fluentd.yaml
+++ kustomize/base/fluentd.yaml
@@ -11,6 +11,7 @@
     metadata:
       labels: {app: fluentd}
     spec:
+      priorityClassName: node-agents
       containers:
         - name: fluentd
           image: fluent/fluentd:v1.17
--- kustomize/components/node-exporter/node-exporter.yaml
+++ kustomize/components/node-exporter/node-exporter.yaml
@@ -10,7 +10,7 @@
       labels: {app: node-exporter}
     spec:
       priorityClassName: node-agents
-      restartPolicy: OnFailure
+      restartPolicy: Always
       containers:
         - name: node-exporter
           image: quay.io/prometheus/node-exporter:v1.8.2
--- kustomize/overlays/prod/fluentd-restart.yaml
+++ kustomize/overlays/prod/fluentd-restart.yaml
@@ -5,4 +5,4 @@
 spec:
   template:
     spec:
-      restartPolicy: Never
+      restartPolicy: Always
"""


def test_fix(t, env):
    repo = os.path.join(env.top, "fixrepo")
    shutil.copytree(FIXTURES, repo)
    os.makedirs(os.path.join(repo, ".git"))
    args = ["--priority-class", "node-agents", "--set", "exporter.enabled=true", "charts", "kustomize"]
    p = env.lint(["--diff"] + args, cwd=repo)
    t.eq(p.stdout, FIXED_DIFF, "--diff on rendered input: the templates' plain lines, the base, the component and "
         "the patch that set the value; nothing generated")
    t.ok("charts/agent/templates/daemonset.yaml:13:5: error: DaemonSet default/agent-agent: spec.template.spec."
         "priorityClassName is not set [DS001 priority-class] (cannot fix: rendered from agent/templates/"
         "daemonset.yaml; change the template or the values)" in p.stderr,
         "--diff: a pod spec with an action in its lines cannot be fixed, and says why", p.stderr)
    applied = subprocess.run(["patch", "-p0", "--dry-run"], input=p.stdout, cwd=repo, capture_output=True, text=True)
    t.ok(applied.returncode == 0, "--diff: the patch applies with patch -p0", applied.stdout + applied.stderr)
    p = env.lint(["--fix"] + args, cwd=repo)
    q = env.lint(["--format", "json"] + args, cwd=repo)
    left = {(f["rule"], f["resourceName"]) for f in json.loads(q.stdout)["findings"]}
    t.eq(left, {("DS001", "agent-agent"), ("DS003", "agent-agent"), ("DS003", "agent-exporter"),
                ("DS003", "prod-fluentd"), ("DS003", "prod-node-exporter")},
         "--fix: what it fixed is gone from the rendering; what it could not fix stays")
    r = env.lint(["--diff"] + args, cwd=repo)
    t.eq(r.stdout, "", "--fix a second time: nothing left to change")
    # one base, two overlays that both find DS001 in it: one edit
    os.remove(os.path.join(repo, "kustomize", "overlays", "prod", "fluentd-priority.yaml"))
    with open(os.path.join(repo, "kustomize", "base", "fluentd.yaml")) as fh:
        base = fh.read().replace("      priorityClassName: node-agents\n", "")
    write(os.path.join(repo, "kustomize", "base", "fluentd.yaml"), base)
    kust = os.path.join(repo, "kustomize", "overlays", "prod", "kustomization.yaml")
    with open(kust) as fh:
        text = fh.read()
    write(kust, text[:text.index("  - path: fluentd-priority.yaml")])
    p = env.lint(["--diff", "--priority-class", "node-agents", "--format", "json", "kustomize"], cwd=repo)
    doc = json.loads(p.stderr)
    fixed = sorted((f["resourceName"], f["file"], f.get("fixed")) for f in doc["findings"] if f["rule"] == "DS001")
    t.eq(fixed, [("dev-fluentd", "kustomize/base/fluentd.yaml", True), ("prod-fluentd", "kustomize/base/fluentd.yaml",
                                                                        True)],
         "a base two overlays use: its finding once per overlay, each naming its overlay, both fixed")
    t.eq(p.stdout.count("+      priorityClassName: node-agents"), 1, "a base two overlays use: one edit in one diff")


def one_line_error(t, p, name, what, needle, plain=True):
    """p failed for input `name` with one line that holds needle; the plain
    manifest of the same run was still linted."""
    lines = [ln for ln in p.stdout.splitlines() if ln.startswith(name + ":")]
    t.ok(p.returncode == 2 and len(lines) == 1 and needle in lines[0],
         f"{what}: one line, exit 2", f"rc={p.returncode}\n{p.stdout}\n{p.stderr}")
    if plain:
        t.ok("plain/ds.yaml:" in p.stdout and "DaemonSet plain/plain" in p.stdout,
             f"{what}: the other inputs are still linted", p.stdout)


def running(pid):
    """Whether the process pid runs (a zombie, killed and not reaped yet by
    whoever adopted it, does not)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_failures(t, env):
    top = os.path.join(env.top, "fail")
    write(os.path.join(top, ".git", "HEAD"), "ref: refs/heads/main\n")
    write(os.path.join(top, "plain", "ds.yaml"), PLAIN_DS)
    chart = os.path.relpath(AGENT, ROOT)
    p = env.lint(["plain", os.path.join(ROOT, chart)], cwd=top, path="/usr/bin:/bin")
    one_line_error(t, p, os.path.join(ROOT, chart), "no helm on PATH",
                   "cannot render the Helm chart: helm is not on PATH; install Helm 3")
    p = env.lint(["plain", KUSTOMIZE], cwd=top, path=env.empty)
    t.ok(p.returncode == 2 and p.stdout.count("neither kustomize nor kubectl is on PATH") == 2,
         "no kustomize nor kubectl: each kustomization says so on one line, exit 2", p.stdout)
    t.ok("DaemonSet plain/plain" in p.stdout, "no kustomize: the other inputs are still linted", p.stdout)
    p = env.lint(["--kustomize", "/nonexistent/kustomize", "plain", os.path.join(KUSTOMIZE, "overlays", "dev")],
                 cwd=top)
    one_line_error(t, p, os.path.join(KUSTOMIZE, "overlays", "dev"), "--kustomize naming no program",
                   "/nonexistent/kustomize is not an executable file")
    broken = os.path.join(top, "broken")
    write(os.path.join(broken, "Chart.yaml"), "apiVersion: v2\nname: broken\nversion: 0.1.0\n")
    write(os.path.join(broken, "templates", "ds.yaml"), "kind: DaemonSet\nmetadata:\n  name: {{ .Values.x | nosuch }}\n")
    p = env.lint(["plain", "broken"], cwd=top)
    one_line_error(t, p, "broken", "a chart that fails to render", "helm template failed (exit status 1): Error: ")
    hang = os.path.join(top, "hang.sh")
    pids = os.path.join(top, "pids")
    write(hang, f"#!/bin/sh\necho $$ >> {pids}\nsleep 300 &\necho $! >> {pids}\nwait\n")
    os.chmod(hang, 0o755)
    start = time.monotonic()
    p = env.lint(["--helm", hang, "--render-timeout", "1", "plain", "broken"], cwd=top, timeout=120)
    took = time.monotonic() - start
    one_line_error(t, p, "broken", "a renderer that hangs past --render-timeout",
                   "helm template did not finish within 1 s (--render-timeout); it was stopped")
    if VALGRIND:
        t.skip("a hanging renderer is stopped in time", "timing under valgrind")
    else:
        t.ok(took < 30, f"a hanging renderer is stopped in time ({took:.1f} s for a 1 s limit)")
    with open(pids) as fh:
        started = fh.read().split()
    # SIGKILL is sent to the group; a process dies once it is scheduled,
    # which a loaded machine may delay a little
    deadline = time.monotonic() + 20
    while any(running(pid) for pid in started) and time.monotonic() < deadline:
        time.sleep(0.1)
    t.eq([pid for pid in started if running(pid)], [],
         f"the renderer's process group is killed: the renderer and what it started ({len(started)} processes)")
    outside = os.path.join(env.top, "outside")
    write(os.path.join(outside, "kustomization.yaml"), "resources: [ds.yaml]\n")
    write(os.path.join(outside, "ds.yaml"), PLAIN_DS.replace("plain", "outside"))
    write(os.path.join(top, "overlays", "bad", "kustomization.yaml"), "resources:\n  - ../../../outside\n")
    write(os.path.join(top, "overlays", "remote", "kustomization.yaml"),
          "resources:\n  - github.com/kubernetes-sigs/kustomize//examples/helloWorld?ref=v3.3.1\n")
    p = env.lint(["plain", "overlays"], cwd=top)
    one_line_error(t, p, "overlays/bad", "a kustomization including a directory outside the repository",
                   "overlays/bad/kustomization.yaml includes ../../../outside (" + os.path.realpath(outside) +
                   "), outside the repository " + os.path.realpath(top))
    one_line_error(t, p, "overlays/remote", "a remote base (nothing is fetched)",
                   "is neither a file nor a directory of the repository", plain=False)
    t.ok("outside/outside" not in p.stdout, "the directory outside the repository is not linted", p.stdout)
    rc, doc, _ = env.lint_json(["plain", "broken"], cwd=top)
    errs = [e for e in doc.get("errors", []) if e["file"] == "broken"]
    t.ok(len(errs) == 1 and "\n" not in errs[0]["message"] and "line" not in errs[0],
         "json: a render error is one entry of errors[], at the chart, one line", errs)


def test_outputs(t, env, sarif):
    top = os.path.join(env.top, "out")
    os.makedirs(top)
    files = {f: os.path.join(top, "report." + f) for f in ("json", "sarif", "junit", "github")}
    args = []
    for f, path in files.items():
        args += ["--format", f, "--output", path]
    p = env.lint(["--format", "text"] + args + ["test/fixtures/render/kustomize"], cwd=ROOT)
    q = env.lint(["test/fixtures/render/kustomize"], cwd=ROOT)
    t.eq((p.returncode, p.stdout), (q.returncode, q.stdout), "one lint, many reports: text on stdout as alone")
    for f, path in files.items():
        r = env.lint(["--format", f, "test/fixtures/render/kustomize"], cwd=ROOT)
        with open(path) as fh:
            t.eq(fh.read(), r.stdout, f"one lint, many reports: the {f} file as --format {f} alone prints it")
    with open(files["json"]) as fh:
        doc = json.load(fh)
    t.ok(all(f.get("renderedFrom", "").startswith("test/fixtures/render/kustomize/overlays/") for f in doc["findings"]),
         "json: every finding carries renderedFrom")
    with open(files["sarif"]) as fh:
        log = json.load(fh)
    results = log["runs"][0]["results"]
    t.ok(results and all(r["properties"]["renderedFrom"].startswith("test/fixtures/render/kustomize/overlays/")
                         and r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].startswith(
                             "test/fixtures/render/kustomize/") for r in results),
         "sarif: each result at its source file, with renderedFrom in its properties")
    if sarif is not None:
        errors = [e.message for e in sarif.iter_errors(log)]
        t.ok(not errors, "sarif: valid against the SARIF 2.1.0 schema", "\n".join(errors))
    with open(files["github"]) as fh:
        gh = fh.read().splitlines()
    t.ok(gh and all(ln.startswith("::error file=test/fixtures/render/kustomize/") and
                    "(rendered from test/fixtures/render/kustomize/overlays/" in ln for ln in gh),
         "github: annotations on the source files, naming the rendering", gh)
    shared = shared_dir(t, "JUnit XSD validation")
    if shared:
        x = subprocess.run(["xmllint", "--noout", "--schema", os.path.join(shared, "schemas", "junit.xsd"),
                            files["junit"]], capture_output=True, text=True)
        t.eq(x.returncode, 0, "junit: valid against the JUnit XSD")
    with open(files["junit"]) as fh:
        xml = fh.read()
    t.ok('<property name="renderedFrom" value="test/fixtures/render/kustomize/overlays/prod"/>' in xml and
         "test/fixtures/render/kustomize/overlays/prod/fluentd-restart.yaml:8:22: error:" in xml,
         "junit: a suite per rendering with its renderedFrom property; failures name the source file", xml)
    p = env.lint(["--format", "json", "--format", "sarif", "test/fixtures/render/kustomize"], cwd=ROOT)
    t.ok(p.returncode == 2 and "only one report can go to standard output" in p.stderr,
         "two reports for standard output: a usage error", p.stderr)
    p = env.lint(["--format", "json", "--output", "/nonexistent/dir/r.json", "test/fixtures/render/kustomize"],
                 cwd=ROOT)
    t.ok(p.returncode == 2 and "cannot write the report to /nonexistent/dir/r.json" in p.stderr,
         "an --output that cannot be written: exit 2, named", p.stderr)


def doc_blocks(path, lang):
    with open(os.path.join(ROOT, path)) as fh:
        return re.findall(r"```" + lang + r"\n(.*?)```", fh.read(), re.S)


def sandbox(env):
    """A repository the docs' examples run in as written: charts/agent,
    overlays/prod and overlays/staging over a base, values per environment."""
    repo = os.path.join(env.top, "docrepo")
    os.makedirs(os.path.join(repo, ".git"))
    shutil.copytree(os.path.join(FIXTURES, "charts"), os.path.join(repo, "charts"))
    for d in ("base", "components"):
        shutil.copytree(os.path.join(KUSTOMIZE, d), os.path.join(repo, d))
    shutil.copytree(os.path.join(KUSTOMIZE, "overlays", "prod"), os.path.join(repo, "overlays", "prod"))
    shutil.copytree(os.path.join(KUSTOMIZE, "overlays", "dev"), os.path.join(repo, "overlays", "staging"))
    for env_name in ("prod", "staging"):
        write(os.path.join(repo, "deploy", f"values-{env_name}.yaml"), "exporter:\n  enabled: true\n")
    write(os.path.join(repo, "values-prod.yaml"), "exporter:\n  enabled: true\n")
    write(os.path.join(repo, "deploy", "plain.yaml"), PLAIN_DS)
    bindir = os.path.join(env.top, "docbin")
    os.makedirs(bindir)
    os.symlink(BIN, os.path.join(bindir, "dsguard"))
    os.symlink(BIN, os.path.join(repo, "dsguard"))
    return repo, dict(env.env(), PATH=bindir + os.pathsep + env.env()["PATH"])


def test_doc_examples(t, env):
    """docs/gitops.md's console example, and the lint command lines of its
    and README's sh blocks, run as written."""
    blocks = doc_blocks("docs/gitops.md", "console")
    t.eq(len(blocks), 1, "docs/gitops.md has one console example")
    lines = blocks[0].rstrip("\n").split("\n")
    # denv's PATH finds `dsguard` (BIN: under make valgrind, a wrapper of another name)
    repo, denv = sandbox(env)
    p = subprocess.run(lines[0][2:].split(), cwd=FIXTURES, env=denv, capture_output=True, text=True,
                       timeout=300) if lines[0].startswith("$ dsguard ") else None
    t.eq(p.stdout.rstrip("\n").split("\n") if p else None, lines[1:],
         "docs/gitops.md: the example prints what it shows")
    # README's block about rendering (its other examples are other tests')
    readme = [b for b in doc_blocks("README.md", "sh") if "charts/" in b]
    t.eq(len(readme), 1, "README has one sh example of rendering")
    commands = [ln for b in doc_blocks("docs/gitops.md", "sh") + readme
                for ln in b.splitlines() if re.match(r"(\./)?dsguard lint ", ln)]
    t.ok(len(commands) >= 6, "the docs' lint command lines are found", commands)
    for command in commands:
        p = subprocess.run(["sh", "-c", command], cwd=repo, env=denv, capture_output=True, text=True, timeout=300)
        t.ok(p.returncode in (0, 1),  # 2 would be an input, render or usage error
             f"runs as written in a repository: {command}", f"rc={p.returncode}\n{p.stdout[-800:]}\n{p.stderr}")
    for report in ("dsguard.sarif", "dsguard.xml"):
        t.ok(os.path.getsize(os.path.join(repo, report)) > 0, f"the reports example wrote {report}")


def sarif_validator(t):
    shared = shared_dir(t, "SARIF schema validation")
    if shared is None:
        return None
    from jsonschema import Draft4Validator
    with open(os.path.join(shared, "schemas", "sarif-schema-2.1.0.json")) as fh:
        return Draft4Validator(json.load(fh), format_checker=Draft4Validator.FORMAT_CHECKER)


def main():
    t = Tap()
    top = os.path.realpath(tempfile.mkdtemp(prefix="dsguard-render-test-"))
    try:
        helm = get_helm()
        env = Env(top, helm)
        if env.kubectl:
            test_kustomize(t, env)
            test_kustomize_build(t, env)
            test_kustomize_written_forms(t, env)
            test_kustomization_names(t, env)
            test_outputs(t, env, sarif_validator(t))
        else:
            t.skip("kustomize directories", "no kubectl")
        if helm:
            test_helm_agent(t, env)
            test_helm_values_targeting(t, env)
            test_helm_traced_or_not(t, env)
            test_fluent_bit(t, env)
            test_dsguard_chart(t, env)
        else:
            t.skip("Helm charts", "no helm (test/chart/get-helm.sh failed)")
        if helm and env.kubectl:
            test_fix(t, env)
            test_failures(t, env)
            test_doc_examples(t, env)
    finally:
        shutil.rmtree(top, ignore_errors=True)
    t.done()


if __name__ == "__main__":
    main()
