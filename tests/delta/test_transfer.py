"""send/receive between two stores on this machine, through real pipes and processes.

Bytes on the pipe are counted outside lamina: the receive command is wrapped in
`tee FILE`, so FILE holds every byte the sender wrote.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
from pathlib import Path

import pytest

import lamina
from lamina.api import transfer
from lamina.errors import DigestMismatchError, LaminaError, ProtocolError, ReceiverError
from lamina.progress import Progress, Task
from lamina.transports import pipe
from tests.builders import FakeImage, docker_archive, layer_tar, store_files
from tests.delta.conftest import STACK
from tests.kit import validate_store
from tests.lamina_cli import run_lamina


def receive_cmd(store: lamina.Store, wire: Path) -> str:
    """A command that records the bytes it is sent in `wire`, then runs `lamina receive`."""
    lamina_cmd = shlex.join([sys.executable, "-m", "lamina", "--store", str(store.root), "receive"])
    return f"tee {shlex.quote(str(wire))} | {lamina_cmd}"


def test_send_moves_only_missing_layers_and_nothing_the_second_time(
    seed, base_only, expected, tmp_path
):
    wire = tmp_path / "wire"
    sent = transfer.send(seed, list(STACK), receive_cmd(base_only, wire))
    user = {x.diff_id for x in lamina.get_image(seed, "local/stack:3").image.layers[1:]}
    assert {x.diff_id for x in sent.plan.carried} == user
    assert [x.diff_id for x in sent.plan.omitted] == expected["local/base:1"].diff_ids
    assert wire.stat().st_size == sent.wire_sent
    assert sent.wire_sent - sent.archive_bytes < 1024  # framing costs a few bytes per MiB
    assert [(x["Id"], x["NewLayers"]) for x in sent.loaded] == [(expected[t].id, 1) for t in STACK]
    for tag in STACK:
        img = lamina.get_image(base_only, tag)
        assert img.id == expected[tag].id
        assert [h.created_by for h in img.image.history] == expected[tag].created_by
    assert {c.id for c in validate_store(base_only)} >= {expected[t].id for t in STACK}

    again = transfer.send(seed, list(STACK), receive_cmd(base_only, wire))
    assert again.plan.carried == ()
    assert wire.stat().st_size == again.wire_sent < 16 * 1024  # configs and manifest.json
    assert [x["NewLayers"] for x in again.loaded] == [0, 0, 0]


def test_second_send_of_a_big_layer_moves_no_layer_bytes(base_only, tmp_path):
    base = lamina.get_image(base_only, "local/base:1").image
    with base.layers[0].open_tar() as f:
        base_tar = f.read()
    big = layer_tar({"app/blob": os.urandom(3 << 20)})
    app = FakeImage([base_tar, big], ["local/app:1"])
    sender = lamina.open_store(tmp_path / "sender")
    lamina.load(sender, str(docker_archive([app], tmp_path / "app.tar")))
    receiver = lamina.open_store(tmp_path / "receiver")
    wire = tmp_path / "wire"

    first = transfer.send(sender, ["local/app:1"], receive_cmd(receiver, wire))
    assert wire.stat().st_size > len(base_tar) + len(big)  # an empty receiver gets it all
    lamina.rmi(receiver, ["local/app:1"])
    lamina.load(receiver, str(docker_archive([FakeImage([base_tar], ["b:1"])], tmp_path / "b")))
    second = transfer.send(sender, ["local/app:1"], receive_cmd(receiver, wire))
    assert wire.stat().st_size - len(big) < 16 * 1024  # the base stayed home
    third = transfer.send(sender, ["local/app:1"], receive_cmd(receiver, wire))
    assert wire.stat().st_size < 16 * 1024  # nothing but the config and manifest.json
    assert (len(first.plan.carried), len(second.plan.carried), len(third.plan.carried)) == (2, 1, 0)
    assert lamina.get_image(receiver, "local/app:1").id == app.id


def test_cli_send_reports_and_json(seed, base_only, tmp_path):
    wire = tmp_path / "wire"
    cp = run_lamina(seed.root, "send", "local/stack:3", "--to", receive_cmd(base_only, wire))
    assert cp.returncode == 0, cp.stderr
    out = cp.stdout.decode()
    assert "Left out 1 layer the recipient has" in out
    assert "Loaded image: local/stack:3" in out
    cp = run_lamina(
        seed.root, "send", "local/stack:3", "--to", receive_cmd(base_only, wire), "--json"
    )
    report = json.loads(cp.stdout)
    assert report["Carried"] == [] and report["WireSent"] == wire.stat().st_size


class _Meddler(Progress):
    """A progress sink that runs `act` when the archive starts to flow: a real
    concurrent change to the receiver's store at a known moment."""

    def __init__(self, act) -> None:
        self.act = act

    def task(self, description: str, total: int | None) -> Task:
        self.act()
        return super().task(description, total)


def test_receiver_that_lost_the_base_refuses_and_says_why(seed, base_only, tmp_path):
    def remove_base() -> None:
        cp = run_lamina(base_only.root, "rmi", "local/base:1")
        assert cp.returncode == 0, cp.stderr

    wire = tmp_path / "wire"
    with pytest.raises(ReceiverError, match="local/stack:3 needs") as err:
        transfer.send(
            seed, ["local/stack:3"], receive_cmd(base_only, wire), progress=_Meddler(remove_base)
        )
    assert err.value.exit_code == 6  # the receiver's MissingLayersError, passed on
    assert [img.names for img in base_only.images()] == []


def test_sender_failure_aborts_and_leaves_the_receiver_unchanged(seed, base_only, tmp_path):
    top = lamina.get_image(seed, "local/stack:3").image
    blob = seed.blobs.path(top.layers[-1].diff_id)
    blob.write_bytes(blob.read_bytes().replace(b"3\n", b"X\n"))  # damage the sender's copy
    before = store_files(base_only.root)
    with pytest.raises(DigestMismatchError):
        transfer.send(seed, ["local/stack:3"], receive_cmd(base_only, tmp_path / "wire"))
    assert store_files(base_only.root) == before


def test_a_command_that_is_not_lamina_receive(seed, tmp_path):
    with pytest.raises(ProtocolError, match="hello"):
        transfer.send(seed, ["local/stack:3"], "echo hello; cat >/dev/null")
    with pytest.raises(LaminaError, match="exited with status 127"):
        transfer.send(seed, ["local/stack:3"], "no-such-command-here")
    with pytest.raises(LaminaError, match="No such image"):
        transfer.send(seed, ["local/nope:1"], "true")


def test_protocol_versions_are_checked():
    pipe.check_hello(pipe.hello(), "peer")
    with pytest.raises(ProtocolError, match="version 2; this lamina speaks 1"):
        pipe.check_hello({**pipe.hello(), "version": 2}, "the receiver")
    with pytest.raises(ProtocolError, match="does not speak"):
        pipe.check_hello({"version": 1}, "the receiver")
