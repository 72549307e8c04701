"""dsguard serve with the cluster cache, against the stand-in API server
(fake_apiserver.py): DS003 on CREATE from the cluster's DaemonSets, the
watch keeping it right (ADDED, DELETED, a dropped watch answered 410 Gone,
an ERROR event), UPDATE never denied by DS003, dryRun reserving nothing,
two concurrent CREATEs in one namespace of which exactly one is admitted,
/readyz and --on-unsynced while the API server is down or failing, the
cache's metrics, --context, and a bad kubeconfig refused with its line."""
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
from test_webhook_serve import (Server, daemonset, make_ca, make_cert, metric, parse_metrics,  # noqa: E402
                                review_request)

PYTHON = os.environ.get("PYTHON", sys.executable)
STAND_IN = os.path.join(tap.ROOT, "test", "e2e", "fake_apiserver.py")
SEEDS = ("a/agent-a", "b/agent-b", "c/agent-c")
CACHE_METRICS = ("objects", "namespaces", "reservations", "synced", "watching", "relists_total",
                 "watch_restarts_total", "last_event_age_seconds")
SLOW = os.environ.get("DSGUARD_SANITIZE") == "1" or os.environ.get("DSGUARD_VALGRIND") == "1"
WAIT = 30 if SLOW else 10  # seconds for the watch to catch up


# ---- the stand-in and its kubeconfig ----

class StandIn:
    """fake_apiserver.py in a process of its own, as test_kube.py starts it."""

    def __init__(self, d):
        args = [PYTHON, STAND_IN, "--dir", d]
        for seed in SEEDS:
            args += ["--seed", seed]
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.info = json.loads(self.proc.stdout.readline())

    def control(self, cmd, body=None):
        """POSTs to /_control/CMD; returns the stand-in's counts."""
        host, port = self.info["url"].rsplit("/", 1)[1].split(":")
        conn = http.client.HTTPSConnection(host, int(port), timeout=10,
                                           context=ssl.create_default_context(cafile=self.info["ca"]))
        conn.request("POST", "/_control/" + cmd, body=json.dumps(body or {}),
                     headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        data = json.loads(resp.read())
        conn.close()
        return data

    def stop(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=10)


def closed_port():
    """A local port nothing listens on."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def write_kubeconfig(path, info, down_url):
    """A kubeconfig with two contexts: `stand-in` (its CA and token) and
    the current one, `elsewhere`, whose server is down."""
    with open(path, "w") as f:
        f.write(f"""apiVersion: v1
kind: Config
clusters:
- name: stand-in
  cluster:
    server: {info['url']}
    certificate-authority: {info['ca']}
- name: elsewhere
  cluster:
    server: {down_url}
    certificate-authority: {info['ca']}
users:
- name: test
  user:
    token: {info['token']}
contexts:
- name: stand-in
  context:
    cluster: stand-in
    user: test
- name: elsewhere
  context:
    cluster: elsewhere
    user: test
current-context: elsewhere
""")


class ClusterServer(Server):
    """`dsguard serve` with the cluster cache: Server's helpers, its own flags."""

    def __init__(self, tmp, ca, cert, key, *args, name):
        super().__init__(tmp, ca, cert, key, *args, name=name, cluster=None)

    def readyz(self):
        return self.request("GET", "/readyz")[0]

    def create(self, ns, name, dry_run=False, op="CREATE"):
        """Reviews a compliant DaemonSet ns/name: (allowed, message, warnings)."""
        obj = daemonset(ns, name, {"priorityClassName": "node-agents"})
        req = review_request(obj, op=op, old=obj if op == "UPDATE" else None, dry_run=dry_run)
        status, body = self.review("/validate", req)
        r = (body or {}).get("response", {})
        if status != 200:
            return None, f"HTTP {status}", []
        return r.get("allowed"), r.get("status", {}).get("message", ""), r.get("warnings", [])

    def cache(self):
        """The dsguard_cluster_cache_* metrics, by short name."""
        m = self.metrics()
        return {n: metric(m, "dsguard_cluster_cache_" + n) for n in CACHE_METRICS}


def wait_for(cond, timeout=WAIT):
    """Polls cond until it is true or timeout seconds pass; returns its last value."""
    deadline = time.time() + timeout
    while True:
        value = cond()
        if value or time.time() > deadline:
            return value
        time.sleep(0.05)


# ---- the tests ----

def test_bad_kubeconfig(t, tmp, ca, cert, key, info):
    """A kubeconfig dsguard cannot use stops serve at start, naming the line."""
    path = os.path.join(tmp, "bad-kubeconfig")
    with open(path, "w") as f:
        f.write("apiVersion: v1\nkind: Config\nclusters:\n- name: x\n  cluster:\n    server: "
                f"{info['url']}\nusers:\n- name: u\n  user:\n    exec:\n      command: get-token\n"
                "contexts:\n- name: x\n  context:\n    cluster: x\n    user: u\ncurrent-context: x\n")
    run = subprocess.run([tap.BIN, "serve", "--listen", "127.0.0.1:0", "--tls-cert", cert, "--tls-key", key,
                          "--kubeconfig", path], capture_output=True, text=True, timeout=30)
    t.ok(run.returncode == 2 and "bad-kubeconfig:11:7: exec: is not supported" in run.stderr,
         "a kubeconfig with an exec user: exit 2, file:line:col and key", run.stderr)
    run = subprocess.run([tap.BIN, "serve", "--listen", "127.0.0.1:0", "--tls-cert", cert, "--tls-key", key,
                          "--kubeconfig", os.path.join(tmp, "kubeconfig"), "--context", "nowhere"],
                         capture_output=True, text=True, timeout=30)
    t.ok(run.returncode == 2 and "nowhere" in run.stderr, "an unknown --context: exit 2, named", run.stderr)
    run = subprocess.run([tap.BIN, "serve", "--tls-cert", cert, "--tls-key", key, "--cluster", "off",
                          "--kubeconfig", path], capture_output=True, text=True, timeout=30)
    t.ok(run.returncode == 2 and "--cluster off" in run.stderr, "--kubeconfig with --cluster off: usage error",
         run.stderr)
    env = {k: v for k, v in os.environ.items() if not k.startswith("KUBERNETES_")}
    run = subprocess.run([tap.BIN, "serve", "--listen", "127.0.0.1:0", "--tls-cert", cert, "--tls-key", key,
                          "--cluster", "on"], capture_output=True, text=True, timeout=30, env=env)
    t.ok(run.returncode == 2 and "cannot start the cluster cache" in run.stderr,
         "--cluster on outside a cluster without --kubeconfig: exit 2, saying why", run.stderr)


def test_auto_outside_a_cluster(t, tmp, ca, cert, key):
    """--cluster auto (the default) outside a cluster, without --kubeconfig: DS003 off."""
    srv = ClusterServer(tmp, ca, cert, key, name="auto")
    try:
        t.ok(srv.port is not None and srv.readyz() == 200, "auto outside a cluster: serving, /readyz 200 at once")
        t.ok(any("DS003" in x.get("msg", "") and "off" in x.get("msg", "") for x in srv.lines()),
             "auto outside a cluster: the log says DS003 is off")
        t.ok(not any(k[0].startswith("dsguard_cluster_cache_") for k in srv.metrics()),
             "auto outside a cluster: no cache metrics")
    finally:
        t.eq(srv.stop(), 0, "auto: exit 0 on SIGTERM")


def test_synced(t, srv, stand_in):
    t.ok(srv.port is not None, "serve --kubeconfig --context stand-in starts", open(srv.log_path).read())
    t.ok(wait_for(lambda: srv.readyz() == 200), "/readyz 200 once the first list has synced")
    lines = srv.lines()
    t.ok(any(x.get("msg") == "serving" and x.get("cluster") is True for x in lines)
         and not any("DS003" in x.get("msg", "") and "off" in x.get("msg", "") for x in lines),
         "the start log says the cluster cache is on, and no DS003-off warning")
    t.ok(any(stand_in.info["url"] in x.get("msg", "") for x in lines), "the log names the API server watched")
    c = wait_for(lambda: (lambda m: m if m["watching"] == 1 else None)(srv.cache()))
    t.ok(c and c["synced"] == 1 and c["objects"] == 3 and c["namespaces"] == 3 and c["reservations"] == 0
         and c["relists_total"] == 0 and c["last_event_age_seconds"] >= 0,
         "metrics: synced, watching, 3 DaemonSets in 3 namespaces", c)


def test_acceptance(t, srv, stand_in):
    allowed, msg, _ = srv.create("a", "new-a")
    t.ok(allowed is False and "DS003 dedicated-namespace: namespace a is shared with DaemonSet a/agent-a" in msg,
         "CREATE in a is denied naming a/agent-a", msg)
    allowed, msg, warnings = srv.create("d", "first-d")
    t.ok(allowed is True and not warnings, "CREATE in d (empty) is allowed", msg)
    t.eq(srv.cache()["reservations"], 1, "the admitted CREATE in d holds a reservation")
    stand_in.control("add", {"namespace": "d", "name": "first-d"})
    c = wait_for(lambda: (lambda m: m if m["objects"] == 4 else None)(srv.cache()))
    t.ok(c and c["reservations"] == 0, "ADDED d/first-d reaches the cache and ends its reservation", c)
    allowed, msg, _ = srv.create("d", "second-d")
    t.ok(allowed is False and "shared with DaemonSet d/first-d" in msg,
         "after ADDED in d, a second CREATE in d is denied naming d/first-d", msg)
    stand_in.control("delete", {"namespace": "a", "name": "agent-a"})
    t.ok(wait_for(lambda: srv.cache()["objects"] == 3), "DELETED a/agent-a reaches the cache")
    allowed, msg, _ = srv.create("a", "new-a")
    t.ok(allowed is True, "after DELETED in a, CREATE in a is allowed", msg)


def test_update_and_dry_run(t, srv, stand_in):
    n = stand_in.control("add", {"namespace": "c", "name": "agent-c2"})["objects"]
    t.ok(wait_for(lambda: srv.cache()["objects"] == n), "ADDED c/agent-c2: c is shared")
    allowed, msg, warnings = srv.create("c", "agent-c", op="UPDATE")
    t.ok(allowed is True and not any("DS003" in w for w in warnings),
         "UPDATE of c/agent-c in the shared namespace c: not denied, not warned by DS003", (msg, warnings))
    allowed, msg, _ = srv.create("c", "agent-c3")
    t.ok(allowed is False and "shared with DaemonSet c/agent-c" in msg, "CREATE in c is denied", msg)
    before = srv.cache()["reservations"]
    allowed, msg, _ = srv.create("e", "dry-e", dry_run=True)
    t.ok(allowed is True, "dryRun CREATE in e is allowed", msg)
    t.eq(srv.cache()["reservations"], before, "the dryRun reserved nothing")
    allowed, msg, _ = srv.create("e", "real-e")
    t.ok(allowed is True, "then a real CREATE in e of another name is allowed", msg)
    t.eq(srv.cache()["reservations"], before + 1, "the real CREATE in e holds a reservation")


def concurrent_pair(srv, ns):
    """Sends CREATEs of ns/one and ns/two at the same moment; returns both answers."""
    barrier = threading.Barrier(2)
    results = {}

    def send(name):
        conn = srv.connection()
        conn.connect()  # the TLS handshake before the barrier, so both requests leave together
        barrier.wait()
        obj = daemonset(ns, name, {"priorityClassName": "node-agents"})
        status, body = srv.review("/validate", review_request(obj), conn=conn)
        conn.close()
        r = (body or {}).get("response", {})
        results[name] = (r.get("allowed"), r.get("status", {}).get("message", ""))

    threads = [threading.Thread(target=send, args=(n,)) for n in ("one", "two")]
    for th in threads:
        th.start()
    for th in threads:
        th.join(30)
    return results


def test_concurrent_creates(t, srv):
    rounds = [concurrent_pair(srv, ns) for ns in ("f", "f2", "f3", "f4", "f5")]
    good = 0
    for ns, res in zip(("f", "f2", "f3", "f4", "f5"), rounds):
        verdicts = sorted(v[0] for v in res.values())
        denied = [(name, m) for name, (ok, m) in res.items() if ok is False]
        good += verdicts == [False, True] and f"shared with DaemonSet {ns}/" in denied[0][1] and \
            f"{ns}/{'two' if denied[0][0] == 'one' else 'one'}" in denied[0][1]
    t.eq(good, 5, "two concurrent CREATEs in one namespace: exactly one allowed, the other denied naming it "
                  "(5 rounds)")
    if good != 5:
        print("#   " + json.dumps(rounds))


def test_relist(t, srv, stand_in):
    stand_in.control("config", {"gone_mode": "http"})
    n = stand_in.control("drop", {"add": [["g", "agent-g"]], "delete": [["b", "agent-b"]], "compact": True})["objects"]
    c = wait_for(lambda: (lambda m: m if m["relists_total"] >= 1 and m["watching"] == 1 else None)(srv.cache()))
    t.ok(c and c["objects"] == n, "a dropped watch answered 410 Gone: the cache relists (metrics show it)", c)
    allowed, msg, _ = srv.create("g", "other-g")
    t.ok(allowed is False and "shared with DaemonSet g/agent-g" in msg,
         "after the relist, CREATE in g (added while the watch was down) is denied", msg)
    allowed, msg, _ = srv.create("b", "new-b")
    t.ok(allowed is True, "after the relist, CREATE in b (emptied while the watch was down) is allowed", msg)
    allowed, msg, _ = srv.create("d", "third-d")
    t.ok(allowed is False and "d/first-d" in msg, "after the relist, d still denies", msg)
    stand_in.control("compact")
    stand_in.control("error", {"code": 410})
    n = stand_in.control("add", {"namespace": "h", "name": "agent-h"})["objects"]
    c = wait_for(lambda: (lambda m: m if m["relists_total"] >= 2 and m["objects"] == n else None)(srv.cache()))
    t.ok(c is not None, "an ERROR event with a 410 Status: the cache relists again and sees h", c)
    allowed, msg, _ = srv.create("h", "other-h")
    t.ok(allowed is False and "h/agent-h" in msg, "CREATE in h is denied", msg)
    t.ok(any("410" in x.get("msg", "") and "cluster cache" in x.get("msg", "") for x in srv.lines()),
         "the log says why the cache listed again")


def test_metrics_text(t, srv):
    status, headers, body = srv.request("GET", "/metrics")
    text = body.decode()
    try:
        parsed = parse_metrics(text)
    except ValueError as e:
        parsed = None
        t.ok(False, "/metrics parses", str(e))
    types = dict(re.findall(r"^# TYPE (\S+) (\S+)$", text, re.M))
    want = {f"dsguard_cluster_cache_{n}": ("counter" if n.endswith("_total") else "gauge") for n in CACHE_METRICS}
    t.ok(parsed is not None and all(types.get(n) == k and (n, frozenset()) in parsed for n, k in want.items()),
         "/metrics: every dsguard_cluster_cache_* metric, typed", text[-2500:])
    t.eq(metric(parsed or {}, "dsguard_cluster_state_enabled"), 1.0, "dsguard_cluster_state_enabled 1")
    t.ok(metric(parsed or {}, "dsguard_cluster_cache_watch_restarts_total") >= 1,
         "watch restarts counted after the dropped watch")


def test_down_at_start(t, tmp, ca, cert, key, kubeconfig):
    """The stand-in's context with nothing listening: never synced."""
    down = os.path.join(tmp, "kubeconfig-down")
    with open(kubeconfig) as f, open(down, "w") as g:
        g.write(f.read())  # current-context `elsewhere` is the down server
    for mode in ("allow", "deny"):
        srv = ClusterServer(tmp, ca, cert, key, "--kubeconfig", down, "--cluster", "on", "--on-unsynced", mode,
                            name=f"down-{mode}")
        try:
            t.ok(srv.port is not None, f"API server down: serve starts anyway (--on-unsynced {mode})",
                 open(srv.log_path).read())
            if srv.port is None:
                continue
            time.sleep(0.5)
            t.eq((srv.readyz(), srv.request("GET", "/healthz")[0]), (503, 200),
                 f"API server down ({mode}): /readyz 503, /healthz 200")
            allowed, msg, warnings = srv.create("a", "new-a")
            if mode == "allow":
                t.ok(allowed is True and any(w.startswith("DS003 dedicated-namespace: could not be checked")
                                             for w in warnings),
                     "not synced, --on-unsynced allow: allowed with a warning that DS003 was not checked",
                     (msg, warnings))
            else:
                t.ok(allowed is False and "DS003 dedicated-namespace: could not be checked" in msg
                     and "--on-unsynced deny" in msg,
                     "not synced, --on-unsynced deny: denied, saying why", msg)
            allowed, msg, _ = srv.create("a", "agent-a", op="UPDATE")
            t.ok(allowed is True, f"not synced ({mode}): an UPDATE is allowed", msg)
            c = srv.cache()
            t.ok(c["synced"] == 0 and c["watching"] == 0 and c["reservations"] == 0,
                 f"not synced ({mode}): metrics say so, nothing reserved", c)
            t.ok(any("cluster cache" in x.get("msg", "") and x.get("level") == "warn" for x in srv.lines()),
                 f"not synced ({mode}): the failing list is logged as a warning")
        finally:
            t.eq(srv.stop(), 0, f"down-{mode}: exit 0 on SIGTERM while the cache retries")


def test_recovers(t, tmp, ca, cert, key, kubeconfig, stand_in):
    """The API server fails the first requests: the cache retries with backoff."""
    stand_in.control("config", {"unavailable": 3})
    srv = ClusterServer(tmp, ca, cert, key, "--kubeconfig", kubeconfig, "--context", "stand-in",
                        name="recovers")
    try:
        t.eq(srv.readyz(), 503, "503 from the API server at start: /readyz 503")
        t.ok(wait_for(lambda: srv.readyz() == 200), "the cache retries and /readyz turns 200")
        allowed, msg, _ = srv.create("g", "late-g")
        t.ok(allowed is False and "g/agent-g" in msg, "then DS003 is checked", msg)
    finally:
        t.eq(srv.stop(), 0, "recovers: exit 0 on SIGTERM")


def main():
    t = tap.Tap()
    with tempfile.TemporaryDirectory() as tmp:
        ca = make_ca(tmp, "ca")
        cert, key = make_cert(tmp, "server", ca)
        os.mkdir(os.path.join(tmp, "standin"))
        stand_in = StandIn(os.path.join(tmp, "standin"))
        kubeconfig = os.path.join(tmp, "kubeconfig")
        write_kubeconfig(kubeconfig, stand_in.info, f"https://127.0.0.1:{closed_port()}")
        srv = None
        try:
            test_bad_kubeconfig(t, tmp, ca[0], cert, key, stand_in.info)
            test_auto_outside_a_cluster(t, tmp, ca[0], cert, key)
            srv = ClusterServer(tmp, ca[0], cert, key, "--kubeconfig", kubeconfig, "--context", "stand-in",
                                name="serve")
            test_synced(t, srv, stand_in)
            if srv.port is not None:
                test_acceptance(t, srv, stand_in)
                test_update_and_dry_run(t, srv, stand_in)
                test_concurrent_creates(t, srv)
                test_relist(t, srv, stand_in)
                test_metrics_text(t, srv)
            test_down_at_start(t, tmp, ca[0], cert, key, kubeconfig)
            test_recovers(t, tmp, ca[0], cert, key, kubeconfig, stand_in)
        finally:
            if srv:
                t.eq(srv.stop(signal.SIGTERM), 0, "serve: the server drains, the cache stops, exit 0")
                t.ok(not any("unparsed" in x for x in srv.lines()), "every log line is JSON")
            stand_in.stop()
    t.done()


if __name__ == "__main__":
    main()
