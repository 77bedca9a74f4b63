"""Load of a layer with millions of entries: peak memory must not grow with entries.

    .venv/bin/python bench/load_entries.py [--entries 1000000 2000000] [--runs 1]
                                           [--before /tmp/lamina-before/src] [--peers]

Each input is a `docker save`-style archive of one image whose one layer holds N empty
files in directories of 1000 (tests/builders.py `many_files_archive`), generated into
.cache/bench-load-entries (about 520 bytes an entry) and cached. Each row is one fresh
`lamina load -i ARCHIVE` into an empty store under GNU time: wall seconds, CPU seconds
(user+sys), peak RSS (%M: the process's own) and the 1-minute load average when it
ended (the machine is shared). --before SRC runs the same loads with another checkout's
lamina (PYTHONPATH=SRC), e.g. one from before the header index spilled to disk;
--peers adds `podman load` of the same archive (tests/peers.py's private podman).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from measure import ROOT
from tests.builders import many_files_archive

CACHE = ROOT / ".cache" / "bench-load-entries"
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def archive(entries: int) -> Path:
    """The cached docker-archive of one image whose layer holds `entries` empty files."""
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"load{entries}.tar"
    if not path.exists():
        many_files_archive(Path(f"{path}.tmp"), entries, f"bench/entries:{entries}")
        os.replace(f"{path}.tmp", path)
    return path


def timed(argv: list[str], env: dict[str, str]) -> dict[str, float]:
    """argv under GNU time, after a sync: wall, CPU (user+sys), peak RSS, load."""
    os.sync()
    with tempfile.NamedTemporaryFile() as stats:
        fmt = ["/usr/bin/time", "-f", "%e %U %S %M", "-o", stats.name]
        started = time.perf_counter()
        done = subprocess.run([*fmt, *argv], env=env, capture_output=True)
        wall = time.perf_counter() - started
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} failed: {done.stderr.decode()[-2000:]}")
        _, user, system, peak_kb = Path(stats.name).read_text().split()[-4:]
    return {
        "seconds": wall,
        "cpu": float(user) + float(system),
        "rss_mb": int(peak_kb) / 1024,
        "load": os.getloadavg()[0],
    }


def lamina_load(src: Path, tar: Path, work: Path) -> dict[str, float]:
    store = work / "store"
    env = {**ENV, "PYTHONPATH": str(src)}
    argv = [sys.executable, "-m", "lamina", "--quiet", "--store", str(store), "load", "-i"]
    try:
        return timed([*argv, str(tar)], env)
    finally:
        shutil.rmtree(store, ignore_errors=True)


def podman_load(tar: Path) -> dict[str, float]:
    sys.path.insert(0, str(ROOT))
    from tests.peers import Podman

    podman = Podman.start()
    try:
        return timed(["podman", "load", "-q", "-i", str(tar)], podman.env)
    finally:
        podman.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--entries", type=int, nargs="+", default=[1_000_000, 2_000_000])
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--before", help="src dir of another lamina to load with too")
    parser.add_argument("--peers", action="store_true", help="podman load the same archive")
    args = parser.parse_args()
    rows: list[tuple[str, str, dict[str, float]]] = []
    tools = [("lamina (this checkout)", ROOT / "src")]
    if args.before:
        tools.append((f"lamina ({args.before})", Path(args.before)))
    with tempfile.TemporaryDirectory(prefix="lamina-bench-entries-", dir=CACHE.parent) as tmp:
        for entries in args.entries:
            tar = archive(entries)
            case = f"{entries:,} entries ({tar.stat().st_size / 1e6:,.0f} MB)"
            for _ in range(args.runs):
                for tool, src in tools:
                    rows.append((case, tool, lamina_load(src, tar, Path(tmp))))
                if args.peers:
                    rows.append((case, "podman load", podman_load(tar)))
    print(f"CPUs: {os.cpu_count()}")
    print("| case | tool | wall s | CPU s | peak MB | load |")
    print("|------|------|--------|-------|---------|------|")
    for case, tool, r in rows:
        print(
            f"| {case} | {tool} | {r['seconds']:.1f} | {r['cpu']:.1f} | {r['rss_mb']:.0f} "
            f"| {r['load']:.2f} |"
        )


if __name__ == "__main__":
    main()
