"""Small synthetic images built in Python, for tests of lamina's own logic.

Real-tool fixtures (tests/fixtures/build.py) prove interoperability; these
prove lamina's rules on inputs we can shape exactly (corrupt, truncated, delta).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from dataclasses import dataclass, field
from pathlib import Path


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def layer_tar(files: dict[str, bytes | None]) -> bytes:
    """A layer tar: path -> content (None makes a directory)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.mtime = 1_600_000_000
            if data is None:
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
                tar.addfile(info)
            else:
                info.size = len(data)
                info.mode = 0o644
                tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


@dataclass
class FakeImage:
    layers: list[bytes]
    tags: list[str] = field(default_factory=list)
    created_by: list[str] = field(default_factory=list)

    def config(self) -> bytes:
        history = [
            {
                "created": f"2020-01-0{i + 1}T00:00:00Z",
                "created_by": self.created_by[i] if i < len(self.created_by) else f"step {i}",
            }
            for i in range(len(self.layers))
        ]
        doc = {
            "architecture": "amd64",
            "os": "linux",
            "created": f"2020-01-0{len(self.layers)}T00:00:00Z",
            "config": {"Cmd": ["sh"]},
            "rootfs": {"type": "layers", "diff_ids": [sha(layer) for layer in self.layers]},
            "history": history,
        }
        return json.dumps(doc).encode()

    @property
    def id(self) -> str:
        return sha(self.config())


def stack(n: int, tag_prefix: str = "local/stack") -> list[FakeImage]:
    """A base plus n-1 commits, each adding fileN, like the seed's walkthrough."""
    base = layer_tar({"bin/": None, "bin/sh": b"#!fake shell\n", "etc/": None, "etc/os": b"base\n"})
    layers = [base]
    images = [FakeImage(list(layers), ["local/base:1"])]
    for i in range(1, n):
        layers.append(layer_tar({f"file{i}": f"{i}\n".encode()}))
        images.append(FakeImage(list(layers), [f"{tag_prefix}:{i}"]))
    return images


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def docker_archive(
    images: list[FakeImage],
    path: Path,
    layout: str = "legacy",
    omit: set[str] = frozenset(),
    compress: bool = False,
) -> Path:
    """Write a docker-archive in the 'legacy' (<id>/layer.tar) or 'podman' (symlink) layout."""
    manifest = []
    written: set[str] = set()
    with tarfile.open(path, "w") as tar:
        for img in images:
            cfg = img.config()
            cfg_name = sha(cfg)[7:] + ".json"
            if cfg_name not in written:
                _add(tar, cfg_name, cfg)
                written.add(cfg_name)
            paths = []
            for layer in img.layers:
                hexid = sha(layer)[7:]
                data = gzip.compress(layer, mtime=0) if compress else layer
                if layout == "legacy":
                    name = f"{hexid}/layer.tar"
                    if hexid not in written and sha(layer) not in omit:
                        _add(tar, name, data)
                else:
                    name = f"{hexid}.tar"
                    if hexid not in written and sha(layer) not in omit:
                        _add(tar, name, data)
                        link = tarfile.TarInfo(f"v1{hexid[:10]}/layer.tar")
                        link.type = tarfile.SYMTYPE
                        link.linkname = f"../{hexid}.tar"
                        tar.addfile(link)
                written.add(hexid)
                paths.append(name)
            manifest.append({"Config": cfg_name, "RepoTags": img.tags, "Layers": paths})
        _add(tar, "manifest.json", json.dumps(manifest).encode())
    return path


def store_files(store_root: Path) -> dict[str, bytes]:
    """The OCI layout part of a store (not lamina/ state), with every file's bytes:
    equal before and after a failed operation means the store was left as it was."""
    out = {}
    for p in sorted(store_root.rglob("*")):
        rel = p.relative_to(store_root).as_posix()
        if p.is_file() and not rel.startswith("lamina/"):
            out[rel] = p.read_bytes()
    return out
