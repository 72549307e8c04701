"""A stand-in Kubernetes API server for dsguard's tests: DaemonSets only.

HTTPS (a CA, server and client certificates made with the openssl CLI),
bearer-token or client-certificate authentication, paginated lists, chunked
watch streams, 410 Gone, dropped connections and slow answers. A test drives
it through /_control/... (see Control below).

The shapes follow the Kubernetes API reference, "API Concepts"
(https://kubernetes.io/docs/reference/using-api/api-concepts/):
  - "Efficient detection of changes": a watch is a GET with ?watch=1 and a
    resourceVersion; the answer is a chunked stream of newline-delimited JSON
    objects {"type": ADDED|MODIFIED|DELETED|ERROR, "object": ...}, each object
    a complete resource with its new metadata.resourceVersion. A watch from a
    resourceVersion the server no longer holds ends with an ERROR event whose
    object is a Status with code 410 (or the request fails with HTTP 410 Gone):
    the client must list again.
  - "Watch bookmarks": with allowWatchBookmarks=true the server may send
    {"type": "BOOKMARK", "object": {"kind": ..., "apiVersion": ...,
    "metadata": {"resourceVersion": "..."}}}, an object with nothing but
    its kind and a resourceVersion.
  - "Retrieving large results sets in chunks": ?limit=N returns at most N
    items, metadata.continue holds an opaque token for the next page (absent
    on the last one) and metadata.remainingItemCount how many are left; every
    page carries the list's resourceVersion. An expired continue token is
    answered with 410 Gone.
  - Errors are a Status object (kind Status, apiVersion v1, status Failure,
    message, reason, code): reason "Expired" with code 410 for a
    resourceVersion or continue token that is too old, "Unauthorized" with 401.
Items of a list carry no kind or apiVersion (the list's kind, DaemonSetList,
says what they are), as the real server answers.

Run: fake_apiserver.py --dir DIR [--seed NS/NAME]... ; prints one JSON line
{"url", "ca", "token", "client_cert", "client_key"} when it listens.
"""
import argparse
import json
import os
import secrets
import socket
import ssl
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

DAEMONSETS = "/apis/apps/v1/daemonsets"


def status(code, reason, message):
    """A metav1.Status, as the API server sends for every failure."""
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code}


def daemonset(ns, name, rv, uid):
    """A DaemonSet of apps/v1 as a watch event carries it."""
    labels = {"app": name}
    return {
        "kind": "DaemonSet", "apiVersion": "apps/v1",
        "metadata": {"name": name, "namespace": ns, "uid": uid, "resourceVersion": str(rv),
                     "generation": 1, "creationTimestamp": "2024-01-01T00:00:00Z"},
        "spec": {"selector": {"matchLabels": labels},
                 "template": {"metadata": {"labels": labels},
                              "spec": {"containers": [{"name": name, "image": "busybox"}]}}},
        "status": {"currentNumberScheduled": 0, "numberMisscheduled": 0,
                   "desiredNumberScheduled": 0, "numberReady": 0},
    }


class State:
    """Everything the server holds, under one lock; watchers wait on `cond`."""

    def __init__(self, token):
        self.cond = threading.Condition()
        self.objects = {}       # (ns, name) -> DaemonSet
        self.rv = 1
        self.history = []       # [(rv, type, object)], in order; bookmarks too
        self.compacted = 0      # a watch from a resourceVersion below this gets 410
        # (Condition's lock is an RLock: change() may run under apply_control())
        self.token = token
        self.page_size = 0      # the server's own cap on a page; 0: none
        self.gone_mode = "event"  # how a too old watch is refused: "event" or "http"
        self.delay = 0.0        # seconds before every API answer
        self.unavailable = 0    # the next N API requests get 503
        self.cuts = 0           # bumped by "drop": every open watch is cut
        self.errors = 0         # bumped by "error": every open watch gets an ERROR
        self.error_code = 410
        self.continues = {}     # token -> (items, offset, rv)
        self.counts = {"lists": 0, "pages": 0, "watches": 0, "unauthorized": 0, "gone": 0}

    def change(self, kind, ns, name):
        """Applies ADDED/MODIFIED/DELETED and records the event."""
        with self.cond:
            self.rv += 1
            key = (ns, name)
            if kind == "DELETED":
                obj = self.objects.pop(key, None)
                if obj is None:
                    return False
                obj = json.loads(json.dumps(obj))
                obj["metadata"]["resourceVersion"] = str(self.rv)
            else:
                kind = "MODIFIED" if key in self.objects else "ADDED"
                obj = daemonset(ns, name, self.rv, secrets.token_hex(8))
                self.objects[key] = obj
            self.history.append((self.rv, kind, obj))
            self.cond.notify_all()
            return True

    def bookmark(self):
        with self.cond:
            obj = {"kind": "DaemonSet", "apiVersion": "apps/v1",
                   "metadata": {"resourceVersion": str(self.rv)}}
            self.history.append((self.rv, "BOOKMARK", obj))
            self.cond.notify_all()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    state = None  # set by serve()

    def log_message(self, fmt, *args):  # quiet: the test prints what matters
        pass

    def send_json(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def authorized(self):
        st = self.state
        auth = self.headers.get("Authorization", "")
        try:
            cert = self.connection.getpeercert()
        except (ValueError, AttributeError):
            cert = None
        with st.cond:
            return bool(cert) or (bool(st.token) and auth == "Bearer " + st.token)

    def do_GET(self):
        url = urlparse(self.path)
        if url.path.startswith("/_control/"):
            return self.control(url.path[len("/_control/"):], {})
        return self.api(url)

    def do_POST(self):
        url = urlparse(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        if not url.path.startswith("/_control/"):
            return self.send_json(405, status(405, "MethodNotAllowed", "not supported here"))
        return self.control(url.path[len("/_control/"):], body)

    def api(self, url):
        st = self.state
        with st.cond:
            delay = st.delay
            busy = st.unavailable > 0
            st.unavailable -= busy
        time.sleep(delay)
        if busy:
            return self.send_json(503, status(503, "ServiceUnavailable", "the server is unavailable"))
        if not self.authorized():
            with st.cond:
                st.counts["unauthorized"] += 1
            return self.send_json(401, status(401, "Unauthorized", "Unauthorized"))
        if url.path != DAEMONSETS:
            return self.send_json(404, status(404, "NotFound", "the server could not find the requested resource"))
        q = {k: v[-1] for k, v in parse_qs(url.query).items()}
        if q.get("watch") in ("1", "true"):
            return self.watch(q)
        return self.list(q)

    # "Retrieving large results sets in chunks"
    def list(self, q):
        st = self.state
        limit = int(q.get("limit", "0") or 0)
        with st.cond:
            if q.get("continue"):
                if q["continue"] not in st.continues:
                    st.counts["gone"] += 1
                    return self.send_json(410, status(
                        410, "Expired", "The provided continue parameter is too old to display a consistent "
                        "list result. You can start a new list without the continue parameter."))
                items, offset, rv = st.continues.pop(q["continue"])
            else:
                st.counts["lists"] += 1
                items = [st.objects[k] for k in sorted(st.objects)]
                offset, rv = 0, st.rv
            st.counts["pages"] += 1
            size = min(x for x in (limit, st.page_size, len(items) - offset) if x > 0) \
                if len(items) > offset else 0
            page = items[offset:offset + size]
            meta = {"resourceVersion": str(rv)}
            if offset + size < len(items):
                token = secrets.token_urlsafe(24)
                st.continues[token] = (items, offset + size, rv)
                meta["continue"] = token
                meta["remainingItemCount"] = len(items) - offset - size
        out = []
        for obj in page:
            item = json.loads(json.dumps(obj))
            del item["kind"], item["apiVersion"]
            out.append(item)
        self.send_json(200, {"kind": "DaemonSetList", "apiVersion": "apps/v1", "metadata": meta, "items": out})

    def chunk(self, obj):
        data = (json.dumps(obj) + "\n").encode()
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def cut(self):
        """Drops the connection without ending the chunked body."""
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def watch_start(self, q):
        """Where the watch begins in the history, or None for too old."""
        st = self.state
        rv = q.get("resourceVersion", "")
        if rv in ("", "0"):
            return len(st.history), [("ADDED", st.objects[k]) for k in sorted(st.objects)]
        if not rv.isdigit() or int(rv) < st.compacted:
            return None, []
        start = 0
        while start < len(st.history) and (st.history[start][0] <= int(rv) or st.history[start][1] == "BOOKMARK"):
            start += 1
        return start, []

    # "Efficient detection of changes" and "Watch bookmarks"
    def watch(self, q):
        st = self.state
        bookmarks = q.get("allowWatchBookmarks") == "true"
        deadline = time.monotonic() + min(int(q.get("timeoutSeconds", "1800") or 1800), 1800)
        with st.cond:
            st.counts["watches"] += 1
            cursor, initial = self.watch_start(q)
            cuts, errors = st.cuts, st.errors
            if cursor is None:
                st.counts["gone"] += 1
        too_old = status(410, "Expired", "too old resource version: %s (%d)" % (q.get("resourceVersion"), st.compacted))
        if cursor is None and st.gone_mode == "http":
            return self.send_json(410, too_old)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        if cursor is None:
            self.chunk({"type": "ERROR", "object": too_old})
            return self.end_stream()
        for kind, obj in initial:
            self.chunk({"type": kind, "object": obj})
        self.follow(cursor, cuts, errors, bookmarks, deadline)

    def follow(self, cursor, cuts, errors, bookmarks, deadline):
        st = self.state
        while True:
            with st.cond:
                while (cursor >= len(st.history) and st.cuts == cuts and st.errors == errors
                       and time.monotonic() < deadline):
                    st.cond.wait(timeout=max(0.0, min(0.5, deadline - time.monotonic())))
                if st.cuts != cuts:
                    return self.cut()
                if st.errors != errors:
                    code = st.error_code
                    reason = "Expired" if code == 410 else "InternalError"
                    self.chunk({"type": "ERROR", "object": status(code, reason, "watch closed by the test (%d)" % code)})
                    return self.end_stream()
                if time.monotonic() >= deadline and cursor >= len(st.history):
                    return self.end_stream()
                pending = st.history[cursor:]
                cursor = len(st.history)
            for _, kind, obj in pending:
                if kind != "BOOKMARK" or bookmarks:
                    self.chunk({"type": kind, "object": obj})

    def end_stream(self):
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()
        self.close_connection = True

    def control(self, cmd, body):
        """The test's levers. Every command answers the server's counts."""
        st = self.state
        if cmd in ("add", "delete"):
            if not st.change("ADDED" if cmd == "add" else "DELETED", body["namespace"], body["name"]):
                return self.send_json(404, {"error": "no such DaemonSet"})
        elif cmd == "bookmark":
            st.bookmark()
        elif cmd in ("drop", "error", "compact", "config"):
            with st.cond:
                self.apply_control(cmd, body)
                st.cond.notify_all()
        elif cmd != "stats":
            return self.send_json(404, {"error": "unknown command " + cmd})
        with st.cond:
            answer = dict(st.counts, rv=st.rv, objects=len(st.objects))
        self.send_json(200, answer)

    def apply_control(self, cmd, body):
        st = self.state
        if cmd == "drop":
            # Changes made in the same breath as the cut reach no open watch:
            # they happen while the client is away.
            for ns, name in body.get("add", []):
                st.change("ADDED", ns, name)
            for ns, name in body.get("delete", []):
                st.change("DELETED", ns, name)
            if body.get("compact"):
                st.compacted = st.rv
                st.continues.clear()
            st.cuts += 1
        elif cmd == "error":
            st.error_code = int(body.get("code", 410))
            st.errors += 1
        elif cmd == "compact":
            st.compacted = st.rv
            st.continues.clear()
        else:
            for key in ("token", "page_size", "gone_mode", "delay", "unavailable"):
                if key in body:
                    setattr(st, key, body[key])


class QuietServer(ThreadingHTTPServer):
    """Says nothing when a client goes away mid-answer (the tests cut watches)."""

    def handle_error(self, request, client_address):
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


def openssl(*args):
    subprocess.run(["openssl"] + list(args), check=True, capture_output=True)


def make_certs(d):
    """A CA, a server certificate for 127.0.0.1 and localhost, and a client
    certificate, all made with the openssl CLI."""
    p = {n: os.path.join(d, n) for n in ("ca.key", "ca.crt", "server.key", "server.csr", "server.crt",
                                          "client.key", "client.csr", "client.crt", "ext.cnf")}
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    openssl("req", "-x509", *ec, "-keyout", p["ca.key"], "-out", p["ca.crt"], "-days", "2",
            "-subj", "/CN=fake-apiserver-ca")
    with open(p["ext.cnf"], "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    for who, subj in (("server", "/CN=fake-apiserver"), ("client", "/CN=dsguard-test/O=system:masters")):
        openssl("req", "-new", *ec, "-keyout", p[who + ".key"], "-out", p[who + ".csr"], "-subj", subj)
        extra = ["-extfile", p["ext.cnf"]] if who == "server" else []
        openssl("x509", "-req", "-in", p[who + ".csr"], "-CA", p["ca.crt"], "-CAkey", p["ca.key"],
                "-CAcreateserial", "-days", "2", "-out", p[who + ".crt"], *extra)
    return p


def serve(d, seeds, port=0):
    """Starts the server in a thread. Returns (server, state, info)."""
    paths = make_certs(d)
    st = State(secrets.token_hex(16))
    for seed in seeds:
        ns, name = seed.split("/", 1)
        st.change("ADDED", ns, name)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(paths["server.crt"], paths["server.key"])
    ctx.load_verify_locations(paths["ca.crt"])
    ctx.verify_mode = ssl.CERT_OPTIONAL
    handler = type("BoundHandler", (Handler,), {"state": st})
    server = QuietServer(("127.0.0.1", port), handler)
    server.daemon_threads = True
    server.socket = ctx.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    info = {"url": "https://127.0.0.1:%d" % server.server_address[1], "ca": paths["ca.crt"], "token": st.token,
            "client_cert": paths["client.crt"], "client_key": paths["client.key"]}
    return server, st, info


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dir", required=True, help="where the certificates go")
    ap.add_argument("--seed", action="append", default=[], help="a DaemonSet NS/NAME present at start")
    args = ap.parse_args()
    server, _, info = serve(args.dir, args.seed)
    print(json.dumps(info), flush=True)
    try:
        sys.stdin.read()  # runs until the test closes our standard input
    finally:
        server.shutdown()


if __name__ == "__main__":
    main()
