"""lamina squash beside docker-squash 1.2.2, on the same images, in one run.

    .venv/bin/python bench/squash.py

1. The realistic ~370 MB, 3-layer image (bench/workload.py): squash the top 2 layers.
   docker-squash needs a Docker API: a private dockerd (tests/peers.py) is started.
   Its time is measured twice: writing the result to a file only (--output-path),
   and its default (squash, then load into the daemon).
2. A layer of 100,000 small files (on a small base, under a small top layer that
   deletes and changes a few): squash the top 2 layers (entries/s).
Also the floor: reading and sha256-ing the squashed input layers once.
docker-squash is installed into .cache/bench/docker-squash-venv from PyPI.
"""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

from measure import ROOT, Result, lamina_cmd, run, table
from tests.peers import Docker
from workload import CACHE, MTIME, ensure, sha256_file, write_archive

DSQ_VENV = CACHE / "docker-squash-venv"


def docker_squash() -> str:
    exe = DSQ_VENV / "bin" / "docker-squash"
    if not exe.exists():
        subprocess.run([sys.executable, "-m", "venv", str(DSQ_VENV)], check=True)
        subprocess.run(
            [str(DSQ_VENV / "bin" / "pip"), "install", "-q", "docker-squash==1.2.2"], check=True
        )
    return str(exe)


def small_files_archive() -> tuple[Path, dict[str, object]]:
    """A 3-layer image: a tiny base, a layer of 100,000 small files, a small change."""
    out = CACHE / "small-files.tar"
    meta_path = CACHE / "small-files.json"
    if out.exists() and meta_path.exists():
        return out, json.loads(meta_path.read_text())
    layers = [CACHE / "small-base.tar", CACHE / "small-100k.tar", CACHE / "small-top.tar"]
    with tarfile.open(layers[0], "w") as tar:
        info = tarfile.TarInfo("etc/hostname")
        info.size, info.mtime = 6, MTIME
        tar.addfile(info, io.BytesIO(b"small\n"))
    with tarfile.open(layers[1], "w", format=tarfile.PAX_FORMAT) as tar:
        for d in range(100):
            info = tarfile.TarInfo(f"data/d{d:03}")
            info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, MTIME
            tar.addfile(info)
            for f in range(1000):
                data = f"{d}-{f}\n".encode() * 8
                info = tarfile.TarInfo(f"data/d{d:03}/f{f:04}.txt")
                info.size, info.mtime = len(data), MTIME
                tar.addfile(info, io.BytesIO(data))
    with tarfile.open(layers[2], "w") as tar:
        for name, data in (("data/d000/.wh.f0000.txt", b""), ("data/d001/f0001.txt", b"new\n")):
            info = tarfile.TarInfo(name)
            info.size, info.mtime = len(data), MTIME
            tar.addfile(info, io.BytesIO(data))
    meta = write_archive(layers, out, "bench/small:1")
    meta_path.write_text(json.dumps(meta))
    return out, meta


def read_and_hash(paths: list[Path]) -> Result:
    started = time.perf_counter()
    for p in paths:
        sha256_file(p)
    return Result("floor: read+sha256 inputs", "python", time.perf_counter() - started, 0)


def layer_files(store: Path, diff_ids: list[str]) -> list[Path]:
    return [store / "blobs" / "sha256" / d[7:] for d in diff_ids]


def main() -> None:
    big, big_meta = ensure()
    small, small_meta = small_files_archive()
    work = Path(tempfile.mkdtemp(prefix="lamina-bench-squash-"))
    store = work / "store"
    for archive in (big, small):
        subprocess.run(
            lamina_cmd("--store", str(store), "load", "-i", str(archive)),
            check=True,
            stdout=subprocess.DEVNULL,
        )
    dsq = docker_squash()
    docker = Docker.start()
    results: list[Result] = []
    try:
        for archive in (big, small):
            docker.run("load", "-i", str(archive))
        env = docker.env
        big_inputs = layer_files(store, list(big_meta["diff_ids"])[1:])  # type: ignore[call-overload]
        results.append(read_and_hash(big_inputs))
        results.append(
            run(
                "top 2 of 3 layers",
                "lamina",
                lamina_cmd(
                    "--store",
                    str(store),
                    "squash",
                    "bench/realistic:1",
                    "--layers",
                    "1..-1",
                    "-t",
                    "bench/realistic:sq",
                ),
            )
        )
        results.append(
            run(
                "top 2 of 3 layers",
                "docker-squash",
                [
                    dsq,
                    "-f",
                    "2",
                    "-t",
                    "bench/realistic:dsq",
                    "--output-path",
                    str(work / "dsq.tar"),
                    "bench/realistic:1",
                ],
                env,
                note="output file only",
            )
        )
        results.append(
            run(
                "top 2 of 3 layers",
                "docker-squash",
                [dsq, "-f", "2", "-t", "bench/realistic:dsq2", "bench/realistic:1"],
                env,
                note="default: + load into dockerd",
            )
        )
        small_inputs = layer_files(store, list(small_meta["diff_ids"])[1:])  # type: ignore[call-overload]
        results.append(read_and_hash(small_inputs))
        lam = run(
            "100,000 files + top layer",
            "lamina",
            lamina_cmd(
                "--store",
                str(store),
                "squash",
                "bench/small:1",
                "--layers",
                "1..-1",
                "-t",
                "bench/small:sq",
            ),
        )
        lam.note = f"{100_100 / lam.seconds:,.0f} entries/s"
        results.append(lam)
        results.append(
            run(
                "100,000 files + top layer",
                "docker-squash",
                [
                    dsq,
                    "-f",
                    "2",
                    "-t",
                    "bench/small:dsq",
                    "--output-path",
                    str(work / "dsq2.tar"),
                    "bench/small:1",
                ],
                env,
                note="output file only",
            )
        )
        diff = subprocess.run(
            lamina_cmd("--store", str(store), "diff", "bench/realistic:1", "bench/realistic:sq"),
            capture_output=True,
        )
        assert diff.returncode == 0, diff.stdout.decode()[:2000]
    finally:
        docker.stop()
        subprocess.run(["rm", "-rf", str(work)], check=False)
    mb = big.stat().st_size / 1e6
    print(table(results, f"squash: a {mb:.0f} MB 3-layer image, and 100,000 small files"))
    print("\n(lamina diff confirms the squashed image's filesystem equals the original's.)")
    _ = hashlib, ROOT


if __name__ == "__main__":
    main()
