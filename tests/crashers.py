"""Functions that misbehave the way broken decoders do, run in the decoder worker by tests."""

from __future__ import annotations

import ctypes
import os
import time


def segfault() -> None:
    ctypes.string_at(0)  # reads address 0: SIGSEGV, as a decoder bug would


def hang() -> None:
    time.sleep(3600)


def hog() -> None:
    blocks = []
    while True:
        blocks.append(bytearray(256 << 20))


def pid() -> int:
    return os.getpid()
