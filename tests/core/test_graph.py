"""The image graph: linear parent derivation against the pairwise definition (hypothesis).

The oracle is the definition itself, checked pair by pair: P is a parent candidate
of C when P is not C, P's history is a proper prefix of C's and P's diff_ids a
prefix of C's; the parent is the candidate with the longest history, then the most
layers, then the first listed. Random stores share layers and history entries by
accident (small alphabets), grow by empty layers only, and repeat whole histories.
"""

from __future__ import annotations

import hashlib
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from lamina import mediatype
from lamina.image import Image, Layer
from lamina.spec import Config, Descriptor, HistoryEntry, canonical_json
from lamina.store.facts import Facts
from lamina.store.graph import Graph
from lamina.store.local import StoredImage


def _sha(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def _never() -> Any:
    raise AssertionError("layers are not read")


def stored(n: int, diff_ids: list[str], history: list[dict[str, Any]]) -> StoredImage:
    doc = {"rootfs": {"type": "layers", "diff_ids": diff_ids}, "history": history, "salt": n}
    image = Image(
        Config.parse(canonical_json(doc)),
        tuple(Layer(d, d, 1, mediatype.OCI_LAYER, _never) for d in diff_ids),
    )
    manifest = Descriptor(mediatype.OCI_MANIFEST, _sha(f"manifest {n}"), 1)
    return StoredImage(manifest, (), Facts.of(image), lambda: image)


def oracle_parents(images: list[StoredImage]) -> dict[str, str]:
    def candidate(p: Image, c: Image) -> bool:
        ph, ch, pd, cd = p.history, c.history, p.diff_ids, c.diff_ids
        return (
            p.id != c.id
            and len(ph) < len(ch)
            and ch[: len(ph)] == ph
            and len(pd) <= len(cd)
            and cd[: len(pd)] == pd
        )

    out = {}
    for c in images:
        found = [p for p in images if candidate(p.image, c.image)]
        if found:
            out[c.id] = max(found, key=lambda p: (len(p.image.history), len(p.image.layers))).id
    return out


step = st.tuples(
    st.integers(0, 30),  # which earlier image to extend (modulo how many there are)
    st.booleans(),  # start afresh instead
    st.lists(  # new history entries: (empty layer?, created_by from a tiny alphabet)
        st.tuples(st.booleans(), st.sampled_from("abc")), min_size=0, max_size=3
    ),
)


def random_store(steps: list[tuple[int, bool, list[tuple[bool, str]]]]) -> list[StoredImage]:
    stacks: list[tuple[list[str], list[dict[str, Any]]]] = []
    images = []
    for n, (pick, fresh, entries) in enumerate(steps):
        diff_ids: list[str] = []
        history: list[dict[str, Any]] = []
        if stacks and not fresh:
            diff_ids, history = (list(x) for x in stacks[pick % len(stacks)])
        for empty, by in entries:
            history.append(HistoryEntry(created_by=by, empty_layer=empty).to_json())
            if not empty:
                diff_ids.append(_sha(f"{len(diff_ids)} {by}"))  # same move, same layer
        stacks.append((diff_ids, history))
        images.append(stored(n, diff_ids, history))
    return images


@settings(max_examples=300, deadline=None)
@given(st.lists(step, min_size=1, max_size=25))
def test_linear_parents_are_the_pairwise_ones(steps):
    images = random_store(steps)
    graph = Graph.build(images)
    assert graph.parent == oracle_parents(images)
    for child, parent in graph.parent.items():
        assert child in graph.children[parent]


@settings(max_examples=200, deadline=None)
@given(st.lists(step, min_size=1, max_size=25), st.integers(0, 24))
def test_the_graph_around_one_image_has_its_ancestors(steps, which):
    images = random_store(steps)
    one = images[which % len(images)]
    around = Graph.around(images, one)
    assert around.ancestors(one.id) == Graph.build(images).ancestors(one.id)
    assert len(around.images) <= len(images)


def test_an_image_extended_by_empty_layers_only_is_a_child():
    base = stored(0, [_sha("x")], [{"created_by": "a"}])
    env = stored(1, [_sha("x")], [{"created_by": "a"}, {"created_by": "b", "empty_layer": True}])
    graph = Graph.build([env, base])
    assert graph.parent == {env.id: base.id}
    assert graph.is_dangling(env) and not graph.is_dangling(base)
