"""ADD <url>: the file is downloaded into the layer (never unpacked), verified against
`--checksum` when given, with mode 0600 and the server's Last-Modified as mtime, as BuildKit
does. A destination ending in `/` takes the URL's file name."""

from __future__ import annotations

import email.utils
import hashlib
import http.client
import os
import posixpath
import urllib.error
import urllib.parse
import urllib.request

from ..errors import CairnError
from .copy import _apply_owner_mode, ensure_parents

_CHUNK = 1 << 20
TIMEOUT = 60


def download_into(layer: str, url: str, dest: str, workdir: str, lowers: list[str], several: bool,
                  checksum: str, chown, chmod) -> None:
    if not dest.startswith("/"):
        dest = posixpath.join(workdir or "/", dest)
    into_dir = dest.endswith("/") or several
    dest = posixpath.normpath(dest)
    name = posixpath.basename(urllib.parse.urlparse(url).path) or "__unnamed__"  # as BuildKit names it
    target = posixpath.join(dest, name) if into_dir else dest
    ensure_parents(layer, posixpath.dirname(target), lowers, chown)
    algo, _, want = checksum.partition(":") if checksum else ("sha256", "", "")
    if checksum and algo not in ("sha256", "sha384", "sha512"):
        raise CairnError(f"unsupported --checksum algorithm {algo!r}")
    h = hashlib.new(algo)
    path = layer + target
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT) as resp, open(path, "wb") as f:
            got = 0
            while chunk := resp.read(_CHUNK):
                h.update(chunk)
                f.write(chunk)
                got += len(chunk)
            modified = resp.headers.get("Last-Modified")
            length = (resp.headers.get("Content-Length") or "").strip()
            if length.isdigit() and got != int(length):  # urllib ends a short body silently
                raise http.client.IncompleteRead(b"", int(length) - got)
    except (urllib.error.URLError, OSError, http.client.HTTPException, ValueError) as err:  # ValueError: bad URL
        if os.path.exists(path):
            os.unlink(path)
        reason = getattr(err, "reason", None) or err
        raise CairnError(f"cannot download {url}: {reason}") from None
    if want and h.hexdigest() != want:
        os.unlink(path)
        raise CairnError(f"checksum mismatch for {url}: expected {algo}:{want}, got {algo}:{h.hexdigest()}")
    os.chmod(path, 0o600)
    os.chown(path, 0, 0)
    _apply_owner_mode(path, chown, chmod)
    if modified:
        try:
            ts = email.utils.parsedate_to_datetime(modified).timestamp()
            os.utime(path, (ts, ts))
        except (TypeError, ValueError):
            pass
