"""`-t`: the container's stdio on a pseudo-terminal of its own, relayed to ours.

As runc does, the pty is opened inside the container (from its own devpts instance, so
`tty` and `ttyname` work there) and the master end is passed back to cairn over a unix
socket. Threads then copy our stdin to the master (with -i) and the master to our
stdout; our terminal goes raw for the duration, and window-size changes are passed on.
"""

from __future__ import annotations

import fcntl
import os
import signal
import socket
import sys
import termios
import threading
import tty


class Terminal:
    def __init__(self, interactive: bool):
        self.interactive = interactive
        self._parent_sock, self._child_sock = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        self.master: int | None = None
        self._saved = None
        self._old_winch = None
        self._out: threading.Thread | None = None

    def child_setup(self) -> None:
        """In the container, after pivot_root and setsid: open a pty there, make its slave
        our controlling terminal and stdio, and hand the master to cairn."""
        self._parent_sock.close()
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
        for fd in (0, 1, 2):
            os.dup2(slave, fd)
        if slave > 2:
            os.close(slave)
        socket.send_fds(self._child_sock, [b"m"], [master])
        os.close(master)
        self._child_sock.close()

    def _copy_size(self, *_args) -> None:
        try:
            size = fcntl.ioctl(sys.stdin.fileno(), termios.TIOCGWINSZ, b"\0" * 8)
            fcntl.ioctl(self.master, termios.TIOCSWINSZ, size)
        except OSError:
            pass

    def start_relay(self) -> None:
        """In cairn, once the container runs."""
        self._child_sock.close()
        _msg, fds, _flags, _addr = socket.recv_fds(self._parent_sock, 16, 1)
        self._parent_sock.close()
        if not fds:
            raise OSError("the container did not send its terminal")
        self.master = fds[0]
        if os.isatty(0):
            self._copy_size()
            self._old_winch = signal.signal(signal.SIGWINCH, self._copy_size)
            if self.interactive:
                self._saved = termios.tcgetattr(0)
                tty.setraw(0)
        self._out = threading.Thread(target=self._pump, args=(self.master, 1), daemon=True)
        self._out.start()
        if self.interactive:
            threading.Thread(target=self._pump, args=(0, self.master), daemon=True).start()

    @staticmethod
    def _pump(src: int, dst: int) -> None:
        while True:
            try:
                data = os.read(src, 65536)
            except OSError:
                return  # EIO: the container side closed
            if not data:
                return
            try:
                while data:
                    data = data[os.write(dst, data):]
            except OSError:
                return

    def finish(self) -> None:
        if self._out is not None:
            self._out.join(timeout=2)
        if self._saved is not None:
            termios.tcsetattr(0, termios.TCSADRAIN, self._saved)
        if self._old_winch is not None:
            signal.signal(signal.SIGWINCH, self._old_winch)
        if self.master is not None:
            try:
                os.close(self.master)
            except OSError:
                pass
