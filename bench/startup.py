"""Start-up: how long a short command takes, lamina beside docker and podman.

    python bench/startup.py [--runs 15] [--no-peers]

The same small set of images (a base and three commits) is in lamina's store, in a
private dockerd and in a private podman storage; each command runs --runs times and
the table gives the median wall time and the median CPU time (user + system, of the
command's own process tree). `python -c pass` is the floor every Python tool pays.
docker's client talks to a running daemon (its own start-up is Go's); podman reads
its storage itself, as lamina does. Target (issue 14): lamina --version and lamina
images under 0.15 s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from measure import ROOT
from tests.builders import docker_archive, stack


def once(argv: Sequence[str], env: Mapping[str, str] | None) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one run."""
    started = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    assert proc.stderr is not None
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{' '.join(argv)} failed: {proc.stderr.read().decode()[-500:]}")
    proc.stderr.close()
    return wall, usage.ru_utime + usage.ru_stime


def measure(argv: Sequence[str], env: Mapping[str, str] | None, runs: int) -> tuple[float, float]:
    once(argv, env)  # warm the page cache: every tool gets the same second chance
    samples = [once(argv, env) for _ in range(runs)]
    return statistics.median(s[0] for s in samples), statistics.median(s[1] for s in samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--no-peers", action="store_true", help="lamina only")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="lamina-startup-"))
    archive = docker_archive(stack(4), work / "stack.tar")
    # as an installed lamina runs: its bytecode compiled once (this sandbox sets
    # PYTHONDONTWRITEBYTECODE, which would recompile every module on every run)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = str(ROOT / "src")
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "src")], check=True)
    lamina = [sys.executable, "-m", "lamina", "--store", str(work / "store")]
    subprocess.run([*lamina, "load", "-i", str(archive)], env=env, check=True, capture_output=True)
    rows: list[tuple[str, str, float, float]] = []

    def add(task: str, tool: str, argv: Sequence[str], tool_env: Mapping[str, str] | None) -> None:
        wall, cpu = measure(argv, tool_env, args.runs)
        rows.append((task, tool, wall, cpu))

    add("python -c pass", "python", [sys.executable, "-c", "pass"], env)
    add("--version", "lamina", [*lamina, "--version"], env)
    add("images", "lamina", [*lamina, "images"], env)
    add("images -a", "lamina", [*lamina, "images", "-a"], env)
    add("squash --help", "lamina", [*lamina, "squash", "--help"], env)  # a command's imports
    add("load --help", "lamina", [*lamina, "load", "--help"], env)
    if not args.no_peers:
        from tests.peers import Docker, Podman

        docker = Docker.start()
        try:
            subprocess.run(
                [docker.cli, "load", "-i", str(archive)],
                env=docker.env,
                check=True,
                capture_output=True,
            )
            add("--version", "docker", [docker.cli, "--version"], docker.env)
            add("images", "docker", [docker.cli, "images"], docker.env)
            add("images -a", "docker", [docker.cli, "images", "-a"], docker.env)
        finally:
            docker.stop()
        podman = Podman.start()
        try:
            subprocess.run(
                ["podman", "load", "-i", str(archive)],
                env=podman.env,
                check=True,
                capture_output=True,
            )
            add("--version", "podman", ["podman", "--version"], podman.env)
            add("images", "podman", ["podman", "images"], podman.env)
            add("images -a", "podman", ["podman", "images", "-a"], podman.env)
        finally:
            podman.stop()
    load = os.getloadavg()[0]
    print(f"## Start-up (median of {args.runs} runs; load average {load:.1f})\n")
    print("| command | tool | wall s | CPU s |")
    print("|---|---|---|---|")
    for task, tool, wall, cpu in rows:
        print(f"| {task} | {tool} | {wall:.3f} | {cpu:.3f} |")


if __name__ == "__main__":
    main()
