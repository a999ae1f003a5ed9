"""How a stage starts: its base (scratch, an image, an earlier stage, a named context)
with the default PATH, the base's ONBUILD triggers, and the build's SOURCE_DATE_EPOCH."""

from __future__ import annotations

import copy

from ..args import GlobalScope
from ..errors import CairnError
from ..image import config as image_config
from ..image.layer import Layer
from ..instructions import types as t
from ..plan import PlannedStage
from ..store import images
from ..store.store import Store
from . import epoch as epoch_arg
from . import epoch_stage
from .base_images import BaseImages
from .onbuild import parse_triggers
from .state import StageState, scratch_doc
from .steps import make_layer


def default_path(doc: dict) -> None:
    """As BuildKit: a base without PATH gets the default one, before the stage's own ENVs."""
    cfg = doc.setdefault("config", {})
    if image_config.env_list_get(cfg.get("Env") or [], "PATH") is None:
        cfg["Env"] = image_config.env_list_set(cfg.get("Env") or [], "PATH", image_config.DEFAULT_PATH)


def base_state(store: Store, ps: PlannedStage, states: dict[int, StageState], bases: BaseImages,
                platform: dict, explicit: bool, contexts=None, stat_cache=None,
                epoch: int | None = None) -> StageState:
    if ps.base.stage is not None:
        return states[ps.base.stage].clone()
    if ps.base.context is not None:
        state = contexts.base_state(ps.base.context, platform, explicit, stat_cache, epoch, make_layer)
        default_path(state.doc)
        return state
    if ps.base.scratch:
        doc = scratch_doc(platform)
        default_path(doc)
        return StageState(store, [], doc)
    try:
        image = bases.resolve(ps.base.image, platform, explicit)
    except images.ImageNotFound:
        raise CairnError(f"base image {ps.base.image!r} is not in the store and cannot be pulled") from None
    except CairnError as err:
        how = ": pulling it failed" if bases.always_pull else " is not in the store, and pulling it failed"
        raise CairnError(f"base image {ps.base.image!r}{how}: {err}") from None
    _, config = images.load_documents(store, image)
    doc = copy.deepcopy(config.doc)  # (its layers are unpacked when a step first reads them)
    default_path(doc)
    return StageState(store, [Layer(l.diff_id, l.descriptor) for l in image.layers], doc, base=str(image.config))


def build_epoch(store: Store, plan, g: GlobalScope, build_args: dict[str, str], name: str,
                bases: BaseImages) -> int | None:
    """SOURCE_DATE_EPOCH: a number, or the time a source-only stage gives (which the stages
    then see as the value of `ARG SOURCE_DATE_EPOCH`, as in BuildKit; fetched from its URL:
    bases.fetched, so that the whole-build memo records no such build)."""
    value = build_args.get(epoch_arg.NAME, g.values.get(epoch_arg.NAME))
    stage = epoch_stage.named_stage(value, plan.stages)
    if stage is None:
        return epoch_arg.parse(value)
    bases.fetched = True
    epoch = epoch_stage.stage_epoch(store, stage, g.values, build_args, g.escape, f"{name}:{stage.start_line}")
    resolved = str(epoch) if epoch is not None else ""
    g.values[epoch_arg.NAME] = resolved
    if epoch_arg.NAME in build_args:
        build_args[epoch_arg.NAME] = resolved
    return epoch


def onbuild_triggers(state: StageState, ps: PlannedStage) -> list[t.Command]:
    """The base's ONBUILD triggers, run first in this stage (and not passed on further)."""
    return parse_triggers(list(state.config.pop("OnBuild", None) or []), ps.stage.start_line)
