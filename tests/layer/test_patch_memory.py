"""Making and applying a patch of a 300 MB layer holds a bounded window, not the layer.

Each step runs in a fresh interpreter and reports its peak RSS (VmHWM); both stay
far below the layer's size. The layers are written to disk by streaming (the test never
holds them either): 30 files of 10 MB; the update edits one in the middle (a delta in
windows), drops one, adds an 8 MB file and gives a few new mtimes.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

MB = 1 << 20
_CHILD = """
import json, sys
from lamina.layer.patch import apply_patch, encode_patch
step, old, new, patch = sys.argv[1:]
if step == "encode":
    with open(patch, "wb") as out:
        encode_patch(lambda: open(old, "rb"), lambda: open(new, "rb"), out, level=3)
else:
    with open(patch, "rb") as p, open(new, "wb") as out:
        apply_patch(lambda: open(old, "rb"), p, out)
# VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the forking parent (pytest)
status = open("/proc/self/status").read()
hwm = next(line for line in status.splitlines() if line.startswith("VmHWM:"))
print(json.dumps({"peak": int(hwm.split()[1]) * 1024}))
"""


class _Random:
    """A file object of `size` deterministic random bytes, made as they are read."""

    def __init__(self, seed: int, size: int, edit: int = -1) -> None:
        self.rng, self.left, self.at, self.edit = random.Random(seed), size, 0, edit

    def read(self, n: int) -> bytes:
        data = self.rng.randbytes(min(n, self.left))
        if self.at <= self.edit < self.at + len(data):
            i = self.edit - self.at
            data = data[:i] + b"EDITED!" + data[i + 7 :]
        self.left -= len(data)
        self.at += len(data)
        return data


def _layer(path: Path, new: bool) -> None:
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:
        for i in range(30):
            if new and i == 7:
                continue
            info = tarfile.TarInfo(f"data/file{i:02}.bin")
            info.size, info.mtime = 10 * MB, 1_700_000_000 + (i if new and i % 9 == 0 else 0)
            tar.addfile(info, _Random(i, info.size, 5 * MB if new and i == 5 else -1))  # type: ignore[arg-type]
        if new:
            info = tarfile.TarInfo("data/added.bin")
            info.size = 8 * MB
            tar.addfile(info, _Random(99, info.size))  # type: ignore[arg-type]


def _run(step: str, *paths: Path) -> int:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")}
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, step, *map(str, paths)],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    )
    peak: int = json.loads(done.stdout)["peak"]
    return peak


@pytest.mark.timeout(900)
def test_memory_stays_bounded_on_a_300_mb_layer(tmp_path: Path) -> None:
    old, new, patch, back = (tmp_path / n for n in ("old.tar", "new.tar", "p", "back.tar"))
    _layer(old, new=False)
    _layer(new, new=True)
    assert new.stat().st_size > 290 * MB
    encode_peak = _run("encode", old, new, patch)
    decode_peak = _run("decode", old, back, patch)
    assert patch.stat().st_size < 9 * MB  # the added file and little else
    with new.open("rb") as a, back.open("rb") as b:
        while chunk := a.read(MB):
            assert chunk == b.read(MB)
        assert b.read(1) == b""
    print(f"peak RSS: encode {encode_peak / MB:.0f} MB, decode {decode_peak / MB:.0f} MB")
    assert encode_peak < 220 * MB, encode_peak / MB
    assert decode_peak < 120 * MB, decode_peak / MB
