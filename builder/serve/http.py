"""HTTP/1.1 on one connection, with every size bounded: the request line, the headers (count
and bytes) and the body (Content-Length or chunked). A request over a bound is refused with
docker's JSON error and the connection is closed."""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qs, unquote, urlsplit

from .errors import ApiError

_HEX = re.compile(rb"[0-9A-Fa-f]{1,16}")

MAX_LINE = 8192          # the request line, and each header line
MAX_HEADERS = 100
MAX_HEADER_BYTES = 64 * 1024
MAX_BODY = 1024 * 1024   # JSON bodies (container create, ...)

REASONS = {101: "UPGRADED", 200: "OK", 201: "Created", 204: "No Content", 304: "Not Modified", 400: "Bad Request",
           404: "Not Found", 405: "Method Not Allowed", 409: "Conflict", 411: "Length Required",
           413: "Payload Too Large", 414: "URI Too Long", 431: "Request Header Fields Too Large",
           500: "Internal Server Error", 501: "Not Implemented", 505: "HTTP Version Not Supported"}


class Closed(Exception):
    """The client closed the connection between requests."""


class Request:
    def __init__(self, method: str, target: str, headers: dict[str, str], rfile):
        self.method = method
        parts = urlsplit(target)
        self.path = unquote(parts.path)
        self.query_lists = parse_qs(parts.query, keep_blank_values=True)  # (names=a&names=b)
        self.query = {k: v[-1] for k, v in self.query_lists.items()}
        self.headers = headers
        self._rfile = rfile
        self._body: bytes | None = None
        self.keep_alive = headers.get("connection", "").lower() != "close"

    def body(self, limit: int = MAX_BODY) -> bytes:
        if self._body is None:
            try:
                self._body = _read_body(self._rfile, self.headers, limit)
            except ApiError:
                self.keep_alive = False  # the rest of the body is unread: the connection ends
                raise
        return self._body

    def json(self) -> dict:
        data = self.body()
        if not data.strip():
            return {}
        try:
            doc = json.loads(data)
        except (ValueError, UnicodeDecodeError) as err:
            raise ApiError(400, f"invalid JSON body: {err}") from None
        except RecursionError:
            raise ApiError(400, "invalid JSON body: nested too deeply") from None
        if not isinstance(doc, dict):
            raise ApiError(400, "invalid JSON body: not an object")
        return doc

    def flag(self, name: str) -> bool:
        return self.query.get(name, "").lower() in ("1", "true", "yes")

    def stream(self, limit: int) -> BodyStream:
        """The body as a file to read (tar contexts, image archives): at most limit bytes;
        the connection is kept only when it is read to its end."""
        if self._body is not None:
            raise ApiError(500, "the request body was already read")
        self._body = b""
        self.keep_alive = False
        return BodyStream(self._rfile, self.headers, limit)


class BodyStream:
    """A request body read as it arrives (Content-Length or chunked), refused past `limit`."""

    def __init__(self, rfile, headers: dict[str, str], limit: int):
        self._rfile, self.limit, self.seen = rfile, limit, 0
        self._chunked = "chunked" in headers.get("transfer-encoding", "").lower()
        length = headers.get("content-length")
        if not self._chunked and length is not None and not length.isdigit():
            raise ApiError(400, "malformed Content-Length")
        self._left = 0 if self._chunked else int(length or 0)  # bytes left in this chunk / the body
        if self._left > limit:
            raise ApiError(413, f"request body is larger than {limit} bytes")
        self._done = not self._chunked and self._left == 0
        self._chunk_read = False

    def _next_chunk(self) -> None:
        size = _chunk_size(self._rfile)
        if size == 0:
            while _line(self._rfile, "trailer line", 400) not in (b"\r\n", b"\n", b""):
                pass
            self._done = True
        self._left = size

    def read(self, n: int = -1) -> bytes:
        n = 1 << 20 if n is None or n < 0 else n
        while not self._done and self._left == 0:
            if self._chunk_read:  # the CRLF that ends the chunk before
                self._rfile.readline(3)
            self._next_chunk()
            self._chunk_read = True
        if self._done or n == 0:
            return b""
        data = self._rfile.read(min(n, self._left))
        if not data:
            raise Closed()
        self._left -= len(data)
        self.seen += len(data)
        if self.seen > self.limit:
            raise ApiError(413, f"request body is larger than {self.limit} bytes")
        if not self._chunked and self._left == 0:
            self._done = True
        return data

    def readable(self) -> bool:
        return True


def _line(rfile, what: str, status: int) -> bytes:
    line = rfile.readline(MAX_LINE + 1)
    if len(line) > MAX_LINE:
        raise ApiError(status, f"{what} is longer than {MAX_LINE} bytes")
    return line


def _chunk_size(rfile) -> int:
    """The next chunk's size: hex digits only (int() would take "-1", and a read of -1 bytes
    reads all the client sends)."""
    token = _line(rfile, "chunk size line", 400).split(b";")[0].strip()
    if not _HEX.fullmatch(token):
        raise ApiError(400, "malformed chunk size")
    return int(token, 16)


def read_request(rfile) -> Request:
    """The next request on the connection; Closed at a clean end between requests."""
    line = _line(rfile, "request line", 414)
    while line in (b"\r\n", b"\n"):  # (RFC 9112: ignore empty lines before a request)
        line = _line(rfile, "request line", 414)
    if not line:
        raise Closed()
    try:
        method, target, version = line.decode("ascii").split()
    except (UnicodeDecodeError, ValueError):
        raise ApiError(400, "malformed request line") from None
    if not version.startswith("HTTP/1."):
        raise ApiError(505, f"unsupported protocol {version[:20]!r}")
    if not target.startswith("/"):
        raise ApiError(400, "request target must be a path")
    headers: dict[str, str] = {}
    total = count = 0
    while True:
        line = _line(rfile, "header line", 431)
        if not line:
            raise Closed()
        if line in (b"\r\n", b"\n"):
            break
        total, count = total + len(line), count + 1
        if count > MAX_HEADERS or total > MAX_HEADER_BYTES:
            raise ApiError(431, "request headers too large")
        name, colon, value = line.decode("latin-1").partition(":")
        if not colon or not name or name != name.strip():
            raise ApiError(400, "malformed header line")
        name, value = name.lower(), value.strip()
        if name == "content-length" and headers.get(name, value) != value:
            raise ApiError(400, "two Content-Length headers that disagree")
        headers[name] = value
    if version == "HTTP/1.0":
        headers.setdefault("connection", "close")
    return Request(method, target, headers, rfile)


def _read_body(rfile, headers: dict[str, str], limit: int) -> bytes:
    if "chunked" in headers.get("transfer-encoding", "").lower():
        out = bytearray()
        while True:
            size = _chunk_size(rfile)
            if size == 0:
                while _line(rfile, "trailer line", 400) not in (b"\r\n", b"\n", b""):
                    pass
                return bytes(out)
            if len(out) + size > limit:
                raise ApiError(413, f"request body is larger than {limit} bytes")
            out += rfile.read(size)
            rfile.readline(3)
    length = headers.get("content-length")
    if length is None:
        return b""
    if not length.isdigit():
        raise ApiError(400, "malformed Content-Length")
    if int(length) > limit:
        raise ApiError(413, f"request body is larger than {limit} bytes")
    data = rfile.read(int(length))
    if len(data) != int(length):
        raise Closed()
    return data


def drain(request: Request) -> None:
    """Read an unread body so that the next request on the connection starts where it should
    (a body over the bound ends the connection instead)."""
    try:
        request.body(limit=MAX_BODY)
    except ApiError:
        request.keep_alive = False


class Response:
    """hijack: docker's attach and exec start take the connection over once the headers are
    out (101 UPGRADED, or 200 to a client that did not ask to upgrade): the server calls
    hijack(rfile, wfile, sock), then closes the connection."""

    def __init__(self, status: int = 200, body: bytes | None = b"", content_type: str = "application/json",
                 headers: dict[str, str] | None = None, hijack=None):
        self.status = status
        self.body = body
        self.content_type = content_type
        self.headers = headers or {}
        self.hijack = hijack


def json_response(doc, status: int = 200) -> Response:
    return Response(status, json.dumps(doc).encode() + b"\n")


def error_response(err: ApiError) -> Response:
    return json_response({"message": err.message}, err.status)


def write_response(wfile, response: Response, head_only: bool, keep_alive: bool) -> None:
    if response.hijack is not None:
        return _write_hijack_head(wfile, response)
    if response.body is not None and not isinstance(response.body, (bytes, bytearray)):
        return _write_streamed(wfile, response, head_only)
    body = response.body or b""
    lines = [f"HTTP/1.1 {response.status} {REASONS.get(response.status, 'Unknown')}",
             f"Content-Type: {response.content_type}", f"Content-Length: {len(body)}",
             "Server: cairn", "Api-Version: 1.41", "Docker-Experimental: false", "Ostype: linux"]
    lines += [f"{k}: {v}" for k, v in response.headers.items()]
    if not keep_alive:
        lines.append("Connection: close")
    wfile.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
    if not head_only and response.status not in (204, 304):
        wfile.write(body)
    wfile.flush()


def _write_streamed(wfile, response: Response, head_only: bool) -> None:
    """A body given as an iterator of byte strings (progress, logs): each one a chunk, sent as
    it comes. The iterator is closed however it ends (a client gone: its cleanup runs)."""
    chunks = response.body
    lines = [f"HTTP/1.1 {response.status} {REASONS.get(response.status, 'Unknown')}",
             f"Content-Type: {response.content_type}", "Transfer-Encoding: chunked",
             "Server: cairn", "Api-Version: 1.41", "Docker-Experimental: false", "Ostype: linux"]
    lines += [f"{k}: {v}" for k, v in response.headers.items()]
    try:
        wfile.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        wfile.flush()
        if not head_only:
            for chunk in chunks:
                if chunk:
                    wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    wfile.flush()
        wfile.write(b"0\r\n\r\n")
        wfile.flush()
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()


def _write_hijack_head(wfile, response: Response) -> None:
    lines = [f"HTTP/1.1 {response.status} {REASONS.get(response.status, 'Unknown')}",
             f"Content-Type: {response.content_type}", "Server: cairn", "Api-Version: 1.41"]
    lines += [f"{k}: {v}" for k, v in response.headers.items()]
    wfile.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
    wfile.flush()
