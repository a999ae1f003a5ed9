"""`cairn run`: run an image's command in a new container."""

from __future__ import annotations

from dataclasses import replace

import click

from ..errors import Refused, UsageError
from . import cli
from .common import open_store
from .registry_flags import echo_err, make_options, registry_options
from .refused_flags import refused_run_options
from .run_exit import DockerRunCommand
from .run_fs_options import fs_options, fs_request_fields
from .run_meta import meta_options, request_fields


def _memory(value: str | None) -> int | None:
    if value is None:
        return None
    from ..units import ram_in_bytes  # (only --memory loads it)

    try:
        size = ram_in_bytes(value)
    except ValueError:
        raise UsageError(f"invalid --memory {value!r}: write it like 512m or 1g") from None
    if size < 6 * 1024 * 1024:
        raise UsageError(f"invalid --memory {value!r}: the minimum is 6m")
    return size


@cli.command("run", cls=DockerRunCommand, context_settings={"allow_interspersed_args": False})
@click.option("--rm", "remove", is_flag=True, help="Remove the container when it exits.")
@click.option("-d", "--detach", is_flag=True, help="Run in the background and print the container ID.")
@click.option("--name", default="", help="A name for the container.")
@click.option("-e", "--env", "env", multiple=True, metavar="KEY=VALUE", help="Set an environment variable.")
@click.option("-v", "--volume", "volumes", multiple=True, metavar="SRC:DST[:ro]", help="Bind-mount a host path.")
@click.option("--network", default="bridge", show_default=True, metavar="bridge|none|host",
              help="Network mode.")
@click.option("-p", "--publish", "ports", multiple=True, metavar="[IP:]HOST:CTR[/udp]",
              help="Publish a container port on the host.")
@click.option("-i", "--interactive", is_flag=True, help="Keep stdin open to the container.")
@click.option("-t", "--tty", is_flag=True, help="Give the container a pseudo-terminal.")
@click.option("--init", is_flag=True, help="Run a reaper as PID 1 that forwards signals to the command.")
@click.option("-w", "--workdir", default="", help="Working directory inside the container.")
@click.option("-u", "--user", default="", help="User (name|uid[:group|gid]).")
@click.option("-h", "--hostname", default="", help="Container host name.")
@click.option("--entrypoint", default=None, help="Override the image's ENTRYPOINT.")
@click.option("--memory", "-m", default=None, help="Memory limit (e.g. 512m).")
@click.option("--cpus", type=float, default=None, help="CPU limit in cores (e.g. 1.5).")
@click.option("--pids-limit", type=int, default=None, help="Maximum number of processes.")
@click.option("--pull", "pull_policy", type=click.Choice(["missing", "always", "never"]), default="missing",
              show_default=True, help="Pull the image before running.")
@registry_options
@meta_options
@fs_options
@refused_run_options
@click.argument("image")
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
@click.pass_context
def run_cmd(ctx, remove, detach, name, env, volumes, network, ports, interactive, tty, init, workdir, user, hostname, entrypoint,
            memory, cpus, pids_limit, pull_policy, insecure, registry_timeout, image, command, meta, fs):
    """Run COMMAND (or the image's default) in a new container; exits with its exit code."""
    import os

    from ..containers.run import RunRequest, Volume, run

    if os.geteuid() != 0:
        raise Refused("cairn run needs root (namespaces, mounts and cgroups)")
    from runtime import rootless_cgroup, userns

    if userns.active() is not None and (memory or cpus or pids_limit) and rootless_cgroup.delegated() is None:
        raise Refused(rootless_cgroup.refusal())
    if cpus is not None and cpus <= 0:
        raise UsageError(f"invalid --cpus {cpus}: must be more than 0")
    if pids_limit is not None and pids_limit <= 0:
        raise UsageError(f"invalid --pids-limit {pids_limit}: must be more than 0")
    mappings = ()
    if ports:
        from runtime.portproxy import PortMapping

        try:
            mappings = tuple(PortMapping.parse(p) for p in ports)
        except ValueError as err:
            raise UsageError(str(err)) from None
    req = RunRequest(
        image=image, command=tuple(command), entrypoint=entrypoint, env=tuple(env), ports=mappings,
        interactive=interactive, tty=tty, init=init,
        volumes=tuple(Volume.parse(v) for v in volumes), workdir=workdir, user=user, network=network,
        hostname=hostname, memory=_memory(memory), cpus=cpus, pids_limit=pids_limit, remove=remove, name=name,
    )
    if detach and (interactive or tty):
        raise UsageError("-d cannot be combined with -i or -t")
    registry = make_options(insecure, registry_timeout)
    req = replace(req, registry=registry, **request_fields(meta), **fs_request_fields(fs))
    from ..registry.ensure import ensure_image

    ensure_image(open_store(ctx), image, pull_policy, registry, echo_err)
    if detach:
        from ..containers.lifecycle import run_detached

        click.echo(run_detached(open_store(ctx), req))
        return
    code = run(open_store(ctx), req)
    ctx.exit(code)
