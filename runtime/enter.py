"""Runs one more process inside a running container: `exec`, for the CLI and any later caller.

    parent (cairn)   opens /proc/PID as a directory, checks PID's start time through it,
                     then opens ns/* through the same fd: a pid reused by another process
                     since the container started is refused, never entered
      A              joins the container's cgroup, makes itself non-dumpable, setns into
                     each of the container's namespaces (mnt last), forks B, exits
        B            is in the container's pid namespace, with the container's root;
                     resolves the user and the working directory there (`prepare`), opens
                     its stdio, closes every other fd, sets rlimits, drops privileges and
                     loads seccomp as the container's PID 1 did, then execs. Detached (no
                     `reap`), B first forks C, which does all that, and exits: C's parent is
                     then the container's PID 1, and the caller reaps B

No process of the container may be left with a parent outside it that does not reap it:
the container's PID 1, killed, stays in the kernel (zap_pid_ns_processes) until every
process of its pid namespace is reaped. A detached exec's B, orphaned when A exits, went to
the host's init; an init that reaps late (this machine's reaps every few seconds, a CI
machine's after a minute) held every `rm -f` of the container for it (and its cgroup
outlived the test suite). So the caller is always the subreaper of B.

Nothing on the way reads a container path from the host: every path is resolved by B,
inside the container's mount namespace, where `/` is the container's root.

The final execve is not done by cairn's Python binary: a process whose /proc/self/exe is
a host file lets a hostile image reach that file (CVE-2019-5736: /bin/sh made a symlink to
/proc/self/exe, or `#!/proc/self/exe`, then the file reopened for writing). B execs a
sealed in-memory copy of a static busybox, whose `env` applet execs the command: the
exe a container process can see is that copy, which nobody can write.
"""

from __future__ import annotations

import fcntl
import gc
import os
import struct
from typing import Callable

from . import fds, rlimits, seccomp
from . import syscalls as sc
from .process import (
    NOT_EXECUTABLE,
    NOT_FOUND,
    ContainerStartError,
    _child_fail,
    _read_error,
    drop_privileges,
    fork_with_start_pipes,
)
from .spec import Process

# setns order: the user namespace first (it grants the rights for the rest), mnt last
# (it changes our root, after which /proc/PID is the container's).
NAMESPACES = (("user", sc.CLONE_NEWUSER), ("ipc", sc.CLONE_NEWIPC), ("uts", sc.CLONE_NEWUTS),
              ("net", sc.CLONE_NEWNET), ("cgroup", sc.CLONE_NEWCGROUP), ("pid", sc.CLONE_NEWPID),
              ("mnt", sc.CLONE_NEWNS))
PR_SET_DUMPABLE = 4
MAX_ETC_FILE = 1 << 20


class NotRunning(OSError):
    """The container's PID 1 is gone (or its pid now belongs to another process)."""


def process_start(pid: int | None, dir_fd: int | None = None) -> str | None:
    """The start time of a live pid (field 22 of /proc/PID/stat), None if gone or a zombie.
    With dir_fd (an open /proc/PID), the process that directory was opened for."""
    if not pid:
        return None
    try:
        if dir_fd is None:
            with open(f"/proc/{pid}/stat", "rb") as f:
                stat = f.read()
        else:
            fd = os.open("stat", os.O_RDONLY | os.O_CLOEXEC, dir_fd=dir_fd)
            try:
                stat = os.read(fd, 4096)
            finally:
                os.close(fd)
    except OSError:
        return None
    fields = stat[stat.rfind(b")") + 2:].split()
    if len(fields) < 20 or fields[0] in (b"Z", b"X"):
        return None
    return fields[19].decode()


def open_namespaces(pid: int, start: str) -> list[tuple[int, int]]:
    """(fd, nstype) for each namespace of `pid` that is not already ours, in setns order.
    Raises NotRunning unless `pid` is alive and started at `start`."""
    try:
        proc = os.open(f"/proc/{pid}", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        raise NotRunning(f"process {pid} is gone") from None
    opened: list[tuple[int, int]] = []
    try:
        if not start or process_start(pid, proc) != start:
            raise NotRunning(f"process {pid} is gone")
        for name, nstype in NAMESPACES:
            try:
                fd = os.open(f"ns/{name}", os.O_RDONLY | os.O_CLOEXEC, dir_fd=proc)
            except FileNotFoundError:
                continue  # a kernel without that namespace type
            except OSError:
                raise NotRunning(f"process {pid} is gone") from None
            theirs, ours = os.fstat(fd), os.stat(f"/proc/self/ns/{name}")
            if (theirs.st_dev, theirs.st_ino) == (ours.st_dev, ours.st_ino):
                os.close(fd)  # shared with the host (--network host), or no user namespace
                continue
            opened.append((fd, nstype))
        if process_start(pid, proc) != start:  # it died while we opened: the fds may be a stranger's
            raise NotRunning(f"process {pid} is gone")
    except BaseException:
        for fd, _ in opened:
            os.close(fd)
        raise
    finally:
        os.close(proc)
    return opened


def _is_static_elf(path: str) -> bool:
    """An ELF file with no PT_INTERP program header (it needs no dynamic loader)."""
    try:
        with open(path, "rb") as f:
            head = f.read(64)
            if len(head) < 64 or head[:5] != b"\x7fELF\x02":
                return False
            phoff, = struct.unpack_from("<Q", head, 32)
            phentsize, phnum = struct.unpack_from("<HH", head, 54)
            f.seek(phoff)
            table = f.read(phentsize * phnum)
    except OSError:
        return False
    return all(struct.unpack_from("<I", table, i * phentsize)[0] != 3 for i in range(phnum))


def sealed_helper() -> int:
    """A sealed, close-on-exec memfd holding a copy of the host's static busybox."""
    import shutil  # (here only: it loads zlib, bz2 and lzma, ~6 ms of every `cairn run`)

    path = shutil.which("busybox") or "/bin/busybox"
    if not _is_static_elf(path):
        raise ContainerStartError(126, "exec needs a statically linked busybox on the host "
                                       "(Debian's busybox-static)")
    fd = os.memfd_create("cairn-exec", os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
    try:
        with open(path, "rb") as src:
            while chunk := src.read(1 << 20):
                view = memoryview(chunk)
                while view:
                    view = view[os.write(fd, view):]
        os.fchmod(fd, 0o555)
        fcntl.fcntl(fd, fcntl.F_ADD_SEALS, fcntl.F_SEAL_SEAL | fcntl.F_SEAL_WRITE | fcntl.F_SEAL_GROW
                    | fcntl.F_SEAL_SHRINK)
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_etc_file(path: str) -> bytes | None:
    """A small file such as /etc/passwd, read inside the container: a regular file only
    (never a fifo or a device), at most MAX_ETC_FILE bytes; None when there is none."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY)
    except OSError:
        return None
    try:
        if not (os.fstat(fd).st_mode & 0o170000 == 0o100000):
            return None
        return os.read(fd, MAX_ETC_FILE)
    finally:
        os.close(fd)


def _find_command(name: str, env: tuple[str, ...]) -> str:
    """`name` looked up as execvp would, inside the container; raises ContainerStartError
    with docker's codes and messages when it is missing or cannot run."""
    if "/" in name:
        candidates = [name]
    else:
        path = next((e[5:] for e in env if e.startswith("PATH=")), "/usr/local/bin:/usr/bin:/bin")
        candidates = [os.path.join(d or ".", name) for d in path.split(":")]
    denied = False
    for candidate in candidates:
        if not os.path.isfile(candidate):
            continue
        if os.access(candidate, os.X_OK):
            return candidate if candidate.startswith("/") else os.path.abspath(candidate)
        denied = True
    if denied:
        raise ContainerStartError(NOT_EXECUTABLE, f'exec: "{name}": permission denied')
    where = "" if "/" in name else " in $PATH"
    raise ContainerStartError(NOT_FOUND, f'exec: "{name}": executable file not found{where}')


def _b_main(proc: Process, go_fd: int, err_fd: int, helper_fd: int,
            prepare: Callable[[Process], Process] | None, setup_stdio: Callable[[], None] | None,
            detach: bool = False) -> None:
    """B: in every namespace of the container (detached: C, its child). Never returns."""
    gc.disable()  # no finalizer may close an fd number reused after the fds are closed
    if os.read(go_fd, 1) != b"g":
        os._exit(1)  # the parent went away
    os.close(go_fd)
    if detach and os.fork() != 0:
        os._exit(0)  # B: C is now the child of the container's PID 1 (the caller reaps B)
    # A has exited (the parent waited for it before "go"): the death signal that dropping
    # privileges sets is now tied to our new parent, not to A
    try:
        os.setsid()
        if setup_stdio is not None:
            setup_stdio()
        fds.close_fds_above_2(err_fd, helper_fd)  # before prepare reads a file the container names
        if prepare is not None:
            proc = prepare(proc)
        rlimits.apply(proc.rlimits)
        drop_privileges(proc)
        fds.enter_workdir(proc.cwd)
        if not proc.args:
            raise ContainerStartError(NOT_FOUND, "no command given")
        path = _find_command(proc.args[0], proc.env)
        os.execve(helper_fd, ["env", "--", path, *proc.args[1:]], dict(_pairs(proc.env)))
    except ContainerStartError as err:
        _child_fail(err_fd, err.code, err.message)
    except BaseException as err:
        if isinstance(err, OSError):
            detail = err.strerror or str(err)
            if err.filename:
                detail += f" ({err.filename})"
        else:
            detail = f"{type(err).__name__}: {err}"
        _child_fail(err_fd, 126, f"exec failed: {detail}")


def _pairs(env: tuple[str, ...]):
    for item in env:
        key, _, value = item.partition("=")
        yield key, value


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass


def enter(pid: int, start: str, proc: Process, *, cgroup_dirs: tuple[str, ...] = (),
          prepare: Callable[[Process], Process] | None = None,
          setup_stdio: Callable[[], None] | None = None, reap: bool = True) -> int:
    """Start `proc` in the namespaces of the container whose PID 1 is `pid` (started at
    `start`), in the cgroup directories `cgroup_dirs`; returns its host pid once it has
    exec'd. `prepare(proc)` runs inside the container before privileges are dropped (resolve
    the user there). With `reap`, this process becomes its reaper (wait for it with
    runtime.process.wait); without (a detached exec), it is the child of the container's
    PID 1 and the pid returned is B's, reaped already.
    Raises NotRunning, or ContainerStartError with docker's exit code."""
    namespaces = open_namespaces(pid, start)
    helper = None
    try:
        helper = sealed_helper()
        if proc.seccomp:
            seccomp.load()
        sc.prctl(sc.PR_SET_CHILD_SUBREAPER, 1)  # (B comes to us when A exits, never to the host's init)
        # (run's pipes and lock: no other start in this process inherits our pipes)
        a, (pid_r, pid_w, go_r, go_w, err_r, err_w) = fork_with_start_pipes()
        if a == 0:
            try:
                sc.prctl(PR_SET_DUMPABLE, 0)  # no container process may ptrace us or open /proc/B/fd
                for directory in cgroup_dirs:
                    with open(os.path.join(directory, "cgroup.procs"), "w") as f:
                        f.write("0")
                for fd, nstype in namespaces:
                    sc.setns(fd, nstype)
                    os.close(fd)
                b = os.fork()
                if b == 0:
                    os.close(pid_w)
                    _b_main(proc, go_r, err_w, helper, prepare, setup_stdio, detach=not reap)
                os.write(pid_w, str(b).encode())
                os._exit(0)
            except BaseException as err:
                detail = getattr(err, "strerror", None) or str(err)
                _child_fail(err_w, 126, f"cannot enter the container: {detail}")
        _, status = os.waitpid(a, 0)
        data = os.read(pid_r, 64)
        os.close(pid_r)
        try:
            os.write(go_w, b"g")
        except BrokenPipeError:
            pass  # B is gone: its error, if any, is in the pipe
        finally:
            os.close(go_w)
        message = _read_error(err_r)
        os.close(err_r)
        if data and not reap:
            _reap(int(data))  # (B, which exited once it forked C)
        if not data:
            raise ContainerStartError(126, message or "cannot enter the container")
        b = int(data)
        if message is not None:
            code = 126
            if reap:
                _, status = os.waitpid(b, 0)
                code = os.waitstatus_to_exitcode(status)
            raise ContainerStartError(code, message)
        return b
    finally:
        for fd, _ in namespaces:
            os.close(fd)
        if helper is not None:
            os.close(helper)
