"""Benchmark of the layer analysis (`lamina analyze`, lamina.ops.analyze) against
reading the tar headers once.

    .venv/bin/python bench/analyze.py [--small 100000] [--dir DIR] [--runs 5]

Cases:
  realistic   the 367 MB realistic image of bench/workload.py (debootstrap base, Python
              stdlib, a change layer with whiteouts and an opaque directory)
  files-100k  four layers: 100,000 small files, a layer that rewrites 10%, deletes 1%
              and adds 5% of them (bench/squash_engine.py), and two small layers
Modes, each in a fresh process, the modes taking turns run after run (median of
--runs; CPU is user+sys of the work, steadier than wall time on a shared machine;
"x headers" compares CPU; peak RSS is that process's own):
  headers     read every layer's tar headers once (lamina's TarReader; data is seeked
              over), the floor the analysis is measured against
  analysis    the analysis without the advisor (--advise 0)
  base 1      analysis + advisor, layer 0 being the base (ranges of layers 1..)
  no base     analysis + advisor over every range (as for an archive with no base)
The layers are plain tar files, as the store keeps them.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import resource
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from measure import run_child as measure_child

sys.path.insert(0, str(Path(__file__).resolve().parent))

MODES = ("headers", "analysis", "base 1", "no base")


def small_stack(workdir: Path, files: int) -> list[Path]:
    from squash_engine import _header, write_small_layer

    paths = [workdir / f"small{i}.tar" for i in range(4)]
    write_small_layer(paths[0], files)
    write_small_layer(paths[1], files, seed=1, rewrite_of=files)
    for i in (2, 3):
        with paths[i].open("wb") as f:
            data = b"x" * 1000
            f.write(_header(f"etc/app{i}.conf", len(data)) + data + bytes(-len(data) % 512))
            f.write(bytes(1024))
    return paths


def realistic() -> list[Path]:
    from workload import ensure

    _, meta = ensure()
    return [Path(p) for p in meta["layers"]]  # type: ignore[union-attr]


# -- measuring (in a child process) -----------------------------------------------------
def measure(mode: str, paths: list[Path]) -> dict[str, float]:
    from lamina.image import Image, Layer
    from lamina.layer.tarstream import TarReader
    from lamina.ops.analyze import analyze
    from lamina.spec import Config

    start, cpu = time.perf_counter(), _cpu()
    entries = 0
    if mode == "headers":
        for path in paths:
            with path.open("rb") as f:
                entries += sum(1 for _ in TarReader(f))
    else:
        diff_ids = ["sha256:" + hashlib.sha256(str(p).encode()).hexdigest() for p in paths]
        config = Config.parse(json.dumps({"rootfs": {"diff_ids": diff_ids}}).encode())
        layers = tuple(
            Layer(d, d, p.stat().st_size, "", lambda p=p: p.open("rb"))
            for d, p in zip(diff_ids, paths, strict=True)
        )

        @contextmanager
        def open_tar(layer: Layer) -> Iterator[BinaryIO]:
            with layer.open_blob() as f:
                yield f

        base, advise = {"analysis": (0, 0), "base 1": (1, 3), "no base": (0, 3)}[mode]
        result = analyze(Image(config, layers), open_tar, base_layers=base, advise=advise)
        entries = sum(x.count.entries for x in result.layers)
    seconds, cpu = time.perf_counter() - start, _cpu() - cpu
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"seconds": seconds, "cpu": cpu, "rss_mb": rss_mb, "entries": entries}


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run_child(mode: str, paths: list[Path]) -> dict[str, float]:
    return measure_child(__file__, mode, *map(str, paths))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--small", type=int, default=100_000, help="files in the big layer")
    parser.add_argument("--dir", type=Path, default=None, help="work directory (default: temp)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        mode, *paths = args.child
        print(json.dumps(measure(mode, [Path(p) for p in paths])))
        return
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        cases = {"realistic": realistic(), "files-100k": small_stack(Path(tmp), args.small)}
        print("| case | layers | MB | entries | mode | wall s | CPU s | x headers | peak RSS MB |")
        print("|---|---|---|---|---|---|---|---|---|")
        for name, paths in cases.items():
            mb = sum(p.stat().st_size for p in paths) / 1e6
            run_child("headers", paths)  # warm the page cache
            runs: dict[str, list[dict[str, float]]] = {mode: [] for mode in MODES}
            for _ in range(args.runs):
                for mode in MODES:
                    runs[mode].append(run_child(mode, paths))
            floor = _median(runs["headers"], "cpu")["cpu"]
            for mode in MODES:
                r, cpu = _median(runs[mode], "seconds"), _median(runs[mode], "cpu")["cpu"]
                print(
                    f"| {name} | {len(paths)} | {mb:.0f} | {r['entries']:.0f} | {mode} | "
                    f"{r['seconds']:.2f} | {cpu:.2f} | {cpu / floor:.2f} | {r['rss_mb']:.0f} |",
                    flush=True,
                )


def _median(runs: list[dict[str, float]], key: str) -> dict[str, float]:
    return sorted(runs, key=lambda r: r[key])[len(runs) // 2]


if __name__ == "__main__":
    main()
