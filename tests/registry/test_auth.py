"""Credentials: Docker's config file, challenges, and a real registry behind htpasswd."""

from __future__ import annotations

import base64
import io
import json
import stat
import sys
from collections.abc import Callable

import pytest

import lamina.api as api
from lamina.cli import main
from lamina.errors import AuthError
from lamina.transports.registry import auth
from lamina.transports.registry.client import Session, is_loopback
from tests.peers import Registry, require, secret
from tests.registry import tokenauth
from tests.registry.conftest import load_stack


def test_challenges_are_parsed():
    (bearer,) = auth.parse_challenges(
        'Bearer realm="https://auth.example/token",service="registry.example",'
        'scope="repository:a/b:pull,push",error="insufficient_scope"'
    )
    assert bearer.scheme == "bearer"
    assert bearer.params == {
        "realm": "https://auth.example/token",
        "service": "registry.example",
        "scope": "repository:a/b:pull,push",
        "error": "insufficient_scope",
    }
    basic, other = auth.parse_challenges('Basic realm="lamina test", Bearer realm=x,service="s"')
    assert (basic.scheme, basic.params) == ("basic", {"realm": "lamina test"})
    assert (other.scheme, other.params) == ("bearer", {"realm": "x", "service": "s"})
    assert auth.parse_challenges("") == []
    (quoted,) = auth.parse_challenges(r'Basic realm="say \"hi\""')
    assert quoted.params["realm"] == 'say "hi"'


@pytest.mark.parametrize(
    ("text", "host"),
    [
        ("localhost:5000", "localhost:5000"),
        ("https://localhost:5000/v2/", "localhost:5000"),
        ("http://127.0.0.1:5000", "127.0.0.1:5000"),
        ("https://index.docker.io/v1/", "docker.io"),
        ("registry-1.docker.io", "docker.io"),
        ("docker.io", "docker.io"),
    ],
)
def test_hosts_are_normalised_like_docker(text, host):
    assert auth.normalize_host(text) == host


def test_plain_http_only_for_loopback_or_when_asked():
    for host in ("localhost", "localhost:5000", "127.0.0.1:5000", "127.3.4.5", "[::1]:5000"):
        assert is_loopback(host), host
    for host in ("registry.example:5000", "10.0.0.1:5000", "localhost.example", "[::2]:1"):
        assert not is_loopback(host), host
    with Session("registry.example:5000") as s:
        assert not s.allow_http
    with Session("registry.example:5000", tls_verify=False) as s:
        assert s.allow_http
    with Session("127.0.0.1:5000") as s:
        assert s.allow_http


def test_config_file_is_docker_format_and_private(docker_config):
    path = docker_config / "config.json"
    path.parent.mkdir()
    path.write_text(json.dumps({"auths": {"https://other:1": {"auth": "eDp5"}}, "psFormat": "x"}))
    auth.save_credentials("localhost:5000", auth.Credentials("bob", "p:w"))
    auth.save_credentials("docker.io", auth.Credentials("hub", "pw"))
    doc = json.loads(path.read_text())
    assert doc["psFormat"] == "x"
    assert base64.b64decode(doc["auths"]["localhost:5000"]["auth"]) == b"bob:p:w"
    assert "https://index.docker.io/v1/" in doc["auths"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert auth.load_credentials("localhost:5000") == auth.Credentials("bob", "p:w")
    assert auth.load_credentials("other:1") == auth.Credentials("x", "y")
    assert auth.load_credentials("index.docker.io") == auth.Credentials("hub", "pw")
    assert auth.load_credentials("nowhere:1") is None
    assert auth.remove_credentials("localhost:5000")
    assert not auth.remove_credentials("localhost:5000")
    assert auth.load_credentials("localhost:5000") is None


def test_basic_auth_registry_needs_login(
    store, tmp_path, start_registry: Callable[..., Registry], docker_config, monkeypatch, capsys
):
    password = secret()
    reg = start_registry(htpasswd=("alice", password))
    load_stack(store, tmp_path, 2)
    ref = f"{reg.host}/team/app:1"
    with pytest.raises(AuthError, match="requires authentication") as err:
        api.registry.push(store, "local/stack:1", ref)
    assert err.value.exit_code == 8
    assert main(["--store", str(store.root), "push", "local/stack:1", ref]) == 8
    assert f"lamina login {reg.host}" in capsys.readouterr().err

    with pytest.raises(AuthError, match="refused the credentials of 'alice'"):
        api.registry.login(reg.host, "alice", "wrong")
    assert not (docker_config / "config.json").exists()

    monkeypatch.setattr(sys, "stdin", io.StringIO(password + "\n"))
    assert main(["login", "-u", "alice", "--password-stdin", reg.host]) == 0
    assert "Login Succeeded" in capsys.readouterr().out
    config = docker_config / "config.json"
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    saved = json.loads(config.read_text())["auths"][reg.host]["auth"]
    assert base64.b64decode(saved).decode() == f"alice:{password}"

    pushed = api.registry.push(store, "local/stack:1", ref)
    other = api.open_store(tmp_path / "other")
    pulled = api.registry.pull(other, ref)
    assert pulled.id == api.get_image(store, "local/stack:1").id
    assert pushed.digest == pulled.digest

    assert main(["logout", reg.host]) == 0
    assert capsys.readouterr().out == f"Removing login credentials for {reg.host}\n"
    with pytest.raises(AuthError):
        api.registry.pull(api.open_store(tmp_path / "third"), ref)
    assert main(["logout", reg.host]) == 0
    assert "Not logged in" in capsys.readouterr().out


@pytest.mark.peer
def test_bearer_token_registry(store, tmp_path, docker_config):
    require("docker-registry")
    password = secret()
    reg, tokens = tokenauth.start("bob", password)
    try:
        load_stack(store, tmp_path, 2)
        ref = f"{reg.host}/team/app:1"
        with pytest.raises(AuthError, match="requires authentication"):
            api.registry.push(store, "local/stack:1", ref)
        with pytest.raises(AuthError, match="refused the credentials of 'bob'"):
            api.registry.login(reg.host, "bob", "wrong")
        api.registry.login(reg.host, "bob", password)

        pushed = api.registry.push(store, "local/stack:1", ref)
        assert ["repository:team/app:pull,push"] in [q.get("scope") for q in tokens.requests]
        mounted = api.registry.push(store, "local/stack:1", f"{reg.host}/team/copy:1")
        assert {x.how for x in mounted.layers} == {"mounted"}
        assert sorted(tokens.requests[-1]["scope"]) == [
            "repository:team/app:pull",
            "repository:team/copy:pull,push",
        ]
        other = api.open_store(tmp_path / "other")
        assert api.registry.pull(other, ref).digest == pushed.digest
        assert all(q.get("service") == [tokenauth.SERVICE] for q in tokens.requests)
    finally:
        reg.stop()
        tokens.stop()
