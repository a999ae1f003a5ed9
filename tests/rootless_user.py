"""An ordinary user made for rootless runs (tests/test_rootless.py, benchmarks/rootless.py):
useradd with a subordinate id range of its own, cairn run as it from an interpreter it may
execute, and removed with everything it owns (its processes, home and store) afterwards."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
import sysconfig
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def interpreter(user: str) -> list[str] | None:
    """`env PYTHONPATH=... python` that the user may run with cairn's packages on its path
    (the venv's interpreter may live under a home the user cannot enter)."""
    paths = [str(REPO), sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]]
    env = [f"PYTHONPATH={os.pathsep.join(dict.fromkeys(paths))}", "PYTHONDONTWRITEBYTECODE=1"]
    for candidate in (os.path.realpath(sys.executable), f"/usr/bin/python3.{sys.version_info.minor}"):
        probe = subprocess.run(["runuser", "-u", user, "--", "env", *env, candidate, "-c",
                                "import builder.cli, zstandard, xxhash"], capture_output=True, check=False)
        if probe.returncode == 0:
            return ["env", *env, candidate]
    return None


class User:
    def __init__(self, name: str, python: list[str], subids: int):
        self.name, self.python, self.subids = name, python, subids
        entry = pwd.getpwnam(name)
        self.uid, self.home = entry.pw_uid, Path(entry.pw_dir)

    def command(self, *args: str, env: dict | None = None) -> list[str]:
        extra = [f"{k}={v}" for k, v in (env or {}).items()]
        return ["runuser", "-u", self.name, "--", *self.python[:-1], f"HOME={self.home}", *extra, self.python[-1],
                "-m", "builder.cli", *args]

    def cairn(self, *args: str, env: dict | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
        return subprocess.run(self.command(*args, env=env), cwd=self.home, capture_output=True, timeout=timeout,
                              check=False, text=True)

    def give(self, path: Path) -> Path:
        subprocess.run(["chown", "-R", f"{self.name}:{self.name}", str(path)], check=True)
        return path


@contextmanager
def rootless_user(prefix: str = "cairnrl"):
    """Yields a User (None when no interpreter it may run sees cairn), then removes it."""
    name = prefix + os.urandom(3).hex()
    base = 300000 + int.from_bytes(os.urandom(2), "big") * 16  # a range of its own
    subprocess.run(["useradd", "-m", "-s", "/bin/sh", name], check=True, capture_output=True)
    home = Path(pwd.getpwnam(name).pw_dir)
    try:
        # useradd's automatic range, if it made one, gives way to the private one
        subprocess.run(["usermod", "--del-subuids", "100000-600100000", "--del-subgids", "100000-600100000", name],
                       check=False, capture_output=True)
        subprocess.run(["usermod", "--add-subuids", f"{base}-{base + 65535}", "--add-subgids",
                        f"{base}-{base + 65535}", name], check=True, capture_output=True)
        python = interpreter(name)
        yield User(name, python, base) if python else None
    finally:
        subprocess.run(["pkill", "-KILL", "-u", name], check=False)
        # the store holds files of the user's subordinate ids: only root removes those
        subprocess.run(["userdel", "-r", "-f", name], check=False, capture_output=True)
        shutil.rmtree(home, ignore_errors=True)
