"""The local store: blobs, snapshots and the database (see store.py)."""
