"""lint --fix and --diff: the invariants of issue "GitOps pipelines", checked
on a copy of every real-world manifest and on hand-written edge cases.
kubectl's reading of each file is the oracle for what the fix changed."""
import copy
import difflib
import json
import os
import re
import shutil
import subprocess
import tempfile
import time

from tap import BIN, ROOT, Tap, run, shared_dir
from test_lint_corpus import is_daemonset, kubectl_objects

CLASS = "node-agents"
# The lines a fix may touch: the fixed fields, a removed priority, and the
# key of a mapping it created (a null spec or template made a mapping keeps
# its comment).
FIX_LINE = re.compile(r"priorityClassName|restartPolicy|^\s*priority:|^\s*(spec|template):\s*(~|null|Null|NULL)?\s*(#.*)?$")
FIXTURES = os.path.join(ROOT, "test", "fixtures", "fix")


def strip_fixed_fields(obj, class_fixed=False):
    """obj without the two fields a fix may set (and a pod spec the fix
    created that holds nothing else); with class_fixed (DS001 was fixed),
    without the priority that fix removes too."""
    o = copy.deepcopy(obj)
    # a null spec or template is what Kubernetes reads as absent
    for parent, field in ((o, "spec"), (o.get("spec"), "template"), ((o.get("spec") or {}).get("template"), "spec")):
        if isinstance(parent, dict) and field in parent and parent[field] is None:
            del parent[field]
    template = (o.get("spec") or {}).get("template")
    if isinstance(template, dict) and isinstance(template.get("spec"), dict):
        template["spec"].pop("priorityClassName", None)
        template["spec"].pop("restartPolicy", None)
        if class_fixed:
            template["spec"].pop("priority", None)
        if not template["spec"]:
            del template["spec"]
    if template == {}:
        del o["spec"]["template"]
    o.get("metadata", {}).get("annotations", {}).pop("oracle", None)
    return o


def pod_spec(obj):
    return ((obj.get("spec") or {}).get("template") or {}).get("spec") or {}


def key(obj):
    m = obj.get("metadata") or {}
    return (obj.get("kind"), m.get("namespace") or "default", m.get("name"))


def fix(path, *extra):
    return run(["lint", "--format", "json", "--priority-class", CLASS, *extra, path])


def check_kubectl_reading(t, name, before, after, fixed):
    """kubectl reads the fixed file as the original plus exactly the fixed
    fields (DS001's fix also takes away the priority)."""
    class_fixed = {("DaemonSet", ns, n) for (ns, n, rule) in fixed if rule == "DS001"}
    t.eq([strip_fixed_fields(o, key(o) in class_fixed) for o in after],
         [strip_fixed_fields(o, key(o) in class_fixed) for o in before],
         f"{name}: kubectl reads nothing else changed")
    by_key = {key(o): o for o in after}
    for (ns, res_name, rule) in fixed:
        o = by_key.get(("DaemonSet", ns, res_name), {})
        field, value = ("priorityClassName", CLASS) if rule == "DS001" else ("restartPolicy", "Always")
        t.eq(pod_spec(o).get(field), value, f"{name}: {ns}/{res_name} {rule} fixed as kubectl reads it")
        if rule == "DS001":
            t.ok(pod_spec(o).get("priority") is None, f"{name}: {ns}/{res_name} has no priority beside the class",
                 pod_spec(o))


def indent(line):
    return len(line) - len(line.lstrip(" "))


def removed_outside_fixes(lines):
    """The removed lines that are no fix line, nor a line of the value of
    a removed `priority:` (more indented than it)."""
    out, value_of = [], None
    for l in lines:
        if value_of is not None and l.strip() and indent(l) > value_of:
            continue
        value_of = indent(l) if re.match(r"\s*priority:", l) else None
        if not FIX_LINE.search(l):
            out.append(l)
    return out


def check_only_fix_lines(t, name, before, after):
    """No byte outside the edited lines changes, and edited lines hold the
    fixed fields."""
    a, b = before.splitlines(keepends=True), after.splitlines(keepends=True)
    # a line that lost its trailing comma to the last member of a flow
    # mapping, which went with it
    comma_taken = {l.rstrip("\r\n") for l in a if l.rstrip("\r\n").endswith(",")}
    bad = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op == "equal":
            continue
        bad += [l for l in b[j1:j2] if not FIX_LINE.search(l) and l.rstrip("\r\n") + "," not in comma_taken]
        if len(a[i1:i2]) != len(b[j1:j2]):
            bad += [l for l in removed_outside_fixes(a[i1:i2])]
    t.ok(not bad, f"{name}: only lines with the fixed fields changed", "".join(bad))


def check_file(t, src, workdir):
    name = os.path.basename(src)
    path = os.path.join(workdir, name)
    shutil.copy(src, path)
    original = open(path, "rb").read()
    before = kubectl_objects(path)
    p = fix(path, "--fix")
    report = json.loads(p.stdout)
    fixed = {(f["namespace"], f["resourceName"], f["rule"]) for f in report["findings"] if f.get("fixed")}
    noted = {(f["namespace"], f["resourceName"], f["rule"]) for f in report["findings"] if f.get("fixNote")}
    after_bytes = open(path, "rb").read()
    if any(is_daemonset(o) for o in before):
        check_kubectl_reading(t, name, before, kubectl_objects(path), fixed)
    check_only_fix_lines(t, name, original.decode("utf-8", "replace"), after_bytes.decode("utf-8", "replace"))
    again = json.loads(run(["lint", "--format", "json", path]).stdout)
    left = {(f["namespace"], f["resourceName"], f["rule"]) for f in again["findings"] if f["rule"] != "DS003"}
    t.ok(left <= noted, f"{name}: re-lint is clean of DS001/DS002 but what could not be fixed", sorted(left - noted))
    fix(path, "--fix")
    t.ok(open(path, "rb").read() == after_bytes, f"{name}: a second --fix changes nothing")
    diff_dir = tempfile.mkdtemp(dir=workdir)
    shutil.copy(src, os.path.join(diff_dir, name))
    d = subprocess.run([BIN, "lint", "--priority-class", CLASS, "--diff", name], cwd=diff_dir,
                       capture_output=True, timeout=60)
    patched = subprocess.run(["patch", "-s", "-p0"], input=d.stdout, cwd=diff_dir, capture_output=True)
    t.ok(patched.returncode == 0 and open(os.path.join(diff_dir, name), "rb").read() == after_bytes,
         f"{name}: --diff applied with patch -p0 gives the --fix result", patched.stderr)
    return report, after_bytes


PRIORITY_KEPT = [
    # (name, pod spec lines from line 7 on, the reason DS001's fix gives for
    # leaving it all)
    ("anchor", "      priority: &prio 1000\n      containers: []\n      overhead: {x: *prio}\n",
     "priority at line 7 carries an anchor"),
    ("alias", "      containers: &prio []\n      priority: *prio\n",
     "priority comes from the anchor at line 7"),
    ("repeated", "      priority: 1\n      containers: []\n      priority: 2\n",
     "priority is given twice in the mapping (lines 7 and 9)"),
    ("merge-key", "      priority: 1\n      <<: {restartPolicy: Always}\n      containers: []\n",
     "the mapping has a merge key (<<) at line 8, which may give priority too"),
]


def check_priority_kept(t, work):
    """Where removing priority's text could break an alias or leave another
    value for Kubernetes to read, DS001's fix is not made at all (no class
    without the priority gone) and the finding says why."""
    for name, lines, why in PRIORITY_KEPT:
        path = os.path.join(work, f"priority-{name}.yaml")
        text = ("apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: a, namespace: a}\nspec:\n  template:\n"
                "    spec:\n" + lines)
        with open(path, "w") as f:
            f.write(text)
        report = json.loads(fix(path, "--fix").stdout)
        ds001 = [f for f in report["findings"] if f["rule"] == "DS001"]
        t.ok(len(ds001) == 1 and not ds001[0].get("fixed") and ds001[0].get("fixNote") == why,
             f"priority through {name}: DS001 is left, and the finding says: {why}", ds001)
        t.eq(open(path).read(), text, f"priority through {name}: the file is left as it was")


NEEDS_FIX = ("apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: %s, namespace: %s}\nspec:\n"
             "  template:\n    spec:\n      containers: [{name: a, image: a}]\n")


def write_manifest(path, name):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(NEEDS_FIX % (name, name))
    return path


def fixed_classes(report):
    return sorted(f["resourceName"] for f in report["findings"] if f["rule"] == "DS001" and f.get("fixed"))


def as_nobody():
    """The command prefix that runs dsguard as nobody (tests run as root,
    which writes anywhere), or [] when the tests do not run as root."""
    if os.geteuid() != 0:
        return []
    return ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


def check_links(t, work):
    """--fix writes the file a symbolic link leads to, when it lies inside
    the directory given (the link stays a link), and nothing outside it; a
    file with hard links is left whole, and said so."""
    top = os.path.join(work, "links")
    target = write_manifest(os.path.join(top, "tree", "releases", "v2.yaml"), "linked")
    link = os.path.join(top, "tree", "current.yaml")
    os.symlink("releases/v2.yaml", link)
    report = json.loads(fix(link, "--fix").stdout)
    t.ok(os.path.islink(link) and os.readlink(link) == "releases/v2.yaml",
         "a symbolic link named to --fix stays a link to its target")
    t.ok(fixed_classes(report) == ["linked"] and CLASS in open(target).read(),
         "the file the link leads to is fixed", report)

    outside = write_manifest(os.path.join(top, "outside", "agent.yaml"), "outside")
    before = open(outside).read()
    tree = os.path.join(top, "walked")
    os.makedirs(tree)
    os.symlink(outside, os.path.join(tree, "agent.yaml"))
    p = fix(tree, "--fix")
    report = json.loads(p.stdout)
    errors = [e["message"] for e in report["errors"]]
    t.ok(p.returncode == 2 and open(outside).read() == before and os.path.islink(os.path.join(tree, "agent.yaml")),
         "a link from the tree to a file outside it: the file outside is left as it was, exit 2", p.stdout)
    t.ok(len(errors) == 1 and f"it leads to {os.path.realpath(outside)}, outside {os.path.realpath(tree)}" in errors[0],
         "... and the error says where the link leads", errors)
    t.ok(fixed_classes(report) == [] and report["summary"]["errors"] == 1, "... and its finding stays", report)

    # a directory of the tree that is a link out of it, named as the tree
    # (or matched by a glob, as a file in it): its files are left alone
    repo = os.path.join(top, "repo")
    os.makedirs(repo)
    os.symlink("../outside", os.path.join(repo, "addons"))
    for named in ("addons", "addons/agent.yaml"):
        p = run(["lint", "--format", "json", "--priority-class", CLASS, "--fix", named], cwd=repo)
        report = json.loads(p.stdout)
        errors = [e["message"] for e in report["errors"]]
        t.ok(p.returncode == 2 and open(outside).read() == before and fixed_classes(report) == [],
             f"{named} named from a tree where addons links out of it: nothing written, exit 2", p.stdout)
        t.ok(len(errors) == 1 and f"addons leads out of the working directory, to {os.path.dirname(os.path.realpath(outside))}"
             in errors[0], f"... and the error says where {named} leads", errors)

    lone = write_manifest(os.path.join(top, "hard", "tree", "agent.yaml"), "hard")
    other = os.path.join(top, "hard", "elsewhere.yaml")
    os.link(lone, other)
    before = open(lone).read()
    p = fix(os.path.join(top, "hard", "tree"), "--fix")
    report = json.loads(p.stdout)
    errors = [e["message"] for e in report["errors"]]
    st_a, st_b = os.stat(lone), os.stat(other)
    t.ok((st_a.st_ino, st_a.st_nlink) == (st_b.st_ino, 2) and open(lone).read() == before,
         "a file with two hard links: both names still name one file, left as it was")
    t.ok(p.returncode == 2 and len(errors) == 1 and "it has 2 hard links" in errors[0]
         and fixed_classes(report) == [], "... and the error says why, the finding stays", report)


def check_owner_and_mode(t, work):
    """A file written by --fix keeps its owner, group and mode, whoever
    runs it."""
    top = os.path.join(work, "owners")
    for name, mode, owned in (("nobodys", 0o640, True), ("private", 0o600, False), ("shared", 0o664, False)):
        path = write_manifest(os.path.join(top, name + ".yaml"), name)
        os.chmod(path, mode)
        if owned:
            if os.geteuid() != 0:
                t.skip("another user's file keeps its owner", "needs root to give the file away")
                continue
            os.chown(path, 65534, 65534)
        before = os.stat(path)
        report = json.loads(fix(path, "--fix").stdout)
        after = os.stat(path)
        t.ok(fixed_classes(report) == [name] and CLASS in open(path).read(), f"{name} ({mode:o}): fixed", report)
        t.eq((after.st_uid, after.st_gid, oct(after.st_mode & 0o7777)),
             (before.st_uid, before.st_gid, oct(mode)), f"{name}: owner, group and mode {mode:o} kept")


def check_read_only_directory(t, work):
    """In a directory its user may not write, --fix writes nothing, and the
    file's findings stay (with the reason)."""
    top = os.path.join(work, "read-only")
    path = write_manifest(os.path.join(top, "dir", "agent.yaml"), "agent")
    binary = os.path.join(top, "dsguard")
    shutil.copy(BIN, binary)
    for d in (work, top, os.path.dirname(path)):
        os.chmod(d, 0o755)
    os.chmod(binary, 0o755)
    os.chmod(path, 0o644)
    if os.geteuid() == 0:
        os.chown(os.path.dirname(path), 65534, 65534)
        os.chown(path, 65534, 65534)
    os.chmod(os.path.dirname(path), 0o555)
    before = open(path).read()
    p = subprocess.run(as_nobody() + [binary, "lint", "--format", "json", "--priority-class", CLASS, "--fix",
                                      "dir/agent.yaml"], cwd=top, capture_output=True, text=True, timeout=120)
    os.chmod(os.path.dirname(path), 0o755)
    try:
        report = json.loads(p.stdout)
    except ValueError:
        t.ok(False, "read-only directory: JSON output", p.stdout + p.stderr)
        return
    ds001 = [f for f in report["findings"] if f["rule"] == "DS001"]
    t.ok(p.returncode == 2 and open(path).read() == before, "read-only directory: nothing written, exit 2",
         p.stdout + p.stderr)
    t.ok([e["message"] for e in report["errors"]] == [
        f"cannot write the fixed file: cannot create a file in {os.path.realpath(os.path.dirname(path))}: "
        "Permission denied"], "read-only directory: the error says why", report["errors"])
    t.ok(len(ds001) == 1 and not ds001[0].get("fixed") and ds001[0].get("fixNote")
         == "the fixed file was not written; see the error for this file",
         "read-only directory: the finding stays, not fixed, and says why", ds001)
    t.eq((report["summary"]["errors"], report["summary"]["fixed"]), (1, 0),
         "read-only directory: the summary counts the error, nothing fixed")


def check_written_meanwhile(t, work):
    """A file another program writes while --fix reads it is not written
    over: the other program's change is never lost (--fix used to write
    the fixed old text over it), and the error says why."""
    top = os.path.join(work, "meanwhile")
    os.makedirs(top)
    path = os.path.join(top, "agents.yaml")
    # long enough to read that the append below lands while it is read
    keys = 100000 if os.environ.get("DSGUARD_VALGRIND") else 1500000
    with open(path, "w") as f:
        f.write(NEEDS_FIX % ("agent", "agent") + "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: big}\n"
                "data:\n" + "".join(f"  k{i}: v\n" for i in range(keys)))
    p = subprocess.Popen([BIN, "lint", "--format", "json", "--priority-class", CLASS, "--fix", path],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(0.3)
    with open(path, "a") as f:
        f.write("# written meanwhile\n")
    out, err = p.communicate(timeout=600)
    text = open(path).read()
    t.ok(text.endswith("# written meanwhile\n"), "a file written while --fix reads it keeps what was written",
         err[-2000:])
    errors = [e["message"] for e in json.loads(out)["errors"]] if out.startswith("{") else [out + err]
    t.ok(CLASS in text or errors == [
        "cannot write the fixed file: it changed while it was being fixed (another program wrote it); "
        "nothing was written: run --fix again"], "a file written while --fix reads it: fixed, or the error "
        "says why it was not", errors)


def check_named_twice(t, work):
    """A file reached twice in one run (named twice, through a directory
    and by name, through a link in the tree) is fixed once, without the
    error of a file written meanwhile: the second finds the fix made."""
    top = os.path.join(work, "named-twice")
    path = write_manifest(os.path.join(top, "agent.yaml"), "agent")
    os.symlink("agent.yaml", os.path.join(top, "current.yaml"))
    for attempt in range(3):
        write_manifest(path, "agent")
        p = run(["lint", "--format", "json", "--priority-class", CLASS, "--fix", "--jobs", "4", "agent.yaml",
                 "agent.yaml", "./agent.yaml", "."], cwd=top)
        out = json.loads(p.stdout)
        t.ok(p.returncode == 0 and out["errors"] == [] and open(path).read().count(CLASS) == 1
             and os.path.islink(os.path.join(top, "current.yaml")),
             f"a file reached five times in one --fix run: fixed once, no error ({attempt + 1}/3)",
             p.stdout + p.stderr)


def check_class_outside_allowed(t, work):
    """--priority-class outside the config's `allowed` is refused before
    anything is written, as such a config default is: --fix used to insert
    it, say "fixed" and exit 0, and the next lint failed on it."""
    top = os.path.join(work, "outside-allowed")
    path = write_manifest(os.path.join(top, "agent.yaml"), "agent")
    config = os.path.join(top, "dsguard.yaml")
    with open(config, "w") as f:
        f.write("rules:\n  priority-class:\n    allowed: [node-agents]\n")
    before = open(path).read()
    p = run(["lint", "--config", config, "--priority-class", "other", "--fix", path])
    t.ok(p.returncode == 2 and open(path).read() == before and p.stderr.strip() ==
         'dsguard lint: --priority-class: default "other" is not one of the allowed classes',
         "--priority-class outside allowed: refused, nothing written", p.stdout + p.stderr)
    p = run(["lint", "--config", config, "--priority-class", CLASS, "--fix", path])
    t.ok(p.returncode == 0 and "priorityClassName: node-agents" in open(path).read(),
         "--priority-class inside allowed: fixed", p.stdout + p.stderr)


def check_diff_names(t, work):
    """--diff quotes a file name with a line break (or a tab, a quote, a
    backslash) as GNU diff does, so that `patch -p0` patches that file: a
    name such as "z\\n--- victim.yaml\\n+++ victim.yaml" printed as it was
    made patch change victim.yaml, a file lint never read."""
    top = os.path.join(work, "diff-names")
    name = "z\n--- victim.yaml\n+++ victim.yaml"
    path = write_manifest(os.path.join(top, "deploy", name), "agent")
    victim = os.path.join(top, "victim.yaml")
    with open(victim, "w") as f:
        f.write("apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: agent, namespace: agent}\nspec:\n"
                "  template:\n    spec:\n      containers: [{name: a, image: a}]\n")
    victim_before = open(victim).read()
    write_manifest(os.path.join(top, "deploy", 'tab\tquote"back\\slash.yaml'), "other")
    d = subprocess.run([BIN, "lint", "--priority-class", CLASS, "--diff", "deploy"], cwd=top, capture_output=True,
                       timeout=120)
    patched = subprocess.run(["patch", "-s", "-p0"], input=d.stdout, cwd=top, capture_output=True, timeout=60)
    t.ok(patched.returncode == 0 and open(victim).read() == victim_before,
         "--diff | patch -p0: a file name with line breaks does not make patch change another file",
         d.stdout.decode(errors="replace") + patched.stderr.decode(errors="replace"))
    t.ok(CLASS in open(path).read() and all(CLASS in open(os.path.join(top, "deploy", n)).read()
                                            for n in os.listdir(os.path.join(top, "deploy"))),
         "--diff | patch -p0: files with a line break, a tab, a quote or a backslash in their names are fixed")


def main():
    t = Tap()
    work = tempfile.mkdtemp()
    try:
        for n in sorted(os.listdir(FIXTURES)):
            report, fixed = check_file(t, os.path.join(FIXTURES, n), work)
            if n == "crlf.yaml":
                t.ok(b"\n" not in fixed.replace(b"\r\n", b""), "crlf.yaml: every line still ends in CRLF")
                t.ok(b'restartPolicy: "Always"' in fixed, "crlf.yaml: the value keeps its double quotes")
            if n == "flow.yaml":
                t.ok(b"restartPolicy: 'Always'" in fixed, "flow.yaml: the value keeps its single quotes")
            if n == "alias.yaml":
                notes = [f["fixNote"] for f in report["findings"] if f.get("fixNote")]
                t.ok("the mapping comes from the anchor at line 11" in notes,
                     "alias.yaml: no edit through an alias; the anchor's line is named", notes)
                t.ok(b"restartPolicy: &never Always" in fixed, "alias.yaml: the anchor stays on the value")
            if n == "null-pod-spec.yaml":
                t.eq(sorted(f["resourceName"] for f in report["findings"] if f.get("fixed")),
                     ["empty", "flow", "last-line", "tilde", "word"],
                     "null-pod-spec.yaml: every null spec is made a mapping holding the class")
                t.ok(b"    spec:   # filled in by the overlay\n      priorityClassName: node-agents\n" in fixed,
                     "null-pod-spec.yaml: the comment stays on the key's line, the class goes one level deeper")
                t.ok(not fixed.endswith(b"\n"), "null-pod-spec.yaml: a last line without a line break stays so")
            if n == "priority.yaml":
                t.eq(sorted(f["resourceName"] for f in report["findings"] if f["rule"] == "DS001" and f.get("fixed")),
                     sorted(["first-key", "value-below", "flow-first", "flow-last", "flow-only", "flow-lines",
                             "flow-lines-last", "null-priority", "last-line"]),
                     "priority.yaml: DS001 is fixed in each style, priority and all")
                t.ok(b"      priority: 1000000" not in fixed and b"# computed by hand" not in fixed,
                     "priority.yaml: the priority line goes with its comment")
                t.ok(b"spec: {priorityClassName: node-agents}\n" in fixed,
                     "priority.yaml: the only member of a flow mapping is replaced by the class, no stray comma")
                t.ok(b"priorityClassName: system-node-critical\n      priority: 2000001000\n" in fixed,
                     "priority.yaml: a template that passes DS001 keeps its priority")
                t.ok(not fixed.endswith(b"\n"), "priority.yaml: a last line without a line break stays so")
        # a null template (not among the fixtures, which seed the fuzzers'
        # admission requests too)
        src = os.path.join(work, "source")
        os.makedirs(src)
        with open(os.path.join(src, "null-template.yaml"), "w") as f:
            f.write("apiVersion: apps/v1\nkind: DaemonSet\nmetadata:\n  name: no-template\n"
                    "  namespace: no-template\nspec:\n  selector: {matchLabels: {app: a}}\n  template: ~  # later\n")
        report, fixed = check_file(t, os.path.join(src, "null-template.yaml"), work)
        t.ok(fixed_classes(report) == ["no-template"] and fixed.endswith(
            b"  template:  # later\n    spec:\n      priorityClassName: node-agents\n"),
            "template: ~ is made a mapping holding the pod spec and its class", fixed)
        check_priority_kept(t, work)
        check_links(t, work)
        check_owner_and_mode(t, work)
        check_read_only_directory(t, work)
        check_written_meanwhile(t, work)
        check_class_outside_allowed(t, work)
        check_named_twice(t, work)
        check_diff_names(t, work)
        p = run(["lint", "--format", "json", "--fix", os.path.join(FIXTURES, "compact.json")])
        notes = [f.get("fixNote") for f in json.loads(p.stdout)["findings"]]
        t.ok(any(n and "no default priority class" in n for n in notes),
             "without a default class DS001 is left and said so", notes)
        for pod_spec, level in (("[]", "spec.template.spec"), ("x", "spec.template.spec")):
            path = os.path.join(work, "not-a-mapping.yaml")
            with open(path, "w") as f:
                f.write("apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: a, namespace: a}\n"
                        f"spec:\n  template:\n    spec: {pod_spec}\n")
            notes = [f.get("fixNote") for f in json.loads(fix(path, "--fix").stdout)["findings"]]
            t.eq(notes, [f"{level} is not a mapping"],
                 f"spec: {pod_spec} under template: DS001 says the pod spec is no mapping, not that a class is missing")
        shared = shared_dir(t, "--fix over the real-world corpus")
        if shared:
            corpus = os.path.join(shared, "corpus", "realworld")
            for n in sorted(os.listdir(corpus)):
                if n.endswith((".yaml", ".yml", ".json")):
                    check_file(t, os.path.join(corpus, n), work)
    finally:
        shutil.rmtree(work)
    t.done()


main()
