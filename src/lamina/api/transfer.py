"""send and receive: move images to another store through a command's pipes.

`send(store, refs, "ssh bob lamina receive")` runs the command, learns the
receiver's inventory from it, and streams a delta archive of only what the
receiver lacks (layers it lacks travel as patches against layers it has, where they
win, when its hello says it reads patches: `"patches": [1, 2]`, the versions of
the patch format (layer/patch/) it reads; an older receiver gets whole layers); the
receiver spools it into its store's temp area (stdin cannot be seeked, and `load`
reads archives at random), loads it all-or-nothing and answers with the result. The
frames are in transports/pipe.py. No network service: the command (ssh, a local
`lamina --store DIR receive`) is the transport.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
from dataclasses import dataclass
from typing import Any, BinaryIO

from lamina.api.images import Loaded, load
from lamina.api.lookup import Names, as_names
from lamina.api.save import images_for, make_patches
from lamina.errors import (
    LaminaError,
    PeerClosed,
    ProtocolError,
    ReceiverError,
    SenderAborted,
    UsageError,
)
from lamina.image import Image
from lamina.ops import delta
from lamina.ops.patching import Patched
from lamina.ops.references import Stack
from lamina.progress import Progress
from lamina.store.inventory import Inventory
from lamina.store.local import Store
from lamina.transports import archive_patches, pipe
from lamina.transports.archive_writer import write_archive


@dataclass(frozen=True)
class Sent:
    """What `send` did: the images, the delta plan, the bytes each way, the receiver's report."""

    images: tuple[Image, ...]
    plan: delta.Plan
    archive_bytes: int  # the delta archive
    wire_sent: int  # every byte written to the command, frames included
    wire_received: int  # every byte read from it (its inventory, its answer)
    loaded: tuple[dict[str, Any], ...]  # the receiver's report: Id, RepoTags, NewLayers
    patched: Patched | None = None  # how the carried layers travelled, if weighed


def send(
    store: Store,
    refs: Names,
    command: str,
    *,
    patches: bool = True,
    progress: Progress | None = None,
) -> Sent:
    """Send images to `command` (which runs `lamina receive` somewhere); only what it lacks,
    as patches where they win and the receiver reads them (unless `patches` is False)."""
    refs = as_names(refs)
    if not refs:
        raise UsageError("send needs at least one image")
    if not command.strip():
        raise UsageError(
            "send needs a command to run",
            "a command that runs `lamina receive`, e.g. 'ssh HOST lamina receive'",
            command="e.g. --to 'ssh HOST lamina receive'",
        )
    images = images_for(store, refs)  # unknown names fail before anything starts
    proc = subprocess.Popen(command, shell=True, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert proc.stdin is not None and proc.stdout is not None
    channel = pipe.Channel(proc.stdout, proc.stdin, "the receiver")  # type: ignore[arg-type]
    try:
        return _converse(store, channel, images, progress, patches)
    except (ProtocolError, BrokenPipeError) as exc:
        status = _finish(proc)
        if isinstance(exc, PeerClosed | BrokenPipeError) and status:
            raise ReceiverError(
                f"`{command}` exited with status {status} before the transfer was over",
                hint="its own error is printed above; does it run `lamina receive`?",
            ) from None
        if isinstance(exc, BrokenPipeError):
            raise ReceiverError(
                f"`{command}` stopped reading before the transfer was over"
            ) from None
        raise
    finally:
        _finish(proc)


def _converse(
    store: Store,
    channel: pipe.Channel,
    images: list[Image],
    progress: Progress | None,
    patches: bool,
) -> Sent:
    _, greeting = channel.recv_json(pipe.HELLO)
    scratch = store.scratch_dir()
    try:
        pipe.check_hello(greeting, channel.peer)
        have = Inventory.from_doc(greeting.get("inventory") or {}, f"{channel.peer}'s inventory")
        plan = delta.plan(images, have.chain_ids)
        made = None
        if patches and archive_patches.rebuilds(greeting.get("patches")):
            stacks = [Stack(tags, diff_ids) for tags, diff_ids in have.stacks()]
            made = make_patches(store, images, plan.carried, stacks, scratch, progress)
        channel.send_json(pipe.HELLO, pipe.hello(**_intro(images, plan, made)))
        data = pipe.DataWriter(channel)
        omit = plan.omit | (made.omit if made else set())
        size = write_archive(
            images,
            data,  # type: ignore[arg-type]
            omit=omit,
            progress=progress,
            label="Sending",
            patches=made.patches if made else (),
        )
    except LaminaError as exc:
        with contextlib.suppress(OSError):
            channel.send_json(pipe.ABORT, {"error": exc.one_line(cli=True)})
        raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    data.finish()
    channel.tx.close()  # nothing more comes: the receiver can load now
    _, result = channel.recv_json(pipe.RESULT)
    if not result.get("ok"):
        code = result.get("exit_code")
        raise ReceiverError(
            f"the receiver did not load the images: {result.get('error', 'no reason given')}",
            code if isinstance(code, int) and code > 0 else 1,
        )
    loaded = tuple(x for x in result.get("loaded") or [] if isinstance(x, dict))
    return Sent(tuple(images), plan, size, channel.sent, channel.received, loaded, made)


def _intro(images: list[Image], plan: delta.Plan, made: Patched | None) -> dict[str, Any]:
    return {
        "images": [{"id": i.id, "tags": list(i.names)} for i in images],
        "layers": len(plan.carried),
        "bytes": plan.carried_bytes,
        "patches": len(made.patches) if made else 0,
    }


def _finish(proc: subprocess.Popen[bytes], grace: float = 30) -> int:
    """Close our ends and reap the command; one that ignores the closed pipe is stopped."""
    for stream in (proc.stdin, proc.stdout):
        if stream is not None:
            with contextlib.suppress(OSError):
                stream.close()
    try:
        return proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.terminate()  # only the process we started, by its PID
        return proc.wait()


# -- receive ---------------------------------------------------------------------


@dataclass(frozen=True)
class Received:
    """What `receive` loaded, and how many archive bytes it took."""

    loaded: tuple[Loaded, ...]
    archive_bytes: int


def receive(store: Store, rx: BinaryIO, tx: BinaryIO) -> Received:
    """The other end of `send`: tell what the store has, take the delta, load it."""
    channel = pipe.Channel(rx, tx, "the sender")
    channel.send_json(
        pipe.HELLO,
        pipe.hello(
            inventory=Inventory.of_images(store.images()).to_doc(),
            patches=list(archive_patches.READS),  # load rebuilds patched layers
        ),
    )
    try:
        kind, intro = channel.recv_json(pipe.HELLO, pipe.ABORT)
        if kind == pipe.ABORT:
            raise SenderAborted(f"the sender stopped: {intro.get('error', 'no reason given')}")
        pipe.check_hello(intro, channel.peer)
        received = _take(store, channel)
    except LaminaError as exc:
        if not isinstance(exc, (PeerClosed, SenderAborted)):
            with contextlib.suppress(OSError):
                channel.send_json(pipe.RESULT, _failure(exc))
        raise
    channel.send_json(pipe.RESULT, {"ok": True, "loaded": [_loaded(r) for r in received.loaded]})
    return received


def _take(store: Store, channel: pipe.Channel) -> Received:
    scratch = store.scratch_dir()
    try:
        path = scratch / "incoming.tar"
        with open(path, "wb") as f:
            size = pipe.read_data(channel, f)
        return Received(tuple(load(store, str(path))), size)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _failure(exc: LaminaError) -> dict[str, Any]:
    return {"ok": False, "error": exc.one_line(cli=True), "exit_code": exc.exit_code}


def _loaded(r: Loaded) -> dict[str, Any]:
    return {"Id": r.id, "RepoTags": list(r.names), "NewLayers": r.new_layers}
