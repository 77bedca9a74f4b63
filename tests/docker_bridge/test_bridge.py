"""Docker as a source and a destination, against a real Docker 20.10 (unix socket and
ssh:// through a real OpenSSH server): load keeps IDs, send carries only what the
daemon lacks, squash in Docker keeps the filesystem and the base."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path

from tests.docker_bridge.conftest import SSHD, lamina
from tests.fixtures.build import FixtureSet
from tests.peers import Docker, run

STACK = ("local/stack:1", "local/stack:2", "local/stack:3")


def docker_id(docker: Docker, ref: str) -> str:
    return str(docker.run("image", "inspect", "--format", "{{.Id}}", ref).stdout.strip())


def rootfs(docker: Docker, ref: str) -> list[str]:
    out = docker.run("image", "inspect", "--format", "{{json .RootFS.Layers}}", ref).stdout
    return list(json.loads(out))


def export_listing(docker: Docker, ref: str) -> list[str]:
    """`docker export` of a container of `ref`: every path with its type and size."""
    cid = docker.run("create", "--network", "none", ref, "true").stdout.strip()
    try:
        tar = subprocess.run(
            [docker.cli, "export", cid], env=docker.env, capture_output=True, check=True
        ).stdout
    finally:
        docker.run("rm", cid)
    listing = subprocess.run(["tar", "-tvf", "-"], input=tar, capture_output=True, check=True)
    rows = []
    for line in listing.stdout.decode().splitlines():
        mode, owner, size, _date, _time, *name = line.split()
        rows.append(f"{mode} {owner} {size} {' '.join(name)}")
    return sorted(rows)


def test_load_from_docker_keeps_ids_history_and_tags(
    clean_docker: Docker, fixtures: FixtureSet, tmp_path: Path
) -> None:
    clean_docker.run("load", "-i", str(fixtures["docker-legacy-multi"].path))
    store = tmp_path / "store"
    out = lamina(store, "load", "docker-daemon:local/stack:3", "--json", env=clean_docker.env)
    [loaded] = json.loads(out.stdout)
    assert loaded["Id"] == docker_id(clean_docker, "local/stack:3")
    assert loaded["RepoTags"] == ["local/stack:3"]
    history = lamina(store, "history", "local/stack:3", "--json", env=clean_docker.env)
    created = [row["CreatedBy"] for row in json.loads(history.stdout)]
    assert (
        created
        == clean_docker.run(
            "history", "--no-trunc", "--format", "{{.CreatedBy}}", "local/stack:3"
        ).stdout.splitlines()
    )
    again = lamina(
        store,
        "load",
        "docker-daemon:local/stack:2",
        "docker-daemon:local/base:1",
        "--json",
        env=clean_docker.env,
    )
    assert [r["NewLayers"] for r in json.loads(again.stdout)] == [0, 0]  # all already there
    inv = json.loads(lamina(store, "inventory", "--docker", env=clean_docker.env).stdout)
    ids = clean_docker.run("images", "-aq", "--no-trunc").stdout.split()
    assert {i["id"] for i in inv["images"]} == set(ids)
    assert len(inv["layers"]) == 4  # base + three commits, by chain ID


def test_send_into_a_daemon_with_only_the_base(
    clean_docker: Docker, fixtures: FixtureSet, tmp_path: Path
) -> None:
    store = tmp_path / "store"
    lamina(store, "load", "-i", str(fixtures["docker-legacy-multi"].path), env=clean_docker.env)
    clean_docker.run("load", "-i", str(fixtures["base-skopeo"].path))
    out = lamina(store, "send", *STACK, "--to-docker", "--json", env=clean_docker.env)
    sent = json.loads(out.stdout)
    assert sent["ImageStore"] == "classic" and not sent["FullArchive"]
    assert len(sent["Omitted"]) == 1  # the base layer, which the daemon has
    assert len(sent["Carried"]) == 3  # each commit's layer once, shared by the three images
    for tag in STACK:
        ids = json.loads(lamina(store, "inspect", tag, env=clean_docker.env).stdout)
        assert docker_id(clean_docker, tag) == ids[0]["Id"]
    run = clean_docker.run("run", "--rm", "--network", "none", "local/stack:3", "cat", "/file3")
    assert run.stdout.strip() == "3"
    again = json.loads(
        lamina(store, "send", "local/stack:3", "--to-docker", "--json", env=clean_docker.env).stdout
    )
    assert again["Carried"] == [] and again["AlreadyThere"] == [ids[0]["Id"]]


def test_send_over_ssh_moves_only_the_delta_and_a_resend_almost_nothing(
    clean_docker: Docker, sshd: SSHD, fixtures: FixtureSet, tmp_path: Path
) -> None:
    store = tmp_path / "store"
    env = sshd.env()
    lamina(store, "load", "-i", str(fixtures["docker-legacy-multi"].path), env=env)
    clean_docker.run("load", "-i", str(fixtures["base-skopeo"].path))
    sshd.wire_bytes()
    sent = json.loads(
        lamina(store, "send", "local/stack:3", "--to-docker", sshd.host, "--json", env=env).stdout
    )
    first = sshd.wire_bytes()
    base_size = sent["OmittedBytes"]
    assert 0 < first < base_size  # the 2 MB base did not cross
    assert docker_id(clean_docker, "local/stack:3") == sent["Images"][0]["Id"]
    run = clean_docker.run("run", "--rm", "--network", "none", "local/stack:3", "cat", "/file2")
    assert run.stdout.strip() == "2"
    lamina(store, "send", "local/stack:3", "--to-docker", sshd.host, env=env)
    assert sshd.wire_bytes() < 64 * 1024


def test_load_and_squash_over_ssh(
    clean_docker: Docker, sshd: SSHD, fixtures: FixtureSet, tmp_path: Path
) -> None:
    clean_docker.run("load", "-i", str(fixtures["docker-legacy-multi"].path))
    env = sshd.env()
    store = tmp_path / "store"
    lamina(store, "--docker-host", sshd.host, "load", "docker-daemon:local/stack:2", env=env)
    [inspected] = json.loads(lamina(store, "inspect", "local/stack:2", env=env).stdout)
    assert inspected["Id"] == docker_id(clean_docker, "local/stack:2")
    lamina(
        store,
        "--docker-host",
        sshd.host,
        "squash",
        "docker-daemon:local/stack:3",
        "-t",
        "local/stack:sq",
        env=env,
    )
    assert export_listing(clean_docker, "local/stack:sq") == export_listing(
        clean_docker, "local/stack:3"
    )


def test_squash_in_docker_keeps_the_filesystem_and_the_base(
    clean_docker: Docker, fixtures: FixtureSet, tmp_path: Path
) -> None:
    clean_docker.run("load", "-i", str(fixtures["docker-legacy-multi"].path))
    store = tmp_path / "store"
    out = lamina(
        store,
        "squash",
        "docker-daemon:local/stack:3",
        "-t",
        "local/stack:sq",
        "--json",
        env=clean_docker.env,
    )
    result = json.loads(out.stdout)
    assert (result["Squashed"], result["LayersAfter"]) == ("1..3", 2)  # above local/base:1
    assert docker_id(clean_docker, "local/stack:sq") == result["Id"]
    before, after = rootfs(clean_docker, "local/stack:3"), rootfs(clean_docker, "local/stack:sq")
    assert after[0] == before[0] == rootfs(clean_docker, "local/base:1")[0]
    assert export_listing(clean_docker, "local/stack:sq") == export_listing(
        clean_docker, "local/stack:3"
    )
    assert "Carried 1 layer" in out.stderr or out.stderr == ""
    assert not store.exists()  # squash in Docker never touches the user's store


def test_demo_tells_the_docker_story_and_cleans_up(clean_docker: Docker, tmp_path: Path) -> None:
    out = lamina(tmp_path / "unused", "demo", env=clean_docker.env)
    assert "== 8. New: your Docker Engine as source and destination" in out.stdout
    assert "$ lamina squash docker-daemon:lamina-demo/mystuff:1" in out.stdout
    assert "Loaded image: lamina-demo/mystuff:sq" in out.stdout + out.stderr
    assert clean_docker.run("images", "-aq").stdout.split() == []  # its images are gone


def test_demo_without_docker_says_how_to_try_it(tmp_path: Path) -> None:
    env = {**os.environ, "DOCKER_HOST": f"unix://{tmp_path}/none.sock"}
    out = lamina(tmp_path / "unused", "demo", env=env)
    assert "No Docker Engine is reachable here" in out.stdout
    assert "$ lamina send local/mystuff:1 --to-docker ssh://bob@bobs-host" in out.stdout


def test_the_docker_cli_context_is_followed(clean_docker: Docker, tmp_path: Path) -> None:
    """No DOCKER_HOST: the current context of ~/.docker (or DOCKER_CONTEXT) names the engine."""
    config = tmp_path / "docker-config"
    for name, host in (("mine", f"unix://{clean_docker.sock}"), ("other", "unix:///nonexistent")):
        meta = config / "contexts" / "meta" / hashlib.sha256(name.encode()).hexdigest()
        meta.mkdir(parents=True)
        doc = {"Name": name, "Metadata": {}, "Endpoints": {"docker": {"Host": host}}}
        (meta / "meta.json").write_text(json.dumps(doc))
    (config / "config.json").write_text(json.dumps({"currentContext": "mine"}))
    env = {k: v for k, v in os.environ.items() if k not in ("DOCKER_HOST", "DOCKER_CONTEXT")}
    env["DOCKER_CONFIG"] = str(config)
    listed = run([clean_docker.cli, "context", "ls", "--format", "{{.Name}}"], env=env).stdout
    assert "mine" in listed.split()  # the docker CLI reads the same files
    inv = json.loads(lamina(tmp_path / "s", "inventory", "--docker", env=env).stdout)
    assert inv["kind"] == "lamina-inventory"
    cp = lamina(tmp_path / "s", "inventory", "--docker", env={**env, "DOCKER_CONTEXT": "other"},
                check=False)  # fmt: skip
    assert cp.returncode == 10 and "unix:///nonexistent (context other)" in cp.stderr


def test_save_from_docker_leaves_out_the_base(
    clean_docker: Docker, fixtures: FixtureSet, tmp_path: Path
) -> None:
    """`save docker-daemon:NAME --exclude-base`: a delta that Docker holding the base loads."""
    clean_docker.run("load", "-i", str(fixtures["docker-legacy-multi"].path))
    stack3 = docker_id(clean_docker, "local/stack:3")
    delta = tmp_path / "delta.tar"
    out = lamina(
        tmp_path / "unused", "save", "docker-daemon:local/stack:3", "--exclude-base", "-o",
        str(delta), "--json", env=clean_docker.env,
    )  # fmt: skip
    saved = json.loads(out.stdout)
    assert len(saved["Omitted"]) == 1 and len(saved["Carried"]) == 3
    assert not (tmp_path / "unused").exists()  # the user's store is not touched
    clean_docker.run("rmi", "local/stack:3", "local/stack:2", "local/stack:1")
    clean_docker.run("load", "-i", str(delta))
    assert docker_id(clean_docker, "local/stack:3") == stack3


def test_analyze_a_daemon_image_as_the_store_would(
    clean_docker: Docker, fixtures: FixtureSet, tmp_path: Path
) -> None:
    """analyze docker-daemon:NAME sees what analyze of the same image in a store sees
    (base found among the daemon's tagged images), and advises squashing it in Docker."""
    clean_docker.run("load", "-i", str(fixtures["docker-legacy-multi"].path))
    store = tmp_path / "store"
    env = clean_docker.env
    lamina(store, "load", "-i", str(fixtures["docker-legacy-multi"].path), env=env)
    in_store = json.loads(lamina(store, "analyze", "local/stack:3", "--json", env=env).stdout)
    in_docker = json.loads(
        lamina(
            tmp_path / "untouched",
            "analyze",
            "docker-daemon:local/stack:3",
            "--json",
            env=clean_docker.env,
        ).stdout
    )
    assert in_docker["Layers"] == in_store["Layers"] and in_docker["Layers"]
    assert in_docker["Base"] == in_store["Base"]
    assert not (tmp_path / "untouched").exists() or not any(
        (tmp_path / "untouched" / "blobs" / "sha256").iterdir()
    )
    store_advice = [
        a["Command"].replace("local/stack:3", "docker-daemon:local/stack:3", 1)
        for a in in_store["Advice"]
    ]
    assert [a["Command"] for a in in_docker["Advice"]] == store_advice
    assert [a["Saves"] for a in in_docker["Advice"]] == [a["Saves"] for a in in_store["Advice"]]
