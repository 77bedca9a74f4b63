"""Pull downloads several layers at once (bounded), still all-or-nothing; Docker's --platform forms.

The registry is real; the test only watches how many blob downloads are open at
once (each first read waits a little, so downloads that could overlap do).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import pytest

import lamina.api as api
from lamina.cli import main
from lamina.progress import Task
from lamina.transports.registry import pull as remote
from lamina.transports.registry.repo import Repository
from tests.fixtures.build import FixtureSet
from tests.kit import validate_store
from tests.peers import Podman, Registry
from tests.registry.conftest import load_stack, sha256, skopeo
from tests.registry.test_pull import _config_in, push_multi_platform


class Watch:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.open = self.most = self.total = 0

    def opened(self) -> None:
        with self.lock:
            self.open += 1
            self.total += 1
            self.most = max(self.most, self.open)

    def closed(self) -> None:
        with self.lock:
            self.open -= 1


class SlowStart:
    """A registry blob stream whose first read waits, so concurrent downloads overlap."""

    def __init__(self, inner: BinaryIO, watch: Watch) -> None:
        self.inner, self.watch, self.first = inner, watch, True

    def read(self, n: int = -1) -> bytes:
        if self.first:
            self.first = False
            time.sleep(0.3)
        return self.inner.read(n)

    def close(self) -> None:
        self.inner.close()
        self.watch.closed()

    def __enter__(self) -> SlowStart:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@pytest.fixture
def watch(monkeypatch: pytest.MonkeyPatch) -> Watch:
    seen = Watch()
    real = Repository.open_blob

    def open_blob(self: Repository, dig: str, size: int, task: Task) -> BinaryIO:
        stream = real(self, dig, size, task)
        seen.opened()
        return SlowStart(stream, seen)  # type: ignore[return-value]

    monkeypatch.setattr(Repository, "open_blob", open_blob)
    return seen


@pytest.mark.parametrize("workers", [3, 1])
def test_pull_downloads_a_bounded_number_of_layers_at_once(
    store, tmp_path, registry: Registry, repo, watch: Watch, monkeypatch, workers
):
    sender = api.open_store(tmp_path / "sender")
    load_stack(sender, tmp_path, 6)  # six layers
    ref = f"{registry.host}/{repo}:5"
    api.registry.push(sender, "local/stack:5", ref)
    monkeypatch.setattr(remote, "WORKERS", workers)
    started = time.monotonic()
    pulled = api.registry.pull(store, ref)
    elapsed = time.monotonic() - started
    assert pulled.new_layers == 6
    assert watch.total == 7  # six layers and the config, each once
    assert watch.most == workers
    if workers == 3:
        assert elapsed < 6 * 0.3  # overlapping, not one after another
    assert [c.id for c in validate_store(store)] == [pulled.id]


def test_a_failed_layer_stops_the_others_and_leaves_the_store_as_it_was(
    store, tmp_path, start_registry: Callable[..., Registry], repo, watch: Watch
):
    registry = start_registry()  # its own: the damaged blob must not poison other tests
    sender = api.open_store(tmp_path / "sender")
    load_stack(sender, tmp_path, 6)
    ref = f"{registry.host}/{repo}:5"
    pushed = api.registry.push(sender, "local/stack:5", ref)
    victim = pushed.layers[3].digest
    hexpart = victim.split(":")[1]
    (blob,) = registry.root.rglob(f"blobs/sha256/{hexpart[:2]}/{hexpart}/data")
    blob.write_bytes(blob.read_bytes()[:-9])  # truncated
    with pytest.raises(Exception) as err:
        api.registry.pull(store, ref)
    assert getattr(err.value, "exit_code", None) == 5
    assert api.images(store, all=True) == []
    left = [p for p in (store.root / "lamina" / "tmp").rglob("*") if p != store.tmp]
    assert left == []  # only this live process's own temp dir (empty) remains
    assert not list(Path(store.root, "blobs", "sha256").iterdir())
    assert watch.open == 0  # every stream closed


def test_platform_takes_dockers_short_form(
    store, tmp_path, registry: Registry, podman: Podman, fixtures: FixtureSet, repo, capsys
):
    layout = tmp_path / "layout"
    ref = push_multi_platform(layout, registry, podman, fixtures, repo)
    raw = skopeo(podman, "inspect", "--tls-verify=false", "--raw", f"docker://{ref}")
    index_digest = sha256(raw.encode())
    for form, name in [("arm64", "base"), ("linux/arm64/v8", "base"), ("amd64", "top")]:
        assert main(["--store", str(store.root), "pull", "-q", "--platform", form, ref]) == 0
        assert api.get_image(store, ref).id == sha256(_config_in(layout, name))
        # RepoDigests names the index, as Docker records a multi-platform pull
        digests = api.inspect(store, [ref])[0]["RepoDigests"]
        assert digests == [f"{registry.host}/{repo}@{index_digest}"]
