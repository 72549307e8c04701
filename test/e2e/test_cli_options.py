"""Short options read as getopt reads them, for every command: a value
attached to its option (-j4, -fjson, -nkube-system, -cFILE) means what the
separate word and --long=VALUE mean, flags may be grouped (-vfjson), and an
unknown letter in a group is named. The options are taken from each
command's --help, so a new option is covered without editing this test."""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tap import ROOT, Tap, run  # noqa: E402

COMMANDS = ["lint", "serve", "review", "certs", "audit", "rules", "policy", "version"]
MANIFEST = os.path.join(ROOT, "examples", "manifests", "logging.yaml")
CONFIG = os.path.join(ROOT, "examples", "admission", "config.yaml")
# A value for each metavariable that lets the command go as far as it can.
VALUES = {"FORMAT": "json", "NS": "kube-system", "FILE": CONFIG, "N": "2", "VERSION": "1.34"}
# What each command needs besides the option under test.
OPERANDS = {"lint": [MANIFEST], "review": [os.path.join(ROOT, "examples", "admission", "deny.json")]}


def short_options(cmd):
    """(letter, long name, metavariable or None) of each short option but -h."""
    text = run([cmd, "--help"]).stdout
    return [(m[0], m[1], m[2] or None)
            for m in re.findall(r"^\s+-(\w), --([a-z-]+)(?: ([A-Z_]+))?", text, re.M) if m[0] != "h"]


def outcome(args):
    """Exit code, stdout and stderr; `dsguard policy` echoes its own command
    line in a header comment, which differs with the spelling by design."""
    r = run(args)
    out = "".join(line for line in r.stdout.splitlines(True) if not line.startswith("#   dsguard "))
    return r.returncode, out, r.stderr.replace("\n", " ")


def main():
    t = Tap()
    for cmd in COMMANDS:
        for letter, name, meta in short_options(cmd):
            if not meta:
                continue
            value = VALUES.get(meta, "x")
            rest = OPERANDS.get(cmd, [])
            long_form = outcome([cmd, f"--{name}={value}"] + rest)
            attached = outcome([cmd, f"-{letter}{value}"] + rest)
            separate = outcome([cmd, f"-{letter}", value] + rest)
            t.ok("unknown option" not in attached[2], f"{cmd} -{letter}{meta}: accepted", attached[2])
            t.eq(attached, long_form, f"{cmd} -{letter}{meta} means --{name}={meta}")
            t.eq(separate, long_form, f"{cmd} -{letter} {meta} means --{name}={meta}")
    # Flags grouped with an option that takes the rest of the word.
    t.eq(outcome(["lint", "-vfjson", MANIFEST]), outcome(["lint", "--verbose", "--format=json", MANIFEST]),
         "lint -vfjson means --verbose --format=json")
    t.eq(outcome(["review", "-mc", CONFIG, OPERANDS["review"][0]]),
         outcome(["review", "--mutate", "--config", CONFIG, OPERANDS["review"][0]]),
         "review -mc FILE means --mutate --config FILE")
    code, _, err = outcome(["lint", "-vq", MANIFEST])
    t.ok(code == 2 and "unknown option '-q' in '-vq'" in err, "lint -vq: the unknown letter is named", err)
    code, _, err = outcome(["lint", "-j"])
    t.ok(code == 2 and "option '-j' needs a value" in err, "lint -j without a value: says so", err)
    t.done()


if __name__ == "__main__":
    main()
