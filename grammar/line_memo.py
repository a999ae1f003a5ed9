"""What the Lark grammar made of the lines it split, remembered across runs.

A line with flags (`COPY --from=...`, `RUN --mount=...`, `FROM --platform=...`) is split by
the Lark grammar, and loading Lark costs ~60 ms a process here: on a rebuild whose every step
hits, it was the largest single cost after the interpreter. The grammar gives the same
split for the same text, so each split is kept in a JSON file beside Lark's own cache, in the
directory only this user can write (instruction_line.private_cache_file: elsewhere nothing
is kept or read), named by a digest of the grammar, so that a changed grammar starts anew.

The file holds at most LIMIT lines, the newest kept; one parse writes it once, when it split
a line the file lacked. A file that cannot be read or holds anything but splits is ignored.
JSON, never pickle: reading it runs no code.
"""

from __future__ import annotations

import hashlib
import json
import os

LIMIT = 2000  # lines kept
_MAX_BYTES = 4 << 20  # a bigger file is not read

_known: dict[str, tuple[str, tuple[str, ...], str]] | None = None
_new: dict[str, tuple[str, tuple[str, ...], str]] = {}


def _path() -> str | None:
    from .instruction_line import GRAMMAR_PATH, private_cache_file

    with open(GRAMMAR_PATH, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()[:16]
    return private_cache_file(f"splits-{digest}", suffix=".json")


def _load() -> dict:
    global _known
    if _known is None:
        _known = {}
        path = _path()
        try:
            if path is not None and os.path.getsize(path) <= _MAX_BYTES:
                with open(path, encoding="utf-8") as f:
                    _known = _valid(json.load(f))
        except (OSError, ValueError):
            pass
    return _known


def _valid(doc) -> dict:
    out = {}
    if not isinstance(doc, dict):
        return out
    for line, split in doc.items():
        if not (isinstance(split, list) and len(split) == 3 and isinstance(split[0], str)
                and isinstance(split[1], list) and all(isinstance(f, str) for f in split[1])
                and isinstance(split[2], str)):
            return {}
        out[line] = (split[0], tuple(split[1]), split[2])
    return out


def lookup(line: str) -> tuple[str, tuple[str, ...], str] | None:
    return _new.get(line) or _load().get(line)


def remember(line: str, keyword: str, flags: tuple[str, ...], rest: str) -> None:
    _new[line] = (keyword, flags, rest)


def flush() -> None:
    """Write what this process split that the file lacked (at the end of a parse)."""
    if not _new:
        return
    known = _load()
    known.update(_new)
    _new.clear()
    for old in list(known)[:max(0, len(known) - LIMIT)]:
        del known[old]
    path = _path()
    if path is None:
        return
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump({line: [k, list(fl), r] for line, (k, fl, r) in known.items()}, f)
        os.replace(tmp, path)
    except OSError:
        try:
            os.unlink(tmp)
        except OSError:
            pass
