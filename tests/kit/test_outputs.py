"""validate_* over every reader's and every operation's output (one test per capability).

Readers: the image values lamina reads from each real tool's fixture, from each kit
format and from each of its own save formats. Operations: squash (every range),
flatten, rebase, commit, import, delta save + load, expand, on random images; each
output must validate in the store and in every save format.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

import lamina
from lamina.transports.sources import open_archive, read_images
from tests.fixtures.build import NAMES, FixtureSet
from tests.kit import (
    Checked,
    docker_archive,
    images,
    random_image,
    random_layers,
    validate_archive,
    validate_image,
    validate_store,
)
from tests.kit.test_kit import LYING_MEDIA_TYPES, WRITERS

TAG = "kit/random:1"


def read_values(store: lamina.Store, path: Path, media_types: bool = True) -> list[Checked]:
    """validate_image on every value lamina's readers make of an archive or layout."""
    with open_archive(str(path), store.tmp) as fs:
        return [validate_image(img, media_types=media_types) for img in read_images(fs)]


@pytest.mark.parametrize("name", NAMES)
def test_reader_values_of_real_tools_outputs(fixtures: FixtureSet, tmp_path: Path, name: str):
    fx = fixtures[name]
    store = lamina.open_store(tmp_path / "s")
    checked = read_values(store, fx.path, media_types=name not in LYING_MEDIA_TYPES)
    assert {c.id for c in checked} == {i.id for i in fx.images}


@pytest.mark.parametrize("kind", WRITERS)
def test_reader_values_of_kit_formats_and_lamina_saves(tmp_path: Path, kind: str):
    img = random_image(21, layers=3, empty=1, tags=[TAG])
    store = lamina.open_store(tmp_path / "s")
    source = WRITERS[kind](img, tmp_path)
    assert [c.id for c in read_values(store, source)] == [img.id]
    lamina.load(store, str(source))
    for fmt in lamina.SAVE_FORMATS:
        out = tmp_path / f"saved-{fmt}"
        lamina.save(store, [TAG], out, fmt=fmt)
        assert [c.id for c in read_values(store, out)] == [img.id], fmt


def loaded(tmp: Path, *imgs: Any) -> lamina.Store:
    store = lamina.open_store(tmp / "store")
    lamina.load(store, str(docker_archive(list(imgs), tmp / "in.tar")))
    return store


def valid_everywhere(store: lamina.Store, image_id: str, tmp: Path) -> None:
    """The image is valid in the store and in every format lamina saves it to."""
    assert image_id in {c.id for c in validate_store(store)}
    for fmt in lamina.SAVE_FORMATS:
        out = tmp / f"check-{fmt}-{image_id[7:19]}"
        lamina.save(store, [image_id], out, fmt=fmt)
        assert [c.id for c in validate_archive(out)] == [image_id], fmt


@settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck))
@given(img=images(max_layers=4))
def test_squash_every_range_validates(tmp_path_factory: Any, img: Any):
    tmp = tmp_path_factory.mktemp("sq")
    store = loaded(tmp, img)
    n = len(img.layers)
    made = {lamina.squash(store, TAG, layers=f"{lo}..{hi}", tag=f"sq:{lo}-{hi}").id
            for lo in range(n) for hi in range(lo, n)}  # fmt: skip
    assert made <= {c.id for c in validate_store(store)}


def test_flatten_rebase_and_squash_outputs_validate(tmp_path: Path):
    base = random_image(1, layers=2, tags=["kit/base:1"])
    top = random_image(2, layers=3, tags=["kit/top:1"])
    app = extend(base, top.layers, "kit/app:1")
    newbase = random_image(3, layers=1, tags=["kit/newbase:1"])
    store = loaded(tmp_path, base, app, newbase)
    outputs = [
        lamina.flatten(store, "kit/app:1", tag="out:flat").id,
        lamina.squash(store, "kit/app:1", tag="out:squash").id,
        lamina.rebase(store, "kit/app:1", "kit/newbase:1", tag="out:rebase").id,
    ]
    for image_id in outputs:
        valid_everywhere(store, image_id, tmp_path)


def extend(base: Any, layers: list[bytes], tag: str) -> Any:
    """A child of `base`: its layers and history, then more (so `base` is its parent)."""
    more = [f"RUN extend {i}" for i in range(len(layers))]
    return replace(base, layers=base.layers + layers, tags=[tag], created_by=base.created_by + more)


def test_commit_and_import_outputs_validate(tmp_path: Path):
    img = random_image(4, layers=3, empty=1, tags=[TAG])
    store = loaded(tmp_path, img)
    lamina.create(store, TAG, name="box")
    rootfs = lamina.get_container(store, "box").rootfs
    (rootfs / "added").write_text("new\n")
    committed = lamina.commit(store, "box", "kit/committed:1", message="kit")
    valid_everywhere(store, committed, tmp_path)
    exported = tmp_path / "export.tar"
    with exported.open("wb") as f:
        lamina.export(store, "box", f)
    imported = lamina.import_tar(store, str(exported), "kit/imported:1")
    valid_everywhere(store, imported, tmp_path)


def test_delta_save_load_and_expand_outputs_validate(tmp_path: Path):
    base = random_image(5, layers=2, tags=["kit/base:1"])
    app = extend(base, random_layers(6, layers=2), "kit/app:1")
    sender = loaded(tmp_path, base, app)
    delta = tmp_path / "delta.tar"
    lamina.api.delta.save_delta(sender, ["kit/app:1"], delta, exclude_base=True)
    assert [c.id for c in validate_archive(delta, omitted=base.diff_ids)] == [app.id]
    receiver = lamina.open_store(tmp_path / "receiver")
    lamina.load(receiver, str(docker_archive([base], tmp_path / "base.tar")))
    assert [r.id for r in lamina.load(receiver, str(delta))] == [app.id]
    assert {c.id for c in validate_store(receiver)} == {base.id, app.id}
    full = tmp_path / "full.tar"
    lamina.api.delta.expand(receiver, str(delta), full)
    assert [c.id for c in validate_archive(full)] == [app.id]
