"""squash / flatten / rebase / diff through the API and CLI, on synthetic stacks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import lamina
from lamina.errors import UsageError
from lamina.jsondoc import thaw
from lamina.ops.squash import Range, parse_range
from tests.builders import FakeImage, docker_archive, layer_tar, stack
from tests.kit import validate_archive, validate_store
from tests.lamina_cli import run_lamina


@pytest.fixture
def store(tmp_path: Path) -> lamina.Store:
    s = lamina.open_store(tmp_path / "s")
    lamina.load(s, str(docker_archive(stack(4), tmp_path / "a.tar")))
    return s


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1..-1", Range(1, 5)),
        ("0..0", Range(0, 1)),
        ("-2..-1", Range(3, 5)),
        ("2..", Range(2, 5)),
        ("..-2", Range(0, 4)),
        ("..", Range(0, 5)),
    ],
)
def test_parse_range(text, expected):
    assert parse_range(text, 5) == expected


@pytest.mark.parametrize("text", ["3..1", "0..5", "-6..-1", "x", "1.2", "1..-9"])
def test_parse_range_rejects(text):
    with pytest.raises(UsageError):
        parse_range(text, 5)


def test_default_squashes_above_the_base(store):
    top = lamina.get_image(store, "local/stack:3")
    result = lamina.squash(store, "local/stack:3", tag="local/stack:sq")
    assert (result.squashed, result.layers_before, result.layers_after) == (Range(1, 4), 4, 2)
    new = lamina.get_image(store, "local/stack:sq")
    assert new.image.layers[0].digest == top.image.layers[0].digest  # base shared, untouched
    assert lamina.diff(store, "local/stack:3", "local/stack:sq") == []
    history = new.image.history
    assert [h.empty_layer for h in history] == [False, True, True, True, False]
    assert history[-1].created_by == "lamina squash --layers 1..3"
    assert [h.created_by for h in history[:4]] == ["step 0", "step 1", "step 2", "step 3"]
    # deterministic: the same squash again gives the same ID
    again = lamina.squash(store, "local/stack:3", tag="local/stack:sq2")
    assert again.id == result.id
    assert result.id in {c.id for c in validate_store(store)}


def test_base_must_be_a_prefix(store, tmp_path):
    other = FakeImage([layer_tar({"x": b"other base"})], ["other/base:1"])
    lamina.load(store, str(docker_archive([other], tmp_path / "o.tar")))
    with pytest.raises(UsageError, match="not a base"):
        lamina.squash(store, "local/stack:3", base="other/base:1")
    with pytest.raises(UsageError, match="not a base"):
        lamina.squash(store, "local/stack:3", base="local/stack:3")
    result = lamina.squash(store, "local/stack:3", base="local/stack:1")
    assert result.squashed == Range(2, 4)
    assert result.id in {c.id for c in validate_store(store)}


def test_no_base_known_is_a_clear_error(tmp_path):
    s = lamina.open_store(tmp_path / "lonely")
    lamina.load(s, str(docker_archive(stack(3)[-1:], tmp_path / "a.tar")))
    with pytest.raises(UsageError, match="no base is known"):
        lamina.squash(s, "local/stack:2")


def test_flatten_and_rebase(store, tmp_path):
    flat = lamina.flatten(store, "local/stack:3", tag="flat:1")
    assert flat.layers_after == 1
    assert lamina.diff(store, "local/stack:3", "flat:1") == []
    cfg = lamina.get_image(store, "flat:1").image.config
    assert thaw(cfg.container_config) == {"Cmd": ["sh"]}  # values hand out frozen JSON
    newbase = FakeImage([layer_tar({"bin/": None, "bin/sh": b"new shell\n"})], ["new/base:1"])
    lamina.load(store, str(docker_archive([newbase], tmp_path / "n.tar")))
    moved = lamina.rebase(store, "local/stack:3", "new/base:1", tag="moved:1")
    img = lamina.get_image(store, "moved:1").image
    old = lamina.get_image(store, "local/stack:3").image
    assert (
        img.diff_ids
        == (newbase_id := lamina.get_image(store, "new/base:1").image.diff_ids) + old.diff_ids[1:]
    )
    assert len(newbase_id) == 1 and moved.layers_after == 4
    changes = {str(c) for c in lamina.diff(store, "local/stack:3", "moved:1")}
    assert changes == {"C /bin/sh  (size: 13 -> 10)", "D /etc", "D /etc/os"}
    assert {flat.id, moved.id} <= {c.id for c in validate_store(store)}


def test_cli_squash_diff_and_archive_mode(store, tmp_path):
    root = store.root
    cp = run_lamina(root, "squash", "local/stack:3", "--layers", "2..-1", "-t", "sq:1", "--json")
    assert cp.returncode == 0, cp.stderr
    doc = json.loads(cp.stdout)
    assert doc["Squashed"] == "2..3" and doc["LayersAfter"] == 3
    assert run_lamina(root, "diff", "local/stack:3", "sq:1").returncode == 0
    cp = run_lamina(root, "diff", "local/stack:1", "sq:1")
    assert cp.returncode == 1
    assert cp.stdout.decode().splitlines() == ["A /file2", "A /file3"]
    # archive in, archive out, no store involved
    archive = tmp_path / "in.tar"
    assert run_lamina(root, "save", "-o", str(archive), "local/stack:3").returncode == 0
    out = tmp_path / "out.tar"
    cp = run_lamina(
        tmp_path / "unused", "squash", "-i", str(archive), "-o", str(out), "--layers", "1..-1"
    )
    assert cp.returncode == 0, cp.stderr
    assert len(validate_archive(out)[0].diff_ids) == 2
    assert validate_store(store)
    other = lamina.open_store(tmp_path / "o")
    loaded = lamina.load(other, str(out))
    assert loaded[0].names == ("local/stack:3",)
    assert len(lamina.get_image(other, "local/stack:3").image.layers) == 2
