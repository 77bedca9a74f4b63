"""A full disk (a 5 MiB tmpfs) fails a command, and leaves the store sound and clean.

Needs `mount -t tmpfs` (root): skipped with a message elsewhere, except under CI=true.
"""

from __future__ import annotations

import pytest

from tests.builders import docker_archive, stack
from tests.faults.conftest import assert_healthy, big_archive, lamina, ok


def test_loads_that_do_not_fit_leave_the_store_as_it_was(small_disk, tmp_path):
    store = small_disk / "s"
    ok(store, "load", "-i", str(docker_archive(stack(4), tmp_path / "stack.tar")))
    big = big_archive(tmp_path / "big.tar", "big:1", 6_000_000)
    assert lamina(store, "load", "-i", str(big)).returncode != 0
    assert lamina(store, "load", input=big.read_bytes()).returncode != 0  # spooled from stdin
    assert_healthy(store)
    assert "big" not in ok(store, "images")


def test_a_write_on_a_full_disk_fails_whole_or_succeeds_whole(small_disk, tmp_path):
    store = small_disk / "s"
    ok(store, "load", "-i", str(docker_archive(stack(4), tmp_path / "stack.tar")))
    filler = small_disk / "filler"
    with open(filler, "wb") as f, pytest.raises(OSError):
        while True:
            f.write(b"\0" * 65536)
            f.flush()
    tagged = lamina(store, "tag", "local/base:1", "x:1").returncode == 0
    removed = lamina(store, "rmi", "local/stack:3").returncode == 0
    filler.unlink()
    ok(store, "tag", "local/base:1", "any/writer:1")
    assert_healthy(store)
    listing = ok(store, "images")
    assert ("x   " in listing) == tagged
    assert ("local/stack   3" not in listing) == removed
