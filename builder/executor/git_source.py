"""ADD of a git repository: resolve its ref to a commit (the step's cache key), fetch that
commit into a private directory under the store's tmp/, check it out and copy the tree into
the layer through the context copy code.

The repository is untrusted, and so is the server. git runs with no system or global
config, an empty HOME and template directory (no hooks), no prompts or credential helpers,
only the network transports (http, https, git, ssh: never file or ext, also for
submodules), objects checked with fsck, a time limit (CAIRN_GIT_TIMEOUT seconds, default
600) and a size limit (CAIRN_GIT_MAX_BYTES, default 4 GiB: no file git writes, and no
checked-out tree, may be larger). The checkout's links are copied as links, and a subdir
that is a link resolves inside the checkout (runtime.tree), never to a host path."""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import urllib.parse
from pathlib import Path

from ..errors import CairnError
from .git_ref import GitRef, is_full_commit

TRANSPORTS = "http:https:git:ssh"
_OUTPUT_LIMIT = 16 << 20  # what git prints that we read (ls-remote, ls-tree)
_MAX_ENTRIES = 1_000_000


class GitSourceError(CairnError):
    pass


def _limit(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    return int(value) if value.isdigit() and int(value) > 0 else default


def _config() -> list[str]:
    pairs = {"protocol.allow": "never", "protocol.file.allow": "never", "protocol.ext.allow": "never",
             **{f"protocol.{p}.allow": "always" for p in TRANSPORTS.split(":")},
             "core.hooksPath": "/dev/null", "credential.helper": "", "core.askPass": "",
             "core.fsmonitor": "false", "core.symlinks": "true", "core.autocrlf": "false",
             "fetch.fsckObjects": "true", "transfer.fsckObjects": "true", "submodule.recurse": "false",
             "fetch.recurseSubmodules": "false", "http.followRedirects": "initial",
             "init.defaultBranch": "master", "advice.detachedHead": "false", "gc.auto": "0"}
    return [arg for key, value in pairs.items() for arg in ("-c", f"{key}={value}")]


class Git:
    """git in a private work directory, with a clean environment and bounded time and size."""

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.home = workdir / "home"
        self.templates = workdir / "templates"
        for d in (self.home, self.templates):
            d.mkdir(mode=0o700, exist_ok=True)
        self.timeout = _limit("CAIRN_GIT_TIMEOUT", 600)
        self.max_bytes = _limit("CAIRN_GIT_MAX_BYTES", 4 << 30)
        self.env = {"PATH": os.environ.get("PATH") or "/usr/bin:/bin", "HOME": str(self.home),
                    "XDG_CONFIG_HOME": str(self.home), "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": "/dev/null",
                    "GIT_TERMINAL_PROMPT": "0", "GIT_ALLOW_PROTOCOL": TRANSPORTS, "GIT_PROTOCOL_FROM_USER": "0",
                    "GIT_TEMPLATE_DIR": str(self.templates), "LC_ALL": "C",
                    "GIT_SSH_COMMAND": "ssh -o BatchMode=yes -o StrictHostKeyChecking=accept-new",
                    "GIT_HTTP_LOW_SPEED_LIMIT": "1", "GIT_HTTP_LOW_SPEED_TIME": "60"}
        for name in ("http_proxy", "https_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY"):
            if os.environ.get(name):  # the user's own proxy settings, as BuildKit passes them on
                self.env[name] = os.environ[name]

    def run(self, *args: str, cwd: Path | None = None, what: str = "git") -> bytes:
        """git's stdout (at most _OUTPUT_LIMIT bytes read); a failure is a GitSourceError
        with the end of what git printed."""
        out_path, err_path = self.workdir / "stdout", self.workdir / "stderr"
        max_bytes = self.max_bytes

        def limits() -> None:  # in the child: no file larger than the limit, private modes
            resource.setrlimit(resource.RLIMIT_FSIZE, (max_bytes, max_bytes))
            os.umask(0o022)

        with open(out_path, "wb") as out, open(err_path, "wb") as err:
            try:
                proc = subprocess.Popen(["git", *_config(), *args], cwd=cwd or self.workdir, env=self.env,
                                        stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                        start_new_session=True, preexec_fn=limits)
            except FileNotFoundError:
                raise GitSourceError("git is not installed (ADD of a git repository needs it)") from None
            try:
                code = proc.wait(timeout=self.timeout)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)  # git and the helpers it started (git-remote-http...)
                proc.wait()
                raise GitSourceError(f"{what}: git took longer than {self.timeout}s") from None
        with open(out_path, "rb") as f:
            data = f.read(_OUTPUT_LIMIT + 1)
        if code != 0:
            with open(err_path, "rb") as f:
                f.seek(max(0, os.path.getsize(err_path) - 1000))
                tail = f.read().decode(errors="replace").strip()
            if code == -signal.SIGXFSZ:
                tail = f"a file is larger than {self.max_bytes} bytes (CAIRN_GIT_MAX_BYTES)"
            raise GitSourceError(f"{what} failed: {tail or f'git exited with {code}'}")
        if len(data) > _OUTPUT_LIMIT:
            raise GitSourceError(f"{what}: git printed more than {_OUTPUT_LIMIT} bytes")
        return data


def resolve(git: Git, ref: GitRef) -> str:
    """The commit ref names: a full commit hash as it is (no network), a name through
    `git ls-remote`; checked against the checksum (a commit hash or its prefix)."""
    name = ref.ref or (ref.checksum if is_full_commit(ref.checksum) else "")
    if is_full_commit(name):
        commit = name.lower()
    else:
        refs: dict[str, str] = {}
        for line in git.run("ls-remote", "--", ref.remote, what=f"git ls-remote {public_url(ref.remote)}").splitlines():
            sha, _, refname = line.decode(errors="replace").partition("\t")
            refs[refname] = sha
        candidates = ["HEAD"] if not name else [name] if name.startswith("refs/") or name == "HEAD" else \
            [f"refs/{name}", f"refs/tags/{name}", f"refs/heads/{name}"]
        found = next((refs.get(c + "^{}") or refs[c] for c in candidates if c in refs), None)
        if found is None or not is_full_commit(found):
            raise GitSourceError(f"repository does not contain ref {name or 'HEAD'}")
        commit = found.lower()
    if ref.checksum and not commit.startswith(ref.checksum):
        raise GitSourceError(f"expected checksum to match {ref.checksum}, got {commit}")
    return commit


def checkout(workdir: Path, ref: GitRef, commit: str) -> Path:
    """The directory (in workdir) holding ref's tree at commit, its .git only with
    keep-git-dir; the caller removes workdir."""
    git = Git(workdir)
    tree = workdir / "tree"
    fmt = "sha256" if len(commit) == 64 else "sha1"
    git.run("init", "-q", f"--object-format={fmt}", "--", str(tree), what="git init")
    git.run("remote", "add", "origin", "--", ref.remote, cwd=tree, what="git remote add")
    fetch = f"git fetch {public_url(ref.remote)}"
    try:
        git.run("fetch", "-q", "--no-tags", "--depth=1", "origin", commit, cwd=tree, what=fetch)
    except GitSourceError:  # a dumb-HTTP server, or one that only serves advertised refs
        git.run("fetch", "-q", "--tags", "origin", "+refs/heads/*:refs/remotes/origin/*", cwd=tree, what=fetch)
    try:
        git.run("cat-file", "-e", f"{commit}^{{commit}}", cwd=tree, what="git cat-file")
    except GitSourceError:
        raise GitSourceError(f"repository does not contain commit {commit}") from None
    _check_size(git, tree, commit)
    git.run("checkout", "-q", "--detach", commit, cwd=tree, what="git checkout")
    if ref.submodules is not False and (tree / ".gitmodules").is_file():
        git.run("submodule", "update", "--init", "--recursive", cwd=tree, what="git submodule update")
    if not ref.keep_git_dir:
        os.rename(tree / ".git", workdir / "git-dir")  # (submodules' git dirs live inside it)
    elif public_url(ref.remote) != ref.remote:  # the kept .git goes into the image: no credentials in it
        git.run("remote", "set-url", "origin", "--", public_url(ref.remote), cwd=tree, what="git remote set-url")
    return tree


def public_url(remote: str) -> str:
    """remote without the secret of its userinfo: all of it for http(s) (a token often
    stands as the user name), the password otherwise."""
    url = urllib.parse.urlsplit(remote) if "://" in remote else None
    if url is None or not (url.username or url.password):
        return remote
    host = url.netloc.rpartition("@")[2]
    netloc = host if url.scheme.lower() in ("http", "https") else f"{url.username}@{host}"
    return urllib.parse.urlunsplit((url.scheme, netloc, url.path, url.query, url.fragment))


def _check_size(git: Git, tree: Path, commit: str) -> None:
    """Refuse a tree whose files add up to more than the size limit, before checking it out."""
    total = entries = 0
    for line in git.run("ls-tree", "-r", "-l", "--full-tree", commit, cwd=tree, what="git ls-tree").splitlines():
        entries += 1
        size = line.split(b"\t", 1)[0].split()[-1]
        total += int(size) if size.isdigit() else 0
    if total > git.max_bytes or entries > _MAX_ENTRIES:
        raise GitSourceError(f"the repository's tree is larger than {git.max_bytes} bytes or "
                             f"{_MAX_ENTRIES} entries (CAIRN_GIT_MAX_BYTES)")
