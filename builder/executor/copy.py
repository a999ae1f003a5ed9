"""COPY/ADD from the build context (and heredocs) written straight into a new layer.

Docker's path rules: a directory source copies its contents; several sources, or a
destination ending in `/` (or an existing directory in the image), mean "into this
directory"; otherwise the destination is the file's new name. Relative destinations are
under WORKDIR. Owners are 0:0 unless --chown; modes and mtimes are kept unless --chmod.
Parent directories the layer needs carry the metadata they have in the image below.
"""

from __future__ import annotations

import os
import posixpath
import shutil
import stat



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


def ensure_parents(layer: str, dest_dir: str, lowers: list[str], chown: tuple[int, int] | None = None) -> None:
    """Create dest_dir's chain in the layer, each with the image's metadata where it has one;
    directories the image lacks are new, and belong to --chown's owner, as in BuildKit."""
    parts = [p for p in dest_dir.split("/") if p]
    path = ""
    for part in parts:
        path += "/" + part
        full = layer + path
        if os.path.isdir(full) and not os.path.islink(full):
            continue
        os.mkdir(full, 0o755)
        st = _lower_stat(lowers, path)
        if st is not None and stat.S_ISDIR(st.st_mode):
            os.chown(full, st.st_uid, st.st_gid)
            os.chmod(full, stat.S_IMODE(st.st_mode))
            os.utime(full, ns=(st.st_mtime_ns, st.st_mtime_ns))
        elif chown is not None:
            os.chown(full, chown[0], chown[1])


def _apply_owner_mode(path: str, chown: tuple[int, int] | None, chmod) -> None:
    """chmod is a Chmod (octal or symbolic) or None."""
    if chown is not None:
        os.chown(path, chown[0], chown[1], follow_symlinks=False)
    if chmod is not None and not os.path.islink(path):
        st = os.lstat(path)
        os.chmod(path, chmod.apply(st.st_mode, stat.S_ISDIR(st.st_mode)))


def _copy(source, rel: str, dst: str, chown, chmod) -> None:
    """Copy one entry (recursively) from a COPY source (context or merged image view)."""
    st = source.lstat(rel)
    if st is None:
        return
    if stat.S_ISDIR(st.st_mode):
        if not os.path.isdir(dst):
            os.mkdir(dst, 0o755)
        for name in source.listdir(rel):
            child = f"{rel}/{name}" if rel else name
            if not source.ignored(child):
                _copy(source, child, os.path.join(dst, name), chown, chmod)
        os.chmod(dst, stat.S_IMODE(st.st_mode))
        os.chown(dst, 0, 0)
    elif stat.S_ISLNK(st.st_mode):
        if os.path.lexists(dst):
            os.unlink(dst)
        os.symlink(os.readlink(source.host_path(rel)), dst)
        os.chown(dst, 0, 0, follow_symlinks=False)
    elif stat.S_ISREG(st.st_mode):
        shutil.copyfile(source.host_path(rel), dst, follow_symlinks=False)
        os.chmod(dst, stat.S_IMODE(st.st_mode))
        os.chown(dst, 0, 0)
    else:
        return  # devices, fifos and sockets are not copied
    _apply_owner_mode(dst, chown, chmod)
    os.utime(dst, ns=(st.st_atime_ns, st.st_mtime_ns), follow_symlinks=False)


def copy_into_layer(layer: str, source, sources: list[str], contents: list[tuple[str, bytes]],
                    dest: str, workdir: str, lowers: list[str], chown: tuple[int, int] | None,
                    chmod, parents: bool = False) -> None:
    """Write a COPY's result into the empty directory `layer`; `source` is the build context
    or, for COPY --from, a MergedView of a stage or image."""
    if not dest.startswith("/"):
        dest = posixpath.join(workdir or "/", dest)
    into_dir = dest.endswith("/") or len(sources) + len(contents) > 1
    dest = posixpath.normpath(dest)
    selected: list[str] = []
    for src in sources:
        selected += source.select(src)
    if len(selected) + len(contents) > 1:
        into_dir = True
    if not into_dir:
        st = _lower_stat(lowers, dest)
        if st is not None and stat.S_ISDIR(st.st_mode):
            into_dir = True
        if len(selected) == 1 and source.is_dir(selected[0]):
            into_dir = True  # a directory's contents go into dest
    ensure_parents(layer, dest if into_dir else posixpath.dirname(dest), lowers, chown)
    if parents:  # COPY --parents: each source keeps its path under dest
        ensure_parents(layer, dest, lowers, chown)
        for named in selected:
            rel = source.resolve_links(named)
            target = posixpath.join(dest, named)
            ensure_parents(layer, posixpath.dirname(target), lowers, chown)
            _copy(source, rel, layer + target, chown, chmod)
        return
    for named in selected:
        rel = source.resolve_links(named)  # a symlinked source copies what it points at
        if source.is_dir(rel):
            for name in source.listdir(rel):
                child = f"{rel}/{name}" if rel else name
                if not source.ignored(child):
                    _copy(source, child, os.path.join(layer + dest, name), chown, chmod)
        else:
            target = layer + (posixpath.join(dest, posixpath.basename(named)) if into_dir else dest)
            _copy(source, rel, target, chown, chmod)
    for name, data in contents:
        target = layer + (posixpath.join(dest, name) if into_dir else dest)
        with open(target, "wb") as f:
            f.write(data)
        os.chmod(target, 0o644)
        _apply_owner_mode(target, chown, chmod)


def parse_chmod(text: str):
    """A Chmod for --chmod's value (octal or symbolic), or None."""
    if not text:
        return None
    from .chmod import Chmod

    return Chmod(text)


def unpack_archive_into(layer: str, archive, dest: str, workdir: str, lowers: list[str]) -> None:
    """ADD of a local archive: its entries, safely extracted, under dest (a directory)."""
    from ..layers.compression import open_decompressed
    from ..layers.extract import extract_tar

    if not dest.startswith("/"):
        dest = posixpath.join(workdir or "/", dest)
    dest = posixpath.normpath(dest)
    ensure_parents(layer, dest, lowers)
    scratch = layer + "/.cairn-add-" + os.urandom(4).hex()
    os.mkdir(scratch)
    try:
        stream, _kind = open_decompressed(archive)
        with stream:
            extract_tar(stream, scratch)
        _merge_move(scratch, layer + dest)
    finally:
        if os.path.isdir(scratch):
            shutil.rmtree(scratch)


def _merge_move(src: str, dst: str) -> None:
    for name in os.listdir(src):
        s, d = os.path.join(src, name), os.path.join(dst, name)
        if os.path.isdir(s) and not os.path.islink(s) and os.path.isdir(d) and not os.path.islink(d):
            _merge_move(s, d)
            os.rmdir(s)
        else:
            if os.path.lexists(d):
                if os.path.isdir(d) and not os.path.islink(d):
                    shutil.rmtree(d)
                else:
                    os.unlink(d)
            os.rename(s, d)
