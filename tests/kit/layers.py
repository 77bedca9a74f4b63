"""The one layer builder of the tests: tar entries as values, written with stdlib tarfile.

An entry is an `E` (kind f d l h c b p: file dir symlink hardlink char block fifo);
whiteouts are plain files named `.wh.NAME` (`whiteout`, `opaque`). Entries are written
exactly as given, in order, with nothing sanitised (hostile names and links included),
so the same builder serves the layer engine's oracle (tests/layer/stacks.py), the
lifecycle's malicious layers and the image kit.

    data = layer_bytes([dir_("etc"), file("etc/os", b"kit\\n"), symlink("os", "etc/os")])
"""

from __future__ import annotations

import io
import tarfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

MTIME = 1_700_000_000
CAP_NET_BIND = b"\x01\x00\x00\x02\x00\x04\x00\x00" + bytes(12)  # cap_net_bind_service+ep

TAR_TYPES = {
    "f": tarfile.REGTYPE,
    "d": tarfile.DIRTYPE,
    "l": tarfile.SYMTYPE,
    "h": tarfile.LNKTYPE,
    "c": tarfile.CHRTYPE,
    "b": tarfile.BLKTYPE,
    "p": tarfile.FIFOTYPE,
}
KINDS = {v: k for k, v in TAR_TYPES.items()}


@dataclass(repr=False)
class E:
    """One tar entry to build. kind: f d l h c b p (file dir symlink hardlink char
    block fifo); whiteouts are plain files named .wh.NAME (see `whiteout`)."""

    kind: str
    name: str
    data: bytes = b""
    mode: int = 0o644
    uid: int = 0
    gid: int = 0
    mtime: int = MTIME
    link: str = ""
    xattrs: dict[str, bytes] = field(default_factory=dict)
    dev: tuple[int, int] = (0, 0)

    def __repr__(self) -> str:
        extra = f"->{self.link!r}" if self.link else f" {self.data!r}" if self.data else ""
        return f"{self.kind}:{self.name!r}{extra} {self.mode:o} {self.uid}"


def file(name: str, data: bytes = b"", **kw: Any) -> E:
    return E("f", name, data, **kw)


def dir_(name: str, mode: int = 0o755, **kw: Any) -> E:
    return E("d", name, mode=mode, **kw)


def symlink(name: str, target: str, **kw: Any) -> E:
    return E("l", name, link=target, mode=kw.pop("mode", 0o777), **kw)


def hardlink(name: str, target: str, **kw: Any) -> E:
    return E("h", name, link=target, **kw)


def whiteout(path: str) -> E:
    head, _, base = path.rpartition("/")
    return E("f", f"{head}/.wh.{base}" if head else f".wh.{base}", mode=0)


def opaque(directory: str) -> E:
    return E("f", f"{directory}/.wh..wh..opq" if directory else ".wh..wh..opq", mode=0)


def chardev(name: str, major: int, minor: int, **kw: Any) -> E:
    return E("c", name, dev=(major, minor), mode=0o666, **kw)


def blockdev(name: str, major: int, minor: int, **kw: Any) -> E:
    return E("b", name, dev=(major, minor), mode=0o660, **kw)


def fifo(name: str, **kw: Any) -> E:
    return E("p", name, mode=0o600, **kw)


def raw(name: str, kind: bytes = tarfile.REGTYPE, **kw: Any) -> E:
    """An entry named by its tarfile type (REGTYPE, SYMTYPE, ...), for hostile layers."""
    return E(KINDS[kind], name, **kw)


def entries_of(files: Mapping[str, bytes | None], mtime: int = MTIME) -> list[E]:
    """path -> content, None making a directory (0755), in the mapping's order."""
    return [
        dir_(name, mtime=mtime) if data is None else file(name, data, mtime=mtime)
        for name, data in files.items()
    ]


def _tarinfo(e: E) -> tarfile.TarInfo:
    info = tarfile.TarInfo(e.name)
    info.type = TAR_TYPES[e.kind]
    info.mode, info.uid, info.gid, info.mtime = e.mode, e.uid, e.gid, e.mtime
    info.linkname = e.link
    info.size = len(e.data) if e.kind == "f" else 0
    info.devmajor, info.devminor = e.dev
    info.pax_headers = {
        f"SCHILY.xattr.{k}": v.decode("utf-8", "surrogateescape") for k, v in e.xattrs.items()
    }
    return info


def write_layer(entries: Iterable[E], out: BinaryIO, fmt: int = tarfile.PAX_FORMAT) -> None:
    with tarfile.open(
        fileobj=out, mode="w", format=fmt, encoding="utf-8", errors="surrogateescape"
    ) as tar:
        for e in entries:
            tar.addfile(_tarinfo(e), io.BytesIO(e.data) if e.kind == "f" else None)


def layer_bytes(entries: Iterable[E], fmt: int = tarfile.PAX_FORMAT) -> bytes:
    buf = io.BytesIO()
    write_layer(entries, buf, fmt)
    return buf.getvalue()


def layer_file(directory: Path, name: str, entries: Iterable[E]) -> Path:
    path = directory / name
    with path.open("wb") as f:
        write_layer(entries, f)
    return path
