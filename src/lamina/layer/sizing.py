"""Stand-ins that let the squash writer's pass 2 run without reading or writing: a
`TarSink` that only counts the bytes it would write, and layer files never read.
`squash.squashed_size` uses them to size a squash exactly (ops/advise.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, BinaryIO

from lamina.layer import tarformat as tf
from lamina.layer.tarwriter import TarSink


class Unread(Sequence[BinaryIO]):
    """Stands for the range's layer files when nothing is to be read from them."""

    def __getitem__(self, index: Any) -> Any:
        return None

    def __len__(self) -> int:
        return 0


class CountingSink(TarSink):
    """A TarSink that counts the bytes it would write."""

    def __init__(self) -> None:  # no buffer, no hasher: nothing is written
        self.size = 0

    @property
    def position(self) -> int:
        return self.size

    def write(self, data: bytes | memoryview) -> None:
        self.size += len(data)

    def copy_range(self, src: BinaryIO, start: int, end: int) -> None:
        self.size += end - start

    def add_payload_range(self, header: tf.Header, src: BinaryIO, start: int) -> None:
        self.size += len(tf.encode(header))
        if header.type not in tf.HEADER_ONLY and header.size:
            self.size += tf.padded(header.size)

    def finish(self) -> tuple[str, int]:
        self.size += len(tf.END_OF_ARCHIVE)
        return "", self.size
