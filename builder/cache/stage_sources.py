"""What `COPY --from=<stage>` is keyed by: the content of the paths it copies, as BuildKit
keys it, so that an edit of the stage that leaves those files identical (a comment, a
trailing newline in a compiled source) still hits, and so does every step after it.

The content is read from the stage's merged view of its layer snapshots, behind the stat
cache (snapshots never change, so a later build only stats them). That needs the layers'
bytes, which a remote cache hit does not have: its layers may be only in a registry, and
fetching them just to make a key would undo the laziness of the shared cache. So each
record of such a step also keeps, beside its key's inputs, the diff_ids of the stage it
read (`from_layers`); exported with the record, that ties "these layers, these paths" to
the content hash in the record's inputs. When the stage's layers are not all held here,
a --cache-from record for the same paths of the same layers gives the content hash with
no fetch. Only when none does are the layers fetched and hashed (a miss would need their
bytes anyway). Keying by the stage's diff_ids in that case instead would have given a key
that never matches the content-keyed records of other runners: a certain miss.

A cache source is trusted for this as it is for the layers its hits supply. `COPY --from`
an image (not a stage) stays keyed by the image's diff_ids: an image is immutable, so that
key needs no bytes and misses only when the image itself changed.
"""

from __future__ import annotations

import posixpath

from ..context.merged_view import MergedView
from ..context.source_paths import parents_select
from .sources import StatCache
from .view_sources import hash_view_sources


def stage_content(store, source_state, label: str, paths: list[str], with_mode: bool, stat_cache: StatCache,
                  remote=None, parents: bool = False, excludes: list[str] | None = None) -> list:
    """The content hashes of `paths` in the stage `source_state`, for the step's key: what
    COPY --from selects (--parents' patterns, --exclude's patterns applied)."""
    diff_ids = from_layers(source_state.layers)
    held = all(store.has_snapshot(layer.diff_id) or store.layer_blobs(layer.diff_id) for layer in source_state.layers)
    if not held and remote:
        known = _recorded_content(remote, diff_ids, paths, with_mode, parents, excludes or [])
        if known is not None:
            return known
    view = MergedView(source_state.lowerdirs(), label)
    if excludes:
        view = view.excluding(excludes)
    if parents:
        bases: list[str] = []
        selected = [posixpath.join(base, rel) for src in paths for base, rel in parents_select(view, src, bases)]
        view = view.rooted(bases)
    else:
        selected = [rel for src in paths for rel in view.select(src)]
        view = view.rooted([view.resolve_links(named) for named in selected])
    return hash_view_sources(view, selected, stat_cache, with_mode)


def from_layers(layers) -> list[str]:
    """The stage's diff_ids, top first: what a record keeps beside its inputs."""
    return [str(layer.diff_id) for layer in reversed(layers)]


def _recorded_content(remote, diff_ids: list[str], paths: list[str], with_mode: bool, parents: bool,
                      excludes: list[str]) -> list | None:
    for source in remote.sources:
        for record in source.by_key.values():
            inputs = record.inputs or {}
            step = inputs.get("step") or {}
            if (inputs.get("from_layers") == diff_ids and step.get("paths") == paths
                    and bool(step.get("parents")) == parents and (step.get("excludes") or []) == excludes
                    and bool(step.get("chmod")) != with_mode and isinstance(step.get("sources"), list)):
                return step["sources"]
    return None
