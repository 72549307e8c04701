"""lint --format sarif, junit and github. SARIF is validated against the
official SARIF 2.1.0 schema and JUnit XML against the JUnit XSD, both read in
place from the shared data directory (DSGUARD_SHARED); the contents are
checked against positions, names and escapes worked out by hand from the
fixtures written here."""
import json
import os
import re
import shutil
import subprocess
import tempfile
import urllib.parse
import xml.etree.ElementTree as ET

from tap import ROOT, Tap, run, shared_dir

RULES = [("DS001", "priority-class"), ("DS002", "restart-policy"), ("DS003", "dedicated-namespace")]
SUPPRESSION = {"kind": "inSource", "justification": "dsguard.io/ignore"}
DS001_MSG = "spec.template.spec.priorityClassName is not set"

# Two DaemonSets sharing "logging" (DS003); promtail is exempt from DS003.
# fluentd: DS001 at the pod template's spec: (8:5), DS002 at "Never" (9:22),
# DS003 at its namespace value (5:14); promtail: DS003 at 16:14.
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
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
"""
CLEAN = """\
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: node-exporter, namespace: monitoring}
spec:
  template:
    spec: {priorityClassName: node-agents}
"""
BROKEN = "a: [\n"  # the flow sequence never closes: an error at the end, 2:1
# "name" repeated at 5:3: an input warning, no error.
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
# DS002 at warning, DS003 off.
WARN_CONFIG = "rules:\n  restart-policy: {severity: warning}\n  dedicated-namespace: {severity: off}\n"


def write(path, text, mode="w"):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, mode) as fh:
        fh.write(text)


def make_tree(top):
    write(os.path.join(top, "deploy", "agents.yaml"), AGENTS)
    write(os.path.join(top, "deploy", "broken.yaml"), BROKEN)
    write(os.path.join(top, "deploy", "clean.yaml"), CLEAN)
    write(os.path.join(top, "deploy", "dup.yaml"), DUP)
    write(os.path.join(top, "warn.yaml"), WARN_CONFIG)


# ---------------------------------------------------------------- SARIF

class Sarif:
    """Validates SARIF logs against the official schema, when present."""

    def __init__(self, t):
        self.validator = None
        shared = shared_dir(t, "SARIF schema validation")
        if shared is None:
            return
        from jsonschema import Draft4Validator
        with open(os.path.join(shared, "schemas", "sarif-schema-2.1.0.json")) as fh:
            schema = json.load(fh)
        self.validator = Draft4Validator(schema, format_checker=Draft4Validator.FORMAT_CHECKER)
        bad = {"version": "9", "runs": []}
        t.ok(list(self.validator.iter_errors(bad)), "the SARIF validator rejects a wrong version")

    def check(self, t, log, what):
        if self.validator is None:
            return
        errors = [f"{'/'.join(map(str, e.path))}: {e.message}" for e in self.validator.iter_errors(log)]
        t.ok(not errors, f"SARIF validates against the 2.1.0 schema: {what}", "\n".join(errors))


URI_CHARS = re.compile(r"^(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/]|%[0-9A-F]{2})*$")
SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def uri_problems(uri, relative):
    """What is wrong with uri as an RFC 3986 reference of the expected kind."""
    problems = []
    if not URI_CHARS.match(uri):
        problems.append("characters outside RFC 3986 or a bad percent-escape")
    if relative and SCHEME.match(uri):
        problems.append("a relative reference that reads as a scheme")
    if not relative and not uri.startswith("file:///"):
        problems.append("not an absolute file URI")
    return problems


def sarif_run(args, cwd, stdin=None):
    p = run(["lint", "--format", "sarif"] + args, cwd=cwd, stdin=stdin)
    try:
        return p, json.loads(p.stdout)
    except ValueError:
        return p, None


def location_of(obj):
    loc = obj["locations"][0]["physicalLocation"]
    region = loc.get("region", {})
    return loc["artifactLocation"], region.get("startLine"), region.get("startColumn")


def github_anchor(heading):
    """The anchor GitHub gives a Markdown heading."""
    return re.sub(r"[^a-z0-9 _-]", "", heading.strip().lower()).replace(" ", "-")


def check_sarif_rules(t, log):
    driver = log["runs"][0]["tool"]["driver"]
    t.eq((driver["name"], driver["informationUri"]), ("dsguard", "https://github.com/dsguard/dsguard"),
         "SARIF driver name and informationUri")
    with open(os.path.join(ROOT, "VERSION")) as fh:
        t.eq(driver["version"], fh.read().strip(), "SARIF driver version is VERSION")
    t.eq([(r["id"], r["name"]) for r in driver["rules"]], RULES, "SARIF lists every rule, in table order")
    with open(os.path.join(ROOT, "docs", "rules.md")) as fh:
        doc = fh.read()
    sections = {rule_id: heading for heading, rule_id in re.findall(r"^## ((DS\d+) [a-z-]+)$", doc, re.M)}
    for r in driver["rules"]:
        section = doc.split(f"## {sections[r['id']]}\n", 1)[1].split("\n## ", 1)[0]
        want = {"shortDescription": "**Checks:**", "fullDescription": "**Why:**", "help": "**How to fix:**"}
        for field, label in want.items():
            line = next(x for x in section.splitlines() if x.startswith(label))
            t.eq(r[field]["text"], line[len(label):].strip(), f"SARIF {r['id']} {field} is the rule's text")
        t.eq(r["helpUri"], "https://github.com/dsguard/dsguard/blob/main/docs/rules.md#"
             + github_anchor(sections[r["id"]]), f"SARIF {r['id']} helpUri links to its section")
        t.eq(r["defaultConfiguration"], {"level": "error"}, f"SARIF {r['id']} default level")


def test_sarif_tree(t, sarif, top):
    p, log = sarif_run(["deploy"], top)
    t.eq(p.returncode, 2, "sarif: exit 2 with an input error among the files")
    if not t.ok(log is not None, "sarif output is JSON", p.stdout[:500] + p.stderr):
        return
    sarif.check(t, log, "findings, exemption, input error and warning")
    t.eq((log["version"], log["$schema"]),
         ("2.1.0", "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"),
         "SARIF version and $schema")
    check_sarif_rules(t, log)
    r0 = log["runs"][0]
    got = [(r["ruleId"], r["ruleIndex"], r["level"], location_of(r)[0]["uri"], location_of(r)[0].get("uriBaseId"),
            location_of(r)[1], location_of(r)[2], r.get("suppressions")) for r in r0["results"]]
    rel = ("deploy/agents.yaml", "%SRCROOT%")
    t.eq(got, [("DS003", 2, "error") + rel + (5, 14, None),
               ("DS001", 0, "error") + rel + (8, 5, None),
               ("DS002", 1, "error") + rel + (9, 22, None),
               ("DS003", 2, "error") + rel + (16, 14, [SUPPRESSION])],
         "SARIF results: rule, index, level, location, suppression of the exempt one")
    texts = [r["message"]["text"] for r in r0["results"]]
    t.eq(texts[1], f"DaemonSet logging/fluentd: {DS001_MSG}", "SARIF message names the DaemonSet")
    t.ok(texts[0].startswith("DaemonSet logging/fluentd: ") and "promtail" in texts[0],
         "SARIF DS003 message names both DaemonSets", texts[0])
    inv = r0["invocations"][0]
    t.eq(inv["executionSuccessful"], False, "SARIF executionSuccessful is false with an input error")
    notes = [(n["level"], location_of(n)) for n in inv["toolExecutionNotifications"]]
    t.eq([(level, loc["uri"], line, col) for level, (loc, line, col) in notes],
         [("error", "deploy/broken.yaml", 2, 1), ("warning", "deploy/dup.yaml", 5, 3)],
         "SARIF input problems are toolExecutionNotifications with their positions")
    t.eq(inv["toolExecutionNotifications"][1]["message"]["text"],
         'key "name" is repeated in this mapping; the last value wins', "SARIF input warning message")
    t.eq(r0["originalUriBaseIds"]["%SRCROOT%"]["uri"], "file://" + urllib.parse.quote(top) + "/",
         "SARIF %SRCROOT% is the working directory")
    t.eq(r0["columnKind"], "unicodeCodePoints", "SARIF columns count code points")


def test_sarif_clean(t, sarif, top):
    p, log = sarif_run(["deploy/clean.yaml"], top)
    t.eq(p.returncode, 0, "sarif: exit 0 on a clean file")
    if log is None:
        return t.ok(False, "sarif output is JSON (clean)", p.stdout[:500])
    sarif.check(t, log, "clean file")
    t.eq(log["runs"][0]["results"], [], "SARIF has no results for a clean file")
    t.eq(log["runs"][0]["invocations"][0], {"executionSuccessful": True},
         "SARIF execution succeeded, no notifications")


def test_sarif_uris(t, sarif, top):
    """uri is relative to the working directory where the file is below it,
    percent-encoded; else an absolute file:// URI."""
    odd = os.path.join(top, "odd dir", "a#b:c%d é.yaml")
    write(odd, CLEAN.replace("spec: {priorityClassName: node-agents}", "spec: {}"))
    write(os.fsencode(os.path.join(top, "esc")) + b"/bad\xff.yaml", CLEAN.replace("node-agents", "\"\""), "w")
    agents = os.path.join(top, "deploy", "agents.yaml")
    sub = os.path.join(top, "sub")
    os.makedirs(sub, exist_ok=True)
    cases = [
        ("./deploy/agents.yaml", top, "deploy/agents.yaml"),
        (".//deploy/./agents.yaml", top, "deploy/agents.yaml"),
        (agents, top, "deploy/agents.yaml"),
        ("deploy/../deploy/agents.yaml", top, "deploy/agents.yaml"),
        (os.path.join("odd dir", "a#b:c%d é.yaml"), top, "odd%20dir/a%23b%3Ac%25d%20%C3%A9.yaml"),
        ("esc", top, "esc/bad%FF.yaml"),
        ("../deploy/agents.yaml", sub, "file://" + urllib.parse.quote(agents)),
        (agents, sub, "file://" + urllib.parse.quote(agents)),
    ]
    for arg, cwd, want in cases:
        p, log = sarif_run([arg], cwd)
        if log is None or not log["runs"][0]["results"]:
            t.ok(False, f"sarif results for {arg}", p.stdout[:300] + p.stderr)
            continue
        loc = location_of(log["runs"][0]["results"][0])[0]
        relative = not want.startswith("file:")
        t.eq((loc["uri"], loc.get("uriBaseId")), (want, "%SRCROOT%" if relative else None),
             f"SARIF uri of {arg!r} from {os.path.relpath(cwd, top)}")
        t.eq(uri_problems(loc["uri"], relative), [], f"SARIF uri of {arg!r} is a valid URI reference")
        sarif.check(t, log, f"uri of {arg!r}")
    p, log = sarif_run(["--stdin-filename", "chart/rendered.yaml", "-"], top, stdin=AGENTS)
    locs = {location_of(r)[0]["uri"] for r in log["runs"][0]["results"]} if log else None
    t.eq(locs, {"chart/rendered.yaml"}, "SARIF uri of standard input is the --stdin-filename")
    p, log = sarif_run(["missing.yaml"], top)
    notes = log["runs"][0]["invocations"][0]["toolExecutionNotifications"] if log else []
    t.eq([location_of(n) for n in notes], [({"uri": "missing.yaml", "uriBaseId": "%SRCROOT%"}, None, None)],
         "SARIF notification for an unreadable file has no region")
    if log:
        sarif.check(t, log, "unreadable file")


def test_sarif_config(t, sarif, top):
    p, log = sarif_run(["--config", "warn.yaml", "deploy/agents.yaml"], top)
    levels = [(r["ruleId"], r["level"]) for r in log["runs"][0]["results"]] if log else None
    t.eq(levels, [("DS001", "error"), ("DS002", "warning")], "SARIF levels follow the config")
    if log:
        sarif.check(t, log, "config with a warning-level rule")


# ---------------------------------------------------------------- JUnit

def xsd_check(t, shared, xml_text, what):
    if shared is None:
        return
    with tempfile.NamedTemporaryFile("w", suffix=".xml", encoding="utf-8", errors="surrogateescape") as fh:
        fh.write(xml_text)
        fh.flush()
        p = subprocess.run(["xmllint", "--noout", "--schema", os.path.join(shared, "schemas", "junit.xsd"),
                            fh.name], capture_output=True, text=True)
    t.ok(p.returncode == 0, f"JUnit XML validates against the XSD: {what}", p.stderr)


def junit_run(args, cwd):
    p = subprocess.run([os.environ.get("DSGUARD_BIN", os.path.join(ROOT, "build", "dsguard")), "lint",
                        "--format", "junit"] + args, cwd=cwd, capture_output=True)
    text = p.stdout.decode("utf-8", "surrogateescape")
    try:
        return p, text, ET.fromstring(p.stdout)
    except ET.ParseError as e:
        return p, text, e


def cases_of(suite):
    out = []
    for c in suite.findall("testcase"):
        kids = [(k.tag, k.get("type"), k.get("message"), k.text) for k in c]
        out.append((c.get("classname"), c.get("name"), kids))
    return out


def counts_of(el):
    return tuple(el.get(k) for k in ("tests", "failures", "errors"))


def test_junit_tree(t, shared, top):
    p, text, root = junit_run(["deploy"], top)
    t.eq(p.returncode, 2, "junit: exit 2 with an input error among the files")
    if not t.ok(isinstance(root, ET.Element), "junit output is well-formed XML", str(root) + text[:500]):
        return
    xsd_check(t, shared, text, "findings, exemption, input error and warning")
    suites = root.findall("testsuite")
    t.eq([s.get("name") for s in suites],
         ["deploy/agents.yaml", "deploy/broken.yaml", "deploy/clean.yaml", "deploy/dup.yaml"],
         "JUnit: one testsuite per file, in the order read")
    agents, broken, clean, dup = suites
    fl, pr = "logging/fluentd", "logging/promtail"
    t.eq([(c, n, [k[0:2] for k in kids]) for c, n, kids in cases_of(agents)],
         [(fl, "DS001 priority-class", [("failure", "error")]),
          (fl, "DS002 restart-policy", [("failure", "error")]),
          (fl, "DS003 dedicated-namespace", [("failure", "error")]),
          (pr, "DS001 priority-class", []), (pr, "DS002 restart-policy", []),
          (pr, "DS003 dedicated-namespace", [("skipped", "exempt")])],
         "JUnit: a testcase per DaemonSet and rule; failures, a pass and a skipped exemption")
    first = cases_of(agents)[0][2][0]
    t.eq((first[2], first[3]), (DS001_MSG, "deploy/agents.yaml:8:5: error: DaemonSet logging/fluentd: "
                                f"{DS001_MSG} [DS001 priority-class]"),
         "JUnit failure: message attribute and the position in its text")
    t.eq(cases_of(agents)[5][2][0][2], "exempted by dsguard.io/ignore", "JUnit skipped says why")
    t.eq((counts_of(agents), agents.get("skipped")), (("6", "3", "0"), "1"), "JUnit counts of agents.yaml")
    t.eq([(c, n, [k[0:2] for k in kids]) for c, n, kids in cases_of(broken)],
         [("deploy/broken.yaml", "input", [("error", "input error")])], "JUnit: an input error is an <error>")
    error = cases_of(broken)[0][2][0]
    t.eq(error[3], f"deploy/broken.yaml:2:1: error: {error[2]}", "JUnit error: message, and position in its text")
    t.eq((counts_of(broken), counts_of(clean)), (("1", "0", "1"), ("3", "0", "0")),
         "JUnit counts of broken.yaml and clean.yaml")
    t.eq([k[0] for _, _, kids in cases_of(dup) for k in kids], ["system-err"],
         "JUnit: an input warning is system-err, not an error")
    t.eq(counts_of(dup), ("4", "0", "0"), "JUnit counts of dup.yaml")
    t.eq(counts_of(root), ("14", "3", "1"), "JUnit testsuites totals")


def test_junit_config(t, shared, top):
    p, text, root = junit_run(["--config", "warn.yaml", "deploy/agents.yaml"], top)
    if not t.ok(isinstance(root, ET.Element), "junit output is XML (config)", text[:300]):
        return
    xsd_check(t, shared, text, "a rule off")
    got = [(c, n, [k[0:2] for k in kids]) for c, n, kids in cases_of(root.find("testsuite"))]
    t.eq(got, [("logging/fluentd", "DS001 priority-class", [("failure", "error")]),
               ("logging/fluentd", "DS002 restart-policy", [("failure", "warning")]),
               ("logging/promtail", "DS001 priority-class", []), ("logging/promtail", "DS002 restart-policy", [])],
         "JUnit: no testcases for a rule that is off; a warning is a failure of type warning")


def test_junit_escaping(t, shared, top):
    write(os.path.join(top, "x", "esc.yaml"),
          'apiVersion: apps/v1\nkind: DaemonSet\nmetadata:\n'
          '  name: "a<&>\\"\'\\tb\\nc\\x01d]]>"\n  namespace: ns\nspec:\n  template:\n    spec: {}\n')
    write(os.fsencode(os.path.join(top, "x")) + b"/bad\xff.yaml", "a: [\n", "w")
    p, text, root = junit_run(["x"], top)
    if not t.ok(isinstance(root, ET.Element), "junit output with hostile names is well-formed XML",
                str(root) + text[:500]):
        return
    xsd_check(t, shared, text, "hostile names")
    suites = root.findall("testsuite")
    t.eq(suites[0].get("name"), "x/bad\ufffd.yaml", "JUnit: a byte that is not UTF-8 becomes U+FFFD")
    case = suites[1].find("testcase")
    t.eq(case.get("classname"), "ns/a<&>\"'\tb\nc\ufffdd]]>",
         "JUnit: markup, quotes, tab and newline survive; a control character becomes U+FFFD")
    t.ok(case.find("failure").text.endswith(f"c\ufffdd]]>: {DS001_MSG} [DS001 priority-class]"),
         "JUnit: failure text escaped", case.find("failure").text)


def test_junit_doc_example(t, shared):
    """The example in docs/output.md is valid JUnit XML too."""
    with open(os.path.join(ROOT, "docs", "output.md")) as fh:
        blocks = re.findall(r"```xml\n(.*?)```", fh.read(), re.S)
    if t.ok(len(blocks) == 1, "docs/output.md has a JUnit example"):
        xsd_check(t, shared, blocks[0], "the example in docs/output.md")


# ---------------------------------------------------------------- GitHub

GH_FILE = "gh/a:b,c%.yaml"
GH = """\
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: "x%y\\r\\nz"
  namespace: "n,s:1"
spec:
  template:
    spec:
      restartPolicy: OnFailure
---
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: other
  namespace: own
  annotations: {dsguard.io/ignore: priority-class}
spec:
  template:
    spec: {}
"""


def test_github(t, top):
    write(os.path.join(top, GH_FILE), GH)
    write(os.path.join(top, "gh", "broken.yaml"), BROKEN)
    write(os.path.join(top, "gh", "warn.yaml"), "rules:\n  restart-policy: {severity: warning}\n")
    p = run(["lint", "--format", "github", "--config", "gh/warn.yaml", GH_FILE, "gh/missing.yaml",
             "gh/broken.yaml"], cwd=top)
    t.eq(p.returncode, 2, "github: exit 2 with input errors")
    lines = p.stdout.splitlines()
    f = "gh/a%3Ab%2Cc%25.yaml"
    want = [
        "::error file=gh/missing.yaml,title=input error::cannot open: No such file or directory",
        "::error file=gh/broken.yaml,line=2,col=1,title=input error::",
        f"::error file={f},line=8,col=5,title=DS001 priority-class::"
        f"DaemonSet n,s:1/x%25y%0D%0Az: {DS001_MSG}",
        f"::warning file={f},line=9,col=22,title=DS002 restart-policy::"
        "DaemonSet n,s:1/x%25y%0D%0Az: spec.template.spec.restartPolicy is \"OnFailure\"; "
        "it must be Always or unset",
        f"::notice file={f},line=19,col=5,title=DS001 priority-class (exempt)::"
        f"DaemonSet own/other: {DS001_MSG} (exempted by dsguard.io/ignore)",
    ]
    t.ok(len(lines) == len(want), "github: one command per finding and input error", p.stdout)
    for got, w in zip(lines, want):
        t.ok(got == w if not w.endswith("::") else got.startswith(w),
             f"github: {w[:60]}", f"got:  {got!r}\nwant: {w!r}")
    p = run(["lint", "--format", "github", "deploy/dup.yaml"], cwd=top)
    t.eq((p.returncode, p.stdout),
         (0, '::warning file=deploy/dup.yaml,line=5,col=3,title=input warning::'
             'key "name" is repeated in this mapping; the last value wins\n'),
         "github: an input warning is ::warning and does not fail")
    p = run(["lint", "--format", "github", "deploy/clean.yaml"], cwd=top)
    t.eq((p.returncode, p.stdout), (0, ""), "github: nothing to say about a clean file")


# ---------------------------------------------------------------- --fix, file not written

NOT_WRITTEN = "the fixed file was not written; see the error for this file"
SHARED_MSG = "namespace logging is shared with DaemonSet logging/%s; each DaemonSet needs a namespace of its own"
DS002_MSG = 'spec.template.spec.restartPolicy is "Never"; it must be Always or unset'


def run_unwritable(top, fmt):
    """lint --fix of ro/agents.yaml, which sits in a directory its user may
    not write (run as nobody: the tests run as root, which writes
    anywhere)."""
    cmd = [os.path.join(top, "dsguard"), "lint", "--fix", "--priority-class", "node-agents", "--format", fmt,
           "ro/agents.yaml"]
    if os.geteuid() == 0:
        cmd = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] + cmd
    return subprocess.run(cmd, cwd=top, capture_output=True, text=True, timeout=120)


def test_fix_unwritable(t, sarif, shared):
    """--fix that cannot write a file reports it as an input error, and the
    file's findings as they still stand, in every format."""
    top = os.path.realpath(tempfile.mkdtemp(prefix="dsguard-unwritable-"))
    ro = os.path.join(top, "ro")
    try:
        write(os.path.join(ro, "agents.yaml"), AGENTS)
        shutil.copy(os.environ.get("DSGUARD_BIN", os.path.join(ROOT, "build", "dsguard")),
                    os.path.join(top, "dsguard"))
        os.chmod(os.path.join(top, "dsguard"), 0o755)
        os.chmod(top, 0o755)
        os.chmod(os.path.join(ro, "agents.yaml"), 0o644)
        if os.geteuid() == 0:  # nobody's file, in nobody's directory that nobody may not write
            os.chown(ro, 65534, 65534)
            os.chown(os.path.join(ro, "agents.yaml"), 65534, 65534)
        os.chmod(ro, 0o555)
        error = f"cannot write the fixed file: cannot create a file in {ro}: Permission denied"

        p = run_unwritable(top, "text")
        t.eq((p.returncode, p.stdout.splitlines()), (2, [
            f"ro/agents.yaml: error: {error}",
            "ro/agents.yaml:5:14: error: DaemonSet logging/fluentd: " + SHARED_MSG % "promtail"
            + " [DS003 dedicated-namespace]",
            f"ro/agents.yaml:8:5: error: DaemonSet logging/fluentd: {DS001_MSG} [DS001 priority-class]"
            f" (cannot fix: {NOT_WRITTEN})",
            f"ro/agents.yaml:9:22: error: DaemonSet logging/fluentd: {DS002_MSG} [DS002 restart-policy]"
            f" (cannot fix: {NOT_WRITTEN})",
            "1 file, 3 resources, 2 DaemonSets: 3 errors, 0 warnings, 1 exempted, 1 input error"]),
            "--fix, file not written, text: the input error and the findings as errors, none fixed")

        p = run_unwritable(top, "json")
        try:
            out = json.loads(p.stdout)
        except ValueError:
            t.ok(False, "--fix, file not written, json: JSON output", p.stdout + p.stderr)
        else:
            t.eq([(f["rule"], f["line"], f.get("fixed", False), f.get("fixNote")) for f in out["findings"]],
                 [("DS003", 5, False, None), ("DS001", 8, False, NOT_WRITTEN), ("DS002", 9, False, NOT_WRITTEN),
                  ("DS003", 16, False, None)],
                 "--fix, file not written, json: no finding is fixed; the fixable ones say why not")
            t.eq(out["errors"], [{"file": "ro/agents.yaml", "message": error}],
                 "--fix, file not written, json: the input error")
            t.eq(out["summary"], {"files": 1, "resources": 3, "daemonsets": 2, "errors": 3, "warnings": 0,
                                  "exempted": 1, "inputErrors": 1, "fixed": 0},
                 "--fix, file not written, json: the summary agrees with the findings")

        p = run_unwritable(top, "sarif")
        try:
            log = json.loads(p.stdout)
        except ValueError:
            t.ok(False, "--fix, file not written, sarif: JSON output", p.stdout + p.stderr)
        else:
            sarif.check(t, log, "--fix, file not written")
            r0 = log["runs"][0]
            t.eq([(r["ruleId"], location_of(r)[1], location_of(r)[2], "suppressions" in r) for r in r0["results"]],
                 [("DS003", 5, 14, False), ("DS001", 8, 5, False), ("DS002", 9, 22, False), ("DS003", 16, 14, True)],
                 "--fix, file not written, sarif: DS001 and DS002 stay results")
            inv = r0["invocations"][0]
            t.eq((inv["executionSuccessful"], [(n["level"], n["message"]["text"])
                                               for n in inv["toolExecutionNotifications"]]),
                 (False, [("error", error)]), "--fix, file not written, sarif: the input error is a notification")

        p = run_unwritable(top, "junit")
        try:
            root = ET.fromstring(p.stdout)
        except ET.ParseError as e:
            t.ok(False, "--fix, file not written, junit: XML output", f"{e}\n{p.stdout}{p.stderr}")
        else:
            xsd_check(t, shared, p.stdout, "--fix, file not written")
            fl, pr = "logging/fluentd", "logging/promtail"
            (suite,) = root.findall("testsuite")
            t.eq([(c, n, [k[0:2] for k in kids]) for c, n, kids in cases_of(suite)],
                 [(fl, "DS001 priority-class", [("failure", "error")]),
                  (fl, "DS002 restart-policy", [("failure", "error")]),
                  (fl, "DS003 dedicated-namespace", [("failure", "error")]),
                  (pr, "DS001 priority-class", []), (pr, "DS002 restart-policy", []),
                  (pr, "DS003 dedicated-namespace", [("skipped", "exempt")]),
                  ("ro/agents.yaml", "input", [("error", "input error")])],
                 "--fix, file not written, junit: DS001 and DS002 fail, the input error is an <error>")
            t.eq(counts_of(root), ("7", "3", "1"), "--fix, file not written, junit: totals")

        p = run_unwritable(top, "github")
        t.eq((p.returncode, p.stdout.splitlines()[:4]), (2, [
            f"::error file=ro/agents.yaml,title=input error::{error}",
            "::error file=ro/agents.yaml,line=5,col=14,title=DS003 dedicated-namespace::DaemonSet logging/fluentd: "
            + SHARED_MSG % "promtail",
            f"::error file=ro/agents.yaml,line=8,col=5,title=DS001 priority-class::DaemonSet logging/fluentd: "
            f"{DS001_MSG}",
            f"::error file=ro/agents.yaml,line=9,col=22,title=DS002 restart-policy::DaemonSet logging/fluentd: "
            f"{DS002_MSG}"]), "--fix, file not written, github: the input error, then DS001 and DS002 as errors")
        t.eq(open(os.path.join(ro, "agents.yaml")).read(), AGENTS, "--fix, file not written: the file is as it was")
    finally:
        os.chmod(ro, 0o755)
        shutil.rmtree(top, ignore_errors=True)


# ---------------------------------------------------------------- all

def test_exit_codes(t, top):
    for fmt in ("sarif", "junit", "github"):
        got = [run(["lint", "--format", fmt, f"deploy/{n}.yaml"], cwd=top).returncode
               for n in ("clean", "agents", "broken")]
        t.eq(got, [0, 1, 2], f"{fmt}: exit codes 0 clean, 1 findings, 2 input error")
    p = run(["lint", "--format", "xml", "deploy"], cwd=top)
    t.ok(p.returncode == 2 and "sarif, junit or github" in p.stderr, "an unknown --format is a usage error",
         p.stderr)


def main():
    t = Tap()
    top = os.path.realpath(tempfile.mkdtemp(prefix="dsguard-formats-"))
    try:
        make_tree(top)
        shared = shared_dir(t, "JUnit XSD validation")
        if shared is not None and not shutil.which("xmllint"):
            t.ok(False, "xmllint is installed (Debian package libxml2-utils)")
            shared = None
        sarif = Sarif(t)
        test_sarif_tree(t, sarif, top)
        test_sarif_clean(t, sarif, top)
        test_sarif_uris(t, sarif, top)
        test_sarif_config(t, sarif, top)
        test_junit_tree(t, shared, top)
        test_junit_config(t, shared, top)
        test_junit_escaping(t, shared, top)
        test_junit_doc_example(t, shared)
        test_github(t, top)
        test_fix_unwritable(t, sarif, shared)
        test_exit_codes(t, top)
    finally:
        shutil.rmtree(top, ignore_errors=True)
    t.done()


if __name__ == "__main__":
    main()
