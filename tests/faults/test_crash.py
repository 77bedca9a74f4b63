"""SIGKILL at each step of a commit, and at random moments: the next writer heals it all.

The store kills itself at a named step (LAMINA_TEST_CRASH_AT, lamina.store.journal);
afterwards `system check` reports what the kill left, any writer reclaims it, and
the store passes `system check` with nothing in tmp/.
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lamina.store.journal import CRASH_ENV
from tests.builders import docker_archive, stack
from tests.faults.conftest import assert_healthy, big_archive, lamina, ok

STEPS = ["after-journal", "after-adopt", "after-index", "after-doom"]
DONE = {"after-index", "after-doom"}  # index.json was replaced: the command took effect


def blobs(store: Path) -> set[str]:
    return {p.name for p in (store / "blobs" / "sha256").iterdir()}


@pytest.mark.parametrize("step", STEPS)
def test_load_killed_at_each_commit_step_is_healed(seeded, tmp_path, step):
    archive = big_archive(tmp_path / "big.tar", "big:1", 300_000)
    done = lamina(seeded, "load", "-i", str(archive), env={CRASH_ENV: step})
    assert done.returncode == -signal.SIGKILL
    report = lamina(seeded, "system", "check")
    assert report.returncode == 1 and b"leftover: journal" in report.stdout
    ok(seeded, "tag", "local/base:1", "any/writer:1")  # any writer heals
    assert_healthy(seeded)
    assert ("big" in ok(seeded, "images")) == (step in DONE)


@pytest.mark.parametrize("step", STEPS)
def test_rmi_killed_at_each_commit_step_is_healed(seeded, step):
    before = blobs(seeded)
    done = lamina(seeded, "rmi", "local/stack:3", env={CRASH_ENV: step})
    assert done.returncode == -signal.SIGKILL
    ok(seeded, "tag", "local/base:1", "any/writer:1")
    assert_healthy(seeded)  # no unreferenced blob: the doomed ones were finished or kept
    gone = step in DONE
    assert ("local/stack   3" in ok(seeded, "images")) != gone
    assert len(before - blobs(seeded)) == (3 if gone else 0)  # manifest, config, top layer
    trash = seeded / "lamina" / "trash"
    assert not trash.exists() or not any(trash.iterdir())


def test_loads_killed_at_random_moments_are_healed(tmp_path):
    store = tmp_path / "s"
    ok(store, "images")
    archives = [big_archive(tmp_path / f"b{i}.tar", f"big:{i}", 2_000_000, i) for i in range(4)]
    rng = random.Random(11)
    for archive in archives:
        proc = subprocess.Popen(
            [sys.executable, "-m", "lamina", "--store", str(store), "load", "-i", str(archive)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(rng.uniform(0.3, 1.5))
        proc.kill()
        proc.wait()
    ok(store, "load", "-i", str(docker_archive(stack(2), tmp_path / "s.tar")))
    assert_healthy(store)
