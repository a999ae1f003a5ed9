"""A POST /build's `cairn build` run by the zygote (cli_zygote.py) instead of a new interpreter:
forked warm (no start-up, no imports), and with the stat cache's rows the daemon keeps in
memory (cache/stat_memory.py). ZygoteProc offers the part of subprocess.Popen that
build_run.py uses: stdout and stderr pipes, poll, wait, send_signal (SIGINT) and kill."""

from __future__ import annotations

import os
import signal
import subprocess

from .cli_zygote import MAX_MESSAGE


def spawn(zygote, argv: list[str], cwd: str, docker_config: str):
    """A ZygoteProc for `cairn ARGV` (argv without the program and --root), or None when it cannot
    go through the zygote (a command line over its message size): the caller starts a process."""
    if zygote is None or sum(len(a) + 8 for a in argv) + len(cwd) + len(docker_config) > MAX_MESSAGE - 1024:
        return None
    return ZygoteProc(zygote, argv, cwd, docker_config)


class ZygoteProc:
    def __init__(self, zygote, argv: list[str], cwd: str, docker_config: str):
        self.zygote, self.args, self.returncode = zygote, argv, None
        null = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
        out_r, out_w = os.pipe2(os.O_CLOEXEC)
        err_r, err_w = os.pipe2(os.O_CLOEXEC)
        try:
            self.rid, self._slot = zygote.start(argv, cwd, {}, [null, out_w, err_w], docker_config)
        except BaseException:
            os.close(out_r)
            os.close(err_r)
            raise
        finally:
            for fd in (null, out_w, err_w):
                os.close(fd)
        self.stdout = os.fdopen(out_r, "rb")
        self.stderr = os.fdopen(err_r, "rb")

    def poll(self) -> int | None:
        if self.returncode is None and self._slot[0].is_set():
            self.returncode = self._slot[1]
            self.zygote.done(self.rid)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if not self._slot[0].wait(timeout):
            raise subprocess.TimeoutExpired(self.args, timeout)
        return self.poll()

    def send_signal(self, sig: int) -> None:
        if self.poll() is None:
            self.zygote.cancel(self.rid, hard=sig == signal.SIGKILL)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)
