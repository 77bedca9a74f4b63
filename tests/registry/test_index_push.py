"""An image pulled from a multi-platform index is pushed back as that very index when it can be.

skopeo pushes a two-platform index; lamina pulls one platform. Pushed to another
repository of the same registry, the index goes up unchanged (its digest kept):
the other platform is copied there from the source repository (manifest read,
blobs mounted, nothing uploaded). To a registry that lacks the other platform, the
platform manifest goes alone, and the push says why in one line. buildx-style
attestation entries pulled with --with-referrers come from the store.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import lamina.api as api
from lamina.cli import main
from lamina.spec import Platform
from tests.fixtures.build import FixtureSet
from tests.peers import Podman, Registry
from tests.registry.artifacts import add_attestation
from tests.registry.conftest import sha256, skopeo
from tests.registry.test_pull import push_multi_platform
from tests.registry.test_referrers import raw_of

AMD64 = Platform.parse("linux/amd64")


def entries(raw: bytes) -> dict[str, str]:
    """Index entry digests by platform."""
    out = {}
    for d in json.loads(raw)["manifests"]:
        p = d.get("platform", {})
        out[f"{p.get('os')}/{p.get('architecture')}"] = d["digest"]
    return out


def copy_by_digest(podman: Podman, src: str, dest: str) -> None:
    skopeo(podman, "copy", "--src-tls-verify=false", "--dest-tls-verify=false",
           f"docker://{src}", f"docker://{dest}")  # fmt: skip


def test_same_registry_gets_the_very_index(
    store, tmp_path, registry: Registry, podman: Podman, fixtures: FixtureSet, repo: str
):
    ref = push_multi_platform(tmp_path / "layout", registry, podman, fixtures, repo)
    index = raw_of(podman, ref)
    api.registry.pull(store, ref, platform=AMD64)
    puts = registry.count("PUT", "/blobs/uploads/")
    target = f"{registry.host}/{repo}-copy"
    pushed = api.registry.push(store, ref, f"{target}:multi")
    assert (pushed.digest, pushed.index_note) == (sha256(index), "")
    assert raw_of(podman, f"{target}:multi") == index
    arm = entries(index)["linux/arm64"]
    assert sha256(raw_of(podman, f"{target}@{arm}")) == arm  # the other platform is there
    assert registry.count("PUT", "/blobs/uploads/") == puts  # all mounted, nothing uploaded
    assert api.inspect(store, [ref])[0]["RepoDigests"] == sorted(
        f"{registry.host}/{r}@{sha256(index)}" for r in (repo, f"{repo}-copy")
    )


def test_a_registry_without_the_other_platform_gets_the_platform_manifest(
    store, tmp_path, registry, start_registry: Callable[..., Registry], podman, fixtures, repo,
    capsys,
):  # fmt: skip
    ref = push_multi_platform(tmp_path / "layout", registry, podman, fixtures, repo)
    index = raw_of(podman, ref)
    amd = entries(index)["linux/amd64"]
    other = start_registry()
    copy_by_digest(podman, f"{ref.rsplit(':', 1)[0]}@{amd}", f"{other.host}/app:amd")
    api.registry.pull(store, ref, platform=AMD64)
    args = ["--store", str(store.root), "push", ref, f"{other.host}/app:multi"]
    capsys.readouterr()
    assert main(args) == 0
    out, err = capsys.readouterr()
    assert f"multi: digest: {amd} " in out  # the platform manifest, unchanged
    arm = entries(index)["linux/arm64"]
    assert err.count("\n") == 1
    assert "not the index it came in: platform linux/arm64/v8 " + arm[:19] in err
    assert sha256(raw_of(podman, f"{other.host}/app:multi")) == amd


def test_attestations_pulled_with_the_image_complete_the_index(
    store, tmp_path, registry, start_registry: Callable[..., Registry], podman, fixtures, repo
):
    ref = push_multi_platform(tmp_path / "layout", registry, podman, fixtures, repo)
    amd = entries(raw_of(podman, ref))["linux/amd64"]
    index = add_attestation(registry.url, repo, "multi", amd)
    pulled = api.registry.pull(store, ref, platform=AMD64, with_referrers=True)
    assert (pulled.digest, pulled.referrers) == (sha256(index), 1)
    other = start_registry()  # has both platforms (skopeo copied them), not the attestation
    name = ref.rsplit(":", 1)[0]
    for plat in ("linux/amd64", "linux/arm64"):
        copy_by_digest(podman, f"{name}@{entries(index)[plat]}", f"{other.host}/app:x")
    pushed = api.registry.push(store, ref, f"{other.host}/app:multi")
    assert (pushed.digest, pushed.index_note) == (sha256(index), "")
    assert raw_of(podman, f"{other.host}/app:multi") == index
    att = entries(index)["unknown/unknown"]
    assert sha256(raw_of(podman, f"{other.host}/app@{att}")) == att
