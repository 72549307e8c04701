"""Prints the AdmissionReview the webhook benchmark posts: a CREATE of a
real-world DaemonSet from the corpus, as the API server sends it (compact
JSON, admission.k8s.io/v1). The DaemonSet is the one without a priority
class whose review is nearest to TARGET bytes (default 5000), so that
/validate denies it and /mutate patches it; or the one of FILE.
Usage: review.py CORPUS [TARGET] [FILE]   (the chosen file on stderr)"""
import glob
import json
import os
import sys

import yaml


def review(ds):
    meta = ds.setdefault("metadata", {})
    meta.setdefault("namespace", "default")
    return {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": "705ab4f5-6393-11e8-b7cc-42010a800002",
            "kind": {"group": "apps", "version": "v1", "kind": "DaemonSet"},
            "resource": {"group": "apps", "version": "v1", "resource": "daemonsets"},
            "requestKind": {"group": "apps", "version": "v1", "kind": "DaemonSet"},
            "requestResource": {"group": "apps", "version": "v1", "resource": "daemonsets"},
            "name": meta.get("name", ""),
            "namespace": meta["namespace"],
            "operation": "CREATE",
            "userInfo": {"username": "system:serviceaccount:argocd:argocd-application-controller",
                         "uid": "1c5b5b5e-1d6e-4f43-9c3a-2b8f4a2f8f10",
                         "groups": ["system:serviceaccounts", "system:serviceaccounts:argocd",
                                    "system:authenticated"]},
            "object": ds,
            "oldObject": None,
            "dryRun": False,
            "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions",
                        "fieldManager": "argocd-controller"},
        },
    }


def daemonsets(corpus, only=None):
    for path in sorted(glob.glob(os.path.join(corpus, "*.y*ml"))):
        if only and os.path.basename(path) != os.path.basename(only):
            continue
        try:
            docs = list(yaml.safe_load_all(open(path, encoding="utf-8")))
        except yaml.YAMLError:
            continue
        for doc in docs:
            if isinstance(doc, dict) and doc.get("kind") == "DaemonSet" and doc.get("apiVersion") == "apps/v1":
                yield path, doc


def main():
    corpus = sys.argv[1]
    target = int(sys.argv[2]) if len(sys.argv) > 2 else 5000
    only = sys.argv[3] if len(sys.argv) > 3 else None
    best = None
    for path, ds in daemonsets(corpus, only):
        spec = ((ds.get("spec") or {}).get("template") or {}).get("spec") or {}
        if spec.get("priorityClassName") and not only:
            continue
        body = json.dumps(review(ds), separators=(",", ":"))
        if best is None or abs(len(body) - target) < abs(len(best[1]) - target):
            best = (path, body)
    if best is None:
        sys.exit("review.py: no DaemonSet found in " + corpus)
    print(f"{os.path.basename(best[0])}: {len(best[1])} bytes", file=sys.stderr)
    sys.stdout.write(best[1])


main()
