"""The first process of a container: set up its mounts, chroot, become its user, exec.

Run by `lamina run` as `unshare --mount --pid --uts --ipc --fork --kill-child python3 -I
-S launch.py SPEC` (see sandbox.py): it is PID 1 of a new PID namespace, in a private
mount namespace, so everything mounted here vanishes when the container exits and
never shows in the host's mount table or in a commit. Standard library only, and
nothing is imported after the chroot (the host's Python files are out of reach then).

SPEC is JSON: {"root", "argv", "env", "workdir", "user", "hostname"}.
Exit codes follow Docker's: 127 command not found, 126 not executable, 125 setup failed.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import os
import sys
from typing import Any

MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_BIND, MS_REC, MS_PRIVATE = 2, 4, 8, 4096, 16384, 1 << 18
DEVICES = ("null", "zero", "full", "random", "urandom", "tty")
_libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)


def fail(message: str, code: int = 125) -> None:
    sys.stderr.write(f"lamina: error: {message}\n")
    sys.stderr.flush()
    os._exit(code)


def mount(source: str, target: str, fstype: str, flags: int, data: str = "") -> None:
    if _libc.mount(source.encode(), target.encode(), fstype.encode(), flags, data.encode()) != 0:
        err = ctypes.get_errno()
        fail(f"cannot mount {fstype or source} on {target}: {os.strerror(err)}")


def real_dir(path: str) -> str:
    """mount(2) follows symlinks: a mount point an image made a symlink could lead out."""
    if os.path.islink(path) or not os.path.isdir(path):
        fail(f"{path} is not a directory in the container; cannot mount on it")
    return path


def setup_mounts(root: str) -> None:
    # nothing mounted here may leak back to the host
    mount("none", "/", "", MS_REC | MS_PRIVATE)
    proc, dev = real_dir(os.path.join(root, "proc")), real_dir(os.path.join(root, "dev"))
    mount("proc", proc, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    mount("tmpfs", dev, "tmpfs", MS_NOSUID, "mode=755,size=65536k")
    for name in DEVICES:
        target = os.path.join(dev, name)
        with open(target, "wb"):
            pass
        mount(f"/dev/{name}", target, "", MS_BIND)
    for name in ("pts", "shm"):
        os.mkdir(os.path.join(dev, name), 0o755)
    mount("tmpfs", os.path.join(dev, "shm"), "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777")
    for link, target in (
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ):
        os.symlink(target, os.path.join(dev, link))


def _table(path: str) -> list[list[str]]:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return [line.rstrip("\n").split(":") for line in f if ":" in line]
    except OSError:
        return []


def resolve_user(spec: str) -> tuple[int, int, list[int], str]:
    """(uid, gid, groups, home) for Docker's USER forms: name, uid, name:group, uid:gid."""
    user, _, group = spec.partition(":")
    user = user or "0"  # no USER: root, with root's entry (HOME) if the image has one
    passwd = _table("/etc/passwd")
    uid, gid, home, name = 0, 0, "/", "root"
    entry = next((e for e in passwd if len(e) >= 7 and user in (e[0], e[2])), None)
    if entry is not None:
        name, uid, gid, home = entry[0], int(entry[2]), int(entry[3]), entry[5]
    elif user.isdigit():
        uid = int(user)
    elif user:
        fail(f"unable to find user {user}: no matching entries in passwd file")
    groups_file = _table("/etc/group")
    if group:
        found = next((g for g in groups_file if len(g) >= 3 and group in (g[0], g[2])), None)
        if found is None and not group.isdigit():
            fail(f"unable to find group {group}: no matching entries in group file")
        gid = int(found[2]) if found is not None else int(group)
    extra = [int(g[2]) for g in groups_file if len(g) >= 4 and name in g[3].split(",")]
    return uid, gid, sorted({gid, *extra}), home


def main(spec: dict[str, Any]) -> None:
    root = spec["root"]
    setup_mounts(root)
    name = spec["hostname"].encode()
    _libc.sethostname(name, len(name))
    os.chroot(root)
    os.chdir("/")
    uid, gid, groups, home = resolve_user(spec["user"])
    env = dict(spec["env"])
    env.setdefault("HOME", home or "/")
    workdir = spec["workdir"] or "/"
    os.makedirs(workdir, exist_ok=True)  # Docker creates a missing WORKDIR too
    os.chdir(workdir)
    os.setgroups(groups)
    os.setgid(gid)
    os.setuid(uid)
    argv = spec["argv"]
    try:
        os.execvpe(argv[0], argv, env)
    except FileNotFoundError:
        fail(f'exec: "{argv[0]}": executable file not found in $PATH', 127)
    except PermissionError:
        fail(f'exec: "{argv[0]}": permission denied', 126)
    except OSError as exc:
        fail(f'exec: "{argv[0]}": {exc.strerror}', 126)


if __name__ == "__main__":
    main(json.loads(sys.argv[1]))
