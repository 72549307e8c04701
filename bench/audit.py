"""make bench: dsguard serve's memory with DAEMONSETS (10,000) DaemonSets in
the stand-in API server (test/e2e/fake_apiserver.py): the RSS once the audit
has evaluated every one, against the same serve with an empty cluster, and
the time from start to the audit's first whole pass. DaemonSets go two to a
namespace (so DS003 and DS001 find violations) and are listed in pages of
500, as the cache lists a real cluster. A markdown table on standard output."""
import json
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

STAND_IN = os.path.join(common.ROOT, "test", "e2e", "fake_apiserver.py")
COUNT = int(common.env("DAEMONSETS", "10000"))


def kubeconfig(path, info):
    with open(path, "w") as f:
        f.write(f"""apiVersion: v1
kind: Config
current-context: s
clusters:
- name: s
  cluster: {{server: "{info['url']}", certificate-authority: "{info['ca']}"}}
users:
- name: u
  user: {{token: "{info['token']}"}}
contexts:
- name: s
  context: {{cluster: s, user: u}}
""")


def audited(srv):
    """dsguard_daemonsets_audited of the running serve once its cache has
    synced and the audit's first pass is done (its last change is
    stamped), else -1."""
    try:
        _, body = srv.get("/metrics")
    except OSError:
        return -1
    text = body.decode()
    m = re.search(r"^dsguard_daemonsets_audited (\d+)$", text, re.M)
    synced = re.search(r"^dsguard_cluster_cache_synced 1$", text, re.M)
    passed = re.search(r"^dsguard_audit_last_change_timestamp_seconds [1-9]", text, re.M)
    return int(m.group(1)) if m and synced and passed else -1


def measure(work, count, certs):
    """(RSS KiB, peak RSS KiB, seconds to the first whole pass) of serve
    auditing `count` DaemonSets."""
    api = os.path.join(work, f"api-{count}")
    os.mkdir(api)
    seeds = [a for i in range(count) for a in ("--seed", f"ns-{i // 2:05d}/agent-{i % 2}")]
    stand_in = subprocess.Popen([common.env("PYTHON", sys.executable), STAND_IN, "--dir", api, *seeds],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        info = json.loads(stand_in.stdout.readline())
        kc = os.path.join(work, f"kubeconfig-{count}")
        kubeconfig(kc, info)
        port = common.free_port()
        t0 = time.perf_counter()
        srv = common.Server("dsguard", [common.BIN, "serve", "--listen", f"127.0.0.1:{port}", "--tls-cert", certs[1],
                                        "--tls-key", certs[2], "--kubeconfig", kc, "--log-level", "warn"],
                            port, certs[0], work, f"serve-{count}.log")
        try:
            deadline = time.perf_counter() + 300
            while audited(srv) != count and time.perf_counter() < deadline:
                time.sleep(0.1)
            took = time.perf_counter() - t0
            if audited(srv) != count:
                raise RuntimeError(f"the audit did not reach {count} DaemonSets in 300 s")
            time.sleep(1)
            return common.status_kb([srv.pid], "VmRSS"), common.status_kb([srv.pid], "VmHWM"), took
        finally:
            srv.stop()
    finally:
        stand_in.stdin.close()
        stand_in.wait(timeout=30)


def run(work):
    certs = common.make_certs(work)
    empty = measure(work, 0, certs)
    full = measure(work, COUNT, certs)
    print(f"### The audit: dsguard serve with {COUNT:,} DaemonSets in the stand-in API server")
    print()
    print("| cluster | RSS | peak RSS | first whole pass from start |")
    print("|---|---|---|---|")
    print(f"| no DaemonSet | {empty[0] / 1024:.1f} MiB | {empty[1] / 1024:.1f} MiB | {empty[2]:.2f} s |")
    print(f"| {COUNT:,} DaemonSets in {(COUNT + 1) // 2:,} namespaces | {full[0] / 1024:.1f} MiB | "
          f"{full[1] / 1024:.1f} MiB | {full[2]:.2f} s |")
    print()
    print(f"Per DaemonSet: {(full[0] - empty[0]) * 1024 / max(COUNT, 1):.0f} bytes of RSS (target: serve under "
          f"20 MiB with 10,000).")


if __name__ == "__main__":
    common.in_temp_dir("dsguard-bench-audit-", run)
