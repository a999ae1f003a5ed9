"""`cairn build -`: the build context read from stdin, as docker reads it.

stdin holds either a tar of the context (plain, gzip, zstd, xz or bzip2), with its
Dockerfile inside (`-f NAME` names another one inside it, or, when the tar has no such
file, a Dockerfile on the host), or just a Dockerfile, which is then built with an empty
context.

The tar is untrusted. It is unpacked with the layer extractor (every write through
runtime.tree: no `..`, no write through a link, hard links only inside) into a private
directory in the store's tmp/ (0700, removed when the command ends, and by the store's
orphan sweep after a crash), with whiteout names kept as plain files and no device node or
FIFO made. At most CAIRN_TAR_CONTEXT_LIMIT bytes (default 8 GiB) are read from the
decompressed stream: a small compressed bomb is stopped there. The Dockerfile inside is
read through the tree too (a link named Dockerfile resolves inside the context, never to a
host file), and copied out of the context.
"""

from __future__ import annotations

import os
import tarfile
from collections.abc import Callable

from runtime.remove import remove_all
from runtime.tree import Tree, TreeError

from ..errors import CairnError, UsageError
from ..layers.compression import decompressed_by_kind, sniff

DEFAULT_LIMIT = 8 << 30
MAX_DOCKERFILE = 16 << 20  # as commands.common (BuildKit's limit)
_HEAD = 1024


class TarContextError(CairnError):
    """A context tar that is corrupt, too large, or that holds what cannot be unpacked."""


def limit() -> int:
    text = os.environ.get("CAIRN_TAR_CONTEXT_LIMIT", "")
    return int(text) if text.isdigit() and int(text) > 0 else DEFAULT_LIMIT


def from_stdin(stdin, tmp_dir: Callable[[str], str], dockerfile: str | None,
               on_close: Callable[[Callable[[], None]], None]) -> tuple[str, str | None]:
    """(context directory, Dockerfile path or None for the context's own) for `build -`.
    tmp_dir(prefix) makes a private directory; on_close registers its removal."""
    if dockerfile == "-":
        raise UsageError("invalid argument: can't use stdin for both the build context and the Dockerfile")
    head = stdin.read(_HEAD)
    if not _is_archive(head):
        if dockerfile:
            raise UsageError("ambiguous Dockerfile source: both stdin and -f name a Dockerfile")
        here = _private(tmp_dir, "stdin-", on_close)
        os.mkdir(os.path.join(here, "context"), 0o700)
        data = head + stdin.read(MAX_DOCKERFILE + 1 - len(head))
        path = os.path.join(here, "Dockerfile")
        with open(path, "wb") as f:
            f.write(data)
        return os.path.join(here, "context"), path
    here = _private(tmp_dir, "tar-context-", on_close)
    root = os.path.join(here, "context")
    os.mkdir(root, 0o700)
    _unpack(_Prefixed(head, stdin), root)
    return root, _dockerfile(root, here, dockerfile)


def from_request(body, here: str, dockerfile: str | None) -> tuple[str, str]:
    """cairn serve's POST /build: (context directory, Dockerfile path) from the request body,
    a tar (maybe compressed) unpacked into here/context as `build -` unpacks stdin. The
    Dockerfile is the one inside the tar, never a host file."""
    head = body.read(_HEAD)
    if not _is_archive(head):
        raise TarContextError("the build context is not a tar archive")
    root = os.path.join(here, "context")
    os.mkdir(root, 0o700)
    _unpack(_Prefixed(head, body), root)
    os.chmod(root, 0o755)  # (as docker's daemon: `COPY . /app` makes /app 0755; `here` is private, 0700)
    out = os.path.join(here, "dockerfile")
    os.mkdir(out, 0o700)
    return root, _dockerfile(root, out, dockerfile, "the build context", host=False)


def _private(tmp_dir, prefix: str, on_close) -> str:
    path = tmp_dir(prefix)
    on_close(lambda: remove_all(path))
    return path


def _is_archive(head: bytes) -> bool:
    if sniff(head) != "none":
        return True
    try:
        tarfile.TarInfo.frombuf(head[:tarfile.BLOCKSIZE], "utf-8", "surrogateescape")
        return True
    except tarfile.HeaderError:
        return False


def _unpack(stream, root: str) -> None:
    from ..layers.extract import LayerError, extract_tar

    kind = sniff(stream.head)
    if kind == "xz":
        import lzma

        raw = lzma.open(stream)
    elif kind == "bzip2":
        import bz2

        raw = bz2.open(stream)
    else:
        raw = decompressed_by_kind(stream, kind)
    try:
        extract_tar(_Capped(raw, limit()), root, layer=False)
    except LayerError as err:
        raise TarContextError(f"the build context from stdin: {err}") from None
    except CairnError:
        raise
    except Exception as err:  # a decompressor's own error (gzip, zstd, xz, bzip2): corrupt input
        if isinstance(err, OSError) and err.errno is not None:
            raise  # the host's trouble (disk full): reported as it is
        raise TarContextError(f"the build context from stdin: cannot decompress: {err}") from None


def _dockerfile(root: str, here: str, named: str | None, what: str = "the build context from stdin",
                host: bool = True) -> str:
    """The Dockerfile to build: one inside the tar (copied out of it, read through the tree),
    else (host) the host file -f names."""
    wanted = named or "Dockerfile"
    with Tree(root) as t:
        if not named and t.lstat("Dockerfile") is None and t.lstat("dockerfile") is not None:
            wanted = "dockerfile"
        if t.lstat(wanted) is None:
            if named and host and os.path.lexists(named):
                return named  # a Dockerfile outside the context
            raise UsageError(f"{what} has no {wanted}")
        out = os.path.join(here, os.path.basename(wanted.rstrip("/")) or "Dockerfile")
        for src, dest in ((wanted, out), (wanted + ".dockerignore", out + ".dockerignore")):
            if src != wanted and t.lstat(src) is None:
                continue
            try:
                fd = t.open_file(src)
            except TreeError as err:
                raise UsageError(f"cannot read {src} in {what}: {err.strerror}") from None
            with os.fdopen(fd, "rb") as f:
                data = f.read(MAX_DOCKERFILE + 1)
            with open(dest, "wb") as f:
                f.write(data)
    return out


class _Prefixed:
    """The stream with the bytes already read from it put back in front."""

    def __init__(self, head: bytes, rest):
        self.head, self._pending, self.rest = head, head, rest

    def read(self, n: int = -1) -> bytes:
        if self._pending:
            if n < 0:
                data, self._pending = self._pending + self.rest.read(), b""
                return data
            data, self._pending = self._pending[:n], self._pending[n:]
            return data
        return self.rest.read(n)

    def readable(self) -> bool:
        return True


class _Capped:
    """Refuses to read past `cap` bytes of the decompressed tar."""

    def __init__(self, stream, cap: int):
        self.stream, self.cap, self.seen = stream, cap, 0

    def read(self, n: int = -1) -> bytes:
        data = self.stream.read(n if n >= 0 else 1 << 20)
        self.seen += len(data)
        if self.seen > self.cap:
            raise TarContextError(f"the build context from stdin is larger than {self.cap} bytes "
                                  "(CAIRN_TAR_CONTEXT_LIMIT)")
        return data
