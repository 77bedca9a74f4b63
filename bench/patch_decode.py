"""apply_patch alone on the patch bench's cases: CPU and wall MB/s of rebuilt layer (issue 12).

    python bench/patch_decode.py [--runs N] [--base SRC] [CASE...]

Each run is a fresh interpreter running `bench/patch.py --child decode` (apply_patch timed
inside it, interpreter start excluded; the output is checked byte for byte against the new
layer). The patch is the one bench/patch.py left in .cache/bench/patch/CASE/out/ (encoded
here when missing). `--base SRC` runs another checkout's src/ too, interleaved run for
run with this one (A B B A...), so both see the same load: a before/after on a shared
machine. Medians are printed, beside the load average. Target: >= 200 MB/s.
"""

from __future__ import annotations

import argparse
import filecmp
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

from patch_inputs import CACHE, CASES, inputs

_PATCH = Path(__file__).resolve().parent / "patch.py"
_SRC = _PATCH.parents[1] / "src"


def _child(src: Path, *args: Path) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(src)}
    argv = [sys.executable, str(_PATCH), "--child", *map(str, args)]
    done = subprocess.run(argv, check=True, capture_output=True, text=True, env=env)
    result: dict[str, float] = json.loads(done.stdout)
    return result


def _decode(src: Path, old: Path, new: Path, patch: Path) -> dict[str, float]:
    out = patch.with_name(f"decode.{os.getpid()}.out")
    try:
        result = _child(src, Path("decode"), old, patch, out)
        if not filecmp.cmp(out, new, shallow=False):
            raise SystemExit(f"{src} did not rebuild {new} exactly")
    finally:
        out.unlink(missing_ok=True)
    return {**result, "load": os.getloadavg()[0]}


def bench(case: str, runs: int, sources: dict[str, Path]) -> list[str]:
    old, new = inputs(case)
    patch = CACHE / case / "out" / "lamina.patch"
    if not patch.exists():
        patch.parent.mkdir(exist_ok=True)
        _child(_SRC, Path("encode"), old, new, patch)
    got: dict[str, list[dict[str, float]]] = {name: [] for name in sources}
    order = list(sources.items())
    for _ in range(runs):
        for name, src in order:
            got[name].append(_decode(src, old, new, patch))
        order.reverse()  # A B B A ...: neither goes first every time
    size, rows = new.stat().st_size, []
    for name, results in got.items():
        cpu = statistics.median(r["cpu"] for r in results)
        wall = statistics.median(r["seconds"] for r in results)
        load = statistics.mean(r["load"] for r in results)
        rows.append(
            f"| {case} | {name} | {size / 1e6:.1f} | {cpu:.3f} | {size / cpu / 1e6:.0f} "
            f"| {wall:.3f} | {size / wall / 1e6:.0f} | {load:.1f} |"
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--base", type=Path, help="another checkout's src/ to compare")
    parser.add_argument("cases", nargs="*", default=list(CASES))
    args = parser.parse_args()
    sources = {"base": args.base, "this": _SRC} if args.base else {"this": _SRC}
    print(
        f"| case | code | MB rebuilt | cpu s (median of {args.runs}) | MB/s cpu "
        "| wall s | MB/s wall | load |\n|---|---|---|---|---|---|---|---|"
    )
    for case in args.cases:
        print("\n".join(bench(case, args.runs, sources)), flush=True)


if __name__ == "__main__":
    main()
