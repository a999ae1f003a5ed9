"""The `cairn` entry point: runs the command group and turns exceptions into exit codes.

This is the only place that formats errors for the user: 0 ok; 1 failure; 2 usage or
Dockerfile error (`Dockerfile:LINE: message`). A traceback reaches the user only with
`--debug`. The commands themselves live in builder.commands.
"""

from __future__ import annotations

import os
import sys

from .errors import CairnError


def __getattr__(name: str):
    """cli, Failure and dockerfile_error_text, re-exported when asked for: a command that goes to
    the daemon (CAIRN_HOST) never loads click or the commands (~80 ms of the client's start)."""
    if name == "cli":
        from .commands import cli

        return cli
    if name in ("Failure", "dockerfile_error_text"):
        from .commands import common

        return getattr(common, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main(argv: list[str] | None = None) -> int:
    if argv is None:  # the program: no collections while it starts (builder.startup_gc)
        from .startup_gc import pause

        pause()
    code = _main(sys.argv[1:] if argv is None else argv)
    if argv is None:  # the program itself (`cairn ...`, python -m builder.cli), not a caller
        _leave(code)
    return code


def _leave(code: int) -> None:
    """End the process now, without Python's teardown of every module and object (30-40 ms
    a command here, on every `cairn run`, `ps` or cached build, for nothing: the store is
    closed and every file written by now). atexit handlers still run and stdio is flushed;
    while another thread lives, or if a flush fails, the normal exit is taken."""
    import atexit
    import threading

    if threading.active_count() > 1:
        return
    atexit._run_exitfuncs()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        return
    os._exit(code)


def _main(args: list[str]) -> int:
    debug = "--debug" in args
    if "CAIRN_HOST" in os.environ or any(a == "--host" or a.startswith(("--host=", "--tls")) for a in args):
        from .serve.cli_client import (  # (only then: a start stays lean)
            ClientError,
            maybe_forward,
        )
        from .startup_gc import resume

        resume()  # (a client's command may stream for long: collected as before)

        try:
            code, args = maybe_forward(args, _remote, _build_value_options)
        except ClientError as err:
            print(f"error: {err}", file=sys.stderr, flush=True)
            return err.code
        if code is not None:
            return code
    from .deferred_stdlib import install

    install(args)  # (before click: its unused stdlib imports wait for a first use)
    import click

    from .commands import cli
    from .commands.common import Failure

    try:
        _enter_rootless(args)
        result = cli.main(args=args, prog_name="cairn", standalone_mode=False)
        if isinstance(result, int):
            return result  # ctx.exit(code): a container's exit code
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        return 130
    except click.ClickException as err:
        err.show()
        return err.exit_code
    except click.exceptions.Exit as err:
        return err.exit_code
    except Failure as err:
        if debug and err.__cause__ is not None:
            raise err.__cause__
        click.echo(str(err), err=True)
        return err.exit_code
    except CairnError as err:
        if debug:
            raise
        click.echo(f"error: {err}", err=True)
        return err.exit_code
    except KeyboardInterrupt:
        return 130
    except OSError as err:
        if debug:
            raise
        where = f": {err.filename}" if err.filename else ""
        click.echo(f"error: {err.strerror or err}{where}", err=True)
        return 1
    except BrokenPipeError:
        return 1
    except Exception as err:
        if debug:
            raise
        if _is_database_error(err):  # a query on a store whose database broke after it opened
            click.echo(f"error: the store's database cannot be used: {err} (if it is corrupt, move "
                       f"the store's cairn.db away: cairn then starts an empty one)", err=True)
            return 1
        click.echo(f"error: internal error: {type(err).__name__}: {err} (run with --debug for details)",
                   err=True)
        return 1
    return 0


def _remote(host: str, tls: dict, argv: list[str]) -> int:
    """A command for a daemon on another machine (CAIRN_HOST=tcp://...): builder/remote/."""
    from .remote.cli import run_remote
    from .remote.conn import RemoteError, Tls
    from .serve.cli_client import ClientError

    try:
        return run_remote(host, Tls(**tls), argv)
    except RemoteError as err:
        raise ClientError(str(err), err.code) from None


def _build_value_options() -> set[str]:
    """`cairn build`'s options that take a value (the daemon's client tells a value from an
    option by them: serve/cli_client.client_build_args)."""
    import click

    from .commands.build import build_cmd

    return {name for p in build_cmd.params if isinstance(p, click.Option) and not p.is_flag and not p.count
            for name in p.opts}


# commands that touch neither the store nor a container stay in the host's user namespace
_HOST_COMMANDS = {"parse", "login", "logout", "info", "version", "help"}


def _enter_rootless(args: list[str]) -> None:
    """An ordinary user's cairn becomes root of a user namespace of its own (runtime.userns)
    before anything else runs: every command that writes the store or starts a container
    then works as it does for root, with the same owners in its files."""
    import os

    if os.geteuid() == 0 or "-h" in args or "--help" in args:
        return  # (root never imports runtime.userns: a start stays as quick as it was)
    import click

    from runtime import userns

    if not userns.needed():
        return
    words = iter(args)
    for word in words:
        if word == "--root":
            next(words, None)
        elif not word.startswith("-"):
            if word not in _HOST_COMMANDS:
                userns.enter(lambda text: click.echo(f"cairn: {text}", err=True))
            return


def _is_database_error(err: Exception) -> bool:
    sqlite3 = sys.modules.get("sqlite3")  # only loaded when a command opened a store
    return sqlite3 is not None and isinstance(err, sqlite3.DatabaseError)


if __name__ == "__main__":
    sys.exit(main())
