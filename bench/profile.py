"""Where dsguard serve's CPU goes, step by step: perf record with DWARF
call graphs of the server under wrk (POST of the benchmark's
AdmissionReview, keep-alive TLS), then each sample counted by the first of
the steps below found in its stack. Prints a Markdown table of the shares.
Not part of make bench; needs perf (Debian: linux-perf) and root or
kernel.perf_event_paranoid <= 1. docs/performance.md quotes what it measured.

Env: DSGUARD_BIN, CORPUS, ENDPOINT (/validate), CONNECTIONS (16),
SECONDS (3, recorded after 2 s of load)."""
import collections
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

ENDPOINT = common.env("ENDPOINT", "/validate")
CONNECTIONS = int(common.env("CONNECTIONS", "16"))
SECONDS = int(common.env("SECONDS", "3"))

# (step, functions any of which in a sample's stack puts the sample there);
# the first step that matches takes the sample.
STEPS = [
    ("the log line", ["ds_log_line", "ds_log_fields", "log_review", "log_other"]),
    ("parsing the body (cJSON_ParseWithLengthOpts)", ["cJSON_ParseWithLengthOpts"]),
    ("the rules (ds_evaluate)", ["ds_evaluate"]),
    ("building and printing the answer", ["respond", "answer_daemonset", "print_answer", "cJSON_PrintUnformatted"]),
    ("deleting the cJSON trees", ["cJSON_Delete"]),
    ("the rest of ds_review", ["ds_review"]),
    ("GnuTLS sending the answer", ["gnutls_record_send", "gnutls_record_send2"]),
    ("setsockopt (libmicrohttpd's uncork: the kernel sends then)", ["__GI___setsockopt", "setsockopt_syscall"]),
    ("receiving the request (recv)", ["__libc_recv", "recvfrom"]),
    ("epoll_wait", ["epoll_wait"]),
    ("other system calls", ["entry_SYSCALL_64_after_hwframe"]),
]
LOG_PARTS = [("its write()", ["__GI___libc_write", "__libc_write"])]


def stacks(text):
    """The function names of each sample of perf script's output, leaf first."""
    frames = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            if frames:
                yield frames
            frames = []
            continue
        parts = line.split(None, 1)
        if len(parts) == 2:
            frames.append(parts[1].split("+")[0].replace(" (inlined)", ""))
    if frames:
        yield frames


def classify(text):
    counts, total = collections.Counter(), 0
    for frames in stacks(text):
        total += 1
        names = set(frames)
        step = next((s for s, fns in STEPS if names & set(fns)), "elsewhere (libraries' own work, unresolved)")
        counts[step] += 1
        if step == "the log line":
            part = next((p for p, fns in LOG_PARTS if names & set(fns)), "building and printing it")
            counts["  of which " + part] += 1
    return counts, total


def run(work):
    certs = common.make_certs(work)
    review, _ = common.make_review(work, common.env("PYTHON", sys.executable))
    common.write_lua(work)
    data = os.path.join(work, "perf.data")
    server = common.start_dsguard(work, certs)
    try:
        load = subprocess.Popen([common.WRK, "-t2", f"-c{CONNECTIONS}", f"-d{SECONDS + 4}s", "-s",
                                 os.path.join(work, "post.lua"), f"https://127.0.0.1:{server.port}{ENDPOINT}"],
                                stdout=subprocess.DEVNULL, env={**os.environ, "BODY": review})
        time.sleep(2)
        subprocess.run(["perf", "record", "-q", "--call-graph", "dwarf,16384", "-F", "2000", "-o", data,
                        "-p", str(server.pid), "--", "sleep", str(SECONDS)], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        load.wait()
    finally:
        server.stop()
    text = subprocess.run(["perf", "script", "-i", data, "-F", "ip,sym"], check=True, capture_output=True,
                          text=True).stdout
    counts, total = classify(text)
    print(f"{ENDPOINT}, {CONNECTIONS} connections, {total} samples\n")
    print("| step | share of the server's CPU |\n|---|---|")
    share = lambda n: f"{100 * n / max(1, total):.1f}%"  # noqa: E731
    for step, n in counts.most_common():
        if step.startswith("  "):
            continue
        print(f"| {step} | {share(n)} |")
        for part, m in counts.items():
            if step == "the log line" and part.startswith("  "):
                print(f"| - {part.strip()} | {share(m)} |")


if __name__ == "__main__":
    common.in_temp_dir("dsguard-profile-", run)
