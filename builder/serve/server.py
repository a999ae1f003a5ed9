"""The socket and its threads: a unix socket of mode 0660 (owner root, group the one given) or
a TCP socket (listen.py: TLS with client certificates, or loopback), one thread a connection
(at most MAX_CONNECTIONS at once), HTTP/1.1 keep-alive, streamed and hijacked replies, the
events of each successful request (event_source.py), and a clean stop on SIGTERM or SIGINT
that removes the socket (containers are left running, as dockerd with live-restore leaves
them: `cairn ps` and the next server see them)."""

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
from . import event_source, http
from .errors import ApiError
from .events import EventBus

MAX_CONNECTIONS = 64
IDLE_TIMEOUT = 120.0  # seconds a connection may stay silent while a request is read
# TLS: a handshake holds none of the MAX_CONNECTIONS (a client without a certificate must not
# keep a client with one out), at most MAX_HANDSHAKES at once, each HANDSHAKE_TIMEOUT in all
# (a byte a minute kept one going, and its slot held, for ever)
MAX_HANDSHAKES = 256
HANDSHAKE_TIMEOUT = 10.0


class _Stop(Exception):
    pass


class Context:
    """What a handler may use: the store's root (each request opens the store it needs), the
    event bus, the watcher of container deaths (None until serve() starts it) and the zygote."""

    def __init__(self, root: str):
        self.root = root
        self.events = EventBus()
        self.watcher = None
        self.zygote = None  # (cli_route.Zygote: runs cairn commands for CAIRN_HOST clients)

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


def serve(sock: socket.socket, path: Path | None, router, ctx: Context, log=None, tls=None) -> None:
    """Accept until SIGTERM/SIGINT, then close (and remove a unix socket). tls: an
    ssl.SSLContext that each TCP connection is wrapped in (handshake in its own thread)."""
    slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
    gate = slots if tls is None else threading.BoundedSemaphore(MAX_HANDSHAKES)  # (what an accept waits for)
    ctx.watcher = event_source.Watcher(ctx)
    ctx.watcher.start()

    def stop(_signo, _frame):
        raise _Stop()

    old = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        while True:
            gate.acquire()
            try:
                conn, _ = sock.accept()
            except BaseException:
                gate.release()
                raise
            threading.Thread(target=_connection, args=(conn, router, ctx, slots, log, tls, gate), daemon=True).start()
    except _Stop:
        pass
    finally:
        for signo, handler in old.items():
            signal.signal(signo, handler)
        ctx.watcher.stop()
        sock.close()
        if path is not None:
            try:
                path.unlink()
            except FileNotFoundError:
                pass


def _connection(conn: socket.socket, router, ctx: Context, slots, log, tls, gate=None) -> None:
    held = slots if tls is None else None  # (a plain connection's slot was taken by the accept)
    try:
        conn.settimeout(IDLE_TIMEOUT)
        if tls is not None:
            try:
                conn = _handshake(conn, tls)
            except (OSError, ValueError) as err:  # no client certificate, a bad one, not TLS at all, too slow
                if log is not None:
                    log(f"TLS handshake refused: {err}")
                return
            finally:
                gate.release()
            slots.acquire()
            held = slots
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
            if held is not None:
                held.release()


def _handshake(conn: socket.socket, tls):
    """The TLS connection, its handshake done within HANDSHAKE_TIMEOUT (else the socket is shut:
    the handshake fails with an OSError)."""
    def cut():
        try:
            conn.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
    timer = threading.Timer(HANDSHAKE_TIMEOUT, cut)
    timer.daemon = True
    timer.start()
    try:
        return tls.wrap_socket(conn, server_side=True)
    finally:
        timer.cancel()


def _dispatch(router, ctx: Context, request: http.Request, log) -> http.Response:
    try:
        handler, params = router.find(request.method, request.path)
        plan = event_source.before(ctx, request)
        response = handler(ctx, request, **params)
        if plan is not None and response.status < 300 and response.hijack is None:
            if response.body is not None and not isinstance(response.body, (bytes, bytearray)):
                response.body = event_source.watch_stream(ctx, plan, response.body)  # (a stream)
            else:
                event_source.after(ctx, plan, response.status, response.body or b"")
        return response
    except ApiError as err:
        return http.error_response(err)
    except CairnError as err:
        return http.error_response(ApiError(500, str(err)))
    except Exception as err:  # noqa: BLE001 - a handler's fault answers 500; the server lives on
        if log is not None:
            log(f"{request.method} {request.path[:200]}: {type(err).__name__}: {err}")
            traceback.print_exc(file=sys.stderr)
        return http.error_response(ApiError(500, f"internal error: {type(err).__name__}"))
