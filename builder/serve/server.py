"""The socket and its threads: a unix socket of mode 0660 (owner root, group the one given),
one thread a connection (at most MAX_CONNECTIONS at once), HTTP/1.1 keep-alive, and a clean
stop on SIGTERM or SIGINT that removes the socket."""

from __future__ import annotations

import os
import signal
import socket
import stat
import sys
import threading
import traceback
from pathlib import Path

from ..errors import CairnError
from . import http
from .errors import ApiError

MAX_CONNECTIONS = 64
IDLE_TIMEOUT = 120.0  # seconds a connection may stay silent while a request is read


class _Stop(Exception):
    pass


class Context:
    """What a handler may use: the store's root (each request opens the store it needs)."""

    def __init__(self, root: str):
        self.root = root

    def store(self):
        from ..store.store import Store

        return Store(self.root)


def bind_unix(path: Path, gid: int) -> socket.socket:
    """A listening socket at path, mode 0660, owned by root (this process) and gid. A stale
    socket is replaced; a live one (another server answers) or any other file is refused."""
    if path.is_symlink() or path.exists():
        if not stat.S_ISSOCK(path.lstat().st_mode):
            raise CairnError(f"{path} exists and is not a socket: refusing to replace it")
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(str(path))
            raise CairnError(f"{path}: a server already listens there")
        except (ConnectionRefusedError, FileNotFoundError):
            path.unlink()
        finally:
            probe.close()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)  # never, not even for an instant, wider than 0600
    try:
        sock.bind(str(path))
    finally:
        os.umask(old)
    os.chown(path, os.geteuid(), gid)
    os.chmod(path, 0o660)
    sock.listen(128)
    return sock


def serve(sock: socket.socket, path: Path, router, ctx: Context, log=None) -> None:
    """Accept until SIGTERM/SIGINT, then close and remove the socket."""
    slots = threading.BoundedSemaphore(MAX_CONNECTIONS)

    def stop(_signo, _frame):
        raise _Stop()

    old = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        while True:
            slots.acquire()
            try:
                conn, _ = sock.accept()
            except BaseException:
                slots.release()
                raise
            threading.Thread(target=_connection, args=(conn, router, ctx, slots, log), daemon=True).start()
    except _Stop:
        pass
    finally:
        for signo, handler in old.items():
            signal.signal(signo, handler)
        sock.close()
        try:
            path.unlink()
        except FileNotFoundError:
            pass


def _connection(conn: socket.socket, router, ctx: Context, slots, log) -> None:
    try:
        conn.settimeout(IDLE_TIMEOUT)
        rfile = conn.makefile("rb")
        wfile = conn.makefile("wb")
        while True:
            try:
                request = http.read_request(rfile)
            except ApiError as err:  # the request cannot be read to its end: answer, then close
                http.write_response(wfile, http.error_response(err), False, False)
                return
            request.connection = conn  # (a streaming handler watches it for a client that left)
            response = _dispatch(router, ctx, request, log)
            if request.keep_alive:
                http.drain(request)
            http.write_response(wfile, response, request.method == "HEAD", request.keep_alive)
            if response.hijack is not None:  # (attach, exec: the connection is the handler's now)
                conn.settimeout(None)  # an attached session is as quiet as its container
                response.hijack(rfile, wfile, conn)
                return
            if not request.keep_alive:
                return
    except (http.Closed, OSError, ValueError):
        pass
    finally:
        try:
            conn.close()
        finally:
            slots.release()


def _dispatch(router, ctx: Context, request: http.Request, log) -> http.Response:
    try:
        handler, params = router.find(request.method, request.path)
        return handler(ctx, request, **params)
    except ApiError as err:
        return http.error_response(err)
    except CairnError as err:
        return http.error_response(ApiError(500, str(err)))
    except Exception as err:  # noqa: BLE001 - a handler's fault answers 500; the server lives on
        if log is not None:
            log(f"{request.method} {request.path[:200]}: {type(err).__name__}: {err}")
            traceback.print_exc(file=sys.stderr)
        return http.error_response(ApiError(500, f"internal error: {type(err).__name__}"))
