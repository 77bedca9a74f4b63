"""A big image (default 10 GB, one 5 GB layer) through lamina, beside a durable copy of the
same bytes and beside podman, Docker and docker-squash, in one run.

    .venv/bin/python bench/scale_big.py [--size GB] [--keep-inputs] [--no-peers]

The image is bench/bigimage.py's (copies of /usr: real files, not zeros), built once
under .cache/bench/big/SIZE/. Each row is one process: wall seconds, CPU seconds
(user+sys, of that process and its children), peak RSS (ru_maxrss of the process
itself: lamina's), MB/s over the bytes the step moves, and the 1-minute load average
when it ended (the machine is shared). The floor is a durable copy of the same bytes:
read, sha256, write, fsync. A peer step that takes more than 10 minutes is cut and
noted. Everything the run writes (stores, outputs, a private registry, podman and
dockerd roots) is removed as it goes, and the inputs too unless --keep-inputs;
free disk space is checked before each big step.
Targets: load and delta load within 1.5x the durable copy; lamina under 150 MB.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import bigimage
from measure import ROOT, lamina_cmd
from tests.peers import Docker, Podman, Registry

LIMIT = 600.0  # seconds a peer may take
BUDGET_GB = 45  # the disk this run may use at its peak (the machine is shared)
# as installed (byte-compiled once): this sandbox's PYTHONDONTWRITEBYTECODE=1 would make
# every lamina process compile its modules again, about 1.5 s of start-up on this machine
LAMINA_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
COPY = (
    "import hashlib,os,sys\n"
    "h=hashlib.sha256();b=bytearray(1<<20);m=memoryview(b)\n"
    "with open(sys.argv[1],'rb',buffering=0) as i,open(sys.argv[2],'wb',buffering=0) as o:\n"
    "  while n:=i.readinto(b):\n"
    "    h.update(m[:n]);o.write(m[:n])\n"
    "  os.fsync(o.fileno())\n"
)


@dataclass
class Row:
    task: str
    tool: str
    seconds: float
    cpu: float
    peak_mb: float
    mb_s: float
    load: float
    note: str = ""


def run(
    task: str,
    tool: str,
    argv: list[str],
    moved: int,
    env: dict[str, str] | None = None,
    stdin: Path | None = None,
    note: str = "",
) -> Row:
    """Run argv to completion (peers: at most LIMIT); wall and CPU time, its peak RSS.

    The peak is GNU time's (%M): the process's own. ru_maxrss from this script's wait4
    would be at least this script's RSS at the spawn (exec keeps the old high-water)."""
    started = time.perf_counter()
    with (
        open(stdin or os.devnull, "rb") as inp,
        tempfile.TemporaryFile() as err,
        tempfile.NamedTemporaryFile() as peak,
    ):
        timed = ["/usr/bin/time", "-f", "%M", "-o", peak.name, *argv]
        proc = subprocess.Popen(timed, env=env, stdin=inp, stdout=subprocess.DEVNULL, stderr=err)
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if tool != "lamina" and time.perf_counter() - started > LIMIT:
                proc.kill()
                os.wait4(proc.pid, 0)
                load = os.getloadavg()[0]
                return Row(task, tool, LIMIT, 0, 0, 0, load, f"cut after {LIMIT:.0f} s")
            time.sleep(0.05)
        proc.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.perf_counter() - started
        if proc.returncode != 0:
            err.seek(0)
            raise RuntimeError(f"{' '.join(argv)} failed: {err.read().decode()[-2000:]}")
        peak_kb = int(Path(peak.name).read_text().split()[-1])
    cpu = usage.ru_utime + usage.ru_stime
    mb_s = moved / 1e6 / seconds
    return Row(task, tool, seconds, cpu, peak_kb / 1024, mb_s, os.getloadavg()[0], note)


def need(gb: float, where: Path) -> None:
    free = shutil.disk_usage(where).free / 1e9
    if free < gb:
        raise SystemExit(f"only {free:.0f} GB free under {where}; this step needs {gb:.0f} GB")


def table(rows: list[Row], title: str) -> str:
    head = ("task", "tool", "wall s", "CPU s", "peak MB", "MB/s", "load", "note")
    body = [
        (
            r.task,
            r.tool,
            f"{r.seconds:.1f}",
            f"{r.cpu:.1f}",
            f"{r.peak_mb:.0f}",
            f"{r.mb_s:.0f}",
            f"{r.load:.1f}",
            r.note,
        )
        for r in rows
    ]
    widths = [max(len(x[i]) for x in [head, *body]) for i in range(len(head))]
    lines = [f"## {title}", ""]
    for n, row in enumerate([head, *body]):
        lines.append("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |")
        if n == 0:
            lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def copy_row(task: str, src: Path, work: Path) -> Row:
    """The floor: a durable copy of `src` (read, sha256, write, fsync), then removed."""
    row = run(task, "python", [sys.executable, "-c", COPY, str(src), str(work / "c")], _size(src))
    (work / "c").unlink()
    return row


def _size(path: Path) -> int:
    return path.stat().st_size


def load_rows(inp: bigimage.Inputs, work: Path, size_gb: float, runs: int) -> list[Row]:
    """The durable copies and the loads, best of `runs` each (the store stays loaded)."""
    full, delta, store = _size(inp.full), _size(inp.delta), work / "store"
    best: dict[str, Row] = {}
    for _ in range(runs):
        shutil.rmtree(store, ignore_errors=True)
        need(size_gb * 2.2, work)
        rows = [copy_row("durable copy", inp.full, work)]
        rows.append(copy_row("durable copy (delta)", inp.delta, work))
        argv = lamina_cmd("--store", str(store), "load", "-i", str(inp.full))
        rows.append(run("load", "lamina", argv, full, LAMINA_ENV))
        argv = lamina_cmd("--store", str(store), "load", "-i", str(inp.delta))
        rows.append(run("delta load", "lamina", argv, delta, LAMINA_ENV))
        piped = lamina_cmd("--store", str(work / "piped"), "load")
        rows.append(run("load from a pipe", "lamina", piped, full, LAMINA_ENV, stdin=inp.full))
        shutil.rmtree(work / "piped")
        for row in rows:
            if row.task not in best or row.seconds < best[row.task].seconds:
                best[row.task] = row
    return list(best.values())


def lamina_rows(inp: bigimage.Inputs, work: Path, size_gb: float, runs: int) -> list[Row]:
    full, delta, store, out = _size(inp.full), _size(inp.delta), work / "store", work / "out.tar"
    rows = load_rows(inp, work, size_gb, runs)

    def lam(*args: str) -> list[str]:
        return lamina_cmd("--store", str(store), *args)

    argv = lam("save", "-o", str(out), bigimage.APP1)
    rows.append(run("save", "lamina", argv, full, LAMINA_ENV))
    out.unlink()
    argv = lam("save", "--exclude", bigimage.APP1, "-o", str(out), bigimage.APP2)
    rows.append(run("delta save", "lamina", argv, delta, LAMINA_ENV))
    out.unlink()
    need(size_gb * 1.1, work)
    argv = lam("squash", "--layers", "0..-1", "-t", "bench/big:sq", bigimage.APP1)
    rows.append(run("squash (all layers)", "lamina", argv, full, LAMINA_ENV, note="main's tree"))
    subprocess.run(lam("rmi", "bench/big:sq"), check=True, capture_output=True)
    registry = Registry.start()
    try:
        ref = f"{registry.host}/bench/big:1"
        argv = lam("push", bigimage.APP1, ref)
        rows.append(run("push", "lamina", argv, full, LAMINA_ENV, note="gzip"))
        pull = lamina_cmd("--store", str(work / "pulled"), "pull", ref)
        rows.append(run("pull", "lamina", pull, full, LAMINA_ENV))
        shutil.rmtree(work / "pulled")
    finally:
        registry.stop()
    shutil.rmtree(store)
    return rows


def peer_rows(inp: bigimage.Inputs, work: Path, size_gb: float) -> list[Row]:
    full = inp.full.stat().st_size
    rows = []
    need(size_gb * 2.2, work)
    podman = Podman.start()
    try:
        rows.append(
            run("load", "podman", ["podman", "load", "-q", "-i", str(inp.full)], full, podman.env)
        )
        rows.append(
            run(
                "save",
                "podman",
                ["podman", "save", "-q", "-o", str(work / "p.tar"), "localhost/" + bigimage.APP1],
                full,
                podman.env,
            )
        )
        (work / "p.tar").unlink(missing_ok=True)
    finally:
        podman.stop()
    need(size_gb * 2.2, work)
    docker = Docker.start()
    try:
        rows.append(
            run("load", "docker", [docker.cli, "load", "-q", "-i", str(inp.full)], full, docker.env)
        )
        rows.append(
            run(
                "save",
                "docker",
                [docker.cli, "save", "-o", str(work / "d.tar"), bigimage.APP1],
                full,
                docker.env,
            )
        )
        (work / "d.tar").unlink(missing_ok=True)
        rows.append(docker_squash_row(docker, full, size_gb, work))
    finally:
        docker.stop()
    return rows


def docker_squash_row(docker: Docker, full: int, size_gb: float, work: Path) -> Row:
    try:
        from squash import docker_squash

        dsq = docker_squash()
    except (OSError, subprocess.CalledProcessError) as exc:
        return Row("squash (all layers)", "docker-squash", 0, 0, 0, 0, 0, f"not installed: {exc}")
    if size_gb * 5.5 > BUDGET_GB:  # the input, docker's copy, its save, the squash, its load
        why = f"skipped: needs ~{size_gb * 5.5:.0f} GB of disk, over this run's {BUDGET_GB} GB"
        return Row("squash (all layers)", "docker-squash", 0, 0, 0, 0, 0, why)
    env = {**docker.env, "TMPDIR": str(work)}
    return run(
        "squash (all layers)",
        "docker-squash",
        [dsq, "-t", "bench/big:dsq", bigimage.APP1],
        full,
        env,
        note="docker save, squash, docker load",
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", type=float, default=10.0, help="image size in GB (default 10)")
    ap.add_argument("--keep-inputs", action="store_true", help="keep .cache/bench/big/SIZE")
    ap.add_argument("--no-peers", action="store_true", help="lamina and the copy only")
    ap.add_argument("--runs", type=int, default=1, help="best of N for the copies and loads")
    args = ap.parse_args()
    need(args.size * 1.4, ROOT)
    inp = bigimage.ensure(args.size)
    work = Path(tempfile.mkdtemp(prefix="scale-big-", dir=inp.dir))
    rows: list[Row] = []
    try:
        rows += lamina_rows(inp, work, args.size, args.runs)
        if not args.no_peers:
            rows += peer_rows(inp, work, args.size)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if not args.keep_inputs:
            bigimage.remove(args.size)
        mb = inp.size / 1e6
        what = f"biggest layer {mb / 2:.0f} MB; delta {inp.delta_size / 1e6:.0f} MB"
        print(table(rows, f"a {mb:.0f} MB image ({what})"))
        floor = {r.task: r.seconds for r in rows if r.tool == "python"}
        for r in rows:
            if r.tool == "lamina" and r.task in ("load", "delta load", "load from a pipe"):
                base = floor["durable copy (delta)" if r.task == "delta load" else "durable copy"]
                print(f"- {r.task}: {r.seconds / base:.2f}x the durable copy (target 1.5x)")


if __name__ == "__main__":
    main()
