"""Layer patches against their anchors, in one run on the same inputs (issue 12).

    python bench/patch.py [CASE...]        # stdlib debian binaries (default: all three)

The three updates are built from real packages by bench/patch_inputs.py (cached under
.cache/bench/patch). For each: the new layer whole (uncompressed and gzip -6: what a
whole-layer delta sends), lamina's patch (`lamina.layer.patch`, level 19), and
`zstd -19 --long=31 --patch-from=OLD NEW`; tar-diff when a `tar-diff` binary is on PATH.
Every encode and decode runs in a process of its own (wall and CPU seconds, peak RSS);
every decode is checked byte for byte against the new layer. Targets (issue 12): no
larger than zstd on every case, >= 10x smaller than the whole layer (gzip) on stdlib,
decode >= 200 MB/s of rebuilt layer.
"""

from __future__ import annotations

import filecmp
import gzip
import json
import os
import shutil
import sys
import time
from functools import partial
from pathlib import Path

from measure import Result, run
from patch_inputs import CACHE, CASES, inputs

_CHILD = Path(__file__).resolve()


def child(step: str, *paths: str) -> None:
    """In a process of its own: encode OLD NEW PATCH, or decode OLD PATCH OUT."""
    from lamina.layer.patch import apply_patch, encode_patch

    if step == "encode":
        old, new, patch = paths
        with open(patch, "wb") as out:
            stats = encode_patch(partial(open, old, "rb"), partial(open, new, "rb"), out)
        print(json.dumps({k: v for k, v in vars(stats).items() if k != "header"}))
    else:
        old, patch, target = paths
        started, cpu = time.perf_counter(), time.process_time()
        with open(patch, "rb") as p, open(target, "wb") as out:
            apply_patch(partial(open, old, "rb"), p, out)
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        print(json.dumps({"seconds": seconds, "cpu": cpu}))


def _lamina(step: str, *paths: Path, report: Path) -> Result:
    env = {**os.environ, "PYTHONPATH": str(_CHILD.parents[1] / "src")}
    argv = [sys.executable, str(_CHILD), "--child", step, *map(str, paths)]
    return run(step, "lamina", argv, env=env, stdout=report)


def _gzip_size(path: Path) -> int:
    total = 0
    with path.open("rb") as src:
        sink = _Count()
        with gzip.GzipFile(fileobj=sink, mode="wb", compresslevel=6, mtime=0) as z:  # type: ignore[arg-type]
            shutil.copyfileobj(src, z, 1 << 20)
        total = sink.n
    return total


class _Count:
    n = 0

    def write(self, data: bytes) -> int:
        self.n += len(data)
        return len(data)

    def flush(self) -> None:
        pass


def _tools(old: Path, new: Path, work: Path) -> list[tuple[str, Path, Result, Result]]:
    """(tool, patch, encode, decode) of each tool on one case; decodes are checked."""
    out: list[tuple[str, Path, Result, Result]] = []
    patch, back = work / "lamina.patch", work / "lamina.out"
    enc = _lamina("encode", old, new, patch, report=work / "lamina.encode.json")
    dec = _lamina("decode", old, patch, back, report=work / "lamina.decode.json")
    out.append(("lamina", patch, enc, dec))
    zpatch, zback = work / "zstd.patch", work / "zstd.out"
    zstd = ["zstd", "-q", "-f", "--long=31", f"--patch-from={old}"]
    enc = run("encode", "zstd", [*zstd, "-19", str(new), "-o", str(zpatch)])
    dec = run("decode", "zstd", [*zstd, "-d", str(zpatch), "-o", str(zback)])
    out.append(("zstd -19 --long=31 --patch-from", zpatch, enc, dec))
    if shutil.which("tar-diff") and shutil.which("tar-patch"):
        tpatch, tback = work / "tar-diff.patch", work / "tar-diff.out"
        enc = run("encode", "tar-diff", ["tar-diff", str(old), str(new), str(tpatch)])
        extracted = work / "tar-diff-ref"  # tar-patch reads the reference extracted
        shutil.rmtree(extracted, ignore_errors=True)
        extracted.mkdir()
        run("extract", "tar", ["tar", "-xf", str(old), "-C", str(extracted)])
        dec = run("decode", "tar-diff", ["tar-patch", str(tpatch), str(extracted), str(tback)])
        out.append(("tar-diff", tpatch, enc, dec))
    for tool, _, _, _ in out:
        rebuilt = work / {"lamina": "lamina.out", "tar-diff": "tar-diff.out"}.get(tool, "zstd.out")
        if not filecmp.cmp(rebuilt, new, shallow=False):
            raise SystemExit(f"{tool} did not rebuild {new} exactly")
        rebuilt.unlink()
    return out


def bench(case: str) -> list[str]:
    old, new = inputs(case)
    work = CACHE / case / "out"
    work.mkdir(exist_ok=True)
    size, gz = new.stat().st_size, _gzip_size(new)
    load = os.getloadavg()[0]
    rows = [f"| {case} | whole layer (gzip -6) | {gz:,} | {gz / gz:.1f}x | - | - | - | - | - |"]
    for tool, patch, enc, dec in _tools(old, new, work):
        n = patch.stat().st_size
        rate, cpu_rate = size / dec.seconds / 1e6, size / max(dec.cpu, 1e-9) / 1e6
        rows.append(
            f"| {case} | {tool} | {n:,} | {gz / n:.1f}x | {enc.seconds:.1f} ({enc.cpu:.1f}) "
            f"| {dec.seconds:.2f} ({dec.cpu:.2f}) | {rate:.0f} ({cpu_rate:.0f}) "
            f"| {enc.peak_mb:.0f} / {dec.peak_mb:.0f} | {load:.1f} |"
        )
    inside = json.loads((work / "lamina.decode.json").read_text())
    stats = json.loads((work / "lamina.encode.json").read_text())
    head = (
        f"{case}: old {old.stat().st_size:,} B, new {size:,} B uncompressed; lamina's "
        f"apply_patch alone (no interpreter start): {inside['seconds']:.2f} s wall, "
        f"{inside['cpu']:.2f} s cpu = {size / inside['seconds'] / 1e6:.0f} MB/s wall, "
        f"{size / max(inside['cpu'], 1e-9) / 1e6:.0f} MB/s cpu; patch made of {stats}"
    )
    return [head, *rows]


def main(cases: list[str]) -> None:
    lines = [
        "| case | tool | bytes | vs gzip | encode s wall (cpu) | decode s wall (cpu) "
        "| decode MB/s wall (cpu) | peak RSS MB enc / dec | load |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    notes = []
    for case in cases:
        head, *rows = bench(case)
        notes.append(head)
        lines += rows
        print("\n".join(rows), flush=True)
    if not (shutil.which("tar-diff") and shutil.which("tar-patch")):
        notes.append("tar-diff: not measured (no tar-diff/tar-patch binaries: Go is not installed)")
    print("\n## Layer patches\n\n" + "\n".join(lines) + "\n\n" + "\n".join(f"- {n}" for n in notes))


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        child(*sys.argv[2:])
    else:
        main(sys.argv[1:] or list(CASES))
