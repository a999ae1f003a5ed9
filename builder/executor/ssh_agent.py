"""`cairn build --ssh`: the ssh agents a build may forward to RUN --mount=type=ssh steps.

docker buildx's syntax: `--ssh default|ID[=SOCKET|KEY[,KEY...]]`. Without a value the agent
is $SSH_AUTH_SOCK's. A value is either one agent socket or private key files; for key files
each step that mounts the id gets its own ssh-agent (OpenSSH's), started in a private
directory under a watcher that ends it when cairn does (even killed with -9), given the keys
with ssh-add, and stopped after the step. Either way the step reaches the agent only through
an AgentRelay (ssh_relay.py), never through a host path.
"""

from __future__ import annotations

import os
import shutil
import socket
import stat
import subprocess
import tempfile
from dataclasses import dataclass

from ..bounded import read_regular_file
from ..errors import CairnError, UsageError
from .ssh_relay import AgentRelay

DEFAULT_ID = "default"
AGENT_START_TIMEOUT = 30  # seconds for ssh-agent to stop and ssh-add to load a key
MAX_KEY = 64 * 1024  # a private key file is a few KiB
SOCKET_DIR_MAX = 96  # and /agent.sock or /keys.sock
_WATCHER = '"$1" -D -a "$2" & agent=$!; cat >/dev/null; kill "$agent"; wait "$agent"'


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


def private_dir(store=None) -> str:
    """A fresh 0700 directory whose sockets' paths fit an address (108 bytes): in the store's
    tmp/ when they fit (a build removes what a killed one left there), else in /tmp."""
    if store is not None:
        path = str(store.new_tmp_dir("ssh-"))
        if len(path) <= SOCKET_DIR_MAX:
            return path
        os.rmdir(path)
    return tempfile.mkdtemp(prefix="cairn-ssh-", dir="/tmp")


class Forward:
    """One ssh mount of one step: a relay to the agent (and the private agent for key files)."""

    def __init__(self, source: SshSource, mode: int, uid: int, gid: int, store=None):
        self.agent: subprocess.Popen | None = None
        self.directory = private_dir(store)
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
        # the agent runs under a watcher that stops it (and reaps it) when its stdin, our pipe,
        # closes: when the step ends, and also when cairn dies without a word (kill -9)
        self.agent = subprocess.Popen(["/bin/sh", "-c", _WATCHER, "sh", binary, sock], stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env,
                                      start_new_session=True)
        listening = self.agent.stdout.readline()  # printed once it listens (EOF when it failed)
        self.agent.stdout.close()
        if not listening.startswith(b"SSH_AUTH_SOCK=") or not os.path.exists(sock):
            raise CairnError(f"--ssh {source.id}: ssh-agent did not start")
        for key in source.keys:
            self._add_key(add, env, source.id, key)
        return sock

    @staticmethod
    def _add_key(add: str, env: dict, sid: str, key: str) -> None:
        """ssh-add the key through its stdin, so that its file mode does not matter (BuildKit
        reads keys whatever their mode); in a new session without a terminal, a key with a
        passphrase fails instead of asking for it."""
        data = read_regular_file(key, MAX_KEY, f"the key {key} of --ssh {sid}")
        try:
            res = subprocess.run([add, "-q", "-"], input=data, capture_output=True, env=env, start_new_session=True,
                                 timeout=AGENT_START_TIMEOUT)
        except subprocess.TimeoutExpired:
            raise CairnError(f"--ssh {sid}: ssh-add did not finish loading {key}") from None
        if res.returncode == 0:
            return
        said = res.stderr.decode(errors="replace")
        if "passphrase" in said:
            raise CairnError(f"--ssh {sid}: {key} has a passphrase: add it to your ssh-agent and give "
                             f"--ssh {sid} (its $SSH_AUTH_SOCK) instead")
        lines = [line for line in said.strip().splitlines() if line.strip()]
        raise CairnError(f"--ssh {sid}: {key} is not a private key ssh-add can load"
                         + (f" ({lines[-1].replace('(stdin)', key)})" if lines else ""))

    def _stop_agent(self) -> None:
        if self.agent is None:
            return
        self.agent.stdin.close()  # the watcher stops the agent, waits for it, exits
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
