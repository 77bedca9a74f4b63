"""Scale: a 1,000,000-entry stack and the realistic image, squashed in flat memory.

    .venv/bin/python bench/scale.py [--entries 1000000] [--runs 3] [--before /work/main/src]
                                    [--skip-million] [--skip-realistic] [--realistic-scale 4]

1. A stack of N empty files (layer 0: N files in directories of 1000; layer 1 deletes
   1% and adds 1%), squashed whole by lamina's engine (lamina.layer.squash), beside
   reading its headers once with Python's tarfile and with lamina's TarReader, and
   building its header index (lamina.layer.headerindex).
2. The realistic ~370 MB 3-layer image (bench/workload.py, cached in .cache/bench or
   LAMINA_BENCH_CACHE; read only): `lamina squash --layers 1..-1` in a store it was
   loaded into, with the header indexes the load wrote, and without (index files
   removed before each run: squash rebuilds them from the layers), beside reading and
   sha256-ing the squashed layers once (the floor); and the squash engine alone, in
   process, on the same layers, from the tars and from the indexes; and analyze.
   Lamina's fixed start-up is timed the same way (`lamina --version`, and `lamina
   squash --help`: the squash command's own imports), and the squash less the latter
   is the per-byte part. Each squash is a fresh one (its result is removed, untimed,
   between runs). With --realistic-scale K (default 4) the same again on the realistic
   image with its python layer K times over (workload.scaled: real files, new names),
   where fixed costs no longer hide the per-byte ratio.
--before SRC runs the same squashes and analyze with another checkout's lamina too
(e.g. main's, before the compact tree and the index).
Every measurement runs in a fresh process (peak RSS is its own), after a sync, and
reports wall seconds, CPU seconds (user+sys) and the load average; the median of
--runs runs is shown. Generated layers are cached in .cache/bench-scale.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import workload
from measure import ROOT, lamina_cmd
from measure import run_child as measure_child

SCALE_CACHE = ROOT / ".cache" / "bench-scale"
# lamina as installed: byte-compiled once (the sandbox's PYTHONDONTWRITEBYTECODE would
# have every process compile its modules again)
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
BENCH_CACHE = Path(os.environ.get("LAMINA_BENCH_CACHE", "/work/main/.cache/bench"))
CHUNK = 1 << 20
MTIME = 1_700_000_000


# -- the million-entry stack ----------------------------------------------------------
def _header(name: str, kind: bytes = tarfile.REGTYPE) -> bytes:
    info = tarfile.TarInfo(name)
    info.type, info.mtime = kind, MTIME
    info.mode = 0o755 if kind == tarfile.DIRTYPE else 0o644
    return info.tobuf(tarfile.USTAR_FORMAT)


def _name(i: int) -> str:
    return f"usr/share/d{i // 1000:04d}/file{i:07d}.txt"


def million_stack(entries: int) -> list[Path]:
    """Layer 0: `entries` empty files (and their directories); layer 1: deletes 1% of
    them and adds 1% new ones. Cached."""
    SCALE_CACHE.mkdir(parents=True, exist_ok=True)
    paths = [SCALE_CACHE / f"stack{entries}-{i}.tar" for i in (0, 1)]
    if all(p.exists() for p in paths):
        return paths
    with open(str(paths[0]) + ".tmp", "wb") as f:
        for i in range(entries):
            if i % 1000 == 0:
                f.write(_header(_name(i).rpartition("/")[0] + "/", tarfile.DIRTYPE))
            f.write(_header(_name(i)))
        f.write(bytes(1024))
    with open(str(paths[1]) + ".tmp", "wb") as f:
        for i in range(0, entries, 100):
            head, _, base = _name(i).rpartition("/")
            f.write(_header(f"{head}/.wh.{base}"))
        for i in range(entries // 100):
            f.write(_header(f"usr/share/new/f{i:07d}"))
        f.write(bytes(1024))
    for p in paths:
        os.replace(str(p) + ".tmp", p)
    return paths


def count_entries(paths: list[Path]) -> int:
    from lamina.layer.tarstream import TarReader

    total = 0
    for p in paths:
        with p.open("rb") as f:
            total += sum(1 for _ in TarReader(f))
    return total


# -- measuring, in a child process -----------------------------------------------------
def measure(mode: str, out: Path, paths: list[Path]) -> dict[str, float]:
    started, cpu = time.perf_counter(), os.times()
    if mode == "squash":
        from lamina.layer.squash import squash_layers

        files = [p.open("rb") for p in paths]
        with out.open("wb") as sink:
            squash_layers(files, sink)
    elif mode == "tarfile":
        for p in paths:
            with tarfile.open(p) as tar:
                for _ in tar:
                    tar.members = []  # (as a streaming reader would: hold none)
    elif mode == "tarreader":
        from lamina.layer.tarstream import TarReader

        for p in paths:
            with p.open("rb") as f:
                for _ in TarReader(f):
                    pass
    elif mode == "index":
        from lamina.layer.headerindex import HeaderIndex

        for p in paths:
            with p.open("rb") as f:
                HeaderIndex.of(f)
    elif mode in ("engine-index", "engine-tar"):  # layers 1.. squashed over layer 0
        _engine(mode == "engine-index", out, paths)
    elif mode == "hash":
        for p in paths:
            h = hashlib.sha256()
            with p.open("rb") as f:
                while chunk := f.read(CHUNK):
                    h.update(chunk)
    else:
        raise SystemExit(f"unknown mode {mode}")
    done = os.times()
    return {
        "seconds": time.perf_counter() - started,
        "cpu": done.user + done.system - cpu.user - cpu.system,
        "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "load": os.getloadavg()[0],
    }


def _engine(indexed: bool, out: Path, paths: list[Path]) -> None:
    """lamina's squash engine alone (no CLI, no store transaction, no verification):
    layers 1.. of `paths` (store blobs) over layer 0, read through the store's header
    indexes or from the tars."""
    from lamina.layer.headerindex import HeaderIndex
    from lamina.layer.squash import Below, squash_layers

    def index_of(offset: int):  # type: ignore[no-untyped-def]
        def of(i: int, stream: object) -> HeaderIndex:
            path = paths[offset + i]
            index_file = path.parents[2] / "lamina" / "index" / path.name
            found = HeaderIndex.from_bytes(index_file.read_bytes(), f"sha256:{path.name}")
            assert found is not None
            return found

        return of if indexed else None

    files = [p.open("rb") for p in paths]
    with out.open("wb") as sink:
        below = Below.layers(files[:1], index_of(0))
        squash_layers(files[1:], sink, below=below, index_of=index_of(1))


def child(mode: str, out: Path, paths: list[Path]) -> dict[str, float]:
    os.sync()
    return measure_child(__file__, mode, str(out), *map(str, paths))


def timed(argv: list[str], env: dict[str, str] | None = None) -> dict[str, float]:
    """A command run to completion: wall, CPU (user+sys of the child), peak RSS."""
    os.sync()
    started = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env or ENV)
    assert proc.stderr is not None
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{' '.join(argv)} failed: {err.decode()[-2000:]}")
    return {
        "seconds": time.perf_counter() - started,
        "cpu": usage.ru_utime + usage.ru_stime,
        "rss_mb": usage.ru_maxrss / 1024,
        "load": os.getloadavg()[0],
    }


def median(runs: list[dict[str, float]]) -> dict[str, float]:
    """Each measure's own median (the run of median wall need not have the median CPU)."""
    return {key: statistics.median(r[key] for r in runs) for key in runs[0]}


Sample = dict[str, float]


# -- the table -------------------------------------------------------------------------
Row = tuple[str, str, dict[str, float], str]


def print_table(rows: list[Row]) -> None:
    head = ("case", "what", "wall s", "CPU s", "peak MB", "load", "note")
    lines = [head] + [
        (
            c,
            w,
            f"{r['seconds']:.2f}",
            f"{r['cpu']:.2f}",
            f"{r['rss_mb']:.0f}",
            f"{r['load']:.2f}",
            n,
        )
        for c, w, r, n in rows
    ]
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    for k, line in enumerate(lines):
        print("| " + " | ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)) + " |")
        if k == 0:
            print("|" + "|".join("-" * (w + 2) for w in widths) + "|")


def million(entries: int, runs: int, work: Path, before: str | None) -> list[Row]:
    paths = million_stack(entries)
    total = count_entries(paths)
    case = f"{total:,} entries, 2 layers"
    rows: list[Row] = []
    child("hash", work / "x", paths)  # warm the page cache
    for mode, what in (
        ("tarfile", "read headers once (tarfile)"),
        ("tarreader", "read headers once (lamina TarReader)"),
        ("index", "build header index (HeaderIndex.of)"),
        ("squash", "squash all (lamina.layer.squash)"),
    ):
        r = median([child(mode, work / "out.tar", paths) for _ in range(runs)])
        note = f"{total / r['seconds']:,.0f} entries/s"
        if mode == "squash":
            note += f"; {r['rss_mb'] * 2**20 / total:.0f} B/entry peak"
        rows.append((case, what, r, note))
    if before:
        env = {**os.environ, "PYTHONPATH": before}
        argv = [sys.executable, __file__, "--child", "squash", str(work / "out.tar")]
        argv += map(str, paths)
        r = median([_json_child(argv, env) for _ in range(runs)])
        note = (
            f"{total / r['seconds']:,.0f} entries/s; {r['rss_mb'] * 2**20 / total:.0f} B/entry peak"
        )
        rows.append((case, f"squash all, {before}", r, note))
    return rows


def _json_child(argv: list[str], env: dict[str, str]) -> dict[str, float]:
    os.sync()
    done = subprocess.run(argv, check=True, capture_output=True, text=True, env=env)
    result: dict[str, float] = json.loads(done.stdout)
    return result


def realistic(runs: int, work: Path, before: str | None, copies: int = 1) -> list[Row]:
    """The realistic image (`copies` > 1: its python layer that many times over, see
    workload.scaled) squashed by the whole `lamina squash` command, beside the floor and
    lamina's start-up; each squash is a fresh one (its result removed, untimed, between
    runs)."""
    if copies > 1:
        archive, meta = workload.scaled(copies, BENCH_CACHE, SCALE_CACHE)
    else:
        archive = BENCH_CACHE / "realistic.tar"
        meta = json.loads((BENCH_CACHE / "realistic.json").read_text())
    store = work / f"store-x{copies}"
    base = ["--store", str(store)]
    subprocess.run(lamina_cmd(*base, "load", "-i", str(archive)), check=True, env=ENV)
    tag = str(meta["tag"])
    layer_paths = [store / "blobs" / "sha256" / d.split(":")[1] for d in meta["diff_ids"]]
    index_dir = store / "lamina" / "index"
    mb = sum(p.stat().st_size for p in layer_paths[1:]) / 1e6
    case = f"realistic{f' x{copies}' if copies > 1 else ''}, top 2 of 3 ({mb:.0f} MB)"
    floor = median([child("hash", work / "x", layer_paths[1:]) for _ in range(runs)])
    rows: list[Row] = [(case, "read + sha256 squashed layers", floor, "the floor")]
    for mode, what in (
        ("engine-tar", "squash engine, from the tars"),
        ("engine-index", "squash engine, from the indexes"),
    ):
        r = median([child(mode, work / "engine.tar", layer_paths) for _ in range(runs)])
        rows.append((case, what, r, f"{r['cpu'] / floor['cpu']:.1f}x floor CPU"))
        (work / "engine.tar").unlink()
    start = median([timed(lamina_cmd("--version")) for _ in range(runs)])
    rows.append((case, "start-up: lamina --version", start, "fixed"))
    own = median([timed(lamina_cmd(*base, "squash", "--help")) for _ in range(runs)])
    rows.append((case, "start-up: lamina squash --help", own, "fixed: the command's imports"))
    squash = lamina_cmd(*base, "squash", tag, "--layers", "1..-1", "-t", "sq")
    rmi = lamina_cmd(*base, "rmi", "sq")
    with_index = median([_fresh(squash, rmi) for _ in range(runs)])
    rows.append((case, "lamina squash, header indexes kept", with_index, _times(with_index, floor)))
    less = {k: with_index[k] - own[k] for k in ("seconds", "cpu")}
    rows.append(
        (case, "  less its start-up (squash --help)", {**with_index, **less}, _times(less, floor))
    )
    without = []
    for _ in range(runs):
        shutil.rmtree(index_dir, ignore_errors=True)
        without.append(_fresh(squash, rmi))
    r = median(without)
    rows.append((case, "lamina squash, no index (rebuilt)", r, _times(r, floor)))
    analyze = lamina_cmd(*base, "analyze", tag, "--json")
    if before:  # the same commands with another checkout's lamina (e.g. main's)
        env = {**ENV, "PYTHONPATH": before}
        r = median([_fresh(squash, rmi, env) for _ in range(runs)])
        rows.append((case, f"lamina squash, {before}", r, _times(r, floor)))
        r = median([timed(analyze, env) for _ in range(runs)])
        rows.append((case, f"lamina analyze --json, {before}", r, ""))
    r = median([timed(analyze) for _ in range(runs)])
    rows.append((case, "lamina analyze --json, indexes kept", r, ""))
    shutil.rmtree(store)
    return rows


def _fresh(squash: list[str], rmi: list[str], env: dict[str, str] | None = None) -> Sample:
    """One timed squash whose result is new to the store (removed again after, untimed)."""
    r = timed(squash, env)
    subprocess.run(rmi, check=True, capture_output=True, env=env or ENV)
    return r


def _times(r: dict[str, float], floor: dict[str, float]) -> str:
    return f"{r['seconds'] / floor['seconds']:.1f}x floor wall, {r['cpu'] / floor['cpu']:.1f}x CPU"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--skip-realistic", action="store_true")
    parser.add_argument("--skip-million", action="store_true")
    parser.add_argument(
        "--realistic-scale",
        type=int,
        default=4,
        metavar="K",
        help="also the realistic image with its python layer K times over (1: not)",
    )
    parser.add_argument("--before", help="src dir of another lamina to squash with too")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        mode, out, *paths = args.child
        print(json.dumps(measure(mode, Path(out), [Path(p) for p in paths])))
        return
    with tempfile.TemporaryDirectory(prefix="lamina-bench-scale-") as tmp:
        rows = [] if args.skip_million else million(args.entries, args.runs, Path(tmp), args.before)
        if not args.skip_realistic:
            compile_all = [sys.executable, "-m", "compileall", "-q", str(ROOT / "src")]
            subprocess.run(compile_all, check=True)
            rows += realistic(args.runs, Path(tmp), args.before)
            if args.realistic_scale > 1:
                rows += realistic(args.runs, Path(tmp), args.before, args.realistic_scale)
    print(f"CPUs: {os.cpu_count()}; load average at the end: {os.getloadavg()}")
    print_table(rows)


if __name__ == "__main__":
    main()
