"""`cairn exec`: run a command in a running container."""

from __future__ import annotations

import click

from ..errors import UsageError
from . import cli
from .common import Failure, open_store


@cli.command("exec", context_settings={"allow_interspersed_args": False})
@click.option("-i", "--interactive", is_flag=True, help="Keep stdin open to the command.")
@click.option("-t", "--tty", is_flag=True, help="Give the command a pseudo-terminal.")
@click.option("-d", "--detach", is_flag=True, help="Run the command in the background.")
@click.option("-u", "--user", default="", help="User (name|uid[:group|gid]), from the container's /etc/passwd.")
@click.option("-w", "--workdir", default="", help="Working directory inside the container.")
@click.option("-e", "--env", "env", multiple=True, metavar="KEY=VALUE", help="Set an environment variable.")
@click.option("--env-file", "env_files", multiple=True, metavar="FILE", help="Read environment variables from a file.")
@click.option("--privileged", is_flag=True, help="Give the command every capability.")
@click.argument("container")
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
@click.pass_context
def exec_cmd(ctx, interactive, tty, detach, user, workdir, env, env_files, privileged, container, command):
    """Run COMMAND in a running container; exits with its exit code."""
    import os

    from ..containers.exec import DaemonError, ExecRequest, exec_in
    from .run_meta import read_key_value_file

    if os.geteuid() != 0:
        raise UsageError("cairn exec needs root (it enters the container's namespaces)")
    if detach and tty:
        raise UsageError("-d cannot be combined with -t: a detached command's terminal would have no "
                         "reader (cairn has no daemon to hold it)")
    req = ExecRequest(container=container, command=tuple(command), interactive=interactive, tty=tty,
                      detach=detach, user=user, workdir=workdir, env=tuple(env),
                      env_file_env=tuple(line for path in env_files
                                         for line in read_key_value_file(path, "--env-file", os.environ.get)),
                      privileged=privileged)
    try:
        code = exec_in(open_store(ctx), req)
    except DaemonError as err:
        raise Failure(f"Error response from daemon: {err}", 1) from None
    ctx.exit(code)
