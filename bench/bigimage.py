"""A big synthetic image made of real files, for bench/scale_big.py (built once, cached).

    ensure(size_gb) -> Inputs(full, delta, ...)

The layers are copies of this machine's /usr (binaries, libraries, sources: real,
not zeros), each under its own top directory (c0/, c1/, ...) and starting at a
different place in /usr, plus a stamp file of random bytes, so no two layers are
alike. For a `size_gb` image:

    app:1 = L0 (size/2, the "5 GB layer" of a 10 GB image), L1 (size/4), L2, L3 (size/8)
    app:2 = L0, L1, L2, L4 (size/4)        (an update of the top layer)

`full.tar` is a docker-archive (legacy layout) of app:1, `delta.tar` a docker-archive
of app:2 that carries L4 only (the others are listed, not carried: a delta archive, as
`lamina save --exclude bench/big:1` writes it). Layer tars are made by GNU tar and
streamed into the archive; nothing here uses lamina. Everything lives under
.cache/bench/big/SIZE/ (never committed); `remove(size_gb)` deletes it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".cache" / "bench" / "big"
VERSION = 1
APP1, APP2 = "bench/big:1", "bench/big:2"
_PARTS = (0.5, 0.25, 0.125, 0.125, 0.25)  # L0..L4, fractions of the image size


@dataclass(frozen=True)
class Inputs:
    dir: Path
    full: Path  # app:1, every layer
    delta: Path  # app:2, L4 only
    size: int  # bytes of app:1's layers
    delta_size: int  # bytes of L4


def log(msg: str) -> None:
    print(f"[bigimage] {msg}", file=sys.stderr, flush=True)


def _usr_entries() -> list[tuple[str, int]]:
    """(path relative to /, bytes) of every directory, file and symlink under /usr."""
    out = []
    for dirpath, dirs, files in os.walk("/usr"):
        dirs.sort()
        out.append((dirpath.lstrip("/"), 0))
        for name in sorted(files):
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            out.append((path.lstrip("/"), st.st_size if os.path.isfile(path) else 0))
    return out


def _pick(entries: list[tuple[str, int]], start: int, budget: int) -> list[str]:
    """Entries from `start` on (wrapping), until `budget` bytes of files are picked."""
    picked, total = [], 0
    for k in range(len(entries)):
        path, size = entries[(start + k) % len(entries)]
        if total >= budget:
            break
        picked.append(path)
        total += size
    return sorted(picked)  # parents before children


def _layer(work: Path, n: int, entries: list[tuple[str, int]], budget: int) -> tuple[Path, str]:
    """Layer Ln: a GNU tar of /usr entries under cN/, plus a random stamp; (path, diff_id)."""
    listing = work / f"L{n}.list"
    listing.write_text("\n".join(_pick(entries, n * len(entries) // 7, budget)) + "\n")
    stamp = work / f"stamp{n}"
    stamp.write_bytes(os.urandom(4096))
    out = work / f"L{n}.tar"
    argv = ["tar", "--no-recursion", "--format=gnu", "--numeric-owner", "-C", "/"]
    argv += [
        f"--transform=s,^usr,c{n},",
        "-T",
        str(listing),
        "-C",
        str(work),
        stamp.name,
        "-cf",
        "-",
    ]
    hasher = hashlib.sha256()
    with subprocess.Popen(argv, stdout=subprocess.PIPE) as tar, open(out, "wb") as f:
        assert tar.stdout is not None
        while chunk := tar.stdout.read(1 << 20):
            hasher.update(chunk)
            f.write(chunk)
    if tar.returncode != 0:
        raise RuntimeError(f"tar for layer {n} failed")
    listing.unlink()
    stamp.unlink()
    return out, f"sha256:{hasher.hexdigest()}"


def _config(diff_ids: list[str]) -> bytes:
    doc = {
        "architecture": "amd64",
        "os": "linux",
        "config": {"Cmd": ["/bin/sh"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [{"created_by": f"COPY /usr /c{i}"} for i in range(len(diff_ids))],
    }
    return json.dumps(doc, separators=(",", ":")).encode()


def _archive(out: Path, tag: str, layers: list[tuple[Path, str]], carried: set[Path]) -> None:
    """A legacy docker-archive: manifest.json, the config, <hex>/layer.tar (carried only)."""
    diff_ids = [d for _, d in layers]
    config = _config(diff_ids)
    config_name = hashlib.sha256(config).hexdigest() + ".json"
    paths = [f"{d.split(':')[1]}/layer.tar" for d in diff_ids]
    manifest = [{"Config": config_name, "RepoTags": [tag], "Layers": paths}]
    with tarfile.open(out, "w", format=tarfile.GNU_FORMAT) as tar:
        tar.copybufsize = 1 << 20  # type: ignore[attr-defined]
        _add_bytes(tar, "manifest.json", json.dumps(manifest).encode())
        _add_bytes(tar, config_name, config)
        for (path, _), name in zip(layers, paths, strict=True):
            if path in carried:
                info = tar.gettarinfo(str(path), arcname=name)
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                with open(path, "rb") as f:
                    tar.addfile(info, f)


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    import io

    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def inputs_of(size_gb: float) -> Inputs | None:
    work = CACHE / f"{size_gb:g}"
    done = work / "done.json"
    if not done.exists():
        return None
    meta = json.loads(done.read_text())
    if meta.get("version") != VERSION:
        return None
    return Inputs(work, work / "full.tar", work / "delta.tar", meta["size"], meta["delta_size"])


def ensure(size_gb: float) -> Inputs:
    """Build (once) the inputs for an image of about `size_gb` GB (see module doc)."""
    ready = inputs_of(size_gb)
    if ready is not None:
        return ready
    work = CACHE / f"{size_gb:g}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    entries = _usr_entries()
    have = sum(s for _, s in entries)
    total = int(size_gb * 1e9)
    if total * max(_PARTS) > have:
        raise SystemExit(f"/usr holds {have / 1e9:.1f} GB: too little for a {size_gb} GB image")
    layers = []
    for n, part in enumerate(_PARTS):
        log(f"layer L{n}: {total * part / 1e9:.2f} GB of /usr under c{n}/")
        layers.append(_layer(work, n, entries, int(total * part)))
    log("archives")
    _archive(work / "full.tar", APP1, layers[:4], {p for p, _ in layers[:4]})
    _archive(work / "delta.tar", APP2, layers[:3] + layers[4:], {layers[4][0]})
    size = sum(p.stat().st_size for p, _ in layers[:4])
    delta_size = layers[4][0].stat().st_size
    for path, _ in layers:
        path.unlink()
    meta = {"version": VERSION, "size": size, "delta_size": delta_size}
    (work / "done.json").write_text(json.dumps(meta))
    return Inputs(work, work / "full.tar", work / "delta.tar", size, delta_size)


def remove(size_gb: float) -> None:
    shutil.rmtree(CACHE / f"{size_gb:g}", ignore_errors=True)


if __name__ == "__main__":
    built = ensure(float(sys.argv[1]) if len(sys.argv) > 1 else 1.0)
    print(built)
