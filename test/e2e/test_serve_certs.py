"""dsguard serve --manage-certs against the stand-in API server
(fake_apiserver.py), with two replicas as the chart runs them: from an empty
stand-in one Secret is created, both caBundles are published and both
replicas serve a certificate that verifies against them (and /readyz is 503
until they do); with validity shortened to seconds the serving certificate and
then the CA rotate several times while clients verify every new connection
against the caBundle read from the ValidatingWebhookConfiguration, with no
failure; a caBundle reset is patched back within 5 s; a Secret deleted,
broken or naming another Service is made anew; a replica killed between
writing the Secret and patching the caBundles leaves the survivor to finish
the rotation. Replicas that write at once (the stand-in holds their POSTs,
then their PUTs, until both are in flight) end with one write: the other is
answered 409 and reads the winner's Secret; a new pair is served by every
replica within 3 s of its write. Every request the replicas make is one the
chart's RBAC grants, resourceNames included. Usage errors first.

Times scale up under the sanitizers and valgrind (timings are not asserted
under valgrind, only what happens)."""
import base64
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

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tap  # noqa: E402
from test_serve_cluster import StandIn, write_kubeconfig  # noqa: E402
from test_webhook_serve import daemonset, metric, parse_metrics, review_request  # noqa: E402

VALGRIND = os.environ.get("DSGUARD_VALGRIND") == "1"
SANITIZE = os.environ.get("DSGUARD_SANITIZE") == "1"
SCALE = 3 if VALGRIND else 1          # of the validities: valgrind runs dsguard ~20 times slower
# The overlap is the margin a replica's lag and a client's pause between
# reading the caBundle and connecting must stay within: 2 s, with the
# shortest validities --manage-certs allows for it.
CERT_SECONDS, CA_SECONDS, OVERLAP_SECONDS = 12 * SCALE, 36 * SCALE, 2 * SCALE
WAIT = 20 * SCALE * (2 if SANITIZE else 1)  # seconds for something to happen
LOAD_SECONDS = 100 if VALGRIND else 70  # long enough for two CA rotations (one under valgrind)
REPATCH_LIMIT = 15 if SANITIZE else 5   # the acceptance: a reset caBundle is back within 5 s
SERVE_LIMIT = 10 if SANITIZE else 3     # "serves the newest pair within seconds"
HOLD = 2 * SCALE                        # seconds the stand-in holds a write, so that both replicas send theirs

NS, SECRET, CONFIG, HOST = "dsguard", "dsguard-tls", "dsguard", "dsguard.dsguard.svc"
VWC, MWC = "validatingwebhookconfigurations", "mutatingwebhookconfigurations"
# What the chart's Role and ClusterRole grant in certificates.mode=self
# (charts/dsguard/templates/rbac.yaml; test_chart.py holds the chart to the
# same): (resource, verbs, namespace ("" cluster-wide), resourceNames (None:
# any)). create cannot be limited to a name: RBAC sees none (authz_name in
# fake_apiserver.py).
GRANTED = [("secrets", {"get", "watch", "update"}, NS, {SECRET}),
           ("secrets", {"create"}, NS, None),
           (VWC, {"get", "watch", "patch"}, "", {CONFIG}),
           (MWC, {"get", "watch", "patch"}, "", {CONFIG})]


# ---- the stand-in's objects ----

def webhook_config(hook, path):
    """A webhook configuration as the chart renders it in certificates.mode=self:
    no caBundle (admissionregistration.k8s.io/v1, ValidatingWebhook)."""
    return {"metadata": {"labels": {"app.kubernetes.io/managed-by": "Helm"}},
            "webhooks": [{"name": hook, "admissionReviewVersions": ["v1", "v1beta1"], "sideEffects": "None",
                          "failurePolicy": "Ignore", "timeoutSeconds": 5,
                          "clientConfig": {"service": {"name": "dsguard", "namespace": NS, "path": path,
                                                       "port": 443}},
                          "rules": [{"apiGroups": ["apps"], "apiVersions": ["v1"], "resources": ["daemonsets"],
                                     "operations": ["CREATE", "UPDATE"], "scope": "Namespaced"}]}]}


def get_object(si, resource, name, ns=""):
    return si.control("object", {"op": "get", "resource": resource, "namespace": ns, "name": name}).get("object")


def put_object(si, resource, name, obj, ns=""):
    return si.control("object", {"op": "put", "resource": resource, "namespace": ns, "name": name, "object": obj})


def secret(si):
    return get_object(si, "secrets", SECRET, NS)


def secret_data(si):
    """{key: decoded text} of the Secret, {} when there is none."""
    s = secret(si) or {}
    return {k: base64.b64decode(v).decode() for k, v in (s.get("data") or {}).items()}


def bundles(si, resource=VWC):
    """The caBundle of each webhook of the configuration ("" when unset)."""
    obj = get_object(si, resource, CONFIG) or {}
    return [(w.get("clientConfig") or {}).get("caBundle", "") for w in obj.get("webhooks") or []]


def pem_certs(text):
    return re.findall(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", text or "", re.S)


def published(si):
    """Whether every caBundle of both configurations is the Secret's ca.crt."""
    want = base64.b64encode(secret_data(si).get("ca.crt", "").encode()).decode()
    got = bundles(si, VWC) + bundles(si, MWC)
    return bool(want) and len(got) == 2 and all(b == want for b in got)


def wait_for(cond, timeout=WAIT):
    deadline = time.time() + timeout
    while True:
        value = cond()
        if value or time.time() > deadline:
            return value
        time.sleep(0.1)


# ---- the replicas ----

class Pinned(http.client.HTTPSConnection):
    """HTTPS to 127.0.0.1:port, as the API server calls the Service: TLS
    server name HOST, the certificate checked against the context's CAs."""

    def __init__(self, port, ctx, timeout=30):
        super().__init__(HOST, port, context=ctx, timeout=timeout)

    def connect(self):
        sock = socket.create_connection(("127.0.0.1", self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=HOST)


def trusting(bundle):
    """A client context trusting only the CAs of a caBundle (base64 PEM)."""
    ctx = ssl.create_default_context(cadata=base64.b64decode(bundle).decode())
    ctx.check_hostname = True
    return ctx


def unverified():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


class Replica:
    """One `dsguard serve --manage-certs` on a free loopback port."""

    def __init__(self, tmp, name, kubeconfig, *extra):
        self.name = name
        self.log_path = os.path.join(tmp, name + ".log")
        self.log = open(self.log_path, "wb", buffering=0)
        self.proc = subprocess.Popen(
            [tap.BIN, "serve", "--listen", "127.0.0.1:0", "--manage-certs", "--kubeconfig", kubeconfig,
             "--context", "stand-in", "--cluster", "off", "--service-namespace", NS, "--cert-secret", SECRET,
             "--service", "dsguard", "--validating-webhook", CONFIG, "--mutating-webhook", CONFIG,
             "--cert-validity", f"{CERT_SECONDS}s", "--ca-validity", f"{CA_SECONDS}s",
             "--ca-overlap", f"{OVERLAP_SECONDS}s", *extra],
            stdout=subprocess.DEVNULL, stderr=self.log)
        self.port = None
        deadline = time.time() + 30 * SCALE
        while time.time() < deadline and self.port is None and self.proc.poll() is None:
            m = re.search(r'"msg":"serving","address":"127\.0\.0\.1:(\d+)"', open(self.log_path).read())
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

    def get(self, path, ctx=None):
        """(status, body text) of GET path."""
        conn = Pinned(self.port, ctx or unverified())
        try:
            conn.request("GET", path)
            resp = conn.getresponse()
            return resp.status, resp.read().decode()
        finally:
            conn.close()

    def readyz(self):
        try:
            return self.get("/readyz")
        except OSError as e:
            return None, str(e)

    def served(self):
        """The DER of the certificate served now."""
        with socket.create_connection(("127.0.0.1", self.port), 10) as sock:
            with unverified().wrap_socket(sock, server_hostname=HOST) as s:
                return s.getpeercert(binary_form=True)

    def review(self, ctx, uid):
        """POSTs a review on a new connection verified by ctx; returns the status."""
        conn = Pinned(self.port, ctx)
        try:
            body = json.dumps(review_request(daemonset("agents", "node-agent", {"priorityClassName": uid})))
            conn.request("POST", "/validate", body=body, headers={"Content-Type": "application/json"})
            resp = conn.getresponse()
            resp.read()
            return resp.status
        finally:
            conn.close()

    def served_or_none(self):
        try:
            return self.served()
        except OSError:
            return None

    def metrics(self):
        return parse_metrics(self.get("/metrics")[1])

    def stop(self, sig=signal.SIGTERM):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(60 * SCALE)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self.log.close()
        return rc


def der(pem):
    return ssl.PEM_cert_to_DER_cert(pem)


def serves_trusted(replica, si):
    """Whether the replica's certificate verifies against the published
    caBundle for HOST, and a review over it is answered."""
    try:
        return replica.review(trusting(bundles(si)[0]), "trust") == 200
    except (OSError, ssl.SSLError, ValueError, IndexError):
        return False


# ---- the tests ----

def test_usage(t, kubeconfig):
    def run(*args):
        return subprocess.run([tap.BIN, "serve", *args], capture_output=True, text=True, timeout=60 * SCALE)
    base = ["--manage-certs", "--validating-webhook", "v", "--service-namespace", NS, "--kubeconfig", kubeconfig,
            "--context", "stand-in", "--cluster", "off"]
    cases = [
        (["--manage-certs", "--tls-cert", "a", "--tls-key", "b", "--validating-webhook", "v"],
         "--manage-certs makes its own certificate: leave out --tls-cert and --tls-key"),
        (["--tls-cert", "a", "--tls-key", "b", "--cert-secret", "s"], "--cert-secret goes with --manage-certs"),
        (["--manage-certs"], "name the webhook configurations whose caBundle to keep"),
        (base + ["--cert-validity", "9x"], "--cert-validity needs a duration"),
        (base + ["--ca-overlap", "0s"], "--ca-overlap needs a duration"),
        (base + ["--cert-validity", "30d", "--ca-validity", "60d"], "must be at most a third of the CA's"),
        (base + ["--ca-overlap", "20d"], "must be from 1 second to a sixth of the serving certificate's validity"),
        (base + ["--cert-secret", "Bad_Name"], "the Secret name 'Bad_Name' is not an object name"),
        (base + ["--service", "9lives"], "service '9lives' is not a DNS label"),
        (base[:3] + base[5:], "--manage-certs needs --service-namespace: the kubeconfig context names no namespace"),
    ]
    for args, want in cases:
        p = run(*args)
        t.ok(p.returncode == 2 and want in p.stderr, f"usage: serve {' '.join(args[-3:])}: exit 2, '{want}'",
             p.stderr[-600:])
    p = run("--help")
    t.ok(p.returncode == 0 and all(f"--{o}" in p.stdout for o in (
        "manage-certs", "cert-secret", "service", "service-namespace", "validating-webhook", "mutating-webhook",
        "ca-validity", "cert-validity", "ca-overlap")), "serve --help lists every --manage-certs option")


def test_from_empty(t, si, replicas):
    """Only the MutatingWebhookConfiguration exists at first."""
    a, b = replicas
    t.ok(a.port and b.port, "two replicas start serving (a placeholder certificate) at once",
         open(a.log_path).read()[-800:])
    t.ok(wait_for(lambda: secret(si) is not None, timeout=WAIT + HOLD), "one of them creates the Secret")
    si.control("latency", {"clear": True})
    code, body = wait_for(lambda: (lambda r: r if "does not exist" in r[1] else None)(a.readyz())) or (None, "")
    t.ok(code == 503 and "ValidatingWebhookConfiguration dsguard does not exist" in body,
         "/readyz is 503 while a webhook configuration is missing, saying so", body)
    put_object(si, VWC, CONFIG, webhook_config("validate.dsguard.io", "/validate"))
    t.ok(wait_for(lambda: published(si)), "once it exists, both caBundles hold the Secret's ca.crt",
         json.dumps([bundles(si, VWC), bundles(si, MWC)])[:300])
    for r in replicas:
        t.ok(wait_for(lambda: r.readyz()[0] == 200), f"{r.name}: /readyz 200 once its certificate is trusted",
             r.readyz()[1])
    s = secret(si)
    data = secret_data(si)
    t.ok(s.get("type") == "kubernetes.io/tls" and set(data) == {"tls.crt", "tls.key", "ca.crt", "ca.key"}
         and s["metadata"].get("labels", {}).get("app.kubernetes.io/managed-by") == "dsguard",
         "the Secret is kubernetes.io/tls with tls.crt, tls.key, ca.crt and ca.key, labelled managed-by dsguard",
         json.dumps(s.get("metadata")))
    creates = [r.name for r in replicas for x in r.lines() if x.get("step") == "create"]
    lost = [r.name for r in replicas for x in r.lines()
            if "was created by another replica first; using it" in x.get("msg", "")]
    posts = si.control("calls")["calls"].get("secrets", {}).get("create", 0)
    t.ok(len(creates) == 1 and len(lost) == 1 and set(creates + lost) == {r.name for r in replicas}
         and posts == 2, "both replicas POSTed the Secret at once: one created it, the other was answered 409 "
                         f"AlreadyExists and used the winner's ({posts} POSTs; created: {creates}, lost: {lost})")
    for r in replicas:
        t.ok(serves_trusted(r, si), f"{r.name}: its certificate verifies against the published caBundle for {HOST}")
    t.ok(wait_for(lambda: all(r.served() == der(secret_data(si)["tls.crt"]) for r in replicas)),
         "both replicas serve the Secret's tls.crt")


def test_reset_is_repatched(t, si, replicas):
    for what, value in (("removed (helm upgrade, GitOps sync)", None), ("set to another CA", base64.b64encode(
            pem_certs(secret_data(si)["ca.crt"])[0].replace("A", "B", 1).encode()).decode())):
        obj = get_object(si, VWC, CONFIG)
        for w in obj["webhooks"]:
            if value is None:
                w["clientConfig"].pop("caBundle", None)
            else:
                w["clientConfig"]["caBundle"] = value
        put_object(si, VWC, CONFIG, obj)
        start = time.time()
        ok = wait_for(lambda: published(si), timeout=max(WAIT, REPATCH_LIMIT))
        took = time.time() - start
        if VALGRIND:
            t.ok(ok, f"a caBundle {what} is patched back (not timed under valgrind)")
        else:
            t.ok(ok and took <= REPATCH_LIMIT, f"a caBundle {what} is patched back within {REPATCH_LIMIT} s "
                 f"({took:.1f} s)")
    lines = [x for r in replicas for x in r.lines() if x.get("msg") == "certificates: published the CA in the caBundle"
             and x.get("reason") == "the caBundle was changed by someone else"]
    t.ok(lines and all(x.get("level") == "warn" and x.get("kind") == "ValidatingWebhookConfiguration" for x in lines),
         "the log says the caBundle was changed by someone else (warn)", json.dumps(lines)[:400])
    resets = sum(metric(r.metrics(), "dsguard_ca_bundle_patches_total", configuration="validating", reason="reset")
                 for r in replicas)
    t.ok(resets >= 2, f"dsguard_ca_bundle_patches_total{{reason=\"reset\"}} counts them ({resets:.0f})")


def client_loop(si, replicas, until, stats, lock):
    """Until `until`: reads the caBundle from the ValidatingWebhookConfiguration,
    opens a new connection to a replica trusting only it, posts a review."""
    i = 0
    while time.time() < until:
        r = replicas[i % len(replicas)]
        i += 1
        try:
            bundle = bundles(si)[0]
            status = r.review(trusting(bundle), f"load-{i}")
            with lock:
                stats["ok" if status == 200 else "failed"] += 1
                stats["bundles"].add(bundle)
                if status != 200:
                    stats["errors"].append(f"{r.name}: HTTP {status}")
        except (OSError, ssl.SSLError, ValueError, IndexError) as e:
            with lock:
                stats["failed"] += 1
                stats["errors"].append(f"{r.name}: {e}")
        try:
            der_now = r.served()
            with lock:
                stats["served"].add(der_now)
        except OSError:
            pass


def test_rotation_under_load(t, si, replicas):
    before = {r.name: r.metrics() for r in replicas}
    stats = {"ok": 0, "failed": 0, "errors": [], "bundles": set(), "served": set()}
    lock = threading.Lock()
    until = time.time() + LOAD_SECONDS
    threads = [threading.Thread(target=client_loop, args=(si, replicas, until, stats, lock)) for _ in range(2)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    cas = {c for b in stats["bundles"] for c in pem_certs(base64.b64decode(b).decode())}

    def grew(label):
        return sum(metric(r.metrics(), "dsguard_certificate_rotations_total", certificate=label)
                   - metric(before[r.name], "dsguard_certificate_rotations_total", certificate=label)
                   for r in replicas)
    want_ca = 1 if VALGRIND else 2
    t.ok(stats["ok"] > 50 and stats["failed"] == 0,
         f"{stats['ok']} reviews on new connections, each verified against the caBundle read just before: "
         f"{stats['failed']} failures", "\n".join(stats["errors"][:20]))
    t.ok(len(stats["served"]) >= 4 and grew("serving") >= 3,
         f"the serving certificate rotated during the load ({len(stats['served'])} served, "
         f"{grew('serving'):.0f} written)")
    t.ok(len(cas) >= 1 + want_ca and grew("ca") >= want_ca,
         f"the CA rotated during the load ({len(cas)} CAs seen in the caBundle, {grew('ca'):.0f} written)")
    for r in replicas:
        m = r.metrics()
        t.ok(metric(m, "dsguard_ca_bundle_trusted") == 1 and metric(m, "dsguard_ca_not_after_seconds") > time.time()
             and metric(m, "dsguard_certificate_not_after_seconds") > time.time(),
             f"{r.name}: metrics: trusted, CA and serving certificate expiries in the future")
    steps = {x.get("step") for r in replicas for x in r.lines() if x.get("msg") == "certificates: wrote the Secret"}
    t.ok({"new serving certificate", "new CA", "drop the old CA"} <= steps,
         "the log names each step of the rotation", str(steps))


def test_secret_deleted_or_broken(t, si, replicas):
    old_ca = secret_data(si)["ca.crt"]
    si.control("object", {"op": "delete", "resource": "secrets", "namespace": NS, "name": SECRET})
    t.ok(wait_for(lambda: secret(si) is not None and secret_data(si)["ca.crt"] != old_ca and published(si)),
         "the Secret deleted: a new CA and certificate are made and published")
    t.ok(wait_for(lambda: all(serves_trusted(r, si) and r.readyz()[0] == 200 for r in replicas)),
         "both replicas serve the new certificate, trusted, ready")
    s = secret(si)
    ca = s["data"]["ca.crt"]
    s["data"]["tls.crt"] = base64.b64encode(b"not a certificate").decode()
    put_object(si, "secrets", SECRET, s, NS)
    t.ok(wait_for(lambda: "BEGIN CERTIFICATE" in secret_data(si).get("tls.crt", "")),
         "a tls.crt that is not a certificate is replaced by a new serving certificate")
    t.eq(secret(si)["data"]["ca.crt"], ca, "... from the same CA")
    t.ok(wait_for(lambda: all(serves_trusted(r, si) for r in replicas)), "... and served")


def test_racing_writes(t, si, replicas):
    """Both replicas find tls.crt broken at once and PUT a new one with the
    resourceVersion they read; the stand-in holds each PUT for HOLD seconds,
    so that both are sent before either is written. One is written; the
    other is answered 409 Conflict, reads the winner's Secret and writes
    nothing. Then both serve the new pair, each within SERVE_LIMIT seconds of
    its write, without a restart."""
    marks = {r.name: len(r.lines()) for r in replicas}
    updates = si.control("calls")["calls"].get("secrets", {}).get("update", 0)
    si.control("latency", {"resource": "secrets", "verb": "update", "seconds": HOLD})
    s = secret(si)
    s["data"]["tls.crt"] = base64.b64encode(b"broken again").decode()
    put_object(si, "secrets", SECRET, s, NS)
    fixed = wait_for(lambda: "BEGIN CERTIFICATE" in secret_data(si).get("tls.crt", ""), timeout=WAIT + HOLD)
    written_at = time.time()
    want = der(secret_data(si)["tls.crt"]) if fixed else None
    serving = wait_for(lambda: all(r.served_or_none() == want for r in replicas), timeout=WAIT)
    took = time.time() - written_at
    wait_for(lambda: si.control("calls")["calls"]["secrets"].get("update", 0) >= updates + 2, timeout=WAIT + HOLD)
    si.control("latency", {"clear": True})
    new = {r.name: r.lines()[marks[r.name]:] for r in replicas}
    writes = [n for n, lines in new.items() for x in lines if x.get("msg") == "certificates: wrote the Secret"]
    conflicts = [n for n, lines in new.items() for x in lines
                 if "changed meanwhile (HTTP 409); reading it again" in x.get("msg", "")]
    puts = si.control("calls")["calls"]["secrets"].get("update", 0) - updates
    t.ok(fixed and puts == 2 and len(writes) == 1 and len(conflicts) == 1 and set(writes) != set(conflicts),
         f"both replicas PUT a new tls.crt at once ({puts} PUTs): one was written ({writes}), the other answered "
         f"409 Conflict read it again and wrote nothing ({conflicts})")
    if VALGRIND:
        t.ok(serving, "both replicas serve the new pair (not timed under valgrind)")
    else:
        t.ok(serving and took <= SERVE_LIMIT,
             f"both replicas serve the new pair within {SERVE_LIMIT} s of its write, no restart ({took:.1f} s)")


def test_wrong_names(t, si, replicas, tmp):
    """A Secret whose CA is good but whose serving certificate names another
    Service (made by `dsguard certs --service other`): a new serving
    certificate for this Service, from that CA, published and served."""
    out = os.path.join(tmp, "other-service")
    p = subprocess.run([tap.BIN, "certs", "--out", out, "--service", "other", "--namespace", NS, "--days", "2"],
                       capture_output=True, text=True, timeout=60 * SCALE)
    if not t.ok(p.returncode == 0, "dsguard certs makes a set for Service other", p.stderr):
        return
    files = {}
    for key in ("ca.crt", "ca.key", "tls.crt", "tls.key"):
        with open(os.path.join(out, key), "rb") as f:
            files[key] = f.read()
    s = secret(si)
    s["data"] = {k: base64.b64encode(v).decode() for k, v in files.items()}
    put_object(si, "secrets", SECRET, s, NS)
    renewed = wait_for(lambda: (lambda d: d if d.get("tls.crt", "").encode() != files["tls.crt"] else None)(
        secret_data(si)))
    t.ok(renewed and renewed["ca.crt"].encode() == files["ca.crt"],
         "a serving certificate for another Service is replaced, from the CA the Secret holds")
    t.ok(wait_for(lambda: published(si) and all(serves_trusted(r, si) for r in replicas)),
         f"... published and served: it verifies for {HOST} against the caBundle")


def test_adopted(t, si, replicas):
    """A Secret with a good serving pair and CA but no ca.key (what
    cert-manager leaves behind): a CA rotation that keeps serving the pair
    until the new CA is published."""
    s = secret(si)
    old_ca, served = secret_data(si)["ca.crt"], secret_data(si)["tls.crt"]
    del s["data"]["ca.key"]
    put_object(si, "secrets", SECRET, s, NS)
    step = wait_for(lambda: (lambda d: d if len(pem_certs(d.get("ca.crt"))) == 2 else None)(secret_data(si)))
    t.ok(step and pem_certs(step["ca.crt"])[1] == pem_certs(old_ca)[0] and step["tls.crt"] == served
         and "ca.key" in step, "a Secret without ca.key: a new CA is put first in ca.crt, with its key, and the "
                               "serving certificate is kept", json.dumps(list(step or {})))
    t.ok(wait_for(lambda: (lambda d: len(pem_certs(d.get("ca.crt"))) == 1 and d["tls.crt"] != served
                           and published(si))(secret_data(si)), timeout=WAIT + 20),
         "... and the rotation completes: the old CA leaves once the serving certificate comes from the new one")
    t.ok(wait_for(lambda: all(serves_trusted(r, si) for r in replicas)), "... trusted by both replicas")


def test_crash_mid_rotation(t, si, replicas):
    """Patches of the caBundles fail until a replica has written a CA
    rotation to the Secret; that replica is killed; the survivor finishes."""
    for resource in (VWC, MWC):
        si.control("fault", {"resource": resource, "verb": "patch", "code": 500})
    start_ca = pem_certs(secret_data(si).get("ca.crt"))[0]
    rotated = wait_for(lambda: (lambda d: d if len(pem_certs(d.get("ca.crt"))) == 2
                                and pem_certs(d["ca.crt"])[1] == start_ca else None)(secret_data(si)),
                       timeout=CA_SECONDS * 2)
    writers = [r for r in replicas if any(x.get("step") == "new CA" and x.get("msg") == "certificates: wrote the Secret"
                                          for x in r.lines())] if rotated else []
    writer = max(writers, key=lambda r: max(x["time"] for x in r.lines() if x.get("step") == "new CA"),
                 default=None)
    new_ca = pem_certs(rotated["ca.crt"])[0] if rotated else None
    new_b64 = base64.b64encode(new_ca.encode()).decode() if new_ca else ""
    if not t.ok(writer is not None and not any(new_ca and new_ca in base64.b64decode(b).decode()
                                               for b in bundles(si) + bundles(si, MWC)),
                "a replica wrote a CA rotation to the Secret and could not publish it (patches fail)"):
        si.control("fault", {"clear": True})
        return
    writer.stop(signal.SIGKILL)
    survivor = next(r for r in replicas if r is not writer)
    si.control("fault", {"clear": True})
    t.ok(wait_for(lambda: all(new_ca in base64.b64decode(b).decode() for b in bundles(si) + bundles(si, MWC)),
                  timeout=WAIT + 40),
         f"{writer.name} killed: {survivor.name} publishes the new CA in both caBundles")
    done = wait_for(lambda: (lambda d: len(pem_certs(d.get("ca.crt"))) == 1 and pem_certs(d["ca.crt"])[0] == new_ca
                             and published(si))(secret_data(si)), timeout=WAIT + 40)
    t.ok(done, f"{survivor.name} finishes the rotation: the serving certificate moves to the new CA, the old CA "
               "leaves ca.crt and both caBundles")
    t.ok(wait_for(lambda: serves_trusted(survivor, si) and survivor.readyz()[0] == 200),
         f"{survivor.name} serves a certificate of the new CA, trusted, ready")
    t.ok(not new_b64 or published(si), "the caBundles are the Secret's ca.crt")


def allowed(resource, verb, ns, name):
    """Whether a rule of GRANTED allows the request, as RBAC matches rules:
    resource and verb, the Role's namespace, and a name among resourceNames
    when the rule has them (a request naming nothing matches none)."""
    return any(resource == res and verb in verbs and ns == where and (names is None or name in names)
               for res, verbs, where, names in GRANTED)


def test_calls_are_granted(t, si):
    answer = si.control("calls")
    calls, asked = answer["calls"], answer["asked"]
    refused = [a for a in asked if not allowed(*a)]
    t.ok(not allowed("secrets", "list", NS, "") and not allowed("secrets", "list", NS, SECRET)
         and not allowed(VWC, "list", "", CONFIG) and not allowed("secrets", "get", NS, "other")
         and not allowed("secrets", "delete", NS, SECRET) and not allowed(VWC, "update", "", CONFIG),
         "the check refuses a list of every Secret or of the one by name, a list of a configuration, another "
         "Secret, a delete, an update of a configuration")
    t.ok(not refused and {"create", "update", "watch", "get"} <= set(calls.get("secrets", {}))
         and {"get", "watch", "patch"} <= set(calls.get(VWC, {}))
         and {"get", "watch", "patch"} <= set(calls.get(MWC, {}))
         and not any("list" in calls.get(r, {}) for r in ("secrets", VWC, MWC)),
         "every request of the replicas is one the chart's RBAC grants, and none is a list: its one Secret by "
         "name (get, watch by a fieldSelector on its name, update), create in its namespace, the two webhook "
         "configurations by name (get, watch, patch)", json.dumps({"refused": refused, "calls": calls})[:1500])


def main():
    t = tap.Tap()
    with tempfile.TemporaryDirectory() as tmp:
        os.mkdir(os.path.join(tmp, "standin"))
        si = StandIn(os.path.join(tmp, "standin"))
        kubeconfig = os.path.join(tmp, "kubeconfig")
        write_kubeconfig(kubeconfig, si.info, "https://127.0.0.1:1")
        replicas = []
        try:
            test_usage(t, kubeconfig)
            put_object(si, MWC, CONFIG, webhook_config("mutate.dsguard.io", "/mutate"))
            si.control("calls", {"reset": True})
            si.control("latency", {"resource": "secrets", "verb": "create", "seconds": HOLD})
            replicas = [Replica(tmp, name, kubeconfig) for name in ("replica-a", "replica-b")]
            test_from_empty(t, si, replicas)
            test_reset_is_repatched(t, si, replicas)
            test_rotation_under_load(t, si, replicas)
            test_secret_deleted_or_broken(t, si, replicas)
            test_racing_writes(t, si, replicas)
            test_wrong_names(t, si, replicas, tmp)
            test_adopted(t, si, replicas)
            test_crash_mid_rotation(t, si, replicas)
            test_calls_are_granted(t, si)
        finally:
            for r in replicas:
                if r.proc.returncode is None:
                    t.eq(r.stop(), 0, f"{r.name}: SIGTERM: exit 0")
                    t.ok(not any("unparsed" in x for x in r.lines()), f"{r.name}: every log line is JSON")
            si.stop()
    t.done()


if __name__ == "__main__":
    main()
