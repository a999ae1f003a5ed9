"""COPY/ADD from the build context (and heredocs) written straight into a new layer.

Docker's path rules: a directory source copies its contents; several sources, or a
destination ending in `/` (or an existing directory in the image), mean "into this
directory"; otherwise the destination is the file's new name. Relative destinations are
under WORKDIR. Owners are 0:0 for the build context and kept from a stage or image
(`source.keeps_owners`), unless --chown; modes and mtimes are kept unless --chmod.
Parent directories the layer needs carry the metadata they have in the image below.
"""

from __future__ import annotations

import os
import posixpath
import stat

from runtime import tree
from runtime.tree import Tree

from ..context.merged_view import MergedView
from ..context.source_paths import parents_select


def _lower_stat(lowers: list[str], path: str) -> os.stat_result | None:
    rel = path.lstrip("/")
    for layer in lowers:
        full = os.path.join(layer, rel)
        try:
            st = os.lstat(full)
        except FileNotFoundError:
            continue
        if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
            return None  # a whiteout
        return st
    return None


def _in_image(lowers: list[str], path: str) -> str:
    """`path` with the image's own symlinks followed inside it (/lib -> usr/lib on a merged-/usr
    Debian), so that a COPY lands where the container will look; never outside the root."""
    if not lowers or path in ("", "/"):
        return path or "/"
    return "/" + MergedView(lowers, "the image").resolve_links(path)


def _parents_meta(lowers: list[str], chown: tuple[int, int] | None):
    """on_create for Tree.makedirs: a directory made for the layer takes the image's metadata
    where the image has it; directories the image lacks belong to --chown's owner, as in BuildKit."""
    def on_create(dir_fd: int, name: str, path: str) -> None:
        st = _lower_stat(lowers, path)
        if st is not None and stat.S_ISDIR(st.st_mode):
            tree.set_meta(dir_fd, name, owner=(st.st_uid, st.st_gid), mode=stat.S_IMODE(st.st_mode),
                          mtime_ns=st.st_mtime_ns)
        elif chown is not None:
            tree.set_meta(dir_fd, name, owner=chown)
    return on_create


def ensure_parents(layer: str, dest_dir: str, lowers: list[str], chown: tuple[int, int] | None = None) -> None:
    """Create dest_dir's chain in the layer (see _parents_meta for the metadata)."""
    with Tree(layer) as t:
        os.close(t.makedirs(_in_image(lowers, dest_dir), _parents_meta(lowers, chown)))


def _copy(source, rel: str, dir_fd: int, name: str, chown, chmod, reuse=None, at: str = "") -> None:
    """Copy one entry (a directory with all below it) from a COPY source (context or merged
    image view) to `name` in the layer directory dir_fd; `at` is its layer-relative path when
    `reuse` (an incremental COPY, copy_reuse.Reuse) may link unchanged files from an earlier
    snapshot. Iterative (an explicit stack, in the order a recursion would take): a source
    nested a few thousand directories deep is no RecursionError. A directory's metadata is set
    once all below it is written (its mtime would move otherwise)."""
    opened: list[int] = []  # the directories being filled, innermost last
    todo: list[tuple] = [(rel, dir_fd, name, at)]
    try:
        while todo:
            item = todo.pop()
            if item[0] is None:  # a directory whose entries are all written
                _, parent_fd, name, at, st, owner, mode = item
                os.close(opened.pop())
                _finish(reuse, parent_fd, name, at, st, owner, mode)
                continue
            rel, parent_fd, name, at = item
            st = source.lstat(rel)
            if st is None:
                continue
            mode = stat.S_IMODE(st.st_mode)
            if chmod is not None and not stat.S_ISLNK(st.st_mode):
                mode = chmod.apply(st.st_mode, stat.S_ISDIR(st.st_mode))
            owner = chown or ((st.st_uid, st.st_gid) if source.keeps_owners else (0, 0))
            if stat.S_ISDIR(st.st_mode):
                fd, _ = tree.child_dir(parent_fd, name)
                opened.append(fd)
                todo.append((None, parent_fd, name, at, st, owner, mode))
                for child_name in reversed(source.listdir(rel)):
                    child = f"{rel}/{child_name}" if rel else child_name
                    if not source.ignored(child):
                        todo.append((child, fd, child_name, f"{at}/{child_name}" if at else child_name))
                continue
            if stat.S_ISLNK(st.st_mode):
                tree.symlink(parent_fd, name, source.readlink(rel))
            elif stat.S_ISREG(st.st_mode):
                if reuse is not None and reuse.link(source, rel, st, parent_fd, name, at, mode, owner):
                    continue  # the earlier snapshot's file, which has this metadata already
                src = source.open_file(rel)
                try:
                    tree.copy_file(src, parent_fd, name)
                    if reuse is not None:
                        reuse.copied_file(source, rel, st, src, parent_fd, name, at)
                finally:
                    os.close(src)
            else:
                continue  # devices, fifos and sockets are not copied
            _finish(reuse, parent_fd, name, at, st, owner, mode)
    finally:
        for fd in opened:
            os.close(fd)


def _finish(reuse, dir_fd: int, name: str, at: str, st: os.stat_result, owner, mode: int) -> None:
    if reuse is not None and not stat.S_ISREG(st.st_mode):
        reuse.replaced(at)
    tree.set_meta(dir_fd, name, owner=owner, mode=None if stat.S_ISLNK(st.st_mode) else mode,
                  mtime_ns=st.st_mtime_ns)


def _write_content(dir_fd: int, name: str, data: bytes, chown, chmod) -> None:
    fd = tree.new_file(dir_fd, name, 0o600)
    try:
        tree.write_all(fd, data)
    finally:
        os.close(fd)
    mode = chmod.apply(stat.S_IFREG | 0o644, False) if chmod is not None else 0o644
    tree.set_meta(dir_fd, name, owner=chown or (0, 0), mode=mode)


def copy_into_layer(layer: str, source, sources: list[str], contents: list[tuple[str, bytes]],
                    dest: str, workdir: str, lowers: list[str], chown: tuple[int, int] | None,
                    chmod, parents: bool = False, reuse=None) -> None:
    """Write a COPY's result into the empty directory `layer`; `source` is the build context
    or, for COPY --from, a MergedView of a stage or image. Every write goes through
    runtime.tree: nothing a source's links say can make it write outside the layer.
    `reuse`: see copy_reuse (for a COPY from the context without heredocs)."""
    if not dest.startswith("/"):
        dest = posixpath.join(workdir or "/", dest)
    # "dir/", "." and "dir/." name a directory, as does the root
    into_dir = dest.endswith(("/", "/.")) or len(sources) + len(contents) > 1
    dest = posixpath.normpath(dest)
    into_dir = into_dir or dest == "/"
    if parents:  # COPY --parents: each entry keeps its path below the base (or /./ pivot)
        bases: list[str] = []
        entries = [p for src in sources for p in parents_select(source, src, bases)]
        if bases or contents:
            _copy_parents(layer, source.rooted(bases), entries, contents, dest, lowers, chown, chmod)
        return
    selected: list[str] = []
    for src in sources:
        selected += source.select(src)
    if not selected and not contents:
        return  # only wildcards that match nothing: BuildKit copies nothing and succeeds
    source = source.rooted([source.resolve_links(named) for named in selected])  # (--exclude's base)
    if len(selected) + len(contents) > 1:
        into_dir = True
    if not into_dir:
        st = _lower_stat(lowers, dest)
        if st is not None and stat.S_ISDIR(st.st_mode):
            into_dir = True
        if len(selected) == 1 and source.is_dir(source.resolve_links(selected[0])):
            into_dir = True  # a directory's contents go into dest
    dest_dir = dest if into_dir else posixpath.dirname(dest)
    on_create = _parents_meta(lowers, chown)
    dest_in_image = _in_image(lowers, dest_dir)
    at_dir = posixpath.normpath(dest_in_image).strip("/")
    with Tree(layer) as t:
        dest_fd = t.makedirs(dest_in_image, on_create)
        try:
            for named in selected:
                rel = source.resolve_links(named)  # a symlinked source copies what it points at
                if source.is_dir(rel):
                    for name in source.listdir(rel):
                        child = f"{rel}/{name}" if rel else name
                        if not source.ignored(child):
                            _copy(source, child, dest_fd, name, chown, chmod, reuse, _join(at_dir, name))
                else:
                    name = posixpath.basename(named) if into_dir else posixpath.basename(dest)
                    _copy(source, rel, dest_fd, name, chown, chmod, reuse, _join(at_dir, name))
            _write_contents(t, dest_fd, contents, dest if not into_dir else None,
                            dest_in_image, on_create, chown, chmod)
        finally:
            os.close(dest_fd)


def _join(directory: str, name: str) -> str:
    return f"{directory}/{name}" if directory else name


def _write_contents(t: Tree, dest_fd: int, contents, file_dest: str | None, dest_dir: str, on_create,
                    chown, chmod) -> None:
    """Heredoc sources: each a file named by its heredoc under dest_dir, or file_dest itself."""
    for name, data in contents:
        if file_dest is None:
            fd, base = t.parent(posixpath.join(dest_dir, name), create=True, on_create=on_create)
        else:
            fd, base = os.dup(dest_fd), posixpath.basename(file_dest)
        try:
            _write_content(fd, base, data, chown, chmod)
        finally:
            os.close(fd)


def _copy_parents(layer: str, source, entries: list[tuple[str, str]], contents, dest: str, lowers: list[str],
                  chown, chmod) -> None:
    """COPY --parents: each (base, path) entry is copied to dest/path; the directories
    between dest and it are the source's own (their owner, mode and mtime, set once their
    contents are written), as BuildKit copies them. dest is always a directory."""
    dest_dir = _in_image(lowers, dest)
    on_create = _parents_meta(lowers, chown)
    made: dict[str, str] = {}  # dest-relative directory -> the source directory it stands for
    with Tree(layer) as t:
        dest_fd = t.makedirs(dest_dir, on_create)
        try:
            for base, rel in entries:
                fd = os.dup(dest_fd)
                try:
                    parts = rel.split("/")
                    for i, part in enumerate(parts[:-1]):
                        sub = fd
                        fd, _ = tree.child_dir(sub, part)
                        os.close(sub)
                        made.setdefault("/".join(parts[:i + 1]), posixpath.join(base, *parts[:i + 1]))
                    _copy(source, posixpath.join(base, rel), fd, parts[-1], chown, chmod)
                finally:
                    os.close(fd)
            for sub in made:  # once everything is written: no later write moves their mtimes
                _copy_meta(source, made[sub], dest_fd, sub, chown, chmod)
            _write_contents(t, dest_fd, contents, None, dest_dir, on_create, chown, chmod)
        finally:
            os.close(dest_fd)


def _copy_meta(source, rel: str, dest_fd: int, sub: str, chown, chmod) -> None:
    """The metadata of the source directory rel on the directory `sub` below dest_fd."""
    st = source.lstat(rel)
    if st is None:
        return
    parent, name = posixpath.split(sub)
    fd = os.dup(dest_fd)
    try:
        for part in [p for p in parent.split("/") if p]:
            nxt = tree.open_dir(fd, part)
            os.close(fd)
            fd = nxt
        mode = chmod.apply(st.st_mode, True) if chmod is not None else stat.S_IMODE(st.st_mode)
        owner = chown or ((st.st_uid, st.st_gid) if source.keeps_owners else (0, 0))
        tree.set_meta(fd, name, owner=owner, mode=mode, mtime_ns=st.st_mtime_ns)
    finally:
        os.close(fd)


def parse_chmod(text: str):
    """A Chmod for --chmod's value (octal or symbolic), or None."""
    if not text:
        return None
    from .chmod import Chmod

    return Chmod(text)


def is_tar(fd: int) -> bool:
    """Whether the file open at fd (closed here) is a tar, plain or compressed: what ADD unpacks."""
    from ..layers.compression import open_decompressed

    stream, _kind = open_decompressed(fd)
    try:
        head = stream.read(512)
    except Exception:
        return False
    finally:
        stream.close()
    return len(head) == 512 and head[257:262] == b"ustar"


def unpack_archive_into(layer: str, archive, dest: str, workdir: str, lowers: list[str],
                        chown: tuple[int, int] | None = None) -> None:
    """ADD of a local archive: its entries, safely extracted, under dest (a directory). With
    --chown, the directories made for dest and every entry of the archive get its owner (as
    in BuildKit); without, the entries keep the archive's owners."""
    from ..layers.compression import open_decompressed
    from ..layers.extract import extract_tar

    if not dest.startswith("/"):
        dest = posixpath.join(workdir or "/", dest)
    dest = _in_image(lowers, posixpath.normpath(dest))
    scratch_name = ".cairn-add-" + os.urandom(4).hex()
    with Tree(layer) as t:
        dest_fd = t.makedirs(dest, _parents_meta(lowers, chown))
        try:
            os.mkdir(scratch_name, 0o700, dir_fd=t.fd)
            try:
                stream, _kind = open_decompressed(archive)
                with stream:
                    extract_tar(stream, os.path.join(layer, scratch_name))
                scratch_fd = os.open(scratch_name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=t.fd)
                try:
                    if chown is not None:
                        tree.chown_below(scratch_fd, chown)
                    _merge_move(scratch_fd, dest_fd)
                finally:
                    os.close(scratch_fd)
            finally:
                tree.remove(t.fd, scratch_name)
        finally:
            os.close(dest_fd)


def _is_real_dir(dir_fd: int, name: str) -> bool:
    try:
        return stat.S_ISDIR(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode)
    except FileNotFoundError:
        return False


def _merge_move(src_fd: int, dst_fd: int) -> None:
    """Move every entry of src_fd into dst_fd, merging directories, never through a link."""
    for name in os.listdir(src_fd):
        if _is_real_dir(src_fd, name) and _is_real_dir(dst_fd, name):
            s = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=src_fd)
            d = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=dst_fd)
            try:
                _merge_move(s, d)
            finally:
                os.close(s)
                os.close(d)
            os.rmdir(name, dir_fd=src_fd)
        else:
            tree.remove(dst_fd, name)
            os.rename(name, name, src_dir_fd=src_fd, dst_dir_fd=dst_fd)
