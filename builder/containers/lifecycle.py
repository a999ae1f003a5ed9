"""Detached containers and their lifecycle: run -d, ps, stop, rm, logs.

`run -d` forks a monitor that starts the container with its output appended to
`<container>/log`, waits for it and tears it down, as the foreground run does; the CLI
waits only until the command was exec'd (or failed) and prints the container ID. The
state on disk (`state.json`) is what later commands read.
"""

from __future__ import annotations

import os
import signal
import time
from typing import TYPE_CHECKING

from ..errors import CairnError
from ..store.store import Store, remove_tree
from .dirs import ContainerDir, all_containers, find_container, process_alive
from .metadata import DEFAULT_STOP_TIMEOUT

if TYPE_CHECKING:  # (ps, stop, rm and logs load no runtime: run does, when it starts one)
    from .run import RunRequest


def run_detached(store: Store, req: RunRequest) -> str:
    from .run import ContainerError, prepare, run_prepared

    prep = prepare(store, req)
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the monitor
        os.close(read_fd)
        code = 1
        try:
            os.setsid()
            log = os.open(prep.cdir.path / "log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640)
            null = os.open("/dev/null", os.O_RDONLY)
            os.dup2(null, 0)
            os.dup2(log, 1)
            os.dup2(log, 2)
            os.close(null)
            os.close(log)
            from runtime.fds import close_inherited_fds

            close_inherited_fds()  # the monitor outlives the CLI: a caller's lock or pipe is not its to hold
            from .logindex import start_indexer

            start_indexer(prep.cdir.path / "log")  # for logs -t and --since
            own = Store(store.root)  # never share the parent's SQLite connection
            if prep.address is not None:
                from .ipam import claim

                claim(prep.cdir.id)  # the address lives as long as this monitor, not the CLI
            prep.cdir.write_state(monitor=os.getpid())

            def started(container_pid: int) -> None:
                from . import health

                # (first: the CLI returns at "ok", and docker's inspect says "starting" from then on)
                health.start(prep.cdir, prep.cdir.state().get("healthcheck"), prep.config.get("Shell"))
                os.write(write_fd, f"ok {container_pid}".encode())
                os.close(write_fd)

            run_prepared(own, prep, req, on_started=started)
            code = 0
        except ContainerError as err:
            try:
                os.write(write_fd, f"err {err.exit_code} {err}".encode())
            except OSError:
                pass
        except BaseException as err:  # reported through the pipe, never a traceback
            try:
                os.write(write_fd, f"err 125 {type(err).__name__}: {err}".encode())
            except OSError:
                pass
        finally:
            os._exit(code)
    os.close(write_fd)
    data = b""
    while chunk := os.read(read_fd, 4096):
        data += chunk
    os.close(read_fd)
    text = data.decode("utf-8", "replace")
    if text.startswith("ok "):
        return prep.cdir.id
    if text.startswith("err "):
        _, code, message = text.split(" ", 2)
        raise ContainerError(int(code), message)
    raise CairnError("the container monitor exited before starting the container")


def reap_stale(store: Store) -> list[str]:
    """Clean up after containers whose cairn process died with them (kill -9, a crash):
    their cgroup, veth and address go, their state says exited, and --rm ones are removed."""
    reaped = []
    for c in all_containers(store):
        st = c.state()
        if st.get("status") == "exited" or c.pid_alive() or _monitor_alive(c) or _owner_alive(st):
            continue
        _destroy_cgroup(c)
        if st.get("address"):
            from runtime.network import detach

            from .ipam import release

            detach("cairn" + c.id[:8])
            release(c.id)
        c.write_state(status="exited", exit_code=st.get("exit_code", 137), finished=time.time(),
                      error="cairn stopped while the container ran")
        if st.get("remove"):
            remove_tree(c.path)
        reaped.append(c.id)
    return reaped


def _destroy_cgroup(c: ContainerDir) -> None:
    """The container's cgroup (what is left in it is killed), when its monitor is not there to."""
    from runtime.cgroups import Cgroup

    cg = Cgroup.existing(c.id[:32])
    if cg is not None:
        cg.destroy()


def _owner_alive(st: dict) -> bool:
    """A foreground run's own cairn process (it is the container's parent)."""
    return process_alive(st.get("owner"))


def _wait_exited(c: ContainerDir, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if c.state().get("status") == "exited":
            return True
        if not c.pid_alive() and not _monitor_alive(c):
            return True
        time.sleep(0.02)
    return c.state().get("status") == "exited"


def _monitor_alive(c: ContainerDir) -> bool:
    return process_alive(c.state().get("monitor"))


def _signal_number(name: str) -> int:
    name = name.upper()
    if name.isdigit():
        return int(name)
    try:
        return int(signal.Signals[name if name.startswith("SIG") else "SIG" + name])
    except KeyError:
        return int(signal.SIGTERM)


def _kill(c: ContainerDir, pid: int, sig: int) -> None:
    """Signal the container. Rootless, a command that runs as another user inside lives in the
    user namespace of the cairn that started it, out of this one's reach: its monitor (the
    user's own process there) forwards the signal, and its death (SIGKILL) takes the container
    with it."""
    try:
        os.kill(pid, sig)
    except PermissionError:
        monitor = c.state().get("monitor")
        if not monitor or not process_alive(monitor):
            raise
        os.kill(monitor, sig)


def stop(store: Store, key: str, timeout: float | None = None) -> ContainerDir:
    """SIGTERM (or --stop-signal, or the image's StopSignal), then SIGKILL after `timeout`
    seconds (or --stop-timeout's, or docker's 10)."""
    c = find_container(store, key)
    if not c.running():
        return c
    if timeout is None:
        timeout = c.state().get("stop_timeout")
        timeout = DEFAULT_STOP_TIMEOUT if timeout is None else timeout
    pid = c.state()["pid"]
    try:
        _kill(c, pid, _signal_number(c.state().get("stop_signal") or "SIGTERM"))
    except ProcessLookupError:
        return c
    if not _wait_exited(c, timeout):
        try:
            _kill(c, pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        _wait_exited(c, 10.0)
    return c


def remove(store: Store, key: str, force: bool = False) -> str:
    c = find_container(store, key)
    if c.running():
        if not force:
            raise CairnError(f"container {c.id[:12]} is running: stop it first, or use rm -f")
        stop(store, key, timeout=0)
    _wait_exited(c, 10.0)
    if _monitor_alive(c):
        deadline = time.monotonic() + 10
        while _monitor_alive(c) and time.monotonic() < deadline:
            time.sleep(0.02)
        if _monitor_alive(c):  # held (its container's PID 1 stuck in the kernel's exit): the cgroup goes now
            _destroy_cgroup(c)
    from .ipam import release

    release(c.id)
    remove_tree(c.path)
    return c.id


def log_file(store: Store, key: str) -> tuple[ContainerDir, object]:
    """A detached container and its log, opened for reading."""
    c = find_container(store, key)
    try:
        return c, open(c.path / "log", "rb")
    except FileNotFoundError:
        raise CairnError(f"container {c.id[:12]} has no logs: it ran in the foreground") from None


def still_running(c: ContainerDir) -> bool:
    """Whether the container may still write to its log (it, or its monitor, lives)."""
    return c.state().get("status") != "exited" and (c.pid_alive() or _monitor_alive(c))
