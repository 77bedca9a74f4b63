"""True digests: RepoDigests as the registry serves them, and manifests pushed back unchanged.

skopeo is the oracle: the digest lamina records and prints must be the one
`skopeo inspect` reports for the same reference.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

import lamina.api as api
from lamina.cli import main
from tests.fixtures.build import FixtureSet
from tests.peers import Podman, Registry
from tests.registry.conftest import load_stack, skopeo


def skopeo_digest(podman: Podman, ref: str) -> str:
    out = skopeo(podman, "inspect", "--tls-verify=false", f"docker://{ref}")
    assert isinstance(out, str)
    digest: str = json.loads(out)["Digest"]
    return digest


def skopeo_push(podman: Podman, source: str, dest: str, *args: str) -> None:
    skopeo(podman, "copy", "--dest-tls-verify=false", *args, source, f"docker://{dest}")


def cli(store: api.Store, capsys: pytest.CaptureFixture[str], *args: str) -> str:
    capsys.readouterr()
    assert main(["--store", str(store.root), *args]) == 0
    return capsys.readouterr().out


def repo_digests(store: api.Store, name: str) -> list[str]:
    found: list[str] = api.inspect(store, [name])[0]["RepoDigests"]
    return found


@pytest.fixture
def skopeo_image(registry: Registry, podman: Podman, fixtures: FixtureSet, repo: str) -> str:
    """A reference skopeo pushed (gzip, Docker v2 schema 2, skopeo's own compressed bytes)."""
    ref = f"{registry.host}/{repo}:3"
    skopeo_push(podman, f"docker-archive:{fixtures['skopeo-docker'].path}", ref)
    return ref


def test_repo_digests_are_the_registrys(store, tmp_path, podman: Podman, skopeo_image, capsys):
    ref = skopeo_image
    name = ref.rsplit(":", 1)[0]
    served = skopeo_digest(podman, ref)
    pulled = api.registry.pull(store, ref)
    assert pulled.digest == served
    assert repo_digests(store, ref) == [f"{name}@{served}"]
    api.registry.pull(store, ref)  # again: still once
    assert repo_digests(store, ref) == [f"{name}@{served}"]
    assert served != api.inspect(store, [ref])[0]["Metadata"]["ManifestDigest"]
    table = cli(store, capsys, "images", "--digests").splitlines()
    assert table[0].split()[:3] == ["REPOSITORY", "TAG", "DIGEST"]
    assert table[1].split()[:3] == [name, "3", served]
    rows = json.loads(cli(store, capsys, "images", "--json"))
    assert [r["Digest"] for r in rows] == [served]

    # the digest lamina reports pins the image, in a store that never saw it
    other = api.open_store(tmp_path / "other")
    pinned = api.registry.pull(other, f"{name}@{served}")
    assert pinned.id == pulled.id and pinned.digest == served
    assert repo_digests(other, pulled.id) == [f"{name}@{served}"]
    # and names it there, as Docker resolves a RepoDigest
    assert api.get_image(other, f"{name}@{served}").id == pulled.id
    assert api.inspect(store, [f"{name}@{served}"])[0]["Id"] == pulled.id


def test_loaded_images_have_no_repo_digests(store, tmp_path, capsys):
    load_stack(store, tmp_path, 2)
    assert repo_digests(store, "local/stack:1") == []
    table = cli(store, capsys, "images", "--digests", "local/stack").splitlines()
    assert table[1].split()[:3] == ["local/stack", "1", "<none>"]


def test_push_json_prints_the_digest_the_registry_serves(
    store, tmp_path, registry: Registry, podman: Podman, repo, capsys
):
    load_stack(store, tmp_path, 2)
    ref = f"{registry.host}/{repo}:1"
    digestfile = tmp_path / "digest"
    doc = json.loads(
        cli(store, capsys, "push", "--json", "--digestfile", str(digestfile), "local/stack:1", ref)
    )
    served = skopeo_digest(podman, ref)
    assert digestfile.read_text() == served
    assert doc["Digest"] == served and doc["Reference"] == ref
    assert doc["RepoDigest"] == f"{registry.host}/{repo}@{served}"
    assert repo_digests(store, "local/stack:1") == [doc["RepoDigest"]]


@pytest.mark.parametrize(("fmt", "compress"), [("v2s2", "gzip"), ("oci", "zstd")])
def test_pulled_image_pushed_unchanged_keeps_its_digest(
    store, registry: Registry, podman: Podman, fixtures: FixtureSet, repo, fmt, compress
):
    ref = f"{registry.host}/{repo}:3"
    source = f"docker-archive:{fixtures['skopeo-docker'].path}"
    skopeo_push(podman, source, ref, "--format", fmt, "--dest-compress-format", compress)
    served = skopeo_digest(podman, ref)
    api.registry.pull(store, ref)
    target = f"{registry.host}/{repo}-copy:3"
    pushed = api.registry.push(store, ref, target)
    assert pushed.note == ""
    assert pushed.digest == served == skopeo_digest(podman, target)
    assert {x.how for x in pushed.layers} == {"mounted"}
    assert registry.count("PUT", f"/{repo}-copy/blobs/") == 0
    assert f"{registry.host}/{repo}-copy@{served}" in repo_digests(store, ref)
    # asking for a compression makes a new manifest, as before
    again = api.registry.push(store, ref, f"{registry.host}/{repo}-gz:3", compression="gzip")
    assert again.note == "" and again.digest != served


def test_unreachable_blobs_make_a_new_manifest_and_say_so(
    store, registry: Registry, podman: Podman, skopeo_image, start_registry: Callable[..., Registry]
):
    served = skopeo_digest(podman, skopeo_image)
    api.registry.pull(store, skopeo_image)
    elsewhere = start_registry()  # another registry: nothing to mount from
    target = f"{elsewhere.host}/moved/img:3"
    pushed = api.registry.push(store, skopeo_image, target)
    assert "cannot be mounted" in pushed.note
    assert pushed.digest == skopeo_digest(podman, target) != served
    assert elsewhere.count("PUT", "/moved/img/manifests/") == 1  # the received one never went
    pulled = api.registry.pull(api.open_store(store.root.parent / "check"), target)
    assert pulled.id == api.get_image(store, skopeo_image).id


def test_the_source_repository_is_enough_without_the_blob_memory(
    store, registry: Registry, podman: Podman, skopeo_image, repo
):
    served = skopeo_digest(podman, skopeo_image)
    api.registry.pull(store, skopeo_image)
    (store.root / "lamina" / "blobinfo.json").unlink()  # a cache: losing it costs no digest
    pushed = api.registry.push(store, skopeo_image, f"{registry.host}/{repo}-bare:3")
    assert pushed.note == "" and pushed.digest == served
    assert {x.source for x in pushed.layers} == {repo}


def test_a_removed_image_loaded_again_has_no_repo_digests(store, tmp_path, registry, repo):
    sender = api.open_store(tmp_path / "sender")
    load_stack(sender, tmp_path, 2)
    ref = f"{registry.host}/{repo}:1"
    pushed = api.registry.push(sender, "local/stack:1", ref)
    api.registry.pull(store, ref)
    assert repo_digests(store, ref) == [f"{registry.host}/{repo}@{pushed.digest}"]
    api.rmi(store, [ref])
    assert not list((store.root / "lamina" / "manifests").iterdir())
    load_stack(store, tmp_path, 2)  # the very same image, from a file
    assert repo_digests(store, "local/stack:1") == []
