"""Our own golden cases, one folder each (BuildKit's testfiles layout).

- tests/golden/parser/NAME/Dockerfile -> `result` (BuildKit dump) and `ast.json` (our JSON,
  which also shows heredoc bodies, lines and directives).
- tests/golden/errors/NAME/Dockerfile -> `error`: the first line the CLI prints,
  `Dockerfile:LINE: message`, after parsing and validating every instruction.
Rewrite with `pytest --update-golden` and review the diff.
"""

from __future__ import annotations

import pytest

from builder.cli import dockerfile_error_text
from builder.instructions import parse_dockerfile
from grammar import DockerfileError, dump, parse, to_json

from .conftest import GOLDEN, case_dirs

PARSER_CASES = case_dirs(GOLDEN / "parser")
ERROR_CASES = case_dirs(GOLDEN / "errors")


def _check(path, got: str, update: bool) -> None:
    if update:
        path.write_text(got, encoding="utf-8", newline="")
    assert path.exists(), f"{path} missing: run pytest --update-golden and review it"
    assert got == path.read_text(encoding="utf-8")


@pytest.mark.parametrize("case", PARSER_CASES, ids=lambda p: p.name)
def test_parser_golden(case, update_golden):
    tree = parse((case / "Dockerfile").read_bytes())
    _check(case / "result", dump(tree), update_golden)
    _check(case / "ast.json", to_json(tree) + "\n", update_golden)


@pytest.mark.parametrize("case", ERROR_CASES, ids=lambda p: p.name)
def test_error_golden(case, update_golden):
    with pytest.raises(DockerfileError) as info:
        parse_dockerfile(parse((case / "Dockerfile").read_bytes()))
    first_line = dockerfile_error_text(info.value, "Dockerfile", None)
    _check(case / "error", first_line + "\n", update_golden)
