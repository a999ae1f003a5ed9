"""The monitor of one container made through the API: `python -m builder.serve.monitor`.

The server is threaded, and forking a process that then runs Python (the runtime sets up
namespaces in the child) from a threaded one can deadlock on a lock another thread held at
the fork: containers stayed "created". So the server never forks a monitor: its zygote
(cli_zygote.py, forked before the server's first thread, imports warm) forks a worker that
runs create_forked (or, without a zygote, the server spawns this module as a fresh
interpreter); the worker detaches (setsid, then forks while it still has a single thread),
prepares the container with
containers.run.prepare, answers `ok ID` or `err STATUS MESSAGE` on its stdout, and waits for
commands on the container's control fifo:

    s   start: containers.run.run_prepared, as `cairn run -d`'s monitor does (output to
        <container>/log, stdin from <container>/stdin when OpenStdin)
    q   quit (the container is being removed)

After each run it exec's itself again with the prepared container in a memfd, so that a
later start (docker start, restart) forks from a process with one thread again. With
AutoRemove it writes the exit code (and why it could not start) to EXITS/<id>, for wait and
start, and removes the container. It also ends when the container's directory is gone (cairn rm).
"""

from __future__ import annotations

import json
import os
import pickle
import select
import sys
from dataclasses import replace

MAX_REQUEST = 1 << 20
_STATUS = {"UsageError": 400, "ContainerNotFound": 404, "ImageNotFound": 404}


def _reply(text: str) -> None:
    os.write(1, text.encode("utf-8", "replace")[:65536])


def _status(err: BaseException) -> int:
    text = str(err)
    if "already in use" in text:
        return 409
    if "no such image" in text.lower() or "not found" in text.lower() and "image" in text.lower():
        return 404
    return _STATUS.get(type(err).__name__, 500)


def create(root: str, exits: str) -> None:
    """From the server (a fresh interpreter): read the request, then as _create."""
    _create(json.loads(sys.stdin.buffer.read(MAX_REQUEST) or b"{}"), root, exits)


def create_forked(root: str, exits: str, reply: int, body: int) -> None:
    """In a worker of the zygote (single-threaded): the request from the memfd body, the answer
    on the pipe reply; every other fd the zygote had is closed, the environment is a spawned
    monitor's (child_env: exec'ing itself again finds this cairn)."""
    with os.fdopen(os.dup(body), "rb") as f:
        f.seek(0)
        doc = json.loads(f.read(MAX_REQUEST) or b"{}")
    null = os.open("/dev/null", os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(reply, 1)
    os.dup2(null, 2)  # (as the spawned monitor's stderr=DEVNULL, until the log takes it)
    from runtime.fds import close_fds_above_2

    close_fds_above_2(null)  # the zygote's channel, its wakeup pipe, reply and body
    os.close(null)
    from .ctr_run import child_env

    env = child_env()
    os.environ.clear()
    os.environ.update(env)
    _create(doc, root, exits)


def _create(doc: dict, root: str, exits: str) -> None:
    """Detach, prepare, answer, then serve commands."""
    os.setsid()
    if os.fork():
        os._exit(0)  # the server reaps this one; the monitor is init's child
    from builder.containers.run import prepare
    from builder.store.store import Store

    from .create_body import run_request

    try:
        req = run_request(doc.get("body") or {}, doc.get("name") or "")
        store = Store(root)
        prep = prepare(store, req)
    except BaseException as err:  # noqa: BLE001 - every failure goes back to the client
        from builder.store.images import ImageNotFound

        _reply(f"err {404 if isinstance(err, ImageNotFound) else _status(err)} {err}")
        os._exit(1)
    cdir = prep.cdir
    cdir.write_state(serve={"tty": req.tty, "stdin": req.interactive}, request=_plain(req))
    _redirect(cdir.path / "log")
    from .log_streams import make_marks

    make_marks(cdir.path)
    os.mkfifo(cdir.path / "control", 0o600)
    if req.interactive:
        os.mkfifo(cdir.path / "stdin", 0o600)
    fds = _open_fifos(cdir, req)  # before the answer: a start right after it finds a reader
    _reply(f"ok {cdir.id}")
    os.dup2(2, 1)  # (the reply pipe closes: the server has its answer)
    from builder.containers.logindex import start_indexer

    start_indexer(cdir.path / "log")  # for logs -t and --since
    _serve(store, prep, req, exits, fds, first=True)


def _plain(req) -> dict:
    """The request as inspect reads it before the first start (which records it again)."""
    from dataclasses import asdict

    return json.loads(json.dumps(asdict(replace(req, registry=None)), default=str))


def _open_fifos(cdir, req, control: tuple[int, int] | None = None) -> tuple[int, int, int]:
    """The control fifo's read end and a write end of our own (a client's close never reads
    as EOF), and the stdin fifo's read end (held, so that what an attached client sends
    before the start waits in the pipe for the container)."""
    if control is None:
        read = os.open(cdir.path / "control", os.O_RDONLY | os.O_NONBLOCK)
        control = (read, os.open(cdir.path / "control", os.O_WRONLY))
    stdin = os.open(cdir.path / "stdin", os.O_RDONLY | os.O_NONBLOCK) if req.interactive else -1
    return (*control, stdin)


def _redirect(log) -> None:
    """fd 0 /dev/null, fd 2 the container's log (fd 1 follows once the answer is out)."""
    null = os.open("/dev/null", os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640)
    os.dup2(fd, 2)
    os.close(fd)
    from runtime.fds import close_inherited_fds

    close_inherited_fds()


def _command(fd: int, cdir) -> str:
    """The next command: 's', 'q', or 'q' once the container's directory is gone."""
    while True:
        ready, _w, _x = select.select([fd], [], [], 1.0)
        if ready:
            data = os.read(fd, 1)
            if data in (b"s", b"q"):
                return data.decode()
        if not cdir.path.is_dir():
            return "q"


def _serve(store, prep, req, exits: str, fds: tuple[int, int, int], first: bool) -> None:
    cdir = prep.cdir
    if _command(fds[0], cdir) != "s":
        os._exit(0)
    if not first and prep.address is not None:  # the last run gave its address back
        from builder.containers.ipam import allocate, bridge_config

        bridge = bridge_config()
        prep.address = allocate(bridge.name, bridge.subnet, cdir.id, str(store.root))
        cdir.write_state(address=str(prep.address))
    code, error = _run(store, prep, req, fds[2])
    if req.remove:
        try:
            with open(os.path.join(exits, cdir.id), "w") as f:
                json.dump({"code": code, "error": error}, f)
        except OSError:
            pass  # (the server has gone: nobody waits for it)
        from builder.containers.volumes import remove_anonymous
        from builder.store.store import remove_tree

        anonymous = cdir.state().get("anonymous_volumes") or ()
        remove_tree(cdir.path)
        if anonymous:
            remove_anonymous(store, anonymous)
        os._exit(0)
    if not cdir.path.is_dir():
        os._exit(0)  # removed (rm -f) while it ran
    _again(store.root, exits, prep, req, _open_fifos(cdir, req, fds[:2]))


def _run(store, prep, req, stdin: int) -> tuple[int, str | None]:
    """Run the container once: its exit code, and why it could not start (or None)."""
    from builder.containers.run import ContainerError, run_prepared

    cdir = prep.cdir
    if stdin >= 0:
        os.set_blocking(stdin, True)
        os.dup2(stdin, 0)
        os.close(stdin)
    cdir.write_state(monitor=os.getpid())
    (out_r, out_w), (err_r, err_w) = os.pipe(), os.pipe()  # the container's stdout and stderr
    os.dup2(out_w, 1)
    os.dup2(err_w, 2)
    os.close(out_w)
    os.close(err_w)
    copier = []

    def started(_pid: int) -> None:  # (threads only once the container's process is forked)
        from builder.containers import health

        from .log_streams import start_copier

        copier.append(start_copier(out_r, err_r, cdir.path))
        health.start(cdir, cdir.state().get("healthcheck"), prep.config.get("Shell"))

    try:
        return run_prepared(store, prep, replace(req, remove=False), on_started=started), None
    except ContainerError as err:
        return err.exit_code, str(err)
    except BaseException as err:  # noqa: BLE001 - recorded for inspect and start's answer
        error = f"{type(err).__name__}: {err}"
        cdir.write_state(status="exited", exit_code=125, error=error)
        return 125, error
    finally:
        log = os.open(cdir.path / "log", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        os.dup2(log, 1)  # (the pipes' last write ends close: the copier reads them to their end)
        os.dup2(log, 2)
        os.close(log)
        if copier:
            copier[0].join()
        else:
            os.close(out_r)
            os.close(err_r)
        cdir.write_state(monitor=None)


def _again(root, exits: str, prep, req, fds: tuple[int, int, int]) -> None:
    """exec this module again, single-threaded, holding the prepared container in a memfd
    and the fifos open (a start sent meanwhile waits in the control fifo)."""
    null = os.open("/dev/null", os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    fd = os.memfd_create("cairn-prepared", 0)
    os.write(fd, pickle.dumps((prep, req)))
    for keep in fds:
        if keep >= 0:
            os.set_inheritable(keep, True)
    os.execv(sys.executable, [sys.executable, "-m", "builder.serve.monitor", "resume", str(root), exits, str(fd),
                              *map(str, fds)])


def resume(root: str, exits: str, fd: int, fds: tuple[int, int, int]) -> None:
    from builder.store.store import Store

    for keep in fds:
        if keep >= 0:
            os.set_inheritable(keep, False)
    with os.fdopen(fd, "rb") as f:
        f.seek(0)
        prep, req = pickle.load(f)  # (our own memfd, written by the exec'ing monitor)
    _serve(Store(root), prep, req, exits, fds, first=False)


def main(argv: list[str]) -> None:
    if argv[1] == "create":
        create(argv[2], argv[3])
    elif argv[1] == "resume":
        resume(argv[2], argv[3], int(argv[4]), (int(argv[5]), int(argv[6]), int(argv[7])))
    os._exit(0)


if __name__ == "__main__":
    main(sys.argv)
