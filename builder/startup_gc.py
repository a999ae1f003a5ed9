"""No cyclic garbage collection while the `cairn` program starts (cli.main to the command).

Starting `cairn run` made ~30 collections, 8-11 ms of its ~120 here, nearly all while click
and the command's modules were imported: objects that live until the process ends. So the
program's entry (`cli.main`, never a caller of it) pauses the collector, and the command
group's callback, which click runs once the command is chosen and its module imported,
freezes what exists (gc.freeze: moved out of every later collection, no copy) and turns the
collector on again: the command's own work, however long (`serve`, a build), is collected
as before. `run` resumes once its container has started (it then waits, relays a terminal
or monitors a detached container), or earlier before a pull or a layer's unpack: the
work between is bounded (its options, the image's records, the container's files). Without a pause, `resume` does nothing (a test process
that runs the group in-process keeps its collector as it was).
"""

from __future__ import annotations

import gc

_paused = False


def pause() -> None:
    global _paused
    if gc.isenabled():
        gc.disable()
        _paused = True


def resume() -> None:
    global _paused
    if _paused:
        _paused = False
        gc.freeze()
        gc.enable()
