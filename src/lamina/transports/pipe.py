"""The send/receive protocol: small frames over a pair of pipes, no network service.

`lamina send IMAGE --to COMMAND` starts COMMAND (`ssh bob lamina receive`, or
`lamina --store DIR receive`) and talks to it over the command's stdin and stdout:

    receiver -> sender   HELLO   {"protocol": "lamina-transfer", "version": 1,
                                  "inventory": <what its store holds>}
    sender   -> receiver HELLO   {"protocol": "lamina-transfer", "version": 1,
                                  "images": [...], "layers": N, "bytes": B}
    sender   -> receiver DATA... the delta archive, in chunks of at most 1 MiB
    sender   -> receiver END     {"size": N, "sha256": "sha256:..."}
                      or ABORT   {"error": "..."}   (the sender failed half-way)
    receiver -> sender   RESULT  {"ok": true, "loaded": [...]}
                      or         {"ok": false, "error": "...", "exit_code": N}

A frame is one kind byte, a 4-byte big-endian payload length, then the payload
(JSON, except DATA). Each side states the protocol version it speaks and refuses
another one, naming both. The receiver writes nothing but frames on stdout, so a
shell that prints a banner is caught at the first frame (and shown).
END carries the stream's size and sha256, so a receiver never loads a cut stream.
"""

from __future__ import annotations

import json
import struct
from typing import Any, BinaryIO

from lamina import digest
from lamina.errors import PeerClosed, ProtocolError, SenderAborted

PROTOCOL = "lamina-transfer"
VERSION = 1
HELLO, DATA, END, ABORT, RESULT = b"H", b"D", b"E", b"A", b"R"
KINDS = frozenset({HELLO, DATA, END, ABORT, RESULT})
DATA_CHUNK = 1 << 20
MAX_FRAME = 64 << 20  # an inventory of a large store is a few MB at most
_HEAD = struct.Struct(">cI")


class Channel:
    """Frames over a readable and a writable binary stream; counts the bytes each way."""

    def __init__(self, rx: BinaryIO, tx: BinaryIO, peer: str) -> None:
        self.rx, self.tx, self.peer = rx, tx, peer
        self.sent = 0
        self.received = 0

    def send(self, kind: bytes, payload: bytes = b"") -> None:
        self.tx.write(_HEAD.pack(kind, len(payload)))
        if payload:
            self.tx.write(payload)
        self.sent += _HEAD.size + len(payload)
        if kind != DATA:
            self.tx.flush()

    def send_json(self, kind: bytes, doc: dict[str, Any]) -> None:
        self.send(kind, json.dumps(doc, separators=(",", ":")).encode())

    def recv(self) -> tuple[bytes, bytes]:
        head = self._read(_HEAD.size, allow_eof=True)
        kind, size = _HEAD.unpack(head)
        if kind not in KINDS or size > MAX_FRAME:
            raise ProtocolError(
                f"{self.peer} wrote {head + _peek(self.rx)!r} instead of a lamina-transfer frame",
                "is it lamina's receiver, and does its shell print nothing on stdout?",
                command="it should run `lamina receive`",
            )
        return kind, self._read(size)

    def recv_json(self, *kinds: bytes) -> tuple[bytes, dict[str, Any]]:
        kind, payload = self.recv()
        if kind not in kinds or kind == DATA:
            wanted = "/".join(k.decode() for k in kinds)
            raise ProtocolError(f"{self.peer} sent frame {kind!r} where {wanted} was due")
        try:
            doc = json.loads(payload)
        except (ValueError, RecursionError):
            raise ProtocolError(f"{self.peer} sent a {kind!r} frame that is not JSON") from None
        if not isinstance(doc, dict):
            raise ProtocolError(f"{self.peer} sent a {kind!r} frame that is not a JSON object")
        return kind, doc

    def _read(self, n: int, allow_eof: bool = False) -> bytes:
        data = self.rx.read(n) if n else b""
        self.received += len(data)
        if len(data) < n:
            where = "before saying anything" if allow_eof and not data else "in mid-frame"
            raise PeerClosed(f"{self.peer} closed the connection {where}")
        return data


def _peek(rx: BinaryIO) -> bytes:
    """A little more of what a confused peer wrote, to show in the error, if it is there."""
    read1 = getattr(rx, "read1", None)
    try:
        return bytes(read1(60)) if read1 is not None else b""
    except (OSError, ValueError):
        return b""


def hello(**fields: Any) -> dict[str, Any]:
    return {"protocol": PROTOCOL, "version": VERSION, **fields}


def check_hello(doc: dict[str, Any], peer: str) -> None:
    if doc.get("protocol") != PROTOCOL:
        raise ProtocolError(
            f"{peer} does not speak {PROTOCOL}",
            "is it lamina's receiver?",
            command="it should run `lamina receive`",
        )
    if doc.get("version") != VERSION:
        raise ProtocolError(
            f"{peer} speaks {PROTOCOL} version {doc.get('version')!r}; "
            f"this lamina speaks {VERSION}",
            "install the same lamina release on both sides",
        )


class DataWriter:
    """A writable stream that goes out as DATA frames, then END with its size and digest."""

    def __init__(self, channel: Channel) -> None:
        self._channel = channel
        self._buffer = bytearray()
        self._hasher = digest.Hasher()

    def write(self, data: bytes) -> int:
        self._hasher.update(data)
        self._buffer += data
        while len(self._buffer) >= DATA_CHUNK:
            self._channel.send(DATA, bytes(self._buffer[:DATA_CHUNK]))
            del self._buffer[:DATA_CHUNK]
        return len(data)

    def flush(self) -> None:
        pass  # frames go out when full; finish() sends the rest

    def finish(self) -> None:
        if self._buffer:
            self._channel.send(DATA, bytes(self._buffer))
            self._buffer.clear()
        self._channel.send_json(END, {"size": self._hasher.size, "sha256": self._hasher.digest})


def read_data(channel: Channel, out: BinaryIO) -> int:
    """Copy DATA frames to `out` until END; check size and digest; returns the size."""
    hasher = digest.Hasher()
    while True:
        kind, payload = channel.recv()
        if kind == DATA:
            hasher.update(payload)
            out.write(payload)
            continue
        if kind not in (END, ABORT):
            raise ProtocolError(f"{channel.peer} sent frame {kind!r} inside the archive stream")
        doc = _json(payload, channel.peer)
        if kind == ABORT:
            raise SenderAborted(f"the sender stopped: {doc.get('error', 'no reason given')}")
        if doc.get("size") != hasher.size or doc.get("sha256") != hasher.digest:
            raise ProtocolError(
                f"the archive stream from {channel.peer} arrived damaged "
                f"({hasher.size} bytes, {digest.short(hasher.digest, algorithm=True)}; expected "
                f"{doc.get('size')} bytes, {digest.short(str(doc.get('sha256')), algorithm=True)})",
                "send it again",
            )
        return hasher.size


def _json(payload: bytes, peer: str) -> dict[str, Any]:
    try:
        doc = json.loads(payload)
    except (ValueError, RecursionError):
        raise ProtocolError(f"{peer} sent a frame that is not JSON") from None
    return doc if isinstance(doc, dict) else {}
