"""Runs last: the suite must leave no mount, network namespace, link, cgroup or NAT rule behind.

Only what the tests made counts. The host is read when this module is imported (at
collection, before any test runs) and again here: the default bridge cairn0 that
`cairn run` keeps (as docker keeps docker0), a user's running containers and their
masquerade rule were there before and are not leaks. The tests' own bridge must be gone.
"""

from __future__ import annotations

import os

import pytest

from .conftest import TEST_BRIDGE, TEST_SUBNET
from .host_state import snapshot

BEFORE = snapshot()


@pytest.fixture(scope="module")
def left():
    from runtime.cgroups import Cgroup

    Cgroup.drain_pool()  # spare cgroups of a module that did not clean up (a user's too: only spares)
    # (no grace: every clean-up returns once its container's cgroup is gone. Two containers' were
    # still there at the end of the CI run, held by exec -d processes the host's init reaped late)
    return snapshot().new_since(BEFORE)


def test_no_cgroup_pool_left(left):
    """The pool's spares (runtime.cgroup_pool) are drained: no directory under a cairn cgroup."""
    from runtime.cgroups import Cgroup

    _version, paths = Cgroup._locations("-")
    shared = [path.parent for path in paths.values() if path.parent.is_dir()]
    assert [str(d / n) for d in shared for n in os.listdir(d) if n.startswith((".pool-", ".fill-"))] == []


def test_no_mounts_left(left):
    assert left["mounts"] == []


def test_no_cgroups_left(left):
    assert left["cgroups"] == []


@pytest.mark.skipif(os.geteuid() != 0, reason="links and namespaces need root")
def test_no_network_namespaces_or_links_left(left):
    assert left["netns"] == []
    assert left["links"] == []


@pytest.mark.skipif(os.geteuid() != 0, reason="links and namespaces need root")
def test_the_test_bridge_and_its_nat_rule_are_gone(left):
    now = snapshot()
    assert TEST_BRIDGE not in now.links
    assert [rule for rule in now.nat_rules if TEST_SUBNET in rule or TEST_BRIDGE in rule] == []
    assert left["nat_rules"] == []
