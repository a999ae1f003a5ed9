"""Fixtures the security tests share."""

from __future__ import annotations

import pytest

from .sentinel import fingerprint, make_sentinel


@pytest.fixture
def host(tmp_path):
    """The attacker's target on the host, and a check that it is untouched at the end."""
    target = make_sentinel(tmp_path / "host")
    before = fingerprint(target)
    yield target
    assert fingerprint(target) == before, "a build, container or export changed a host directory"
