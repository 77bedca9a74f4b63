"""A realistic image update for the patch tests: app:1 and app:2 share a base, and
app:2's application layer is app:1's rebuilt with a few files changed and one added."""

from __future__ import annotations

import random
from pathlib import Path

import lamina
from tests.builders import FakeImage, docker_archive, layer_tar


def _text(rng: random.Random, size: int) -> bytes:
    words = [rng.randbytes(rng.randint(2, 6)).hex() for _ in range(400)]
    return " ".join(rng.choice(words) for _ in range(size // 6)).encode()[:size]


def app_files(version: int, files: int = 120, seed: int = 5) -> dict[str, bytes | None]:
    """About 1.5 MB of sources and binaries; version 2 changes 4 files and adds one."""
    rng = random.Random(seed)
    out: dict[str, bytes | None] = {"app/": None, "app/lib/": None}
    for n in range(files):
        data = rng.randbytes(16_000) if n % 3 == 0 else _text(rng, 12_000)
        out[f"app/lib/mod{n:03d}.py"] = data
    if version >= 2:
        for n in (7, 31, 64, 100):
            old = out[f"app/lib/mod{n:03d}.py"]
            assert old is not None
            out[f"app/lib/mod{n:03d}.py"] = old[:500] + b"# changed in 2\n" + old[500:]
        out["app/lib/new.py"] = b"print('new in 2')\n" * 200
        out["app/VERSION"] = b"2\n"
    else:
        out["app/VERSION"] = b"1\n"
    return out


BASE = layer_tar({"bin/": None, "bin/sh": b"#!fake shell\n" * 40_000, "etc/": None})
APP1 = FakeImage([BASE, layer_tar(app_files(1))], ["local/app:1"], ["base", "app 1"])
APP2 = FakeImage([BASE, layer_tar(app_files(2))], ["local/app:2"], ["base", "app 2"])


def store_with(tmp: Path, name: str, *images: FakeImage) -> lamina.Store:
    store = lamina.open_store(tmp / name)
    if images:
        lamina.load(store, str(docker_archive(list(images), tmp / f"{name}-in.tar")))
    return store
