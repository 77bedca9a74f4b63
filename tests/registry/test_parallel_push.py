"""Push sends several layers at once (bounded), the manifest only after every blob.

The registry is real; the test watches how many uploads are open at once (each
waits a little before it starts, so uploads that could overlap do), and makes one
upload name a wrong digest, which the registry refuses (DIGEST_INVALID).
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

import lamina.api as api
from lamina.cli import main
from lamina.transports.registry import push as sender
from lamina.transports.registry.repo import Repository
from tests.peers import Podman, Registry
from tests.registry.conftest import load_stack, sha256
from tests.registry.test_parallel import Watch
from tests.registry.test_referrers import raw_of


@pytest.fixture
def watch(monkeypatch: pytest.MonkeyPatch) -> Watch:
    seen = Watch()
    real = Repository.upload

    def upload(self: Repository, location: str, path: Path, dig: str, *args: object) -> None:
        seen.opened()
        try:
            time.sleep(0.3)
            real(self, location, path, dig, *args)  # type: ignore[arg-type]
        finally:
            seen.closed()

    monkeypatch.setattr(Repository, "upload", upload)
    return seen


@pytest.mark.parametrize("workers", [3, 1])
def test_push_uploads_a_bounded_number_of_layers_at_once(
    store, tmp_path, registry: Registry, podman: Podman, repo, watch: Watch, monkeypatch, workers
):
    load_stack(store, tmp_path, 6)  # six layers
    monkeypatch.setattr(sender, "WORKERS", workers)
    ref = f"{registry.host}/{repo}:6"
    started = time.monotonic()
    pushed = api.registry.push(store, "local/stack:5", ref)
    elapsed = time.monotonic() - started
    assert watch.total == 7  # six layers and the config
    assert watch.most == workers
    if workers == 3:
        assert elapsed < 7 * 0.3  # overlapping, not one after another
    raw = raw_of(podman, ref)
    manifest = json.loads(raw)
    assert [x["digest"] for x in manifest["layers"]] == [x.digest for x in pushed.layers]
    assert sha256(raw) == pushed.digest


def test_a_refused_upload_is_one_line_and_no_manifest_is_written(
    store, tmp_path, registry: Registry, repo, monkeypatch, capsys
):
    load_stack(store, tmp_path, 6)
    real = Repository.upload
    calls = []

    def upload(self: Repository, location: str, path: Path, dig: str, *args: object) -> None:
        calls.append(dig)
        if len(calls) == 2:  # the registry hashes what it got and refuses the claim
            dig = "sha256:" + "0" * 64
        real(self, location, path, dig, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(Repository, "upload", upload)
    ref = f"{registry.host}/{repo}:bad"
    code = main(["--store", str(store.root), "push", "local/stack:5", ref])
    err = capsys.readouterr().err
    assert code == 7
    assert err.count("\n") == 1 and "upload of" in err, err
    assert registry.count("PUT", f"/{repo}/manifests/") == 0  # the manifest never went
    assert [p for p in store.tmp.rglob("*")] == []  # compressed temp files are gone


def test_layers_compress_one_at_a_time_on_one_thread_while_uploads_overlap(
    store, tmp_path, registry: Registry, repo, watch: Watch, monkeypatch
):
    """One compressing thread: a compressor's output churns its thread's heap arena."""
    load_stack(store, tmp_path, 6)
    squeezing, threads = Watch(), set()
    real = sender.Pusher._compress

    def compress(self: sender.Pusher, job: sender._Job) -> tuple[Path, str, int]:
        if job.compression != "gzip":  # the config, after the layers: sent as it is
            return real(self, job)
        squeezing.opened()
        threads.add(threading.current_thread().name)
        try:
            time.sleep(0.1)  # long enough for a second compression to overlap, if it could
            return real(self, job)
        finally:
            squeezing.closed()

    monkeypatch.setattr(sender.Pusher, "_compress", compress)
    api.registry.push(store, "local/stack:5", f"{registry.host}/{repo}:6")
    assert squeezing.total == 6 and squeezing.most == 1
    assert len(threads) == 1 and threads.pop().startswith("compress"), threads
    assert watch.most == 3  # uploads still overlap
