"""Where a blob is known to exist remotely (`registry/repository`), for cross-repository mounts.

Pulls and pushes record each blob's repository; a later push to another repository of
the same registry asks it to mount the blob from there instead of uploading it again.
"""

from __future__ import annotations

import time

from ..digest import Digest
from ..store.store import Store


def record_locations(store: Store, repository: str, blobs: list[Digest]) -> None:
    now = time.time()
    with store.transaction() as c:
        c.executemany("INSERT INTO blob_locations(blob, repository, seen) VALUES (?,?,?) "
                      "ON CONFLICT(blob, repository) DO UPDATE SET seen=excluded.seen",
                      [(str(b), repository, now) for b in blobs])


def known_repositories(store: Store, domain: str, blob: Digest) -> tuple[str, ...]:
    """Repository paths (without the domain) of `domain` known to hold `blob`, newest first."""
    rows = store.conn.execute("SELECT repository FROM blob_locations WHERE blob=? AND repository LIKE ? "
                              "ORDER BY seen DESC LIMIT 3", (str(blob), f"{domain}/%")).fetchall()
    return tuple(r[0][len(domain) + 1:] for r in rows)
