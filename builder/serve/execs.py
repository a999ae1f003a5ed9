"""docker exec through the API: POST /containers/{id}/exec makes an exec instance (kept in
this server's memory, as dockerd keeps them), POST /exec/{id}/start runs it (hijacked: its
stdout and stderr as docker's frames, raw with a TTY; stdin from the client), GET
/exec/{id}/json tells its ExitCode. The process is started by `cairn exec` in a subprocess
(spawned, never forked from the server's threads), which is how exec enters a container."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

from .attach import CHUNK, frame
from .create_body import client_env
from .errors import ApiError, bad_request, conflict, not_found
from .http import Response, json_response

MAX_EXECS = 1024
_EXECS: dict[str, dict] = {}
_LOCK = threading.Lock()


def _strings(value, what: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise bad_request(f"{what} must be a list of strings")
    return value


def create(ctx, request, key: str) -> Response:
    from .containers import find

    body = request.json()
    cmd = _strings(body.get("Cmd"), "Cmd")
    if not cmd:
        raise bad_request("No exec command specified")
    with ctx.store() as store:
        c = find(store, key)
    if not c.running():
        raise conflict(f"Container {c.id} is not running")
    record = {"ID": os.urandom(32).hex(), "ContainerID": c.id, "Cmd": cmd, "Env": list(client_env(body.get("Env"))),
              "User": str(body.get("User") or ""), "WorkingDir": str(body.get("WorkingDir") or ""),
              "Tty": bool(body.get("Tty")), "AttachStdin": bool(body.get("AttachStdin")),
              "Privileged": bool(body.get("Privileged")), "Running": False, "ExitCode": None, "Pid": 0}
    with _LOCK:
        if len(_EXECS) >= MAX_EXECS:  # forget the oldest finished ones
            for old in [k for k, v in _EXECS.items() if not v["Running"]][:MAX_EXECS // 2]:
                del _EXECS[old]
        _EXECS[record["ID"]] = record
    return json_response({"Id": record["ID"]}, 201)


def _get(exec_id: str) -> dict:
    with _LOCK:
        record = _EXECS.get(exec_id)
    if record is None:
        raise not_found(f"No such exec instance: {exec_id}")
    return record


def _argv(ctx, record: dict, detach: bool) -> list[str]:
    args = [sys.executable, "-m", "builder.cli", "--root", str(ctx.root), "exec"]
    if record["AttachStdin"] and not detach:
        args.append("-i")
    if record["Tty"]:
        args.append("-t")
    if detach:
        args.append("-d")
    if record["User"]:
        args += ["-u", record["User"]]
    if record["WorkingDir"]:
        args += ["-w", record["WorkingDir"]]
    for e in record["Env"]:
        args += ["-e", e]
    if record["Privileged"]:
        args.append("--privileged")
    return args + [record["ContainerID"], *record["Cmd"]]  # (cairn exec: all after the container is the command)


def _spawn(ctx, record: dict, detach: bool, stdin) -> subprocess.Popen:
    from .ctr_run import child_env

    return subprocess.Popen(_argv(ctx, record, detach), stdin=stdin, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT if record["Tty"] else subprocess.PIPE, env=child_env(), close_fds=True)


def start(ctx, request, exec_id: str) -> Response:
    record = _get(exec_id)
    body = request.json()
    with _LOCK:
        if record["Running"] or record["ExitCode"] is not None:
            raise conflict(f"Exec instance {exec_id} has already been started")
        record["Running"] = True
    if body.get("Detach"):
        proc = _spawn(ctx, record, True, subprocess.DEVNULL)
        out, _ = proc.communicate(timeout=120)
        record.update(Running=False, ExitCode=proc.returncode)
        if proc.returncode:
            raise ApiError(500, (out or b"").decode("utf-8", "replace").strip()[:1000] or "exec failed")
        return Response(200, b"")
    tty = record["Tty"]

    def session(rfile, wfile, _sock) -> None:
        proc = _spawn(ctx, record, False, subprocess.PIPE if record["AttachStdin"] else subprocess.DEVNULL)
        record["Pid"] = proc.pid
        lock = threading.Lock()

        def pump_out(src, stream: int) -> None:
            while data := os.read(src.fileno(), CHUNK):
                with lock:
                    try:
                        wfile.write(data if tty else frame(data, stream))
                        wfile.flush()
                    except (OSError, ValueError):
                        pass

        def pump_in() -> None:
            try:
                while data := rfile.read1(CHUNK):
                    proc.stdin.write(data)
                    proc.stdin.flush()
            except (OSError, ValueError):
                pass
            finally:
                try:
                    proc.stdin.close()
                except OSError:
                    pass

        threads = [threading.Thread(target=pump_out, args=(proc.stdout, 1), daemon=True)]
        if proc.stderr is not None:
            threads.append(threading.Thread(target=pump_out, args=(proc.stderr, 2), daemon=True))
        for t in threads:
            t.start()
        if proc.stdin is not None:
            threading.Thread(target=pump_in, daemon=True).start()
        try:
            for t in threads:
                t.join()
            record.update(ExitCode=proc.wait())
        finally:
            if proc.poll() is None:  # the client went: the exec goes with it
                proc.kill()
                record.update(ExitCode=proc.wait())
            record["Running"] = False

    media = "application/vnd.docker.raw-stream" if tty else "application/vnd.docker.multiplexed-stream"
    if "upgrade" in request.headers.get("connection", "").lower():
        return Response(101, None, media, {"Connection": "Upgrade", "Upgrade": "tcp"}, hijack=session)
    return Response(200, None, media, hijack=session)


def inspect(_ctx, _request, exec_id: str) -> Response:
    r = _get(exec_id)
    return json_response({"ID": r["ID"], "ContainerID": r["ContainerID"], "Running": r["Running"],
                          "ExitCode": r["ExitCode"], "Pid": r["Pid"], "OpenStdin": r["AttachStdin"],
                          "ProcessConfig": {"entrypoint": r["Cmd"][0], "arguments": r["Cmd"][1:], "tty": r["Tty"],
                                            "user": r["User"], "privileged": r["Privileged"]},
                          "CanRemove": False, "DetachKeys": "", "OpenStdout": True, "OpenStderr": True})


def resize(_ctx, _request, exec_id: str) -> Response:
    _get(exec_id)
    return Response(200, b"")
