"""Every entry below a directory with its lstat, walked with an explicit stack (os.walk
recurses once per level: a tree some thousands of directories deep, which an image or a
container may hold, raised RecursionError). Links are listed, never followed; what cannot be
read is left out."""

from __future__ import annotations

import os
from collections.abc import Iterator


def lstat_walk(root) -> Iterator[tuple[str, os.stat_result]]:
    todo = [os.fspath(root)]
    while todo:
        try:
            with os.scandir(todo.pop()) as it:
                entries = list(it)
        except OSError:
            continue
        for entry in entries:
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if entry.is_dir(follow_symlinks=False):
                todo.append(entry.path)
            yield entry.path, st
