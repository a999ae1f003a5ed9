"""`cairn bench history` and `compare` on generated git repositories with known commits:
the exact hits and misses per commit, the explanations, the outputs (JSON, CSV, an HTML
report rendered by headless Chromium), and the errors."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from .conftest import cairn_cli, imported_store
from .dockerd import docker_engine  # noqa: F401 - fixture

DOCKERFILE = """\
FROM busybox:local
WORKDIR /app
COPY deps.txt .
RUN cp deps.txt installed.txt
COPY src/ ./src/
RUN ls src > listing
"""


@pytest.fixture(scope="module")
def root(tmp_path_factory, busybox_tar):
    yield from imported_store(tmp_path_factory, busybox_tar, "benchstore")


def git(repo: Path, *args: str) -> str:
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.com", "PATH": "/usr/bin:/bin"}
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, check=True, env=env).stdout.decode()


def commit(repo: Path, subject: str, files: dict[str, str | None] = {}, empty: bool = False) -> None:
    for name, text in files.items():
        path = repo / name
        if text is None:
            path.unlink()
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", subject, *(["--allow-empty"] if empty else []))


@pytest.fixture
def repo(tmp_path) -> Path:
    repo = tmp_path / "project"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    commit(repo, "initial", {"Dockerfile": DOCKERFILE, ".dockerignore": "docs/\n", "deps.txt": "lib 1.0\n",
                             "src/a.c": "int a;\n", "src/b.c": "int b;\n", "docs/readme.md": "hello\n"})
    commit(repo, "docs only", {"docs/readme.md": "hello again\n"})
    commit(repo, "edit a source file", {"src/a.c": "int a = 1;\n"})
    commit(repo, "bump a dependency", {"deps.txt": "lib 2.0\n"})
    commit(repo, "nothing", empty=True)
    commit(repo, "drop the Dockerfile", {"Dockerfile": None})
    commit(repo, "bring it back", {"Dockerfile": DOCKERFILE})
    return repo


def bench(root, *args):
    return cairn_cli("bench", *args, root=root)


def test_history_counts_each_commits_hits_and_explains_misses(root, repo, tmp_path):
    (repo / "untracked.txt").write_text("mine\n")  # the user's working tree must not be touched
    status_before, head_before = git(repo, "status", "--porcelain"), git(repo, "rev-parse", "HEAD")
    out = tmp_path / "out"
    out.mkdir()
    res = bench(root, "history", "--repo", str(repo), "--last", "7", "--json", str(out / "h.json"),
                "--csv", str(out / "h.csv"), "--report", str(out / "h.html"))
    assert res.returncode == 1, res.stderr.decode()  # the commit without a Dockerfile failed
    assert "FAILED" in res.stdout.decode() and "Dockerfile does not exist at this commit" in res.stdout.decode()
    builds = json.loads((out / "h.json").read_text())["builds"]
    assert [b["subject"] for b in builds] == ["initial", "docs only", "edit a source file", "bump a dependency",
                                              "nothing", "drop the Dockerfile", "bring it back"]
    got = [(b["hits"], b["misses"]) for b in builds]
    assert got == [(0, 4), (4, 0), (2, 2), (0, 4), (4, 0), (0, 0), (4, 0)]
    assert [s["cached"] for s in builds[2]["steps"]] == [True, True, False, False]
    source_miss = builds[2]["misses_explained"][0]
    assert source_miss["instruction"] == "COPY src/ ./src/" and "src/a.c" in source_miss["explanation"]
    assert "deps.txt" in builds[3]["misses_explained"][0]["explanation"]
    assert builds[5]["error"] == "Dockerfile does not exist at this commit"
    assert all(b["error"] is None for i, b in enumerate(builds) if i != 5)
    assert builds[0]["rebuilt_bytes"] > 0 and builds[1]["rebuilt_bytes"] == 0
    summary = json.loads((out / "h.json").read_text())["summary"]
    assert summary["builds"] == 7 and summary["failed"] == 1 and summary["hits"] == 14 and summary["misses"] == 10
    assert "hit rate 58.3%" in res.stdout.decode()
    assert "[####" in res.stderr.decode()  # the progress bar

    rows = list(csv.DictReader(open(out / "h.csv")))
    assert [r["hits"] for r in rows] == ["0", "4", "2", "0", "4", "0", "4"]

    assert git(repo, "status", "--porcelain") == status_before and git(repo, "rev-parse", "HEAD") == head_before
    assert len(git(repo, "worktree", "list").splitlines()) == 1

    page = (out / "h.html").read_text()
    check_self_contained(page)
    assert "<svg" in page and "COPY src/ ./src/" in page and "src/a.c" in page
    screenshot(out / "h.html", out / "h.png")


def test_ranking_names_the_step_and_where_the_changes_were(root, tmp_path):
    repo = tmp_path / "noisy"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    commit(repo, "initial", {"Dockerfile": "FROM busybox:local\nCOPY . /app\nRUN ls -R /app > /list\n",
                             "main.c": "int main;\n", "docs/a.md": "a\n", "tests/t.c": "t\n"})
    for i in range(4):
        commit(repo, f"docs {i}", {"docs/a.md": f"a{i}\n", "tests/t.c": f"t{i}\n"})
    res = bench(root, "history", "--repo", str(repo), "--last", "5", "--json", str(tmp_path / "r.json"))
    assert res.returncode == 0, res.stderr.decode()
    ranking = json.loads((tmp_path / "r.json").read_text())["ranking"]
    top = ranking[0]
    assert top["instruction"] == "COPY . /app" and top["invalidated"] == 4 and top["builds"] == 5
    assert top["text"] == ("Dockerfile:2 COPY . /app: first to miss in 4 of 5 builds (8 misses with the steps "
                           "after it); most changes were under docs/ and tests/")
    assert top["suggestion"].startswith("add docs/, tests/ to .dockerignore")
    assert len(ranking) == 1  # the RUN after it missed only because the COPY did
    assert "Dockerfile:2 COPY . /app: first to miss in 4 of 5 builds" in res.stdout.decode()


def test_compare_two_dockerfiles_on_the_same_history(root, repo, tmp_path):
    better = tmp_path / "Dockerfile.split"
    better.write_text(DOCKERFILE)
    worse = tmp_path / "Dockerfile.whole"
    worse.write_text("FROM busybox:local\nWORKDIR /app\nCOPY . .\nRUN cp deps.txt installed.txt\n")
    res = bench(root, "compare", "--repo", str(repo), "--last", "7", "--json", str(tmp_path / "c.json"),
                str(better), str(worse))
    assert res.returncode == 0, res.stderr.decode()
    doc = json.loads((tmp_path / "c.json").read_text())
    a = [(b["hits"], b["misses"]) for b in doc["a"]["builds"]]
    b = [(b["hits"], b["misses"]) for b in doc["b"]["builds"]]
    # Dockerfiles given from outside the repository build every commit, the one without its own too
    assert a == [(0, 4), (4, 0), (2, 2), (0, 4), (4, 0), (4, 0), (4, 0)]
    # COPY . copies the repository's Dockerfile too: dropping it misses, bringing it back hits
    assert b == [(0, 2), (2, 0), (0, 2), (0, 2), (2, 0), (0, 2), (2, 0)]
    assert doc["a"]["summary"]["hit_rate"] > doc["b"]["summary"]["hit_rate"]
    assert "A " in res.stdout.decode() and "B " in res.stdout.decode()


def test_bad_input_is_a_clear_error(root, repo, tmp_path):
    plain = tmp_path / "plain"
    plain.mkdir()
    res = bench(root, "history", "--repo", str(plain))
    assert res.returncode == 2 and "is not a git repository" in res.stderr.decode()
    res = bench(root, "history", "--repo", str(repo), "--rev-range", "HEAD..HEAD")
    assert res.returncode == 2 and "no commits in HEAD..HEAD" in res.stderr.decode()
    res = bench(root, "history", "--repo", str(repo), "--rev-range", "nosuch..HEAD")
    assert res.returncode == 2 and "cannot list the commits" in res.stderr.decode()
    res = cairn_cli("bench", "history", "--repo", str(repo), "--builder", "buildkit", root=root,
                    env={"DOCKER_HOST": f"unix://{tmp_path}/no-docker.sock"})
    assert res.returncode == 1 and "needs a running Docker engine" in res.stderr.decode()
    for r in (res,):
        assert "Traceback" not in r.stderr.decode()


def check_self_contained(page: str) -> None:
    class Refs(HTMLParser):
        bad: list = []

        def handle_starttag(self, tag, attrs):
            if tag in ("script", "link", "img", "iframe"):
                self.bad.append(tag)
            for name, value in attrs:
                if name in ("src", "href") and value:
                    self.bad.append(value)

    parser = Refs()
    parser.feed(page)
    assert parser.bad == [], parser.bad


def screenshot(page: Path, png: Path) -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("chromium is not installed (tests/setup-system.sh installs it)")
    res = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                          "--disable-background-networking", "--disable-component-update", "--disable-sync",
                          f"--user-data-dir={png.parent / 'chromium-profile'}", "--window-size=1200,1600",
                          f"--screenshot={png}", "--enable-logging=stderr", "--v=0", page.as_uri()],
                         capture_output=True, timeout=120)
    log = res.stderr.decode(errors="replace")
    assert res.returncode == 0, log[-2000:]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    console_errors = [line for line in log.splitlines() if "CONSOLE" in line and "rror" in line]
    assert console_errors == []


def test_history_with_buildkit_counts_its_cached_steps(root, repo, tmp_path, docker_engine):  # noqa: F811
    env = dict(docker_engine, CAIRN_DOCKER="/usr/bin/docker")
    archive = tmp_path / "busybox.tar"
    assert cairn_cli("save", "-o", str(archive), "busybox:local", root=root).returncode == 0
    subprocess.run(["/usr/bin/docker", "load", "-i", str(archive)], env=env, check=True, capture_output=True)
    res = cairn_cli("bench", "history", "--repo", str(repo), "--last", "7", "--builder", "buildkit", "--cold",
                    "--json", str(tmp_path / "bk.json"), root=root, env=env)
    assert res.returncode == 1, res.stderr.decode()  # the commit without a Dockerfile
    builds = json.loads((tmp_path / "bk.json").read_text())["builds"]
    assert [(b["hits"], b["misses"]) for b in builds] == [(0, 4), (4, 0), (2, 2), (0, 4), (4, 0), (0, 0), (4, 0)]
    assert builds[5]["error"] and all(b["builder"] == "buildkit" for b in builds)
    # BuildKit gives no causes: each build's first miss is its root, named by its Dockerfile line
    ranking = json.loads((tmp_path / "bk.json").read_text())["ranking"]
    assert [(o["line"], o["instruction"], o["caused"]) for o in ranking] == [(3, "COPY deps.txt .", 4),
                                                                               (5, "COPY src/ ./src/", 2)]


def test_parse_buildkit_plain_progress():
    from builder.bench.buildkit import parse_plain

    log = """#5 [2/4] COPY deps.txt .
#5 CACHED

#6 [3/4] RUN cp deps.txt installed.txt
#6 DONE 0.4s

#7 [build 1/2] ADD https://example.com/x /x
#7 CACHED
#8 [4/4] WORKDIR /app
"""
    assert parse_plain(log) == [("COPY deps.txt .", True, ":0"), ("RUN cp deps.txt installed.txt", False, ":1"),
                                ("ADD https://example.com/x /x", True, "build:2")]
