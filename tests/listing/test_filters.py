"""Docker's --filter on its own (lamina.api.filters): parsing, globs, times, labels; and
through the CLI on a store of generated images (no peers needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lamina.api import filters
from lamina.errors import UsageError
from tests.kit import docker_archive, random_image
from tests.lamina_cli import run_lamina


@pytest.mark.parametrize(
    ("pattern", "name", "matches"),
    [
        ("local/*", "local/app", True),
        ("*", "local/app", False),  # * stops at /
        ("*/app:1.?", "local/app:1.2", True),
        ("local/app:[12]", "local/app:2", True),
        ("local/app:[^12]", "local/app:2", False),
        ("local/app:[a-c]", "local/app:b", True),
        ("a\\*b", "a*b", True),
        ("a.b", "axb", False),
    ],
)
def test_glob_is_gos_path_match(pattern: str, name: str, matches: bool) -> None:
    assert bool(filters.glob(pattern).match(name)) is matches


def test_parse_and_errors() -> None:
    given = filters.parse(["label=a", "label=b=1", "dangling=true"], filters.IMAGE_KEYS)
    assert given == {"label": ["a", "b=1"], "dangling": ["true"]}
    for bad, message in [
        (["foo=1"], "Invalid filter 'foo'"),
        (["dangling=maybe"], "Invalid filter 'dangling=[maybe]'"),
        (["noequals"], "bad format of filter (expected name=value): 'noequals'"),
    ]:
        with pytest.raises(UsageError) as caught:
            filters.parse(bad, filters.IMAGE_KEYS)
        assert str(caught.value) == message
    assert filters.parse(["label!=x"], filters.PRUNE_KEYS) == {"label!": ["x"]}
    with pytest.raises(UsageError, match="Invalid filter 'status=sleepy'"):
        filters.parse(["status=sleepy"], filters.CONTAINER_KEYS)


def test_until_and_labels() -> None:
    now = 1_000_000.0
    assert filters.until_time("24h", now) == now - 86400
    assert filters.until_time("1h30m", now) == now - 5400
    assert filters.until_time("1500ms", now) == now - 1.5
    assert filters.until_time("12345", now) == 12345
    assert filters.until_time("1970-01-02T00:00:00Z", now) == 86400
    with pytest.raises(UsageError):
        filters.until_time("yesterday", now)
    assert filters.labels_match({"a": "1", "b": "2"}, ["a", "b=2"])
    assert not filters.labels_match({"a": "1"}, ["a", "b"])  # every label asked for
    assert not filters.labels_match({"a": "1"}, ["a=2"])
    assert not filters.labels_match(None, ["a"])


def test_cli_filters_on_a_store(tmp_path: Path) -> None:
    store = tmp_path / "store"
    images = [random_image(1, layers=1, tags=["local/a:1"]), random_image(2, tags=["local/b:1"])]
    archive = docker_archive(images, tmp_path / "a.tar")
    assert run_lamina(store, "load", "-i", str(archive)).returncode == 0

    def names(*args: str) -> list[str]:
        out = run_lamina(store, "images", *args, "--format", "{{.Repository}}:{{.Tag}}")
        assert out.returncode == 0, out.stderr
        return sorted(out.stdout.decode().split())

    assert names() == ["local/a:1", "local/b:1"]
    assert names("-f", "reference=local/a") == ["local/a:1"]
    assert names("-f", "reference=*/a:1", "-f", "reference=local/b:*") == [
        "local/a:1",
        "local/b:1",
    ]
    assert names("-f", "reference=a") == []
    assert names("-f", "dangling=true") == []
    same = run_lamina(store, "image", "ls", "-f", "reference=local/a")
    assert same.stdout == run_lamina(store, "images", "-f", "reference=local/a").stdout
    bad = run_lamina(store, "images", "-f", "colour=red")
    assert (bad.returncode, bad.stderr) == (2, b"lamina: error: Invalid filter 'colour'\n")
