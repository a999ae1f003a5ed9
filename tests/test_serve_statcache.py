"""The stat cache `cairn serve` keeps in memory between builds (builder/cache/stat_memory.py),
from the user's side: through the daemon (CAIRN_HOST), every rebuild gives the layers a build
without the daemon gives from the same files (the reference: a fresh store, --no-cache), after
- an edit that keeps the size and the mtime (same second), also one made within the racy window;
- a plain `cairn build` beside the daemon that wrote the same store;
- rmi + cache prune + prune of what the daemon built;
- two daemon builds at once;
and the daemon's memory stays bounded (its rows are capped, its RSS measured) however many
contexts it sees. No RUN step: no container is started (no container lock needed)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import REPO, cairn_cli, imported_store
from .serve_fixtures import _stop

CAP = 2000  # CAIRN_SERVE_STAT_ROWS for the module's daemon: at most 1,000 rows a root
MANY = 8     # contexts of NEAR_CAP files each, built one after the other
NEAR_CAP = 900
DOCKERFILE = ("FROM busybox:local AS src\nCOPY lib/ /lib2/\n"
              "FROM busybox:local\nCOPY --from=src /lib2/ /app/lib/\nCOPY top.txt main.py /app/\n")


def _context(path, files: int = 12, name_len: int = 12):
    (path / "lib").mkdir(parents=True)
    for i in range(files):
        (path / "lib" / f"{i:04d}{'m' * name_len}.py").write_text(f"value = {i}\n")
    (path / "top.txt").write_text("top 0\n")
    (path / "main.py").write_text("print('main')\n")
    (path / "Dockerfile").write_text(DOCKERFILE)
    return path


@pytest.fixture(scope="module")
def daemon(tmp_path_factory, busybox_tar):
    """(store root, env for CAIRN_HOST clients, the server's log file, contexts) with the daemon
    serving; the contexts are made first and aged past the racy window together (one wait)."""
    gen = imported_store(tmp_path_factory, busybox_tar, "serve-stat")
    root = next(gen)
    ref_gen = imported_store(tmp_path_factory, busybox_tar, "serve-stat-ref")
    ref = next(ref_gen)
    work = tmp_path_factory.mktemp("stat-contexts")
    contexts = {name: _context(work / name) for name in ("edit", "beside", "prune", "one", "two")}
    many = [_context(work / f"many{i}", NEAR_CAP, 120) for i in range(MANY)]
    sock = tmp_path_factory.mktemp("stat-sock") / "cairn.sock"
    log = work / "serve.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "builder.cli", "--debug", "--root", str(root), "serve",
                                 "--host", f"unix://{sock}"], cwd=REPO, stderr=out,
                                env={**os.environ, "CAIRN_SERVE_STAT_ROWS": str(CAP)})
    try:
        for _ in range(300):  # (the socket appears once the server listens; not a timing assertion)
            if sock.exists() or proc.poll() is not None:
                break
            time.sleep(0.05)
        assert sock.exists(), log.read_text()
        time.sleep(2.1)  # the contexts' files older than fingerprint.RACY_NS: the stat cache keeps them
        yield {"root": root, "ref": ref, "env": {"CAIRN_HOST": f"unix://{sock}", "SOURCE_DATE_EPOCH": "0"},
               "log": log, "pid": proc.pid, **contexts, "many": many}
    finally:
        _stop(proc)
        next(ref_gen, None)
        next(gen, None)


def _layers(root, image_id: str) -> list[str]:
    res = cairn_cli("inspect", image_id, root=root)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)[0]["RootFS"]["Layers"]


def _build(d, ctx, via_daemon: bool = True) -> list[str]:
    """The layers of the image a build of ctx makes, through the daemon or beside it."""
    env = d["env"] if via_daemon else {"SOURCE_DATE_EPOCH": "0"}
    res = cairn_cli("build", "--progress", "quiet", str(ctx), root=d["root"], env=env)
    assert res.returncode == 0, res.stderr.decode()
    return _layers(d["root"], res.stdout.decode().strip())


def _truth(d, ctx) -> list[str]:
    """What a build without the daemon, in a fresh store and without any cache, makes of ctx now."""
    res = cairn_cli("build", "--no-cache", "--progress", "quiet", str(ctx), root=d["ref"],
                    env={"SOURCE_DATE_EPOCH": "0"})
    assert res.returncode == 0, res.stderr.decode()
    return _layers(d["ref"], res.stdout.decode().strip())


def _rewrite_same_size_and_mtime(path, text: str) -> None:
    """Another content of the same size, the mtime put back (the same second, to the nanosecond)."""
    st = os.stat(path)
    assert len(text.encode()) == st.st_size
    path.write_text(text)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


def _held(d, ctx) -> bool:
    return f"stat cache: holding {ctx} " in d["log"].read_text()


def test_rebuilds_through_the_daemon_give_what_a_build_without_it_gives(daemon):
    d, ctx = daemon, daemon["edit"]
    assert _build(d, ctx) == _truth(d, ctx)
    assert _held(d, ctx), d["log"].read_text()  # (the daemon keeps the context's rows now)
    for n in range(1, 4):  # each edit right after a build: within the racy window, as fast as a user types
        _rewrite_same_size_and_mtime(ctx / "lib" / "0003mmmmmmmmmmmm.py", f"value = {n}\n")
        _rewrite_same_size_and_mtime(ctx / "top.txt", f"top {n}\n")
        assert _build(d, ctx) == _truth(d, ctx), n


def test_a_plain_build_beside_the_daemon_changed_the_store(daemon):
    d, ctx = daemon, daemon["beside"]
    _build(d, ctx)
    _rewrite_same_size_and_mtime(ctx / "lib" / "0001mmmmmmmmmmmm.py", "value = 7\n")
    time.sleep(2.1)  # (old enough that the plain build records its row in the store)
    assert _build(d, ctx, via_daemon=False) == _truth(d, ctx)
    assert _build(d, ctx) == _truth(d, ctx)
    _rewrite_same_size_and_mtime(ctx / "lib" / "0001mmmmmmmmmmmm.py", "value = 1\n")  # back as the daemon knew it
    assert _build(d, ctx) == _truth(d, ctx)


def test_after_prune(daemon):
    d, ctx = daemon, daemon["prune"]
    res = cairn_cli("build", "-t", "pruned:1", "--progress", "quiet", str(ctx), root=d["root"], env=d["env"])
    assert res.returncode == 0, res.stderr
    for args in (("rmi", "pruned:1"), ("cache", "prune", "--all"), ("prune",)):
        assert cairn_cli(*args, root=d["root"]).returncode == 0, args
    _rewrite_same_size_and_mtime(ctx / "main.py", "print('MAIN')\n")
    assert _build(d, ctx) == _truth(d, ctx)


def test_two_daemon_builds_at_once(daemon):
    d = daemon
    one, two = d["one"], d["two"]
    for _ in range(2):
        procs = [subprocess.Popen([sys.executable, "-m", "builder.cli", "build", "--progress", "quiet", str(ctx)],
                                  cwd=REPO, env={**os.environ, "CAIRN_ROOT": str(d["root"]), **d["env"]},
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE) for ctx in (one, two, one)]
        outs = [p.communicate(timeout=120) for p in procs]
        assert all(p.returncode == 0 for p in procs), [o[1] for o in outs]
        truths = [_truth(d, ctx) for ctx in (one, two)]
        assert [_layers(d["root"], o[0].decode().strip()) for o in outs] == [truths[0], truths[1], truths[0]]
        _rewrite_same_size_and_mtime(one / "top.txt", "top 8\n")
        _rewrite_same_size_and_mtime(two / "lib" / "0002mmmmmmmmmmmm.py", "value = 9\n")
    assert _build(d, one) == _truth(d, one) and _build(d, two) == _truth(d, two)


def _rss_kb(pid: int) -> int:
    text = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+) kB", text).group(1))


def _zygote(server_pid: int) -> int:
    """The server's zygote: its oldest child (forked before anything else)."""
    kids = Path(f"/proc/{server_pid}/task/{server_pid}/children").read_text().split()
    return int(kids[0])


def test_the_daemon_memory_stays_bounded_with_many_files(daemon):
    """8 contexts of 900 files with long names (and as many rows for each stage snapshot) through a daemon that
    may keep 2,000 rows: its zygote's RSS stops growing once it holds what it may."""
    d = daemon
    zygote = _zygote(d["pid"])
    for ctx in d["many"][:3]:
        _build(d, ctx)
    settled = _rss_kb(zygote)
    for ctx in d["many"][3:]:
        _build(d, ctx)
    grown = _rss_kb(zygote) - settled
    held = [int(n) for n in re.findall(r"; (\d+) in all\)", d["log"].read_text())]
    assert held and max(held) <= CAP, held
    assert "stat cache: evicted" in d["log"].read_text()
    # without the cap the 5 later contexts (~9,000 rows with paths of ~150 bytes) add ~3.6 MB (measured);
    # with it the RSS still moves by the allocator's and the builds' noise: 0.76, 1.32, 1.82 MB measured
    # (1.5 MB failed a run). The cap itself is the count above; this bound catches a leak beside it
    assert grown < 2500, (settled, grown)
