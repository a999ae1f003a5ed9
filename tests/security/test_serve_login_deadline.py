"""POST /auth (`docker login`) against a registry address that accepts connections and never
answers: the server held the request's connection slot for the registry client's timeout
(60 s) on each of its tries, minutes in all (the review counted ~20 with the retries), and
a few such logins kept everybody else out. Now the whole check has a deadline (30 s;
CAIRN_LOGIN_DEADLINE, set short here), past which the answer is a 500 that says so."""

from __future__ import annotations

import json
import socket
import threading

from ..serve_fixtures import _raw, _start, _stop


def test_a_login_to_a_registry_that_never_answers_ends_with_an_error(tmp_path):
    listener = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:  # (every connection taken, and never a byte sent back)
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue

    acceptor = threading.Thread(target=accept, daemon=True)
    acceptor.start()
    sock = tmp_path / "cairn.sock"
    proc = _start(tmp_path / "root", sock, env={"CAIRN_LOGIN_DEADLINE": "1"})
    try:
        address = f"127.0.0.1:{listener.getsockname()[1]}"
        body = json.dumps({"username": "u", "password": "p", "serveraddress": address}).encode()
        # (_raw waits 30 s for the answer: the old code's took minutes, and this raised)
        status, _headers, raw = _raw(sock, b"POST /v1.41/auth HTTP/1.1\r\nContent-Type: application/json\r\n"
                                           b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        assert status == 500, raw
        assert json.loads(raw)["message"] == \
            f"{address}: the registry did not answer the login check within 1s", raw
        assert held, "the registry address was never reached"
    finally:
        _stop(proc)
        stop.set()
        acceptor.join()
        for conn in held:
            conn.close()
        listener.close()
