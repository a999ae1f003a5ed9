"""Starts a Spec as an isolated process tree and waits for it.

    parent (cairn)          sets itself as child subreaper; unshares CLONE_NEWPID (which moves
                            only this thread's later children), forks B, setns()s back to its
                            own pid namespace
      B (PID 1 inside)      unshares the other namespaces, says "ready"; builds its root; waits
                            for "exec"; enters its cgroup namespace; closes every fd above 2;
                            drops privileges and loads the seccomp filter; enters its cwd; execs
    parent                  reads "ready"; while B builds its root, puts B in its cgroup and lets
                            the caller wire B's network; says "exec", then reads B's error pipe:
                            EOF means exec happened

Going back to its own pid namespace needs CAP_SYS_ADMIN over it, which root in the host's
user namespace has; elsewhere (rootless: cairn's own user namespace; cairn inside another
user namespace) an intermediate process A does it instead, as before session 26:

    parent                  forks A
      A                     unshares the namespaces (pid included), forks B, reports B's pid, exits
        B (PID 1 inside)    waits for "go" (A is gone: B's parent is now the subreaper), then
                            as above

The two run side by side: B's mounts and the parent's cgroup writes (on cgroup v1 the first
attach waits out an RCU grace period, 10-15 ms here) and netlink calls overlap, and nothing
of the container's command runs before B is in its cgroup and its network is wired. B runs
only cairn's own code until "exec"; it enters its cgroup namespace after it was moved, so
the namespace's root is the container's cgroup.

B's setup errors come back through a close-on-exec pipe, so a failed setup is an error
in the parent with a message, never a silent exit. Exit codes follow docker: the
process's own, 128+signal, 127 for a command not found, 126 for one not executable.
"""

from __future__ import annotations

import errno
import gc
import os
import signal
import struct
import sys
import threading
from dataclasses import replace
from typing import Callable

from . import fds, rlimits, rootfs, seccomp
from . import syscalls as sc
from .loopback import loopback_up
from .spec import CAPABILITY_NUMBERS, Mount, Process, Spec

NOT_FOUND = 127
NOT_EXECUTABLE = 126

_NS_FLAGS = {"mount": sc.CLONE_NEWNS, "uts": sc.CLONE_NEWUTS, "ipc": sc.CLONE_NEWIPC,
             "pid": sc.CLONE_NEWPID, "network": sc.CLONE_NEWNET}


class RuntimeError_(OSError):
    """A container that could not be set up; the message says which step failed."""


def _write_all(fd: int, data: bytes) -> None:
    while data:
        data = data[os.write(fd, data):]


def _child_fail(fd: int, code: int, message: str) -> None:
    try:
        _write_all(fd, struct.pack("!i", code) + message.encode("utf-8", "replace"))
    finally:
        os._exit(code)


def _drop_privileges(spec: Spec) -> None:
    drop_privileges(spec.process)


def drop_privileges(proc: Process) -> None:
    """Keep only proc's capabilities, set no_new_privs, load seccomp, become its user."""
    keep = {CAPABILITY_NUMBERS[c] for c in proc.capabilities}
    last = max(CAPABILITY_NUMBERS.values())
    try:
        with open("/proc/sys/kernel/cap_last_cap") as f:
            last = int(f.read())
    except OSError:
        pass
    for cap in range(last + 1):
        if cap not in keep:
            try:
                sc.prctl(sc.PR_CAPBSET_DROP, cap)
            except OSError as err:
                if err.errno != errno.EINVAL:
                    raise
    if proc.no_new_privileges:
        sc.prctl(sc.PR_SET_NO_NEW_PRIVS, 1)
    if proc.seccomp and proc.seccomp_profile is not None:
        seccomp.apply_profile(proc.seccomp_profile)
    elif proc.seccomp:  # while the capabilities that loading needs are still held
        seccomp.apply(proc.capabilities)
    try:
        os.setgroups(list(proc.additional_gids))
    except PermissionError:  # a single-id user namespace denies setgroups: only the primary group is held
        if set(proc.additional_gids) - {proc.gid}:
            raise OSError(errno.EPERM, "supplementary groups cannot be set in a single-id user namespace") from None
    os.setgid(proc.gid)
    os.setuid(proc.uid)
    sc.prctl(sc.PR_SET_PDEATHSIG, signal.SIGKILL)  # a change of ids cleared it: still die with the parent
    mask = sum(1 << c for c in keep)
    if proc.uid == 0:
        sc.capset(mask, mask, 0)
    # a non-root user keeps no effective capabilities, as with docker


def _exec(spec: Spec, err_fd: int) -> None:
    proc = spec.process
    env = dict(e.split("=", 1) if "=" in e else (e, "") for e in proc.env)
    try:
        fds.enter_workdir(proc.cwd)
    except OSError as err:
        _child_fail(err_fd, 125, f"cannot enter the working directory {proc.cwd}: {err.strerror}")
    if not proc.args:
        _child_fail(err_fd, NOT_FOUND, "no command given")
    try:
        os.execvpe(proc.args[0], list(proc.args), env)
    except FileNotFoundError:
        where = "" if "/" in proc.args[0] else " in $PATH"
        _child_fail(err_fd, NOT_FOUND, f'exec: "{proc.args[0]}": executable file not found{where}')
    except PermissionError:
        _child_fail(err_fd, NOT_EXECUTABLE, f'exec: "{proc.args[0]}": permission denied')
    except OSError as err:
        _child_fail(err_fd, NOT_EXECUTABLE, f'exec: "{proc.args[0]}": {err.strerror}')


def _container_main(spec: Spec, go_fd: int, err_fd: int, setup_stdio: Callable[[], None] | None,
                    wait_go: bool = True) -> None:
    """B: runs as PID 1 of the new pid namespace. Never returns."""
    gc.disable()  # no finalizer may close an fd number reused after close_fds_above_2
    try:
        if wait_go and os.read(go_fd, 1) != b"g":
            os._exit(1)  # the parent went away before saying go
        # A has exited by now (the parent waited for it before "go"), or there was no A: our
        # parent is the one that started us: die with it. (getppid() is 0 across pid
        # namespaces; a parent gone before this is seen at the "exec" read: EOF.)
        sc.prctl(sc.PR_SET_PDEATHSIG, signal.SIGKILL)
        if spec.network in ("none", "bridge"):
            loopback_up()
        elif spec.network != "host":  # a path: join that namespace
            fd = os.open(spec.network, os.O_RDONLY)
            sc.setns(fd, sc.CLONE_NEWNET)
            os.close(fd)
        rootfs.setup(spec)
        if spec.hostname and "uts" in spec.namespaces:
            sc.sethostname(spec.hostname)
        if os.read(go_fd, 1) != b"x":
            os._exit(1)  # the parent could not place us in our cgroup or network: it reaps us
        seccomp.receive(go_fd, spec.process.capabilities)  # the program the parent made meanwhile
        os.close(go_fd)
        if "cgroup" in spec.namespaces:  # (after the parent moved us: its root is our own cgroup)
            sc.unshare(sc.CLONE_NEWCGROUP)
        os.setsid()
        if setup_stdio is not None:
            setup_stdio()
        fds.close_fds_above_2(keep=err_fd)  # before the chdir: no host directory stays reachable
        rlimits.apply(spec.process.rlimits)  # while privileged: a hard limit may go up
        _drop_privileges(spec)
    except BaseException as err:  # reported to the parent, which raises it
        if isinstance(err, OSError):
            detail = err.strerror or str(err)
            if err.filename:
                detail += f" ({err.filename})"
        else:
            detail = f"{type(err).__name__}: {err}"
        _child_fail(err_fd, 125, f"container setup failed: {detail}")
    _exec(spec, err_fd)


def with_init(spec: Spec) -> Spec:
    """--init: Debian's tini (as docker's docker-init) bind-mounted read-only at /dev/init runs
    as PID 1 and runs the command as its child: it reaps orphans and forwards signals. It is
    exec'd like any command, so it holds no fd of cairn's and sees only the container's env."""
    if not os.path.isfile(INIT_BINARY):
        raise ContainerStartError(125, f"--init needs {INIT_BINARY} (Debian's tini package)")
    return replace(spec, process=replace(spec.process, args=(INIT_PATH, "--", *spec.process.args), init=False),
                   mounts=(Mount(INIT_PATH, "bind", INIT_BINARY, ("ro", "nosuid")), *spec.mounts))


INIT_BINARY = "/usr/bin/tini-static"  # static: it runs in any image, with or without a libc
INIT_PATH = "/dev/init"  # on the container's own /dev tmpfs: nothing is written into its root


def _ns_flags(spec: Spec) -> int:
    flags = 0
    for name in spec.namespaces:
        if name == "network" and spec.network not in ("none", "bridge"):
            continue
        flags |= _NS_FLAGS.get(name, 0)
    return flags


_START_LOCK = threading.Lock()
_INIT_USER_NS = 0xEFFFFFFD  # the inode number of the host's own user namespace (PROC_USER_INIT_INO)


def _direct(flags: int) -> bool:
    """Whether B can be forked straight into its new pid namespace: the parent must be able
    to go back to its own pid namespace after the fork (root in the host's user namespace)."""
    if not flags & sc.CLONE_NEWPID or os.geteuid() != 0:
        return False
    try:
        return os.stat("/proc/self/ns/user").st_ino == _INIT_USER_NS
    except OSError:
        return False


def fork_with_start_pipes(new_pid_ns: bool = False) -> tuple[int, tuple[int, int, int, int, int, int]]:
    """Fork with a container start's three pipes, (pid_r, pid_w, go_r, go_w, err_r, err_w):
    the child's pid (or its "ready"), the go signal and the setup error. Each side closes the
    ends it does not use (the parent keeps pid_r, go_w, err_r; the child the others).
    With `new_pid_ns`, the child is PID 1 of a new pid namespace (see _direct).

    Several threads may start containers at once (a build's parallel stages; an exec beside
    a run). Each child must not inherit another start's write ends: a reader waiting for EOF
    on a pipe whose write end a sibling container holds waits forever. So the pipes are
    close-on-exec and made, forked and closed on the parent's side under one lock."""
    with _START_LOCK:
        pid_r, pid_w = os.pipe2(os.O_CLOEXEC)
        go_r, go_w = os.pipe2(os.O_CLOEXEC)
        err_r, err_w = os.pipe2(os.O_CLOEXEC)
        sys.stdout.flush()
        sys.stderr.flush()
        a = _fork_into_pid_ns() if new_pid_ns else os.fork()
        if a != 0:
            os.close(pid_w)
            os.close(go_r)
            os.close(err_w)
    if a == 0:
        os.close(pid_r)
        os.close(go_w)
        os.close(err_r)
    return a, (pid_r, pid_w, go_r, go_w, err_r, err_w)


def _fork_into_pid_ns() -> int:
    """os.fork(), the child being PID 1 of a new pid namespace. unshare(CLONE_NEWPID) changes
    only the namespace of this thread's later children; the parent setns()s back to its own
    before anything else can fork from this thread (under _START_LOCK: no other start)."""
    own = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
    try:
        sc.unshare(sc.CLONE_NEWPID)
        try:
            child = os.fork()
        except BaseException:
            sc.setns(own, sc.CLONE_NEWPID)
            raise
        if child != 0:
            sc.setns(own, sc.CLONE_NEWPID)
        return child
    finally:
        os.close(own)


def start(spec: Spec, *, before_go: Callable[[int], None] | None = None,
          setup_stdio: Callable[[], None] | None = None) -> int:
    """Create the container and let it exec; returns the host pid of its PID 1.

    `before_go(pid)` runs in the parent while the container builds its root, and the
    container's command runs only after it returned: add it to a cgroup, move a veth into
    its network namespace. Raises RuntimeError_ if setup or exec fails
    (the process has then been reaped).
    """
    if spec.process.init:
        spec = with_init(spec)
    if spec.process.seccomp and spec.process.seccomp_profile is not None:
        try:
            # the library: here, never after fork (a profile of the user's own is built in
            # the container's process, as given). The default program is made after the
            # fork, while the container builds its root, and sent with "x" (seccomp.message)
            seccomp.load()
        except OSError as err:
            raise ContainerStartError(125, str(err)) from None
    sc.prctl(sc.PR_SET_CHILD_SUBREAPER, 1)
    flags = _ns_flags(spec)
    direct = _direct(flags)
    a, (pid_r, pid_w, go_r, go_w, err_r, err_w) = fork_with_start_pipes(new_pid_ns=direct)
    if a == 0 and direct:  # B, PID 1 already
        try:
            sc.unshare(flags & ~sc.CLONE_NEWPID)
            _write_all(pid_w, b"n")
            os.close(pid_w)
        except BaseException as err:
            _child_fail(err_w, 125, f"cannot create namespaces: {err}")
        _container_main(spec, go_r, err_w, setup_stdio, wait_go=False)
    if a == 0:  # A
        try:
            sc.unshare(flags)
            b = os.fork()
            if b == 0:
                os.close(pid_w)
                _container_main(spec, go_r, err_w, setup_stdio)
            _write_all(pid_w, str(b).encode())
            os._exit(0)
        except BaseException as err:
            try:
                _write_all(err_w, struct.pack("!i", 125) + f"cannot create namespaces: {err}".encode())
            finally:
                os._exit(125)
    try:
        if direct:
            pid = a
            ready = os.read(pid_r, 1)  # B's namespaces exist (a veth may be moved into its own)
            os.close(pid_r)
            if ready != b"n":
                _kill_and_reap(pid)
                raise RuntimeError_(errno.ECHILD, _read_error(err_r) or "cannot create the container")
        else:
            _, status = os.waitpid(a, 0)
            data = b""
            while chunk := os.read(pid_r, 64):
                data += chunk
            os.close(pid_r)
            if os.waitstatus_to_exitcode(status) != 0 or not data:
                raise RuntimeError_(errno.ECHILD, _read_error(err_r) or "cannot create the container")
            pid = int(data)
        try:
            if not direct:
                os.write(go_w, b"g")  # B builds its root meanwhile
            if before_go is not None:
                before_go(pid)
            _write_all(go_w, b"x" + seccomp.message(spec.process))
        except BaseException:
            os.close(go_w)
            go_w = -1
            _kill_and_reap(pid)
            message = _read_error(err_r)  # B's own failure (then ours is only its echo: no such process...)
            if message is not None:
                raise ContainerStartError(125, message) from None
            raise
        finally:
            if go_w != -1:
                os.close(go_w)
        message = _read_error(err_r)
        if message is not None:
            _, status = os.waitpid(pid, 0)
            code = os.waitstatus_to_exitcode(status)
            raise ContainerStartError(code, message)
        return pid
    finally:
        os.close(err_r)


class ContainerStartError(RuntimeError_):
    """Setup or exec failed inside the container; `.code` is the exit code to report."""

    def __init__(self, code: int, message: str):
        super().__init__(errno.EINVAL, message)
        self.code = code
        self.message = message

    def __str__(self) -> str:
        return self.message


def _read_error(fd: int) -> str | None:
    data = b""
    while chunk := os.read(fd, 4096):
        data += chunk
    if not data:
        return None
    return data[4:].decode("utf-8", "replace") if len(data) >= 4 else data.decode("utf-8", "replace")


def _kill_and_reap(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass


def wait(pid: int) -> int:
    """Wait for the container's PID 1; its exit code, or 128+signal."""
    while True:
        try:
            _, status = os.waitpid(pid, 0)
            break
        except InterruptedError:
            continue
    code = os.waitstatus_to_exitcode(status)
    return 128 - code if code < 0 else code
