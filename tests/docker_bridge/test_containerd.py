"""What `send --to-docker` streams into Docker's containerd image store, tried on the
stand-in containerd 1.6 (`ctr images import`, the importer Docker 25+ uses there)."""

from __future__ import annotations

from pathlib import Path

import lamina
from lamina.api.docker import CLASSIC, CONTAINERD, archive_writer
from lamina.api.save import images_for
from lamina.ops import delta
from tests.docker_bridge.conftest import Containerd
from tests.fixtures.build import FixtureSet


def test_containerd_takes_the_delta_with_an_oci_layout_and_refuses_it_without(
    containerd: Containerd, fixtures: FixtureSet, tmp_path: Path
) -> None:
    store = lamina.open_store(tmp_path / "store")
    lamina.load(store, str(fixtures["docker-legacy-multi"].path))
    imported = containerd.ctr(
        "images", "import", "--snapshotter", "native", str(fixtures["base-skopeo"].path)
    )
    assert imported.returncode == 0, imported.stderr
    [base] = images_for(store, ["local/base:1"])
    # As after a registry pull, the base is a snapshot but not its uncompressed blob.
    removed = containerd.ctr("content", "rm", base.diff_ids[0])
    assert removed.returncode == 0, removed.stderr
    images = images_for(store, ["local/stack:3"])
    plan = delta.plan(images, delta.chains_of([base]))
    assert plan.omit == {base.diff_ids[0]}
    archives = {}
    for kind in (CLASSIC, CONTAINERD):
        archives[kind] = tmp_path / f"{kind}.tar"
        with open(archives[kind], "wb") as f:
            archive_writer(kind, images, plan.omit)(f)
    refused = containerd.ctr("images", "import", "--snapshotter", "native", str(archives[CLASSIC]))
    assert refused.returncode != 0 and "failed to resolve layers" in refused.stderr
    taken = containerd.ctr("images", "import", "--snapshotter", "native", str(archives[CONTAINERD]))
    assert taken.returncode == 0, taken.stderr
    run = containerd.ctr(
        "run",
        "--snapshotter",
        "native",
        "--rm",
        "docker.io/local/stack:3",
        "lamina-t",
        "cat",
        "/file3",
    )
    assert run.returncode == 0 and run.stdout.strip() == "3", run.stderr
