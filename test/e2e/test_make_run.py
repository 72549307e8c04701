"""`make run` does what README says: builds, makes development certificates
when they are missing, and serves the webhook (here on a free port and with
the certificates in a temporary directory, through the Makefile's
RUN_LISTEN and DEV_CERTS)."""
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

from tap import ROOT, Tap


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def curl(ca, url, *extra):
    return subprocess.run(["curl", "-s", "--max-time", "5", "--cacert", ca, *extra, url],
                          capture_output=True, text=True, cwd=ROOT)


def main():
    t = Tap()
    if os.environ.get("DSGUARD_SANITIZE") == "1":
        t.skip("make run", "make run builds the plain binary; the sanitizer run covers serve in its own tests")
        return t.done()
    certs = tempfile.mkdtemp()
    os.rmdir(certs)  # make run creates it
    port = free_port()
    proc = subprocess.Popen(["make", "--no-print-directory", "run", f"DEV_CERTS={certs}",
                             f"RUN_LISTEN=127.0.0.1:{port}"], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)
    ca = os.path.join(certs, "ca.crt")
    try:
        healthy = False
        for _ in range(600):
            if os.path.exists(ca) and curl(ca, f"https://127.0.0.1:{port}/healthz").returncode == 0:
                healthy = True
                break
            time.sleep(0.1)
        t.ok(healthy, "make run serves https on the given address with the certificates it made")
        t.ok(all(os.path.exists(os.path.join(certs, f)) for f in ("ca.crt", "ca.key", "tls.crt", "tls.key")),
             "make run made the development certificates")
        r = curl(ca, f"https://127.0.0.1:{port}/validate", "-H", "Content-Type: application/json",
                 "--data-binary", "@examples/admission/deny.json")
        answer = json.loads(r.stdout).get("response", {}) if r.stdout.startswith("{") else {}
        t.ok(answer.get("allowed") is False, "the server make run starts denies examples/admission/deny.json",
             r.stdout + r.stderr)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        out = proc.communicate(timeout=30)[0].decode(errors="replace")
        shutil.rmtree(certs, ignore_errors=True)
    t.ok("ERROR" not in out and "Sanitizer" not in out, "make run's server logged no error", out[-2000:])
    t.done()


main()
