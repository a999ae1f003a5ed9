"""Layer stacks that real images have: the same layer more than once (no-op RUN steps,
a file restored after a change), and many layers (one small RUN per line)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from .conftest import cairn_cli, imported_store

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="builds need root")


@pytest.fixture(scope="module")
def root(tmp_path_factory, busybox_tar):
    yield from imported_store(tmp_path_factory, busybox_tar, "layersstore")


def build(root, ctx: Path, dockerfile: str, *args, env=None):
    (ctx / "Dockerfile").write_text(dockerfile)
    res = cairn_cli("build", "--progress", "plain", *args, str(ctx), root=root, env=env)
    assert res.returncode == 0, res.stderr.decode()[-3000:]
    return res


def run(root, *args) -> str:
    res = cairn_cli("run", "--rm", "--network", "none", *args, root=root)
    assert res.returncode == 0, res.stderr.decode()
    return res.stdout.decode()


def diff_ids(root, ref: str) -> list[str]:
    return json.loads(cairn_cli("inspect", ref, root=root).stdout)[0]["RootFS"]["Layers"]


def test_runs_that_change_nothing_then_a_run(root, tmp_path):
    build(root, tmp_path, "FROM busybox:local\nRUN true\nRUN true\nRUN test -f /bin/sh\nRUN test -f /bin/sh\n"
                          "RUN echo made > /made\nRUN cat /made > /copy\n", "-t", "noops")
    layers = diff_ids(root, "noops")
    assert len(layers) > len(set(layers))  # the image repeats a layer
    assert run(root, "noops", "cat", "/made", "/copy") == "made\nmade\n"


def test_a_layer_repeated_above_a_change_is_seen_on_top(root, tmp_path):
    """A, B, A: B deletes or changes what A added; the top A restores it, in RUN and in run."""
    (tmp_path / "a.txt").write_text("from the context\n")
    (tmp_path / "b.txt").write_text("kept\n")
    os.utime(tmp_path / "a.txt", (1_600_000_000, 1_600_000_000))
    build(root, tmp_path, "FROM busybox:local\nCOPY a.txt b.txt /d/\nRUN rm /d/a.txt && rm -r /d/b.txt\n"
                          "COPY a.txt b.txt /d/\nRUN cat /d/a.txt /d/b.txt > /seen\n"
                          "RUN echo changed > /d/a.txt\nCOPY a.txt b.txt /d/\n", "-t", "aba",
          env={"SOURCE_DATE_EPOCH": "1600000000"})
    layers = diff_ids(root, "aba")
    assert layers[1] == layers[3] == layers[6] and len(set(layers[1:])) == 4
    assert run(root, "aba", "cat", "/seen", "/d/a.txt") == "from the context\nkept\nfrom the context\n"
    assert run(root, "aba", "ls", "/d") == "a.txt\nb.txt\n"


def test_many_layers(root, tmp_path):
    """150 layers: more than fit in mount(2)'s one-page option string of snapshot paths."""
    steps = "".join(f"RUN echo {i} > /f{i}\n" for i in range(150))
    build(root, tmp_path, "FROM busybox:local\n" + steps + "RUN cat /f0 /f149 > /ends\n", "-t", "many")
    assert len(diff_ids(root, "many")) == 1 + 151
    assert run(root, "many", "sh", "-c", "cat /ends; ls / | grep -c '^f'") == "0\n149\n150\n"


def test_mountable_lowers_keeps_each_layer_at_its_topmost_place(tmp_path):
    from runtime.overlay import mountable_lowers

    dirs = {}
    for name, files in (("top_empty", ()), ("a", ("x",)), ("b", ("y",)), ("empty", ()), ("c", ("z",))):
        dirs[name] = tmp_path / name
        dirs[name].mkdir()
        for f in files:
            (dirs[name] / f).write_text(f)
    d = {k: str(v) for k, v in dirs.items()}
    stack = [d["top_empty"], d["a"], d["b"], d["empty"], d["a"], d["c"], d["top_empty"], d["b"] + "/"]
    assert mountable_lowers(stack) == [d["top_empty"], d["a"], d["b"], d["c"]]
