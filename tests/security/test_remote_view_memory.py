"""`cairn build` against a remote daemon (CAIRN_HOST=tcp://...) shows the daemon's progress
events in the live view on a terminal (builder/executor/progress_tty.py): the events are the
daemon's to choose, and the view kept whatever they said (each new step number a step with
its name whole, 1 MiB of output for each running one, every warning whole), so a hostile
daemon grew the client's memory without bound for as long as it streamed (the old code kept
~250 MB here; names and warnings are now cut to a line's cap, 1,000 warnings and 2,000 steps
kept, 32 MiB of output in all). A local build's view is the same code: its events
are bounded by its Dockerfile."""

from __future__ import annotations

import os
import tracemalloc

from builder.executor.progress_tty import TtyView


def test_the_live_view_keeps_bounded_memory_whatever_the_events(tmp_path):
    sink = os.open(tmp_path / "terminal", os.O_WRONLY | os.O_CREAT)  # (never started: nothing is drawn)
    view = TtyView(sink, colour=False, size=lambda: (80, 24))
    line = "x" * 50_000
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for n in range(2500):  # steps that never end, each with a long name
            view.event({"type": "step", "step": n, "name": "RUN " + line})
            view.event({"type": "warning", "text": line})
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
        os.close(sink)
    assert held < 48 << 20, held
    view.draw(final=True)  # (what is kept still draws)


def test_the_steps_output_is_kept_within_the_total(tmp_path, monkeypatch):
    from builder.executor import progress_tty

    monkeypatch.setattr(progress_tty, "KEEP_TOTAL", 100_000)
    sink = os.open(tmp_path / "terminal", os.O_WRONLY | os.O_CREAT)
    view = TtyView(sink, colour=False, size=lambda: (80, 24))
    try:
        for n in range(5):
            view.event({"type": "step", "step": n, "name": f"RUN {n}"})
            for _ in range(50):
                view.event({"type": "log", "step": n, "text": "y" * 4000})
        view.event({"type": "done", "step": 0})
        assert view.kept <= 100_000 and view.kept == sum(e.kept for e in view.entries.values())
        assert sum(len(line) + 1 for e in view.entries.values() for _at, line in e.output) == view.kept
        assert len(view.entries[4].output) == 24 and view.entries[1].dropped == 50  # (the oldest running step's go first)
    finally:
        os.close(sink)
