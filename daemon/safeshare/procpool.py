"""A batch on every core: forked worker processes, each taking a few files at a time.

Parsing, rebuilding and verifying are pure Python, so threads share one core (the GIL).
`ForkPool` forks `workers` processes before the parent starts any thread; they inherit
the batch (the task) and are handed chunks of its indices, a few at a time (`AHEAD`), so
that small files do not pay a round trip each and a slow file does not hold the others up.
For each index a worker answers with a picklable reply and the descriptors it holds for
what it wrote (passed over a Unix socket, SCM_RIGHTS): from then on the parent owns the
staged file and its lock, and the worker's copies are closed.

A worker that dies (killed, out of memory) costs the file it was working on, which comes
back as `Lost` with the reason, never silently dropped; the files it had not begun come
back as `Lost(started=False)`, for the caller to do another way. Where forking is not safe
(not Linux, or a thread is already running) `available` says so and the caller works
in-process.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import socket
import sys
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from safeshare import interrupts
from safeshare.isolation import describe_exit
from safeshare.sockmsg import TRUNCATED, recv, send

AHEAD = 2  # chunks a worker holds at once: the next one is there when it finishes one
STOP_WAIT = 5.0  # seconds a worker gets to leave after its socket closes, then it is killed


@dataclass
class Reply:
    """A worker's answer for one index: `payload` (pickled to the parent), the descriptors
    handed over with it, and `sent(ok)`, called once it went (True) or could not (False)."""

    payload: object
    fds: list[int] = field(default_factory=list)
    sent: Callable[[bool], None] | None = None


@dataclass(frozen=True)
class Lost:
    """The payload for an index whose worker ended before answering for it: while working
    on it (`started`: the file may be why), or before it began."""

    reason: str
    started: bool = True


Task = Callable[[int], Reply]


def available() -> bool:
    """Forking is safe here: Linux (fork without exec, descriptors passed over sockets) and
    no thread running that a child would inherit half-way through its work."""
    from safeshare.forkstart import single_threaded

    return hasattr(socket, "send_fds") and single_threaded()


def chunked(count: int, workers: int) -> list[list[int]]:
    """Indices 0..count-1 in order, in chunks that shrink towards the end (a quarter of a
    worker's share of what is left, 1 to 16 files): few round trips while there is much to
    do, and no worker left alone with a long chunk (a file that needs a decoder) at the end."""
    chunks, start = [], 0
    while start < count:
        size = max(1, min(16, (count - start) // (workers * 4)))
        chunks.append(list(range(start, start + size)))
        start += size
    return chunks


def _window() -> int:
    """How far ahead of the first unanswered index work is handed out: 64 files, fewer when
    the open-file limit would not hold two descriptors for each."""
    try:
        import resource

        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    except (ImportError, OSError, ValueError):
        return 16
    if soft == resource.RLIM_INFINITY:
        return 64
    return max(4, min(64, (soft - 64) // 4))


def _die_with_parent() -> None:
    """A worker must not outlive the parent (which alone can publish its work)."""
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _serve(
    sock: socket.socket, task: Task, at_start: Callable[[], None], at_exit: Callable[[], None]
) -> None:
    """A worker's life: chunks in, one reply per index out, until the parent says stop or is
    gone. It never returns: the parent's atexit handlers and buffers are not its own."""
    code = 0
    try:
        for number in interrupts.SIGNALS:  # the parent decides when we stop
            signal.signal(number, signal.SIG_IGN if number == signal.SIGINT else signal.SIG_DFL)
        _die_with_parent()
        at_start()
        while True:
            got = recv(sock)
            if got is None or got[0] is None:
                break
            chunk = got[0]
            assert isinstance(chunk, list)
            for index in chunk:
                try:
                    reply = task(index)
                except Exception as exc:  # noqa: BLE001 - the task's bug costs its one file
                    reply = Reply(Lost(f"internal error ({type(exc).__name__})"))
                try:
                    send(sock, (index, reply.payload), reply.fds)
                except BaseException:
                    if reply.sent is not None:
                        reply.sent(False)
                    raise
                if reply.sent is not None:
                    reply.sent(True)
            send(sock, "done")
    except (OSError, EOFError):
        pass  # the parent is gone or stopped us: so is the work
    except BaseException:  # noqa: BLE001 - whatever happens, this process must not return
        code = 70
    finally:
        with contextlib.suppress(BaseException):
            at_exit()
        os._exit(code)


@dataclass
class _Worker:
    pid: int
    sock: socket.socket
    given: deque[list[int]] = field(default_factory=deque)  # chunks sent, not yet done
    answered: set[int] = field(default_factory=set)  # indices of given[0] answered so far
    stopping: bool = False


class ForkPool:
    """`workers` forked processes running `task`; `results` hands out their replies."""

    def __init__(
        self,
        task: Task,
        workers: int,
        at_start: Callable[[], None] = lambda: None,
        at_exit: Callable[[], None] = lambda: None,
    ) -> None:
        self._workers: list[_Worker] = []
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()  # a child must not write the parent's buffered output again
        for _ in range(workers):
            ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            pid = os.fork()
            if pid == 0:  # the worker
                ours.close()
                for other in self._workers:
                    other.sock.close()  # else an earlier worker would not see the parent go
                _serve(theirs, task, at_start, at_exit)
            theirs.close()
            self._workers.append(_Worker(pid, ours))
        self._waiting: deque[list[int]] = deque()
        self._answered: set[int] = set()
        self._first = 0
        self.window = _window()

    def results(self, chunks: list[list[int]]) -> Iterator[tuple[int, object, list[int]]]:
        """(index, payload, descriptors) for every index of `chunks`, as they come; a `Lost`
        payload for those whose worker ended first. No chunk is handed out that starts more
        than `window` indices past the first one not yet answered: the caller, who publishes
        in order, then never holds more than that many staged files (two descriptors each)."""
        self._waiting = deque(chunks)
        self._answered = set()
        self._first = 0  # the first index not yet answered
        selector = selectors.DefaultSelector()
        try:
            for worker in self._workers:
                self._give(worker)
                selector.register(worker.sock, selectors.EVENT_READ, worker)
            while selector.get_map():
                with interrupts.safe_point():
                    ready = selector.select()
                for key, _events in ready:
                    worker = key.data
                    try:
                        got = recv(worker.sock)
                    except Exception:  # noqa: BLE001 - a reply we cannot read: that worker is done
                        got = None
                    if got is None:
                        selector.unregister(worker.sock)
                        for index, lost in self._lost(worker):
                            yield self._answer(index, lost, [])
                        continue
                    message, fds = got
                    if message == "done":
                        worker.given.popleft()
                        worker.answered.clear()
                        self._give(worker)
                        continue
                    assert isinstance(message, tuple)
                    index, payload = message
                    worker.answered.add(index)
                    if fds is TRUNCATED:
                        payload = Lost(
                            "the copy could not be handed over (too many open files)", started=False
                        )
                    yield self._answer(index, payload, fds)
            while self._waiting:  # every worker has ended: these were never begun
                for index in self._waiting.popleft():
                    yield self._answer(index, Lost("the cleaning processes stopped", started=False), [])
        finally:
            selector.close()

    def _answer(self, index: int, payload: object, fds: list[int]) -> tuple[int, object, list[int]]:
        self._answered.add(index)
        while self._first in self._answered:
            self._answered.discard(self._first)
            self._first += 1
        for worker in self._workers:
            self._give(worker)  # the window moved: a worker waiting for it gets its chunk
        return index, payload, fds

    def _give(self, worker: _Worker) -> None:
        """Top the worker up to `AHEAD` chunks, within the window; stop it when all are given."""
        if worker.stopping:
            return
        try:
            while len(worker.given) < AHEAD and self._waiting:
                if self._waiting[0][0] - self._first > self.window:
                    return  # far enough ahead: it gets more when the window moves
                chunk = self._waiting.popleft()
                worker.given.append(chunk)
                send(worker.sock, chunk)
            if not worker.given and not self._waiting:
                worker.stopping = True
                send(worker.sock, None)
        except OSError:
            pass  # it is gone: its end of the socket says so next

    def _lost(self, worker: _Worker) -> Iterator[tuple[int, Lost]]:
        """A worker ended: the index it was working on (the first unanswered one of its
        current chunk) is lost, with the reason; those it had not begun come back as
        `Lost(started=False)`, for the caller to do itself."""
        code = self._reap([worker])[0]
        reason = f"the cleaning process stopped ({describe_exit(code)}); nothing was written for this file"
        current = True
        while worker.given:
            for index in worker.given.popleft():
                if index not in worker.answered:
                    yield index, Lost(reason, started=current)
                    current = False
            current = False
            worker.answered.clear()

    def _reap(self, workers: list[_Worker]) -> list[int | None]:
        """Wait for `workers` to leave (their sockets closed), all against one deadline, then
        kill those still there."""
        for worker in workers:
            with contextlib.suppress(OSError):
                worker.sock.close()
        codes: dict[int, int | None] = {}
        deadline = time.monotonic() + STOP_WAIT
        while len(codes) < len(workers):
            for worker in workers:
                if worker.pid in codes:
                    continue
                try:
                    pid, status = os.waitpid(worker.pid, os.WNOHANG)
                except ChildProcessError:
                    codes[worker.pid] = None
                    continue
                if pid:
                    codes[worker.pid] = os.waitstatus_to_exitcode(status)
                elif time.monotonic() > deadline:
                    with contextlib.suppress(OSError):
                        os.kill(worker.pid, signal.SIGKILL)
            time.sleep(0.002)
        return [codes[worker.pid] for worker in workers]

    def close(self) -> None:
        """Stop every worker (they leave when their socket closes) and wait for them."""
        workers, self._workers = self._workers, []
        self._reap(workers)
