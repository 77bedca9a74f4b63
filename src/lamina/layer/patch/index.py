"""What the encoder knows of the reference layer after one pass over it.

- `pieces`: content key -> offset of every header, data window and gap, so an identical
  piece of the target (same file, a renamed one, the end-of-archive blocks) becomes a copy;
- `files`: path -> where the entry's headers and padded data lie, so a changed file is
  delta-compressed against its old version; `shapes` does the same for a path whose
  numbers changed (`libfoo.so.1.2.3` -> `libfoo.so.1.2.4`, `python3.11` -> `python3.12`);
- the reference's diff_id and size, which the patch header records.

Memory grows with the number of entries and windows (a few hundred bytes each), never
with the bytes of the layer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from lamina.digest import Hasher
from lamina.layer.patch.scan import DATA, HEADER, Opener, pieces
from lamina.progress import Task

_DIGITS = re.compile(rb"[0-9]+")


def shape(name: str) -> str:
    """A path with its runs of digits folded: versions change, shapes stay."""
    return _DIGITS.sub(b"#", name.encode("utf-8", "surrogateescape")).decode(
        "utf-8", "surrogateescape"
    )


@dataclass(slots=True)
class Entry:
    header_offset: int
    header_size: int
    data_offset: int = 0
    data_size: int = 0  # padded data bytes


@dataclass
class ReferenceIndex:
    diff_id: str = ""
    size: int = 0
    pieces: dict[bytes, int] = field(default_factory=dict)
    files: dict[str, Entry] = field(default_factory=dict)
    shapes: dict[str, Entry] = field(default_factory=dict)

    def source(self, name: str) -> Entry | None:
        """The reference entry a target entry of this path is best diffed against."""
        return self.files.get(name) or self.shapes.get(shape(name))


def build_index(reference: Opener, task: Task) -> ReferenceIndex:
    index = ReferenceIndex()
    hasher = Hasher()
    current: Entry | None = None
    for piece in pieces(reference):
        hasher.update(piece.data)
        task.advance(len(piece.data))
        index.pieces.setdefault(piece.key, piece.offset)
        if piece.kind == HEADER:
            current = Entry(piece.offset, len(piece.data), piece.offset + len(piece.data))
            index.files[piece.name] = current
        elif piece.kind == DATA and current is not None:
            if not current.data_size:  # a shape stands for an entry with data
                index.shapes.setdefault(shape(piece.name), current)
            current.data_size += len(piece.data)
    index.diff_id, index.size = hasher.digest, hasher.size
    return index
