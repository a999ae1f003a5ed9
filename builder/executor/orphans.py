"""The cgroups a build killed with -9 left behind are reaped once, just before the build's
first RUN step that runs (a fully cached build loads no runtime)."""

from __future__ import annotations

import threading


def reap_orphan_cgroups(options) -> None:
    """What a build killed with -9 left (the runtime loads only for a build that runs a step)."""
    from .run_step import reap_orphan_cgroups as reap

    reap()
    if options.run_resources is not None and options.run_resources.cgroup_parent:
        reap(options.run_resources.cgroup_parent)


class Once:
    """Calls fn the first time it is called, from whichever stage's thread comes first."""

    def __init__(self, fn):
        self._fn, self._lock, self._done = fn, threading.Lock(), False

    def __call__(self) -> None:
        with self._lock:
            if not self._done:
                self._done = True
                self._fn()
