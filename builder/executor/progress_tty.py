"""The live build view on a terminal (`--progress tty`, `auto` on one), as BuildKit draws it:

    [+] Building 4.2s (5/7)
     => [a 2/2] RUN make                                   3.2s
     => => # the last lines (up to 6) the running step wrote
     => CACHED [b 2/2] RUN ./configure                     0.0s

It is drawn from the events Progress makes (the ones `--progress json` prints; names come
from them), redrawn in place at most 10 times a second by a thread of its own, never wider
than the terminal (lines are cut) nor taller (finished steps leave the view first). At the
end the whole view is printed once, then a failed step's output in full, then warnings.
Everything a step or a Dockerfile wrote is shown with its control characters replaced, so a
container cannot move the cursor or retitle the terminal. When the terminal goes away (EIO,
EPIPE) the view stops drawing and the build goes on. TERM=dumb gets no view (plain lines);
NO_COLOR drops the colours, not the redraw."""

from __future__ import annotations

import os
import threading
import time
import unicodedata
from collections import deque

TICK = 0.1  # seconds between redraws, at most
TAIL = 6  # lines of a running step's output shown under it
KEEP_BYTES = 1 << 20  # of each step's output kept for printing it if the step fails
LINE_CAP = 4096  # characters kept of one output line (or step name, or warning)
# the events may come from elsewhere (a remote daemon's build, builder/remote/): what the view
# keeps is bounded whatever they say, not by the Dockerfile's size alone
KEEP_TOTAL = 32 << 20  # of all the steps' output kept (each step's is KEEP_BYTES at most)
MAX_ENTRIES = 2000  # steps and notes kept (the oldest finished ones leave first)
MAX_WARNINGS = 1000

_COLOURS = {"done": "34", "cached": "34", "error": "31", "canceled": "33", "log": "2", "warning": "33"}


def open_view(stream) -> "TtyView | None":
    """The view on stream's terminal, or None where no escape codes may be written."""
    if os.environ.get("TERM") == "dumb":
        return None
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):
        return None
    stream.flush()
    view = TtyView(fd, colour=not os.environ.get("NO_COLOR"))
    view.start()
    return view


def printable(text: str) -> str:
    """text with tabs as spaces and every other control or format character as `?`."""
    text = text.expandtabs(4)
    return "".join("?" if unicodedata.category(c) in ("Cc", "Cf", "Cs", "Co") else c for c in text)


def _columns(c: str) -> int:
    """How wide c is on a terminal: wide characters take two columns, combining ones none."""
    return 0 if unicodedata.combining(c) else 2 if unicodedata.east_asian_width(c) in "WF" else 1


def cut(text: str, columns: int) -> str:
    """The start of text that fits in columns."""
    used = 0
    for i, c in enumerate(text):
        if used + _columns(c) > columns:
            return text[:i]
        used += _columns(c)
    return text


def width(text: str) -> int:
    return sum(map(_columns, text))


class Entry:
    """One step (or FROM line, or note) of the view."""

    def __init__(self, kind: str, name: str, started: float):
        self.kind = kind  # step | note
        self.name = printable(name[:LINE_CAP])
        self.started = started
        self.seconds: float | None = None  # set when it ended
        self.state = "running"  # running | done | cached | error | canceled
        self.tail: deque[str] = deque(maxlen=TAIL)
        self.output: deque[tuple[float, str]] = deque()  # (seconds into the step, line), bounded
        self.kept = 0
        self.dropped = 0

    def log(self, line: str, now: float) -> None:
        line = printable(line[:LINE_CAP])
        self.tail.append(line)
        self.output.append((now - self.started, line))
        self.kept += len(line) + 1
        while self.kept > KEEP_BYTES and self.output:
            self.kept -= len(self.output.popleft()[1]) + 1
            self.dropped += 1

    def end(self, state: str, seconds: float) -> None:
        self.state, self.seconds = state, seconds
        self.tail.clear()
        if state in ("done", "cached"):
            self.output.clear()
            self.kept = 0


class TtyView:
    def __init__(self, fd: int, colour: bool = True, clock=time.monotonic, size=None):
        self.fd = fd
        self.colour = colour
        self.clock = clock
        self.size = size or self._terminal_size
        self.started = clock()
        self.entries: dict[object, Entry] = {}
        self.kept = 0  # bytes of output the entries keep
        self.warnings: list[str] = []
        self.gone = False  # the terminal went away: nothing more is written
        self._lock = threading.Lock()  # guards the entries
        self._drawing = threading.Lock()  # one writer at a time
        self._drawn = 0  # lines of the last frame, the cursor below them
        self._notes = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # events, from the build's threads

    def event(self, ev: dict) -> None:
        now = self.clock()
        with self._lock:
            kind, n = ev.get("type"), ev.get("step")
            entry = self.entries.get(n) if kind in ("log", "done", "error", "stage", "step") else None
            before = entry.kept if entry is not None else 0
            if kind in ("stage", "step"):
                name = ev.get("name") or ev.get("text", "")
                entry = self._add(n, Entry("step", name + (f" ({ev['reason']})" if ev.get("reason") else ""), now))
                before = 0  # (the entry it replaced was let go by _add)
                if kind == "stage":  # the base is resolved before its event: the line ends at once
                    entry.end("done", 0.0)
            elif entry is None:
                if kind == "info":
                    self._notes += 1
                    note = self._add(("note", self._notes), Entry("note", ev.get("text", ""), now))
                    note.end("done", 0.0)
                elif kind == "warning" and len(self.warnings) < MAX_WARNINGS:
                    self.warnings.append(printable(ev.get("text", "")[:LINE_CAP]))
                return
            elif kind == "log":
                entry.log(ev.get("text", ""), now)
            elif kind == "done":
                entry.end("cached" if ev.get("cached") else "done", float(ev.get("seconds") or 0.0))
            elif kind == "error":  # (its message the CLI prints, after the view)
                entry.end("error", now - entry.started)
            self.kept += entry.kept - before
            while self.kept > KEEP_TOTAL:  # (the oldest other step's lines first, this step's last)
                victim = next((e for e in self.entries.values() if e.output and e is not entry),
                              entry if entry.output else None)
                if victim is None:
                    break
                size = len(victim.output.popleft()[1]) + 1
                victim.kept -= size
                self.kept -= size
                victim.dropped += 1

    def _add(self, key, entry: Entry) -> Entry:
        """A new entry under key (one already there is replaced); the oldest finished ones leave
        past MAX_ENTRIES."""
        old = self.entries.get(key)
        if old is not None:
            self.kept -= old.kept
        self.entries[key] = entry  # (in the place of the one it replaces)
        while len(self.entries) > MAX_ENTRIES:
            gone = next((k for k, e in self.entries.items() if e.state != "running"), next(iter(self.entries)))
            self.kept -= self.entries.pop(gone).kept
        return entry

    # drawing

    def start(self) -> None:
        self._write("\x1b[?25l")  # no cursor blinking over the view
        self._thread = threading.Thread(target=self._tick, name="cairn-tty", daemon=True)
        self._thread.start()

    def _tick(self) -> None:
        while not self._stop.wait(TICK) and not self.gone:
            self.draw()

    def close(self) -> None:
        """Stop redrawing; print the whole view once, then failed steps' output and warnings."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        with self._lock:
            for entry in self.entries.values():
                if entry.state == "running":
                    entry.end("canceled", self.clock() - entry.started)
            failed = [e for e in self.entries.values() if e.state == "error"]
            warnings = list(self.warnings)
        self.draw(final=True)
        columns = self.size()[0]
        after = []
        for entry in failed:
            after += ["------", f" > {entry.name}:"]
            if entry.dropped:
                after.append(f"[{entry.dropped} earlier lines not kept]")
            after += [f"{at:.3f} {line}" for at, line in entry.output]
            after.append("------")
        after += [self._paint(cut(f"WARNING: {w}", max(columns - 1, 10)), "warning") for w in warnings]
        if after:
            self._write("".join(line + "\n" for line in after))
        self._write("\x1b[?25h")

    def draw(self, final: bool = False) -> None:
        with self._drawing:
            if self.gone:
                return
            columns, rows = self.size()
            with self._lock:
                if not self.entries and not self._drawn:
                    return  # (a build refused before its first step shows just the error)
                lines = self.frame(columns, None if final else rows - 1, final)
            up = f"\r\x1b[{self._drawn}A" if self._drawn else "\r"
            self._drawn = len(lines)
            self._write(up + "".join(line + "\x1b[K\n" for line in lines) + "\x1b[J")

    def frame(self, columns: int, rows: int | None, final: bool = False) -> list[str]:
        """The view's lines, each cut to columns - 1; at most rows of them (None: all)."""
        now = self.clock()
        entries = list(self.entries.values())
        steps = [e for e in entries if e.kind == "step"]
        ended = sum(e.state != "running" for e in steps)
        finished = " FINISHED" if final and all(e.state in ("done", "cached") for e in steps) else ""
        header = self._paint(cut(f"[+] Building {now - self.started:.1f}s ({ended}/{len(steps)}){finished}",
                                 max(columns - 1, 10)), "header")
        blocks = [self._block(e, now, columns) for e in entries]
        if rows is not None:
            # too tall: finished lines leave first (the oldest first), then running steps' output
            over = 1 + sum(len(b) for b in blocks) - rows
            for i, entry in enumerate(entries):
                if over <= 0:
                    break
                if entry.state != "running":
                    over -= len(blocks[i])
                    blocks[i] = []
            for block in blocks:
                while over > 0 and len(block) > 1:
                    block.pop(1)
                    over -= 1
            blocks = [b for b in blocks if b]
            lines = [header] + [line for b in blocks for line in b]
            return lines[:max(rows, 1)]
        return [header] + [line for b in blocks for line in b]

    def _block(self, entry: Entry, now: float, columns: int) -> list[str]:
        room = max(columns - 1, 10)
        word = {"cached": "CACHED ", "error": "ERROR ", "canceled": "CANCELED "}.get(entry.state, "")
        if entry.kind == "note":
            return [self._paint(cut(f" => {entry.name}", room), "done")]
        seconds = entry.seconds if entry.seconds is not None else now - entry.started
        timer = f"{seconds:.1f}s"
        text = cut(f" => {word}{entry.name}", room - len(timer) - 1)
        line = text + " " * (room - width(text) - len(timer)) + timer
        lines = [self._paint(line, entry.state)]
        if entry.state == "running":
            lines += [self._paint(cut(f" => => # {t}", room), "log") for t in entry.tail]
        return lines

    def _paint(self, text: str, state: str) -> str:
        code = _COLOURS.get(state)
        return f"\x1b[{code}m{text}\x1b[0m" if self.colour and code else text

    def _terminal_size(self) -> tuple[int, int]:
        try:
            size = os.get_terminal_size(self.fd)
            return max(size.columns, 20), max(size.lines, 3)
        except OSError:
            return 80, 24

    def _write(self, text: str) -> None:
        """All of text to the terminal; on EIO/EPIPE (it went away) stop writing, quietly."""
        data = text.encode("utf-8", "replace")
        try:
            while data and not self.gone:
                data = data[os.write(self.fd, data):]
        except OSError:
            self.gone = True

