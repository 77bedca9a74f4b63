"""The header index file in bounded memory (lamina.layer.indexfile).

- an IndexBuilder that spills its rows to temp files writes the same bytes as the
  in-memory HeaderIndex of the same entries, whatever its bound (every field, numbers
  beyond 64 bits, rows copied by squash with their offsets moved), and leaves no temp
  file once closed;
- `scan` gives an index file's entry count, tar size and size-column sum (Docker's
  layer size, as tarcheck.content_size reads it from the tar) and refuses any damage.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lamina.layer.headerindex import HeaderIndex
from lamina.layer.indexfile import IndexBuilder, scan
from lamina.layer.squash import Below, squash_layers
from lamina.layer.tarcheck import content_size
from lamina.layer.tarstream import Member, TarReader
from tests.kit.layers import E, file, layer_bytes
from tests.layer import test_headerindex as headerindex_tests
from tests.layer.stacks import ranges
from tests.layer.test_squash_random import stacks

DIFF_ID = "sha256:" + "ab" * 32
BOUNDS = [1, 300, 5_000, 1 << 30]  # every row, a few rows, many rows, never


def temp_files(directory: Path) -> Callable[[], Path]:
    made = iter(range(1 << 30))

    def new_file() -> Path:
        path = directory / f"spill-{next(made)}"
        path.touch()
        return path

    return new_file


def every_field() -> bytes:
    more = [file(f"c/{i:04d}" + "n" * (i % 90), b"y" * (i % 3)) for i in range(300)]
    return headerindex_tests.every_field(more)


@pytest.mark.parametrize("bound", BOUNDS)
def test_a_spilled_index_is_the_in_memory_one_byte_for_byte(tmp_path, bound):
    data = every_field()
    expected = HeaderIndex.of(io.BytesIO(data)).to_bytes(DIFF_ID)
    with IndexBuilder.of(io.BytesIO(data), temp_files(tmp_path)) as built:
        pass  # the default bound: nothing spilled for a small layer
    assert built.spilled == 0 and built.to_bytes(DIFF_ID) == expected
    index = IndexBuilder(temp_files(tmp_path), bound)
    with index:
        index.collect(TarReader(io.BytesIO(data)))
        index.tar_size = len(data)
        assert len(index) == len(HeaderIndex.of(io.BytesIO(data)))
        assert (index.spilled > 0) == (bound < 1 << 30)
        assert index.to_bytes(DIFF_ID) == expected
        assert index.to_bytes(DIFF_ID) == expected  # written twice: the files are kept
    assert list(tmp_path.iterdir()) == []  # closed: its temp files are gone


def test_numbers_beyond_64_bits_spill_too(tmp_path):
    rows = [Member(f"n{i}", uid=1 << 70, mtime=-(1 << 65)) for i in range(5)]
    for i, m in enumerate(rows):
        m.header_offset, m.data_offset = 512 * 2 * i, 512 * (2 * i + 1)
    with IndexBuilder(temp_files(tmp_path), bound=1) as index:
        index.collect(rows)
        assert index.spilled >= 4
        assert index.to_bytes(DIFF_ID) == HeaderIndex.collect(rows).to_bytes(DIFF_ID)


def test_write_after_close_of_a_spilled_index_is_refused(tmp_path):
    index = IndexBuilder(temp_files(tmp_path), bound=1)
    index.collect(TarReader(io.BytesIO(every_field())))
    index.close()
    with pytest.raises(ValueError, match="after close"):
        index.to_bytes(DIFF_ID)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stacks(), st.sampled_from(BOUNDS[:3]))
def test_squash_fills_a_spilling_index_with_the_output_s_rows(
    tmp_path_factory: pytest.TempPathFactory, stack: list[list[E]], bound: int
) -> None:
    directory = tmp_path_factory.mktemp("spill")
    layers = [layer_bytes(entries) for entries in stack]
    for lo, hi in ranges(len(layers)):
        streams = [io.BytesIO(b) for b in layers]
        below = Below.layers(streams[:lo]) if lo else Below.nothing()
        out = io.BytesIO()
        with IndexBuilder(temp_files(directory), bound) as index:
            try:
                squash_layers(streams[lo:hi], out, below=below, index=index)
            except Exception:  # a stack the squash refuses: nothing to compare
                continue
            expected = HeaderIndex.of(io.BytesIO(out.getvalue())).to_bytes(DIFF_ID)
            assert index.to_bytes(DIFF_ID) == expected, (lo, hi)
        assert list(directory.iterdir()) == []


def test_scan_sums_the_size_column_as_docker_counts(tmp_path):
    data = every_field()
    path = tmp_path / "index"
    with IndexBuilder(temp_files(tmp_path), bound=1) as index, open(path, "wb") as f:
        index.collect(TarReader(io.BytesIO(data)))
        index.tar_size = len(data)
        index.write(f, DIFF_ID)
    with open(path, "rb") as f:
        found = scan(f, DIFF_ID)
    assert found is not None
    assert found.content_size == content_size(io.BytesIO(data)) > 0
    assert found.entries == len(HeaderIndex.of(io.BytesIO(data)))
    assert found.tar_size == len(data)
    with open(path, "rb") as f:
        assert scan(f, "sha256:" + "cd" * 32) is None


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_scan_refuses_any_damage(tmp_path_factory: pytest.TempPathFactory, data: st.DataObject):
    good = HeaderIndex.of(io.BytesIO(every_field())).to_bytes(DIFF_ID)
    at = data.draw(st.integers(0, len(good) - 1))
    damaged = bytearray(good)
    damaged[at] ^= data.draw(st.integers(1, 255))
    cut = good[: data.draw(st.integers(0, len(good) - 1))]
    path = tmp_path_factory.mktemp("scan") / "index"
    for bad in (bytes(damaged), cut, good + b"\0"):
        path.write_bytes(bad)
        with open(path, "rb") as f:
            assert scan(f, DIFF_ID) is None
