"""Shared helpers for the lifecycle tests: hostile layers, tar listings, the seed's base."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path
from typing import Any

from tests.builders import FakeImage, docker_archive
from tests.kit.layers import E, layer_bytes, raw
from tests.lamina_cli import run_lamina

# What Docker adds to every container (its "init" layer) and lamina's mount points:
# runtime artefacts, not image content, left out when filesystems are compared.
RUNTIME_PATHS = frozenset(
    {".dockerenv", "dev", "proc", "sys", "etc/hostname", "etc/hosts", "etc/mtab", "etc/resolv.conf"}
)


def entry(
    name: str, kind: bytes = tarfile.REGTYPE, data: bytes = b"", link: str = "", mode: int = 0o644
) -> E:
    mode = 0o755 if kind == tarfile.DIRTYPE else mode
    return raw(name, kind, data=data, link=link, mode=mode, mtime=1_600_000_000)


def raw_tar(*entries: E) -> bytes:
    """A layer tar with exactly these entries, in this order (nothing sanitised)."""
    return layer_bytes(entries)


def load_layers(store: Path, tmp: Path, layers: list[bytes], tag: str) -> None:
    archive = docker_archive([FakeImage(layers, [tag])], tmp / f"{tag.replace('/', '_')}.tar")
    cp = run_lamina(store, "load", "-i", str(archive))
    assert cp.returncode == 0, cp.stderr.decode()


def out(store: Path, *args: str, input: bytes | None = None) -> str:
    cp = run_lamina(store, *args, input=input)
    assert cp.returncode == 0, f"lamina {' '.join(args)}: {cp.stderr.decode()}"
    return cp.stdout.decode()


def fs_of_tar(data_or_path: bytes | Path, skip_runtime: bool = True) -> dict[str, Any]:
    """path -> (type, mode, uid, gid, size, sha256 or link target) for every entry;
    a hardlink is described as the file it links to (tars differ in which comes first)."""
    source = data_or_path if isinstance(data_or_path, Path) else None
    stream = None if source is not None else io.BytesIO(data_or_path)  # type: ignore[arg-type]
    tar = tarfile.open(source, fileobj=stream)  # noqa: SIM115 (closed by the with below)
    found: dict[str, Any] = {}
    content: dict[str, tuple[int, str]] = {}
    with tar:
        for m in tar:
            name = _norm(m.name)
            if not name or (skip_runtime and _is_runtime(name)):
                continue
            if m.isreg():
                f = tar.extractfile(m)
                assert f is not None
                digest = hashlib.sha256(f.read()).hexdigest()
                content[name] = (m.size, digest)
                found[name] = ("file", m.mode & 0o7777, m.uid, m.gid, m.size, digest)
            elif m.islnk():
                size, digest = content[_norm(m.linkname)]
                found[name] = ("file", m.mode & 0o7777, m.uid, m.gid, size, digest)
            elif m.issym():
                found[name] = ("symlink", 0, m.uid, m.gid, 0, m.linkname)
            elif m.isdir():
                found[name] = ("dir", m.mode & 0o7777, m.uid, m.gid, 0, "")
            else:
                found[name] = (f"type{m.type!r}", m.mode & 0o7777, m.uid, m.gid, 0, "")
    if skip_runtime and not any(k.startswith("etc/") for k in found):
        found.pop("etc", None)  # Docker makes /etc for its runtime files when an image has none
    return found


def _norm(name: str) -> str:
    return "/".join(p for p in name.split("/") if p not in ("", "."))


def _is_runtime(name: str) -> bool:
    return name in RUNTIME_PATHS or name.split("/", 1)[0] in ("dev", "proc", "sys")


def image_json(store: Path, ref: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(out(store, "inspect", ref))[0]
    return doc
