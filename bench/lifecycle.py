"""lamina create/commit beside docker create/commit, on the same realistic image.

    sudo .venv/bin/python bench/lifecycle.py

Uses the ~370 MB, 3-layer image of bench/workload.py (built once). In one run:
- create: materialise the image as a new container (lamina create, docker create);
- commit: a container in which the same shell command changed 10,000 files is
  committed (lamina commit, docker commit): the diff becomes one layer.
The changes are made with `lamina run` and `docker run` (not timed), so this needs
root. Docker runs as a private dockerd on vfs (tests/peers.py). Peak MB is the
measured command's own RSS: for docker that is the client, the work is in dockerd
(its growth is shown in the note). Prints a Markdown table.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

from measure import Result, lamina_cmd, run, table
from tests.peers import Docker
from workload import ensure

FILES = 10_000
RUNS = 3
COMMIT = f"commit ({FILES} files changed)"
# the same change in both containers: append a byte to the first 10,000 files under /usr
TOUCH = (
    f"find /usr -xdev -type f | sort | head -n {FILES} | "
    'while IFS= read -r f; do printf x >> "$f"; done'
)


def dockerd_rss_mb(docker: Docker) -> float:
    """dockerd's current resident memory (MB)."""
    pid = int((docker.root / "docker.pid").read_text())
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def settled() -> None:
    """Flush dirty pages first, so no tool pays for the writes of the step before it."""
    os.sync()


def median(results: list[Result]) -> Result:
    """The middle of several runs (other work on the machine makes single runs noisy)."""
    ordered = sorted(results, key=lambda r: r.seconds)
    best = ordered[len(ordered) // 2]
    spread = f"{len(results)} runs: " + ", ".join(f"{r.seconds:.2f}" for r in results)
    best.note = f"{best.note}; {spread}" if best.note else spread
    best.peak_mb = max(r.peak_mb for r in results)
    return best


def lamina_side(store: Path, tag: str) -> list[Result]:
    def lam(*args: str) -> list[str]:
        return lamina_cmd("--store", str(store), *args)

    creates = []
    for i in range(RUNS):
        settled()
        creates.append(run("create (materialise)", "lamina", lam("create", "--name", f"c{i}", tag)))
    run("setup", "lamina", lam("run", "--name", "touched", tag, "sh", "-c", TOUCH))
    commits = []
    for i in range(RUNS):
        settled()
        commits.append(run(COMMIT, "lamina", lam("commit", "touched", f"b:{i}")))
    return [median(creates), median(commits)]


def docker_side(docker: Docker, archive: Path, tag: str) -> list[Result]:
    env = docker.env
    d = [docker.cli]
    run("setup", "docker", [*d, "load", "-q", "-i", str(archive)], env)
    creates, commits = [], []
    rss = [dockerd_rss_mb(docker)]
    for i in range(RUNS):
        settled()
        creates.append(
            run("create (materialise)", "docker", [*d, "create", "--name", f"c{i}", tag], env)
        )
        rss.append(dockerd_rss_mb(docker))
    touch = [*d, "run", "--network", "none", "--name", "touched", tag, "sh", "-c", TOUCH]
    run("setup", "docker", touch, env)
    for i in range(RUNS):
        settled()
        commits.append(run(COMMIT, "docker", [*d, "commit", "touched", f"b:{i}"], env))
        rss.append(dockerd_rss_mb(docker))
    note = f"dockerd RSS {min(rss):.0f}-{max(rss):.0f} MB"
    for r in creates + commits:
        r.note = note
    return [median(creates), median(commits)]


def main() -> None:
    if os.geteuid() != 0:
        sys.exit("bench/lifecycle.py needs root (lamina run and dockerd)")
    archive, meta = ensure()
    tag = str(meta["tag"])
    mb = archive.stat().st_size / 1e6
    work = Path(tempfile.mkdtemp(prefix="lamina-bench-"))
    docker = Docker.start()
    results: list[Result] = []
    try:
        store = work / "store"
        run("setup", "lamina", lamina_cmd("--store", str(store), "load", "-i", str(archive)))
        lamina = lamina_side(store, tag)
        dock = docker_side(docker, archive, tag)
        for mine, theirs in zip(lamina, dock, strict=True):
            results += [mine, theirs]
    finally:
        docker.stop()
        shutil.rmtree(work, ignore_errors=True)
    print(
        table(results, f"create and commit on a {mb:.0f} MB, {len(meta['diff_ids'])}-layer image")
    )


if __name__ == "__main__":
    main()
