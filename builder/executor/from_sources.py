"""What a `--from` names (COPY --from, RUN --mount from): a named context (a directory or
an image), an earlier stage, or an image; its layers for a cache key, unpacked for a copy."""

from __future__ import annotations

from ..context.build_context import BuildContext
from ..context.merged_view import MergedView
from ..errors import CairnError
from ..instructions import types as t
from ..store import images
from ..store.store import Store
from .state import StageState


def named_context(state: StageState, ref_word: str):
    """The named context (named_contexts.Loaded) a --from reads, or None."""
    key = state.contexts.for_ref(state.scope.expand(ref_word)) if state.contexts is not None else None
    return state.contexts.load(key) if key is not None else None


def named_directory(state: StageState, ref_word: str) -> BuildContext | None:
    """The directory a --from reads when it names a directory context."""
    named = named_context(state, ref_word)
    return named.local if named is not None else None


def from_source(store: Store, state: StageState, ref_word: str, states, plan, flag: str):
    """(layers bottom first, label) of the stage or image a --from names; nothing is unpacked."""
    ref = state.scope.expand(ref_word)
    named = named_context(state, ref_word)
    if named is not None:
        if named.local is not None:
            raise CairnError(f"{flag}={ref}: the named context is a directory, which cannot be used here")
        return None, list(named.image.layers) if named.image is not None else [], f"context {named.spec.name}"
    for ps in plan.stages:
        if ps.stage.name == ref.lower() or (ref.isdecimal() and ps.index == int(ref)):
            return states[ps.index], list(states[ps.index].layers), f"stage {ref}"
    try:
        image = state.bases.resolve(ref) if state.bases is not None else images.resolve(store, ref)
    except images.ImageNotFound:
        raise CairnError(f"{flag}={ref}: no such stage, and the image is not in the store") from None
    except CairnError as err:
        raise CairnError(f"{flag}={ref}: no such stage, and the image cannot be pulled: {err}") from None
    return None, list(image.layers), f"image {ref}"


def from_diff_ids(store: Store, state: StageState, ref_word: str, states, plan, flag: str) -> list[str]:
    """What a --from source is, for a cache key: its layers' diff_ids (hex), top first."""
    _, layers, _ = from_source(store, state, ref_word, states, plan, flag)
    return [layer.diff_id.hex for layer in reversed(layers)]


def unpacked_layers(store: Store, state: StageState, ref_word: str, states, plan, flag: str) -> tuple[list[str], str]:
    """Layer directories (top first) of the stage or image a --from names, unpacked."""
    source_state, layers, label = from_source(store, state, ref_word, states, plan, flag)
    if source_state is not None:
        return source_state.lowerdirs(), label
    from ..registry.layer_sources import ensure_snapshots

    ensure_snapshots(store, layers, getattr(state.bases, "registry_options", None))
    return [str(store.snapshot_path(layer.diff_id)) for layer in reversed(layers)], label


def copy_source(store: Store, state: StageState, cmd, ctx: BuildContext, states, plan):
    """The build context, or for COPY --from a merged view of a stage or an image."""
    if not (isinstance(cmd, t.Copy) and cmd.from_):
        return ctx
    directory = named_directory(state, cmd.from_)
    if directory is not None:
        return directory
    lowers, label = unpacked_layers(store, state, cmd.from_, states, plan, "COPY --from")
    return MergedView(lowers, label)
