"""Layer costs, waste and dive's efficiency on stacks whose numbers are known by
construction (each docstring-free case says what the stack is; the numbers follow).

lamina's WASTED: bytes of a layer's files that the final filesystem does not show.
dive's score: per path, least size seen / sum of sizes seen (whiteouts: 0 for a file,
the hidden bytes for a directory made by an entry).
"""

from __future__ import annotations

import pytest

from lamina.layer.costs import Change
from tests.analyze.memory import analyse
from tests.kit.layers import dir_, file, hardlink, opaque, symlink, whiteout

K = 1000


def counts(result, field: str) -> list[int]:
    return [getattr(x.count, field) for x in result.layers]


def test_overwrite():
    r = analyse([[file("a", b"x" * 100)], [file("a", b"y" * 300)]])
    assert counts(r, "size") == [100, 300]
    assert counts(r, "added") == [1, 0] and counts(r, "modified") == [0, 1]
    assert counts(r, "modified_bytes") == [0, 300]
    assert counts(r, "wasted") == [100, 0]
    assert (r.size, r.final_size, r.wasted) == (400, 300, 100)
    assert r.efficiency == pytest.approx(100 / 400)
    [w] = r.repeated_paths
    assert (w.path, w.seen, w.total, w.wasted) == ("a", 2, 400, 300)
    [loss] = r.wasted_paths
    assert (loss.path, loss.by, loss.size, loss.files, loss.made) == ("a", 1, 100, 1, (0,))
    assert r.dive_wasted == 400  # dive's own figure: all bytes of paths seen twice


def test_delete_file_and_directory():
    r = analyse(
        [
            [file("a", b"1" * 100), dir_("d"), file("d/x", b"2" * 50), file("d/y", b"3" * 30)],
            [whiteout("a"), whiteout("d")],
        ]
    )
    assert counts(r, "wasted") == [180, 0]
    assert counts(r, "removed") == [0, 3] and counts(r, "removed_bytes") == [0, 180]
    assert (r.final_size, r.wasted) == (0, 180)
    # dive: deleting file a costs its 100 bytes; deleting directory d is one more
    # sighting of "d" (80 bytes) that nothing else saw: it costs nothing
    assert r.efficiency == pytest.approx((0 + 50 + 30 + 80) / (100 + 50 + 30 + 80))
    assert [w.path for w in r.repeated_paths] == ["a"]
    # where the bytes went: the directory is one loss, biggest first
    assert [(w.path, w.by, w.size, w.files) for w in r.wasted_paths] == [
        ("d", 1, 80, 2),
        ("a", 1, 100, 1),
    ][::-1]


def test_opaque_directory_hides_lower_files():
    r = analyse(
        [
            [dir_("d"), file("d/x", b"1" * 50), file("d/keep", b"2" * 20)],
            [dir_("d"), opaque("d"), file("d/z", b"3" * 10)],
        ],
        focus=1,
    )
    assert counts(r, "wasted") == [70, 0]
    assert counts(r, "removed") == [0, 2] and counts(r, "removed_bytes") == [0, 70]
    assert (r.final_size, r.wasted) == (10, 70)
    assert r.efficiency == 1.0  # dive does not see opaque directories at all
    assert [(w.path, w.by, w.size, w.files) for w in r.wasted_paths] == [("d", 1, 70, 2)]
    assert r.changes == (
        Change("D", "d/keep", 20, "", 1),
        Change("D", "d/x", 50, "", 1),
        Change("A", "d/z", 10, "0", 1),
    )


def test_hardlink_keeps_content_alive_until_its_last_name_goes():
    stack = [
        [file("a", b"1" * 100), hardlink("b", "a")],
        [whiteout("a")],
        [whiteout("b")],
    ]
    r = analyse(stack[:2])
    assert counts(r, "size") == [100, 0]  # a hardlink's bytes are counted once
    assert r.wasted == 0 and r.final_size == 100  # b still holds the bytes
    r = analyse(stack)
    assert counts(r, "wasted") == [100, 0, 0]
    assert [(w.path, w.by, w.made) for w in r.wasted_paths] == [("b", 2, (0,))]
    assert [x.count.removed for x in r.layers] == [0, 1, 1]


def test_hardlink_to_a_file_then_replaced():
    r = analyse([[file("a", b"1" * 100)], [hardlink("b", "a")], [file("a", b"2" * 10)]])
    assert r.wasted == 0  # the 100 bytes live on as b
    assert r.final_size == 110


def test_file_moved_between_layers():
    r = analyse([[file("a", b"1" * 100)], [whiteout("a"), file("b", b"1" * 100)]], focus=1)
    assert counts(r, "wasted") == [100, 0]
    assert counts(r, "added") == [1, 1] and counts(r, "removed") == [0, 1]
    assert r.efficiency == pytest.approx(100 / 200)
    assert r.changes == (Change("D", "a", 100, "", 1), Change("A", "b", 100, "0", 1))


def test_whiteout_and_new_entry_in_one_layer_is_a_change():
    r = analyse([[file("a", b"1" * 10)], [whiteout("a"), file("a", b"2" * 20)]])
    assert counts(r, "modified") == [0, 1] and counts(r, "added") == [1, 0]
    assert counts(r, "wasted") == [10, 0]


def test_only_regular_files_have_a_size():
    r = analyse([[symlink("l", "target"), dir_("d"), file("f", b"12"), hardlink("h", "f")]])
    assert r.size == 2 and r.final_size == 2
    assert r.efficiency == 1.0


def test_dives_own_expectation():
    """dive's TestEfficency (filetree/efficiency_test.go): score 0.75. Its trees hold
    no directory entries, so the whiteout of the implied /etc/nginx counts 0."""
    r = analyse(
        [
            [file("etc/nginx/nginx.conf", b"x" * 2 * K), file("etc/nginx/public", b"x" * 3 * K)],
            [file("etc/nginx/nginx.conf", b"x" * 5 * K), file("etc/athing", b"x" * 10 * K)],
            [whiteout("etc/nginx")],
        ]
    )
    assert r.efficiency == 0.75
    [w] = r.repeated_paths
    assert (w.path, w.total) == ("etc/nginx/nginx.conf", 7 * K)


def test_dives_scratch_expectation():
    """dive's TestEfficency_ScratchImage: one empty file, score 1."""
    assert analyse([[file("nothing", b"")], [], []]).efficiency == 1.0


def test_directory_trees_are_sized():
    r = analyse(
        [
            [dir_("usr"), dir_("usr/lib"), file("usr/lib/big", b"1" * 900)],
            [file("usr/bin/x", b"2" * 90), file("etc/c", b"3" * 20), file("tmp/t", b"4")],
        ]
    )
    root = r.directories
    assert (root.path, root.size, root.files) == ("/", 1011, 4)
    # directories under 1% of the whole (tmp: 1 byte) are left out
    assert [(d.path, d.size) for d in root.children] == [("usr", 990), ("etc", 20)]
    assert [(d.path, d.size) for d in root.children[0].children] == [
        ("usr/lib", 900),
        ("usr/bin", 90),
    ]


def test_history_and_base_flags():
    r = analyse([[file("a", b"1")], [file("b", b"2")]], base_layers=1)
    assert [x.base for x in r.layers] == [True, False]
    assert [x.history.created_by for x in r.layers if x.history] == ["step 0", "step 1"]
    assert r.candidates == () and r.advice == ()  # one user layer: nothing to squash


def test_a_name_linked_again_to_its_own_file_changes_nothing():
    r = analyse([[file("a", b"1" * 10)], [hardlink("a", "a")], [whiteout("a")]])
    assert counts(r, "wasted") == [10, 0, 0]  # dies once, when its only name goes
    assert [(w.path, w.by) for w in r.wasted_paths] == [("a", 2)]


def test_file_replaced_by_a_directory_made_for_an_entry_below_it():
    r = analyse([[file("a", b"1" * 10)], [file("a/b", b"2")]])
    assert counts(r, "wasted") == [10, 0] and r.final_size == 1
    assert [(w.path, w.by, w.size) for w in r.wasted_paths] == [("a", 1, 10)]


@pytest.mark.parametrize("first", ["z", "a"])
def test_a_file_with_several_names_is_booked_under_the_name_that_sorts_first(first):
    other = "a" if first == "z" else "z"
    r = analyse(
        [
            [dir_("a"), dir_("z"), file(f"{first}/big", b"1" * 1000)],
            [hardlink(f"{other}/big", f"{first}/big"), file("z/small", b"2" * 100)],
        ]
    )
    sizes = {d.path: (d.size, d.files) for d in r.directories.children}
    # counted once, under a/big whichever name the layers made first
    assert sizes == {"a": (1000, 1), "z": (100, 2)}
    assert (r.directories.size, r.directories.files) == (1100, 3)
