"""`cairn build --progress tty`: the live view, read through a real pty as a user's terminal
shows it (a small terminal emulator below replays the bytes), and frame by frame from events."""

from __future__ import annotations

import fcntl
import json
import os
import re
import select
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest

from builder.executor.progress_tty import TAIL, TtyView

from .conftest import REPO, cairn_cli, imported_store

COLS, ROWS = 100, 30


class Screen:
    """Just enough of a terminal for the view: text, CR, LF, cursor up, erase line/below, SGR;
    any other escape sequence fails the test (the view must not send it)."""

    def __init__(self, cols: int, rows: int):
        self.cols, self.rows = cols, rows
        self.lines: list[list[str]] = [[]]
        self.row = self.col = 0
        self.max_up = 0
        self.view_ended = False  # (after it, what the CLI prints wraps as a terminal wraps it)

    def feed(self, data: str) -> None:
        i = 0
        while i < len(data):
            c = data[i]
            if c == "\x1b":
                m = re.match(r"\x1b\[(\?25[hl]|[0-9;]*[AKJm])", data[i:])
                assert m, f"unexpected escape sequence {data[i:i + 12]!r}"
                i += m.end()
                code = m.group(1)
                self.view_ended = self.view_ended or code == "?25h"
                op, n = code[-1], int(code[:-1] or 1) if code[-1] == "A" else 0
                if op == "A":
                    self.max_up = max(self.max_up, n)
                    self.row = max(0, self.row - n)
                elif op == "K":
                    del self.lines[self.row][self.col:]
                elif op == "J":
                    del self.lines[self.row][self.col:]
                    del self.lines[self.row + 1:]
                continue
            if c == "\r":
                self.col = 0
            elif c == "\n":
                self.row += 1
                while len(self.lines) <= self.row:
                    self.lines.append([])
            else:
                assert c >= " ", f"control character {c!r} reached the terminal"
                if self.view_ended and self.col == self.cols:
                    self.feed("\r\n")
                line = self.lines[self.row]
                line.extend(" " * (self.col - len(line)))
                line[self.col:self.col + 1] = [c]
                self.col += 1
                assert self.col <= self.cols, "a line wider than the terminal"
            i += 1

    def text(self) -> list[str]:
        return ["".join(line).rstrip() for line in self.lines]


def cairn_in_pty(root: Path, *args: str, close_on: bytes | None = None, env=None):
    """Run cairn with stderr on a pty of COLS x ROWS; (exit status, stdout, what the pty got).
    With close_on, the terminal is closed once those bytes came (the user closed the window)."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLS, 0, 0))
    full_env = {**{k: v for k, v in os.environ.items() if k != "NO_COLOR"}, "CAIRN_ROOT": str(root),
                "TERM": "xterm", **(env or {})}
    proc = subprocess.Popen([sys.executable, "-m", "builder.cli", *args], cwd=REPO, env=full_env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=slave)
    os.close(slave)
    got = b""
    try:
        while True:
            ready, _, _ = select.select([master], [], [], 60)
            assert ready, "no output for a minute"
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: every writer closed the pty
                break
            if not chunk:
                break
            got += chunk
            if close_on is not None and close_on in got:
                break
    finally:
        os.close(master)
    out, _ = proc.communicate(timeout=120)
    return proc.returncode, out.decode(), got.decode("utf-8", "replace")


def screen_of(data: str) -> Screen:
    screen = Screen(COLS, ROWS)
    screen.feed(data)
    assert screen.max_up <= ROWS - 1, "the view redrew more lines than the terminal holds"
    return screen


PARALLEL = """\
FROM busybox:local AS left
RUN echo left-start; sleep 1; echo left > /left.txt
FROM busybox:local AS right
RUN for i in 1 2 3 4 5 6 7 8; do echo right-line-$i; done; echo right > /right.txt
FROM right
COPY --from=left /left.txt /left.txt
"""
# (what fits before the cut; FROM shown as BuildKit does, with its stage's name, without its AS)
INSTRUCTIONS = ["[left 1/2] FROM busybox:local", *PARALLEL.splitlines()[1:2], "[right 1/2] FROM busybox:local",
                *(line[:40] for line in PARALLEL.splitlines()[3:])]


@pytest.fixture(scope="module")
def root(tmp_path_factory, busybox_tar):
    if os.geteuid() != 0:
        pytest.skip("builds need root")
    yield from imported_store(tmp_path_factory, busybox_tar, "ttystore")


def context(tmp_path: Path, dockerfile: str) -> Path:
    tmp_path.mkdir(exist_ok=True)
    (tmp_path / "Dockerfile").write_text(dockerfile)
    return tmp_path


def test_two_parallel_stages_collapse_and_hit_the_cache_on_a_rebuild(root, tmp_path):
    ctx = context(tmp_path / "ctx", PARALLEL)
    for progress, word in (("tty", r"\d+\.\ds"), ("auto", "CACHED")):  # auto: stderr is a terminal
        code, out, data = cairn_in_pty(root, "build", "--progress", progress, "-t", "ttytest", str(ctx))
        assert code == 0, data
        assert out.startswith("sha256:")
        assert "\x1b[" in data and "#1 " not in data  # the live view, not plain lines
        lines = [line for line in screen_of(data).text() if line]
        headers = [line for line in lines if line.startswith("[+] Building")]
        assert len(headers) == 1 and headers[0].endswith(f"({len(INSTRUCTIONS)}/{len(INSTRUCTIONS)}) FINISHED"), lines
        for instruction in INSTRUCTIONS:
            shown = [line for line in lines if instruction in line]
            assert len(shown) == 1, (instruction, lines)  # each step once, on one line
            assert re.search(r" \d+\.\ds$", shown[0]), shown
        for instruction in INSTRUCTIONS[1::2]:  # RUN, RUN, COPY: done, then CACHED on the rebuild
            assert re.search(r"=> " + ("CACHED " if word == "CACHED" else r"(?!CACHED)"),
                             next(line for line in lines if instruction in line))
        assert not any("=> => #" in line for line in lines)  # finished steps collapsed: no output
    # the view is drawn from the events --progress json prints: the same steps, the same words
    res = cairn_cli("build", "--progress", "json", "-t", "ttytest", str(ctx), root=root)
    assert res.returncode == 0, res.stderr
    r, w = os.pipe()
    try:
        replay = TtyView(w, colour=False, size=lambda: (COLS, ROWS))
        for line in res.stderr.decode().splitlines():
            replay.event(json.loads(line))
        untimed = [re.sub(r" +\d+\.\ds$", "", line) for line in replay.frame(COLS, None)[1:]]
    finally:
        os.close(r)
        os.close(w)
    drawn = [re.sub(r" +\d+\.\ds$", "", line) for line in lines[1:]]
    # (two builds: their parallel stages may finish in either order; each stage's lines keep theirs)
    assert sorted(untimed) == sorted(drawn)
    for stage in ("left", "right", "stage-2"):
        assert [x for x in untimed if f"[{stage} " in x] == [x for x in drawn if f"[{stage} " in x], stage


def test_a_failed_step_prints_its_whole_output_after_the_view(root, tmp_path):
    ctx = context(tmp_path / "ctx", "FROM busybox:local\nRUN seq 1 10; printf 'esc\\033[2Jape\\n'; exit 3\n")
    code, _, data = cairn_in_pty(root, "build", "--progress", "tty", str(ctx))
    assert code == 1, data
    lines = screen_of(data).text()  # (the container's escape sequence is shown, not obeyed)
    error = next(i for i, line in enumerate(lines) if "=> ERROR " in line and "RUN seq 1 10" in line)
    after = lines[error + 1:]
    assert any(line.startswith("[+] Building") and line.endswith("(2/2)") for line in lines[:error])  # not FINISHED
    assert [line.split(" ", 1)[1] for line in after if re.match(r"\d+\.\d{3} ", line)][:11] == \
        [str(i) for i in range(1, 11)] + ["esc?[2Jape"]  # all of it, more than the live view's tail
    assert len([line for line in after if line.startswith(" > ")]) == 1  # the output once, not twice
    assert "Dockerfile:2" in after and "did not complete successfully: exit code: 3" in "".join(after)


def test_the_build_goes_on_when_the_terminal_goes_away(root, tmp_path):
    ctx = context(tmp_path / "ctx", "FROM busybox:local\nRUN echo ready-now; sleep 1; echo done > /f\n")
    code, out, _ = cairn_in_pty(root, "build", "--progress", "tty", "-t", "ttygone", str(ctx),
                                close_on=b"ready-now")
    assert code == 0 and out.startswith("sha256:")


# frames from events, on a fake clock and terminal (no container)


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


@pytest.fixture
def pipe():
    r, w = os.pipe()
    yield r, w
    for fd in (r, w):
        try:
            os.close(fd)
        except OSError:
            pass


def view(pipe, cols=60, rows=20, colour=False):
    clock = Clock()
    return TtyView(pipe[1], colour=colour, clock=clock, size=lambda: (cols, rows)), clock, pipe[0]


def feed(v, *events):
    for ev in events:
        v.event(ev)


def test_parallel_running_steps_show_their_timers_and_output_tails(pipe):
    v, clock, _ = view(pipe)
    feed(v, {"type": "stage", "step": 1, "name": "[a 1/2] FROM busybox"},
         {"type": "stage", "step": 2, "name": "[b 1/2] FROM busybox"})
    feed(v, {"type": "step", "step": 3, "name": "[a 2/2] RUN make"})
    clock.now += 1.5
    feed(v, {"type": "step", "step": 4, "name": "[b 2/2] RUN make"},
         *({"type": "log", "step": 3, "text": f"a{i}"} for i in range(10)))
    clock.now += 1.7
    lines = v.frame(60, None)
    assert lines[0] == "[+] Building 3.2s (2/4)"
    assert lines[3] == " => [a 2/2] RUN make" + " " * 35 + "3.2s"
    assert lines[4:4 + TAIL] == [f" => => # a{i}" for i in range(10 - TAIL, 10)]
    assert lines[4 + TAIL] == " => [b 2/2] RUN make" + " " * 35 + "1.7s"
    feed(v, {"type": "done", "step": 3, "seconds": 3.0, "cached": False},
         {"type": "done", "step": 4, "seconds": 0.0, "cached": True})
    assert v.frame(60, None)[1:] == [" => [a 1/2] FROM busybox" + " " * 31 + "0.0s",
                                     " => [b 1/2] FROM busybox" + " " * 31 + "0.0s",
                                     " => [a 2/2] RUN make" + " " * 35 + "3.0s",
                                     " => CACHED [b 2/2] RUN make" + " " * 28 + "0.0s"]


def test_long_lines_are_cut_and_a_tall_view_drops_finished_steps_first(pipe):
    v, clock, _ = view(pipe, cols=30, rows=6)
    feed(v, *({"type": "stage", "step": i, "name": f"[s{i}] FROM x"} for i in range(5)),
         {"type": "step", "step": 9, "name": "[s 2/2] RUN " + "x" * 80},
         {"type": "log", "step": 9, "text": "\u4e2d" * 40}, {"type": "log", "step": 9, "text": "\x1b]0;pwned\x07hi"})
    lines = v.frame(30, 5)
    assert len(lines) == 5 and lines[0].startswith("[+] Building")
    assert lines[1:3] == [" => [s4] FROM x" + " " * 10 + "0.0s", " => [s 2/2] RUN xxxxxxxx 0.0s"]
    assert lines[3] == " => => # " + "\u4e2d" * 10  # 29 columns: a wide character takes two
    assert lines[4] == " => => # ?]0;pwned?hi"


def test_no_colour_codes_under_no_color_and_plain_lines_when_term_is_dumb(root, tmp_path):
    ctx = context(tmp_path / "ctx", "FROM busybox:local\nRUN true\n")
    _, _, data = cairn_in_pty(root, "build", "--progress", "tty", str(ctx), env={"NO_COLOR": "1"})
    assert "\x1b[" in data and not re.search(r"\x1b\[[0-9;]*m", data)
    _, _, data = cairn_in_pty(root, "build", "--progress", "tty", str(ctx), env={"TERM": "dumb"})
    assert "\x1b" not in data and "RUN true" in data


def test_a_terminal_gone_mid_frame_stops_the_view_without_an_error(pipe):
    v, _, r = view(pipe, colour=True)
    os.close(r)  # EPIPE from now on
    feed(v, {"type": "step", "step": 1, "name": "RUN x"})
    v.draw()
    v.close()
    assert v.gone


def test_a_build_refused_before_its_first_step_draws_no_view(pipe):
    v, _, r = view(pipe, colour=True)
    v.start()
    v.close()
    assert os.read(r, 4096) == b"\x1b[?25l\x1b[?25h"
