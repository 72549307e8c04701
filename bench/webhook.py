"""The webhook benchmark: dsguard serve against nginx answering the same
POST with a fixed body of the size of dsguard's answer, measured in the same
run and alternated (a fresh server of each for every measurement). Prints
Markdown tables of medians to stdout, progress to stderr.

Env: DSGUARD_BIN, CORPUS, RUNS (3), SECONDS (5), CONNECTIONS ("1 16 64"),
MILLION (1000000 requests for the RSS-after row; 0 skips it)."""
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import (  # noqa: E402
    in_temp_dir,
    WRK, env, log, make_certs, make_review, measured_wrk, median, open_fds, start_dsguard, start_nginx,
    status_kb, wrk, write_lua)

RUNS = int(env("RUNS", "3"))
SECONDS = int(env("SECONDS", "5"))
CONNECTIONS = [int(c) for c in env("CONNECTIONS", "1 16 64").split()]
MILLION = int(env("MILLION", "1000000"))
ENDPOINTS = ("/validate", "/mutate")


def fmt_ms(v):
    return f"{v * 1000:.0f} us" if v < 1 else f"{v:.2f} ms"


def s_time(server, work, seconds):
    """openssl s_time -new: one client making new TLS connections one after
    the other. Returns connections per second (wall clock)."""
    p = subprocess.run(["openssl", "s_time", "-connect", f"127.0.0.1:{server.port}", "-new",
                        "-time", str(seconds), "-CAfile", server.ca],
                       capture_output=True, text=True, cwd=work)
    import re
    m = re.search(r"(\d+) connections in (\d+) real seconds", p.stdout)
    return int(m.group(1)) / int(m.group(2)) if m else float("nan")


def main():
    in_temp_dir("dsguard-bench-", run)


def run(work):
    certs = make_certs(work)
    review, chosen = make_review(work, env("PYTHON", sys.executable))
    write_lua(work)
    body = open(review, "rb").read()

    # dsguard's answers, which nginx then gives as fixed bodies of the same size
    srv = start_dsguard(work, certs)
    answers = {}
    for path in ENDPOINTS:
        status, answer = srv.get(path, method="POST", body=body)
        if status != 200:
            raise SystemExit(f"dsguard answered {status} on {path}: {answer[:200]!r}")
        answers[path] = answer
    srv.stop()
    log(f"review: {chosen}; answers: " + ", ".join(f"{p} {len(a)} bytes" for p, a in answers.items()))

    results = {}   # (server, path, connections) -> [wrk result]
    startups, idle = [], []

    def one(name, path, conns):
        s = start_dsguard(work, certs) if name == "dsguard" else start_nginx(work, certs, answers)
        try:
            if name == "dsguard":
                startups.append(s.startup)
            r, out = measured_wrk(s, work, path, conns, SECONDS)
            if r["errors"]:
                log(f"{name} {path} c={conns}: {r['errors']}")
            results.setdefault((name, path, conns), []).append(r)
            log(f"  {name:7} {path:9} c={conns:<3} {r['rps']:9.0f} req/s  p50 {r['p50']:.3f} ms  "
                f"p99 {r['p99']:.3f} ms  cpu {r['cpu']:.2f}  wrk {r['wrk_cpu']:.2f}  other {r['other']:.2f}  "
                f"peak {r['hwm_kb'] / 1024:.1f} MB")
        finally:
            s.stop()

    for i in range(RUNS):
        log(f"run {i + 1}/{RUNS}")
        order = ("dsguard", "nginx") if i % 2 == 0 else ("nginx", "dsguard")
        for conns in CONNECTIONS:
            for path in ENDPOINTS:
                for name in order:
                    one(name, path, conns)

    # new TLS connections: wrk, 16 connections, each request on a new connection
    # (GET /healthz with Connection: close); openssl s_time -new, one client
    hand = {}
    for i in range(RUNS):
        for name in (("dsguard", "nginx") if i % 2 == 0 else ("nginx", "dsguard")):
            s = start_dsguard(work, certs) if name == "dsguard" else start_nginx(work, certs, answers)
            try:
                if name == "dsguard":
                    startups.append(s.startup)
                r, _ = measured_wrk(s, work, "/healthz", 16, SECONDS, script="close.lua")
                st = s_time(s, work, SECONDS)
                hand.setdefault(name, []).append((r["rps"], r["cpu"], st))
                log(f"  {name:7} new TLS connections: wrk {r['rps']:.0f}/s (cpu {r['cpu']:.2f}), "
                    f"s_time {st:.0f}/s")
            finally:
                s.stop()

    # start-up and idle RSS
    for i in range(RUNS):
        s = start_dsguard(work, certs)
        startups.append(s.startup)
        time.sleep(2)
        idle.append((status_kb([s.pid], "VmRSS"), open_fds(s.pid)))
        s.stop()

    # RSS after a million requests (16 connections, /validate and /mutate in turn)
    million = None
    if MILLION:
        s = start_dsguard(work, certs)
        before = status_kb([s.pid], "VmRSS")
        done, t0, k = 0, time.perf_counter(), 0
        rate = median([r["rps"] for r in results.get(("dsguard", "/validate", 16), [])]) or 10000
        while done < MILLION:
            secs = max(2, min(30, int((MILLION - done) / rate) + 1))
            r, _ = wrk(work, f"https://127.0.0.1:{s.port}{ENDPOINTS[k % 2]}", 16, secs, "post.lua",
                       latency=False)
            done += r["requests"]
            k += 1
        million = {"requests": done, "seconds": time.perf_counter() - t0, "before": before,
                   "rss": status_kb([s.pid], "VmRSS"), "hwm": status_kb([s.pid], "VmHWM"),
                   "fds": open_fds(s.pid)}
        s.stop()
        log(f"  after {done} requests: RSS {million['rss'] / 1024:.1f} MB")

    report(chosen, len(body), answers, results, hand, startups, idle, million)


def report(chosen, size, answers, results, hand, startups, idle, million):
    wrk_version = subprocess.run([WRK, "-v"], capture_output=True, text=True).stdout.splitlines()[0]
    print(f"### Webhook: dsguard serve against nginx (fixed answer)\n")
    print(f"AdmissionReview: {size} bytes, the DaemonSet of `{chosen.split(':')[0]}` (CREATE, "
          f"no priority class: /validate denies it, /mutate patches it). Answers: "
          + ", ".join(f"`{p}` {len(a)} bytes" for p, a in answers.items())
          + f". Medians of {RUNS} runs of {SECONDS} s each, `{wrk_version.split(' [')[0]}`, keep-alive TLS, "
          "a fresh server for each run; CPU is the server's utime+stime over the run (in cores, and "
          "per request), peak RSS its VmHWM after the run (nginx: master and workers added up); wrk CPU is "
          "the load generator's, other load the CPU (in cores) that neither used: other work on the machine.\n")
    print("| endpoint | conns | server | requests/s | p50 | p99 | CPU (cores) | CPU/request | peak RSS |"
          " wrk CPU | other load | dsguard/nginx req/s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for path in ENDPOINTS:
        for conns in CONNECTIONS:
            rows = {}
            for name in ("dsguard", "nginx"):
                rs = results[(name, path, conns)]
                rows[name] = {k: median([r[k] for r in rs]) for k in ("rps", "p50", "p99", "cpu", "cpu_us",
                                                                       "hwm_kb", "wrk_cpu", "other")}
            ratio = rows["dsguard"]["rps"] / rows["nginx"]["rps"]
            for name in ("dsguard", "nginx"):
                m = rows[name]
                print(f"| `{path}` | {conns} | {name} | {m['rps']:,.0f} | {fmt_ms(m['p50'])} | {fmt_ms(m['p99'])} "
                      f"| {m['cpu']:.2f} | {m['cpu_us']:.0f} us | {m['hwm_kb'] / 1024:.1f} MB | {m['wrk_cpu']:.2f} | "
                      f"{m['other']:.2f} | "
                      f"{f'**{ratio:.2f}x**' if name == 'dsguard' else ''} |")
    errors = sorted({r["errors"] for rs in results.values() for r in rs if r["errors"]})
    if errors:
        print("\nwrk reported: " + "; ".join(errors))

    print("\n### New TLS connections per second (handshake cost)\n")
    print("wrk: 16 connections, each request (`GET /healthz`, `Connection: close`) on a new TLS "
          "connection; `openssl s_time -new`: one client, one new connection after the other "
          "(no session resumption). Medians of " + str(RUNS) + " runs.\n")
    print("| server | wrk, new connections/s | server CPU (cores) | s_time -new, connections/s |")
    print("|---|---|---|---|")
    for name in ("dsguard", "nginx"):
        hs = hand[name]
        print(f"| {name} | {median([h[0] for h in hs]):,.0f} | {median([h[1] for h in hs]):.2f} | "
              f"{median([h[2] for h in hs]):,.0f} |")
    d = median([h[0] for h in hand["dsguard"]]) / median([h[0] for h in hand["nginx"]])
    print(f"\ndsguard/nginx new connections/s (wrk): **{d:.2f}x**")

    print("\n### dsguard serve: start-up and memory\n")
    print("| measure | value |")
    print("|---|---|")
    print(f"| start-up until `GET /healthz` answers (median of {len(startups)} starts) | "
          f"{median(startups) * 1000:.0f} ms (min {min(startups) * 1000:.0f}, max {max(startups) * 1000:.0f}) |")
    print(f"| idle RSS, 2 s after start (median of {len(idle)}) | {median([i[0] for i in idle]) / 1024:.1f} MB |")
    print(f"| open file descriptors, idle | {median([i[1] for i in idle]):.0f} |")
    peak = max(r["hwm_kb"] for (n, _, _), rs in results.items() if n == "dsguard" for r in rs)
    print(f"| peak RSS under load (highest VmHWM of all the runs above) | {peak / 1024:.1f} MB |")
    if million:
        print(f"| RSS after {million['requests']:,} requests (16 connections, {million['seconds']:.0f} s) | "
              f"{million['rss'] / 1024:.1f} MB (before: {million['before'] / 1024:.1f} MB; "
              f"peak {million['hwm'] / 1024:.1f} MB; {million['fds']} fds) |")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
