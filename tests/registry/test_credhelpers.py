"""Docker's credential sources, in Docker's order, with a real credential helper program.

The helper is a tiny `docker-credential-test` written here (it speaks the
docker-credential-helpers protocol and keeps its secrets in a JSON file), put on
PATH; the registries are real (htpasswd, and token auth for identity tokens).
"""

from __future__ import annotations

import base64
import io
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

import lamina.api as api
from lamina.cli import main
from lamina.errors import AuthError
from tests.peers import Registry, require, secret
from tests.registry import tokenauth
from tests.registry.conftest import load_stack

HELPER = """#!{python}
import json, os, sys
path = os.environ["TEST_CRED_FILE"]
action, data = sys.argv[1], sys.stdin.read()
db = json.load(open(path)) if os.path.exists(path) else {{}}
with open(path + ".log", "a") as log:
    log.write(action + " " + (json.loads(data)["ServerURL"] if action == "store" else data) + "\\n")
if action == "get":
    if data not in db:
        print("credentials not found in native keychain")
        sys.exit(1)
    print(json.dumps({{"ServerURL": data, "Username": db[data][0], "Secret": db[data][1]}}))
elif action == "store":
    doc = json.loads(data)
    db[doc["ServerURL"]] = [doc["Username"], doc["Secret"]]
elif action == "erase":
    if db.pop(data, None) is None:
        print("credentials not found in native keychain")
        sys.exit(1)
elif action == "list":
    print(json.dumps({{k: v[0] for k, v in db.items()}}))
json.dump(db, open(path, "w"))
"""


@dataclass
class Helper:
    file: Path

    def db(self) -> dict[str, list[str]]:
        found: dict[str, list[str]] = (
            json.loads(self.file.read_text()) if self.file.exists() else {}
        )
        return found

    def seed(self, server: str, user: str, secret: str) -> None:
        self.file.write_text(json.dumps({**self.db(), server: [user, secret]}))

    def calls(self) -> list[str]:
        log = self.file.with_name(self.file.name + ".log")
        return log.read_text().splitlines() if log.exists() else []


@pytest.fixture
def helper(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Helper:
    """docker-credential-test on PATH, keeping its secrets in a file of its own."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    program = bindir / "docker-credential-test"
    program.write_text(HELPER.format(python=sys.executable))
    program.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("TEST_CRED_FILE", str(tmp_path / "helper-secrets.json"))
    return Helper(tmp_path / "helper-secrets.json")


def write_config(docker_config: Path, doc: dict[str, object]) -> Path:
    docker_config.mkdir(exist_ok=True)
    path = docker_config / "config.json"
    path.write_text(json.dumps(doc))
    return path


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.mark.parametrize("source", ["credHelpers", "credsStore"])
def test_login_stores_through_the_helper_never_in_the_file(
    store,
    tmp_path,
    start_registry: Callable[..., Registry],
    docker_config,
    helper,
    monkeypatch,
    capsys,
    source,
):
    password = secret()
    reg = start_registry(htpasswd=("alice", password))
    config = write_config(
        docker_config, {source: {reg.host: "test"} if source == "credHelpers" else "test"}
    )
    monkeypatch.setattr(sys, "stdin", io.StringIO(password + "\n"))
    assert main(["login", "-u", "alice", "--password-stdin", reg.host]) == 0
    said = capsys.readouterr()
    assert "Login Succeeded" in said.out and "saved in docker-credential-test" in said.err
    text = config.read_text()
    assert password not in text and b64(f"alice:{password}") not in text
    assert json.loads(text)["auths"] == {reg.host: {}}
    assert helper.db() == {reg.host: ["alice", password]}

    load_stack(store, tmp_path, 2)
    ref = f"{reg.host}/team/app:1"
    pushed = api.registry.push(store, "local/stack:1", ref)
    assert api.registry.pull(api.open_store(tmp_path / "other"), ref).digest == pushed.digest
    assert f"get {reg.host}" in helper.calls()

    assert main(["logout", reg.host]) == 0
    assert f"erase {reg.host}" in helper.calls() and helper.db() == {}
    assert reg.host not in json.loads(config.read_text())["auths"]
    with pytest.raises(AuthError, match="requires authentication"):
        api.registry.pull(api.open_store(tmp_path / "third"), ref)


def test_sources_are_asked_in_dockers_order(
    store, tmp_path, start_registry: Callable[..., Registry], docker_config, helper
):
    password = secret()
    reg = start_registry(htpasswd=("alice", password))
    load_stack(store, tmp_path, 2)
    ref = f"{reg.host}/team/app:1"
    helper.seed(reg.host, "alice", password)
    wrong = {reg.host: {"auth": b64("alice:wrong")}}
    # credHelpers first: the credsStore named here is not even installed
    write_config(
        docker_config, {"credHelpers": {reg.host: "test"}, "credsStore": "absent", "auths": wrong}
    )
    api.registry.push(store, "local/stack:1", ref)
    # credsStore before auths
    write_config(docker_config, {"credsStore": "test", "auths": wrong})
    api.registry.pull(api.open_store(tmp_path / "b"), ref)
    # a registry without a credHelpers entry goes to credsStore
    write_config(docker_config, {"credHelpers": {"elsewhere:1": "test"}, "credsStore": "absent"})
    with pytest.raises(AuthError, match="docker-credential-absent is not on PATH"):
        api.registry.pull(api.open_store(tmp_path / "c"), ref)
    # auths last, and only the file: a wrong password there is refused
    write_config(docker_config, {"auths": wrong})
    with pytest.raises(AuthError, match="refused"):
        api.registry.pull(api.open_store(tmp_path / "d"), ref)


@pytest.mark.peer
@pytest.mark.parametrize("source", ["auths", "helper"])
def test_identity_token_gets_a_token_by_refresh_grant(
    store, tmp_path, docker_config, helper, source
):
    require("docker-registry")
    reg, tokens = tokenauth.start("bob", secret())
    try:
        if source == "auths":
            write_config(docker_config, {"auths": {reg.host: {"identitytoken": "rt-wrong"}}})
        else:
            helper.seed(reg.host, "<token>", "rt-wrong")
            write_config(docker_config, {"credHelpers": {reg.host: "test"}})
        load_stack(store, tmp_path, 2)
        ref = f"{reg.host}/team/app:1"
        with pytest.raises(AuthError):
            api.registry.push(store, "local/stack:1", ref)
        if source == "auths":
            good = {reg.host: {"identitytoken": tokens.refresh_token}}
            write_config(docker_config, {"auths": good})
        else:
            helper.seed(reg.host, "<token>", tokens.refresh_token)
        pushed = api.registry.push(store, "local/stack:1", ref)
        assert api.registry.pull(api.open_store(tmp_path / "o"), ref).digest == pushed.digest
        grants = [q for q in tokens.requests if q.get("grant_type") == ["refresh_token"]]
        assert grants and all(q["service"] == [tokenauth.SERVICE] for q in grants)
        assert ["repository:team/app:pull,push"] in [q.get("scope") for q in grants]
        assert not [q for q in tokens.requests if "account" in q]  # no password grant
    finally:
        reg.stop()
        tokens.stop()
