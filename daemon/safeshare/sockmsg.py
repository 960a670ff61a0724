"""Messages between the processes of a batch: a pickled object, with descriptors passed
alongside (SCM_RIGHTS), over a Unix SEQPACKET socket. A long message goes in pieces; the
descriptors ride on its first one."""

from __future__ import annotations

import os
import pickle
import socket
import sys

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
        if not head:
            raise EOFError
        total = int.from_bytes(head[:4], "big")
        pieces, got = [head[4:]], len(head) - 4
        while got < total:
            piece = sock.recv(PIECE)
            if not piece:
                raise EOFError
            pieces.append(piece)
            got += len(piece)
        message = pickle.loads(b"".join(pieces))
    except BaseException:
        for fd in fds:
            os.close(fd)
        if isinstance(sys.exc_info()[1], EOFError):
            return None
        raise
    if flags & getattr(socket, "MSG_CTRUNC", 0):
        for fd in fds:
            os.close(fd)
        return message, TRUNCATED
    return message, fds


TRUNCATED: list[int] = []  # the descriptors of a reply did not all arrive (see `recv`)
