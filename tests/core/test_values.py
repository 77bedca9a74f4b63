"""Values stay values: read-only configs, inspect hands out copies, and a verb that names
one image reads only the images it needs (counted by Store.loads)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import lamina
from lamina.spec import Config, canonical_json
from lamina.store.local import Store
from tests.builders import FakeImage, docker_archive, layer_tar, stack

RAW = json.dumps(
    {
        "config": {"Env": ["A=1"], "Labels": {"x": "y"}},
        "history": [{"created_by": "sh"}],
        "rootfs": {"type": "layers", "diff_ids": []},
    }
).encode()


def test_config_doc_is_read_only_all_the_way_down():
    doc = Config.parse(RAW).doc
    with pytest.raises(TypeError):
        doc["config"] = {}  # type: ignore[index]
    with pytest.raises(TypeError):
        doc["config"]["Labels"]["x"] = "z"
    with pytest.raises(AttributeError):
        doc["config"]["Env"].append("B=2")
    assert canonical_json(doc) == canonical_json(json.loads(RAW))


def test_with_changes_leaves_the_original_alone():
    config = Config.parse(RAW)
    changed = config.with_changes(config={"Env": ["B=2"]}, history=None)
    assert config.doc["config"]["Env"] == ("A=1",) and "history" in config.doc
    assert json.loads(changed.raw) == {
        "config": {"Env": ["B=2"]},
        "rootfs": {"type": "layers", "diff_ids": []},
    }


def many(tmp_path: Path, n: int = 6) -> Path:
    """A base plus n-1 unrelated images on it, loaded into a store."""
    images = stack(2)
    for i in range(n - 2):
        images.append(FakeImage([*images[0].layers, layer_tar({f"f{i}": b"x"})], [f"other/{i}:1"]))
    store = tmp_path / "s"
    lamina.load(Store.open(store), str(docker_archive(images, tmp_path / "a.tar")))
    return store


def test_inspect_hands_out_a_copy(tmp_path):
    store = Store.open(many(tmp_path))
    first = lamina.inspect(store, ["local/stack:1"])[0]
    first["Config"]["Cmd"].append("x")
    first["RootFS"]["Layers"].clear()
    again = lamina.inspect(store, ["local/stack:1"])[0]
    assert again["Config"]["Cmd"] == ["sh"] and len(again["RootFS"]["Layers"]) == 2


@pytest.mark.parametrize(
    ("verb", "loads"),
    [
        (lambda s: lamina.history(s, "local/stack:1"), 1),
        (lambda s: lamina.inspect(s, ["local/stack:1"]), 1),
        (lambda s: lamina.tree(s, "local/stack:1"), 0),
        (lambda s: lamina.tag(s, "local/stack:1", "new/name:1"), 0),
        (lambda s: lamina.images(s, all=True), 0),
        (lambda s: lamina.rmi(s, ["other/3:1"]), 0),
    ],
    ids=["history", "inspect", "tree", "tag", "images", "rmi"],
)
def test_a_verb_reads_only_the_images_it_needs(tmp_path, verb, loads):
    path = many(tmp_path)
    lamina.images(Store.open(path))  # the facts of every image are known from here on
    store = Store.open(path)
    verb(store)
    assert store.loads == loads


def test_listing_a_store_without_facts_reads_every_image_once(tmp_path):
    path = many(tmp_path)
    (path / "lamina" / "facts.json").unlink(missing_ok=True)
    store = Store.open(path)
    rows = lamina.images(store, all=True)
    lamina.images(store, all=True)
    assert store.loads == 6 and len(rows) == 6
    (path / "lamina" / "facts.json").write_text("{not json")
    damaged = Store.open(path)
    assert lamina.images(damaged, all=True) == rows and damaged.loads == 6


def test_a_base_named_by_a_config_label_is_read_through_the_frozen_config():
    from lamina.image import Image
    from lamina.spec import BASE_NAME
    from lamina.store.base import declared_base
    from tests.core.test_graph import stored

    plain = stored(0, [], [])
    doc = {**json.loads(plain.image.config.raw), "config": {"Labels": {BASE_NAME: "x/base:1"}}}
    labelled = Image(Config.parse(canonical_json(doc)), ())
    img = type(plain)(plain.manifest, (), plain.facts, lambda: labelled)
    assert declared_base(img) == (None, "x/base:1")


def test_rmi_does_not_trust_facts_edited_into_other_valid_json(tmp_path):
    """facts.json is a cache (docs/design.md §10): if it lies - here, every other image is
    said to have no layers, which would let rmi delete the base layers they still use -
    it fails its checksum and is rebuilt from the blobs."""
    path = many(tmp_path)
    lamina.images(Store.open(path))
    facts = path / "lamina" / "facts.json"
    checksum, _, body = facts.read_bytes().partition(b"\n")
    doc = json.loads(body)
    index = json.loads((path / "index.json").read_bytes())
    [doomed] = [
        m["digest"]
        for m in index["manifests"]
        if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == "other/0:1"
    ]
    doc["images"] = {
        m: row if m == doomed else [row[0], row[1], [], row[3]] for m, row in doc["images"].items()
    }
    lie = json.dumps(doc, separators=(",", ":")).encode()
    facts.write_bytes(checksum + b"\n" + lie)
    store = Store.open(path)
    lamina.rmi(store, ["other/0:1"])
    blobs = path / "blobs" / "sha256"
    for name in ("local/stack:1", "other/1:1"):
        for layer in lamina.get_image(Store.open(path), name).image.layers:
            assert (blobs / layer.digest.removeprefix("sha256:")).is_file()  # not trashed
