"""Delta planning, inventories and base resolution on synthetic stacks (lamina's own rules)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import lamina.api as api
from lamina import digest
from lamina.errors import InvalidInputError, NotFoundError
from lamina.ops import delta
from lamina.store.base import find_base
from lamina.store.graph import Graph, resolve
from lamina.store.inventory import Inventory
from tests.builders import FakeImage, docker_archive, layer_tar, sha, stack


@pytest.fixture
def store(tmp_path: Path) -> api.Store:
    s = api.open_store(tmp_path / "store")
    api.load(s, str(docker_archive(stack(4), tmp_path / "stack.tar")))
    return s


def image(store: api.Store, ref: str):
    return api.get_image(store, ref).image


def test_plan_leaves_out_only_covered_chains(store):
    top = image(store, "local/stack:3")
    base = image(store, "local/base:1")
    plan = delta.plan([top], delta.chains_of([base]))
    assert [x.diff_id for x in plan.omitted] == [base.diff_ids[0]]
    assert [x.diff_id for x in plan.carried] == list(top.diff_ids[1:])
    assert plan.omitted_bytes == base.layers[0].size
    assert plan.carried_bytes == sum(x.size for x in top.layers[1:])


def test_same_layer_on_another_chain_is_carried(tmp_path):
    """Docker only skips a layer file when it has the layer's whole chain, so must we."""
    b, x, y = (layer_tar({name: name.encode()}) for name in ("b", "x", "y"))
    have = FakeImage([b, x], ["local/have:1"])
    want = FakeImage([b, y, x], ["local/want:1"])  # x again, but above y
    s = api.open_store(tmp_path / "s")
    api.load(s, str(docker_archive([have, want], tmp_path / "a.tar")))
    plan = delta.plan([image(s, "local/want:1")], delta.chains_of([image(s, "local/have:1")]))
    assert {x.diff_id for x in plan.omitted} == {sha(b)}
    assert {x.diff_id for x in plan.carried} == {sha(y), sha(x)}
    # told the recipient holds x by content (a lamina store does), it may be left out
    plan = delta.plan([image(s, "local/want:1")], {sha(b)}, diff_ids={sha(x)})
    assert {x.diff_id for x in plan.carried} == {sha(y)}


def test_layer_shared_by_two_images_is_left_out_only_if_both_are_covered(store):
    one, three = image(store, "local/stack:1"), image(store, "local/stack:3")
    # the recipient has stack:1's chains; stack:3 reuses them, so they can go
    plan = delta.plan([one, three], delta.chains_of([one]))
    assert {x.diff_id for x in plan.omitted} == set(one.diff_ids)
    plan = delta.plan([one, three], set())
    assert plan.omitted == ()


def test_inventory_lists_chains_and_images_and_round_trips(store, tmp_path):
    inv = api.delta.inventory(store)
    top = image(store, "local/stack:3")
    assert inv.chain_ids == frozenset(top.chain_ids)
    assert inv.diff_ids == frozenset(top.diff_ids)
    doc = json.loads(inv.to_json())
    assert (doc["kind"], doc["version"]) == ("lamina-inventory", 1)
    tags = {t for i in doc["images"] for t in i["tags"]}
    assert tags == {"local/base:1", "local/stack:1", "local/stack:2", "local/stack:3"}
    entry = next(i for i in doc["images"] if i["tags"] == ["local/stack:3"])
    assert (entry["id"], entry["chain_id"]) == (top.id, top.chain_ids[-1])
    path = tmp_path / "inv.json"
    path.write_bytes(inv.to_json())
    assert Inventory.read(path) == inv


def test_inventory_refuses_damage_and_newer_versions(store):
    doc = json.loads(api.delta.inventory(store).to_json())
    forged = json.loads(json.dumps(doc))
    forged["layers"][0]["diff_id"] = digest.of_bytes(b"something else")
    with pytest.raises(InvalidInputError, match="does not follow"):
        Inventory.from_doc(forged)
    with pytest.raises(InvalidInputError, match="version 2"):
        Inventory.from_doc({**doc, "version": 2})
    with pytest.raises(InvalidInputError, match="not a lamina inventory"):
        Inventory.parse(b'{"layers": []}')
    with pytest.raises(InvalidInputError, match="not valid JSON"):
        Inventory.parse(b"\x00garbage")
    # unknown keys are a later minor addition: ignored
    assert Inventory.from_doc({**doc, "hosts": ["x"]}) == Inventory.from_doc(doc)


def test_base_is_the_oldest_tagged_ancestor(store):
    graph = Graph.build(store.images())
    found = find_base(graph, resolve(graph.images, "local/stack:3"))
    assert found is not None
    assert (found.image.names, found.source, found.layer_count) == (
        ("local/base:1",),
        "ancestor",
        1,
    )
    assert find_base(graph, resolve(graph.images, "local/base:1")) is None


def test_base_from_annotations(tmp_path, store):
    """An image that names its base (OCI annotations) gets that one, even untagged parents."""
    base, top = image(store, "local/stack:1"), image(store, "local/stack:3")
    other = api.open_store(tmp_path / "other")
    layout = tmp_path / "layout"
    api.save(store, ["local/stack:1"], layout, fmt="oci-dir")
    api.load(other, str(layout))
    api.load(other, str(_annotated(top, tmp_path / "a", base.id, "local/stack:1", "local/a:1")))
    graph = Graph.build(other.images())
    found = find_base(graph, resolve(graph.images, "local/a:1"))
    assert found is not None and found.source == "annotation"
    assert found.image.id == base.id and found.layer_count == 2
    # named but absent: an error, not a guess (stack:1 is an ancestor, but not the one named)
    mid = image(store, "local/stack:2")
    api.load(other, str(_annotated(mid, tmp_path / "b", digest.of_bytes(b"x"), "local/gone:1")))
    graph = Graph.build(other.images())
    with pytest.raises(NotFoundError, match="local/gone:1"):
        find_base(graph, resolve(graph.images, "local/b:1"))


def _annotated(img, out: Path, base_digest: str, base_name: str, name: str = "local/b:1") -> Path:
    """An OCI layout of `img` named `name`, whose manifest names a base by annotations."""
    from dataclasses import replace

    from lamina.spec import BASE_DIGEST, BASE_NAME
    from lamina.transports import oci_layout

    notes = {BASE_DIGEST: base_digest, BASE_NAME: base_name}
    oci_layout.write_dir([replace(img, annotations=notes, names=(name,))], out)
    return out


def test_exclude_base_reports_images_without_a_base(store, tmp_path):
    saved = api.delta.save_delta(
        store, ["local/base:1", "local/stack:2"], tmp_path / "d.tar", exclude_base=True
    )
    assert saved.no_base == ("local/base:1",)
    # stack:2's base is base:1: the recipient is taken to have it, base:1's own copy included
    assert [x.diff_id for x in saved.plan.omitted] == list(image(store, "local/base:1").diff_ids)
    assert len(saved.plan.carried) == 2
