"""The peer harness itself: each real tool starts privately and does what tests rely on."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from tests import peers
from tests.fixtures.build import FixtureSet
from tests.peers import Docker, Podman, Registry, Umoci, bcrypt_hash, require, secret


def test_require_skips_a_missing_tool_outside_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="needs no-such-tool-x: apt-get install"):
        require("no-such-tool-x")


def test_require_fails_a_missing_tool_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="needs no-such-tool-x"):
        require("no-such-tool-x")


def test_bcrypt_hash_is_bcrypt() -> None:
    assert bcrypt_hash("pw").startswith(("$2b$", "$2y$", "$2a$"))


def test_private_dockerd_runs_containers(clean_docker: Docker, fixtures: FixtureSet) -> None:
    assert clean_docker.sock.is_socket() and len(str(clean_docker.sock)) < 108
    assert clean_docker.env["DOCKER_HOST"] == f"unix://{clean_docker.sock}"
    clean_docker.run("load", "-i", fixtures["docker-legacy-single"].path)
    out = clean_docker.run("run", "--rm", "--network", "none", "local/stack:3", "cat", "/file3")
    assert out.stdout == "3\n"
    clean_docker.reset()
    assert clean_docker.run("images", "-aq").stdout == ""


def test_podman_reset_empties_the_storage(clean_podman: Podman, fixtures: FixtureSet) -> None:
    assert clean_podman.run("podman", "images", "-q").stdout == ""
    clean_podman.run("podman", "load", "-i", fixtures["podman-docker"].path)
    names = clean_podman.run("podman", "images", "--format", "{{.Repository}}:{{.Tag}}").stdout
    assert names.split() == ["localhost/local/stack:3"]
    clean_podman.reset()
    assert clean_podman.run("podman", "images", "-q").stdout == ""


def test_registry_counts_uploads(registry: Registry, podman: Podman, fixtures: FixtureSet) -> None:
    before = registry.upload_starts()
    src = f"docker-archive:{fixtures['base-skopeo'].path}"
    dest = f"docker://{registry.host}/harness/base:1"
    podman.run("skopeo", "copy", "--dest-tls-verify=false", src, dest)
    assert registry.upload_starts() - before == 2  # one layer + the config
    assert (registry.root / "docker/registry/v2/repositories/harness/base").is_dir()
    assert registry.count("PUT", "/harness/base/manifests/1") == 1


def test_registry_with_basic_auth(start_registry: Callable[..., Registry]) -> None:
    password = secret()
    r = start_registry(htpasswd=("alice", password))
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(f"{r.url}/v2/", timeout=5)
    assert e.value.code == 401
    ok = urllib.request.Request(f"{r.url}/v2/", headers=r.auth_header())
    with urllib.request.urlopen(ok, timeout=5) as resp:
        assert resp.status == 200


def test_umoci_runs(umoci: Umoci, tmp_path: Path) -> None:
    umoci("init", "--layout", tmp_path / "layout")
    umoci("new", "--image", f"{tmp_path / 'layout'}:x")
    assert umoci("ls", "--layout", tmp_path / "layout").stdout.split() == ["x"]


@pytest.mark.parametrize(
    ("script", "words"),
    [
        ("echo 'failed to start daemon: boom' >&2; exit 1", ("exited with 1", "boom")),
        ("echo 'stuck on something' >&2; exec sleep 60", ("not ready after 2.0s", "stuck on")),
    ],
)
def test_a_dockerd_that_does_not_come_up_is_reported_with_its_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, script: str, words: tuple[str, ...]
) -> None:
    """Both attempts fail: the error carries each log's tail and where the log was kept."""
    fake = tmp_path / "dockerd"
    fake.write_text(f"#!/bin/sh\n{script}\n")
    fake.chmod(0o755)
    monkeypatch.setattr(peers, "find_tool", lambda name: str(fake))
    with pytest.raises(peers.PeerError) as failed:
        peers.Docker.start(timeout=2.0)
    message = str(failed.value)
    for w in words:
        assert message.count(w) == 2, message  # two attempts, each reported
    kept = [
        line.split("kept at ")[1].rstrip(")") for line in message.splitlines() if "kept at" in line
    ]
    assert len(kept) == 2 and all(words[1] in Path(k).read_text() for k in kept)
