"""`cairn parse`: the syntax tree of a Dockerfile."""

from __future__ import annotations

import sys

import click

from . import cli
from .common import Failure, dockerfile_error_text, read_file_arg


@cli.command("parse")
@click.option("--dump", "fmt", flag_value="dump", default=True, help="BuildKit's AST dump (default).")
@click.option("--json", "fmt", flag_value="json", help="The AST as JSON, with lines and heredocs.")
@click.option("--validate", is_flag=True,
              help="Also check every instruction of the last stage and the stages it needs, as `build` does "
                   "before its first step (exit 2 on the first problem).")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
def parse_cmd(fmt: str, validate: bool, file: str) -> None:
    """Parse a Dockerfile and print its syntax tree."""
    import grammar
    from grammar import DockerfileError

    source = grammar.parser.decode(read_file_arg(file))
    try:
        tree = grammar.parse(source)
        if validate:
            from ..executor.validate import validate_file
            from ..instructions import parse_dockerfile

            validate_file(parse_dockerfile(tree), tree.escape, {})
    except DockerfileError as err:
        label = "Dockerfile" if file == "-" else file
        raise Failure(dockerfile_error_text(err, label, source), 2) from err
    out = grammar.dump(tree) if fmt == "dump" else grammar.to_json(tree) + "\n"
    sys.stdout.buffer.write(out.encode("utf-8", errors="surrogateescape"))
