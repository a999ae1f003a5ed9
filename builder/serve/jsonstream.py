"""docker's JSON message stream (pull, push, load, build): one JSON object a line, sent as it
is made; a failure after the headers went out is an in-stream `{"errorDetail": ..., "error":
...}`. A job runs in a worker thread and emits messages; the connection is watched, and a
client that leaves cancels the job (its own cleanup runs) without touching the server."""

from __future__ import annotations

import json
import os
import queue
import select
import socket
import sys
import threading
import traceback

from ..errors import CairnError
from .errors import ApiError

POLL = 0.25  # seconds between looks at a silent job's client
_END, _ABORT = object(), object()


def message(**doc) -> bytes:
    return json.dumps(doc).encode() + b"\r\n"


def error_message(text: str, code: int | None = None) -> bytes:
    detail = {"message": text} if code is None else {"code": code, "message": text}
    return message(errorDetail=detail, error=text)


def client_gone(conn) -> bool:
    """The client closed (or reset) its connection. On a unix socket the peer's close hangs it
    up (POLLHUP) while a client that only shut its writing side (it sent its request, it still
    reads) does not: that one is not gone. On TCP a close and a half-close look the same (the
    end of what it sends): docker's clients never half-close, so that end means gone."""
    if conn is None:
        return False
    try:
        poller = select.poll()
        poller.register(conn, select.POLLIN | select.POLLHUP | select.POLLERR)
        events = 0
        for _fd, ev in poller.poll(0):
            events |= ev
        if events & (select.POLLHUP | select.POLLERR | select.POLLNVAL):
            return True
        if conn.family == socket.AF_UNIX or not events & select.POLLIN:
            return False
        with socket.socket(fileno=os.dup(conn.fileno())) as raw:  # (the plain socket, also under TLS)
            return raw.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
    except BlockingIOError:
        return False
    except (OSError, ValueError):
        return True


class ClientGone(Exception):
    """Raised in a job that emits after its client left: the job stops there."""


class Job:
    """job(emit) in a thread; emit(bytes) sends a line. A CairnError (or ApiError) it raises
    ends the stream with docker's error message; anything else with an internal error. With
    error=None (a tar stream, where a JSON line would be garbage) a failure cuts the stream
    short instead: no final chunk, the connection closed, and the client sees a broken body."""

    def __init__(self, work, cancel=None, name: str = "cairn-serve-job", error=error_message):
        self.queue: queue.Queue = queue.Queue(maxsize=64)
        self.work, self.cancel, self.error = work, cancel, error
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)
        self.gone = False

    def emit(self, data: bytes) -> None:
        if self.gone:
            raise ClientGone()
        self.queue.put(data)

    def _run(self) -> None:
        try:
            self.work(self.emit)
        except ClientGone:
            pass
        except (CairnError, ApiError) as err:
            self._fail(getattr(err, "message", None) or str(err), getattr(err, "exit_code", None))
        except Exception as err:  # noqa: BLE001 - the client gets a message, the server lives on
            traceback.print_exc(file=sys.stderr)
            self._fail(f"internal error: {type(err).__name__}", None)
        finally:
            self.queue.put(_END)

    def _fail(self, text: str, code: int | None) -> None:
        self.queue.put(_ABORT if self.error is None else self.error(text, code))

    def lines(self, conn):
        """The job's lines as they come; a client gone cancels the job and ends the stream."""
        self.thread.start()
        finished = False
        try:
            while True:
                try:
                    item = self.queue.get(timeout=POLL)
                except queue.Empty:
                    if client_gone(conn):
                        return
                    continue
                if item is _END:
                    finished = True
                    return
                if item is _ABORT:
                    raise ConnectionAbortedError("the job failed: the stream is cut short")
                yield item
        finally:
            if not finished:
                self.gone = True
            if not finished and self.cancel is not None:
                self.cancel()
            if not finished:  # a job that emits more never blocks on a full queue nobody reads
                threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self) -> None:
        while self.queue.get() is not _END:  # (after _ABORT, _END follows)
            pass
