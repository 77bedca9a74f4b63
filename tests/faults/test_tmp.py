"""Temp space is owned by a live process; what a dead one left, the next writer reclaims.

Before: `tx-*`, `.commit-*`, `input-*.tar` and `work-*` of killed commands stayed in
STORE/lamina/tmp forever (3.3 GiB after 18 killed loads), and Ctrl-C of a load from
stdin or of a gzip file left its whole decompressed copy.
"""

from __future__ import annotations

import gzip
import os
import signal
import subprocess
import sys
import tarfile
import time
import zlib
from pathlib import Path

import pytest

from tests.faults.conftest import lamina, ok

CHILD = """
import os, signal, sys
from lamina.store.local import Store
store = Store.open(sys.argv[1])
(store.tmp / "staged").write_bytes(b"x" * 100_000)
print(store.tmp, flush=True)
if sys.argv[2] == "die":
    os.kill(os.getpid(), signal.SIGKILL)
sys.stdin.read()
"""


def tmp_of(store: Path) -> Path:
    return store / "lamina" / "tmp"


def test_what_a_killed_process_left_is_reclaimed_by_the_next_writer(seeded):
    subprocess.run([sys.executable, "-c", CHILD, str(seeded), "die"], check=False)
    tmp = tmp_of(seeded)
    (tmp / "tx-old").mkdir()  # and what lamina versions before this one left
    (tmp / "tx-old" / "b-0").write_bytes(b"y" * 1000)
    (tmp / "work-old").mkdir()
    (tmp / ".commit-0123456789ab-77").write_bytes(b"z")
    (tmp / "input-old.tar").write_bytes(b"t" * 1000)
    report = lamina(seeded, "system", "check")
    assert report.returncode == 1
    assert report.stdout.count(b"leftover:") == 5, report.stdout
    ok(seeded, "tag", "local/base:1", "any/writer:1")
    assert list(tmp.iterdir()) == []


def test_a_live_process_keeps_its_temp_space(seeded):
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(seeded), "live"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert child.stdout is not None and child.stdin is not None
    owned = Path(child.stdout.readline().decode().strip())
    ok(seeded, "tag", "local/base:1", "any/writer:1")
    ok(seeded, "system", "check", "--repair")
    assert (owned / "staged").stat().st_size == 100_000
    child.stdin.close()
    assert child.wait(timeout=60) == 0
    assert list(tmp_of(seeded).iterdir()) == []  # it removed its own on exit


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
@pytest.mark.parametrize("via", ["stdin", "gzip-file"])
def test_an_interrupted_spooling_load_leaves_no_copy(tmp_path, zeros_gz, sig, via):
    store = tmp_path / "s"
    ok(store, "images")
    # a valid tar (the spool checks tar structure as it goes), cut inside a 4 MB file
    source, feed = "-", gzip.compress(_file_header(8_000_000) + os.urandom(4_000_000), 1)
    if via == "gzip-file":  # 1 GiB of zeros: spooling takes a while, the signal comes first
        source, feed = str(zeros_gz), b""
    proc = subprocess.Popen(
        [sys.executable, "-m", "lamina", "--store", str(store), "load", "-i", source],
        stdin=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdin is not None and proc.stderr is not None
    if feed:
        proc.stdin.write(feed)  # and keep stdin open: the load waits for more
        proc.stdin.flush()
    _wait_for_spool(tmp_of(store))
    proc.send_signal(sig)
    proc.stdin.close()  # as in `cat x.gz | lamina load`: Ctrl-C ends the writer too
    assert proc.wait(timeout=60) != 0
    assert list(tmp_of(store).iterdir()) == []  # no writer needed: it cleaned up itself
    assert b"Traceback" not in proc.stderr.read()


@pytest.fixture(scope="module")
def zeros_gz(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _zeros_gz(tmp_path_factory.mktemp("gz") / "zeros.gz", 1 << 30)


def _file_header(size: int) -> bytes:
    """The tar header of one regular file of `size` bytes (its data must follow)."""
    info = tarfile.TarInfo("big")
    info.size = size
    return info.tobuf(tarfile.PAX_FORMAT)


def _zeros_gz(path: Path, size: int) -> Path:
    """A gzip'd tar of one file of zeros (a valid tar, so spooling goes on to its end)."""
    packer = zlib.compressobj(1, zlib.DEFLATED, 31)  # 31: a gzip header
    chunk = bytes(1 << 20)
    with open(path, "wb") as f:
        f.write(packer.compress(_file_header(size)))
        for _ in range(size >> 20):
            f.write(packer.compress(chunk))
        f.write(packer.flush())
    return path


def _wait_for_spool(tmp: Path) -> None:
    for _ in range(600):
        if any(p.stat().st_size > 0 for p in tmp.rglob("input-*")):
            return
        time.sleep(0.05)
    raise AssertionError("the load never started spooling")
