"""Patched deltas between lamina stores: app:2 sent as a patch against app:1's layer.

The update (tests/delta/updates.py) is app:1 -> app:2 over one shared base, with the
application layer rebuilt and a few files changed: what issue 12 is about.
"""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest

import lamina
from lamina.api import delta, transfer
from lamina.errors import LaminaError, MissingLayersError
from lamina.store.inventory import Inventory
from lamina.transports import archive_patches
from tests.builders import FakeImage, layer_tar, store_files
from tests.delta.conftest import members
from tests.delta.test_transfer import receive_cmd
from tests.delta.updates import APP1, APP2, BASE, app_files, store_with
from tests.kit import validate_archive, validate_store
from tests.lamina_cli import run_lamina

APP_LAYER = len(APP2.layers[1])


@pytest.fixture
def sender(tmp_path: Path) -> lamina.Store:
    return store_with(tmp_path, "sender", APP1, APP2)


@pytest.fixture
def bob(tmp_path: Path) -> lamina.Store:
    """The recipient: holds app:1 only."""
    return store_with(tmp_path, "bob", APP1)


def patched_delta(sender: lamina.Store, bob: lamina.Store, out: Path) -> delta.Saved:
    return delta.save_delta(sender, ["local/app:2"], out, have=delta.inventory(bob))


def test_save_have_sends_the_changed_layer_as_a_small_patch(sender, bob, tmp_path):
    out = tmp_path / "d.tar"
    saved = patched_delta(sender, bob, out)
    assert saved.patched is not None
    (patch,) = saved.patched.patches
    assert patch.diff_id == APP2.diff_ids[1] and patch.reference == APP1.diff_ids[1]
    assert "same position in local/app:1" in saved.patched.decisions[0].why
    assert patch.patch_size * 20 < APP_LAYER  # a few files changed: a small patch
    assert out.stat().st_size < APP_LAYER / 10
    files = members(out)
    assert archive_patches.FILE in files
    assert not any(APP2.diff_ids[1][7:] in name for name in files)  # the layer is not in it
    with tarfile.open(out) as tar:
        manifest = json.loads(tar.extractfile("manifest.json").read())  # type: ignore[union-attr]
    assert manifest[0] == archive_patches.refusal_entry()  # what Docker reads first


def test_load_rebuilds_app2_with_its_image_id_history_and_tags(sender, bob, tmp_path):
    out = tmp_path / "d.tar"
    patched_delta(sender, bob, out)
    (loaded,) = lamina.load(bob, str(out))
    assert loaded.id == APP2.id and loaded.names == ("local/app:2",) and loaded.new_layers == 1
    img = lamina.get_image(bob, "local/app:2")
    assert img.image.diff_ids == tuple(APP2.diff_ids)
    assert [h.created_by for h in img.image.history] == ["base", "app 2"]
    assert sorted(c.id for c in validate_store(bob)) == sorted([APP1.id, APP2.id])
    assert lamina.load(bob, str(out))[0].new_layers == 0  # again: nothing to rebuild


def test_exclude_makes_patches_too(sender, bob, tmp_path):
    out = tmp_path / "d.tar"
    saved = delta.save_delta(sender, ["local/app:2"], out, exclude=["local/app:1"])
    assert saved.patched is not None and len(saved.patched.patches) == 1
    assert lamina.load(bob, str(out))[0].id == APP2.id


def test_no_patches_writes_todays_delta(sender, bob, tmp_path):
    out, today = tmp_path / "d.tar", tmp_path / "today.tar"
    saved = delta.save_delta(sender, ["local/app:2"], out, have=delta.inventory(bob), patches=False)
    assert saved.patched is None
    lamina.save(sender, ["local/app:2"], today, omit_layers={APP2.diff_ids[0]})
    assert out.read_bytes() == today.read_bytes()
    assert archive_patches.FILE not in members(out)
    assert [c.id for c in validate_archive(out, omitted={APP2.diff_ids[0]})] == [APP2.id]


def test_a_missing_reference_is_refused_before_anything_is_written(sender, tmp_path):
    bob = store_with(tmp_path, "bob", APP1)
    out = tmp_path / "d.tar"
    patched_delta(sender, bob, out)
    base_only = store_with(tmp_path, "base-only", FakeImage([BASE], ["local/base:1"]))
    before = store_files(base_only.root)
    with pytest.raises(MissingLayersError) as exc:
        lamina.load(base_only, str(out))
    line = exc.value.one_line(cli=True)
    assert "\n" not in line and APP1.diff_ids[1][7:19] in line and "local/app:2" in line
    assert "--no-patches" in line and "load local/app:1 first" in line
    assert store_files(base_only.root) == before


def test_a_damaged_reference_is_refused_and_the_store_is_unchanged(sender, bob, tmp_path):
    out = tmp_path / "d.tar"
    patched_delta(sender, bob, out)
    ref = bob.layer_path(APP1.diff_ids[1])
    data = bytearray(ref.read_bytes())
    data[5000] ^= 0xFF  # inside a file's bytes: the header still parses
    ref.chmod(0o644)
    ref.write_bytes(bytes(data))
    before = store_files(bob.root)
    with pytest.raises(LaminaError):
        lamina.load(bob, str(out))
    assert store_files(bob.root) == before
    assert [i.id for i in bob.images()] == [APP1.id]


def test_a_damaged_patch_is_refused_and_the_store_is_unchanged(sender, bob, tmp_path):
    out = tmp_path / "d.tar"
    saved = patched_delta(sender, bob, out)
    assert saved.patched is not None
    blob = archive_patches.blob_path(saved.patched.patches[0])
    raw = bytearray(out.read_bytes())
    with tarfile.open(out) as tar:
        at = tar.getmember(blob).offset_data
    raw[at + saved.patched.patches[0].patch_size - 3] ^= 0xFF
    out.write_bytes(bytes(raw))
    before = store_files(bob.root)
    with pytest.raises(LaminaError):
        lamina.load(bob, str(out))
    assert store_files(bob.root) == before


def test_expand_gives_the_full_save_byte_for_byte(sender, bob, tmp_path):
    out, full, expanded = tmp_path / "d.tar", tmp_path / "full.tar", tmp_path / "x.tar"
    patched_delta(sender, bob, out)
    lamina.save(sender, ["local/app:2"], full)
    done = delta.expand(bob, str(out), expanded)
    assert {x.diff_id for x in done.filled} == set(APP2.diff_ids)
    assert expanded.read_bytes() == full.read_bytes()
    assert [c.id for c in validate_archive(expanded)] == [APP2.id]


def test_expand_without_the_reference_fails_and_writes_nothing(sender, bob, tmp_path):
    out, expanded = tmp_path / "d.tar", tmp_path / "x.tar"
    patched_delta(sender, bob, out)
    empty = lamina.open_store(tmp_path / "empty")
    with pytest.raises(MissingLayersError):
        delta.expand(empty, str(out), expanded)
    assert not expanded.exists()


def test_an_unrelated_layer_travels_whole(bob, tmp_path):
    other = FakeImage([BASE, layer_tar(app_files(1, seed=99))], ["local/other:1"])
    other_files = {f"srv/{k}": v for k, v in app_files(1, seed=11).items()}
    srv = FakeImage([BASE, layer_tar({"srv/": None, **other_files})], ["local/srv:1"])
    sender = store_with(tmp_path, "s2", APP1, srv, other)
    out = tmp_path / "d.tar"
    saved = delta.save_delta(sender, ["local/srv:1"], out, have=delta.inventory(bob))
    assert saved.patched is not None and not saved.patched.patches
    assert saved.patched.decisions[0].why.startswith("whole: no layer the recipient holds")
    assert archive_patches.FILE not in members(out)
    assert lamina.load(bob, str(out))[0].id == srv.id


def test_cli_says_the_archive_needs_lamina_and_no_patches_turns_it_off(sender, bob, tmp_path):
    inventory = tmp_path / "bob.json"
    inventory.write_bytes(delta.inventory(bob).to_json())
    out = tmp_path / "d.tar"
    cp = run_lamina(sender.root, "save", "--have", str(inventory), "-o", str(out), "local/app:2")
    assert cp.returncode == 0, cp.stderr
    err = cp.stderr.decode()
    assert "carries layer patches: load it with `lamina load`" in err
    assert "same position in local/app:1" in err and "Patched 1 layer" in err
    plain = tmp_path / "plain.tar"
    args = ("--have", str(inventory), "--no-patches", "-o", str(plain), "local/app:2")
    cp = run_lamina(sender.root, "save", *args)
    assert cp.returncode == 0 and b"patch" not in cp.stderr
    assert archive_patches.FILE not in members(plain)
    cp = run_lamina(bob.root, "load", "-i", str(out))
    assert cp.returncode == 0 and cp.stdout.decode() == "Loaded image: local/app:2\n"


def test_send_negotiates_patches_by_itself(sender, bob, tmp_path):
    wire = tmp_path / "wire"
    sent = transfer.send(sender, ["local/app:2"], receive_cmd(bob, wire))
    assert sent.patched is not None and len(sent.patched.patches) == 1
    assert wire.stat().st_size < APP_LAYER / 10
    assert lamina.get_image(bob, "local/app:2").id == APP2.id
    validate_store(bob)


def test_send_no_patches_carries_the_whole_layer(sender, bob, tmp_path):
    wire = tmp_path / "wire"
    sent = transfer.send(sender, ["local/app:2"], receive_cmd(bob, wire), patches=False)
    assert sent.patched is None and wire.stat().st_size > APP_LAYER
    assert lamina.get_image(bob, "local/app:2").id == APP2.id


def test_several_images_with_patches_load_from_stdin(tmp_path):
    other1 = FakeImage([BASE, layer_tar(app_files(1, seed=21))], ["local/other:1"])
    other2 = FakeImage([BASE, layer_tar(app_files(2, seed=21))], ["local/other:2"])
    sender = store_with(tmp_path, "sender", APP1, APP2, other1, other2)
    bob = store_with(tmp_path, "bob", APP1, other1)
    out = tmp_path / "d.tar"
    refs = ["local/app:2", "local/other:2"]
    saved = delta.save_delta(sender, refs, out, have=delta.inventory(bob))
    assert saved.patched is not None
    assert {(p.diff_id, p.reference) for p in saved.patched.patches} == {
        (APP2.diff_ids[1], APP1.diff_ids[1]),
        (other2.diff_ids[1], other1.diff_ids[1]),
    }
    cp = run_lamina(bob.root, "load", input=out.read_bytes())
    assert cp.returncode == 0, cp.stderr
    assert sorted(cp.stdout.decode().splitlines()) == [
        "Loaded image: local/app:2",
        "Loaded image: local/other:2",
    ]
    assert {i.id for i in bob.images()} == {APP1.id, APP2.id, other1.id, other2.id}
    validate_store(bob)


def test_a_newer_patch_list_is_refused_with_what_to_do(sender, bob, tmp_path):
    out, edited = tmp_path / "d.tar", tmp_path / "newer.tar"
    patched_delta(sender, bob, out)
    with tarfile.open(out) as src, tarfile.open(edited, "w") as dst:
        for m in src:
            data = src.extractfile(m).read() if m.isfile() else None  # type: ignore[union-attr]
            if m.name == archive_patches.FILE and data is not None:
                data = data.replace(b'"version":1', b'"version":2')
                m.size = len(data)
            dst.addfile(m, io.BytesIO(data) if data is not None else None)
    before = store_files(bob.root)
    with pytest.raises(LaminaError) as exc:
        lamina.load(bob, str(edited))
    assert "version 2" in exc.value.one_line() and "without patches" in exc.value.one_line()
    assert "--no-patches" in exc.value.one_line(cli=True)
    assert store_files(bob.root) == before


def test_save_json_lists_each_decision(sender, bob, tmp_path):
    inventory = tmp_path / "bob.json"
    inventory.write_bytes(delta.inventory(bob).to_json())
    args = ("--have", str(inventory), "--json", "-o", str(tmp_path / "d.tar"), "local/app:2")
    cp = run_lamina(sender.root, "save", *args)
    assert cp.returncode == 0, cp.stderr
    (decision,) = json.loads(cp.stdout)["Patches"]
    assert decision["DiffId"] == APP2.diff_ids[1]
    assert decision["Reference"] == APP1.diff_ids[1]
    assert 0 < decision["PatchBytes"] < APP_LAYER / 20


def test_an_inventory_that_does_not_read_patches_gets_whole_layers(sender, bob, tmp_path):
    """`inventory --docker` (a Docker Engine) does not say it rebuilds patches."""
    as_docker = Inventory.of_images(bob.images())
    assert "patches" not in as_docker.to_doc()
    assert delta.inventory(bob).to_doc()["patches"] == list(archive_patches.READS)
    out = tmp_path / "d.tar"
    saved = delta.save_delta(sender, ["local/app:2"], out, have=as_docker)
    assert saved.patched is None and archive_patches.FILE not in members(out)


def test_similarity_finds_the_reference_when_the_layers_moved(bob, tmp_path):
    """app:3 has a layer more below its app layer: no layer sits at the same position in
    app:1, so the most similar layer by paths is chosen."""
    extra = layer_tar({"etc/": None, "etc/extra.conf": b"x = 1\n" * 60_000})
    app3 = FakeImage([BASE, extra, layer_tar(app_files(2))], ["local/app:3"])
    sender = store_with(tmp_path, "s3", APP1, app3)
    out = tmp_path / "d.tar"
    saved = delta.save_delta(sender, ["local/app:3"], out, have=delta.inventory(bob))
    assert saved.patched is not None
    first, second = saved.patched.decisions
    assert first.patch is None and first.why.startswith("whole: no layer the recipient")
    assert second.patch is not None and second.patch.reference == APP1.diff_ids[1]
    assert "most similar layer" in second.why
    assert lamina.load(bob, str(out))[0].id == app3.id
