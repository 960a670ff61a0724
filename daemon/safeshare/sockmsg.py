"""Messages between the processes of a batch: a pickled object, with descriptors passed
alongside (SCM_RIGHTS), over a Unix SEQPACKET socket. A long message goes in pieces; the
descriptors ride on its first one."""

from __future__ import annotations

import os
import pickle
import socket

PIECE = 32 * 1024  # one socket message; longer ones are sent in pieces
MAX_FDS = 8


def send(sock: socket.socket, message: object, fds: list[int] | None = None) -> None:
    data = memoryview(pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL))
    head = len(data).to_bytes(4, "big") + data[:PIECE]
    if fds:
        socket.send_fds(sock, [head], fds)
    else:
        sock.send(head)
    for start in range(PIECE, len(data), PIECE):
        sock.send(data[start : start + PIECE])


def recv(sock: socket.socket) -> tuple[object, list[int]] | None:
    """One message and the descriptors that came with it; None when the other end is gone.
    Descriptors the system could not pass (the open-file limit) make it `TRUNCATED`."""
    head, fds, flags, _address = socket.recv_fds(sock, 4 + PIECE, MAX_FDS)
    try:
        data = _whole(sock, head)
        message = None if data is None else pickle.loads(data)
    except BaseException:
        _close(fds)
        raise
    if data is None or flags & getattr(socket, "MSG_CTRUNC", 0):
        _close(fds)
        return None if data is None else (message, TRUNCATED)
    return message, fds


def _close(fds: list[int]) -> None:
    for fd in fds:
        os.close(fd)


def _whole(sock: socket.socket, head: bytes) -> bytes | None:
    """The message whose first piece is `head`; None when the other end is gone first."""
    if not head:
        return None
    total = int.from_bytes(head[:4], "big")
    pieces, got = [head[4:]], len(head) - 4
    while got < total:
        piece = sock.recv(PIECE)
        if not piece:
            return None
        pieces.append(piece)
        got += len(piece)
    return b"".join(pieces)


TRUNCATED: list[int] = []  # the descriptors of a reply did not all arrive (see `recv`)
