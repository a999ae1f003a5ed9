"""Read catalogue.tsv (one row per BuildKit test function) and the ported tests it names.

A row is `file, function, status, tests, reason`, tab-separated; `tests` names our ports
(`test_copy.py::test_name`, space-separated when BuildKit's function checks several
behaviours) for `passes` and `fails` rows. `ported_tests()` reads our test
modules with `ast` (no import, no containers) to find each test and whether it is marked
`xfail`, so the catalogue can be checked against the code without running a build.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
CATALOGUE = HERE / "catalogue.tsv"
STATUSES = ("passes", "fails", "todo", "n/a")


@dataclass(frozen=True)
class Row:
    line: int
    file: str
    function: str
    status: str
    test: str
    reason: str

    @property
    def tests(self) -> list[str]:
        return self.test.split()


def read_catalogue(path: Path = CATALOGUE) -> list[Row]:
    rows = []
    for number, text in enumerate(path.read_text().splitlines(), 1):
        if not text.strip() or text.startswith("#"):
            continue
        cells = text.split("\t") + ["", ""]
        if len(cells) < 5:
            raise ValueError(f"{path.name}:{number}: expected file, function, status")
        rows.append(Row(number, *(c.strip() for c in cells[:5])))
    return rows


def _is_strict_xfail(decorator: ast.expr) -> bool:
    """`@pytest.mark.xfail(strict=True, reason=...)`: a fix makes the suite fail until the
    catalogue row says `passes`."""
    if not isinstance(decorator, ast.Call):
        return False
    node = decorator.func
    strict = any(k.arg == "strict" and isinstance(k.value, ast.Constant) and k.value.value is True
                 for k in decorator.keywords)
    return isinstance(node, ast.Attribute) and node.attr == "xfail" and strict


def ported_tests(folder: Path = HERE) -> dict[str, bool]:
    """`test_x.py::test_name` -> True when the test is marked xfail(strict=True)."""
    found = {}
    for module in sorted(folder.glob("test_*.py")):
        if module.name == "test_catalogue.py":
            continue
        tree = ast.parse(module.read_text(), str(module))
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
                found[f"{module.name}::{node.name}"] = any(_is_strict_xfail(d) for d in node.decorator_list)
    return found


def totals(rows: list[Row]) -> dict[str, int]:
    counts = {status: 0 for status in STATUSES}
    for row in rows:
        counts[row.status] = counts.get(row.status, 0) + 1
    return counts
