"""Where a blob is known to exist remotely (`registry/repository`), and layers known only
by their descriptor there.

Pulls and pushes record each blob's repository; a later push to another repository of
the same registry asks it to mount the blob from there instead of uploading it again.
A lazily pulled base image or a remote cache hit records its layers in `remote_layers`:
usable as they are for a push to the same registry, fetched when their bytes are needed.
"""

from __future__ import annotations

import time

from ..image import oci
from ..image.digest import Digest
from .store import Store


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


def all_repositories(store: Store, blob: Digest) -> tuple[str, ...]:
    """Every `registry/repository` known to hold `blob`, newest first."""
    rows = store.conn.execute("SELECT repository FROM blob_locations WHERE blob=? ORDER BY seen DESC",
                              (str(blob),)).fetchall()
    return tuple(r[0] for r in rows)


def record_remote_layer(store: Store, diff_id: Digest, desc: oci.Descriptor, repository: str) -> None:
    with store.transaction() as c:
        c.execute("INSERT OR IGNORE INTO remote_layers(diff_id, blob, media_type, size) VALUES (?,?,?,?)",
                  (str(diff_id), str(desc.digest), desc.media_type, desc.size))
        c.execute("INSERT INTO blob_locations(blob, repository, seen) VALUES (?,?,?) "
                  "ON CONFLICT(blob, repository) DO UPDATE SET seen=excluded.seen",
                  (str(desc.digest), repository, time.time()))


def remote_layer(store: Store, diff_id: Digest) -> oci.Descriptor | None:
    """A descriptor of `diff_id` that some registry is known to hold, or None."""
    row = store.conn.execute(
        "SELECT r.blob, r.media_type, r.size FROM remote_layers r JOIN blob_locations l ON l.blob = r.blob "
        "WHERE r.diff_id=? ORDER BY l.seen DESC LIMIT 1", (str(diff_id),)).fetchone()
    return oci.Descriptor(row[1], Digest.parse(row[0]), row[2]) if row else None
