"""analyze through the API and the CLI: store images, archives, JSON, the per-layer
view, the CI gate, and the advice checked by running the squash it proposes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import lamina
from lamina.cli.analyze import parse_bytes, parse_ratio
from lamina.errors import UsageError
from tests.builders import FakeImage, docker_archive, layer_tar
from tests.lamina_cli import run_lamina

BASE = layer_tar({"bin/": None, "bin/sh": b"s" * 1000})
BIG = layer_tar({"app/": None, "app/big": b"x" * 20_000})
SMALL = layer_tar({"app/": None, "app/big": b"y" * 100})
GONE = layer_tar({"app/": None, "app/.wh.big": b"", "app/other": b"z" * 10})


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    images = [
        FakeImage([BASE], ["local/base:1"]),
        FakeImage([BASE, BIG, SMALL, GONE], ["local/app:1"]),
    ]
    return docker_archive(images, tmp_path / "app.tar")


@pytest.fixture
def store(tmp_path: Path, archive: Path) -> lamina.Store:
    s = lamina.open_store(tmp_path / "s")
    lamina.load(s, str(archive))
    return s


def test_store_image(store):
    report = lamina.analyze(store, "local/app:1")
    a = report.analysis
    assert (report.base, report.base_source, a.base_layers) == ("local/base:1", "ancestor", 1)
    assert [x.count.size for x in a.layers] == [1000, 20_000, 100, 10]
    assert [x.count.wasted for x in a.layers] == [0, 20_000, 100, 0]
    assert (a.size, a.final_size, a.wasted) == (21_110, 1010, 20_100)
    assert a.efficiency == pytest.approx((1000 + 0 + 10) / (1000 + 20_100 + 10))
    assert [x.tar_size for x in a.layers] == [len(BASE), len(BIG), len(SMALL), len(GONE)]
    assert str(a.advice[0].span) == "1..3"
    assert report.commands[0] == "lamina squash local/app:1 --layers 1..3"


def test_advice_is_what_the_squash_does(store):
    report = lamina.analyze(store, "local/app:1", advise=10)
    assert len(report.analysis.candidates) == 3  # 1..2, 1..3, 2..3: the base is kept
    before = sum(x.size for x in lamina.get_image(store, "local/app:1").image.layers)
    for advice in report.analysis.candidates:
        tag = f"local/app:sq{advice.span.start}{advice.span.stop}"
        lamina.squash(store, "local/app:1", layers=str(advice.span), tag=tag)
        after = sum(x.size for x in lamina.get_image(store, tag).image.layers)
        assert before - after == advice.saves, str(advice.span)
        assert lamina.diff(store, "local/app:1", tag) == []


def test_archive_gives_the_store_numbers(store, archive):
    from_store = lamina.analyze(store, "local/app:1").analysis
    report = lamina.analyze_archive(str(archive), image="local/app:1")
    assert report.analysis == from_store
    assert report.commands[0] == (
        f"lamina squash -i {archive} -o app-squashed.tar local/app:1 --layers 1..3"
    )
    with pytest.raises(UsageError, match="holds 2 images"):
        lamina.analyze_archive(str(archive))


def test_per_layer_view(store):
    a = lamina.analyze(store, "local/app:1", layer=-1).analysis
    assert a.focus == 3
    assert [(c.kind, c.path, c.size) for c in a.changes] == [
        ("D", "app/big", 100),
        ("A", "app/other", 10),
    ]
    with pytest.raises(UsageError, match="outside the image's 4 layers"):
        lamina.analyze(store, "local/app:1", layer=4)


def test_cli_json(store):
    done = run_lamina(store.root, "analyze", "local/app:1", "--json", check=True)
    doc = json.loads(done.stdout)
    assert (doc["Image"], doc["Wasted"], doc["Base"]["Layers"]) == ("local/app:1", 20_100, 1)
    assert [x["Wasted"] for x in doc["Layers"]] == [0, 20_000, 100, 0]
    assert doc["Advice"][0]["Command"] == "lamina squash local/app:1 --layers 1..3"
    assert doc["Directories"]["Children"][0]["Path"] == "/bin"
    done = run_lamina(store.root, "analyze", "local/app:1", "--layer", "1", "--json", check=True)
    doc = json.loads(done.stdout)
    assert doc["Layer"]["Index"] == 1
    assert doc["Changes"] == [
        {"Kind": "A", "Path": "/app/big", "Size": 20_000, "Type": "file", "Files": 1}
    ]


def test_cli_view(store):
    done = run_lamina(store.root, "analyze", "local/app:1", check=True)
    out = done.stdout.decode()
    for text in ("base: local/base:1", "Squash advice", "lamina squash local/app:1 --layers 1..3"):
        assert text in out
    done = run_lamina(store.root, "analyze", "local/app:1", "--layer", "-1", check=True)
    assert "D big" in done.stdout.decode()


@pytest.mark.parametrize(
    ("args", "code", "reason"),
    [
        (["--fail-under", "0.5"], 1, "efficiency 4.78% is under --fail-under 50.00%"),
        (["--fail-under", "4%"], 0, ""),
        (["--max-wasted", "20kB"], 1, "20.1kB (20100 bytes) wasted, over --max-wasted 20kB"),
        (["--max-wasted", "20100"], 0, ""),
        (["--max-wasted", "lots"], 2, "bad size 'lots'"),
        (["--fail-under", "200"], 2, "outside 0..1"),
    ],
)
def test_cli_gate(store, args, code, reason):
    done = run_lamina(store.root, "analyze", "local/app:1", "--json", *args)
    assert done.returncode == code
    err = done.stderr.decode()
    if reason:
        assert reason in err and len(err.strip().splitlines()) == 1
    else:
        assert err == ""


def test_parsers():
    assert [parse_bytes(t) for t in ("1000", "20MB", "1.5kB", "64MiB", "2 GB")] == [
        1000,
        20_000_000,
        1500,
        64 << 20,
        2_000_000_000,
    ]
    assert [parse_ratio(t) for t in ("0.9", "90", "90%", "1")] == [0.9, 0.9, 0.9, 1.0]
