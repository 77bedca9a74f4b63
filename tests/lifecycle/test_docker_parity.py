"""The seed's walkthrough against the REAL Docker 20.10 and lamina, compared.

Both start from the same buildah-made busybox base (fixtures["base-skopeo"]) and do
the same thing: three run+commit rounds, a fourth container, an rmi that must be
refused while containers use the image, container prune, rmi stack:2 then stack:3.
Compared: the Untagged/Deleted lines (IDs masked), `images -a` (names and count),
the files in the last container, the history rows (created_by, comment).
`lamina run` needs root, so this test does too.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.lamina_cli import run_lamina
from tests.lifecycle.helpers import fs_of_tar

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="lamina run needs root")

Tool = Callable[..., tuple[int, str, str]]
LONG_ID = re.compile(r"sha256:[0-9a-f]{64}")
SHORT_ID = re.compile(r"\b[0-9a-f]{12}\b")


def mask(text: str) -> str:
    return SHORT_ID.sub("<id>", LONG_ID.sub("sha256:<id>", text))


def docker_tool(docker: Any) -> Tool:
    def t(*args: str) -> tuple[int, str, str]:
        if args and args[0] == "run":
            args = ("run", "--network", "none", *args[1:])
        cp = docker.run(*args, check=False, text=False)
        return cp.returncode, cp.stdout.decode("latin-1"), cp.stderr.decode()

    return t


def lamina_tool(store: Path) -> Tool:
    def t(*args: str) -> tuple[int, str, str]:
        cp = run_lamina(store, *args)
        return cp.returncode, cp.stdout.decode("latin-1"), cp.stderr.decode()

    return t


def ok(t: Tool, *args: str) -> str:
    rc, out, err = t(*args)
    assert rc == 0, f"{args}: {err}"
    return out


def listing(t: Tool, docker: bool) -> list[str]:
    if docker:
        out = ok(t, "images", "-a", "--format", "{{.Repository}}:{{.Tag}}")
        return sorted(out.split())
    return sorted(
        f"{r['Repository']}:{r['Tag']}" for r in json.loads(ok(t, "images", "-a", "--json"))
    )


def history(t: Tool, ref: str, docker: bool) -> list[tuple[str, str]]:
    if docker:
        out = ok(t, "history", "--no-trunc", "--format", "{{.CreatedBy}}|{{.Comment}}", ref)
        return [tuple(line.split("|", 1)) for line in out.splitlines()]  # type: ignore[misc]
    return [(r["CreatedBy"], r["Comment"]) for r in json.loads(ok(t, "history", "--json", ref))]


def walkthrough(t: Tool, base: Path, docker: bool) -> dict[str, Any]:
    got: dict[str, Any] = {}
    ok(t, "load", "-i", str(base))
    image = "local/base:1"
    for i, name in enumerate(("stacking", "stacking1", "stacking2"), 1):
        ok(t, "run", "--name", name, image, "sh", "-c", f"echo {i} > /file{i}")
        extra = {1: ["-m", "first file"], 3: ["--author", "Jane <j@example.com>"]}.get(i, [])
        ok(t, "commit", *extra, name, f"local/stack:{i}")
        image = f"local/stack:{i}"
    ok(t, "run", "--name", "stacking3", image, "sh", "-c", "echo 4 > /file4")
    got["files"] = sorted(_exported_files(t))
    rc, _, err = t("rmi", "local/stack:2")
    got["refused"] = (rc != 0, mask(err.strip().split("conflict: ", 1)[-1]))
    got["images_before"] = listing(t, docker)
    ok(t, "container", "prune", "-f")
    got["rmi2"] = mask(ok(t, "rmi", "local/stack:2")).splitlines()
    got["images_mid"] = listing(t, docker)
    got["rmi3"] = mask(ok(t, "rmi", "local/stack:3")).splitlines()
    got["images_after"] = listing(t, docker)
    got["history"] = history(t, "local/stack:1", docker)
    return got


def _exported_files(t: Tool) -> list[str]:
    rc, out, err = t("export", "stacking3")
    assert rc == 0, err
    return list(fs_of_tar(out.encode("latin-1")))


def test_seed_walkthrough_matches_docker(clean_docker, fixtures, tmp_path):
    base = fixtures["base-skopeo"].path
    theirs = walkthrough(docker_tool(clean_docker), base, docker=True)
    ours = walkthrough(lamina_tool(tmp_path / "store"), base, docker=False)
    for key in theirs:
        assert ours[key] == theirs[key], f"{key}: lamina {ours[key]!r} != docker {theirs[key]!r}"
    # and what they are, so a change in both would still be noticed
    assert {"file1", "file2", "file3", "file4"} <= set(ours["files"])
    assert ours["refused"][0] and "must force" in ours["refused"][1]
    assert ours["rmi2"] == ["Untagged: local/stack:2"]
    assert ours["rmi3"][0] == "Untagged: local/stack:3"
    assert sum(line.startswith("Deleted: ") for line in ours["rmi3"]) == 4
    assert ours["images_mid"].count("<none>:<none>") == 1
    assert ours["history"][0] == ("sh -c echo 1 > /file1", "first file")
