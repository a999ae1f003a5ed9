"""User-mode networking for rootless containers: slirp4netns behind a namespace of its own.

A rootless user cannot make veth pairs or a bridge on the host, so a container's own
network namespace is wired by slirp4netns instead: it puts a tap device (`tap0`,
10.0.2.100/24, gateway 10.0.2.2, DNS forwarder 10.0.2.3) into the namespace and carries
its packets through ordinary sockets of the host. The host's loopback (10.0.2.2 -> 127.0.0.1)
stays out of reach, as on cairn's bridge. Published ports (-p) are added through its API
socket. slirp4netns runs in a sandbox (its own mount namespace, capabilities dropped) and
ends when cairn closes its exit pipe, or when cairn dies and the pipe closes with it.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import time

GUEST_ADDRESS = "10.0.2.100"
DNS_ADDRESS = "10.0.2.3"
_READY_SECONDS = 10.0


class SlirpError(OSError):
    pass


def available() -> str | None:
    return shutil.which("slirp4netns")


def resolv_conf(host_text: str) -> str:
    """The container's /etc/resolv.conf: the host's search and options lines, and the name
    server slirp4netns forwards to the host's own (loopback ones included)."""
    kept = [line for line in host_text.splitlines() if line.split()[:1] in (["search"], ["options"], ["domain"])]
    return "\n".join([f"nameserver {DNS_ADDRESS}", *kept]) + "\n"


class Slirp:
    """slirp4netns serving the network namespace of process `pid` (started before it runs)."""

    def __init__(self, pid: int, api: bool = False) -> None:
        binary = available()
        if binary is None:
            raise SlirpError(0, "rootless networking needs slirp4netns (Debian's slirp4netns package); "
                                "or use --network none or host")
        # a short private path: a unix socket's path holds at most 107 bytes
        self._api_dir = tempfile.mkdtemp(prefix="cairn-slirp-") if api else None
        self.api = os.path.join(self._api_dir, "api.sock") if self._api_dir else None
        exit_r, self._exit_w = os.pipe2(os.O_CLOEXEC)
        ready_r, ready_w = os.pipe2(os.O_CLOEXEC)
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 - open while slirp4netns runs; closed by close()
        args = [binary, "--configure", "--mtu=65520", "--disable-host-loopback", "--enable-sandbox",
                f"--exit-fd={exit_r}", f"--ready-fd={ready_w}"]
        if self.api:
            args.append(f"--api-socket={self.api}")
        try:
            self.proc = subprocess.Popen([*args, str(pid), "tap0"], pass_fds=(exit_r, ready_w), stdin=subprocess.DEVNULL,
                                         stdout=self._log, stderr=self._log, start_new_session=True)
        finally:
            os.close(exit_r)
            os.close(ready_w)
        try:
            ready, _, _ = select.select([ready_r], [], [], _READY_SECONDS)
            ok = bool(ready) and os.read(ready_r, 1) == b"1"
        finally:
            os.close(ready_r)
        if not ok:
            self.close()
            raise SlirpError(0, f"slirp4netns did not set up the container's network: {self._tail()}")

    def _tail(self) -> str:
        self._log.seek(0)
        lines = self._log.read().decode(errors="replace").strip().splitlines()
        return lines[-1] if lines else "no message"

    def forward(self, proto: str, host_ip: str, host_port: int, guest_port: int) -> None:
        """Publish guest_port on the host (docker's -p), through the API socket."""
        request = {"execute": "add_hostfwd", "arguments": {
            "proto": proto, "host_addr": host_ip or "0.0.0.0", "host_port": host_port,
            "guest_addr": GUEST_ADDRESS, "guest_port": guest_port}}
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(_READY_SECONDS)
            s.connect(self.api)
            s.sendall(json.dumps(request).encode())
            s.shutdown(socket.SHUT_WR)
            reply = b""
            while chunk := s.recv(4096):
                reply += chunk
        answer = json.loads(reply or b"{}")
        if "error" in answer:
            raise SlirpError(0, f"cannot publish port {host_port}: {answer['error'].get('desc', answer['error'])}")

    def close(self) -> None:
        if self._exit_w is not None:
            os.close(self._exit_w)
            self._exit_w = None
        deadline = time.monotonic() + 5
        while self.proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
        self._log.close()
        if self._api_dir is not None:
            shutil.rmtree(self._api_dir, ignore_errors=True)
            self._api_dir = None
