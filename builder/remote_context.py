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

import email.utils
import http.client
import os
import urllib.error
import urllib.request
from pathlib import Path
from typing import Callable

from runtime.remove import remove_all

from .bounded import size_text
from .context.build_context import BuildContext
from .context.stdin_tar import _dockerfile, _is_archive, from_stdin, limit
from .errors import CairnError, UsageError
from .executor.add_git import subdir_of
from .executor.git_ref import parse, scheme_of
from .executor.git_source import Git, checkout, public_url, resolve

_TIMEOUT = 60
_CHUNK = 1 << 20


def is_remote(context: str) -> bool:
    """Whether the build context argument is a URL (a local directory never is)."""
    if os.path.isdir(context):
        return False
    return scheme_of(context) in ("http", "https", "git", "ssh") or parse(context) is not None


def from_url(url: str, tmp_dir: Callable[[str], str], dockerfile: str | None,
             on_close: Callable[[Callable[[], None]], None]) -> tuple[str, str, int | None]:
    """(context directory, Dockerfile path, the context's own time) for a URL context;
    tmp_dir(prefix) makes a private directory, on_close registers its removal. The time
    (what SOURCE_DATE_EPOCH=context means, as in BuildKit) is the commit's, or the
    Last-Modified of the download, else the newest file time in its tar, else None."""
    here = tmp_dir("url-context-")
    on_close(lambda: remove_all(here))
    ref = parse(url)
    if ref is not None:
        workdir = Path(here)
        git = Git(workdir)
        commit = resolve(git, ref)
        ctx = BuildContext(checkout(workdir, ref, commit))
        root = str(ctx.path(subdir_of(ctx, ref, commit)))
        git_dir = ctx.root / ".git" if ref.keep_git_dir else workdir / "git-dir"
        when = git.run(f"--git-dir={git_dir}", "show", "-s", "--format=%ct", commit, what="git show").strip()
        return root, _dockerfile(root, here, dockerfile, f"the git repository {public_url(ref.remote)}"), \
            int(when) if when.isdigit() else None
    if scheme_of(url) not in ("http", "https"):
        raise UsageError(f"build context {url!r}: unsupported URL scheme (use http, https or a git URL)")
    body = os.path.join(here, "body")
    modified = _download(url, body)
    with open(body, "rb") as f:
        archive = _is_archive(f.read(1024))
        f.seek(0)
        context, path = from_stdin(f, tmp_dir, dockerfile if archive else None, on_close)
    if modified is None and archive:
        from .executor.epoch_stage import _newest_file_time

        modified = _newest_file_time(body)
    return context, path, modified


def with_context_epoch(build_args: tuple[str, ...], when: int | None) -> tuple[str, ...]:
    """The build args with SOURCE_DATE_EPOCH=context (given, or from the environment) made
    the remote context's own time (empty, so unset, when it has none)."""
    name = "SOURCE_DATE_EPOCH"
    value = "" if when is None else str(when)
    if any(arg.split("=", 1)[0] == name for arg in build_args):
        return tuple(f"{name}={value}" if arg == f"{name}=context" else arg for arg in build_args)
    if os.environ.get(name) == "context":
        return (*build_args, f"{name}={value}")
    return build_args


def _download(url: str, path: str) -> int | None:
    """Fetch url to path (bounded); its Last-Modified in seconds, or None."""
    cap = limit()
    got = 0
    try:
        with urllib.request.urlopen(url, timeout=_TIMEOUT) as resp, open(path, "wb") as out:
            while chunk := resp.read(_CHUNK):
                got += len(chunk)
                if got > cap:
                    raise CairnError(f"build context {url}: larger than {size_text(cap)} (CAIRN_TAR_CONTEXT_LIMIT)")
                out.write(chunk)
            modified = resp.headers.get("Last-Modified")
    except (urllib.error.URLError, http.client.HTTPException, ValueError) as err:
        raise CairnError(f"cannot download the build context {url}: {getattr(err, 'reason', None) or err}") from None
    try:
        return int(email.utils.parsedate_to_datetime(modified).timestamp()) if modified else None
    except (TypeError, ValueError):
        return None
