"""Shared test fixtures: where the conformance data and golden files live, --update-golden."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

settings.register_profile("ci", max_examples=400)
settings.register_profile("deep", max_examples=20000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

REPO = Path(__file__).resolve().parents[1]
GOLDEN = REPO / "tests" / "golden"
CONFORMANCE = Path(os.environ.get("CAIRN_CONFORMANCE", REPO.parent / "shared" / "conformance"))


def pytest_addoption(parser):
    parser.addoption("--update-golden", action="store_true",
                     help="rewrite golden files from the current output (review the diff)")


@pytest.fixture
def update_golden(request) -> bool:
    return request.config.getoption("--update-golden")


def case_dirs(root: Path) -> list[Path]:
    """Every folder under root that holds a Dockerfile, sorted; fails loudly if none."""
    found = sorted(p.parent for p in root.glob("*/Dockerfile"))
    assert found, f"no test cases under {root}"
    return found
