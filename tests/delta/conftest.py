"""Stores and archives the delta tests share: the seed's stack as real Docker made it."""

from __future__ import annotations

import tarfile
from pathlib import Path

import pytest

import lamina
from tests.fixtures.build import FixtureSet

STACK = ("local/stack:1", "local/stack:2", "local/stack:3")


def members(archive: Path) -> dict[str, int]:
    with tarfile.open(archive) as tar:
        return {m.name: m.size for m in tar if m.isfile()}


@pytest.fixture
def seed(fixtures: FixtureSet, tmp_path: Path) -> lamina.Store:
    """A store holding base + three commits, loaded from `docker save` of real Docker."""
    store = lamina.open_store(tmp_path / "seed")
    lamina.load(store, str(fixtures["docker-legacy-multi"].path))
    return store


@pytest.fixture
def base_only(fixtures: FixtureSet, tmp_path: Path) -> lamina.Store:
    """A fresh store holding only the base (as buildah made it, via skopeo)."""
    store = lamina.open_store(tmp_path / "base-only")
    lamina.load(store, str(fixtures["base-skopeo"].path))
    return store


@pytest.fixture
def expected(fixtures: FixtureSet) -> dict[str, object]:
    """What Docker says about each image of the stack: tag -> fixtures Image."""
    return {i.tags[0]: i for i in fixtures["docker-legacy-multi"].images}
