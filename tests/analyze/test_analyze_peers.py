"""analyze on images the real tools made (fixtures from tests/fixtures/build.py), and
per-layer sizes checked against `docker history` in a real dockerd."""

from __future__ import annotations

from pathlib import Path

import pytest

import lamina
from tests.fixtures.build import NAMES

# the same local/stack:3 as docker made it, converted by skopeo (every compression)
CONVERSIONS = ("skopeo-docker", "skopeo-oci-gzip", "skopeo-oci-gzip-archive", "skopeo-oci-zstd")


def _analysis(fixtures, name: str, image: str | None = None) -> lamina.Report:
    fixture = fixtures[name]
    if image is None and len(fixture.images) > 1:
        image = fixture.images[-1].ref
    return lamina.analyze_archive(str(fixture.path), image=image)


@pytest.mark.parametrize("name", NAMES)
def test_every_fixture(fixtures, name):
    report = _analysis(fixtures, name)
    a = report.analysis
    assert len(a.layers) == len(fixtures[name].images[-1].diff_ids)
    assert [x.diff_id for x in a.layers] == list(fixtures[name].images[-1].diff_ids)
    assert a.final_size <= a.size and a.wasted == a.size - a.final_size
    assert 0 < a.efficiency <= 1


@pytest.mark.parametrize("name", CONVERSIONS)
def test_conversions_count_the_same(fixtures, name):
    docker_made = _analysis(fixtures, "docker-legacy-single").analysis
    converted = _analysis(fixtures, name).analysis
    assert [x.count for x in converted.layers] == [x.count for x in docker_made.layers]
    assert converted.efficiency == docker_made.efficiency


def test_docker_made_deletions(fixtures):
    """local/del:1: busybox, then echo 1 > /file1 (2 bytes), ..., echo old >
    /srv/dir/old (4 bytes), then rm /file1 && rm -r /srv/dir && mkdir /srv/dir ..."""
    a = _analysis(fixtures, "docker-legacy-del").analysis
    assert [x.count.wasted for x in a.layers] == [0, 2, 0, 0, 4, 0]
    assert a.layers[-1].count.removed == 2 and a.layers[-1].count.removed_bytes == 6
    assert [w.path for w in a.repeated_paths] == ["srv/dir/old", "file1"]
    assert [(w.path, w.by, w.size, w.made) for w in a.wasted_paths] == [
        ("srv/dir/old", 5, 4, (4,)),
        ("file1", 5, 2, (1,)),
    ]


def test_podman_opaque_directory(fixtures):
    a = _analysis(fixtures, "podman-overlay-opaque", "localhost/local/opq:2").analysis
    top = a.layers[-1].count
    assert (top.removed, top.removed_bytes) == (1, 4)
    assert a.wasted == 4


@pytest.mark.parametrize("name", ["docker-legacy-del", "podman-overlay-opaque", "umoci-oci"])
def test_advice_is_what_the_squash_does(fixtures, tmp_path: Path, name):
    store = lamina.open_store(tmp_path / "s")
    lamina.load(store, str(fixtures[name].path))
    img = max(store.images(), key=lambda i: len(i.image.layers))
    report = lamina.analyze(store, img.id, advise=100)
    assert report.analysis.candidates
    before = sum(x.size for x in img.image.layers)
    for advice in report.analysis.candidates:
        done = lamina.squash(store, img.id, layers=str(advice.span))
        after = sum(x.size for x in lamina.get_image(store, done.id).image.layers)
        assert before - after == advice.saves, str(advice.span)


def test_sizes_are_dockers(fixtures, clean_docker):
    """`docker history --human=false` gives each layer's size; ours are the same."""
    fixture = fixtures["docker-legacy-del"]
    clean_docker.run("load", "-i", str(fixture.path))
    rows = clean_docker.run(
        "history", "--no-trunc", "--human=false", "--format", "{{.Size}}", "local/del:1"
    ).stdout.split()
    layers = _analysis(fixtures, "docker-legacy-del").analysis.layers
    history = [int(size) for size in reversed(rows)]  # bottom first, one per history entry
    made = [size for size, empty in zip(history, _empty_layers(fixture), strict=True) if not empty]
    assert made == [x.count.size for x in layers]
    assert made[0] > 1_000_000  # busybox: not a trivial match


def _empty_layers(fixture) -> list[bool]:
    """empty_layer of each history entry of the fixture's image, bottom first."""
    import json
    import tarfile

    with tarfile.open(fixture.path) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))
        config = json.load(tar.extractfile(manifest[0]["Config"]))
    return [bool(h.get("empty_layer")) for h in config["history"]]
