"""dsguard audit against the stand-in API server (test/e2e/fake_apiserver.py):
the same findings as dsguard lint over the same objects written to files."""
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tap import Tap, run  # noqa: E402
from test_kube import PYTHON, STAND_IN, closed_port, get  # noqa: E402

SEEDS = ["logging/fluentd", "logging/fluent-bit", "monitoring/node-exporter", "cni/calico-node"]


def kubeconfig(path, info, server=None):
    """A kubeconfig for the stand-in: server, its CA as a file, the token."""
    with open(path, "w") as f:
        f.write(f"""apiVersion: v1
kind: Config
current-context: stand-in
clusters:
- name: stand-in
  cluster:
    server: {server or info['url']}
    certificate-authority: {info['ca']}
users:
- name: tester
  user:
    token: {info['token']}
contexts:
- name: stand-in
  context: {{cluster: stand-in, user: tester}}
""")


def key(f):
    return (f["namespace"], f["resourceName"], f["rule"], f["severity"], f["message"])


def main():
    t = Tap()
    d = tempfile.mkdtemp()
    proc = subprocess.Popen([PYTHON, STAND_IN, "--dir", d] + sum((["--seed", s] for s in SEEDS), []),
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        info = json.loads(proc.stdout.readline())
        kc = os.path.join(d, "kubeconfig")
        kubeconfig(kc, info)
        p = run(["audit", "--kubeconfig", kc, "--format", "json"])
        t.eq(p.returncode, 1, "audit exits 1 on error findings")
        audit = json.loads(p.stdout)

        # The same objects, as a list response carries them, written to files.
        _, body = get(info, "/apis/apps/v1/daemonsets", info["token"])
        files = os.path.join(d, "manifests")
        os.mkdir(files)
        for i, obj in enumerate(body["items"]):
            obj.update({"kind": "DaemonSet", "apiVersion": "apps/v1"})
            with open(os.path.join(files, f"{i}.json"), "w") as f:
                json.dump(obj, f)
        lint = json.loads(run(["lint", "--format", "json", files]).stdout)
        t.ok(len(audit["findings"]) >= len(SEEDS), "audit reports every DaemonSet", audit)
        t.eq(sorted(map(key, audit["findings"])), sorted(map(key, lint["findings"])),
             "audit's findings equal lint's over the same objects")
        t.eq(audit["summary"]["daemonsets"], len(SEEDS), "audit counts the cluster's DaemonSets")
        t.ok({f["file"] for f in audit["findings"]} >= {"apis/apps/v1/namespaces/logging/daemonsets/fluentd"},
             "audit names each DaemonSet by its API path", [f["file"] for f in audit["findings"]])

        p = run(["audit", "--kubeconfig", kc])
        t.ok("apis/apps/v1/namespaces/cni/daemonsets/calico-node: error: DaemonSet cni/calico-node: "
             "spec.template.spec.priorityClassName is not set [DS001 priority-class]" in p.stdout,
             "audit's text output has lint's line shape, without a position", p.stdout)
        p = run(["audit", "--kubeconfig", kc, "--format", "sarif"])
        t.ok(p.returncode == 1 and json.loads(p.stdout)["version"] == "2.1.0", "audit writes SARIF too")

        bad = os.path.join(d, "bad-kubeconfig")
        with open(bad, "w") as f:
            f.write("apiVersion: v1\ncurrent-context: c\ncontexts:\n- name: c\n  context: {cluster: k, user: u}\n"
                    "clusters: 7\n")
        p = run(["audit", "--kubeconfig", bad])
        t.ok(p.returncode == 2 and bad + ":6:" in p.stderr, "a bad kubeconfig: exit 2 naming file and line",
             p.stderr)
        down = os.path.join(d, "down-kubeconfig")
        kubeconfig(down, info, server=f"https://127.0.0.1:{closed_port()}")
        p = run(["audit", "--kubeconfig", down])
        t.ok(p.returncode == 2 and p.stderr.strip(), "an API server that is down: exit 2 with the reason",
             p.stderr)
        p = run(["audit", "--kubeconfig", kc, "--format", "yaml"])
        t.ok(p.returncode == 2 and "--format" in p.stderr, "an unknown format is a usage error", p.stderr)
    finally:
        proc.stdin.close()
        proc.wait(timeout=10)
        shutil.rmtree(d)
    t.done()


main()
