"""The git sources of an ADD step: which of its sources are git repositories, the commit each
resolves to (what the step's cache key holds, so an unchanged ref hits without fetching and
a moved one misses), and writing each one's tree into the layer (BuildKit copies the
repository's root, or its subdir, into the destination directory)."""

from __future__ import annotations

from ..context.build_context import BuildContext, ContextError
from ..errors import CairnError
from ..store.store import Store, remove_tree
from .git_ref import GitRef, for_add, scheme_of

# (git_source runs git through subprocess, copy writes layers: both load only for a source
# that is a git repository, not for every ADD of a local file)


def git_sources(store: Store, memo: dict, sources: list[str], keep_git_dir: bool,
                checksum: str) -> list[tuple[str, GitRef, str]]:
    """(source, ref, commit) of each expanded ADD source that names a git repository; the
    commit is resolved once per stage state (`memo`), so the layer is of the commit its key
    names. A URL of another scheme (file://...) is refused: it must not name a host path."""
    found = []
    for src in sources:
        ref = for_add(src, keep_git_dir, checksum)
        if ref is None:
            scheme = scheme_of(src)
            if scheme is not None and scheme not in ("http", "https"):
                raise CairnError(f"ADD {src}: unsupported URL scheme {scheme!r} "
                                 "(a git repository is fetched over https, http, git or ssh)")
            continue
        if ref not in memo:
            from .git_source import Git, resolve

            workdir = store.new_tmp_dir("git-")
            try:
                memo[ref] = resolve(Git(workdir), ref)
            finally:
                remove_tree(workdir)
        found.append((src, ref, memo[ref]))
    return found


def key_entries(found: list[tuple[str, GitRef, str]]) -> list[list]:
    """What a git source puts in the step's key: the commit, not the ref or checksum that
    named it (testAddGitChecksumCache)."""
    return [[ref.remote, commit, ref.subdir, bool(ref.keep_git_dir), ref.submodules is not False]
            for _, ref, commit in found]


def copy_git_source(store: Store, layer_dir: str, ref: GitRef, commit: str, dest: str, workdir: str,
                    lowers: list[str], chown, chmod) -> None:
    """Fetch and check out commit in a private directory of the store, and copy its tree (or
    subdir) into dest, a directory, through the context copy code."""
    from .copy import copy_into_layer
    from .git_source import checkout

    tmp = store.new_tmp_dir("git-")
    try:
        ctx = BuildContext(checkout(tmp, ref, commit))
        source = subdir_of(ctx, ref, commit)
        into = dest if dest.endswith("/") else dest + "/"
        copy_into_layer(layer_dir, ctx, [source or "."], [], into, workdir, lowers, chown, chmod)
    finally:
        remove_tree(tmp)


def subdir_of(ctx: BuildContext, ref: GitRef, commit: str) -> str:
    """ref's subdir in the checkout, its links resolved inside the checkout; a directory."""
    if not ref.subdir:
        return ""
    try:
        ctx.select(ref.subdir)
        real = ctx.resolve_links(ref.subdir)
        if not ctx.is_dir(real):
            raise ContextError("not a directory")
    except ContextError:
        from .git_source import public_url

        raise CairnError(f"{public_url(ref.remote)}: subdir {ref.subdir!r} is not a directory "
                         f"of commit {commit}") from None
    return real
