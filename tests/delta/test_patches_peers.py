"""Patched deltas and a real Docker Engine: plain `docker load` refuses them at once with
nothing loaded; `lamina expand` makes them whole for Docker (same image ID as a full
save); a patched delta loaded into lamina goes on to Docker by `send --to-docker`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import lamina
from lamina.api import delta
from tests.delta.updates import APP1, APP2, store_with
from tests.lamina_cli import run_lamina
from tests.peers import Docker


def docker_state(docker: Docker) -> tuple[list[str], list[str]]:
    """What Docker holds: `docker images -a` and its layer store (chain IDs on disk)."""
    images = docker.run(
        "images", "-a", "--no-trunc", "--format", "{{.ID}} {{.Repository}}:{{.Tag}}"
    )
    layerdb = docker.root / "root" / "image" / "vfs" / "layerdb" / "sha256"
    layers = sorted(p.name for p in layerdb.iterdir()) if layerdb.exists() else []
    return sorted(images.stdout.splitlines()), layers


def docker_id(docker: Docker, ref: str) -> str:
    return str(docker.run("image", "inspect", "--format", "{{.Id}}", ref).stdout.strip())


def patched(tmp_path: Path) -> tuple[lamina.Store, lamina.Store, Path]:
    sender = store_with(tmp_path, "sender", APP1, APP2)
    bob = store_with(tmp_path, "bob", APP1)
    out = tmp_path / "patched.tar"
    saved = delta.save_delta(sender, ["local/app:2"], out, have=delta.inventory(bob))
    assert saved.patched is not None and saved.patched.patches
    return sender, bob, out


def test_docker_refuses_a_patched_delta_at_once_with_nothing_loaded(clean_docker, tmp_path):
    sender, _, out = patched(tmp_path)
    app1 = tmp_path / "app1.tar"
    lamina.save(sender, ["local/app:1"], app1)
    clean_docker.run("load", "-i", str(app1))
    before = docker_state(clean_docker)
    assert len(before[1]) == 2  # base and app:1's layer
    cp = clean_docker.run("load", "-i", str(out), check=False)
    assert cp.returncode != 0
    assert "this archive carries layer patches: use lamina load or lamina expand" in cp.stderr
    assert docker_state(clean_docker) == before


def test_expand_then_docker_load_gives_the_full_saves_image_id(clean_docker, tmp_path):
    sender, bob, out = patched(tmp_path)
    full, expanded = tmp_path / "full.tar", tmp_path / "expanded.tar"
    lamina.save(sender, ["local/app:2"], full)
    clean_docker.run("load", "-i", str(full))
    want = docker_id(clean_docker, "local/app:2")
    clean_docker.reset()
    cp = run_lamina(bob.root, "expand", str(out), "-o", str(expanded))
    assert cp.returncode == 0, cp.stderr
    assert clean_docker.run("load", "-i", str(expanded)).stdout == "Loaded image: local/app:2\n"
    assert docker_id(clean_docker, "local/app:2") == want == APP2.id
    box = clean_docker.run("create", "local/app:2").stdout.strip()
    copied = clean_docker.run("cp", f"{box}:/app/VERSION", str(tmp_path / "VERSION"))
    assert copied.returncode == 0 and (tmp_path / "VERSION").read_text() == "2\n"


def test_a_patched_delta_loaded_into_lamina_goes_on_to_docker(clean_docker, tmp_path):
    _, bob, out = patched(tmp_path)
    app1 = tmp_path / "app1.tar"
    lamina.save(bob, ["local/app:1"], app1)
    clean_docker.run("load", "-i", str(app1))
    assert run_lamina(bob.root, "load", "-i", str(out)).returncode == 0
    out = _with_env(bob.root, clean_docker, "send", "local/app:2", "--to-docker", "--json")
    sent = json.loads(out)
    assert [x["DiffId"] for x in sent["Carried"]] == [APP2.diff_ids[1]]  # whole, not a patch
    assert docker_id(clean_docker, "local/app:2") == APP2.id


def _with_env(store: Path, docker: Docker, *args: str) -> str:
    cp = subprocess.run(
        [sys.executable, "-m", "lamina", "--store", str(store), *args],
        env=docker.env,
        capture_output=True,
        text=True,
        check=True,
    )
    return cp.stdout
