#!/usr/bin/env bash
# The test command. On a fresh Debian machine with only Python it installs what is
# missing (the peer tools from apt, a .venv with lamina and its dev tools), then runs
# ruff, mypy, the import contracts and pytest. Extra arguments go to pytest:
#
#   scripts/test.sh                  everything
#   scripts/test.sh -m "not peer"    skip tests that start docker/podman/registry
#   scripts/test.sh -k squash -x     the usual pytest selection
#
# Environment: PYTHON (default python3), LAMINA_FIXTURES (fixture cache dir),
# CI=true (a missing peer tool fails instead of skipping), SKIP_APT=1.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

# The tests run lamina in a thousand subprocesses; without written bytecode each of
# them would compile every module again (about 1.5 s apiece on a busy machine).
unset PYTHONDONTWRITEBYTECODE

say() { printf '\n==> %s\n' "$*" >&2; }
run() { printf '+ %s\n' "$*" >&2; "$@"; }

# Debian packages of the real peer tools (docs/testing.md §9); the venv module comes with python3-venv.
APT_PACKAGES=(docker.io skopeo umoci podman buildah docker-registry busybox-static runc debootstrap openssh-server)
PYTHON=${PYTHON:-python3}

missing_packages() {
    local pkg
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' ||
            printf '%s\n' "$pkg"
    done
}

install_apt() {
    local -a missing
    if [[ ${SKIP_APT:-} == 1 ]]; then
        say "SKIP_APT=1: not checking Debian packages"
        return
    fi
    if ! command -v dpkg-query >/dev/null || ! command -v apt-get >/dev/null; then
        say "not a Debian system: install ${APT_PACKAGES[*]} yourself (peer tests skip without them)"
        return
    fi
    mapfile -t missing < <(missing_packages "${APT_PACKAGES[@]}")
    if ! "$PYTHON" -c 'import ensurepip, venv' 2>/dev/null; then
        missing+=(python3-venv)
    fi
    if ((${#missing[@]} == 0)); then
        say "Debian packages: all present"
        return
    fi
    say "Debian packages missing: ${missing[*]}"
    local sudo=()
    if ((EUID != 0)); then
        command -v sudo >/dev/null || {
            say "not root and no sudo: cannot install ${missing[*]}"
            return
        }
        sudo=(sudo)
    fi
    run "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update
    run "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"
}

setup_venv() {
    if [[ ! -x .venv/bin/python ]]; then
        "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' ||
            { say "$PYTHON is older than 3.11"; exit 1; }
        say "creating .venv"
        run "$PYTHON" -m venv .venv
    fi
    say "installing lamina and its dev tools into .venv"
    run .venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
}

install_apt
setup_venv

failed=()
step() {
    local name=$1
    shift
    say "$name"
    if ! run "$@"; then
        failed+=("$name")
    fi
}

step "ruff" .venv/bin/ruff check .
step "mypy" .venv/bin/mypy
step "import contracts" .venv/bin/lint-imports

say "pytest"
rc=0
run .venv/bin/pytest -q "$@" || rc=$?
if ((rc != 0)); then
    failed+=("pytest (exit $rc)")
fi

if ((${#failed[@]})); then
    say "FAILED: ${failed[*]}"
    # pytest's own exit code wins (5 = no tests collected); otherwise 1.
    exit $((rc != 0 ? rc : 1))
fi
say "all checks passed"
