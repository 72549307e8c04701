"""dsguard serve over real TLS: every endpoint, both AdmissionReview versions,
each rule allowed / denied / patched (each patch applied here by an
independent RFC 6902 implementation and the result validated again),
warnings, dryRun, UPDATE, DELETE, other kinds, every bad-request class,
metrics, logs, mTLS, TLS versions, a key that does not match, an encrypted
key, a client CA that is not one, certificate reload through a swapped
`..data` link while requests flow, SIGHUP, SIGTERM drain, the idle timeout,
and 10,000 sequential and 16-way concurrent requests. Certificates are made
here with the openssl command."""
import base64
import copy
import http.client
import json
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tap  # noqa: E402

V1 = "admission.k8s.io/v1"
V1BETA1 = "admission.k8s.io/v1beta1"
SLOW = os.environ.get("DSGUARD_SANITIZE") == "1"
VALGRIND = os.environ.get("DSGUARD_VALGRIND") == "1"


# ---- certificates ----

def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_ca(d, name):
    """A self-signed EC P-256 CA: returns (cert, key) paths."""
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", f"{name}.key", "-out", f"{name}.crt", "-days", "2", "-subj", f"/CN={name}",
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign",
            cwd=d)
    return os.path.join(d, f"{name}.crt"), os.path.join(d, f"{name}.key")


def make_cert(d, name, ca, usage="serverAuth", cn="localhost"):
    """A leaf certificate signed by ca (cert, key): returns (cert, key) paths."""
    ext = os.path.join(d, f"{name}.ext")
    with open(ext, "w") as f:
        f.write(f"subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage={usage}\n")
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={cn}", cwd=d)
    openssl("x509", "-req", "-in", f"{name}.csr", "-CA", ca[0], "-CAkey", ca[1], "-CAcreateserial",
            "-out", f"{name}.crt", "-days", "2", "-extfile", ext, cwd=d)
    return os.path.join(d, f"{name}.crt"), os.path.join(d, f"{name}.key")


def not_after(cert):
    out = subprocess.run(["openssl", "x509", "-noout", "-enddate", "-in", cert],
                         capture_output=True, text=True, check=True).stdout
    return int(time.mktime(time.strptime(out.strip().split("=", 1)[1], "%b %d %H:%M:%S %Y GMT"))
               - time.timezone)


def der(cert):
    return ssl.PEM_cert_to_DER_cert(open(cert).read())


# ---- the server ----

class Server:
    """One `dsguard serve` on a free loopback port, its log in a file."""

    def __init__(self, tmp, ca, cert, key, *args, name="serve", cluster="off", pipe=False):
        """cluster: the --cluster value, or None to leave it to args. pipe:
        stderr is a pipe (as under a container runtime), copied to the log
        file as it comes, in whatever pieces the reads return."""
        self.ca = ca
        self.log_path = os.path.join(tmp, name + ".log")
        self.log = open(self.log_path, "wb", buffering=0)
        self.proc = subprocess.Popen(
            [tap.BIN, "serve", "--listen", "127.0.0.1:0", "--tls-cert", cert, "--tls-key", key,
             *(["--cluster", cluster] if cluster else []), *args],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE if pipe else self.log)
        self.copier = threading.Thread(target=self.copy_stderr, daemon=True) if pipe else None
        if self.copier:
            self.copier.start()
        self.port = None
        deadline = time.time() + 30
        while time.time() < deadline and self.port is None and self.proc.poll() is None:
            m = re.search(r'serving.*address"?[=:]"?127\.0\.0\.1:(\d+)', open(self.log_path).read())
            if m:
                self.port = int(m.group(1))
            time.sleep(0.05)

    def lines(self):
        out = []
        with open(self.log_path) as f:
            for text in f:
                try:
                    out.append(json.loads(text))
                except ValueError:
                    out.append({"unparsed": text})
        return out

    def context(self, client=None):
        ctx = ssl.create_default_context(cafile=self.ca)
        if client:
            ctx.load_cert_chain(*client)
        return ctx

    def copy_stderr(self):
        while True:
            piece = os.read(self.proc.stderr.fileno(), 65536)
            if not piece:
                return
            self.log.write(piece)

    def connection(self, client=None, timeout=30):
        return http.client.HTTPSConnection("127.0.0.1", self.port, context=self.context(client),
                                           timeout=timeout)

    def request(self, method, path, body=None, headers=None, conn=None, client=None):
        """Returns (status, headers dict, body bytes)."""
        own = conn is None
        conn = conn or self.connection(client)
        hdrs = {"Content-Type": "application/json"} if body is not None else {}
        hdrs.update(headers or {})
        conn.request(method, path, body=body, headers=hdrs)
        resp = conn.getresponse()
        data = resp.read()
        result = (resp.status, {k.lower(): v for k, v in resp.getheaders()}, data)
        if own:
            conn.close()
        return result

    def review(self, path, doc, conn=None):
        status, _, data = self.request("POST", path, json.dumps(doc).encode(), conn=conn)
        return status, (json.loads(data) if data else None)

    def log_line(self, uid, timeout=5):
        """The log line of the review with this uid (waiting for it), or None."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            found = [x for x in self.lines() if x.get("uid") == uid]
            if found:
                return found[-1]
            time.sleep(0.05)
        return None

    def metrics(self):
        return parse_metrics(self.request("GET", "/metrics")[2].decode())

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        if self.copier:
            self.copier.join()
            self.proc.stderr.close()
        self.log.close()
        return rc


# ---- Prometheus text format ----

METRIC_LINE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*"'
                         r'(?:,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*")*)?\})? (\S+)$')


def parse_metrics(text):
    """{(name, frozenset(labels)): value}; raises ValueError on a bad line."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("# HELP ") or line.startswith("# TYPE "):
            continue
        m = METRIC_LINE.match(line)
        if not m:
            raise ValueError(f"not in the exposition format: {line!r}")
        labels = dict(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
        out[(m.group(1), frozenset(labels.items()))] = float(m.group(3))
    return out


def metric(metrics, metric_name, **labels):
    return metrics.get((metric_name, frozenset(labels.items())), 0.0)


# ---- RFC 6902, independently of dsguard ----

def _unescape(token):
    return token.replace("~1", "/").replace("~0", "~")


def _walk(doc, pointer):
    """(parent, last token) of an RFC 6901 pointer."""
    if not pointer.startswith("/"):
        raise ValueError(f"bad pointer {pointer!r}")
    tokens = [_unescape(t) for t in pointer[1:].split("/")]
    at = doc
    for t in tokens[:-1]:
        at = at[int(t)] if isinstance(at, list) else at[t]
    return at, tokens[-1]


def apply_patch(doc, patch):
    """Applies a JSONPatch (add, remove, replace, test) to a copy of doc."""
    doc = copy.deepcopy(doc)
    for op in patch:
        parent, key = _walk(doc, op["path"])
        kind = op["op"]
        if isinstance(parent, list):
            index = len(parent) if key == "-" else int(key)
            if kind == "add":
                parent.insert(index, op["value"])
            elif kind == "remove":
                del parent[index]
            elif kind == "replace":
                parent[index] = op["value"]
            elif kind == "test" and parent[index] != op["value"]:
                raise ValueError("test failed")
            continue
        if kind in ("remove", "replace", "test") and key not in parent:
            raise ValueError(f"{kind} of a missing member {op['path']}")
        if kind == "add" or kind == "replace":
            parent[key] = op["value"]
        elif kind == "remove":
            del parent[key]
        elif kind == "test" and parent[key] != op["value"]:
            raise ValueError("test failed")
    return doc


# ---- AdmissionReviews ----

def daemonset(ns="logging", name="fluentd", pod_spec=None, annotations=None):
    ds = {"apiVersion": "apps/v1", "kind": "DaemonSet",
          "metadata": {"name": name, "namespace": ns},
          "spec": {"selector": {"matchLabels": {"app": name}},
                   "template": {"metadata": {"labels": {"app": name}},
                                "spec": {"containers": [{"name": name, "image": "example/" + name}]}}}}
    if pod_spec:
        ds["spec"]["template"]["spec"].update(pod_spec)
    if annotations:
        ds["metadata"]["annotations"] = annotations
    return ds


_uid = [0]


def review_request(obj, op="CREATE", api=V1, old=None, dry_run=False):
    """An AdmissionReview in the shape the API server sends."""
    _uid[0] += 1
    meta = (obj or old or {}).get("metadata", {})
    group, _, version = (obj or old or {}).get("apiVersion", "v1").rpartition("/")
    kind = (obj or old or {}).get("kind", "")
    return {"apiVersion": api, "kind": "AdmissionReview",
            "request": {"uid": f"0000-{_uid[0]:06d}-{op.lower()}",
                        "kind": {"group": group, "version": version, "kind": kind},
                        "resource": {"group": group, "version": version, "resource": kind.lower() + "s"},
                        "requestKind": {"group": group, "version": version, "kind": kind},
                        "namespace": meta.get("namespace", "default"), "name": meta.get("name", ""),
                        "operation": op,
                        "userInfo": {"username": "admin", "groups": ["system:authenticated"]},
                        "object": obj, "oldObject": old, "dryRun": dry_run,
                        "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"}}}


def check_envelope(t, req, resp, name):
    """The checks the API server applies to a webhook's answer."""
    ok = (isinstance(resp, dict) and resp.get("apiVersion") == req["apiVersion"]
          and resp.get("kind") == "AdmissionReview"
          and resp.get("response", {}).get("uid") == req["request"]["uid"]
          and isinstance(resp["response"].get("allowed"), bool))
    r = resp.get("response", {}) if isinstance(resp, dict) else {}
    if ok and "patch" in r:
        ok = r.get("patchType") == "JSONPatch" and isinstance(json.loads(base64.b64decode(r["patch"])), list)
    for w in r.get("warnings", []):
        ok = ok and len(w) < 256
    ok = ok and sum(len(w) for w in r.get("warnings", [])) <= 4096
    return t.ok(ok, f"{name}: a well-formed answer", json.dumps(resp)[:2000])


def decoded_patch(resp):
    return json.loads(base64.b64decode(resp["response"]["patch"]))


# ---- the tests ----

def test_start_and_probes(t, srv):
    t.ok(srv.port is not None, "serve starts and logs its address", open(srv.log_path).read())
    lines = srv.lines()
    t.ok(all("time" in x and "level" in x and "msg" in x for x in lines), "log lines are JSON with time, level, msg")
    t.ok(any("DS003" in x.get("msg", "") and "off" in x.get("msg", "") for x in lines),
         "serve says at start that DS003 is off")
    for path in ("/healthz", "/readyz"):
        status, _, body = srv.request("GET", path)
        t.eq((status, body), (200, b"ok\n"), f"GET {path}")
    status, headers, _ = srv.request("GET", "/metrics")
    t.ok(status == 200 and headers.get("content-type", "").startswith("text/plain; version=0.0.4"),
         "GET /metrics in the text exposition format", headers)


def test_rules(t, srv, patch_srv):
    for api in (V1, V1BETA1):
        v = api.rsplit("/", 1)[1]
        cases = [("DS001 missing priority class", {}, ["DS001"]),
                 ("DS002 restartPolicy OnFailure", {"priorityClassName": "pc", "restartPolicy": "OnFailure"},
                  ["DS002"]),
                 ("both rules", {"restartPolicy": "Never"}, ["DS001", "DS002"]),
                 ("compliant", {"priorityClassName": "pc", "restartPolicy": "Always"}, [])]
        for name, spec, failing in cases:
            req = review_request(daemonset(pod_spec=spec), api=api)
            status, resp = srv.review("/validate", req)
            t.eq(status, 200, f"{v} /validate {name}: 200")
            check_envelope(t, req, resp, f"{v} /validate {name}")
            r = resp["response"]
            if failing:
                msg = r.get("status", {}).get("message", "")
                t.ok(r["allowed"] is False and r["status"]["code"] == 403
                     and all(rule in msg for rule in failing)
                     and ("priorityClassName" in msg) == ("DS001" in failing)
                     and ("restartPolicy" in msg) == ("DS002" in failing),
                     f"{v} /validate {name}: denied naming {failing} and their fields", r)
            else:
                t.ok(r["allowed"] is True and "status" not in r and "patch" not in r,
                     f"{v} /validate {name}: allowed", r)
            obj = req["request"]["object"]
            status, resp = patch_srv.review("/mutate", req)
            check_envelope(t, req, resp, f"{v} /mutate {name}")
            r = resp["response"]
            if not failing:
                t.ok(r["allowed"] and "patch" not in r, f"{v} /mutate {name}: allowed untouched", r)
                continue
            t.ok(r["allowed"] and "patch" in r, f"{v} /mutate {name}: patched", r)
            patched = apply_patch(obj, decoded_patch(resp))
            again = review_request(patched, api=api)
            status, resp = srv.review("/validate", again)
            t.ok(status == 200 and resp["response"]["allowed"] is True,
                 f"{v} /mutate {name}: the patched object passes /validate", resp)
        req = review_request(daemonset(pod_spec={"restartPolicy": "Never"}), api=api)
        status, resp = srv.review("/mutate", req)
        r = resp["response"]
        t.ok(r["allowed"] is False and "DS001" in r["status"]["message"],
             f"{v} /mutate without a default class denies DS001", resp)
        # A denial patches nothing (the API server applies no patch of a
        # denial): DS002, which a fix would have patched, is named in the
        # message with DS001, and no warning says "patched".
        t.ok(r["status"]["code"] == 403 and r["status"]["reason"] == "Forbidden"
             and r["status"]["status"] == "Failure" and "patch" not in r and "patchType" not in r
             and 'DS002 restart-policy: spec.template.spec.restartPolicy is "Never"' in r["status"]["message"]
             and not any("patched" in w for w in r.get("warnings", [])),
             f"{v} /mutate denying: nothing patched, DS002 named in the denial, no 'patched' warning", resp)


def test_ds003_off(t, srv):
    for name in ("agent-a", "agent-b"):
        req = review_request(daemonset(ns="shared", name=name, pod_spec={"priorityClassName": "pc"}))
        status, resp = srv.review("/validate", req)
        t.ok(resp["response"]["allowed"], f"DS003 is not evaluated without cluster state ({name})", resp)


def test_pod_spec_missing_is_added(t, patch_srv, srv):
    obj = daemonset()
    del obj["spec"]["template"]["spec"]
    obj["metadata"]["annotations"] = {"example.com/a~b": "x", "a/b": "y"}
    req = review_request(obj)
    status, resp = patch_srv.review("/mutate", req)
    patch = decoded_patch(resp)
    patched = apply_patch(obj, patch)
    t.eq(patched["spec"]["template"]["spec"].get("priorityClassName"), "node-agents",
         "a missing pod spec is added by the patch")
    t.ok(srv.review("/validate", review_request(patched))[1]["response"]["allowed"],
         "that patched object passes /validate")


def test_warnings_and_exemptions(t, warn_srv, srv):
    req = review_request(daemonset(pod_spec={"priorityClassName": "pc", "restartPolicy": "OnFailure"}))
    status, resp = warn_srv.review("/validate", req)
    r = resp["response"]
    t.ok(r["allowed"] and any("DS002" in w for w in r.get("warnings", [])),
         "a warning-level finding is allowed with a warning", r)
    obj = daemonset(annotations={"dsguard.io/ignore": "DS001, restart-policy"},
                    pod_spec={"restartPolicy": "Never"})
    req = review_request(obj)
    status, resp = srv.review("/validate", req)
    r = resp["response"]
    check_envelope(t, req, resp, "exempted DaemonSet")
    t.ok(r["allowed"] and len(r.get("warnings", [])) == 2 and all("exempt" in w for w in r["warnings"]),
         "exemptions are allowed, each reported as a warning", r)
    line = srv.log_line(req["request"]["uid"])
    t.ok(line and line.get("exempted") == ["DS001", "DS002"], "exemptions are logged", line)
    m = srv.metrics()
    t.ok(metric(m, "dsguard_exemptions_total", rule="DS001", name="priority-class", by="annotation") >= 1,
         "exemptions are counted in the metrics")
    long_name = "x" * 1000
    req = review_request(daemonset(pod_spec={"priorityClassName": "pc", "restartPolicy": long_name}))
    status, resp = warn_srv.review("/validate", req)
    check_envelope(t, req, resp, "a warning about a 1000-character value stays under 256 characters")


def test_dry_run_update_delete_other(t, srv, patch_srv):
    obj = daemonset(pod_spec={"restartPolicy": "Never"})
    plain = review_request(obj)
    dry = copy.deepcopy(plain)
    dry["request"]["dryRun"] = True
    a = patch_srv.review("/mutate", plain)[1]["response"]
    b = patch_srv.review("/mutate", dry)[1]["response"]
    t.eq(a, b, "dryRun: the same answer")
    for op in ("DELETE", "CONNECT"):
        req = review_request(None, op=op, old=daemonset())
        for path, s in (("/validate", srv), ("/mutate", patch_srv)):
            status, resp = s.review(path, req)
            check_envelope(t, req, resp, f"{op} {path}")
            t.eq(resp["response"], {"uid": req["request"]["uid"], "allowed": True},
                 f"{op} {path}: allowed untouched")
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "logging"},
          "data": {"restartPolicy": "Never"}}
    dep = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "namespace": "logging"},
           "spec": {"template": {"spec": {"restartPolicy": "Never"}}}}
    for other in (cm, dep):
        req = review_request(other)
        status, resp = patch_srv.review("/mutate", req)
        t.eq(resp["response"], {"uid": req["request"]["uid"], "allowed": True},
             f"a {other['kind']} is allowed untouched")
    old = daemonset()
    new = copy.deepcopy(old)
    new["metadata"]["labels"] = {"team": "obs"}
    req = review_request(new, op="UPDATE", old=old)
    for path, s in (("/validate", srv), ("/mutate", patch_srv)):
        r = s.review(path, req)[1]["response"]
        t.ok(r["allowed"] and "patch" not in r and any("DS001" in w for w in r.get("warnings", [])),
             f"UPDATE leaving spec.template as it was: {path} allows with a warning, no patch", r)
    new = copy.deepcopy(old)
    new["spec"]["template"]["spec"]["hostNetwork"] = True
    req = review_request(new, op="UPDATE", old=old)
    r = patch_srv.review("/mutate", req)[1]["response"]
    t.ok(r["allowed"] and "patch" in r, "UPDATE changing spec.template: /mutate patches", r)
    r = srv.review("/validate", req)[1]["response"]
    t.ok(r["allowed"] is False, "UPDATE changing spec.template: /validate denies", r)


def raw_exchange(srv, data, read_timeout=10):
    """Sends raw bytes over TLS; returns the status code of the answer."""
    with socket.create_connection(("127.0.0.1", srv.port)) as sock:
        with srv.context().wrap_socket(sock, server_hostname="127.0.0.1") as tls:
            tls.settimeout(read_timeout)
            try:
                tls.sendall(data)
            except OSError:
                pass
            got = b""
            try:
                while b"\r\n" not in got:
                    chunk = tls.recv(4096)
                    if not chunk:
                        break
                    got += chunk
            except (TimeoutError, OSError):
                pass
    m = re.match(rb"HTTP/1\.1 (\d+)", got)
    return int(m.group(1)) if m else None


def test_bad_requests(t, srv, small_srv):
    good = json.dumps(review_request(daemonset())).encode()
    cases = [
        ("malformed JSON", "POST", "/validate", b'{"apiVersion":', {}, 400),
        ("not an AdmissionReview", "POST", "/validate", b'{"a":1}', {}, 400),
        ("missing request", "POST", "/mutate", json.dumps({"apiVersion": V1, "kind": "AdmissionReview"}).encode(),
         {}, 400),
        ("missing uid", "POST", "/validate",
         json.dumps({"apiVersion": V1, "kind": "AdmissionReview", "request": {"operation": "CREATE"}}).encode(),
         {}, 400),
        ("empty body", "POST", "/validate", b"", {}, 400),
        ("unknown path", "POST", "/validat", good, {}, 404),
        ("unknown GET path", "GET", "/", None, {}, 404),
        ("GET /validate", "GET", "/validate", None, {}, 405),
        ("POST /metrics", "POST", "/metrics", good, {}, 405),
        ("PUT /mutate", "PUT", "/mutate", good, {}, 405),
        ("text/plain body", "POST", "/validate", good, {"Content-Type": "text/plain"}, 415),
        ("no Content-Type", "POST", "/validate", good, {"Content-Type": ""}, 415),
    ]
    for name, method, path, body, headers, want in cases:
        hdrs = dict(headers)
        if hdrs.get("Content-Type") == "":
            conn = srv.connection()
            conn.putrequest(method, path)
            conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body)
            resp = conn.getresponse()
            status, rheaders, data = resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
            conn.close()
        else:
            status, rheaders, data = srv.request(method, path, body, hdrs)
        t.eq(status, want, f"{name}: {want}")
        if want == 405:
            t.ok("allow" in rheaders, f"{name}: an Allow header", rheaders)
    t.ok(json.loads(json.dumps(review_request(daemonset())))["request"]["uid"], "fixtures are sound")
    t.eq(srv.request("POST", "/validate", good, {"Content-Type": "application/json; charset=utf-8"})[0], 200,
         "Content-Type with a charset parameter: 200")
    t.eq(raw_exchange(srv, b"POST /validate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                           b"Content-Length: %d\r\n\r\n" % ((8 << 20) + 1)), 413,
         "a declared body over 8 MiB: 413 before the body is read")
    t.eq(raw_exchange(small_srv, b"POST /validate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                                 b"Content-Length: 5000\r\n\r\n"), 413,
         "a declared body over --max-body-bytes: 413")
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in [b" " * 3000, b" " * 3000, good]) + b"0\r\n\r\n"
    t.eq(raw_exchange(small_srv, b"POST /validate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                                 b"Transfer-Encoding: chunked\r\n\r\n" + chunks), 413,
         "a chunked body over --max-body-bytes: 413")
    t.eq(small_srv.request("POST", "/validate", good)[0], 200, "a body under --max-body-bytes: 200")
    garbage = [b"\x00" * 100, b"GARBAGE\r\n\r\n", b"POST /validate HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
               b"POST /validate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 3\r\n\r\n"
               b"[[["]
    for g in garbage:
        status = raw_exchange(srv, g, read_timeout=2)
        t.ok(status is None or 400 <= status < 500, f"hostile bytes {g[:24]!r}: no 5xx", status)
    t.eq(srv.request("GET", "/healthz")[0], 200, "still healthy after hostile input")


def test_review_command_matches(t, srv, tmp):
    req = review_request(daemonset(pod_spec={"restartPolicy": "Never"}))
    path = os.path.join(tmp, "req.json")
    with open(path, "w") as f:
        json.dump(req, f)
    served = srv.request("POST", "/validate", json.dumps(req).encode())[2].decode()
    cli = tap.run(["review", path])
    t.eq((cli.returncode, cli.stdout.strip()), (1, served), "dsguard review prints what /validate answers")


def test_metrics_and_logs(t, srv, cert):
    text = srv.request("GET", "/metrics")[2].decode()
    try:
        m = parse_metrics(text)
        t.ok(True, "every /metrics line parses")
    except ValueError as e:
        t.ok(False, "every /metrics line parses", e)
        return
    t.ok(metric(m, "dsguard_requests_total", endpoint="/validate", operation="CREATE", result="denied") > 0
         and metric(m, "dsguard_requests_total", endpoint="/validate", operation="CREATE", result="allowed") > 0
         and metric(m, "dsguard_requests_total", endpoint="/validate", operation="DELETE", result="allowed") > 0
         and metric(m, "dsguard_requests_total", endpoint="/validate", operation="", result="bad_request") > 0,
         "requests counted by endpoint, operation and result")
    bounds = sorted(float(dict(k[1])["le"]) for k in m if k[0] == "dsguard_request_duration_seconds_bucket"
                    and dict(k[1]).get("endpoint") == "/validate")
    t.ok(bounds[0] == 0.0001 and 30.0 in bounds and bounds[-1] == float("inf"),
         "latency buckets from 0.0001 s to 30 s and +Inf", bounds)
    counts = [metric(m, "dsguard_request_duration_seconds_bucket", endpoint="/validate", le=le)
              for le in ("0.0001", "0.001", "0.01", "0.1", "1", "10", "30", "+Inf")]
    t.ok(counts == sorted(counts) and counts[-1] == metric(m, "dsguard_request_duration_seconds_count",
                                                            endpoint="/validate"),
         "histogram buckets are cumulative and +Inf equals the count", counts)
    t.ok(metric(m, "dsguard_findings_total", rule="DS001", name="priority-class") > 0
         and metric(m, "dsguard_findings_total", rule="DS002", name="restart-policy") > 0,
         "findings counted by rule")
    t.eq(metric(m, "dsguard_certificate_not_after_seconds"), float(not_after(cert)),
         "the certificate's not-after time")
    t.ok(("dsguard_config_reloads_total", frozenset({("result", "success")})) in m
         and ("dsguard_config_reloads_total", frozenset({("result", "failure")})) in m, "config reloads")
    t.ok(any(k[0] == "dsguard_build_info" for k in m), "build info")
    t.ok(("dsguard_cluster_state_enabled", frozenset()) in m, "cluster state")
    secret = "MARKER-" + "q" * 12
    req = review_request(daemonset(pod_spec={"containers": [{"name": "a", "image": "b",
                                                            "env": [{"name": "X", "value": secret}]}]}))
    srv.review("/validate", req)
    line = srv.log_line(req["request"]["uid"])
    text = open(srv.log_path).read()
    want = {"time", "level", "msg", "uid", "kind", "namespace", "name", "operation", "allowed", "rules",
            "durationMs"}
    t.ok(line and want <= set(line) and line["allowed"] is False and line["rules"] == ["DS001"]
         and line["namespace"] == "logging" and line["kind"] == "DaemonSet",
         "a review is logged with uid, kind, namespace/name, operation, allowed, rules, duration", line)
    t.ok(secret not in text, "object contents never reach the log")


def test_tls(t, srv, tmp, ca, client, other_client, cert, key):
    def handshake(version, client_cert=None, port=None):
        ctx = srv.context(client_cert)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            ctx.minimum_version = version
            ctx.maximum_version = version
            if version < ssl.TLSVersion.TLSv1_2:
                ctx.set_ciphers("DEFAULT@SECLEVEL=0")
        try:
            with socket.create_connection(("127.0.0.1", port or srv.port), timeout=10) as sock:
                with ctx.wrap_socket(sock, server_hostname="127.0.0.1") as s:
                    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                    return s.recv(100).startswith(b"HTTP/1.1 200")
        except (OSError, ssl.SSLError):
            return False
    t.ok(handshake(ssl.TLSVersion.TLSv1_3), "TLS 1.3 is served")
    t.ok(handshake(ssl.TLSVersion.TLSv1_2), "TLS 1.2 is served")
    t.ok(not handshake(ssl.TLSVersion.TLSv1_1), "TLS 1.1 is refused")
    s11 = subprocess.run(["openssl", "s_client", "-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0", "-connect",
                          f"127.0.0.1:{srv.port}"], input="", capture_output=True, text=True, timeout=30)
    t.ok("Cipher is (NONE)" in s11.stdout or s11.returncode != 0, "openssl s_client -tls1_1 is refused",
         s11.stdout[-400:])
    mtls = Server(tmp, ca[0], cert, key, "--client-ca", ca[0], name="mtls")
    t.ok(mtls.port is not None, "serve --client-ca starts", open(mtls.log_path).read())
    for version in (ssl.TLSVersion.TLSv1_3, ssl.TLSVersion.TLSv1_2):
        v = version.name
        t.ok(not handshake(version, None, mtls.port), f"mTLS {v}: a client without a certificate is refused")
        t.ok(not handshake(version, other_client, mtls.port),
             f"mTLS {v}: a client certificate from another CA is refused")
        t.ok(handshake(version, client, mtls.port), f"mTLS {v}: a client certificate signed by the CA is served")
    t.eq(mtls.stop(), 0, "mTLS server exits 0 on SIGTERM")
    wrong = make_cert(tmp, "wrong", ca)
    bad = subprocess.run([tap.BIN, "serve", "--listen", "127.0.0.1:0", "--tls-cert", cert, "--tls-key", wrong[1],
                          "--cluster", "off"], capture_output=True, text=True, timeout=30)
    t.ok(bad.returncode == 2 and "does not belong to the certificate" in bad.stderr,
         "a key that does not match its certificate is refused at start", bad.stderr)
    locked = os.path.join(tmp, "locked.key")
    openssl("pkey", "-in", key, "-aes256", "-passout", "pass:secret", "-out", locked, cwd=tmp)
    bad = subprocess.run([tap.BIN, "serve", "--listen", "127.0.0.1:0", "--tls-cert", cert, "--tls-key", locked,
                          "--cluster", "off"], stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)
    t.ok(bad.returncode == 2 and f"{locked}: the private key is encrypted" in bad.stderr,
         "an encrypted key is refused at start, without asking for a passphrase", bad.stderr)
    junk = os.path.join(tmp, "junk-ca.crt")
    with open(junk, "w") as f:
        f.write("not a certificate\n")
    bad = subprocess.run([tap.BIN, "serve", "--listen", "127.0.0.1:0", "--tls-cert", cert, "--tls-key", key,
                          "--client-ca", junk, "--cluster", "off"], capture_output=True, text=True, timeout=30)
    t.ok(bad.returncode == 2 and f"{junk}: no PEM certificate" in bad.stderr,
         "a --client-ca file without a certificate is refused at start", bad.stderr)


def secret_volume(d, generation, cert, key):
    """Lays out d as a Kubernetes Secret volume whose ..data is generation."""
    gen_dir = os.path.join(d, generation)
    os.makedirs(gen_dir)
    for src, name in ((cert, "tls.crt"), (key, "tls.key")):
        with open(src, "rb") as f, open(os.path.join(gen_dir, name), "wb") as g:
            g.write(f.read())
    tmp_link = os.path.join(d, "..data_tmp")
    os.symlink(generation, tmp_link)
    os.rename(tmp_link, os.path.join(d, "..data"))
    for name in ("tls.crt", "tls.key"):
        if not os.path.islink(os.path.join(d, name)):
            os.symlink(os.path.join("..data", name), os.path.join(d, name))


def test_cert_reload(t, tmp, ca):
    vol = os.path.join(tmp, "secret")
    os.makedirs(vol)
    first = make_cert(tmp, "first", ca, cn="first")
    second = make_cert(tmp, "second", ca, cn="second")
    mismatched = (make_cert(tmp, "third", ca, cn="third")[0], first[1])
    secret_volume(vol, "..gen1", *first)
    srv = Server(tmp, ca[0], os.path.join(vol, "tls.crt"), os.path.join(vol, "tls.key"), name="reload")
    stop = threading.Event()
    failures, done = [], [0]
    body = json.dumps(review_request(daemonset(pod_spec={"priorityClassName": "pc"}))).encode()

    def flow(keep_alive):
        conn = srv.connection() if keep_alive else None
        while not stop.is_set():
            try:
                status, _, data = srv.request("POST", "/validate", body, conn=conn)
                if status != 200 or not json.loads(data)["response"]["allowed"]:
                    failures.append((status, data[:200]))
                done[0] += 1
            except Exception as e:  # noqa: BLE001 - any failure counts
                failures.append(repr(e))
                conn = srv.connection() if keep_alive else None

    def served_cert():
        with socket.create_connection(("127.0.0.1", srv.port)) as sock:
            with srv.context().wrap_socket(sock, server_hostname="127.0.0.1") as s:
                return s.getpeercert(binary_form=True)

    threads = [threading.Thread(target=flow, args=(k,)) for k in (True, True, False, False)]
    for th in threads:
        th.start()
    time.sleep(0.5)
    t.eq(served_cert(), der(first[0]), "reload: the first certificate is served")
    secret_volume(vol, "..gen2", *second)
    # The server looks at its files about once a second; under valgrind on a
    # loaded machine that second stretches.
    deadline = time.time() + (60 if os.environ.get("DSGUARD_VALGRIND") == "1" else 15)
    while time.time() < deadline and served_cert() != der(second[0]):
        time.sleep(0.1)
    t.eq(served_cert(), der(second[0]), "reload: swapping ..data serves the new certificate")
    time.sleep(1.5)
    secret_volume(vol, "..gen3", *mismatched)
    time.sleep(2.5)
    stop.set()
    for th in threads:
        th.join()
    t.ok(not failures and done[0] > 20, f"reload: no request failed ({done[0]} made while swapping)", failures[:5])
    t.eq(served_cert(), der(second[0]), "reload: a key that does not match keeps the previous certificate")
    m = srv.metrics()
    t.eq((metric(m, "dsguard_certificate_reloads_total", result="success"),
          metric(m, "dsguard_certificate_reloads_total", result="failure")), (1.0, 1.0),
         "reload: successes and failures counted")
    msgs = [x.get("msg", "") for x in srv.lines()]
    t.ok(any("certificate reloaded" in x for x in msgs) and any("reload failed" in x for x in msgs),
         "reload: logged", msgs)
    t.eq(srv.stop(), 0, "reload server exits 0")


def test_sighup(t, tmp, ca, cert, key):
    cfg = os.path.join(tmp, "hup.yaml")
    with open(cfg, "w") as f:
        f.write("rules:\n  priority-class:\n    severity: error\n")
    srv = Server(tmp, ca, cert, key, "--config", cfg, name="hup")
    req = review_request(daemonset())
    t.eq(srv.review("/validate", req)[1]["response"]["allowed"], False, "SIGHUP: denied before")
    with open(cfg, "w") as f:
        f.write("rules:\n  priority-class:\n    severity: warning\n")
    srv.proc.send_signal(signal.SIGHUP)
    time.sleep(1.0)
    r = srv.review("/validate", req)[1]["response"]
    t.ok(r["allowed"] and r.get("warnings"), "SIGHUP: the new config applies", r)
    m = srv.metrics()
    t.ok(metric(m, "dsguard_config_reloads_total", result="success") >= 1
         and metric(m, "dsguard_certificate_reloads_total", result="success") >= 1,
         "SIGHUP: config and certificate reloaded")
    with open(cfg, "w") as f:
        f.write("rules:\n  priority-clas:\n    severity: off\n")
    srv.proc.send_signal(signal.SIGHUP)
    time.sleep(1.0)
    r = srv.review("/validate", req)[1]["response"]
    t.ok(r["allowed"] and r.get("warnings"), "SIGHUP with a broken config keeps the previous one", r)
    t.ok(metric(srv.metrics(), "dsguard_config_reloads_total", result="failure") >= 1,
         "a failed config reload is counted")
    t.ok(any("config reload failed" in x.get("msg", "") for x in srv.lines()), "a failed config reload is logged")
    t.eq(srv.stop(), 0, "SIGHUP server exits 0")


def test_sigterm_drain(t, tmp, ca, cert, key):
    srv = Server(tmp, ca, cert, key, name="drain")
    body = json.dumps(review_request(daemonset())).encode()
    idle = srv.connection()
    idle.request("GET", "/healthz")
    idle.getresponse().read()
    sock = socket.create_connection(("127.0.0.1", srv.port))
    tls = srv.context().wrap_socket(sock, server_hostname="127.0.0.1")
    tls.sendall(b"POST /validate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Content-Length: %d\r\n\r\n" % len(body) + body[:40])
    time.sleep(0.3)
    start = time.time()
    srv.proc.send_signal(signal.SIGTERM)
    time.sleep(0.5)
    try:
        socket.create_connection(("127.0.0.1", srv.port), timeout=2).close()
        refused = False
    except OSError:
        refused = True
    t.ok(refused, "SIGTERM: new connections are refused")
    tls.sendall(body[40:])
    tls.settimeout(10)
    got = b""
    while True:
        chunk = tls.recv(65536)
        if not chunk:
            break
        got += chunk
        if b"\r\n\r\n" in got and len(got.split(b"\r\n\r\n", 1)[1]) >= int(
                re.search(rb"Content-Length: (\d+)", got, re.I).group(1)):
            break
    tls.close()
    t.ok(got.startswith(b"HTTP/1.1 200") and b'"allowed":false' in got,
         "SIGTERM: the request in flight is answered", got[:300])
    rc = srv.stop(timeout=30)
    t.eq(rc, 0, "SIGTERM: exit 0")
    t.ok(time.time() - start < 20, "SIGTERM: exits promptly with an idle keep-alive connection open")
    idle.close()
    srv2 = Server(tmp, ca, cert, key, name="sigint")
    t.eq(srv2.stop(signal.SIGINT), 0, "SIGINT: exit 0")


def test_idle_timeout(t, tmp, ca, cert, key):
    srv = Server(tmp, ca, cert, key, "--idle-timeout", "1", name="idle")
    with socket.create_connection(("127.0.0.1", srv.port)) as sock:
        with srv.context().wrap_socket(sock, server_hostname="127.0.0.1") as tls:
            tls.sendall(b"POST /validate HTTP/1.1\r\nHost: x\r\n")
            tls.settimeout(10)
            start = time.time()
            try:
                closed = tls.recv(100) == b""
            except (OSError, ssl.SSLError):
                closed = True
            t.ok(closed and time.time() - start < 5, "a slow, idle connection is closed after --idle-timeout")
    t.eq(srv.stop(), 0, "idle server exits 0")


def big_update(keys, last_value):
    """An UPDATE whose pod template has `keys` labels, in reverse order in
    oldObject; the last label of the new object has last_value (the old
    one has "v"). Returns the request's JSON text."""
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    names = ["".join(alphabet[i // 36 ** k % 36] for k in range(4)) for i in range(keys)]
    new, old = daemonset(), daemonset()
    new["spec"]["template"]["metadata"]["labels"] = {n: "v" for n in names[:-1]}
    new["spec"]["template"]["metadata"]["labels"][names[-1]] = last_value
    old["spec"]["template"]["metadata"]["labels"] = {n: "v" for n in reversed(names)}
    return json.dumps(review_request(new, op="UPDATE", old=old), separators=(",", ":")).encode()


def test_large_update(t, tmp, ca, cert, key):
    """Every cost of a review grows with the size of its body: an UPDATE
    whose pod template has 300,000 labels (over 6 MB, under the 8 MiB limit)
    is answered in well under a second, the comparison of its template with
    oldObject's included (quadratic, it took hours). Not timed under
    valgrind; given more time under the sanitizers."""
    # Under valgrind such a review takes longer than the default --request-timeout.
    srv = Server(tmp, ca, cert, key, *(["--request-timeout", "600"] if VALGRIND else []), name="large-update")
    limit = 5.0 if SLOW else 1.0
    for last, unchanged in (("v", True), ("w", False)):
        body = big_update(300000, last)
        conn = srv.connection(timeout=600 if VALGRIND else 60)
        began = time.monotonic()
        try:
            status, _, data = srv.request("POST", "/validate", body, conn=conn)
            r = json.loads(data)["response"]
        except (OSError, ValueError, KeyError) as e:
            status, r = None, repr(e)
        took = time.monotonic() - began
        conn.close()
        what = "leaving the template as it was" if unchanged else "changing one label"
        want = (isinstance(r, dict) and r.get("allowed") is unchanged
                and any("this update leaves spec.template as it was" in w for w in r.get("warnings", []))
                == unchanged)
        t.ok(status == 200 and want and len(body) < 8 << 20,
             f"an UPDATE of {len(body) / 1e6:.1f} MB with 300,000 labels {what}: answered as such", (status, r))
        line = srv.log_line(json.loads(body)["request"]["uid"]) or {}
        if VALGRIND:
            t.skip(f"... in under {limit:.0f} s", "not timed under valgrind")
        else:
            t.ok(took < limit, f"... in under {limit:.0f} s ({took:.2f} s, of which the server's own "
                               f"{line.get('durationMs', 0) / 1000:.2f} s)")
    t.eq(srv.stop(), 0, "large-update.log: exit 0")


def test_utf8_cuts(t, tmp, ca, cert, key):
    """Text cut to a length is cut on a UTF-8 character boundary: a denial
    quotes the namespace and name cut to 253 bytes and each message cut to
    512 (each ending "..." within those bytes), and the log keeps a request
    path cut to 128 bytes. Each here has multibyte characters across both
    the byte before "..." and the byte count: the answer and every log line
    must be valid UTF-8."""
    srv = Server(tmp, ca, cert, key, "--log-level", "debug", name="utf8")
    obj = daemonset(ns="a" * 249 + "\u20ac" * 3, name="a" * 249 + "\u00e9" * 4,
                    pod_spec={"priorityClassName": "pc", "restartPolicy": "a" * 471 + "\u20ac" * 20})
    req = review_request(obj)
    status, _, data = srv.request("POST", "/validate", json.dumps(req).encode())
    try:
        msg = json.loads(data.decode("utf-8"))["response"]["status"]["message"]
    except (UnicodeDecodeError, ValueError, KeyError) as e:
        msg = repr(e)
    want = (f"DaemonSet {'a' * 249}.../{'a' * 249}... is not allowed: DS002 restart-policy: "
            f'spec.template.spec.restartPolicy is "{"a" * 471}...')
    t.eq((status, msg), (200, want), "a denial's namespace, name and message are cut on character boundaries, "
                                     "the answer valid UTF-8")
    path = "/" + "p" * 125 + "%C3%A9" * 3  # é at bytes 126-127, 128-129 of the path the server sees
    t.eq(srv.request("GET", path)[0], 404, "a long path with multibyte characters: 404")
    t.eq(srv.stop(), 0, "utf8.log: exit 0")
    raw = open(srv.log_path, "rb").read()
    bad, logged = [], []
    for line in raw.split(b"\n")[:-1]:
        try:
            x = json.loads(line.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as e:
            bad.append((repr(e), line[:200]))
            continue
        if x.get("status") == 404:
            logged.append(x.get("path"))
    t.ok(not bad and logged == ["/" + "p" * 124 + "..."],
         "every log line is valid UTF-8 and JSON, the path cut on a character boundary", (bad[:3], logged))


def test_load(t, srv):
    deny = json.dumps(review_request(daemonset())).encode()
    allow = json.dumps(review_request(daemonset(pod_spec={"priorityClassName": "pc"}))).encode()
    conn = srv.connection()
    bad, start = 0, time.time()
    for i in range(10000):
        body = deny if i % 2 else allow
        status, _, data = srv.request("POST", "/validate", body, conn=conn)
        if status != 200 or json.loads(data)["response"]["allowed"] != (i % 2 == 0):
            bad += 1
    conn.close()
    t.eq(bad, 0, f"10,000 sequential requests on one keep-alive connection ({time.time() - start:.1f} s)")
    failures = []

    def worker(n):
        c = srv.connection()
        for i in range(n):
            try:
                status, _, data = srv.request("POST", "/mutate" if i % 3 else "/validate", deny, conn=c)
                if status != 200:
                    failures.append(status)
            except Exception as e:  # noqa: BLE001 - any failure counts
                failures.append(repr(e))
                c = srv.connection()
        c.close()
    start = time.time()
    threads = [threading.Thread(target=worker, args=(625,)) for _ in range(16)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    t.ok(not failures, f"16-way concurrent: 10,000 requests ({time.time() - start:.1f} s)", failures[:5])


def test_log_lines_whole_through_a_pipe(t, tmp, ca, cert, key):
    """The worker threads write their log lines to stderr without a lock:
    through a pipe, under 16-way load, each must still arrive whole, in one
    write of at most PIPE_BUF (4096) bytes. Every fourth request has a uid,
    kind, namespace and name of 253 control characters, which JSON escapes
    to 1,518 bytes each: their lines must come cut, and still whole."""
    srv = Server(tmp, ca, cert, key, name="piped", pipe=True)
    body = json.dumps(review_request(daemonset())).encode()
    wild = review_request(daemonset())
    noise = "\x01" * 253
    wild["request"].update(uid=noise, namespace=noise, name=noise)
    wild["request"]["kind"]["kind"] = noise
    wild = json.dumps(wild).encode()
    per, failures = (20 if SLOW else 160), []

    def worker():
        c = srv.connection()
        for i in range(per):
            try:
                if srv.request("POST", "/validate", wild if i % 4 == 0 else body, conn=c)[0] != 200:
                    failures.append("status")
            except Exception as e:  # noqa: BLE001 - any failure counts
                failures.append(repr(e))
                c = srv.connection()
        c.close()
    threads = [threading.Thread(target=worker) for _ in range(16)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    t.eq(srv.stop(), 0, "piped.log: exit 0 on SIGTERM")
    raw = open(srv.log_path, "rb").read().split(b"\n")[:-1]
    lines = srv.lines()
    reviews = [x for x in lines if x.get("msg") == "review"]
    t.eq([x for x in lines if "unparsed" in x], [], "log lines through a pipe under load: each one whole JSON")
    t.eq(max(len(x) + 1 for x in raw) <= 4096, True, "log lines through a pipe: none longer than PIPE_BUF")
    t.eq((len(reviews), failures), (16 * per, []),
         f"log lines through a pipe under load: one review line for each of {16 * per} requests")
    cut = [x for x in reviews if x.get("cut")]
    t.eq((len(cut), all(x["uid"] == "\x01" * 45 + "..." for x in cut)), (16 * per // 4, True),
         "a review line too long for one write comes with its strings cut to 48 bytes and cut: true")


def main():
    t = tap.Tap()
    with tempfile.TemporaryDirectory() as tmp:
        ca = make_ca(tmp, "ca")
        other_ca = make_ca(tmp, "otherca")
        cert, key = make_cert(tmp, "tls", ca)
        client = make_cert(tmp, "client", ca, usage="clientAuth", cn="apiserver")
        other_client = make_cert(tmp, "intruder", other_ca, usage="clientAuth", cn="intruder")
        with open(os.path.join(tmp, "patch.yaml"), "w") as f:
            f.write("rules:\n  priority-class:\n    default: node-agents\n")
        with open(os.path.join(tmp, "warn.yaml"), "w") as f:
            f.write("rules:\n  restart-policy:\n    severity: warning\n")
        srv = Server(tmp, ca[0], cert, key)
        patch_srv = Server(tmp, ca[0], cert, key, "--config", os.path.join(tmp, "patch.yaml"), name="patch")
        warn_srv = Server(tmp, ca[0], cert, key, "--config", os.path.join(tmp, "warn.yaml"), "--log-format",
                          "text", name="warn")
        small_srv = Server(tmp, ca[0], cert, key, "--max-body-bytes", "4096", name="small")
        try:
            test_start_and_probes(t, srv)
            if srv.port is None:
                t.done()
            test_rules(t, srv, patch_srv)
            test_ds003_off(t, srv)
            test_pod_spec_missing_is_added(t, patch_srv, srv)
            test_warnings_and_exemptions(t, warn_srv, srv)
            test_dry_run_update_delete_other(t, srv, patch_srv)
            test_bad_requests(t, srv, small_srv)
            test_review_command_matches(t, srv, tmp)
            test_metrics_and_logs(t, srv, cert)
            test_tls(t, srv, tmp, ca, client, other_client, cert, key)
            test_cert_reload(t, tmp, ca)
            test_sighup(t, tmp, ca[0], cert, key)
            test_sigterm_drain(t, tmp, ca[0], cert, key)
            test_idle_timeout(t, tmp, ca[0], cert, key)
            test_utf8_cuts(t, tmp, ca[0], cert, key)
            test_large_update(t, tmp, ca[0], cert, key)
            test_load(t, srv)
            test_log_lines_whole_through_a_pipe(t, tmp, ca[0], cert, key)
        finally:
            for s in (srv, patch_srv, small_srv):
                t.eq(s.stop(), 0, f"{os.path.basename(s.log_path)}: exit 0 on SIGTERM")
            warn_srv.stop()
            t.ok(not any("unparsed" in x for x in srv.lines()), "every log line is JSON")
            t.ok(all(not x.startswith("{") for x in open(warn_srv.log_path)) and
                 any("msg" not in x and "review" in x for x in open(warn_srv.log_path)),
                 "--log-format text writes text lines")
    t.done()


if __name__ == "__main__":
    main()
