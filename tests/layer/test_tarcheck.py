"""The one tar check layers pass on the way into the store: Go's verdicts, path rules,
bytes passed through unchanged, and the same verdict from TarReader (one validator)."""

from __future__ import annotations

import io
import os
import threading
from pathlib import Path

import pytest

from lamina import digest
from lamina.errors import InvalidInputError
from lamina.layer.tarcheck import MAX_TRAILING, CheckedTar, content_size
from lamina.layer.tarstream import TarReader
from tests.hardening.corpus import FILE, Layer, entry, tar_layers
from tests.layer.stacks import Pipe

LAYERS = tar_layers()


def _through(data: bytes, chunk: int = 1 << 20) -> bytes:
    checked = CheckedTar(Pipe(data, chunk=4096))  # type: ignore[arg-type]
    out = bytearray()
    while piece := checked.read(chunk):
        out += piece
    return bytes(out)


@pytest.mark.parametrize("layer", LAYERS, ids=[x.name for x in LAYERS])
def test_verdicts_match_go_archive_tar(layer: Layer) -> None:
    if layer.valid:
        assert _through(layer.data) == layer.data  # unchanged, whole
        assert _through(layer.data, chunk=7) == layer.data
    else:
        with pytest.raises(InvalidInputError):
            _through(layer.data)


@pytest.mark.parametrize("layer", LAYERS, ids=[x.name for x in LAYERS])
def test_tar_reader_agrees_on_tar_structure(layer: Layer) -> None:
    """squash, apply and create read with TarReader: never a crash, never another verdict
    on structure (path rules are checked by their callers)."""
    structural = layer.valid or layer.name not in ("escape", "hardlink-escape", "whiteout-dotdot")
    try:
        list(TarReader(io.BytesIO(layer.data)))
        readable = True
    except InvalidInputError:
        readable = False
    if structural and layer.name != "bomb-after-end":
        assert readable == layer.valid


def test_global_pax_records_do_not_rename_entries() -> None:
    (layer,) = [x for x in LAYERS if x.name == "pax-global-records"]
    assert [m.name for m in TarReader(io.BytesIO(layer.data))] == ["hello.txt"]


def test_trailing_bytes_are_capped_as_they_stream() -> None:
    data = FILE + bytes(1024) + bytes(MAX_TRAILING - 1024)
    assert _through(data) == data
    with pytest.raises(InvalidInputError, match="after its end-of-archive"):
        _through(data + bytes(2 * 1024 * 1024))


def test_content_size_is_the_sum_of_entry_sizes_as_docker_counts() -> None:
    data = entry(b"a", b"x" * 1000) + entry(b"d/", kind=b"5") + entry(b"b", b"yy") + bytes(1024)
    assert content_size(io.BytesIO(data)) == 1002
    checked = CheckedTar(io.BytesIO(data))  # type: ignore[arg-type]
    while checked.read(100):
        pass
    assert checked.content_size == 1002 and checked.entries == 3


def test_background_check_is_stopped_before_its_file_closes(tmp_path: Path) -> None:
    """A failure while the re-hash runs must not leave it reading a closed descriptor
    ('Exception in thread ... Bad file descriptor' on stderr)."""
    big = tmp_path / "big"
    big.write_bytes(os.urandom(1 << 20) * 64)
    seen: list[BaseException] = []
    old = threading.excepthook
    threading.excepthook = lambda args: seen.append(args.exc_value)  # type: ignore[assignment]
    try:
        for _ in range(5):
            with (
                pytest.raises(RuntimeError),
                open(big, "rb") as f,
                digest.BackgroundCheck([(digest.of_bytes(b""), f.fileno())]) as check,
            ):
                raise RuntimeError("the caller failed")
            assert not check._thread.is_alive()
    finally:
        threading.excepthook = old
    assert seen == []
