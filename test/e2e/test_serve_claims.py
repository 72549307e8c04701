"""dsguard serve --claims cluster against the stand-in API server
(fake_apiserver.py): DS003 exact across replicas. Two serve processes share
one stand-in; for each of 20 fresh namespaces 16 concurrent CREATEs with
different names, spread over both replicas and both endpoints, admit exactly
one and deny every other naming it (the whole run five times). Also: the
Lease each claim is (its name from the namespace, holder, labels,
annotations, MicroTimes), /mutate then /validate of one DaemonSet, names made
by generateName, a CREATE admitted and never stored (held for the TTL, then
taken over), a deleted DaemonSet's claim removed, dry runs claiming nothing,
Lease calls failing or slow (answered within the deadline as --on-unsynced
says), the metrics, and the flags refused."""
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tap  # noqa: E402
from test_serve_cluster import ClusterServer, StandIn, closed_port, write_kubeconfig  # noqa: E402
from test_webhook_serve import daemonset, make_ca, make_cert, metric, parse_metrics, review_request  # noqa: E402

VALGRIND = os.environ.get("DSGUARD_VALGRIND") == "1"
SLOW = VALGRIND or os.environ.get("DSGUARD_SANITIZE") == "1"
CLAIM_NS = "dsguard-system"
# The race: runs x namespaces x concurrent CREATEs (scaled down under valgrind).
RUNS, NAMESPACES, CONCURRENT = (2, 3, 8) if VALGRIND else (5, 20, 16)
TTL = 6.0 if SLOW else 2.0           # the short-TTL replicas' --claim-ttl
DEADLINE = 5.0 if SLOW else 1.0      # their --claim-deadline
WAIT = 40 if SLOW else 15


def lease_name(ns):
    """The Lease's name as docs/cluster.md defines it, computed here on its own."""
    if re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", ns) and len("dsguard-claim-" + ns) <= 63:
        return "dsguard-claim-" + ns
    readable = ""
    for ch in ns:
        if len(readable) == 32:
            break
        if ch.isascii() and (ch.islower() or ch.isdigit() or (ch == "-" and readable)):
            readable += ch
        elif ch.isascii() and ch.isupper():
            readable += ch.lower()
    readable = readable.rstrip("-")
    return "dsguard-claim" + ("-" + readable if readable else "") + "." + hashlib.sha256(ns.encode()).hexdigest()[:16]


class Replica(ClusterServer):
    """`dsguard serve --claims cluster` on the stand-in."""

    def __init__(self, tmp, ca, cert, key, kubeconfig, *args, name):
        super().__init__(tmp, ca, cert, key, "--kubeconfig", kubeconfig, "--context", "stand-in",
                         "--claims", "cluster", "--claim-namespace", CLAIM_NS, "--log-level", "debug", *args,
                         name=name)

    def send(self, path, ns, name=None, generate_name=None, dry_run=False, conn=None):
        """Reviews a CREATE of a compliant DaemonSet on path: (allowed, message, warnings, uid)."""
        obj = daemonset(ns, name or "", {"priorityClassName": "node-agents"})
        if generate_name:
            obj["metadata"]["generateName"] = generate_name
            if not name:
                del obj["metadata"]["name"]
        req = review_request(obj, dry_run=dry_run)
        status, body = self.review(path, req, conn=conn)
        r = (body or {}).get("response", {})
        if status != 200:
            return None, f"HTTP {status}", [], req["request"]["uid"]
        return r.get("allowed"), r.get("status", {}).get("message", ""), r.get("warnings", []), req["request"]["uid"]

    def claims(self):
        m = self.metrics()
        out = {r: metric(m, "dsguard_claims_total", result=r)
               for r in ("claimed", "held", "taken_over", "refused", "error")}
        for n in ("claim_conflicts_total", "claims_released_total", "claims_pending",
                  "claim_duration_seconds_count"):
            out[n] = metric(m, "dsguard_" + n)
        return out


def get_lease(stand_in, ns):
    """The claim Lease of namespace ns in the stand-in, or None."""
    return stand_in.control("object", {"op": "get", "resource": "leases", "namespace": CLAIM_NS,
                                       "name": lease_name(ns)})["object"]


def wait_for(cond, timeout=WAIT):
    deadline = time.time() + timeout
    while True:
        value = cond()
        if value or time.time() > deadline:
            return value
        time.sleep(0.05)


def serve_fails(args, env=None):
    """Runs serve with args that must be refused: (exit code, stderr)."""
    r = subprocess.run([tap.BIN, "serve", "--listen", "127.0.0.1:0", *args], capture_output=True, text=True,
                       timeout=60, env=env)
    return r.returncode, r.stderr


# ---- the tests ----

def test_flags(t, cert, key, kubeconfig):
    base = ["--tls-cert", cert, "--tls-key", key]
    cases = [
        (["--claims", "everywhere"], "--claims must be local or cluster"),
        (["--claims", "cluster", "--cluster", "off"], "--claims cluster needs the cluster state"),
        (["--claim-ttl", "10", "--cluster", "off"], "are for --claims cluster"),
        (["--claims", "cluster", "--kubeconfig", kubeconfig, "--context", "stand-in", "--claim-namespace", "x",
          "--claim-deadline", "31"], "--claim-deadline must be a number of seconds from 0.01 to 10"),
        (["--claims", "cluster", "--kubeconfig", kubeconfig, "--context", "stand-in", "--claim-namespace", "x",
          "--request-timeout", "60", "--claim-deadline", "31"],
         "--claim-deadline must be a number of seconds from 0.01 to 30"),
        (["--claims", "cluster", "--kubeconfig", kubeconfig, "--context", "stand-in", "--claim-namespace", "x",
          "--request-timeout", "3", "--claim-deadline", "3"], "--claim-deadline must be below --request-timeout"),
        (["--claims", "cluster", "--kubeconfig", kubeconfig, "--context", "stand-in", "--claim-namespace", "x",
          "--claim-ttl", "0.5"], "--claim-ttl must be a number of seconds"),
        (["--claims", "cluster", "--kubeconfig", kubeconfig, "--context", "stand-in", "--claim-namespace", "x",
          "--claim-ttl", "nan"], "--claim-ttl must be a number of seconds"),
        (["--claims", "cluster", "--kubeconfig", kubeconfig, "--context", "stand-in"],
         "cannot start the namespace claims: --claims cluster needs a namespace for its Leases: give --claim-namespace"),
        (["--claims", "cluster", "--kubeconfig", kubeconfig, "--context", "stand-in", "--claim-namespace",
          "Not_A_Namespace"], "cannot start the namespace claims: the namespace of the claim Leases, 'Not_A_Namespace', "
                              "is not a namespace name"),
    ]
    for args, words in cases:
        code, err = serve_fails(base + args)
        t.ok(code == 2 and words in err, f"serve {' '.join(args)}: exit 2, '{words}'", f"exit {code}: {err}")


def concurrent_creates(replicas, ns, count):
    """Sends `count` CREATEs of ns/agent-I at the same moment, I-th to
    replica I % 2 on /validate or /mutate by (I // 2) % 2. Returns
    {name: (allowed, message)}."""
    barrier = threading.Barrier(count)
    results = {}

    def one(i):
        name = f"agent-{i:02d}"
        srv = replicas[i % 2]
        conn = srv.connection(timeout=60)
        try:
            conn.connect()  # the TLS handshake first, so that the requests leave together
            barrier.wait(30)
            allowed, msg, _, _ = srv.send("/validate" if (i // 2) % 2 == 0 else "/mutate", ns, name, conn=conn)
            results[name] = (allowed, msg)
        except Exception as e:  # noqa: BLE001 - a failed request is a result the test reports
            results[name] = (None, repr(e))
        finally:
            conn.close()

    threads = [threading.Thread(target=one, args=(i,)) for i in range(count)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(90)
    return results


def exactly_one(ns, results):
    """'' when exactly one CREATE was allowed and every other denied naming
    it (by DS003), else what went wrong."""
    allowed = [n for n, (ok, _) in results.items() if ok is True]
    if len(allowed) != 1:
        return f"{ns}: {len(allowed)} allowed: {sorted(allowed)}"
    want = f"DS003 dedicated-namespace: namespace {ns} is shared with DaemonSet {ns}/{allowed[0]};"
    wrong = {n: m for n, (ok, m) in results.items() if n != allowed[0] and not (ok is False and want in m)}
    return f"{ns}: denied without naming {allowed[0]}: {wrong}" if wrong else ""


def test_race(t, replicas, stand_in):
    """The acceptance: exactly one CREATE per namespace across replicas."""
    started = time.time()
    for run in range(RUNS):
        problems = []
        for k in range(NAMESPACES):
            ns = f"race-{run}-{k}"
            problem = exactly_one(ns, concurrent_creates(replicas, ns, CONCURRENT))
            if problem:
                problems.append(problem)
            lease = get_lease(stand_in, ns)
            if not problem and (lease or {}).get("spec", {}).get("holderIdentity") is None:
                problems.append(f"{ns}: no claim Lease")
        t.ok(not problems, f"race run {run + 1}/{RUNS}: {NAMESPACES} namespaces x {CONCURRENT} concurrent CREATEs "
                           "over 2 replicas and both endpoints: exactly one allowed in each, every other denied "
                           "naming it", "\n".join(problems))
    print(f"# the race: {RUNS * NAMESPACES * CONCURRENT} reviews in {time.time() - started:.1f} s")
    a, b = replicas[0].claims(), replicas[1].claims()
    made = a["claimed"] + b["claimed"] + a["taken_over"] + b["taken_over"]
    t.eq(made, RUNS * NAMESPACES, "metrics: one claim made per namespace, across both replicas")
    t.ok(a["refused"] + b["refused"] >= RUNS * NAMESPACES * (CONCURRENT - 1) and a["error"] + b["error"] == 0,
         "metrics: the others refused, no error", (a, b))


def test_lease_shape(t, replicas, stand_in):
    """The Lease of a claim, and /mutate then /validate of one DaemonSet."""
    a, b = replicas
    allowed, msg, _, _ = a.send("/mutate", "shape", "fluentd")
    lease = get_lease(stand_in, "shape")
    spec, meta = (lease or {}).get("spec", {}), (lease or {}).get("metadata", {})
    micro = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$"
    t.ok(allowed is True and spec.get("holderIdentity") == "fluentd" and meta.get("namespace") == CLAIM_NS
         and meta.get("labels") == {"app.kubernetes.io/managed-by": "dsguard", "dsguard.io/claim": "dedicated-namespace"}
         and meta.get("annotations") == {"dsguard.io/namespace": "shape", "dsguard.io/daemonset": "fluentd"}
         and spec.get("leaseDurationSeconds") == 30 and spec.get("leaseTransitions") == 0
         and re.match(micro, spec.get("acquireTime", "")) and spec.get("renewTime") == spec.get("acquireTime"),
         "/mutate claims the namespace: Lease dsguard-claim-shape in the claim namespace, holder the DaemonSet, "
         "labels and annotations naming both, MicroTimes", json.dumps(lease))
    allowed, msg, _, _ = b.send("/validate", "shape", "fluentd")
    t.ok(allowed is True, "/validate of the same DaemonSet on the other replica: the same claim, allowed", msg)
    allowed, msg, _, _ = b.send("/validate", "shape", "other")
    t.ok(allowed is False and "shared with DaemonSet shape/fluentd" in msg, "another DaemonSet: denied naming it", msg)
    long_ns = "n" * 40 + "-with-a-long-name-x"
    allowed, msg, _, _ = a.send("/validate", long_ns, "agent")
    lease = get_lease(stand_in, long_ns)
    t.ok(allowed is True and lease is not None and len(lease_name(long_ns)) <= 63
         and lease["metadata"]["annotations"]["dsguard.io/namespace"] == long_ns,
         f"a namespace of {len(long_ns)} characters: Lease {lease_name(long_ns)} (a prefix and a hash)")
    before = stand_in.control("calls")["calls"].get("leases", {})
    allowed, msg, _, _ = a.send("/validate", "dry", "agent", dry_run=True)
    after = stand_in.control("calls")["calls"].get("leases", {})
    t.ok(allowed is True and before == after and get_lease(stand_in, "dry") is None,
         "a dry run claims nothing (no Lease call)", (before, after))


def test_generate_name(t, replicas, stand_in):
    """/mutate before the name exists, /validate after."""
    a, b = replicas
    allowed, msg, _, uid = a.send("/mutate", "gen", generate_name="agent-")
    lease = get_lease(stand_in, "gen")
    notes = (lease or {}).get("metadata", {}).get("annotations", {})
    t.ok(allowed is True and (lease or {}).get("spec", {}).get("holderIdentity") == "agent-" + uid
         and notes.get("dsguard.io/generate-name") == "agent-" and "dsguard.io/daemonset" not in notes,
         "/mutate of a generateName CREATE: claimed for the prefix and the request's uid", json.dumps(lease))
    allowed, msg, _, _ = b.send("/mutate", "gen", generate_name="agent-")
    t.ok(allowed is True, "/mutate again with the same generateName (each webhook call has a uid of its own, so "
                          "it may be the same request): allowed", msg)
    allowed, msg, _, _ = a.send("/mutate", "gen", generate_name="other-")
    t.ok(allowed is False and f"shared with DaemonSet gen/agent-{uid}" in msg,
         "/mutate with another generateName: denied naming the claim", msg)
    allowed, msg, _, _ = b.send("/validate", "gen", "agent-x7k2p", generate_name="agent-")
    lease = get_lease(stand_in, "gen")
    notes = (lease or {}).get("metadata", {}).get("annotations", {})
    t.ok(allowed is True and lease["spec"]["holderIdentity"] == "agent-x7k2p"
         and notes.get("dsguard.io/daemonset") == "agent-x7k2p" and "dsguard.io/generate-name" not in notes,
         "/validate with the generated name confirms the claim: the holder is the name now", json.dumps(lease))
    allowed, msg, _, _ = a.send("/validate", "gen", "agent-qq9zt", generate_name="agent-")
    t.ok(allowed is False and "shared with DaemonSet gen/agent-x7k2p" in msg,
         "a second /validate with the same generateName: denied naming the first generated name", msg)
    allowed, msg, _, _ = a.send("/validate", "gen2", "agent-m3n4p", generate_name="agent-")
    t.ok(allowed is True and get_lease(stand_in, "gen2")["spec"]["holderIdentity"] == "agent-m3n4p",
         "/validate alone (no /mutate before it): claimed with the generated name")


def test_never_stored(t, short, stand_in):
    """A CREATE admitted then never stored: held for the TTL, then taken over."""
    a, b = short
    allowed, msg, _, _ = a.send("/validate", "lost", "first")
    made = time.time()
    t.ok(allowed is True, "a CREATE admitted (the stand-in never stores it)", msg)
    allowed, msg, _, _ = b.send("/validate", "lost", "second")
    early = time.time() - made
    t.ok(allowed is False and "shared with DaemonSet lost/first" in msg,
         f"{early:.1f} s later (TTL {TTL:g} s), another DaemonSet on the other replica: denied naming it", msg)
    time.sleep(max(0.0, TTL + 0.3 - (time.time() - made)))
    allowed, msg, _, _ = b.send("/validate", "lost", "second")
    lease = get_lease(stand_in, "lost")
    t.ok(allowed is True and lease["spec"]["holderIdentity"] == "second",
         "after the TTL: the other DaemonSet is admitted and holds the claim", (msg, json.dumps(lease)))
    allowed, msg, _, _ = a.send("/validate", "lost", "first")
    t.ok(allowed is False and "shared with DaemonSet lost/second" in msg,
         "and the first one, sent again, is denied naming it", msg)


def test_stale_takeover(t, short, stand_in):
    """A claim whose DaemonSet does not exist, older than the TTL, left by a
    replica that is gone: taken over with the resourceVersion read."""
    a, _ = short
    old = time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime(time.time() - 3600))
    stand_in.control("object", {"op": "put", "resource": "leases", "namespace": CLAIM_NS,
                                "name": lease_name("stale"),
                                "object": {"spec": {"holderIdentity": "gone", "acquireTime": old, "renewTime": old,
                                                    "leaseTransitions": 2}}})
    stand_in.control("object", {"op": "put", "resource": "leases", "namespace": CLAIM_NS,
                                "name": lease_name("alive"),
                                "object": {"spec": {"holderIdentity": "agent-alive", "acquireTime": old,
                                                    "renewTime": old}}})
    # agent-alive exists in the API server, but this replica's watch is kept from seeing it
    stand_in.control("fault", {"resource": "daemonsets", "verb": "watch", "code": 500})
    stand_in.control("drop", {"add": [["alive", "agent-alive"]]})
    before = a.claims()["taken_over"]
    allowed, msg, _, _ = a.send("/validate", "stale", "fresh")
    lease = get_lease(stand_in, "stale")
    t.ok(allowed is True and lease["spec"]["holderIdentity"] == "fresh" and lease["spec"]["leaseTransitions"] == 3
         and a.claims()["taken_over"] == before + 1,
         "an hour-old claim whose DaemonSet does not exist: taken over (leaseTransitions 3, counted)",
         (msg, json.dumps(lease)))
    allowed, msg, _, _ = a.send("/validate", "alive", "newcomer")
    t.ok(allowed is False and "shared with DaemonSet alive/agent-alive" in msg and a.cache()["objects"] == 3,
         "an old claim whose DaemonSet exists (the watch has not seen it): denied naming it", msg)
    stand_in.control("fault", {"clear": True})


def test_deleted(t, short, stand_in):
    """The claim of a DaemonSet that is deleted is removed; that of one that
    exists stays."""
    a, b = short
    allowed, _, _, _ = a.send("/validate", "kept", "agent-kept")
    allowed2, _, _, _ = a.send("/validate", "gone", "agent-gone")
    stand_in.control("add", {"namespace": "kept", "name": "agent-kept"})
    n = stand_in.control("add", {"namespace": "gone", "name": "agent-gone"})["objects"]
    t.ok(allowed and allowed2 and wait_for(lambda: a.cache()["objects"] == n and b.cache()["objects"] == n),
         "two CREATEs admitted, then stored (the watch sees them)")
    stand_in.control("delete", {"namespace": "gone", "name": "agent-gone"})
    t.ok(wait_for(lambda: get_lease(stand_in, "gone") is None, TTL + WAIT),
         "the DaemonSet deleted: its claim is removed once its TTL has passed")
    time.sleep(0.5)
    t.ok(get_lease(stand_in, "kept") is not None and a.claims()["claims_released_total"]
         + b.claims()["claims_released_total"] >= 1,
         "the claim of the DaemonSet that exists stays; removals are counted")
    allowed, msg, _, _ = b.send("/validate", "gone", "successor")
    t.ok(allowed is True and get_lease(stand_in, "gone")["spec"]["holderIdentity"] == "successor",
         "a new DaemonSet in the emptied namespace is admitted", msg)


def test_failing_leases(t, short, stand_in):
    """Lease calls that fail or hang: answered within the deadline, as --on-unsynced says."""
    allow, deny = short
    for fault, what in (({"code": 500}, "answered 500"), ({"code": 403}, "answered 403"),
                        ({"code": "drop"}, "dropped")):
        stand_in.control("fault", dict(resource="leases", verb="*", **fault))
        allowed, msg, warnings, uid = allow.send("/validate", "faulty-" + what.split()[-1], "agent")
        t.ok(allowed is True and any("DS003 dedicated-namespace: could not be checked: the namespace could not be "
                                     "claimed" in w for w in warnings),
             f"Lease calls {what}, --on-unsynced allow: allowed with a warning", (msg, warnings))
        allowed, msg, _, _ = deny.send("/validate", "faulty-" + what.split()[-1], "agent")
        t.ok(allowed is False and "the namespace could not be claimed in the API server in time (--on-unsynced deny)"
             in msg, f"Lease calls {what}, --on-unsynced deny: denied, saying why", msg)
        stand_in.control("fault", {"clear": True})
    line = allow.log_line(uid) or {}
    t.ok(line.get("unclaimed") is True and any("claims: namespace faulty" in x.get("msg", "") and x.get("level") == "warn"
                                                for x in allow.lines()),
         "the review's log line says unclaimed; a warning line gives the cause", line)
    stand_in.control("latency", {"resource": "leases", "verb": "*", "seconds": DEADLINE + 3})
    for srv, mode in ((allow, "allow"), (deny, "deny")):
        started = time.time()
        allowed, msg, warnings, _ = srv.send("/validate", "slow-" + mode, "agent")
        took = time.time() - started
        t.ok(allowed is (mode == "allow"), f"Lease calls slower than the deadline, --on-unsynced {mode}: "
                                           f"{'allowed' if mode == 'allow' else 'denied'}", (msg, warnings))
        if SLOW:
            t.skip(f"answered within the deadline ({mode})", "timing is not checked under sanitizers or valgrind")
        else:
            t.ok(took < DEADLINE + 1.0, f"... answered in {took:.2f} s (deadline {DEADLINE:g} s)")
    stand_in.control("latency", {"clear": True})
    c = allow.claims()
    t.ok(c["error"] >= 4, "metrics: the failed claims are counted as errors", c)
    allowed, msg, _, _ = allow.send("/validate", "healed", "agent")
    t.ok(allowed is True and get_lease(stand_in, "healed") is not None, "the faults cleared: claims work again", msg)


def test_metrics(t, replicas):
    status, _, body = replicas[0].request("GET", "/metrics")
    text = body.decode()
    try:
        parsed = parse_metrics(text)
    except ValueError as e:
        parsed = {}
        t.ok(False, "/metrics parses", str(e))
    types = dict(re.findall(r"^# TYPE (\S+) (\S+)$", text, re.M))
    want = {"dsguard_claims_total": "counter", "dsguard_claim_conflicts_total": "counter",
            "dsguard_claims_released_total": "counter", "dsguard_claims_pending": "gauge",
            "dsguard_claim_duration_seconds": "histogram"}
    t.ok(all(types.get(n) == k for n, k in want.items()), "/metrics: the claim metrics, typed",
         {n: types.get(n) for n in want})
    buckets = sorted((float(dict(k[1])["le"]), v) for k, v in parsed.items()
                     if k[0] == "dsguard_claim_duration_seconds_bucket" and dict(k[1])["le"] != "+Inf")
    count = metric(parsed, "dsguard_claim_duration_seconds_count")
    t.ok(count > 0 and all(buckets[i][1] <= buckets[i + 1][1] for i in range(len(buckets) - 1))
         and metric(parsed, "dsguard_claim_duration_seconds_bucket", le="+Inf") == count,
         "the claim latency histogram: cumulative buckets, +Inf equals the count", count)


def main():
    t = tap.Tap()
    with tempfile.TemporaryDirectory() as tmp:
        ca = make_ca(tmp, "ca")
        cert, key = make_cert(tmp, "server", ca)
        os.mkdir(os.path.join(tmp, "standin"))
        stand_in = StandIn(os.path.join(tmp, "standin"))
        kubeconfig = os.path.join(tmp, "kubeconfig")
        write_kubeconfig(kubeconfig, stand_in.info, f"https://127.0.0.1:{closed_port()}")
        servers = []
        try:
            test_flags(t, cert, key, kubeconfig)
            race_args = ("--on-unsynced", "deny", "--request-timeout", "30", "--claim-deadline", "20" if SLOW else "8")
            replicas = [Replica(tmp, ca[0], cert, key, kubeconfig, *race_args, name=f"replica-{i}") for i in (0, 1)]
            short_args = ("--claim-ttl", str(TTL), "--claim-deadline", str(DEADLINE))
            short = [Replica(tmp, ca[0], cert, key, kubeconfig, *short_args, "--on-unsynced", mode, name=f"short-{mode}")
                     for mode in ("allow", "deny")]
            servers = replicas + short
            up = all(s.port is not None for s in servers) and \
                wait_for(lambda: all(s.readyz() == 200 for s in servers))
            t.ok(up, "four replicas with --claims cluster start and sync",
                 "\n".join(open(s.log_path).read()[-1500:] for s in servers))
            if up:
                test_race(t, replicas, stand_in)
                test_lease_shape(t, replicas, stand_in)
                test_generate_name(t, replicas, stand_in)
                test_never_stored(t, short, stand_in)
                test_stale_takeover(t, short, stand_in)
                test_deleted(t, short, stand_in)
                test_failing_leases(t, short, stand_in)
                test_metrics(t, replicas)
        finally:
            for s in servers:
                t.eq(s.stop(), 0, f"{os.path.basename(s.log_path)[:-4]}: exit 0 on SIGTERM (sweeper stopped)")
                t.ok(not any("unparsed" in x for x in s.lines()), f"{os.path.basename(s.log_path)[:-4]}: every log "
                                                                  "line is JSON")
            stand_in.stop()
    t.done()


if __name__ == "__main__":
    main()
