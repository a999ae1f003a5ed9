"""ADD <url>: the file is downloaded into the layer (unpacked only with --unpack=true), verified against
`--checksum` when given, with mode 0600 and the server's Last-Modified as mtime, as BuildKit
does. A destination ending in `/` takes the URL's file name."""

from __future__ import annotations

import email.utils
import hashlib
import http.client
import os
import posixpath
import stat
import urllib.error
import urllib.parse
import urllib.request

from runtime import tree
from runtime.tree import Tree

from ..errors import CairnError
from .copy import _in_image, _parents_meta, is_tar, unpack_archive_into

_CHUNK = 1 << 20
TIMEOUT = 60


def download_into(layer: str, url: str, dest: str, workdir: str, lowers: list[str], several: bool,
                  checksum: str, chown, chmod, unpack: bool = False, user_agent: str | None = None) -> None:
    """Download url to dest in the layer; with `unpack` (ADD --unpack=true), a tar is unpacked
    into dest as a local archive would be, and anything else is kept as a file. `user_agent`
    (ADD --user-agent) is the request's User-Agent header."""
    if not dest.startswith("/"):
        dest = posixpath.join(workdir or "/", dest)
    into_dir = dest.endswith("/") or several
    dest = posixpath.normpath(dest)
    name = posixpath.basename(urllib.parse.urlparse(url).path) or "__unnamed__"  # as BuildKit names it
    target = posixpath.join(dest, name) if into_dir else dest
    algo, _, want = checksum.partition(":") if checksum else ("sha256", "", "")
    if checksum and algo not in ("sha256", "sha384", "sha512"):
        raise CairnError(f"unsupported --checksum algorithm {algo!r}")
    h = hashlib.new(algo)
    with Tree(layer) as t:
        dir_fd = t.makedirs(_in_image(lowers, posixpath.dirname(target)), _parents_meta(lowers, chown))
        base = posixpath.basename(target)
        try:
            try:
                request = urllib.request.Request(url, headers={"User-Agent": user_agent} if user_agent else {})
                with urllib.request.urlopen(request, timeout=TIMEOUT) as resp:
                    fd = tree.new_file(dir_fd, base, 0o600)
                    got = 0
                    try:
                        while chunk := resp.read(_CHUNK):
                            h.update(chunk)
                            tree.write_all(fd, chunk)
                            got += len(chunk)
                    finally:
                        os.close(fd)
                    modified = resp.headers.get("Last-Modified")
                    length = (resp.headers.get("Content-Length") or "").strip()
                    if length.isdigit() and got != int(length):  # urllib ends a short body silently
                        raise http.client.IncompleteRead(b"", int(length) - got)
            except (urllib.error.URLError, OSError, http.client.HTTPException, ValueError) as err:  # ValueError: bad URL
                tree.remove(dir_fd, base)
                reason = getattr(err, "reason", None) or err
                raise CairnError(f"cannot download {url}: {reason}") from None
            if want and h.hexdigest() != want:
                tree.remove(dir_fd, base)
                raise CairnError(f"checksum mismatch for {url}: expected {algo}:{want}, got {algo}:{h.hexdigest()}")
            mode = chmod.apply(stat.S_IFREG | 0o600, False) if chmod is not None else 0o600
            mtime_ns = None
            if modified:
                try:
                    mtime_ns = int(email.utils.parsedate_to_datetime(modified).timestamp()) * 10**9
                except (TypeError, ValueError):
                    pass
            tree.set_meta(dir_fd, base, owner=chown or (0, 0), mode=mode, mtime_ns=mtime_ns)
            if unpack:
                _unpack_if_tar(layer, dir_fd, base, dest, lowers, chown)
        finally:
            os.close(dir_fd)


def _unpack_if_tar(layer: str, dir_fd: int, base: str, dest: str, lowers: list[str], chown) -> None:
    """ADD --unpack=true: a downloaded tar is replaced by its entries under dest."""
    archive = os.open(base, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
    if not is_tar(os.dup(archive)):
        os.close(archive)
        return
    os.lseek(archive, 0, os.SEEK_SET)  # (the dup shared the offset)
    tree.remove(dir_fd, base)
    unpack_archive_into(layer, archive, dest, "/", lowers, chown)
