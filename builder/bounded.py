"""Reading untrusted documents under a cap: never more than the cap in memory, and a clear error.

A registry, an archive or a cache directory decides how large the manifest, index, config,
token or error body it hands us is. Each is read here, in chunks, and the read stops as soon
as the cap is passed, so a hostile 2 GB "manifest" costs at most the cap plus one chunk.
JSON from outside is parsed by `loads_json`, which also refuses nesting Python cannot
recurse through.
"""

from __future__ import annotations

import json
import os
import stat
from typing import Iterable

from .errors import CairnError

DOCKERFILE_LIMIT = 16 << 20  # a .dockerignore (BuildKit's cap for a Dockerfile)
MANIFEST_LIMIT = 4 << 20   # a manifest, an index, docker's manifest.json (containerd's cap too)
CONFIG_LIMIT = 64 << 20    # an image config or a cache config
TOKEN_LIMIT = 1 << 20      # a token server's reply
ERROR_BODY_LIMIT = 64 << 10  # a registry's error document: beyond this it is not read
_CHUNK = 1 << 16


class TooLargeError(CairnError):
    """A document from outside is larger than cairn reads for its kind."""


def size_text(n: int) -> str:
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 1 << shift and n % (1 << shift) == 0:
            return f"{n >> shift} {unit}"
    return f"{n} bytes"


def too_large(what: str, limit: int) -> TooLargeError:
    return TooLargeError(f"{what} is larger than {size_text(limit)}, more than cairn reads")


def collect(chunks: Iterable[bytes], limit: int, what: str) -> bytes:
    """Join chunks into bytes, raising TooLargeError as soon as they pass `limit` bytes."""
    out = bytearray()
    for chunk in chunks:
        out += chunk
        if len(out) > limit:
            raise too_large(what, limit)
    return bytes(out)


def read_stream(f, limit: int, what: str) -> bytes:
    """All of a binary file object, up to `limit` bytes."""
    return collect(iter(lambda: f.read(_CHUNK), b""), limit, what)


def read_file(path, limit: int, what: str) -> bytes:
    with open(path, "rb") as f:
        return read_stream(f, limit, what)


def open_regular_file(path, what: str, allow_fifo: bool = False):
    """A binary file object of the regular file at path (links followed). Anything else (a
    device, a directory, a FIFO unless allowed) is refused without being opened for reading:
    it is looked at through an O_PATH fd first, so no open can block or touch a device."""
    try:
        pfd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except OSError as err:
        raise CairnError(f"cannot read {what}: {err.strerror}") from None
    try:
        mode = os.fstat(pfd).st_mode
        if not (stat.S_ISREG(mode) or (allow_fifo and stat.S_ISFIFO(mode))):
            raise CairnError(f"cannot read {what}: not a regular file")
        return open(f"/proc/self/fd/{pfd}", "rb")
    finally:
        os.close(pfd)


def read_regular_file(path, limit: int, what: str) -> bytes:
    """The bytes of the regular file at path, up to `limit` (see open_regular_file)."""
    with open_regular_file(path, what) as f:
        return read_stream(f, limit, what)


def loads_json(raw: bytes | str, what: str, error: type[Exception] = CairnError):
    """json.loads for outside input: bad JSON and absurd nesting are `error`, never a crash."""
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as err:
        raise error(f"{what} is not valid JSON: {err}") from None
    except RecursionError:
        raise error(f"{what} is not valid JSON: nested too deeply") from None
