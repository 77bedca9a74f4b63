"""Small synthetic images built in Python, for tests of lamina's own logic.

Real-tool fixtures (tests/fixtures/build.py) prove interoperability; these
prove lamina's rules on inputs we can shape exactly (corrupt, truncated, delta).
The builders themselves live in tests/kit; this module keeps the seed's stack.
"""

from __future__ import annotations

from pathlib import Path

from tests.kit.image import FakeImage, docker_archive, sha
from tests.kit.layers import entries_of, layer_bytes

__all__ = ["FakeImage", "docker_archive", "layer_tar", "sha", "stack", "store_files"]


def layer_tar(files: dict[str, bytes | None]) -> bytes:
    """A layer tar: path -> content (None makes a directory)."""
    return layer_bytes(entries_of(files, mtime=1_600_000_000))


def stack(n: int, tag_prefix: str = "local/stack") -> list[FakeImage]:
    """A base plus n-1 commits, each adding fileN, like the seed's walkthrough."""
    base = layer_tar({"bin/": None, "bin/sh": b"#!fake shell\n", "etc/": None, "etc/os": b"base\n"})
    layers = [base]
    images = [FakeImage(list(layers), ["local/base:1"])]
    for i in range(1, n):
        layers.append(layer_tar({f"file{i}": f"{i}\n".encode()}))
        images.append(FakeImage(list(layers), [f"{tag_prefix}:{i}"]))
    return images


def store_files(store_root: Path) -> dict[str, bytes]:
    """The OCI layout part of a store (not lamina/ state), with every file's bytes:
    equal before and after a failed operation means the store was left as it was."""
    out = {}
    for p in sorted(store_root.rglob("*")):
        rel = p.relative_to(store_root).as_posix()
        if p.is_file() and not rel.startswith("lamina/"):
            out[rel] = p.read_bytes()
    return out
