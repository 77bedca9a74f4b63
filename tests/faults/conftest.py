"""Helpers for the fault tests: real `lamina` processes, killed, raced and starved."""

from __future__ import annotations

import os
import subprocess
import sys
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


def ok(store: Path, *args: str) -> str:
    done = lamina(store, *args)
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
