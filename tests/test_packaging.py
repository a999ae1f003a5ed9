"""`pip install .` (the README's first command) installs every package of the source tree: an
explicit package list once left builder.checks out, and the installed cairn failed to build."""

from __future__ import annotations

import tomllib

from setuptools import find_packages

from .conftest import REPO


def test_every_source_package_is_installed():
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert "packages" not in config or "find" in config["packages"], "list packages with find, not by hand"
    installed = set(find_packages(str(REPO), include=config["packages"]["find"]["include"]))
    on_disk = {".".join(p.parent.relative_to(REPO).parts)
               for top in ("builder", "grammar", "runtime") for p in (REPO / top).rglob("__init__.py")}
    assert on_disk and on_disk <= installed, sorted(on_disk - installed)
