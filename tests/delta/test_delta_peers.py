"""Delta archives in the real tools: plain `docker load` on a Docker that has the base,
and `lamina expand` for podman, which refuses archives with missing files."""

from __future__ import annotations

import json
from pathlib import Path

import lamina
from tests.builders import FakeImage, docker_archive, layer_tar, sha
from tests.delta.conftest import STACK


def docker_id(docker, ref: str) -> str:
    return str(docker.run("image", "inspect", "--format", "{{.Id}}", ref).stdout.strip())


def test_docker_with_only_the_base_loads_the_delta(
    clean_docker, seed, fixtures, expected, tmp_path
):
    clean_docker.run("load", "-i", str(fixtures["base-skopeo"].path))
    assert clean_docker.run("images", "-aq").stdout.split() == [expected["local/base:1"].id[7:19]]
    delta = tmp_path / "delta.tar"
    saved = lamina.api.delta.save_delta(seed, list(STACK), delta, exclude_base=True)
    assert saved.plan.omitted  # the base layer really is absent from the tar
    out = clean_docker.run("load", "-i", str(delta)).stdout
    assert sorted(out.splitlines()) == [f"Loaded image: {t}" for t in STACK]
    for tag in STACK:
        assert docker_id(clean_docker, tag) == expected[tag].id
    history = clean_docker.run(
        "history", "--no-trunc", "--format", "{{.CreatedBy}}", "local/stack:3"
    ).stdout.splitlines()
    assert history == list(reversed(expected["local/stack:3"].created_by))
    run = clean_docker.run("run", "--rm", "--network", "none", "local/stack:3", "cat", "/file3")
    assert run.stdout.strip() == "3"


def test_docker_without_the_base_refuses_the_delta(clean_docker, seed, tmp_path):
    delta = tmp_path / "delta.tar"
    lamina.api.delta.save_delta(seed, ["local/stack:3"], delta, exclude_base=True)
    cp = clean_docker.run("load", "-i", str(delta), check=False)
    base = lamina.get_image(seed, "local/base:1").image.diff_ids[0]
    assert cp.returncode != 0 and base[7:] in cp.stderr  # the base's file is not there
    assert clean_docker.run("images", "-aq").stdout.split() == []


def test_chain_ids_decide_what_docker_can_skip(clean_docker, tmp_path):
    """Docker holding layer x on one stack still needs x's file for another stack.

    Planning by chain ID (inventory, --exclude) carries it; leaving it out by diff_id
    alone makes an archive Docker refuses. That is why save plans by chain ID.
    """
    b, x, y = (layer_tar({n: n.encode() * 1000}) for n in ("b", "x", "y"))
    have = FakeImage([b, x], ["local/have:1"])
    want = FakeImage([b, y, x], ["local/want:1"])
    clean_docker.run("load", "-i", str(docker_archive([have], tmp_path / "have.tar")))
    sender = lamina.open_store(tmp_path / "sender")
    lamina.load(sender, str(docker_archive([have, want], tmp_path / "both.tar")))
    mirror = lamina.open_store(tmp_path / "mirror")  # what the Docker side holds
    lamina.load(mirror, str(docker_archive([have], tmp_path / "have2.tar")))
    inventory = lamina.api.delta.inventory(mirror)

    by_chain = tmp_path / "by-chain.tar"
    saved = lamina.api.delta.save_delta(sender, ["local/want:1"], by_chain, have=inventory)
    assert {layer.diff_id for layer in saved.plan.carried} == {sha(y), sha(x)}
    naive = tmp_path / "by-diff-id.tar"
    lamina.save(sender, ["local/want:1"], naive, omit_layers={sha(b), sha(x)})

    cp = clean_docker.run("load", "-i", str(naive), check=False)
    assert cp.returncode != 0 and sha(x)[7:] in cp.stderr  # Docker wants x's file after all
    clean_docker.run("load", "-i", str(by_chain))
    assert docker_id(clean_docker, "local/want:1") == want.id


def test_podman_refuses_the_delta_but_loads_it_expanded(
    clean_podman, seed, base_only, expected, tmp_path
):
    delta = tmp_path / "delta.tar"
    lamina.api.delta.save_delta(seed, list(STACK), delta, exclude_base=True)
    clean_podman.run("podman", "load", "-i", str(expected_base_archive(seed, tmp_path)))
    cp = clean_podman.run("podman", "load", "-i", str(delta), check=False)
    assert cp.returncode != 0  # even though it has the base (docs/testing.md §8)

    full = tmp_path / "full.tar"
    cp_lamina = lamina.api.delta.expand(base_only, str(delta), full)
    assert len(cp_lamina.filled) == 1
    clean_podman.run("podman", "load", "-i", str(full))
    for tag in STACK:
        got = clean_podman.run("podman", "image", "inspect", "--format", "{{.Id}}", tag).stdout
        assert "sha256:" + got.strip().removeprefix("sha256:") == expected[tag].id
    run = clean_podman.run("podman", "run", "--rm", "local/stack:3", "cat", "/file3")
    assert run.stdout.strip() == "3"
    # skopeo reads it too, as a docker-archive and through its OCI index
    raw = clean_podman.run(
        "skopeo", "inspect", "--raw", "--config", f"oci-archive:{full}:local/stack:3"
    ).stdout
    assert json.loads(raw)["rootfs"]["diff_ids"] == expected["local/stack:3"].diff_ids


def expected_base_archive(seed: lamina.Store, tmp_path: Path) -> Path:
    out = tmp_path / "base.tar"
    lamina.save(seed, ["local/base:1"], out)
    return out
