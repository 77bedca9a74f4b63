"""The fixtures are what fixtures.json says they are.

Checked with tarfile/json/hashlib only (never lamina): each image's config hashes to the
recorded ID, its layers hash to the recorded diff_ids, the layouts and compressions are
the ones the real tools are known to write, and the whiteouts are really there.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import itertools
import json
import re
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import zstandard

from tests.fixtures.build import NAMES, Fixture, FixtureSet, Image

pytestmark = pytest.mark.peer

ALL = list(NAMES)
HEX = re.compile(r"^[0-9a-f]{64}$")
GZIP, ZSTD = b"\x1f\x8b", b"\x28\xb5\x2f\xfd"
REF_NAME = "org.opencontainers.image.ref.name"


class Source:
    """Read members of a fixture that is a tar or a directory (symlinks followed)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.tar = None if path.is_dir() else tarfile.open(path)  # noqa: SIM115 (see close)

    def __enter__(self) -> Source:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.tar is not None:
            self.tar.close()

    def read(self, name: str) -> bytes:
        if self.tar is None:
            return (self.path / name).read_bytes()
        f = self.tar.extractfile(name)
        assert f is not None, f"{name} is not a file in {self.path}"
        return f.read()

    def json(self, name: str) -> Any:
        return json.loads(self.read(name))

    def member(self, name: str) -> tarfile.TarInfo:
        assert self.tar is not None
        return self.tar.getmember(name)

    def blob(self, digest: str) -> bytes:
        algo, hexd = digest.split(":")
        return self.read(f"blobs/{algo}/{hexd}")


def uncompressed(data: bytes) -> bytes:
    if data.startswith(GZIP):
        return gzip.decompress(data)
    if data.startswith(ZSTD):
        with zstandard.ZstdDecompressor().stream_reader(data) as r:
            return bytes(r.read())
    return data


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def layer_names(data: bytes) -> list[str]:
    with tarfile.open(fileobj=io.BytesIO(uncompressed(data))) as t:
        return t.getnames()


def get(fixtures: FixtureSet, name: str) -> Fixture:
    if name in fixtures.skipped:
        pytest.skip(f"{name} not built here: {fixtures.skipped[name]}")
    return fixtures[name]


# ------------------------------------------------------------ per-image readers
def docker_entry(src: Source, image: Image) -> dict[str, Any]:
    """The manifest.json entry of `image`: it must carry every recorded tag."""
    for entry in src.json("manifest.json"):
        if set(image.tags) <= set(entry.get("RepoTags") or []) and image.tags:
            return dict(entry)
    raise AssertionError(f"no manifest.json entry tagged {image.tags} in {src.path}")


def oci_manifest(src: Source, image: Image) -> dict[str, Any]:
    for desc in src.json("index.json")["manifests"]:
        if desc.get("annotations", {}).get(REF_NAME) == image.ref:
            data = src.blob(desc["digest"])
            assert sha256(data) == desc["digest"]
            return dict(json.loads(data))
    raise AssertionError(f"no index.json entry named {image.ref} in {src.path}")


def config_and_layers(f: Fixture, src: Source, image: Image) -> tuple[bytes, list[bytes]]:
    if f.format == "docker-archive":
        entry = docker_entry(src, image)
        return src.read(entry["Config"]), [src.read(p) for p in entry["Layers"]]
    manifest = oci_manifest(src, image)
    return src.blob(manifest["config"]["digest"]), [
        src.blob(d["digest"]) for d in manifest["layers"]
    ]


def images(fixtures: FixtureSet, name: str) -> Iterator[tuple[Fixture, Source, Image]]:
    f = get(fixtures, name)
    with Source(f.path) as src:
        for image in f.images:
            yield f, src, image


# ----------------------------------------------------------------------- tests
@pytest.mark.parametrize("name", ALL)
def test_config_and_layers_match_the_recorded_expectations(fixtures: FixtureSet, name: str) -> None:
    for f, src, image in images(fixtures, name):
        config_bytes, layers = config_and_layers(f, src, image)
        assert sha256(config_bytes) == image.id
        config = json.loads(config_bytes)
        assert config["rootfs"]["diff_ids"] == image.diff_ids
        history = config.get("history", [])
        assert len(history) == image.history
        assert [h.get("created_by", "") for h in history] == image.created_by
        non_empty = [h for h in history if not h.get("empty_layer")]
        assert len(non_empty) == len(image.diff_ids)
        assert [sha256(uncompressed(layer)) for layer in layers] == image.diff_ids


def test_all_fixtures_are_described(fixtures: FixtureSet) -> None:
    assert sorted([*fixtures.fixtures, *fixtures.skipped]) == sorted(ALL)
    assert fixtures.tools["dockerd"].startswith("Docker version 20.10")
    assert all(v != "?" for v in fixtures.tools.values())


def test_docker_legacy_layout_has_real_layer_tar_files(fixtures: FixtureSet) -> None:
    for name in ("docker-legacy-single", "docker-legacy-del"):
        for _f, src, image in images(fixtures, name):
            entry = docker_entry(src, image)
            assert image.tags == entry["RepoTags"]
            for path in entry["Layers"]:
                v1id, base = path.split("/")
                assert HEX.match(v1id) and base == "layer.tar"
                assert src.member(path).isfile()
                assert src.member(f"{v1id}/json").isfile()
                assert src.member(f"{v1id}/VERSION").isfile()
            assert src.member("repositories").isfile()
            names = src.tar.getnames() if src.tar else []
            assert "oci-layout" not in names and "index.json" not in names


def test_docker_legacy_multi_links_shared_layers(fixtures: FixtureSet) -> None:
    """Docker 20.10 stores each shared layer once; other <v1id>/layer.tar are symlinks."""
    f = get(fixtures, "docker-legacy-multi")
    with Source(f.path) as src:
        entries = src.json("manifest.json")
        paths = {p for e in entries for p in e["Layers"]}
        files = [p for p in paths if src.member(p).isfile()]
        links = [src.member(p).linkname for p in paths if src.member(p).issym()]
    assert sorted(e["RepoTags"] for e in entries) == sorted(i.tags for i in f.images)
    assert len(files) == 4 and len(files) + len(links) == len(paths)
    assert all(re.match(r"^\.\./[0-9a-f]{64}/layer\.tar$", target) for target in links)


@pytest.mark.parametrize(
    "name",
    [
        "base-skopeo",
        "podman-docker",
        "podman-docker-multi",
        "skopeo-docker",
        "podman-overlay-opaque",
    ],
)
def test_podman_skopeo_layout_has_symlinked_layer_tar(fixtures: FixtureSet, name: str) -> None:
    f = get(fixtures, name)
    with Source(f.path) as src:
        assert src.tar is not None
        links = [m for m in src.tar.getmembers() if m.name.endswith("/layer.tar")]
        for image in f.images:
            entry = docker_entry(src, image)
            assert entry["Layers"] == [d.split(":")[1] + ".tar" for d in image.diff_ids]
            assert all(src.member(p).isfile() for p in entry["Layers"])
    diff_hex = {d.split(":")[1] for i in f.images for d in i.diff_ids}
    assert links and all(m.issym() for m in links)
    for m in links:
        target = m.linkname.removeprefix("../").removesuffix(".tar")
        assert m.linkname.startswith("../") and target in diff_hex


def test_podman_multi_archive_shares_layer_files(fixtures: FixtureSet) -> None:
    f = get(fixtures, "podman-docker-multi")
    with Source(f.path) as src:
        entries = src.json("manifest.json")
    assert len(entries) == 4
    assert len({p for e in entries for p in e["Layers"]}) == 4
    stacks = [i.diff_ids for i in f.images]
    for lower, upper in itertools.pairwise(stacks):
        assert upper[: len(lower)] == lower and len(upper) == len(lower) + 1


@pytest.mark.parametrize(
    ("name", "magic", "suffix"),
    [
        ("skopeo-oci-gzip", GZIP, "+gzip"),
        ("skopeo-oci-gzip-archive", GZIP, "+gzip"),
        ("skopeo-oci-zstd", ZSTD, "+zstd"),
        ("umoci-oci", GZIP, "+gzip"),
    ],
)
def test_oci_layer_compression(fixtures: FixtureSet, name: str, magic: bytes, suffix: str) -> None:
    for f, src, image in images(fixtures, name):
        assert src.read("oci-layout") and json.loads(src.read("oci-layout"))
        for desc, diff_id in zip(oci_manifest(src, image)["layers"], image.diff_ids, strict=True):
            data = src.blob(desc["digest"])
            assert desc["mediaType"] == "application/vnd.oci.image.layer.v1.tar" + suffix
            assert data.startswith(magic) and desc["digest"] != diff_id
        assert f.compression == (suffix.lstrip("+") or "none")


def test_podman_uncompressed_oci_layers_are_mislabelled_gzip(fixtures: FixtureSet) -> None:
    """podman 4.3.1 `save --uncompressed` writes plain tar layers labelled tar+gzip."""
    for f, src, image in images(fixtures, "podman-oci-uncompressed"):
        assert "labels them tar+gzip" in f.notes and f.compression == "none"
        for desc, diff_id in zip(oci_manifest(src, image)["layers"], image.diff_ids, strict=True):
            data = src.blob(desc["digest"])
            assert desc["mediaType"] == "application/vnd.oci.image.layer.v1.tar+gzip"
            assert data[257:262] == b"ustar" and desc["digest"] == diff_id


def test_oci_conversion_rewrote_the_config(fixtures: FixtureSet) -> None:
    """podman/skopeo OCI outputs of a docker image carry a new config (so a new ID)."""
    docker_id = get(fixtures, "docker-legacy-single").image.id
    for name in ("skopeo-oci-gzip", "skopeo-oci-zstd", "podman-oci-uncompressed"):
        image = get(fixtures, name).image
        assert image.source_id == docker_id != image.id


def test_umoci_manifest_has_no_media_type(fixtures: FixtureSet) -> None:
    for _f, src, image in images(fixtures, "umoci-oci"):
        manifest = oci_manifest(src, image)
        assert "mediaType" not in manifest
        assert manifest["schemaVersion"] == 2
        history = json.loads(src.blob(manifest["config"]["digest"]))["history"]
        assert [bool(h.get("empty_layer")) for h in history] == [False, True, False]


def top_layer(fixtures: FixtureSet, name: str) -> list[str]:
    f = get(fixtures, name)
    with Source(f.path) as src:
        return layer_names(config_and_layers(f, src, f.image)[1][-1])


def test_docker_del_has_plain_whiteouts_only(fixtures: FixtureSet) -> None:
    f = get(fixtures, "docker-legacy-del")
    assert f.whiteouts == [".wh.file1", "srv/dir/.wh.old"] and not f.opaque_whiteouts
    names = top_layer(fixtures, "docker-legacy-del")
    assert {".wh.file1", "srv/dir/.wh.old", "srv/dir/new"} <= set(names)


def test_overlay_fixture_has_an_opaque_directory(fixtures: FixtureSet) -> None:
    f = get(fixtures, "podman-overlay-opaque")
    assert f.opaque_whiteouts and f.whiteouts == ["dir/.wh..wh..opq"]
    names = top_layer(fixtures, "podman-overlay-opaque")
    assert {"dir/.wh..wh..opq", "dir/new"} <= set(names)
    opaque = [x.name for x in fixtures if x.opaque_whiteouts]
    assert opaque == ["podman-overlay-opaque"]


def test_umoci_fixture_whiteout(fixtures: FixtureSet) -> None:
    assert get(fixtures, "umoci-oci").whiteouts == ["dir/.wh.a"]
    assert {"dir/.wh.a", "dir/b"} <= set(top_layer(fixtures, "umoci-oci"))


def test_tags_are_named_as_each_tool_names_them(fixtures: FixtureSet) -> None:
    assert get(fixtures, "docker-legacy-single").image.tags == ["local/stack:3"]
    assert get(fixtures, "podman-docker").image.tags == ["localhost/local/stack:3"]
    assert get(fixtures, "skopeo-docker").image.tags == ["docker.io/local/stack:3"]
    assert get(fixtures, "skopeo-oci-gzip").image.ref == "local/stack:3"
