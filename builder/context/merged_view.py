"""A read-only view of an image's or stage's merged filesystem, from its layer snapshots,
without mounting: what COPY --from and the /etc/passwd lookups read. Upper layers win; a whiteout hides a name, an
opaque directory hides what lower layers have under it."""

from __future__ import annotations

import os
import posixpath
import stat

from ..errors import CairnError


def _is_whiteout(st: os.stat_result) -> bool:
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def _opaque(path: str) -> bool:
    # (runtime.userns loads ctypes: only a view that meets a directory asks)
    from runtime import userns

    try:
        return os.getxattr(path, userns.opaque_xattr(), follow_symlinks=False) == b"y"
    except OSError:
        return False


class MergedView:
    keeps_owners = True  # COPY --from keeps the owners it reads (BuildKit does)

    def __init__(self, lowers_top_first: list[str], label: str, excludes: tuple = (), roots=None):
        self.layers = lowers_top_first
        self.label = label
        self.excludes = excludes  # COPY --exclude patterns (dockerignore.Pattern)
        self.roots = roots  # the COPY's sources, that the patterns are relative to

    def excluding(self, patterns: list[str]) -> MergedView:
        """The same view, without what COPY --exclude patterns name."""
        from .dockerignore import parse_dockerignore  # (here: `cairn run` reads /etc/passwd with no patterns)

        return MergedView(self.layers, self.label, self.excludes + tuple(parse_dockerignore("\n".join(patterns))))

    def rooted(self, roots) -> MergedView:
        """The same view, its --exclude patterns relative to these sources (real paths)."""
        if not self.excludes:
            return self
        return MergedView(self.layers, self.label, self.excludes, tuple(sorted(roots, key=len, reverse=True)))

    def _find(self, rel: str) -> tuple[str, os.stat_result] | None:
        """(host path, stat) of the visible entry at rel, or None."""
        parts = [p for p in rel.split("/") if p]
        for layer in self.layers:
            hidden_below = False
            cur = layer
            for i, part in enumerate(parts):
                cur = os.path.join(cur, part)
                try:
                    st = os.lstat(cur)
                except FileNotFoundError:
                    break
                if _is_whiteout(st):
                    return None
                if i == len(parts) - 1:
                    return cur, st
                if not stat.S_ISDIR(st.st_mode):
                    return None  # a file in an upper layer shadows a directory below
                if _opaque(cur):
                    hidden_below = True
            else:
                if not parts:
                    return layer, os.lstat(layer)
            if hidden_below:
                return None
        return None

    def lstat(self, rel: str) -> os.stat_result | None:
        found = self._find(rel)
        return found[1] if found else None

    def host_path(self, rel: str) -> str:
        found = self._find(rel)
        if found is None:
            raise CairnError(f"{rel}: not found in {self.label}")
        return found[0]

    def open_file(self, rel: str) -> int:
        """A read-only fd of the regular file at rel (its last component not followed)."""
        fd = os.open(self.host_path(rel), os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise CairnError(f"{rel}: not a regular file in {self.label}")
        return fd

    def readlink(self, rel: str) -> str:
        return os.readlink(self.host_path(rel))

    def listdir(self, rel: str) -> list[str]:
        names: dict[str, bool] = {}
        for path in self.layer_dirs(rel):
            for name in os.listdir(path):
                if name not in names:
                    names[name] = not _is_whiteout(os.lstat(os.path.join(path, name)))
        return sorted(n for n, visible in names.items() if visible)

    def layer_dirs(self, rel: str) -> list[str]:
        """The directory rel in each layer (top first) that the merged view shows, as overlayfs
        merges them: each component checked with lstat in that layer, so a link a lower layer
        holds on the way (`a -> /` under an upper layer's a/sub) is never followed to the host;
        a whiteout, file or link on the way, or an opaque directory, hides the layers below."""
        parts = [p for p in rel.split("/") if p]
        dirs = []
        for layer in self.layers:
            path, hides = layer, False
            for part in parts:
                path = os.path.join(path, part)
                try:
                    st = os.lstat(path)
                except FileNotFoundError:
                    path = None
                    break
                if not stat.S_ISDIR(st.st_mode):
                    return dirs
                hides = hides or _opaque(path)
            if path is not None:
                dirs.append(path)
            if hides or (not parts and _opaque(layer)):
                break
        return dirs

    def clean(self, src: str) -> str:
        from . import source_paths  # (COPY's sources only: `cairn run` reads /etc/passwd by name)

        return source_paths.clean(src)

    def select(self, src: str) -> list[str]:
        """The paths a COPY source names: wildcards in any component expanded (none matching
        is fine: BuildKit copies nothing); a plain path must exist."""
        from . import source_paths

        rel = self.clean(src)
        if source_paths.has_wildcard(rel):
            return source_paths.expand(self, rel)
        if rel and (self.lstat(self._resolve_parent(rel)) is None or self.ignored(rel)):
            raise CairnError(f"{src}: not found in {self.label}")
        return [rel]

    def _resolve_parent(self, rel: str) -> str:
        """rel with the links in its directories followed (`/abs/f` where /abs -> /data/in),
        its last component kept."""
        parent, name = posixpath.split(rel)
        parent = self.resolve_links(parent)
        return f"{parent}/{name}" if parent else name

    def is_dir(self, rel: str) -> bool:
        st = self.lstat(rel) if rel else os.lstat(self.layers[0]) if self.layers else None
        return st is not None and stat.S_ISDIR(st.st_mode)

    def ignored(self, rel: str) -> bool:
        if not self.excludes:
            return False
        from .dockerignore import excluded

        return excluded(rel, self.excludes, self.roots)

    def resolve_links(self, rel: str) -> str:
        """Follow symlinks in every component of rel, as the image's own root would."""
        todo = [p for p in rel.split("/") if p]
        done: list[str] = []
        hops = 0
        while todo:
            part = todo.pop(0)
            if part == "..":
                if done:
                    done.pop()
                continue
            if part == ".":
                continue
            cand = "/".join(done + [part])
            st = self.lstat(cand)
            if st is not None and stat.S_ISLNK(st.st_mode):
                hops += 1
                if hops > 40:
                    raise CairnError(f"{rel}: too many levels of symbolic links in {self.label}")
                target = os.readlink(self.host_path(cand))
                if target.startswith("/"):
                    done = []
                todo = [p for p in target.split("/") if p] + todo
                continue
            done.append(part)
        return "/".join(done)


def read_file(layers_top_first: list[str], path: str, limit: int = 4 << 20) -> bytes | None:
    """Content of `path` (absolute, no symlink following) as the image's merged filesystem
    shows it, or None if the image lacks it: /etc/passwd and /etc/group lookups, without
    mounting anything."""
    view = MergedView(layers_top_first, "the image")
    st = view.lstat(path.lstrip("/"))
    if st is None or not stat.S_ISREG(st.st_mode):
        return None
    with open(view.host_path(path.lstrip("/")), "rb") as f:
        return f.read(limit)
