"""SOURCE_DATE_EPOCH: one time for everything a build writes, so that the same inputs give
the same image digest wherever and whenever they are built.

Where it comes from, as BuildKit takes it: `--build-arg SOURCE_DATE_EPOCH=N`, else a
global `ARG SOURCE_DATE_EPOCH=N` of the Dockerfile, else the environment variable (which
the CLI passes on as that build arg, as buildx does). The value may name a source-only
stage instead of a number (epoch_stage.py). An empty value means unset; any
other value that is not a whole number of seconds is an error.

What it sets: the image config's `created` and the `created` of every history entry the
build adds (a base image's own history is kept, as BuildKit keeps it); and in every layer
the build makes, mtimes later than it are clamped to it on disk before the layer is
hashed. Clamping on disk, not only in the tar, keeps the snapshot and its diff_id in
agreement whenever the tar is written again later (push, save), with or without the
variable. The epoch is part of the cache key of every step that makes a layer, since it
changes that layer's bytes.
"""

from __future__ import annotations

import os
import stat
import time

from ..errors import UsageError

NAME = "SOURCE_DATE_EPOCH"


CONTEXT = "context"  # BuildKit's "the context's own time" (a git commit's, an HTTP Last-Modified)


def parse(value: str | None) -> int | None:
    """The epoch a value means. `context`: a local directory has no time of its own, so the
    epoch stays unset, as in BuildKit. (A stage's name: epoch_stage.)"""
    if value is None or value == "" or value == CONTEXT:
        return None
    if not value.isdigit():
        raise UsageError(f"invalid {NAME}: {value}")
    return int(value)


def iso(epoch: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def clamp_tree(root: str, epoch: int | None) -> None:
    """Set every mtime under root (root included) that is later than epoch to epoch."""
    if epoch is None:
        return
    limit = epoch * 1_000_000_000
    todo = [root]
    while todo:
        path = todo.pop()
        with os.scandir(path) as it:
            for entry in it:
                st = entry.stat(follow_symlinks=False)
                if stat.S_ISDIR(st.st_mode):
                    todo.append(entry.path)  # (a child's utime leaves its directory's mtime alone)
                if st.st_mtime_ns > limit:
                    os.utime(entry.path, ns=(min(st.st_atime_ns, limit), limit), follow_symlinks=False)
    st = os.lstat(root)
    if st.st_mtime_ns > limit:
        os.utime(root, ns=(min(st.st_atime_ns, limit), limit), follow_symlinks=False)
