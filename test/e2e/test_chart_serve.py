#!/usr/bin/env python3
"""The certificates of the chart work. certificates.mode=generate: take the
TLS Secret, the caBundle and the config file out of `helm template`, start
`dsguard serve` with them and the Deployment's own arguments (--cluster off, a
local port), and call it as the kubelet's probes and the API server would, at
https://<service>.<namespace>.svc (curl --resolve to localhost), trusting only
the rendered caBundle, on the paths the webhook configurations name.
certificates.mode=self (the default): the rendered webhook configurations go
into the stand-in API server, the Deployment's own arguments run against it,
and the same calls trust only the caBundle dsguard publishes there."""
import base64
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tap import BIN, Tap  # noqa: E402
from test_chart import get_helm, one, render  # noqa: E402
from test_serve_cluster import StandIn, write_kubeconfig  # noqa: E402

NAMESPACE = "dsguard-system"
HOST = f"dsguard.{NAMESPACE}.svc"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def curl(port, path, cafile, host=HOST, body=None, extra=()):
    """curl to https://host:port/path resolved to 127.0.0.1; returns
    (curl exit code, HTTP status, body)."""
    args = ["curl", "--silent", "--show-error", "--max-time", "10", "--resolve", f"{host}:{port}:127.0.0.1",
            "--write-out", "\n%{http_code}"] + list(extra)
    if cafile:
        args += ["--cacert", cafile]
    if body is not None:
        args += ["-X", "POST", "-H", "Content-Type: application/json", "--data-binary", "@-"]
    args.append(f"https://{host}:{port}{path}")
    p = subprocess.run(args, input=body, capture_output=True, text=True, timeout=30)
    out, _, code = p.stdout.rpartition("\n")
    return p.returncode, code, out if p.returncode == 0 else p.stderr


def review(uid, operation="CREATE"):
    ds = {"apiVersion": "apps/v1", "kind": "DaemonSet",
          "metadata": {"name": "node-agent", "namespace": "demo"},
          "spec": {"selector": {"matchLabels": {"app": "node-agent"}},
                   "template": {"metadata": {"labels": {"app": "node-agent"}},
                                "spec": {"containers": [{"name": "agent", "image": "registry.k8s.io/pause:3.10"}]}}}}
    gvk = {"group": "apps", "version": "v1", "kind": "DaemonSet"}
    gvr = {"group": "apps", "version": "v1", "resource": "daemonsets"}
    return json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                       "request": {"uid": uid, "kind": gvk, "resource": gvr, "requestKind": gvk,
                                   "requestResource": gvr, "name": "node-agent", "namespace": "demo",
                                   "operation": operation, "userInfo": {"username": "kubernetes-admin"},
                                   "object": ds, "oldObject": None, "dryRun": False,
                                   "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"}}})


def post_review(port, path, ca, uid, operation="CREATE"):
    """POSTs an AdmissionReview; returns (curl exit, HTTP status, response dict, raw body)."""
    rc, code, body = curl(port, path, ca, body=review(uid, operation))
    try:
        resp = json.loads(body).get("response", {})
    except ValueError:
        resp = {}
    return rc, code, resp, body


def patch_ops(resp):
    try:
        return json.loads(base64.b64decode(resp.get("patch", "")) or b"[]")
    except ValueError:
        return None


# Three renderings, so that the server is seen to run on the config the chart
# renders: the defaults (deny), a default priority class (the mutating webhook
# patches it in), and values-optional-on.yaml (audit mode: warnings only).
GENERATE = {"certificates.mode": "generate"}
SCENARIOS = [
    {"id": "generate", "set": GENERATE},
    {"id": "default-class", "set": dict(GENERATE, **{"config.rules.priority-class.default": "node-agents"})},
    {"id": "optional-on", "files": ["values-optional-on.yaml"], "set": GENERATE},
]


def serve_rendered(t, helm, sc):
    sid = sc["id"]
    rc, objs, err = render(helm, dict(sc, namespace=NAMESPACE))
    if not t.ok(rc == 0 and objs, f"{sid}: helm template renders", err):
        return
    secret = one(objs, "Secret", "dsguard-tls", NAMESPACE)
    vwc = one(objs, "ValidatingWebhookConfiguration")
    mwc = one(objs, "MutatingWebhookConfiguration")
    cm = one(objs, "ConfigMap", "dsguard-config", NAMESPACE)
    dep = one(objs, "Deployment", "dsguard", NAMESPACE)
    if not t.ok(None not in (secret, vwc, mwc, cm, dep),
                f"{sid}: the TLS Secret, both webhook configurations, the config and the Deployment"):
        return
    vhook, mhook = vwc["webhooks"][0], mwc["webhooks"][0]
    ctr = dep["spec"]["template"]["spec"]["containers"][0]
    probes = {k: ctr[k]["httpGet"]["path"] for k in ("livenessProbe", "readinessProbe")}
    svc = vhook["clientConfig"]["service"]
    t.eq(f"{svc['name']}.{svc['namespace']}.svc", HOST, f"{sid}: the webhook calls the Service by its in-cluster name")

    with tempfile.TemporaryDirectory() as d:
        files = {"tls.crt": base64.b64decode(secret["data"]["tls.crt"]),
                 "tls.key": base64.b64decode(secret["data"]["tls.key"]),
                 "ca.crt": base64.b64decode(vhook["clientConfig"]["caBundle"]),
                 "config.yaml": cm["data"]["config.yaml"].encode()}
        for name, data in files.items():
            with open(os.path.join(d, name), "wb") as f:
                f.write(data)
        os.chmod(os.path.join(d, "tls.key"), 0o600)
        ca = os.path.join(d, "ca.crt")
        port = free_port()
        # The Deployment's own arguments, with the mounted files pointed at
        # the extracted ones, a local port, and no cluster to watch (so no
        # namespace claims in it either: their settings are left out).
        local = {"listen": f"127.0.0.1:{port}", "cluster": "off", "claims": "local",
                 "tls-cert": os.path.join(d, "tls.crt"), "tls-key": os.path.join(d, "tls.key"),
                 "config": os.path.join(d, "config.yaml")}
        args = []
        for a in ctr.get("args") or []:
            name = a[2:].split("=", 1)[0] if a.startswith("--") else None
            if name and name.startswith("claim-"):
                continue
            args.append(f"--{name}={local[name]}" if name in local else a)
        t.ok(args[:1] == ["serve"] and all(f"--{k}={v}" in args for k, v in local.items()),
             f"{sid}: the Deployment runs serve with --listen, --tls-cert, --tls-key, --config, --cluster and --claims",
             str(args))
        log = open(os.path.join(d, "serve.log"), "w+")
        srv = subprocess.Popen([BIN] + args, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.time() + 15
            ready = (None, None, None)
            while time.time() < deadline and srv.poll() is None:
                ready = curl(port, probes["readinessProbe"], ca)
                if ready[1] == "200":
                    break
                time.sleep(0.2)
            log.seek(0)
            if not t.ok(ready[:2] == (0, "200"),
                        f"{sid}: readinessProbe GET https://{HOST}{probes['readinessProbe']} answers 200, "
                        "trusting only the rendered caBundle", f"{ready}\n{log.read()[-1500:]}"):
                return
            t.eq(curl(port, probes["livenessProbe"], ca)[:2], (0, "200"),
                 f"{sid}: livenessProbe GET {probes['livenessProbe']} answers 200")
            rc, _, msg = curl(port, "/readyz", None)
            t.ok(rc == 60, f"{sid}: with only the system CAs the certificate is not trusted (curl exit 60)",
                 f"{rc} {msg}")
            rc, _, msg = curl(port, "/readyz", ca, host="dsguard.other-namespace.svc")
            t.ok(rc == 60, f"{sid}: the certificate is not valid for another namespace's Service name", f"{rc} {msg}")

            vpath, mpath = vhook["clientConfig"]["service"]["path"], mhook["clientConfig"]["service"]["path"]
            rc, code, resp, body = post_review(port, vpath, ca, "u-validate")
            status = resp.get("status") or {}
            if sid != "optional-on":
                t.ok(rc == 0 and code == "200" and resp.get("uid") == "u-validate" and resp.get("allowed") is False
                     and status.get("code") == 403 and "DS001" in status.get("message", ""),
                     f"{sid}: {vpath} denies a DaemonSet without a priority class (403, DS001), echoing the uid",
                     f"{rc} {code} {body[:800]}")
            else:
                t.ok(rc == 0 and code == "200" and resp.get("uid") == "u-validate" and resp.get("allowed") is True
                     and any("DS001" in w for w in resp.get("warnings") or []),
                     f"{sid}: {vpath} in audit mode (enforce: false) allows it with a DS001 warning",
                     f"{rc} {code} {body[:800]}")
            rc, code, resp, body = post_review(port, mpath, ca, "u-mutate")
            ops = patch_ops(resp)
            if sid == "generate":
                t.ok(rc == 0 and code == "200" and resp.get("uid") == "u-mutate" and "allowed" in resp
                     and not any("priorityClassName" in json.dumps(o) for o in ops or []),
                     f"{sid}: {mpath} answers, echoing the uid, and patches in no priority class (none configured)",
                     f"{rc} {code} {body[:800]}")
            elif sid == "optional-on":
                t.ok(rc == 0 and code == "200" and resp.get("uid") == "u-mutate" and resp.get("allowed") is True,
                     f"{sid}: {mpath} in audit mode allows it", f"{rc} {code} {body[:800]}")
            else:
                t.ok(rc == 0 and code == "200" and resp.get("allowed") is True and resp.get("patchType") == "JSONPatch"
                     and any(o.get("path") == "/spec/template/spec/priorityClassName" and o.get("value") == "node-agents"
                             for o in ops or []),
                     f"{sid}: {mpath} patches in the configured default priority class node-agents",
                     f"{rc} {code} {body[:800]}")
            rc, code, resp, body = post_review(port, vpath, ca, "u-del", "DELETE")
            t.ok(code == "200" and resp.get("allowed") is True, f"{sid}: a DELETE review is allowed", body[:400])
        finally:
            if srv.poll() is None:
                srv.send_signal(signal.SIGTERM)
                try:
                    srv.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    srv.kill()
                    srv.wait()
            log.close()
        t.eq(srv.returncode, 0, f"{sid}: SIGTERM stops the server with exit 0")


def local_args(ctr, local):
    """The container's arguments with the flags of `local` replaced (or added),
    and those of namespace claims left out (they need the cluster cache)."""
    args, seen = [], set()
    for a in ctr.get("args") or []:
        name = a[2:].split("=", 1)[0] if a.startswith("--") else None
        if name and name.startswith("claim-"):
            continue
        seen.add(name)
        args.append(f"--{name}={local[name]}" if name in local else a)
    return args + [f"--{k}={v}" for k, v in local.items() if k not in seen]


def serve_self(t, helm):
    """certificates.mode=self: dsguard makes the Secret the chart names and
    publishes its CA in the webhook configurations the chart renders."""
    sid = "self"
    rc, objs, err = render(helm, {"id": sid, "namespace": NAMESPACE})
    vwc = one(objs, "ValidatingWebhookConfiguration")
    mwc = one(objs, "MutatingWebhookConfiguration")
    cm = one(objs, "ConfigMap", "dsguard-config", NAMESPACE)
    dep = one(objs, "Deployment", "dsguard", NAMESPACE)
    if not t.ok(rc == 0 and None not in (vwc, mwc, cm, dep) and not one(objs, "Secret", "dsguard-tls", NAMESPACE),
                f"{sid}: helm template renders both webhook configurations, the config and the Deployment, no "
                "Secret", err):
        return
    ctr = dep["spec"]["template"]["spec"]["containers"][0]
    with tempfile.TemporaryDirectory() as d:
        os.mkdir(os.path.join(d, "standin"))
        si = StandIn(os.path.join(d, "standin"))
        srv = None
        try:
            for kind, resource, obj in (("ValidatingWebhookConfiguration", "validatingwebhookconfigurations", vwc),
                                        ("MutatingWebhookConfiguration", "mutatingwebhookconfigurations", mwc)):
                si.control("object", {"op": "put", "resource": resource, "name": obj["metadata"]["name"],
                                      "object": obj})
            kubeconfig = os.path.join(d, "kubeconfig")
            write_kubeconfig(kubeconfig, si.info, "https://127.0.0.1:1")
            with open(os.path.join(d, "config.yaml"), "w") as f:
                f.write(cm["data"]["config.yaml"])
            port = free_port()
            # In the cluster the Pod's service account reaches the API server;
            # here the kubeconfig of the stand-in does, and no cluster cache
            # (so no namespace claims either).
            args = local_args(ctr, {"listen": f"127.0.0.1:{port}", "cluster": "off", "claims": "local",
                                    "config": os.path.join(d, "config.yaml"), "kubeconfig": kubeconfig,
                                    "context": "stand-in"})
            log = open(os.path.join(d, "serve.log"), "w+")
            srv = subprocess.Popen([BIN] + args, stdout=log, stderr=subprocess.STDOUT)
            ca = os.path.join(d, "published-ca.crt")

            def ready():
                cfg = si.control("object", {"op": "get", "resource": "validatingwebhookconfigurations",
                                            "name": vwc["metadata"]["name"]})["object"]
                bundle = cfg["webhooks"][0]["clientConfig"].get("caBundle")
                if not bundle:
                    return False
                with open(ca, "wb") as f:
                    f.write(base64.b64decode(bundle))
                return curl(port, "/readyz", ca)[1] == "200"
            deadline = time.time() + 30
            while time.time() < deadline and srv.poll() is None and not ready():
                time.sleep(0.2)
            log.seek(0)
            if not t.ok(srv.poll() is None and os.path.exists(ca) and curl(port, "/readyz", ca)[:2] == (0, "200"),
                        f"{sid}: the Deployment's arguments make the Secret and publish its CA; /readyz answers "
                        f"200 at https://{HOST}, trusting only the published caBundle", log.read()[-2000:]):
                return
            secret = si.control("object", {"op": "get", "resource": "secrets", "namespace": NAMESPACE,
                                            "name": "dsguard-tls"})["object"]
            t.ok(secret is not None and secret.get("type") == "kubernetes.io/tls",
                 f"{sid}: the Secret is dsguard-tls in {NAMESPACE}, the one the helm test and ServiceMonitor read")
            mwc_now = si.control("object", {"op": "get", "resource": "mutatingwebhookconfigurations",
                                            "name": mwc["metadata"]["name"]})["object"]
            t.eq(mwc_now["webhooks"][0]["clientConfig"].get("caBundle"), secret["data"]["ca.crt"],
                 f"{sid}: the MutatingWebhookConfiguration's caBundle is the Secret's ca.crt")
            vpath, mpath = vwc["webhooks"][0]["clientConfig"]["service"]["path"], \
                mwc["webhooks"][0]["clientConfig"]["service"]["path"]
            for path in (vpath, mpath):
                rc, code, resp, body = post_review(port, path, ca, "u-self")
                t.ok(rc == 0 and code == "200" and resp.get("uid") == "u-self",
                     f"{sid}: {path} answers over the published CA", f"{rc} {code} {body[:400]}")
        finally:
            if srv is not None and srv.poll() is None:
                srv.send_signal(signal.SIGTERM)
                try:
                    srv.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    srv.kill()
                    srv.wait()
            si.stop()
        t.eq(srv.returncode if srv else None, 0, f"{sid}: SIGTERM stops the server with exit 0")


def main():
    t = Tap()
    helm, err = get_helm()
    if not t.ok(helm is not None, "helm is available (test/chart/get-helm.sh)", err):
        t.done()
    for sc in SCENARIOS:
        serve_rendered(t, helm, sc)
    serve_self(t, helm)
    t.done()


if __name__ == "__main__":
    main()
