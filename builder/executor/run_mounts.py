"""RUN --mount: what each mount of a RUN step shows, resolved so that nothing a Dockerfile,
its context or a stage says can reach a host path or the store's own files.

- bind (context): the source is resolved inside the context (a link `hostroot -> /` is the
  context's root); the mount is an overlay over it whose top lower layer holds whiteouts for
  what .dockerignore excludes, so ignored files are absent; `rw` adds a throwaway upper
  directory: writes are seen by the step and discarded, as in BuildKit.
- bind (from=stage or image): the source is resolved inside that filesystem, the mount an
  overlay of the matching directory of each of its layers (or a read-only bind of a file).
- cache: `id` is hashed into a directory name under the store's cache-mounts, never a path.
- secret: a read-only bind of a private copy of the file the user named with --secret,
  with the mount's uid/gid/mode; `env=NAME` gives its content as the variable NAME.
- ssh: a socket made for the step (ssh_agent.Forward) that relays to the agent named with
  --ssh; SSH_AUTH_SOCK names the first one. It is closed and removed after the step.
"""

from __future__ import annotations

import os
import stat
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from runtime import tree
from runtime.tree import Tree

from ..context.merged_view import MergedView
from ..context.walk_guard import ContextChanged
from ..errors import CairnError
from ..instructions.mounts import parse_mount
from ..store.cache_mounts import dir_name as cache_dir_name
from ..store.cache_mounts import record_use

if TYPE_CHECKING:
    from runtime.spec import Mount

SECRET_MAX = 500 * 1024  # BuildKit's limit on a secret's size


@dataclass
class RunMounts:
    mounts: list[Mount] = field(default_factory=list)
    scratch: list[str] = field(default_factory=list)  # directories to remove after the step
    env: dict[str, str] = field(default_factory=dict)  # variables from secrets (env=NAME)
    forwards: list = field(default_factory=list)  # ssh agent relays to close after the step


def _mount(*args) -> Mount:
    """A runtime mount (the runtime loads when a step runs, not when a cached build keys it)."""
    from runtime.spec import Mount

    return Mount(*args)


class UsedMounts:
    """The cache mounts (id -> sharing) of the RUN steps a build keyed, hit or not (what
    `--cache-to ...,cache-mounts=true` exports: cache/mount_pack.py)."""

    def __init__(self):
        self.by_id: dict[str, str] = {}

    def note(self, mounts) -> None:
        for m in mounts:
            if m.type == "cache":
                self.by_id.setdefault(m.id or m.target, m.sharing or "shared")


class FreshCaches:
    """The cache mounts a build has emptied: a step that skips the cache (--no-cache) starts
    each cache mount empty, once per build, as BuildKit does; later steps share what it wrote."""

    def __init__(self):
        self._done: set[str] = set()
        self._lock = threading.Lock()

    def first_use(self, name: str) -> bool:
        with self._lock:
            if name in self._done:
                return False
            self._done.add(name)
            return True


def resolve_mounts(mounts, context, store, secrets: dict[str, str], from_layers, fresh=None, ssh=(),
                   restore=None) -> RunMounts:
    """The runtime mounts for a RUN step's --mount flags. `from_layers(name)` gives the layer
    directories (top first) of a stage or image, or the BuildContext of a directory context;
    `context` is the BuildContext; `fresh` (a FreshCaches) when the step skips the cache;
    `ssh` the build's SshSources; `restore` (cache/mount_restore.MountRestore) brings cache
    mounts from --cache-from into a runner that lacks them."""
    out = RunMounts()
    ssh_mounts = 0
    try:
        for m in mounts:
            if m.type == "ssh":
                _ssh(m, ssh, ssh_mounts, store, out)
                ssh_mounts += 1
                continue
            _resolve_one(m, context, store, secrets, from_layers, out, fresh, restore)
    except BaseException:
        remove_scratch(out)
        raise
    return out


def remove_scratch(out: RunMounts) -> None:
    from ..store.store import remove_tree

    try:
        while out.forwards:
            out.forwards.pop().close()
    finally:
        for d in out.scratch:
            remove_tree(Path(d))
        out.scratch.clear()


def _resolve_one(m, context, store, secrets, from_layers, out: RunMounts, fresh=None, restore=None) -> None:
    if m.type == "secret":
        _secret(m, secrets, store, out)
    elif m.type == "tmpfs":
        opts = ("nosuid", "nodev") + ((f"size={m.size}",) if m.size else ())
        out.mounts.append(_mount(m.target, "tmpfs", "tmpfs", opts))
    elif m.type == "cache":
        out.mounts.append(_cache_mount(m, store, fresh, restore))
    elif m.type == "bind" and m.from_:
        source = from_layers(m.from_)
        if isinstance(source, list):
            _stage_bind(m, source, m.from_, store, out)
        else:  # a directory context (--build-context NAME=DIR): as the build context
            _context_bind(m, source, store, out)
    elif m.type == "bind":
        _context_bind(m, context, store, out)
    else:
        raise CairnError(f"RUN --mount=type={m.type}{',from=' + m.from_ if m.from_ else ''} is not supported yet")


def _secret(m, secrets, store, out: RunMounts) -> None:
    """A secret as a file (a private copy with the mount's owner and mode, 0:0 0400 by
    default, as in BuildKit) and/or, with env=NAME, as the step's variable NAME; neither is
    ever part of the layer or of the cache key."""
    sid = m.id or os.path.basename(m.target or "")
    src = secrets.get(sid)
    if src is None:
        if m.required:
            raise CairnError(f"secret {sid!r} is required but was not given (--secret id={sid},src=PATH)")
        return
    try:
        if isinstance(src, bytes):  # --secret id=ID,env=VAR: the value itself
            data = src[:SECRET_MAX + 1]
        else:
            with open(src, "rb") as f:
                data = f.read(SECRET_MAX + 1)
    except OSError as err:
        raise CairnError(f"secret {sid!r}: cannot read {src}: {err.strerror}") from None
    if len(data) > SECRET_MAX:
        raise CairnError(f"secret {sid!r} is larger than {SECRET_MAX // 1024} KiB")
    if m.env:
        if b"\0" in data:
            raise CairnError(f"secret {sid!r} holds a NUL byte and cannot be the variable {m.env}")
        out.env[m.env] = data.decode("utf-8", "surrogateescape")
        if not m.target:
            return  # only the variable (BuildKit mounts no file then)
    with Tree(_scratch(store, "mount-secret-", out)) as t:
        t.write_file("secret", data, 0o400)
        tree.set_meta(t.fd, "secret", owner=(m.uid or 0, m.gid or 0), mode=m.mode if m.mode is not None else 0o400)
        path = os.path.join(t.root, "secret")
    out.mounts.append(_mount(m.target or f"/run/secrets/{sid}", "bind", path, ("ro", "nosuid", "nodev")))


def _ssh(m, sources, index: int, store, out: RunMounts) -> None:
    """The agent given with --ssh ID as a fresh socket (0:0 0600 by default, as in BuildKit) at
    the target or /run/buildkit/ssh_agent.N; an id not given is an error only when required."""
    from .ssh_agent import DEFAULT_ID, Forward

    sid = m.id or DEFAULT_ID
    source = next((s for s in sources if s.id == sid), None)
    if source is None:
        if m.required:
            raise CairnError(f"ssh agent {sid!r} is required but was not given (--ssh {sid}[=SOCKET|KEY])")
        return
    forward = Forward(source, m.mode if m.mode is not None else 0o600, m.uid or 0, m.gid or 0, store)
    out.forwards.append(forward)
    target = m.target or f"/run/buildkit/ssh_agent.{index}"
    out.mounts.append(_mount(target, "bind", forward.path, ("nosuid", "nodev", "noexec")))
    out.env.setdefault("SSH_AUTH_SOCK", target)


def _cache_mount(m, store, fresh=None, restore=None) -> Mount:
    base = str(store.layout.cache_mounts)
    os.makedirs(base, mode=0o700, exist_ok=True)
    name = cache_dir_name(m.id or m.target)
    path = os.path.join(base, name)
    if restore is not None and fresh is None:  # (a step that skips the cache starts it empty)
        restore.before_mount(m.id or m.target, base, name)
    try:
        os.mkdir(path, 0o755)
        made = True
    except FileExistsError:
        made = False
    if not made and fresh is not None and fresh.first_use(name):
        with Tree(path) as t:  # emptied in place: what the step sees is a new cache
            for child in os.listdir(t.fd):
                tree.remove(t.fd, child)
        made = True
    elif made and fresh is not None:
        fresh.first_use(name)
    if made:
        os.chown(path, m.uid or 0, m.gid or 0)
        os.chmod(path, m.mode if m.mode is not None else 0o755)
    record_use(base, name, m.id or m.target)  # (for `cairn cache ls`: its id and when it was last used)
    return _mount(m.target, "bind", path, ("ro",) if m.readonly else ())


def _scratch(store, prefix: str, out: RunMounts) -> str:
    path = str(store.new_tmp_dir(prefix))
    out.scratch.append(path)
    return path


def _overlay(lowers: list[str], readonly: bool, store, out: RunMounts, like, source: str) -> tuple[str, ...]:
    """Options for an overlay of `lowers` (top first); writable ones get a throwaway upper.
    The mount's root shows the topmost directory's mode and owner: a scratch one put on top
    gets those of `like` (the source's stat; None: root's 0755), so that a step run as another
    user reads (and, rw, writes) what it could in the source. A lower whose path holds a
    character the options are split on is refused (`source` names the mount in the error): a
    directory `a:/etc` (or `x,upperdir=/etc,...`), in the context or in a stage's layer, would
    otherwise add the host's /etc as a lower, or as a writable upper."""
    for path in lowers:
        if any(c in path for c in _OPTION_SEPARATORS):
            raise CairnError(f"--mount source {source!r}: its path holds ',', ':' or a backslash, "
                             "which an overlay mount's options cannot carry")
    if len(lowers) == 1:
        lowers = [_scratch(store, "mount-empty-", out)] + lowers  # overlayfs wants two lowers
        _same_as(lowers[0], like)
    opts = [f"lowerdir={':'.join(lowers)}"]
    if not readonly:
        upper = _scratch(store, "mount-upper-", out)
        work = _scratch(store, "mount-work-", out)
        _same_as(upper, like)
        opts += [f"upperdir={upper}", f"workdir={work}"]
    return tuple(opts) + ("nodev",)


_OPTION_SEPARATORS = (",", ":", "\\", "\n")


def _same_as(scratch: str, like) -> None:
    """A scratch directory (cairn's own, new) given the mode and owner of stat `like`."""
    if like is None:
        os.chmod(scratch, 0o755)
        return
    os.chown(scratch, like.st_uid, like.st_gid)
    os.chmod(scratch, stat.S_IMODE(like.st_mode))


def expand_mounts(mounts, expand) -> tuple:
    """The step's mounts with their values expanded in the stage's scope (ENV and ARG: a
    target, id or type may name a variable), as BuildKit reads them."""
    return tuple(parse_mount(m.raw, expand) if "$" in m.raw else m for m in mounts)


def context_source(m, context) -> str:
    """The context-relative path a bind mount of the context shows (links followed inside
    the context); refused when missing or excluded by .dockerignore."""
    rel = context.resolve_links(m.source or ".")
    if context.lstat(rel) is None or (rel and context.ignored(rel)):
        raise CairnError(f"--mount source {m.source or '.'!r}: not found in the build context "
                         "(or excluded by .dockerignore)")
    return rel


def _context_bind(m, context, store, out: RunMounts) -> None:
    """The mount is pinned (runtime.securejoin.open_source): the container's process opens the
    source inside the context, following no link, and mounts it only if it is the entry
    stat-ed here; a directory on its path swapped for a link to the host meanwhile is refused."""
    rel = context_source(m, context)
    st = context.lstat(rel)
    if st is None:
        raise ContextChanged(rel)
    host = str(context.path(rel))
    pin = (str(context.root), rel, st.st_dev, st.st_ino)
    if not stat.S_ISDIR(st.st_mode):
        out.mounts.append(_mount(m.target, "bind", host, ("ro", "nosuid", "nodev"), False, pin))
        return
    hidden = _scratch(store, "mount-ignored-", out)
    _same_as(hidden, st)
    _whiteout_ignored(context, rel, hidden)
    opts = _overlay([hidden, host], m.readonly, store, out, st, m.source or ".")
    out.mounts.append(_mount(m.target, "overlay", "overlay", opts, False, pin))


def _whiteout_ignored(context, rel: str, into: str) -> None:
    """A whiteout in `into` for each entry under rel that .dockerignore excludes."""
    if not context.patterns:
        return
    with Tree(into) as t:
        stack = [rel]
        while stack:
            cur = stack.pop()
            for name in context.listdir(cur):
                child = f"{cur}/{name}" if cur else name
                inside = child[len(rel):].lstrip("/")
                if context.ignored(child):
                    dir_fd, base = t.parent(inside, create=True)
                    try:
                        os.mknod(base, stat.S_IFCHR | 0o000, os.makedev(0, 0), dir_fd=dir_fd)
                    finally:
                        os.close(dir_fd)
                elif context.is_dir(child):
                    stack.append(child)


def _stage_bind(m, layers: list[str], name: str, store, out: RunMounts) -> None:
    view = MergedView(layers, name)
    rel = view.resolve_links(m.source or "/")
    st = view.lstat(rel) if rel else (os.lstat(layers[0]) if layers else None)
    if st is None and not layers and not rel:  # an image without layers: its root, an empty directory
        st = os.lstat(_scratch(store, "mount-empty-", out))
    if st is None:
        raise CairnError(f"--mount from={name}: {m.source or '/'} not found there")
    if not stat.S_ISDIR(st.st_mode):
        out.mounts.append(_mount(m.target, "bind", view.host_path(rel), ("ro", "nosuid", "nodev")))
        return
    dirs = view.layer_dirs(rel)
    like = st if layers else None
    if not dirs:
        dirs = [_scratch(store, "mount-empty-", out)]
        _same_as(dirs[0], like)
    opts = _overlay(dirs, m.readonly, store, out, like, m.source or "/")
    out.mounts.append(_mount(m.target, "overlay", "overlay", opts))
