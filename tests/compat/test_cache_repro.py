"""The same image ID from an imported cache, ported from BuildKit's dockerfile_test.go
(testImportExportReproducibleIDs): a build exports its cache (to the real distribution
registry, or to a directory), the image and every local record and layer it made are
dropped, and the build again from that cache alone gives the same image: the records carry
when each layer was made, which the history and the config's `created` keep."""

from __future__ import annotations

import json
import time

import pytest

from .. import registry_server
from ..conftest import cairn_cli
from ..registry_server import Registry
from .helpers import build_ok, container, needs_root, write

pytestmark = [needs_root, pytest.mark.skipif(not registry_server.available(),
                                             reason="docker-registry is not installed (tests/setup-system.sh)")]


def _ids(root, ctx, meta, *args) -> tuple[str, list[bool]]:
    """(the image ID, whether each RUN/COPY step was cached)."""
    build_ok(root, ctx, "--metadata-file", str(meta), *args)
    doc = json.loads(meta.read_text())
    return doc["containerimage.config.digest"], [s["cached"] for s in doc["steps"] if s.get("key")]


@container
@pytest.mark.parametrize("kind", ["registry", "local"])
def test_an_imported_cache_gives_the_same_image_id(root, tmp_path, kind):
    ctx = write(tmp_path / "c", {"Dockerfile": f"FROM busybox\nENV foo=bar\nCOPY foo /\nRUN echo {kind} > bar\n",
                                 "foo": f"foobar {kind}"})  # (no record shared with the other case)
    with Registry(tmp_path / "registry", "plain") as registry:
        if kind == "registry":
            to = frm = f"type=registry,ref={registry.host}/test/dockerfileexpids:cache"
        else:
            to, frm = f"type=local,dest={tmp_path / 'cache'}", f"type=local,src={tmp_path / 'cache'}"
        first, _ = _ids(root, ctx, tmp_path / "one.json", "-t", "compat/expids:one", "--cache-to", to)
        assert cairn_cli("rmi", "compat/expids:one", root=root).returncode == 0
        assert cairn_cli("cache", "prune", "--all", root=root).returncode == 0
        second = int(time.time())
        while int(time.time()) == second:  # (the rebuild runs in another second: its clock must not matter)
            time.sleep(0.05)
        again, cached = _ids(root, ctx, tmp_path / "two.json", "-t", "compat/expids:two", "--cache-from", frm)
    assert cached == [True, True] and again == first
