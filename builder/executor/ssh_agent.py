"""`cairn build --ssh`: the ssh agents a build may forward to RUN --mount=type=ssh steps.

docker buildx's syntax: `--ssh default|ID[=SOCKET|KEY[,KEY...]]`. Without a value the agent
is $SSH_AUTH_SOCK's. A value is either one agent socket or private key files; for key files
each step that mounts the id gets its own ssh-agent (OpenSSH's), started in a private
directory, given the keys with ssh-add, and stopped after the step. Either way the step
reaches the agent only through an AgentRelay (ssh_relay.py), never through a host path.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
from dataclasses import dataclass

from ..errors import CairnError, UsageError
from .ssh_relay import AgentRelay

DEFAULT_ID = "default"
AGENT_START_TIMEOUT = 30  # seconds for ssh-agent to listen and ssh-add to load the keys


@dataclass(frozen=True)
class SshSource:
    id: str
    socket: str = ""  # an agent's socket
    keys: tuple[str, ...] = ()  # or private key files


def parse_ssh(text: str, environ=os.environ) -> SshSource:
    """One --ssh value, checked now: the socket answers, the key files are files."""
    sid, eq, value = text.partition("=")
    if not sid or "," in sid:
        raise UsageError(f"invalid --ssh {text!r}: expected default|ID[=SOCKET|KEY[,KEY...]]")
    paths = [p for p in value.split(",") if p] if eq else []
    if not paths:
        sock = environ.get("SSH_AUTH_SOCK", "")
        if not sock:
            raise UsageError(f"invalid --ssh {text!r}: SSH_AUTH_SOCK is not set (name a socket or key files)")
        paths = [sock]
    sockets, keys = [], []
    for path in paths:
        try:
            st = os.stat(path)
        except OSError as err:
            raise UsageError(f"invalid --ssh {text!r}: {path}: {err.strerror}") from None
        if stat.S_ISSOCK(st.st_mode):
            sockets.append(os.path.abspath(path))
        elif stat.S_ISREG(st.st_mode):
            keys.append(os.path.abspath(path))
        else:
            raise UsageError(f"invalid --ssh {text!r}: {path} is neither an agent socket nor a key file")
    if sockets and (keys or len(sockets) > 1):
        raise UsageError(f"invalid --ssh {text!r}: give one agent socket or key files, not both")
    if sockets:
        _check_agent(sockets[0], text)
        return SshSource(sid, socket=sockets[0])
    return SshSource(sid, keys=tuple(keys))


def parse_ssh_options(values) -> tuple[SshSource, ...]:
    sources = tuple(parse_ssh(v) for v in values)
    ids = [s.id for s in sources]
    for sid in ids:
        if ids.count(sid) > 1:
            raise UsageError(f"invalid --ssh: the id {sid!r} is given twice")
    return sources


def _check_agent(path: str, text: str) -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        try:
            s.connect(path)
        except OSError as err:
            raise UsageError(f"invalid --ssh {text!r}: cannot reach the agent at {path}: {err.strerror}") from None


def private_dir(prefix: str) -> str:
    """A fresh 0700 directory with a path short enough for a socket's address (108 bytes)."""
    return tempfile.mkdtemp(prefix=prefix, dir="/tmp" if len(tempfile.gettempdir()) > 40 else None)


class Forward:
    """One ssh mount of one step: a relay to the agent (and the private agent for key files)."""

    def __init__(self, source: SshSource, mode: int, uid: int, gid: int):
        self.agent: subprocess.Popen | None = None
        self.directory = private_dir("cairn-ssh-")
        try:
            upstream = source.socket or self._start_agent(source)
            self.relay = AgentRelay(upstream, self.directory, mode, uid, gid)
        except BaseException:
            self._stop_agent()
            shutil.rmtree(self.directory, ignore_errors=True)
            raise

    @property
    def path(self) -> str:
        return self.relay.path

    def _start_agent(self, source: SshSource) -> str:
        binary, add = shutil.which("ssh-agent"), shutil.which("ssh-add")
        if not binary or not add:
            raise CairnError(f"--ssh {source.id}=KEY needs OpenSSH's ssh-agent and ssh-add (package openssh-client)")
        sock = os.path.join(self.directory, "keys.sock")
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "SSH_AUTH_SOCK": sock}
        self.agent = subprocess.Popen([binary, "-D", "-a", sock], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                      stderr=subprocess.DEVNULL, env=env, start_new_session=True)
        self.agent.stdout.readline()  # printed once it listens (or EOF when it failed)
        self.agent.stdout.close()
        if self.agent.poll() is not None or not os.path.exists(sock):
            raise CairnError(f"--ssh {source.id}: ssh-agent did not start")
        try:  # a new session without a terminal: a key with a passphrase fails instead of asking
            res = subprocess.run([add, "-q", *source.keys], stdin=subprocess.DEVNULL, capture_output=True, env=env,
                                 start_new_session=True, timeout=AGENT_START_TIMEOUT)
        except subprocess.TimeoutExpired:
            raise CairnError(f"--ssh {source.id}: ssh-add did not finish loading the keys") from None
        if res.returncode != 0:
            said = res.stderr.decode(errors="replace").strip().splitlines()
            raise CairnError(f"--ssh {source.id}: cannot load the keys: {said[-1] if said else 'ssh-add failed'}")
        return sock

    def _stop_agent(self) -> None:
        if self.agent is not None and self.agent.poll() is None:
            self.agent.send_signal(signal.SIGTERM)
            try:
                self.agent.wait(timeout=AGENT_START_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.agent.kill()
                self.agent.wait()
        self.agent = None

    def close(self) -> None:
        try:
            self.relay.close()
        finally:
            self._stop_agent()
            shutil.rmtree(self.directory, ignore_errors=True)
