"""dsguard lint over malformed and hostile input: truncated YAML, invalid
UTF-8, tabs as indentation, 10,000 levels of nesting (100,000 in a document
lint does not read whole), an alias bomb, a
100 MB file, a binary file, an unreadable file, a symlink loop between two
directories. Each must give exit 2 and an error naming the file (with line
and column where the problem has a position), never a crash, and a good
DaemonSet linted in the same run must still have its finding.

Expected positions are counted by hand from the text written here."""
import json
import os
import random
import resource
import shutil
import stat
import subprocess
import tempfile
import time

from tap import BIN, Tap

SANITIZE = os.environ.get("DSGUARD_SANITIZE") == "1"
# Under valgrind, dsguard needs far more address space and CPU: no memory
# limit and no time limit there (the plain and sanitizer runs check them).
VALGRIND = os.environ.get("DSGUARD_VALGRIND") == "1"
INSTRUMENTED = SANITIZE or VALGRIND
MEMORY_LIMIT = 200 << 20  # bytes of address space for the hostile inputs
CRASH_WORDS = ("AddressSanitizer", "LeakSanitizer", "UndefinedBehaviorSanitizer", "runtime error:",
               "Segmentation fault", "core dumped", "Aborted")

# DS001 is missing: reported at the pod template's "spec:" key, line 12 col 5.
GOOD = """apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: agent
  namespace: agents
spec:
  selector:
    matchLabels: {app: agent}
  template:
    metadata:
      labels: {app: agent}
    spec:
      containers:
        - name: agent
          image: agent:1
"""
GOOD_FINDING = ("good.yaml", "DS001", 12, 5)


def alias_bomb(levels, indent=""):
    """A "billion laughs": level 0 holds ten strings, each next level ten
    aliases of the one before."""
    lines = [indent + 'a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, levels):
        lines.append(indent + f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 10) + "]")
    return "\n".join(lines) + "\n"


def limit_memory():
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def lint(args, cwd, fmt="json", limited=False, as_nobody=False, stdin=None, binary=BIN):
    """Runs dsguard lint; returns (CompletedProcess with bytes, the CPU
    seconds it used: unlike wall time, not inflated by other load)."""
    cmd = [binary, "lint", "--format", fmt] + list(args)
    if as_nobody:
        cmd = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] + cmd
    # Under an address-space limit, glibc's per-thread malloc arenas (64 MB
    # of address space each) would count against it for every worker
    # thread: one arena measures what dsguard itself needs.
    env = dict(os.environ, MALLOC_ARENA_MAX="1") if limited else None
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    p = subprocess.run(cmd, cwd=cwd, input=stdin, capture_output=True, timeout=1800 if VALGRIND else 300,
                       preexec_fn=limit_memory if limited else None, env=env)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return p, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def text(b):
    return b.decode("utf-8", "replace")


def check(tap, name, cwd, bad, pos, good="good.yaml", words=None, limited=False, as_nobody=False,
          stdin=None, binary=BIN, error_file=None, max_seconds=None):
    """Lints bad and good together (JSON, then text) and checks: no crash,
    exit 2, an error for bad (error_file: the name it is reported under)
    with pos ((line, column), "any" for some position, None for none) and
    words in its message, and the good file's finding."""
    error_file = error_file or bad
    p, secs = lint([bad, good], cwd, "json", limited, as_nobody, stdin, binary)
    err = text(p.stderr)
    tap.ok(p.returncode >= 0, f"{name}: no crash (json)", f"killed by signal {-p.returncode}\n{err}")
    tap.ok(not any(w in err for w in CRASH_WORDS), f"{name}: no sanitizer report or crash on stderr", err)
    tap.eq(p.returncode, 2, f"{name}: exit 2")
    if max_seconds is not None and VALGRIND:
        tap.skip(f"{name}: done in under {max_seconds}s of CPU", "not timed under valgrind")
    elif max_seconds is not None:
        tap.ok(secs < max_seconds, f"{name}: done in under {max_seconds}s of CPU", f"took {secs:.1f}s")
    try:
        out = json.loads(p.stdout)
    except ValueError as e:
        tap.ok(False, f"{name}: JSON output", f"{e}\n{text(p.stdout)[:2000]}\n{err}")
        return
    errors = [e for e in out.get("errors", []) if e.get("file") == error_file]
    if not tap.ok(len(errors) >= 1, f"{name}: errors[] names {error_file}", json.dumps(out, indent=1)):
        return
    e = errors[0]
    if pos is None:
        tap.ok("line" not in e and "column" not in e, f"{name}: whole-file error has no line/column", e)
    elif pos == "any":
        tap.ok(e.get("line", 0) >= 1 and e.get("column", 0) >= 1, f"{name}: error has a line and column", e)
    elif callable(pos):
        tap.ok(pos(e.get("line", 0), e.get("column", 0)), f"{name}: error position", e)
    else:
        tap.eq((e.get("line"), e.get("column")), pos, f"{name}: error at line:column {pos[0]}:{pos[1]}")
    if words:
        tap.ok(all(w in e.get("message", "") for w in words), f"{name}: message says {' / '.join(words)}",
               e.get("message"))
    tap.eq(out.get("summary", {}).get("inputErrors"), len(out.get("errors", [])),
           f"{name}: summary.inputErrors counts errors[]")
    found = [(f["file"], f["rule"], f["line"], f["column"]) for f in out.get("findings", [])]
    want = (good,) + GOOD_FINDING[1:] if good else None
    if good:
        tap.ok(want in found, f"{name}: the good file in the same run still has its finding", found)

    # The same in text: "file:line:col: error: ..." or "file: error: ..."
    p, _ = lint([bad, good], cwd, "text", limited, as_nobody, stdin, binary)
    tap.ok(p.returncode == 2, f"{name}: exit 2 (text)", f"exit {p.returncode}\n{text(p.stderr)}")
    lines = text(p.stdout).splitlines()
    if pos is None:
        prefix = f"{error_file}: error: "
    elif isinstance(pos, tuple):
        prefix = f"{error_file}:{pos[0]}:{pos[1]}: error: "
    else:
        prefix = f"{error_file}:"
    tap.ok(any(l.startswith(prefix) for l in lines), f"{name}: text line starts '{prefix}'", "\n".join(lines))
    if good:
        tap.ok(any(l.startswith(f"{good}:12:5: error: DaemonSet agents/agent: ") for l in lines),
               f"{name}: text still reports the good file", "\n".join(lines))


def main():
    tap = Tap()
    root = tempfile.mkdtemp(prefix="dsguard-malformed-")
    try:
        run_all(tap, root)
    finally:
        for dirpath, dirnames, _ in os.walk(root):
            for d in dirnames:
                try:
                    os.chmod(os.path.join(dirpath, d), 0o755)
                except OSError:
                    pass
        shutil.rmtree(root, ignore_errors=True)
    tap.done()


def write(root, name, data):
    path = os.path.join(root, name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)
    return path


def run_all(tap, root):
    write(root, "good.yaml", GOOD)

    # The good file alone: the reference finding, exit 1.
    p, _ = lint(["good.yaml"], root)
    out = json.loads(p.stdout)
    tap.eq(p.returncode, 1, "good file alone: exit 1")
    tap.eq([(f["file"], f["rule"], f["line"], f["column"]) for f in out["findings"]], [GOOD_FINDING],
           "good file alone: DS001 at the pod template's spec: (12:5)")

    # --- truncated YAML ---
    # cut inside a flow mapping opened at 7:18; found at the end (8:1)
    write(root, "trunc_flow.yaml",
          "apiVersion: apps/v1\nkind: DaemonSet\nmetadata:\n  name: cut\nspec:\n  selector:\n"
          "    matchLabels: {app: cu\n")
    check(tap, "truncated flow mapping", root, "trunc_flow.yaml", (8, 1), words=["line 7 column 18"])
    # cut inside a double-quoted string opened at 4:9
    write(root, "trunc_quote.yaml", 'apiVersion: apps/v1\nkind: DaemonSet\nmetadata:\n  name: "cut\n')
    check(tap, "truncated quoted string", root, "trunc_quote.yaml", (5, 1), words=["line 4 column 9"])
    # cut in the middle of a line, no final newline: a key without its ':'
    write(root, "trunc_key.yaml", "apiVersion: apps/v1\nkind: DaemonSet\nmetadata:\n  name: x\nspec\n  template:\n")
    check(tap, "truncated block (a key without ':')", root, "trunc_key.yaml", "any")

    # --- invalid UTF-8: 0xff can start no UTF-8 sequence; "  name: caf" is 11 columns
    write(root, "latin1.yaml", b"apiVersion: apps/v1\nkind: DaemonSet\nmetadata:\n  name: caf\xff\n")
    check(tap, "invalid UTF-8", root, "latin1.yaml", (4, 12), words=["UTF-8"])
    # a lone continuation byte after a two-byte character on the same line
    write(root, "cont.yaml", "apiVersion: v1\nkind: ConfigMap\ndata:\n  k: \u00e9".encode() + b"\x80\n")
    check(tap, "invalid UTF-8 (stray continuation byte)", root, "cont.yaml", (4, 7), words=["UTF-8"])

    # --- tabs as indentation ---
    write(root, "tabs.yaml", "apiVersion: apps/v1\nkind: DaemonSet\nmetadata:\n\tname: tabbed\n")
    check(tap, "tab indentation", root, "tabs.yaml", (4, 1))
    write(root, "tabs2.yaml", "apiVersion: apps/v1\nkind: DaemonSet\nmetadata:\n  name: x\nspec:\n  \ttemplate: {}\n")
    check(tap, "tab after spaces", root, "tabs2.yaml", (6, 3))

    # --- 10,000 levels of nesting: at most 512 levels, so the 513th opens the error
    limited = not INSTRUMENTED
    note = " (ulimit -v 200 MB)" if limited else " (no ulimit: sanitizers and valgrind need more address space)"
    write(root, "deep_flow.yaml", "[" * 10000 + "]" * 10000 + "\n")
    check(tap, "10,000 levels of [[[ nesting" + note, root, "deep_flow.yaml", (1, 513), words=["512"],
          limited=limited, max_seconds=10)
    write(root, "deep_block.yaml", "- " * 10000 + "x\n")
    check(tap, "10,000 levels of block nesting (- - -)" + note, root, "deep_block.yaml", (1, 2 * 512 + 1),
          words=["512"], limited=limited, max_seconds=10)
    deep_map = "".join(" " * i + "a:\n" for i in range(10000))  # 50 MB: one space deeper each line
    write(root, "deep_map.yaml", deep_map)
    check(tap, "10,000 levels of nested mappings" + note, root, "deep_map.yaml", (513, 513), words=["512"],
          limited=limited, max_seconds=20)
    write(root, "deep_ds.yaml", "apiVersion: apps/v1\nkind: DaemonSet\nmetadata:\n  name: deep\nspec: "
          + "{a: " * 10000 + "x" + "}" * 10000 + "\n")
    # "spec: " is 6 columns; each "{a: " is 4. The root mapping is the first
    # level, the kth "{" the (k+1)th: the 513th level is the 512th "{", at
    # column 7 + 4 * 511
    check(tap, "10,000 levels inside a DaemonSet" + note, root, "deep_ds.yaml", (5, 7 + 4 * 511),
          words=["512"], limited=limited, max_seconds=10)

    # A document lint does not read whole is held to the same limit: a
    # ConfigMap with 100,000 levels of flow mappings took 52 s and passed.
    # "x: " is 3 columns, each "{a: " 4: the root is the first level, the
    # 512th "{" (column 4 + 4 * 511) opens the 513th.
    for kind in ("ConfigMap", "Secret"):
        name = f"deep_{kind.lower()}.yaml"
        write(root, name, f"apiVersion: v1\nkind: {kind}\nx: " + "{a: " * 100000 + "x" + "}" * 100000 + "\n")
        check(tap, f"100,000 levels inside a {kind} (a kind lint skips)" + note, root, name, (3, 4 + 4 * 511),
              words=["512"], limited=limited, max_seconds=5)
    write(root, "deep_skipped_seq.yaml", "kind: ConfigMap\nx: " + "[" * 200000 + "]" * 200000 + "\n")
    check(tap, "200,000 levels of [[[ inside a ConfigMap" + note, root, "deep_skipped_seq.yaml", (2, 4 + 511),
          words=["512"], limited=limited, max_seconds=5)

    # --- alias bomb ("billion laughs"): 10^9 strings if expanded
    write(root, "bomb.yaml", alias_bomb(10))
    check(tap, "alias bomb, 10 levels" + note, root, "bomb.yaml",
          lambda line, col: 2 <= line <= 10 and col >= 1, words=["alias"], limited=limited, max_seconds=10)
    write(root, "bomb9.yaml", alias_bomb(9))
    check(tap, "alias bomb, 9 levels" + note, root, "bomb9.yaml",
          lambda line, col: 2 <= line <= 9 and col >= 1, words=["alias"], limited=limited, max_seconds=10)
    write(root, "bomb_ds.yaml", "apiVersion: apps/v1\nkind: DaemonSet\nmetadata:\n  name: bomb\nspec:\n"
          "  template:\n    metadata:\n      annotations:\n" + alias_bomb(10, "        "))
    # lines 9-18 hold a0..a9; the aliases are on lines 10-18
    check(tap, "alias bomb inside a DaemonSet" + note, root, "bomb_ds.yaml",
          lambda line, col: 10 <= line <= 18 and col >= 9, words=["alias"], limited=limited, max_seconds=10)
    # merge keys can be a bomb too
    merge_bomb = ["a0: &a0 {k0: lol, k1: lol, k2: lol, k3: lol, k4: lol, k5: lol, k6: lol, k7: lol, k8: lol, k9: lol}"]
    for i in range(1, 10):
        merge_bomb.append(f"a{i}: &a{i} {{" + ", ".join(f"k{j}: *a{i - 1}" for j in range(10)) + "}")
    write(root, "bomb_merge.yaml", "\n".join(merge_bomb) + "\nall:\n  <<: *a9\n")
    check(tap, "alias bomb through mappings and a merge key" + note, root, "bomb_merge.yaml", "any",
          words=["alias"], limited=limited, max_seconds=10)

    # --- a 100 MB file: over the 64 MiB limit, refused whole
    big = os.path.join(root, "big.yaml")
    with open(big, "wb") as f:
        f.write(GOOD.encode())
        chunk = ("# " + "x" * 97 + "\n").encode() * 10000  # 1 MB of comments
        for _ in range(100):
            f.write(chunk)
    check(tap, "100 MB file", root, "big.yaml", None, words=["64 MiB"], max_seconds=20)
    with open(big, "rb") as f:
        check(tap, "100 MB on standard input", root, "-", None, words=["64 MiB"], stdin=f.read(),
              max_seconds=30)

    # --- binary files
    rnd = random.Random(20260101)
    blob = b"\x7fELF\x02\x01\x01\x00" + bytes(rnd.getrandbits(8) for _ in range(65536))
    write(root, "binary.yaml", blob)
    # DEL (0x7f) is a control character YAML does not allow: the first byte
    check(tap, "binary file (an ELF header, random bytes, NULs)", root, "binary.yaml", (1, 1))
    write(root, "nul.yaml", b"apiVersion: v1\nkind: Secret\ndata:\n  x: \x00\x01\x02\n")
    check(tap, "NUL bytes inside the text", root, "nul.yaml", (4, 6))
    write(root, "noise.json", bytes(rnd.getrandbits(8) | 0x80 for _ in range(4096)))
    check(tap, "random high bytes (.json)", root, "noise.json", "any")

    # --- scalars Kubernetes refuses (kubectl: "json: unsupported value:
    # +Inf", "cannot decode !!str `Always` as a !!null", "invalid base64"),
    # and a NUL, which must never let "Always\0..." read as "Always".
    # Line 7 or 8: "      priorityClassName: " is 25 columns, "      restartPolicy: " 21.
    head = ("apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: s, namespace: s}\n"
            "spec:\n  template:\n    spec:\n")
    for name, body, pos, words in (
            ("restart_nul.yaml", '      priorityClassName: p\n      restartPolicy: "Always\\u0000"\n', (8, 22), ["NUL"]),
            ("restart_nul0.yaml", '      priorityClassName: p\n      restartPolicy: "Always\\0 or not"\n', (8, 22),
             ["NUL"]),
            ("restart_null_tag.yaml", "      priorityClassName: p\n      restartPolicy: !!null Always\n", (8, 22),
             ["!!null"]),
            ("restart_bad_binary.yaml", "      priorityClassName: p\n      restartPolicy: !!binary QWx3 YXlz\n",
             (8, 22), ["base64"]),
            ("class_inf.yaml", "      priorityClassName: .inf\n", (7, 26), ["JSON"]),
            ("class_nan.yaml", "      priorityClassName: .NaN\n", (7, 26), ["JSON"])):
        write(root, name, head + body)
        check(tap, f"scalar Kubernetes refuses or dsguard cannot compare ({name})", root, name, pos, words=words)
    # !!binary is decoded as kubectl decodes it: QWx3YXlz is "Always"
    # (no finding), T25GYWlsdXJl "OnFailure" (DS002 at the value, 8:22)
    for name, b64, want in (("restart_binary.yaml", "QWx3YXlz", []),
                            ("restart_binary_bad_policy.yaml", "T25GYWlsdXJl", [("DS002", 8, 22, "OnFailure")])):
        write(root, name, head + f"      priorityClassName: p\n      restartPolicy: !!binary {b64}\n")
        p, _ = lint([name], root)
        out = json.loads(p.stdout)
        got = [(f["rule"], f["line"], f["column"], f["message"].split('"')[1]) for f in out["findings"]]
        tap.eq((p.returncode, got), (1 if want else 0, want), f"restartPolicy: !!binary {b64} read as kubectl reads it")

    # --- a DaemonSet whose first kind says otherwise: Kubernetes takes the
    # last kind, however it is spelled, so lint must not skip the document
    # (it did, and passed): a !!binary key that is "kind" (a2luZA==), an
    # alias of an anchor set after the first kind, an alias as the key.
    tail = "metadata: {name: hidden, namespace: hidden}\nspec:\n  template:\n    spec:\n      restartPolicy: Never\n"
    for name, text, pos in (
            ("hidden_binary_key.yaml", "apiVersion: apps/v1\nkind: ConfigMap\n!!binary a2luZA==: DaemonSet\n", (3, 20)),
            ("hidden_alias.yaml", "apiVersion: apps/v1\nkind: ConfigMap\nx: &k DaemonSet\nkind: *k\n", (4, 7)),
            ("hidden_alias_key.yaml", "apiVersion: apps/v1\nx: &k kind\nkind: ConfigMap\n*k : DaemonSet\n", (4, 1))):
        write(root, name, text + tail)
        check(tap, f"a DaemonSet behind a first kind that says otherwise ({name})", root, name, pos)

    # --- a named pipe: refused at once, never waited on
    os.mkfifo(os.path.join(root, "pipe.yaml"))
    check(tap, "a named pipe", root, "pipe.yaml", None, max_seconds=10)

    # --- a missing file
    check(tap, "a missing file", root, "missing.yaml", None, words=["No such file"])

    # --- unreadable file and directory, as an unprivileged user
    unreadable_tests(tap, root)

    # --- symlink loops between directories
    os.makedirs(os.path.join(root, "tree", "a"))
    os.makedirs(os.path.join(root, "tree", "b"))
    os.symlink("../b", os.path.join(root, "tree", "a", "to_b"))
    os.symlink("../a", os.path.join(root, "tree", "b", "to_a"))
    write(root, "tree/a/ok.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n")
    # walking tree/a: a -> a/to_b (b) -> a/to_b/to_a (a again)
    check(tap, "symlink loop between two directories", root, "tree", None, words=["loop"],
          error_file="tree/a/to_b/to_a", max_seconds=10)
    p, _ = lint(["tree"], root)
    out = json.loads(p.stdout)
    tap.eq(sorted(e["file"] for e in out["errors"]), ["tree/a/to_b/to_a", "tree/b/to_a/to_b"],
           "symlink loop: each way round reported once")
    os.makedirs(os.path.join(root, "self"))
    os.symlink(".", os.path.join(root, "self", "again"))
    check(tap, "a directory linking to itself", root, "self", None, words=["loop"], error_file="self/again",
          max_seconds=10)
    os.symlink("dangling-target", os.path.join(root, "tree", "b", "dangling.yaml"))
    p, _ = lint(["tree/b/dangling.yaml", "good.yaml"], root)
    tap.eq(p.returncode, 2, "a dangling symlink named on the command line: exit 2")

    # --- valid but hostile: must stay fast (a linear reader takes well under
    # a second for these few MB). Sanitized builds copy on every realloc and
    # run far slower: there the inputs are smaller and time is not checked.
    limit = None if SANITIZE else 3
    n = 6000 if SANITIZE else 60000
    write(root, "anchors.yaml", "apiVersion: apps/v1\nkind: DaemonSet\nmetadata:\n  name: anchors\n"
          "  namespace: anchors\n  labels:\n" + "".join(f"    a{i}: &x{i} v{i}\n" for i in range(n))
          + "".join(f"    c{i}: *x0\n" for i in range(n)))
    quick(tap, f"{n:,} anchors and {n:,} aliases of the first", root, "anchors.yaml", limit,
          ("anchors.yaml", "DS001", 1, 1))  # no spec at all: the root
    write(root, "docs.yaml", "---\n" * (n * 16))
    quick(tap, f"{n * 16:,} empty documents", root, "docs.yaml", limit, None)
    write(root, "many.yaml", "".join(
        f"---\napiVersion: apps/v1\nkind: DaemonSet\nmetadata: {{name: d{i}, namespace: shared}}\n"
        f"spec: {{template: {{spec: {{priorityClassName: p}}}}}}\n" for i in range(n)))
    quick(tap, f"{n:,} DaemonSets sharing a namespace", root, "many.yaml", limit, ("many.yaml", "DS003", 4, 33))
    # a label repeated n times in a mapping of n: each repeat must find the
    # member it replaces without walking the others
    write(root, "repeats.yaml", "apiVersion: apps/v1\nkind: DaemonSet\nmetadata:\n  name: repeats\n"
          "  namespace: repeats\n  labels:\n" + "".join(f"    k{i}: v\n" for i in range(n))
          + f"    k{n - 1}: w\n" * n)
    quick(tap, f"a label repeated {n:,} times in a mapping of {n:,}", root, "repeats.yaml", limit,
          ("repeats.yaml", "DS001", 1, 1))
    # DS003 across files looks up each DaemonSet's namespace: a name repeated
    # n times must not make each lookup walk past the n repeats.
    write(root, "same.yaml", "".join(
        f"---\napiVersion: apps/v1\nkind: DaemonSet\nmetadata: {{name: {name}, namespace: shared}}\n"
        f"spec: {{template: {{spec: {{priorityClassName: p}}}}}}\n" for name in ["other"] + ["agent"] * n))
    quick(tap, f"{n:,} copies of one DaemonSet name sharing a namespace", root, "same.yaml", limit,
          ("same.yaml", "DS003", 4, 36))

    # --- everything at once: each reported, the good file still checked
    names = ["trunc_flow.yaml", "latin1.yaml", "tabs.yaml", "deep_flow.yaml", "bomb.yaml", "big.yaml",
             "binary.yaml", "tree"]
    p, _ = lint(names + ["good.yaml"], root, limited=not INSTRUMENTED)
    out = json.loads(p.stdout)
    tap.eq(p.returncode, 2, "all malformed inputs in one run: exit 2")
    files = {e["file"] for e in out["errors"]}
    tap.ok(all(n in files or n == "tree" for n in names) and any(f.startswith("tree/") for f in files),
           "all malformed inputs in one run: each named in errors[]", sorted(files))
    tap.ok(("good.yaml", "DS001", 12, 5) in [(f["file"], f["rule"], f["line"], f["column"]) for f in out["findings"]],
           "all malformed inputs in one run: the good file's finding")


def quick(tap, name, root, path, limit, finding):
    """Lints a valid file with the good one: exit 1, both files' findings
    (finding: one expected (file, rule, line, column) of path, or None),
    within limit seconds (None: not timed)."""
    try:
        # Large valid inputs are about time, not the memory limit of the hostile ones.
        p, secs = lint([path, "good.yaml"], root)
    except subprocess.TimeoutExpired:
        tap.ok(False, f"{name}: ends", "still running after 300s")
        return
    tap.ok(p.returncode >= 0 and not any(w in text(p.stderr) for w in CRASH_WORDS), f"{name}: no crash",
           text(p.stderr)[-2000:])
    tap.eq(p.returncode, 1, f"{name}: exit 1")
    if limit is not None and VALGRIND:
        tap.skip(f"{name}: done in under {limit}s of CPU", "not timed under valgrind")
    elif limit is not None:
        tap.ok(secs < limit, f"{name}: done in under {limit}s of CPU", f"took {secs:.1f}s")
    try:
        found = [(f["file"], f["rule"], f["line"], f["column"]) for f in json.loads(p.stdout)["findings"]]
    except (ValueError, KeyError) as e:
        tap.ok(False, f"{name}: JSON output", e)
        return
    tap.ok(GOOD_FINDING in found and (finding is None or finding in found), f"{name}: findings", found[:5])


def unreadable_tests(tap, root):
    """Tests run as root, which reads anything: these run dsguard as
    nobody, from a copy of the binary everyone may run."""
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        tap.skip("unreadable file", "needs root and setpriv to drop privileges")
        return
    os.chmod(root, 0o755)
    for dirpath, dirnames, filenames in os.walk(root):
        for d in dirnames:
            os.chmod(os.path.join(dirpath, d), 0o755)
        for f in filenames:
            p = os.path.join(dirpath, f)
            if not os.path.islink(p) and stat.S_ISREG(os.lstat(p).st_mode):
                os.chmod(p, 0o644)
    binary = os.path.join(root, "dsguard-bin")
    shutil.copy(BIN, binary)
    os.chmod(binary, 0o755)
    secret = write(root, "secret.yaml", GOOD)
    os.chmod(secret, 0)
    check(tap, "unreadable file (mode 000, as nobody)", root, "secret.yaml", None, words=["Permission denied"],
          as_nobody=True, binary=binary)
    locked = os.path.join(root, "locked")
    write(root, "locked/inside.yaml", GOOD)
    os.chmod(os.path.join(locked, "inside.yaml"), 0o644)
    os.chmod(locked, 0)
    check(tap, "unreadable directory (mode 000, as nobody)", root, "locked", None, words=["Permission denied"],
          as_nobody=True, binary=binary)
    os.chmod(locked, 0o755)
    os.chmod(secret, 0o644)


if __name__ == "__main__":
    main()
