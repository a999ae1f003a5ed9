"""The socket a RUN step's `--mount=type=ssh` shows: cairn listens on a fresh Unix socket in
a private 0700 directory and relays each connection to the ssh agent, so the step never gets
a path on the host, and the socket's owner and mode are the mount's.

The relay is read-only, as BuildKit's: a process in the step may list the agent's keys and
ask it to sign (the two requests ssh makes); adding, removing or locking keys and agent
extensions are answered with SSH_AGENT_FAILURE without reaching the agent. Requests are
relayed one at a time (a request, then the agent's one reply), at most MAX_MESSAGE bytes each,
over at most MAX_CONNECTIONS connections at once (more are closed at once); a connection to
the agent is closed as soon as the step's side closes (testSSHFileDescriptorsClosed). close()
stops every thread and removes the socket.
"""

from __future__ import annotations

import os
import socket
import struct
import threading

MAX_MESSAGE = 256 * 1024  # OpenSSH's own limit on an agent message
MAX_CONNECTIONS = 8
REQUEST_IDENTITIES, SIGN_REQUEST = 11, 13
ALLOWED = (REQUEST_IDENTITIES, SIGN_REQUEST)
FAILURE = struct.pack("!IB", 1, 5)  # SSH_AGENT_FAILURE


def _read_exact(sock: socket.socket, n: int) -> bytes | None:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(min(n - len(buf), 65536))
        if not chunk:
            return None
        buf += chunk
    return bytes(buf)


def read_message(sock: socket.socket) -> bytes | None:
    """One agent message (length prefix included); None at EOF; ValueError when malformed."""
    head = _read_exact(sock, 4)
    if head is None:
        return None
    (length,) = struct.unpack("!I", head)
    if length == 0 or length > MAX_MESSAGE:
        raise ValueError(f"agent message of {length} bytes")
    body = _read_exact(sock, length)
    return None if body is None else head + body


class AgentRelay:
    """Listens at DIRECTORY/agent.sock (created here, owned uid:gid with `mode`; the directory
    is the caller's, private) and relays to the agent at `upstream`."""

    def __init__(self, upstream: str, directory: str, mode: int, uid: int, gid: int):
        self.upstream = upstream
        self.path = os.path.join(directory, "agent.sock")
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []
        self._closed = False
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)  # close-on-exec
        try:
            self._listener.bind(self.path)
            os.chown(self.path, uid, gid)
            os.chmod(self.path, mode)
            self._listener.listen(MAX_CONNECTIONS)
        except BaseException:
            self._listener.close()
            raise
        self._acceptor = threading.Thread(target=self._accept_loop, name="ssh-relay", daemon=True)
        self._acceptor.start()

    def _accept_loop(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # closed
            with self._lock:
                live = [t for t in self._threads if t.is_alive()]
                self._threads = live
                if self._closed or len(live) >= MAX_CONNECTIONS:
                    client.close()
                    if self._closed:
                        return
                    continue
                self._open.add(client)
                worker = threading.Thread(target=self._serve, args=(client,), name="ssh-relay-conn", daemon=True)
                self._threads.append(worker)
            worker.start()

    def _track(self, sock: socket.socket) -> bool:
        with self._lock:
            if self._closed:
                return False
            self._open.add(sock)
            return True

    def _serve(self, client: socket.socket) -> None:
        agent = None
        try:
            while True:
                request = read_message(client)
                if request is None:
                    return
                if request[4] not in ALLOWED:
                    client.sendall(FAILURE)
                    continue
                if agent is None:
                    agent = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                    if not self._track(agent):
                        return
                    agent.connect(self.upstream)
                agent.sendall(request)
                reply = read_message(agent)
                if reply is None:
                    return
                client.sendall(reply)
        except (OSError, ValueError):
            return
        finally:
            with self._lock:
                for sock in (client, agent):
                    if sock is not None:
                        self._open.discard(sock)
                        sock.close()

    def close(self) -> None:
        """Stop accepting, end every connection, wait for the threads, remove the socket."""
        with self._lock:
            self._closed = True
            for sock in [self._listener, *self._open]:
                try:
                    sock.shutdown(socket.SHUT_RDWR)  # wakes a thread blocked on it
                except OSError:
                    pass
        self._acceptor.join()
        with self._lock:
            threads = list(self._threads)
        for t in threads:
            t.join()
        self._listener.close()
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass
