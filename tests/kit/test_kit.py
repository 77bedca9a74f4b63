"""The kit itself: the validator accepts what real tools write and rejects each lie it
is meant to catch; random images are deterministic; lamina reads every kit format."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

import lamina
from tests.fixtures.build import NAMES, FixtureSet
from tests.kit import (
    Invalid,
    docker_archive,
    images,
    oci_archive,
    oci_layout,
    random_image,
    validate_archive,
    validate_image,
    validate_store,
)
from tests.kit.image import LAYER_TYPES, OCI_CONFIG, OCI_MANIFEST, sha

# podman 4.3.1 labels the plain tars of `save --uncompressed --format oci-*` as +gzip
LYING_MEDIA_TYPES = {"podman-oci-uncompressed"}


@pytest.mark.parametrize("name", NAMES)
def test_real_tools_outputs_validate(fixtures: FixtureSet, name: str):
    fx = fixtures[name]
    checked = validate_archive(fx.path, media_types=name not in LYING_MEDIA_TYPES)
    assert {c.id for c in checked} == {i.id for i in fx.images}
    for c in checked:
        assert list(c.diff_ids) == next(i.diff_ids for i in fx.images if i.id == c.id)


def test_random_images_are_deterministic():
    one = random_image(11, layers=4, empty=2, tags=["kit/r:1"])
    assert one.id == random_image(11, layers=4, empty=2, tags=["kit/r:1"]).id
    assert one.id != random_image(12, layers=4, empty=2, tags=["kit/r:1"]).id
    history = json.loads(one.config())["history"]
    assert len(history) == 6 and sum(bool(h.get("empty_layer")) for h in history) == 2


# -- every lie is caught --------------------------------------------------------------
Edit = Callable[[dict[str, Any]], None]


def _layout(
    tmp: Path,
    config: Edit | None = None,
    blob: Callable[[bytes], bytes] | None = None,
    manifest: Edit | None = None,
    index: Edit | None = None,
    kind: str = "none",
) -> Path:
    """A one-image OCI layout of a random image, with one part edited after the fact
    (`blob`: the first layer's file, left under its old digest)."""
    img = random_image(5, layers=2, empty=1)
    doc = json.loads(img.config())
    if config:
        config(doc)
    raw_config = json.dumps(doc).encode()
    blobs = [gzip.compress(x, mtime=0) if kind == "gzip" else x for x in img.layers]
    layers = [{"mediaType": LAYER_TYPES[kind], "digest": sha(b), "size": len(b)} for b in blobs]
    config_desc = {"mediaType": OCI_CONFIG, "digest": sha(raw_config), "size": len(raw_config)}
    mdoc = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "layers": layers, "config": config_desc}
    if manifest:
        manifest(mdoc)
    raw_manifest = json.dumps(mdoc).encode()
    desc = {"mediaType": OCI_MANIFEST, "digest": sha(raw_manifest), "size": len(raw_manifest)}
    idoc = {"schemaVersion": 2, "manifests": [desc]}
    if index:
        index(idoc)
    root = tmp / "layout"
    (root / "blobs" / "sha256").mkdir(parents=True)
    (root / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    (root / "index.json").write_text(json.dumps(idoc))
    for data in [raw_config, raw_manifest, *blobs]:
        (root / "blobs" / "sha256" / sha(data)[7:]).write_bytes(data)
    if blob:
        (root / "blobs" / "sha256" / sha(blobs[0])[7:]).write_bytes(blob(blobs[0]))
    return root


def _set(path: str, value: Any) -> Edit:
    def edit(doc: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        for p in parents:
            doc = doc[int(p)] if p.isdigit() else doc[p]  # type: ignore[index]
        doc[int(last) if last.isdigit() else last] = value  # type: ignore[index]

    return edit


def _real(config: dict[str, Any]) -> dict[str, Any]:
    return next(h for h in config["history"] if not h.get("empty_layer"))


LIES: dict[str, tuple[dict[str, Any], str]] = {
    "layer blob altered": ({"blob": lambda b: b[:-1] + b"\x01"}, "hashes to"),
    "layer size wrong": ({"manifest": _set("layers.0.size", 1)}, "its descriptor says 1"),
    "diff_id wrong": ({"config": _set("rootfs.diff_ids.0", sha(b"x"))}, "config says"),
    "diff_id missing": ({"config": lambda d: d["rootfs"]["diff_ids"].pop()}, "the manifest 2"),
    "diff_id malformed": ({"config": _set("rootfs.diff_ids.1", "sha256:XY")}, "not a sha256"),
    "rootfs.type": ({"config": _set("rootfs.type", "overlay")}, "not 'layers'"),
    "history unpaired": ({"config": lambda d: d["history"].remove(_real(d))}, "non-empty history"),
    "config size wrong": ({"manifest": _set("config.size", 3)}, "config blob is not"),
    "config missing": ({"manifest": _set("config.digest", sha(b"none"))}, "config blob"),
    "gzip labelled plain": (
        {"kind": "gzip", "manifest": _set("layers.0.mediaType", LAYER_TYPES["none"])},
        "is gzip but",
    ),
    "not a tar": ({"blob": lambda b: gzip.compress(b"junk" * 200)}, "not a readable"),
    "manifest size wrong": ({"index": _set("manifests.0.size", 10)}, "its descriptor says"),
    "manifest type wrong": (
        {"index": _set("manifests.0.mediaType", "application/vnd.docker.x")}, "its descriptor"
    ),
    "schemaVersion": ({"manifest": _set("schemaVersion", 1)}, "schemaVersion"),
}


@pytest.mark.parametrize("lie", LIES)
def test_each_lie_is_caught(tmp_path: Path, lie: str):
    assert validate_archive(_layout(tmp_path / "good"))  # the unedited layout is valid
    edits, message = LIES[lie]
    with pytest.raises(Invalid, match=message):
        validate_archive(_layout(tmp_path, **edits))


def test_docker_archive_lies_are_caught(tmp_path: Path):
    img = random_image(9, layers=3, tags=["kit/d:1"])
    full = docker_archive([img], tmp_path / "full.tar", layout="podman")
    assert [c.id for c in validate_archive(full)] == [img.id]
    delta = docker_archive([img], tmp_path / "delta.tar", omit=img.diff_ids[:2])
    with pytest.raises(Invalid, match="is missing"):
        validate_archive(delta)
    assert [c.id for c in validate_archive(delta, omitted=img.diff_ids[:2])] == [img.id]
    untagged = docker_archive([replace(img, tags=["no-tag"])], tmp_path / "t.tar")
    with pytest.raises(Invalid, match="not name:tag"):
        validate_archive(untagged)


def test_lamina_values_are_checked_against_their_bytes(tmp_path: Path):
    store = lamina.open_store(tmp_path / "s")
    img = random_image(3, layers=2, tags=["kit/v:1"])
    lamina.load(store, str(docker_archive([img], tmp_path / "a.tar")))
    value = lamina.get_image(store, "kit/v:1").image
    assert validate_image(value).id == img.id
    first = value.layers[0]
    with pytest.raises(Invalid, match="bytes, its descriptor says"):
        validate_image(replace(value, layers=(replace(first, size=1), *value.layers[1:])))
    with pytest.raises(Invalid, match="claims diff_id"):
        validate_image(replace(value, layers=(replace(first, diff_id=sha(b"")), *value.layers[1:])))


# -- lamina reads every kit format, and writes every format back ------------------------
WRITERS: dict[str, Callable[[Any, Path], Path]] = {
    "docker-legacy": lambda img, p: docker_archive([img], p / "a.tar"),
    "docker-podman-gzip": lambda i, p: docker_archive([i], p / "a.tar", "podman", compress=True),
    "oci-dir": lambda img, p: oci_layout([img], p / "o"),
    "oci-archive-gzip": lambda img, p: oci_archive([img], p / "o.tar", "gzip"),
    "oci-dir-zstd": lambda img, p: oci_layout([img], p / "o", "zstd"),
}


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(img=images())
def test_random_images_round_trip_through_lamina(tmp_path_factory: Any, img: Any):
    tmp = tmp_path_factory.mktemp("rt")
    for kind, write in WRITERS.items():
        (tmp / kind).mkdir()
        source = write(img, tmp / kind)
        assert [c.id for c in validate_archive(source)] == [img.id], kind
        store = lamina.open_store(tmp / kind / "store")
        assert [r.id for r in lamina.load(store, str(source))] == [img.id], kind
        assert [c.id for c in validate_store(store)] == [img.id], kind
    for fmt in lamina.SAVE_FORMATS:
        out = tmp / f"out-{fmt}"
        lamina.save(store, ["kit/random:1"], out, fmt=fmt)
        assert [c.id for c in validate_archive(out)] == [img.id], fmt
