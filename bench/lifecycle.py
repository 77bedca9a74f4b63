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
RUNS = 5
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


class Tools:
    """The same steps for lamina and docker, so each run can do both back to back."""

    def __init__(self, store: Path, docker: Docker, tag: str) -> None:
        self.store, self.docker, self.tag = store, docker, tag
        self.rss = [dockerd_rss_mb(docker)]

    def lamina(self, task: str, *args: str) -> Result:
        settled()
        return run(task, "lamina", lamina_cmd("--store", str(self.store), *args))

    def dock(self, task: str, *args: str) -> Result:
        settled()
        result = run(task, "docker", [self.docker.cli, *args], self.docker.env)
        self.rss.append(dockerd_rss_mb(self.docker))
        return result


def interleaved(
    t: Tools, task: str, lamina_args: list[str], docker_args: list[str]
) -> list[Result]:
    """RUNS runs of each tool, alternating which goes first (so both meet the same load)."""
    ours: list[Result] = []
    theirs: list[Result] = []
    for i in range(RUNS):
        mine = [a.format(i=i) for a in lamina_args]
        other = [a.format(i=i) for a in docker_args]
        if i % 2:
            theirs.append(t.dock(task, *other))
        ours.append(t.lamina(task, *mine))
        if not i % 2:
            theirs.append(t.dock(task, *other))
    return [median(ours), median(theirs)]


def measure(t: Tools) -> list[Result]:
    results = interleaved(
        t,
        "create (materialise)",
        ["create", "--name", "c{i}", t.tag],
        ["create", "--name", "c{i}", t.tag],
    )
    t.lamina("setup", "run", "--name", "touched", t.tag, "sh", "-c", TOUCH)
    t.dock("setup", "run", "--network", "none", "--name", "touched", t.tag, "sh", "-c", TOUCH)
    results += interleaved(
        t, COMMIT, ["commit", "touched", "b:{i}"], ["commit", "touched", "b:{i}"]
    )
    note = f"dockerd RSS {min(t.rss):.0f}-{max(t.rss):.0f} MB"
    for r in results:
        if r.tool == "docker":
            r.note = f"{note}; {r.note}"
    return results


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
        run("setup", "docker", [docker.cli, "load", "-q", "-i", str(archive)], docker.env)
        results = measure(Tools(store, docker, tag))
    finally:
        docker.stop()
        shutil.rmtree(work, ignore_errors=True)
    print(
        table(results, f"create and commit on a {mb:.0f} MB, {len(meta['diff_ids'])}-layer image")
    )


if __name__ == "__main__":
    main()
