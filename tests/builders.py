"""Small synthetic images built in Python, for tests of lamina's own logic.

Real-tool fixtures (tests/fixtures/build.py) prove interoperability; these
prove lamina's rules on inputs we can shape exactly (corrupt, truncated, delta).
The builders themselves live in tests/kit; this module keeps the seed's stack.
"""

from __future__ import annotations

import hashlib
import json
import tarfile
from pathlib import Path

from tests.kit.image import FakeImage, docker_archive, sha
from tests.kit.layers import entries_of, layer_bytes

__all__ = [
    "FakeImage",
    "docker_archive",
    "layer_tar",
    "many_files_archive",
    "sha",
    "stack",
    "store_files",
]


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


def _ustar(name: str, size: int = 0, kind: bytes = tarfile.REGTYPE) -> bytes:
    info = tarfile.TarInfo(name)
    info.type, info.size, info.mtime = kind, size, 1_600_000_000
    info.mode = 0o755 if kind == tarfile.DIRTYPE else 0o644
    return info.tobuf(tarfile.USTAR_FORMAT)


def many_files_name(i: int) -> str:
    return f"usr/share/d{i // 1000:04d}/file{i:07d}.txt"


def many_files_archive(path: Path, entries: int, tag: str = "local/many:1") -> Path:
    """A docker-archive of one image whose one layer holds `entries` empty files in
    directories of 1000 (about 520 bytes an entry), written in one streaming pass: the
    layer is never in memory, so millions of entries cost disk, not RAM."""
    dirs = (entries + 999) // 1000
    h = hashlib.sha256()
    with open(path, "wb") as out:
        out.write(_ustar("layer/layer.tar", (entries + dirs) * 512 + 1024))
        for i in range(entries):
            if i % 1000 == 0:
                block = _ustar(many_files_name(i).rpartition("/")[0] + "/", kind=tarfile.DIRTYPE)
                h.update(block)
                out.write(block)
            block = _ustar(many_files_name(i))
            h.update(block)
            out.write(block)
        h.update(bytes(1024))
        out.write(bytes(1024))
        config = json.dumps(
            {
                "architecture": "amd64",
                "os": "linux",
                "config": {"Cmd": ["/bin/sh"]},
                "rootfs": {"type": "layers", "diff_ids": [f"sha256:{h.hexdigest()}"]},
                "history": [{"created_by": f"{entries} empty files"}],
            }
        ).encode()
        config_name = f"{hashlib.sha256(config).hexdigest()}.json"
        manifest = [{"Config": config_name, "RepoTags": [tag], "Layers": ["layer/layer.tar"]}]
        for name, data in ((config_name, config), ("manifest.json", json.dumps(manifest).encode())):
            out.write(_ustar(name, len(data)) + data + bytes(-len(data) % 512))
        out.write(bytes(10240))
    return path
