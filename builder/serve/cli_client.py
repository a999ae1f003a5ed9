"""The cairn CLI as a client of `cairn serve`: with CAIRN_HOST (or `cairn --host`) set,
`cairn build|run|ps|images ...` asks the daemon to run the command (POST /cairn/cli) and hands
it this process's stdin, stdout and stderr, so that output, terminal and exit code are those of
the command run here; the daemon's imports and store stay warm between commands. Other
commands run here as always (an explicit --host for them is refused: exit 2)."""

from __future__ import annotations

import json
import os
import socket

from .cli_zygote import COMMANDS, ENV_PASSED


class ClientError(Exception):
    def __init__(self, message: str, code: int = 1):
        super().__init__(message)
        self.code = code


def split_host(args: list[str]) -> tuple[str | None, list[str], bool]:
    """(host, args without a global --host, whether --host was given) from the leading global
    options; the host comes from CAIRN_HOST when no --host is given."""
    out, host, given, i = [], None, False, 0
    while i < len(args) and args[i].startswith("-"):
        arg = args[i]
        if arg in ("--host", "-H") and i + 1 < len(args):
            host, given, i = args[i + 1], True, i + 2
            continue
        if arg.startswith("--host="):
            host, given, i = arg.split("=", 1)[1], True, i + 1
            continue
        out.append(arg)
        if arg == "--root" and i + 1 < len(args):
            out.append(args[i + 1])
            i += 1
        i += 1
    out += args[i:]
    if host is None:
        host = os.environ.get("CAIRN_HOST") or None
    return host, out, given


def command_of(args: list[str]) -> tuple[str | None, list[str]]:
    """The command's name and its argv (from the name on), past the global options."""
    i = 0
    while i < len(args) and args[i].startswith("-"):
        i += 2 if args[i] == "--root" else 1
    return (args[i], args[i:]) if i < len(args) else (None, [])


def forward(host: str, argv: list[str]) -> int:
    """Run argv (`build ...`) through the daemon at host; its exit code."""
    if not host.startswith("unix://"):
        raise ClientError(f"CAIRN_HOST={host}: cairn commands go to a daemon on this machine through its unix "
                          f"socket (unix:///PATH); for a tcp:// host use docker's clients", 2)
    path = host.removeprefix("unix://")
    body = json.dumps({"argv": argv, "cwd": os.getcwd(),
                       "env": {k: os.environ[k] for k in ENV_PASSED if k in os.environ}}).encode()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        try:
            sock.connect(path)
        except OSError as err:
            raise ClientError(f"cannot reach the cairn daemon at {host}: {err.strerror or err}") from None
        sock.sendall(b"POST /cairn/cli HTTP/1.1\r\nHost: cairn\r\nContent-Type: application/json\r\n"
                     b"Connection: Upgrade\r\nUpgrade: cairn-cli\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        status, rest = _head(sock)
        if status != 101:
            try:
                message = json.loads(rest)["message"]
            except (ValueError, KeyError, TypeError):
                message = rest.decode("utf-8", "replace").strip()
            raise ClientError(f"cairn daemon at {host}: {message}", 2 if status == 400 else 1)
        socket.send_fds(sock, [b"F"], [0, 1, 2])
        line = b""
        while not line.endswith(b"\n"):
            chunk = sock.recv(64)
            if not chunk:
                raise ClientError(f"the cairn daemon at {host} closed the connection before the command ended")
            line += chunk
        word, _, code = line.decode().strip().partition(" ")
        if word != "exit" or not code.isdigit():
            raise ClientError(f"cairn daemon at {host}: {line.decode('utf-8', 'replace').strip()}")
        return int(code)
    finally:
        sock.close()


def _head(sock) -> tuple[int, bytes]:
    """The reply's status, and for an error its body (read to Content-Length)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(1)  # (byte by byte: nothing past the head may be read here)
        if not chunk:
            raise ClientError("the cairn daemon closed the connection")
        data += chunk
        if len(data) > 65536:
            raise ClientError("the cairn daemon's reply head is too long")
    head = data.decode("latin-1").split("\r\n")
    try:
        status = int(head[0].split()[1])
    except (IndexError, ValueError):
        raise ClientError(f"not a cairn daemon: {head[0][:80]!r}") from None
    if status == 101:
        return status, b""
    length = next((int(h.split(":", 1)[1]) for h in head[1:] if h.lower().startswith("content-length:")), 0)
    body = b""
    while len(body) < min(length, 65536):
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return status, body


def maybe_forward(args: list[str]) -> tuple[int | None, list[str]]:
    """(exit code, None-if-run-here) for the command line: a forwarded command's code, or None
    and the args to run here (without a global --host)."""
    host, rest, given = split_host(args)
    if host is None:
        return None, rest
    name, argv = command_of(rest)
    if name not in COMMANDS or "-h" in argv or "--help" in argv:
        if given and name is not None and name not in COMMANDS:
            raise ClientError(f"cairn --host: only {', '.join(COMMANDS)} run through the daemon; run "
                              f"`cairn {name}` without --host", 2)
        return None, rest
    if "--root" in rest[:len(rest) - len(argv)]:
        raise ClientError("cairn: --root names a store here, but CAIRN_HOST sends the command to a daemon "
                          "(which serves its own store): give one or the other", 2)
    return forward(host, argv), rest
