"""Every checklist stack, every range: the squashed image's filesystem, as real Docker
20.10 (`docker create` + `docker export`) and `umoci unpack` apply it, equals the
original's. And a squashed image runs in Docker and podman."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path
from typing import Any

import pytest

import lamina
from tests.builders import sha
from tests.kit import validate_archive, validate_store
from tests.kit.layers import layer_bytes
from tests.layer.stacks import disk_view, ranges
from tests.layer.test_squash import STACKS
from tests.peers import PeerError

Facts = dict[str, tuple[Any, ...]]

# Stacks the real tool cannot apply at all (so there is no "original" to compare with):
# for these only the full squash, which is always well-formed, is checked to load.
DOCKER_REFUSES = {
    "dir deleted and re-created in one layer": "chtimes /d: no such file or directory",
    "entry below a symlink of the same layer": "open /s/x: no such file or directory",
    "entry below a file of a lower layer": "open /f/x: not a directory",
    "whiteout below a file is ignored": "unlinkat /f/x: not a directory",
}
UMOCI_REFUSES = {
    "entry below a file of a lower layer": "not a directory",  # mkdir parent f: ...
    # umoci reads /etc/passwd to make its runtime config; this stack makes it a directory
    "file replaced by a dir": "is a directory",
}
# Where the tool's reading of the original departs from the OCI layer spec that lamina
# follows, the paths that differ are exactly these (anything else is a failure).
DOCKER_DEPARTS = {
    # Docker 20.10 applies a layer's entries in tar order, so a whiteout AFTER a
    # same-name entry of its own layer hides it; the spec: whiteouts hide lower layers only
    "same-name file before its whiteout in the tar": {"d/a"},
    # the same tar-order reading: `d/`, `.wh.d`, `d/q` leaves d as an implicit parent
    # (Docker makes those 0600), where the spec keeps the layer's own `d/` entry
    "whiteout and same-name dir in one layer": {"d"},
    # Docker makes the aufs `.wh..wh.plnk` dir (mode 0600); the spec drops `.wh..wh.*`
    "aufs metadata is dropped": {".wh..wh.plnk"},
}
UMOCI_DEPARTS = {
    # umoci writes aufs metadata out as ordinary files
    "aufs metadata is dropped": {".wh..wh.plnk", ".wh..wh.plnk/1.2"},
    # umoci follows a symlink made in the same layer when placing entries beneath it
    "entry below a symlink of the same layer": {"s", "s/x", "etc", "etc/x"},
}


def stack_archive(name: str, tmp_path: Path) -> tuple[Path, str, int]:
    """A docker-archive of one checklist stack, tagged sq/<slug>:orig."""
    layers = [layer_bytes(entries) for entries in STACKS[name]]
    slug = hashlib.sha256(name.encode()).hexdigest()[:10]
    tag = f"sq/{slug}:orig"
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {"Cmd": ["/none"], "User": "0:0"},
            "rootfs": {"type": "layers", "diff_ids": [sha(b) for b in layers]},
            "history": [{"created_by": f"layer {i}"} for i in range(len(layers))],
        }
    ).encode()
    path = tmp_path / f"{slug}.tar"
    with tarfile.open(path, "w") as tar:

        def add(member: str, data: bytes) -> None:
            info = tarfile.TarInfo(member)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))

        for i, data in enumerate(layers):
            add(f"l{i}/layer.tar", data)
        add("config.json", config)
        manifest = [
            {
                "Config": "config.json",
                "RepoTags": [tag],
                "Layers": [f"l{i}/layer.tar" for i in range(len(layers))],
            }
        ]
        add("manifest.json", json.dumps(manifest).encode())
    return path, tag, len(layers)


def squash_every_range(store: lamina.Store, tag: str, n: int) -> list[str]:
    tags = []
    for lo, hi in ranges(n):
        new = tag.replace(":orig", f":r{lo}-{hi}")
        lamina.squash(store, tag, layers=f"{lo}..{hi - 1}", tag=new)
        tags.append(new)
    return tags


def export_facts(data: bytes) -> Facts:
    """path -> (kind, mode, uid, gid, sha, link, dev, xattrs, hardlink group) of an export."""
    facts: Facts = {}
    groups: dict[str, list[str]] = {}
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        members = tar.getmembers()
        for m in members:
            path = m.name.rstrip("/").removeprefix("./")
            xattrs = tuple(sorted((k, v) for k, v in m.pax_headers.items() if "xattr" in k))
            if m.islnk():
                target = m.linkname.removeprefix("./")
                groups.setdefault(target, [target]).append(path)
                continue
            digest = hashlib.sha256(tar.extractfile(m).read()).hexdigest()[:16] if m.isreg() else ""
            kind = {
                tarfile.DIRTYPE: "d",
                tarfile.SYMTYPE: "l",
                tarfile.CHRTYPE: "c",
                tarfile.BLKTYPE: "b",
                tarfile.FIFOTYPE: "p",
            }.get(m.type, "f")
            mode = None if kind == "l" else m.mode & 0o7777
            facts[path] = (
                kind,
                mode,
                m.uid,
                m.gid,
                digest,
                m.linkname if kind == "l" else "",
                (m.devmajor, m.devminor) if kind in "cb" else (0, 0),
                xattrs,
            )
    for target, group in groups.items():
        for path in group:
            facts[path] = (*facts[target], tuple(sorted(group)))
    return facts


def docker_facts(docker: Any, image: str) -> Facts:
    """What `docker create` + `docker export` of an image holds."""
    cid = docker.run("create", image, "/x").stdout.strip()
    data = docker.run("export", cid, text=False).stdout
    docker.run("rm", cid)
    return export_facts(data)


def squashed_stack(name: str, tmp_path: Path) -> tuple[lamina.Store, str, int, list[str]]:
    """A store holding a checklist stack (tag, layer count) and its squash in every range."""
    archive, tag, n = stack_archive(name, tmp_path)
    store = lamina.open_store(tmp_path / "s")
    lamina.load(store, str(archive))
    tags = squash_every_range(store, tag, n)
    assert len({c.id for c in validate_store(store)}) == len(tags) + 1
    return store, tag, n, tags


def differing(expected: Facts, got: Facts) -> dict[str, tuple[Any, Any]]:
    return {
        p: (expected.get(p), got.get(p))
        for p in expected.keys() | got.keys()
        if expected.get(p) != got.get(p)
    }


@pytest.mark.parametrize("name", list(STACKS))
def test_docker_sees_the_same_filesystem_for_every_range(clean_docker, tmp_path, name):
    store, tag, n, tags = squashed_stack(name, tmp_path)

    def facts(image: str) -> Facts:
        return docker_facts(clean_docker, image)

    if name in DOCKER_REFUSES:
        original = tmp_path / "orig.tar"
        lamina.save(store, [tag], original)
        refused = clean_docker.run("load", "-i", str(original), check=False)
        assert refused.returncode != 0 and DOCKER_REFUSES[name] in refused.stderr
        full = tag.replace(":orig", f":r0-{n}")
        out = tmp_path / "full.tar"
        lamina.save(store, [full], out)
        clean_docker.run("load", "-i", str(out))
        assert facts(full)
        return
    out = tmp_path / "all.tar"
    lamina.save(store, [tag, *tags], out)
    clean_docker.run("load", "-i", str(out))
    expected = facts(tag)
    allowed = DOCKER_DEPARTS.get(name, set())
    for squashed in tags:
        diff = differing(expected, facts(squashed))
        assert set(diff) <= allowed, f"{name} {squashed}: {diff}"


@pytest.mark.parametrize("name", list(STACKS))
def test_umoci_unpacks_the_same_filesystem_for_every_range(umoci, tmp_path, name):
    store, tag, n, tags = squashed_stack(name, tmp_path)

    def view(image: str) -> Facts:
        bundle = tmp_path / ("b-" + image.replace("/", "_").replace(":", "_"))
        umoci.run("unpack", "--image", f"{store.root}:{image}", bundle)
        # mtimes aside: a directory no layer mentions is made when unpacked
        return {p: (*f[:4], *f[5:]) for p, f in disk_view(bundle / "rootfs").items()}

    if name in UMOCI_REFUSES:
        with pytest.raises(PeerError, match=UMOCI_REFUSES[name]):
            view(tag)
        full = tag.replace(":orig", f":r0-{n}")
        if name == "file replaced by a dir":  # the final filesystem itself is what it refuses
            with pytest.raises(PeerError, match=UMOCI_REFUSES[name]):
                view(full)
        else:
            assert view(full)
        return
    expected = view(tag)
    allowed = UMOCI_DEPARTS.get(name, set())
    for squashed in tags:
        diff = differing(expected, view(squashed))
        assert set(diff) <= allowed, f"{name} {squashed}: {diff}"


def test_squashed_stack_runs_in_docker_and_podman(clean_docker, clean_podman, fixtures, tmp_path):
    store = lamina.open_store(tmp_path / "s")
    lamina.load(store, str(fixtures["docker-legacy-multi"].path))
    lamina.load(store, str(fixtures["docker-legacy-del"].path))
    result = lamina.squash(store, "local/del:1", tag="local/del:squashed")
    base = lamina.get_image(store, "local/base:1").image
    squashed = lamina.get_image(store, "local/del:squashed").image
    assert squashed.diff_ids[:1] == base.diff_ids and len(squashed.layers) == 2
    assert lamina.diff(store, "local/del:1", "local/del:squashed") == []
    out = tmp_path / "sq.tar"
    lamina.save(store, ["local/del:squashed"], out)
    assert [c.id for c in validate_archive(out)] == [result.id]
    script = "cat /file2 /file3 /srv/dir/new; ls /file1 /srv/dir/old 2>&1 | wc -l"
    clean_docker.run("load", "-i", str(out))
    assert (
        clean_docker.run("image", "inspect", "-f", "{{.Id}}", "local/del:squashed").stdout.strip()
        == result.id
    )
    got = clean_docker.run("run", "--rm", "local/del:squashed", "sh", "-c", script).stdout
    clean_podman.run("podman", "load", "-i", str(out))
    got_podman = clean_podman.run(
        "podman", "run", "--rm", "local/del:squashed", "sh", "-c", script
    ).stdout
    assert got.split() == got_podman.split() == ["2", "3", "x", "2"]


@pytest.mark.parametrize("fixture", ["docker-legacy-del", "podman-overlay-opaque", "umoci-oci"])
def test_real_tool_images_squash_in_every_range(clean_docker, fixtures, tmp_path, fixture):
    """Images made by Docker, podman (overlay: opaque whiteouts) and umoci, every range:
    lamina diff finds nothing, and Docker's export of each squash equals the original's."""
    fx = fixtures[fixture]
    store = lamina.open_store(tmp_path / "s")
    loaded = lamina.load(store, str(fx.path))
    ref = loaded[0].id
    n = len(fx.image.diff_ids)
    tags = []
    for lo, hi in ranges(n):
        result = lamina.squash(store, ref, layers=f"{lo}..{hi - 1}", tag=f"sq/real:r{lo}-{hi}")
        assert lamina.diff(store, ref, result.id) == [], (lo, hi)
        tags.append(f"sq/real:r{lo}-{hi}")
    lamina.tag(store, ref, "sq/real:orig")
    out = tmp_path / "all.tar"
    lamina.save(store, ["sq/real:orig", *tags], out)
    assert {c.id for c in validate_archive(out)} == {c.id for c in validate_store(store)}
    clean_docker.run("load", "-i", str(out))

    expected = docker_facts(clean_docker, "sq/real:orig")
    for squashed in tags:
        assert not differing(expected, docker_facts(clean_docker, squashed)), squashed
