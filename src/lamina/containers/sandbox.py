"""Running a container's command: chroot into its rootfs, in new namespaces. Root only.

    unshare --mount --pid --uts --ipc --fork --kill-child -- python3 -I -S launch.py SPEC

`unshare` makes the namespaces and forks; the child (PID 1 inside) is launch.py, which
mounts /proc and a small /dev, chroots, takes the image's user and working directory,
and execs the command with the image's environment. The network is the host's (lamina
has no bridge to put a container on). `--kill-child` makes the container die with
its `unshare`, so `rm -f` and an interrupted `lamina run` leave nothing behind.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from lamina.containers.records import EXITED, RUNNING, Container, Containers, process_start
from lamina.containers.records import rfc3339_now as now
from lamina.errors import PermissionRequiredError, UsageError
from lamina.spec import canonical_json

LAUNCHER = Path(__file__).with_name("launch.py")
NAMESPACES = ("--mount", "--pid", "--uts", "--ipc", "--fork", "--kill-child")
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
MOUNT_POINTS = ("proc", "dev", "sys")


def require_root(what: str) -> None:
    if os.geteuid() != 0:
        raise PermissionRequiredError(
            f"{what} needs root: it chroots into the container in new mount and PID namespaces",
            "run it as root, or copy files in and commit them, which need no root",
            command="or change files with `lamina cp` and record them with `lamina commit`",
        )


def make_mount_points(rootfs: Path) -> None:
    """Directories `run` mounts on, made before the snapshot so a commit never records them
    (Docker keeps them in its "init" layer for the same reason)."""
    for name in MOUNT_POINTS:
        path = rootfs / name
        if not path.exists() and not path.is_symlink():
            path.mkdir(mode=0o755)


def container_env(config: dict[str, Any], hostname: str) -> dict[str, str]:
    """The process environment: the image's Env, a default PATH, HOSTNAME (as Docker)."""
    env = {"PATH": DEFAULT_PATH, "HOSTNAME": hostname}
    for item in config.get("Env") or []:
        key, _, value = str(item).partition("=")
        env[key] = value
    return env


def spec_of(c: Container) -> bytes:
    argv = c.command
    if not argv:
        raise UsageError("no command specified", "give one after the image, or set CMD")
    return canonical_json(
        {
            "root": str(c.rootfs),
            "argv": argv,
            "env": container_env(c.config, c.short_id),
            "workdir": c.config.get("WorkingDir") or "/",
            "user": c.config.get("User") or "",
            "hostname": c.short_id,
        }
    )


def start(containers: Containers, c: Container) -> tuple[Container, int]:
    """Run the container's command in the foreground; returns its record and exit code."""
    require_root("run")
    unshare = shutil.which("unshare") or "/usr/bin/unshare"
    argv = [unshare, *NAMESPACES, "--", sys.executable, "-I", "-S", str(LAUNCHER)]
    argv.append(spec_of(c).decode())
    proc = subprocess.Popen(argv, env={"PATH": os.environ.get("PATH", DEFAULT_PATH)})
    c = replace(c, state=RUNNING, pid=proc.pid, pid_start=process_start(proc.pid), started=now())
    containers.save(c)
    code = 255
    try:
        code = _wait(proc)
    finally:
        c = replace(c, state=EXITED, exit_code=code, pid=0, pid_start="", finished=now())
        containers.save(c)
    return c, code


def _wait(proc: subprocess.Popen[bytes]) -> int:
    while True:
        try:
            rc = proc.wait()
            break
        except KeyboardInterrupt:
            # the container got the same SIGINT; let it decide, then report how it ended
            continue
    return 128 - rc if rc < 0 else rc
