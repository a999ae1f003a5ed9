"""`cairn build`: runs the planned stages in order and writes the target image to the store.

This is the executor's first cut: FROM (store images, earlier stages, scratch), RUN,
COPY/ADD from the context, heredocs, COPY --from a stage or a stored image, ADD of local
archives, and every metadata instruction. Not yet: pulling bases, ADD of URLs, secret
and ssh mounts, RUN --mount=from, ONBUILD triggers, the layer cache and parallel stages;
each of those fails with a clear error rather than building wrongly.
"""

from __future__ import annotations

import copy
import itertools
import os
import posixpath
import stat
import threading
import time
from dataclasses import dataclass, replace

import grammar

from .. import platforms
from ..args import GlobalScope, StageScope, unused_build_args
from ..cache import records as cache_records
from ..cache.explain import explain_details
from ..cache.keys import chain_id, portable_position, step_key
from ..cache.redact import redact
from ..cache.sources import StatCache, hash_context_sources
from ..cache.stage_sources import from_layers, stage_content
from ..errors import CairnError
from ..image import config as image_config
from ..image import oci
from ..image.files import read_file
from ..image.merged_view import MergedView
from ..image.reference import parse_reference
from ..instructions import parse_dockerfile
from ..instructions import types as t
from ..instructions.errors import InstructionError
from ..plan import PlannedStage
from ..source_paths import parents_select
from ..store import images
from ..store.store import Store, remove_tree
from . import epoch as epoch_arg
from . import epoch_stage
from .base_images import BaseImages, StageBases
from .build_checks import run_build_checks
from .context import BuildContext
from .copy import copy_into_layer, ensure_parents, is_tar, parse_chmod, unpack_archive_into
from .epoch import clamp_tree
from .history import created_by, fill_history_times
from .named_contexts import NamedContexts
from .onbuild import parse_triggers, plan_with_triggers
from .progress import Progress
from .run_mounts import FreshCaches, context_source, expand_mounts
from .runcmd import RunFailed, run_key
from .sandbox import DEFAULT_HOSTNAME, HOSTNAME_ARG, Sandbox, check_hostname
from .stage_platforms import refuse_foreign_runs, stage_platforms
from .state import KeyOnlyLayers, Layer, StageState, scratch_doc
from .step_names import step_label, step_numbers


@dataclass(frozen=True)
class BuildOptions:
    tags: tuple[str, ...] = ()
    target: str | None = None
    build_args: tuple[tuple[str, str], ...] = ()
    dockerfile_name: str = "Dockerfile"
    secrets: tuple[tuple[str, str], ...] = ()  # id -> host file, for RUN --mount=type=secret
    no_cache: bool = False
    no_cache_filter: tuple[str, ...] = ()  # stages (names or indexes) whose steps skip the cache
    pull: bool = False  # resolve every base image at its registry, even when the store has it
    registry: object = None  # RegistryOptions for pulling base images (None: defaults)
    cache_from: tuple = ()  # CacheSpecs to match keys against (registry refs, layout directories)
    cache_to: tuple = ()  # CacheSpecs to export this build's records to
    base_store: object = None  # a Store to copy missing base images from before pulling them
    allow: tuple[str, ...] = ()  # entitlements given with --allow (network.host, security.insecure)
    run_resources: object = None  # RunResources: --shm-size, --ulimit, --cgroup-parent, -m, --cpu-quota...
    platform: str = ""  # --platform: the target platform (empty: the host's)
    contexts: tuple = ()  # named_contexts.NamedContext from --build-context
    ssh: tuple = ()  # SshSources from --ssh, for RUN --mount=type=ssh
    labels: tuple[tuple[str, str], ...] = ()  # --label: set on the image over the Dockerfile's LABELs
    network: str = "default"  # --network: the network of every RUN without its own --network
    add_hosts: tuple[tuple[str, str], ...] = ()  # --add-host: (name, IP) lines in RUN's /etc/hosts


MAX_CHANGED_FILES = 200  # per step, in --metadata-file


class BuildError(CairnError):
    """A step failed; the message starts with `Dockerfile:LINE:`."""


# The layer machinery (zstandard, the tar writer, extraction) loads only when a step needs
# it: a build whose steps all hit should not pay for importing it.
def tar_digest(path, epoch: int | None):
    from ..layers.materialize import tar_digest as real
    from ..layers.tarstream import TarOptions

    return real(path, TarOptions(epoch))


def _default_path(doc: dict) -> None:
    """As BuildKit: a base without PATH gets the default one, before the stage's own ENVs."""
    cfg = doc.setdefault("config", {})
    if image_config.env_list_get(cfg.get("Env") or [], "PATH") is None:
        cfg["Env"] = image_config.env_list_set(cfg.get("Env") or [], "PATH", image_config.DEFAULT_PATH)


def _base_state(store: Store, ps: PlannedStage, states: dict[int, StageState], bases: BaseImages,
                platform: dict, explicit: bool, contexts=None, stat_cache=None,
                epoch: int | None = None) -> StageState:
    if ps.base.stage is not None:
        return states[ps.base.stage].clone()
    if ps.base.context is not None:
        state = contexts.base_state(ps.base.context, platform, explicit, stat_cache, epoch, _make_layer)
        _default_path(state.doc)
        return state
    if ps.base.scratch:
        doc = scratch_doc(platform)
        _default_path(doc)
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
    _default_path(doc)
    return StageState(store, [Layer(l.diff_id, l.descriptor) for l in image.layers], doc)


def _is_archive(ctx: BuildContext, rel: str) -> bool:
    """What ADD extracts: a local tar, plain or gzip, bzip2, xz or zstd compressed."""
    st = ctx.lstat(ctx.resolve_links(rel))
    return st is not None and stat.S_ISREG(st.st_mode) and is_tar(ctx.open_file(rel))


def _chown(state: StageState, spec: str) -> tuple[int, int] | None:
    if not spec:
        return None
    from ..containers.users import resolve_user

    lowers = state.lowerdirs()
    user = resolve_user(spec, read_file(lowers, "/etc/passwd"), read_file(lowers, "/etc/group"))
    return user.uid, user.gid


def _named_context(state: StageState, ref_word: str):
    """The named context (named_contexts.Loaded) a --from reads, or None."""
    key = state.contexts.for_ref(state.scope.expand(ref_word)) if state.contexts is not None else None
    return state.contexts.load(key) if key is not None else None


def _named_directory(state: StageState, ref_word: str) -> BuildContext | None:
    """The directory a --from reads when it names a directory context."""
    named = _named_context(state, ref_word)
    return named.local if named is not None else None


def _from_source(store: Store, state: StageState, ref_word: str, states, plan, flag: str):
    """(layers bottom first, label) of the stage or image a --from names; nothing is unpacked."""
    ref = state.scope.expand(ref_word)
    named = _named_context(state, ref_word)
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


def _from_diff_ids(store: Store, state: StageState, ref_word: str, states, plan, flag: str) -> list[str]:
    """What a --from source is, for a cache key: its layers' diff_ids (hex), top first."""
    _, layers, _ = _from_source(store, state, ref_word, states, plan, flag)
    return [layer.diff_id.hex for layer in reversed(layers)]


def _from_layers(store: Store, state: StageState, ref_word: str, states, plan, flag: str) -> tuple[list[str], str]:
    """Layer directories (top first) of the stage or image a --from names, unpacked."""
    source_state, layers, label = _from_source(store, state, ref_word, states, plan, flag)
    if source_state is not None:
        return source_state.lowerdirs(), label
    from ..layer_sources import ensure_snapshots

    ensure_snapshots(store, layers, getattr(state.bases, "registry_options", None))
    return [str(store.snapshot_path(layer.diff_id)) for layer in reversed(layers)], label


def _copy_source(store: Store, state: StageState, cmd, ctx: BuildContext, states, plan):
    """The build context, or for COPY --from a merged view of a stage or an image."""
    if not (isinstance(cmd, t.Copy) and cmd.from_):
        return ctx
    directory = _named_directory(state, cmd.from_)
    if directory is not None:
        return directory
    lowers, label = _from_layers(store, state, cmd.from_, states, plan, "COPY --from")
    return MergedView(lowers, label)


def _copy_step(store: Store, state: StageState, cmd, ctx: BuildContext, states=None, plan=None) -> Layer:
    excludes = [state.scope.expand(p) for p in cmd.excludes]
    if excludes:
        ctx = ctx.excluding(excludes)
    source = _copy_source(store, state, cmd, ctx, states or {}, plan)
    if excludes and source is not ctx:  # COPY --from a stage or image, as from the context
        source = source.excluding(excludes)
    archives: list[str] = []
    urls: list[str] = []
    repos = []  # (source, GitRef, commit) of each git source
    if isinstance(cmd, t.Add):
        from .add_git import git_sources  # (git and its URL parsing load only for ADD)

        repos = git_sources(store, state.git_commits, [state.scope.expand(s) for s in cmd.sources],
                            cmd.keep_git_dir, state.scope.expand(cmd.checksum))
        for src in cmd.sources:
            expanded = state.scope.expand(src)
            if expanded.startswith(("http://", "https://")) and expanded not in {r[0] for r in repos}:
                urls.append(expanded)
        if cmd.checksum and (len(urls) + len(repos) != 1 or len(cmd.sources) != 1):
            raise CairnError("ADD --checksum needs exactly one URL or git source")
        user_agent = _user_agent(state.scope.expand(cmd.user_agent), len(urls) == len(cmd.sources))
    scope = state.scope
    sources = [scope.expand(s) for s in cmd.sources]
    sources = [s for s in sources if s not in urls and s not in {r[0] for r in repos}]
    if isinstance(cmd, t.Add) and cmd.unpack is not False:
        # each local archive a source names (a wildcard may name several) is unpacked; the
        # other files it names are copied
        copied = []
        for src in sources:
            rels = ctx.select(src)
            found = [rel for rel in rels if _is_archive(ctx, rel)]
            archives += found
            copied += [src] if not found else [rel for rel in rels if rel not in found]
        sources = copied
    contents = [(c.path, (scope.expand_heredoc(c.data) if c.expand else c.data).encode()) for c in cmd.contents]

    def fill(layer_dir: str) -> None:
        workdir = state.config.get("WorkingDir") or "/"
        dest = scope.expand(cmd.dest)
        if sources or contents:
            copy_into_layer(layer_dir, source, sources, contents, dest, workdir, state.lowerdirs(),
                            _chown(state, scope.expand(cmd.chown)), parse_chmod(scope.expand(cmd.chmod)),
                            parents=isinstance(cmd, t.Copy) and cmd.parents)
        for rel in archives:
            unpack_archive_into(layer_dir, ctx.open_file(rel), dest, workdir, state.lowerdirs(),
                                _chown(state, scope.expand(cmd.chown)))
        for _, ref, commit in repos:
            from .add_git import copy_git_source

            copy_git_source(store, layer_dir, ref, commit, dest, workdir, state.lowerdirs(),
                            _chown(state, scope.expand(cmd.chown)), parse_chmod(scope.expand(cmd.chmod)))
        for url in urls:
            from .download import download_into

            download_into(layer_dir, url, dest, workdir, state.lowerdirs(), len(cmd.sources) > 1,
                          scope.expand(cmd.checksum), _chown(state, scope.expand(cmd.chown)),
                          parse_chmod(scope.expand(cmd.chmod)), unpack=cmd.unpack is True, user_agent=user_agent)

    return _make_layer(store, "copy-", fill, state.epoch)


def _user_agent(value: str, only_urls: bool) -> str | None:
    """ADD --user-agent: the User-Agent header for URL sources (BuildKit refuses it for others)."""
    if not value:
        return None
    if not only_urls:
        raise CairnError("ADD --user-agent can't be specified for non-HTTP sources")
    if any(ord(c) < 0x20 or ord(c) == 0x7f for c in value):
        raise CairnError("ADD --user-agent: control characters are not allowed in a header value")
    return value


def _workdir_needs_layer(state: StageState) -> bool:
    path = state.config.get("WorkingDir") or "/"
    return not any(os.path.isdir(os.path.join(layer, path.lstrip("/"))) for layer in state.lowerdirs())


def _workdir_step(store: Store, state: StageState, cmd: t.Workdir) -> Layer | None:
    """WORKDIR creates its directory (in a layer of its own) when the image lacks it.
    (The config change was applied by the caller.)"""
    path = state.config["WorkingDir"]
    lowers = state.lowerdirs()
    if not _workdir_needs_layer(state):
        return None
    # as BuildKit: the directories WORKDIR creates belong to the current USER
    owner = _chown(state, state.scope.expand(state.config.get("User") or "")) or (0, 0)
    return _make_layer(store, "workdir-", lambda layer_dir: ensure_parents(layer_dir, path, lowers, owner),
                       state.epoch)


def _make_layer(store: Store, prefix: str, fill, epoch: int | None) -> Layer:
    """A layer from a fresh directory that `fill(path)` writes, kept as a snapshot."""
    layer_dir = store.new_tmp_dir(prefix)
    try:
        fill(str(layer_dir))
        os.chmod(layer_dir, 0o755)
        clamp_tree(str(layer_dir), epoch)
        diff_id, size = tar_digest(layer_dir, epoch)
        store.commit_snapshot(layer_dir, diff_id, size, epoch)
    except BaseException:
        remove_tree(layer_dir)
        raise
    return Layer(diff_id, oci.Descriptor(oci.OCI_LAYER, diff_id, size))


def _cache_key(store: Store, state: StageState, cmd: t.Command, ctx: BuildContext, states, plan,
               stat_cache: StatCache, remote=None) -> tuple[str, dict] | None:
    """The key of a RUN/COPY/ADD step (or a WORKDIR that makes its directory) on the current
    filesystem, or None (not cached)."""
    scope, cfg = state.scope, state.config
    if isinstance(cmd, t.Workdir):
        # Keyed whether or not it makes a layer (that depends only on the parent filesystem),
        # so that deciding needs no layer's bytes.
        return _keyed(state, {"WORKDIR": cfg.get("WorkingDir"), "user": scope.expand(cfg.get("User") or "")})
    if isinstance(cmd, t.Run):
        mounts = []
        for m in cmd.mounts:  # (expanded by the caller)
            entry = {"raw": scope.expand(m.raw)}
            directory = _named_directory(state, m.from_) if m.type == "bind" and m.from_ else None
            if directory is not None:  # a directory context: as the build context's files
                entry["context"] = hash_context_sources(directory, [context_source(m, directory)], stat_cache,
                                                        with_mode=True)
            elif m.type == "bind" and m.from_:
                # as BuildKit: a stage by the content of the mounted path, an image by its layers
                source_state, layers, label = _from_source(store, state, m.from_, states, plan, "RUN --mount from")
                if source_state is None:
                    entry["from"] = [layer.diff_id.hex for layer in reversed(layers)]
                else:
                    entry["from_content"] = stage_content(store, source_state, label, [m.source or "/"], True,
                                                          stat_cache)
            elif m.from_:
                entry["from"] = _from_diff_ids(store, state, m.from_, states, plan, "RUN --mount from")
            elif m.type == "bind":  # the mounted context files' content, .dockerignore applied, as COPY's
                entry["context"] = hash_context_sources(ctx, [context_source(m, ctx)], stat_cache, with_mode=True)
            mounts.append(entry)
        definition = {"RUN": run_key(state, cmd), "env": sorted(scope.run_env(proxies=False)),
                      "user": scope.expand(cfg.get("User") or ""), "workdir": cfg.get("WorkingDir") or "/",
                      **(state.sandbox or Sandbox()).key(scope.expand(cmd.network), scope.expand(cmd.security)), "mounts": mounts}
        if state.run_resources is not None and state.run_resources.key():
            definition["resources"] = state.run_resources.key()  # only when given: old keys stay
        return _keyed(state, definition)
    if isinstance(cmd, (t.Copy, t.Add)):
        definition: dict = {cmd.keyword: True, "dest": scope.expand(cmd.dest), "workdir": cfg.get("WorkingDir") or "/",
                            # the owner as written: the parent filesystem (in the key) decides its ids
                            "chown": scope.expand(cmd.chown),
                            "chmod": scope.expand(cmd.chmod), "excludes": [scope.expand(e) for e in cmd.excludes],
                            "contents": [[c.path, scope.expand_heredoc(c.data) if c.expand else c.data, c.expand]
                                         for c in cmd.contents]}
        sources = [scope.expand(src) for src in cmd.sources]
        if isinstance(cmd, t.Add):
            definition["unpack"] = cmd.unpack
            if cmd.user_agent:  # (only then: the keys of every other ADD stay as they were)
                definition["user_agent"] = scope.expand(cmd.user_agent)
            from .add_git import git_sources, key_entries

            repos = git_sources(store, state.git_commits, sources, cmd.keep_git_dir, scope.expand(cmd.checksum))
            if repos:  # keyed by the commit each resolves to
                definition["git"] = key_entries(repos)
                sources = [s for s in sources if s not in {r[0] for r in repos}]
            if any(src.startswith(("http://", "https://")) for src in sources):
                if not cmd.checksum:
                    return None  # a URL's content is only known by fetching it
                definition["checksum"] = scope.expand(cmd.checksum)
                definition["urls"] = sources
                return _keyed(state, definition)
        if isinstance(cmd, t.Copy):
            definition["parents"] = cmd.parents
        directory = _named_directory(state, cmd.from_) if isinstance(cmd, t.Copy) and cmd.from_ else None
        if directory is not None:  # a directory context: as the build context, by its files' content
            definition["from"] = "directory"
            ctx = directory
        elif isinstance(cmd, t.Copy) and cmd.from_:
            source_state, layers, label = _from_source(store, state, cmd.from_, states, plan, "COPY --from")
            if source_state is None:  # an image: its layers say what it holds
                definition["from"] = [layer.diff_id.hex for layer in reversed(layers)]
                definition["sources"] = sources
                return _keyed(state, definition)
            definition["paths"] = sources
            definition["sources"] = stage_content(store, source_state, label, sources, not cmd.chmod, stat_cache,
                                                  remote, cmd.parents, definition["excludes"])
            key, inputs = _keyed(state, definition)
            return key, {**inputs, "from_layers": from_layers(layers)}  # (kept beside the key, not in it)
        source = ctx.excluding(definition["excludes"]) if cmd.excludes else ctx
        if isinstance(cmd, t.Copy) and cmd.parents:  # where each entry lands depends on the text (its /./)
            definition["paths"] = sources
            bases: list[str] = []
            selected = [posixpath.join(base, rel) for src in sources
                        for base, rel in parents_select(source, src, bases)]
            source = source.rooted(bases)
        else:
            selected = [rel for src in sources for rel in source.select(src)]
            source = source.rooted([source.resolve_links(named) for named in selected])
        definition["sources"] = hash_context_sources(source, selected, stat_cache, with_mode=not cmd.chmod)
        return _keyed(state, definition)
    return None


def _keyed(state: StageState, definition: dict) -> tuple[str, dict]:
    """The step's key; SOURCE_DATE_EPOCH, when set, is in it (it changes the layer's mtimes)."""
    if state.epoch is not None:
        definition = {**definition, "source_date_epoch": state.epoch}
    return step_key(state.fs_key, definition)


def _epoch(store: Store, plan, g: GlobalScope, build_args: dict[str, str], name: str) -> int | None:
    """SOURCE_DATE_EPOCH: a number, or the time a source-only stage gives (which the stages
    then see as the value of `ARG SOURCE_DATE_EPOCH`, as in BuildKit)."""
    value = build_args.get(epoch_arg.NAME, g.values.get(epoch_arg.NAME))
    stage = epoch_stage.named_stage(value, plan.stages)
    if stage is None:
        return epoch_arg.parse(value)
    epoch = epoch_stage.stage_epoch(store, stage, g.values, build_args, g.escape, f"{name}:{stage.start_line}")
    resolved = str(epoch) if epoch is not None else ""
    g.values[epoch_arg.NAME] = resolved
    if epoch_arg.NAME in build_args:
        build_args[epoch_arg.NAME] = resolved
    return epoch


def _onbuild_triggers(state: StageState, ps: PlannedStage) -> list[t.Command]:
    """The base's ONBUILD triggers, run first in this stage (and not passed on further)."""
    return parse_triggers(list(state.config.pop("OnBuild", None) or []), ps.stage.start_line)


def build(store: Store, context_dir: str, dockerfile: bytes, options: BuildOptions, progress: Progress | None = None,
          dockerfile_path: str | None = None) -> "BuildResult":
    progress = progress or Progress("quiet")
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
    epoch = _epoch(store, plan, g, build_args, options.dockerfile_name)
    ctx = BuildContext.open(context_dir, dockerfile_path)
    reap_orphans = _Once(lambda: _reap_orphan_cgroups(options))  # before the build's first RUN step
    store.remove_orphaned_tmp()
    states: dict[int, StageState] = {}
    steps: list[dict] = []
    fresh_caches = FreshCaches()
    counter = itertools.count(1)
    sandbox = Sandbox(options.network, check_hostname(build_args[HOSTNAME_ARG]) if HOSTNAME_ARG in build_args
                      else DEFAULT_HOSTNAME, options.add_hosts, options.allow)
    name = options.dockerfile_name

    def run_stage(ps: PlannedStage) -> StageState:
        label = ps.stage.name or str(ps.index)
        shown = step_label(ps, len(plan.stages))
        header = next(counter)
        state = _base_state(store, ps, states, bases, stage_plats[ps.index], bool(ps.platform or options.platform),
                            contexts, stat_cache, epoch)
        # (a stage a named context replaced runs nothing, its image's triggers included)
        commands = [] if ps.replaced else _onbuild_triggers(state, ps) + list(ps.stage.commands)
        numbers = step_numbers(ps, commands)
        progress.stage(header, shown, ps.stage.original, numbers.first())
        state.bases = StageBases(bases, stage_plats[ps.index], bool(ps.platform or options.platform))
        state.contexts = contexts
        state.fs_key = states[ps.base.stage].fs_key if ps.base.stage is not None else \
            chain_id([str(layer.diff_id) for layer in state.layers])
        state.scope = StageScope(g, state.env_dict())
        state.secrets = options.secrets
        state.ssh = options.ssh
        state.sandbox = sandbox
        state.epoch = epoch
        state.run_resources = options.run_resources
        use_cache = not options.no_cache and not ({label, str(ps.index)} & {f.lower() for f in options.no_cache_filter})
        keyonly_ok = keyonly_stages and label not in image_stages  # (the image's own layers need their bytes)
        for position_index, cmd in enumerate(commands):
            step = next(counter)
            explanation = details = None
            t0, wall0 = time.monotonic(), time.time()
            progress.step(step, shown, numbers.next(cmd), cmd.original)
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
                keyed = _cache_key(store, state, cmd, ctx, states, bp, stat_cache, remote)
                if keyed is not None:
                    key = keyed[0]
                    hit = cache_records.lookup(store, key) if use_cache else None
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
                        layer = None if hit.empty else Layer(hit.diff_id, hit.descriptor, keyonly)
                        made = hit.created or None
                if not cached:
                    if isinstance(cmd, t.Run):
                        reap_orphans()
                    if keyed is not None:  # (only a miss records and explains its inputs)
                        inputs = redact(keyed[1], options.build_args)  # recorded without arg values
                        details = explain_details(store, position, key, inputs,
                                                  remote.earlier_inputs(portable, key) if remote else None)
                        explanation = details.text
                    layer = _execute(store, state, cmd, ctx, lambda line, n=step: progress.log(n, line), states, bp,
                                     None if use_cache else fresh_caches)  # --no-cache: cache mounts start empty
                    made = time.time()
                    if keyed is not None and layer is not None:
                        cache_records.record(store, key, state.fs_key, inputs, layer.diff_id,
                                             layer.descriptor.size, position, made)
                    elif keyed is not None:
                        cache_records.record_empty(store, key, state.fs_key, inputs, position)
                if layer is not None:
                    state.fs_key = key or step_key(state.fs_key, {"uncached": cmd.original,
                                                                  "layer": str(layer.diff_id)})[0]
            except (RunFailed, CairnError, OSError) as err:
                detail = getattr(err, "strerror", None) or str(err)
                progress.error(step, detail)
                raise BuildError(f"{name}:{cmd.start_line}: {cmd.keyword} failed: {detail}") from err
            except grammar.DockerfileError as err:
                progress.error(step, str(err))
                raise err.at(cmd.start_line, cmd.end_line) from None
            if layer is not None:
                state.layers.append(layer)
            state.add_history(created_by(state, cmd), empty_layer=layer is None,
                              created=(made or time.time()) if layer is not None else None)
            seconds = time.monotonic() - t0
            if explanation is not None and cmd.keyword in ("RUN", "COPY", "ADD"):
                progress.log(step, f"cache miss: {explanation}")
            steps.append({"instruction": cmd.original, "stage": label, "cached": cached, "key": key,
                          "cache_source": source, "position": portable,
                          "diff_id": str(layer.diff_id) if layer is not None else None,
                          "size": layer.descriptor.size if layer is not None and not cached else 0,
                          "explanation": explanation,
                          "miss_cause": details.cause if details else None,
                          "changed_files": list(details.changed_files[:MAX_CHANGED_FILES]) if details else [],
                          "seconds": round(seconds, 3), "started": round(wall0, 3),
                          "finished": round(wall0 + seconds, 3), "kind": cmd.keyword})
            progress.done(step, seconds, cached, source if source not in (None, "local") else None)
        return state

    planned = {ps.index: ps for ps in bp.stages}
    remote = None
    if options.cache_from:  # (the cache import and export machinery loads only when asked for)
        from ..cache.remote import RemoteCaches

        remote = RemoteCaches(store, list(options.cache_from), options.registry, progress.warn)
    stat_cache = StatCache(store)
    context_id = f"{os.path.realpath(context_dir)}:{options.dockerfile_name}"
    image_stages = _image_stages(bp)
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
    if remote is not None:
        remote.close()
    final = states[bp.target]
    doc = final.doc
    if any(spec.type == "inline" for spec in options.cache_to):
        from ..cache.manifest import INLINE_KEY

        doc[INLINE_KEY] = _inline_cache(store, steps, image_stages, [str(layer.diff_id) for layer in final.layers])
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
    for spec in options.cache_to:
        if spec.type == "inline":
            continue
        from ..cache.export import export as export_cache

        try:
            export_cache(store, spec, steps, image_stages, options.registry, progress.info, keyonly_hits)
        except CairnError as err:
            if not spec.ignore_error:
                raise CairnError(f"cache export to {spec.describe()} failed: {err}") from None
            progress.warn(f"cache export to {spec.describe()} failed (the image is built): {err}")
    return BuildResult(image, tuple(steps), checks)


def _reap_orphan_cgroups(options: BuildOptions) -> None:
    """What a build killed with -9 left (the runtime loads only for a build that runs a step)."""
    from .run_step import reap_orphan_cgroups

    reap_orphan_cgroups()
    if options.run_resources is not None and options.run_resources.cgroup_parent:
        reap_orphan_cgroups(options.run_resources.cgroup_parent)


class _Once:
    """Calls fn the first time it is called, from whichever stage's thread comes first."""

    def __init__(self, fn):
        self._fn, self._lock, self._done = fn, threading.Lock(), False

    def __call__(self) -> None:
        with self._lock:
            if not self._done:
                self._done = True
                self._fn()


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


def _image_stages(bp) -> set[str]:
    """Labels of the target stage and the stages it is built FROM: the image's own steps."""
    by_index = {ps.index: ps for ps in bp.stages}
    out, index = set(), bp.target
    while index is not None:
        ps = by_index[index]
        out.add(ps.stage.name or str(ps.index))
        index = ps.base.stage
    return out


def _inline_cache(store: Store, steps: list[dict], image_stages: set[str], diff_ids: list[str]) -> list[dict]:
    """`--cache-to type=inline`: the image's own records, carried in its config (inputs left out)."""
    from ..cache.export import chosen_steps, local_rows, records_with_layers
    from ..cache.manifest import inline_entries

    records = records_with_layers(local_rows(store, chosen_steps(steps, "min", image_stages)), {})
    entries = inline_entries([replace(r, inputs={}) for r in records], diff_ids)
    return sorted(entries, key=lambda e: e["key"])


@dataclass(frozen=True)
class BuildResult:
    image: images.ImageRecord
    steps: tuple[dict, ...]
    checks: tuple = ()  # checks.Finding: the build checks that failed (warnings)

    def metadata(self) -> dict:
        """What --metadata-file writes; totals count RUN, COPY and ADD steps only."""
        counted = [s for s in self.steps if s["kind"] in ("RUN", "COPY", "ADD")]
        hits = sum(1 for s in counted if s["cached"])
        return {
            "containerimage.digest": str(self.image.manifest),
            "containerimage.config.digest": str(self.image.config),
            "image.name": ",".join(self.image.tags),
            "steps": [{k: v for k, v in s.items() if k != "kind"} for s in self.steps],
            "hits": hits,
            "misses": len(counted) - hits,
            "hit_rate": round(hits / len(counted), 4) if counted else 0.0,
            "rebuilt_bytes": sum(s.get("size") or 0 for s in self.steps if not s["cached"]),
            **({"checks": [f.as_json() for f in self.checks]} if self.checks else {}),
        }


def _execute(store: Store, state: StageState, cmd: t.Command, ctx: BuildContext, log,
             states: dict, plan, fresh_caches=None) -> Layer | None:
    scope = state.scope
    if isinstance(cmd, t.Arg):
        for decl in cmd.args:
            scope.declare(decl)
        return None
    if isinstance(cmd, t.Env):
        image_config.apply(state.doc, cmd, scope.expand)
        for key, value in state.env_dict().items():
            scope.set_env(key, value)
        return None
    if isinstance(cmd, t.Cmd):
        state.cmd_set = True
        image_config.apply(state.doc, cmd, scope.expand)
        return None
    if isinstance(cmd, t.Entrypoint):
        image_config.apply(state.doc, cmd, scope.expand, cmd_set=state.cmd_set)
        return None
    if isinstance(cmd, t.Workdir):
        return _workdir_step(store, state, cmd)  # its config change is applied before keying
    if isinstance(cmd, image_config.METADATA_COMMANDS):
        image_config.apply(state.doc, cmd, scope.expand)
        return None
    if isinstance(cmd, t.Run):
        from .run_step import run_step

        return run_step(store, state, cmd, ctx, log, dict(state.secrets),
                        lambda ref: _named_directory(state, ref) or
                        _from_layers(store, state, ref, states, plan, "RUN --mount from")[0],
                        fresh_caches, state.ssh)
    if isinstance(cmd, (t.Copy, t.Add)):
        return _copy_step(store, state, cmd, ctx, states, plan)
    raise InstructionError(f"{cmd.keyword} is not supported by the executor yet")
