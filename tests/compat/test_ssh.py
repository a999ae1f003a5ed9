"""RUN --mount=type=ssh with `cairn build --ssh`, ported from BuildKit's dockerfile_ssh_test.go.

A real OpenSSH ssh-agent (debug mode, its log in a file) holds a fresh key; the step talks to
it with the host's own ssh-add, run from a bind mount of the context through its dynamic
loader (the busybox base has no ssh client).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from .helpers import build_err, build_ok, container, needs_root, write

pytestmark = [needs_root, pytest.mark.skipif(not shutil.which("ssh-agent"), reason="needs openssh-client")]

SSH_ADD = "/s/ld.so --library-path /s /s/ssh-add"


@pytest.fixture
def agent():
    """A running ssh-agent -d holding the key 'cairn-agent-key'; yields (socket, log file, dir)."""
    home = Path(tempfile.mkdtemp(prefix="cairn-agent-"))  # short: a socket path has 108 bytes
    sock, log = home / "agent.sock", home / "agent.log"
    with open(log, "wb") as err:
        proc = subprocess.Popen(["ssh-agent", "-d", "-a", str(sock)], stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=err)
    try:
        proc.stdout.readline()  # printed once it listens
        proc.stdout.close()
        keygen(home / "agent-key", "cairn-agent-key")
        add = subprocess.run(["ssh-add", str(home / "agent-key")], env={"SSH_AUTH_SOCK": str(sock)},
                             capture_output=True)
        assert add.returncode == 0, add.stderr
        yield sock, log, home
    finally:
        proc.terminate()
        proc.wait()
        shutil.rmtree(home, ignore_errors=True)


def keygen(path: Path, comment: str) -> None:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)], check=True)


def ssh_add_bundle(ctx: Path) -> None:
    """The host's ssh-add and the libraries it loads, in ctx/s (run through ctx/s/ld.so)."""
    out = ctx / "s"
    out.mkdir(parents=True)
    shutil.copy("/usr/bin/ssh-add", out / "ssh-add")
    listing = subprocess.run(["ldd", "/usr/bin/ssh-add"], capture_output=True, text=True, check=True).stdout
    for line in listing.splitlines():
        words = line.split()
        lib = words[2] if "=>" in words and len(words) > 2 else words[0]
        if lib.startswith("/"):
            shutil.copy(lib, out / ("ld.so" if "ld-linux" in lib else os.path.basename(lib)))


@container
def test_ssh_socket_params_keys_and_isolation(root, tmp_path, agent):
    """testSSHSocketParams: the socket's owner and mode are the mount's; the step lists the
    agent's key (--ssh default is $SSH_AUTH_SOCK) and a key file's (--ssh ID=KEY); it cannot
    change the agent's keys, sees no host path of the agent and no host fd; nothing of the
    socket stays in the layer or the image's environment."""
    sock, _log, home = agent
    keygen(tmp_path / "file-key", "cairn-file-key")
    ctx = write(tmp_path / "c", {"Dockerfile": (
        "FROM busybox\n"
        "RUN --mount=target=/s,source=s --mount=type=ssh,mode=741,uid=100,gid=102 "
        "--mount=type=ssh,id=keys,target=/keys.sock "
        "[ \"$(stat -c '%u %g %f' $SSH_AUTH_SOCK)\" = '100 102 c1e1' ] "
        "&& [ \"$SSH_AUTH_SOCK\" = /run/buildkit/ssh_agent.0 ] "
        "&& [ \"$(stat -c '%u %g %a' /keys.sock)\" = '0 0 600' ] "
        f"&& {SSH_ADD} -l | grep cairn-agent-key "
        f"&& ! {SSH_ADD} -D && ! {SSH_ADD} -x </dev/null "
        f"&& {SSH_ADD} -l | grep cairn-agent-key "
        f"&& SSH_AUTH_SOCK=/keys.sock {SSH_ADD} -l | grep cairn-file-key "
        f"&& ! grep {home.name} /proc/self/mountinfo "
        "&& ls /proc/1/fd | tr '\\n' ' ' | grep -qx '0 1 2 '\n"
        "RUN [ ! -e /run/buildkit ] && [ ! -e /keys.sock ] && [ -z \"$SSH_AUTH_SOCK\" ]\n")})
    ssh_add_bundle(ctx)
    build_ok(root, ctx, "--ssh", "default", "--ssh", f"keys={tmp_path / 'file-key'}",
             env={"SSH_AUTH_SOCK": str(sock)})
    listed = subprocess.run(["ssh-add", "-l"], env={"SSH_AUTH_SOCK": str(sock)}, capture_output=True, text=True)
    assert "cairn-agent-key" in listed.stdout, listed  # the step could not remove it
    assert not relay_dirs(root)  # relay sockets removed


@container
def test_ssh_connections_to_the_agent_are_closed(root, tmp_path, agent):
    """testSSHFileDescriptorsClosed: each connection the step closes is closed at the agent
    too, so three clients one after another never hold three of the agent's slots."""
    sock, log, _home = agent
    ctx = write(tmp_path / "c", {"Dockerfile": (
        "FROM busybox\n"
        f"RUN --mount=target=/s,source=s --mount=type=ssh for i in 1 2 3; do {SSH_ADD} -l || exit 1; done\n")})
    ssh_add_bundle(ctx)
    build_ok(root, ctx, "--ssh", f"default={sock}")
    text = log.read_text()
    assert "process_message: socket 1 " in text, text
    assert "process_message: socket 3 " not in text, text


@container
def test_ssh_required_and_optional_ids(root, tmp_path):
    """An id not given with --ssh: an optional mount is left out, a required one fails the
    step with its line."""
    ctx = write(tmp_path / "c", {"Dockerfile": (
        "FROM busybox\nRUN --mount=type=ssh,id=other [ ! -e /run/buildkit/ssh_agent.0 ]\n"
        "RUN --mount=type=ssh,id=nope,required=true true\n")})
    err = build_err(root, ctx)
    assert "Dockerfile:3" in err and "ssh agent 'nope' is required" in err and "--ssh nope" in err, err


def test_ssh_flag_errors(root, tmp_path):
    """A bad --ssh is a usage error before anything runs (no SSH_AUTH_SOCK for `default`)."""
    ctx = write(tmp_path / "c", {"Dockerfile": "FROM busybox\n"})
    env = {k: v for k, v in os.environ.items() if k != "SSH_AUTH_SOCK"} | {"CAIRN_ROOT": str(root)}
    cases = [(("--ssh", "default"), "SSH_AUTH_SOCK is not set"),
             (("--ssh", f"x={tmp_path / 'missing'}"), "No such file"),
             (("--ssh", f"x={tmp_path}"), "neither an agent socket nor a key file"),
             (("--ssh", f"x={ctx / 'Dockerfile'}", "--ssh", f"x={ctx / 'Dockerfile'}"), "given twice")]
    for args, words in cases:
        res = subprocess.run([sys.executable, "-m", "builder.cli", "build", *args, str(ctx)], capture_output=True,
                             env=env, cwd=Path(__file__).parents[2], timeout=60)
        err = res.stderr.decode()
        assert res.returncode == 2 and words in err and "Traceback" not in err, (args, err)


def relay_dirs(root: Path) -> list[str]:
    """The private directories of ssh relays (in the store's tmp/, or /tmp for a long path)."""
    return [p for p in os.listdir("/tmp") if p.startswith("cairn-ssh-")] + \
        [p for p in os.listdir(root / "tmp") if ".ssh-" in p]


def _private_agents(root: Path) -> list[str]:
    """ssh-agents that cairn started for key files (their socket is in a cairn-ssh- dir)."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"ssh-agent" in cmdline and (b"/tmp/cairn-ssh-" in cmdline or str(root).encode() in cmdline):
            found.append(pid)
    return found


@container
def test_ssh_failed_step_leaves_no_socket_or_agent(root, tmp_path):
    """A step that fails still stops the agent cairn started for --ssh ID=KEY and removes
    its relay socket and private directory."""
    keygen(tmp_path / "k", "cairn-file-key")
    ctx = write(tmp_path / "c", {"Dockerfile": "FROM busybox\nRUN --mount=type=ssh [ -S \"$SSH_AUTH_SOCK\" ] && exit 3\n"})
    err = build_err(root, ctx, "--ssh", f"default={tmp_path / 'k'}")
    assert "exit code: 3" in err, err
    assert not relay_dirs(root)
    assert not _private_agents(root)
