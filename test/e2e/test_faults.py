"""Fault tests for dsguard serve over real TLS, each bounded in time:

- SIGTERM while several keep-alive clients are sending reviews: every answer
  that arrives is a whole, correct 200 AdmissionReview; a request the server
  never answered is one it never logged either; exit 0.
- A thousand idle, TLS-handshaken-but-silent and byte-trickling connections
  while ordinary reviews are still answered promptly; afterwards the idle
  timeout closes every one of them. Past the connection limit (1024): what an
  established connection and a new one see, and which connections the
  server closes to make room.
- Slowloris: the server full of TLS connections each trickling a request
  header a byte a second; new connections are still answered at once, and
  each trickler is closed at --request-timeout.
- Clients that disconnect in the middle of a body (FIN, close_notify, RST;
  declared and chunked; large): nothing breaks, nothing is counted as an
  error, nothing is left in flight.
- A body of exactly --max-body-bytes is answered, one byte more is 413, with
  Content-Length and chunked, at a small limit and at the default 8 MiB.
- Junk on the TLS port (random bytes, clear-text HTTP, TLS records that lie,
  a ClientHello cut short, a whole one then silence): no crash, no stall,
  each connection closed within the idle timeout.

Certificate rotation while requests flow, and a config replaced by an invalid
one before SIGHUP (the old config stays in force, the failure is logged and
counted), are in test_webhook_serve.py. Under valgrind (DSGUARD_VALGRIND=1)
the counts are smaller, and the test names say so."""
import json
import os
import random
import resource
import selectors
import signal
import socket
import ssl
import struct
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tap  # noqa: E402
from test_webhook_serve import Server, daemonset, make_ca, make_cert, metric, review_request  # noqa: E402

VALGRIND = os.environ.get("DSGUARD_VALGRIND") == "1"
SANITIZE = os.environ.get("DSGUARD_SANITIZE") == "1"
SLOW = VALGRIND or SANITIZE
CONNECTION_LIMIT = 1024          # serve's default --max-connections (cli/serve.c)
PROMPT = 10.0 if SLOW else 2.0   # seconds an ordinary request may take while the server is under attack
WATCHDOG = 900 if VALGRIND else 300
SERVERS = []


FEWER = " (fewer under valgrind)" if VALGRIND else ""


def scaled(normal, under_valgrind):
    return under_valgrind if VALGRIND else normal


def start(tmp, pki, *args, name):
    srv = Server(tmp, pki["ca"], pki["cert"], pki["key"], *args, name=name)
    SERVERS.append(srv)
    return srv


def watchdog():
    """Ends the whole file, servers included, if something hangs anyway."""
    def fire():
        print(f"not ok - the fault tests did not finish within {WATCHDOG} s")
        sys.stdout.flush()
        for s in SERVERS:
            if s.proc.poll() is None:
                s.proc.kill()
        os._exit(1)
    timer = threading.Timer(WATCHDOG, fire)
    timer.daemon = True
    timer.start()


def raise_fd_limit(want):
    """Raises the soft limit on open files (which the servers inherit) up to
    `want`, or the hard limit. Returns the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = want if hard == resource.RLIM_INFINITY else min(want, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def server_sockets(srv):
    """The sockets the server process has open (None where /proc is not)."""
    d = f"/proc/{srv.proc.pid}/fd"
    try:
        names = os.listdir(d)
    except OSError:
        return None
    n = 0
    for name in names:
        try:
            n += os.readlink(os.path.join(d, name)).startswith("socket:")
        except OSError:
            pass
    return n


def log_problems(srv):
    """Log lines at error level, answers of 5xx, and lines that are not JSON."""
    return [x for x in srv.lines()
            if "unparsed" in x or x.get("level") == "error" or (x.get("status") or 0) >= 500]


def error_results(m):
    """Requests counted with result="error" (the 5xx), by endpoint."""
    return {dict(k[1]).get("endpoint"): v for k, v in m.items()
            if k[0] == "dsguard_requests_total" and dict(k[1]).get("result") == "error" and v}


def wait_in_flight(srv, want, timeout=5):
    """dsguard_requests_in_flight once it is `want`, or at the timeout."""
    deadline = time.time() + timeout
    while True:
        value = metric(srv.metrics(), "dsguard_requests_in_flight")
        if value == want or time.time() > deadline:
            return value
        time.sleep(0.1)


# ---- HTTP/1.1 by hand over TLS, so that what the server sent is seen exactly ----

class Unanswered(Exception):
    """The connection ended before a single byte of the answer."""


class Cut(Exception):
    """The connection ended, or went silent, in the middle of an answer."""


class Conn:
    def __init__(self, srv, timeout=15):
        raw = socket.create_connection(("127.0.0.1", srv.port), timeout=timeout)
        try:
            self.sock = srv.context().wrap_socket(raw, server_hostname="127.0.0.1")
        except BaseException:
            raw.close()
            raise
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data)

    def _more(self, got_some):
        try:
            chunk = self.sock.recv(65536)
        except (TimeoutError, socket.timeout):
            raise (Cut("silent in the middle of an answer") if got_some else TimeoutError("no answer"))
        except (OSError, ssl.SSLError) as e:
            chunk = b""
            why = repr(e)
        else:
            why = "end of stream"
        if not chunk:
            if got_some:
                raise Cut(f"{why} after {len(self.buf)} bytes: {self.buf[:120]!r}")
            raise Unanswered(why)
        self.buf += chunk

    def response(self):
        """Reads one answer: (status, {lower-case header: value}, body)."""
        while b"\r\n\r\n" not in self.buf:
            self._more(bool(self.buf))
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        length = int(headers.get("content-length", "0"))
        while len(self.buf) < length:
            try:
                self._more(True)
            except Cut as e:
                raise Cut(f"answer {status} cut at {len(self.buf)} of {length} body bytes") from e
        body, self.buf = self.buf[:length], self.buf[length:]
        return status, headers, body

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def post(path, body, length=None, extra=b""):
    """A POST with Content-Length (the body's own length unless given)."""
    return (b"POST %s HTTP/1.1\r\nHost: dsguard\r\nContent-Type: application/json\r\n%sContent-Length: %d\r\n\r\n"
            % (path.encode(), extra, len(body) if length is None else length) + body)


def chunked(path, pieces):
    """A chunked POST of these pieces, and its last chunk."""
    out = b"POST %s HTTP/1.1\r\nHost: dsguard\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n" \
        % path.encode()
    for p in pieces:
        out += b"%x\r\n%s\r\n" % (len(p), p)
    return out + b"0\r\n\r\n"


def compliant(name="agent"):
    return review_request(daemonset(name=name, pod_spec={"priorityClassName": "pc"}))


def check_review(req, status, data, allowed):
    """Why this is not the whole, correct answer to req (None when it is)."""
    if status != 200:
        return f"status {status}: {data[:200]!r}"
    try:
        r = json.loads(data)["response"]
    except (ValueError, KeyError, TypeError) as e:
        return f"not an AdmissionReview ({e}): {data[:200]!r}"
    if r.get("uid") != req["request"]["uid"] or r.get("allowed") is not allowed:
        return f"wrong answer for {req['request']['uid']}: {json.dumps(r)[:200]}"
    return None


def ordinary(srv, conn=None, name="ordinary"):
    """One review on conn (or a new connection): (seconds taken, problem or None)."""
    req = compliant(name)
    began = time.time()
    own = conn is None
    try:
        if own:
            conn = Conn(srv, timeout=PROMPT * 3)
        conn.send(post("/validate", json.dumps(req).encode()))
        status, _, data = conn.response()
        problem = check_review(req, status, data, True)
    except (OSError, ssl.SSLError, Unanswered, Cut) as e:
        problem = repr(e)
    finally:
        if own and conn:
            conn.close()
    return time.time() - began, problem


def client_hello(ca):
    """The first flight of a real TLS client (Python's, trusting ca)."""
    ctx = ssl.create_default_context(cafile=ca)
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(incoming, outgoing, server_hostname="localhost")
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    hello = outgoing.read()
    assert hello[:1] == b"\x16" and len(hello) > 64, hello[:16]
    return hello


def wait_closed(socks, deadline):
    """Waits until the server has closed each socket (it reads end of stream or
    an error), or the deadline. Returns {socket: monotonic time it was seen closed}."""
    sel = selectors.DefaultSelector()
    for s in socks:
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
    closed = {}
    while len(closed) < len(socks) and time.monotonic() < deadline:
        for key, _ in sel.select(timeout=0.2):
            s = key.fileobj
            try:
                while True:
                    data = s.recv(65536)
                    if not data:
                        raise EOFError
            except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
                continue
            except (EOFError, OSError, ssl.SSLError):
                closed[s] = time.monotonic()
                sel.unregister(s)
    sel.close()
    return closed


def close_all(socks):
    for s in socks:
        try:
            s.close()
        except OSError:
            pass


def rst_close(sock):
    """Closes with a TCP reset instead of a FIN."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    sock.close()


# ---- 1. SIGTERM while requests are flowing ----

def test_sigterm_under_load(t, tmp, pki):
    srv = start(tmp, pki, name="term-load")
    workers = scaled(6, 3)
    big_pad = b" " * (256 << 10)
    lock = threading.Lock()
    stop = threading.Event()
    termed = threading.Event()
    answered, unanswered, failures = [], [], []
    refused = [0]

    def worker(i):
        conn, n = None, 0
        while not stop.is_set() and srv.proc.poll() is None:
            if conn is None:
                try:
                    conn = Conn(srv)
                except (OSError, ssl.SSLError) as e:
                    with lock:
                        if not termed.is_set():
                            failures.append(f"connect before SIGTERM: {e!r}")
                        refused[0] += 1
                    time.sleep(0.05)
                    continue
            n += 1
            deny = n % 2 == 0
            spec = None if deny else {"priorityClassName": "pc"}
            req = review_request(daemonset(name=f"agent-{i}-{n}", pod_spec=spec))
            body = json.dumps(req).encode()
            if n % 5 == 0:
                body = body[:1] + big_pad + body[1:]
            try:
                conn.send(post("/validate", body))
            except (OSError, ssl.SSLError):
                conn.close()
                conn = None  # closed before the request was sent: fine
                continue
            try:
                status, headers, data = conn.response()
            except Unanswered:
                with lock:
                    unanswered.append(req["request"]["uid"])
                conn.close()
                conn = None
                continue
            except (Cut, TimeoutError) as e:
                with lock:
                    failures.append(f"{req['request']['uid']}: {e}")
                conn.close()
                conn = None
                continue
            problem = check_review(req, status, data, not deny)
            with lock:
                if problem:
                    failures.append(problem)
                answered.append((req["request"]["uid"], termed.is_set()))
            if headers.get("connection", "").lower() == "close":
                conn.close()
                conn = None
        if conn:
            conn.close()

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(workers)]
    for th in threads:
        th.start()
    deadline = time.time() + (30 if SLOW else 10)
    while time.time() < deadline and len(answered) < scaled(300, 40):
        time.sleep(0.02)
    before = len(answered)
    termed.set()
    srv.proc.send_signal(signal.SIGTERM)
    signalled = time.time()
    try:
        rc = srv.proc.wait(60 if SLOW else 30)
    except Exception:  # noqa: BLE001 - a hang is reported as a wrong exit status
        rc = "still running"
    took = time.time() - signalled
    stop.set()
    for th in threads:
        th.join(30)
    after = sum(1 for _, late in answered if late)
    logged = {x.get("uid"): x for x in srv.lines() if x.get("msg") == "review"}
    t.ok(before > 0, f"SIGTERM under load: {workers} keep-alive clients{FEWER} were answered before it "
         f"({before} reviews)")
    t.ok(not failures, f"SIGTERM under load: every answer is a whole, correct 200 AdmissionReview "
         f"({len(answered)} answered, {after} of them after SIGTERM; no 5xx, nothing cut short)",
         "\n".join(failures[:10]))
    lost = [u for u in unanswered if u in logged]
    t.ok(not lost, f"SIGTERM under load: a request left without an answer ({len(unanswered)}) is one the server "
         f"never answered (closed before it was read), never one cut off", lost[:5])
    missing = [u for u, _ in answered if u not in logged]
    t.ok(not missing, "SIGTERM under load: every answer received is in the log", missing[:5])
    t.eq(rc, 0, f"SIGTERM under load: exit 0 ({took:.1f} s after the signal; {refused[0]} reconnects refused after it)")
    msgs = [x.get("msg", "") for x in srv.lines()]
    t.ok(any(m.startswith("SIGTERM") for m in msgs) and msgs[-1:] == ["stopped"] and not log_problems(srv),
         "SIGTERM under load: logged, stopped, no error in the log", msgs[-5:])
    srv.stop()


# ---- 2. A thousand idle, silent and trickling connections ----

def open_tls(srv, timeout):
    raw = socket.create_connection(("127.0.0.1", srv.port), timeout=timeout)
    try:
        return srv.context().wrap_socket(raw, server_hostname="127.0.0.1")
    except BaseException:
        raw.close()
        raise


def test_many_connections(t, tmp, pki, hello):
    want = scaled(1000, 100)
    limit = raise_fd_limit(2 * want + 512)
    n = min(want, max(40, (limit - 512) // 2))
    label = f"{n} connections{FEWER}" + (" (the open-file limit allows no more)" if n < want else "")
    # The idle timeout must outlast opening the connections and the ordinary
    # reviews after (seconds on a busy machine), or the first idle ones close
    # before they are counted; the request deadline is set past the test.
    idle_timeout = 20 if SLOW else 10
    srv = start(tmp, pki, "--idle-timeout", str(idle_timeout), "--request-timeout", "300", name="many")
    keep = Conn(srv)
    t.ok(ordinary(srv, keep)[1] is None, "many connections: a keep-alive connection is answered before")
    base = server_sockets(srv)
    quarter = n // 4
    per_thread = [quarter // 4 + (i < quarter % 4) for i in range(4)]
    idle, silent, trickle_tls, trickle_raw = [], [], [], []
    problems = []
    opened = time.monotonic()
    try:
        for _ in range(quarter):
            idle.append(socket.create_connection(("127.0.0.1", srv.port), timeout=30))
            trickle_raw.append(socket.create_connection(("127.0.0.1", srv.port), timeout=30))
        lock = threading.Lock()

        def handshake(count, into):
            for _ in range(count):
                try:
                    s = open_tls(srv, 30)
                except (OSError, ssl.SSLError) as e:
                    problems.append(repr(e))
                    continue
                with lock:
                    into.append(s)
        hs = [threading.Thread(target=handshake, args=(count, into), daemon=True)
              for into in (silent, trickle_tls) for count in per_thread]
        for th in hs:
            th.start()
        for th in hs:
            th.join(120)
        setup = time.monotonic() - opened
        t.ok(not problems, f"many connections: {label}: {len(idle)} idle, {len(silent)} TLS-silent, "
             f"{len(trickle_tls)} trickling a request header over TLS, {len(trickle_raw)} trickling a ClientHello, "
             f"one byte each per 200 ms ({setup:.1f} s to open)", problems[:5])
        header = b"POST /validate HTTP/1.1\r\nHost: dsguard\r\nContent-Type: application/json\r\nX-Slow: " + b"s" * 4096
        stop = threading.Event()
        sent = [0]
        trickle_errors = []

        def trickler():
            i = 0
            while not stop.wait(0.2):
                for s in trickle_tls:
                    try:
                        s.sendall(header[i:i + 1])
                    except (OSError, ssl.SSLError) as e:
                        trickle_errors.append(repr(e))
                for s in trickle_raw:
                    try:
                        s.sendall(hello[i % len(hello):i % len(hello) + 1])
                    except OSError as e:
                        trickle_errors.append(repr(e))
                sent[0] += len(trickle_tls) + len(trickle_raw)
                i += 1
        tr = threading.Thread(target=trickler, daemon=True)
        tr.start()
        held = server_sockets(srv)
        times, bad = [], []
        phase_end = time.monotonic() + (4 if SLOW else 2)
        i = 0
        while time.monotonic() < phase_end or len(times) < 10:
            took, problem = ordinary(srv, keep if i % 2 else None, name=f"ordinary-{i}")
            times.append(took)
            if problem:
                bad.append(problem)
            i += 1
        held_after = server_sockets(srv)
        t.ok(not bad and max(times) < PROMPT,
             f"many connections: {len(times)} ordinary reviews meanwhile, new and keep-alive connections, all 200, "
             f"each under {PROMPT:.0f} s (slowest {max(times):.2f} s)", bad[:5])
        if base is None:
            t.skip("many connections: the server holds them all meanwhile", "no /proc")
        else:
            t.ok(held - base >= n - 2 and held_after - base >= n - 2,
                 f"many connections: the server held them all meanwhile ({held - base} and {held_after - base} "
                 f"sockets beyond its own)", (base, held, held_after))
        stop.set()
        tr.join(10)
        quiet = time.monotonic()
        t.ok(not trickle_errors and sent[0] > 0,
             f"many connections: {sent[0]} trickled bytes, none refused while bytes kept coming", trickle_errors[:5])
        everyone = idle + silent + trickle_tls + trickle_raw
        closed = wait_closed(everyone, quiet + idle_timeout + 5)
        late = [round(closed[s] - quiet, 1) for s in trickle_tls + trickle_raw
                if s in closed and closed[s] - quiet > idle_timeout + 3]
        t.ok(len(closed) == len(everyone) and not late,
             f"many connections: once quiet, the idle timeout ({idle_timeout} s) closes every one of them "
             f"({len(closed)} of {len(everyone)})", late[:5])
        gone = time.monotonic() + 5
        while base is not None and server_sockets(srv) > base and time.monotonic() < gone:
            time.sleep(0.1)
        t.ok(base is None or server_sockets(srv) <= base,
             "many connections: and the server holds no socket of theirs afterwards", (base, server_sockets(srv)))
        t.ok(ordinary(srv)[1] is None, "many connections: answered afterwards")
    finally:
        close_all(idle + silent + trickle_tls + trickle_raw)
        keep.close()
    m = srv.metrics()
    t.ok(not error_results(m) and not log_problems(srv), "many connections: no 5xx, no error logged",
         (error_results(m), log_problems(srv)[:3]))
    t.eq(srv.stop(), 0, "many connections: exit 0")


def test_over_the_limit(t, tmp, pki):
    """More connections than the limit (--max-connections, 1024): each
    newcomer past it makes the server close the connection that has waited
    longest for its request (libmicrohttpd takes a few past the limit for
    that), so a new connection is answered at once instead of waiting in the
    listen backlog for the idle timeout. A keep-alive connection between two
    requests is closed for room only when none is reading one: here it is
    answered as usual."""
    extra = 50
    if raise_fd_limit(2 * (CONNECTION_LIMIT + extra) + 512) < 2 * (CONNECTION_LIMIT + extra) + 256:
        t.skip("over the connection limit", "the open-file limit is too low")
        return
    idle_timeout = 20 if SLOW else 10
    srv = start(tmp, pki, "--idle-timeout", str(idle_timeout), "--request-timeout", "60", name="limit")
    keep = Conn(srv)
    t.ok(ordinary(srv, keep)[1] is None, "over the limit: a keep-alive connection is answered before")
    flood = []
    try:
        filled = time.monotonic()
        for _ in range(CONNECTION_LIMIT + extra):
            flood.append(socket.create_connection(("127.0.0.1", srv.port), timeout=30))
        opened = time.monotonic() - filled
        time.sleep(0.5)
        took, problem = ordinary(srv, keep)
        t.ok(problem is None and took < PROMPT,
             f"over the limit ({CONNECTION_LIMIT} + {extra} idle, opened in {opened:.1f} s): an established "
             f"keep-alive connection is still answered at once ({took:.2f} s)", problem)
        took, problem = ordinary(srv)
        t.ok(problem is None and took < PROMPT,
             f"over the limit: a new connection is answered at once ({took:.2f} s), not once the idle timeout "
             f"({idle_timeout} s) has freed a slot", problem)
        gone = wait_closed(flood, time.monotonic() + 1)
        # The oldest by the server's clock: two threads accept, so two
        # connections opened close together may be taken in either order.
        oldest = set(flood[:extra + 2 + 16])
        t.ok(len(gone) == extra + 2 and set(gone) <= oldest,
             f"over the limit: {extra + 2} of the oldest idle connections are closed at once, one for each "
             f"newcomer past the limit (the keep-alive one counts; {len(gone)} closed)")
    finally:
        close_all(flood)
        keep.close()
    m = srv.metrics()
    t.eq(metric(m, "dsguard_connections_closed_total", reason="server_full"), float(extra + 2),
         "over the limit: each is counted in dsguard_connections_closed_total{reason=\"server_full\"}")
    t.ok(ordinary(srv)[1] is None and not log_problems(srv), "over the limit: answered afterwards, nothing logged")
    t.eq(srv.stop(), 0, "over the limit: exit 0")


def open_tricklers(srv, n, problems):
    """n TLS connections with their handshake done, opened from four
    threads. Returns [(socket, monotonic time it was opened)]."""
    socks, lock = [], threading.Lock()

    def opener(count):
        for _ in range(count):
            try:
                s = open_tls(srv, 60)
            except (OSError, ssl.SSLError) as e:
                problems.append(repr(e))
                continue
            with lock:
                socks.append((s, time.monotonic()))
    threads = [threading.Thread(target=opener, args=(n // 4 + (i < n % 4),), daemon=True) for i in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(300)
    return socks


def probe(srv, path, body=None):
    """One request on a new connection: (seconds until its answer, status or the error)."""
    began = time.monotonic()
    conn = None
    try:
        conn = Conn(srv, timeout=30)
        conn.send(post(path, body) if body else b"GET %s HTTP/1.1\r\nHost: dsguard\r\n\r\n" % path.encode())
        status, _, data = conn.response()
        result = status if body is None else (status, json.loads(data)["response"]["allowed"])
    except (OSError, ssl.SSLError, Unanswered, Cut, ValueError, KeyError) as e:
        result = repr(e)
    finally:
        if conn:
            conn.close()
    return time.monotonic() - began, result


def test_slowloris(t, tmp, pki):
    """Slowloris: the server full of TLS connections, each trickling a
    request header one byte a second. A newcomer still gets in at once
    (the connection that has waited longest for its request is closed to
    make room), and each trickler is closed once --request-timeout has
    passed since it connected, however steadily it sends."""
    n = scaled(CONNECTION_LIMIT, 64)
    if raise_fd_limit(2 * n + 512) < 2 * n + 256:
        t.skip("slowloris", "the open-file limit is too low")
        return
    deadline = 60 if SLOW else 15
    limit = [] if n == CONNECTION_LIMIT else ["--max-connections", str(n)]
    srv = start(tmp, pki, "--request-timeout", str(deadline), *limit, name="slowloris")
    problems = []
    opened = time.monotonic()
    tricklers = open_tricklers(srv, n, problems)
    setup = time.monotonic() - opened
    t.ok(not problems and len(tricklers) == n,
         f"slowloris: {n} TLS connections{FEWER}, handshakes done ({setup:.1f} s to open), as many as "
         f"the server holds", problems[:5])
    header = b"POST /validate HTTP/1.1\r\nHost: dsguard\r\nContent-Type: application/json\r\nX-Slow: " + b"s" * 4096
    closed_at, stop = {}, threading.Event()

    def trickle():
        i = 0
        while not stop.is_set():
            for s, _ in tricklers:
                if s in closed_at:
                    continue
                try:
                    s.sendall(header[i:i + 1])
                except (OSError, ssl.SSLError):
                    closed_at[s] = time.monotonic()
            i += 1
            stop.wait(1.0)
    tr = threading.Thread(target=trickle, daemon=True)
    tr.start()
    time.sleep(2.5)
    took, result = probe(srv, "/healthz")
    t.ok(result == 200 and took < PROMPT,
         f"slowloris: a new connection's GET /healthz is answered within {PROMPT:.0f} s ({took:.2f} s)", result)
    req = compliant("newcomer")
    took, result = probe(srv, "/validate", json.dumps(req).encode())
    t.ok(result == (200, True) and took < PROMPT,
         f"slowloris: a new connection's /validate is answered within {PROMPT:.0f} s ({took:.2f} s)", result)
    # Each trickler is closed by the deadline: not before it (but for the
    # two closed to make room for the newcomers), and not much after.
    socks = [s for s, _ in tricklers]
    seen = wait_closed(socks, max(at for _, at in tricklers) + deadline + 10)
    stop.set()
    tr.join(10)
    for s in socks:
        closed_at.setdefault(s, seen.get(s))
    ages = sorted(round(closed_at[s] - at, 1) if closed_at[s] else None for s, at in tricklers)
    early = [a for a in ages if a is not None and a < deadline - 1]
    late = [a for a in ages if a is None or a > deadline + 5]
    t.ok(len(early) <= 2 and not late,
         f"slowloris: each trickler is closed {deadline} s (--request-timeout) after it connected, though it "
         f"keeps sending ({len(early)} closed earlier to make room for the newcomers)", (early, late[:5], ages[-5:]))
    close_all(socks)
    m = srv.metrics()
    closed = (metric(m, "dsguard_connections_closed_total", reason="request_timeout"),
              metric(m, "dsguard_connections_closed_total", reason="server_full"))
    t.ok(closed[0] >= n - 2 and 1 <= closed[1] <= 2 and not error_results(m) and not log_problems(srv),
         f"slowloris: the closings are counted ({closed[0]:.0f} past the deadline, {closed[1]:.0f} for room); "
         f"no 5xx, no error logged", (closed, error_results(m), log_problems(srv)[:3]))
    t.ok(ordinary(srv)[1] is None, "slowloris: answered afterwards")
    t.eq(srv.stop(), 0, "slowloris: exit 0")


# ---- 3. Clients that disconnect in the middle of a body ----

def test_disconnect_mid_body(t, tmp, pki):
    srv = start(tmp, pki, name="midbody")
    rounds = scaled(10, 2)
    stop = threading.Event()
    flow = {"ok": 0, "bad": []}

    def ordinary_flow():
        conn = None
        while not stop.is_set():
            try:
                conn = conn or Conn(srv)
            except (OSError, ssl.SSLError) as e:
                flow["bad"].append(repr(e))
                time.sleep(0.1)
                continue
            _, problem = ordinary(srv, conn)
            if problem:
                flow["bad"].append(problem)
                conn.close()
                conn = None
            else:
                flow["ok"] += 1
        if conn:
            conn.close()

    big = scaled(4 << 20, 1 << 20)
    body = json.dumps(compliant()).encode()
    body = body[:1] + b" " * 6000 + body[1:]
    half = len(body) // 2

    def fin(c):
        c.sock.close()

    def notify(c):
        try:
            c.sock.settimeout(2)
            c.sock.unwrap().close()
        except (OSError, ssl.SSLError, ValueError):
            c.sock.close()

    def reset(c):
        rst_close(c.sock)

    def half_close(c):
        try:
            c.sock.shutdown(socket.SHUT_WR)
            c.sock.settimeout(5)
            c.sock.recv(100)
        except (OSError, ssl.SSLError):
            pass
        c.sock.close()

    cases = [
        ("half the declared body, then FIN", post("/validate", body)[:-half], fin),
        ("half the declared body, then close_notify", post("/validate", body)[:-half], notify),
        ("half the declared body, then RST", post("/validate", body)[:-half], reset),
        ("half the declared body, then a half-close", post("/validate", body)[:-half], half_close),
        ("the headers of a declared body, then RST", post("/mutate", b"", length=len(body)), reset),
        ("chunks without the last one, then FIN", chunked("/validate", [body[:half], body[half:]])[:-30], fin),
        ("a chunk cut in the middle, then RST", chunked("/mutate", [body])[:half], reset),
        (f"{big >> 20} MiB announced, half sent, then RST",
         post("/validate", b" " * (big // 2), length=big), reset),
    ]
    mt0 = srv.metrics()
    th = threading.Thread(target=ordinary_flow, daemon=True)
    th.start()
    errors = []
    for _ in range(rounds):
        for name, data, end in cases:
            try:
                c = Conn(srv)
                c.send(data)
                time.sleep(0.01)
                end(c)
            except (OSError, ssl.SSLError) as e:
                errors.append(f"{name}: {e!r}")
    time.sleep(0.3)
    stop.set()
    th.join(30)
    t.ok(not errors, f"mid-body: {len(cases)} ways to leave in the middle of a body, {rounds} times each{FEWER}",
         errors[:5])
    t.ok(not flow["bad"] and flow["ok"] > 0,
         f"mid-body: {flow['ok']} ordinary reviews meanwhile, all 200", flow["bad"][:5])
    t.ok(srv.proc.poll() is None and ordinary(srv)[1] is None, "mid-body: the server is alive and answers afterwards")
    rest = metric(mt0, "dsguard_requests_in_flight")  # the /metrics request itself
    t.eq(wait_in_flight(srv, rest), rest, f"mid-body: nothing is left in flight (dsguard_requests_in_flight back to "
         f"{rest:.0f}, the scrape itself)")
    m = srv.metrics()
    t.ok(not error_results(m), "mid-body: no request counted as an error (5xx)", error_results(m))
    counted = sum(metric(m, "dsguard_requests_total", endpoint=ep, operation=op, result=r)
                  - metric(mt0, "dsguard_requests_total", endpoint=ep, operation=op, result=r)
                  for ep in ("/validate", "/mutate") for op in ("CREATE", "")
                  for r in ("allowed", "denied", "patched", "bad_request"))
    t.eq(counted, float(flow["ok"] + 1), "mid-body: the abandoned requests are not counted as answered")
    t.ok(not log_problems(srv), "mid-body: no error in the log", log_problems(srv)[:3])
    t.eq(srv.stop(), 0, "mid-body: exit 0" + (" (no leak: valgrind is watching)" if VALGRIND else ""))


# ---- 4. A body of exactly the limit, and one byte over ----

def padded(size, uid_name):
    """A valid AdmissionReview of exactly `size` bytes (whitespace inside)."""
    req = compliant(uid_name)
    text = json.dumps(req, separators=(",", ":")).encode()
    pad = size - len(text)
    assert pad >= 0
    filler = (b" \t\r\n" * (pad // 4 + 1))[:pad]
    return req, text[:1] + filler + text[1:]


def exchange(srv, data, timeout=60):
    """Sends data on a new connection; returns (status, body) of the answer or (None, why)."""
    c = Conn(srv, timeout=timeout)
    try:
        try:
            c.send(data)
        except (OSError, ssl.SSLError):
            pass  # an early answer may close before all is sent: read it
        status, _, body = c.response()
        return status, body
    except (OSError, ssl.SSLError, Unanswered, Cut) as e:
        return None, repr(e)
    finally:
        c.close()


def check_limit(t, srv, limit, what):
    rnd = random.Random(limit)
    for encoding in ("Content-Length", "chunked"):
        req, body = padded(limit, f"exact-{limit}")
        over_req, over = padded(limit + 1, f"over-{limit}")
        if encoding == "chunked":
            cuts = sorted(rnd.sample(range(1, limit), 5))
            pieces = [body[a:b] for a, b in zip([0] + cuts, cuts + [limit])]
            data = chunked("/validate", pieces)
            over_data = chunked("/validate", [over[:limit], over[limit:]])
        else:
            data = post("/validate", body)
            over_data = post("/validate", over)
        status, answer = exchange(srv, data)
        problem = check_review(req, status, answer, True) if status else answer
        t.ok(problem is None, f"{what}, {encoding}: a body of exactly {limit} bytes is answered 200", problem)
        status, answer = exchange(srv, over_data)
        t.ok(status == 413 and json.loads(answer).get("code") == 413,
             f"{what}, {encoding}: {limit + 1} bytes is 413" +
             (" (the last chunk a single byte)" if encoding == "chunked" else ""), (status, answer[:200]))
    status, answer = exchange(srv, chunked("/validate", [padded(limit + 1, "one-chunk")[1]]))
    t.eq(status, 413, f"{what}, chunked: {limit + 1} bytes in a single chunk is 413")
    status, answer = exchange(srv, post("/validate", b"", length=limit + 1))
    t.eq(status, 413, f"{what}: a declared {limit + 1} bytes is 413 before any of it is sent")


def test_body_limit(t, tmp, pki):
    small = start(tmp, pki, "--max-body-bytes", "65536", name="limit-small")
    check_limit(t, small, 65536, "--max-body-bytes 65536")
    t.ok(ordinary(small)[1] is None and not log_problems(small), "--max-body-bytes 65536: healthy afterwards")
    t.eq(small.stop(), 0, "--max-body-bytes 65536: exit 0")
    default = start(tmp, pki, name="limit-default")
    check_limit(t, default, 8 << 20, "the default limit")
    m = default.metrics()
    t.ok(not error_results(m) and not log_problems(default) and ordinary(default)[1] is None,
         "the default limit: no 5xx, healthy afterwards")
    t.eq(default.stop(), 0, "the default limit: exit 0")


# ---- 5. Junk on the TLS port ----

def test_junk(t, tmp, pki, hello):
    idle_timeout = 4 if SLOW else 2
    srv = start(tmp, pki, "--idle-timeout", str(idle_timeout), name="junk")
    rnd = random.Random(5)
    cases = [
        ("random bytes (1 KiB)", rnd.randbytes(1024)),
        ("random bytes (64 KiB)", rnd.randbytes(65536)),
        ("NUL bytes", b"\0" * 4096),
        ("a handshake record of random content", b"\x16\x03\x01\x02\x00" + rnd.randbytes(512)),
        ("a handshake record announcing 64 KiB, then nothing", b"\x16\x03\x01\xff\xff"),
        ("an application-data record before any handshake", b"\x17\x03\x03\x00\x20" + rnd.randbytes(32)),
        ("an alert record before any handshake", b"\x15\x03\x03\x00\x02\x02\x28"),
        ("a clear-text review", post("/validate", json.dumps(compliant()).encode())),
        ("a clear-text GET", b"GET /healthz HTTP/1.1\r\nHost: dsguard\r\n\r\n"),
        ("an SSLv2-style hello",
         bytes.fromhex("802e0103010015000000100100800300800700c0060040020080040080") + rnd.randbytes(16)),
        ("a whole ClientHello", hello),
        ("a whole ClientHello, then random bytes", hello + rnd.randbytes(300)),
        ("a ClientHello twice", hello + hello),
    ]
    for n in sorted({1, 3, 5, 6, 9, 43, len(hello) // 2, len(hello) - 1}):
        cases.append((f"a ClientHello cut after {n} of {len(hello)} bytes", hello[:n]))
    rounds = scaled(3, 1)
    bad, slow_ones, answers = [], [], []
    for r in range(rounds):
        for name, data in cases:
            for ending in ("then close", "then RST"):
                try:
                    s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
                    s.sendall(data)
                    (s.close if ending == "then close" else lambda: rst_close(s))()
                except OSError as e:
                    bad.append(f"{name}, {ending}: {e!r}")
        took, problem = ordinary(srv)
        if problem:
            bad.append(problem)
        slow_ones.append(took)
    t.ok(not bad and max(slow_ones) < PROMPT,
         f"junk: {len(cases)} kinds of junk, closed at once or reset ({rounds} rounds{FEWER}): an ordinary review "
         f"right after each round is answered (slowest {max(slow_ones):.2f} s)", bad[:5])
    held = []
    for name, data in cases:
        s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
        try:
            s.sendall(data)
        except OSError:
            pass
        held.append((name, s))
    sent = time.monotonic()
    took, problem = ordinary(srv)
    t.ok(problem is None and took < PROMPT,
         f"junk: with {len(held)} junk connections held open, an ordinary review is answered ({took:.2f} s)", problem)
    socks = [s for _, s in held]
    saw = {}
    closed = wait_closed(socks, sent + idle_timeout + (8 if SLOW else 3))
    late = [name for name, s in held if s not in closed]
    t.ok(not late, f"junk: each junk connection held open is closed by the server within the idle timeout "
         f"({idle_timeout} s) and a margin; slowest {max([closed[s] - sent for s in closed] or [0]):.1f} s", late)
    close_all(socks)
    # what the server sent back to clear text: never HTTP, so never a 5xx
    for name, data in cases:
        if not name.startswith("a clear-text"):
            continue
        s = socket.create_connection(("127.0.0.1", srv.port), timeout=idle_timeout + 5)
        s.sendall(data)
        got = b""
        try:
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                got += chunk
        except OSError:
            pass
        s.close()
        saw[name] = got[:40]
        answers.append(not got.startswith(b"HTTP/"))
    t.ok(all(answers), "junk: clear-text HTTP on the TLS port gets no HTTP answer (a TLS alert at most)", saw)
    m = srv.metrics()
    t.ok(srv.proc.poll() is None and not error_results(m) and not log_problems(srv),
         "junk: no crash, no 5xx, no error in the log", (error_results(m), log_problems(srv)[:3]))
    t.ok(all(k[0] != "dsguard_requests_total" or dict(k[1]).get("endpoint") in ("/validate", "/metrics")
             for k, v in m.items() if v), "junk: no junk was counted as a request")
    t.eq(srv.stop(), 0, "junk: exit 0")


def main():
    t = tap.Tap()
    watchdog()
    with tempfile.TemporaryDirectory() as tmp:
        ca = make_ca(tmp, "ca")
        cert, key = make_cert(tmp, "tls", ca)
        pki = {"ca": ca[0], "cert": cert, "key": key}
        hello = client_hello(ca[0])
        try:
            test_sigterm_under_load(t, tmp, pki)
            test_many_connections(t, tmp, pki, hello)
            test_over_the_limit(t, tmp, pki)
            test_slowloris(t, tmp, pki)
            test_disconnect_mid_body(t, tmp, pki)
            test_body_limit(t, tmp, pki)
            test_junk(t, tmp, pki, hello)
        finally:
            for s in SERVERS:
                if s.proc.poll() is None:
                    s.stop()
    t.done()


if __name__ == "__main__":
    main()
