"""Issue #13's adversarial property test: random trees of files, directories and symlinks
(relative, `..`-climbing, absolute to a host sentinel and to `/`, dangling, loops) used

  (a) as build contexts, with COPY/ADD of random sources (wildcards too) to random
      destinations, the result exported with -o type=local;
  (b) as a stage's filesystem (COPY . / from such a context), then COPY --from of it, and
      RUN --mount=from= / type=bind (rw too) of it;
  (c) as image layers (tars crafted with tarfile: links, then entries through them, hard
      links, `..` and absolute names) loaded with `cairn load`, built FROM and exported.

After each example: the host sentinel is unchanged, no name of the trees appeared at `/` or
in /tmp, the context is unchanged, the store holds nothing outside its own layout, and no
command printed a traceback. Derandomized (the same examples every run) and bounded.
"""

from __future__ import annotations

import glob
import io
import os
import re
import shutil
import stat
import tarfile
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from ..conftest import cairn_cli, imported_store
from .image_archive import docker_archive
from .sentinel import fingerprint, make_sentinel

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="builds need root")

NAMES = ["qz1", "qz2", "qz3"]  # unusual, so a stray write to `/` or /tmp is found by name
HOST = "@HOST"  # replaced by the sentinel's path when a tree is made
STORE_LAYOUT = {"blobs", "cache-mounts", "cairn.db", "cairn.db-wal", "cairn.db-shm", "containers", "init.lock",
                "leases", "lock", "network", "snapshots", "tmp"}

rel_path = st.lists(st.sampled_from(NAMES), min_size=1, max_size=3).map("/".join)
link_target = st.one_of(
    st.sampled_from(["..", "../..", "../../../..", "../qz1", "../../../../../qz2", ".", "qz1/../..", "/", "/tmp",
                     "/tmp/qz1", HOST, f"{HOST}/dir", f"{HOST}/victim", "nope", "qz1/nope", "/qz3"]),
    rel_path, rel_path.map(lambda p: "/" + p), rel_path.map(lambda p: "../" + p))
tree_entry = st.tuples(rel_path, st.sampled_from(["file", "dir", "link", "link"]), link_target)
trees = st.lists(tree_entry, min_size=1, max_size=10)
source = st.one_of(rel_path, st.sampled_from(["qz*", "*", "qz?/qz*", "qz1/*", ".", "qz1/..", "/qz2"]))
destination = st.one_of(
    st.sampled_from(["/d/", "/d/x", "/", "x/../../qz2/", "../qz1", "/qz1/qz2/qz3/"]),
    rel_path.map(lambda p: "/" + p), rel_path.map(lambda p: "/" + p + "/"))
copy_line = st.tuples(st.lists(source, min_size=1, max_size=3), destination)



@st.composite
def gadget(draw):
    """A tree fragment and a COPY line shaped like the attacks found by hand, with random
    names and targets: `a/c -> elsewhere` and `b/c/a` copied together (the second source
    writes through the first's link), or a source read through a link out of the root."""
    a, b, c = draw(st.permutations(NAMES))
    target = draw(st.sampled_from([HOST, f"{HOST}/dir", "/", "/tmp", "../../../../../..", f"../{b}"]))
    if draw(st.booleans()):
        return [(f"{a}/{c}", "link", target), (f"{b}/{c}/{a}", "file", "")], ([a, b], draw(destination))
    return [(a, "link", target)], ([draw(st.sampled_from([f"{a}/victim", f"{a}/dir/kept", f"{a}/*", a]))],
                                   draw(destination))


hostile = st.tuples(gadget(), trees, st.lists(copy_line, max_size=2)).map(
    lambda g: (g[0][0] + g[1], [g[0][1], *g[2]]))  # (tree, COPY lines), the gadget first

layer_name = st.one_of(rel_path, rel_path.map(lambda p: "../" + p), rel_path.map(lambda p: "/" + p),
                       rel_path.map(lambda p: p + "/../qz1"), rel_path.map(lambda p: "./" + p))
layer_entry = st.tuples(layer_name, st.sampled_from(["file", "dir", "symlink", "symlink", "hardlink"]),
                        st.one_of(link_target, layer_name))
layers = st.lists(st.lists(layer_entry, min_size=1, max_size=8), min_size=1, max_size=2)


def materialize(root: Path, entries, host: Path) -> None:
    """Make the tree under root; never through one of its own links (an entry whose parent
    is not a real directory is skipped), so making it cannot itself write to the host."""
    root.mkdir(parents=True)
    for path, kind, target in entries:
        parts = path.split("/")
        cur = root
        for part in parts[:-1]:
            cur = cur / part
            try:
                st_ = os.lstat(cur)
            except FileNotFoundError:
                os.mkdir(cur)
                continue
            if not stat.S_ISDIR(st_.st_mode):
                break
        else:
            leaf = cur / parts[-1]
            if os.path.lexists(leaf):
                continue
            if kind == "file":
                fd = os.open(leaf, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
                os.write(fd, path.encode())
                os.close(fd)
            elif kind == "dir":
                os.mkdir(leaf)
            else:
                os.symlink(target.replace(HOST, str(host)), leaf)


def layer_tar(entries, host: Path) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, kind, target in entries:
            info = tarfile.TarInfo(name)
            info.mtime, info.mode = 1_000_000, 0o755
            data = None
            if kind == "file":
                data = name.encode()
                info.size = len(data)
            elif kind == "dir":
                info.type = tarfile.DIRTYPE
            else:
                info.type = tarfile.SYMTYPE if kind == "symlink" else tarfile.LNKTYPE
                info.linkname = target.replace(HOST, str(host))
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def _quote(word: str) -> str:
    return word if re.fullmatch(r"[\w./*?@-]+", word) else f'"{word}"'


def copy_lines(lines, prefix: str = "COPY") -> str:
    return "".join(f"{prefix} {' '.join(_quote(s) for s in srcs)} {_quote(dst)}\n" for srcs, dst in lines)


def stray_names() -> list[str]:
    """Entries named like the trees' at `/` or in /tmp: a write that escaped every root."""
    return [p for name in NAMES for p in glob.glob(f"/{name}*") + glob.glob(f"/tmp/{name}*")]


def check_output(out: Path) -> None:
    """No file of the host sentinel was read into the image (its contents are known)."""
    for dirpath, _dirs, files in os.walk(out):
        for name in files:
            path = os.path.join(dirpath, name)
            if os.path.isfile(path) and not os.path.islink(path) and os.path.getsize(path) < 64:
                with open(path, "rb") as f:
                    assert f.read() not in (b"host data\n", b"kept\n"), f"{path}: a host file read into the image"


def check_store(root: Path) -> None:
    top = set(os.listdir(root))
    assert top <= STORE_LAYOUT, f"the store holds {top - STORE_LAYOUT}"
    assert os.listdir(root / "blobs") in ([], ["sha256"])
    for name in os.listdir(root / "snapshots"):
        assert re.fullmatch(r"[0-9a-f]{64}(\.[\w.-]+)?", name), f"snapshots/{name}"
        assert not os.path.islink(root / "snapshots" / name)


def ran_cleanly(res) -> None:
    err = res.stderr.decode(errors="replace")
    assert "Traceback" not in err and "internal error" not in err, err
    assert res.returncode in (0, 1, 2), (res.returncode, err)


class World:
    """The module's store, host sentinel and scratch space; `check` after every example."""

    def __init__(self, base: Path, store: Path):
        self.base = base
        self.store = store
        self.host = make_sentinel(base / "host")
        self.before = fingerprint(self.host)
        self.built: dict[str, list[bool]] = {}  # test -> whether each build ran to its last line
        assert not stray_names(), f"leftovers from an earlier run: {stray_names()}"

    def scratch(self) -> Path:
        return Path(tempfile.mkdtemp(dir=self.base, prefix="ex-"))

    def build(self, ctx: Path, dockerfile: str, out: Path, *args: str):
        (ctx / "Dockerfile").write_text(dockerfile)
        res = cairn_cli("build", "--progress", "plain", "-o", f"type=local,dest={out}", *args, str(ctx),
                        root=self.store)
        ran_cleanly(res)
        check_output(out)
        last = f"Dockerfile:{dockerfile.count(chr(10))}:".encode()  # (a)'s gadget line is meant to fail
        self.built.setdefault(os.environ.get("PYTEST_CURRENT_TEST", "").split(" ")[0], []).append(
            res.returncode == 0 or last in res.stderr)
        return res

    def check(self) -> None:
        assert fingerprint(self.host) == self.before, "the host sentinel changed"
        assert not stray_names(), f"written outside every root: {stray_names()}"
        check_store(self.store)


@pytest.fixture(scope="module")
def world(tmp_path_factory, busybox_tar):
    for store in imported_store(tmp_path_factory, busybox_tar, "adversarial"):
        yield World(tmp_path_factory.mktemp("adversarial-work"), store)


# No shrinking: each step of it is a build, and a failing example is printed as it was found.
EXAMPLES = settings(max_examples=12, derandomize=True, database=None, deadline=None,
                    phases=[Phase.explicit, Phase.generate],
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                           HealthCheck.data_too_large])


def existing(ctx: Path) -> list[str]:
    """The context's entries (links not followed), as COPY sources that exist."""
    found = []
    for dirpath, dirs, files in os.walk(ctx):
        rel = os.path.relpath(dirpath, ctx)
        found += [n if rel == "." else f"{rel}/{n}" for n in dirs + files if n != "Dockerfile"]
    return sorted(found)


@EXAMPLES
@given(case=hostile, archive=layers, add_dest=destination, data=st.data())
def test_hostile_context_copied_and_added(world, case, archive, add_dest, data):
    """(a) COPY and ADD (a local tar, extracted) of random sources of a hostile context; the
    gadget's line last, so that the others (most drawn from what exists) run before it fails."""
    tree, lines = case
    work = world.scratch()
    ctx = work / "ctx"
    materialize(ctx, tree, world.host)
    (ctx / "arch.tar").write_bytes(layer_tar(archive[0], world.host))
    (ctx / "Dockerfile").write_text("")
    before = fingerprint(ctx)
    sources = st.one_of(st.sampled_from(existing(ctx)), source)
    drawn = data.draw(st.lists(st.tuples(st.lists(sources, min_size=1, max_size=3), destination), max_size=3))
    dockerfile = ("FROM scratch\n" + copy_lines(drawn + lines[1:]) + f"ADD arch.tar {_quote(add_dest)}\n"
                  + copy_lines(lines[:1]))
    world.build(ctx, dockerfile, work / "out")
    (ctx / "Dockerfile").write_text("")
    assert fingerprint(ctx) == before, "the build changed its context"
    world.check()
    shutil.rmtree(work)


@EXAMPLES
@given(case=hostile)
def test_hostile_stage_copied_from(world, case):
    """(b) a stage whose filesystem is a hostile tree, then COPY --from of random sources."""
    tree, lines = case
    work = world.scratch()
    ctx = work / "ctx"
    materialize(ctx, tree, world.host)
    dockerfile = "FROM scratch AS s\nCOPY . /\nFROM scratch\n" + copy_lines(lines, "COPY --from=s")
    world.build(ctx, dockerfile, work / "out")
    world.check()
    shutil.rmtree(work)


@settings(EXAMPLES, max_examples=4)
@given(tree=trees, src=source, rw=st.booleans())
def test_hostile_stage_and_context_mounted(world, tree, src, rw):
    """(b) RUN --mount=from= of a hostile stage and --mount=type=bind of the hostile context;
    the step writes through every name it sees; nothing but the step's layer may change."""
    work = world.scratch()
    ctx = work / "ctx"
    materialize(ctx, tree, world.host)
    (ctx / "Dockerfile").write_text("")
    before = fingerprint(ctx)
    opt = ",rw" if rw else ""
    writes = " ".join(f"/m/{n} /m/{n}/x /n/{n} /n/{n}/x" for n in NAMES)
    dockerfile = (f"FROM scratch AS s\nCOPY . /\nFROM busybox:local\n"
                  f"RUN --mount=from=s,source={_quote(src)},target=/m{opt} "
                  f"--mount=type=bind,source={_quote(src)},target=/n{opt} "
                  f"sh -c 'for f in {writes}; do echo x > $f; done 2>/dev/null; true'\n")
    world.build(ctx, dockerfile, work / "out")
    (ctx / "Dockerfile").write_text("")
    assert fingerprint(ctx) == before, "a RUN step changed the build context"
    world.check()
    shutil.rmtree(work)


@EXAMPLES
@given(image=layers, lines=st.lists(copy_line, min_size=1, max_size=2))
def test_hostile_layers_loaded_built_and_exported(world, image, lines):
    """(c) an image made of hostile layer tars: loaded, built FROM, COPY --from, exported."""
    work = world.scratch()
    tars = [layer_tar(entries, world.host) for entries in image]
    ref = f"hostile:{os.path.basename(work)[3:].lower()}"
    res = cairn_cli("load", "-i", str(docker_archive(work / "image.tar", ref, tars)), root=world.store)
    ran_cleanly(res)
    if res.returncode == 0:
        ctx = work / "ctx"
        ctx.mkdir()
        world.build(ctx, f"FROM {ref}\nENV EXPORTED=1\n", work / "out")
        world.build(ctx, f"FROM {ref} AS img\nFROM scratch\n" + copy_lines(lines, "COPY --from=img"), work / "out2")
        cairn_cli("rmi", ref, root=world.store)
    world.check()
    shutil.rmtree(work)


def test_zz_the_examples_built_something(world):
    """Guard against a vacuous run: in each test above, some hostile build ran to its end."""
    for test, done in world.built.items():
        assert any(done), f"{test}: no example built"
