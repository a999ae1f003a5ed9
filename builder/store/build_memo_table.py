"""The store's `build_memo` table: for each build place (context, Dockerfile, target), the
whole-build memo of its last fully cached build (builder/cache/build_memo.py says what its
key covers): the key and the record that replays the build. One row per place, replaced,
so the table grows with the places a store has built, not with its builds. Here too the
few reads a memo's check makes: whether the records the build hit still hold their layers,
and the re-pointing of its tags."""

from __future__ import annotations

from ..image.digest import Digest
from .cache_table import EMPTY
from .store import Store

SCHEMA = """CREATE TABLE IF NOT EXISTS build_memo (  -- one fully cached build per place (cache/build_memo.py)
    place TEXT PRIMARY KEY,     -- sha256 of the context, the Dockerfile path and the target
    key TEXT NOT NULL,          -- sha256 of every input the build's result depends on
    record TEXT NOT NULL        -- JSON: what the build resolved, hit and printed
)"""


def get(store: Store, place: str, key: str) -> str | None:
    """The record remembered for this place with this key, or None."""
    row = store.conn.execute("SELECT record FROM build_memo WHERE place=? AND key=?", (place, key)).fetchone()
    return row[0] if row else None


def put(store: Store, place: str, key: str, record: str) -> None:
    """Remember a build's record (one statement: a reader sees the old row or the new one)."""
    with store.transaction() as c:
        c.execute("INSERT INTO build_memo(place, key, record) VALUES (?,?,?) ON CONFLICT(place) "
                  "DO UPDATE SET key=excluded.key, record=excluded.record", (place, key, record))


def forget(store: Store, place: str) -> None:
    with store.transaction() as c:
        c.execute("DELETE FROM build_memo WHERE place=?", (place,))


def hits_hold(store: Store, hits: list) -> bool:
    """Whether each (key, diff_id, created) the build hit still has its record, with that
    layer made at that time (its history entry's: a layer remade by a --no-cache build gives
    a rebuild another image), and the layer its snapshot (a pruned record or snapshot: the
    build must run)."""
    for key, diff_id, created in hits:
        row = store.conn.execute("SELECT diff_id, created FROM cache_records WHERE key=?", (key,)).fetchone()
        if row is None or row[0] != diff_id or (diff_id != EMPTY and row[1] != created):
            return False
        if diff_id != EMPTY:
            snap = store.conn.execute("SELECT 1 FROM snapshots WHERE diff_id=?", (diff_id,)).fetchone()
            if snap is None or not store.snapshot_path(Digest.parse(diff_id)).is_dir():
                return False
    return True


def image_held(store: Store, manifest: str, config: str) -> bool:
    """Whether the image is in the store, its manifest and config blobs with it (a build
    would write them again)."""
    if store.conn.execute("SELECT 1 FROM images WHERE manifest=? AND config=?", (manifest, config)).fetchone() is None:
        return False
    return store.blobs.has(Digest.parse(manifest)) and store.blobs.has(Digest.parse(config))


def tag_manifest(store: Store, name: str) -> str | None:
    row = store.conn.execute("SELECT manifest FROM tags WHERE name=?", (name,)).fetchone()
    return row[0] if row else None


def retag(store: Store, manifest: str, tags: list[str]) -> tuple[str, ...]:
    """Point each tag at the image (as the build's add_image does); the image's tags after."""
    if tags:
        with store.transaction() as c:
            c.executemany("INSERT INTO tags(name, manifest) VALUES (?,?) "
                          "ON CONFLICT(name) DO UPDATE SET manifest=excluded.manifest", [(t, manifest) for t in tags])
    return tuple(r[0] for r in store.conn.execute("SELECT name FROM tags WHERE manifest=? ORDER BY name", (manifest,)))
