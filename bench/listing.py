"""Listing verbs on big stores: `images -a`, `tree`, `inspect`, `history`, `tag`, `rmi`.

    .venv/bin/python bench/listing.py [--sizes 1000,10000] [--before SRC] [--no-podman]

Builds (once, cached under .cache/bench/listing-N) stores of N small images with
shared bases: 10 tagged bases of 2 layers, every other image a random existing
image with 1-3 tiny layers (and their history) on top, 2-11 layers in all; about
70% tagged, the rest untagged roots (intermediates where they have children,
dangling where not). Built through lamina's library in one transaction.

Each command runs as a CLI subprocess (`python -m lamina`), on a hard-linked
copy of the store for the ones that write; best wall time of two runs, and the
CPU time (user + system) of that run, as the machine is shared. `images -a (cold)`
runs without STORE/lamina/facts.json, as right after an older lamina wrote the
store. `--before SRC` runs the same commands with PYTHONPATH=SRC (e.g.
/work/main/src) for a before column; slow ones stop at --timeout. `podman images`
runs on the tagged ones of the same 1,000 images (about 700), loaded into a private
podman from one `lamina save` archive (that load alone took 13 minutes here).
Prints Markdown tables.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import BinaryIO

from measure import ROOT, Result, lamina_cmd, run, table

from lamina import mediatype
from lamina.image import Image, Layer
from lamina.spec import Config, Descriptor, canonical_json
from lamina.store.local import Store

CACHE = Path(os.environ.get("LAMINA_BENCH_CACHE", ROOT / ".cache" / "bench"))
VERSION = 1
BASES = 10
EPOCH = 1_700_000_000


def log(msg: str) -> None:
    print(f"[listing] {msg}", file=sys.stderr, flush=True)


def _layer_tar(label: str) -> bytes:
    data = f"{label}\n".encode()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo(f"files/{label}")
        info.size, info.mtime, info.mode = len(data), EPOCH, 0o644
        tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _unused() -> BinaryIO:
    raise AssertionError("the bench builder never reads layers back")


def _when(i: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(EPOCH + 60 * i))


def build_store(n: int, path: Path, seed: int = 9) -> dict[str, str]:
    """N images as described above; returns {"one": a tagged leaf's name, ...}."""
    rng = random.Random(seed)
    store = Store.open(path)
    stacks: list[tuple[list[str], list[dict[str, str]]]] = []  # (diff_ids, history)
    children: list[int] = []
    names: dict[int, str] = {}
    with store.transaction() as tx:
        for i in range(n):
            if i < BASES:
                diff_ids, history, new = [], [], 2
            else:
                pick = rng.randrange(i)
                while len(stacks[pick][0]) > 10:
                    pick = rng.randrange(i)
                diff_ids, history = list(stacks[pick][0]), list(stacks[pick][1])
                new = rng.randint(1, min(3, 11 - len(diff_ids)))
                children[pick] += 1
            for k in range(new):
                diff_ids.append(tx.put_bytes(_layer_tar(f"{i}-{k}")))
                history.append({"created": _when(i), "created_by": f"RUN step {i}.{k}"})
            doc = {
                "architecture": "amd64",
                "os": "linux",
                "created": _when(i),
                "config": {"Env": ["PATH=/usr/bin:/bin"], "Cmd": ["sh"]},
                "rootfs": {"type": "layers", "diff_ids": diff_ids},
                "history": history,
            }
            raw = canonical_json(doc)
            config = Config.parse(raw)
            tx.put_bytes(raw)
            layers = tuple(
                Layer(d, d, tx.blob_size(d), mediatype.OCI_LAYER, open_blob=_unused)
                for d in diff_ids
            )
            manifest = Image(config, layers).manifest_bytes()
            desc = Descriptor(mediatype.OCI_MANIFEST, tx.put_bytes(manifest), len(manifest))
            stacks.append((diff_ids, history))
            children.append(0)
            if i < BASES or rng.random() < 0.7:
                names[i] = f"base/b{i}:latest" if i < BASES else f"app/a{i}:v1"
                tx.set_name(names[i], desc)
            else:
                tx.add_root(desc)
    leaves = [i for i in names if children[i] == 0 and i >= BASES]
    return {"one": names[leaves[len(leaves) // 2]], "leaf": names[leaves[-1]]}


def ensure(n: int) -> tuple[Path, dict[str, str]]:
    """The cached store of N images and its meta (built on first use)."""
    home = CACHE / f"listing-{n}"
    meta_path = home / "meta.json"
    if meta_path.exists():
        meta = json.loads(meta_path.read_text())
        if meta.get("version") == VERSION:
            return home / "store", meta
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    started = time.perf_counter()
    meta = {"version": VERSION, **build_store(n, home / "store")}
    log(f"built {n} images in {time.perf_counter() - started:.1f} s")
    meta_path.write_text(json.dumps(meta))
    return home / "store", meta


def scratch_copy(store: Path, work: Path) -> Path:
    """A hard-linked copy: blobs are immutable and index.json is replaced by rename."""
    dest = work / f"copy-{time.monotonic_ns()}"
    subprocess.run(["cp", "-al", str(store), str(dest)], check=True)
    return dest


def lamina_runs(
    store: Path, meta: dict[str, str], work: Path, tool: str, env: dict[str, str], timeout: float
) -> list[Result]:
    one = meta["one"]
    reads = [
        ("--version", ["--version"]),
        ("images", ["images"]),
        ("images -a", ["images", "-a"]),
        ("tree", ["tree"]),
        ("inspect ONE", ["inspect", one]),
        ("history ONE", ["history", one]),
    ]
    writes = [
        ("images -a (cold)", ["images", "-a"]),
        ("tag ONE", ["tag", one, "bench/new:1"]),
        ("rmi LEAF", ["rmi", meta["leaf"]]),
    ]
    results = []
    for task, args in reads + writes:
        target = scratch_copy(store, work) if (task, args) in writes else store
        if task.endswith("(cold)"):
            (target / "lamina" / "facts.json").unlink(missing_ok=True)
        argv = lamina_cmd("--store", str(target), *args)
        runs = 1 if target != store else 2  # a write changes its copy: once each
        results.append(timed(task, tool, argv, env, timeout, runs))
        if target != store:
            shutil.rmtree(target)
    return results


def timed(
    task: str, tool: str, argv: list[str], env: dict[str, str], timeout: float, runs: int = 2
) -> Result:
    """Best of `runs` runs (the machine is shared); a run past `timeout` is reported as such."""
    best: Result | None = None
    for _ in range(runs):
        started = time.perf_counter()
        cpu = _children_cpu()
        try:
            r = run(task, tool, ["timeout", str(timeout), *argv], env)
            r.note = f"cpu {_children_cpu() - cpu:.2f} s"
        except RuntimeError:
            if time.perf_counter() - started < timeout:
                raise
            return Result(task, tool, float("nan"), 0, f"> {timeout:.0f} s (stopped)")
        best = r if best is None or r.seconds < best.seconds else best
        if r.seconds > 5:
            break  # slow enough that one run says it
    assert best is not None
    return best


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def podman_runs(store: Path, work: Path) -> list[Result]:
    from tests.peers import Podman

    podman = Podman.start()
    try:
        refs = [e["annotations"]["org.opencontainers.image.ref.name"] for e in _named(store)]
        archive = work / "all.tar"
        log(f"lamina save {len(refs)} tagged images for podman")
        subprocess.run(
            lamina_cmd("--store", str(store), "save", "-o", str(archive), *refs), check=True
        )
        started = time.perf_counter()
        load = ["podman", "load", "-q", "-i", str(archive)]
        results = [run(f"load {len(refs)} (setup)", "podman", load, podman.env)]
        log(f"podman load took {time.perf_counter() - started:.1f} s")
        for task, args in [
            ("images", ["images"]),
            ("images -a", ["images", "-a"]),
            ("inspect ONE", ["image", "inspect", refs[0]]),
            ("history ONE", ["history", refs[0]]),
        ]:
            results.append(timed(task, "podman", ["podman", *args], podman.env, 600))
        return results
    finally:
        podman.stop()


def _named(store: Path) -> list[dict[str, object]]:
    index = json.loads((store / "index.json").read_text())
    return [e for e in index["manifests"] if e.get("annotations")]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--before", metavar="SRC", help="PYTHONPATH for the before column")
    parser.add_argument("--timeout", type=float, default=120)
    parser.add_argument("--no-podman", action="store_true")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="lamina-bench-"))
    after_env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    try:
        for n in (int(s) for s in args.sizes.split(",")):
            store, meta = ensure(n)
            results = []
            if args.before:
                before_env = dict(os.environ, PYTHONPATH=args.before)
                results += lamina_runs(store, meta, work, "lamina before", before_env, args.timeout)
            results += lamina_runs(store, meta, work, "lamina", after_env, args.timeout)
            if n == 1000 and not args.no_podman:
                results += podman_runs(store, work)
            print(table(results, f"{n:,} images"))
            print()
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
