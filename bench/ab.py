"""An A/B experiment: two dsguard servers, or one binary in two
environments, alternated run by run under the same load (POST of the
benchmark's AdmissionReview, keep-alive TLS). Prints requests/s, p99 and the
server's CPU time per request of each run, and the medians. Not part of
make bench; docs/performance.md quotes what it measured.

Env: A_BIN (default DSGUARD_BIN), B_BIN (default A_BIN), A_ENV and B_ENV
(NAME=VALUE pairs, space-separated, added to that server's environment),
RUNS (3), SECONDS (5), CONNECTIONS (16), ENDPOINT (/validate), SCRIPT
(post.lua; close.lua: GET on a new TLS connection each time), CORPUS.

  A_BIN=old/dsguard B_BIN=./dsguard python3 bench/ab.py
  B_ENV=GLIBC_TUNABLES=glibc.malloc.tcache_count=1024 python3 bench/ab.py"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

RUNS = int(common.env("RUNS", "3"))
SECONDS = int(common.env("SECONDS", "5"))
CONNECTIONS = int(common.env("CONNECTIONS", "16"))
ENDPOINT = common.env("ENDPOINT", "/validate")
SCRIPT = common.env("SCRIPT", "post.lua")


def variant(name):
    """(label, binary, extra environment) of A or B."""
    binary = os.path.abspath(common.env(f"{name}_BIN", common.env("A_BIN", common.BIN)))
    extra = dict(pair.split("=", 1) for pair in os.environ.get(f"{name}_ENV", "").split())
    label = f"{name}: {binary}" + "".join(f" {k}={v}" for k, v in extra.items())
    return label, binary, extra


def run(work):
    certs = common.make_certs(work)
    common.make_review(work, common.env("PYTHON", sys.executable))
    common.write_lua(work)
    variants = [variant("A"), variant("B")]
    res = {}
    for i in range(RUNS):
        for label, binary, extra in (variants if i % 2 == 0 else variants[::-1]):
            s = common.start_dsguard(work, certs, binary=binary, extra_env=extra)
            try:
                r, _ = common.measured_wrk(s, work, ENDPOINT, CONNECTIONS, SECONDS, script=SCRIPT)
            finally:
                s.stop()
            res.setdefault(label, []).append(r)
            print(f"{label}: {r['rps']:,.0f} requests/s, p99 {r['p99']:.2f} ms, {r['cpu_us']:.1f} us CPU/request, "
                  f"other load {r['other']:.2f}", flush=True)
    print(f"\n{ENDPOINT}, {CONNECTIONS} connections, medians of {RUNS} runs\n")
    print("| dsguard serve | requests/s | p99 | CPU/request |\n|---|---|---|---|")
    for label, rs in res.items():
        print(f"| {label} | {common.median([r['rps'] for r in rs]):,.0f} | "
              f"{common.median([r['p99'] for r in rs]):.2f} ms | {common.median([r['cpu_us'] for r in rs]):.1f} us |")


if __name__ == "__main__":
    common.in_temp_dir("dsguard-ab-", run)
