"""`cairn bench`: cache hit rates replayed over a project's git history.

    git.py      commits to replay and a private worktree to check them out in
    replay.py   one build per commit, with cairn (in process) or BuildKit (docker build)
    buildkit.py running `docker build --progress=plain` and counting its CACHED steps
    dockerfile_facts.py  what the advice must know of each commit's Dockerfile: the paths it
                needs from the context, the manifest-first split the cache rules write
    advice.py   the root causes of the misses, ranked, each with a safe suggestion
    report.py   summary, and the table, JSON and CSV outputs
    html_report.py  the HTML pages (SVG charts): one replay, or two side by side (compare)
"""
