"""POST /containers/{id}/attach: the hijacked connection of `docker run` and `docker attach`.

After `101 UPGRADED` the connection carries the container's output as it is written to its
log (docker's multiplexed frames without a TTY, the raw bytes with one) until the container
exits, and the client's bytes go to the container's stdin fifo (OpenStdin) until the client
closes its side. The docker CLI attaches before it starts the container: the stream then
begins with the start. Which bytes were stderr, log_streams.py tells."""

from __future__ import annotations

import contextlib
import os
import threading

from .errors import bad_request
from .http import Response

CHUNK = 32768


def frame(data: bytes, stream: int = 1) -> bytes:
    """docker's multiplexed frame: [stream, 0, 0, 0, size (big-endian 32 bits)] then the bytes."""
    return bytes([stream, 0, 0, 0]) + len(data).to_bytes(4, "big") + data


def serve_info(st: dict) -> dict:
    info = st.get("serve")
    return info if isinstance(info, dict) else {"tty": bool((st.get("request") or {}).get("tty"))}


def _pump_stdin(rfile, fd: int) -> None:
    """The client's bytes to the container's stdin, until the client closes its side."""
    try:
        while data := rfile.read1(CHUNK):
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
    except (OSError, ValueError):
        pass
    finally:
        os.close(fd)


def follow(c, offset: int, base_finished, out, tty: bool, wanted=(1, 2)) -> None:
    """Send the log from offset, as out(bytes), until the container's next exit (or its
    monitor's end, or its removal): raw with a TTY, else docker's frames of the wanted streams."""
    from ..containers.dirs import process_alive
    from .log_streams import Streams

    streams = Streams(c.path)

    def send(at: int, data: bytes) -> None:
        if tty:
            out(data)
            return
        for stream, piece in streams.pieces(at, data):
            if stream in wanted:
                out(frame(piece, stream))

    try:
        f = open(c.path / "log", "rb")  # noqa: SIM115 - closed by the with below
    except FileNotFoundError:
        streams.close()
        return
    from .ctr_run import Pause

    pause = Pause((c.state() or {}).get("owner"))
    with f, streams, contextlib.closing(pause):
        f.seek(offset)
        while True:
            data = f.read(CHUNK)
            if data:
                send(offset, data)
                offset += len(data)
                continue
            st = c.state()
            done = (not st or not process_alive(st.get("owner"))
                    or (st.get("status") == "exited" and st.get("finished") != base_finished
                        and not process_alive(st.get("monitor"))))  # (its copier has written all)
            if done:
                while data := f.read(CHUNK):
                    send(offset, data)
                    offset += len(data)
                return
            pause()


def attach(ctx, request, key: str) -> Response:
    from .containers import find

    with ctx.store() as store:
        c = find(store, key)
    st = c.state()
    if not (c.path / "log").exists():
        raise bad_request(f"container {c.id[:12]} ran in the foreground of `cairn run`: there is nothing to attach to")
    tty = bool(serve_info(st).get("tty"))
    want_stdin = request.flag("stdin") and (c.path / "stdin").exists()
    wanted = tuple(n for flag, n in (("stdout", 1), ("stderr", 2)) if request.flag(flag))
    offset = 0 if request.flag("logs") else os.path.getsize(c.path / "log")
    base = st.get("finished")
    stdin_fd = os.open(c.path / "stdin", os.O_RDWR) if want_stdin else None  # (never blocks, unlike O_WRONLY)

    def session(rfile, wfile, sock) -> None:
        if stdin_fd is not None:
            threading.Thread(target=_pump_stdin, args=(rfile, stdin_fd), daemon=True).start()

        def out(data: bytes) -> None:
            if wanted:
                wfile.write(data)
                wfile.flush()
        if request.flag("stream"):
            follow(c, offset, base, out, tty, wanted)
        try:
            import socket

            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    media = "application/vnd.docker.raw-stream" if tty else "application/vnd.docker.multiplexed-stream"
    if "upgrade" in request.headers.get("connection", "").lower():
        return Response(101, None, media, {"Connection": "Upgrade", "Upgrade": "tcp"}, hijack=session)
    return Response(200, None, media, hijack=session)
