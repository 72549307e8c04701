"""TAP output and shared helpers for the end-to-end tests written in Python."""
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("DSGUARD_BIN", os.path.join(ROOT, "build", "dsguard"))


class Tap:
    """Numbers results, prints them as TAP lines and remembers failures."""

    def __init__(self):
        self.count = 0
        self.failed = 0

    def ok(self, cond, name, diag=""):
        self.count += 1
        print(("ok" if cond else "not ok") + f" {self.count} - {name}")
        if not cond:
            self.failed += 1
            for line in str(diag).splitlines()[:40]:
                print("#   " + line)
        sys.stdout.flush()
        return cond

    def eq(self, got, want, name):
        return self.ok(got == want, name, f"got:  {got!r}\nwant: {want!r}")

    def skip(self, name, why):
        self.count += 1
        print(f"ok {self.count} - {name} # SKIP {why}")

    def done(self):
        sys.exit(1 if self.failed else 0)


def shared_dir(tap, what):
    """Where the shared reference data lives (DSGUARD_SHARED, else ../shared
    beside the repository). Returns None, after recording one skip, when it is
    absent; with DSGUARD_REQUIRE_SHARED=1 its absence is a failure instead."""
    d = os.environ.get("DSGUARD_SHARED", os.path.join(os.path.dirname(ROOT), "shared"))
    if os.path.isdir(d):
        return d
    if os.environ.get("DSGUARD_REQUIRE_SHARED") == "1":
        tap.ok(False, f"{what}: shared data required but missing at {d}")
    else:
        tap.skip(what, f"shared data not found at {d}")
    return None


def run(args, stdin=None, cwd=None, env=None, timeout=120):
    """Runs dsguard with args; returns the CompletedProcess (text mode)."""
    return subprocess.run([BIN] + list(args), input=stdin, cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)
