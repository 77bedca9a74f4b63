"""`lamina system check`: every blob, reference and container record verified;
`--repair` reclaims what is safe, `--force` removes damaged images."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

import lamina
from tests.builders import docker_archive, sha, stack
from tests.lamina_cli import run_lamina


def check(store: Path, *flags: str) -> tuple[int, list[str]]:
    done = run_lamina(store, "system", "check", *flags)
    assert b"Traceback" not in done.stderr
    return done.returncode, done.stdout.decode().splitlines()


@pytest.fixture
def store(tmp_path: Path) -> lamina.Store:
    s = lamina.open_store(tmp_path / "s")
    lamina.load(s, str(docker_archive(stack(4), tmp_path / "a.tar")))
    return s


def top_layer(store: lamina.Store) -> Path:
    path = store.layer_path(lamina.get_image(store, "local/stack:3").image.layers[-1].diff_id)
    store.readers.release()  # this test is no reader: let the CLI free deleted blobs
    return path


def test_a_sound_store_checks_clean(store):
    assert check(store.root) == (0, [])
    assert check(store.root, "--quick") == (0, [])


def test_a_damaged_blob_is_found_and_its_image_removed_only_with_force(store):
    path = top_layer(store)
    data = bytearray(path.read_bytes())
    data[data.find(b"3\n")] = ord("X")  # same size: only a re-hash sees it
    path.write_bytes(bytes(data))
    code, lines = check(store.root)
    assert code == 1 and [x.split(":")[0] for x in lines] == ["corrupt"]
    assert check(store.root, "--quick") == (0, [])
    code, lines = check(store.root, "--repair")
    assert code == 1 and path.exists()  # an image needs it: not safe to remove
    code, lines = check(store.root, "--repair", "--force")
    assert code == 0, lines
    assert any(x.startswith("removed: local/stack:3") for x in lines)
    assert not path.exists()
    assert "local/stack:3" not in {n for i in store.images() for n in i.names}
    assert check(store.root) == (0, [])


def test_a_truncated_blob_is_found_by_quick(store):
    path = top_layer(store)
    path.write_bytes(path.read_bytes()[:-512])
    code, lines = check(store.root, "--quick")
    assert code == 1 and lines[0].startswith("corrupt: sha256:")


def test_a_missing_blob_breaks_its_image_until_forced(store):
    top_layer(store).unlink()
    code, lines = check(store.root, "--repair")
    assert code == 1 and lines[0].startswith("missing: sha256:") and "local/stack:3" in lines[0]
    assert check(store.root, "--repair", "--force")[0] == 0
    assert check(store.root) == (0, [])
    assert run_lamina(store.root, "images").returncode == 0


def test_unreferenced_blobs_are_reported_with_sizes_and_reclaimed(store):
    dig = sha(b"x" * 2000)  # what a killed rmi or load used to leave
    stray = store.blobs.path(dig)
    stray.write_bytes(b"x" * 2000)
    code, lines = check(store.root)
    assert code == 1 and lines == [f"unreferenced: {dig}  2kB: nothing names it"]
    code, lines = check(store.root, "--repair", "--json")
    found = json.loads("\n".join(lines))
    assert code == 0 and found[0]["kind"] == "unreferenced" and found[0]["fixed"] is True
    assert not stray.exists()


def test_container_records_are_checked(store):
    lamina.create(store, "local/stack:3", name="c1")
    c = lamina.get_container(store, "c1")
    containers = store.state / "containers"
    (containers / ".gone-0123").mkdir()
    (containers / ".gone-0123" / "f").write_bytes(b"y" * 100)
    new = containers / ".new-live"
    new.mkdir()  # a create that may still be running: left alone
    code, lines = check(store.root)
    assert code == 1 and lines == [
        f"leftover: {containers / '.gone-0123'}  100B: an interrupted container create or rm"
    ]
    os.rename(c.rootfs, c.dir / "elsewhere")
    code, lines = check(store.root, "--repair")
    assert code == 1 and "container c1: its rootfs is missing" in lines[-1]
    assert not (containers / ".gone-0123").exists() and new.exists()


def test_an_unreadable_index_is_one_finding(store):
    (store.root / "index.json").write_bytes(b"{not json")
    code, lines = check(store.root)
    assert code == 1 and len(lines) == 1 and lines[0].startswith("broken: index.json: ")
    assert check(store.root, "--repair", "--force") == (code, lines)
