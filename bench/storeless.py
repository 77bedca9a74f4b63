"""`lamina copy` against `skopeo copy`: same image, same registries, one run, no store.

    .venv/bin/python bench/storeless.py [--mb 200] [--keep]

Builds bench/registry.py's image (4 layers, text and random bytes, whiteouts), has
skopeo push it (gzip) to registry A, then times each copy as its own process, with its
CPU time (user+sys, children included) and peak RSS:

  reg->reg        A -> registry B: every blob streamed GET -> PUT (both tools)
  reg->reg mount  A -> another repository of A: cross-repository mounts
  reg->oci-archive  blobs kept compressed by both
  reg->docker-archive  lamina keeps the gzip blobs (Docker loads them); skopeo
                  decompresses each layer, so it does more work here

Each row copies into a fresh destination, and skopeo's blob-info cache is dropped
before each skopeo run. The load average is printed, since the machine is shared.
Measured here (load 9-12 on 2 CPUs) the reg->reg gap is mostly the interpreter starting
and importing (about 1 s under that load): called in-process, `lamina.copy` took
1.4-1.5 s with 3 blobs in flight (1.8-2.2 s with one) where skopeo took 1.6-2.0 s.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]  # bench/registry.py, tests/peers.py

from tests.peers import Registry, find_tool  # noqa: E402

from registry import LAMINA, build_layout, drop_skopeo_cache  # noqa: E402

Measured = tuple[float, float, float]  # wall s, CPU s (user+sys), peak RSS MB


# A small launcher: a child forked from this (big) process would count our pages as its
# own peak RSS; it reports the command's peak RSS (KB), user and system CPU seconds.
LAUNCH = (
    "import os,sys;pid=os.fork()\n"
    "if pid==0: os.execvp(sys.argv[1],sys.argv[1:])\n"
    "_,st,ru=os.wait4(pid,0);print(ru.ru_maxrss,ru.ru_utime,ru.ru_stime,file=sys.stderr);"
    "sys.exit(os.waitstatus_to_exitcode(st))"
)


def measure(argv: list[str], env: dict[str, str]) -> Measured:
    started = time.perf_counter()
    cp = subprocess.run(
        [sys.executable, "-S", "-c", LAUNCH, *argv],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    wall = time.perf_counter() - started
    err = cp.stderr.decode(errors="replace")
    if cp.returncode != 0:
        raise SystemExit(f"failed: {' '.join(argv)}\n{err[-2000:]}")
    rss, user, system = err.split()[-3:]
    return wall, float(user) + float(system), int(rss) / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--mb", type=float, default=200, help="image size, uncompressed (MB)")
    ap.add_argument("--keep", action="store_true", help="keep the work dir")
    args = ap.parse_args()
    skopeo = find_tool("skopeo")
    work = Path(tempfile.mkdtemp(prefix="lamina-bench-copy-"))
    env = dict(os.environ, DOCKER_CONFIG=str(work / "docker"))
    # an installed lamina has its bytecode cached; without it each run compiles ~1 s more
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    lamina = [*LAMINA, "--store", str(work / "never"), "-q", "copy"]
    tls = ["--src-tls-verify=false", "--dest-tls-verify=false"]
    a, b = Registry.start(), Registry.start()
    try:
        build_layout(work / "layout", args.mb)
        src = f"{a.host}/src/img:1"
        subprocess.run(
            [skopeo, "copy", *tls, f"oci:{work / 'layout'}:bench/img:1", f"docker://{src}"],
            check=True,
            capture_output=True,
        )
        shutil.rmtree(work / "layout")
        subprocess.run([*LAMINA, "--help"], env=env, check=True, capture_output=True)  # caches
        print(f"image: {args.mb:.0f} MB uncompressed, 4 layers, gzip in registry A")
        rows: list[tuple[str, Measured, Measured]] = []

        def row(name: str, lam_dst: str, sko_dst: str) -> None:
            lam = measure([*lamina, f"docker://{src}", lam_dst], env)
            drop_skopeo_cache()
            sko = measure([skopeo, "copy", *tls, f"docker://{src}", sko_dst], env)
            rows.append((name, lam, sko))

        row("reg->reg (A->B)", f"docker://{b.host}/lam/img:1", f"docker://{b.host}/sko/img:1")
        row("reg->reg mount (A->A)", f"docker://{a.host}/lam/img:1", f"docker://{a.host}/sko/img:1")
        row("reg->oci-archive", f"oci-archive:{work / 'l.tar'}", f"oci-archive:{work / 's.tar'}")
        row(
            "reg->docker-archive",
            f"docker-archive:{work / 'ld.tar'}:bench/img:1",
            f"docker-archive:{work / 'sd.tar'}:bench/img:1",
        )
        assert not (work / "never").exists(), "copy touched a store"
        print_table(rows)
        print(
            f"\nload average: {' '.join(f'{x:.1f}' for x in os.getloadavg())}, "
            f"{os.cpu_count()} CPUs"
        )
    finally:
        a.stop()
        b.stop()
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def print_table(rows: list[tuple[str, Measured, Measured]]) -> None:
    print(
        "\n| copy | lamina wall s | lamina CPU s | lamina RSS MB "
        "| skopeo wall s | skopeo CPU s | skopeo RSS MB |"
    )
    print("|---|---|---|---|---|---|---|")
    for name, lam, sko in rows:
        cells = [f"{lam[0]:.2f}", f"{lam[1]:.2f}", f"{lam[2]:.0f}"]
        cells += [f"{sko[0]:.2f}", f"{sko[1]:.2f}", f"{sko[2]:.0f}"]
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
