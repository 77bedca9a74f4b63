"""Turn a writer (`write_archive(images, out)`) into a request body (an iterator).

The archive writers push bytes into a file object; httpcore pulls a body from an
iterator. A thread runs the writer into a small bounded queue (at most DEPTH chunks
of about 1 MiB in memory), and the iterator hands the chunks on. A writer that fails
makes the iterator raise, so the request is cut short and the daemon never sees a
complete archive; a consumer that stops early makes the writer stop too.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from typing import BinaryIO

DEPTH = 8
CHUNK = 1 << 20


class _Cancelled(Exception):
    pass


class _QueueWriter:
    """A write-only file object that hands ~1 MiB chunks to a queue."""

    def __init__(self, q: queue.Queue[bytes | BaseException | None], stop: threading.Event):
        self.q = q
        self.stop = stop
        self.buf = bytearray()

    def write(self, data: bytes | bytearray | memoryview) -> int:
        self.buf += data
        if len(self.buf) >= CHUNK:
            self._put(bytes(self.buf))
            self.buf.clear()
        return len(data)

    def flush(self) -> None:
        if self.buf:
            self._put(bytes(self.buf))
            self.buf.clear()

    def _put(self, item: bytes | BaseException | None) -> None:
        while True:
            if self.stop.is_set():
                raise _Cancelled
            try:
                self.q.put(item, timeout=0.2)
                return
            except queue.Full:
                continue


def body_of(write: Callable[[BinaryIO], object]) -> Iterator[bytes]:
    """Chunks of what `write(out)` writes, produced on a thread as they are read."""
    q: queue.Queue[bytes | BaseException | None] = queue.Queue(DEPTH)
    stop = threading.Event()
    out = _QueueWriter(q, stop)

    def run() -> None:
        try:
            write(out)  # type: ignore[arg-type]
            out.flush()
            out._put(None)
        except _Cancelled:
            return
        except BaseException as exc:
            try:
                out._put(exc)
            except _Cancelled:
                return

    thread = threading.Thread(target=run, name="lamina-docker-body", daemon=True)
    thread.start()
    try:
        while True:
            item = q.get()
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join()
