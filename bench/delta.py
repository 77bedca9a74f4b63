"""Delta save vs full save vs `docker save`, on an image whose base is most of its size.

    .venv/bin/python bench/delta.py [--runs N]

Builds once (cached in .cache/bench/delta/) a ~360 MB, 4-layer image: a ~320 MB base
of ~9,000 files (mixed sizes; random bytes like binaries and repetitive text like
sources) and three user layers of ~40 MB together, with whiteouts. Then, in one run:
- reads the user layers (and the whole image) once from the store: the floor;
- lamina: full save, delta save (--exclude-base), delta load into a store holding
  only the base, send to a local `lamina receive` (CLI, two processes);
- Docker (a private dockerd, tests/peers.Docker): `docker save` of the image, and
  plain `docker load` of lamina's delta on a Docker holding only the base.
lamina rows are in-process API calls (no interpreter start-up) except send; each
time is the best of --runs. Prints a Markdown table and checks the targets: the
delta is within 64 KB of the layers it must carry, and delta save and load take
no longer than reading those layers once (within a small fixed cost).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import random
import shlex
import shutil
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # tests/peers.py starts the private dockerd

from tests.peers import Docker  # noqa: E402
from workload import sha256_file  # noqa: E402

import lamina  # noqa: E402
from lamina.api import delta, transfer  # noqa: E402

CACHE = ROOT / ".cache" / "bench" / "delta"
VERSION = 2
MTIME = 1_700_000_000
BASE, APP = "local/bench-base:1", "local/bench-app:1"
TARGET_SLACK = 64 * 1024


# -- the workload ----------------------------------------------------------------


def _content(rng: random.Random, size: int) -> bytes:
    if rng.random() < 0.5:  # a binary: incompressible
        return rng.randbytes(size)
    words = [rng.randbytes(rng.randint(2, 9)).hex() for _ in range(64)]
    text = " ".join(rng.choice(words) for _ in range(size // 8 + 1)).encode()
    return text[:size]


def _size(rng: random.Random) -> int:
    return min(int(rng.lognormvariate(9.2, 1.6)), 24 << 20)  # median ~10 KB, some MBs


def write_layer(
    path: Path, seed: int, total: int, prefix: str, deletes: tuple[str, ...] = ()
) -> int:
    """A layer tar of random files totalling about `total` bytes; returns the file count."""
    rng = random.Random(seed)
    count, written, dirs = 0, 0, set()
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:
        for name in deletes:
            tar.addfile(_info(name, 0))
        while written < total:
            d = f"{prefix}/d{rng.randrange(40):02}/s{rng.randrange(12):02}"
            for part in _parents(d):
                if part not in dirs:
                    dirs.add(part)
                    tar.addfile(_info(part + "/", 0, directory=True))
            size = min(_size(rng), total - written) or 1
            info = _info(f"{d}/f{count:05}.bin", size)
            tar.addfile(info, io.BytesIO(_content(rng, size)))
            written += size
            count += 1
    return count


def _parents(path: str) -> list[str]:
    parts = path.split("/")
    return ["/".join(parts[: i + 1]) for i in range(len(parts))]


def _info(name: str, size: int, directory: bool = False) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE if directory else tarfile.REGTYPE
    info.size, info.mode, info.mtime = size, 0o755 if directory else 0o644, MTIME
    return info


def config(diff_ids: list[str]) -> bytes:
    history = [
        {"created": "2026-01-01T00:00:00Z", "created_by": f"/bin/sh -c #(nop) layer {i}"}
        for i in range(len(diff_ids))
    ]
    doc = {
        "architecture": "amd64",
        "os": "linux",
        "created": "2026-01-01T00:00:00Z",
        "config": {"Cmd": ["/bin/sh"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": history,
    }
    return json.dumps(doc).encode()


def write_archive(layers: list[Path], out: Path, images: dict[str, int]) -> None:
    """A legacy docker-archive: each tag -> how many bottom layers its image has."""
    diff_ids = [sha256_file(p) for p in layers]
    manifest = []
    with tarfile.open(out, "w") as tar:
        for path, diff_id in zip(layers, diff_ids, strict=True):
            tar.add(path, f"{diff_id[7:]}/layer.tar")
        for tag, n in images.items():
            raw = config(diff_ids[:n])
            name = hashlib.sha256(raw).hexdigest() + ".json"
            tar.addfile(_info(name, len(raw)), io.BytesIO(raw))
            layer_paths = [f"{d[7:]}/layer.tar" for d in diff_ids[:n]]
            manifest.append({"Config": name, "RepoTags": [tag], "Layers": layer_paths})
        raw = json.dumps(manifest).encode()
        tar.addfile(_info("manifest.json", len(raw)), io.BytesIO(raw))


def ensure_workload() -> tuple[Path, Path]:
    """(full archive with base + app, archive with the base alone), built once."""
    full, base_only = CACHE / "full.tar", CACHE / "base.tar"
    stamp = CACHE / "version"
    if stamp.exists() and stamp.read_text() == str(VERSION) and full.exists():
        return full, base_only
    shutil.rmtree(CACHE, ignore_errors=True)
    CACHE.mkdir(parents=True)
    print("[bench] building the workload (once)", file=sys.stderr)
    spec = [
        ("base", 1, 320 << 20, "usr", ()),
        ("deps", 2, 24 << 20, "opt/deps", ("usr/d00/.wh.s00", "usr/d01/.wh..wh..opq")),
        ("app", 3, 12 << 20, "srv/app", ()),
        ("conf", 4, 4 << 20, "etc/app", ("usr/d02/s03/.wh.f00001.bin",)),
    ]
    layers = []
    for name, seed, total, prefix, deletes in spec:
        path = CACHE / f"layer-{name}.tar"
        write_layer(path, seed, total, prefix, deletes)
        layers.append(path)
    write_archive(layers, full, {BASE: 1, APP: 4})
    write_archive(layers[:1], base_only, {BASE: 1})
    stamp.write_text(str(VERSION))
    return full, base_only


# -- measuring -------------------------------------------------------------------


def best(runs: int, fn: Callable[[], object], setup: Callable[[], None] | None = None) -> float:
    times = []
    for _ in range(runs):
        if setup is not None:
            setup()
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def read_once(store: lamina.Store, diff_ids: list[str], verify: bool = True) -> int:
    total = 0
    for d in diff_ids:
        with open(store.blobs.path(d), "rb") as f:
            h = hashlib.sha256()
            while chunk := f.read(1 << 20):
                if verify:
                    h.update(chunk)
                total += len(chunk)
    return total


def durable_copy(store: lamina.Store, diff_ids: list[str], into: Path) -> int:
    """The floor of any load: read, hash, write and fsync each layer once."""
    total = 0
    for d in diff_ids:
        target = into / d[7:]
        with open(store.blobs.path(d), "rb") as f, open(target, "wb") as out:
            h = hashlib.sha256()
            while chunk := f.read(1 << 20):
                h.update(chunk)
                out.write(chunk)
                total += len(chunk)
            out.flush()
            os.fsync(out.fileno())
        target.unlink()
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    full, base_archive = ensure_workload()
    work = Path(tempfile.mkdtemp(prefix="lamina-bench-delta-"))
    rows: list[tuple[str, str, int, float]] = []
    try:
        rows, checks = run_all(work, full, base_archive, args.runs)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(table(rows))
    print()
    for line in checks:
        print(line)


def run_all(
    work: Path, full: Path, base_archive: Path, runs: int
) -> tuple[list[tuple[str, str, int, float]], list[str]]:
    sender = lamina.open_store(work / "sender")
    lamina.load(sender, str(full))
    app = lamina.get_image(sender, APP).image
    user = list(app.diff_ids[1:])
    user_bytes = sum(x.size for x in app.layers[1:])
    image_bytes = sum(x.size for x in app.layers)
    rows: list[tuple[str, str, int, float]] = []
    rows.append(
        (
            "read user layers once (sha256)",
            "python",
            user_bytes,
            best(runs, lambda: read_once(sender, user)),
        )
    )
    rows.append(
        (
            "read user layers once (no hash)",
            "python",
            user_bytes,
            best(runs, lambda: read_once(sender, user, verify=False)),
        )
    )
    rows.append(
        (
            "read whole image once (sha256)",
            "python",
            image_bytes,
            best(runs, lambda: read_once(sender, list(app.diff_ids))),
        )
    )

    scratch = work / "copies"
    scratch.mkdir()
    rows.append(
        (
            "copy user layers once (read, sha256, write, fsync)",
            "python",
            user_bytes,
            best(runs, lambda: durable_copy(sender, user, scratch)),
        )
    )
    full_out, delta_out = work / "full-save.tar", work / "delta-save.tar"
    t = best(runs, lambda: lamina.save(sender, [APP], full_out))
    rows.append(("full save", "lamina", full_out.stat().st_size, t))
    t = best(runs, lambda: delta.save_delta(sender, [APP], delta_out, exclude_base=True))
    delta_bytes = delta_out.stat().st_size
    rows.append(("delta save (--exclude-base)", "lamina", delta_bytes, t))
    delta_save_s = t

    receiver_dir = work / "receiver"

    def fresh_receiver() -> None:
        shutil.rmtree(receiver_dir, ignore_errors=True)
        lamina.load(lamina.open_store(receiver_dir), str(base_archive))

    t = best(
        runs, lambda: lamina.load(lamina.open_store(receiver_dir), str(delta_out)), fresh_receiver
    )
    rows.append(("delta load (store has the base)", "lamina", delta_bytes, t))
    delta_load_s = t
    assert lamina.get_image(lamina.open_store(receiver_dir), APP).id == app.id

    expanded = work / "expanded.tar"
    t = best(runs, lambda: delta.expand(lamina.open_store(receiver_dir), str(delta_out), expanded))
    rows.append(("expand delta (base from the store)", "lamina", expanded.stat().st_size, t))

    receive = shlex.join([sys.executable, "-m", "lamina", "--store", str(receiver_dir), "receive"])
    sent: list[transfer.Sent] = []
    t = best(runs, lambda: sent.append(transfer.send(sender, [APP], receive)), fresh_receiver)
    rows.append(("send to receive (2 processes)", "lamina", sent[-1].wire_sent, t))
    t = best(runs, lambda: sent.append(transfer.send(sender, [APP], receive)))
    rows.append(("send again (receiver has it)", "lamina", sent[-1].wire_sent, t))

    rows += docker_rows(work, full, base_archive, delta_out, app.id, runs)
    slack = delta_bytes - user_bytes
    read_s, copy_s = rows[0][3], rows[3][3]
    checks = [
        f"delta bytes - user layer bytes = {slack} B "
        f"({'OK' if slack <= TARGET_SLACK else 'MISSED'}: target <= {TARGET_SLACK} B)",
        f"delta save {delta_save_s:.3f} s vs reading the user layers once {read_s:.3f} s "
        f"({delta_save_s / read_s:.2f}x)",
        f"delta load {delta_load_s:.3f} s vs reading the user layers once {read_s:.3f} s "
        f"({delta_load_s / read_s:.2f}x), vs a durable copy of them {copy_s:.3f} s "
        f"({delta_load_s / copy_s:.2f}x)",
    ]
    return rows, checks


def docker_rows(
    work: Path, full: Path, base_archive: Path, delta_out: Path, app_id: str, runs: int
) -> list[tuple[str, str, int, float]]:
    docker = Docker.start()
    try:
        docker.run("load", "-i", str(full))
        out = work / "docker-save.tar"
        t = best(runs, lambda: docker.run("save", "-o", str(out), APP))
        rows = [("docker save", "docker 20.10", out.stat().st_size, t)]

        def base_only() -> None:
            docker.reset()
            docker.run("load", "-i", str(base_archive))

        t = best(runs, lambda: docker.run("load", "-i", str(delta_out)), base_only)
        got = docker.run("image", "inspect", "--format", "{{.Id}}", APP).stdout.strip()
        assert got == app_id, (got, app_id)
        rows.append(("docker load of lamina's delta", "docker 20.10", delta_out.stat().st_size, t))
        return rows
    finally:
        docker.stop()


def table(rows: list[tuple[str, str, int, float]]) -> str:
    head = ("task", "tool", "bytes", "MB", "seconds")
    body = [(task, tool, f"{n:,}", f"{n / 1e6:.1f}", f"{s:.3f}") for task, tool, n, s in rows]
    widths = [max(len(r[i]) for r in [head, *body]) for i in range(len(head))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(head, widths, strict=True)) + " |"]
    lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    lines += [
        "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |" for r in body
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
