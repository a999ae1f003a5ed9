"""New entries in the store's tmp/ under a random name, made exclusively, as tempfile's
mkdtemp and mkstemp make them, without loading tempfile: it imports shutil (zlib, bz2,
lzma) and random, ~5 ms of a build whose first missed step makes a temp directory."""

from __future__ import annotations

import errno
import os

_TRIES = 100  # as tempfile: a name that exists already is retried with another


def _names(parent, prefix: str):
    for _ in range(_TRIES):
        yield os.path.abspath(os.path.join(parent, prefix + os.urandom(6).hex()))
    raise FileExistsError(errno.EEXIST, "no unused temporary name found", str(parent))


def make_dir(parent, prefix: str) -> str:
    """A new, empty directory (mode 0700) `parent/<prefix><random>`; its path."""
    for path in _names(parent, prefix):
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:
            continue
        return path
    raise AssertionError("unreachable")


def make_file(parent, prefix: str) -> tuple[int, str]:
    """A new, empty file (mode 0600) `parent/<prefix><random>`, open for writing: (fd, path).
    Never follows a link standing at the name (O_EXCL)."""
    flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    for path in _names(parent, prefix):
        try:
            return os.open(path, flags, 0o600), path
        except FileExistsError:
            continue
    raise AssertionError("unreachable")
