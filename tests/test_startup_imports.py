"""Start-up diet (issue 17): what a command imports is what the user waits for.

A rebuild whose every step hits is the build people run most; it must not load the
container runtime, the layer machinery (tar, zstd, extraction), the registry client or
httpx. `--help`, `images` and `ps` load less still. Each command runs as a user runs it, in a
subprocess with `python -X importtime`, which names every module the process imported.
"""

from __future__ import annotations

import os
import time

import pytest

from builder.cache import fingerprint

from .conftest import cairn_cli, imported_store

HEAVY = ("runtime", "builder.layers", "builder.registry", "httpx")
# what those may load: context files are read through runtime.tree's safe walk, the frozen
# records of runtime.record are everyone's, and the registry options (a few numbers) are
# settled before the build knows it will pull nothing
ALLOWED = {"runtime", "runtime.tree", "runtime.record", "builder.registry", "builder.registry.options"}
# beside those, what a cached build has no use for: http, mail headers, TLS, a tar reader
USELESS = ("http.client", "email", "ssl", "tarfile", "zstandard", "lark")
# nor shutil (it loads zlib, bz2 and lzma), secrets or random, processes (git for ADD),
# thread pools, logging, pickle or sockets
CACHED_BUILD_FORBIDDEN = HEAVY + USELESS + ("shutil", "secrets", "random", "subprocess", "tempfile", "concurrent",
                                            "logging", "pickle", "socket")
# what click and pathlib import and no short command uses (builder/deferred_stdlib.py puts stand-ins
# for them): inspect with ast, dis, tokenize and linecache (click's cleandoc/isfunction, a dataclass
# without a docstring), uuid with platform, datetime.py (its classes are _datetime's), gettext's
# locale, urllib.parse with ipaddress (pathlib's as_uri), shutil with bz2 and lzma (the help's
# terminal width)
CLICK_UNUSED = ("inspect", "ast", "dis", "tokenize", "linecache", "uuid", "platform", "datetime", "gettext",
                "locale", "urllib.parse", "ipaddress", "shutil", "bz2", "lzma")
# beside those, what a rebuild the whole-build memo answers has no use for
MEMO_FORBIDDEN = ("grammar", "builder.instructions", "builder.checks", "builder.executor", "builder.args",
                  "builder.plan", "hashlib", "_hashlib") + CLICK_UNUSED  # (its key texts: the builtin sha256)
LISTING_FORBIDDEN = HEAVY + USELESS + ("grammar", "builder.instructions", "builder.executor") + CLICK_UNUSED
# `cairn run` of an image whose layers are unpacked: the runtime, and none of the build, the
# other commands, the tar and compression code, the registry client, slirp4netns (rootless
# only), the port proxy (-p only) or the socket module; nor OpenSSL's hashlib (the manifest and config it
# verifies are small: the builtin sha256), csv (--mount only), dockerignore patterns (COPY --exclude) or
# shutil (zlib, bz2, lzma: --rm removes the container's shallow directory under fds); nor, with
# --network none and no flag that needs them, the bridge's address book (ipam), the mount and
# volume code (-v, --mount, --tmpfs, an image's VOLUME), the executor (--ulimit's parser), the
# size parser (--memory), COPY's source paths (the passwd lookup reads by name) or the seccomp
# profile reader (--security-opt seccomp=FILE)
RUN_FORBIDDEN = ("grammar", "lark", "builder.instructions", "builder.executor", "builder.commands.build",
                 "builder.commands.bench", "builder.commands.images", "builder.commands.registry",
                 "builder.layers", "builder.store.materialize", "builder.registry.client", "builder.registry.pull",
                 "httpx", "http.client", "ssl", "email", "tarfile", "zstandard", "runtime.slirp",
                 "runtime.portproxy", "socket", "subprocess", "hashlib", "_hashlib", "csv",
                 "builder.context.dockerignore", "shutil", "bz2", "lzma", "builder.containers.ipam",
                 "builder.containers.run_mounts", "builder.containers.volumes", "builder.units",
                 "builder.context.source_paths", "runtime.seccomp_json") + CLICK_UNUSED

# a rebuild after a one-file edit (the COPY of the sources misses, the steps after it run):
# the tar writer and the runtime, but no layer compression or extraction code (a step's layer
# is hashed, not compressed; ADD's archive sniff may load the decompressors), no tempfile,
# shutil or random for the store's temp entries and a RUN's scratch directories, no cairn
# run command code, no slirp4netns (rootless only)
EDIT_BUILD_FORBIDDEN = ("builder.store.materialize", "builder.layers.extract", "builder.layers.tarreader",
                        "builder.layers.pipeline", "tempfile", "shutil", "bz2", "lzma", "random", "subprocess",
                        "builder.containers.run", "runtime.slirp")

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


def _imported(root, *args: str, env=None) -> set[str]:
    res = cairn_cli(*args, root=root, env={"PYTHONPROFILEIMPORTTIME": "1", **(env or {})})  # = python -X importtime
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
    modules = _imported(root, "build", "--progress", "plain", "-t", "app", str(project), env={"CAIRN_BUILD_MEMO": "0"})
    assert "builder.executor.build" in modules  # (the probe sees the build's own imports)
    assert _loaded(modules, CACHED_BUILD_FORBIDDEN) == []


def test_a_rebuild_the_build_memo_answers_loads_no_parser_or_executor(built):
    """The whole-build memo answers an unchanged rebuild from one record: no grammar, no
    instructions, no checks, no executor but the progress printer that replays its output."""
    root, project = built
    newest = max(os.lstat(p).st_ctime for p in [project, *project.rglob("*")])
    time.sleep(max(0.0, newest + fingerprint.RACY_NS / 1e9 + 0.1 - time.time()))  # (as a real project's files are)
    res = cairn_cli("build", "--progress", "plain", "-t", "app", str(project), root=root)  # (recorded)
    assert res.returncode == 0, res.stderr.decode()[-2000:]
    modules = _imported(root, "build", "--progress", "plain", "-t", "app", str(project))
    assert "builder.cache.build_replay" in modules  # (the memo answered)
    replay = {"builder.executor", "builder.executor.progress"}  # (the package: a docstring)
    assert _loaded(modules - replay, CACHED_BUILD_FORBIDDEN + MEMO_FORBIDDEN) == []


def test_a_rebuild_after_an_edit_loads_no_compression_tempfile_or_run_command(built):
    root, project = built
    (project / "src" / "m3.py").write_text("x = 'edited'\n")
    try:
        modules = _imported(root, "build", "--progress", "plain", "-t", "app", str(project))
    finally:
        (project / "src" / "m3.py").write_text("x = 3\n")
    assert {"builder.layers.tarstream", "runtime.process"} <= modules  # (a layer was hashed, a RUN ran)
    forbidden = EDIT_BUILD_FORBIDDEN if os.geteuid() == 0 else EDIT_BUILD_FORBIDDEN[:-1]
    assert [m for m in sorted(modules) if any(m == f or m.startswith(f + ".") for f in forbidden)] == []


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
    --rm's removal of the container's directory needs it no more (test_run_loads_the_runtime_...)."""
    root, _ = built
    modules = _imported(root, "run", "--network", "none", "app", "true")
    assert "runtime.process" in modules
    assert [m for m in sorted(modules) if m in ("shutil", "bz2", "lzma")] == []


def test_a_command_sent_to_the_daemon_loads_neither_click_nor_the_commands(built, tmp_path):
    """CAIRN_HOST: the client passes its fds and waits; the daemon's zygote has the imports."""
    from .serve_fixtures import _start, _stop

    root, _project = built
    sock = tmp_path / "cairn.sock"
    proc = _start(root, sock)
    try:
        modules = _imported(tmp_path / "unused", "images", "-q", env={"CAIRN_HOST": f"unix://{sock}"})
    finally:
        _stop(proc)
    assert "builder.serve.cli_client" in modules  # (the probe sees the client's own imports)
    assert _loaded(modules, ("click", "builder.commands", "builder.store")) == []
