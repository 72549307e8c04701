"""How lint reads manifests (docs/output.md, "How manifests are read"), as
kubectl reads them. Two parts:

1. lint itself, with expectations found by hand in the text written here
   (positions by searching the text, never from dsguard's output): a JSON
   stream of DaemonSets, as Python's json.dumps writes them (an emoji
   escaped as a surrogate pair), one object after the other, is linted
   whole, each DaemonSet at its own place; what follows a JSON stream that
   is not JSON is an input error at its position.
2. the reader set beside kubectl: `kubectl annotate --local -f FILE -o json`
   reads files exactly as Kubernetes does. For each case, both read the
   same objects, or both refuse the file (dsguard at a position), or
   dsguard refuses on purpose what kubectl reads (each such choice is
   written down in docs/output.md), or kubectl refuses what dsguard reads
   as no resource at all. Skipped in one line when kubectl is not
   installed.

The reader is driven through build/test/drive_yaml_read (BUILD), which
prints every document it reads whole and every diagnostic."""
import json
import os
import shutil
import subprocess
import tempfile

from tap import BIN, ROOT, Tap

DRIVER = os.path.join(ROOT, os.environ.get("BUILD", "build"), "test", "drive_yaml_read")
VALGRIND = os.environ.get("DSGUARD_VALGRIND") == "1"


def daemonset(name, ns, pod_spec, note=None):
    meta = {"name": name, "namespace": ns}
    if note:
        meta["annotations"] = {"note": note}
    return {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": meta,
            "spec": {"selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": dict({"containers": [{"name": "a", "image": "busybox"}]}, **pod_spec)}}}


def pos_of(text, needle, nth=0):
    """(line, column) of the nth occurrence of needle in text, columns
    counting characters from 1; lines end at \\n."""
    at = -1
    for _ in range(nth + 1):
        at = text.index(needle, at + 1)
    line = text.count("\n", 0, at) + 1
    return line, at - (text.rfind("\n", 0, at) + 1) + 1


def lint(tmp, name, text):
    path = os.path.join(tmp, name)
    with open(path, "wb") as f:
        f.write(text.encode() if isinstance(text, str) else text)
    p = subprocess.run([BIN, "lint", "--format", "json", name], cwd=tmp, capture_output=True, text=True,
                       timeout=1800 if VALGRIND else 120)
    return p.returncode, json.loads(p.stdout)


def findings(out):
    return sorted((f["resourceName"], f["rule"], f["line"], f["column"]) for f in out["findings"])


def lint_part(t, tmp):
    # Two DaemonSets as json.dumps writes them, one after the other: the
    # emoji is "\ud83d\ude00"; a null between values is no object.
    one = json.dumps(daemonset("one", "a", {"priorityClassName": "p", "restartPolicy": "OnFailure"}, "\U0001F600"))
    two = json.dumps(daemonset("two", "b", {}, "\U0001F680 to the moon"), indent=2)
    assert "\\ud83d\\ude00" in one
    text = one + two + "\nnull\n"
    code, out = lint(tmp, "stream.json", text)
    want = [("one", "DS002",) + pos_of(text, '"OnFailure"'),
            ("two", "DS001",) + pos_of(text, '"spec"', 3)]  # one's two "spec" keys, then two's first
    t.eq((code, out["errors"], findings(out)), (1, [], sorted(want)),
         "a JSON stream of two DaemonSets (json.dumps, surrogate pairs): both linted, at their positions")
    t.eq(out["summary"]["daemonsets"], 2, "a JSON stream: two DaemonSets, the null no resource")

    # the same after a byte-order mark and blank lines, objects on lines
    # of their own (the BOM is no column)
    text = "\n\n" + one + "\n" + json.dumps(daemonset("three", "c", {}))
    code, out = lint(tmp, "bom.json", b"\xef\xbb\xbf" + text.encode())
    t.eq((code, findings(out)), (1, sorted([("one", "DS002") + pos_of(text, '"OnFailure"'),
                                             ("three", "DS001") + pos_of(text, '"spec"', 3)])),
         "a JSON stream after a byte-order mark and blank lines: positions as in the text")

    # what follows the stream is not JSON: the objects before it are
    # linted, the rest is an input error where it stands ("---" is read as
    # a number: the second "-" is the error, as kubectl says)
    text = one + "\n---\n" + json.dumps(daemonset("four", "d", {})) + "\n"
    code, out = lint(tmp, "dashes.json", text)
    t.eq((code, [(e["line"], e["column"]) for e in out["errors"]], findings(out)),
         (2, [(2, 2)], [("one", "DS002") + pos_of(text, '"OnFailure"')]),
         "a JSON object then ---: the first linted, an input error at 2:2")

    # YAML that starts with "{" is JSON to kubectl, and refused as such
    text = "{apiVersion: apps/v1, kind: DaemonSet, metadata: {name: flow}}\n"
    code, out = lint(tmp, "flow.yaml", text)
    t.eq((code, [(e["line"], e["column"]) for e in out["errors"]]), (2, [(1, 2)]),
         "a flow mapping that starts the file: refused as JSON at 1:2")


# (file name, text, expectation): "same" (both read the same objects),
# "refused" (both refuse the file; dsguard with a position), "dsguard
# refuses" (kubectl reads it; dsguard refuses it on purpose), "no resource"
# (kubectl refuses it; dsguard reads no resource from it).
CM = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n"
JCM = '{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "%s"}%s}'
CASES = [
    # --- JSON streams
    ("json-emoji.json", json.dumps(daemonset("e", "e", {}, "\U0001F600 \u00e9")), "same"),
    ("json-two.json", JCM % ("a", "") + JCM % ("b", ', "data": {"k": "v"}'), "same"),
    ("json-spaced.json", JCM % ("a", "") + "\n\n  " + JCM % ("b", "") + "\nnull\n" + JCM % ("c", ""), "same"),
    ("json-lone-surrogates.json", JCM % ("a", ', "data": {"h": "\\ud83d", "l": "\\ude00\\ud83d", "a": "\\ud83dA", '
                                              '"p": "\\ud83d\\ud83d\\ude00"}'), "same"),
    ("json-bom.json", "\ufeff" + JCM % ("a", "") + JCM % ("b", ""), "same"),
    ("json-numbers.json", JCM % ("a", ', "data": {"u": 1e-400, "b": 12345678901234567890123, "z": -0}'), "same"),
    ("json-repeated-key.json", JCM % ("a", ', "data": {"x": "1"}, "data": {"y": "2"}'), "same"),
    ("json-in-a-yaml-file.yaml", JCM % ("a", ', "data": {"x": "\\ud83d\\ude00"}'), "same"),
    ("json-4000-spaces.json", " " * 4000 + JCM % ("a", ', "data": {"x": "\\ud83d\\ude00"}'), "same"),
    ("json-5000-spaces.json", " " * 5000 + JCM % ("a", ', "data": {"x": "\\ud83d\\ude00"}'), "refused"),
    ("json-then-dashes.json", JCM % ("a", "") + "\n---\n" + JCM % ("b", ""), "refused"),
    ("json-then-yaml.json", JCM % ("a", "") + "\n" + CM, "refused"),
    ("flow-yaml.yaml", "{apiVersion: v1, kind: ConfigMap, metadata: {name: c}}\n", "refused"),
    ("json-1e400.json", JCM % ("a", ', "data": {"x": 1e400}'), "refused"),
    ("json-trailing-comma.json", JCM % ("a", ', "data": {"x": "1",}'), "refused"),
    ("json-comment.json", JCM % ("a", ', # note\n "data": {}'), "refused"),
    ("json-nbsp.json", "\u00a0" + JCM % ("a", ""), "refused"),
    ("json-nul.json", JCM % ("a", ', "data": {"x": "Always\\u0000"}'), "dsguard refuses"),
    # --- YAML scalars and tags
    ("binary.yaml", CM + "data:\n  a: !!binary QWx3YXlz\n  b: !!binary |\n    T25G\n    YWlsdXJl\n"
                         "  c: !!binary /w==\n  d: !!binary ''\n", "same"),
    ("tags.yaml", CM + "data:\n  i: !!int \"12\"\n  f: !!float 12\n  b: !!bool yes\n  n: !!null ~\n"
                       "  t: !!timestamp 2001-12-14t21:59:43.10-05:00\n  d: !!timestamp 2000-02-29\n"
                       "  l: !foo bar\n  m: !!merge x\n  s: !!str 12\n  e: ! 12\n", "same"),
    ("numbers.yaml", CM + "data:\n  u: 1e-400\n  v: .1e-400\n  o: 0o17\n  x: 0x1F\n  w: 1e400\n  d: .5_0\n"
                          "  g: 08\n  big: 18446744073709551615\n", "same"),
    ("keys.yaml", CM + "data:\n  1e6: a\n  1000000: b\n  0.1: c\n  1.0: d\n  3.14159265358979: e\n  0.00001: f\n"
                       "  -0.0: g\n  .Inf: h\n  .NaN: i\n  9007199254740993: j\n  yes: k\n  0x10: l\n"
                       "  2001-12-14: m\n", "same"),
    ("merge-keys.yaml", CM + "data:\n  b: &b {x: '1'}\n  m1: {! <<: *b}\n  m2: {!!merge <<: *b}\n"
                             "  m3: {\"<<\": *b}\n  m4: {!!str <<: *b}\n  m5: {<<: *b}\n", "same"),
    ("inf.yaml", CM + "data:\n  x: .inf\n", "refused"),
    ("nan.yaml", CM + "data:\n  x: .NaN\n", "refused"),
    ("float-inf.yaml", CM + "data:\n  x: !!float -.Inf\n", "refused"),
    ("null-tag.yaml", CM + "data:\n  x: !!null Always\n", "refused"),
    ("int-tag.yaml", CM + "data:\n  x: !!int abc\n", "refused"),
    ("bool-tag.yaml", CM + "data:\n  x: !!bool Always\n", "refused"),
    ("float-tag-overflow.yaml", CM + "data:\n  x: !!float 1e400\n", "refused"),
    ("timestamp-tag.yaml", CM + "data:\n  x: !!timestamp 2001-02-29\n", "refused"),
    ("bad-binary.yaml", CM + "data:\n  x: !!binary QWx3 YXlz\n", "refused"),
    ("null-key.yaml", CM + "data:\n  ~: x\n", "refused"),
    ("uint-key.yaml", CM + "data:\n  18446744073709551615: x\n", "refused"),
    ("nul.yaml", CM + "data:\n  x: \"Always\\u0000\"\n", "dsguard refuses"),
    ("nul-binary.yaml", CM + "data:\n  x: !!binary QWx3YXlzAA==\n", "dsguard refuses"),
    ("not-utf8.yaml", (CM + "data:\n  x: caf\xff\n").encode("latin-1"), "dsguard refuses"),
    ("alias-key.yaml", "apiVersion: v1\nx: &k kind\n*k : ConfigMap\nmetadata: {name: c}\n", "dsguard refuses"),
    ("deep.yaml", CM + "x: " + "[" * 600 + "]" * 600 + "\n", "dsguard refuses"),
    # --- kinds given twice: Kubernetes takes the last
    ("kind-twice.yaml", CM + "kind: Secret\n", "same"),
    ("kind-binary-key.yaml", CM + "!!binary a2luZA==: Secret\n", "same"),
    ("kind-alias.yaml", "apiVersion: v1\nx: &s Secret\nkind: ConfigMap\nkind: *s\nmetadata: {name: c}\n", "same"),
    ("kind-mapping.yaml", CM + "kind:\n  podSelector: {}\n", "no resource"),
    # --- documents
    ("flow-after-dashes.yaml", "---\n{apiVersion: v1, kind: ConfigMap, metadata: {name: c}}\n", "same"),
    ("after-dots.yaml", CM + "...\napiVersion: v1\nkind: Secret\nmetadata: {name: s}\n", "dsguard refuses"),
    ("number.yaml", "5\n", "no resource"),
    ("workflow.yaml", "on: push\njobs: {build: {runs-on: ubuntu-latest}}\n", "no resource"),
]


def kubectl_read(path):
    """(exit code, the objects kubectl printed, Lists not opened)."""
    p = subprocess.run(["kubectl", "annotate", "--local", "-f", path, "-o", "json", "oracle=1"],
                       capture_output=True, text=True, timeout=60)
    dec, text, at, out = json.JSONDecoder(), p.stdout, 0, []
    while True:
        while at < len(text) and text[at].isspace():
            at += 1
        if at >= len(text):
            break
        obj, at = dec.raw_decode(text, at)
        annotations = obj.get("metadata", {}).get("annotations", {})
        annotations.pop("oracle", None)
        if not annotations:
            obj["metadata"].pop("annotations", None)
        out.append(obj)
    return p.returncode, out, p.stderr


def dsguard_read(path):
    """(exit code, the documents that are objects, the first error line)."""
    p = subprocess.run([DRIVER, path], capture_output=True, text=True, timeout=60)
    lines = [json.loads(l) for l in p.stdout.splitlines()]
    docs = [l["document"] for l in lines if "document" in l and isinstance(l["document"], dict)]
    errors = [l for l in lines if "error" in l]
    return p.returncode, docs, errors[0] if errors else None


def same(a, b):
    """a == b, numbers compared as floats (kubectl keeps 64-bit integers,
    dsguard doubles)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool) \
            and not isinstance(b, bool):
        return float(a) == float(b)
    return a == b


def oracle_part(t, tmp):
    if not shutil.which("kubectl"):
        t.skip("readings against kubectl", "kubectl is not installed")
        return
    for name, text, expect in CASES:
        path = os.path.join(tmp, name)
        with open(path, "wb") as f:
            f.write(text.encode() if isinstance(text, str) else text)
        k_rc, k_objs, k_err = kubectl_read(path)
        d_rc, d_docs, d_err = dsguard_read(path)
        where = f"kubectl exit {k_rc} {k_err.strip()[:300]}\ndsguard exit {d_rc} {d_err}\n" \
                f"kubectl: {json.dumps(k_objs)[:600]}\ndsguard: {json.dumps(d_docs)[:600]}"
        if expect == "same":
            t.ok(k_rc == 0 and d_rc == 0 and same(k_objs, d_docs), f"{name}: read as kubectl reads it", where)
        elif expect == "refused":
            t.ok(k_rc != 0 and d_rc == 1 and d_err and d_err["line"] >= 1 and same(k_objs, d_docs),
                 f"{name}: refused as kubectl refuses it (with a position; what stands before read alike)", where)
        elif expect == "dsguard refuses":
            t.ok(k_rc == 0 and d_rc == 1 and d_err and d_err["line"] >= 1,
                 f"{name}: read by kubectl, refused by dsguard on purpose (docs/output.md)", where)
        else:
            t.ok(k_rc != 0 and d_rc == 0 and not any(isinstance(d.get("kind"), str) for d in d_docs),
                 f"{name}: refused by kubectl, no resource to dsguard", where)


def main():
    t = Tap()
    tmp = tempfile.mkdtemp(prefix="dsguard-reading-")
    try:
        if not os.access(DRIVER, os.X_OK):
            t.ok(False, f"{DRIVER} is built (make unit)")
            return t.done()
        lint_part(t, tmp)
        oracle_part(t, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    t.done()


if __name__ == "__main__":
    main()
