"""Response bodies read as they arrive, decoded and capped by us, never whole by httpx.

httpx inflates each network chunk in one call, however large it grows (a few KB of zstd
can become gigabytes), and `.read()` keeps all of a body. Here a body comes in 64 KiB
pieces, gzip/deflate are inflated a bounded piece at a time, other encodings are refused
(we never ask for them), and `read_body` stops as soon as a cap is passed.
"""

from __future__ import annotations

import zlib

import httpx

from ..bounded import collect
from .errors import RegistryError

ACCEPT_ENCODING = {"Accept-Encoding": "gzip, deflate"}
_CHUNK = 1 << 16


def body_chunks(response: httpx.Response):
    """The response body as it arrives, decoded from gzip/deflate in bounded pieces (httpx
    would inflate a whole network chunk at once, however large it grows)."""
    encoding = response.headers.get("content-encoding", "").strip().lower()
    if encoding in ("", "identity"):
        yield from response.iter_raw(_CHUNK)
        return
    if encoding not in ("gzip", "deflate", "x-gzip"):
        raise RegistryError(f"the registry sent a body in an encoding cairn did not ask for ({encoding})")
    inflater = zlib.decompressobj(zlib.MAX_WBITS | 32)
    try:
        for data in response.iter_raw(_CHUNK):
            while data:
                yield inflater.decompress(data, _CHUNK)
                data = inflater.unconsumed_tail
    except zlib.error as err:
        raise RegistryError(f"the registry sent a corrupt {encoding} body: {err}") from None


def read_body(response: httpx.Response, limit: int, what: str) -> bytes:
    """Read a streamed response under `limit` (then `.content`, `.json()` work as usual)."""
    try:
        data = collect(body_chunks(response), limit, what)
    finally:
        response.close()
    response._content = data  # what httpx's own read() sets
    return data
