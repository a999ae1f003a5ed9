"""HTTP/1.1 on one connection, with every size bounded: the request line, the headers (count
and bytes) and the body (Content-Length or chunked). A request over a bound is refused with
docker's JSON error and the connection is closed."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, unquote, urlsplit

from .errors import ApiError

MAX_LINE = 8192          # the request line, and each header line
MAX_HEADERS = 100
MAX_HEADER_BYTES = 64 * 1024
MAX_BODY = 1024 * 1024   # JSON bodies (container create, ...)

REASONS = {200: "OK", 201: "Created", 204: "No Content", 304: "Not Modified", 400: "Bad Request",
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
        self.query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
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
        if not isinstance(doc, dict):
            raise ApiError(400, "invalid JSON body: not an object")
        return doc

    def flag(self, name: str) -> bool:
        return self.query.get(name, "").lower() in ("1", "true", "yes")


def _line(rfile, what: str, status: int) -> bytes:
    line = rfile.readline(MAX_LINE + 1)
    if len(line) > MAX_LINE:
        raise ApiError(status, f"{what} is longer than {MAX_LINE} bytes")
    return line


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
        headers[name.lower()] = value.strip()
    if version == "HTTP/1.0":
        headers.setdefault("connection", "close")
    return Request(method, target, headers, rfile)


def _read_body(rfile, headers: dict[str, str], limit: int) -> bytes:
    if "chunked" in headers.get("transfer-encoding", "").lower():
        out = bytearray()
        while True:
            size_line = _line(rfile, "chunk size line", 400)
            try:
                size = int(size_line.split(b";")[0].strip(), 16)
            except ValueError:
                raise ApiError(400, "malformed chunk size") from None
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
    def __init__(self, status: int = 200, body: bytes | None = b"", content_type: str = "application/json",
                 headers: dict[str, str] | None = None):
        self.status = status
        self.body = body
        self.content_type = content_type
        self.headers = headers or {}


def json_response(doc, status: int = 200) -> Response:
    return Response(status, json.dumps(doc).encode() + b"\n")


def error_response(err: ApiError) -> Response:
    return json_response({"message": err.message}, err.status)


def write_response(wfile, response: Response, head_only: bool, keep_alive: bool) -> None:
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
