"""What a RUN's shell text installs: the dependency installers cairn's cache rules know, each
with the manifests it reads from the context (the files to copy before it, so that an edit
of the sources does not rerun it)."""

from __future__ import annotations

import re

from runtime.record import Record, record


@record
class Install(Record):
    tool: str  # as shown: "npm ci"
    manifests: tuple[str, ...]  # context files it reads (() for a system package install)


# (pattern over the RUN's text, shown name, manifests); the first match names the install
_TABLE = (
    (r"\bnpm\s+(?:ci|install|i)\b", "npm install", ("package.json", "package-lock.json", "npm-shrinkwrap.json")),
    (r"\byarn(?:\s+install\b|\s*(?:$|&&|;|\|\||--))", "yarn install", ("package.json", "yarn.lock", ".yarnrc.yml")),
    (r"\bpnpm\s+(?:install|i)\b", "pnpm install", ("package.json", "pnpm-lock.yaml")),
    (r"\bpoetry\s+install\b", "poetry install", ("pyproject.toml", "poetry.lock")),
    (r"\bpipenv\s+(?:install|sync)\b", "pipenv install", ("Pipfile", "Pipfile.lock")),
    (r"\buv\s+sync\b", "uv sync", ("pyproject.toml", "uv.lock")),
    (r"\bpip3?\s+install\b[^&;|]*\s-r\s*\S+|\bpip3?\s+install\b[^&;|]*--requirement[= ]\S+", "pip install -r", ()),
    (r"\bpip3?\s+install\b[^&;|]*\s\.(?:\[[^\]]*\])?(?:\s|$)", "pip install .", ("pyproject.toml", "setup.py",
                                                                              "setup.cfg")),
    (r"\bgo\s+mod\s+download\b", "go mod download", ("go.mod", "go.sum")),
    (r"\bcargo\s+(?:fetch|build)\b", "cargo build", ("Cargo.toml", "Cargo.lock")),
    (r"\bbundle\s+install\b", "bundle install", ("Gemfile", "Gemfile.lock")),
    (r"\bcomposer\s+install\b", "composer install", ("composer.json", "composer.lock")),
    (r"\bmvn\b[^&;|]*\b(?:dependency:go-offline|dependency:resolve)\b", "mvn dependency:go-offline", ("pom.xml",)),
    (r"\b(?:apt-get|apt)\s+(?:-\S+\s+)*install\b", "apt-get install", ()),
    (r"\bapk\s+(?:-\S+\s+)*add\b", "apk add", ()),
    (r"\b(?:dnf|yum|microdnf)\s+(?:-\S+\s+)*install\b", "dnf install", ()),
    (r"\bpip3?\s+install\b", "pip install", ()),  # packages named on the line: no manifest
    (r"\bnpm\s+(?:install|i)\s+-g\b", "npm install -g", ()),
)
_COMPILED = tuple((re.compile(p), name, files) for p, name, files in _TABLE)
_REQUIREMENTS = re.compile(r"(?:\s-r\s*|--requirement[= ])(\S+)")
_GO_BUILD = re.compile(r"\bgo\s+(?:build|install|test)\b")
_UPDATE = re.compile(r"\b(apt-get|apt|apk)\s+(?:-\S+\s+)*update\b")
_UPDATE_PARTNER = {"apt-get": re.compile(r"\b(?:apt-get|apt)\s+(?:-\S+\s+)*(?:install|upgrade|dist-upgrade)\b"),
                   "apt": re.compile(r"\b(?:apt-get|apt)\s+(?:-\S+\s+)*(?:install|upgrade|dist-upgrade)\b"),
                   "apk": re.compile(r"\bapk\s+(?:-\S+\s+)*(?:add|upgrade)\b")}


def run_text(cmd) -> str:
    """A RUN's command as one line of text (shell or exec form, with its heredoc bodies)."""
    parts = [" ".join(cmd.command)] + [h.content for h in getattr(cmd, "files", ())]
    return " ".join(parts).replace("\\\n", " ")[:65536]  # (bounded: the patterns read it once)


def install_in(text: str, go_downloaded: bool = False) -> Install | None:
    """The first dependency install in a RUN's text, or None. `go build` counts as one when
    the stage has no `go mod download` before it (it then fetches the modules itself)."""
    for pattern, name, files in _COMPILED:
        m = pattern.search(text)
        if m is None:
            continue
        if name == "pip install -r":
            files = tuple(dict.fromkeys(f.strip("'\"") for f in _REQUIREMENTS.findall(text)))
        shown = " ".join(m.group(0).split()).rstrip("&;|- ")
        return Install(shown if name != "pip install -r" else f"{name} {' '.join(files)}", files)
    if not go_downloaded and _GO_BUILD.search(text):
        return Install("go build", ("go.mod", "go.sum"))
    return None


def lone_update(text: str) -> str:
    """`apt-get update` (or apk's) with no install in the same RUN: the tool's name, else ""."""
    m = _UPDATE.search(text)
    if m is None:
        return ""
    return "" if _UPDATE_PARTNER[m.group(1)].search(text) else m.group(1)
