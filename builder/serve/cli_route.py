"""POST /cairn/cli: the cairn CLI's own route (not docker's), for `cairn build|run|ps|images` with
CAIRN_HOST set. Only over the unix socket: after `101 UPGRADED` the client passes its stdin,
stdout and stderr (SCM_RIGHTS), the zygote (cli_zygote.py) runs the command on them in the
client's working directory (a build reads its context directory where it is: no tar), and the
server answers `exit CODE` on the connection. A client that leaves (Ctrl-C) interrupts the
command as Ctrl-C would."""

from __future__ import annotations

import itertools
import json
import os
import select
import socket
import struct
import threading
import time

from .cli_zygote import COMMANDS, MAX_MESSAGE
from .errors import ApiError, bad_request
from .http import Response
from .jsonstream import client_gone

CANCEL_GRACE = 10.0  # seconds between the interrupt and the kill of a command whose client left


class Zygote:
    """The server's side of the zygote: requests by id, replies routed by a reader thread."""

    def __init__(self, chan: socket.socket, pid: int):
        self.chan, self.pid = chan, pid
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._waiting: dict[int, list] = {}
        threading.Thread(target=self._read, name="cairn-serve-zygote", daemon=True).start()

    def _read(self) -> None:
        while True:
            try:
                data = self.chan.recv(65536)
            except OSError:
                data = b""
            if not data:  # the zygote died: every waiting request fails
                with self._lock:
                    for slot in self._waiting.values():
                        slot[1] = 1
                        slot[0].set()
                return
            msg = json.loads(data)
            with self._lock:
                slot = self._waiting.get(msg["id"])
            if slot is not None:
                slot[1] = msg["exit"]
                slot[0].set()

    def start(self, argv: list[str], cwd: str, env: dict, fds: list[int],
              docker_config: str | None = None) -> tuple[int, list]:
        """Send a command to the zygote; (its id, its slot: [an Event set when it ended, its exit code]).
        docker_config: the DOCKER_CONFIG it runs with (the server's own POST /build; never a client's)."""
        rid = next(self._ids)
        slot = [threading.Event(), None]
        doc = {"id": rid, "argv": argv, "cwd": cwd, "env": env}
        if docker_config is not None:
            doc["docker_config"] = docker_config
        with self._lock:
            self._waiting[rid] = slot
            socket.send_fds(self.chan, [json.dumps(doc).encode()], fds)
        return rid, slot

    def done(self, rid: int) -> None:
        with self._lock:
            self._waiting.pop(rid, None)

    def cancel(self, rid: int, hard: bool = False) -> None:
        """SIGINT to the command (SIGKILL when hard)."""
        self._send({"cancel": rid, "hard": True} if hard else {"cancel": rid})

    def run(self, argv: list[str], cwd: str, env: dict, fds: list[int], gone) -> int:
        """Run the command; gone() is asked now and then whether the client left."""
        rid, slot = self.start(argv, cwd, env, fds)
        try:
            cancelled = 0.0
            while not slot[0].wait(0.5):
                if gone():
                    if not cancelled:
                        self.cancel(rid)
                    cancelled += 0.5
                    if cancelled >= CANCEL_GRACE:
                        self.cancel(rid, hard=True)
            return slot[1]
        finally:
            self.done(rid)

    def monitor(self, doc: dict, exits: str, timeout: float) -> bytes | None:
        """Have the zygote start a container's monitor (serve/monitor.py) for the create request
        doc: the monitor's answer (`ok ID` | `err STATUS MESSAGE`), b"" when it died first, None
        when it did not answer in time."""
        body = os.memfd_create("cairn-create", os.MFD_CLOEXEC)
        reply_r, reply_w = os.pipe()
        try:
            data = json.dumps(doc).encode()
            while data:
                data = data[os.write(body, data):]
            with self._lock:
                socket.send_fds(self.chan, [json.dumps({"id": next(self._ids), "monitor": exits}).encode()],
                                [reply_w, body])
        finally:
            os.close(reply_w)
            os.close(body)
        try:
            out = b""
            deadline = time.monotonic() + timeout
            while len(out) < 65536:
                left = deadline - time.monotonic()
                if left <= 0 or not select.select([reply_r], [], [], left)[0]:
                    return None
                chunk = os.read(reply_r, 65536)
                if not chunk:
                    break
                out += chunk
            return out
        finally:
            os.close(reply_r)

    def _send(self, msg: dict) -> None:
        with self._lock:
            self.chan.send(json.dumps(msg).encode())


def peer_uid(conn) -> int | None:
    """The uid of the process at the other end of a unix socket (SO_PEERCRED), None if unknown."""
    try:
        _pid, uid, _gid = struct.unpack("3i", conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED,
                                                              struct.calcsize("3i")))
    except OSError:
        return None
    return uid


def _check(ctx, request) -> dict:
    if getattr(ctx, "zygote", None) is None:
        raise bad_request("this server does not run cairn commands")
    conn = getattr(request, "connection", None)
    if conn is None or conn.family != socket.AF_UNIX:
        raise bad_request("cairn commands run through the daemon only over its unix socket (on the same "
                          "machine): set CAIRN_HOST=unix:///PATH")
    if peer_uid(conn) != os.geteuid():
        # (the command runs as root on the client's paths: its context, -f, --secret, -o, --iidfile, links
        # in its cwd; a member of the socket's group gets the Engine API, where its own cairn reads and
        # writes its files, as docker's CLI does: builder/remote/)
        raise ApiError(403, "cairn commands run inside the daemon only for its own user (they would read and "
                            "write your paths as root): the cairn CLI of another user goes through the Engine API")
    doc = request.json()
    argv, cwd = doc.get("argv"), doc.get("cwd")
    if not isinstance(argv, list) or not argv or not all(isinstance(a, str) for a in argv):
        raise bad_request("argv: a list of strings is expected")
    if argv[0] not in COMMANDS:
        raise bad_request(f"cairn {argv[0]!r} does not run through the daemon (only {', '.join(COMMANDS)})")
    if not isinstance(cwd, str) or not os.path.isabs(cwd) or not os.path.isdir(cwd):
        raise bad_request("cwd: the client's working directory (absolute) is expected")
    env = doc.get("env") or {}
    if not isinstance(env, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in env.items()):
        raise bad_request("env: an object of strings is expected")
    job = {"argv": argv, "cwd": cwd, "env": env}
    if len(json.dumps({"id": 1 << 62, **job}).encode()) > MAX_MESSAGE:
        raise bad_request(f"the command line is too long to run through the daemon (over {MAX_MESSAGE} bytes): "
                          "run it without CAIRN_HOST")
    return job


def run_cli(ctx, request) -> Response:
    job = _check(ctx, request)

    def hijack(_rfile, wfile, conn):
        _data, fds, _flags, _addr = socket.recv_fds(conn, 16, 3)
        try:
            if len(fds) != 3:
                wfile.write(b"error: stdin, stdout and stderr were expected\n")
                wfile.flush()
                return
            code = ctx.zygote.run(job["argv"], job["cwd"], job["env"], fds, lambda: client_gone(conn))
        finally:
            for fd in fds:
                os.close(fd)
        wfile.write(f"exit {code}\n".encode())
        wfile.flush()

    return Response(101, b"", "application/vnd.cairn.cli", {"Connection": "Upgrade", "Upgrade": "cairn-cli"},
                    hijack=hijack)


def add_routes(router) -> None:
    router.add("POST", "/cairn/cli", run_cli)
