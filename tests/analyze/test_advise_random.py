"""The advisor's saving is exact: for every range of two or more layers of random
stacks, the bytes it predicts equal the size change the squash engine makes."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings

from lamina.ops.analyze import analyze
from tests.analyze.memory import image_of, open_tar
from tests.kit.layers import E, file, layer_bytes, whiteout
from tests.layer.stacks import Inode, model_of, ranges, squash_bytes
from tests.layer.test_squash_random import stacks


def check_every_range(layers: list[bytes]) -> int:
    found = {
        (a.span.start, a.span.stop): a
        for a in analyze(image_of(layers), open_tar, advise=1).candidates
    }
    expected = [(lo, hi) for lo, hi in ranges(len(layers)) if hi - lo >= 2]
    assert sorted(found) == expected
    for lo, hi in expected:
        squashed = squash_bytes(layers, lo, hi)
        advice = found[(lo, hi)]
        assert advice.size == len(squashed), f"range {lo}..{hi - 1}"
        assert advice.saves == sum(map(len, layers[lo:hi])) - len(squashed)
    return len(expected)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stacks())
def test_predicted_saving_is_the_squash_size_change(stack: list[list[E]]) -> None:
    check_every_range([layer_bytes(entries) for entries in stack])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stacks())
def test_every_byte_is_either_in_the_final_filesystem_or_wasted(stack: list[list[E]]) -> None:
    layers = [layer_bytes(entries) for entries in stack]
    a = analyze(image_of(layers), open_tar, advise=0, top=1000)
    assert a.size == a.final_size + a.wasted
    assert a.wasted == sum(w.size for w in a.wasted_paths)  # every loss has its place
    assert a.final_size == _final_bytes(layers)


def _final_bytes(layers: list[bytes]) -> int:
    """The reference model's final filesystem: bytes of each file once (tests/layer)."""
    inodes = {id(n): n for n in model_of(layers).fs.values() if isinstance(n, Inode)}
    return sum(len(n.data) for n in inodes.values() if n.kind == "f")


def test_a_stack_with_something_to_save() -> None:
    layers = [
        layer_bytes([file("base", b"b" * 3000)]),
        layer_bytes([file("big", b"x" * 50_000)]),
        layer_bytes([whiteout("big")]),
        layer_bytes([file("c", b"c")]),
    ]
    assert check_every_range(layers) == 6
    advice = analyze(image_of(layers), open_tar, base_layers=1).advice
    # every layer merged away also saves its tar overhead (here tarfile's 10 kB records)
    assert [(str(a.span), a.reclaimed) for a in advice] == [
        ("1..3", 50_000),
        ("1..2", 50_000),
        ("2..3", 0),
    ]
    assert advice[0].saves > advice[1].saves > 50_000 > advice[2].saves > 0
