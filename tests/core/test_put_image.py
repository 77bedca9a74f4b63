"""Transaction.put_image: the one way an image reaches the store (issue 9 item 1).

Layers, then config, then manifest; what the store holds is not read; everything is
verified; a failure leaves nothing staged, and the store as it was. Layers handed out
by a transaction still open after it commits.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import BinaryIO

import pytest

import lamina
from lamina import mediatype
from lamina.errors import DigestMismatchError, MissingLayersError, NotFoundError
from lamina.image import Image, Layer
from lamina.ops import squash as squash_op
from lamina.spec import Config
from tests.builders import FakeImage, docker_archive, layer_tar, sha, stack, store_files
from tests.kit import validate_store


class Opened:
    """Layer openers that count how often each layer is read."""

    def __init__(self) -> None:
        self.reads: list[str] = []

    def layer(self, data: bytes, *, corrupt: bool = False) -> Layer:
        diff_id = sha(data)
        body = data[:-1] + b"X" if corrupt else data

        def opener() -> BinaryIO:
            self.reads.append(diff_id)
            return io.BytesIO(body)

        return Layer(diff_id, diff_id, len(data), mediatype.OCI_LAYER, opener)

    def image(self, fake: FakeImage, corrupt: int | None = None) -> Image:
        layers = tuple(self.layer(x, corrupt=i == corrupt) for i, x in enumerate(fake.layers))
        return Image(Config.parse(fake.config()), layers)


@pytest.fixture
def store(tmp_path: Path) -> lamina.Store:
    s = lamina.open_store(tmp_path / "s")
    lamina.load(s, str(docker_archive(stack(2), tmp_path / "a.tar")))  # base + one layer
    return s


def test_present_layers_are_not_read_and_blobs_arrive_layers_config_manifest(store, monkeypatch):
    images = stack(4)
    opened = Opened()
    image = opened.image(images[3])
    arrived: list[str] = []
    adopt = store.blobs.adopt

    def recording(tmp: Path, dig: str) -> None:
        arrived.append(dig)
        adopt(tmp, dig)

    monkeypatch.setattr(store.blobs, "adopt", recording)
    with store.transaction() as tx:
        manifest = tx.put_image(image)
        tx.keep(manifest, "local/put:1")
    new = [sha(x) for x in images[3].layers[2:]]
    assert opened.reads == new  # the two layers the store had were never opened
    assert arrived == [*new, image.id, manifest.digest]
    doc = json.loads(store.blobs.read_bytes(manifest.digest))
    assert doc["config"]["digest"] == image.id
    assert [x["digest"] for x in doc["layers"]] == list(image.diff_ids)
    assert lamina.get_image(store, "local/put:1").id == image.id
    assert image.id in {c.id for c in validate_store(store)}


def test_an_image_already_stored_keeps_its_manifest_and_is_not_read(store):
    stored = lamina.get_image(store, "local/stack:1")
    opened = Opened()
    image = opened.image(stack(2)[1])
    with store.transaction() as tx:
        assert tx.put_image(image) == stored.manifest
    assert opened.reads == []


def test_a_failed_put_stages_nothing_and_leaves_the_store_as_it_was(store):
    before = store_files(store.root)
    opened = Opened()
    bad = opened.image(stack(4)[3], corrupt=3)  # layer 2 is good and new, layer 3 is not
    with pytest.raises(DigestMismatchError), store.transaction() as tx:
        tx.put_image(bad)
    assert store_files(store.root) == before
    # a caller that goes on after the failure commits none of what put_image staged
    with store.transaction() as tx:
        with pytest.raises(DigestMismatchError):
            tx.put_image(bad)
        assert not tx.has_blob(sha(stack(4)[3].layers[2]))
    assert store_files(store.root) == before


def test_a_layer_the_source_left_out_must_be_present(store):
    fake = FakeImage([*stack(2)[1].layers, layer_tar({"x": b"x"})], ["local/x:1"])
    image = Opened().image(fake)
    left_out = Layer(image.layers[2].diff_id, image.layers[2].diff_id, 0, "", _fail, False)
    image = Image(image.config, (*image.layers[:2], left_out), image.names)
    before = store_files(store.root)
    with pytest.raises(MissingLayersError, match=left_out.diff_id[:19]), store.transaction() as tx:
        tx.put_image(image)
    assert store_files(store.root) == before


def _fail() -> BinaryIO:
    raise AssertionError("a layer that is not carried was opened")


def test_layers_handed_out_open_after_commit(store):
    """A layer staged by a transaction (here: the one squash makes) opens after commit,
    from the store's blob; one only staged by an aborted transaction is gone."""
    image = lamina.get_image(store, "local/stack:1").image

    def seekable(layer: Layer) -> BinaryIO:
        return open(store.layer_path(layer.diff_id), "rb")

    with store.transaction() as tx:
        result = squash_op.squash(image, squash_op.Range(0, 2), tx, seekable)
        tx.keep(tx.put_image(result), "local/sq:1")
        handed_out = tx.layer(result.diff_ids[0])
    validate_store(store)
    for layer in (result.layers[0], handed_out):
        with layer.open_tar() as f:
            assert sha(f.read()) == result.diff_ids[0]
    with pytest.raises(RuntimeError), store.transaction() as tx:
        staged = tx.layer(tx.put_blob(io.BytesIO(b"only staged"))[0])
        raise RuntimeError("abort")
    with pytest.raises(NotFoundError):
        staged.open_blob()
