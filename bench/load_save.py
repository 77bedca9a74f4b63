"""lamina load/save beside podman load/save and skopeo, on the same realistic archive.

    .venv/bin/python bench/load_save.py

Builds (once) the ~370 MB, 3-layer image of bench/workload.py, then in one run:
load it into an empty store with lamina and with podman (vfs), copy it with
skopeo, and save it back out with each. Prints a Markdown table.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from measure import Result, lamina_cmd, run, table
from tests.peers import Podman
from workload import ensure


def main() -> None:
    archive, meta = ensure()
    tag = str(meta["tag"])
    mb = archive.stat().st_size / 1e6
    work = Path(tempfile.mkdtemp(prefix="lamina-bench-"))
    podman = Podman.start()
    results: list[Result] = []
    try:
        store = work / "store"
        results.append(
            run("load", "lamina", lamina_cmd("--store", str(store), "load", "-i", str(archive)))
        )
        results.append(
            run("load", "podman", ["podman", "load", "-q", "-i", str(archive)], podman.env)
        )
        results.append(
            run(
                "copy archive -> dir:",
                "skopeo",
                ["skopeo", "copy", "-q", f"docker-archive:{archive}", f"dir:{work / 'dir'}"],
                podman.env,
            )
        )
        results.append(
            run(
                "save",
                "lamina",
                lamina_cmd("--store", str(store), "save", "-o", str(work / "l.tar"), tag),
            )
        )
        results.append(
            run(
                "save",
                "podman",
                ["podman", "save", "-q", "-o", str(work / "p.tar"), "localhost/" + tag],
                podman.env,
            )
        )
        results.append(
            run(
                "save",
                "skopeo",
                [
                    "skopeo",
                    "copy",
                    "-q",
                    f"containers-storage:localhost/{tag}",
                    f"docker-archive:{work / 's.tar'}:{tag}",
                ],
                podman.env,
            )
        )
        again = work / "store2"
        results.append(
            run(
                "load (own save)",
                "lamina",
                lamina_cmd("--store", str(again), "load", "-i", str(work / "l.tar")),
            )
        )
    finally:
        podman.stop()
        shutil.rmtree(work, ignore_errors=True)
    print(table(results, f"load/save of a {mb:.0f} MB, {len(meta['diff_ids'])}-layer image"))


if __name__ == "__main__":
    main()
