"""The peer harness itself: each real tool starts privately and does what tests rely on."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

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
