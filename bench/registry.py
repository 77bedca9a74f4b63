"""Registry push and pull: lamina against skopeo, same image, same registry, one run.

    .venv/bin/python bench/registry.py [--mb 400] [--keep]

Builds a realistic image (4 layers, thousands of files: text that compresses
like source code and config, random bytes that do not, like binaries, and a
few whiteouts), loads it into a fresh lamina store, starts a private registry
on 127.0.0.1, then times, each as its own process with its peak RSS:

  push   lamina push (gzip) from its store  vs skopeo copy oci:STORE:IMG docker://... (gzip)
         (the store is an OCI layout: skopeo reads the very same files)
  push2  the same push again         (both only ask HEAD)
  pull   lamina pull into a new store (layers decompressed, verified, stored)
         vs podman pull into its own fresh storage (vfs: also decompressed and stored)
         vs skopeo copy docker://... to docker-archive: (also decompressed)
         and to oci: (kept compressed, so less work than lamina does)

Each tool pushes to its own fresh repository; every pull reads what skopeo pushed,
so all pull the same blobs. Wall seconds, CPU seconds (user+sys of the process and
its children) and peak RSS of each, and the load average when the run ended (the
machine is shared).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.peers import BLOB_INFO_CACHE, Podman, Registry, find_tool  # noqa: E402
from workload import sha256_file  # noqa: E402

LAMINA = [str(REPO / ".venv" / "bin" / "python"), "-m", "lamina"]
# words of source code and configuration files, to make text that compresses like them
WORDS = re.findall(
    r"\w+",
    "int char return static const void struct include define if else for while usr lib share "
    "bin etc config value true false null self import from def class the of and to in is that",
)


# -- the image --------------------------------------------------------------------


def corpus(rng: random.Random, size: int) -> bytes:
    """Text that compresses about 3-4x, like source code and configuration files."""
    lines = []
    total = 0
    while total < size:
        line = " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 12)))
        line += f" {rng.randint(0, 99999)};\n"
        lines.append(line)
        total += len(line)
    return "".join(lines).encode()[:size]


def write_layer(path: Path, rng: random.Random, text: bytes, mb: float, prefix: str) -> None:
    """About `mb` MB of files under `prefix`: 60% text slices, 40% random bytes."""
    target = int(mb * 1e6)
    written = 0
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:
        n = 0
        while written < target:
            n += 1
            d = f"{prefix}/d{n // 100:03d}"
            if n % 100 == 1:
                info = tarfile.TarInfo(d)
                info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, 1_700_000_000
                tar.addfile(info)
            size = min(int(rng.paretovariate(1.2) * 4000), 4_000_000)
            if rng.random() < 0.6:
                start = rng.randrange(0, len(text) - size) if size < len(text) else 0
                data = text[start : start + size]
            else:
                data = rng.randbytes(size)
            info = tarfile.TarInfo(f"{d}/f{n}")
            info.size, info.mode, info.mtime = len(data), 0o644, 1_700_000_000
            tar.addfile(info, io.BytesIO(data))
            written += len(data)


def whiteout_layer(path: Path, rng: random.Random, text: bytes, mb: float) -> None:
    """The top layer: new files plus whiteouts of a few lower ones."""
    write_layer(path, rng, text, mb, "app")
    with tarfile.open(path, "a") as tar:
        for name in ("usr/d000/.wh.f5", "usr/d001/.wh.f150", "opt/d000/.wh..wh..opq"):
            info = tarfile.TarInfo(name)
            info.mtime = 1_700_000_000
            tar.addfile(info)


def build_layout(out: Path, total_mb: float) -> None:
    """An OCI layout dir with one image `bench/img:1` of about `total_mb` MB."""
    rng = random.Random(20261128)
    text = corpus(rng, 16 << 20)
    blobs = out / "blobs" / "sha256"
    blobs.mkdir(parents=True)
    shares = [("usr", 0.4), ("opt", 0.3), ("var", 0.2)]
    layers: list[Path] = []
    for i, (prefix, share) in enumerate(shares):
        layers.append(out / f"layer{i}.tar")
        write_layer(layers[-1], rng, text, total_mb * share, prefix)
    layers.append(out / "layer3.tar")
    whiteout_layer(layers[-1], rng, text, total_mb * 0.1)
    descs, diff_ids = [], []
    for path in layers:
        dig = sha256_file(path)
        diff_ids.append(dig)
        descs.append(
            {
                "mediaType": "application/vnd.oci.image.layer.v1.tar",
                "digest": dig,
                "size": path.stat().st_size,
            }
        )
        path.rename(blobs / dig[7:])
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "created": "2026-11-28T00:00:00Z",
            "config": {"Cmd": ["/bin/sh"]},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
            "history": [
                {"created": "2026-11-28T00:00:00Z", "created_by": f"bench layer {i}"}
                for i in range(len(layers))
            ],
        }
    ).encode()
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": put(blobs, config),
                "size": len(config),
            },
            "layers": descs,
        }
    ).encode()
    index = {
        "schemaVersion": 2,
        "manifests": [
            {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": put(blobs, manifest),
                "size": len(manifest),
                "annotations": {"org.opencontainers.image.ref.name": "bench/img:1"},
            }
        ],
    }
    (out / "index.json").write_text(json.dumps(index))
    (out / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')


def put(blobs: Path, data: bytes) -> str:
    dig = "sha256:" + hashlib.sha256(data).hexdigest()
    (blobs / dig[7:]).write_bytes(data)
    return dig


# -- measuring --------------------------------------------------------------------


# A small launcher: a child forked from this (big) process would count our pages as its own
_LAUNCH = (
    "import os,sys;pid=os.fork()\n"
    "if pid==0: os.execvp(sys.argv[1],sys.argv[1:])\n"
    "_,st,ru=os.wait4(pid,0);print(ru.ru_utime+ru.ru_stime,ru.ru_maxrss,file=sys.stderr);"
    "sys.exit(os.waitstatus_to_exitcode(st))"
)


Timing = tuple[float, float, float]  # wall seconds, CPU seconds, peak RSS MB


def measure(argv: list[str], env: dict[str, str]) -> Timing:
    """(seconds, CPU seconds, peak RSS in MB) of one command, which must succeed."""
    t0 = time.monotonic()
    cp = subprocess.run(
        [sys.executable, "-S", "-c", _LAUNCH, *argv],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    seconds = time.monotonic() - t0
    err = cp.stderr.decode(errors="replace")
    if cp.returncode != 0:
        raise SystemExit(f"failed ({cp.returncode}): {' '.join(argv)}\n{err[-2000:]}")
    cpu, rss = err.split()[-2:]
    return seconds, float(cpu), int(rss) / 1024


def drop_skopeo_cache() -> None:
    BLOB_INFO_CACHE.unlink(missing_ok=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--mb", type=float, default=400, help="image size, uncompressed (MB)")
    ap.add_argument("--keep", action="store_true", help="keep the work dir")
    args = ap.parse_args()
    skopeo = find_tool("skopeo")
    # as an installed lamina has: its bytecode (PYTHONDONTWRITEBYTECODE would otherwise
    # make every run compile lamina's sources again, ~0.9 s of CPU on this machine)
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(REPO / "src")], check=True)
    work = Path(tempfile.mkdtemp(prefix="lamina-bench-"))
    env = dict(os.environ, DOCKER_CONFIG=str(work / "docker"), LAMINA_STORE=str(work / "store"))
    registry = Registry.start()
    try:
        t0 = time.monotonic()
        build_layout(work / "layout", args.mb)
        built = time.monotonic() - t0
        measure([*LAMINA, "-q", "load", "-i", str(work / "layout")], env)
        shutil.rmtree(work / "layout")
        size = sum(p.stat().st_size for p in (work / "store" / "blobs").rglob("*"))
        print(f"image: 4 layers, {size / 1e6:.0f} MB in the store (built in {built:.1f} s)")
        print(f"registry: {registry.url}, {os.cpu_count()} CPUs\n")
        host = registry.host
        tls = "--dest-tls-verify=false"
        rows: list[tuple[str, Timing, str, Timing]] = []
        lam_push = [*LAMINA, "-q", "push", "bench/img:1", f"{host}/lam/img:1"]
        drop_skopeo_cache()
        sko_push = [skopeo, "copy", tls, f"oci:{work / 'store'}:bench/img:1"]
        sko_push.append(f"docker://{host}/sko/img:1")
        rows.append(("push (gzip)", measure(lam_push, env), "skopeo", measure(sko_push, env)))
        rows.append(("push again", measure(lam_push, env), "skopeo", measure(sko_push, env)))
        pull_env = dict(env, LAMINA_STORE=str(work / "pulled"))
        lam_pull = [*LAMINA, "-q", "pull", f"{host}/sko/img:1"]
        podman = Podman.start("vfs")
        try:
            pod_pull = [find_tool("podman"), "pull", "-q", "--tls-verify=false"]
            pod_pull.append(f"{host}/sko/img:1")
            rows.append(
                (
                    "pull (store)",
                    measure(lam_pull, pull_env),
                    "podman",
                    measure(pod_pull, podman.env),
                )
            )
        finally:
            podman.stop()
        shutil.rmtree(work / "pulled")
        src = [skopeo, "copy", "--src-tls-verify=false", f"docker://{host}/sko/img:1"]
        drop_skopeo_cache()
        archive = [*src, f"docker-archive:{work / 'sko.tar'}:bench/img:1"]
        rows.append(
            (
                "pull (store)",
                measure(lam_pull, pull_env),
                "skopeo docker-archive",
                measure(archive, env),
            )
        )
        shutil.rmtree(work / "pulled")
        drop_skopeo_cache()
        sko_oci = measure([*src, f"oci:{work / 'sko-oci'}:x"], env)
        rows.append(
            ("pull (store)", measure(lam_pull, pull_env), "skopeo oci (compressed)", sko_oci)
        )
        print_table(rows)
        print("\nload average at the end: {:.1f} {:.1f} {:.1f}".format(*os.getloadavg()))
    finally:
        registry.stop()
        if args.keep:
            print(f"\nkept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def print_table(rows: list[tuple[str, Timing, str, Timing]]) -> None:
    head = ("operation", "lamina s", "lamina CPU s", "peer", "peer s", "peer CPU s", "RSS MB")
    lines = [head] + [
        (name, f"{a[0]:.2f}", f"{a[1]:.2f}", peer, f"{b[0]:.2f}", f"{b[1]:.2f}",
         f"{a[2]:.0f} / {b[2]:.0f}")
        for name, a, peer, b in rows
    ]  # fmt: skip
    widths = [max(len(r[i]) for r in lines) for i in range(len(head))]
    print("| " + " | ".join(c.ljust(w) for c, w in zip(lines[0], widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in lines[1:]:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |")


if __name__ == "__main__":
    main()
