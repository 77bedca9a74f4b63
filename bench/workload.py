"""A realistic multi-layer image for benchmarks, built once and cached.

Layer 1: a Debian bookworm minbase rootfs from debootstrap (the machine's own apt
mirror, read from /etc/apt/sources.list.d at run time), about 120 MB.
Layer 2: real files: this machine's Python standard library (a few thousand
.py/.so files), trimmed to about 150 MB.
Layer 3: a typical "apt-get remove + config edit" layer: whiteouts for deleted
directories and files, an opaque directory, changed files.

The result is a docker-archive (legacy layout) at .cache/bench/realistic.tar and
the layer tars beside it. Nothing here uses lamina: every tool reads the same bytes.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import subprocess
import sys
import sysconfig
import tarfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE = Path(os.environ.get("LAMINA_BENCH_CACHE", ROOT / ".cache" / "bench"))
VERSION = 1
if str(ROOT) not in sys.path:  # the layer builder is the tests' (tests/kit/layers.py)
    sys.path.insert(0, str(ROOT))
MTIME = 1_700_000_000


def log(msg: str) -> None:
    print(f"[workload] {msg}", file=sys.stderr, flush=True)


def mirror() -> str:
    for path in sorted(Path("/etc/apt/sources.list.d").glob("*.sources")):
        m = re.search(r"^URIs:\s*(\S+)", path.read_text(), re.M)
        if m and "security" not in m.group(1):
            return m.group(1)
    for line in Path("/etc/apt/sources.list").read_text().splitlines():
        parts = line.split()
        if parts[:1] == ["deb"]:
            return parts[1]
    raise RuntimeError("no apt mirror configured")


def debootstrap_layer(out: Path) -> None:
    rootfs = CACHE / "rootfs"
    if not (rootfs / "etc" / "debian_version").exists():
        log("debootstrap --variant=minbase bookworm (30-60 s)")
        subprocess.run(
            ["debootstrap", "--variant=minbase", "bookworm", str(rootfs), mirror()],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    log("tar the rootfs")
    subprocess.run(
        [
            "tar",
            "--numeric-owner",
            "--xattrs",
            "--sort=name",
            f"--mtime=@{MTIME}",
            "-C",
            str(rootfs),
            "-cf",
            str(out),
            ".",
        ],
        check=True,
    )


def python_layer(out: Path, limit: int = 150 * 1000 * 1000) -> None:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    total = 0
    with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as tar:
        for dirpath, dirnames, filenames in os.walk(stdlib):
            dirnames.sort()
            if "site-packages" in dirnames:
                dirnames.remove("site-packages")
            for name in sorted(filenames):
                path = Path(dirpath) / name
                if not path.is_file() or path.is_symlink():
                    continue
                arc = "usr/lib/python3.11/" + str(path.relative_to(stdlib))
                info = tar.gettarinfo(str(path), arc)
                info.mtime, info.uid, info.gid, info.uname, info.gname = MTIME, 0, 0, "", ""
                with open(path, "rb") as f:
                    tar.addfile(info, f)
                total += info.size
                if total > limit:
                    return


def change_layer(out: Path) -> None:
    from tests.kit.layers import E, dir_, file, write_layer

    def add(name: str, data: bytes | None = b"") -> E:
        return dir_(name, mtime=MTIME) if data is None else file(name, data, mtime=MTIME)

    entries = [
        add("usr/", None),
        add("usr/share/", None),
        add("usr/share/.wh.doc"),  # rm -rf /usr/share/doc
        add("usr/share/locale/", None),
        add("usr/share/locale/.wh..wh..opq"),  # directory emptied and refilled
        add("usr/share/locale/locale.alias", b"C.UTF-8 C.UTF-8\n"),
        add("etc/", None),
        add("etc/.wh.motd"),
        add("etc/hostname", b"bench\n"),
        add("usr/lib/", None),
        add("usr/lib/python3.11/", None),
        add("usr/lib/python3.11/.wh.test"),  # drop the stdlib tests
        add("app/", None),
        *(add(f"app/module{i:04}.py", f"VALUE = {i}\n".encode() * 50) for i in range(2000)),
    ]
    with open(out, "wb") as f:
        write_layer(entries, f)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return "sha256:" + h.hexdigest()


def write_archive(layers: list[Path], out: Path, tag: str) -> dict[str, object]:
    diff_ids = [sha256_file(p) for p in layers]
    history = [
        {"created": "2026-01-01T00:00:00Z", "created_by": f"/bin/sh -c #(nop) layer {i}"}
        for i in range(len(layers))
    ]
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "created": "2026-01-01T00:00:00Z",
            "config": {"Cmd": ["/bin/bash"], "Env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"]},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
            "history": history,
        }
    ).encode()
    config_hex = hashlib.sha256(config).hexdigest()
    with tarfile.open(out, "w") as tar:
        paths = []
        for layer, diff_id in zip(layers, diff_ids, strict=True):
            name = f"{diff_id[7:]}/layer.tar"
            tar.add(str(layer), name)
            paths.append(name)
        for name, data in (
            (f"{config_hex}.json", config),
            (
                "manifest.json",
                json.dumps(
                    [{"Config": f"{config_hex}.json", "RepoTags": [tag], "Layers": paths}]
                ).encode(),
            ),
        ):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return {"id": "sha256:" + config_hex, "diff_ids": diff_ids, "tag": tag}


def ensure() -> tuple[Path, dict[str, object]]:
    """(archive path, {id, diff_ids, tag}) of the realistic image, built on first use."""
    CACHE.mkdir(parents=True, exist_ok=True)
    meta_path = CACHE / "realistic.json"
    archive = CACHE / "realistic.tar"
    if meta_path.exists() and archive.exists():
        meta = json.loads(meta_path.read_text())
        if meta.get("version") == VERSION:
            return archive, meta
    started = time.monotonic()
    layers = [CACHE / "layer1-base.tar", CACHE / "layer2-python.tar", CACHE / "layer3-change.tar"]
    debootstrap_layer(layers[0])
    log("python stdlib layer")
    python_layer(layers[1])
    change_layer(layers[2])
    meta = write_archive(layers, archive, "bench/realistic:1")
    meta["version"] = VERSION
    meta["layers"] = [str(p) for p in layers]
    meta["bytes"] = archive.stat().st_size
    meta_path.write_text(json.dumps(meta, indent=1))
    log(f"built {archive} ({meta['bytes'] / 1e6:.0f} MB) in {time.monotonic() - started:.0f} s")
    return archive, meta


def scaled(copies: int, src: Path, out_dir: Path) -> tuple[Path, dict[str, object]]:
    """The realistic image with its python layer `copies` times over (copy 0 at its own
    paths, copy k under usr/lib/python3.11-k/; the same real files, new names), so the
    top layers are big enough that fixed costs do not hide the per-byte ones. Built from
    the realistic image's layer tars in `src` (as `ensure` made them) on first use, cached in
    `out_dir`."""
    archive = out_dir / f"realistic-x{copies}.tar"
    meta_path = out_dir / f"realistic-x{copies}.json"
    if meta_path.exists() and archive.exists():
        return archive, json.loads(meta_path.read_text())
    out_dir.mkdir(parents=True, exist_ok=True)
    layers = [src / "layer1-base.tar", src / "layer2-python.tar", src / "layer3-change.tar"]
    big = out_dir / f"layer2-python-x{copies}.tar"
    old = "usr/lib/python3.11/"
    with tarfile.open(big, "w", format=tarfile.PAX_FORMAT) as out:
        for k in range(copies):
            with tarfile.open(layers[1]) as tar:
                for info in tar:
                    if k and info.name.startswith(old):
                        info.name = f"usr/lib/python3.11-{k}/" + info.name[len(old) :]
                    if k and info.islnk() and info.linkname.startswith(old):
                        info.linkname = f"usr/lib/python3.11-{k}/" + info.linkname[len(old) :]
                    out.addfile(info, tar.extractfile(info) if info.isreg() else None)
    meta = write_archive([layers[0], big, layers[2]], archive, f"bench/realistic-x{copies}:1")
    big.unlink()  # (the archive holds it)
    meta["bytes"] = archive.stat().st_size
    meta_path.write_text(json.dumps(meta, indent=1))
    return archive, meta


if __name__ == "__main__":
    path, info = ensure()
    print(path, info["id"], f"{info['bytes'] / 1e6:.0f} MB")
