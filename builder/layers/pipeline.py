"""A writer that hands its data to a worker thread, so producing a tar and hashing and
compressing it overlap (hashlib, zstd and file writes release the GIL on large buffers)."""

from __future__ import annotations

import queue
import threading

_DONE = object()


class ThreadedWriter:
    def __init__(self, downstream, depth: int = 8):
        self._down = downstream
        self._q: queue.Queue = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="cairn-layer-writer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            item = self._q.get()
            if item is _DONE:
                return
            if self._error is None:
                try:
                    self._down.write(item)
                except BaseException as err:  # re-raised in the producer by close()
                    self._error = err

    def write(self, data) -> int:
        if self._error is not None:
            self.close()
        self._q.put(bytes(data))
        return len(data)

    def close(self) -> None:
        """Wait for the worker to drain; raise what it raised."""
        if self._thread.is_alive():
            self._q.put(_DONE)
            self._thread.join()
        if self._error is not None:
            raise self._error


class ThreadedReader:
    """Reads a stream ahead in a worker thread (decompression overlaps extraction)."""

    def __init__(self, stream, chunk: int = 1 << 20, depth: int = 8):
        self._q: queue.Queue = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(stream, chunk), name="cairn-layer-reader",
                                         daemon=True)
        self._thread.start()
        self._done = False

    def _run(self, stream, chunk: int) -> None:
        try:
            while not self._stop.is_set():
                data = stream.read(chunk)
                self._q.put(data)
                if not data:
                    return
        except BaseException as err:  # handed to the reader, raised there
            self._q.put(err)

    def read(self, n: int = -1) -> bytes:
        if self._done:
            return b""
        item = self._q.get()
        if isinstance(item, BaseException):
            self._done = True
            raise item
        if not item:
            self._done = True
        return item

    def close(self) -> None:
        self._stop.set()
        while self._thread.is_alive():
            try:
                self._q.get(timeout=0.1)
            except queue.Empty:
                pass
        self._thread.join()
