"""`cairn serve --host tcp://... --tlsverify`: anyone who reaches the port, with no certificate at
all, could keep every client with one out. The TLS handshake ran inside one of the server's
MAX_CONNECTIONS (64) slots, with a timeout on each read only: 64 connections that each send a
byte now and then (never a whole ClientHello) held every slot for as long as they kept it up,
and the server accepted nobody else (the old code never answered the client here). Now a
handshake holds no request slot, and has HANDSHAKE_TIMEOUT in all."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading

from ..conftest import REPO
from ..serve_fixtures import _stop
from ..test_serve_host import _free_port, _start_tcp, certs  # noqa: F401 - the module's certificates

ATTACKERS = 70  # more than the server's MAX_CONNECTIONS


def test_clients_without_a_certificate_do_not_keep_one_with_a_certificate_out(tmp_path, certs):  # noqa: F811
    port = _free_port()
    proc, _said = _start_tcp(tmp_path / "root", port, "--tlsverify", "--tlscacert", str(certs / "ca.pem"),
                             "--tlscert", str(certs / "server.pem"), "--tlskey", str(certs / "server-key.pem"))
    # (the server's log goes to a pipe nobody reads after its start: drained, so that its
    # "handshake refused" lines never block it)
    threading.Thread(target=proc.stderr.read, daemon=True).start()
    stop = threading.Event()
    conns = []

    def trickle():  # a TLS record header, a byte at a time: a handshake that never ends
        header = b"\x16\x03\x01\x02\x00" + b"\x01" * 600
        at = 0
        while not stop.wait(2.0) and at < len(header):
            for c in conns:
                try:
                    c.send(header[at:at + 1])
                except OSError:
                    pass
            at += 1

    client = tmp_path / "client"
    client.mkdir()
    for src, dst in (("ca.pem", "ca.pem"), ("client.pem", "cert.pem"), ("client-key.pem", "key.pem")):
        (client / dst).write_bytes((certs / src).read_bytes())
    env = {**os.environ, "CAIRN_HOST": f"tcp://127.0.0.1:{port}", "CAIRN_TLS_VERIFY": "1",
           "CAIRN_CERT_PATH": str(client)}
    thread = threading.Thread(target=trickle, daemon=True)
    try:
        for _ in range(ATTACKERS):
            conns.append(socket.create_connection(("127.0.0.1", port), timeout=30))
        thread.start()
        try:
            res = subprocess.run([sys.executable, "-m", "builder.cli", "images"], cwd=REPO, env=env,
                                 capture_output=True, timeout=90)  # (the old code: no answer while they trickle)
        except subprocess.TimeoutExpired:
            res = None
        assert res is not None, "the client with a certificate got no answer while the others held the port"
        assert res.returncode == 0 and res.stdout.startswith(b"REPOSITORY"), res.stderr
    finally:
        stop.set()
        thread.join()
        for c in conns:
            c.close()
        _stop(proc)
