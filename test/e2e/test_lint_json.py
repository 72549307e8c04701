"""lint --format json, byte for byte: the report is written one finding at a
time, and must be exactly the version 1 document of docs/output.md on one
line (what cJSON prints for the whole document, unformatted): findings from
several files with DS003 across them, exempt findings, input errors and
warnings, strings that need escaping, --diff's fixed and fixNote, the same
bytes with any number of threads."""
import json
import os
import shutil
import tempfile

from tap import Tap, run

AGENTS = """\
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: fluentd
  namespace: logging
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{name: a, image: b}]
---
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: promtail
  namespace: logging
  annotations:
    dsguard.io/ignore: DS003
spec:
  template:
    spec:
      priorityClassName: node-agents
      containers: [{name: a, image: b}]
"""
BROKEN = "a: [\n"
DUP = """\
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: solo
  name: solo
  namespace: solo
spec:
  template:
    spec: {priorityClassName: node-agents}
"""
# vector shares "logging" with the DaemonSets of a/agents.yaml; the second
# DaemonSet's name and restartPolicy need escaping in JSON.
OTHER = r"""apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: logging}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: vector, namespace: logging}
spec:
  template:
    spec: {priorityClassName: node-agents}
---
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: "odd \"name\" \\ \u00e9"
  namespace: escapes
spec:
  template:
    spec:
      priorityClassName: node-agents
      restartPolicy: "On\tFailure\u0001"
"""

SHARED_MSG = "namespace logging is shared with DaemonSet logging/{}; each DaemonSet needs a namespace of its own"
DS001 = r'"rule":"DS001","name":"priority-class","severity":"error",'
DS002 = r'"rule":"DS002","name":"restart-policy","severity":"error",'
DS003 = r'"rule":"DS003","name":"dedicated-namespace","severity":"error",'
LOGGING = r'"kind":"DaemonSet","namespace":"logging",'
FIX_NOTE = r'"fixNote":"no default priority class: set rules.priority-class.default or --priority-class"'


def expected(diff):
    """The document for the tree, as lint prints it; with --diff, the DS002
    findings are fixed and DS001 says why it is not (tree/missing.yaml is
    then not named)."""
    fixed = ',"fixed":true' if diff else ""
    return "".join([
        r'{"version":1,"findings":[',
        r'{' + DS003 + r'"file":"tree/a/agents.yaml","line":5,"column":14,' + LOGGING,
        r'"resourceName":"fluentd","message":"' + SHARED_MSG.format("promtail") + r'","exempt":false},',
        r'{' + DS001 + r'"file":"tree/a/agents.yaml","line":8,"column":5,' + LOGGING,
        r'"resourceName":"fluentd","message":"spec.template.spec.priorityClassName is not set","exempt":false',
        ("," + FIX_NOTE if diff else "") + "},",
        r'{' + DS002 + r'"file":"tree/a/agents.yaml","line":9,"column":22,' + LOGGING,
        r'"resourceName":"fluentd",',
        r'"message":"spec.template.spec.restartPolicy is \"Never\"; it must be Always or unset",',
        r'"exempt":false' + fixed + "},",
        r'{' + DS003 + r'"file":"tree/a/agents.yaml","line":16,"column":14,' + LOGGING,
        r'"resourceName":"promtail","message":"' + SHARED_MSG.format("fluentd") + r'","exempt":true,"exemptedBy":"annotation"},',
        r'{' + DS003 + r'"file":"tree/c/other.yaml","line":7,"column":37,' + LOGGING,
        r'"resourceName":"vector","message":"' + SHARED_MSG.format("fluentd") + r'","exempt":false},',
        r'{' + DS002 + r'"file":"tree/c/other.yaml","line":21,"column":22,"kind":"DaemonSet","namespace":"escapes",',
        r'"resourceName":"odd \"name\" \\ ' + "\u00e9" + r'",',
        r'"message":"spec.template.spec.restartPolicy is \"On\tFailure\u0001\"; it must be Always or unset",',
        r'"exempt":false' + fixed + "}",
        r'],"errors":[',
        r'{"file":"tree/b/broken.yaml","line":2,"column":1,',
        r'"message":"did not find expected node content while parsing a flow node at line 2 column 1"}',
        "" if diff else r',{"file":"tree/missing.yaml","message":"cannot open: No such file or directory"}',
        r'],"inputWarnings":[',
        r'{"file":"tree/b/dup.yaml","line":5,"column":3,',
        r'"message":"key \"name\" is repeated in this mapping; the last value wins"}',
        r'],"summary":{"files":4,"resources":6,"daemonsets":5,"errors":5,"warnings":0,"exempted":1,',
        r'"inputErrors":' + ("1" if diff else "2") + r',"fixed":' + ("2" if diff else "0") + "}}\n",
    ])


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(text)


def lint(args, cwd):
    return run(["lint", "--format", "json"] + list(args), cwd=cwd)


def test_tree(t, top):
    write(os.path.join(top, "tree", "a", "agents.yaml"), AGENTS)
    write(os.path.join(top, "tree", "b", "broken.yaml"), BROKEN)
    write(os.path.join(top, "tree", "b", "dup.yaml"), DUP)
    write(os.path.join(top, "tree", "c", "other.yaml"), OTHER)
    want = expected(diff=False)
    for jobs in ("1", "3", None):
        args = (["--jobs", jobs] if jobs else []) + ["tree", "tree/missing.yaml"]
        p = lint(args, top)
        what = f"--jobs {jobs}" if jobs else "the default threads"
        t.eq(p.stdout, want, f"the exact document: findings, DS003 across files, errors, warnings ({what})")
        t.eq(p.returncode, 2, f"exit 2 with input errors ({what})")
    p = lint(["--diff", "--jobs", "2", "tree"], top)
    t.eq(p.stderr, expected(diff=True), "--diff: the exact document on stderr, with fixed and fixNote")
    t.ok(p.stdout.startswith("--- tree/a/agents.yaml"), "--diff: the patch on stdout", p.stdout[:300])


def test_clean(t, top):
    write(os.path.join(top, "clean", "ok.yaml"), DUP.replace("  name: solo\n", "", 1))
    p = lint(["clean"], top)
    t.eq(p.stdout, '{"version":1,"findings":[],"errors":[],"inputWarnings":[],"summary":{"files":1,"resources":1,'
         '"daemonsets":1,"errors":0,"warnings":0,"exempted":0,"inputErrors":0,"fixed":0}}\n',
         "a clean file: empty arrays and the summary")
    t.eq(p.returncode, 0, "a clean file: exit 0")


COUNT = 150
MANY_DS = """\
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: agent-{i:03d}
  namespace: shared
spec:
  template:
    spec:
      containers: [{{name: a, image: b}}]
"""


def test_many(t, top):
    """150 files whose DaemonSets all share one namespace, every seventh
    broken and every fifth with a repeated key: the output equals the
    document built here and printed compactly. With --diff, the patches
    come in file order whatever the number of threads."""
    findings, errors, warnings = [], [], []
    names = [f"agent-{i:03d}" for i in range(COUNT) if i % 7 != 3]
    for i in range(COUNT):
        path = f"many/{i:03d}.yaml"
        if i % 7 == 3:
            write(os.path.join(top, path), BROKEN)
            errors.append({"file": path, "line": 2, "column": 1, "message": "did not find expected node content "
                           "while parsing a flow node at line 2 column 1"})
            continue
        text = MANY_DS.format(i=i)
        if i % 5 == 0:
            text = text.replace("  namespace:", f"  name: agent-{i:03d}\n  namespace:")
            warnings.append({"file": path, "line": 5, "column": 3,
                             "message": 'key "name" is repeated in this mapping; the last value wins'})
        write(os.path.join(top, path), text)
        name = f"agent-{i:03d}"
        dup = 1 if i % 5 == 0 else 0
        other = names[1] if name == names[0] else names[0]
        common = {"kind": "DaemonSet", "namespace": "shared", "resourceName": name}
        findings.append({"rule": "DS003", "name": "dedicated-namespace", "severity": "error", "file": path,
                         "line": 5 + dup, "column": 14, **common,
                         "message": f"namespace shared is shared with DaemonSet shared/{other}; each DaemonSet "
                                    "needs a namespace of its own", "exempt": False})
        findings.append({"rule": "DS001", "name": "priority-class", "severity": "error", "file": path,
                         "line": 8 + dup, "column": 5, **common,
                         "message": "spec.template.spec.priorityClassName is not set", "exempt": False})
    doc = {"version": 1, "findings": findings, "errors": errors, "inputWarnings": warnings,
           "summary": {"files": COUNT, "resources": len(names), "daemonsets": len(names), "errors": len(findings),
                       "warnings": 0, "exempted": 0, "inputErrors": len(errors), "fixed": 0}}
    want = json.dumps(doc, separators=(",", ":"), ensure_ascii=False) + "\n"
    for jobs in ("1", "2"):
        p = lint(["--jobs", jobs, "many"], top)
        t.eq(p.stdout, want, f"{COUNT} files sharing a namespace: the exact document (--jobs {jobs})")
    one = lint(["--jobs", "1", "--diff", "--priority-class", "node-agents", "many"], top)
    patched = [line[4:].split("\t")[0] for line in one.stdout.splitlines() if line.startswith("--- ")]
    t.eq(patched, [f"many/{i:03d}.yaml" for i in range(COUNT) if i % 7 != 3], "--diff: a patch for each file, in order")
    for jobs in ("2", "5"):
        p = lint(["--jobs", jobs, "--diff", "--priority-class", "node-agents", "many"], top)
        t.ok(p.stdout == one.stdout and p.stderr == one.stderr, f"--diff --jobs {jobs}: the same patches and report")


def main():
    t = Tap()
    top = os.path.realpath(tempfile.mkdtemp(prefix="dsguard-json-"))
    try:
        test_tree(t, top)
        test_clean(t, top)
        test_many(t, top)
    finally:
        shutil.rmtree(top, ignore_errors=True)
    t.done()


if __name__ == "__main__":
    main()
