"""Start-up diet (issue 17): what a command imports is what the user waits for.

A rebuild whose every step hits is the build people run most; it must not load the
container runtime, the layer machinery (tar, zstd, extraction), the registry client or
httpx. `--help`, `images` and `ps` load less still. Each command runs as a user runs it, in a
subprocess with `python -X importtime`, which names every module the process imported.
"""

from __future__ import annotations

import pytest

from .conftest import cairn_cli, imported_store

HEAVY = ("runtime", "builder.layers", "builder.registry", "httpx")
# what those may load: context files are read through runtime.tree's safe walk, the frozen
# records of runtime.record are everyone's, and the registry options (a few numbers) are
# settled before the build knows it will pull nothing
ALLOWED = {"runtime", "runtime.tree", "runtime.record", "builder.registry", "builder.registry.options"}
# beside those, what a cached build has no use for: http, mail headers, TLS, a tar reader
USELESS = ("http.client", "email", "ssl", "tarfile", "zstandard", "lark")
# nor shutil (it loads zlib, bz2 and lzma), secrets or random, processes (git for ADD),
# thread pools, logging, pickle or sockets (click's help does load shutil)
CACHED_BUILD_FORBIDDEN = HEAVY + USELESS + ("shutil", "secrets", "random", "subprocess", "tempfile", "concurrent",
                                            "logging", "pickle", "socket")
LISTING_FORBIDDEN = HEAVY + USELESS + ("grammar", "builder.instructions", "builder.executor")
# `cairn run` of an image whose layers are unpacked: the runtime, and none of the build, the
# other commands, the tar and compression code, the registry client, slirp4netns (rootless
# only), the port proxy (-p only) or the socket module
RUN_FORBIDDEN = ("grammar", "lark", "builder.instructions", "builder.executor.build", "builder.commands.build",
                 "builder.commands.bench", "builder.commands.images", "builder.commands.registry",
                 "builder.layers", "builder.store.materialize", "builder.registry.client", "builder.registry.pull",
                 "httpx", "http.client", "ssl", "email", "tarfile", "zstandard", "runtime.slirp",
                 "runtime.portproxy", "socket", "subprocess")

DOCKERFILE = """\
FROM busybox:local
ARG VERSION=1
ENV APP=/app
WORKDIR /app
COPY deps.txt .
RUN --mount=type=cache,target=/cache cat deps.txt > /deps
COPY src/ ./src/
ADD notes.txt /notes.txt
RUN echo "$VERSION" > /version
USER nobody
CMD ["cat", "/version"]
"""


def _imported(root, *args: str) -> set[str]:
    res = cairn_cli(*args, root=root, env={"PYTHONPROFILEIMPORTTIME": "1"})  # = python -X importtime
    assert res.returncode == 0, res.stderr.decode()[-2000:]
    lines = [line for line in res.stderr.decode().splitlines() if line.startswith("import time:")]
    return {line.rsplit("|", 1)[1].strip() for line in lines[1:]}


def _loaded(modules: set[str], forbidden: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules - ALLOWED if any(m == f or m.startswith(f + ".") for f in forbidden))


@pytest.fixture(scope="module")
def built(tmp_path_factory, busybox_tar):
    """A store holding an image built from a small project, and that project."""
    for root in imported_store(tmp_path_factory, busybox_tar, "startup-imports"):
        project = tmp_path_factory.mktemp("startup-project")
        (project / "Dockerfile").write_text(DOCKERFILE)
        (project / "deps.txt").write_text("click==8\n")
        (project / "notes.txt").write_text("notes\n")
        (project / "src").mkdir()
        for i in range(20):
            (project / "src" / f"m{i}.py").write_text(f"x = {i}\n")
        res = cairn_cli("build", "--progress", "quiet", "-t", "app", str(project), root=root)
        assert res.returncode == 0, res.stderr.decode()[-2000:]
        yield root, project


def test_a_fully_cached_build_loads_no_runtime_layers_or_registry(built):
    root, project = built
    modules = _imported(root, "build", "--progress", "plain", "-t", "app", str(project))
    assert "builder.executor.build" in modules  # (the probe sees the build's own imports)
    assert _loaded(modules, CACHED_BUILD_FORBIDDEN) == []


@pytest.mark.parametrize("args", [("--help",), ("images",), ("ps", "-a"), ("build", "--help")])
def test_listing_and_help_load_neither_the_builder_nor_the_runtime(built, args):
    root, _ = built
    assert _loaded(_imported(root, *args), LISTING_FORBIDDEN) == []


def test_run_loads_the_runtime_and_nothing_of_build_tar_or_registry(built):
    root, _ = built
    modules = _imported(root, "run", "--rm", "--network", "none", "app", "true")
    assert "runtime.process" in modules  # (the probe sees the run's own imports)
    assert [m for m in sorted(modules) if any(m == f or m.startswith(f + ".") for f in RUN_FORBIDDEN)] == []


def test_a_run_that_keeps_its_container_loads_no_shutil(built):
    """shutil (with zlib, bz2 and lzma) was loaded by every `cairn run` for exec's busybox lookup;
    only --rm's removal of the container's directory needs it."""
    root, _ = built
    modules = _imported(root, "run", "--network", "none", "app", "true")
    assert "runtime.process" in modules
    assert [m for m in sorted(modules) if m in ("shutil", "bz2", "lzma")] == []
