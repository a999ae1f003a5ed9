"""Run cairn as an attacker's victim: in a child process under an address-space limit,
reporting its exit code, its stderr and the most memory it held (ru_maxrss of that child)."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

from tests.conftest import REPO

# What a cairn command may take while refusing hostile input: it never needs more than
# its caps (4 MiB manifests, 1 MiB tokens, 64 MiB configs) plus the interpreter itself.
MEMORY_CEILING = 1 << 30


@dataclass(frozen=True)
class Outcome:
    returncode: int
    stderr: str
    max_rss: int  # bytes

    def clean_error(self) -> bool:
        """Failed with a message, not a traceback or an internal error."""
        return (self.returncode not in (0, None) and "Traceback" not in self.stderr
                and "internal error" not in self.stderr and "MemoryError" not in self.stderr)


def cairn_limited(*args: str, root, limit: int = MEMORY_CEILING, env: dict | None = None,
                  timeout: float = 120) -> Outcome:
    """`cairn ARGS` with RLIMIT_AS = limit: a read that is not bounded dies instead of
    taking the machine's memory, and shows up as a MemoryError or a large max_rss."""
    def set_limit():
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    full_env = {**os.environ, "CAIRN_ROOT": str(root), **(env or {})}
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen([sys.executable, "-m", "builder.cli", *args], cwd=REPO, env=full_env,
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
                                preexec_fn=set_limit)
        _, status, usage = _wait4(proc.pid, timeout)
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        err.seek(0)
        text = err.read().decode(errors="replace")
    return Outcome(proc.returncode, text, usage.ru_maxrss * 1024)


def _wait4(pid: int, timeout: float):
    """os.wait4 with a deadline (the child is killed when it passes)."""
    deadline = time.monotonic() + timeout
    while True:
        wpid, status, usage = os.wait4(pid, os.WNOHANG)
        if wpid == pid:
            return wpid, status, usage
        if time.monotonic() > deadline:
            os.kill(pid, 9)
            return os.wait4(pid, 0)
        time.sleep(0.05)
