"""One POST /build: `cairn build --progress json` in a child process (the same executor, cache
and store as on the command line; signals and RUN containers stay out of the server's
threads), its events turned into docker's classic builder stream: `Step N/M : TEXT`, the step's
output, ` ---> Using cache`, `{"aux": {"ID": ...}}`, `Successfully built`/`tagged`, and a failed
RUN as docker words it, with the command's exit code. A client that leaves cancels the build:
the child gets SIGINT (its RUN step is killed and its mounts and cgroups removed), then SIGKILL
if it lingers; cgroups a killed child left are reaped. A server that stops cancels its builds. The child sees none of the host's
registry logins (DOCKER_CONFIG is an empty directory): an API client cannot borrow them."""

from __future__ import annotations

import atexit
import json
import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

from ..errors import CairnError
from .jsonstream import Job, message

GRACE = 20.0          # seconds a cancelled build has to clean up before SIGKILL
MAX_EVENT = 1 << 20   # a progress line longer than this is cut (a RUN printing without newlines)
_CODE = re.compile(r"exited with code (\d+)")


def _package_root() -> str:
    import builder

    return str(Path(builder.__file__).resolve().parent.parent)


def step_total(dockerfile: str, target: str | None) -> int:
    """docker's M in `Step N/M`: the instructions up to the end of the target stage (all without)."""
    try:
        import grammar

        with open(dockerfile, "rb") as f:
            tree = grammar.parse(f.read(16 << 20))
    except Exception:  # noqa: BLE001 - a bad Dockerfile: cairn build reports it with its line
        return 0
    total, in_target = 0, False
    for inst in tree.instructions:
        if inst.keyword.upper() == "FROM":
            if in_target:
                break
            words = [w.lower() for w in inst.args]
            in_target = bool(target) and len(words) == 3 and words[1] == "as" and words[2] == target.lower()
        total += 1
    return total


def _failed_command(text: str) -> str:
    """docker's `The command '...'`: a shell-form RUN as /bin/sh -c TEXT, an exec form joined."""
    body = text[3:].strip() if text.upper().startswith("RUN") else text
    while body.startswith("--"):  # RUN --mount=... flags
        body = body.split(None, 1)[1] if " " in body else ""
    if body.startswith("["):
        try:
            return " ".join(json.loads(body))
        except (ValueError, TypeError):
            pass
    return f"/bin/sh -c {body}"


_RUNNING: set = set()
_RUNNING_LOCK = threading.Lock()


def _cancel_all() -> None:
    """The server stops (SIGTERM): its builds are cancelled as a client leaving cancels one,
    and waited for, so that no RUN step or mount outlives it."""
    with _RUNNING_LOCK:
        runs = list(_RUNNING)
    for run in runs:
        run._cancel()
    from ..store.store import remove_tree

    for run in runs:
        if run.proc is not None:
            try:
                run.proc.wait(timeout=GRACE)
            except subprocess.TimeoutExpired:
                run._kill()
        # (the build's own thread removes its context too, but the process ends right after
        # this function: it may never get there)
        remove_tree(Path(run.here))


atexit.register(_cancel_all)


class BuildRun:
    def __init__(self, store, here: str, context: str, dockerfile: str, args: list[str], quiet: bool,
                 target: str | None = None):
        self.store, self.here, self.context, self.dockerfile = store, here, context, dockerfile
        self.args, self.quiet = args, quiet
        self.total = step_total(dockerfile, target)
        self.proc: subprocess.Popen | None = None
        self._lock = threading.Lock()
        self.cancelled = False

    def job(self) -> Job:
        return Job(self._work, self._cancel, name="cairn-serve-build")

    def _argv(self) -> list[str]:
        return [sys.executable, "-m", "builder.cli", "--root", str(self.store.root), "build", "--progress", "json",
                "--iidfile", os.path.join(self.here, "iid"), f"--file={self.dockerfile}", *self.args, self.context]

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["PYTHONPATH"] = _package_root()
        env["DOCKER_CONFIG"] = os.path.join(self.here, "no-docker-config")
        env.pop("CAIRN_ROOT", None)
        env.pop("CAIRN_HOST", None)  # (the build runs here, on this store: never sent to a server)
        return env

    def _cancel(self) -> None:
        with self._lock:
            self.cancelled = True
            if self.proc is not None and self.proc.poll() is None:
                self.proc.send_signal(signal.SIGINT)
                timer = threading.Timer(GRACE, self._kill)
                timer.daemon = True
                timer.start()

    def _kill(self) -> None:
        """A cancelled build still running after GRACE: killed, and its RUN steps' cgroups reaped."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
            from ..executor.run_step import reap_orphan_cgroups

            reap_orphan_cgroups()

    def _work(self, emit) -> None:
        from ..store.store import remove_tree

        try:
            with self._lock:
                if self.cancelled:
                    return
                with _RUNNING_LOCK:
                    _RUNNING.add(self)
                self.proc = subprocess.Popen(self._argv(), cwd=self.here, env=self._env(), stdin=subprocess.DEVNULL,
                                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            stdout = []
            reader = threading.Thread(target=lambda: stdout.append(self.proc.stdout.read(1 << 16)), daemon=True)
            reader.start()
            tail = self._relay(emit)
            code = self._finish()
            reader.join(timeout=GRACE)
            if code == 0:
                self._succeeded(emit)
            else:
                raise _Failed(*tail)
        finally:
            if self.proc is not None and self.proc.poll() is None:
                self._finish()
            with _RUNNING_LOCK:
                _RUNNING.discard(self)
            remove_tree(Path(self.here))
            self.store.close()

    def _finish(self) -> int:
        try:
            return self.proc.wait(timeout=GRACE if self.cancelled else None)
        except subprocess.TimeoutExpired:
            self._kill()
            return self.proc.returncode

    def _relay(self, emit) -> tuple[str, int]:
        """Events -> classic lines; (the error text, docker's exit code) for a failure."""
        number, steps, error, code, other = 0, {}, "", 1, []
        for raw in iter(lambda: self.proc.stderr.readline(MAX_EVENT), b""):
            try:
                event = json.loads(raw)
                kind = event["type"]
            except (ValueError, TypeError, KeyError):
                other.append(raw.decode("utf-8", "replace").rstrip("\n"))  # the CLI's own error message
                continue
            if kind in ("stage", "step"):
                number += 1
                steps[event.get("step")] = event.get("text", "")
                total = max(self.total, number)
                self._say(emit, f"Step {number}/{total} : {event.get('text', '')}\n")
            elif kind == "log":
                self._say(emit, f"{event.get('text', '')}\n")
            elif kind == "done" and event.get("cached"):
                self._say(emit, " ---> Using cache\n")
            elif kind == "warning":
                self._say(emit, f"[WARNING]: {event.get('text', '')}\n")
            elif kind == "error":
                text = steps.get(event.get("step"), "")
                m = _CODE.search(str(event.get("text", "")))
                if m and text.upper().startswith("RUN"):
                    code = int(m.group(1))
                    error = f"The command '{_failed_command(text)}' returned a non-zero code: {code}"
                else:
                    error = str(event.get("text", ""))
        if not error:
            error = "\n".join(line for line in other if line.strip())[-4000:] or "the build failed"
        return error, code

    def _say(self, emit, text: str) -> None:
        if not self.quiet:
            emit(message(stream=text))

    def _succeeded(self, emit) -> None:
        try:
            image_id = Path(self.here, "iid").read_text().strip()
        except OSError:
            raise _Failed("the build ended without an image", 1) from None
        emit(message(aux={"ID": image_id}))
        if self.quiet:  # (docker -q prints the stream: dockerd's quiet build sends just the ID in it)
            emit(message(stream=f"{image_id}\n"))
        self._say(emit, f"Successfully built {image_id.removeprefix('sha256:')[:12]}\n")
        from ..image.reference import parse_reference

        for arg in self.args:
            if arg.startswith("--tag="):
                self._say(emit, f"Successfully tagged {parse_reference(arg[6:]).familiar}\n")


class _Failed(CairnError):
    """The build failed: docker's message, and the exit code docker build exits with."""

    def __init__(self, text: str, code: int):
        super().__init__(text)
        self.exit_code = code
