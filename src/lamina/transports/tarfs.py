"""Random access to the files inside a tar archive, without extracting it.

The archive is scanned once for headers; each member can then be opened as a
window onto the archive's own bytes (no copy, no memory held). Symlinks and
hardlinks inside the archive are followed, as podman/skopeo archives need.
A SpooledFS is the same view over an archive that was read from a pipe
(transports/spool.py): its members are files lamina owns, which a loader may take
(`spooled`) instead of copying them.
"""

from __future__ import annotations

import io
import os
import posixpath
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Self, cast

from lamina.errors import InvalidInputError, NotFoundError
from lamina.image import Spool
from lamina.layer import tarformat as tf
from lamina.layer.tarstream import TarReader

_MAX_LINK_HOPS = 32
_KINDS = {tf.REGULAR: "file", tf.DIRECTORY: "dir", tf.SYMLINK: "symlink", tf.HARDLINK: "hardlink"}


@dataclass(frozen=True)
class Member:
    name: str
    offset: int  # of the data
    size: int
    kind: str  # "file", "dir", "symlink", "hardlink", "other"
    target: str = ""


class FileSlice(io.RawIOBase):
    """A read-only window [start, start+size) of an open file, read with pread."""

    def __init__(self, fd: int, start: int, size: int) -> None:
        self._fd = fd
        self._start = start
        self._size = size
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        n = min(len(buffer), self._size - self._pos)
        if n <= 0:
            return 0
        data = os.pread(self._fd, n, self._start + self._pos)
        if not data:
            raise InvalidInputError("archive is truncated", "save or download it again")
        buffer[: len(data)] = data
        self._pos += len(data)
        return len(data)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def tell(self) -> int:
        return self._pos


def normal(name: str) -> str:
    name = posixpath.normpath("/" + name).lstrip("/")
    return name if name != "." else ""


class _Members:
    """Members by normalised path, with links followed; `open` is the subclass's."""

    label: str
    members: dict[str, Member]

    def open(self, name: str) -> BinaryIO:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def spooled(self, name: str) -> Spool | None:
        """The file lamina owns holding exactly this member, when there is one."""
        return None

    def resolve(self, name: str) -> Member | None:
        """The regular file `name` refers to, following links inside the archive."""
        current = normal(name)
        for _ in range(_MAX_LINK_HOPS):
            member = self.members.get(current)
            if member is None:
                return None
            if member.kind == "file":
                return member
            if member.kind == "symlink":
                current = normal(posixpath.join(posixpath.dirname(current), member.target))
            elif member.kind == "hardlink":
                current = normal(member.target)
            else:
                return None
        raise InvalidInputError(f"{self.label}: too many links resolving {name}")

    def exists(self, name: str) -> bool:
        return self.resolve(name) is not None

    def listed(self, name: str) -> bool:
        """Is there any member (file, link, FIFO, ...) at `name`?"""
        return normal(name) in self.members

    def size(self, name: str) -> int:
        return self._must(name).size

    def read_bytes(self, name: str) -> bytes:
        with self.open(name) as f:
            return f.read()

    def _must(self, name: str) -> Member:
        member = self.resolve(name)
        if member is None:
            raise NotFoundError(f"{self.label} has no file {name}")
        return member


class TarFS(_Members):
    """The members of an uncompressed tar file, by normalised path."""

    def __init__(self, path: Path, label: str | None = None) -> None:
        self.path = path
        self.label = label or str(path)
        self._file = open(path, "rb")  # noqa: SIM115 - lives as long as the TarFS
        self.members = {}
        try:
            self._scan()
        except BaseException:
            self._file.close()
            raise

    def _scan(self) -> None:
        """One pass over the headers with lamina's tar reader: a damaged header anywhere
        (a flipped checksum, ...) is invalid input, never an early end of the archive
        that would make its later files look absent."""
        total = os.fstat(self._file.fileno()).st_size
        for m in TarReader(self._file, self.label):
            if m.type == tf.REGULAR and m.data_offset + m.size > total:
                raise InvalidInputError(
                    f"{self.label} is truncated (member {m.name} runs past the end)",
                    "save or download it again",
                )
            kind = _KINDS.get(m.type, "other")
            name = normal(m.name)
            self.members[name] = Member(name, m.data_offset, m.data_size, kind, m.linkname)
        if not self.members:
            raise InvalidInputError(
                f"{self.label} is empty or not a tar archive",
                "check that the file is complete and is an image archive",
            )

    def close(self) -> None:
        self._file.close()

    def open(self, name: str) -> BinaryIO:
        member = self._must(name)
        raw = FileSlice(self._file.fileno(), member.offset, member.size)
        return cast(BinaryIO, io.BufferedReader(raw, 1 << 20))


class SpooledFS(_Members):
    """The members of an archive read from a pipe (transports/spool.py): big ones in
    files of their own (`spools`), small ones as windows onto one shared file."""

    def __init__(
        self, label: str, members: dict[str, Member], spools: dict[str, Spool], small: Path
    ) -> None:
        self.label, self.members, self.spools = label, members, spools
        self._small = open(small, "rb")  # noqa: SIM115 - lives as long as the SpooledFS

    def spooled(self, name: str) -> Spool | None:
        member = self.resolve(name)
        spool = self.spools.get(member.name) if member is not None else None
        return spool if spool is not None and spool.path.exists() else None

    def open(self, name: str) -> BinaryIO:
        member = self._must(name)
        spool = self.spools.get(member.name)
        if spool is not None:
            return open(spool.path, "rb")
        raw = FileSlice(self._small.fileno(), member.offset, member.size)
        return cast(BinaryIO, io.BufferedReader(raw, 1 << 20))

    def close(self) -> None:
        self._small.close()


class DirFS:
    """The same interface over a directory (an OCI layout on disk)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.label = str(root)

    def _path(self, name: str) -> Path:
        return self.root / normal(name)

    def exists(self, name: str) -> bool:
        return self._path(name).is_file()

    def listed(self, name: str) -> bool:
        return os.path.lexists(self._path(name))

    def size(self, name: str) -> int:
        return self._path(name).stat().st_size

    def open(self, name: str) -> BinaryIO:
        try:
            return open(self._path(name), "rb")
        except FileNotFoundError:
            raise NotFoundError(f"{self.label} has no file {name}") from None

    def read_bytes(self, name: str) -> bytes:
        with self.open(name) as f:
            return f.read()

    def spooled(self, name: str) -> Spool | None:
        return None

    def close(self) -> None:
        pass


ArchiveFS = TarFS | SpooledFS | DirFS
