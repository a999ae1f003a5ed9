"""Content digests: `sha256:<64 hex>`, the address of every blob in OCI."""

from __future__ import annotations

import re

from runtime.record import Record, record

_DIGEST = re.compile(r"^([a-z0-9]+(?:[.+_-][a-z0-9]+)*):([a-zA-Z0-9=_-]+)\Z")
_HEX_LEN = {"sha256": 64, "sha512": 128}
_SMALL = 1 << 16  # a manifest, an index, a config


def _sha256(data: bytes):
    """hashlib's (OpenSSL) sha256 for large data; for a small document Python's builtin one, so
    that `cairn run` (it verifies the manifest and config it reads) does not load OpenSSL
    (hashlib, ~4 ms of its start)."""
    if len(data) <= _SMALL:
        try:
            from _sha256 import sha256
        except ImportError:  # (a Python built without it)
            from hashlib import sha256
    else:
        from hashlib import sha256
    return sha256(data)


class DigestError(ValueError):
    pass


@record
class Digest(Record):
    algorithm: str
    hex: str

    # ordered as (algorithm, hex), as a dataclass with order=True is
    def __lt__(self, other):
        return (self.algorithm, self.hex) < (other.algorithm, other.hex) if type(other) is Digest else NotImplemented

    def __le__(self, other):
        return (self.algorithm, self.hex) <= (other.algorithm, other.hex) if type(other) is Digest else NotImplemented

    def __gt__(self, other):
        return (self.algorithm, self.hex) > (other.algorithm, other.hex) if type(other) is Digest else NotImplemented

    def __ge__(self, other):
        return (self.algorithm, self.hex) >= (other.algorithm, other.hex) if type(other) is Digest else NotImplemented

    @classmethod
    def parse(cls, text: str) -> "Digest":
        m = _DIGEST.match(text)
        if not m:
            raise DigestError(f"invalid digest {text!r}: expected sha256:<64 hex digits>")
        algo, hexpart = m.groups()
        want = _HEX_LEN.get(algo)
        if want is None:
            raise DigestError(f"unsupported digest algorithm {algo!r} in {text!r}")
        if len(hexpart) != want or not re.fullmatch(r"[0-9a-f]+", hexpart):
            raise DigestError(f"invalid digest {text!r}: expected {want} lower-case hex digits")
        return cls(algo, hexpart)

    @classmethod
    def of(cls, data: bytes) -> "Digest":
        return cls("sha256", _sha256(data).hexdigest())

    @classmethod
    def from_hash(cls, h) -> "Digest":
        return cls(h.name, h.hexdigest())

    def new_hash(self):
        import hashlib

        return hashlib.new(self.algorithm)

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.hex}"

    @property
    def short(self) -> str:
        return self.hex[:12]
