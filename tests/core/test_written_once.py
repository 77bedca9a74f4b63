"""atomic.written_once: the bytes are the file's, and writeback is started as it grows."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lamina import atomic


def test_written_once_writes_exactly_and_starts_writeback_of_each_step(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(atomic, "WRITEBACK_STEP", 1 << 16)
    started: list[tuple[int, int, int]] = []
    real = os.posix_fadvise

    def record(fd: int, offset: int, length: int, advice: int) -> None:
        # what the kernel was told must already be in the file, not in Python's buffer
        assert os.fstat(fd).st_size >= offset + length
        started.append((offset, length, advice))
        real(fd, offset, length, advice)

    monkeypatch.setattr(os, "posix_fadvise", record)
    data = os.urandom(700_000)
    path = tmp_path / "out"
    with atomic.written_once(path, buffer=1 << 14) as out:
        for i in range(0, len(data), 3_000):  # small writes, like tar headers
            out.write(data[i : i + 3_000])
        out.flush()
        os.fsync(out.fileno())
    assert path.read_bytes() == data
    assert started, "no writeback was started"
    assert {advice for *_, advice in started} == {os.POSIX_FADV_DONTNEED}
    # consecutive ranges from 0, each at least a step, covering all but the last step
    position = 0
    for offset, length, _ in started:
        assert offset == position and length >= 1 << 16
        position += length
    assert len(data) - position < (1 << 16) + (1 << 14)
