#!/usr/bin/env python3
"""The container image the chart runs (Dockerfile, .dockerignore), checked
without a container engine: the stages are Debian bookworm, the build stage
runs make, the runtime stage installs exactly the Debian runtime packages of
the libraries the Makefile links (and covers every library the built binary
needs), runs as uid 65532 and starts dsguard; .dockerignore keeps build output
out of the context and everything make needs in it."""
import fnmatch
import os
import re
import shlex
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tap import BIN, ROOT, Tap  # noqa: E402

# What every Debian bookworm image has (Essential: yes): the C library.
BASE_PACKAGES = {"libc6"}


def dockerfile_stages(path):
    """[(image, alias, [(instruction, args)])] from a Dockerfile, with line
    continuations joined and comments dropped."""
    with open(path) as f:
        text = re.sub(r"\\\n", " ", "".join(line for line in f if not line.lstrip().startswith("#")))
    stages = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        instr, _, args = line.partition(" ")
        instr = instr.upper()
        if instr == "FROM":
            words = [w for w in args.split() if not w.startswith("--")]
            alias = words[2] if len(words) >= 3 and words[1].lower() == "as" else None
            stages.append((words[0], alias, []))
        elif stages:
            stages[-1][2].append((instr, args.strip()))
    return stages


def apt_packages(run_args):
    """Package names an `apt-get install` in a RUN line asks for."""
    pkgs = set()
    for cmd in re.split(r"&&|;", run_args):
        words = shlex.split(cmd)
        words = [w for w in words if "=" not in w or w.startswith("-")]  # drop VAR=value prefixes
        if len(words) >= 2 and words[0] == "apt-get" and "install" in words:
            pkgs |= {w for w in words[words.index("install") + 1:] if not w.startswith("-")}
    return pkgs


def package_of(path):
    """The Debian package that owns a file (trying its /usr-merged twin)."""
    real = os.path.realpath(path)
    for p in (real, "/usr" + real if not real.startswith("/usr/") else real[4:]):
        r = subprocess.run(["dpkg", "-S", p], capture_output=True, text=True)
        if r.returncode == 0:
            return r.stdout.split(":", 1)[0].strip()
    return None


def makefile_var(name):
    with open(os.path.join(ROOT, "Makefile")) as f:
        for line in f:
            m = re.match(rf"^{name}\s*:?=\s*(.*)$", line)
            if m:
                return m.group(1).split()
    return []


def linked_packages():
    """Runtime packages of the libraries the Makefile links: pkg-config --libs
    of LIBS_PC, each -lNAME resolved the way the linker does. Returns
    (packages, problems)."""
    pcs = makefile_var("LIBS_PC")
    r = subprocess.run(["pkg-config", "--libs"] + pcs, capture_output=True, text=True)
    if r.returncode != 0:
        return set(), [f"pkg-config --libs {' '.join(pcs)}: {r.stderr.strip()}"]
    pkgs, problems = set(), []
    # (-lpthread and -lm, also linked, are the C library's: BASE_PACKAGES.)
    for flag in r.stdout.split():
        if not flag.startswith("-l"):
            continue
        so = subprocess.run(["cc", f"-print-file-name=lib{flag[2:]}.so"], capture_output=True, text=True).stdout.strip()
        if not os.path.isabs(so):
            problems.append(f"{flag}: the linker finds no lib{flag[2:]}.so")
            continue
        target = os.path.realpath(so)
        # The dev symlink points at the runtime file; its soname names the
        # file the dynamic loader opens.
        soname = subprocess.run(["readelf", "-d", target], capture_output=True, text=True).stdout
        m = re.search(r"\(SONAME\)\s+Library soname: \[(.+?)\]", soname)
        runtime = os.path.join(os.path.dirname(target), m.group(1)) if m else target
        pkg = package_of(runtime) if os.path.exists(runtime) else None
        if pkg is None:
            problems.append(f"{flag}: no package owns {runtime}")
        else:
            pkgs.add(pkg)
    return pkgs, problems


def needed_packages(binary):
    """Packages of the shared libraries the binary names as NEEDED."""
    d = subprocess.run(["readelf", "-d", binary], capture_output=True, text=True)
    needed = re.findall(r"\(NEEDED\)\s+Shared library: \[(.+?)\]", d.stdout)
    # The sanitizer build links the sanitizer runtimes, which no image ships.
    needed = [so for so in needed if not re.match(r"lib(asan|ubsan)\.so", so)]
    ldd = subprocess.run(["ldd", binary], capture_output=True, text=True).stdout
    paths = dict(re.findall(r"^\s*(\S+) => (/\S+)", ldd, re.M))
    pkgs, problems = set(), []
    for so in needed:
        pkg = package_of(paths[so]) if so in paths else None
        if pkg is None:
            problems.append(f"{so}: not resolved to a package")
        else:
            pkgs.add(pkg)
    return pkgs, problems, needed


def dockerignored(patterns, path):
    """Whether .dockerignore patterns exclude a context path (Go
    filepath.Match with ** and ! exceptions; a match on a parent folder
    excludes what is below it)."""
    excluded = False
    parts = path.split("/")
    prefixes = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
    for pat in patterns:
        neg = pat.startswith("!")
        p = pat[1:] if neg else pat
        p = p.strip("/")
        regex = fnmatch.translate(p).replace(".*", "[^/]*").replace("[^/]*[^/]*", ".*")
        if p.startswith("**/"):
            regex = "(?:.*/)?" + fnmatch.translate(p[3:]).replace(".*", "[^/]*")
        if any(re.fullmatch(regex, pre) for pre in prefixes):
            excluded = not neg
    return excluded


def main():
    t = Tap()
    stages = dockerfile_stages(os.path.join(ROOT, "Dockerfile"))
    t.ok(len(stages) >= 2, "Dockerfile is multi-stage", str([s[0] for s in stages]))
    t.ok(stages and all(re.match(r"^debian:bookworm(-slim)?(@sha256:[0-9a-f]{64})?$", s[0]) for s in stages),
         "every stage is Debian bookworm", str([s[0] for s in stages]))
    if len(stages) < 2:
        t.done()
    build, final = stages[0], stages[-1]
    runs_build = " ".join(a for i, a in build[2] if i == "RUN")
    t.ok(re.search(r"\bmake\b", runs_build) is not None, "the build stage builds with make")
    user = [a for i, a in final[2] if i == "USER"]
    t.ok(user and user[-1].split(":")[0] == "65532" and (":" not in user[-1] or user[-1].split(":")[1] == "65532"),
         "the runtime stage runs as uid (and gid) 65532", str(user))
    entry = [a for i, a in final[2] if i == "ENTRYPOINT"]
    copies = [a for i, a in final[2] if i == "COPY" and f"--from={build[1]}" in a]
    entry_bin = re.findall(r'"([^"]+)"', entry[-1])[0] if entry else ""
    t.ok(entry_bin.endswith("/dsguard") and any(c.split()[-1] == entry_bin for c in copies),
         "the entrypoint is the dsguard binary copied from the build stage", f"{entry} {copies}")
    runtime = set()
    for i, a in final[2]:
        if i == "RUN":
            runtime |= apt_packages(a)
    t.ok(not any(p.endswith("-dev") or p in ("gcc", "make", "build-essential", "pkg-config") for p in runtime),
         "the runtime stage installs no compiler and no -dev package", str(sorted(runtime)))

    linked, problems = linked_packages()
    t.ok(not problems and linked, "the Makefile's link libraries resolve to Debian packages", "\n".join(problems))
    t.eq(sorted(runtime), sorted(linked - BASE_PACKAGES),
         "the runtime stage installs exactly the runtime packages of the linked libraries")
    if os.path.exists(BIN):
        needed, problems, sonames = needed_packages(BIN)
        t.ok(not problems and needed <= runtime | BASE_PACKAGES,
             f"every library the built binary needs ({', '.join(sonames)}) is in the runtime image",
             "\n".join(problems) + f"\nmissing: {sorted(needed - runtime - BASE_PACKAGES)}")
    else:
        t.ok(False, "the built binary's libraries are in the runtime image", f"no binary at {BIN}")

    with open(os.path.join(ROOT, ".dockerignore")) as f:
        pats = [ln.strip() for ln in f if ln.strip() and not ln.lstrip().startswith("#")]
    out = ["build/rules/engine.o", "build-san/dsguard", "dsguard", ".git/HEAD", "certs/dev/ca.key"]
    t.ok(all(dockerignored(pats, p) for p in out), ".dockerignore keeps build output, the binary, .git and dev keys out",
         str([p for p in out if not dockerignored(pats, p)]))
    srcs = ["Makefile", "VERSION"]
    for d in ("cli", "rules", "lint", "webhook", "kube", "certs"):
        for dirpath, _, files in os.walk(os.path.join(ROOT, d)):
            for fn in files:
                if fn.endswith((".c", ".h")):
                    srcs.append(os.path.relpath(os.path.join(dirpath, fn), ROOT))
    t.ok(not any(dockerignored(pats, p) for p in srcs), f".dockerignore lets in all {len(srcs)} files make needs",
         str([p for p in srcs if dockerignored(pats, p)][:20]))
    t.done()


if __name__ == "__main__":
    main()
