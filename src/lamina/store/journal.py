"""The intent journal of a commit: a writer killed half-way never leaks blobs.

Before a commit touches blobs/ or index.json it writes, atomically,

    STORE/lamina/journal    {"added": [digests it adopts], "doomed": [digests it deletes]}

then adopts its blobs, replaces index.json, moves the doomed blobs to the trash,
and removes the journal. The next writer that finds a journal (under the lock,
before anything else) settles it: every digest listed that index.json does not
reference (index -> manifest -> config, layers) goes to the trash. Wherever the
kill fell, that is the right outcome: killed before index.json was replaced, the
added blobs are unreferenced (undone) and the doomed ones still referenced (kept);
killed after, the added are referenced (kept) and the doomed are not (finished).
Containers need no look here: doomed blobs were chosen by rules that keep what
containers hold, and added blobs were absent, so no container can hold them.

Settling reads every manifest index.json names, once, after a crash only: a
normal commit costs one small fsync'd file, whatever the size of the store.

`crash_point(step)` is a test hook: with LAMINA_TEST_CRASH_AT=step in the
environment the process SIGKILLs itself there (steps: after-journal, after-adopt,
after-index, after-doom), so tests can prove each of those states is settled.
`pause_point(step)` is another: with LAMINA_TEST_PAUSE_AT=step:DIR the process
creates DIR/reached there and waits (up to a minute) for DIR/go, so a test can
run a second command at exactly that moment (step: load-planned, in `load`).
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import BinaryIO

from lamina.atomic import write_atomic
from lamina.errors import LaminaError, NotFoundError
from lamina.spec import Manifest
from lamina.store import trash
from lamina.store.cas import BlobStore
from lamina.store.refs import read_entries

JOURNAL = "journal"
CRASH_ENV = "LAMINA_TEST_CRASH_AT"
PAUSE_ENV = "LAMINA_TEST_PAUSE_AT"


def crash_point(step: str) -> None:
    """Die here, as a SIGKILL would kill us, when a fault test asks for it."""
    if os.environ.get(CRASH_ENV) == step:
        os.kill(os.getpid(), signal.SIGKILL)


def pause_point(step: str) -> None:
    """Wait here for a test's go-ahead, when a test asks for it."""
    name, _, folder = os.environ.get(PAUSE_ENV, "").partition(":")
    if name != step or not folder:
        return
    (Path(folder) / "reached").touch()
    for _ in range(1200):
        if (Path(folder) / "go").exists():
            return
        time.sleep(0.05)


def apply(
    state: Path,
    blobs: BlobStore,
    staged: dict[str, Path],
    doomed: set[str],
    index: bytes,
    tmp_dir: Path,
) -> None:
    """A commit: adopt `staged` blobs, replace index.json with `index`, trash `doomed`."""
    doomed = {d for d in doomed if blobs.has(d)}
    if staged or doomed:
        write(state, set(staged), doomed, tmp_dir)
        crash_point("after-journal")
    for dig, path in staged.items():
        blobs.adopt(path, dig)
    crash_point("after-adopt")
    write_atomic(state.parent / "index.json", index, tmp_dir)
    crash_point("after-index")
    for dig in doomed:
        trash.discard(blobs.path(dig), state, dig)
    crash_point("after-doom")
    clear(state)


def write(state: Path, added: set[str], doomed: set[str], tmp_dir: Path) -> None:
    doc = {"added": sorted(added), "doomed": sorted(doomed)}
    write_atomic(state / JOURNAL, json.dumps(doc).encode(), tmp_dir)


def clear(state: Path) -> None:
    (state / JOURNAL).unlink(missing_ok=True)


def pending(state: Path) -> set[str] | None:
    """The digests an unfinished commit listed, or None when there is no journal."""
    try:
        doc = json.loads((state / JOURNAL).read_bytes())
    except FileNotFoundError:
        return None
    except ValueError:
        return set()  # written atomically, so never half; unreadable means not ours
    listed = doc.get("added", []) + doc.get("doomed", []) if isinstance(doc, dict) else []
    return {d for d in listed if isinstance(d, str)}


def settle(state: Path, blobs: BlobStore, index_path: Path) -> list[str]:
    """Finish or undo a dead writer's commit; returns the digests moved to the trash."""
    listed = pending(state)
    if listed is None:
        return []
    keep = referenced(blobs, index_path)
    dropped = sorted(d for d in listed if d not in keep and blobs.has(d))
    for dig in dropped:
        trash.discard(blobs.path(dig), state, dig)
    clear(state)
    return dropped


def referenced(blobs: BlobStore, index_path: Path) -> set[str]:
    """Every blob index.json reaches: its manifests, their configs and layers."""
    found: set[str] = set()
    manifests = {e.manifest.digest: e.manifest.media_type for e in read_entries(index_path)}
    for dig, media_type in manifests.items():
        found.add(dig)
        try:
            manifest = Manifest.parse(blobs.path(dig).read_bytes(), media_type)
        except (OSError, LaminaError):
            continue  # a missing or damaged manifest: `system check` reports it
        found.add(manifest.config.digest)
        found.update(layer.digest for layer in manifest.layers)
    return found


def check_complete(
    manifests: Iterable[str], has: Callable[[str], bool], open_blob: Callable[[str], BinaryIO]
) -> None:
    """Raise unless each manifest, its config and its layers are all present (`has`)."""
    for dig in manifests:
        needed = [dig]
        if has(dig):
            with open_blob(dig) as f:
                manifest = Manifest.parse(f.read())
            needed += [manifest.config.digest, *(x.digest for x in manifest.layers)]
        for blob in needed:
            if not has(blob):
                raise NotFoundError(
                    f"blob {blob} of the image being written is not in the store",
                    "it was removed meanwhile; run the command again",
                )
