"""The cache key of each step: what a RUN, COPY, ADD or WORKDIR step depends on, as a
definition (a dict of fields) hashed onto the parent filesystem key. FIELD_LABELS names each
field for the explanation of a miss (cache/explain.py)."""

from __future__ import annotations

import posixpath

from ..cache.fingerprint import context_fingerprint, walk_context
from ..cache.keys import step_key
from ..cache.memo import StepMemo
from ..cache.sources import StatCache, hash_context_sources, hash_walked
from ..context.build_context import BuildContext
from ..context.source_paths import parents_select
from ..instructions import types as t
from ..store.store import Store
from .add_sources import classify
from .from_sources import from_diff_ids, from_source, named_directory
from .run_mounts import context_source
from .runcmd import run_key
from .sandbox import Sandbox
from .state import StageState

# Each field of a step's key definition other than its files ("sources") and env, with the
# words that name it when it is what changed. (A test checks every field a key uses is here.)
FIELD_LABELS = {
    "RUN": "the command", "WORKDIR": "the working directory", "COPY": "the instruction", "ADD": "the instruction",
    "dest": "the destination", "user": "the user", "workdir": "the working directory", "chown": "--chown",
    "chmod": "--chmod", "excludes": "--exclude", "parents": "--parents", "unpack": "--unpack",
    "checksum": "--checksum", "user_agent": "--user-agent", "urls": "the URLs", "git": "the git sources",
    "paths": "the source paths", "mounts": "the mounts", "network": "the network mode", "contents": "the heredoc",
    "from": "the --from source", "resources": "the RUN resource flags (--ulimit, --shm-size, -m...)",
    "security": "the security mode", "hostname": "the hostname (BUILDKIT_SANDBOX_HOSTNAME)",
    "extra_hosts": "the --add-host entries", "source_date_epoch": "SOURCE_DATE_EPOCH",
}


def cache_key(store: Store, state: StageState, cmd: t.Command, ctx: BuildContext, states, plan,
               stat_cache: StatCache, remote=None, memo: StepMemo | None = None,
               position: str = "") -> tuple[str, dict | None] | None:
    """The key of a RUN/COPY/ADD step (or a WORKDIR that makes its directory) on the current
    filesystem, or None (not cached). With a memo, a COPY/ADD from a context whose inputs are
    unchanged (told by stat) gets its key from the memo, with None for its inputs: compute
    them (without the memo) if the key misses."""
    scope, cfg = state.scope, state.config
    if isinstance(cmd, t.Workdir):
        # Keyed whether or not it makes a layer (that depends only on the parent filesystem),
        # so that deciding needs no layer's bytes.
        return keyed_definition(state, {"WORKDIR": cfg.get("WorkingDir"), "user": scope.expand(cfg.get("User") or "")})
    if isinstance(cmd, t.Run):
        mounts = []
        for m in cmd.mounts:  # (expanded by the caller)
            entry = {"raw": scope.expand(m.raw)}
            directory = named_directory(state, m.from_) if m.type == "bind" and m.from_ else None
            if directory is not None:  # a directory context: as the build context's files
                entry["context"] = hash_context_sources(directory, [context_source(m, directory)], stat_cache,
                                                        with_mode=True)
            elif m.type == "bind" and m.from_:
                # as BuildKit: a stage by the content of the mounted path, an image by its layers
                source_state, layers, label = from_source(store, state, m.from_, states, plan, "RUN --mount from")
                if source_state is None:
                    entry["from"] = [layer.diff_id.hex for layer in reversed(layers)]
                else:
                    from ..cache.stage_sources import stage_content  # (a stage's merged view: only when read)

                    entry["from_content"] = stage_content(store, source_state, label, [m.source or "/"], True,
                                                          stat_cache)
            elif m.from_:
                entry["from"] = from_diff_ids(store, state, m.from_, states, plan, "RUN --mount from")
            elif m.type == "bind":  # the mounted context files' content, .dockerignore applied, as COPY's
                entry["context"] = hash_context_sources(ctx, [context_source(m, ctx)], stat_cache, with_mode=True)
            mounts.append(entry)
        definition = {"RUN": run_key(state, cmd), "env": sorted(scope.run_env(proxies=False)),
                      "user": scope.expand(cfg.get("User") or ""), "workdir": cfg.get("WorkingDir") or "/",
                      **(state.sandbox or Sandbox()).key(scope.expand(cmd.network), scope.expand(cmd.security)), "mounts": mounts}
        if state.run_resources is not None and state.run_resources.key():
            definition["resources"] = state.run_resources.key()  # only when given: old keys stay
        return keyed_definition(state, definition)
    if isinstance(cmd, (t.Copy, t.Add)):
        definition: dict = {cmd.keyword: True, "dest": scope.expand(cmd.dest), "workdir": cfg.get("WorkingDir") or "/",
                            # the owner as written: the parent filesystem (in the key) decides its ids
                            "chown": scope.expand(cmd.chown),
                            "chmod": scope.expand(cmd.chmod), "excludes": [scope.expand(e) for e in cmd.excludes],
                            "contents": [[c.path, scope.expand_heredoc(c.data) if c.expand else c.data, c.expand]
                                         for c in cmd.contents]}
        classified = classify(store, state, cmd)
        sources = classified.non_git
        if isinstance(cmd, t.Add):
            definition["unpack"] = cmd.unpack
            if cmd.user_agent:  # (only then: the keys of every other ADD stay as they were)
                definition["user_agent"] = scope.expand(cmd.user_agent)
            if classified.repos:  # keyed by the commit each resolves to
                from .add_git import key_entries

                definition["git"] = key_entries(classified.repos)
            if classified.urls:
                if not cmd.checksum:
                    return None  # a URL's content is only known by fetching it
                definition["checksum"] = scope.expand(cmd.checksum)
                definition["urls"] = sources
                return keyed_definition(state, definition)
        if isinstance(cmd, t.Copy):
            definition["parents"] = cmd.parents
        directory = named_directory(state, cmd.from_) if isinstance(cmd, t.Copy) and cmd.from_ else None
        if directory is not None:  # a directory context: as the build context, by its files' content
            definition["from"] = "directory"
            ctx = directory
        elif isinstance(cmd, t.Copy) and cmd.from_:
            source_state, layers, label = from_source(store, state, cmd.from_, states, plan, "COPY --from")
            if source_state is None:  # an image: its layers say what it holds
                definition["from"] = [layer.diff_id.hex for layer in reversed(layers)]
                definition["sources"] = sources
                return keyed_definition(state, definition)
            from ..cache.stage_sources import from_layers, stage_content

            definition["paths"] = sources
            definition["sources"] = stage_content(store, source_state, label, sources, not cmd.chmod, stat_cache,
                                                  remote, cmd.parents, definition["excludes"])
            key, inputs = keyed_definition(state, definition)
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
        fingerprint = None
        walk = walk_context(source, selected) if memo is not None else None
        if walk is not None:
            fingerprint = context_fingerprint(walk, state.fs_key, state.epoch, definition, not cmd.chmod)
            known = memo.key(position, fingerprint) if fingerprint is not None else None
            if known is not None:
                return known, None
            definition["sources"] = hash_walked(walk, stat_cache, with_mode=not cmd.chmod)  # (not walked twice)
        else:
            definition["sources"] = hash_context_sources(source, selected, stat_cache, with_mode=not cmd.chmod)
        key, inputs = keyed_definition(state, definition)
        if fingerprint is not None:
            memo.remember(position, fingerprint, key)
        return key, inputs
    return None


def keyed_definition(state: StageState, definition: dict) -> tuple[str, dict]:
    """The step's key; SOURCE_DATE_EPOCH, when set, is in it (it changes the layer's mtimes)."""
    if state.epoch is not None:
        definition = {**definition, "source_date_epoch": state.epoch}
    return step_key(state.fs_key, definition)
