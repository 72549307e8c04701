"""What the webhook benchmarks share: certificates made with openssl, the
AdmissionReview and config, dsguard serve and nginx started on loopback
from a temporary directory, /proc readings, and wrk runs and their output.
Nothing is written outside the temporary directory given."""
import http.client
import os
import re
import resource
import shutil
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
TICK = os.sysconf("SC_CLK_TCK")


def env(name, default):
    return os.environ.get(name) or default


BIN = env("DSGUARD_BIN", os.path.join(ROOT, "dsguard"))
CORPUS = env("CORPUS", os.path.join(os.path.dirname(ROOT), "shared", "corpus", "realworld"))
NGINX = env("NGINX", "/usr/sbin/nginx")
WRK = env("WRK", "wrk")


def log(*args):
    print(*args, file=sys.stderr, flush=True)


def median(values):
    return statistics.median(values) if values else float("nan")


# ---- /proc ----

def children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []


def cpu_seconds(pids):
    """utime + stime of the processes (every thread), in seconds."""
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # fields 14 and 15 of stat
    return total / TICK


def status_kb(pids, key):
    """The sum of a /proc/PID/status field (VmRSS, VmHWM) in KiB."""
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    total += int(line.split()[1])
    return total


def open_fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


# ---- set-up ----

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def openssl(work, *args):
    subprocess.run(["openssl", *args], cwd=work, check=True, capture_output=True)


def make_certs(work):
    """An EC P-256 CA and a serving certificate for 127.0.0.1, as the tests
    make them. Returns (ca, cert, key) paths."""
    openssl(work, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=bench-ca",
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign")
    with open(os.path.join(work, "tls.ext"), "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
    openssl(work, "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", "tls.key", "-out", "tls.csr", "-subj", "/CN=localhost")
    openssl(work, "x509", "-req", "-in", "tls.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", "tls.crt", "-days", "2", "-extfile", "tls.ext")
    return tuple(os.path.join(work, n) for n in ("ca.crt", "tls.crt", "tls.key"))


def make_review(work, python=sys.executable):
    """Writes review.json (see review.py). Returns (path, description)."""
    path = os.path.join(work, "review.json")
    with open(path, "wb") as out:
        p = subprocess.run([python, os.path.join(HERE, "review.py"), CORPUS, env("REVIEW_BYTES", "5000")],
                           stdout=out, stderr=subprocess.PIPE, check=True, text=True)
    return path, p.stderr.strip()


CONFIG = """# the webhook benchmark's config: DS001 patches in a default priority class
rules:
  priority-class:
    severity: error
    default: node-agents
  restart-policy:
    severity: error
"""


class Server:
    """A server on loopback: .pid, .pids() (every process), .port, .startup
    (seconds until GET /healthz answered 200)."""

    def __init__(self, name, argv, port, ca, work, stderr_name, extra_env=None):
        self.name, self.port, self.ca = name, port, ca
        self.ctx = ssl.create_default_context(cafile=ca)
        self.errlog = open(os.path.join(work, stderr_name), "ab")
        t0 = time.perf_counter()
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=self.errlog, env={**os.environ, **(extra_env or {})})
        self.pid = self.proc.pid
        deadline = t0 + 30
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{name} exited {self.proc.returncode} at start; see {stderr_name}")
            if time.perf_counter() > deadline:
                self.stop()
                raise RuntimeError(f"{name} did not answer /healthz in 30 s")
            try:
                if self.get("/healthz", timeout=1)[0] == 200:
                    break
            except (OSError, http.client.HTTPException):
                time.sleep(0.002)
        self.startup = time.perf_counter() - t0

    def pids(self):
        return [self.pid] + children(self.pid)

    def get(self, path, timeout=10, method="GET", body=None):
        conn = http.client.HTTPSConnection("127.0.0.1", self.port, context=self.ctx, timeout=timeout)
        try:
            conn.request(method, path, body=body,
                         headers={"Content-Type": "application/json"} if body is not None else {})
            r = conn.getresponse()
            return r.status, r.read()
        finally:
            conn.close()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.errlog.close()


def start_dsguard(work, certs, port=None, log_name="dsguard.log", binary=None, extra_env=None):
    """dsguard serve (binary, default BIN; extra_env added to its
    environment) with the benchmark's config."""
    ca, cert, key = certs
    port = port or free_port()
    config = os.path.join(work, "config.yaml")
    if not os.path.exists(config):
        with open(config, "w") as f:
            f.write(CONFIG)
    # The review log lines go to a file, as a deployment's would go to its log collector.
    return Server("dsguard", [binary or BIN, "serve", "--listen", f"127.0.0.1:{port}", "--tls-cert", cert,
                              "--tls-key", key, "--cluster", "off", "--config", config],
                  port, ca, work, log_name, extra_env)


def nginx_literal(body):
    """body as an nginx single-quoted string of the same length: the few
    characters nginx would read as escapes or variables are replaced."""
    text = body.decode()
    return re.sub(r"['\\$]", "_", text)


def start_nginx(work, certs, answers, port=None):
    """nginx-light with the same certificate and TLS versions, keep-alive,
    answering each POST with a fixed JSON body (answers: path -> bytes),
    logging each request to a file like dsguard."""
    ca, cert, key = certs
    port = port or free_port()
    conf = os.path.join(work, "nginx.conf")
    locations = "\n".join(f"        location = {path} {{ return 200 '{nginx_literal(body)}'; }}"
                          for path, body in answers.items())
    with open(conf, "w") as f:
        f.write(f"""worker_processes {os.cpu_count()};
daemon off;
master_process on;
pid {work}/nginx.pid;
error_log {work}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log {work}/nginx-access.log;
    client_body_temp_path {work}/nginx-body;
    proxy_temp_path {work}/nginx-proxy;
    fastcgi_temp_path {work}/nginx-fastcgi;
    uwsgi_temp_path {work}/nginx-uwsgi;
    scgi_temp_path {work}/nginx-scgi;
    default_type application/json;
    client_body_buffer_size 1m;
    client_max_body_size 8m;
    keepalive_requests 1000000000;
    keepalive_timeout 30s;
    server {{
        listen 127.0.0.1:{port} ssl;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        ssl_protocols TLSv1.2 TLSv1.3;
{locations}
        location = /healthz {{ default_type text/plain; return 200 'ok\\n'; }}
    }}
}}
""")
    return Server("nginx", [NGINX, "-c", conf, "-e", os.path.join(work, "nginx-error.log")],
                  port, ca, work, "nginx.stderr")


# ---- wrk ----

def write_lua(work):
    """post.lua: POST the review; close.lua: GET /healthz on a new TLS
    connection each time; rate.lua: POST at a fixed total rate (env RATE
    requests/s over THREADS threads), alternating /validate and /mutate."""
    with open(os.path.join(work, "post.lua"), "w") as f:
        f.write("""wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local f = assert(io.open(os.getenv("BODY"), "rb"))
wrk.body = f:read("*a")
f:close()
""")
    with open(os.path.join(work, "close.lua"), "w") as f:
        f.write("""wrk.method = "GET"
wrk.headers["Connection"] = "close"
""")
    with open(os.path.join(work, "rate.lua"), "w") as f:
        f.write("""-- A fixed request rate: each request takes the next slot of its thread's
-- schedule (1000 / rate ms apart) and waits for it in delay().
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clock, bench_timespec *ts);
]]
local ts = ffi.new("bench_timespec")
local function now_ms()
    ffi.C.clock_gettime(1, ts)
    return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
end
local f = assert(io.open(os.getenv("BODY"), "rb"))
local body = f:read("*a")
f:close()
local requests, interval, slot, n = {}, 0, nil, 0
function init(args)
    interval = 1000 * tonumber(os.getenv("THREADS")) / tonumber(os.getenv("RATE"))
    local headers = {["Content-Type"] = "application/json"}
    requests[1] = wrk.format("POST", "/validate", headers, body)
    requests[2] = wrk.format("POST", "/mutate", headers, body)
end
function request()
    n = n + 1
    return requests[n % 2 + 1]
end
function delay()
    local now = now_ms()
    if slot == nil or slot < now - 1000 then slot = now end
    slot = slot + interval
    return math.max(0, math.floor(slot - now))
end
""")


UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4}


def parse_latency(text):
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    return float(m.group(1)) * UNITS[m.group(2)]


def parse_wrk(out):
    """requests/s, requests, p50 and p99 latency (ms), and the errors line."""
    r = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
         "requests": int(re.search(r"(\d+) requests in", out).group(1)), "errors": ""}
    for pct, key in (("50", "p50"), ("99", "p99")):
        m = re.search(rf"^\s+{pct}(?:\.000)?%\s+(\S+)", out, re.M)
        r[key] = parse_latency(m.group(1)) if m else float("nan")
    errs = re.findall(r"(Socket errors:.*|Non-2xx or 3xx responses: \d+)", out)
    r["errors"] = "; ".join(errs)
    return r


def wrk(work, url, connections, seconds, script, extra_env=None, latency=True):
    threads = max(1, min(2, connections))
    argv = [WRK, f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "-s", os.path.join(work, script)]
    if latency:
        argv.append("--latency")
    e = dict(os.environ, BODY=os.path.join(work, "review.json"), THREADS=str(threads))
    e.update(extra_env or {})
    p = subprocess.run(argv + [url], capture_output=True, text=True, env=e, check=True)
    return parse_wrk(p.stdout), p.stdout


def machine_busy():
    """Seconds of CPU time the whole machine has spent busy (/proc/stat)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return (sum(v[:8]) - v[3] - v[4]) / TICK   # all but idle and iowait


def measured_wrk(server, work, path, connections, seconds, script="post.lua", extra_env=None):
    """A wrk run with the server's CPU time over it and its peak RSS after;
    "other" is the CPU that neither the server nor wrk used (other work on
    the machine), in cores."""
    pids = server.pids()
    c0, t0, m0 = cpu_seconds(pids), time.perf_counter(), machine_busy()
    k0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    r, out = wrk(work, f"https://127.0.0.1:{server.port}{path}", connections, seconds, script, extra_env)
    wall = time.perf_counter() - t0
    k1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    server_cpu = cpu_seconds(pids) - c0
    wrk_cpu = (k1.ru_utime + k1.ru_stime) - (k0.ru_utime + k0.ru_stime)
    r["cpu"] = server_cpu / wall  # cores busy
    r["wrk_cpu"] = wrk_cpu / wall
    r["other"] = max(0.0, machine_busy() - m0 - server_cpu - wrk_cpu) / wall
    r["cpu_us"] = (cpu_seconds(pids) - c0) * 1e6 / max(1, r["requests"])
    r["hwm_kb"] = status_kb(pids, "VmHWM")
    return r, out


def in_temp_dir(prefix, run):
    """Calls run(work) with a new temporary directory, removed afterwards."""
    work = tempfile.mkdtemp(prefix=prefix)
    try:
        run(work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
