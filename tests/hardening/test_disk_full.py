"""A full disk during a write: one line that says so, exit 1, no temp files left,
the store as it was. The store lives on a small private tmpfs (needs root)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.builders import FakeImage, docker_archive, layer_tar, stack, store_files
from tests.lamina_cli import run_lamina


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mnt = tmp_path / "disk"
    mnt.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mnt)], check=True)
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=True)


def _leftovers(store: Path) -> list[str]:
    tmp = store / "lamina" / "tmp"
    return sorted(p.name for p in tmp.iterdir()) if tmp.is_dir() else []


def _one_line_full(cp: subprocess.CompletedProcess[bytes]) -> None:
    err = cp.stderr.decode()
    assert cp.returncode == 1, err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert "no space left" in err, err


def test_load_on_a_full_disk_says_so_and_leaves_nothing(small_disk: Path, tmp_path: Path) -> None:
    store = small_disk / "store"
    run_lamina(store, "load", "-i", str(docker_archive(stack(2), tmp_path / "s.tar")), check=True)
    before = store_files(store)
    big = FakeImage([layer_tar({"big": os.urandom(3 << 20)})], ["local/big:1"])
    cp = run_lamina(store, "load", "-i", str(docker_archive([big], tmp_path / "big.tar")))
    _one_line_full(cp)  # was: "layer ... is truncated or corrupt", exit 5
    assert _leftovers(store) == []
    assert store_files(store) == before


def test_load_of_a_compressed_archive_on_a_full_disk(small_disk: Path, tmp_path: Path) -> None:
    store = small_disk / "store"
    run_lamina(store, "images", check=True)
    big = FakeImage([layer_tar({"big": os.urandom(3 << 20)})], ["local/big:1"])
    archive = docker_archive([big], tmp_path / "big.tar", compress=True)
    gz = tmp_path / "big.tar.gz"
    subprocess.run(["gzip", "-c", str(archive)], stdout=gz.open("wb"), check=True)
    before = store_files(store)
    _one_line_full(run_lamina(store, "load", "-i", str(gz)))
    assert _leftovers(store) == []
    assert store_files(store) == before


def test_tag_on_a_full_disk(small_disk: Path, tmp_path: Path) -> None:
    store = small_disk / "store"
    run_lamina(store, "load", "-i", str(docker_archive(stack(2), tmp_path / "s.tar")), check=True)
    before = store_files(store)
    filler = small_disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:  # fill the disk to the last block
        while os.write(fd, bytes(4096)):
            pass
    except OSError:
        pass
    finally:
        os.close(fd)
    try:
        cp = run_lamina(store, "tag", "local/stack:1", "local/other:1")
        _one_line_full(cp)
        assert _leftovers(store) == []
        assert store_files(store) == before
    finally:
        filler.unlink()
