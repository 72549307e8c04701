"""dsguard review, the examples and curl commands of docs/webhook.md run as
written against a real server, and parity with lint: for every DaemonSet of
the shared real-world corpus, /validate's verdict on DS001 and DS002 equals
`dsguard lint --format json` on the same file."""
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile

import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tap  # noqa: E402
import test_webhook_serve as ws  # noqa: E402

DOCS = os.path.join(tap.ROOT, "docs", "webhook.md")
EXAMPLES = os.path.join(tap.ROOT, "examples", "admission")


def test_review_command(t):
    deny = os.path.join(EXAMPLES, "deny.json")
    patch = os.path.join(EXAMPLES, "patch.json")
    config = os.path.join(EXAMPLES, "config.yaml")
    r = tap.run(["review", deny])
    resp = json.loads(r.stdout) if r.returncode in (0, 1) else {}
    t.ok(r.returncode == 1 and resp["response"]["allowed"] is False
         and resp["response"]["uid"] == "2f6e5d3a-6f3b-4c4e-9d1a-7d2c1b0a9e01",
         "review: the deny example is denied, exit 1", r.stdout + r.stderr)
    r = tap.run(["review", "--mutate", "--config", config, patch])
    resp = json.loads(r.stdout) if r.returncode == 0 else {}
    ok = r.returncode == 0 and resp["response"]["allowed"] and "patch" in resp["response"]
    t.ok(ok, "review --mutate: the patch example is patched, exit 0", r.stdout + r.stderr)
    if ok:
        obj = json.load(open(patch))["request"]["object"]
        patched = ws.apply_patch(obj, ws.decoded_patch(resp))
        t.eq(patched["spec"]["template"]["spec"]["priorityClassName"], "node-agents",
             "review --mutate: the patch sets the default class")
    r = tap.run(["review", "-"], stdin=open(deny).read())
    t.eq(r.returncode, 1, "review -: reads standard input")
    r = tap.run(["review", "-"], stdin='{"apiVersion":')
    t.ok(r.returncode == 2 and "400" in r.stderr and "malformed JSON" in r.stderr,
         "review: a malformed request exits 2 and says why", r.stderr)
    r = tap.run(["review", "/nonexistent/request.json"])
    t.ok(r.returncode == 2 and "/nonexistent/request.json" in r.stderr, "review: a missing file exits 2", r.stderr)
    r = tap.run(["review", deny, patch])
    t.eq(r.returncode, 2, "review: two files is a usage error")
    r = tap.run(["review", "--max-body-bytes", "100", deny])
    t.ok(r.returncode == 2 and "max-body-bytes" in r.stderr, "review: --max-body-bytes is honoured", r.stderr)
    r = tap.run(["review", "--config", "/nonexistent.yaml", deny])
    t.eq(r.returncode, 2, "review: a missing config exits 2")
    r = tap.run(["review", "--help"])
    t.ok(r.returncode == 0 and "--mutate" in r.stdout, "review --help")
    r = tap.run(["serve", "--help"])
    t.ok(r.returncode == 0 and all(o in r.stdout for o in ("--listen", "--tls-cert", "--client-ca",
                                                           "--max-body-bytes", "--cluster", "--on-unsynced")),
         "serve --help lists the options")
    for args, why in ((["serve"], "no certificate"), (["serve", "--tls-cert", "a", "--tls-key", "b",
                                                      "--cluster", "maybe"], "a bad --cluster"),
                      (["serve", "--tls-cert", "a", "--tls-key", "b", "--log-level", "loud"], "a bad --log-level"),
                      (["serve", "--tls-cert", "a", "--tls-key", "b", "--max-body-bytes", "x"], "a bad number")):
        r = tap.run(args)
        t.ok(r.returncode == 2 and "serve" in r.stderr, f"serve with {why}: usage error, exit 2", r.stderr)


def documented_curls(doc=DOCS):
    """The curl command lines of a document's sh blocks."""
    text = open(doc).read()
    cmds = []
    for block in re.findall(r"```sh\n(.*?)```", text, re.S):
        cmds += [line for line in block.replace("\\\n", " ").splitlines() if line.startswith("curl ")]
    return cmds


def test_documented_curls(t, tmp, doc=DOCS):
    name = os.path.relpath(doc, tap.ROOT)
    ca = ws.make_ca(tmp, "ca")
    cert, key = ws.make_cert(tmp, "tls", ca)
    srv = ws.Server(tmp, ca[0], cert, key, "--config", os.path.join(EXAMPLES, "config.yaml"))
    cmds = documented_curls(doc)
    t.eq(len(cmds), 2, f"{name} shows two curl commands")
    for cmd in cmds:
        words = [w.replace("https://127.0.0.1:8443", f"https://127.0.0.1:{srv.port}")
                 .replace("certs/dev/ca.crt", ca[0]) for w in shlex.split(cmd)]
        r = subprocess.run(words, cwd=tap.ROOT, capture_output=True, text=True, timeout=60)
        resp = json.loads(r.stdout) if r.returncode == 0 and r.stdout.startswith("{") else {}
        answer = resp.get("response", {})
        if "deny.json" in cmd:
            t.ok(answer.get("allowed") is False and "DS001" in answer["status"]["message"],
                 f"{name}: the curl for deny.json gets a denial", r.stdout + r.stderr)
        else:
            t.ok(answer.get("allowed") is True and "patch" in answer,
                 f"{name}: the curl for patch.json gets a patch", r.stdout + r.stderr)
        documented = re.search(r"```json\n(\{.*?\})\n```", open(doc).read().split(cmd, 1)[1], re.S)
        t.eq(json.loads(documented.group(1)) if documented else None, resp,
             f"the answer shown in {name} is the real one")
    t.eq(srv.stop(), 0, f"{name}: the server exits 0")


def daemonsets(path):
    """The DaemonSets of a manifest file, Lists included."""
    out = []
    try:
        docs = list(yaml.safe_load_all(open(path, encoding="utf-8-sig")))
    except yaml.YAMLError:
        return out
    for doc in docs:
        items = doc.get("items", []) if isinstance(doc, dict) and str(doc.get("kind", "")).endswith("List") \
            else [doc]
        for item in items:
            if isinstance(item, dict) and item.get("kind") == "DaemonSet" and item.get("apiVersion") in (
                    "apps/v1", "apps/v1beta2", "extensions/v1beta1"):
                out.append(item)
    return out


def test_parity(t, tmp):
    shared = tap.shared_dir(t, "parity of /validate and lint on the real-world corpus")
    if not shared:
        return
    corpus = os.path.join(shared, "corpus", "realworld")
    config = os.path.join(tmp, "parity.yaml")
    with open(config, "w") as f:
        f.write("rules:\n  dedicated-namespace:\n    severity: \"off\"\n")
    ca = ws.make_ca(tmp, "pca")
    cert, key = ws.make_cert(tmp, "ptls", ca)
    srv = ws.Server(tmp, ca[0], cert, key, "--config", config, name="parity")
    conn = srv.connection()
    checked, mismatches = 0, []
    for name in sorted(os.listdir(corpus)):
        if not name.endswith((".yaml", ".yml", ".json")):
            continue
        path = os.path.join(corpus, name)
        lint = tap.run(["lint", "--format", "json", "--config", config, path])
        try:
            report = json.loads(lint.stdout)
        except ValueError:
            mismatches.append((name, "lint gave no JSON", lint.stderr[:200]))
            continue
        for ds in daemonsets(path):
            meta = ds.get("metadata") or {}
            ns, dsname = meta.get("namespace") or "default", meta.get("name", "")
            want = sorted({f["rule"] for f in report["findings"]
                           if f["kind"] == "DaemonSet" and f["resourceName"] == dsname and f["namespace"] == ns
                           and f["severity"] == "error" and not f["exempt"]})
            req = ws.review_request(json.loads(json.dumps(ds, default=str)))
            req["request"]["namespace"] = ns
            status, resp = srv.review("/validate", req, conn=conn)
            r = resp["response"] if status == 200 else {}
            got = sorted(set(re.findall(r"\b(DS00[12])\b", r.get("status", {}).get("message", ""))))
            checked += 1
            if status != 200 or got != want or r.get("allowed") != (not want):
                mismatches.append((name, f"{ns}/{dsname}", "lint", want, "webhook", got, status))
    conn.close()
    t.ok(checked > 0 and not mismatches, f"/validate and lint agree on DS001 and DS002 for {checked} DaemonSets",
         "\n".join(map(str, mismatches[:20])))
    t.eq(srv.stop(), 0, "parity server exits 0")


def main():
    t = tap.Tap()
    test_review_command(t)
    with tempfile.TemporaryDirectory() as tmp:
        test_documented_curls(t, tmp)
        test_documented_curls(t, tmp, os.path.join(tap.ROOT, "README.md"))
        test_parity(t, tmp)
    t.done()


if __name__ == "__main__":
    main()
