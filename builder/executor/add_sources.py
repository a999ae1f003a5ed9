"""What each source of a COPY/ADD is: a git repository (ADD only, resolved to a commit), a
URL (ADD only), or a path in the context or --from source. The one classifier that both
the cache key and the step's execution read."""

from __future__ import annotations

from runtime.record import Record, record

from ..instructions import types as t

URL_SCHEMES = ("http://", "https://")


@record
class Sources(Record):
    repos: list      # (source, GitRef, commit) of each git source
    non_git: list[str]  # the other sources, expanded, in the instruction's order
    urls: list[str]     # those of non_git that are URLs (ADD only)

    @property
    def local(self) -> list[str]:
        return [s for s in self.non_git if s not in self.urls]


def classify(store, state, cmd) -> Sources:
    expanded = [state.scope.expand(s) for s in cmd.sources]
    if not isinstance(cmd, t.Add):
        return Sources([], expanded, [])
    from .add_git import git_sources  # (git and its URL parsing load only for ADD)

    repos = git_sources(store, state.git_commits, expanded, cmd.keep_git_dir, state.scope.expand(cmd.checksum))
    git = {r[0] for r in repos}
    non_git = [s for s in expanded if s not in git]
    return Sources(repos, non_git, [s for s in non_git if s.startswith(URL_SCHEMES)])
