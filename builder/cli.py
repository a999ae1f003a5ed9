"""The `cairn` command line: parses arguments, calls the library, formats errors.

This is the only module that turns exceptions into messages and exit codes:
0 ok; 1 failure; 2 usage or Dockerfile error (`Dockerfile:LINE: message`). A Python
traceback reaches the user only with `--debug`.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from grammar import DockerfileError

from .errors import CairnError

_CONTEXT_LINES = 6


def _default_root() -> str:
    env = os.environ.get("CAIRN_ROOT")
    if env:
        return env
    if os.geteuid() == 0:
        return "/var/lib/cairn"
    return str(Path.home() / ".local" / "share" / "cairn")


class _Failure(Exception):
    """Carries a formatted message and exit code to `main`."""

    def __init__(self, message: str, code: int):
        super().__init__(message)
        self.code = code


def dockerfile_error_text(err: DockerfileError, filename: str, source: str | None) -> str:
    """`Dockerfile:LINE: message`, then the offending lines for context."""
    if not err.start_line:
        return f"{filename}: {err.message}"
    text = f"{filename}:{err.start_line}: {err.message}"
    if source is not None:
        lines = source.split("\n")
        last = min(err.end_line, err.start_line + _CONTEXT_LINES - 1, len(lines))
        for no in range(err.start_line, last + 1):
            text += f"\n {no:>4} | {lines[no - 1]}"
    return text


def read_dockerfile(path: str) -> bytes:
    try:
        if path == "-":
            return sys.stdin.buffer.read()
        return Path(path).read_bytes()
    except OSError as err:
        raise CairnError(f"cannot read {path}: {err.strerror}") from None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--root", default=_default_root, show_default="$CAIRN_ROOT, /var/lib/cairn as root",
              help="Store directory.")
@click.option("--debug", is_flag=True, help="Show Python tracebacks.")
@click.pass_context
def cli(ctx: click.Context, root: str, debug: bool) -> None:
    """cairn: a Dockerfile build engine whose first concern is layer caching."""
    ctx.obj = {"root": root, "debug": debug}


@cli.command("parse")
@click.option("--dump", "fmt", flag_value="dump", default=True, help="BuildKit's AST dump (default).")
@click.option("--json", "fmt", flag_value="json", help="The AST as JSON, with lines and heredocs.")
@click.option("--validate", is_flag=True, help="Also check every instruction as `build` would.")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
def parse_cmd(fmt: str, validate: bool, file: str) -> None:
    """Parse a Dockerfile and print its syntax tree."""
    import grammar

    raw = read_dockerfile(file)
    source = grammar.parser.decode(raw)
    try:
        tree = grammar.parse(source)
        if validate:
            from .instructions import parse_dockerfile

            parse_dockerfile(tree)
    except DockerfileError as err:
        label = "Dockerfile" if file == "-" else file
        raise _Failure(dockerfile_error_text(err, label, source), 2) from err
    out = grammar.dump(tree) if fmt == "dump" else grammar.to_json(tree) + "\n"
    sys.stdout.buffer.write(out.encode("utf-8", errors="surrogateescape"))


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args
    try:
        cli.main(args=args, prog_name="cairn", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        return 130
    except click.ClickException as err:
        err.show()
        return err.exit_code
    except click.exceptions.Exit as err:
        return err.exit_code
    except _Failure as err:
        if debug and err.__cause__ is not None:
            raise err.__cause__
        click.echo(str(err), err=True)
        return err.code
    except CairnError as err:
        if debug:
            raise
        click.echo(f"error: {err}", err=True)
        return err.exit_code
    except KeyboardInterrupt:
        return 130
    except Exception as err:  # noqa: BLE001 - the last line of defence for users
        if debug:
            raise
        click.echo(f"error: internal error: {type(err).__name__}: {err} (run with --debug for details)",
                   err=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
