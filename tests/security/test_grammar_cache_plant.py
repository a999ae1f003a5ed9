"""A local user must not make someone else's cairn run code by planting the grammar's cache.

Lark keeps its compiled tables as a pickle and unpickles it on the next start. Its default
(cache=True) is a predictable name in the shared temp directory: any local user could plant a
pickle there and root's next `cairn parse` or `cairn build` would run it. cairn keeps the cache
only in a directory that no one but its user can write, or keeps none.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path

import lark

from grammar.instruction_line import private_cache_file

from ..conftest import REPO


class _Payload:
    """Unpickling this creates the marker file: proof that the planted code ran."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (str(self.marker),))


def _plant(path: Path, marker: Path) -> None:
    # Lark reads a digest line, then unpickles: the payload runs before any check
    path.write_bytes(b"0" * 64 + b"\n" + pickle.dumps(_Payload(marker)) + pickle.dumps({}))


def _parse(tmp_path: Path, env: dict) -> subprocess.CompletedProcess:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text("FROM scratch\nCOPY --chown=1:1 a b\n")
    return subprocess.run([sys.executable, "-m", "builder.cli", "parse", str(dockerfile)], cwd=REPO,
                          capture_output=True, timeout=60, env=env)


def test_a_pickle_planted_under_lark_default_name_in_the_shared_tmp_is_not_loaded(tmp_path):
    shared_tmp = tmp_path / "tmp"
    shared_tmp.mkdir()
    shared_tmp.chmod(0o1777)
    # the name Lark's default would use, learnt by letting Lark write it once
    learn = ("import lark; from grammar.instruction_line import _read_grammar; "
             "lark.Lark(_read_grammar(), parser='lalr', lexer='contextual', cache=True)")
    subprocess.run([sys.executable, "-c", learn], cwd=REPO, check=True, env={**os.environ, "TMPDIR": str(shared_tmp)})
    [default_cache] = shared_tmp.glob(".lark_*")
    marker = tmp_path / "planted-code-ran"
    _plant(default_cache, marker)

    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "XDG_CACHE_HOME"}
    res = _parse(tmp_path, {**env, "TMPDIR": str(shared_tmp), "HOME": str(home)})

    assert res.returncode == 0, res.stderr.decode()
    assert b"(copy" in res.stdout
    assert not marker.exists(), "cairn unpickled a file any local user could write"
    # and it keeps its own cache where only its user can write
    cache_dir = home / ".cache" / "cairn"
    assert oct(cache_dir.stat().st_mode & 0o777) == oct(0o700)
    assert list(cache_dir.iterdir()), "the grammar cache was not kept (every start would rebuild it)"


def test_a_cache_directory_others_can_write_is_not_used(tmp_path):
    shared = tmp_path / "shared-cache"
    (shared / "cairn").mkdir(parents=True)
    shared.chmod(0o777)
    (shared / "cairn").chmod(0o777)
    marker = tmp_path / "planted-code-ran"
    _plant(shared / "cairn" / f"dockerfile-grammar-lark-{lark.__version__}.pickle", marker)

    res = _parse(tmp_path, {**os.environ, "XDG_CACHE_HOME": str(shared)})

    assert res.returncode == 0, res.stderr.decode()
    assert not marker.exists(), "cairn unpickled a file in a directory others can write"


def test_the_cache_file_is_private_or_absent(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "mine"))
    assert private_cache_file("1.0") == str(tmp_path / "mine" / "cairn" / "dockerfile-grammar-lark-1.0.pickle")
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/dir")
    assert private_cache_file("1.0") is None
    link = tmp_path / "link"
    link.symlink_to(tmp_path / "mine")
    monkeypatch.setenv("XDG_CACHE_HOME", str(link))
    assert private_cache_file("1.0") is None
