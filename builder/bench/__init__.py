"""`cairn bench`: cache hit rates replayed over a project's git history.

    git.py      commits to replay and a private worktree to check them out in
    replay.py   one build per commit, with cairn (in process) or BuildKit (docker build)
    buildkit.py running `docker build --progress=plain` and counting its CACHED steps
    report.py   summary, the ranking of the steps that missed most (with causes and
                suggestions), and the table, JSON, CSV and HTML (SVG charts) outputs
"""
