"""The cairn CLI as a client of `cairn serve`: with CAIRN_HOST (or `cairn --host`) set,
`cairn build|run|ps|images ...` asks the daemon to run the command (POST /cairn/cli) and hands
it this process's stdin, stdout and stderr, so that output, terminal and exit code are those of
the command run here; the daemon's imports and store stay warm between commands. Other
commands run here as always (an explicit --host for them is refused: exit 2); with a tcp://
daemon (builder/remote/) those that use a store are refused too, since here is another machine."""

from __future__ import annotations

import json
import os
import socket

from .cli_zygote import COMMANDS, ENV_PASSED


# commands that touch no store and start no container: the same wherever the daemon is
HOST_FREE = frozenset({"parse", "version", "help", "login", "logout", "serve"})


class ClientError(Exception):
    def __init__(self, message: str, code: int = 1):
        super().__init__(message)
        self.code = code


class NotOwnUser(ClientError):
    """The daemon runs cairn commands inside itself only for its own user (root): another user's
    command goes through the Engine API (builder/remote/), where this process reads its files."""


TLS_FILES = ("--tlscacert", "--tlscert", "--tlskey")


def split_host(args: list[str], tls: dict | None = None) -> tuple[str | None, list[str], bool]:
    """(host, args without a global --host, whether --host was given) from the leading global
    options; the host comes from CAIRN_HOST when no --host is given. The global TLS options
    (--tlsverify, --tlscacert/--tlscert/--tlskey FILE) go into tls."""
    out, host, given, i = [], None, False, 0
    tls = {} if tls is None else tls
    while i < len(args) and args[i].startswith("-"):
        arg = args[i]
        if arg in ("--host", "-H") and i + 1 < len(args):
            host, given, i = args[i + 1], True, i + 2
            continue
        if arg.startswith("--host="):
            host, given, i = arg.split("=", 1)[1], True, i + 1
            continue
        if arg == "--tlsverify":
            tls["verify"], i = True, i + 1
            continue
        if arg in TLS_FILES and i + 1 < len(args):
            tls[arg[5:]], i = args[i + 1], i + 2
            continue
        if arg.split("=", 1)[0] in TLS_FILES:
            key, _, value = arg.partition("=")
            tls[key[5:]], i = value, i + 1
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


def forward(host: str, argv: list[str], value_options=None) -> int:
    """Run argv (`build ...`) through the daemon at host; its exit code. value_options: as
    client_build_args takes it (None: the argv goes as it is)."""
    if not host.startswith("unix://"):
        raise ClientError(f"CAIRN_HOST={host}: expected unix:///PATH (a daemon on this machine) or "
                          f"tcp://HOST:PORT (one on another machine)", 2)
    path = host.removeprefix("unix://")
    env = {k: os.environ[k] for k in ENV_PASSED if k in os.environ}
    if argv[:1] == ["build"] and value_options is not None:
        argv = client_build_args(argv, value_options)
        env.update(client_secret_env(argv, value_options))
    body = json.dumps({"argv": argv, "cwd": os.getcwd(), "env": env}).encode()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        try:
            sock.connect(path)
        except OSError as err:
            raise ClientError(f"cannot reach the cairn daemon at {host}: {err.strerror or err}") from None
        sock.sendall(b"POST /cairn/cli HTTP/1.1\r\nHost: cairn\r\nContent-Type: application/json\r\n"
                     b"Connection: Upgrade\r\nUpgrade: cairn-cli\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        status, rest = _head(sock)
        if status == 403:
            raise NotOwnUser(f"cairn daemon at {host}: {_message(rest)}")
        if status != 101:
            raise ClientError(f"cairn daemon at {host}: {_message(rest)}", 2 if status == 400 else 1)
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


def client_build_args(argv: list[str], value_options) -> list[str]:
    """`build`'s argv with each `--build-arg NAME` (no value: the environment's, as docker
    takes it) made `--build-arg=NAME=VALUE` from this process's environment, or left out when
    NAME is not set here (as a build run here skips it): the worker runs with the daemon's
    environment, where NAME is another value or none (redteam: the client's value was never
    used, and a rebuild after it changed was answered as before). value_options(): the build
    command's options that take a value (builder/cli.py's, which may load the commands)."""
    bare = [a.partition("=")[2] for a in argv if a.startswith("--build-arg=")] + \
        [argv[i + 1] for i, a in enumerate(argv[:-1]) if a == "--build-arg"]
    if all("=" in item for item in bare):  # (NAME=VALUE only, or none: most builds, which pay no import)
        return argv
    takes_value = value_options()  # (only now: it loads click and the build command)
    out, i = argv[:1], 1
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            out += argv[i:]
            break
        if arg == "--build-arg" and i + 1 < len(argv) or arg.startswith("--build-arg="):
            item = arg.partition("=")[2] if "=" in arg else argv[i + 1]
            i += 1 if "=" in arg else 2
            name, eq, _ = item.partition("=")
            if eq or not name:
                out.append(f"--build-arg={item}")
            elif name in os.environ:
                out.append(f"--build-arg={name}={os.environ[name]}")
            continue
        out.append(arg)
        i += 1
        if arg in takes_value and i < len(argv):  # (its value, whatever it looks like)
            out.append(argv[i])
            i += 1
    return out


def client_secret_env(argv: list[str], value_options) -> dict[str, str]:
    """The variables of this process's environment that `build`'s --secret options are read
    from (`id=X,env=Y`: Y; `id=X` alone: X when it is set), for the request's env: the worker
    reads a secret's variable from what the client sent, never from the daemon's environment
    (review: the daemon's value, or none, was the secret, whatever the client's)."""
    if not any(a == "--secret" or a.startswith("--secret=") for a in argv):
        return {}  # (most builds: no import)
    from ..secret_option import secret_variables

    return {name: os.environ[name] for name in secret_variables(argv, value_options()) if name in os.environ}


def _message(body: bytes) -> str:
    try:
        return str(json.loads(body)["message"])
    except (ValueError, KeyError, TypeError):
        return body.decode("utf-8", "replace").strip()


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


def maybe_forward(args: list[str], remote=None, value_options=None) -> tuple[int | None, list[str]]:
    """(exit code, None-if-run-here) for the command line: a forwarded command's code, or None
    and the args to run here (without a global --host). remote(host, tls options, argv) runs
    a command on a tcp:// daemon (builder/remote/); value_options() names the build command's
    options that take a value (client_build_args)."""
    tls: dict = {}
    host, rest, given = split_host(args, tls)
    if host is None:
        if tls:
            raise ClientError("cairn: --tlsverify, --tlscacert, --tlscert and --tlskey are for a daemon at "
                              "--host tcp://HOST:PORT (or CAIRN_HOST)", 2)
        return None, rest
    name, argv = command_of(rest)
    if host.startswith("tcp://") and name is not None and name not in COMMANDS and name not in HOST_FREE:
        # (run here, `cairn rm` or `logs` would act on this machine's store, not the daemon's)
        raise ClientError(f"cairn {name}: only {', '.join(sorted(COMMANDS))} go to a daemon at {host}; "
                          f"it speaks Docker's Engine API, so `docker -H {host} --tlsverify ... {name}` "
                          f"reaches it, or unset CAIRN_HOST to use this machine's store", 2)
    if name not in COMMANDS or "-h" in argv or "--help" in argv:
        if given and name is not None and name not in COMMANDS:
            raise ClientError(f"cairn --host: only {', '.join(COMMANDS)} run through the daemon; run "
                              f"`cairn {name}` without --host", 2)
        return None, rest
    if "--root" in rest[:len(rest) - len(argv)]:
        raise ClientError("cairn: --root names a store here, but CAIRN_HOST sends the command to a daemon "
                          "(which serves its own store): give one or the other", 2)
    if host.startswith("tcp://") and remote is not None:
        return remote(host, tls, argv), rest
    if tls:
        raise ClientError(f"cairn: TLS options are for a tcp:// daemon, not {host} (a unix socket is guarded by "
                          f"its mode and group)", 2)
    try:
        return forward(host, argv, value_options), rest
    except NotOwnUser:
        if remote is None:
            raise
    # (not the daemon's user: as docker's CLI, this process reads the context and writes --iidfile itself)
    return remote(host, tls, argv), rest
