"""COPY --parents splits a source at `/./` into a base (which may hold wildcards and links)
and a pattern walked below it (`**` included). A Dockerfile and its context, or a stage
built from them, try to make that base or walk read the host: `..` before the pivot, a
link in the base (absolute, or relative and climbing), a wildcard base that matches such
a link, and `**` over a link to a host directory. The host directory holds a secret; it
must appear nowhere in the result, and the host is left unchanged (the `host` fixture)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ..conftest import cairn_cli
from .sentinel import leaked

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="builds need root")



@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return tmp_path_factory.mktemp("parentsescape")


def context(path: Path, dockerfile: str, host: Path) -> Path:
    """A context whose links aim at the host sentinel: absolute, and climbing out."""
    (path / "in" / "real").mkdir(parents=True)
    (path / "in" / "real" / "own").write_text("own\n")
    os.symlink(str(host), path / "in" / "abs")
    os.symlink("../" * 12 + str(host).lstrip("/"), path / "in" / "climb")
    (path / "Dockerfile").write_text(dockerfile)
    return path


def attempt(root, tmp_path: Path, name: str, dockerfile: str, host: Path) -> tuple[int, str, list[str]]:
    ctx = context(tmp_path / name, dockerfile, host)
    out = tmp_path / f"out-{name}"
    res = cairn_cli("build", "--progress", "plain", "-o", f"type=local,dest={out}", str(ctx), root=root)
    err = res.stderr.decode(errors="replace")
    assert "Traceback" not in err and "internal error" not in err.lower(), err[-2000:]
    return res.returncode, err, leaked(out)


CONTEXT_SOURCES = ["in/abs/./victim", "in/climb/./victim", "in/a*/./victim", "in/c*/./*",
                   "in/./**/victim", "./**/victim", "in/abs/./dir/kept", "in/abs/./vic*"]


@pytest.mark.parametrize("src", CONTEXT_SOURCES)
def test_parents_from_the_context_never_reads_the_host(root, tmp_path, host, src):
    _code, _err, found = attempt(root, tmp_path, "c", f"FROM scratch\nCOPY --parents {src} /out/\n", host)
    assert not found, (src, found)


def test_parents_with_dotdot_before_the_pivot_is_refused(root, tmp_path, host):
    rel = os.path.relpath(host, tmp_path / "c")  # ../host: the sentinel, beside the context
    code, err, found = attempt(root, tmp_path, "c", f"FROM scratch\nCOPY --parents ./{rel}/./victim /out/\n", host)
    assert code != 0 and "outside the build context" in err and not found, err


STAGE_SOURCES = ["/in/abs/./victim", "/in/climb/./victim", "/in/a*/./victim", "/in/c*/./*",
                 "/in/./**/victim", "/**/victim", "/../../../../../../../../../../../..{host}/./victim",
                 "/../../../../../../../../../../../..{host}/./vic*", "{host}/./victim", "{host}/./*"]


@pytest.mark.parametrize("src", STAGE_SOURCES)
def test_parents_from_a_stage_never_reads_the_host(root, tmp_path, host, src):
    src = src.format(host=host)
    dockerfile = f"FROM scratch AS s\nCOPY in /in\nFROM scratch\nCOPY --from=s --parents {src} /out/\n"
    _code, _err, found = attempt(root, tmp_path, "s", dockerfile, host)
    assert not found, (src, found)


def test_links_in_the_base_are_followed_inside_the_tree(root, tmp_path, host):
    """The control: a link that stays inside the context is followed, as BuildKit does."""
    ctx = context(tmp_path / "c", "FROM scratch\nCOPY --parents in/inside/./own /out/\n", host)
    os.symlink("real", ctx / "in" / "inside")
    out = tmp_path / "out"
    res = cairn_cli("build", "--progress", "plain", "-o", f"type=local,dest={out}", str(ctx), root=root)
    assert res.returncode == 0, res.stderr
    assert (out / "out" / "own").read_text() == "own\n"
