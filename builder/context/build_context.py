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
from dataclasses import field
from pathlib import Path

from runtime.record import Record, record
from runtime.tree import Tree

from ..errors import CairnError
from .dockerignore import KEEP, WALK, Pattern, excluded, parse_dockerignore, verdict


class ContextError(CairnError):
    pass


@record
class BuildContext(Record):
    root: Path
    patterns: list[Pattern] = field(default_factory=list)
    excludes: list[Pattern] = field(default_factory=list)
    roots: tuple[str, ...] | None = None  # the COPY's sources, that --exclude patterns are relative to
    walked: dict[str, bool] = field(default_factory=dict, compare=False, repr=False)  # WALK dirs: ignored?
    keeps_owners = False  # COPY from the context writes 0:0 unless --chown, as BuildKit does

    @classmethod
    def open(cls, root: str, dockerfile_path: str | None = None) -> BuildContext:
        path = Path(root)
        if not path.is_dir():
            raise ContextError(f"build context {root!r} is not a directory")
        ignore_text = ""
        candidates = []
        if dockerfile_path and dockerfile_path != "-":
            candidates.append(Path(dockerfile_path + ".dockerignore"))
        candidates.append(path / ".dockerignore")
        for cand in candidates:
            raw = _read_ignore_file(str(path.resolve()), cand)
            if raw is not None:
                ignore_text = raw.decode(errors="replace")
                break
        return cls(path.resolve(), parse_dockerignore(ignore_text))

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
        fd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY)
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
        return BuildContext(self.root, self.patterns, self.excludes + parse_dockerignore("\n".join(patterns)))

    def rooted(self, roots) -> BuildContext:
        """The same context, its --exclude patterns relative to these sources (real paths)."""
        if not self.excludes:
            return self
        return BuildContext(self.root, self.patterns, self.excludes, tuple(sorted(roots, key=len, reverse=True)))

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
        if (rel and self._entry_lstat(rel) is None) or (rel and self.ignored(rel)):
            raise ContextError(f"{src}: not found in the build context (or excluded by .dockerignore)")
        return [rel]

    def _entry_lstat(self, rel: str) -> os.stat_result | None:
        """The entry rel names, links in its directories followed inside the context (`via/f`
        where via -> real), its last component not followed."""
        with Tree(self.root) as t:
            return t.lstat(rel)

    def _walk(self, max_depth: int):
        stack = [("", 0)]
        while stack:
            rel, depth = stack.pop()
            if depth >= max_depth:
                continue
            for name in sorted(os.listdir(self.root / rel if rel else self.root)):
                child = f"{rel}/{name}" if rel else name
                if self.ignored(child):
                    continue
                yield child
                if (self.root / child).is_dir() and not (self.root / child).is_symlink():
                    stack.append((child, depth + 1))

    def path(self, rel: str) -> Path:
        return self.root / rel if rel else self.root

    # the read interface COPY uses (shared with merged_view.MergedView)
    def open_file(self, rel: str) -> int:
        """A read-only fd of the regular file at rel, links followed inside the context."""
        with Tree(self.root) as t:
            try:
                return t.open_file(rel)
            except OSError as err:
                raise ContextError(f"{rel}: cannot read from the build context: {err.strerror}") from None

    def readlink(self, rel: str) -> str:
        return os.readlink(self.path(rel))

    def lstat(self, rel: str) -> os.stat_result | None:
        try:  # (a str path: a Path made per entry costs more than the lstat on a large context)
            return os.lstat(os.path.join(self.root, rel) if rel else self.root)
        except FileNotFoundError:
            return None

    def is_dir(self, rel: str) -> bool:
        p = self.path(rel)
        return p.is_dir() and not p.is_symlink()

    def listdir(self, rel: str) -> list[str]:
        return sorted(os.listdir(self.path(rel)))

    def resolve_links(self, rel: str) -> str:
        """Follow symlinks in a source path inside the context, as BuildKit does: the context
        is the root, so `/etc` in a link's target is the context's etc."""
        with Tree(self.root) as t:
            try:
                return t.realpath(rel).lstrip("/")
            except OSError as err:
                raise ContextError(f"{rel}: {err.strerror}") from None


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
