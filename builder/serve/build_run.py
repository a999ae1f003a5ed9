"""One POST /build: `cairn build --progress json` in a child process (the same executor, cache
and store as on the command line; signals and RUN containers stay out of the server's
threads), its events turned into docker's classic builder stream by classic_stream.py (`Step N/M`,
` ---> Running in`, the output, ` ---> ID`, `Successfully built`, a failed RUN as docker words
it, with the command's exit code). A client that leaves cancels the build:
the child gets SIGINT (its RUN step is killed and its mounts and cgroups removed), then SIGKILL
if it lingers; cgroups a killed child left are reaped. A server that stops cancels its builds. The child sees none of the host's
registry logins (DOCKER_CONFIG is an empty directory): an API client cannot borrow them."""

from __future__ import annotations

import atexit
import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

from ..errors import CairnError
from .classic_stream import ClassicStream, Outline
from .jsonstream import Job, message

GRACE = 20.0          # seconds a cancelled build has to clean up before SIGKILL
MAX_EVENT = 1 << 20   # a progress line longer than this is cut (a RUN printing without newlines)


def _package_root() -> str:
    import builder

    return str(Path(builder.__file__).resolve().parent.parent)


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
        self.outline = Outline(dockerfile, target)
        self.proc: subprocess.Popen | None = None
        self._lock = threading.Lock()
        self.cancelled = False
        self.zygote = None  # (set by the route: the build is then forked warm by it, zygote_proc.py)

    def job(self) -> Job:
        return Job(self._work, self._cancel, name="cairn-serve-build")

    def _argv(self) -> list[str]:
        return [sys.executable, "-m", "builder.cli", "--root", str(self.store.root), "build", "--progress", "json",
                "--iidfile", os.path.join(self.here, "iid"), f"--file={self.dockerfile}", *self.args, self.context]

    def _spawn(self):
        from .zygote_proc import spawn

        argv = self._argv()
        proc = spawn(self.zygote, argv[5:], self.here, self._env()["DOCKER_CONFIG"])  # (after `--root ROOT`)
        if proc is not None:
            return proc
        return subprocess.Popen(argv, cwd=self.here, env=self._env(), stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)

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
                self.proc = self._spawn()
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
        """Events -> classic lines (classic_stream.py); (the error text, docker's exit code) for a failure."""
        self.stream = ClassicStream(lambda text: self._say(emit, text), self.outline, "--no-cache" in self.args,
                                    lambda image_id: emit(message(aux={"ID": image_id})),
                                    tuple(a.removeprefix("--label=") for a in self.args if a.startswith("--label=")))
        other = []
        for raw in iter(lambda: self.proc.stderr.readline(MAX_EVENT), b""):
            try:
                event = json.loads(raw)
            except ValueError:
                event = None
            if not isinstance(event, dict) or "type" not in event:
                other.append(raw.decode("utf-8", "replace").rstrip("\n"))  # the CLI's own error message
                continue
            self.stream.event(event)
        self.stream.settle_all()
        error = self.stream.error or "\n".join(line for line in other if line.strip())[-4000:] or "the build failed"
        return error, self.stream.code

    def _say(self, emit, text: str) -> None:
        if not self.quiet:
            emit(message(stream=text))

    def _succeeded(self, emit) -> None:
        try:
            image_id = Path(self.here, "iid").read_text().strip()
        except OSError:
            raise _Failed("the build ended without an image", 1) from None
        self.stream.finish(image_id)
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
