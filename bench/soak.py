"""The soak benchmark: dsguard serve for SOAK_SECONDS (600) at half its peak
rate, /validate and /mutate in turn over 16 keep-alive TLS connections, the
rate held by wrk's delay() (bench/common.py, rate.lua). RSS (VmRSS) and open
file descriptors are sampled every second; growth is read after a warm-up
minute. Prints Markdown to stdout; SOAK_CSV=FILE also keeps the samples.

Env: DSGUARD_BIN, CORPUS, SOAK_SECONDS (600), SOAK_WARMUP (60), SOAK_RATE
(requests/s; default: half the peak measured first)."""
import os
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import (  # noqa: E402
    in_temp_dir,
    WRK, env, log, make_certs, make_review, open_fds, parse_wrk, start_dsguard, status_kb, wrk, write_lua)

SECONDS = int(env("SOAK_SECONDS", "600"))
WARMUP = int(env("SOAK_WARMUP", "60"))
CONNS = 16


def slope(points):
    """Least-squares slope of (x, y) points."""
    n = len(points)
    mx = sum(p[0] for p in points) / n
    my = sum(p[1] for p in points) / n
    var = sum((p[0] - mx) ** 2 for p in points)
    return sum((p[0] - mx) * (p[1] - my) for p in points) / var if var else 0.0


def main():
    in_temp_dir("dsguard-soak-", run)


def run(work):
    certs = make_certs(work)
    _, chosen = make_review(work, env("PYTHON", sys.executable))
    write_lua(work)
    s = start_dsguard(work, certs)
    try:
        if os.environ.get("SOAK_RATE"):
            peak = None
            rate = int(os.environ["SOAK_RATE"])
        else:
            peaks = []
            for path in ("/validate", "/mutate"):
                r, _ = wrk(work, f"https://127.0.0.1:{s.port}{path}", CONNS, 10, "post.lua", latency=False)
                peaks.append(r["rps"])
            peak = sum(peaks) / len(peaks)
            rate = int(peak / 2)
        log(f"soak: {rate} requests/s for {SECONDS} s (peak {peak})")
        samples = []   # (second, rss KiB, fds)
        threads = 2
        argv = [WRK, f"-t{threads}", f"-c{CONNS}", f"-d{SECONDS}s", "--latency", "-s",
                os.path.join(work, "rate.lua"), f"https://127.0.0.1:{s.port}/"]
        e = dict(os.environ, BODY=os.path.join(work, "review.json"), THREADS=str(threads), RATE=str(rate))
        t0 = time.perf_counter()
        load = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, env=e)
        out = []
        reader = threading.Thread(target=lambda: out.append(load.stdout.read()))
        reader.start()
        k = 0
        while load.poll() is None:
            k += 1
            time.sleep(max(0, t0 + k - time.perf_counter()))
            if load.poll() is not None:
                break
            samples.append((time.perf_counter() - t0, status_kb([s.pid], "VmRSS"), open_fds(s.pid)))
        reader.join()
        wall = time.perf_counter() - t0
        r = parse_wrk(out[0])
        hwm = status_kb([s.pid], "VmHWM")
    finally:
        s.stop()
    if os.environ.get("SOAK_CSV"):
        with open(os.environ["SOAK_CSV"], "w") as f:
            f.write("second,rss_kib,fds\n")
            for t, rss, fds in samples:
                f.write(f"{t:.1f},{rss},{fds}\n")
    report(rate, peak, r, wall, samples, hwm)


def report(rate, peak, r, wall, samples, hwm):
    after = [p for p in samples if p[0] >= WARMUP]
    first, last = after[0], after[-1]
    rss = [p[1] for p in after]
    fds = [p[2] for p in after]
    print("### Soak: dsguard serve at half its peak rate\n")
    print(f"{SECONDS} s at {rate:,} requests/s"
          + (f" (half of the {peak:,.0f} requests/s measured first, 16 connections)" if peak else "")
          + f", `/validate` and `/mutate` in turn over {CONNS} keep-alive TLS connections; RSS (VmRSS) "
          f"and open fds sampled each second; growth read after a {WARMUP} s warm-up.\n")
    print("| measure | value |")
    print("|---|---|")
    print(f"| requests answered | {r['requests']:,} in {wall:.0f} s ({r['requests'] / wall:,.0f}/s) |")
    print(f"| latency p50 / p99 | {r['p50']:.2f} ms / {r['p99']:.2f} ms |")
    if r["errors"]:
        print(f"| wrk errors | {r['errors']} |")
    print(f"| RSS at start of load / after warm-up / at the end | {samples[0][1] / 1024:.1f} / "
          f"{first[1] / 1024:.1f} / {last[1] / 1024:.1f} MB |")
    print(f"| RSS after warm-up: min / max | {min(rss) / 1024:.1f} / {max(rss) / 1024:.1f} MB |")
    print(f"| RSS growth after warm-up (end - start; least-squares slope) | {(last[1] - first[1]):+d} KiB; "
          f"{slope([(p[0], p[1]) for p in after]) * 60:+.1f} KiB/min |")
    print(f"| peak RSS (VmHWM) | {hwm / 1024:.1f} MB |")
    print(f"| open fds after warm-up: min / max / at the end | {min(fds)} / {max(fds)} / {last[2]} |")
    print("\nRSS each minute (MB): " + ", ".join(
        f"{p[1] / 1024:.1f}" for p in samples if abs(p[0] - round(p[0] / 60) * 60) < 0.5 and p[0] > 30))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
