"""The process that runs `cairn build|run|ps|images` for clients of the daemon (CAIRN_HOST):
forked from `cairn serve` before its first thread, it imports what those commands use once and
then forks one worker a request, from this single thread (a fork from the threaded server
could inherit a lock held by another thread). A worker gets the client's own stdin, stdout and
stderr (passed over the unix socket), its working directory, a few display variables and the
ones a build reads (ENV_PASSED; a `--build-arg NAME`'s value the client puts in the argv; a
--secret's variable the client sends, or none: secret_option.py), runs
the command as `cairn` would and exits with its code; the zygote reports the code back.
It also starts the monitors of containers made through the API (serve/monitor.py): a worker
that detaches and forks the monitor from this single thread, warm (no interpreter to start).

The protocol on the socketpair (SOCK_SEQPACKET, one JSON message a packet):
  server -> zygote  {"id": N, "argv": [...], "cwd": "/abs"[, "docker_config": DIR]} with 3 fds | {"cancel": N}
                    | {"id": N, "monitor": EXITS_DIR} with 2 fds (the reply pipe, the body's memfd)
  zygote -> server  {"id": N, "exit": CODE}
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import socket
import sys

COMMANDS = ("build", "run", "ps", "images")
MAX_MESSAGE = 1 << 16  # one request's JSON (argv, cwd, env): the server refuses a longer one
ENV_PASSED = ("TERM", "COLUMNS", "LINES", "NO_COLOR", "SOURCE_DATE_EPOCH", "BUILDKIT_PROGRESS",
              "DOCKER_DEFAULT_PLATFORM",  # (build's --platform default)
              "CAIRN_BUILD_MEMO",  # (=0: no whole-build memo, cache/build_memo.py; the client's, not the daemon's)
              "SSH_AUTH_SOCK")  # (build's --ssh default: the client's agent, never the daemon's)
_PRELOAD = ("builder.commands.build", "builder.commands.run", "builder.commands.containers",
            "builder.commands.images", "builder.executor.build", "builder.containers.run",
            "builder.store.store", "builder.cache.sources", "builder.context.build_context",
            "builder.serve.monitor", "builder.serve.ctr_run", "builder.serve.create_body", "builder.serve.log_streams",
            "builder.containers.logindex", "builder.containers.health", "builder.containers.ipam",
            # what a container's prepare and first run import (a monitor imports none of it)
            "builder.containers.run_fs", "builder.containers.run_privileges", "builder.containers.volumes",
            "builder.containers.record", "builder.registry.layer_sources", "runtime.network",
            "runtime.portproxy", "runtime.seccomp_json")


def start(root: str, log=None) -> tuple[socket.socket, int]:
    """Fork the zygote; (the server's end of the socketpair, the zygote's pid). log: where the
    zygote says what its stat cache holds (--debug), or None."""
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    pid = os.fork()
    if pid == 0:  # the zygote
        code = 1
        try:
            ours.close()
            _zygote(theirs, root, log)
            code = 0
        finally:
            os._exit(code)
    theirs.close()
    return ours, pid


def _preload() -> None:
    import importlib

    for name in _PRELOAD:
        with contextlib.suppress(Exception):  # (a module that moved costs speed, not function)
            importlib.import_module(name)


def _zygote(chan: socket.socket, root: str, log=None) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # (the server's terminal is not ours; SIGTERM ends us)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _preload()
    from ..cache import stat_memory

    memory = stat_memory.Memory(root, log=log)
    stat_memory.hold(memory)  # (the stat cache's rows its build workers inherit, and report back to)
    reports: dict[int, stat_memory.Report] = {}  # a build worker's pid -> its report pipe
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    workers: dict[int, int] = {}  # pid -> request id
    by_id: dict[int, int] = {}
    while True:
        ready, _, _ = select.select([chan, wake_r, *(r.fd for r in reports.values())], [], [])
        if wake_r in ready:
            os.read(wake_r, 512)
        for pid, report in list(reports.items()):
            if report.fd in ready and not report.read():
                reports.pop(pid).finish(memory)
        if chan in ready:
            try:
                data, fds, _flags, _addr = socket.recv_fds(chan, MAX_MESSAGE, 3)
            except OSError:
                return
            if not data:
                return  # the server is gone: so are we
            try:
                msg = json.loads(data)
            except ValueError:  # (our server bounds what it sends; a bad message is dropped, never fatal)
                msg = {"cancel": None}
            if "cancel" in msg:
                pid = by_id.get(msg["cancel"])
                if pid is not None:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL if msg.get("hard") else signal.SIGINT)
            elif "monitor" in msg:
                pid = _fork_worker(chan, wake_r, wake_w, root, msg, fds, monitor=True)
                workers[pid] = msg["id"]
            else:
                report = _report_pipe(msg)
                pid = _fork_worker(chan, wake_r, wake_w, root, msg, fds, report=report)
                workers[pid], by_id[msg["id"]] = msg["id"], pid
                if report is not None:
                    os.close(report[1])
                    reports[pid] = stat_memory.Report(report[0])
            for fd in fds:
                os.close(fd)
        while workers:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            rid = workers.pop(pid, None)
            if rid is not None:
                by_id.pop(rid, None)
                code = os.waitstatus_to_exitcode(status)
                chan.send(json.dumps({"id": rid, "exit": code if code >= 0 else 128 - code}).encode())
            if pid in reports:  # (what it wrote before it ended, merged after the client has its answer;
                report = reports.pop(pid)  # a pipe another process kept open is let go)
                report.drain()
                report.finish(memory)


def _report_pipe(msg: dict) -> tuple[int, int] | None:
    """A pipe for a build worker's stat cache report (stat_memory.py): (read end, write end)."""
    argv = msg.get("argv")
    if not (isinstance(argv, list) and "build" in argv):
        return None
    r, w = os.pipe2(os.O_CLOEXEC)
    os.set_blocking(r, False)
    return r, w


def _fork_worker(chan, wake_r, wake_w, root: str, msg: dict, fds: list[int], monitor: bool = False,
                 report: tuple[int, int] | None = None) -> int:
    pid = os.fork()
    if pid != 0:
        return pid
    code = 1
    try:
        signal.set_wakeup_fd(-1)
        for s in (signal.SIGCHLD, signal.SIGINT, signal.SIGTERM):
            signal.signal(s, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        chan.close()
        os.close(wake_r)
        os.close(wake_w)
        if monitor:
            from .monitor import create_forked

            if len(fds) == 2:
                create_forked(root, str(msg["monitor"]), fds[0], fds[1])
            os._exit(1)
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
        for fd in fds:
            if fd > 2:
                os.close(fd)
        if report is not None:
            from ..cache import stat_memory

            os.close(report[0])
            stat_memory.report_to(report[1])
        code = run_command(root, msg)
    except BaseException:  # noqa: BLE001 - a worker never returns into the zygote's loop
        code = 1
    finally:
        os._exit(code)
    return 0  # (never reached)


def run_command(root: str, msg: dict) -> int:
    """In the worker: the command on this process's fds 0-2, as `cairn --root ROOT ARGV`."""
    import io

    os.chdir(msg["cwd"])
    os.environ.pop("CAIRN_HOST", None)  # (the command runs here, never sent on again)
    import importlib

    # the program's own entry, as `python -m builder.cli` runs it (by name: the entry point sits
    # above every package, and the worker is that program, forked warm instead of exec'ed)
    entry = importlib.import_module("builder.cli")
    passed = set(ENV_PASSED)
    if msg["argv"][:1] == ["build"]:  # (a --secret's variable: the client's, or none; never the daemon's)
        from ..secret_option import secret_variables

        passed.update(secret_variables(msg["argv"], entry._build_value_options()))
    for key in passed:
        os.environ.pop(key, None)
    os.environ.update({k: v for k, v in msg.get("env", {}).items() if k in passed})
    if isinstance(msg.get("docker_config"), str):  # (the server's POST /build: none of the host's logins)
        os.environ["DOCKER_CONFIG"] = msg["docker_config"]
    sys.stdin = io.TextIOWrapper(io.FileIO(0, "r", closefd=False))
    for fd, name in ((1, "stdout"), (2, "stderr")):
        raw = io.FileIO(fd, "w", closefd=False)
        setattr(sys, name, io.TextIOWrapper(io.BufferedWriter(raw), line_buffering=raw.isatty(),
                                            write_through=fd == 2))
    code = entry._main(["--root", root, *msg["argv"]])
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    return code
