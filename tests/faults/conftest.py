"""Helpers for the fault tests: real `lamina` processes, killed, raced and starved."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.builders import FakeImage, docker_archive, layer_tar, stack


def lamina(
    store: Path, *args: str, env: dict[str, str] | None = None, input: bytes | None = None
) -> subprocess.CompletedProcess[bytes]:
    """`lamina --store STORE ARGS...` with extra environment; never raises."""
    return subprocess.run(
        [sys.executable, "-m", "lamina", "--store", str(store), *args],
        env={**os.environ, **(env or {})},
        input=input,
        capture_output=True,
        timeout=120,
    )


def ok(store: Path, *args: str, input: bytes | None = None) -> str:
    done = lamina(store, *args, input=input)
    assert done.returncode == 0, done.stderr.decode()
    return done.stdout.decode()


def big_archive(path: Path, tag: str, size: int, seed: int = 0) -> Path:
    """A one-layer image whose layer holds `size` random (incompressible) bytes."""
    data = (seed.to_bytes(4, "big") * 1) + os.urandom(size)
    return docker_archive([FakeImage([layer_tar({"blob": data})], [tag])], path)


def assert_healthy(store: Path) -> None:
    """`system check` finds nothing, tmp/ holds nothing, and `images` works."""
    check = lamina(store, "system", "check")
    assert check.returncode == 0, check.stdout.decode() + check.stderr.decode()
    assert list((store / "lamina" / "tmp").iterdir()) == []
    ok(store, "images", "-a")


@pytest.fixture
def seeded(tmp_path: Path) -> Path:
    """A store holding the seed stack (local/base:1 ... local/stack:3)."""
    store = tmp_path / "s"
    ok(store, "load", "-i", str(docker_archive(stack(4), tmp_path / "stack.tar")))
    return store


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 5 MiB tmpfs (needs root: skipped with the reason elsewhere, failed under CI=true)."""
    mnt = tmp_path / "small"
    mnt.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=5m", "tmpfs", str(mnt)], capture_output=True
    )
    if done.returncode != 0:
        why = f"cannot mount a tmpfs: {done.stderr.decode().strip()}"
        if os.environ.get("CI") == "true":
            pytest.fail(why)
        pytest.skip(why)
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)
