"""docker's paths, versioned (`/v1.41/images/json`) and not, mapped to handlers. A handler
takes (context, request, **path parameters) and returns a Response; unknown routes are 404
`page not found`, as dockerd answers."""

from __future__ import annotations

import re

from .errors import ApiError

API_VERSION = "1.41"
MIN_API_VERSION = "1.12"
_VERSIONED = re.compile(r"/v(\d{1,3})\.(\d{1,3})(/.*)\Z", re.DOTALL)


def _number(text: str) -> tuple[int, int]:
    major, minor = text.split(".")
    return int(major), int(minor)


def split_version(path: str) -> str:
    """The path without its `/vX.Y` prefix; a version newer than ours or older than the
    oldest kept is refused with docker's message."""
    m = _VERSIONED.match(path)
    if m is None:
        return path
    asked = (int(m.group(1)), int(m.group(2)))
    if asked > _number(API_VERSION):
        raise ApiError(400, f"client version {asked[0]}.{asked[1]} is too new. "
                            f"Maximum supported API version is {API_VERSION}")
    if asked < _number(MIN_API_VERSION):
        raise ApiError(400, f"client version {asked[0]}.{asked[1]} is too old. "
                            f"Minimum supported API version is {MIN_API_VERSION}, please upgrade your client "
                            f"to a newer version")
    return m.group(3)


class Router:
    def __init__(self):
        self._routes: list[tuple[str, re.Pattern, object]] = []

    def add(self, method: str, pattern: str, handler) -> None:
        """pattern: a path with `{name}` (one segment) or `{name*}` (the rest, slashes
        included: image names such as `localhost:5000/a/b:1`)."""
        rx = re.sub(r"\{(\w+)\*\}", r"(?P<\1>.+)", pattern)
        rx = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", rx)
        self._routes.append((method, re.compile(rx + r"\Z", re.DOTALL), handler))

    def find(self, method: str, path: str):
        """(handler, parameters) for the request; HEAD is served by GET's handler."""
        path = split_version(path)
        want = "GET" if method == "HEAD" else method
        for route_method, rx, handler in self._routes:
            m = rx.match(path)
            if m is not None and route_method == want:
                return handler, m.groupdict()
        raise ApiError(404, "page not found")
