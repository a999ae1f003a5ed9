"""A foreground run's cgroup, made in a thread while `run` prepares the container.

Making it (a pool entry renamed, the v2 directory and its device program) takes 2-3 ms, and
on cgroup v1 the first cgroup.procs write after a quiet spell waits an RCU grace period
(cgroup_threadgroup_rwsem's switch to writer mode, 6-15 ms here) while holding the cgroup
mutex. So the thread makes the cgroup, then "moves" cairn into the cgroup it is already in
(runtime.cgroups.Cgroup.warm_attach's no-op): the grace period passes while the main thread
reads the image and writes the container's files, and the container's own attach, in the
grace period after, does not wait again; then it makes the pool entry it took again
(runtime.cgroup_pool), which a run otherwise does after its container's start. Only for
docker's default devices (the pool's); a run with other rules, or whose thread failed,
makes its cgroup as before.
"""

from __future__ import annotations

import threading

from runtime import rootless_cgroup
from runtime.devices import ALLOWED


class EarlyCgroup:
    def __init__(self, cid: str):
        self.cid = cid
        self.cgroup = None
        self.error: BaseException | None = None
        self.made = threading.Event()
        self.taken = None  # the cgroup take() gave (the thread refills its pool entry)
        self.thread = threading.Thread(target=self._make, name="cairn-cgroup", daemon=True)
        self.thread.start()

    def _make(self) -> None:
        cgroup = None
        try:
            cgroup = self.cgroup = rootless_cgroup.create(self.cid[:32], devices=ALLOWED, pooled=True)
        except BaseException as err:  # noqa: BLE001  (the caller makes its cgroup itself and sees its own error)
            self.error = err
        finally:
            self.made.set()
        if cgroup is not None:
            from runtime.cgroups import Cgroup

            Cgroup.warm_attach()
            if getattr(cgroup, "pooled", False):
                # the pool entry it took, made again now (while the main thread prepares or the
                # container starts), not after the container's start
                try:
                    cgroup.refill_pool()
                except OSError:
                    pass  # (best effort: the next run makes its cgroup without the pool, and refills it)

    def take(self, device_rules):
        """The cgroup, made for these rules, or None (then the caller makes one)."""
        self.made.wait()
        if self.cgroup is not None and tuple(device_rules) != tuple(ALLOWED):
            self.discard()
        cgroup, self.cgroup = self.cgroup, None
        self.taken = cgroup
        return cgroup

    def discard(self) -> None:
        """Remove the cgroup if nobody took it (prepare failed), and end the thread."""
        self.made.wait()
        cgroup, self.cgroup = self.cgroup, None
        try:
            if cgroup is not None:
                cgroup.destroy()
        finally:
            self.thread.join()
