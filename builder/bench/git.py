"""The commits to replay, oldest first, and a worktree of our own to check each one out in.

The user's working tree and index are never touched: the replay checks commits out in a
detached worktree under a temporary directory, removed (and pruned from the repository's
worktree list) at the end, also after a failure.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ..errors import CairnError, UsageError


@dataclass(frozen=True)
class Commit:
    sha: str
    subject: str
    time: str  # ISO 8601, the committer date


def _git(repo: Path, *args: str) -> str:
    try:
        res = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, timeout=300)
    except FileNotFoundError:
        raise CairnError("git is not installed") from None
    if res.returncode != 0:
        raise CairnError(f"git {' '.join(args)} failed: {res.stderr.decode(errors='replace').strip()[:300]}")
    return res.stdout.decode(errors="replace")


def toplevel(repo: Path) -> Path:
    res = subprocess.run(["git", "-C", str(repo), "rev-parse", "--show-toplevel"], capture_output=True)
    if res.returncode != 0:
        raise UsageError(f"{repo} is not a git repository")
    return Path(res.stdout.decode().strip())


def commits(repo: Path, last: int | None = None, rev_range: str | None = None) -> list[Commit]:
    """Oldest first: the last N commits of HEAD's first-parent history, or a range A..B."""
    args = ["log", "--first-parent", "--format=%H%x1f%s%x1f%cI"]
    if rev_range:
        if ".." not in rev_range:
            raise UsageError(f"invalid --rev-range {rev_range!r}: expected A..B")
        args.append(rev_range)
    else:
        args += [f"--max-count={last or 10}", "HEAD"]
    try:
        out = _git(repo, *args, "--")
    except CairnError as err:
        raise UsageError(f"cannot list the commits ({rev_range or 'HEAD'}): {err}") from None
    found = []
    for line in out.splitlines():
        sha, subject, when = line.split("\x1f")
        found.append(Commit(sha, subject, when))
    if not found:
        raise UsageError(f"no commits in {rev_range or 'HEAD'}")
    return list(reversed(found))


@contextmanager
def worktree(repo: Path):
    """A detached worktree of `repo`; yields (path, checkout(sha))."""
    base = Path(tempfile.mkdtemp(prefix="cairn-bench-"))
    path = base / "tree"
    _git(repo, "worktree", "add", "--detach", "--quiet", str(path), "HEAD")

    def checkout(sha: str) -> None:
        _git(path, "checkout", "--detach", "--force", "--quiet", sha)
        _git(path, "clean", "-ffdxq")

    try:
        yield path, checkout
    finally:
        subprocess.run(["git", "-C", str(repo), "worktree", "remove", "--force", str(path)], capture_output=True)
        subprocess.run(["git", "-C", str(repo), "worktree", "prune"], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)
