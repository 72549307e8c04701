"""dsguard lint, rules and version from the command line: help, usage
errors, exit codes, --namespace, --exclude, dot-files, .dsguard.yaml,
--config errors, standard input, List kinds, non-manifest YAML, the text
line format and the JSON schema (version 1).

Positions are counted by hand in the fixtures (test/fixtures/lint); which
objects a fixture holds is checked against kubectl's own reading of it."""
import json
import os
import re
import shutil
import subprocess
import tempfile

from tap import BIN, ROOT, Tap, run

FIX = os.path.join(ROOT, "test", "fixtures", "lint")
DS001_MSG = "spec.template.spec.priorityClassName is not set"


def lint(args, cwd=FIX, stdin=None, env=None):
    return run(["lint"] + list(args), stdin=stdin, cwd=cwd, env=env)


def lint_json(tap, name, args, cwd=FIX, stdin=None):
    """Runs lint --format json; returns (exit code, parsed output or {})."""
    p = lint(["--format", "json"] + list(args), cwd, stdin)
    try:
        return p.returncode, json.loads(p.stdout)
    except ValueError as e:
        tap.ok(False, f"{name}: JSON output", f"{e}\nstdout: {p.stdout[:2000]}\nstderr: {p.stderr[:2000]}")
        return p.returncode, {}


def findings(out):
    return sorted((f["file"], f["rule"], f["namespace"], f["resourceName"], f["line"], f["column"])
                  for f in out.get("findings", []))


def kubectl_daemonsets(path):
    """(namespace or None, name) of each DaemonSet kubectl reads from path,
    Lists opened."""
    p = subprocess.run(["kubectl", "annotate", "--local", "-f", path, "-o", "json", "oracle=1"],
                       capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        raise RuntimeError(p.stderr)
    dec, text, at, out = json.JSONDecoder(), p.stdout, 0, []
    while True:
        while at < len(text) and text[at].isspace():
            at += 1
        if at >= len(text):
            break
        obj, at = dec.raw_decode(text, at)
        for o in obj.get("items", []) if obj.get("kind", "").endswith("List") else [obj]:
            if o.get("kind") == "DaemonSet":
                out.append((o["metadata"].get("namespace"), o["metadata"]["name"]))
    return sorted(out)


def test_help(tap):
    for cmd, options in (("lint", ["--format", "--namespace", "--config", "--fail-on", "--exclude",
                                   "--stdin-filename", "--help"]),
                         ("rules", ["--help"]), ("version", ["--help"])):
        p = run([cmd, "--help"])
        tap.eq(p.returncode, 0, f"{cmd} --help: exit 0")
        tap.ok(p.stdout.startswith(f"Usage: dsguard {cmd}"), f"{cmd} --help: starts with its usage line", p.stdout)
        missing = [o for o in options if o not in p.stdout]
        tap.ok(not missing, f"{cmd} --help: lists {', '.join(options)}", f"missing {missing}\n{p.stdout}")
    p = run(["lint", "-h"])
    tap.eq(p.returncode, 0, "lint -h: exit 0")
    p = run(["--help"])
    tap.eq(p.returncode, 0, "dsguard --help: exit 0")
    tap.ok(all(c in p.stdout for c in ("lint", "serve", "review", "certs", "audit", "rules", "version")),
           "dsguard --help: names the six commands and version", p.stdout)
    # help wins over the rest of the line and reads nothing
    p = run(["lint", "--help", "no-such-file.yaml"])
    tap.eq(p.returncode, 0, "lint --help with a path: exit 0, nothing linted")


def test_usage_errors(tap):
    cases = [
        (["lint", "--bogus", "agents.yaml"], "--bogus"),
        (["lint", "-Z", "agents.yaml"], "-Z"),
        (["lint", "--format", "xml", "agents.yaml"], "xml"),
        (["lint", "--format"], "--format"),
        (["lint", "--fail-on", "info", "agents.yaml"], "info"),
        (["lint", "--fail-on=fatal", "agents.yaml"], "fatal"),
        (["lint"], "lint"),
        (["lint", "--format", "json"], "lint"),
        (["rules", "extra"], "rules"),
        (["version", "extra"], "version"),
        (["lnt"], "lnt"),
        ([], "Usage"),
    ]
    for args, word in cases:
        p = run(args, cwd=FIX)
        name = "dsguard " + " ".join(args) if args else "dsguard (no command)"
        tap.eq(p.returncode, 2, f"{name}: exit 2")
        tap.ok(word in p.stderr and p.stdout == "", f"{name}: says what is wrong on stderr ({word})",
               f"stdout: {p.stdout}\nstderr: {p.stderr}")
    p = run(["lint"], cwd=FIX)
    tap.ok("at least one" in p.stderr or "path" in p.stderr.lower() or "file" in p.stderr,
           "lint without paths: asks for a path", p.stderr)


def test_exit_codes(tap, tmp):
    p = lint(["clean.yaml"])
    tap.eq(p.returncode, 0, "clean file: exit 0")
    tap.eq(p.stdout.splitlines()[-1],
           "1 file, 3 resources, 1 DaemonSet: 0 errors, 0 warnings, 0 exempted, 0 input errors",
           "clean file: the closing summary")
    tap.eq(lint(["agents.yaml"]).returncode, 1, "error findings: exit 1")
    broken = os.path.join(tmp, "broken.yaml")
    with open(broken, "w") as f:
        f.write("apiVersion: apps/v1\nkind: DaemonSet\nmetadata:\n  name: [broken\n")
    p = lint([broken, "agents.yaml"])
    tap.eq(p.returncode, 2, "a parse error with findings elsewhere: exit 2")
    tap.ok(f"{broken}:5:1: error: " in p.stdout, "parse error: reported with its position", p.stdout)
    tap.ok("agents.yaml:15:5: error: " in p.stdout, "parse error: the other file still linted", p.stdout)
    tap.eq(lint(["no-such-file.yaml", "clean.yaml"]).returncode, 2, "a missing file: exit 2")
    tap.eq(lint(["exempt.yaml"]).returncode, 0, "only exempted findings: exit 0")

    # enforce: false turns errors into warnings; --fail-on warning counts them
    audit = os.path.join(tmp, "audit.yaml")
    with open(audit, "w") as f:
        f.write("enforce: false\n")
    code, out = lint_json(tap, "enforce false", ["--config", audit, "agents.yaml"])
    tap.eq(code, 0, "enforce: false: warnings only, exit 0")
    tap.eq(sorted(f["severity"] for f in out.get("findings", [])), ["warning", "warning"],
           "enforce: false: both findings are warnings")
    tap.eq((out.get("summary", {}).get("errors"), out.get("summary", {}).get("warnings")), (0, 2),
           "enforce: false: summary counts 0 errors, 2 warnings")
    tap.eq(lint(["--config", audit, "--fail-on", "warning", "agents.yaml"]).returncode, 1,
           "enforce: false with --fail-on warning: exit 1")
    tap.eq(lint(["--config", audit, "--fail-on=error", "agents.yaml"]).returncode, 0,
           "enforce: false with --fail-on error: exit 0")
    tap.eq(lint(["--config", audit, "--fail-on", "warning", "clean.yaml"]).returncode, 0,
           "--fail-on warning on a clean file: exit 0")
    tap.eq(lint(["--fail-on", "warning", "agents.yaml", "no-such-file.yaml"]).returncode, 2,
           "--fail-on warning: an input error still exits 2")
    warn = os.path.join(tmp, "warn.yaml")
    with open(warn, "w") as f:
        f.write("rules:\n  restart-policy:\n    severity: warning\n  priority-class:\n    severity: \"off\"\n")
    code, out = lint_json(tap, "per-rule severity", ["--config", warn, "agents.yaml"])
    tap.eq((code, [(f["rule"], f["severity"]) for f in out.get("findings", [])]), (0, [("DS002", "warning")]),
           "DS001 off, DS002 warning: one warning, exit 0")


def test_namespace(tap, tmp):
    code, out = lint_json(tap, "no --namespace", ["no-namespace.yaml"])
    tap.eq(findings(out), [("no-namespace.yaml", "DS003", "default", "agent-x", 3, 1),
                           ("no-namespace.yaml", "DS003", "default", "agent-y", 12, 1)],
           "no namespace in the manifests: both in default, DS003 at metadata: (3:1, 12:1)")
    code, out = lint_json(tap, "--namespace", ["--namespace", "agents", "no-namespace.yaml"])
    tap.eq(sorted({f["namespace"] for f in out.get("findings", [])}), ["agents"],
           "--namespace agents: the reported namespace")
    tap.ok(all("namespace agents is shared" in f["message"] for f in out.get("findings", [])),
           "--namespace agents: the DS003 message names it", out.get("findings"))
    # a manifest's own namespace wins; -n joins the others to it
    p = lint(["-n", "shared", "no-namespace.yaml", "shared.yaml"])
    lines = [l for l in p.stdout.splitlines() if "[DS003" in l]
    tap.ok(len(lines) == 4, "-n shared: four DaemonSets share it", p.stdout)
    tap.ok(any(l.startswith("shared.yaml:5:14: error: DaemonSet shared/a: ") for l in lines),
           "-n shared: the manifests' own namespace is kept", p.stdout)
    # clean.yaml's agent lives in agents: --namespace agents puts x and y beside it
    code, out = lint_json(tap, "-n with a clean file", ["--namespace=agents", "no-namespace.yaml", "clean.yaml"])
    tap.ok(("clean.yaml", "DS003", "agents", "agent", 16, 14) in findings(out),
           "--namespace=agents: the clean DaemonSet in agents now shares it (16:14)", findings(out))


def make_tree(tmp):
    """A directory with dot-files, dot-dirs and files to exclude."""
    d = os.path.join(tmp, "tree")
    for sub in ("", "sub", ".hidden-dir", "skipme", "vendor/deep"):
        os.makedirs(os.path.join(d, sub), exist_ok=True)
    src = os.path.join(FIX, "agents.yaml")
    for rel in ("a.yaml", "sub/b.yml", ".hidden.yaml", ".hidden-dir/c.yaml", "skipme/d.yaml",
                "vendor/deep/e.yaml", "sub/notes.txt", "sub/f.json"):
        if rel.endswith(".json"):
            with open(os.path.join(d, rel), "w") as f:
                json.dump({"apiVersion": "apps/v1", "kind": "DaemonSet",
                           "metadata": {"name": "json-agent", "namespace": "json"},
                           "spec": {"template": {"spec": {"priorityClassName": "p", "restartPolicy": "Never"}}}},
                          f, indent=2)
        else:
            shutil.copy(src, os.path.join(d, rel))
    return d


def files_of(out):
    return sorted({f["file"] for f in out.get("findings", [])})


def test_walk_exclude_dotfiles(tap, tmp):
    make_tree(tmp)
    code, out = lint_json(tap, "walk", ["tree"], cwd=tmp)
    tap.eq(files_of(out), ["tree/a.yaml", "tree/skipme/d.yaml", "tree/sub/b.yml", "tree/sub/f.json",
                           "tree/vendor/deep/e.yaml"],
           "a directory: .yaml, .yml and .json below it; dot-files, dot-dirs and .txt skipped")
    tap.eq(out.get("summary", {}).get("files"), 5, "a directory: summary counts 5 files")
    order = []
    for f in out.get("findings", []):
        if f["file"] not in order:
            order.append(f["file"])
    tap.eq(order, sorted(order), "a directory: files reported in byte order of their paths")
    # the JSON file: the restartPolicy value at line 12 column 26 of json.dump's indent=2 text
    tap.ok(("tree/sub/f.json", "DS002", "json", "json-agent", 12, 26) in findings(out),
           "a .json file: its finding at 12:26", findings(out))
    code, out = lint_json(tap, "walk with a trailing slash", ["tree/"], cwd=tmp)
    tap.ok("tree/a.yaml" in files_of(out), "a directory named with a trailing '/': paths joined without '//'",
           files_of(out))
    # named dot-files and dot-dirs are read
    code, out = lint_json(tap, "named dot-file", ["tree/.hidden.yaml", "tree/.hidden-dir"], cwd=tmp)
    tap.eq(files_of(out), ["tree/.hidden-dir/c.yaml", "tree/.hidden.yaml"],
           "dot-file and dot-dir named on the command line are read")
    # a named file is read whatever its extension
    code, out = lint_json(tap, "named .txt", ["tree/sub/notes.txt"], cwd=tmp)
    tap.eq(files_of(out), ["tree/sub/notes.txt"], "a file named on the command line is read whatever its name")
    # --exclude by base name, by path, repeated
    code, out = lint_json(tap, "exclude", ["--exclude", "skipme", "--exclude", "*.yml", "--exclude=tree/vendor/*",
                                           "tree"], cwd=tmp)
    tap.eq(files_of(out), ["tree/a.yaml", "tree/sub/f.json"],
           "--exclude: a directory by base name, files by glob, a path glob (* crosses /)")
    code, out = lint_json(tap, "exclude named", ["--exclude", "a.yaml", "tree/a.yaml"], cwd=tmp)
    tap.eq((code, out.get("summary", {}).get("files")), (0, 0), "--exclude applies to named files too")


def test_local_config(tap, tmp):
    d = os.path.join(tmp, "proj")
    os.makedirs(d)
    shutil.copy(os.path.join(FIX, "agents.yaml"), d)
    with open(os.path.join(d, ".dsguard.yaml"), "w") as f:
        f.write("rules:\n  priority-class:\n    severity: warning\n")
    code, out = lint_json(tap, ".dsguard.yaml", ["agents.yaml"], cwd=d)
    tap.eq(sorted((f["rule"], f["severity"]) for f in out.get("findings", [])),
           [("DS001", "warning"), ("DS002", "error")], ".dsguard.yaml in the working directory is read")
    other = os.path.join(tmp, "other.yaml")
    with open(other, "w") as f:
        f.write("rules:\n  restart-policy:\n    severity: \"off\"\n")
    code, out = lint_json(tap, "--config over .dsguard.yaml", ["--config", other, "agents.yaml"], cwd=d)
    tap.eq([(f["rule"], f["severity"]) for f in out.get("findings", [])], [("DS001", "error")],
           "--config replaces .dsguard.yaml")
    # a broken .dsguard.yaml: exit 2 with its position
    with open(os.path.join(d, ".dsguard.yaml"), "w") as f:
        f.write("enforce: true\nrules:\n  priority:\n    severity: error\n")
    p = lint(["agents.yaml"], cwd=d)
    tap.eq(p.returncode, 2, "a broken .dsguard.yaml: exit 2")
    tap.ok(".dsguard.yaml:3:3: " in p.stderr and "priority" in p.stderr,
           "a broken .dsguard.yaml: file:line:col (3:3) and the key", p.stderr)
    tap.eq(p.stdout, "", "a broken config: nothing linted")


def test_config_errors(tap, tmp):
    cases = [
        ("enforce: true\nrules:\n  priority-class:\n    severity: error\n    defualt: pc\n", 5, 5, "defualt"),
        ("enforce: maybe\n", 1, 10, "enforce"),
        ("rules:\n  DS002:\n    severity: fatal\n", 3, 15, "severity"),
        ("unknown: 1\n", 1, 1, "unknown"),
        ("rules: {priority-class: {severity: error}\n", 2, 1, "line 1 column 8"),
    ]
    for i, (text, line, col, word) in enumerate(cases):
        path = os.path.join(tmp, f"bad{i}.yaml")
        with open(path, "w") as f:
            f.write(text)
        p = lint(["--config", path, "clean.yaml"])
        tap.eq(p.returncode, 2, f"--config error {i + 1}: exit 2")
        want = f"{path}:{line}:{col}: "
        tap.ok(want in p.stderr and word in p.stderr.split(want, 1)[-1],
               f"--config error {i + 1}: '{want}...{word}'", p.stderr)
    p = lint(["--config", os.path.join(tmp, "missing-config.yaml"), "clean.yaml"])
    tap.eq(p.returncode, 2, "--config naming a missing file: exit 2")
    tap.ok("missing-config.yaml" in p.stderr and "No such file" in p.stderr,
           "--config naming a missing file: says so", p.stderr)


def test_stdin(tap):
    with open(os.path.join(FIX, "agents.yaml")) as f:
        text = f.read()
    code, out = lint_json(tap, "stdin", ["-"], stdin=text)
    tap.eq((code, files_of(out)), (1, ["-"]), "'-' reads standard input, reported as '-'")
    tap.ok(("-", "DS001", "logging", "fluentd", 15, 5) in findings(out), "stdin: positions as in the file",
           findings(out))
    code, out = lint_json(tap, "stdin name", ["--stdin-filename", "deploy/agents.yaml", "-"], stdin=text)
    tap.eq(files_of(out), ["deploy/agents.yaml"], "--stdin-filename names standard input")
    p = lint(["--stdin-filename=rendered.yaml", "-", "clean.yaml"], stdin=text)
    tap.ok(p.stdout.startswith("rendered.yaml:15:5: error: DaemonSet logging/fluentd: "),
           "stdin and a file together, text output", p.stdout)
    code, out = lint_json(tap, "empty stdin", ["-"], stdin="")
    tap.eq((code, out.get("summary", {}).get("resources")), (0, 0), "empty standard input: exit 0, nothing")
    # DS003 across standard input and a file
    shared = "apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: c, namespace: shared}\n" \
             "spec: {template: {spec: {priorityClassName: p}}}\n"
    code, out = lint_json(tap, "stdin DS003", ["shared.yaml", "-"], stdin=shared)
    tap.ok(("-", "DS003", "shared", "c", 3, 32) in findings(out), "DS003 across a file and standard input (3:32)",
           findings(out))


def test_lists(tap):
    code, out = lint_json(tap, "lists", ["list.yaml"])
    tap.eq(code, 1, "List and DaemonSetList: exit 1")
    want = [("list.yaml", "DS001", "list-a", "in-list", 11, 9),
            ("list.yaml", "DS002", "list-b", "in-daemonset-list", 35, 24)]
    tap.eq(findings(out), want, "List and DaemonSetList items are checked, at their own positions")
    tap.eq((out.get("summary", {}).get("resources"), out.get("summary", {}).get("daemonsets")), (3, 2),
           "List items count as resources (3), DaemonSets among them (2)")
    try:
        oracle = kubectl_daemonsets(os.path.join(FIX, "list.yaml"))
        tap.eq(sorted({(f[2], f[3]) for f in findings(out)}), oracle,
               "List items: the DaemonSets kubectl reads from the file")
    except (OSError, RuntimeError) as e:
        tap.skip("List items against kubectl", f"kubectl unavailable: {e}")
    # a List in JSON, as kubectl get -o json prints it
    doc = {"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "j", "namespace": "k"},
         "spec": {"template": {"spec": {"priorityClassName": "p", "restartPolicy": "OnFailure"}}}}]}
    code, out = lint_json(tap, "json list", ["-"], stdin=json.dumps(doc, indent=4))
    # json.dumps indent=4: the restartPolicy line is line 16, its value at column 42
    tap.eq(findings(out), [("-", "DS002", "k", "j", 16, 42)], "a JSON List from standard input, positioned")


def test_not_manifests(tap, tmp):
    code, out = lint_json(tap, "workflow", ["workflow.yml"])
    tap.eq((code, out.get("errors"), out.get("findings"), out.get("summary", {}).get("resources")),
           (0, [], [], 0), "a GitHub workflow: skipped without error")
    p = lint(["workflow.yml"])
    tap.eq((p.returncode, p.stdout.splitlines()[:-1]), (0, []), "a GitHub workflow: no output but the summary")
    compose = os.path.join(tmp, "docker-compose.yaml")
    with open(compose, "w") as f:
        f.write("services:\n  web:\n    image: nginx\n    ports: [\"80:80\"]\n")
    values = os.path.join(tmp, "values.yaml")
    with open(values, "w") as f:
        f.write("# Helm values\nreplicaCount: 1\nimage:\n  repository: x\n---\n\n---\n- a\n- b\n---\njust a string\n")
    code, out = lint_json(tap, "others", [compose, values, "clean.yaml"])
    tap.eq((code, out.get("errors")), (0, []), "compose file, values, lists and scalars: skipped without error")
    kindless = os.path.join(tmp, "kindless.yaml")
    with open(kindless, "w") as f:
        f.write("apiVersion: apps/v1\nmetadata: {name: x}\nspec: {}\n---\nkind: \"\"\napiVersion: apps/v1\n")
    code, out = lint_json(tap, "kindless", [kindless])
    tap.eq((code, out.get("summary", {}).get("resources")), (0, 0), "documents without kind are not resources")


def test_rules_command(tap):
    p = run(["rules"])
    tap.eq(p.returncode, 0, "dsguard rules: exit 0")
    for rid, name in (("DS001", "priority-class"), ("DS002", "restart-policy"), ("DS003", "dedicated-namespace")):
        tap.ok(re.search(rf"^{rid} {re.escape(name)}\b", p.stdout, re.M) is not None,
               f"dsguard rules: lists {rid} {name}", p.stdout)
    blocks = re.split(r"\n(?=DS00\d )", p.stdout.strip())
    tap.eq(len(blocks), 3, "dsguard rules: three rules")
    why = {"DS001": ["evicted"], "DS002": ["Always"], "DS003": ["namespace of its own", "isolation"]}
    for b in blocks:
        rid = b[:5]
        tap.ok("Why" in b and all(w in b for w in why.get(rid, [])), f"dsguard rules: {rid} says why", b)
        tap.ok("error" in b.splitlines()[0], f"dsguard rules: {rid} default severity", b.splitlines()[0])
        tap.ok("dsguard.io/ignore" in b, f"dsguard rules: {rid} says how to exempt", b)
    p = run(["version"])
    with open(os.path.join(ROOT, "VERSION")) as f:
        version = f.read().strip()
    tap.eq((p.returncode, p.stdout.strip()), (0, f"dsguard {version}"), "dsguard version: the VERSION file")


def test_text_format(tap):
    p = lint(["agents.yaml", "shared.yaml"])
    lines = p.stdout.splitlines()
    want = [
        "agents.yaml:15:5: error: DaemonSet logging/fluentd: " + DS001_MSG + " [DS001 priority-class]",
        "shared.yaml:5:14: error: DaemonSet shared/a: namespace shared is shared with DaemonSet shared/b; "
        "each DaemonSet needs a namespace of its own [DS003 dedicated-namespace]",
        "shared.yaml:15:14: error: DaemonSet shared/b: namespace shared is shared with DaemonSet shared/a; "
        "each DaemonSet needs a namespace of its own [DS003 dedicated-namespace]",
    ]
    for w in want:
        tap.ok(w in lines, f"text line: {w[:60]}...", p.stdout)
    ds002 = [l for l in lines if "[DS002 restart-policy]" in l]
    tap.ok(len(ds002) == 1 and ds002[0].startswith("agents.yaml:35:22: error: DaemonSet monitoring/node-exporter: ")
           and "OnFailure" in ds002[0], "text line: DS002 at the value (35:22)", ds002)
    pattern = re.compile(r"^[^:]+:\d+:\d+: (error|warning): \S+ [^/ ]+/\S+: .+ \[DS00\d [a-z-]+\]$")
    tap.ok(all(pattern.match(l) for l in lines[:-1]), "every finding line has the SPEC's shape", p.stdout)
    tap.eq(lines[-1], "2 files, 4 resources, 4 DaemonSets: 4 errors, 0 warnings, 0 exempted, 0 input errors",
           "text: the closing summary")
    # exempted findings: shown with --verbose only, never counted
    p = lint(["exempt.yaml"])
    tap.eq(p.stdout.splitlines()[:-1], [], "exempt findings: not listed without --verbose")
    tap.ok(", 2 exempted," in p.stdout, "exempt findings: counted as exempted", p.stdout)
    p = lint(["--verbose", "exempt.yaml"])
    lines = p.stdout.splitlines()[:-1]
    tap.ok(len(lines) == 2 and lines[0].startswith("exempt.yaml:10:5: exempt: DaemonSet legacy/legacy: ")
           and lines[1].startswith("exempt.yaml:11:22: exempt: DaemonSet legacy/legacy: "),
           "--verbose: exempt findings listed at 10:5 and 11:22", p.stdout)


FINDING_KEYS = {"rule", "name", "severity", "file", "line", "column", "kind", "namespace", "resourceName",
                "message", "exempt"}


def test_json_schema(tap, tmp):
    broken = os.path.join(tmp, "broken-json.yaml")
    with open(broken, "w") as f:
        f.write("kind: DaemonSet\n\tbad: tab\n")
    p = lint(["--format", "json", "agents.yaml", "exempt.yaml", broken])
    tap.eq(p.returncode, 2, "json: exit 2 with a broken file")
    tap.eq(p.stdout.count("\n"), 1, "json: one object on one line")
    out = json.loads(p.stdout)
    tap.ok({"version", "findings", "errors", "summary"} <= set(out), "json: version, findings, errors, summary",
           sorted(out))
    tap.eq(out["version"], 1, "json: version 1")
    for f in out["findings"]:
        tap.ok(FINDING_KEYS <= set(f), f"json finding {f['rule']} {f['line']}: every version 1 key",
               sorted(FINDING_KEYS - set(f)))
    types_ok = all(isinstance(f["line"], int) and isinstance(f["column"], int) and isinstance(f["exempt"], bool)
                   and all(isinstance(f[k], str) for k in FINDING_KEYS - {"line", "column", "exempt"})
                   for f in out["findings"])
    tap.ok(types_ok, "json findings: integers, booleans and strings as in the SPEC", out["findings"])
    first = out["findings"][0]
    tap.eq(first, {**{k: first.get(k) for k in first if k not in FINDING_KEYS},
                   "rule": "DS001", "name": "priority-class", "severity": "error", "file": "agents.yaml",
                   "line": 15, "column": 5, "kind": "DaemonSet", "namespace": "logging",
                   "resourceName": "fluentd", "message": DS001_MSG, "exempt": False},
           "json: the DS001 finding, field by field")
    exempt = [f for f in out["findings"] if f["file"] == "exempt.yaml"]
    tap.eq(sorted((f["rule"], f["exempt"], f["line"], f["column"]) for f in exempt),
           [("DS001", True, 10, 5), ("DS002", True, 11, 22)], "json: exempted findings listed with exempt: true")
    tap.eq(len(out["errors"]), 1, "json: one error")
    e = out["errors"][0]
    tap.ok({"file", "line", "column", "message"} <= set(e), "json error: file, line, column, message", e)
    tap.eq((e.get("file"), e.get("line"), e.get("column")), (broken, 2, 1), "json error: the tab at 2:1")
    s = out["summary"]
    tap.ok({"files", "resources", "daemonsets", "errors", "warnings", "exempted"} <= set(s),
           "json summary: the version 1 keys", s)
    tap.eq({k: s.get(k) for k in ("files", "resources", "daemonsets", "errors", "warnings", "exempted")},
           {"files": 3, "resources": 3, "daemonsets": 3, "errors": 2, "warnings": 0, "exempted": 2},
           "json summary: counts (exempted not among errors)")
    # an unreadable-as-a-whole problem has no line and column
    code, out = lint_json(tap, "missing", ["no-such-file.yaml"])
    errs = out.get("errors", [])
    tap.ok(len(errs) == 1 and errs[0].get("file") == "no-such-file.yaml" and "line" not in errs[0],
           "json error for a missing file: no line or column", errs)


def main():
    tap = Tap()
    tmp = tempfile.mkdtemp(prefix="dsguard-cli-")
    try:
        test_help(tap)
        test_usage_errors(tap)
        test_exit_codes(tap, tmp)
        test_namespace(tap, tmp)
        test_walk_exclude_dotfiles(tap, tmp)
        test_local_config(tap, tmp)
        test_config_errors(tap, tmp)
        test_stdin(tap)
        test_lists(tap)
        test_not_manifests(tap, tmp)
        test_rules_command(tap)
        test_text_format(tap)
        test_json_schema(tap, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    tap.done()


if __name__ == "__main__":
    main()
