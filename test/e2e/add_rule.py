"""Helpers of test/e2e/test_add_rule.sh: reading reports, configs and
AdmissionReview answers, and running `dsguard audit` against the stand-in
API server. Each command exits 0 when what it checks holds, else 1 with the
reason on standard output as TAP comment lines ("# ...").

  once REPORT RULE NS/NAME...    the JSON report (lint, audit) has exactly one
                                 RULE finding per DaemonSet named, and no other
  exempt REPORT RULE NS/NAME...  as once, and each of those findings is exempt
  same-except OLD NEW RULE       NEW's findings without RULE are OLD's, in order
                                 (counted by rule), and OLD has no RULE finding
  rule-listed RULES_JSON ID NAME SCOPE KEY
                                 `dsguard rules --format json` lists the rule
                                 with that scope and one name option KEY
  sarif-rule SARIF ID N          the rule is in runs[0].tool.driver.rules once,
                                 and N results name it, each by its ruleIndex
  junit XML CASE NS/NAME,... NS/NAME,...
                                 each DaemonSet of the first list has one test
                                 case CASE ("DS900 update-strategy"), and those
                                 of the second list are the ones failing
  get FILE NS/NAME POINTER       prints the JSON value at POINTER in that
                                 DaemonSet of a YAML stream, keys sorted
                                 ("absent" if none)
  chart-config RENDERED OUT      writes config.yaml of the one ConfigMap of a
                                 `helm template` output that holds one to OUT
  config-value FILE DOTTED VALUE the YAML file holds VALUE at DOTTED
                                 (rules.update-strategy.type)
  review MANIFEST NS/NAME UID    prints an AdmissionReview (CREATE) of that
                                 DaemonSet, as the API server sends it
  denied ANSWER UID RULE         the answer denies the review naming RULE once
  patched ANSWER UID PATCH_JSON  the answer allows it with exactly that JSONPatch
  audit DIR NS/NAME,... BIN OUT [BIN OUT]...
                                 runs each BIN audit --format json into its OUT
                                 against one stand-in API server seeded with
                                 those DaemonSets (its certificates in DIR);
                                 prints each exit status on a line
"""
import base64
import collections
import json
import os
import subprocess
import sys
from xml.etree import ElementTree

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))


def say(*lines):
    for text in lines:
        for line in str(text).splitlines() or [""]:
            print("# " + line)
    return 1


def load_json(path):
    with open(path) as f:
        return json.load(f)


def daemonsets(path):
    """{(namespace, name): object} of the DaemonSets of a YAML stream."""
    with open(path) as f:
        docs = [d for d in yaml.safe_load_all(f) if isinstance(d, dict)]
    return {((d.get("metadata") or {}).get("namespace", "default"), d["metadata"]["name"]): d
            for d in docs if d.get("kind") == "DaemonSet"}


def pointer(doc, ptr):
    for token in ptr.split("/")[1:]:
        token = token.replace("~1", "/").replace("~0", "~")
        if isinstance(doc, dict) and token in doc:
            doc = doc[token]
        elif isinstance(doc, list) and token.isdigit() and int(token) < len(doc):
            doc = doc[int(token)]
        else:
            raise KeyError(ptr)
    return doc


def once(report, rule, *names):
    found = [f"{f['namespace']}/{f['resourceName']}" for f in load_json(report)["findings"] if f["rule"] == rule]
    got = collections.Counter(found)
    want = collections.Counter(names)
    if got != want:
        return say(f"{rule} findings by DaemonSet: {dict(got)}", f"want one each for: {list(names)}")
    return 0


def exempt(report, rule, *names):
    if once(report, rule, *names):
        return 1
    found = [f for f in load_json(report)["findings"] if f["rule"] == rule]
    if not all(f["exempt"] is True for f in found):
        return say(json.dumps(found)[:1500])
    return 0


def same_except(old, new, rule):
    before = load_json(old)["findings"]
    after = load_json(new)["findings"]
    rest = [f for f in after if f["rule"] != rule]
    counts = collections.Counter(f["rule"] for f in before)
    if any(f["rule"] == rule for f in before):
        return say(f"the unpatched dsguard already reports {rule}")
    if rest != before:
        return say(f"unpatched, by rule: {dict(counts)}",
                   f"patched, without {rule}: {dict(collections.Counter(f['rule'] for f in rest))}",
                   json.dumps(rest)[:1500], json.dumps(before)[:1500])
    return 0


def rule_listed(path, rule_id, name, scope, key):
    rules = [r for r in load_json(path)["rules"] if r["id"] == rule_id]
    if len(rules) != 1:
        return say(f"{len(rules)} rules have id {rule_id}")
    r = rules[0]
    opts = [(o["key"], o["type"], o["default"]) for o in r["options"]]
    if (r["name"], r["scope"], opts) != (name, scope, [(key, "string", None)]) or not r.get("fix"):
        return say(json.dumps(r))
    return 0


def sarif_rule(path, rule_id, count):
    run = load_json(path)["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    at = [i for i, r in enumerate(rules) if r.get("id") == rule_id]
    results = [r for r in run.get("results", []) if r.get("ruleId") == rule_id]
    if len(at) != 1 or len(results) != int(count) or any(r.get("ruleIndex") != at[0] for r in results):
        return say(f"driver rules: {[r.get('id') for r in rules]}",
                   f"{len(results)} results for {rule_id}: {json.dumps(results)[:800]}")
    return 0


def junit(path, case, names, failing):
    cases = [c for c in ElementTree.parse(path).iter("testcase") if c.get("name") == case]
    got = collections.Counter(c.get("classname") for c in cases)
    failed = sorted(c.get("classname") for c in cases if c.find("failure") is not None)
    if got != collections.Counter(names.split(",")) or failed != sorted(failing.split(",")):
        return say(f"test cases {case!r} by DaemonSet: {dict(got)}", f"failing: {failed}")
    return 0


def get(path, name, ptr):
    ns, _, n = name.partition("/")
    try:
        print(json.dumps(pointer(daemonsets(path)[(ns, n)], ptr), sort_keys=True))
    except KeyError:
        print("absent")
    return 0


def chart_config(rendered, out):
    with open(rendered) as f:
        docs = [d for d in yaml.safe_load_all(f) if isinstance(d, dict)]
    cms = [d for d in docs if d.get("kind") == "ConfigMap" and "config.yaml" in (d.get("data") or {})]
    if len(cms) != 1:
        return say(f"{len(cms)} ConfigMaps hold config.yaml")
    with open(out, "w") as f:
        f.write(cms[0]["data"]["config.yaml"])
    return 0


def config_value(path, dotted, value):
    with open(path) as f:
        node = yaml.safe_load(f)
    for key in dotted.split("."):
        node = node.get(key) if isinstance(node, dict) else None
    if node != value:
        return say(f"{dotted} is {node!r}, want {value!r}")
    return 0


def review(manifest, name, uid):
    ns, _, n = name.partition("/")
    obj = daemonsets(manifest)[(ns, n)]
    kind = {"group": "apps", "version": "v1", "kind": "DaemonSet"}
    print(json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                      "request": {"uid": uid, "kind": kind, "requestKind": kind,
                                  "resource": {"group": "apps", "version": "v1", "resource": "daemonsets"},
                                  "namespace": ns, "name": n, "operation": "CREATE",
                                  "userInfo": {"username": "admin", "groups": ["system:authenticated"]},
                                  "object": obj, "oldObject": None, "dryRun": False,
                                  "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"}}}))
    return 0


def answer_of(path, uid):
    resp = load_json(path).get("response") or {}
    return resp if resp.get("uid") == uid else None


def denied(path, uid, rule):
    resp = answer_of(path, uid)
    message = ((resp or {}).get("status") or {}).get("message", "")
    if resp is None or resp.get("allowed") is not False or message.count(rule) != 1:
        return say(open(path).read()[:1500])
    return 0


def patched(path, uid, patch):
    resp = answer_of(path, uid)
    if resp is None or resp.get("allowed") is not True or resp.get("patchType") != "JSONPatch":
        return say(open(path).read()[:1500])
    got = json.loads(base64.b64decode(resp["patch"]))
    if got != json.loads(patch):
        return say(f"patch: {json.dumps(got)}", f"want:  {patch}")
    return 0


def audit(d, seeds, *runs):
    """Starts the stand-in as test_audit.py does, seeded with the DaemonSets
    of `seeds` (NS/NAME,NS/NAME), runs `BIN audit --format json` for each
    BIN OUT pair of runs into OUT and prints each exit status on a line;
    stops the stand-in by closing its standard input."""
    python = os.environ.get("PYTHON", sys.executable)
    proc = subprocess.Popen([python, os.path.join(HERE, "fake_apiserver.py"), "--dir", d]
                            + sum((["--seed", s] for s in seeds.split(",")), []),
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        info = json.loads(proc.stdout.readline())
        kc = os.path.join(d, "kubeconfig")
        with open(kc, "w") as f:
            json.dump({"apiVersion": "v1", "kind": "Config", "current-context": "stand-in",
                       "clusters": [{"name": "stand-in", "cluster": {"server": info["url"],
                                                                     "certificate-authority": info["ca"]}}],
                       "users": [{"name": "tester", "user": {"token": info["token"]}}],
                       "contexts": [{"name": "stand-in", "context": {"cluster": "stand-in", "user": "tester"}}]}, f)
        for dsguard, out in zip(runs[::2], runs[1::2]):
            with open(out, "w") as f:
                p = subprocess.run([dsguard, "audit", "--kubeconfig", kc, "--format", "json"], stdout=f,
                                   stderr=subprocess.PIPE, text=True, timeout=60)
            print(p.returncode)
            if p.stderr:
                say(p.stderr)
        return 0
    finally:
        proc.stdin.close()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


COMMANDS = {"once": once, "exempt": exempt, "same-except": same_except, "rule-listed": rule_listed,
            "sarif-rule": sarif_rule, "junit": junit, "get": get, "chart-config": chart_config, "config-value": config_value, "review": review,
            "denied": denied, "patched": patched, "audit": audit}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        sys.exit(say(__doc__))
    try:
        sys.exit(COMMANDS[sys.argv[1]](*sys.argv[2:]))
    except (OSError, ValueError, KeyError, IndexError, TypeError, yaml.YAMLError, ElementTree.ParseError) as e:
        sys.exit(say(f"{sys.argv[1]}: {type(e).__name__}: {e}"))
