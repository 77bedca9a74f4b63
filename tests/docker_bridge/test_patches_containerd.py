"""A patched delta and containerd's archive importer (what Docker 25+ uses on its
containerd image store): refused at its first manifest entry, no image created.

(The importer copies every file of the tar into its content store while it reads the
tar, before it looks at manifest.json; what a refused import leaves there is
unreferenced and goes at containerd's next garbage collection, as for any refused
archive. No image, no snapshot is made.)"""

from __future__ import annotations

import lamina
from tests.delta.test_patches_peers import patched
from tests.docker_bridge.conftest import Containerd


def test_containerd_refuses_a_patched_delta_with_no_image_created(containerd: Containerd, tmp_path):
    sender, _, out = patched(tmp_path)
    app1 = tmp_path / "app1.tar"
    lamina.save(sender, ["local/app:1"], app1)
    imported = containerd.ctr("images", "import", "--snapshotter", "native", str(app1))
    assert imported.returncode == 0, imported.stderr
    before = _state(containerd)
    refused = containerd.ctr("images", "import", "--snapshotter", "native", str(out))
    assert refused.returncode != 0
    message = "this archive carries layer patches: use lamina load or lamina expand"
    assert message in refused.stderr
    assert _state(containerd) == before


def _state(containerd: Containerd) -> tuple[str, str]:
    images = containerd.ctr("images", "ls", "-q").stdout
    snapshots = containerd.ctr("snapshots", "--snapshotter", "native", "ls").stdout
    return images, snapshots
