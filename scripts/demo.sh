#!/usr/bin/env bash
# Run lamina's demo. Needs only Python >= 3.11: creates .venv and installs lamina there
# (no apt, no daemons), then runs `lamina demo` with any extra arguments.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

say() { printf '\n==> %s\n' "$*" >&2; }
run() { printf '+ %s\n' "$*" >&2; "$@"; }

PYTHON=${PYTHON:-python3}
if [[ ! -x .venv/bin/python ]]; then
    "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' ||
        { say "$PYTHON is older than 3.11"; exit 1; }
    say "creating .venv"
    run "$PYTHON" -m venv .venv
fi
say "installing lamina into .venv"
run .venv/bin/python -m pip install --quiet --disable-pip-version-check -e .

say "lamina demo"
exec .venv/bin/lamina demo "$@"
