"""ADD of a git repository: the Dockerfile, the repository and the git server are all the
attacker's. A URL must never become a host path (file://, a submodule pointing at a host
repository); a ref or host must never become a git or ssh option; the repository's links
must not make a subdir or the copy read host files; a huge tree, a server that never
answers and one that asks for a password must end in a clear error, not a hang or a full
disk. Each build fails cleanly (no traceback) or builds only the repository's own files,
and the host directory is unchanged."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from ..conftest import REPO, imported_store
from ..git_server import commit, git, make_repo, serving

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="builds need root")

SECRET = "host data"  # the sentinel's victim file (sentinel.make_sentinel)


@pytest.fixture(scope="module")
def root(tmp_path_factory, busybox_tar):
    yield from imported_store(tmp_path_factory, busybox_tar, "hostilegit")


def build(root: Path, tmp_path: Path, dockerfile: str, *args: str, env=None):
    ctx = tmp_path / "ctx"
    ctx.mkdir(exist_ok=True)
    (ctx / "Dockerfile").write_text(dockerfile)
    full_env = {**os.environ, "CAIRN_ROOT": str(root), **(env or {})}
    try:
        res = subprocess.run([sys.executable, "-m", "builder.cli", "build", "--progress", "plain", *args, str(ctx)],
                             cwd=REPO, capture_output=True, timeout=120, env=full_env, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        pytest.fail("the build hung on a git source")
    assert "Traceback" not in res.stderr.decode(errors="replace")
    return res.returncode, res.stderr.decode(errors="replace")


def host_repo(where: Path) -> Path:
    """A git repository on the host holding the sentinel's secret: what file:// aims at."""
    repo = make_repo(where / "hostrepo")
    commit(repo, {"secret": SECRET + "\n"}, "host")
    return repo


def exported(out: Path) -> str:
    return "".join(p.read_text(errors="replace") for p in out.rglob("*") if p.is_file() and not p.is_symlink())


@pytest.mark.parametrize("url", ["file://{repo}/.git", "file://{repo}/.git#master", "FILE://{repo}/.git"])
def test_a_file_url_is_refused(root, tmp_path, host, url):
    repo = host_repo(tmp_path)
    code, err = build(root, tmp_path, f"FROM scratch\nADD {url.format(repo=repo)} /x\n",
                      "-o", f"type=local,dest={tmp_path / 'out'}")
    assert code != 0 and "unsupported URL scheme" in err and "Dockerfile:2" in err, err
    assert SECRET not in exported(tmp_path / "out") if (tmp_path / "out").exists() else True


def pwn_script(tmp_path: Path) -> tuple[Path, Path]:
    """A host program an injected option would run, and the file it would create."""
    pwned = tmp_path / "pwned"
    script = tmp_path / "pwn.sh"
    script.write_text(f"#!/bin/sh\ntouch {pwned}\n")
    script.chmod(0o755)
    return script, pwned


@pytest.mark.parametrize("fragment", ["#--upload-pack={script}", "?ref=--upload-pack={script}",
                                      "?branch=--upload-pack={script}", "#-oProxyCommand={script}",
                                      "##ref=--upload-pack={script}", "#HEAD@{{1}}", "#master:../../../../{host}"])
def test_a_ref_never_becomes_an_option(root, tmp_path, host, fragment):
    repo = make_repo(tmp_path / "srv" / "repo")
    commit(repo, {"foo": "foo\n"}, "one")
    script, pwned = pwn_script(tmp_path)
    with serving(tmp_path / "srv") as (url, _):
        code, err = build(root, tmp_path, f"FROM scratch\nADD {url}/repo/.git{fragment.format(script=script, host=host)} /x\n")
    assert code != 0 and ("invalid git ref" in err or "leaves the repository" in err), err
    assert not pwned.exists()


@pytest.mark.parametrize("url", ["ssh://-oProxyCommand={script}/x/repo.git",
                                 "ssh://-oProxyCommand={script}@host/repo.git",
                                 "-oProxyCommand={script}@host:repo.git"])
def test_a_host_never_becomes_an_ssh_option(root, tmp_path, url):
    script, pwned = pwn_script(tmp_path)
    code, err = build(root, tmp_path, f"FROM scratch\nADD {url.format(script=script)} /x\n")
    assert code != 0
    assert not pwned.exists()


def test_links_in_the_repository_stay_in_it(root, tmp_path, host):
    """A link to a host path, a subdir that is such a link, and one that climbs out: the
    image gets the links themselves, and a linked subdir is looked up inside the checkout."""
    repo = make_repo(tmp_path / "srv" / "repo")
    (repo / "etc").mkdir()
    (repo / "etc" / "own").write_text("the repository's own etc\n")
    os.symlink(str(host), repo / "hostdir")
    os.symlink(str(host / "victim"), repo / "victim")
    os.symlink("../../../../../../../../" + str(host).lstrip("/"), repo / "climb")
    os.symlink("/etc", repo / "abs")
    commit(repo, {"foo": "foo\n"}, "links")
    with serving(tmp_path / "srv") as (url, _):
        code, err = build(root, tmp_path, f"FROM scratch\nADD {url}/repo/.git /x\n",
                          "-o", f"type=local,dest={tmp_path / 'out'}")
        assert code == 0, err
        out = tmp_path / "out" / "x"
        assert os.readlink(out / "hostdir") == str(host) and os.readlink(out / "victim") == str(host / "victim")
        assert SECRET not in exported(tmp_path / "out")
        for subdir in ("hostdir", "climb"):
            code, err = build(root, tmp_path, f"FROM scratch\nADD {url}/repo/.git#master:{subdir} /x\n",
                              "-o", f"type=local,dest={tmp_path / subdir}")
            assert code != 0 and "is not a directory" in err, err
        # a link to /etc is the repository's etc
        code, err = build(root, tmp_path, f"FROM scratch\nADD {url}/repo/.git#master:abs /x\n",
                          "-o", f"type=local,dest={tmp_path / 'abs'}")
        assert code == 0, err
        assert (tmp_path / "abs" / "x" / "own").read_text() == "the repository's own etc\n"
        assert not (tmp_path / "abs" / "x" / "passwd").exists()


def test_a_submodule_cannot_name_a_host_repository(root, tmp_path, host):
    """.gitmodules is the attacker's: a submodule at a host path (or file://) is refused,
    also with git's own defaults in the way (the URL is written by hand)."""
    secret_repo = host_repo(tmp_path)
    repo = make_repo(tmp_path / "srv" / "repo")
    commit(repo, {"foo": "foo\n"}, "one")
    for i, sub_url in enumerate((str(secret_repo), f"file://{secret_repo}")):
        sha = git(secret_repo, "rev-parse", "HEAD")
        git(repo, "update-index", "--add", "--cacheinfo", f"160000,{sha},sub{i}")
        (repo / ".gitmodules").write_text("".join(f'[submodule "sub{j}"]\n\tpath = sub{j}\n\turl = {u}\n'
                                                  for j, u in enumerate((str(secret_repo), f"file://{secret_repo}")[:i + 1])))
        git(repo, "add", ".gitmodules")
        git(repo, "commit", "-q", "-m", f"sub{i}")
    with serving(tmp_path / "srv") as (url, _):
        code, err = build(root, tmp_path, f"FROM scratch\nADD {url}/repo/.git /x\n",
                          "-o", f"type=local,dest={tmp_path / 'out'}")
    assert code != 0 and "submodule" in err, err
    assert not (tmp_path / "out").exists() or SECRET not in exported(tmp_path / "out")


def test_a_tree_larger_than_the_limit_is_refused(root, tmp_path):
    repo = make_repo(tmp_path / "srv" / "repo")
    commit(repo, {"big": "x" * 100_000}, "big")
    with serving(tmp_path / "srv") as (url, _):
        code, err = build(root, tmp_path, f"FROM scratch\nADD {url}/repo/.git /x\n",
                          env={"CAIRN_GIT_MAX_BYTES": "50000"})
    assert code != 0 and "larger than 50000 bytes" in err, err
    leftovers = [p for p in (root / "tmp").iterdir() if ".git-" in p.name] if (root / "tmp").exists() else []
    assert not leftovers, leftovers


def _silent_server():
    """A server that accepts connections and never answers; yields its URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    held = []
    stop = threading.Event()

    def accept():
        sock.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(sock.accept()[0])
            except OSError:
                pass
    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    return sock, stop, held, thread


def test_a_server_that_never_answers_ends_in_an_error(root, tmp_path):
    sock, stop, held, thread = _silent_server()
    try:
        code, err = build(root, tmp_path, f"FROM scratch\nADD http://127.0.0.1:{sock.getsockname()[1]}/r.git /x\n",
                          env={"CAIRN_GIT_TIMEOUT": "3"})
    finally:
        stop.set()
        thread.join()
        for conn in held:
            conn.close()
        sock.close()
    assert code != 0 and "longer than 3s" in err, err


def test_a_password_prompt_never_waits(root, tmp_path):
    """A server that asks for credentials: no prompt, no credential helper, a clear error."""
    import http.server

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="git"')
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        code, err = build(root, tmp_path, f"FROM scratch\nADD http://127.0.0.1:{server.server_address[1]}/r.git /x\n")
    finally:
        server.shutdown()
        server.server_close()
    assert code != 0 and "ls-remote" in err, err


def build_url(root: Path, url: str, *args: str):
    """cairn build with a URL as the context."""
    full_env = {**os.environ, "CAIRN_ROOT": str(root)}
    try:
        res = subprocess.run([sys.executable, "-m", "builder.cli", "build", "--progress", "plain", *args, url],
                             cwd=REPO, capture_output=True, timeout=120, env=full_env, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        pytest.fail("the build hung on a URL context")
    err = res.stderr.decode(errors="replace")
    assert "Traceback" not in err
    return res.returncode, err


def test_a_git_context_reads_its_own_files_only(root, tmp_path, host):
    """The repository is the context: its Dockerfile is a link to a host file, its subdir a
    link to a host directory, its COPY sources links out. None reads the host."""
    repo = make_repo(tmp_path / "srv" / "repo")
    os.symlink(str(host / "victim"), repo / "Dockerfile")
    os.symlink(str(host), repo / "hostdir")
    (repo / "ok").mkdir()
    (repo / "ok" / "Dockerfile").write_text("FROM scratch\nCOPY leak /leak\n")
    os.symlink(str(host / "victim"), repo / "ok" / "leak")
    commit(repo, {}, "links")
    with serving(tmp_path / "srv") as (url, _):
        code, err = build_url(root, f"{url}/repo/.git")  # Dockerfile -> host victim: the repository has none
        assert code != 0 and SECRET not in err, err
        code, err = build_url(root, f"{url}/repo/.git#master:hostdir")
        assert code != 0 and "is not a directory" in err, err
        out = tmp_path / "out"
        code, err = build_url(root, f"{url}/repo/.git#master:ok", "-o", f"type=local,dest={out}")
        assert SECRET not in err and (not out.exists() or SECRET not in exported(out)), err


def test_a_file_url_is_no_context(root, tmp_path):
    repo = host_repo(tmp_path)
    code, err = build_url(root, f"file://{repo}/.git")
    assert code != 0 and SECRET not in err, err


def test_a_kept_git_dir_holds_no_credentials_of_the_url(root, tmp_path):
    """ADD --keep-git-dir of https://user:token@host/...: the image's .git names the
    repository without the token."""
    repo = make_repo(tmp_path / "srv" / "repo")
    commit(repo, {"foo": "foo\n"}, "one")
    with serving(tmp_path / "srv") as (url, _):
        secret_url = url.replace("http://", "http://user:s3cr3t-token@")
        code, err = build(root, tmp_path, f"FROM scratch\nADD --keep-git-dir {secret_url}/repo/.git /x\n",
                          "-o", f"type=local,dest={tmp_path / 'out'}")
        assert code == 0, err
        code, err = build(root, tmp_path, f"FROM scratch\nADD {secret_url}/nosuch/.git /x\n")
        assert code != 0 and "ls-remote" in err
        assert "s3cr3t-token" not in err.split("ADD failed", 1)[1], err  # (the step's own line shows the source)
    kept = tmp_path / "out" / "x" / ".git"
    assert (kept / "config").is_file()
    assert not any(b"s3cr3t-token" in p.read_bytes() for p in kept.rglob("*") if p.is_file() and not p.is_symlink())
