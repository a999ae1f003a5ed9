"""How cairn talks to registries: insecure hosts, timeouts, retries, upload chunking, parallelism.

Kept apart from the HTTP code so that a build that never pulls does not import it.
"""

from __future__ import annotations

import os

from runtime.record import Record, record


@record
class RegistryOptions(Record):
    insecure: tuple[str, ...] = ()   # hosts (with port) where plain HTTP is allowed
    timeout: float = 60.0            # seconds to connect, and between bytes read or written
    retries: int = 4                 # extra attempts after a transient failure
    chunk_size: int = 0              # >0: upload blobs in PATCH chunks of this many bytes
    parallel: int = 4                # blobs transferred at once
    backoff: float = 0.25            # first retry delay; doubles each time

    @classmethod
    def from_env(cls, insecure: tuple[str, ...] = (), timeout: float | None = None) -> "RegistryOptions":
        extra = tuple(h for h in os.environ.get("CAIRN_INSECURE_REGISTRIES", "").split(",") if h)
        if timeout is None:
            timeout = float(os.environ.get("CAIRN_REGISTRY_TIMEOUT", "60"))
        chunk = int(os.environ.get("CAIRN_UPLOAD_CHUNK_SIZE", "0") or 0)
        return cls(insecure=tuple(insecure) + extra, timeout=timeout, chunk_size=chunk)
