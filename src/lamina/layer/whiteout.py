"""OCI whiteouts: how a layer says "this path from the layers below is gone".

- `dir/.wh.NAME` deletes `dir/NAME` (and all below it) from the lower layers.
- `dir/.wh..wh..opq` makes `dir` opaque: everything the lower layers had below `dir`
  is hidden; entries of the same layer stay.
- any other `.wh..wh.*` name is aufs bookkeeping (e.g. `.wh..wh.plnk/`): dropped, as is
  anything stored below a `.wh.*` name.
- only a `.wh.` PREFIX of the last part counts: `a.wh.b`, `x/.wh` are ordinary names.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import Enum
from typing import Protocol, TypeVar

from lamina.errors import UnsafePathError
from lamina.layer import paths

PREFIX = ".wh."
META_PREFIX = ".wh..wh."
OPAQUE = ".wh..wh..opq"


class Kind(Enum):
    NORMAL = "normal"
    WHITEOUT = "whiteout"  # deletes `target` in the entry's directory
    OPAQUE = "opaque"  # hides the lower contents of the entry's directory
    META = "meta"  # whiteout-format bookkeeping: not part of the filesystem


def classify(path: str) -> tuple[Kind, str]:
    """Classify a normalised entry path. For WHITEOUT, also the name it deletes."""
    if PREFIX not in path:
        return Kind.NORMAL, ""  # the common case, decided without splitting
    parts = path.split("/")
    last = parts[-1]
    if any(p.startswith(PREFIX) for p in parts[:-1]):
        return Kind.META, ""
    if not last.startswith(PREFIX):
        return Kind.NORMAL, ""
    if last == OPAQUE:
        return Kind.OPAQUE, ""
    if last.startswith(META_PREFIX):
        return Kind.META, ""
    target = last[len(PREFIX) :]
    if target in (".", ".."):
        raise UnsafePathError(f"whiteout {path!r} names no file", "refusing to use this layer")
    if not target:
        return Kind.META, ""
    return Kind.WHITEOUT, target


def whiteout_name(path: str) -> str:
    """The whiteout entry that deletes `path`."""
    head, _, name = path.rpartition("/")
    return f"{head}/{PREFIX}{name}" if head else PREFIX + name


def opaque_name(directory: str) -> str:
    """The opaque marker entry for `directory`."""
    return f"{directory}/{OPAQUE}" if directory else OPAQUE


class _Named(Protocol):
    @property
    def name(self) -> str: ...


Entry = TypeVar("Entry", bound=_Named)
# (OPAQUE or WHITEOUT, the directory's path parts, the name a WHITEOUT deletes)
Deletion = tuple[Kind, list[str], str]


def sort_layer(members: Iterable[Entry]) -> tuple[list[Deletion], list[tuple[Entry, list[str]]]]:
    """A layer's deletions (which act first, on the layers below) and its entries, in
    tar order with their path parts; metadata entries are dropped."""
    deletions: list[Deletion] = []
    entries: list[tuple[Entry, list[str]]] = []
    for member in members:
        parts = paths.split(member.name)
        if PREFIX not in member.name:  # most entries: no need to look closer
            entries.append((member, parts))
            continue
        kind, target = classify("/".join(parts))
        if kind is Kind.NORMAL:
            entries.append((member, parts))
        elif kind is not Kind.META:
            deletions.append((kind, parts[:-1], target))
    return deletions, entries
