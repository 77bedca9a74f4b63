"""Micro benchmark of the squash engine (lamina.layer.squash), on generated layers.

    .venv/bin/python bench/squash_engine.py [--big-mb 300] [--small 100000] [--dir DIR]

Cases:
  small-1     one layer of N small files (squash = normalise it)
  small-2     that layer plus one that rewrites 10%, deletes 1% and adds 5% of it
  big-3       three layers of big files (hundreds of MB); the upper ones replace and
              delete some of the lower files
For each case, two baselines: reading every input layer once and hashing it (sha256),
and copying squash's output once (read, sha256, write), the floor for writing that
many bytes; squash writes its output to a file in the same directory. Each measurement
runs in a fresh process (so "peak RSS" is that of the squash alone) after a sync; the
table shows the median of 5 runs. Layers are generated with the standard library's
tarfile headers, data written directly, into a temporary directory (removed after).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import sys
import tarfile
import tempfile
import time
from pathlib import Path

from measure import run_child as measure_child

CHUNK = 1 << 20


# -- generating layers ------------------------------------------------------------------
def _header(name: str, size: int = 0, kind: bytes = tarfile.REGTYPE) -> bytes:
    info = tarfile.TarInfo(name)
    info.size, info.type, info.mode, info.mtime = size, kind, 0o644, 1_700_000_000
    if kind == tarfile.DIRTYPE:
        info.mode = 0o755
    return info.tobuf(tarfile.PAX_FORMAT)


def _pad(size: int) -> bytes:
    return bytes(-size % 512)


def write_small_layer(path: Path, files: int, seed: int = 0, rewrite_of: int = 0) -> int:
    """`files` small files in directories of 1000; or, with rewrite_of, the upper layer
    that rewrites 10%, deletes 1% and adds 5% of a `rewrite_of`-file layer."""
    entries = 0
    with path.open("wb") as f:
        if rewrite_of:
            names = [f"usr/share/d{i // 1000:04d}/file{i:06d}.txt" for i in range(rewrite_of)]
            chosen = names[::10] + [f"usr/share/new/f{i:06d}" for i in range(rewrite_of // 20)]
            for i in range(0, rewrite_of, 100):
                d, base = names[i].rsplit("/", 1)
                f.write(_header(f"{d}/.wh.{base}"))
                entries += 1
            f.write(_header("usr/share/new/", kind=tarfile.DIRTYPE))
        else:
            chosen = [f"usr/share/d{i // 1000:04d}/file{i:06d}.txt" for i in range(files)]
        last_dir = ""
        for i, name in enumerate(chosen):
            directory = name.rsplit("/", 1)[0]
            if directory != last_dir and not rewrite_of:
                f.write(_header(directory + "/", kind=tarfile.DIRTYPE))
                entries += 1
                last_dir = directory
            data = (b"%d %d\n" % (seed, i)) * (1 + (i * 7919) % 60)  # 4 B to ~700 B
            f.write(_header(name, len(data)) + data + _pad(len(data)))
            entries += 1
        f.write(bytes(1024))
    return entries


def write_big_layer(path: Path, files: list[tuple[str, int]], whiteouts: list[str]) -> int:
    block = os.urandom(CHUNK)
    with path.open("wb") as f:
        for name in whiteouts:
            f.write(_header(name))
        for name, size in files:
            f.write(_header(name, size))
            for offset in range(0, size, CHUNK):
                f.write(block[: min(CHUNK, size - offset)])
            f.write(_pad(size))
        f.write(bytes(1024))
    return len(files) + len(whiteouts)


def generate(workdir: Path, small: int, big_mb: int) -> dict[str, tuple[list[Path], int]]:
    mb = 1 << 20
    s0, s1 = workdir / "small0.tar", workdir / "small1.tar"
    n0 = write_small_layer(s0, small)
    n1 = write_small_layer(s1, small, seed=1, rewrite_of=small)
    big = [workdir / f"big{i}.tar" for i in range(3)]
    half = big_mb * mb // 2
    b0 = write_big_layer(big[0], [("opt/a.bin", half), ("opt/b.bin", half)], [])
    b1 = write_big_layer(big[1], [("opt/a.bin", half)], ["opt/.wh.b.bin"])
    b2 = write_big_layer(big[2], [("opt/c.bin", half // 2)], [])
    return {
        "small-1": ([s0], n0),
        "small-2": ([s0, s1], n0 + n1),
        "big-3": (big, b0 + b1 + b2),
    }


# -- measuring (in a child process) -----------------------------------------------------
def measure(mode: str, paths: list[Path], out: Path) -> dict[str, float]:
    from lamina.layer.squash import squash_layers

    start = time.perf_counter()
    if mode == "baseline":
        for path in paths:
            h = hashlib.sha256()
            with path.open("rb") as f:
                while chunk := f.read(CHUNK):
                    h.update(chunk)
        size = 0
    elif mode == "copy":  # what copying squash's output once costs: read, sha256, write
        h = hashlib.sha256()
        with out.open("rb") as f, out.with_suffix(".copy").open("wb") as sink:
            while chunk := f.read(CHUNK):
                h.update(chunk)
                sink.write(chunk)
        size = out.stat().st_size
    else:
        files = [p.open("rb") for p in paths]
        with out.open("wb") as sink:
            _, size = squash_layers(files, sink)
        for f in files:
            f.close()
    seconds = time.perf_counter() - start
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"seconds": seconds, "rss_mb": rss_mb, "out_bytes": size}


def run_child(mode: str, paths: list[Path], out: Path) -> dict[str, float]:
    os.sync()  # earlier writes must not be flushed to disk during this measurement
    return measure_child(__file__, mode, str(out), *map(str, paths))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--small", type=int, default=100_000, help="small files in the layer")
    parser.add_argument("--big-mb", type=int, default=400, help="MB in the bottom big layer")
    parser.add_argument("--dir", type=Path, default=None, help="work directory (default: temp)")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        mode, out, *paths = args.child
        print(json.dumps(measure(mode, [Path(p) for p in paths], Path(out))))
        return
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        workdir = Path(tmp)
        print(f"generating layers in {workdir} ...", file=sys.stderr)
        cases = generate(workdir, args.small, args.big_mb)
        rows = []
        for name, (paths, entries) in cases.items():
            mb = sum(p.stat().st_size for p in paths) / (1 << 20)
            run_child("baseline", paths, workdir / "out.tar")  # warm the page cache
            base = _median([run_child("baseline", paths, workdir / "out.tar") for _ in range(5)])
            squash = _median([run_child("squash", paths, workdir / "out.tar") for _ in range(5)])
            copy = _median([run_child("copy", paths, workdir / "out.tar") for _ in range(5)])
            rows.append((name, entries, mb, base, copy, squash))
        _table(rows)


def _median(runs: list[dict[str, float]]) -> dict[str, float]:
    return sorted(runs, key=lambda r: r["seconds"])[len(runs) // 2]


def _table(
    rows: list[tuple[str, int, float, dict[str, float], dict[str, float], dict[str, float]]],
) -> None:
    head = (
        f"{'case':<9} {'entries':>8} {'in MB':>6} {'out MB':>6} {'read+sha256 in':>14} "
        f"{'copy+sha256 out':>15} {'squash':>7} {'entries/s':>10} {'MB/s in':>8} "
        f"{'peak RSS MB':>11}"
    )
    print(head)
    print("-" * len(head))
    for name, entries, mb, base, copy, squash in rows:
        s = squash["seconds"]
        print(
            f"{name:<9} {entries:>8} {mb:>6.0f} {squash['out_bytes'] / (1 << 20):>6.0f} "
            f"{base['seconds']:>13.2f}s {copy['seconds']:>14.2f}s {s:>6.2f}s "
            f"{entries / s:>10.0f} {mb / s:>8.0f} {squash['rss_mb']:>11.0f}"
        )
    print(
        "read+sha256 in: read every input layer once and hash it; copy+sha256 out: read "
        "squash's output, hash it, write a copy (the floor for writing that many bytes)"
    )


if __name__ == "__main__":
    main()
