"""Short names of OCI layouts (skopeo `oci:DIR:NAME`, umoci `DIR:TAG`) load as podman
loads them: a ref.name without `/` becomes `localhost/NAME`, `:latest` when untagged.

podman is the oracle: each layout is loaded by `podman load` and by lamina, and the
names must agree. A ref.name podman refuses (not a valid name) leaves lamina's image
untagged rather than failing the load.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

import lamina.api as lamina
from tests.fixtures.build import FixtureSet
from tests.lamina_cli import run_lamina
from tests.peers import Podman, Umoci


def podman_loads_as(podman: Podman, archive: Path) -> str:
    out = podman.run("podman", "load", "-i", str(archive)).stdout
    line = next(x for x in out.splitlines() if x.startswith("Loaded image"))
    return line.split(": ", 1)[1].strip()


def tar_of(layout: Path, out: Path) -> Path:
    subprocess.run(["tar", "-C", str(layout), "-cf", str(out), "."], check=True)
    return out


def ref_name(layout: Path) -> str:
    index = json.loads((layout / "index.json").read_text())
    name: str = index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"]
    return name


@pytest.mark.parametrize("short", ["myname", "app:2"])
def test_skopeo_short_names_load_as_podman_names_them(
    clean_podman: Podman, fixtures: FixtureSet, tmp_path: Path, short: str
):
    layout = tmp_path / "layout"
    src = f"docker-archive:{fixtures['skopeo-docker'].path}"
    clean_podman.run("skopeo", "copy", src, f"oci:{layout}:{short}")
    assert ref_name(layout) == short  # what skopeo writes: the bare name, no repository
    expected = podman_loads_as(clean_podman, tar_of(layout, tmp_path / "l.tar"))
    assert expected.startswith("localhost/")
    for source in (layout, tmp_path / "l.tar"):  # a directory and an oci-archive alike
        store = lamina.open_store(tmp_path / f"store-{source.name}")
        (loaded,) = lamina.load(store, str(source))
        assert list(loaded.names) == [expected]
        assert lamina.get_image(store, expected).id == loaded.id


def test_umoci_tag_loads_as_podman_names_it(
    clean_podman: Podman, umoci: Umoci, fixtures: FixtureSet, tmp_path: Path
):
    layout = tmp_path / "umoci"
    shutil.copytree(fixtures["umoci-oci"].path, layout)
    # podman loads one image per oci-archive, so it sees umoci's own layout (tag "1")
    assert podman_loads_as(clean_podman, tar_of(layout, tmp_path / "u.tar")) == (
        "localhost/1:latest"
    )
    umoci.run("tag", "--image", f"{layout}:1", "edge")  # a second short tag, same image
    res = run_lamina(tmp_path / "store", "load", "-i", str(layout), check=True)
    lines = res.stdout.decode().splitlines()
    assert sorted(lines) == [
        "Loaded image: localhost/1:latest",
        "Loaded image: localhost/edge:latest",
    ]


def test_short_name_podman_refuses_leaves_the_image_untagged(
    podman: Podman, fixtures: FixtureSet, tmp_path: Path
):
    layout = tmp_path / "layout"
    podman.run(
        "skopeo", "copy", f"docker-archive:{fixtures['skopeo-docker'].path}", f"oci:{layout}:Upper"
    )
    refused = podman.run(
        "podman", "load", "-i", str(tar_of(layout, tmp_path / "u.tar")), check=False
    )
    assert refused.returncode != 0 and "must be lowercase" in refused.stderr
    store = lamina.open_store(tmp_path / "store")
    (loaded,) = lamina.load(store, str(layout))
    assert loaded.names == ()
