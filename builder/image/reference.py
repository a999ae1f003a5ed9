"""Image references parsed and normalised the way docker does.

`busybox` is `docker.io/library/busybox:latest`; `localhost:5000/app@sha256:...` keeps its
registry and digest. Names must be lower case; a tag is at most 128 characters.
"""

from __future__ import annotations

import re

from runtime.record import Record, record

from ..errors import CairnError
from .digest import Digest, DigestError

DEFAULT_DOMAIN = "docker.io"
_LEGACY_DOMAIN = "index.docker.io"
_OFFICIAL_PREFIX = "library/"
_PATH_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?"
_PATH = re.compile(rf"^{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*\Z")


class _Deferred:
    """A pattern compiled on its first match (re's cache), not at import: a reference to
    docker.io, what `cairn run busybox` names, never needs the registry host's (~0.4 ms)."""

    def __init__(self, pattern: str):
        self.pattern = pattern

    def match(self, text: str):
        return re.match(self.pattern, text)


_DOMAIN_RE = _Deferred(rf"^{_DOMAIN}\Z")
_TAG = re.compile(r"^[\w][\w.-]{0,127}\Z")
_HEX64 = re.compile(r"^[a-f0-9]{64}\Z")


class ReferenceError(CairnError):
    exit_code = 2


@record
class Reference(Record):
    domain: str
    path: str
    tag: str | None = None
    digest: Digest | None = None

    @property
    def repository(self) -> str:
        """`docker.io/library/busybox`"""
        return f"{self.domain}/{self.path}"

    def __str__(self) -> str:
        out = self.repository
        if self.tag:
            out += ":" + self.tag
        if self.digest:
            out += "@" + str(self.digest)
        return out

    @property
    def familiar(self) -> str:
        """As docker prints it: `busybox:latest`, `me/app:1`, `localhost:5000/app:1`."""
        name = self.path
        if self.domain == DEFAULT_DOMAIN:
            name = name.removeprefix(_OFFICIAL_PREFIX)
        else:
            name = self.repository
        if self.tag:
            name += ":" + self.tag
        if self.digest:
            name += "@" + str(self.digest)
        return name


def parse_reference(text: str, *, default_tag: bool = True) -> Reference:
    """Parse and normalise; raises ReferenceError with the reason."""
    original = text
    if not text:
        raise ReferenceError("invalid reference format: empty reference")
    digest = None
    if "@" in text:
        text, _, dig = text.partition("@")
        try:
            digest = Digest.parse(dig)
        except DigestError as err:
            raise ReferenceError(f"invalid reference {original!r}: {err}") from None
    tag = None
    slash = text.rfind("/")
    colon = text.rfind(":")
    if colon > slash:
        text, tag = text[:colon], text[colon + 1:]
        if not _TAG.match(tag):
            raise ReferenceError(f"invalid reference {original!r}: invalid tag {tag!r}")
    domain, path = _split_domain(text)
    if not domain or (domain != DEFAULT_DOMAIN and not _DOMAIN_RE.match(domain)):  # (docker.io matches)
        raise ReferenceError(f"invalid reference {original!r}: invalid registry {domain!r}")
    if path != path.lower() and _PATH.match(path.lower()):
        raise ReferenceError(f"invalid reference {original!r}: repository name must be lowercase")
    if not _PATH.match(path):
        raise ReferenceError(f"invalid reference format: {original!r}")
    if len(domain) + 1 + len(path) > 255:
        raise ReferenceError(f"invalid reference {original!r}: repository name must not be more than 255 characters")
    if domain == DEFAULT_DOMAIN and _HEX64.match(path.removeprefix(_OFFICIAL_PREFIX)):
        raise ReferenceError(f"invalid repository name ({original}), cannot specify 64-byte hexadecimal strings")
    if tag is None and digest is None and default_tag:
        tag = "latest"
    return Reference(domain, path, tag, digest)


def _split_domain(name: str) -> tuple[str, str]:
    i = name.find("/")
    if i == -1 or (not any(c in name[:i] for c in ".:") and name[:i] != "localhost"
                   and name[:i].lower() == name[:i]):
        domain, rest = DEFAULT_DOMAIN, name
    else:
        domain, rest = name[:i], name[i + 1:]
    if domain == _LEGACY_DOMAIN:
        domain = DEFAULT_DOMAIN
    if domain == DEFAULT_DOMAIN and "/" not in rest:
        rest = _OFFICIAL_PREFIX + rest
    return domain, rest
