"""A store blob damaged on disk is caught when it is read, and nothing new is made from it."""

from __future__ import annotations

from pathlib import Path

import pytest

import lamina
from lamina.errors import DigestMismatchError
from tests.builders import docker_archive, stack, store_files
from tests.lamina_cli import run_lamina


@pytest.fixture
def damaged(tmp_path: Path) -> tuple[lamina.Store, dict[str, bytes]]:
    """A store with the seed stack whose top layer blob has one byte flipped."""
    store = lamina.open_store(tmp_path / "s")
    lamina.load(store, str(docker_archive(stack(4), tmp_path / "a.tar")))
    top = lamina.get_image(store, "local/stack:3").image.layers[-1]
    path = store.layer_path(top.diff_id)
    data = bytearray(path.read_bytes())
    data[data.find(b"3\n")] = ord("X")  # file3's content: same size, different bytes
    path.write_bytes(bytes(data))
    return store, store_files(store.root)


def test_squash_refuses_a_damaged_layer(damaged):
    store, before = damaged
    with pytest.raises(DigestMismatchError, match="stored layer"):
        lamina.squash(store, "local/stack:3", tag="sq:1")
    assert store_files(store.root) == before


def test_the_squash_command_refuses_a_damaged_layer(damaged):
    """The command (which imports only what squash needs) still re-hashes the range."""
    store, before = damaged
    cp = run_lamina(store.root, "squash", "local/stack:3", "--layers", "1..-1", "-t", "sq:1")
    assert cp.returncode == 5, cp.stderr
    assert b"stored layer" in cp.stderr and cp.stderr.count(b"\n") == 1
    assert store_files(store.root) == before


def test_save_refuses_a_damaged_layer(damaged, tmp_path):
    store, _ = damaged
    with pytest.raises(DigestMismatchError):
        lamina.save(store, ["local/stack:3"], tmp_path / "out.tar")
    assert not (tmp_path / "out.tar").exists()


def test_create_refuses_a_damaged_layer(damaged):
    store, before = damaged
    with pytest.raises(DigestMismatchError, match="stored layer"):
        lamina.create(store, "local/stack:3", name="c1")
    assert store_files(store.root) == before
    assert lamina.ps(store, all=True) == []


def test_background_check_survives_its_caller_closing_the_files(tmp_path):
    """A caller that fails (a hostile layer) closes its files while the re-hash runs:
    the check must still judge the whole file, and no thread may die on a closed fd."""
    import threading

    from lamina.digest import BackgroundCheck

    big = tmp_path / "big"
    with open(big, "wb") as f:
        f.truncate(256 << 20)  # sparse: takes the thread a while to hash
    died: list[BaseException] = []
    old_hook, threading.excepthook = threading.excepthook, lambda a: died.append(a.exc_value)
    try:
        with open(big, "rb") as f:
            check = BackgroundCheck([("sha256:" + "0" * 64, f.fileno())])
        with pytest.raises(DigestMismatchError):
            check.finish()
    finally:
        threading.excepthook = old_hook
    assert died == []
