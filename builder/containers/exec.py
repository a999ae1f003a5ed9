"""`cairn exec`: one more process in a running container, with the settings of its main
process (env, user, capabilities, seccomp, no_new_privs, rlimits), entered through
runtime.enter. The user is resolved inside the container, from its own /etc/passwd."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace

from runtime import enter, process
from runtime.spec import Process

from ..errors import CairnError, UsageError
from ..image.envlist import env_list_get, env_list_set
from ..store.store import Store
from .dirs import ContainerNotFound, find_container
from .envflags import apply_env_flags
from .record import process_from_state
from .run import ContainerError, _SignalRelay
from .users import resolve_user


class DaemonError(CairnError):
    """Said as docker's daemon says it ("Error response from daemon: ..."), exit 1."""


@dataclass(frozen=True)
class ExecRequest:
    container: str
    command: tuple[str, ...]
    interactive: bool = False
    tty: bool = False
    detach: bool = False
    user: str = ""
    workdir: str = ""
    env: tuple[str, ...] = ()
    env_file_env: tuple[str, ...] = ()  # the --env-file lines, applied before -e
    privileged: bool = False


def _env(base: tuple[str, ...], req: ExecRequest) -> tuple[tuple[str, ...], bool]:
    """The container's env plus --env-file and -e; and whether they set HOME."""
    items = [*req.env_file_env, *req.env]
    return tuple(apply_env_flags(list(base), items)), any(i.partition("=")[0] == "HOME" for i in items)


def _resolver(user: str, home_given: bool):
    """Runs inside the container (runtime.enter's prepare): its /etc/passwd and /etc/group."""
    def prepare(proc: Process) -> Process:
        try:
            found = resolve_user(user, enter.read_etc_file("/etc/passwd"), enter.read_etc_file("/etc/group"))
        except CairnError as err:
            raise process.ContainerStartError(126, str(err)) from None
        env = proc.env
        if not home_given:
            env = tuple(env_list_set(list(env), "HOME", found.home))
        return replace(proc, uid=found.uid, gid=found.gid, additional_gids=found.groups, env=env)
    return prepare


def _stdio_null(keep_stdin: bool, keep_out: bool):
    def setup() -> None:
        fd = os.open("/dev/null", os.O_RDWR)
        for target in ((() if keep_stdin else (0,)) + (() if keep_out else (1, 2))):
            os.dup2(fd, target)
        os.close(fd)
    return setup


def exec_in(store: Store, req: ExecRequest) -> int:
    """Run req.command in the container; its exit code (0 at once for a detached one)."""
    try:
        c = find_container(store, req.container)
    except ContainerNotFound:
        raise DaemonError(f"No such container: {req.container}") from None
    st = c.state()
    not_running = DaemonError(f"Container {c.id} is not running")
    if not c.running():
        raise not_running
    if not st.get("pid_start") or not isinstance(st.get("process"), dict):
        raise CairnError(f"container {c.id[:12]} was started by an older cairn that did not record what exec "
                         "needs: restart it")
    if req.workdir and not req.workdir.startswith("/"):
        raise UsageError(f"invalid -w {req.workdir!r}: the working directory must be an absolute path")
    main = process_from_state(st["process"])
    env, home_given = _env(main.env, req)
    proc = replace(main, args=tuple(req.command), env=env, cwd=req.workdir or main.cwd, terminal=req.tty,
                   init=False)
    if req.privileged:
        from runtime.insecure import held_capabilities

        proc = replace(proc, capabilities=held_capabilities())  # every one cairn holds, as docker's
    if env_list_get(list(env), "PATH") is None:
        raise CairnError("the container has no PATH")  # run always sets one
    prepare = _resolver(req.user, home_given) if req.user else None
    terminal = None
    if req.detach:
        setup_stdio = _stdio_null(False, False)
    elif req.tty:
        from runtime.terminal import Terminal

        terminal = Terminal(req.interactive)
        setup_stdio = terminal.child_setup
    else:
        setup_stdio = None if req.interactive else _stdio_null(False, True)
    relay = _SignalRelay()
    if not req.detach:
        relay.install()
    try:
        try:
            pid = enter.enter(st["pid"], st["pid_start"], proc, cgroup_dirs=tuple(st.get("cgroup_dirs") or ()),
                              prepare=prepare, setup_stdio=setup_stdio, reap=not req.detach)
        except enter.NotRunning:
            raise not_running from None
        except process.ContainerStartError as err:
            raise ContainerError(err.code, err.message) from None
        if req.detach:
            return 0
        if terminal is not None:
            terminal.start_relay()
        relay.target(pid)
        code = process.wait(pid)
        if terminal is not None:
            terminal.finish()
        return code
    finally:
        relay.restore()
