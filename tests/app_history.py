"""A generated, deterministic git history of a realistic node-style web app, for the cache
insight tests and benchmarks (issue 18): `cairn check --history N` and `cairn bench history`
replay it.

The app: package.json and package-lock.json, src/, tests/, docs/, README.md, a Dockerfile
that copies the whole context before `npm ci` (the pattern most projects start with), and a
.dockerignore. The base image has no node, so its first RUN puts a small `npm` script in
/usr/local/bin that does what npm would do with these files (install the lock's
dependencies, build src/ into dist/, run the tests).

Each commit after the first is drawn from a seeded edit mix (the first N commits of any
history are the same for a seed, so a short history is a prefix of the long one):

    src 40%, tests 15%, docs 12%, a dependency bump 10%, README 6%, the Dockerfile 9%
    (a LABEL, the CMD, a lint step, an ENV before WORKDIR, a tool in the setup RUN), the
    .dockerignore 4% (*.log, then docs/), an empty commit 4% (a merge, a tag)
"""

from __future__ import annotations

import random
import subprocess
from pathlib import Path

SEED = 18

_NPM = ("#!/bin/sh\\n"
        "case \"$1\" in\\n"
        "ci) mkdir -p node_modules && cp package-lock.json node_modules/.installed ;;\\n"
        "run) mkdir -p dist && cat src/*.js > dist/app.js ;;\\n"
        "test) cat tests/*.js > /dev/null && echo ok ;;\\n"
        "prune) rm -f node_modules/.dev ;;\\n"
        "esac\\n")

# (name, Dockerfile text); the edits are applied in order, each keeps the earlier ones
_SETUP = "RUN mkdir -p /usr/local/bin && printf '{npm}' > /usr/local/bin/npm && chmod +x /usr/local/bin/npm{tools}"


def dockerfile(edits: int) -> str:
    """The Dockerfile after the first `edits` Dockerfile commits."""
    tools = " && echo curl > /usr/local/bin/.tools" if edits >= 5 else ""
    lines = ["FROM busybox:local", _SETUP.format(npm=_NPM, tools=tools)]
    if edits >= 4:
        lines.append("ENV NODE_OPTIONS=--max-old-space-size=512")
    lines += ["ENV NODE_ENV=production", "WORKDIR /app", "COPY . .", "RUN npm ci", "RUN npm run build",
              "RUN npm test"]
    if edits >= 3:
        lines.append("RUN npm run lint")
    lines.append("RUN npm prune --production")
    if edits >= 1:
        lines.append("LABEL org.opencontainers.image.title=shop")
    lines.append('CMD ["node", "dist/server.js"]' if edits >= 2 else 'CMD ["node", "dist/app.js"]')
    lines.append("EXPOSE 8080")
    return "\n".join(lines) + "\n"


_IGNORES = ("node_modules\n.git\n", "node_modules\n.git\n*.log\n", "node_modules\n.git\n*.log\ndocs/\n")
_KINDS = (["src"] * 40 + ["tests"] * 15 + ["docs"] * 12 + ["deps"] * 10 + ["readme"] * 6 + ["dockerfile"] * 9
          + ["dockerignore"] * 4 + ["empty"] * 4)


def git(repo: Path, *args: str, when: int = 0) -> str:
    date = f"{1_700_000_000 + 3600 * when} +0000"
    env = {"GIT_AUTHOR_NAME": "dev", "GIT_AUTHOR_EMAIL": "dev@example.com", "GIT_COMMITTER_NAME": "dev",
           "GIT_COMMITTER_EMAIL": "dev@example.com", "GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date,
           "PATH": "/usr/bin:/bin"}
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, check=True, env=env).stdout.decode()


def _write(repo: Path, name: str, text: str) -> None:
    path = repo / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def generate(repo: Path, commits: int, seed: int = SEED) -> list[str]:
    """Make the repository at `repo` (a new directory) with `commits` commits; their kinds, oldest first."""
    rng = random.Random(seed)
    repo.mkdir(parents=True)
    git(repo, "init", "-q", "-b", "main")
    deps = {"express": "4.18.2", "pg": "8.11.0"}

    def manifests() -> None:
        body = ",\n".join(f'    "{k}": "^{v}"' for k, v in sorted(deps.items()))
        _write(repo, "package.json", f'{{\n  "name": "shop",\n  "dependencies": {{\n{body}\n  }}\n}}\n')
        lock = ",\n".join(f'    "node_modules/{k}": {{"version": "{v}"}}' for k, v in sorted(deps.items()))
        _write(repo, "package-lock.json", f'{{\n  "lockfileVersion": 3,\n  "packages": {{\n{lock}\n  }}\n}}\n')

    manifests()
    for name in ("server", "cart", "orders", "users"):
        _write(repo, f"src/{name}.js", f"// {name}\nmodule.exports = {{}};\n")
    for name in ("cart", "orders"):
        _write(repo, f"tests/{name}.test.js", f"// tests of {name}\n")
    for name in ("install", "api"):
        _write(repo, f"docs/{name}.md", f"# {name}\n")
    _write(repo, "README.md", "# shop\n")
    _write(repo, "Dockerfile", dockerfile(0))
    _write(repo, ".dockerignore", _IGNORES[0])
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "initial import", when=0)
    kinds = ["initial"]
    dockerfile_edits = ignore_edits = 0
    for n in range(1, commits):
        kind = rng.choice(_KINDS)
        if kind == "dockerfile" and dockerfile_edits == 5 or kind == "dockerignore" and ignore_edits == 2:
            kind = "src"
        if kind in ("src", "tests", "docs"):
            folder = {"src": "src", "tests": "tests", "docs": "docs"}[kind]
            path = rng.choice(sorted((repo / folder).iterdir()))
            path.write_text(path.read_text() + f"// edit {n}\n")
        elif kind == "readme":
            _write(repo, "README.md", (repo / "README.md").read_text() + f"\nChange {n}.\n")
        elif kind == "deps":
            name = rng.choice(sorted(deps) + [f"lib{n}"])
            deps[name] = f"1.{n}.0"
            manifests()
        elif kind == "dockerfile":
            dockerfile_edits += 1
            _write(repo, "Dockerfile", dockerfile(dockerfile_edits))
        elif kind == "dockerignore":
            ignore_edits += 1
            _write(repo, ".dockerignore", _IGNORES[ignore_edits])
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "--allow-empty", "-m", f"{kind} change {n}", when=n)
        kinds.append(kind)
    return kinds
