"""Writers decide what is present only under the lock; readers keep one snapshot.

Before: a `load` racing an `rmi` of the same image exited 0 and left index.json
naming a manifest whose blobs were gone (every later command failed with exit 3),
and 2 of 367 loads under 8 concurrent writers failed "blob ... is not in the store".
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import lamina
from lamina import mediatype
from lamina.errors import NotFoundError
from lamina.spec import Descriptor
from lamina.store.journal import PAUSE_ENV
from tests.builders import docker_archive, sha, stack, store_files
from tests.faults.conftest import assert_healthy, ok
from tests.faults.conftest import lamina as run


def test_a_load_racing_an_rmi_of_the_same_image_keeps_the_store_sound(seeded, tmp_path):
    archive = docker_archive(stack(4), tmp_path / "again.tar")  # the images the store has
    gate = tmp_path / "gate"
    gate.mkdir()
    load = subprocess.Popen(
        [sys.executable, "-m", "lamina", "--store", str(seeded), "load", "-i", str(archive)],
        env={**os.environ, PAUSE_ENV: f"load-planned:{gate}"},
        stderr=subprocess.PIPE,
    )
    for _ in range(1200):  # the load has read its archive; now the rmi runs
        if (gate / "reached").exists() or load.poll() is not None:
            break
        time.sleep(0.05)
    assert (gate / "reached").exists()
    ok(seeded, "rmi", "local/stack:3")  # deletes the image and its top layer
    (gate / "go").touch()
    _, err = load.communicate(timeout=120)
    assert load.returncode == 0, err.decode()
    assert_healthy(seeded)
    assert "local/stack   3" in ok(seeded, "images")
    ok(seeded, "save", "-o", str(tmp_path / "out.tar"), "local/stack:3")


def test_a_commit_naming_blobs_the_store_lacks_is_refused(tmp_path):
    store = lamina.open_store(tmp_path / "s")
    lamina.load(store, str(docker_archive(stack(2), tmp_path / "a.tar")))
    before = store_files(store.root)
    ghost = Descriptor(mediatype.OCI_MANIFEST, "sha256:" + "0" * 64, 10)
    with pytest.raises(NotFoundError, match="not in the store"), store.transaction() as tx:
        tx.set_name("ghost:1", ghost)
    assert store_files(store.root) == before
    assert list(store.tmp.iterdir()) == []  # its staging went too


def test_a_reader_keeps_its_snapshot_while_a_writer_deletes(seeded):
    store = lamina.open_store(seeded)
    image = lamina.get_image(store, "local/stack:3").image  # read index.json: a reader now
    ok(seeded, "rmi", "local/stack:3")
    assert "local/stack   3" not in ok(seeded, "images")
    top = image.layers[-1]
    with top.open_blob() as f:
        assert sha(f.read()) == top.diff_id  # still readable, and verified
    assert sha(store.blobs.read_bytes(image.id)) == image.id  # the config too
    store.readers.release()  # the reader is done: the next writer frees the blobs
    ok(seeded, "tag", "local/base:1", "any/writer:1")
    assert not any((seeded / "lamina" / "trash").iterdir())
    assert_healthy(seeded)


def test_concurrent_writers_and_readers_keep_the_store_sound(seeded, tmp_path):
    archive = docker_archive(stack(4), tmp_path / "again.tar")
    failures: list[str] = []

    def worker(n: int) -> None:
        for i in range(3):
            steps = [
                (("load", "-i", str(archive)), (0,)),
                (("rmi", "local/stack:3"), (0, 3)),  # 3: another worker removed it first
                (("save", "-o", str(tmp_path / f"o{n}-{i}.tar"), "local/stack:3"), (0, 3)),
                (("save", "-o", str(tmp_path / f"p{n}-{i}.tar"), "local/stack:2"), (0,)),
            ]
            for args, codes in steps:
                done = run(seeded, *args)
                if done.returncode not in codes or b"blob" in done.stderr:
                    failures.append(f"{args[0]}: {done.returncode} {done.stderr.decode()}")

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    ok(seeded, "tag", "local/base:1", "any/writer:1")
    assert_healthy(seeded)
    assert not _leftovers(seeded)


def _leftovers(store: Path) -> list[Path]:
    trash = store / "lamina" / "trash"
    return list(trash.iterdir()) if trash.exists() else []
