"""The config file as serve and every other command read it. A file
without settings (empty, comments or whitespace only, an empty document)
is an error naming the file: `lint --config` and `.dsguard.yaml` exit 2,
`review` exits 2, `serve` refuses to start with it. A running `serve` whose
config is truncated (or emptied) keeps the config in force: /mutate still
patches, and the failed reload is logged and counted, as for any config
that does not load."""
import json
import os
import signal
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tap  # noqa: E402
from test_webhook_serve import (Server, daemonset, decoded_patch, make_ca, make_cert, metric,  # noqa: E402
                                review_request)

SLOW = os.environ.get("DSGUARD_VALGRIND") == "1" or os.environ.get("DSGUARD_SANITIZE") == "1"
EMPTY = {"an empty file": "", "only comments": "# settings come later\n\n# really\n",
         "only whitespace": "\n   \n\n", "an empty document": "---\n"}
GOOD = "rules:\n  priority-class:\n    default: node-agents\n"
MANIFEST = ("apiVersion: apps/v1\nkind: DaemonSet\nmetadata:\n  name: fluentd\n  namespace: logging\n"
            "spec:\n  template:\n    spec:\n      priorityClassName: node-agents\n      containers: []\n")


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


def says_empty(stderr, path):
    return f"{path}:1:1: the config is empty" in stderr


def test_commands(t, tmp):
    cfg = os.path.join(tmp, "empty.yaml")
    manifest = os.path.join(tmp, "ds.yaml")
    write(manifest, MANIFEST)
    req = os.path.join(tmp, "review.json")
    write(req, json.dumps(review_request(daemonset())))
    for what, text in EMPTY.items():
        write(cfg, text)
        p = tap.run(["lint", "--config", cfg, manifest])
        t.ok(p.returncode == 2 and says_empty(p.stderr, cfg),
             f"lint --config with {what}: exit 2 naming the file", (p.returncode, p.stderr))
        p = tap.run(["review", "--mutate", "--config", cfg, req])
        t.ok(p.returncode == 2 and says_empty(p.stderr, cfg),
             f"review --config with {what}: exit 2 naming the file", (p.returncode, p.stderr))
    work = os.path.join(tmp, "work")
    os.makedirs(work)
    write(os.path.join(work, ".dsguard.yaml"), "# nothing yet\n")
    p = tap.run(["lint", manifest], cwd=work)
    t.ok(p.returncode == 2 and says_empty(p.stderr, ".dsguard.yaml"),
         "lint with a comment-only .dsguard.yaml: exit 2 naming it", (p.returncode, p.stderr))


def test_serve_refuses_to_start(t, tmp, ca, cert, key):
    cfg = os.path.join(tmp, "start.yaml")
    write(cfg, "")
    srv = Server(tmp, ca, cert, key, "--config", cfg, name="empty-start")
    rc = srv.stop()
    text = open(srv.log_path).read()
    t.ok(srv.port is None and rc == 2 and says_empty(text, cfg),
         "serve with an empty config does not start: exit 2 naming the file", (rc, text[-400:]))


def mutate_patches(srv):
    """Whether /mutate patches in the default class of the config in force."""
    status, resp = srv.review("/mutate", review_request(daemonset()))
    try:
        return resp["response"]["allowed"] is True and decoded_patch(resp) == [
            {"op": "add", "path": "/spec/template/spec/priorityClassName", "value": "node-agents"}]
    except (KeyError, TypeError, ValueError):
        return False


def reloads(srv, result):
    return metric(srv.metrics(), "dsguard_config_reloads_total", result=result)


def wait_reloads(srv, result, above, timeout=30 if SLOW else 10):
    """dsguard_config_reloads_total{result} once it is above `above`, or at the timeout."""
    deadline = time.time() + timeout
    while True:
        got = reloads(srv, result)
        if got > above or time.time() > deadline or srv.proc.poll() is not None:
            return got
        time.sleep(0.2)


def replace(path, text):
    """Gives path new content at once (written aside, then renamed over it)."""
    write(path + ".new", text)
    os.rename(path + ".new", path)


def test_serve_keeps_config(t, tmp, ca, cert, key):
    cfg = os.path.join(tmp, "served.yaml")
    write(cfg, GOOD)
    srv = Server(tmp, ca, cert, key, "--config", cfg, name="truncated")
    t.ok(mutate_patches(srv), "serve: /mutate patches in the configured default")
    for what, text in EMPTY.items():
        before = reloads(srv, "failure")
        if text:
            replace(cfg, text)
        else:
            os.truncate(cfg, 0)  # in place, as a failed edit leaves it
        got = wait_reloads(srv, "failure", before)
        t.ok(got == before + 1 and mutate_patches(srv),
             f"serve: the config becomes {what}: the reload fails, is counted, and /mutate still patches",
             (before, got))
        good = reloads(srv, "success")
        replace(cfg, GOOD + "# after " + what + "\n")
        wait_reloads(srv, "success", good)
    before = reloads(srv, "failure")
    os.truncate(cfg, 0)
    srv.proc.send_signal(signal.SIGHUP)
    got = wait_reloads(srv, "failure", before)
    time.sleep(1.5)  # the file watch may count the same truncation once more
    t.ok(got > before and mutate_patches(srv), "serve: SIGHUP with an empty config keeps the previous one")
    logged = [x for x in srv.lines() if "config reload failed" in x.get("msg", "")]
    t.ok(len(logged) == reloads(srv, "failure") >= len(EMPTY) + 1
         and all(says_empty(x["msg"], cfg) and x.get("level") == "error" for x in logged),
         "serve: each failed reload is logged at error, naming the file and saying it is empty",
         [x.get("msg") for x in logged])
    t.eq(srv.stop(), 0, "serve: exit 0")


def main():
    t = tap.Tap()
    with tempfile.TemporaryDirectory() as tmp:
        ca = make_ca(tmp, "ca")
        cert, key = make_cert(tmp, "tls", ca)
        test_commands(t, tmp)
        test_serve_refuses_to_start(t, tmp, ca[0], cert, key)
        test_serve_keeps_config(t, tmp, ca[0], cert, key)
    t.done()


if __name__ == "__main__":
    main()
