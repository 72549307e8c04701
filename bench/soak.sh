#!/bin/sh
# The soak benchmark (make bench SOAK=1): dsguard serve for 10 minutes at
# half its peak rate; RSS and open fds sampled each second. See
# bench/soak.py for the settings (SOAK_SECONDS, SOAK_RATE, SOAK_CSV).
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
exec "${PYTHON:-/usr/bin/python3}" "$root/bench/soak.py"
