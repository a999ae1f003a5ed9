"""SOURCE_DATE_EPOCH naming a stage, as BuildKit takes it: the stage must be source-only
(`FROM scratch`, ARGs, and exactly one ADD of one HTTP(S) URL), and is not built for this.
The epoch is the URL's Last-Modified; without one, the newest mtime of a regular file in
it when it is a tar (plain or compressed); else it stays unset. `--checksum` is verified.

The download goes to a private file in the store's temp area, at most LIMIT bytes, with
each read under the same timeout as ADD's; a tar is read entry by entry, never held, and
at most UNPACKED_LIMIT bytes of it (beyond that it counts as no tar: the epoch stays unset).
"""

from __future__ import annotations

import hashlib
import os

import grammar

from ..errors import CairnError, UsageError
from ..instructions import types as t
from ..store.store import Store, remove_tree

LIMIT = 4 << 30            # bytes downloaded
UNPACKED_LIMIT = 64 << 30  # bytes of tar read once decompressed (a compression bomb stops there)
_CHUNK = 1 << 20


class _Capped:
    """Reads a stream until `limit` bytes, then fails (the caller then takes it as no tar)."""

    def __init__(self, stream, limit: int):
        self._stream, self._left = stream, limit

    def read(self, n: int = -1) -> bytes:
        data = self._stream.read(n if n >= 0 else _CHUNK)
        self._left -= len(data)
        if self._left < 0:
            raise CairnError("the SOURCE_DATE_EPOCH source unpacks to too much data")
        return data


def named_stage(value: str | None, stages) -> t.Stage | None:
    """The stage a SOURCE_DATE_EPOCH value names (case-insensitively), if any."""
    if not value:
        return None
    return next((st for st in stages if st.name and st.name == value.lower()), None)


def _source_url(stage: t.Stage, global_values: dict[str, str], build_args: dict[str, str], escape: str) -> tuple:
    """(url, checksum) of the stage's one ADD, after checking that the stage is source-only."""
    values = {k: v for k, v in global_values.items() if k != "SOURCE_DATE_EPOCH"}
    if grammar.expand_word(stage.base_name, values, escape).lower() != "scratch":
        raise UsageError("SOURCE_DATE_EPOCH stage must use FROM scratch")
    found = None
    for cmd in stage.commands:
        if isinstance(cmd, t.Arg):
            for decl in cmd.args:
                if decl.name in build_args:
                    values[decl.name] = build_args[decl.name]
                elif decl.default is not None:
                    values[decl.name] = grammar.expand_word(decl.default, values, escape)
        elif isinstance(cmd, t.Add):
            if found is not None:
                raise UsageError("SOURCE_DATE_EPOCH stage must contain exactly one remote ADD")
            if len(cmd.sources) != 1 or cmd.contents:
                raise UsageError("SOURCE_DATE_EPOCH stage must contain exactly one remote ADD source")
            found = (grammar.expand_word(cmd.sources[0], values, escape),
                     grammar.expand_word(cmd.checksum, values, escape) if cmd.checksum else "")
        else:
            raise UsageError("SOURCE_DATE_EPOCH stage does not meet source-only requirements: "
                             f"unsupported {cmd.keyword.lower()} instruction")
    if found is None:
        raise UsageError("SOURCE_DATE_EPOCH stage must contain exactly one remote ADD")
    if not found[0].startswith(("http://", "https://")):
        raise UsageError("SOURCE_DATE_EPOCH stage source must be a single HTTP(S) ADD (cairn adds no git sources)")
    return found


def stage_epoch(store: Store, stage: t.Stage, global_values: dict[str, str], build_args: dict[str, str],
                escape: str, where: str) -> int | None:
    """The epoch the source-only `stage` gives; errors start with `where` (Dockerfile:LINE)."""
    try:
        url, checksum = _source_url(stage, global_values, build_args, escape)
    except grammar.DockerfileError as err:
        raise UsageError(f"{where}: {err.message}") from None
    except UsageError as err:
        raise UsageError(f"{where}: {err}") from None
    algo, _, want = checksum.partition(":") if checksum else ("sha256", "", "")
    if algo not in ("sha256", "sha384", "sha512") or (checksum and not want):
        raise UsageError(f"{where}: invalid --checksum {checksum!r}")
    tmp = store.new_tmp_dir("epoch-")
    try:
        path = os.path.join(tmp, "source")
        modified, digest = _download(url, path, algo)
        if want and digest != want:
            raise CairnError(f"{where}: checksum mismatch for {url}: expected {algo}:{want}, got {algo}:{digest}")
        if modified is not None:
            return modified
        return _newest_file_time(path)
    finally:
        remove_tree(tmp)


def _download(url: str, path: str, algo: str) -> tuple[int | None, str]:
    """Fetch url to path (at most LIMIT bytes): (its Last-Modified in seconds or None, its digest)."""
    import email.utils  # (http and its helpers load only when a build downloads)
    import http.client
    import urllib.error
    import urllib.request

    from .download import TIMEOUT

    h = hashlib.new(algo)
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT) as resp, open(path, "wb") as out:
            got = 0
            while chunk := resp.read(_CHUNK):
                got += len(chunk)
                if got > LIMIT:
                    raise CairnError(f"the SOURCE_DATE_EPOCH source {url} is larger than {LIMIT >> 30} GiB")
                h.update(chunk)
                out.write(chunk)
            length = (resp.headers.get("Content-Length") or "").strip()
            if length.isdigit() and got != int(length):
                raise http.client.IncompleteRead(b"", int(length) - got)
            modified = resp.headers.get("Last-Modified")
    except (urllib.error.URLError, http.client.HTTPException, ValueError, OSError) as err:
        reason = getattr(err, "reason", None) or err
        raise CairnError(f"cannot download the SOURCE_DATE_EPOCH source {url}: {reason}") from None
    seconds = None
    if modified:
        try:
            seconds = int(email.utils.parsedate_to_datetime(modified).timestamp())
        except (TypeError, ValueError):
            pass
    return seconds, h.hexdigest()


def _newest_file_time(path: str) -> int | None:
    """The newest mtime of a regular file in the tar at path (any compression); None when it
    is not a tar, or holds no regular file."""
    from ..layers.compression import DECOMPRESS_ERRORS, open_decompressed
    from ..layers.tarreader import TarFormatError, TarReader

    newest = None
    try:
        stream, _kind = open_decompressed(path)
        with stream:
            for entry in TarReader(_Capped(stream, UNPACKED_LIMIT)):
                if entry.isreg() and (newest is None or entry.mtime > newest):
                    newest = entry.mtime
    except (TarFormatError, CairnError, *DECOMPRESS_ERRORS):
        return None
    return newest
