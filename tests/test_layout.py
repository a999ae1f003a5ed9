"""The code's shape, kept as docs/ARCHITECTURE.md describes it: builder's subpackages import
each other without cycles, only builder/store/ speaks SQL, no module grows past 400 lines,
and the explanation of a miss names every field a cache key can hold."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from .conftest import REPO

MAX_LINES = 400
_SQL = re.compile(r"\b(SELECT\s+.+\s+FROM|INSERT\s+(OR\s+\w+\s+)?INTO|DELETE\s+FROM|UPDATE\s+\w+\s+SET|CREATE\s+TABLE)\b",
                  re.IGNORECASE | re.DOTALL)


def _module(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _unit(module: str) -> str | None:
    """The node of the graph a module belongs to: builder's subpackage, or a root module."""
    parts = module.split(".")
    if parts[0] != "builder" or len(parts) == 1:
        return None
    return parts[1] if (REPO / "builder" / parts[1]).is_dir() else parts[1] + ".py"


def _imported(path: Path) -> set[str]:
    module = _module(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.add(target)
            found |= {f"{target}.{alias.name}" for alias in node.names}
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
    return found


def _exists(module: str) -> bool:
    path = REPO / module.replace(".", "/")
    return path.is_dir() or path.with_suffix(".py").is_file()


def subpackage_graph() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {}
    for path in (REPO / "builder").rglob("*.py"):
        src = _unit(_module(path))
        for target in _imported(path):
            dst = _unit(target) if _exists(target) else None
            if src and dst and dst != src:
                edges.setdefault(src, set()).add(dst)
    return edges


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(set(edges) | {w for ws in edges.values() for w in ws}):
        if v not in index:
            visit(v)
    return out


def test_builder_subpackages_import_without_cycles():
    assert _cycles(subpackage_graph()) == []


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_only_the_store_speaks_sql():
    offenders = []
    for path in sorted((REPO / "builder").rglob("*.py")):
        if path.relative_to(REPO).parts[1] == "store":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and _SQL.search(node.value):
                offenders.append(f"{path.relative_to(REPO)}:{node.lineno}")
            if isinstance(node, ast.Attribute) and node.attr in ("execute", "executemany", "conn"):
                offenders.append(f"{path.relative_to(REPO)}:{node.lineno} .{node.attr}")
    assert offenders == []


def test_store_paths_are_named_only_in_its_layout():
    """`store.root / "containers"` spelled outside store/layout.py would drift from it."""
    offenders = []
    for path in sorted((REPO / "builder").rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        for no, line in enumerate(text.splitlines(), 1):
            if re.search(r"store\.root\s*/|\.root\s*/\s*\"(containers|cache-mounts|volumes|snapshots|blobs|leases|tmp)\"",
                         line):
                offenders.append(f"{path.relative_to(REPO)}:{no}")
    assert offenders == []


def test_no_module_is_over_400_lines():
    long = [f"{p.relative_to(REPO)}: {n}" for pkg in ("grammar", "builder", "runtime")
            for p in sorted((REPO / pkg).rglob("*.py")) if (n := len(p.read_text().splitlines())) > MAX_LINES]
    assert long == []


def _key_fields() -> set[str]:
    """The top-level fields a step's key definition can hold, read from the code that makes them."""
    fields = set()
    for rel in ("builder/executor/keys.py", "builder/executor/sandbox.py"):
        for node in ast.walk(ast.parse((REPO / rel).read_text())):
            if isinstance(node, ast.Dict) and any(isinstance(k, ast.Constant) and k.value in ("RUN", "network", "WORKDIR")
                                                  for k in node.keys):
                fields |= {k.value for k in node.keys if isinstance(k, ast.Constant)}
            if isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Store) and \
                    isinstance(node.value, ast.Name) and node.value.id in ("definition", "out") and \
                    isinstance(node.slice, ast.Constant):
                fields.add(node.slice.value)
    return fields


def test_every_key_field_has_a_label_for_explanations():
    from builder.executor.keys import FIELD_LABELS

    fields = _key_fields()
    assert {"RUN", "dest", "chmod", "security", "parents", "excludes", "unpack", "checksum"} <= fields
    assert fields - {"sources", "env"} - set(FIELD_LABELS) == set()
