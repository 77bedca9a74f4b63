"""Peak RSS of `lamina push` and `lamina pull` of one big image (issue 16), 3 workers and 1.

    .venv/bin/python bench/push_rss.py [--size GB] [--workers 3,1] [--pull] [--src OLD/src]
                                       [--keep-inputs]

The image is bench/bigimage.py's app:1 (copies of /usr, not zeros: L0 is half the
size), loaded once into a store under .cache/bench/pushrss/. Each row is one fresh
process under GNU time (bench/scale_big.py's `run`): wall and CPU seconds, peak RSS,
and the load average. Workers=1 runs with lamina.transports.registry.push.WORKERS set
to 1 (pull likewise); --workers picks the runs (default 3,1,3,1). The registry is
tests/peers.py's private one; everything is removed at the end (the inputs too unless
--keep-inputs, which keeps the loaded store as well, for the next run).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

import bigimage
from measure import ROOT
from scale_big import LAMINA_ENV, Row, run, table
from tests.peers import Registry

WORK = ROOT / ".cache" / "bench" / "pushrss"
# runs the CLI with the parallel layer count of push and pull set to argv[1]
MAIN = (
    "import sys\n"
    "from lamina.transports.registry import pull, push\n"
    "push.WORKERS = pull.WORKERS = int(sys.argv.pop(1))\n"
    "from lamina.cli.app import main\n"
    "sys.argv[0] = 'lamina'\n"
    "sys.exit(main())\n"
)


def lam(workers: int, store: Path, *args: str) -> list[str]:
    return [sys.executable, "-c", MAIN, str(workers), "--quiet", "--store", str(store), *args]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", type=float, default=3.0, help="image size in GB (default 3)")
    ap.add_argument("--keep-inputs", action="store_true", help="keep .cache/bench/big/SIZE")
    ap.add_argument("--pull", action="store_true", help="measure pull too")
    ap.add_argument("--workers", default="3,1,3,1", help="worker counts, one run each")
    ap.add_argument("--src", help="run lamina from this src/ (e.g. an older checkout's)")
    opts = ap.parse_args()
    env = {**LAMINA_ENV, "PYTHONPATH": opts.src} if opts.src else LAMINA_ENV
    inp = bigimage.ensure(opts.size)
    store = WORK / "store"
    if not (store / "index.json").exists():
        subprocess.run(lam(3, store, "load", "-i", str(inp.full)), check=True, env=LAMINA_ENV)
    rows: list[Row] = []
    for workers in map(int, opts.workers.split(",")):  # a fresh registry each: no mounts
        registry = Registry.start()
        try:
            ref = f"{registry.host}/bench/big:1"
            note = f"gzip, {workers} worker(s)"
            argv = lam(workers, store, "push", bigimage.APP1, ref)
            rows.append(run("push", "lamina", argv, inp.size, env, note=note))
            print(table(rows[-1:], ""), flush=True)
            if opts.pull and len(rows) < 4:
                pulled = WORK / "pulled"
                argv = lam(workers, pulled, "pull", ref)
                rows.append(run("pull", "lamina", argv, inp.size, env, note=note))
                print(table(rows[-1:], ""), flush=True)
                shutil.rmtree(pulled)
        finally:
            registry.stop()
    print(table(rows, f"push/pull of a {opts.size:g} GB image (L0 {inp.size / 2e9:.2f} GB)"))
    if not opts.keep_inputs:
        shutil.rmtree(WORK)
        bigimage.remove(opts.size)


if __name__ == "__main__":
    main()
