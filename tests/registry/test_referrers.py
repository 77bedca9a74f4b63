"""--with-referrers: a cosign signature tag and an OCI 1.1 referrer survive pull and push.

The registry (distribution 2.8) has no referrers API: a GET of
/v2/NAME/referrers/DIGEST is a 404, so lamina reads the referrers tag schema,
as the distribution spec asks, and keeps it up to date when it pushes. skopeo
is the oracle: the artifacts it reads back in the target are byte for byte the
ones pushed at the source, and still name the image's digest.
"""

from __future__ import annotations

import json
import tarfile
from collections.abc import Callable

import pytest

import lamina.api as api
from lamina.cli import main
from tests.peers import Podman, Registry
from tests.registry.artifacts import OCI_MANIFEST, cosign_signature, oci_referrer, subject_of
from tests.registry.conftest import load_stack, sha256, skopeo
from tests.registry.referrers_shim import Shim
from tests.registry.test_digests import skopeo_push


def raw_of(podman: Podman, ref: str) -> bytes:
    out = skopeo(podman, "inspect", "--tls-verify=false", "--raw", f"docker://{ref}", text=False)
    assert isinstance(out, bytes)
    return out


@pytest.fixture
def signed(store, tmp_path, registry: Registry, repo: str) -> dict:
    """An image in the registry with a cosign signature tag and an OCI SBOM referrer."""
    sender = api.open_store(tmp_path / "sender")
    load_stack(sender, tmp_path, 3)
    ref = f"{registry.host}/{repo}:1"
    pushed = api.registry.push(sender, "local/stack:2", ref)
    tag, sig = cosign_signature(registry.url, repo, pushed.digest)
    subject = subject_of(pushed.digest, pushed.size, OCI_MANIFEST)
    sbom = oci_referrer(registry.url, repo, subject, b'{"spdxVersion": "SPDX-2.3"}')
    return {"ref": ref, "digest": pushed.digest, "tag": tag, "sig": sig, "sbom": sbom}


def check_carried(podman: Podman, target: str, signed: dict) -> None:
    """In `target` (host/repo): the signature tag and the referrer, unchanged, naming the image."""
    sig = raw_of(podman, f"{target}:{signed['tag']}")
    assert sig == signed["sig"]
    sbom = raw_of(podman, f"{target}@{sha256(signed['sbom'])}")
    assert sbom == signed["sbom"]
    assert json.loads(sbom)["subject"]["digest"] == signed["digest"]
    listed = json.loads(raw_of(podman, f"{target}:{signed['digest'].replace(':', '-')}"))
    assert [m["digest"] for m in listed["manifests"]] == [sha256(signed["sbom"])]
    assert listed["manifests"][0]["artifactType"] == "application/spdx+json"


def test_signature_and_referrer_survive_pull_and_push(
    store, registry: Registry, podman: Podman, repo: str, signed: dict
):
    before = registry.count("GET", "/referrers/")
    pulled = api.registry.pull(store, signed["ref"], with_referrers=True)
    assert pulled.referrers == 2
    assert registry.count("GET", "/referrers/") == before + 1  # asked once, then the tag schema
    kept = api.inspect(store, [signed["ref"]])[0]["Referrers"]
    assert sorted(k["Digest"] for k in kept) == sorted(
        [sha256(signed["sig"]), sha256(signed["sbom"])]
    )
    target = f"{registry.host}/{repo}-mirror"
    pushed = api.registry.push(store, signed["ref"], f"{target}:1", with_referrers=True)
    assert (pushed.digest, pushed.referrers, pushed.referrers_left) == (signed["digest"], 2, 0)
    assert pushed.note == ""  # the manifest made again is the received one, byte for byte
    check_carried(podman, target, signed)


def test_referrers_reach_another_registry(
    store, tmp_path, registry: Registry, start_registry: Callable[..., Registry], podman, signed
):
    other = start_registry()
    api.registry.pull(store, signed["ref"], with_referrers=True)
    # the image itself is copied by skopeo (so its manifest is the same); lamina adds the rest
    target = f"{other.host}/signed/app"
    skopeo(podman, "copy", "--all", "--src-tls-verify=false", "--dest-tls-verify=false",
           f"docker://{signed['ref']}", f"docker://{target}:1")  # fmt: skip
    pushed = api.registry.push(store, signed["ref"], f"{target}:1", with_referrers=True)
    assert (pushed.digest, pushed.referrers) == (signed["digest"], 2)
    check_carried(podman, target, signed)


def test_without_the_flag_nothing_is_asked_or_kept(store, registry: Registry, signed: dict):
    before = registry.count("GET", "/referrers/")
    api.registry.pull(store, signed["ref"])
    assert registry.count("GET", "/referrers/") == before
    assert api.inspect(store, [signed["ref"]])[0].get("Referrers", []) == []


def test_a_remade_manifest_leaves_its_signatures_out(
    store, registry: Registry, repo: str, signed: dict, capsys
):
    api.registry.pull(store, signed["ref"], with_referrers=True)
    args = ["--store", str(store.root), "push", "--with-referrers", "--compress", "zstd"]
    assert main([*args, signed["ref"], f"{registry.host}/{repo}-zstd:1"]) == 0
    err = capsys.readouterr().err
    assert "2 referrer(s) left out" in err


def test_referrers_go_with_their_image(store, registry: Registry, signed: dict):
    api.registry.pull(store, signed["ref"], with_referrers=True)
    folder = store.state / "artifacts"
    assert len(list(folder.iterdir())) == 6  # two manifests, two configs, two layers
    assert api.system.check(store) == []
    api.rmi(store, [signed["ref"]])
    assert list(folder.iterdir()) == []


def test_a_damaged_referrer_is_found_by_system_check(store, registry: Registry, signed: dict):
    api.registry.pull(store, signed["ref"], with_referrers=True)
    victim = store.state / "artifacts" / sha256(signed["sig"]).split(":")[1]
    victim.write_bytes(victim.read_bytes()[:-1])
    found = api.system.check(store)
    assert [(f.kind, f.subject) for f in found] == [("corrupt", sha256(signed["sig"]))]


def test_skopeo_pushed_image_keeps_its_signature_across_repositories(
    store, registry: Registry, podman: Podman, fixtures, repo: str
):
    ref = f"{registry.host}/{repo}:s"
    skopeo_push(podman, f"docker-archive:{fixtures['skopeo-docker'].path}", ref)
    image_digest = sha256(raw_of(podman, ref))
    tag, sig = cosign_signature(registry.url, repo, image_digest)
    api.registry.pull(store, ref, with_referrers=True)
    target = f"{registry.host}/{repo}-copy"
    api.registry.push(store, ref, f"{target}:s", with_referrers=True)
    assert sha256(raw_of(podman, f"{target}:s")) == image_digest
    assert raw_of(podman, f"{target}:{tag}") == sig


def test_save_puts_referrers_in_the_oci_layout(
    store, tmp_path, registry: Registry, podman: Podman, signed: dict
):
    api.registry.pull(store, signed["ref"], with_referrers=True)
    out = tmp_path / "signed.tar"
    assert main(["--store", str(store.root), "save", "--format", "oci-archive",
                 "--with-referrers", "-o", str(out), signed["ref"]]) == 0  # fmt: skip
    sig = skopeo(podman, "inspect", "--raw", f"oci-archive:{out}:{signed['tag']}", text=False)
    assert sig == signed["sig"]  # the cosign tag is a ref name of the layout
    with tarfile.open(out) as tar:
        index = json.loads(tar.extractfile("index.json").read())  # type: ignore[union-attr]
        sbom = sha256(signed["sbom"])
        assert tar.extractfile(f"blobs/sha256/{sbom[7:]}").read() == signed["sbom"]  # type: ignore[union-attr]
        for blob in json.loads(signed["sbom"])["layers"]:
            assert tar.getmember(f"blobs/sha256/{blob['digest'][7:]}").size == blob["size"]
    listed = {m["digest"]: m.get("annotations", {}) for m in index["manifests"]}
    assert listed[sbom] == {}  # an OCI referrer is listed untagged, as oras lists them
    image = skopeo(podman, "inspect", "--raw", f"oci-archive:{out}:{signed['ref']}", text=False)
    assert json.loads(image)["layers"]  # the image is still the archive's image
    other = api.open_store(tmp_path / "other")
    assert [r.id for r in api.load(other, str(out))] == [api.get_image(store, signed["ref"]).id]
    restored = f"{registry.host}/restored/app:{signed['tag']}"  # skopeo restores the signature
    skopeo(podman, "copy", "--preserve-digests", "--dest-tls-verify=false",
           f"oci-archive:{out}:{signed['tag']}", f"docker://{restored}")  # fmt: skip
    assert raw_of(podman, restored) == signed["sig"]
    layout = tmp_path / "layout"  # an oci-dir holds the same
    api.save(store, signed["ref"], layout, fmt="oci-dir", with_referrers=True)
    assert skopeo(podman, "inspect", "--raw", f"oci:{layout}:{signed['tag']}", text=False) == sig
    assert (layout / "blobs" / "sha256" / sbom[7:]).read_bytes() == signed["sbom"]


def test_save_refuses_referrers_in_a_docker_archive(store, tmp_path, registry, signed, capsys):
    api.registry.pull(store, signed["ref"], with_referrers=True)
    args = ["--store", str(store.root), "save", "--with-referrers", "-o", str(tmp_path / "x")]
    assert main([*args, signed["ref"]]) == 2
    assert "oci-archive" in capsys.readouterr().err


def test_the_referrers_api_is_used_when_the_registry_has_it(
    store, registry: Registry, podman: Podman, repo: str, signed: dict
):
    """Through the shim (referrers_shim.py): listed by the API, never by the tag schema."""
    shim = Shim(registry.url)
    try:
        sbom = json.loads(signed["sbom"])
        shim.listed[signed["digest"]] = [
            {"mediaType": OCI_MANIFEST, "digest": sha256(signed["sbom"]),
             "size": len(signed["sbom"]), "artifactType": sbom["artifactType"]}
        ]  # fmt: skip
        ref = signed["ref"].replace(registry.host, shim.host)
        pulled = api.registry.pull(store, ref, with_referrers=True)
        assert (pulled.referrers, shim.api_calls) == (2, 1)
        target = f"{shim.host}/{repo}-api"
        pushed = api.registry.push(store, ref, f"{target}:1", with_referrers=True)
        assert pushed.referrers == 2
        assert shim.tag_schema_puts == 0  # the registry indexed the subject itself
    finally:
        shim.close()
    copy = f"{registry.host}/{repo}-api"
    assert raw_of(podman, f"{copy}@{sha256(signed['sbom'])}") == signed["sbom"]
    assert raw_of(podman, f"{copy}:{signed['tag']}") == signed["sig"]


def test_a_lamina_pushed_image_keeps_digest_and_signatures_in_an_empty_registry(
    store, start_registry: Callable[..., Registry], podman: Podman, signed: dict
):
    """Recompressed as lamina compressed it first, each layer is the very blob it came as."""
    other = start_registry()
    api.registry.pull(store, signed["ref"], with_referrers=True)
    target = f"{other.host}/fresh/app"
    pushed = api.registry.push(store, signed["ref"], f"{target}:1", with_referrers=True)
    assert (pushed.digest, pushed.referrers, pushed.referrers_left) == (signed["digest"], 2, 0)
    assert pushed.note == ""  # the manifest made again is the received one, byte for byte
    check_carried(podman, target, signed)
