"""End-to-end tests of kube/: the stand-in API server's own answers, then the
cache (build/test/drive_kube_cache, a cmocka binary) driven against it.
$BUILD names the build directory (default build)."""
import json
import os
import socket
import ssl
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tap import ROOT, Tap  # noqa: E402

PYTHON = os.environ.get("PYTHON", sys.executable)
BUILD = os.environ.get("BUILD", "build")
CACHE_TEST = os.path.join(ROOT, BUILD, "test", "drive_kube_cache")
STAND_IN = os.path.join(ROOT, "test", "e2e", "fake_apiserver.py")


def start_stand_in(d):
    proc = subprocess.Popen([PYTHON, STAND_IN, "--dir", d, "--seed", "a/agent-a", "--seed", "b/agent-b",
                             "--seed", "c/agent-c"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    return proc, json.loads(proc.stdout.readline())


def get(info, path, token=None):
    """GET from the stand-in: (status, parsed JSON body)."""
    ctx = ssl.create_default_context(cafile=info["ca"])
    req = urllib.request.Request(info["url"] + path)
    if token:
        req.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=10) as r:
            return r.status, json.loads(r.read().decode().splitlines()[0])
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def check_stand_in(tap, info):
    """The stand-in answers as the API reference says (see its docstring)."""
    code, body = get(info, "/apis/apps/v1/daemonsets")
    tap.eq((code, body["kind"], body["code"], body["reason"]), (401, "Status", 401, "Unauthorized"),
           "stand-in: no token, 401 Status")
    code, page = get(info, "/apis/apps/v1/daemonsets?limit=2", info["token"])
    meta = page["metadata"]
    tap.ok(code == 200 and page["kind"] == "DaemonSetList" and len(page["items"]) == 2 and meta["continue"]
           and meta["remainingItemCount"] == 1 and "kind" not in page["items"][0],
           "stand-in: first page of a chunked list", page)
    code, rest = get(info, "/apis/apps/v1/daemonsets?limit=2&continue=" + meta["continue"], info["token"])
    tap.ok(code == 200 and len(rest["items"]) == 1 and "continue" not in rest["metadata"]
           and rest["metadata"]["resourceVersion"] == meta["resourceVersion"],
           "stand-in: last page, same resourceVersion", rest)
    code, body = get(info, "/apis/apps/v1/daemonsets?limit=2&continue=bogus", info["token"])
    tap.eq((code, body["reason"], body["code"]), (410, "Expired", 410), "stand-in: expired continue, 410 Gone")
    code, event = get(info, "/apis/apps/v1/daemonsets?watch=1&resourceVersion=1&timeoutSeconds=1", info["token"])
    tap.ok(code == 200 and event["type"] == "ADDED" and event["object"]["kind"] == "DaemonSet",
           "stand-in: a watch streams ADDED events", event)


def closed_port():
    """A local port nothing listens on."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def relay(tap, out):
    """Passes the cmocka binary's TAP results on under our numbering.
    Returns how many there were and how many failed."""
    results = failures = 0
    for line in out.splitlines():
        if line.startswith("ok ") or line.startswith("not ok "):
            ok = line.startswith("ok ")
            name = line.split(" - ", 1)[1] if " - " in line else line
            tap.ok(ok, "cache: " + name)
            results += 1
            failures += not ok
        elif line.startswith("#"):
            print(line)
    return results, failures


def main():
    tap = Tap()
    if not os.access(CACHE_TEST, os.X_OK):
        tap.ok(False, "cache test binary built", CACHE_TEST + " is missing: run make unit")
        tap.done()
    with tempfile.TemporaryDirectory() as d:
        proc, info = start_stand_in(d)
        try:
            check_stand_in(tap, info)
            env = dict(os.environ, KUBE_TEST_SERVER=info["url"], KUBE_TEST_TOKEN=info["token"],
                       KUBE_TEST_CA=info["ca"], KUBE_TEST_CLIENT_CERT=info["client_cert"],
                       KUBE_TEST_CLIENT_KEY=info["client_key"],
                       KUBE_TEST_DOWN_SERVER="https://127.0.0.1:%d" % closed_port(),
                       CMOCKA_MESSAGE_OUTPUT="TAP")
            run = subprocess.run([CACHE_TEST], env=env, capture_output=True, text=True, timeout=300)
            results, failures = relay(tap, run.stdout + run.stderr)
            if results == 0 or (run.returncode != 0 and not failures):
                tap.ok(False, "cache test binary ran", run.stdout + run.stderr)
        finally:
            proc.stdin.close()
            proc.wait(timeout=10)
    tap.done()


if __name__ == "__main__":
    main()
