"""Containers made through the API and their monitors (serve/monitor.py): create (the monitor
forked by the server's zygote, or spawned as a fresh interpreter without one: never forked
from the threaded server), start and restart (a command on the container's
control fifo), wait (condition not-running, next-exit, removed), kill and top."""

from __future__ import annotations

import atexit
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from .errors import ApiError, bad_request, conflict
from .http import Response, json_response
from .jsonstream import client_gone

POLL = 0.02  # seconds between looks at a container's state while a request waits on it
_EXITS: list[str] = []
_EXITS_LOCK = threading.Lock()
_CREATING: set[str] = set()  # the names being created now


def exits_dir() -> str:
    """Where AutoRemove monitors leave the exit code of a container they removed (for wait)."""
    with _EXITS_LOCK:
        if not _EXITS:
            _EXITS.append(tempfile.mkdtemp(prefix="cairn-serve-exits-"))
            atexit.register(shutil.rmtree, _EXITS[0], True)
        return _EXITS[0]


def removed_exit(cid: str) -> dict:
    """What the monitor of an AutoRemove container left: {"code": N, "error": why it did not
    start, or None}; {} when nothing is known."""
    try:
        doc = json.loads(Path(exits_dir(), cid).read_text())
    except (OSError, ValueError):
        return {}
    return doc if isinstance(doc, dict) else {}


def child_env() -> dict[str, str]:
    """The environment of what the server spawns (monitors, cairn exec): this cairn's own
    packages first, and no CAIRN_HOST (they act on the store here, never through a server)."""
    env = {k: v for k, v in os.environ.items() if k != "CAIRN_HOST"}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(Path(__file__).resolve().parents[2]),
                                                    os.environ.get("PYTHONPATH")) if p)
    return env


def create(ctx, request) -> Response:
    body = request.json()
    name = request.query.get("name", "")
    name = name.removeprefix("/")
    with _EXITS_LOCK:  # two creates of one name at once: the second is refused, as the name is taken
        if name and name in _CREATING:
            raise conflict(f'Conflict. The container name "/{name}" is already in use')
        _CREATING.add(name)
    try:
        return _create(ctx, body, name)
    finally:
        with _EXITS_LOCK:
            _CREATING.discard(name)


def _create(ctx, body: dict, name: str) -> Response:
    zygote = getattr(ctx, "zygote", None)
    if zygote is not None:  # forked warm from the zygote (no interpreter to start)
        try:
            out = zygote.monitor({"body": body, "name": name}, exits_dir(), timeout=900)
        except OSError:  # the zygote is gone (killed): the monitor is spawned as without one
            out = b"gone"
        if out is None:
            raise ApiError(500, "the container's monitor did not answer")
        if out != b"gone":
            return _answer(body, out)
    proc = subprocess.Popen([sys.executable, "-m", "builder.serve.monitor", "create", str(ctx.root), exits_dir()],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=child_env(),
                            close_fds=True)
    try:
        out, _ = proc.communicate(json.dumps({"body": body, "name": name}).encode(), timeout=900)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise ApiError(500, "the container's monitor did not answer") from None
    return _answer(body, out)


def _answer(body: dict, out: bytes) -> Response:
    text = out.decode("utf-8", "replace")
    if text.startswith("ok "):
        return json_response({"Id": text[3:].strip(), "Warnings": []}, 201)
    if text.startswith("err "):
        _, status, message = (text + " ").split(" ", 2)
        if status == "404" and "image" in message.lower():
            message = f"No such image: {body.get('Image')}"
        raise ApiError(int(status) if status.isdigit() else 500, message.strip())
    raise ApiError(500, "the container's monitor exited before it answered")


class Pause:
    """The sleeps between looks at a container's state: short at first (`docker run --rm true`
    is over in tens of milliseconds; a look every POLL cost it half a POLL at each step), then
    POLL; cut short when the process pid (the container's monitor: with AutoRemove its end is the
    container's) ends."""

    def __init__(self, pid=None):
        self.delay, self.fd = 0.002, None
        if isinstance(pid, int) and pid > 0:
            try:
                self.fd = os.pidfd_open(pid)
            except OSError:  # (gone already: the looks find it so)
                pass

    def __call__(self) -> None:
        if self.fd is not None:
            if select.select([self.fd], [], [], self.delay)[0]:
                self.close()  # (ended: no more waiting on it)
        else:
            time.sleep(self.delay)
        self.delay = min(self.delay * 2, POLL)

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def _alive(pid) -> bool:
    from ..containers.dirs import process_alive

    return process_alive(pid)


def send(c, command: bytes) -> bool:
    """Give the container's monitor a command; False when it has none (or it is gone)."""
    try:
        fd = os.open(c.path / "control", os.O_WRONLY | os.O_NONBLOCK)
    except OSError:
        return False
    try:
        os.write(fd, command)
    finally:
        os.close(fd)
    return True


def start_container(c) -> None:
    st = c.state()
    before = (st.get("started"), st.get("finished"))
    if not (c.path / "control").exists():
        raise conflict(f"container {c.id[:12]} was made by `cairn run`, not through this socket: cairn cannot "
                       f"start it again")
    if not send(c, b"s"):
        raise ApiError(500, f"container {c.id[:12]}: its monitor is gone (cairn serve was stopped with it?)")
    pause = Pause(st.get("owner"))
    try:
        _started(c, before, pause)
    finally:
        pause.close()


def _started(c, before: tuple, pause: Pause) -> None:
    while True:
        st = c.state()
        if not st:  # an AutoRemove container that ran (or failed to) and is gone
            error = removed_exit(c.id).get("error")
            if error:
                raise bad_request(error)
            return
        if st.get("started") != before[0]:
            return
        if st.get("finished") != before[1]:
            raise bad_request(st.get("error") or "the container did not start")
        if not _alive(st.get("owner")):
            raise ApiError(500, "the container's monitor died while starting it")
        pause()


def start(ctx, _request, key: str) -> Response:
    from .containers import find

    with ctx.store() as store:
        c = find(store, key)
    if c.running():
        return Response(304, b"")
    start_container(c)
    return Response(204, b"")


def restart(ctx, request, key: str) -> Response:
    from ..containers import lifecycle
    from .containers import find, stop_timeout

    with ctx.store() as store:
        c = find(store, key)
        if c.running():
            lifecycle.stop(store, c.id, timeout=stop_timeout(request))
            while _alive(c.state().get("monitor")):  # (the last run's teardown)
                time.sleep(POLL)
    start_container(c)
    return Response(204, b"")


def wait(ctx, request, key: str) -> Response:
    from .containers import find

    condition = request.query.get("condition") or "not-running"
    if condition not in ("not-running", "next-exit", "removed"):
        raise bad_request(f"invalid condition {condition!r}: not-running, next-exit or removed")
    with ctx.store() as store:
        c = find(store, key)
    st = c.state()
    base = st.get("finished")

    def body():
        pause = Pause(st.get("owner"))
        try:
            yield from _wait(c, request, condition, base, pause)
        finally:
            pause.close()
    return Response(200, body())


def _wait(c, request, condition: str, base, pause: Pause):
    code = 0
    while True:
        st = c.state()
        if not st:
            code = removed_exit(c.id).get("code", code)
            break
        code = st.get("exit_code", 0)
        status = st.get("status")
        live = status == "running" and _alive(st.get("pid"))
        if condition == "not-running" and not live:
            break
        if condition == "next-exit" and ((status == "exited" and st.get("finished") != base)
                                         or (not live and not _alive(st.get("owner")))):
            break  # (without a monitor nothing will start it again)
        if client_gone(getattr(request, "connection", None)):
            return
        pause()
    # (a start's failure is the start's answer, as dockerd's: the wait tells the code only)
    yield json.dumps({"StatusCode": code, "Error": None}).encode() + b"\n"


def kill(ctx, request, key: str) -> Response:
    from .containers import find

    name = request.query.get("signal") or "SIGKILL"
    try:
        signo = int(name) if name.isdigit() else int(signal.Signals[name.upper() if name.upper().startswith("SIG")
                                                                      else "SIG" + name.upper()])
    except (KeyError, ValueError):
        raise bad_request(f"Invalid signal: {name}") from None
    with ctx.store() as store:
        c = find(store, key)
    if not c.running():
        raise conflict(f"Cannot kill container: {key}: Container {c.id} is not running")
    try:
        os.kill(c.state()["pid"], signo)
    except ProcessLookupError:
        raise conflict(f"Cannot kill container: {key}: Container {c.id} is not running") from None
    return Response(204, b"")


def _pids(st: dict) -> set[int]:
    pids: set[int] = set()
    for d in st.get("cgroup_dirs") or ():
        try:
            pids.update(int(p) for p in Path(d, "cgroup.procs").read_text().split())
        except (OSError, ValueError):
            continue
    return pids or {st["pid"]}


def top(ctx, request, key: str) -> Response:
    from .containers import find

    args = request.query.get("ps_args") or "-ef"
    if not args.startswith("-") or not args[1:].isalpha():
        raise bad_request(f"ps_args {args!r}: give ps options such as -ef or -aux")
    with ctx.store() as store:
        c = find(store, key)
    if not c.running():
        raise conflict(f"Container {c.id} is not running")
    pids = _pids(c.state())
    res = subprocess.run(["ps", args], capture_output=True, text=True, timeout=30, check=False)
    lines = res.stdout.splitlines()
    if res.returncode != 0 or not lines:
        raise ApiError(500, f"ps {args}: {res.stderr.strip()[:200]}")
    titles = lines[0].split()
    if "PID" not in titles:
        raise bad_request(f"ps {args} gives no PID column")
    at = titles.index("PID")
    procs = []
    for line in lines[1:]:
        fields = line.split(None, len(titles) - 1)
        if len(fields) == len(titles) and fields[at].isdigit() and int(fields[at]) in pids:
            procs.append(fields)
    return json_response({"Titles": titles, "Processes": procs})
