"""The corpus (tests/corpus/): application Dockerfiles in the shapes people write, each built
cold, rebuilt unchanged (every step CACHED), rebuilt after a one-line edit with the exact
hits BuildKit gives (apps.toml), and run. Base images are Debian stand-ins made with
mmdebstrap (tests/corpus/bases.py, cached between runs). Where docker.io is installed, a
subset goes through the same sequence with BuildKit, which must give the same hits and
output; benchmarks/corpus.py runs all of them against BuildKit.

Apps whose RUN steps download (Debian's archive, PyPI, npm) carry the `registries` marker
and skip, saying why, when a quick probe cannot reach those registries.
"""

from __future__ import annotations

import shutil

import pytest

from .conftest import remove_test_bridge
from .corpus.bases import BaseUnavailable
from .corpus.corpus import (
    BuildKit,
    Cairn,
    apply_edit,
    buildkit_pattern,
    cairn_pattern,
    copy_context,
    load_apps,
    registries_unreachable,
)
from .dockerd import docker_engine  # noqa: F401 - fixture

APPS = load_apps()
# The BuildKit comparison in the suite: one app per shape of cache behaviour, on the smallest bases
# (benchmarks/corpus.py compares every app).
BUILDKIT_IN_SUITE = ("dockerignore", "many-runs", "static-site", "users", "build-args", "add-archive")


def _params(apps, buildkit: bool = False):
    for app in apps:
        marks = [pytest.mark.registries] if app.registries else []
        if app.xfail and not buildkit:
            marks.append(pytest.mark.xfail(reason=app.xfail, strict=True))
        yield pytest.param(app, id=app.name, marks=marks)


@pytest.fixture(scope="module")
def registries():
    return registries_unreachable()


def _need_registries(app, request) -> None:
    if app.registries and (why := request.getfixturevalue("registries")):
        pytest.skip(why)


@pytest.fixture(scope="module")
def cairn(tmp_path_factory):
    work = tmp_path_factory.mktemp("corpus")
    cairn = Cairn(work / "store")
    try:
        try:
            cairn.import_bases(sorted({ref for app in APPS for ref in app.bases()}))
        except BaseUnavailable as err:
            pytest.skip(str(err))
        except RuntimeError:  # mmdebstrap failed: for want of Debian's archive, or a real fault
            if why := registries_unreachable():
                pytest.skip(f"the base images are not cached and cannot be made: {why}")
            raise
        yield cairn
    finally:
        remove_test_bridge()
        shutil.rmtree(work, ignore_errors=True)  # several GB of base layers: not kept for later runs


def _cold_warm_edited(build, app, ctx, pattern_of):
    """The three builds; returns their hit patterns."""
    got = []
    for step in ("cold", "warm", "edited"):
        if step == "edited":
            apply_edit(ctx, app.edit)
        got.append(pattern_of(build(step)))
    return got


@pytest.mark.parametrize("app", list(_params(APPS)))
def test_app_builds_rebuilds_with_the_expected_hits_and_runs(app, cairn, tmp_path, request):
    _need_registries(app, request)
    cairn("cache", "prune", "--all")  # a cold build: no step of an earlier app may hit
    ctx = copy_context(app, tmp_path / "ctx")
    stages = app.stages()
    cold, warm, edited = _cold_warm_edited(lambda step: cairn.build(app, ctx, tmp_path / f"{step}.json")[1],
                                           app, ctx, lambda meta: cairn_pattern(meta, stages))
    assert cold == app.cold_hits, "the cold build"
    assert warm == app.hits.replace("M", "H"), "an unchanged rebuild missed"
    assert edited == app.hits, f"after editing {app.edit['file']}"
    res = cairn("run", "--rm", app.tag, *app.run, timeout=120)
    assert app.output in res.stdout.decode(errors="replace")


@pytest.fixture(scope="module")
def buildkit(docker_engine, cairn, tmp_path_factory):  # noqa: F811 - fixture
    engine = BuildKit(docker_engine)
    wanted = [a for a in APPS if a.name in BUILDKIT_IN_SUITE]
    engine.load_bases(cairn, sorted({ref for app in wanted for ref in app.bases()}), tmp_path_factory.mktemp("bk"))
    return engine


@pytest.mark.parametrize("app", list(_params([a for a in APPS if a.name in BUILDKIT_IN_SUITE], buildkit=True)))
def test_buildkit_gives_the_same_hits_and_output(app, buildkit, tmp_path, request):
    _need_registries(app, request)
    buildkit.prune()
    ctx = copy_context(app, tmp_path / "ctx")
    stages = app.stages()
    cold, warm, edited = _cold_warm_edited(lambda step: buildkit.build(app, ctx)[1], app, ctx,
                                           lambda log: buildkit_pattern(log, stages))
    assert (cold, warm, edited) == (app.cold_hits, app.hits.replace("M", "H"), app.hits)
    res = buildkit("run", "--rm", "--network", "none", app.tag, *app.run, timeout=120)
    assert app.output in res.stdout.decode(errors="replace")
