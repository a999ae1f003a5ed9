"""What a build gives the cache besides its local records: the inline cache carried in the
image's config (`--cache-to type=inline`) and the exports of every other `--cache-to`; and
which stages' steps make up the image (what mode=min exports)."""

from __future__ import annotations

from dataclasses import replace

from ..errors import CairnError
from ..store.store import Store
from .result import StepRecord


def stages_of_image(bp) -> set[str]:
    """Labels of the target stage and the stages it is built FROM: the image's own steps."""
    by_index = {ps.index: ps for ps in bp.stages}
    out, index = set(), bp.target
    while index is not None:
        ps = by_index[index]
        out.add(ps.stage.name or str(ps.index))
        index = ps.base.stage
    return out


def inline_cache(store: Store, steps: list[StepRecord], image_stages: set[str], diff_ids: list[str]) -> list[dict]:
    """`--cache-to type=inline`: the image's own records, carried in its config (inputs left out)."""
    from ..cache.export import chosen_steps, local_rows, records_with_layers
    from ..cache.manifest import inline_entries

    records = records_with_layers(local_rows(store, chosen_steps(steps, "min", image_stages)), {})
    entries = inline_entries([replace(r, inputs={}) for r in records], diff_ids)
    return sorted(entries, key=lambda e: e["key"])


def export_caches(store: Store, options, steps: list[StepRecord], image_stages: set[str], progress,
                  keyonly_hits: dict, used_mounts=None) -> None:
    """Every --cache-to but inline (written into the image's config before it is stored);
    `used_mounts` (run_mounts.UsedMounts): the cache mounts that cache-mounts=true exports."""
    for spec in options.cache_to:
        if spec.type == "inline":
            continue
        from ..cache.export import export as export_cache

        try:
            export_cache(store, spec, steps, image_stages, options.registry, progress.info, keyonly_hits,
                         used_mounts, progress.warn)
        except CairnError as err:
            if not spec.ignore_error:
                raise CairnError(f"cache export to {spec.describe()} failed: {err}") from None
            progress.warn(f"cache export to {spec.describe()} failed (the image is built): {err}")
