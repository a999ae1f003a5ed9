"""`cairn run` on a remote daemon, as docker's CLI does it: create the container, attach to it
(a hijacked stream: docker's multiplexed frames, the raw bytes with -t; this process's stdin
sent with -i) before starting it, start, then wait and exit with the container's status. -d
prints the container's ID. -v names the daemon's paths (as docker's), -e NAME takes the value
from this process's environment (as docker's CLI does)."""

from __future__ import annotations

import json
import os
import sys
import threading

from .conn import SMALL, RemoteError


def create_body(p: dict) -> dict:
    env = []
    for item in p["env"]:
        if "=" in item:
            env.append(item)
        elif item in os.environ:  # docker's CLI: `-e NAME` is the client's value, or nothing
            env.append(f"{item}={os.environ[item]}")
    exposed, bindings = {}, {}
    for spec in p["ports"]:
        body, _, proto = spec.partition("/")
        parts = body.rsplit(":", 2)
        if len(parts) < 2:
            raise RemoteError(f"invalid -p {spec!r}: expected HOST:CTR[/udp] or IP:HOST:CTR[/udp]", 2)
        ip, host, ctr = (parts[0] if len(parts) == 3 else ""), parts[-2], parts[-1]
        key = f"{ctr}/{proto or 'tcp'}"
        exposed[key] = {}
        bindings.setdefault(key, []).append({"HostIp": ip, "HostPort": host})
    host_config = {"Binds": list(p["volumes"]), "PortBindings": bindings, "AutoRemove": bool(p["remove"]),
                   "NetworkMode": p["network"] or "bridge", "Init": bool(p["init"])}
    if p["memory"]:
        from ..units import ram_in_bytes

        try:
            host_config["Memory"] = ram_in_bytes(p["memory"])
        except ValueError:
            raise RemoteError(f"invalid --memory {p['memory']!r}: write it like 512m or 1g", 2) from None
    if p["cpus"] is not None:
        host_config["NanoCpus"] = int(p["cpus"] * 1e9)
    if p["pids_limit"] is not None:
        host_config["PidsLimit"] = p["pids_limit"]
    host_config.update(Privileged=bool(p["privileged"]), ReadonlyRootfs=bool(p["read_only"]),
                       CapAdd=list(p["cap_add"]), CapDrop=list(p["cap_drop"]), ExtraHosts=list(p["add_hosts"]),
                       Dns=list(p["dns"]), DnsSearch=list(p["dns_search"]), DnsOptions=list(p["dns_options"]),
                       PublishAllPorts=bool(p["publish_all"]),
                       Tmpfs=dict((t.split(":", 1) + [""])[:2] for t in p["tmpfs"]))
    body = {"Image": p["image"], "Labels": dict(item.partition("=")[::2] for item in p["labels"]),
            "StopSignal": p["stop_signal"] or "", "Env": env, "Tty": bool(p["tty"]), "OpenStdin": bool(p["interactive"]),
            "StdinOnce": bool(p["interactive"]), "AttachStdin": bool(p["interactive"]),
            "AttachStdout": not p["detach"], "AttachStderr": not p["detach"], "WorkingDir": p["workdir"] or "",
            "User": p["user"] or "", "Hostname": p["hostname"] or "", "ExposedPorts": exposed,
            "HostConfig": host_config}
    if p["stop_timeout"] is not None:
        body["StopTimeout"] = p["stop_timeout"]
    if p["command"]:
        body["Cmd"] = list(p["command"])
    if p["entrypoint"] is not None:
        body["Entrypoint"] = [p["entrypoint"]] if p["entrypoint"] else [""]
    return body


def run(daemon, p: dict) -> int:
    if p["detach"] and (p["interactive"] or p["tty"]):
        raise RemoteError("-d cannot be combined with -i or -t", 2)
    cid = _create(daemon, p)
    if p["detach"]:
        _start(daemon, cid)
        print(cid)
        return 0
    attach = _attach(daemon, cid, {"stdout": 1, "stderr": 1})
    done = threading.Event()
    out = threading.Thread(target=_copy_out, args=(attach, bool(p["tty"]), done), daemon=True)
    out.start()
    if p["interactive"]:  # (on a connection of its own: its close is the end of input, also over TLS)
        stdin = _attach(daemon, cid, {"stdin": 1})
        threading.Thread(target=_copy_in, args=(stdin,), daemon=True).start()
    # (asked before the start, as docker's CLI asks, and its head read: the daemon has found the
    # container and noted its state, so a --rm container that is gone by the end still answers)
    waiting = daemon.request("POST", f"/containers/{cid}/wait", {"condition": "removed" if p["remove"] else
                                                                 "next-exit"})
    if waiting.status != 200:
        message = waiting.message(waiting.read_all())
        waiting.close()
        attach.close()
        raise RemoteError(message)
    stop_proxy = None if p["tty"] and p["interactive"] else _proxy_signals(daemon, cid)  # (raw tty: ^C is a key)
    try:
        _start(daemon, cid)
        status = _wait(daemon, cid, waiting, p["tty"] and p["interactive"])
    except RemoteError:
        attach.close()
        raise
    finally:
        if stop_proxy is not None:
            stop_proxy()
    done.wait(60)  # (the daemon ends the stream when the container's output is all sent)
    attach.close()
    code = (status or {}).get("StatusCode", 1)
    error = ((status or {}).get("Error") or {}).get("Message")
    if error:
        print(f"error: {error}", file=sys.stderr)
    return int(code) if isinstance(code, int) else 1


def _create(daemon, p: dict) -> str:
    """The container's ID; an image the daemon lacks is pulled first (as docker's CLI does, and
    as a local `cairn run` does with --pull missing)."""
    query = {"name": p["name"]} if p["name"] else None
    for attempt in (1, 2):
        reply = daemon.request("POST", "/containers/create", query, create_body(p))
        with reply:
            data = reply.read_all(SMALL)
        if reply.status == 201:
            return json.loads(data)["Id"]
        message = reply.message(data)
        if reply.status != 404 or "image" not in message.lower() or attempt == 2:
            raise RemoteError(message, 125)  # (docker run's status when the daemon refuses)
        print(f"Unable to find image '{p['image']}' locally", file=sys.stderr)
        name, _, tag = p["image"].rpartition(":") if ":" in p["image"].rsplit("/", 1)[-1] else (p["image"], "", "")
        pull = daemon.request("POST", "/images/create", {"fromImage": name or p["image"], "tag": tag or "latest"})
        with pull:
            if pull.status != 200:
                raise RemoteError(pull.message(pull.read_all()), 125)
            for doc in pull.lines():
                if isinstance(doc, dict) and doc.get("error"):
                    raise RemoteError(str(doc["error"]), 125)
    raise AssertionError("unreachable")


def _wait(daemon, cid: str, waiting, tty: bool) -> dict:
    """The container's exit (waiting: the reply to the wait asked before the start)."""
    restore = _raw_terminal() if tty else None
    try:
        with waiting as reply:
            data = reply.read_all(SMALL)
        return json.loads(data) if data.strip() else {}
    finally:
        if restore is not None:
            restore()


def _proxy_signals(daemon, cid: str):
    """Ctrl-C (SIGINT) and SIGTERM sent on to the container (docker's --sig-proxy) while the
    command waits for it; the third one leaves (exit 130). The function that stops it."""
    import signal

    got = []

    def handler(signo, _frame):
        got.append(signo)
        if len(got) >= 3:
            raise KeyboardInterrupt
        name = signal.Signals(signo).name
        threading.Thread(target=_kill, args=(daemon, cid, name), daemon=True).start()
    old = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    return lambda: [signal.signal(s, h) for s, h in old.items()]


def _kill(daemon, cid: str, name: str) -> None:
    try:
        daemon.request("POST", f"/containers/{cid}/kill", {"signal": name}).close()
    except RemoteError:
        pass


def _raw_terminal():
    """With -t on a terminal: its raw mode (keys go to the container's tty as typed), and the
    function that puts it back."""
    if not os.isatty(0):
        return None
    import termios
    import tty

    saved = termios.tcgetattr(0)
    tty.setraw(0)
    return lambda: termios.tcsetattr(0, termios.TCSADRAIN, saved)


def _start(daemon, cid: str) -> None:
    reply = daemon.request("POST", f"/containers/{cid}/start")
    with reply:
        data = reply.read_all(SMALL)
        if reply.status not in (204, 304):
            raise RemoteError(reply.message(data), 125 if reply.status != 400 else 127)


def _copy_out(reply, tty: bool, done: threading.Event) -> None:
    """The stream to stdout and stderr: raw with a TTY, else docker's frames."""
    try:
        f = reply.file
        if tty:
            while data := f.read1(65536):
                _write(1, data)
            return
        while True:
            head = f.read(8)
            if len(head) < 8:
                return
            size = int.from_bytes(head[4:8], "big")
            fd = 2 if head[0] == 2 else 1
            while size:
                data = f.read1(min(size, 65536))
                if not data:
                    return
                size -= len(data)
                _write(fd, data)
    except (OSError, ValueError):
        pass
    finally:
        done.set()


def _write(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _copy_in(reply) -> None:
    """This process's stdin to the container's; then the connection is closed: the end of
    input (a TLS socket has no half-close in Python's ssl: the output comes on another one)."""
    try:
        while data := os.read(0, 65536):
            reply.sock.sendall(data)
    except OSError:
        pass
    finally:
        reply.close()


def _attach(daemon, cid: str, streams: dict):
    reply = daemon.request("POST", f"/containers/{cid}/attach", {"stream": 1, **streams},
                           headers={"Connection": "Upgrade", "Upgrade": "tcp"})
    if reply.status not in (101, 200):
        message = reply.message(reply.read_all())
        reply.close()
        raise RemoteError(message)
    return reply
