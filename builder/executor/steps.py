"""Executing one step on a stage: metadata instructions change the config; RUN, COPY,
ADD and WORKDIR make a layer (a snapshot in the store) or none."""

from __future__ import annotations

import os
import stat

from ..context.build_context import BuildContext
from ..errors import CairnError
from ..image import config as image_config
from ..image import oci
from ..image.layer import Layer
from ..instructions import types as t
from ..instructions.errors import InstructionError
from ..store.store import Store, remove_tree
from .add_sources import classify
from .copy import copy_into_layer, ensure_parents, is_tar, parse_chmod, unpack_archive_into
from .epoch import clamp_tree
from .from_sources import copy_source, named_directory, unpacked_layers
from .state import StageState


# The layer machinery (zstandard, the tar writer, extraction) loads only when a step needs
# it: a build whose steps all hit should not pay for importing it.
def tar_digest(path, epoch: int | None):
    from ..layers.hashing import tar_digest as real
    from ..layers.tarstream import TarOptions

    return real(path, TarOptions(epoch))


def is_archive(ctx: BuildContext, rel: str) -> bool:
    """What ADD extracts: a local tar, plain or gzip, bzip2, xz or zstd compressed."""
    st = ctx.lstat(ctx.resolve_links(rel))
    return st is not None and stat.S_ISREG(st.st_mode) and is_tar(ctx.open_file(rel))


def chown(state: StageState, spec: str) -> tuple[int, int] | None:
    if not spec:
        return None
    from ..containers.users import image_user

    user = image_user(state.lowerdirs(), spec)
    return user.uid, user.gid


def copy_step(store: Store, state: StageState, cmd, ctx: BuildContext, states=None, plan=None) -> Layer:
    excludes = [state.scope.expand(p) for p in cmd.excludes]
    if excludes:
        ctx = ctx.excluding(excludes)
    source = copy_source(store, state, cmd, ctx, states or {}, plan)
    if excludes and source is not ctx:  # COPY --from a stage or image, as from the context
        source = source.excluding(excludes)
    archives: list[str] = []
    classified = classify(store, state, cmd)
    repos, urls = classified.repos, classified.urls
    if isinstance(cmd, t.Add):
        if cmd.checksum and (len(urls) + len(repos) != 1 or len(cmd.sources) != 1):
            raise CairnError("ADD --checksum needs exactly one URL or git source")
        user_agent = add_user_agent(state.scope.expand(cmd.user_agent), len(urls) == len(cmd.sources))
    scope = state.scope
    sources = classified.local
    if isinstance(cmd, t.Add) and cmd.unpack is not False:
        # each local archive a source names (a wildcard may name several) is unpacked; the
        # other files it names are copied
        copied = []
        for src in sources:
            rels = ctx.select(src)
            found = [rel for rel in rels if is_archive(ctx, rel)]
            archives += found
            copied += [src] if not found else [rel for rel in rels if rel not in found]
        sources = copied
    contents = [(c.path, (scope.expand_heredoc(c.data) if c.expand else c.data).encode()) for c in cmd.contents]

    parents = isinstance(cmd, t.Copy) and cmd.parents
    reuse = None
    if isinstance(source, BuildContext) and sources and not (contents or archives or repos or urls or parents):
        from .copy_reuse import for_step

        reuse = for_step(store, state)

    def fill(layer_dir: str) -> None:
        workdir = state.config.get("WorkingDir") or "/"
        dest = scope.expand(cmd.dest)
        if sources or contents:
            copy_into_layer(layer_dir, source, sources, contents, dest, workdir, state.lowerdirs(),
                            chown(state, scope.expand(cmd.chown)), parse_chmod(scope.expand(cmd.chmod)),
                            parents=parents, reuse=reuse)
        for rel in archives:
            unpack_archive_into(layer_dir, ctx.open_file(rel), dest, workdir, state.lowerdirs(),
                                chown(state, scope.expand(cmd.chown)))
        for _, ref, commit in repos:
            from .add_git import copy_git_source

            copy_git_source(store, layer_dir, ref, commit, dest, workdir, state.lowerdirs(),
                            chown(state, scope.expand(cmd.chown)), parse_chmod(scope.expand(cmd.chmod)))
        for url in urls:
            from .download import download_into

            download_into(layer_dir, url, dest, workdir, state.lowerdirs(), len(cmd.sources) > 1,
                          scope.expand(cmd.checksum), chown(state, scope.expand(cmd.chown)),
                          parse_chmod(scope.expand(cmd.chmod)), unpack=cmd.unpack is True, user_agent=user_agent)

    if reuse is None:
        return make_layer(store, "copy-", fill, state.epoch)
    try:
        layer = make_layer(store, "copy-", fill, state.epoch)
    finally:
        reuse.close()
    reuse.record(store, str(layer.diff_id))
    return layer


def add_user_agent(value: str, only_urls: bool) -> str | None:
    """ADD --user-agent: the User-Agent header for URL sources (BuildKit refuses it for others)."""
    if not value:
        return None
    if not only_urls:
        raise CairnError("ADD --user-agent can't be specified for non-HTTP sources")
    if any(ord(c) < 0x20 or ord(c) == 0x7f for c in value):
        raise CairnError("ADD --user-agent: control characters are not allowed in a header value")
    return value


def workdir_needs_layer(state: StageState) -> bool:
    path = state.config.get("WorkingDir") or "/"
    return not any(os.path.isdir(os.path.join(layer, path.lstrip("/"))) for layer in state.lowerdirs())


def workdir_step(store: Store, state: StageState, cmd: t.Workdir) -> Layer | None:
    """WORKDIR creates its directory (in a layer of its own) when the image lacks it.
    (The config change was applied by the caller.)"""
    path = state.config["WorkingDir"]
    lowers = state.lowerdirs()
    if not workdir_needs_layer(state):
        return None
    # as BuildKit: the directories WORKDIR creates belong to the current USER
    owner = chown(state, state.scope.expand(state.config.get("User") or "")) or (0, 0)
    return make_layer(store, "workdir-", lambda layer_dir: ensure_parents(layer_dir, path, lowers, owner),
                       state.epoch)


def make_layer(store: Store, prefix: str, fill, epoch: int | None) -> Layer:
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


def execute(store: Store, state: StageState, cmd: t.Command, ctx: BuildContext, log,
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
        return workdir_step(store, state, cmd)  # its config change is applied before keying
    if isinstance(cmd, image_config.METADATA_COMMANDS):
        image_config.apply(state.doc, cmd, scope.expand)
        return None
    if isinstance(cmd, t.Run):
        from .run_step import run_step

        return run_step(store, state, cmd, ctx, log, dict(state.secrets),
                        lambda ref: named_directory(state, ref) or
                        unpacked_layers(store, state, ref, states, plan, "RUN --mount from")[0],
                        fresh_caches, state.ssh)
    if isinstance(cmd, (t.Copy, t.Add)):
        return copy_step(store, state, cmd, ctx, states, plan)
    raise InstructionError(f"{cmd.keyword} is not supported by the executor yet")
