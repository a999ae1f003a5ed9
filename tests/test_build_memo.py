"""The whole-build memo (issue 17): a rebuild whose every step hits is answered from one
record, without a parse; it must give exactly what the build without it gives.

Each row is something a user (or someone sharing the store) does between two builds of a
project. After it, a build with the memo and one without it (CAIRN_BUILD_MEMO=0) must give
the same image, the same tags and, when both are rebuilds whose steps all hit, the same
progress output, --metadata-file and history entry. A stale replay shows itself as another
image, other line numbers or other steps. Builds run in the test's process, with the
"changed too recently to vouch for" window (fingerprint.RACY_NS) at zero, so that files
written a moment ago are memoised as they are after a while in a real project.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time

import pytest

from builder.cache import fingerprint

from .conftest import cairn_cli
from .inproc import cairn
from .test_step_memo import _retarget_link
from .test_step_memo import _rewrite_same_size_and_mtime as _same_size_same_mtime

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="builds need root")

DOCKERFILE = """\
FROM base:local AS first
RUN echo one > /one
ARG V=1
ENV V=$V
COPY src/ /app/src/
COPY *.py /app/
COPY link /app/link
FROM first AS final
LABEL stage=final
CMD ["cat", "/one"]
"""


def _edit(name, text):
    return lambda ctx: (ctx / name).write_text(text)


def _store(*args):
    return lambda ctx: ("store", args)


# (what the user did, the edit, the build's arguments before it and after it, whether the
#  memo-less build runs first: a rebuild that misses prints another output than one that hits)
ROWS = [
    ("nothing", lambda ctx: None, (), (), True),
    ("Dockerfile: a comment added", lambda ctx: (ctx / "Dockerfile").write_text("# hi\n" + DOCKERFILE), (), (), True),
    ("Dockerfile: whitespace", lambda ctx: (ctx / "Dockerfile").write_text(DOCKERFILE.replace("LABEL ", "LABEL  ")),
     (), (), True),
    ("Dockerfile: a step changed",
     lambda ctx: (ctx / "Dockerfile").write_text(DOCKERFILE.replace("final\n", "x\n")), (), (), True),
    (".dockerignore ignores a copied file", _edit(".dockerignore", "src/b.txt\n"), (), (), True),
    ("a .dockerignore that ignores itself ignores a copied file",
     _edit(".dockerignore", ".dockerignore\nsrc/b.txt\n"), (), (), True),
    ("<Dockerfile>.dockerignore beside -f ignores a copied file", _edit("Other.Dockerfile.dockerignore", "src/b.txt\n"),
     ("-f", "{ctx}/Other.Dockerfile"), ("-f", "{ctx}/Other.Dockerfile"), True),
    ("a copied file: new bytes, same size and mtime", _same_size_same_mtime, (), (), True),
    ("a file no step reads (an ignored one)", _edit("notes.md", "notes\n"), (), (), True),
    ("a file no step reads", _edit("unread.txt", "unread\n"), (), (), True),
    ("a new file the glob matches", _edit("extra.py", "y = 2\n"), (), (), True),
    ("a symlink retargeted", _retarget_link, (), (), True),
    ("a build arg's value", lambda ctx: None, ("--build-arg", "V=1"), ("--build-arg", "V=2"), True),
    ("a build arg's value in the environment", lambda ctx: os.environ.__setitem__("V", "3"),
     ("--build-arg", "V"), ("--build-arg", "V"), True),
    ("--target", lambda ctx: None, (), ("--target", "first"), True),
    ("-f another Dockerfile", lambda ctx: None, (), ("-f", "{ctx}/Other.Dockerfile"), True),
    ("-f outside the context: a step changed",
     lambda ctx: (ctx.parent / "outside" / "Dockerfile").write_text(DOCKERFILE.replace("final\n", "y\n")),
     ("-f", "{ctx.parent}/outside/Dockerfile"), ("-f", "{ctx.parent}/outside/Dockerfile"), True),
    ("SOURCE_DATE_EPOCH", lambda ctx: os.environ.__setitem__("SOURCE_DATE_EPOCH", "86400"), (), (), True),
    ("the tag moved to another image", _store("tag", "busybox:local", "app:memo"), (), (), False),
    ("the base retagged to another image", _store("tag", "other:local", "base:local"), (), (), False),
    ("the image removed", _store("rmi", "-f", "app:memo"), (), (), False),
    ("the image's config blob lost", lambda ctx: ("blob",), (), (), False),
    ("the cache pruned", _store("cache", "prune", "--all"), (), (), False),
]


@pytest.fixture(scope="module")
def project(tmp_path_factory, busybox_tar):
    root = tmp_path_factory.mktemp("buildmemo")
    assert cairn_cli("import", str(busybox_tar), "busybox:local", root=root).returncode == 0
    other = tmp_path_factory.mktemp("buildmemo-other")
    (other / "Dockerfile").write_text("FROM busybox:local\nCOPY marker /marker\n")
    (other / "marker").write_text("another base\n")
    assert cairn_cli("build", "-t", "other:local", str(other), root=root).returncode == 0
    assert cairn_cli("tag", "busybox:local", "base:local", root=root).returncode == 0
    ctx = tmp_path_factory.mktemp("buildmemo-ctx")
    _reset(ctx)
    return root, ctx


def _reset(ctx):
    (ctx / "Dockerfile").write_text(DOCKERFILE)
    (ctx.parent / "outside").mkdir(exist_ok=True)
    (ctx.parent / "outside" / "Dockerfile").write_text(DOCKERFILE)
    (ctx / ".dockerignore").write_text(".dockerignore\n*.md\n")
    (ctx / "src").mkdir(exist_ok=True)
    for name in ("a", "b"):
        (ctx / "src" / f"{name}.txt").write_text(f"{name} content\n")
    (ctx / "main.py").write_text("x = 1\n")
    (ctx / "Other.Dockerfile").write_text(DOCKERFILE.replace("stage=final", "stage=other"))
    for gone in ("extra.py", "link", "notes.md", "unread.txt", "Other.Dockerfile.dockerignore"):
        if os.path.lexists(ctx / gone):
            os.unlink(ctx / gone)
    (ctx / "link").symlink_to("src/a.txt")


def _build(root, ctx, args, memo: bool, mode="plain") -> dict:
    meta, iid = ctx.parent / "memo-meta.json", ctx.parent / "memo-iid"
    os.environ["CAIRN_BUILD_MEMO"] = "1" if memo else "0"
    try:
        res = cairn("build", "--progress", mode, "-t", "app:memo", "--metadata-file", str(meta), "--iidfile", str(iid),
                    *[a.format(ctx=ctx) for a in args], str(ctx), root=root)
    finally:
        os.environ.pop("CAIRN_BUILD_MEMO", None)
    assert res.returncode == 0, res.stderr
    metadata = json.loads(meta.read_text())
    for step in metadata["steps"]:
        for timing in ("seconds", "started", "finished"):
            step.pop(timing)
    history = [json.loads(line) for line in cairn("history", "ls", "--format", "json", root=root).stdout.splitlines()]
    return {"id": res.stdout.strip(), "iid": iid.read_text(), "metadata": metadata,
            "stderr": re.sub(r'"time": [0-9.]+|DONE [0-9.]+s|"seconds": [0-9.]+', "T", res.stderr),
            "tags": cairn("images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}", root=root).stdout,
            "history": {k: v for k, v in history[0].items() if k not in ("id", "started", "seconds")}}


@pytest.fixture
def env_restored(monkeypatch):
    monkeypatch.setattr(fingerprint, "RACY_NS", 0)
    for name in ("V", "SOURCE_DATE_EPOCH"):
        monkeypatch.delenv(name, raising=False)
    yield
    for name in ("V", "SOURCE_DATE_EPOCH"):
        os.environ.pop(name, None)


def _count_builds(monkeypatch) -> list:
    """The builds that ran (not answered by the memo)."""
    from builder.executor import build

    ran, real = [], build.build

    def counted(*args, **kwargs):
        ran.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(build, "build", counted)
    return ran


def test_every_edit_gives_what_a_build_without_the_memo_gives(project, env_restored, monkeypatch):
    """After each row's build (which missed, but for the store's rows), the next build is
    answered from the memo recorded at its end, and must be the rebuild without the memo."""
    root, ctx = project
    ran = _count_builds(monkeypatch)
    for what, edit, before, args, settle_first in ROWS:
        _reset(ctx)
        for name in ("V", "SOURCE_DATE_EPOCH"):
            os.environ.pop(name, None)
        assert cairn_cli("tag", "busybox:local", "base:local", root=root).returncode == 0
        _build(root, ctx, before, memo=True)
        _build(root, ctx, before, memo=True)  # (recorded now: every step hit)
        done = edit(ctx)
        if done == ("blob",):  # (a store that lost a file: the build writes the image's blobs again)
            image_id = cairn("images", "-q", "--no-trunc", "app:memo", root=root).stdout.split()[0]
            (root / "blobs" / "sha256" / image_id.removeprefix("sha256:")).unlink()
        elif isinstance(done, tuple):
            assert cairn(*done[1], root=root).returncode == 0, what
        if settle_first:  # (the edit's misses are built and recorded; what follows are rebuilds that hit)
            _build(root, ctx, args, memo=True)
        ran.clear()
        with_memo = _build(root, ctx, args, memo=True)
        assert not (settle_first and ran), what  # (answered from the record the missed build made)
        if done == ("blob",):
            assert (root / "blobs" / "sha256" / image_id.removeprefix("sha256:")).is_file(), what
        without = _build(root, ctx, args, memo=False)
        assert (with_memo["id"], with_memo["iid"], with_memo["tags"]) == \
               (without["id"], without["iid"], without["tags"]), what
        if settle_first:
            assert with_memo == without, what
        ran.clear()
        again = _build(root, ctx, args, memo=True)  # (a replay of what the row's build recorded)
        assert again == without and not ran, what


def test_a_rebuild_is_answered_without_the_executor(project, env_restored, monkeypatch):
    root, ctx = project
    _reset(ctx)
    _build(root, ctx, (), memo=True)
    normal = _build(root, ctx, (), memo=True)
    ran = _count_builds(monkeypatch)
    assert _build(root, ctx, (), memo=True) == normal
    assert ran == []


@pytest.mark.parametrize("mode", ["plain", "json", "quiet"])
def test_the_replay_prints_what_the_build_printed(project, env_restored, monkeypatch, mode):
    root, ctx = project
    _reset(ctx)
    _build(root, ctx, ("--build-arg", "UNUSED=1"), memo=True, mode=mode)
    normal = _build(root, ctx, ("--build-arg", "UNUSED=1"), memo=True, mode=mode)
    assert "UNUSED" in normal["stderr"] or mode == "quiet"  # (a warning, replayed too)
    ran = _count_builds(monkeypatch)
    assert _build(root, ctx, ("--build-arg", "UNUSED=1"), memo=True, mode=mode) == normal
    assert ran == []


def test_no_cache_is_never_answered(project, env_restored, monkeypatch):
    root, ctx = project
    _reset(ctx)
    _build(root, ctx, (), memo=True)
    _build(root, ctx, (), memo=True)
    rebuilt = _build(root, ctx, ("--no-cache",), memo=True)
    assert rebuilt["metadata"]["hits"] == 0


def test_a_context_changed_just_now_is_not_answered(project, monkeypatch):
    """With the real window: a file written a moment ago may hide a same-size rewrite (coarse
    timestamps: here mtimes of whole seconds, which cannot tell the filesystem keeps finer
    times, so fingerprint.RACY_NS holds), so the rebuild runs; it must not even record one."""
    root, ctx = project
    _reset(ctx)
    whole = time.time_ns() // 10**9 * 10**9
    for path in (ctx / "src" / "a.txt", ctx / "src" / "b.txt", ctx / "main.py"):
        os.utime(path, ns=(whole, whole))
    _build(root, ctx, (), memo=True)
    _build(root, ctx, (), memo=True)
    ran = _count_builds(monkeypatch)
    _build(root, ctx, (), memo=True)
    assert len(ran) == 1


def _step(kind="COPY", cached=True, key="k1", diff_id="empty", source="local"):
    from builder.executor.result import StepRecord

    return StepRecord(f"{kind} x /x", "0", kind, cached, key, source if cached else None, "Dockerfile:0:0", 2,
                      diff_id, 0, None, None)


class _Bases:
    def __init__(self, fetched=False):
        self.fetched, self.local = fetched, {"base:local": "sha256:" + "1" * 64}


class _Result:
    def __init__(self, steps, bases):
        from builder.image.digest import Digest

        self.steps, self.bases = steps, bases
        self.image = type("I", (), {"manifest": Digest.parse("sha256:" + "2" * 64),
                                    "config": Digest.parse("sha256:" + "3" * 64)})()

    def metadata(self):
        return {"steps": [], "hits": 0, "misses": sum(1 for s in self.steps if s.key and not s.cached)}


@pytest.mark.parametrize("what, steps, fetched, recorded", [
    ("every step hit", [_step(), _step("ENV", False, None, None)], False, True),
    ("a step missed (recorded as its rebuild, where it hits)", [_step(cached=False)], False, True),
    ("a step from --cache-from", [_step(source="registry")], False, False),
    ("a keyless step made a layer (ADD of a URL without --checksum)",
     [_step("ADD", False, None, "sha256:" + "4" * 64)], False, False),
    ("an ADD of a git repository (its commit asked of the remote)", [_step("ADD", key="git")], False, False),
    ("an ADD of local files", [_step("ADD", key="local")], False, True),
    ("a base image was pulled", [_step()], True, False),
])
def test_only_a_build_that_touched_nothing_outside_is_recorded(store, what, steps, fetched, recorded):
    from builder.cache import build_memo
    from builder.store import build_memo_table, cache_table

    for key, step in (("k1", {"COPY": True}), ("local", {"ADD": True}), ("git", {"ADD": True, "git": [["u", "c"]]})):
        cache_table.put(store, key, "p", json.dumps({"v": 1, "parent": "p", "step": step}), "empty", 0, 0.0, "x")
    memo = build_memo.Memo(store, "place", "key", "context")
    events = [["done", [n, 0.0, s.cached, None, None], {}] for n, s in enumerate(steps)]
    build_memo.remember(memo, _Result(steps, _Bases(fetched)), [], events, 0.0, ("Dockerfile", "/ctx"))
    assert (build_memo_table.get(store, "place", "key") is not None) == recorded, what


@pytest.mark.parametrize("recorded, asked", [("plain", "json"), ("json", "plain"), ("quiet", "json")])
def test_a_record_made_in_one_progress_mode_answers_another_as_the_build_would(project, env_restored, recorded,
                                                                               asked):
    """json's events carry each step's image ID (cairn serve's classic stream): a record made
    without them must not answer a json build."""
    root, ctx = project
    _reset(ctx)
    _build(root, ctx, (), memo=True, mode=recorded)
    _build(root, ctx, (), memo=True, mode=recorded)
    assert _build(root, ctx, (), memo=True, mode=asked) == _build(root, ctx, (), memo=False, mode=asked)


def test_an_ignored_file_a_copied_link_names_is_read_again_after_its_edit(project, env_restored):
    """`COPY lin[k]` (a wildcard's match) copies what the link names, an ignored file too: the
    file's edit is a change (redteam: the memo answered the old image, the walk leaving ignored
    files out)."""
    root, ctx = project
    _reset(ctx)
    (ctx / "Dockerfile").write_text(DOCKERFILE.replace("COPY link ", "COPY lin[k] "))
    (ctx / "notes.md").write_text("notes\n")  # (*.md: ignored)
    (ctx / "link").unlink()
    (ctx / "link").symlink_to("notes.md")
    _build(root, ctx, (), memo=True)
    _build(root, ctx, (), memo=True)
    (ctx / "notes.md").write_text("edited\n")
    with_memo = _build(root, ctx, (), memo=True)
    assert with_memo["id"] == _build(root, ctx, (), memo=False)["id"]


def test_a_context_too_large_to_walk_is_built_as_without_the_memo(project, env_restored, monkeypatch):
    """The memo's walk stats the whole context, what no step reads too: past a bound it stops
    and the build runs (redteam: a 200,000-file context whose Dockerfile copies one file took
    1.2-1.7 s and 97 MB with the memo, 0.2 s and 24 MB without)."""
    root, ctx = project
    _reset(ctx)
    monkeypatch.setattr(fingerprint, "TREE_ENTRIES", 5, raising=False)  # (the context has 9 entries)
    _build(root, ctx, (), memo=True)
    normal = _build(root, ctx, (), memo=True)
    ran = _count_builds(monkeypatch)
    assert _build(root, ctx, (), memo=True) == normal
    assert len(ran) == 1


def test_the_steps_take_the_memo_walk_as_their_own(tmp_path):
    """A build the memo does not answer stats its context once: each COPY's walk is taken from
    the memo's walk of the whole context, and must be what walking the step's sources gives
    (a project's tree: links into directories and out of the kept files, a fifo, empty and nested
    directories, ignored files with exceptions, overlapping sources); a source the memo's
    walk left out (ignored) is walked by the step itself."""
    from builder.context.build_context import BuildContext

    ctx_dir = tmp_path / "ctx"
    for rel, text in (("a.txt", "a"), ("src/m.py", "m"), ("src/sub/deep.py", "d"), ("src/sub/x.log", "log"),
                      ("src/sub/keep.log", "kept"), ("bin/tool", "#!/bin/sh\n"), ("Dockerfile", "FROM x\n"),
                      ("logs/a.log", "ignored")):
        (ctx_dir / rel).parent.mkdir(parents=True, exist_ok=True)
        (ctx_dir / rel).write_text(text)
    (ctx_dir / "empty").mkdir()
    (ctx_dir / "src" / "link-dir").symlink_to("sub")
    (ctx_dir / "via").symlink_to("src")
    (ctx_dir / "to-ignored").symlink_to("logs/a.log")
    os.mkfifo(ctx_dir / "src" / "pipe")
    (ctx_dir / ".dockerignore").write_text("**/*.log\n!src/sub/keep.log\n")
    ctx = BuildContext.open(str(ctx_dir))
    tree = fingerprint.walk_tree(ctx)
    for selected in ([""], ["src", "a.txt"], ["src", "src/sub"], ["via/sub", "empty", "bin/tool"], ["to-ignored"],
                     ["src/link-dir"]):
        own = fingerprint.walk_context(ctx, selected)
        with fingerprint.sharing(tree):
            shared = fingerprint.walk_context(ctx, selected)
        assert (shared.entries, shared.bounds, shared.resolved) == (own.entries, own.bounds, own.resolved), selected
        assert (shared.started == tree.started) == (selected != ["to-ignored"]), selected  # (taken, or walked)
    with fingerprint.sharing(tree):  # --exclude: the step's own walk
        excluding = fingerprint.walk_context(ctx.excluding(["src/sub"]).rooted(["src"]), ["src"])
    assert excluding.started != tree.started


def test_code_changed_since_the_process_loaded_it_neither_answers_nor_records(project, env_restored, monkeypatch):
    """A process that loaded cairn's code before its files last changed (`cairn serve`'s zygote
    forks each build from what it loaded at its start; an upgrade or an edit since) runs code
    the files no longer hold: it must not answer from a record, nor make one that a process
    running the new code would take (redteam: it did both)."""
    import builder
    from builder.store.store import Store

    root, ctx = project
    _reset(ctx)
    _build(root, ctx, (), memo=True)
    normal = _build(root, ctx, (), memo=True)  # (recorded: the next build is answered)
    monkeypatch.setattr(builder, "LOADED_NS", 0, raising=False)  # (every file changed since the load)
    ran = _count_builds(monkeypatch)
    assert _build(root, ctx, (), memo=True) == normal
    assert len(ran) == 1  # (not answered)
    with Store(root) as store, store.transaction() as c:
        c.execute("DELETE FROM build_memo")
    _build(root, ctx, (), memo=True)
    with Store(root) as store:
        assert store.conn.execute("SELECT COUNT(*) FROM build_memo").fetchone()[0] == 0  # (nor recorded)


@pytest.mark.parametrize("mode", ["plain", "json", "quiet", "tty"])
def test_the_first_rebuild_after_an_edit_is_answered_as_the_rebuild_would_print(project, env_restored, monkeypatch,
                                                                                mode):
    """The user's loop: edit a file, build (the COPY misses), build again. The record the edit's
    build made answers the second build with what a real rebuild prints and writes (each step
    CACHED, no miss reason, no output of the step that ran), in every --progress mode."""
    root, ctx = project
    _reset(ctx)
    _build(root, ctx, (), memo=True, mode=mode)
    (ctx / "src" / "a.txt").write_text(f"edited in {mode}\n")
    edited = _build(root, ctx, (), memo=True, mode=mode)
    assert edited["metadata"]["misses"] >= 1
    ran = _count_builds(monkeypatch)
    answered = _build(root, ctx, (), memo=True, mode=mode)
    assert ran == []
    assert answered == _build(root, ctx, (), memo=False, mode=mode)


@pytest.mark.parametrize("between", [("--no-cache",), ("--no-cache-filter", "0")])
def test_a_no_cache_build_between_moves_the_tag_as_the_build_would(project, env_restored, between):
    """`build`, `build` (recorded), `build --no-cache`, `build`: the --no-cache build remakes each
    COPY's layer, the same bytes at a new time (the records keep it: a cached rebuild's history
    takes it), so the last build hits those records and gives the --no-cache build's image
    (redteam: the memo answered the first image, moving the tag back to it)."""
    root, _ctx = project
    ctx = root.parent / "memo-nocache-ctx"
    ctx.mkdir(exist_ok=True)
    (ctx / "Dockerfile").write_text("FROM base:local\nCOPY a.txt /a.txt\nCMD [\"cat\", \"/a.txt\"]\n")
    (ctx / "a.txt").write_text("a\n")
    assert cairn_cli("tag", "busybox:local", "base:local", root=root).returncode == 0
    _build(root, ctx, (), memo=True)
    first = _build(root, ctx, (), memo=True)  # (recorded: the next build would be answered)
    second = int(time.time())
    while int(time.time()) == second:  # (history times count seconds: the remade layer's is another)
        time.sleep(0.05)
    fresh = _build(root, ctx, between, memo=True)
    assert fresh["id"] != first["id"]
    with_memo = _build(root, ctx, (), memo=True)
    without = _build(root, ctx, (), memo=False)
    assert (with_memo["id"], with_memo["tags"]) == (without["id"], without["tags"]) == (fresh["id"], fresh["tags"])


@pytest.mark.parametrize("arg_line", ["ARG SOURCE_DATE_\\\nEPOCH=epochsrc\n", "ARG SOURCE_DATE_EPOCH=epochsrc\n"])
def test_an_epoch_fetched_from_a_stage_url_is_fetched_again(project, env_restored, arg_line):
    """SOURCE_DATE_EPOCH naming a source-only stage is the Last-Modified of its URL, asked
    each build: a rebuild after the server's file changed has another epoch, so another image
    (redteam: the ARG's name split by a line continuation passed the memo's textual check,
    and the rebuild was answered with the old epoch)."""
    from .static_http import serving

    root, _ctx = project
    served = root.parent / "memo-epoch-served"
    served.mkdir(exist_ok=True)
    (served / "f.txt").write_text("data\n")
    os.utime(served / "f.txt", (1_600_000_000, 1_600_000_000))

    with serving(served) as base:
        ctx = root.parent / "memo-epoch-ctx"
        ctx.mkdir(exist_ok=True)
        (ctx / "Dockerfile").write_text(f"{arg_line}FROM scratch AS epochsrc\n"
                                        f"ADD {base}/f.txt /f\n"
                                        "FROM base:local\nCOPY a.txt /a.txt\n")
        (ctx / "a.txt").write_text("a\n")
        assert cairn_cli("tag", "busybox:local", "base:local", root=root).returncode == 0
        _build(root, ctx, (), memo=True)
        first = _build(root, ctx, (), memo=True)
        os.utime(served / "f.txt", (1_700_000_000, 1_700_000_000))
        with_memo = _build(root, ctx, (), memo=True)
        without = _build(root, ctx, (), memo=False)
        assert with_memo["id"] == without["id"] != first["id"]


def test_the_code_print_covers_every_file_of_the_code(monkeypatch):
    """The record keys on cairn's code: every file of it, not only the .py files (redteam: an
    edit of grammar/dockerfile.lark, which the parser reads, was answered from the record made
    with the old grammar)."""
    import builder
    from builder.cache import build_memo

    from .conftest import REPO

    monkeypatch.setattr(builder, "LOADED_NS", time.time_ns() + 2 * fingerprint.RACY_NS, raising=False)
    listed = subprocess.run(["git", "ls-files", "builder", "grammar", "runtime"], cwd=REPO, capture_output=True,
                            text=True)
    if listed.returncode != 0:
        pytest.skip("not a git checkout")
    files = {os.path.join(REPO, name) for name in listed.stdout.splitlines()}
    assert os.path.join(REPO, "grammar", "dockerfile.lark") in files
    assert files <= {entry[0] for entry in build_memo._code_print()}


def test_an_add_host_gateway_follows_the_bridge_subnet(project, env_restored, monkeypatch):
    """`--add-host NAME:host-gateway` names the bridge's address, which CAIRN_SUBNET sets: the
    RUN step's key holds the address, so a rebuild under another subnet runs it again
    (redteam: the memo keyed the option's text and answered the image of the old address)."""
    root, _ctx = project
    ctx = root.parent / "memo-gateway-ctx"
    ctx.mkdir(exist_ok=True)
    (ctx / "Dockerfile").write_text("FROM base:local\nRUN --network=none grep gw /etc/hosts > /gw || true\n")
    assert cairn_cli("tag", "busybox:local", "base:local", root=root).returncode == 0
    args = ("--add-host", "gw:host-gateway")
    _build(root, ctx, args, memo=True)
    first = _build(root, ctx, args, memo=True)
    monkeypatch.setenv("CAIRN_SUBNET", "10.91.0.0/24")
    with_memo = _build(root, ctx, args, memo=True)
    without = _build(root, ctx, args, memo=False)
    assert with_memo["id"] == without["id"] != first["id"]


def test_a_context_link_moved_while_the_build_starts_records_what_was_built(project, env_restored, monkeypatch):
    """`cairn build current` where current -> releases/a is moved to releases/b (a deploy's
    switch) between the memo's walk and the build's own opening of the context: the record
    made must answer for what was built (redteam: the build read b and recorded it as a's, so
    the next build of a was answered with b's image)."""
    from builder.executor import build

    root, _ctx = project
    releases = root.parent / "memo-releases"
    for name in ("a", "b"):
        (releases / name).mkdir(parents=True, exist_ok=True)
        (releases / name / "Dockerfile").write_text("FROM base:local\nCOPY f.txt /f.txt\n")
        (releases / name / "f.txt").write_text(f"release {name}\n")
    current = releases / "current"
    if os.path.lexists(current):
        current.unlink()
    current.symlink_to("a")
    assert cairn_cli("tag", "busybox:local", "base:local", root=root).returncode == 0
    real = build.build

    def switched(*args, **kwargs):  # (the switch lands just as the build opens its context)
        current.unlink()
        current.symlink_to("b")
        return real(*args, **kwargs)

    monkeypatch.setattr(build, "build", switched)
    _build(root, current, (), memo=True)
    monkeypatch.setattr(build, "build", real)
    current.unlink()
    current.symlink_to("a")
    with_memo = _build(root, current, (), memo=True)
    without = _build(root, current, (), memo=False)
    assert with_memo["id"] == without["id"]


def test_code_changed_just_before_the_process_loaded_it_is_taken(monkeypatch):
    """`pip install -U ... && cairn serve`: the daemon loads the code a moment after its files
    were written. On a filesystem keeping sub-second times that is code it runs, and the memo
    must work (redteam: every file changed less than fingerprint.RACY_NS before the load was
    taken as changed since, so that daemon neither answered nor recorded a build in its life)."""
    import builder
    from builder.cache import build_memo, fs_clock

    from .conftest import REPO

    code = os.path.join(REPO, "builder", "units.py")
    st = os.stat(code)
    if not (st.st_mtime_ns % 10**9 and st.st_ctime_ns % 10**9) or fs_clock.fs_type(code) not in fs_clock.LOCAL:
        pytest.skip("the checkout's filesystem keeps whole seconds (or is not local): RACY_NS holds")
    monkeypatch.setattr(builder, "LOADED_NS", time.time_ns() + 2 * fingerprint.RACY_NS, raising=False)
    newest = max(entry[3] for entry in build_memo._code_print())
    monkeypatch.setattr(builder, "LOADED_NS", newest + 2 * fs_clock.FINE_NS)
    assert build_memo._code_print()  # (no ValueError: nothing changed since the load)


def test_steps_of_parallel_stages_done_in_another_order_are_told_apart():
    """Parallel stages each append their step to the build's list, then say it is done: two
    stages may do so interleaved, so a done event's order is not the list's. The rebuild made
    from a build that missed must mark CACHED the steps that hit, whichever order they ended in
    (redteam: steps were matched to done events by order, so the wrong step was marked)."""
    from dataclasses import replace

    from builder.cache.build_replay import all_cached

    run = replace(_step("RUN", cached=False, key="k1", diff_id="sha256:" + "4" * 64), instruction="RUN make")
    env = replace(_step("ENV", cached=False, key=None, diff_id=None), instruction="ENV A=1")
    events = [["step", [1, "a", None, "RUN make", "cache miss", "files", False], {}],
              ["step", [2, "b", None, "ENV A=1", None, None, None], {}],
              ["log", [1, "making"], {}],
              ["done", [2, 0.0, False, None, None], {}],
              ["done", [1, 1.0, False, None, None], {}]]
    got = all_cached(events, [run, env], {"steps": [], "hits": 0, "misses": 1})
    if got is None:
        return  # (not recorded: the build is run again, which is right too)
    out, _metadata = got
    done = {args[0]: args[2] for name, args, _ in out if name == "done"}
    assert done == {1: True, 2: False}
    assert not any(name == "log" for name, _args, _ in out)
