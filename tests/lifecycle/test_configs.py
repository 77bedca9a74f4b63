"""Configs `commit` and `import` write, and `--change` instructions (pure functions)."""

from __future__ import annotations

import json

import pytest

from lamina.errors import UsageError
from lamina.ops.changes import apply_changes
from lamina.ops.commit import EMPTY_TAR_DIFF_ID, child_config, container_config, imported_config
from lamina.spec import Config
from tests.builders import FakeImage, layer_tar, sha

NEW = "sha256:" + "ab" * 32


def parent() -> Config:
    img = FakeImage([layer_tar({"bin/": None})], created_by=["/bin/sh"])
    return Config.parse(img.config())


def test_changes_like_a_dockerfile():
    base = {"Env": ["PATH=/bin", "A=old"], "Cmd": ["sh"], "WorkingDir": "/srv"}
    out = apply_changes(
        base,
        [
            'CMD ["echo", "hi"]',
            "ENV A=new B='two words'",
            "ENV C plain old form",
            "WORKDIR app",
            "EXPOSE 80 53/udp",
            'LABEL version=1 "team name"=core',
            "USER 1000:1000",
            "VOLUME /data",
            "entrypoint /start.sh --now",
        ],
    )
    assert out["Env"] == ["PATH=/bin", "A=new", "B=two words", "C=plain old form"]
    assert out["Cmd"] == ["echo", "hi"]  # set before ENTRYPOINT: kept
    assert out["Entrypoint"] == ["/bin/sh", "-c", "/start.sh --now"]
    assert out["WorkingDir"] == "/srv/app"
    assert out["ExposedPorts"] == {"80/tcp": {}, "53/udp": {}}
    assert out["Labels"] == {"version": "1", "team name": "core"}
    assert out["User"] == "1000:1000" and out["Volumes"] == {"/data": {}}
    assert base["Env"] == ["PATH=/bin", "A=old"]  # input untouched
    assert apply_changes({"Cmd": ["sh"]}, ['ENTRYPOINT ["x"]'])["Cmd"] is None


@pytest.mark.parametrize("bad", ["RUN echo", "FROM x", "CMD", "ENV =x", "EXPOSE http"])
def test_bad_changes(bad):
    with pytest.raises(UsageError):
        apply_changes({}, [bad])


def test_commit_config_like_docker():
    p = parent()
    conf = container_config(
        p, container_id="c" * 64, image_name="local/base:1", command=["sh", "-c", "echo 1 > /f"]
    )
    raw = child_config(
        p,
        diff_id=NEW,
        container_id="c" * 64,
        container_conf=conf,
        created="2026-01-01T00:00:00.000000001Z",
        author="Jane",
        comment="msg",
        changes=["ENV X=1"],
    )
    doc = json.loads(raw)
    assert doc["rootfs"]["diff_ids"] == [*p.diff_ids, NEW]
    assert doc["history"][:-1] == json.loads(p.raw)["history"]
    assert doc["history"][-1] == {
        "created": "2026-01-01T00:00:00.000000001Z",
        "created_by": "sh -c echo 1 > /f",
        "author": "Jane",
        "comment": "msg",
    }
    assert doc["config"]["Cmd"] == ["sh", "-c", "echo 1 > /f"]  # the container's command
    assert doc["config"]["Env"] == ["X=1"] and "Env" not in p.container_config
    assert doc["container"] == "c" * 64 and doc["container_config"]["Hostname"] == "c" * 12
    assert doc["container_config"]["Image"] == "local/base:1"
    assert doc["author"] == "Jane" and doc["architecture"] == "amd64"
    assert raw == json.dumps(doc, separators=(",", ":"), sort_keys=True).encode()


def test_commit_without_changes_adds_no_layer():
    p = parent()
    conf = container_config(p, container_id="d" * 64, image_name="x")
    doc = json.loads(
        child_config(
            p,
            diff_id=EMPTY_TAR_DIFF_ID,
            container_id="d" * 64,
            container_conf=conf,
            created="2026-01-01T00:00:00Z",
        )
    )
    assert doc["rootfs"]["diff_ids"] == list(p.diff_ids)
    assert doc["history"][-1]["empty_layer"] is True
    assert sha(bytes(1024)) == EMPTY_TAR_DIFF_ID


def test_import_config_like_docker():
    doc = json.loads(imported_config(NEW, created="2026-01-01T00:00:00Z", changes=["CMD sh"]))
    assert doc["history"] == [{"created": "2026-01-01T00:00:00Z", "comment": "Imported from -"}]
    assert doc["comment"] == "Imported from -" and doc["rootfs"]["diff_ids"] == [NEW]
    assert doc["config"]["Cmd"] == ["/bin/sh", "-c", "sh"] and doc["os"] == "linux"
    doc = json.loads(imported_config(NEW, created="t", comment="from Bob"))
    assert doc["history"][0]["comment"] == "from Bob"
