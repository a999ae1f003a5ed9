"""The key's content hashes of what a COPY --from selects in a stage's or image's merged
view of its layers (sources.py's shape, with the owner kept by the copy), walked with an
explicit stack: a stage tree a few thousand directories deep is no recursion."""

from __future__ import annotations

import os
import stat


def hash_view_sources(view, selected: list[str], cache, with_mode: bool) -> list:
    """As hash_context_sources, for the selected paths of a MergedView (a stage's layers,
    top first; `cache` a sources.StatCache). Snapshot files never change, so the stat cache serves
    them on later builds."""
    for layer in view.layers:
        cache.preload(layer)
    out = []
    for named in selected:
        rel = view.resolve_links(named)
        st = view.lstat(rel)
        out.append([named, None if st is None else _view_entry(view, rel, st, cache, with_mode)])
    return out


def _view_entry(view, rel: str, st: os.stat_result, cache, with_mode: bool):
    """The shape of _entry's (explanations read it the same way), with uid and gid last;
    iterative, as _entry."""
    if not stat.S_ISDIR(st.st_mode):
        return _view_leaf(view, rel, st, cache, with_mode)
    top = ["d", stat.S_IMODE(st.st_mode) if with_mode else None, [], st.st_uid, st.st_gid]
    todo = [(rel, top[2])]
    while todo:
        rel, children = todo.pop()
        for name in view.listdir(rel):
            child = f"{rel}/{name}" if rel else name
            if view.ignored(child):  # COPY --exclude
                continue
            cst = view.lstat(child)
            if stat.S_ISDIR(cst.st_mode):
                sub = []
                children.append([name, ["d", stat.S_IMODE(cst.st_mode) if with_mode else None, sub, cst.st_uid,
                                        cst.st_gid]])
                todo.append((child, sub))
            else:
                children.append([name, _view_leaf(view, child, cst, cache, with_mode)])
    return top


def _view_leaf(view, rel: str, st: os.stat_result, cache, with_mode: bool):
    mode = stat.S_IMODE(st.st_mode) if with_mode else None
    if stat.S_ISLNK(st.st_mode):
        return ["l", os.readlink(view.host_path(rel)), st.st_uid, st.st_gid]
    if stat.S_ISREG(st.st_mode):
        return ["f", mode, cache.file_hash(view.host_path(rel), st), st.st_uid, st.st_gid]
    return ["o", stat.S_IFMT(st.st_mode), st.st_uid, st.st_gid]
