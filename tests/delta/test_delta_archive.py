"""Delta save and load in lamina, on the stack real Docker built (docker-legacy-multi)."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import pytest

import lamina
from lamina.errors import MissingLayersError
from lamina.image import Layer
from tests.builders import store_files
from tests.delta.conftest import STACK, members
from tests.kit import Invalid, validate_archive, validate_store
from tests.lamina_cli import run_lamina


def user_layers(store: lamina.Store) -> list[Layer]:
    top = lamina.get_image(store, "local/stack:3").image
    return list(top.layers[1:])


@pytest.mark.parametrize("how", ["exclude", "exclude_base", "have"])
def test_delta_holds_only_the_user_layers(seed, base_only, tmp_path, how):
    options = {
        "exclude": {"exclude": ["local/base:1"]},
        "exclude_base": {"exclude_base": True},
        "have": {"have": _inventory_file(base_only, tmp_path)},
    }[how]
    out = tmp_path / "delta.tar"
    saved = lamina.api.delta.save_delta(seed, list(STACK), out, **options)
    files = members(out)
    carried = {x.diff_id for x in user_layers(seed)}
    base = lamina.get_image(seed, "local/base:1").image
    assert {f"sha256:{n.rsplit('/', 1)[1]}" for n in files if len(n) > 70} - carried == {
        i.id for i in saved.images
    }  # the blobs are the user layers and the three configs, no base layer
    assert not {"oci-layout", "index.json"} & set(files)
    assert [x.diff_id for x in saved.plan.omitted] == list(base.diff_ids)
    layer_bytes = sum(x.size for x in user_layers(seed))
    assert saved.plan.carried_bytes == layer_bytes
    assert out.stat().st_size == saved.bytes
    # all that is not a layer: three configs, manifest.json, repositories and tar headers
    assert saved.bytes - layer_bytes < 16 * 1024
    with tarfile.open(out) as tar:
        manifest = json.loads(tar.extractfile("manifest.json").read())
    assert [len(m["Layers"]) for m in manifest] == [2, 3, 4]  # every layer still listed
    checked = validate_archive(out, omitted=base.diff_ids)
    assert [c.id for c in checked] == [i.id for i in saved.images]
    with pytest.raises(Invalid, match="is missing"):
        validate_archive(out)


def _inventory_file(store: lamina.Store, tmp_path: Path) -> Path:
    path = tmp_path / "inventory.json"
    path.write_bytes(lamina.api.delta.inventory(store).to_json())
    return path


def test_base_only_store_loads_delta_with_same_ids_history_tags(
    seed, base_only, expected, tmp_path
):
    out = tmp_path / "delta.tar"
    lamina.api.delta.save_delta(seed, list(STACK), out, exclude_base=True)
    loaded = lamina.load(base_only, str(out))
    assert [r.id for r in loaded] == [expected[t].id for t in STACK]
    assert [r.new_layers for r in loaded] == [1, 1, 1]
    for tag in ("local/base:1", *STACK):
        img = lamina.get_image(base_only, tag)
        want = expected[tag]
        assert img.id == want.id
        assert list(img.image.diff_ids) == want.diff_ids
        assert [h.created_by for h in img.image.history] == want.created_by
    rows = {(r.repository, r.tag, r.id) for r in lamina.images(base_only)}
    assert rows == {(*t.split(":"), expected[t].id) for t in ("local/base:1", *STACK)}
    assert lamina.inspect(base_only, ["local/stack:3"])[0]["Parent"] == expected["local/stack:2"].id
    assert {c.id for c in validate_store(base_only)} == {i for _, _, i in rows}


def test_store_without_base_refuses_and_stays_unchanged(seed, tmp_path, expected):
    out = tmp_path / "delta.tar"
    lamina.api.delta.save_delta(seed, ["local/stack:3", "local/stack:1"], out, exclude_base=True)
    empty = lamina.open_store(tmp_path / "empty")
    before = store_files(empty.root)
    base = expected["local/base:1"].diff_ids[0]
    with pytest.raises(MissingLayersError) as err:
        lamina.load(empty, str(out))
    message = str(err.value)
    assert "local/stack:3" in message and "local/stack:1" in message
    assert base[:19] in message
    assert "\n" not in message
    assert store_files(empty.root) == before
    # the CLI says the same, with the missing-layers exit code
    cp = run_lamina(empty.root, "load", "-i", str(out))
    assert cp.returncode == 6
    assert b"local/stack:3" in cp.stderr and base[:19].encode() in cp.stderr
    assert store_files(empty.root) == before


def test_omitted_layer_present_on_another_chain_loads(tmp_path):
    """lamina keeps layers by content: a layer held in another stack satisfies a delta."""
    from tests.builders import FakeImage, docker_archive, layer_tar, sha

    b, x, y = (layer_tar({name: name.encode() * 100}) for name in ("b", "x", "y"))
    have = FakeImage([b, x], ["local/have:1"])
    want = FakeImage([b, y, x], ["local/want:1"])
    store = lamina.open_store(tmp_path / "s")
    lamina.load(store, str(docker_archive([have], tmp_path / "have.tar")))
    delta = docker_archive([want], tmp_path / "d.tar", omit={sha(b), sha(x)})
    assert [r.id for r in lamina.load(store, str(delta))] == [want.id]
    img = lamina.get_image(store, "local/want:1").image
    with img.layers[2].open_tar() as f:
        assert f.read() == x
    # but a layer held nowhere is named, with the image, even if its neighbours are there
    other = lamina.open_store(tmp_path / "o")
    lamina.load(other, str(docker_archive([FakeImage([b], ["local/b:1"])], tmp_path / "b.tar")))
    with pytest.raises(MissingLayersError, match=rf"local/want:1 needs {sha(x)[:19]}"):
        lamina.load(other, str(delta))


def test_cli_save_delta_reports_what_was_left_out(seed, tmp_path, expected):
    out = tmp_path / "d.tar"
    cp = run_lamina(seed.root, "save", "-o", str(out), "local/stack:3", "--exclude", "local/base:1")
    assert cp.returncode == 0, cp.stderr
    err = cp.stderr.decode()
    base = expected["local/base:1"].diff_ids[0]
    assert "Left out 1 layer the recipient has" in err and base[7:19] in err
    assert "Carried 3 layers" in err
    cp = run_lamina(seed.root, "save", "-o", str(out), "local/stack:3", "--exclude-base", "--json")
    assert cp.returncode == 0, cp.stderr
    report = json.loads(cp.stdout)
    assert [x["DiffId"] for x in report["Omitted"]] == [base]
    assert report["ArchiveBytes"] == out.stat().st_size
    assert report["OmittedBytes"] > 1_000_000 > report["ArchiveBytes"]
    # to stdout: the archive is the output, the report goes to stderr
    cp = run_lamina(seed.root, "save", "local/stack:3", "--exclude-base")
    assert cp.returncode == 0 and cp.stdout[:100].startswith(b"blobs/")
    assert b"Left out 1 layer" in cp.stderr
    cp = run_lamina(seed.root, "save", "-o", str(out), "local/stack:3", "--exclude", "nope:1")
    assert cp.returncode == 3 and b"nope:1" in cp.stderr
    cp = run_lamina(
        seed.root,
        "save",
        "-o",
        str(out),
        "--format",
        "oci-archive",
        "local/stack:3",
        "--exclude-base",
    )
    assert cp.returncode == 2


def test_cli_inventory_then_save_have(seed, base_only, tmp_path):
    inv = tmp_path / "inv.json"
    cp = run_lamina(base_only.root, "inventory", "-o", str(inv))
    assert cp.returncode == 0, cp.stderr
    cp = run_lamina(base_only.root, "inventory")
    assert cp.stdout == inv.read_bytes()
    out = tmp_path / "d.tar"
    cp = run_lamina(seed.root, "save", "-o", str(out), *STACK, "--have", str(inv), "--json")
    assert cp.returncode == 0, cp.stderr
    assert len(json.loads(cp.stdout)["Omitted"]) == 1
    cp = run_lamina(base_only.root, "load", "-i", str(out))
    assert cp.returncode == 0, cp.stderr
    # now the recipient has everything: a second delta carries no layer at all
    cp = run_lamina(base_only.root, "inventory", "-o", str(inv))
    saved = lamina.api.delta.save_delta(seed, list(STACK), tmp_path / "d2.tar", have=inv)
    assert saved.plan.carried == ()
    assert saved.bytes < 16 * 1024


def test_delta_save_is_deterministic(seed, tmp_path):
    a, b = tmp_path / "a.tar", tmp_path / "b.tar"
    lamina.save(seed, list(STACK), a, exclude=["local/base:1"])
    lamina.save(seed, list(STACK), b, exclude_base=True)
    assert a.read_bytes() == b.read_bytes()


def test_expand_is_the_full_save(seed, base_only, fixtures, tmp_path):
    delta = tmp_path / "d.tar"
    lamina.api.delta.save_delta(seed, list(STACK), delta, exclude_base=True)
    full = tmp_path / "full.tar"
    lamina.save(seed, list(STACK), full)
    from_store = tmp_path / "x1.tar"
    done = lamina.api.delta.expand(base_only, str(delta), from_store)
    assert [x.diff_id for x in done.filled] == list(
        lamina.get_image(seed, "local/base:1").image.diff_ids
    )
    assert from_store.read_bytes() == full.read_bytes()
    assert [c.id for c in validate_archive(from_store)] == [c.id for c in validate_archive(full)]
    # from an archive holding the base, into an empty store: the same bytes
    empty = lamina.open_store(tmp_path / "empty")
    from_archive = tmp_path / "x2.tar"
    lamina.api.delta.expand(
        empty, str(delta), from_archive, base_archive=str(fixtures["base-skopeo"].path)
    )
    assert from_archive.read_bytes() == full.read_bytes()
    assert store_files(empty.root) == store_files(lamina.open_store(tmp_path / "fresh").root)
    # with neither, the error names what is missing; no output is left behind
    with pytest.raises(MissingLayersError, match="local/stack:1 needs"):
        lamina.api.delta.expand(empty, str(delta), tmp_path / "x3.tar")
    assert not (tmp_path / "x3.tar").exists()


def test_expand_from_a_gzip_oci_base_and_refuses_a_corrupt_one(seed, fixtures, tmp_path):
    delta = tmp_path / "d.tar"
    lamina.api.delta.save_delta(seed, ["local/stack:3"], delta, exclude_base=True)
    store = lamina.open_store(tmp_path / "s")
    # skopeo's gzip oci-archive of the whole stack holds the base layer compressed
    out = tmp_path / "full.tar"
    lamina.api.delta.expand(
        store, str(delta), out, base_archive=str(fixtures["skopeo-oci-gzip"].path)
    )
    assert [c.id for c in validate_archive(out)] == [lamina.get_image(seed, "local/stack:3").id]
    assert [r.id for r in lamina.load(store, str(out))] == [
        lamina.get_image(seed, "local/stack:3").id
    ]
    # a base archive whose layer bytes were altered is refused, and nothing is written
    bad = tmp_path / "bad.tar"
    data = bytearray(fixtures["base-skopeo"].path.read_bytes())
    at = data.find(b"BusyBox")  # inside the busybox binary, inside the layer
    data[at] ^= 0x20
    bad.write_bytes(bytes(data))
    target = tmp_path / "nope.tar"
    with pytest.raises(lamina.LaminaError, match="corrupt"):
        lamina.api.delta.expand(
            lamina.open_store(tmp_path / "e"), str(delta), target, base_archive=str(bad)
        )
    assert not target.exists() and not list(tmp_path.glob(".nope.tar*"))


def test_cli_expand(seed, base_only, fixtures, tmp_path):
    delta = tmp_path / "d.tar"
    lamina.api.delta.save_delta(seed, ["local/stack:3"], delta, exclude_base=True)
    full = tmp_path / "full.tar"
    cp = run_lamina(base_only.root, "expand", str(delta), "-o", str(full))
    assert cp.returncode == 0, cp.stderr
    assert b"Filled 1 layer" in cp.stderr
    assert {"oci-layout", "index.json", "manifest.json"} <= set(members(full))
    cp = run_lamina(tmp_path / "empty", "expand", str(delta), "-o", str(tmp_path / "x.tar"))
    assert cp.returncode == 6 and b"--from ARCHIVE" in cp.stderr
    base = str(fixtures["base-skopeo"].path)
    cp = run_lamina(tmp_path / "empty", "expand", str(delta), "-o", str(full), "--from", base)
    assert cp.returncode == 0, cp.stderr
