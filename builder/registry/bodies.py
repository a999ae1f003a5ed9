"""Response bodies read as they arrive, decoded and capped by us, never whole by httpx.

httpx inflates each network chunk in one call, however large it grows (a few KB of zstd
can become gigabytes), and `.read()` keeps all of a body. Here a body comes in 64 KiB
pieces, gzip/deflate are inflated a bounded piece at a time, other encodings are refused
(we never ask for them), and `read_body` stops as soon as a cap is passed, or when the
document has taken longer than its deadline (a registry that sends one byte a minute never
trips the per-read timeout).
"""

from __future__ import annotations

import time
import zlib

import httpx

from ..bounded import collect
from .errors import RegistryError

ACCEPT_ENCODING = {"Accept-Encoding": "gzip, deflate"}
DOCUMENT_SECONDS = 240.0  # a manifest, token or error document that takes longer is refused
_CHUNK = 1 << 16


def body_chunks(response: httpx.Response):
    """The response body as it arrives, decoded from gzip/deflate in bounded pieces (httpx
    would inflate a whole network chunk at once, however large it grows)."""
    encoding = response.headers.get("content-encoding", "").strip().lower()
    if encoding in ("", "identity"):
        yield from response.iter_raw()  # as the network gives it (a chunk size would wait to fill it)
        return
    if encoding not in ("gzip", "deflate", "x-gzip"):
        raise RegistryError(f"the registry sent a body in an encoding cairn did not ask for ({encoding})")
    inflater = zlib.decompressobj(zlib.MAX_WBITS | 32)
    try:
        for data in response.iter_raw():
            while data:
                yield inflater.decompress(data, _CHUNK)
                data = inflater.unconsumed_tail
    except zlib.error as err:
        raise RegistryError(f"the registry sent a corrupt {encoding} body: {err}") from None


def _in_time(chunks, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    for chunk in chunks:
        if time.monotonic() > deadline:
            raise RegistryError(f"{what} did not arrive within {seconds:g} s")
        yield chunk


def read_body(response: httpx.Response, limit: int, what: str, seconds: float = DOCUMENT_SECONDS) -> bytes:
    """Read a streamed response under `limit` bytes and `seconds` (then `.content` and
    `.json()` work as usual)."""
    try:
        data = collect(_in_time(body_chunks(response), seconds, what), limit, what)
    finally:
        response.close()
    response._content = data  # what httpx's own read() sets
    return data
