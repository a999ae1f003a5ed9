"""The build context: a directory read in place (never copied whole), filtered by
`.dockerignore` (or `<Dockerfile>.dockerignore`, which takes precedence).

The context is untrusted: every read resolves its path inside the context's root
(runtime.tree), so a link such as `hostroot -> /` names the context's own root, never the
host's, and a file is opened without following a link at its last component."""

from __future__ import annotations

import errno
import fnmatch
import os
import posixpath
import stat
from dataclasses import field
from pathlib import Path

from runtime.record import Record, record
from runtime.tree import Tree, TreeError

from ..errors import CairnError
from .dockerignore import KEEP, WALK, Pattern, excluded, parse_dockerignore, verdict
from .walk_guard import ContextChanged


class ContextError(CairnError):
    pass


@record
class BuildContext(Record):
    root: Path
    patterns: list[Pattern] = field(default_factory=list)
    excludes: list[Pattern] = field(default_factory=list)
    roots: tuple[str, ...] | None = None  # the COPY's sources, that --exclude patterns are relative to
    walked: dict[str, bool] = field(default_factory=dict, compare=False, repr=False)  # WALK dirs: ignored?
    listed: dict = field(default_factory=dict, compare=False, repr=False)  # rel -> _Listed: the last listdirs
    pin: list = field(default_factory=list, compare=False, repr=False)  # [st_dev, st_ino] of the root opened
    keeps_owners = False  # COPY from the context writes 0:0 unless --chown, as BuildKit does

    @classmethod
    def open(cls, root: str, dockerfile_path: str | None = None) -> BuildContext:
        path = Path(root)
        if not path.is_dir():
            raise ContextError(f"build context {root!r} is not a directory")
        return cls.with_ignore_file(root, ignore_file(root, dockerfile_path))

    @classmethod
    def with_ignore_file(cls, root: str, raw: bytes | None) -> BuildContext:
        """The context filtered by a .dockerignore's bytes (ignore_file's: None for none)."""
        ctx = cls(Path(root).resolve(), parse_dockerignore(raw.decode(errors="replace") if raw is not None else ""))
        fd = os.open(ctx.root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            ctx.check_root(fd)  # (pinned: the directory every later read must find at the root's path)
        finally:
            os.close(fd)
        return ctx

    def check_root(self, fd: int) -> None:
        """ContextChanged unless fd, opened at the root's path, is the directory the context was
        opened on (the first one checked). The root is kept as a path (the cache key, messages
        name it): whoever owns its parent could swap it for a link to a host directory between
        two reads, and nothing is then read through it."""
        st = os.fstat(fd)
        if not self.pin:
            self.pin[:] = (st.st_dev, st.st_ino)
        elif st.st_dev != self.pin[0] or st.st_ino != self.pin[1]:
            raise ContextChanged(str(self.root))

    def _tree(self) -> Tree:
        """A Tree of the root, checked to be the context's own directory (check_root)."""
        t = Tree(self.root)
        try:
            self.check_root(t.fd)
        except BaseException:
            t.close()
            raise
        return t

    def ignored(self, rel: str) -> bool:
        """The one answer every walker of the context (the copy, the cache key, the step
        memo's fingerprint, bind mounts, checks) uses, so that they see the same files."""
        if self.patterns and self._dockerignored(rel):
            return True
        return bool(self.excludes) and excluded(rel, self.excludes, self.roots)

    def _dockerignored(self, rel: str) -> bool:
        """.dockerignore's answer for rel. A directory it excludes but an exception may
        match below (`dir` then `!dir/keep`) is there when something below it is kept, as
        in BuildKit; the look below is remembered (a negative one for every directory it
        met), so a context is read once more at most."""
        what = verdict(rel, self.patterns)
        if what != WALK:
            return what != KEEP
        known = self.walked.get(rel)
        if known is None:
            met: list[str] = []
            known = not self._keeps_below(rel, met)
            for d in met if known else (rel,):
                self.walked[d] = known
        return known

    def _keeps_below(self, rel: str, met: list[str]) -> bool:
        """Whether any entry below the directory rel is kept (False when rel is no
        directory). Directories are opened component by component without following a
        link, so a link swapped in names nothing outside the context."""
        stack = [rel]
        while stack:
            cur = stack.pop()
            met.append(cur)
            fd = self._open_dir(cur)
            if fd is None:
                continue
            try:
                with os.scandir(fd) as entries:
                    names = sorted((e.name, e.is_dir(follow_symlinks=False)) for e in entries)
            finally:
                os.close(fd)
            for name, is_dir in names:
                child = f"{cur}/{name}"
                what = verdict(child, self.patterns)
                if what == KEEP:
                    return True
                if what == WALK and is_dir:
                    stack.append(child)
        return False

    def _open_dir(self, rel: str) -> int | None:
        fd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            self.check_root(fd)
        except BaseException:
            os.close(fd)
            raise
        for part in rel.split("/"):
            try:
                nxt = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
            except OSError:
                nxt = None
            os.close(fd)
            if nxt is None:
                return None
            fd = nxt
        return fd

    def excluding(self, patterns: list[str]) -> BuildContext:
        """The same context, with COPY --exclude patterns as well as .dockerignore's."""
        return BuildContext(self.root, self.patterns, self.excludes + parse_dockerignore("\n".join(patterns)),
                            pin=self.pin)

    def rooted(self, roots) -> BuildContext:
        """The same context, its --exclude patterns relative to these sources (real paths)."""
        if not self.excludes:
            return self
        return BuildContext(self.root, self.patterns, self.excludes, tuple(sorted(roots, key=len, reverse=True)),
                            pin=self.pin)

    def clean(self, src: str) -> str:
        """src as a context-relative path; a path that leaves the context is refused."""
        norm = posixpath.normpath(src)
        if norm == ".." or norm.startswith("../"):
            raise ContextError(f"forbidden path outside the build context: {src}")
        rel = posixpath.normpath("/" + src).lstrip("/")
        return "" if rel == "." else rel

    def select(self, src: str) -> list[str]:
        """Context-relative paths a COPY source names (wildcards expanded, ignored files out)."""
        rel = self.clean(src)
        if any(c in rel for c in "*?["):
            depth = rel.count("/") + 1
            found = []
            for entry in self._walk(depth):
                if entry.count("/") + 1 == depth and fnmatch.fnmatchcase(entry, rel):
                    found.append(entry)
            return sorted(found)  # none is fine: BuildKit copies nothing for an empty wildcard
        # (a link naming an ignored entry names nothing: the context BuildKit receives has no such
        # entry, the link dangles there; as a --mount source, run_mounts.context_source)
        if rel and (self._entry_lstat(rel) is None or self.ignored(rel) or self._names_ignored(rel)):
            raise ContextError(f"{src}: not found in the build context (or excluded by .dockerignore)")
        return [rel]

    def _names_ignored(self, rel: str) -> bool:
        real = self.resolve_links(rel)
        return real != rel and bool(real) and self.ignored(real)

    def _entry_lstat(self, rel: str) -> os.stat_result | None:
        """The entry rel names, links in its directories followed inside the context (`via/f`
        where via -> real), its last component not followed."""
        with self._tree() as t:
            return t.lstat(rel)

    def _walk(self, max_depth: int):
        stack = [("", 0)]
        while stack:
            rel, depth = stack.pop()
            if depth >= max_depth:
                continue
            for name in self.listdir(rel):
                child = f"{rel}/{name}" if rel else name
                if self.ignored(child):
                    continue
                yield child
                if self.is_dir(child):
                    stack.append((child, depth + 1))

    def path(self, rel: str) -> Path:
        return self.root / rel if rel else self.root

    # the read interface COPY uses (shared with merged_view.MergedView)
    def open_file(self, rel: str) -> int:
        """A read-only fd of the regular file at rel, links followed inside the context."""
        with self._tree() as t:
            try:
                return t.open_file(rel)
            except OSError as err:
                raise ContextError(f"{rel}: cannot read from the build context: {err.strerror}") from None

    # (each resolved inside the context as open_file is, its directories opened one at a time: a
    # directory swapped for a link to the host after a scan is followed inside the context, never
    # out of it, as source_paths.py relies on. An entry of the directory listed last is read
    # through that listing's fd while the directory at its path is still that one.)
    def readlink(self, rel: str) -> str:
        fd, name, close = self._parent(rel)
        try:
            return os.readlink(name, dir_fd=fd)
        finally:
            if close:
                os.close(fd)

    def lstat(self, rel: str) -> os.stat_result | None:
        if not rel:
            st = os.lstat(self.root)
            if self.pin and (st.st_dev != self.pin[0] or st.st_ino != self.pin[1]):
                raise ContextChanged(str(self.root))
            return st
        try:
            fd, name, close = self._parent(rel)
        except (OSError, TreeError):
            return None
        try:
            return os.stat(name, dir_fd=fd, follow_symlinks=False)
        except FileNotFoundError:
            return None
        finally:
            if close:
                os.close(fd)

    def is_dir(self, rel: str) -> bool:
        st = self.lstat(rel)
        return st is not None and stat.S_ISDIR(st.st_mode)

    def listdir(self, rel: str) -> list[str]:
        fd = self._listed_child(rel)
        if fd is None:
            with self._tree() as t:
                fd, _ = t.resolve(rel)
        listed = self.listed
        old = listed.pop(rel, None)
        listed[rel] = _Listed(fd)
        if len(listed) > _LISTED:  # (the least recently read: a copy's ancestors are read again as it climbs back)
            del listed[next(iter(listed))]
        del old
        return sorted(os.listdir(fd))

    def _listed_child(self, rel: str) -> int | None:
        """An fd of the directory rel opened, following no link, through its parent's listing
        (a COPY lists a directory, then each of its subdirectories): not resolved from the root
        again, which costs one open per level of a deep tree. None when that cannot be used."""
        parent, _, name = rel.rpartition("/")
        if not rel or parent not in self.listed:
            return None
        fd, name, close = self._parent(rel)
        try:
            return None if close else os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC,
                                               dir_fd=fd)
        except OSError:
            return None  # (a link, or gone: resolved from the root)
        finally:
            if close:
                os.close(fd)

    def _parent(self, rel: str) -> tuple[int, str, bool]:
        """(fd of rel's directory, rel's name, whether the caller closes the fd)."""
        parent, _, name = rel.rpartition("/")
        known = self.listed.pop(parent, None)
        if known is not None:
            self.listed[parent] = known
            try:
                st = os.stat(os.path.join(self.root, parent) if parent else self.root)
            except OSError:
                st = None
            if st is not None and st.st_ino == known.ino and st.st_dev == known.dev:
                return known.fd, name, False
        with self._tree() as t:
            fd, name = t.parent(rel)
        return fd, name, True

    def resolve_links(self, rel: str) -> str:
        """Follow symlinks in a source path inside the context, as BuildKit does: the context
        is the root, so `/etc` in a link's target is the context's etc."""
        with self._tree() as t:
            try:
                return t.realpath(rel).lstrip("/")
            except OSError as err:
                raise ContextError(f"{rel}: {err.strerror}") from None


_LISTED = 16  # directories a BuildContext keeps open after listing them


class _Listed:
    """A directory BuildContext.listdir read (a COPY lists one, then reads each entry): its fd,
    closed when newer listings push it out or the context goes."""

    __slots__ = ("dev", "fd", "ino")

    def __init__(self, fd: int):
        st = os.fstat(fd)
        self.fd, self.dev, self.ino = fd, st.st_dev, st.st_ino

    def __del__(self):
        try:
            os.close(self.fd)
        except OSError:
            pass


def ignore_file(root: str, dockerfile_path: str | None) -> bytes | None:
    """The bytes of the .dockerignore a build of `root` with this Dockerfile uses, None when none."""
    path = Path(root)
    candidates = []
    if dockerfile_path and dockerfile_path != "-":
        candidates.append(Path(dockerfile_path + ".dockerignore"))
    candidates.append(path / ".dockerignore")
    for cand in candidates:
        raw = _read_ignore_file(str(path.resolve()), cand)
        if raw is not None:
            return raw
    return None


def _read_ignore_file(root: str, cand: Path) -> bytes | None:
    """A .dockerignore's bytes (bounded), None when there is none. One inside the context is
    the context's: its links are resolved inside it, never to a host file."""
    from ..bounded import DOCKERFILE_LIMIT, read_regular_file, read_stream

    parent = os.path.realpath(cand.parent)
    if parent != root and not parent.startswith(root + "/"):
        return read_regular_file(cand, DOCKERFILE_LIMIT, str(cand)) if cand.exists() else None
    with Tree(root) as t:
        try:
            fd = t.open_file(f"{os.path.relpath(parent, root)}/{cand.name}")
        except FileNotFoundError:
            return None
        except OSError as err:
            if err.errno == errno.ENOENT:
                return None
            raise ContextError(f"cannot read {cand}: {err.strerror}") from None
    with os.fdopen(fd, "rb") as f:
        return read_stream(f, DOCKERFILE_LIMIT, str(cand))
