"""Build progress on stderr: `plain` (a line per step with timings, RUN output prefixed
with its step, like BuildKit's), `tty` (a live view redrawn in place, progress_tty.py, drawn
from the same events), `json` (one event object per line, for tools), `quiet`; `auto` picks
tty on a terminal, else plain. Every call makes one event; the mode picks who renders it."""

from __future__ import annotations

import json
import sys
import threading
import time


class Progress:
    def __init__(self, mode: str = "plain", stream=None):
        self.stream = stream or sys.stderr
        if mode == "auto":
            mode = "tty" if hasattr(self.stream, "isatty") and self.stream.isatty() else "plain"
        self.mode = mode
        self._lock = threading.Lock()
        self.view = None
        if mode == "tty":
            from .progress_tty import open_view

            self.view = open_view(self.stream)  # None on TERM=dumb: plain lines, no escape codes
            self.mode = "tty" if self.view is not None else "plain"

    def _emit(self, text: str | None, event: dict) -> None:
        if self.mode == "quiet":
            return
        if self.view is not None:
            self.view.event(event)
            return
        with self._lock:
            if self.mode == "json":
                event["time"] = round(time.time(), 3)
                self.stream.write(json.dumps(event) + "\n")
            elif text is not None:
                self.stream.write(text + "\n")
            self.stream.flush()

    def _style(self, text: str, code: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if self.mode == "tty" else text

    @staticmethod
    def _name(label: str, position: str | None) -> str:
        """BuildKit's `[stage-1 2/3] `: the stage and the step's place in it, either may be empty."""
        inside = " ".join(part for part in (label, position) if part)
        return f"[{inside}] " if inside else ""

    @property
    def wants_ids(self) -> bool:
        """Whether events carry each step's image ID (json: what cairn serve's classic stream shows)."""
        return self.mode == "json"

    def stage(self, n: int, label: str, text: str, position: str | None = None, image: str | None = None) -> None:
        event = {"type": "stage", "step": n, "stage": label, "text": text, "name": f"{self._name(label, position)}{text}"}
        if image is not None:
            event["image"] = image
        self._emit(self._style(f"#{n} {self._name(label, position)}{text}", "1"), event)

    def step(self, n: int, label: str, position: str | None, text: str, reason: str | None = None,
             cause: str | None = None, cached: bool | None = None) -> None:
        """A step starts; `reason`: why it missed the cache (`cache miss: ...`), on its first line;
        `cached`: whether it came from the cache (False: it runs now)."""
        event = {"type": "step", "step": n, "stage": label, "text": text, "name": f"{self._name(label, position)}{text}"}
        if cached is not None:
            event["cached"] = cached
        if reason:
            event.update(reason=reason, cause=cause)
        self._emit(self._style(f"#{n} {self._name(label, position)}{text}" + (f" ({reason})" if reason else ""), "1"),
                   event)

    def log(self, n: int, line: str) -> None:
        self._emit(self._style(f"#{n} {line}", "2"), {"type": "log", "step": n, "text": line})

    def done(self, n: int, seconds: float, cached: bool = False, source: str | None = None,
             image: str | None = None) -> None:
        word = (f"CACHED (from {source})" if source else "CACHED") if cached else f"DONE {seconds:.1f}s"
        event = {"type": "done", "step": n, "seconds": round(seconds, 3), "cached": cached}
        if source:
            event["source"] = source
        if image is not None:
            event["image"] = image
        self._emit(self._style(f"#{n} {word}", "34"), event)

    def error(self, n: int, text: str) -> None:
        """Step n failed (the build stops after it; the CLI prints the error itself)."""
        self._emit(None, {"type": "error", "step": n, "text": text})  # (plain: the CLI's message says it)

    def close(self) -> None:
        """The build ended: the live view is printed once more, whole, without redraw."""
        if self.view is not None:
            self.view.close()

    def info(self, text: str) -> None:
        self._emit(text, {"type": "info", "text": text})

    def warn(self, text: str) -> None:
        self._emit(self._style(f"[warning] {text}", "33"), {"type": "warning", "text": text})
