"""`cairn build URL`: a build context fetched from the network, as docker reads one.

- a git repository (`https://host/repo.git#REF:SUBDIR`, `git@host:repo.git`, the query form
  `?ref=&subdir=&keep-git-dir`...): the commit is fetched and checked out by the bounded,
  clean git of executor.git_source into a private directory of the store's tmp/, and its
  subdir (resolved inside the checkout) is the context;
- any other http(s) URL: its body, at most CAIRN_TAR_CONTEXT_LIMIT bytes, is read as a
  context tar (its `-f NAME` inside it) or, when it is not an archive, as the Dockerfile
  of an empty context: the same rules, and the same unpacking, as `cairn build -`.

The Dockerfile inside either is read through runtime.tree (a link resolves inside the
context) and copied out. Everything is removed when the command ends."""

from __future__ import annotations

import http.client
import os
import shutil
import urllib.error
import urllib.request
from pathlib import Path
from typing import Callable

from .bounded import size_text
from .errors import CairnError, UsageError
from .executor.add_git import subdir_of
from .executor.context import BuildContext
from .executor.git_ref import parse, scheme_of
from .executor.git_source import Git, checkout, resolve
from .stdin_context import _dockerfile, _is_archive, from_stdin, limit

_TIMEOUT = 60
_CHUNK = 1 << 20


def is_remote(context: str) -> bool:
    """Whether the build context argument is a URL (a local directory never is)."""
    if os.path.isdir(context):
        return False
    return scheme_of(context) in ("http", "https", "git", "ssh") or parse(context) is not None


def from_url(url: str, tmp_dir: Callable[[str], str], dockerfile: str | None,
             on_close: Callable[[Callable[[], None]], None]) -> tuple[str, str]:
    """(context directory, Dockerfile path) for a URL context; tmp_dir(prefix) makes a
    private directory, on_close registers its removal."""
    here = tmp_dir("url-context-")
    on_close(lambda: shutil.rmtree(here, ignore_errors=True))
    ref = parse(url)
    if ref is not None:
        workdir = Path(here)
        commit = resolve(Git(workdir), ref)
        ctx = BuildContext(checkout(workdir, ref, commit))
        root = str(ctx.path(subdir_of(ctx, ref, commit)))
        return root, _dockerfile(root, here, dockerfile, f"the git repository {ref.remote}")
    if scheme_of(url) not in ("http", "https"):
        raise UsageError(f"build context {url!r}: unsupported URL scheme (use http, https or a git URL)")
    body = os.path.join(here, "body")
    _download(url, body)
    with open(body, "rb") as f:
        archive = _is_archive(f.read(1024))
        f.seek(0)
        return from_stdin(f, tmp_dir, dockerfile if archive else None, on_close)


def _download(url: str, path: str) -> None:
    cap = limit()
    got = 0
    try:
        with urllib.request.urlopen(url, timeout=_TIMEOUT) as resp, open(path, "wb") as out:
            while chunk := resp.read(_CHUNK):
                got += len(chunk)
                if got > cap:
                    raise CairnError(f"build context {url}: larger than {size_text(cap)} (CAIRN_TAR_CONTEXT_LIMIT)")
                out.write(chunk)
    except (urllib.error.URLError, http.client.HTTPException, ValueError) as err:
        raise CairnError(f"cannot download the build context {url}: {getattr(err, 'reason', None) or err}") from None
