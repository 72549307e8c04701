#!/usr/bin/env python3
"""Builds the seed corpus of each libFuzzer harness from what the repository
already holds (test fixtures, examples, docs, the hand-written seeds in
fuzz/seeds/) and, when present, the shared real-world manifests (read in
place, never copied into the repository).

Usage: seeds.py OUTDIR [--shared DIR]
Writes OUTDIR/NAME/<sha1> for NAME in admission, manifest, fix, config,
watch, kubeconfig, template, secret (a CA and a serving pair made with the
openssl CLI, whole and broken). DIR defaults to $DSGUARD_SHARED, else ../shared beside the
repository; its corpus/realworld/*.y*ml are used when it exists."""
import argparse
import copy
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MAX_SEED = 64 * 1024  # the harnesses run with -max_len=65536
MANIFEST_EXT = (".yaml", ".yml", ".json")


def files_under(*dirs, ext=MANIFEST_EXT):
    for d in dirs:
        for base, subdirs, names in os.walk(d):
            # reproducers of open bugs would stop every run at once
            subdirs[:] = sorted(s for s in subdirs if s != "open")
            for n in sorted(names):
                if n.endswith(ext):
                    yield os.path.join(base, n)


def read(path):
    with open(path, "rb") as f:
        return f.read()


def split_documents(text):
    """The documents of a YAML stream, split at '---' lines."""
    return [d for d in re.split(rb"(?m)^---[^\n]*\n", text) if d.strip()]


def daemonsets(texts):
    """Every DaemonSet object the texts hold (those that parse)."""
    for text in texts:
        try:
            docs = list(yaml.safe_load_all(text))
        except yaml.YAMLError:
            continue
        for d in docs:
            if isinstance(d, dict) and d.get("kind") == "DaemonSet":
                yield json.loads(json.dumps(d, default=str))


def review(obj, version, operation, old=None, uid="3f1c2e4d-5b6a-4c7d-8e9f-0a1b2c3d4e5f"):
    meta = obj.get("metadata") or {}
    req = {"uid": uid, "kind": {"group": "apps", "version": "v1", "kind": "DaemonSet"},
           "resource": {"group": "apps", "version": "v1", "resource": "daemonsets"},
           "name": meta.get("name", ""), "namespace": meta.get("namespace", "default"),
           "operation": operation, "userInfo": {"username": "admin"},
           "object": obj, "oldObject": old, "dryRun": False}
    return json.dumps({"apiVersion": version, "kind": "AdmissionReview", "request": req},
                      separators=(",", ":")).encode()


def admission_seeds(objs):
    for i, obj in enumerate(objs):
        yield review(obj, "admission.k8s.io/v1", "CREATE")
        if i % 3 == 0:
            old = copy.deepcopy(obj)
            yield review(obj, "admission.k8s.io/v1beta1", "UPDATE", old)  # template unchanged
            spec = ((obj.get("spec") or {}).get("template") or {}).get("spec")
            if isinstance(spec, dict):
                changed = copy.deepcopy(obj)
                changed["spec"]["template"]["spec"]["restartPolicy"] = "OnFailure"
                yield review(changed, "admission.k8s.io/v1", "UPDATE", old)
        if i % 5 == 0:
            yield review(obj, "admission.k8s.io/v1", "DELETE")


def watch_seeds(objs):
    lines = []
    for i, obj in enumerate(objs):
        kind = ("ADDED", "MODIFIED", "DELETED")[i % 3]
        lines.append(json.dumps({"type": kind, "object": obj}, separators=(",", ":")).encode())
    for i in range(0, len(lines), 3):
        yield b"\n".join(lines[i:i + 3]) + b"\n"
        yield b"\r\n".join(lines[i:i + 1]) + b"\r\n"


def config_seeds():
    """The YAML blocks of the docs that look like a config, and the examples'."""
    for path in files_under(os.path.join(ROOT, "examples")):
        if os.path.basename(path) == "config.yaml":
            yield read(path)
    for path in files_under(os.path.join(ROOT, "docs"), ROOT + "/README.md", ext=(".md",)):
        for block in re.findall(rb"```yaml\n(.*?)```", read(path), re.S):
            if re.search(rb"(?m)^(rules|enforce|allowExemptionAnnotation):", block):
                yield block


def template_paths(shared):
    """Helm templates: the project's chart, the test charts, the shared
    corpus's charts when present, and the regressions of fuzz_template."""
    dirs = [os.path.join(ROOT, "charts"), os.path.join(ROOT, "test", "fixtures", "render", "charts"),
            os.path.join(shared, "corpus", "charts")]
    for path in files_under(*[d for d in dirs if os.path.isdir(d)], ext=(".yaml", ".yml", ".tpl")):
        if os.sep + "templates" + os.sep in path:
            yield path
    # what the fuzzer found, kept as regressions
    yield from files_under(os.path.join(ROOT, "test", "fixtures", "fuzz", "template"))


def manifest_seeds(paths):
    for path in paths:
        text = read(path)
        if len(text) <= MAX_SEED:
            yield text
        docs = split_documents(text)
        if len(docs) > 1:
            for d in docs:
                if len(d) <= MAX_SEED:
                    yield d


class Corpus:
    def __init__(self, outdir):
        self.outdir = outdir
        self.counts = {}

    def add(self, name, data):
        d = os.path.join(self.outdir, name)
        os.makedirs(d, exist_ok=True)
        if len(data) > MAX_SEED:
            return
        with open(os.path.join(d, hashlib.sha1(data).hexdigest()), "wb") as f:
            f.write(data)
        self.counts[name] = self.counts.get(name, 0) + 1


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def secret_seeds():
    """The material of a Secret (ca.crt, ca.key, tls.crt, tls.key, joined by
    NUL bytes), as serve --manage-certs writes it and broken the ways it
    repairs: a second CA first, keys swapped, parts missing."""
    with tempfile.TemporaryDirectory() as d:
        ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
        for ca in ("ca", "ca2"):
            openssl("req", "-x509", *ec, "-keyout", f"{ca}.key", "-out", f"{ca}.crt", "-days", "3650", "-subj",
                    f"/CN={ca}", "-addext", "basicConstraints=critical,CA:TRUE", cwd=d)
        with open(os.path.join(d, "ext"), "w") as f:
            f.write("subjectAltName=DNS:dsguard,DNS:dsguard.dsguard,DNS:dsguard.dsguard.svc,"
                    "DNS:dsguard.dsguard.svc.cluster.local,DNS:dsguard.example.com\nextendedKeyUsage=serverAuth\n")
        openssl("req", "-new", *ec, "-keyout", "tls.key", "-out", "tls.csr", "-subj", "/CN=dsguard", cwd=d)
        openssl("x509", "-req", "-in", "tls.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
                "-days", "3650", "-extfile", "ext", "-out", "tls.crt", cwd=d)
        pem = {n: read(os.path.join(d, n)) for n in ("ca.crt", "ca.key", "ca2.crt", "ca2.key", "tls.crt", "tls.key")}
    yield b"\0".join([pem["ca.crt"], pem["ca.key"], pem["tls.crt"], pem["tls.key"]])
    yield b"\0".join([pem["ca2.crt"] + pem["ca.crt"], pem["ca2.key"], pem["tls.crt"], pem["tls.key"]])
    yield b"\0".join([pem["ca.crt"], pem["ca2.key"], pem["tls.crt"], pem["ca.key"]])
    yield b"\0".join([pem["ca.crt"], b"", pem["tls.crt"] + pem["ca.crt"], pem["tls.key"]])
    yield pem["ca.crt"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("outdir")
    ap.add_argument("--shared", default=os.environ.get("DSGUARD_SHARED",
                                                       os.path.join(os.path.dirname(ROOT), "shared")))
    args = ap.parse_args()
    realworld = os.path.join(args.shared, "corpus", "realworld")
    manifests = list(files_under(os.path.join(ROOT, "test", "fixtures"), os.path.join(ROOT, "examples")))
    if os.path.isdir(realworld):
        manifests += list(files_under(realworld))
    else:
        print(f"seeds: no shared corpus at {realworld}; using the repository's files only", file=sys.stderr)
    corpus = Corpus(args.outdir)
    texts = [read(p) for p in manifests]
    objs = list(daemonsets(texts))
    for data in manifest_seeds(manifests):
        corpus.add("manifest", data)
        if b"DaemonSet" in data or b"List" in data:
            corpus.add("fix", data)
    for path in files_under(os.path.join(ROOT, "examples", "admission"), ext=(".json",)):
        corpus.add("admission", read(path))
    for data in admission_seeds(objs):
        corpus.add("admission", data)
    for data in watch_seeds(objs):
        corpus.add("watch", data)
    for data in config_seeds():
        corpus.add("config", data)
    for path in template_paths(args.shared):
        corpus.add("template", read(path))
    for data in secret_seeds():
        corpus.add("secret", data)
    for name in ("admission", "manifest", "fix", "config", "watch", "kubeconfig", "template", "secret"):
        hand = os.path.join(ROOT, "fuzz", "seeds", "manifest" if name == "fix" else name)
        for path in files_under(hand, ext=("",)):
            corpus.add(name, read(path))
    print("seeds: " + ", ".join(f"{n} {c}" for n, c in sorted(corpus.counts.items())))


if __name__ == "__main__":
    main()
