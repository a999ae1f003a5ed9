"""`cairn build`'s stage loop: plans the stages and runs them level by level (independent
stages side by side). Each step is keyed (keys.py), looked up in the local and imported
caches, explained when it misses, and executed (steps.py); then the image is assembled,
stored and the cache exported."""

from __future__ import annotations

import itertools
import os
import time
from dataclasses import replace

import grammar

from .. import platforms
from ..args import GlobalScope, StageScope, unused_build_args
from ..cache import records as cache_records
from ..cache.explain import explain_details, not_looked_up
from ..cache.keys import chain_id, portable_position, step_key
from ..cache.memo import StepMemo
from ..cache.redact import redact
from ..cache.sources import StatCache
from ..context.build_context import BuildContext
from ..errors import CairnError, located
from ..image import config as image_config
from ..image import oci
from ..image.reference import parse_reference
from ..instructions import parse_dockerfile
from ..instructions import types as t
from ..plan import PlannedStage
from ..store import images
from ..store.store import Store
from . import epoch as epoch_arg
from .base_images import BaseImages, StageBases
from .build_checks import run_build_checks
from .cache_outputs import export_caches, inline_cache, stages_of_image
from .history import created_by, fill_history_times
from .keys import FIELD_LABELS, cache_key
from .named_contexts import NamedContexts
from .onbuild import plan_with_triggers
from .options import BuildError, BuildOptions
from .orphans import Once, reap_orphan_cgroups
from .progress import Progress
from .result import BuildResult, StepRecord
from .run_mounts import FreshCaches, UsedMounts, expand_mounts
from .runcmd import RunFailed, run_command
from .sandbox import DEFAULT_HOSTNAME, HOSTNAME_ARG, Sandbox, check_hostname
from .stage_platforms import refuse_foreign_runs, stage_platforms
from .stage_start import base_state, build_epoch, onbuild_triggers
from .state import KeyOnlyLayers, StageState
from .step_failure import StepFailure
from .step_names import from_text, step_label, step_numbers
from .steps import execute
from .validate import check_stages

MAX_CHANGED_FILES = 200  # per step, in --metadata-file


def _base_id(ps: PlannedStage, state: StageState) -> str:
    """The ID a stage starts from: its base image's, none for scratch, else the state's."""
    if ps.base.stage is None and state.base:
        return state.base
    return "" if ps.base.scratch else state.step_id()


def build(store: Store, context_dir: str, dockerfile: bytes, options: BuildOptions, progress: Progress | None = None,
          dockerfile_path: str | None = None) -> "BuildResult":
    progress = progress or Progress("quiet")
    started, t_start = time.time(), time.monotonic()
    tags = [parse_reference(tag) for tag in options.tags]
    tree = grammar.parse(dockerfile)
    build_args = dict(options.build_args)
    if epoch_arg.NAME not in build_args and os.environ.get(epoch_arg.NAME):
        build_args[epoch_arg.NAME] = os.environ[epoch_arg.NAME]  # as buildx passes it on
    target_platform = platforms.parse(options.platform) if options.platform else platforms.host()
    g = GlobalScope(build_args, tree.escape, target=target_platform)
    bases = BaseImages(store, options.registry, options.pull, progress.info, options.base_store)
    checks = run_build_checks(tree, options, context_dir, dockerfile_path, bases, target_platform, progress)
    plan = parse_dockerfile(tree)
    contexts = NamedContexts(options.contexts, store, bases, plan)
    bp = plan_with_triggers(store, bases, plan, g, options.target, contexts)
    stage_plats = stage_platforms(bp, target_platform)
    refuse_foreign_runs(bp, stage_plats)
    # all that a step would refuse, before the first step runs
    check_stages(bp, g, Sandbox(options.network, allow=options.allow), [c.name for c in options.contexts],
                 {sid for sid, _ in options.secrets}, {s.id for s in options.ssh})
    epoch = build_epoch(store, plan, g, build_args, options.dockerfile_name, bases)
    ctx = BuildContext.open(context_dir, dockerfile_path)
    reap_orphans = Once(lambda: reap_orphan_cgroups(options))  # before the build's first RUN step
    store.remove_orphaned_tmp()
    states: dict[int, StageState] = {}
    steps: list[StepRecord] = []
    fresh_caches = FreshCaches()
    used_mounts = UsedMounts()  # (what --cache-to ...,cache-mounts=true exports)
    counter = itertools.count(1)
    sandbox = Sandbox(options.network, check_hostname(build_args[HOSTNAME_ARG]) if HOSTNAME_ARG in build_args
                      else DEFAULT_HOSTNAME, options.add_hosts, options.allow)
    name = options.dockerfile_name

    def run_stage(ps: PlannedStage) -> StageState:
        label = ps.stage.name or str(ps.index)
        shown = step_label(ps, len(plan.stages))
        header = next(counter)
        state = base_state(store, ps, states, bases, stage_plats[ps.index], bool(ps.platform or options.platform),
                            contexts, stat_cache, epoch)
        # (a stage a named context replaced runs nothing, its image's triggers included)
        commands = [] if ps.replaced else onbuild_triggers(state, ps) + list(ps.stage.commands)
        numbers = step_numbers(ps, commands)
        state.fs_key = states[ps.base.stage].fs_key if ps.base.stage is not None else \
            chain_id([str(layer.diff_id) for layer in state.layers])
        progress.stage(header, shown, from_text(ps, g.expand), numbers.first(),
                       _base_id(ps, state) if progress.wants_ids else None)
        state.bases = StageBases(bases, stage_plats[ps.index], bool(ps.platform or options.platform))
        state.contexts = contexts
        state.scope = StageScope(g, state.env_dict())
        state.secrets = options.secrets
        state.ssh = options.ssh
        state.sandbox = sandbox
        state.epoch = epoch
        state.run_resources = options.run_resources
        state.stat_cache = stat_cache
        state.mount_restore = mount_restore
        filtered = [f for f in options.no_cache_filter if f.lower() in (label, str(ps.index))]
        use_cache = not options.no_cache and not filtered
        # the step of this build whose miss changed the filesystem first (a stage built FROM
        # another starts with that stage's): what a later step's parent miss names
        first_miss = first_misses.get(ps.base.stage) if ps.base.stage is not None else None
        keyonly_ok = keyonly_stages and label not in image_stages  # (the image's own layers need their bytes)
        for position_index, cmd in enumerate(commands):
            step = next(counter)
            explanation = details = None
            t0, wall0 = time.monotonic(), time.time()
            place = numbers.next(cmd)
            announced = []

            def announce(reason=None, cause=None, cached=None, step=step, place=place, cmd=cmd):
                """The step's first progress line, with why it missed (once it is known)."""
                if not announced:
                    announced.append(True)
                    progress.step(step, shown, place, cmd.original, reason, cause, cached)
            cached = False
            key = None
            source = None
            layer = None
            keyonly = False
            made = None  # when the step's layer was made (a hit's record keeps it)
            if isinstance(cmd, t.Workdir):
                image_config.apply(state.doc, cmd, state.scope.expand)
            position = f"{context_id}:{label}:{position_index}"
            portable = portable_position(name, label, position_index)
            try:
                if isinstance(cmd, t.Run):  # refused before the cache too, as BuildKit does
                    sandbox.network_mode(state.scope.expand(cmd.network))
                    sandbox.insecure(state.scope.expand(cmd.security))
                    cmd = replace(cmd, mounts=expand_mounts(cmd.mounts, state.scope.expand))
                    used_mounts.note(cmd.mounts)
                keyed = cache_key(store, state, cmd, ctx, states, bp, stat_cache, remote, memo, position)
                if keyed is not None:
                    key = keyed[0]
                    hit = cache_records.lookup(store, key, touched) if use_cache else None
                    if use_cache and remote and not isinstance(hit, cache_records.Hit):
                        remote_hit = remote.lookup(key, keyonly=keyonly_ok)
                        if remote_hit is not None and remote_hit.record.keyonly:
                            hit, source, keyonly = remote.keyonly_hit(remote_hit), remote_hit.source, True
                            keyonly_hits[key] = remote_hit.record
                        elif remote_hit is not None:
                            hit, source = remote.adopt(remote_hit, position), remote_hit.source
                    if isinstance(hit, cache_records.Missing):
                        progress.warn(f"step {step}: its cached layer {hit.diff_id} {hit.reason}; rebuilding")
                    elif hit is not None:
                        cached, source = True, source or "local"
                        layer = None if hit.empty else replace(hit.layer, keyonly=keyonly)
                        made = hit.created or None
                if not cached:
                    if isinstance(cmd, t.Run):
                        reap_orphans()
                    if keyed is not None and keyed[1] is None:  # a memo's key: its inputs from the files
                        keyed = cache_key(store, state, cmd, ctx, states, bp, stat_cache, remote)
                        key = keyed[0]
                    if keyed is not None:  # (only a miss records and explains its inputs)
                        inputs = redact(keyed[1], options.build_args)  # recorded without arg values
                        if state.base:  # (beside the key, not in it: what a base change is named by)
                            inputs = {**inputs, "base": state.base}
                        if use_cache:
                            details = explain_details(store, position, key, inputs,
                                                      remote.earlier_inputs(portable, key) if remote else None,
                                                      FIELD_LABELS, first_miss)
                        else:
                            details = not_looked_up(options.no_cache, filtered[0] if filtered else None)
                        explanation = details.text
                    if explanation is not None and cmd.keyword in ("RUN", "COPY", "ADD"):
                        announce(f"cache miss: {explanation}", details.cause, False)
                    announce(cached=False)
                    state.position = position if use_cache else ""  # (--no-cache: nothing linked)
                    layer = execute(store, state, cmd, ctx, lambda line, n=step: progress.log(n, line), states, bp,
                                     None if use_cache else fresh_caches)  # --no-cache: cache mounts start empty
                    made = time.time()
                    if keyed is not None and layer is not None:
                        cache_records.record(store, key, state.fs_key, inputs, layer.diff_id,
                                             layer.descriptor.size, position, made)
                    elif keyed is not None:
                        cache_records.record_empty(store, key, state.fs_key, inputs, position)
                if keyed is not None and layer is not None and not cached and first_miss is None:
                    first_miss = f"{name}:{cmd.start_line} {' '.join(cmd.original.split())}"
                if layer is not None:
                    state.fs_key = key or step_key(state.fs_key, {"uncached": cmd.original,
                                                                  "layer": str(layer.diff_id)})[0]
            except (RunFailed, CairnError, OSError) as err:
                detail = getattr(err, "strerror", None) or str(err)
                announce()
                progress.error(step, detail)
                failure = None
                if isinstance(err, RunFailed) and err.output is not None:
                    failure = StepFailure(Progress._name(shown, place) + cmd.original, cmd.start_line,
                                          cmd.end_line, tuple(run_command(state, cmd)), err.code, err.output)
                raise BuildError(located(name, cmd.start_line, f"{cmd.keyword} failed: {detail}"), failure) from err
            except grammar.DockerfileError as err:
                announce()
                progress.error(step, str(err))
                raise err.at(cmd.start_line, cmd.end_line) from None
            if layer is not None:
                state.layers.append(layer)
            state.add_history(created_by(state, cmd), empty_layer=layer is None,
                              created=(made or time.time()) if layer is not None else None)
            seconds = time.monotonic() - t0
            announce(cached=cached)
            steps.append(StepRecord(
                cmd.original, label, cmd.keyword, cached, key, source, portable, cmd.start_line,
                str(layer.diff_id) if layer is not None else None,
                layer.descriptor.size if layer is not None and not cached else 0, explanation,
                details.cause if details else None,
                list(details.changed_files[:MAX_CHANGED_FILES]) if details else [],
                round(seconds, 3), round(wall0, 3), round(wall0 + seconds, 3), made if layer is not None else None))
            progress.done(step, seconds, cached, source if source not in (None, "local") else None,
                          state.step_id() if progress.wants_ids else None)
        first_misses[ps.index] = first_miss
        return state

    first_misses: dict[int, str | None] = {}
    planned = {ps.index: ps for ps in bp.stages}
    remote = mount_restore = None
    if options.cache_from:  # (the cache import and export machinery loads only when asked for)
        from ..cache.mount_restore import MountRestore
        from ..cache.remote import RemoteCaches

        remote = RemoteCaches(store, list(options.cache_from), options.registry, progress.warn)
        mount_restore = MountRestore(store, remote, progress.info, progress.warn)
    stat_cache = StatCache(store)
    memo = StepMemo(store)
    touched: list[str] = []  # the keys of the hits, marked used in one transaction at the end
    context_id = f"{os.path.realpath(context_dir)}:{options.dockerfile_name}"
    image_stages = stages_of_image(bp)
    keyonly_hits: dict = {}  # key -> the key-only record a step hit (exported again as such)
    keyonly_stages = remote is not None
    while True:
        try:
            _run_levels(bp, planned, states, run_stage)
            break
        except KeyOnlyLayers:
            # a step needed the bytes of a stage the cache had only the keys of: build again
            # without key-only hits (what ran so far is in the local cache now, so it hits)
            progress.warn("the cache holds only the keys of a stage whose files a step needs; building it")
            keyonly_stages = False
            states.clear()
            steps.clear()
            keyonly_hits.clear()
    stat_cache.flush()
    memo.flush()
    cache_records.touch_all(store, touched)
    if remote is not None:
        remote.close()
    final = states[bp.target]
    doc = final.doc
    if any(spec.type == "inline" for spec in options.cache_to):
        from ..cache.manifest import INLINE_KEY

        doc[INLINE_KEY] = inline_cache(store, steps, image_stages, [str(layer.diff_id) for layer in final.layers])
    doc["created"] = fill_history_times(doc, epoch)
    doc["rootfs"] = {"type": "layers", "diff_ids": [str(layer.diff_id) for layer in final.layers]}
    for key in ("container", "container_config", "docker_version", "parent"):
        doc.pop(key, None)
    if options.labels:  # as BuildKit: over the target's labels, no history entry
        doc.setdefault("config", {})["Labels"] = {**(doc["config"].get("Labels") or {}), **dict(options.labels)}
    config = oci.ImageConfig.build(doc)
    manifest = oci.Manifest.build(config.descriptor(), [layer.descriptor for layer in final.layers])
    for unused in [a for a in unused_build_args(g) if a not in (epoch_arg.NAME, HOSTNAME_ARG)]:
        progress.warn(f"build arg {unused} was not consumed by any ARG")
    image = images.add_image(store, manifest, config, tags)
    export_caches(store, options, steps, image_stages, progress, keyonly_hits, used_mounts)
    result = BuildResult(image, tuple(steps), checks, bases, stat_cache.racy)
    from ..cache.history import record as record_history

    record_history(store, started, dockerfile_path or options.dockerfile_name, os.path.realpath(context_dir),
                   time.monotonic() - t_start, str(image.manifest), result.metadata())
    return result


def _run_levels(bp, planned: dict, states: dict, run_stage) -> None:
    for level in bp.levels:
        if len(level) == 1:
            states[level[0]] = run_stage(planned[level[0]])
            continue
        # Independent stages run side by side; the first failure is reported after all end.
        # (concurrent.futures loads logging: only a build with parallel stages pays for it)
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=len(level), thread_name_prefix="cairn-stage") as pool:
            futures = {i: pool.submit(run_stage, planned[i]) for i in level}
        for i in level:
            states[i] = futures[i].result()
