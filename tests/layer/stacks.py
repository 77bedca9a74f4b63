"""Shared test support for the layer engine: a reference model (layers come from tests/kit).

Layers are built with the standard library's `tarfile` (tests/kit/layers.py, not lamina's
writer) and read back by the model with `tarfile` too (not lamina's reader), so the engine
is checked against an independent implementation of the same rules:

- per layer, whiteouts and opaque markers act first (on lower layers only), then the
  entries in tar order;
- a directory entry on a directory only updates its metadata; any other entry replaces
  whatever was at its path, subtree included;
- an entry below a non-directory gets a fresh implicit directory (0755, root) there;
- a hardlink shares the inode its target held at that moment.

The model is deliberately naive (a flat dict, linear scans): small and obviously right.
"""

from __future__ import annotations

import hashlib
import io
import os
import stat
import tarfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.kit.layers import TAR_TYPES, E


# -- the reference model -------------------------------------------------------------
class Dangling(Exception):
    """A hardlink whose target is missing or a directory: not a valid stack."""


@dataclass(eq=False)
class Inode:
    kind: str
    mode: int
    uid: int
    gid: int
    mtime: int
    data: bytes
    link: str
    xattrs: tuple[tuple[str, bytes], ...]
    dev: tuple[int, int]


@dataclass(eq=False)
class Dir:
    mode: int = 0o755
    uid: int = 0
    gid: int = 0
    mtime: int | None = None  # None: implicit (made for a child), time not compared
    xattrs: tuple[tuple[str, bytes], ...] = ()


def norm(name: str) -> str:
    parts: list[str] = []
    for part in name.split("/"):
        if part == "..":
            if not parts:
                raise ValueError(f"escaping name {name!r}")
            parts.pop()
        elif part not in ("", "."):
            parts.append(part)
    return "/".join(parts)


class Model:
    """A filesystem as a flat dict path -> Dir | Inode ("" is the root)."""

    def __init__(self) -> None:
        self.fs: dict[str, Dir | Inode] = {"": Dir()}

    def _drop(self, path: str) -> None:
        for key in [k for k in self.fs if k == path or k.startswith(path + "/")]:
            del self.fs[key]

    def delete(self, directory: str, target: str | None) -> None:
        """Whiteout of directory/target, or an opaque marker when target is None."""
        if not isinstance(self.fs.get(directory), Dir):
            return
        if target is None:
            prefix = directory + "/" if directory else ""
            for key in [k for k in self.fs if k != directory and k.startswith(prefix)]:
                del self.fs[key]
        else:
            self._drop(f"{directory}/{target}" if directory else target)

    def add(self, path: str, e: E | tarfile.TarInfo, data: bytes = b"") -> None:
        entry = e if isinstance(e, E) else _spec_of(e, data)
        if not path:
            if entry.kind == "d":
                self.fs[""] = _dir_of(entry)
            return
        parts = path.split("/")
        for i in range(1, len(parts)):
            ancestor = "/".join(parts[:i])
            if not isinstance(self.fs.get(ancestor), Dir):
                self._drop(ancestor)
                self.fs[ancestor] = Dir()
        if entry.kind == "d":
            if not isinstance(self.fs.get(path), Dir):
                self._drop(path)
            self.fs[path] = _dir_of(entry)
            return
        if entry.kind == "h":
            target = self.fs.get(norm(entry.link))
            if not isinstance(target, Inode):
                raise Dangling(f"{path} -> {entry.link}")
            self._drop(path)
            self.fs[path] = target
            return
        self._drop(path)
        self.fs[path] = Inode(
            entry.kind,
            entry.mode & 0o7777,
            entry.uid,
            entry.gid,
            entry.mtime,
            entry.data,
            entry.link if entry.kind == "l" else "",
            tuple(sorted(entry.xattrs.items())),
            entry.dev if entry.kind in "cb" else (0, 0),
        )

    def apply_tar(self, data: bytes) -> None:
        with tarfile.open(
            fileobj=io.BytesIO(data), mode="r:", encoding="utf-8", errors="surrogateescape"
        ) as tar:
            members = [(m, tar.extractfile(m).read() if m.isreg() else b"") for m in tar]  # type: ignore[union-attr]
        deletions, entries = [], []
        for m, payload in members:
            path = norm(m.name)
            head, _, base = path.rpartition("/")
            if any(p.startswith(".wh.") for p in path.split("/")[:-1]):
                continue
            if base == ".wh..wh..opq":
                deletions.append((head, None))
            elif base.startswith(".wh..wh.") or base == ".wh.":
                continue
            elif base.startswith(".wh."):
                deletions.append((head, base[4:]))
            else:
                entries.append((path, m, payload))
        for directory, target in deletions:
            self.delete(directory, target)
        for path, m, payload in entries:
            self.add(path, m, payload)


def _dir_of(e: E) -> Dir:
    return Dir(e.mode & 0o7777, e.uid, e.gid, e.mtime, tuple(sorted(e.xattrs.items())))


def _spec_of(m: tarfile.TarInfo, data: bytes) -> E:
    kinds = {v: k for k, v in TAR_TYPES.items()}
    kinds[tarfile.AREGTYPE] = kinds[tarfile.CONTTYPE] = "f"
    xattrs = {
        k[len("SCHILY.xattr.") :]: v.encode("utf-8", "surrogateescape")
        for k, v in m.pax_headers.items()
        if k.startswith("SCHILY.xattr.")
    }
    return E(
        kinds[m.type], m.name, data, m.mode, m.uid, m.gid, int(m.mtime), m.linkname, xattrs,
        (m.devmajor, m.devminor),
    )  # fmt: skip


def model_of(layers: Iterable[bytes]) -> Model:
    model = Model()
    for data in layers:
        model.apply_tar(data)
    return model


# -- comparable views ----------------------------------------------------------------
View = dict[str, tuple[Any, ...]]


def view(model: Model) -> View:
    """path -> comparable facts; hardlinked paths list their whole group."""
    groups: dict[int, list[str]] = {}
    for path, node in model.fs.items():
        if isinstance(node, Inode):
            groups.setdefault(id(node), []).append(path)
    out: View = {}
    for path, node in model.fs.items():
        if not path:
            continue
        if isinstance(node, Dir):
            out[path] = ("d", node.mode, node.uid, node.gid, node.mtime, node.xattrs)
        else:
            digest = hashlib.sha256(node.data).hexdigest()[:16] if node.kind == "f" else ""
            mode = None if node.kind == "l" else node.mode
            group = tuple(sorted(groups[id(node)]))
            out[path] = (
                node.kind, mode, node.uid, node.gid, node.mtime, digest, node.link,
                node.xattrs, node.dev, group,
            )  # fmt: skip
    return out


def disk_view(root: Path) -> View:
    """The same facts read from a directory (mtimes in whole seconds)."""
    facts: dict[str, tuple[Any, ...]] = {}
    inodes: dict[tuple[int, int], list[str]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            full = os.path.join(dirpath, name)
            path = os.path.relpath(full, root)
            st = os.lstat(full)
            facts[path] = _disk_facts(full, st)
            if not stat.S_ISDIR(st.st_mode):
                inodes.setdefault((st.st_dev, st.st_ino), []).append(path)
    out: View = {}
    for group in inodes.values():
        for path in group:
            out[path] = (*facts[path], tuple(sorted(group)))
    for path, fact in facts.items():
        if fact[0] == "d":
            out[path] = fact
    return out


def _disk_facts(full: str, st: os.stat_result) -> tuple[Any, ...]:
    xattrs = tuple(
        sorted(
            (k, os.getxattr(full, k, follow_symlinks=False))
            for k in os.listxattr(full, follow_symlinks=False)
            if k != "security.selinux"
        )
    )
    mode, mtime = stat.S_IMODE(st.st_mode), st.st_mtime_ns // 10**9
    if stat.S_ISDIR(st.st_mode):
        return ("d", mode, st.st_uid, st.st_gid, mtime, xattrs)
    kind, digest, link, dev = "f", "", "", (0, 0)
    if stat.S_ISREG(st.st_mode):
        with open(full, "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()[:16]
    elif stat.S_ISLNK(st.st_mode):
        kind, link, mode = "l", os.readlink(full), None
    elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
        kind = "c" if stat.S_ISCHR(st.st_mode) else "b"
        dev = (os.major(st.st_rdev), os.minor(st.st_rdev))
    elif stat.S_ISFIFO(st.st_mode):
        kind = "p"
    return (kind, mode, st.st_uid, st.st_gid, mtime, digest, link, xattrs, dev)


def same(expected: View, actual: View, implicit_dirs: bool = True) -> list[str]:
    """Differences, where an implicit directory's time (None) matches any time.
    implicit_dirs=False: also ignore implicit directories missing or not directories."""
    problems = []
    for path in sorted(set(expected) | set(actual)):
        want, got = expected.get(path), actual.get(path)
        implicit = want is not None and want[0] == "d" and want[4] is None
        if implicit and got is not None and got[0] == "d":
            want = (*want[:4], got[4], *want[5:])  # type: ignore[index]
        if implicit and not implicit_dirs:
            continue
        if want != got:
            problems.append(f"{path!r}: expected {want}, got {got}")
    return problems


# -- squash helpers ------------------------------------------------------------------
def ranges(n: int) -> list[tuple[int, int]]:
    """Every contiguous, non-empty range [i, j) of n layers."""
    return [(i, j) for i in range(n) for j in range(i + 1, n + 1)]


def squash_bytes(layers: Sequence[bytes], lo: int, hi: int, below: str = "layers") -> bytes:
    """The squash of layers[lo:hi], given what lies below as `below` says."""
    from lamina.layer.headerindex import HeaderIndex
    from lamina.layer.squash import Below, squash_layers

    lower = [io.BytesIO(b) for b in layers[:lo]]
    if lo == 0 or below == "nothing":
        under = Below.nothing()
    elif below == "unknown":
        under = Below.unknown()
    else:
        under = Below.layers(lower)
    out = io.BytesIO()
    index = HeaderIndex()
    squash_layers([io.BytesIO(b) for b in layers[lo:hi]], out, below=under, index=index)
    # the index written along (what the store keeps) is the one read back from the output
    assert index.to_bytes("x") == HeaderIndex.of(io.BytesIO(out.getvalue())).to_bytes("x")
    return out.getvalue()


def check_all_ranges(layers: Sequence[bytes], below: str = "layers") -> None:
    """apply(below + squash(range) + above) == apply(all), for every range."""
    expected = view(model_of(layers))
    for lo, hi in ranges(len(layers)):
        squashed = squash_bytes(layers, lo, hi, below)
        got = view(model_of([*layers[:lo], squashed, *layers[hi:]]))
        # without the lower layers, a directory that only ever existed implicitly (no
        # tar entry) and was emptied cannot be told from a lower one: documented
        problems = same(expected, got, implicit_dirs=below != "unknown")
        assert not problems, f"range [{lo},{hi}) of {len(layers)}:\n" + "\n".join(problems)


class Pipe(io.RawIOBase):
    """A readable stream that cannot seek (like a decompressor), in odd-sized reads."""

    def __init__(self, data: bytes, chunk: int = 777) -> None:
        self._data = io.BytesIO(data)
        self._chunk = chunk

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        chunk = self._data.read(min(len(buffer), self._chunk))
        buffer[: len(chunk)] = chunk
        return len(chunk)
