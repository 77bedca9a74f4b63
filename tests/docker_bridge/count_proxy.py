"""An ssh ProxyCommand that relays to HOST PORT and counts the bytes both ways.

    ProxyCommand python3 count_proxy.py %h %p LOG
keeps "SENT RECEIVED" (client to server, server to client) in LOG.PID, rewritten
after every chunk (ssh may kill its proxy without warning): the bytes that really
crossed the wire, ssh encryption included.
"""

from __future__ import annotations

import os
import socket
import sys
import threading


def main() -> None:
    host, port, log = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    sock = socket.create_connection((host, port))
    counts = [0, 0]
    lock = threading.Lock()

    def note(direction: int, n: int) -> None:
        with lock:
            counts[direction] += n
            tmp = f"{log}-tmp.{os.getpid()}"
            with open(tmp, "w") as f:
                f.write(f"{counts[0]} {counts[1]}\n")
            os.replace(tmp, f"{log}.{os.getpid()}")  # a reader never sees half a line

    def upstream() -> None:
        while data := os.read(0, 1 << 16):
            sock.sendall(data)
            note(0, len(data))
        sock.shutdown(socket.SHUT_WR)

    thread = threading.Thread(target=upstream, daemon=True)
    thread.start()
    while data := sock.recv(1 << 16):
        os.write(1, data)
        note(1, len(data))
    thread.join(2)


if __name__ == "__main__":
    main()
