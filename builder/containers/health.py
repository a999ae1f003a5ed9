"""Health checks of a running container (the image's HEALTHCHECK, run's --health-*), as
docker's daemon runs them: the probe runs inside the container every interval (every
start interval during the start period), as its main process's user with its env and
limits; exit 0 is healthy; a failure, or a probe that outlives its timeout, counts; after
`retries` failures in a row the container is unhealthy (failures during the start period
do not count until a probe has passed). The status, the streak and the last 5 probes
(each output cut at 4096 bytes) are kept in state.json's "health", which `ps` shows.

A detached container's monitor runs the checks in a thread (HealthMonitor); a probe
enters the container through `run_probe`, the one place that knows how.
"""

from __future__ import annotations

import os
import select
import signal
import threading
import time

from .dirs import ContainerDir

NS = 1_000_000_000
DEFAULTS = {"Interval": 30 * NS, "Timeout": 30 * NS, "StartPeriod": 0, "StartInterval": 5 * NS, "Retries": 3}
MAX_OUTPUT = 4096  # docker's maxOutputLen
MAX_LOG = 5  # docker's maxLogEntries


def probe_args(test: list[str], shell: list[str] | None) -> list[str]:
    """The argv of a Healthcheck's Test: ["CMD", argv...] or ["CMD-SHELL", text] (run by
    the image's SHELL, /bin/sh -c by default)."""
    if test[0] == "CMD-SHELL":
        return [*(shell or ["/bin/sh", "-c"]), " ".join(test[1:])]
    return list(test[1:]) if test[0] == "CMD" else list(test)


def run_probe(state: dict, args: list[str], timeout: float) -> tuple[int, str]:
    """Run `args` in the running container that `state` describes, with its main process's
    settings; its exit code (-1 when it outlived `timeout` and was killed) and output."""
    from dataclasses import replace

    from runtime import enter, process

    from .record import process_from_state

    proc = replace(process_from_state(state["process"]), args=tuple(args), terminal=False, init=False)
    read_fd, write_fd = os.pipe2(os.O_CLOEXEC)

    def stdio() -> None:
        null = os.open("/dev/null", os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(write_fd, 1)
        os.dup2(write_fd, 2)

    try:
        try:
            pid = enter.enter(state["pid"], state["pid_start"], proc, cgroup_dirs=tuple(state.get("cgroup_dirs") or ()),
                              setup_stdio=stdio, reap=True)
        except process.ContainerStartError as err:
            return err.code, err.message
        finally:
            os.close(write_fd)
        output, timed_out = _collect(pid, read_fd, timeout)
        if timed_out:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            process.wait(pid)
            return -1, f"Health check exceeded timeout ({timeout:g}s)"
        return process.wait(pid), output
    finally:
        os.close(read_fd)


def _collect(pid: int, read_fd: int, timeout: float) -> tuple[str, bool]:
    """The probe's output (the first MAX_OUTPUT bytes; the rest is read and dropped) until
    it exits; whether it outlived `timeout`."""
    pidfd = os.pidfd_open(pid)
    data = b""
    deadline = time.monotonic() + timeout
    try:
        open_fds = [read_fd, pidfd]
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return data.decode("utf-8", "replace"), True
            ready, _, _ = select.select(open_fds, [], [], left)
            if read_fd in ready:
                chunk = os.read(read_fd, 65536)
                if not chunk:
                    open_fds.remove(read_fd)
                data = (data + chunk)[:MAX_OUTPUT]
            if pidfd in ready:
                return data.decode("utf-8", "replace"), False
    finally:
        os.close(pidfd)


class HealthMonitor(threading.Thread):
    """Probes one container until stop() or until it is no longer running."""

    def __init__(self, cdir: ContainerDir, healthcheck: dict, shell: list[str] | None, probe=run_probe):
        super().__init__(name="cairn-health", daemon=True)
        self.cdir = cdir
        self.hc = {k: healthcheck.get(k) or v for k, v in DEFAULTS.items()}
        self.args = probe_args(list(healthcheck["Test"]), shell)
        self.probe = probe
        self._stop = threading.Event()

    def stop(self) -> None:
        self._stop.set()

    def run(self) -> None:
        health = {"status": "starting", "failing_streak": 0, "log": []}
        self.cdir.write_state(health=health)
        started = time.monotonic()
        while True:
            in_start = time.monotonic() - started < self.hc["StartPeriod"] / NS
            wait = self.hc["StartInterval" if in_start else "Interval"] / NS
            if self._stop.wait(wait):
                return
            state = self.cdir.state()
            if state.get("status") != "running":
                return
            begun = time.time()
            try:
                code, output = self.probe(state, self.args, self.hc["Timeout"] / NS)
            except OSError as err:  # the container went away while the probe entered it
                if self._stop.is_set() or self.cdir.state().get("status") != "running":
                    return
                code, output = -1, f"cannot run the health check: {err.strerror or err}"
            in_start = time.monotonic() - started < self.hc["StartPeriod"] / NS
            health = _next(health, code, output, begun, in_start, self.hc["Retries"])
            if self._stop.is_set():
                return
            self.cdir.write_state(health=health)


def _next(health: dict, code: int, output: str, begun: float, in_start: bool, retries: int) -> dict:
    """The health after one probe, as docker's handleProbeResult."""
    entry = {"start": begun, "end": time.time(), "exit_code": code, "output": output}
    out = {**health, "log": (health["log"] + [entry])[-MAX_LOG:]}
    if code == 0:
        out.update(status="healthy", failing_streak=0)
    elif not (in_start and health["status"] == "starting"):
        out["failing_streak"] = health["failing_streak"] + 1
        if out["failing_streak"] >= retries:
            out["status"] = "unhealthy"
    return out


def start(cdir: ContainerDir, healthcheck: dict | None, shell: list[str] | None) -> HealthMonitor | None:
    """Starts checking the container when it has a Healthcheck; the monitor, or None."""
    if not healthcheck:
        return None
    monitor = HealthMonitor(cdir, healthcheck, shell)
    cdir.write_state(health={"status": "starting", "failing_streak": 0, "log": []})  # before the start is reported
    monitor.start()
    return monitor
