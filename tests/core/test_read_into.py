"""digest.read_into: streams read into one reused buffer give the same bytes as read()."""

from __future__ import annotations

import io
import os

import pytest

from lamina import digest
from lamina.layer import compression


class _ReadOnly:
    """A stream with read() only (as a registry blob reader): read_into copies."""

    def __init__(self, data: bytes) -> None:
        self._f = io.BytesIO(data)

    def read(self, n: int = -1) -> bytes:
        return self._f.read(min(n, 1000))  # short reads, as a socket gives


def _drain(stream: object, size: int) -> bytes:
    buf = memoryview(bytearray(size))
    out = bytearray()
    while n := digest.read_into(stream, buf):
        out += buf[:n]
    return bytes(out)


DATA = os.urandom(300_000) + b"text " * 50_000


@pytest.mark.parametrize("make", [io.BytesIO, _ReadOnly], ids=["readinto", "read-only"])
def test_read_into_yields_the_stream_exactly(make):
    assert _drain(make(DATA), 4096) == DATA


@pytest.mark.parametrize("kind", ["gzip", "zstd", ""])
@pytest.mark.parametrize("make", [io.BytesIO, _ReadOnly], ids=["readinto", "read-only"])
def test_a_sniffed_stream_reads_into_a_buffer(kind, make):
    packed = io.BytesIO()
    with compression.compressor(packed, kind) as sink:
        sink.write(memoryview(DATA)[:100_000])  # memoryviews, as push writes them
        sink.write(memoryview(DATA)[100_000:])
    found, plain = compression.auto_decompressed(make(packed.getvalue()))
    assert found == kind
    assert _drain(plain, 1 << 16) == DATA
