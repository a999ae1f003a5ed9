"""The ssh agent relay (builder/executor/ssh_relay.py) attacked from a RUN step's side: a
hostile client may only list keys and sign, cannot make cairn allocate a huge message, open
unbounded threads, or keep a thread alive after the step. The agent is a small fake here
(a unit test); tests/compat/test_ssh.py runs OpenSSH's real agent through real steps."""

from __future__ import annotations

import os
import socket
import struct
import threading

import pytest

from builder.executor.ssh_relay import FAILURE, MAX_CONNECTIONS, AgentRelay, read_message

IDENTITIES_ANSWER = struct.pack("!IBI", 5, 12, 0)  # no keys


class FakeAgent:
    """Records every message it gets; answers each with an empty identities list."""

    def __init__(self, path: str):
        self.got: list[bytes] = []
        self.connections = 0
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(64)
        self.threads: list[threading.Thread] = []
        self.acceptor = threading.Thread(target=self._accept, daemon=True)
        self.acceptor.start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            t = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self.threads.append(t)
            t.start()

    def _serve(self, conn):
        with conn:
            try:
                while (msg := read_message(conn)) is not None:
                    self.got.append(msg)
                    conn.sendall(IDENTITIES_ANSWER)
            except (OSError, ValueError):
                pass

    def close(self):
        self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        self.acceptor.join()


@pytest.fixture
def relay(tmp_path):
    d = tmp_path / "r"
    d.mkdir(mode=0o700)
    agent = FakeAgent(str(tmp_path / "agent.sock"))
    r = AgentRelay(str(tmp_path / "agent.sock"), str(d), 0o600, os.getuid(), os.getgid())
    try:
        yield r, agent
    finally:
        r.close()
        agent.close()


def client(r) -> socket.socket:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(30)  # a relay that failed to close a connection fails the test instead of hanging it
    s.connect(r.path)
    return s


def closed(s: socket.socket) -> bool:
    """The relay closed its end (a reset when it left our bytes unread)."""
    try:
        return s.recv(16) == b""
    except ConnectionResetError:
        return True


def msg(kind: int, body: bytes = b"") -> bytes:
    return struct.pack("!IB", 1 + len(body), kind) + body


def test_only_listing_and_signing_reach_the_agent(relay):
    r, agent = relay
    with client(r) as c:
        for kind in (17, 18, 19, 22, 23, 25, 27, 9):  # add, remove, remove all, lock, unlock, constrained add, extension
            c.sendall(msg(kind, b"x" * 40))
            assert read_message(c) == FAILURE
        c.sendall(msg(11))
        assert read_message(c) == IDENTITIES_ANSWER
    assert agent.got == [msg(11)]


def test_a_huge_length_closes_the_connection_unread(relay):
    r, agent = relay
    with client(r) as c:
        c.sendall(struct.pack("!IB", 0xFFFFFFF0, 11) + b"y" * 1000)
        assert closed(c)  # nothing was allocated for 4 GiB, nothing forwarded
        assert agent.got == []


def test_connections_beyond_the_limit_are_closed(relay):
    r, _agent = relay
    held = [client(r) for _ in range(MAX_CONNECTIONS)]
    for c in held:  # each is served (a thread each)
        c.sendall(msg(11))
        assert read_message(c) == IDENTITIES_ANSWER
    extra = client(r)
    assert closed(extra)  # no thread for it
    extra.close()
    for c in held:
        c.close()


def test_close_ends_connections_the_step_keeps_open(relay):
    r, agent = relay
    idle, mid = client(r), client(r)
    mid.sendall(msg(11))
    assert read_message(mid) == IDENTITIES_ANSWER
    mid.sendall(struct.pack("!I", 100) + b"half")  # a request cut short: its thread waits for more
    before = threading.active_count()  # the closer below is one more
    closer = threading.Thread(target=r.close)  # returns only once every relay thread ended
    closer.start()
    closer.join(30)  # a guard: a relay thread left waiting on the step fails the test, not hangs it
    assert not closer.is_alive()
    assert threading.active_count() <= before - 3  # the acceptor and both connection threads
    assert closed(idle) and closed(mid)
    assert not os.path.exists(r.path)
    with pytest.raises(OSError):
        client(r)
    idle.close()
    mid.close()
