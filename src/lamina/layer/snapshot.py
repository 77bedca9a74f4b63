"""A snapshot of a directory tree: one compact record per path, to find later changes.

    snap = snapshot(root)            # right after materialising a container
    snap.dump(f); Snapshot.load(f)   # JSON lines: a header line, then one line per path

A record holds what decides "changed": type, permission bits, owner, size, mtime and
ctime in ns (ctime catches rewrites that restore the mtime), inode identity (a file
replaced by another is a change even when all else matches), link count, device
number, symlink target, xattrs. No content hashes: reading every file would cost more
than the commit itself.
"""

from __future__ import annotations

import base64
import json
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import IO, NamedTuple

from lamina.errors import InvalidInputError
from lamina.layer import paths
from lamina.layer.fswalk import FsEntry, walk

FORMAT = "lamina-snapshot/1"


class Record(NamedTuple):
    kind: str  # f d l c b p s: file dir symlink char block fifo socket
    mode: int  # permission bits, setuid/setgid/sticky included
    uid: int
    gid: int
    size: int
    mtime_ns: int
    ctime_ns: int
    dev: int
    ino: int
    nlink: int
    rdev: int
    link: str
    xattrs: tuple[tuple[str, bytes], ...]

    @property
    def identity(self) -> tuple[int, int]:
        return self.dev, self.ino


def kind_of(mode: int) -> str:
    for test, kind in (
        (stat.S_ISREG, "f"),
        (stat.S_ISDIR, "d"),
        (stat.S_ISLNK, "l"),
        (stat.S_ISCHR, "c"),
        (stat.S_ISBLK, "b"),
        (stat.S_ISFIFO, "p"),
    ):
        if test(mode):
            return kind
    return "s"


def record_of(e: FsEntry) -> Record:
    st = e.st
    return Record(
        kind_of(st.st_mode),
        stat.S_IMODE(st.st_mode),
        st.st_uid,
        st.st_gid,
        st.st_size,
        st.st_mtime_ns,
        st.st_ctime_ns,
        st.st_dev,
        st.st_ino,
        st.st_nlink,
        st.st_rdev,
        e.link,
        tuple(sorted(e.xattrs.items())),
    )


@dataclass
class Snapshot:
    """path -> Record for every path below a root (the root itself excluded)."""

    records: dict[str, Record]

    def children(self) -> dict[str, list[str]]:
        """directory path -> names of the entries it held."""
        out: dict[str, list[str]] = {}
        for path in self.records:
            out.setdefault(paths.parent(path), []).append(paths.basename(path))
        return out

    def dump(self, out: IO[str]) -> None:
        out.write(json.dumps({"format": FORMAT}) + "\n")
        for path, r in self.records.items():
            xattrs = {k: base64.b64encode(v).decode() for k, v in r.xattrs}
            out.write(json.dumps([path, *r[:-1], xattrs]) + "\n")

    @classmethod
    def load(cls, lines: IO[str]) -> Snapshot:
        try:
            header = json.loads(next(lines))
            if header.get("format") != FORMAT:
                raise ValueError(f"unknown format {header.get('format')!r}")
            return cls(dict(_parse(line) for line in lines))
        except (ValueError, TypeError, KeyError, StopIteration, AttributeError) as e:
            raise InvalidInputError(f"container snapshot is corrupt: {e}") from None

    def save(self, path: Path) -> None:
        with path.open("w", encoding="utf-8") as f:
            self.dump(f)

    @classmethod
    def read(cls, path: Path) -> Snapshot:
        with path.open(encoding="utf-8") as f:
            return cls.load(f)


def _parse(line: str) -> tuple[str, Record]:
    path, *fields, xattrs = json.loads(line)
    if not isinstance(path, str) or len(fields) != len(Record._fields) - 1:
        raise ValueError(f"bad record {line.strip()[:80]!r}")
    if not isinstance(xattrs, dict):
        raise ValueError(f"bad xattrs in the record of {path!r}")
    pairs = tuple(sorted((k, base64.b64decode(v)) for k, v in xattrs.items()))
    return path, Record._make([*fields, pairs])


def snapshot(root: Path) -> Snapshot:
    """Record every path below `root`, without following symlinks."""
    return Snapshot({e.path: record_of(e) for e in walk(str(root))})
