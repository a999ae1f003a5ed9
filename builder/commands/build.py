"""`cairn build`: build an image from a Dockerfile and a context directory."""

from __future__ import annotations

import os
import sys
import time

import click

from . import cli
from .common import Failure, dockerfile_error_text, open_store, read_file_arg
from .registry_flags import make_options, push_image, registry_options
from .refused_flags import refused_build_options


@cli.command("build")
@click.option("-t", "--tag", "tags", multiple=True, metavar="REF", help="Name the image (repeatable).")
@click.option("-f", "--file", "dockerfile", default=None, help="Dockerfile (default CONTEXT/Dockerfile; - for stdin).")
@click.option("--target", default=None, help="Build up to this stage.")
@click.option("--build-arg", "build_args", multiple=True, metavar="NAME=VALUE", help="Set a build arg.")
@click.option("--secret", "secrets", multiple=True, metavar="id=ID[,type=file|env][,src=PATH|,env=VAR]",
              help="A secret for RUN --mount=type=secret, from a file or an environment variable "
                   "(never stored in a layer, a cache key or the metadata).")
@click.option("--ssh", "ssh", multiple=True, metavar="default|ID[=SOCKET|KEY[,KEY]]",
              help="An ssh agent for RUN --mount=type=ssh (default: $SSH_AUTH_SOCK).")
@click.option("-o", "--output", "outputs", multiple=True, metavar="type=local|tar|oci|docker,dest=PATH | DIR | -",
              help="Also write the image as an archive, its filesystem as a directory or a tar (- is stdout).")
@click.option("-q", "--quiet", is_flag=True, help="Show no progress; print only the image ID (errors still go to stderr).")
@click.option("--iidfile", default=None, type=click.Path(dir_okay=False), metavar="FILE",
              help="Write the image ID (sha256:...) to FILE.")
@click.option("--load", is_flag=True,
              help="Accepted for docker's command lines; does nothing: a built image is always in cairn's store.")
@click.option("--metadata-file", default=None, type=click.Path(dir_okay=False),
              help="Write the image digest and per-step timings and cache use as JSON.")
@click.option("--no-cache", is_flag=True, help="Run every step; record the results for later builds.")
@click.option("--no-cache-filter", "no_cache_filter", multiple=True, metavar="STAGE",
              help="Run every step of this stage (repeatable).")
@click.option("--progress", type=click.Choice(["auto", "tty", "plain", "json", "quiet"]), default="auto",
              show_default=True, help="How build progress is shown on stderr.")
@click.option("--pull", is_flag=True, help="Check the registry for newer base images, even when the store has them.")
@click.option("--push", is_flag=True, help="Push the image to each -t reference after it is built.")
@click.option("--compression", type=click.Choice(["zstd", "gzip", "none"]), default="zstd", show_default=True,
              help="How --push compresses layers built here.")
@click.option("--cache-from", "cache_from", multiple=True, metavar="type=registry,ref=REF | type=local,src=DIR",
              help="Also match steps against this exported cache (repeatable; a bare REF means a registry).")
@click.option("--cache-to", "cache_to", multiple=True,
              metavar="type=registry,ref=REF[,mode=min|max][,compression=zstd|gzip] | type=local,dest=DIR | type=inline",
              help="Export this build's cache records (repeatable); a failed export is a warning unless "
                   "ignore-error=false. cache-mounts=true (registry, local) adds the RUN --mount=type=cache "
                   "directories, each up to cache-mounts-limit=SIZE (default 1g).")
@click.option("--platform", default="", metavar="OS/ARCH[/VARIANT]", envvar="DOCKER_DEFAULT_PLATFORM",
              help="The target platform (TARGETPLATFORM; default $DOCKER_DEFAULT_PLATFORM or the host's); "
                   "RUN steps need the host's own (no emulation).")
@click.option("--allow", "allow", multiple=True, metavar="network.host|security.insecure",
              help="Grant an entitlement: network.host lets RUN --network=host share the host's network; "
                   "security.insecure lets RUN --security=insecure run with every capability and host device.")
@click.option("--label", "labels", multiple=True, metavar="KEY=VALUE", help="Set an image label (repeatable).")
@click.option("--network", "network", default="default", metavar="default|none|host",
              help="The network of every RUN without its own --network (host needs --allow network.host).")
@click.option("--add-host", "add_hosts", multiple=True, metavar="NAME:IP",
              help="Add a line to /etc/hosts in RUN steps (repeatable; IP may be host-gateway).")
@click.option("--shm-size", default=None, metavar="BYTES", help="Size of /dev/shm in RUN steps (e.g. 128m).")
@click.option("--ulimit", "ulimits", multiple=True, metavar="NAME=SOFT[:HARD]",
              help="A resource limit for RUN steps, as nofile=1024:2048 (repeatable).")
@click.option("--cgroup-parent", default=None, metavar="PATH", help="Make RUN steps' cgroups under this cgroup.")
@click.option("-m", "--memory", default=None, metavar="BYTES", help="Memory limit of each RUN step (e.g. 512m).")
@click.option("--memory-swap", default=None, metavar="BYTES",
              help="Memory plus swap of each RUN step (-1: unlimited swap; default twice --memory).")
@click.option("--cpu-quota", type=int, default=None, help="CPU CFS quota of each RUN step, in microseconds.")
@click.option("--cpu-period", type=int, default=None, help="CPU CFS period of each RUN step, in microseconds.")
@click.option("--build-context", "build_contexts", multiple=True, metavar="NAME=DIR|docker-image://REF|oci-layout://DIR",
              help="A named context: replaces the stage, image or --from of that NAME (repeatable).")
@click.option("--call", "call_spec", default=None, metavar="build|check|outline|targets|subrequests.describe[,format=json]",
              help="What to do: build (default), or print the target's outline, the targets or the methods.")
@click.option("--check", "check", is_flag=True, help="Only evaluate the Dockerfile's build checks (= --call check).")
@registry_options
@refused_build_options
@click.argument("context", type=click.Path())
@click.pass_context
def build_cmd(ctx, tags, dockerfile, target, build_args, secrets, ssh, outputs, metadata_file, no_cache,
              no_cache_filter, progress, pull, push, compression, cache_from, cache_to, platform, allow, shm_size,
              ulimits, cgroup_parent, memory, memory_swap, cpu_quota, cpu_period, insecure, registry_timeout,
              context, build_contexts=(), call_spec=None, labels=(), network="default", add_hosts=(),
              check=False, quiet=False, iidfile=None, load=False):
    """Build an image from CONTEXT."""
    from ..cache import build_memo

    memo = raw = None
    if build_memo.applies(ctx.params, context):  # a fully cached rebuild: answered without a parse
        memo, raw = _open_memo(ctx, context, dockerfile)
        if memo is not None and memo.record is not None:
            from ..cache.build_replay import replay

            for secret in secrets:  # (its file or variable may be gone: refused as the build refuses it)
                _parse_secret(secret)
            from ..executor.progress import Progress

            image_id, metadata = replay(memo.store, memo.record, Progress("quiet" if quiet else progress))
            return _finish(image_id, metadata, iidfile, metadata_file, True)
    import grammar

    from ..args import parse_build_args
    from ..errors import UsageError
    from ..executor.build import build
    from ..executor.options import BuildError, BuildOptions
    from ..executor.outputs import Output, check_stdout, write_output
    from ..executor.run_resources import parse as parse_resources
    from ..executor.sandbox import check_entitlements, check_network, parse_add_host
    from ..subrequests import parse_call

    if quiet:
        progress = "quiet"
    tags = tuple(_check_tag(tag) for tag in tags)
    if platform:
        from ..platforms import parse_target

        platform = parse_target(platform)
    allow = check_entitlements(allow)
    network = check_network(network)
    if network == "host" and "network.host" not in allow:
        raise UsageError("--network host needs --allow network.host")
    if add_hosts:
        from ..containers.ipam import bridge_config

        gateway = str(bridge_config().gateway)
        add_hosts = tuple(parse_add_host(h, gateway) for h in add_hosts)
    run_resources = parse_resources(shm_size, ulimits, cgroup_parent, memory, memory_swap, cpu_quota, cpu_period)
    if run_resources.key():  # (the runtime's cgroup code loads only when a limit is given)
        from runtime import rootless_cgroup

        if rootless_cgroup.userns.active() is not None and (rootless_cgroup.has_limits(run_resources.resources())
                                                             or run_resources.cgroup_parent) \
                and rootless_cgroup.delegated() is None:
            raise UsageError(rootless_cgroup.refusal())
    imports = exports = ()
    if cache_from or cache_to:
        from ..cache.specs import parse_spec

        imports = tuple(parse_spec(c, export=False) for c in cache_from)
        exports = tuple(parse_spec(c, export=True) for c in cache_to)
    call = parse_call("check" if check and not call_spec else call_spec)
    if check and call.method != "check":
        raise UsageError("--check is --call check: it cannot be given with another --call")
    if call.method == "check":
        from .check import check_command

        return check_command(ctx, context, dockerfile, parse_build_args(list(build_args)), target, platform,
                             call.format)
    if call.method != "build":
        return _answer(ctx, call, context, dockerfile, target, build_args, platform)
    if any(e.type == "inline" for e in exports) and not push:
        raise UsageError("--cache-to type=inline rides in the pushed image: it needs --push")
    if os.geteuid() != 0:
        raise UsageError("cairn build needs root (RUN steps use namespaces, mounts and cgroups)")
    if context == "-":
        from ..context.stdin_tar import from_stdin

        store = open_store(ctx)
        context, dockerfile = from_stdin(sys.stdin.buffer, lambda prefix: str(store.new_tmp_dir(prefix)), dockerfile,
                                         ctx.call_on_close)
    elif is_remote(context):  # a git repository or an http(s) tar or Dockerfile
        from ..remote_context import from_url, with_context_epoch

        store = open_store(ctx)
        context, dockerfile, when = from_url(context, lambda prefix: str(store.new_tmp_dir(prefix)), dockerfile,
                                             ctx.call_on_close)
        build_args = with_context_epoch(tuple(build_args), when)
    if not os.path.isdir(context):
        raise UsageError(f"build context {context!r} is not a directory")
    path = dockerfile or _default_dockerfile(context)
    raw = read_file_arg(path, from_context=not dockerfile) if raw is None else raw
    name = "Dockerfile" if path == "-" else os.path.basename(path)
    wanted = [Output.parse(o).named(tags) for o in outputs]
    check_stdout(wanted)
    if push and not tags:
        raise UsageError("--push needs at least one -t REF to push to")
    registry = make_options(insecure, registry_timeout)
    options = BuildOptions(tuple(tags), target, tuple(parse_build_args(list(build_args)).items()), name,
                           tuple(_parse_secret(s) for s in secrets), no_cache, tuple(no_cache_filter),
                           pull, registry, imports, exports, allow=allow, run_resources=run_resources,
                           platform=platform, contexts=_named_contexts(build_contexts),
                           ssh=_parse_ssh(ssh), labels=tuple(_parse_label(x) for x in labels),
                           network=network, add_hosts=tuple(add_hosts))

    store = open_store(ctx)
    try:
        from ..executor.progress import Progress

        shown = Progress(progress)
        events = build_memo.capture(shown) if memo is not None else None
        started = time.time()
        try:
            from ..cache.fingerprint import sharing

            with sharing(memo.tree if memo is not None else None):  # (the steps take the memo's walk)
                # (with a memo, the directory it walked: a link in the context's path moved since names
                # another, whose image would be recorded as this one's)
                result = build(store, memo.tree.root if memo is not None else context, raw, options, shown,
                               None if path == "-" else path)
        finally:
            shown.close()  # (a live view prints its last frame before any error message)
    except grammar.DockerfileError as err:
        raise Failure(dockerfile_error_text(err, name, grammar.parser.decode(raw)), 2) from err
    except BuildError as err:
        if err.failure is None:
            raise
        from ..executor.step_failure import render

        raise Failure(render(err.failure, name, grammar.parser.decode(raw), output=shown.view is None), 1) from err
    if memo is not None:
        from ..image.reference import parse_reference

        build_memo.remember(memo, result, [str(parse_reference(t)) for t in tags], events, started,
                            (name if path == "-" else path, os.path.realpath(context)))
    for output in wanted:
        write_output(store, result.image, output)
    metadata = result.metadata()
    if push:
        from ..image.reference import parse_reference

        pushed = []
        for tag in tags:
            dest = parse_reference(tag)
            pushed.append((dest, push_image(store, result.image, dest, registry, compression, quiet=True)))
        metadata["containerimage.digest"] = str(pushed[0][1].digest)
        metadata["pushed"] = [{"name": str(dest), "digest": str(r.digest)} for dest, r in pushed]
        for dest, r in pushed:
            click.echo(f"pushed {dest.familiar}@{r.digest}", err=True)
    _finish(str(result.image.id), metadata, iidfile, metadata_file, not push and not any(o.to_stdout for o in wanted))


def _finish(image_id: str, metadata: dict, iidfile, metadata_file, echo: bool) -> None:
    """A built (or memo-answered) image's outputs: --iidfile, --metadata-file, its ID on stdout."""
    if iidfile:
        _write_iidfile(iidfile, image_id)
    if metadata_file:
        import json

        with open(metadata_file, "w") as f:
            json.dump(metadata, f, indent=2)
    if echo:
        click.echo(image_id)
    sys.stdout.flush()


def _open_memo(ctx, context: str, dockerfile: str | None):
    """(the whole-build memo of this build or None, the Dockerfile's bytes or None)."""
    from ..cache.build_memo import open_memo
    from ..errors import CairnError

    path = dockerfile or _default_dockerfile(context)
    try:
        raw = read_file_arg(path, from_context=not dockerfile)
    except CairnError:
        if path == "-":
            raise
        return None, None  # (the build reads it again, and says what is wrong in its turn)
    return open_memo(open_store(ctx), ctx, ctx.params, context, path, raw), raw


def _answer(ctx, call, context, dockerfile, target, build_args, platform) -> None:
    """`--call outline|targets|subrequests.describe`: print what the Dockerfile offers; nothing runs."""
    import grammar

    from ..args import parse_build_args
    from ..subrequests import answer, render

    name, raw = "Dockerfile", b""
    if call.method != "subrequests.describe":
        context, _, raw, name = read_dockerfile_for_call(ctx, context, dockerfile)
    try:
        result = answer(call, raw, target, parse_build_args(list(build_args)), platform)
    except grammar.DockerfileError as err:
        raise Failure(dockerfile_error_text(err, name, grammar.parser.decode(raw)), 2) from err
    click.echo(render(call, result), nl=False)


def is_remote(context: str) -> bool:
    if context == "-" or os.path.isdir(context):
        return False  # (the URL machinery loads only for a URL)
    from ..remote_context import is_remote as remote

    return remote(context)


def _named_contexts(values) -> tuple:
    from ..executor.named_contexts import parse_build_context

    return tuple(parse_build_context(v) for v in values)


def read_dockerfile_for_call(ctx, context: str, dockerfile: str | None) -> tuple[str, str, bytes, str]:
    """(context, Dockerfile path, its bytes, its name) for a --call/--check that runs no step;
    context `-` is a tar (or a Dockerfile) on stdin, unpacked until the command ends."""
    from ..errors import UsageError

    if context == "-":
        import tempfile

        from ..context.stdin_tar import from_stdin

        context, dockerfile = from_stdin(sys.stdin.buffer, lambda prefix: tempfile.mkdtemp(prefix=prefix),
                                         dockerfile, ctx.call_on_close)
    elif not os.path.isdir(context):
        raise UsageError(f"build context {context!r} is not a directory")
    path = dockerfile or _default_dockerfile(context)
    raw = read_file_arg(path, from_context=not dockerfile)
    return context, path, raw, "Dockerfile" if path == "-" else os.path.basename(path)


def _default_dockerfile(context: str) -> str:
    """CONTEXT/Dockerfile, or CONTEXT/dockerfile when only that one is there (as BuildKit)."""
    path = os.path.join(context, "Dockerfile")
    lower = os.path.join(context, "dockerfile")
    return lower if not os.path.lexists(path) and os.path.lexists(lower) else path


def _parse_ssh(values) -> tuple:
    if not values:
        return ()
    from ..executor.ssh_agent import parse_ssh_options

    return parse_ssh_options(values)


def _parse_label(text: str) -> tuple[str, str]:
    """docker's --label KEY=VALUE; a bare KEY is an empty label."""
    from ..errors import UsageError

    key, _, value = text.partition("=")
    if not key:
        raise UsageError(f"invalid --label {text!r}: expected KEY=VALUE")
    return key, value


def _check_tag(tag: str) -> str:
    """A -t name, refused before anything runs by the parser `cairn tag` uses; exit 1 and
    buildx's `invalid tag "REF": REASON`, as docker build does."""
    from ..image.reference import ReferenceError, parse_reference

    try:
        parse_reference(tag)
    except ReferenceError as err:
        reason = str(err).split(": ", 1)[-1] if str(err).startswith("invalid reference '") else str(err)
        raise Failure(f"invalid tag {tag!r}: {reason}", 1) from None
    return tag


def _write_iidfile(path: str, image_id: str) -> None:
    """--iidfile: the image ID alone, no newline (as docker writes it)."""
    from ..atomic_file import write_output

    try:
        write_output(path, image_id.encode())
    except OSError as err:
        raise Failure(f"cannot write --iidfile {path}: {err.strerror or err}", 1) from None


def _parse_secret(text: str) -> tuple[str, object]:
    """buildx's --secret: `id=ID[,type=file|env][,src=PATH|,env=VAR]`; with neither src nor
    env, the variable ID if it is set, else the file ID. A file is read when a step mounts it;
    a variable's value is taken now (bytes), and goes nowhere but the mount."""
    from ..errors import UsageError
    from ..secret_option import fields

    sid, env, src = fields(text)
    if not src and not env:
        env, src = (sid, None) if sid in os.environ else (None, sid)
    if env:
        if env not in os.environ:
            raise UsageError(f"invalid --secret {text!r}: the environment variable {env} is not set")
        return sid, os.environ[env].encode("utf-8", "surrogateescape")
    if not os.path.isfile(src):
        raise UsageError(f"invalid --secret {text!r}: {src} is not a file")
    return sid, os.path.abspath(src)
