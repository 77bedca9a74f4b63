"""The tree's node rows (layer/noderows.py): names read back from entries, the child
index through its growth, replaced rows, and an opaque marker at the root."""

from __future__ import annotations

from lamina.layer import tarformat as tf
from lamina.layer.headerindex import HeaderIndex
from lamina.layer.nodes import DIR, GONE, LEAF, OPAQUE
from lamina.layer.tarstream import Member
from lamina.layer.tree import Tree


def _table(*entries: tuple[str, str]) -> HeaderIndex:
    return HeaderIndex.collect(Member(name, kind) for name, kind in entries)


def _tree(*layers: HeaderIndex) -> Tree:
    tree = Tree()
    for index, table in enumerate(layers):
        tree.add_layer(index, table)
    return tree


def _listing(tree: Tree, path: str) -> list[tuple[str, int]]:
    node, _ = tree.find(path)
    assert node is not None
    nodes = tree.nodes
    return sorted((name, nodes.kind(row)) for name, row in nodes.named_children(node))


def test_a_node_is_named_by_the_last_part_of_its_entry_normalised() -> None:
    tree = _tree(
        _table(
            ("./usr/", tf.DIRECTORY),
            ("usr/bin/", tf.DIRECTORY),
            ("usr/bin/.", tf.DIRECTORY),  # the same directory again
            ("usr/lib/x/../y", tf.REGULAR),  # makes usr/lib implicitly: named on the side
            ("usr/lib/z/..", tf.DIRECTORY),  # then its entry, whose last part is ".."
            ("usr//bin///sh", tf.REGULAR),
            ("usr/é", tf.REGULAR),
        )
    )
    assert _listing(tree, "") == [("usr", DIR)]
    assert _listing(tree, "usr") == [("bin", DIR), ("lib", DIR), ("é", LEAF)]
    assert _listing(tree, "usr/bin") == [("sh", LEAF)]
    assert _listing(tree, "usr/lib") == [("y", LEAF)]
    lib, _ = tree.find("usr/lib")
    assert lib is not None and tree.member(lib).name == "usr/lib/z/.."


def test_the_child_index_finds_every_child_after_it_grows() -> None:
    names = [f"d{i % 7}/f{i}" for i in range(5000)]  # many siblings
    layers = [_table(*((n, tf.REGULAR) for n in names[k : k + 1000])) for k in range(0, 5000, 1000)]
    tree = _tree(*layers)  # five layers: the index resized as each comes
    assert len(tree.nodes.slots) >= 2 * len(tree.nodes) > 10_000
    for name in names:
        node, _ = tree.find(name)
        assert node is not None and tree.nodes.kind(node) == LEAF
        assert tree.nodes.name(node) == name.rpartition("/")[2]
    assert tree.find("d0/f1") == (None, False)  # f1 is in d1


def test_a_replaced_node_is_no_longer_listed() -> None:
    lower = _table(("a/", tf.DIRECTORY), ("a/x", tf.REGULAR), ("b", tf.REGULAR))
    upper = _table(("a", tf.REGULAR), ("b/", tf.DIRECTORY), ("b/y", tf.REGULAR), (".wh.c", "0"))
    tree = _tree(lower, upper)
    assert _listing(tree, "") == [("a", LEAF), ("b", DIR), ("c", GONE)]
    assert _listing(tree, "b") == [("y", LEAF)]
    assert tree.find("a/x") == (None, True)


def test_an_opaque_root_gives_the_root_a_fresh_row() -> None:
    lower = _table(("./", tf.DIRECTORY), ("etc/", tf.DIRECTORY), ("etc/passwd", tf.REGULAR))
    tree = _tree(lower, _table((".wh..wh..opq", tf.REGULAR), ("only", tf.REGULAR)))
    assert tree.root != 0
    assert tree.nodes.hide(tree.root) == OPAQUE
    assert tree.member(tree.root).name == "./"  # its entry stays
    assert _listing(tree, "") == [("only", LEAF)]
    assert tree.find("etc/passwd") == (None, True)
