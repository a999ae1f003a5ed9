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
import tempfile
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _probe(user: str, env: list[str]) -> list[str] | None:
    for candidate in (os.path.realpath(sys.executable), f"/usr/bin/python3.{sys.version_info.minor}"):
        probe = subprocess.run(["runuser", "-u", user, "--", "env", *env, candidate, "-c",
                                "import builder.cli, zstandard, xxhash"], capture_output=True, check=False)
        if probe.returncode == 0:
            return ["env", *env, candidate]
    return None


def interpreter(user: str, stage: Path) -> list[str] | None:
    """`env PYTHONPATH=... python` that the user may run with cairn's packages on its path.
    The venv's interpreter may live under a home the user cannot enter (then the system's
    python3.X), and so may the checkout and the venv (then copies in `stage`)."""
    sites = list(dict.fromkeys([sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]]))
    env = ["PYTHONDONTWRITEBYTECODE=1"]
    found = _probe(user, [f"PYTHONPATH={os.pathsep.join([str(REPO), *sites])}", *env])
    if found is not None:
        return found
    for package in ("builder", "grammar", "runtime"):
        shutil.copytree(REPO / package, stage / "src" / package)
    for i, site in enumerate(sites):
        shutil.copytree(site, stage / f"site{i}", symlinks=True,
                        ignore=shutil.ignore_patterns("pip", "pip-*", "setuptools*", "hypothesis*", "_pytest", "*.pyc"))
    os.chmod(stage, 0o755)
    paths = [str(stage / "src"), *(str(stage / f"site{i}") for i in range(len(sites)))]
    return _probe(user, [f"PYTHONPATH={os.pathsep.join(paths)}", *env])


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
    stage = Path(tempfile.mkdtemp(prefix="cairn-rootless-py-"))
    try:
        # useradd's automatic range, if it made one, gives way to the private one
        subprocess.run(["usermod", "--del-subuids", "100000-600100000", "--del-subgids", "100000-600100000", name],
                       check=False, capture_output=True)
        subprocess.run(["usermod", "--add-subuids", f"{base}-{base + 65535}", "--add-subgids",
                        f"{base}-{base + 65535}", name], check=True, capture_output=True)
        python = interpreter(name, stage)
        yield User(name, python, base) if python else None
    finally:
        shutil.rmtree(stage, ignore_errors=True)
        subprocess.run(["pkill", "-KILL", "-u", name], check=False)
        # the store holds files of the user's subordinate ids: only root removes those
        subprocess.run(["userdel", "-r", "-f", name], check=False, capture_output=True)
        shutil.rmtree(home, ignore_errors=True)
