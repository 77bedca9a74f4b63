"""Helpers for the registry tests: a fresh store, a private Docker config, unique repos."""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from pathlib import Path

import pytest

import lamina.api as api
from tests.builders import FakeImage, docker_archive, layer_tar, stack
from tests.peers import Podman


@pytest.fixture(autouse=True)
def docker_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own $DOCKER_CONFIG: the user's own file is never read or written."""
    path = tmp_path / "docker-config"
    monkeypatch.setenv("DOCKER_CONFIG", str(path))
    return path


@pytest.fixture
def store(tmp_path: Path) -> api.Store:
    return api.open_store(tmp_path / "store")


@pytest.fixture
def repo() -> str:
    """A repository name no other test uses (the session registry is shared)."""
    return f"t{secrets.token_hex(4)}/img"


def load_stack(store: api.Store, tmp_path: Path, n: int = 4) -> list[FakeImage]:
    """local/base:1 and local/stack:1..n-1 (each adds one small layer) in the store."""
    images = stack(n)
    api.load(store, str(docker_archive(images, tmp_path / f"stack{n}.tar")))
    return images


def big_image(store: api.Store, tmp_path: Path, size: int = 600_000) -> FakeImage:
    """local/big:1: the stack's base plus a layer of `size` random bytes (for chunked uploads)."""
    base = stack(1)[0].layers[0]
    image = FakeImage([base, layer_tar({"blob.bin": os.urandom(size)})], ["local/big:1"])
    api.load(store, str(docker_archive([image], tmp_path / "big.tar")))
    return image


def skopeo(podman: Podman, *args: str, text: bool = True) -> str | bytes:
    out: str | bytes = podman.run("skopeo", *args, text=text).stdout
    return out


def remote_config(podman: Podman, ref: str) -> bytes:
    """The raw config bytes of an image in a registry, as skopeo reads them."""
    out = skopeo(podman, "inspect", "--tls-verify=false", "--config", "--raw", ref, text=False)
    assert isinstance(out, bytes)
    return out


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def created_by(raw_config: bytes) -> list[str]:
    return [h.get("created_by", "") for h in json.loads(raw_config).get("history", [])]
