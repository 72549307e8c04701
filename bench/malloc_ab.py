"""An A/B experiment behind docs/performance.md's allocator finding: dsguard
serve as built, against the same binary with glibc's per-thread cache
enlarged (GLIBC_TUNABLES=glibc.malloc.tcache_count=1024), alternated, POST
/validate at 16 connections. Prints requests/s and the server's CPU time per
request of each run, and the medians. Not part of make bench.

Env: DSGUARD_BIN, CORPUS, RUNS (3), SECONDS (5), TUNABLES."""
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

RUNS = int(common.env("RUNS", "3"))
SECONDS = int(common.env("SECONDS", "5"))
TUNABLES = common.env("TUNABLES", "glibc.malloc.tcache_count=1024")


def main():
    work = tempfile.mkdtemp(prefix="dsguard-malloc-")
    try:
        certs = common.make_certs(work)
        common.make_review(work, common.env("PYTHON", sys.executable))
        common.write_lua(work)
        res = {}
        for _ in range(RUNS):
            for label, tunables in (("as built", None), (TUNABLES, TUNABLES)):
                if tunables:
                    os.environ["GLIBC_TUNABLES"] = tunables
                try:
                    s = common.start_dsguard(work, certs)
                finally:
                    os.environ.pop("GLIBC_TUNABLES", None)
                try:
                    r, _ = common.measured_wrk(s, work, "/validate", 16, SECONDS)
                finally:
                    s.stop()
                res.setdefault(label, []).append(r)
                print(f"{label}: {r['rps']:,.0f} requests/s, {r['cpu_us']:.1f} us CPU/request, "
                      f"other load {r['other']:.2f}", flush=True)
        print("\n| dsguard serve | requests/s | CPU/request |\n|---|---|---|")
        for label, rs in res.items():
            print(f"| {label} | {common.median([r['rps'] for r in rs]):,.0f} | "
                  f"{common.median([r['cpu_us'] for r in rs]):.1f} us |")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
