"""What namespace claims cost: dsguard serve --claims cluster against
--claims local, both with the cluster cache on the stand-in API server
(test/e2e/fake_apiserver.py, a Python server over TLS). Prints Markdown
tables to stdout, progress to stderr.

1. A claiming CREATE: wrk -t1 -c1 posts CREATE reviews of a compliant
   DaemonSet to /validate, each into a namespace of its own (claims.lua
   numbers them), so that each is admitted and claims: --claims cluster reads
   the Lease (404) and creates it (201) in the stand-in, --claims local
   records a reservation in the process. The difference of the latencies is
   what a claim adds.
2. The same DaemonSet claiming again (/mutate then /validate of one CREATE):
   every request to one namespace, the claim held already (one read).
3. Reviews that claim nothing: the webhook benchmark's review (bench/review.py)
   on /validate, which denies it (DS001), at 16 connections, each on a fresh
   server: the two modes alternated RUNS times, medians.

Env: DSGUARD_BIN, CORPUS, PYTHON, RUNS (3), SECONDS (5), CLAIM_SECONDS (10)."""
import http.client
import json
import os
import ssl
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import (  # noqa: E402
    BIN, ROOT, Server, env, free_port, in_temp_dir, log, make_certs, make_review, measured_wrk, median, wrk,
    write_lua)

RUNS = int(env("RUNS", "3"))
SECONDS = int(env("SECONDS", "5"))
CLAIM_SECONDS = int(env("CLAIM_SECONDS", "10"))
STAND_IN = os.path.join(ROOT, "test", "e2e", "fake_apiserver.py")
CLAIM_NS = "dsguard-system"
PLACEHOLDER = "zznamespacezz"  # letters only: no Lua pattern character


def fmt(ms):
    return f"{ms * 1000:.0f} us" if ms < 1 else f"{ms:.2f} ms"


def start_stand_in(work, python):
    """The stand-in in a process of its own; returns (process, info)."""
    d = os.path.join(work, "standin")
    os.mkdir(d)
    proc = subprocess.Popen([python, STAND_IN, "--dir", d], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    return proc, json.loads(proc.stdout.readline())


def lease_calls(info):
    """The stand-in's count of Lease calls, by verb."""
    host, port = info["url"].rsplit("/", 1)[1].split(":")
    conn = http.client.HTTPSConnection(host, int(port), context=ssl.create_default_context(cafile=info["ca"]))
    conn.request("POST", "/_control/calls", body="{}", headers={"Content-Type": "application/json"})
    calls = json.loads(conn.getresponse().read())["calls"].get("leases", {})
    conn.close()
    return calls


def write_kubeconfig(work, info):
    path = os.path.join(work, "kubeconfig")
    with open(path, "w") as f:
        f.write(f"""apiVersion: v1
kind: Config
clusters:
- name: stand-in
  cluster: {{server: "{info['url']}", certificate-authority: "{info['ca']}"}}
users:
- name: bench
  user: {{token: "{info['token']}"}}
contexts:
- name: stand-in
  context: {{cluster: stand-in, user: bench}}
current-context: stand-in
""")
    return path


def start(work, certs, kubeconfig, claims, name):
    """dsguard serve with the cluster cache on the stand-in and --claims `claims`."""
    ca, cert, key = certs
    port = free_port()
    argv = [BIN, "serve", "--listen", f"127.0.0.1:{port}", "--tls-cert", cert, "--tls-key", key,
            "--kubeconfig", kubeconfig, "--config", os.path.join(work, "config.yaml"), "--claims", claims]
    if claims == "cluster":
        argv += ["--claim-namespace", CLAIM_NS]
    s = Server(f"dsguard --claims {claims}", argv, port, ca, work, f"{name}.log")
    for _ in range(300):  # until the cache has listed the cluster
        if s.get("/readyz")[0] == 200:
            return s
        time.sleep(0.05)
    s.stop()
    raise SystemExit(f"dsguard --claims {claims} never became ready; see {name}.log")


def write_claim_files(work):
    """create.json: a CREATE of a compliant DaemonSet whose namespace is a
    placeholder; claims.lua: posts it with the placeholder replaced by a new
    namespace each time (NAMESPACES=fresh), or by one namespace (one)."""
    obj = {"apiVersion": "apps/v1", "kind": "DaemonSet",
           "metadata": {"name": "node-agent", "namespace": PLACEHOLDER},
           "spec": {"selector": {"matchLabels": {"app": "node-agent"}},
                    "template": {"metadata": {"labels": {"app": "node-agent"}},
                                 "spec": {"priorityClassName": "node-agents",
                                          "containers": [{"name": "agent", "image": "example/agent:1"}]}}}}
    review = {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
              "request": {"uid": "bench", "kind": {"group": "apps", "version": "v1", "kind": "DaemonSet"},
                          "resource": {"group": "apps", "version": "v1", "resource": "daemonsets"},
                          "namespace": PLACEHOLDER, "name": "node-agent", "operation": "CREATE",
                          "userInfo": {"username": "bench"}, "object": obj, "dryRun": False}}
    with open(os.path.join(work, "create.json"), "w") as f:
        json.dump(review, f, separators=(",", ":"))
    with open(os.path.join(work, "claims.lua"), "w") as f:
        f.write(f"""local f = assert(io.open(os.getenv("CREATE"), "rb"))
local body = f:read("*a")
f:close()
local fresh, n = os.getenv("NAMESPACES") == "fresh", 0
local run = os.getenv("RUN")
local headers = {{["Content-Type"] = "application/json"}}
function request()
    n = n + 1
    local ns = fresh and ("bench-" .. run .. "-" .. n) or ("bench-" .. run .. "-one")
    return wrk.format("POST", os.getenv("ENDPOINT"), headers, (body:gsub("{PLACEHOLDER}", ns)))
end
""")


def claim_run(work, server, fresh, run, endpoint="/validate"):
    """wrk -t1 -c1 of claims.lua against server. Returns the wrk result."""
    r, out = wrk(work, f"https://127.0.0.1:{server.port}{endpoint}", 1, CLAIM_SECONDS, "claims.lua",
                 {"CREATE": os.path.join(work, "create.json"), "NAMESPACES": "fresh" if fresh else "one",
                  "RUN": run, "ENDPOINT": endpoint})
    if r["errors"]:
        log(f"  {server.name}: {r['errors']}")
    return r


def admitted(server, work):
    """Whether the claiming review is admitted (else the benchmark measures denials)."""
    with open(os.path.join(work, "create.json")) as f:
        body = f.read().replace(PLACEHOLDER, "bench-check").encode()
    status, answer = server.get("/validate", method="POST", body=body)
    return status == 200 and json.loads(answer)["response"]["allowed"] is True


def run(work):
    python = env("PYTHON", sys.executable)
    certs = make_certs(work)
    make_review(work, python)
    write_lua(work)
    write_claim_files(work)
    with open(os.path.join(work, "config.yaml"), "w") as f:
        f.write("rules:\n  priority-class:\n    severity: error\n")
    proc, info = start_stand_in(work, python)
    kubeconfig = write_kubeconfig(work, info)
    claiming, held, plain = {}, {}, {}
    try:
        for i in range(RUNS):
            log(f"claims: run {i + 1}/{RUNS}")
            order = ("local", "cluster") if i % 2 == 0 else ("cluster", "local")
            for mode in order:
                s = start(work, certs, kubeconfig, mode, f"claims-{mode}")
                try:
                    if not admitted(s, work):
                        raise SystemExit(f"{s.name} does not admit the claiming review; see claims-{mode}.log")
                    r = claim_run(work, s, True, f"{mode}{i}")
                    claiming.setdefault(mode, []).append(r)
                    h = claim_run(work, s, False, f"{mode}{i}")
                    held.setdefault(mode, []).append(h)
                finally:
                    s.stop()
                # a fresh server: what the claiming run left (thousands of reservations) stays out of it
                s = start(work, certs, kubeconfig, mode, f"plain-{mode}")
                try:
                    p, _ = measured_wrk(s, work, "/validate", 16, SECONDS)
                    plain.setdefault(mode, []).append(p)
                finally:
                    s.stop()
                log(f"  --claims {mode:7} claiming p50 {r['p50']:.3f} ms p99 {r['p99']:.3f} ms "
                    f"({r['requests']} in {CLAIM_SECONDS} s); held p50 {h['p50']:.3f} ms; "
                    f"plain {p['rps']:.0f} req/s p99 {p['p99']:.3f} ms, {p['cpu_us']:.0f} us CPU a request")
        calls = lease_calls(info)
    finally:
        proc.stdin.close()
        proc.wait(10)
    report(claiming, held, plain, calls)


def report(claiming, held, plain, calls):
    med = {k: {m: {f: median([r[f] for r in rs]) for f in ("p50", "p99", "rps", "requests", "cpu_us", "other")
                   if all(f in r for r in rs)} for m, rs in v.items()}
           for k, v in (("claiming", claiming), ("held", held), ("plain", plain))}
    print("### Namespace claims: what `--claims cluster` adds\n")
    print(f"`dsguard serve` with the cluster cache on the stand-in API server (`test/e2e/fake_apiserver.py`, "
          f"Python's HTTP server over TLS on the same cores), `--claims cluster` against `--claims local`, "
          f"alternated, a fresh server each run; medians of {RUNS} runs. A claiming CREATE: `wrk -t1 -c1` for "
          f"{CLAIM_SECONDS} s, each review a CREATE of a compliant DaemonSet into a namespace of its own, so "
          f"that each is admitted and claims it (with `--claims cluster`: a read of the Lease, 404, and its "
          f"creation, 201, on a new TLS connection to the stand-in). Held: the same, always into one namespace "
          f"(the claim is the DaemonSet's already: one read; as `/validate` after `/mutate` of one CREATE). "
          f"Lease calls the stand-in counted: " + ", ".join(f"{k} {v:,}" for k, v in sorted(calls.items())) + ".\n")
    print("| reviews | `--claims local` p50 | p99 | `--claims cluster` p50 | p99 | added p50 | added p99 |")
    print("|---|---|---|---|---|---|---|")
    for key, what in (("claiming", "a claiming CREATE (new namespace)"), ("held", "a CREATE whose claim is held")):
        lo, cl = med[key]["local"], med[key]["cluster"]
        print(f"| {what} | {fmt(lo['p50'])} | {fmt(lo['p99'])} | {fmt(cl['p50'])} | {fmt(cl['p99'])} | "
              f"{fmt(cl['p50'] - lo['p50'])} | {fmt(cl['p99'] - lo['p99'])} |")
    lo, cl = med["plain"]["local"], med["plain"]["cluster"]
    print(f"\nReviews that claim nothing (the webhook benchmark's review on `/validate`, denied by DS001), "
          f"16 connections, {SECONDS} s, a fresh server; other load: the CPU (in cores) that neither the server "
          f"nor wrk used:\n")
    print("| server | requests/s | p50 | p99 | CPU/request | other load |")
    print("|---|---|---|---|---|---|")
    for mode, m in (("local", lo), ("cluster", cl)):
        print(f"| `--claims {mode}` | {m['rps']:,.0f} | {fmt(m['p50'])} | {fmt(m['p99'])} | {m['cpu_us']:.0f} us | "
              f"{m['other']:.2f} |")
    print(f"\ncluster/local requests/s: **{cl['rps'] / lo['rps']:.2f}x**")
    sys.stdout.flush()


def main():
    in_temp_dir("dsguard-bench-claims-", run)


if __name__ == "__main__":
    main()
