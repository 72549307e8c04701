"""README's examples work exactly as written."""
import os
import re
import subprocess

from tap import BIN, ROOT, Tap


def console_blocks(text):
    """(command, expected output lines) for each ```console block."""
    for block in re.findall(r"```console\n(.*?)```", text, re.S):
        lines = block.rstrip("\n").split("\n")
        yield lines[0][2:], lines[1:]


def main():
    t = Tap()
    readme = open(os.path.join(ROOT, "README.md")).read()
    blocks = list(console_blocks(readme))
    t.ok(len(blocks) >= 1, "README has console examples")
    for command, want in blocks:
        argv = command.split()
        argv[0] = BIN if argv[0] == "./dsguard" else argv[0]
        p = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=60)
        t.eq(p.stdout.rstrip("\n").split("\n"), want, f"README example prints what it shows: {command}")
    for cmd in ("make run", "make test"):
        t.ok(cmd in readme, f"README shows '{cmd}'")
    t.done()


main()
