"""Images in memory, and the archives and layouts they are written to, for tests.

A `FakeImage` is a stack of uncompressed layer tars plus what its config says about
them: tags, one history entry per layer (`created_by`), and `empty_layer` history
entries at the positions `empty` names. Its config bytes are deterministic, so its ID
is too. Writers put images where lamina's readers look for them:

- `docker_archive`: manifest.json + <config>.json + layers, in the legacy
  (`<id>/layer.tar`) or podman (`<diff_id>.tar` + `<v1id>/layer.tar` symlinks) layout;
  `omit` leaves layer files out (a delta archive); `compress` gzips them.
- `oci_layout` / `oci_archive`: oci-layout, index.json (ref.name annotations per tag),
  blobs/sha256/, with layers uncompressed, gzip or zstd.

    oci_archive([FakeImage([layer_bytes([file("a", b"1")])], ["kit/a:1"])], tmp / "a.tar")
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import zstandard

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
LAYER_TYPES = {
    "none": "application/vnd.oci.image.layer.v1.tar",
    "gzip": "application/vnd.oci.image.layer.v1.tar+gzip",
    "zstd": "application/vnd.oci.image.layer.v1.tar+zstd",
}
REF_NAME = "org.opencontainers.image.ref.name"


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def compress(data: bytes, how: str) -> bytes:
    if how == "gzip":
        return gzip.compress(data, mtime=0)
    if how == "zstd":
        return zstandard.ZstdCompressor().compress(data)
    return data


@dataclass
class FakeImage:
    layers: list[bytes]
    tags: list[str] = field(default_factory=list)
    created_by: list[str] = field(default_factory=list)
    empty: Sequence[int] = ()  # positions in history of empty_layer entries
    architecture: str = "amd64"

    def history(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        layer = 0
        for pos in range(len(self.layers) + len(self.empty)):
            if pos in self.empty:
                entry = {"created": "2020-01-01T00:00:00Z", "created_by": f"ENV step={pos}"}
                out.append({**entry, "empty_layer": True})
                continue
            by = self.created_by[layer] if layer < len(self.created_by) else f"step {layer}"
            out.append({"created": f"2020-01-0{layer + 1}T00:00:00Z", "created_by": by})
            layer += 1
        return out

    def config(self) -> bytes:
        doc = {
            "architecture": self.architecture,
            "os": "linux",
            "created": f"2020-01-0{len(self.layers)}T00:00:00Z",
            "config": {"Cmd": ["sh"]},
            "rootfs": {"type": "layers", "diff_ids": self.diff_ids},
            "history": self.history(),
        }
        return json.dumps(doc).encode()

    @property
    def diff_ids(self) -> list[str]:
        return [sha(layer) for layer in self.layers]

    @property
    def id(self) -> str:
        return sha(self.config())

    def manifest(self, compression: str = "none") -> tuple[bytes, dict[str, bytes]]:
        """The OCI manifest and every blob it names (digest -> bytes)."""
        config = self.config()
        blobs = {sha(config): config}
        layers = []
        for layer in self.layers:
            blob = compress(layer, compression)
            blobs[sha(blob)] = blob
            layers.append(_descriptor(LAYER_TYPES[compression], blob))
        doc = {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": _descriptor(OCI_CONFIG, config),
            "layers": layers,
        }
        return json.dumps(doc).encode(), blobs


def _descriptor(media_type: str, blob: bytes, **extra: Any) -> dict[str, Any]:
    return {"mediaType": media_type, "digest": sha(blob), "size": len(blob), **extra}


def add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def docker_archive(
    images: list[FakeImage],
    path: Path,
    layout: str = "legacy",
    omit: Iterable[str] = frozenset(),
    compress: bool = False,
) -> Path:
    """Write a docker-archive in the 'legacy' (<id>/layer.tar) or 'podman' (symlink) layout."""
    omit = set(omit)
    manifest = []
    written: set[str] = set()
    with tarfile.open(path, "w") as tar:
        for img in images:
            cfg = img.config()
            cfg_name = sha(cfg)[7:] + ".json"
            if cfg_name not in written:
                add_bytes(tar, cfg_name, cfg)
                written.add(cfg_name)
            paths = []
            for layer in img.layers:
                hexid = sha(layer)[7:]
                data = gzip.compress(layer, mtime=0) if compress else layer
                name = f"{hexid}/layer.tar" if layout == "legacy" else f"{hexid}.tar"
                if hexid not in written and sha(layer) not in omit:
                    add_bytes(tar, name, data)
                    if layout != "legacy":
                        link = tarfile.TarInfo(f"v1{hexid[:10]}/layer.tar")
                        link.type = tarfile.SYMTYPE
                        link.linkname = f"../{hexid}.tar"
                        tar.addfile(link)
                written.add(hexid)
                paths.append(name)
            manifest.append({"Config": cfg_name, "RepoTags": img.tags, "Layers": paths})
        add_bytes(tar, "manifest.json", json.dumps(manifest).encode())
    return path


def layout_files(images: list[FakeImage], compression: str = "none") -> dict[str, bytes]:
    """The files of an OCI layout holding these images (path -> bytes)."""
    files: dict[str, bytes] = {"oci-layout": b'{"imageLayoutVersion":"1.0.0"}'}
    entries = []
    for img in images:
        manifest, blobs = img.manifest(compression)
        blobs[sha(manifest)] = manifest
        for dig, blob in blobs.items():
            files[f"blobs/sha256/{dig[7:]}"] = blob
        for name in img.tags or [""]:
            notes = {"annotations": {REF_NAME: name}} if name else {}
            entries.append(_descriptor(OCI_MANIFEST, manifest, **notes))
    index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}
    files["index.json"] = json.dumps(index).encode()
    return files


def oci_layout(images: list[FakeImage], path: Path, compression: str = "none") -> Path:
    for name, data in layout_files(images, compression).items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_bytes(data)
    return path


def oci_archive(images: list[FakeImage], path: Path, compression: str = "none") -> Path:
    with tarfile.open(path, "w") as tar:
        for name, data in sorted(layout_files(images, compression).items()):
            add_bytes(tar, name, data)
    return path
