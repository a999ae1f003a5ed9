"""Containers: from an image in the store to a runtime Spec, run, and cleaned up.

A container is a directory `<store>/containers/<id>/` holding its overlay upper and work
dirs, the mount point of its root, its /etc/hosts, /etc/hostname and /etc/resolv.conf,
and `state.json`. The image's layers are the store's shared snapshots (overlay lower
dirs, top first); only the upper dir is the container's own.
"""

from __future__ import annotations

import os
import re
import signal
import time

from runtime import process, rootless_cgroup, userns
from runtime.devices import ALLOWED
from runtime.spec import Resources, Spec

from ..errors import CairnError, UsageError
from ..image.envlist import DEFAULT_PATH, env_list_get, env_list_set
from ..store import images
from ..store.store import Store, remove_tree
from . import metadata
from .dirs import ContainerDir
from .envflags import apply_env_flags
from .request import ContainerError, RunRequest, Volume  # noqa: F401  (imported from here too)
from .run_network import Network
from .spec import container_spec, host_resolv_conf, image_user, overlay_root, write_etc_files

FORWARDED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1,
                     signal.SIGUSR2)
NETWORK_MODES = ("bridge", "none", "host")
_NAME = r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$"  # (compiled by the first --name: re's cache)
DOCKER_HOSTS = ("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\n"
                "ff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n")


def _command(config: dict, req: RunRequest) -> list[str]:
    entrypoint = list(config.get("Entrypoint") or [])
    cmd = list(config.get("Cmd") or [])
    if req.entrypoint is not None:
        entrypoint = [req.entrypoint] if req.entrypoint else []
        cmd = []  # docker: --entrypoint clears the image's CMD
    if req.command:
        cmd = list(req.command)
    args = entrypoint + cmd
    if not args:
        raise UsageError("no command specified: the image has no CMD or ENTRYPOINT; give one after the image")
    return args


def _env(config: dict, req: RunRequest, home: str) -> list[str]:
    env = list(config.get("Env") or [])
    if env_list_get(env, "PATH") is None:
        env = env_list_set(env, "PATH", DEFAULT_PATH)
    env = apply_env_flags(env, (*req.env_file_env, *req.env))
    if env_list_get(env, "HOME") is None:
        env = env_list_set(env, "HOME", home)
    if env_list_get(env, "HOSTNAME") is None and req.hostname:
        env = env_list_set(env, "HOSTNAME", req.hostname)
    return env


def prepare(store: Store, req: RunRequest, cid: str | None = None) -> "Prepared":
    if req.network not in NETWORK_MODES:
        raise UsageError(f"invalid --network {req.network!r}: use one of {', '.join(NETWORK_MODES)}")
    if req.ports and req.network != "bridge":
        raise UsageError(f"-p needs the bridge network, not --network {req.network}")
    if req.name:
        from .dirs import name_taken

        if not re.match(_NAME, req.name):
            raise UsageError(f"invalid --name {req.name!r}: use letters, digits, '_', '.' and '-'")
        if owner := name_taken(store, req.name):
            raise CairnError(f'Conflict. The container name "/{req.name}" is already in use by container '
                             f'"{owner}". You have to remove (or rename) that container to be able to reuse '
                             f'that name.')
    image = images.resolve(store, req.image)
    manifest, config_doc = images.load_documents(store, image)
    from ..registry.layer_sources import ensure_snapshots

    ensure_snapshots(store, image.layers, req.registry)  # also leases them while the container runs
    lowers = [str(store.snapshot_path(layer.diff_id)) for layer in reversed(image.layers)]
    config = config_doc.config
    cid = cid or os.urandom(32).hex()
    hostname = req.hostname or cid[:12]
    req = RunRequest(**{**req.__dict__, "hostname": hostname})
    user = image_user(lowers, req.user or config.get("User") or "")
    args = _command(config, req)
    env = _env(config, req, user.home)
    cdir = ContainerDir(store, cid)
    cdir.create()
    # at once, so that a cairn killed before the container starts is still found and reaped
    cdir.write_state(id=cid, status="created", created=time.time(), owner=os.getpid(), remove=req.remove)
    if req.cidfile:
        _write_cidfile(req.cidfile, cid)
    hosts = DOCKER_HOSTS
    address = None
    rootless = userns.active() is not None
    if req.network == "bridge" and rootless:  # slirp4netns: the same address in every container
        from runtime import slirp

        hosts += f"{slirp.GUEST_ADDRESS}\t{hostname}\n"
    elif req.network == "bridge":
        from .ipam import allocate, bridge_config  # (here: --network none loads no ipam)

        bridge = bridge_config()
        address = allocate(bridge.name, bridge.subnet, cid, str(store.root))
        hosts += f"{address}\t{hostname}\n"
    hosts += metadata.extra_hosts_lines(req.extra_hosts)
    host_resolv = host_resolv_conf()
    if rootless and req.network == "bridge":  # slirp4netns's forwarder to the host's name servers
        from runtime import slirp

        host_resolv = slirp.resolv_conf(host_resolv)
    resolv = metadata.resolv_conf(host_resolv, req.dns, req.dns_search, req.dns_options)
    file_mounts = write_etc_files(cdir.path, {"/etc/hosts": hosts, "/etc/hostname": hostname + "\n",
                                              "/etc/resolv.conf": resolv})
    workdir = req.workdir or config.get("WorkingDir") or "/"
    if not workdir.startswith("/"):
        raise UsageError(f"invalid -w {workdir!r}: the working directory must be an absolute path")
    from . import run_privileges
    from .run_fs import mounts_for

    fs = mounts_for(store, req, config)
    if fs.volumes or fs.anonymous:  # recorded at once, so that a failure below still finds them
        cdir.write_state(volumes=list(fs.volumes), anonymous_volumes=list(fs.anonymous))
    spec = container_spec(
        args=args, env=env, cwd=workdir, user=user, terminal=req.tty, init=req.init, rlimits=req.rlimits,
        root=overlay_root(cdir.rootfs, lowers, cdir.upper, cdir.work, cdir.path / "empty", readonly=req.read_only),
        hostname=hostname, mounts=fs.mounts, resources=Resources(req.memory, req.cpus, req.pids_limit),
        files=file_mounts, network=req.network)
    spec, device_rules = run_privileges.apply(spec, cap_add=req.cap_add, cap_drop=req.cap_drop,
                                              privileged=req.privileged, devices=req.devices, security=req.security)
    cdir.write_state(id=cid, name=req.name, image=req.image, image_id=str(image.id), command=args,
                     created=time.time(), status="created", owner=os.getpid(), address=str(address) if address else None,
                     stop_signal=req.stop_signal or config.get("StopSignal") or "SIGTERM", remove=req.remove,
                     stop_timeout=req.stop_timeout, labels=metadata.labels(config, req.labels),
                     healthcheck=metadata.healthcheck(config, req.healthcheck),
                     volumes=list(fs.volumes), anonymous_volumes=list(fs.anonymous))
    ports = req.ports + (metadata.exposed_ports(config, req.ports) if req.publish_all else ())
    return Prepared(spec, cdir, config, address, ports if req.network == "bridge" else (), device_rules)


def _write_cidfile(path: str, cid: str) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except OSError as err:
        raise CairnError(f"cannot write --cidfile {path}: {err.strerror}") from None
    with os.fdopen(fd, "w") as f:
        f.write(cid)


class Prepared:
    """A container made and not started: its Spec, directory and image config."""

    def __init__(self, spec: Spec, cdir: ContainerDir, config: dict, address=None, ports: tuple = (),
                 device_rules: tuple = ALLOWED):
        self.spec, self.cdir, self.config = spec, cdir, config
        self.address = address  # ipaddress.IPv4Address on the bridge
        self.ports = ports  # runtime.portproxy.PortMapping: -p and -P's
        self.device_rules = device_rules  # the device cgroup's allow-list


def _stdin_null() -> None:
    fd = os.open("/dev/null", os.O_RDONLY)
    os.dup2(fd, 0)
    os.close(fd)


def run(store: Store, req: RunRequest) -> int:
    """Run in the foreground; returns the container's exit code (docker's codes on failure)."""
    early = None
    if userns.active() is None and not req.privileged and not req.devices:
        from .run_cgroup import EarlyCgroup

        early = EarlyCgroup(os.urandom(32).hex())  # made while we prepare (see run_cgroup)
    try:
        prep = prepare(store, req, cid=early.cid if early else None)
    except BaseException:
        if early is not None:
            early.discard()
        raise
    # a foreground --rm run's directory is removed right after its container exits: no
    # "exited" record first (were cairn killed in between, reap_stale cleans up a container
    # whose owner died while it "ran", and skips an exited one)
    return run_prepared(store, prep, req, early=early, record_exit=not req.remove)


def run_prepared(store: Store, prep: Prepared, req: RunRequest, on_started=None, early=None,
                 record_exit: bool = True) -> int:
    """Start a prepared container, wait for it, tear everything down; its exit code.

    `on_started(pid)` is called once the command has been exec'd (detached runs report
    back to the waiting CLI with it). `early`: a run_cgroup.EarlyCgroup made for it.
    `record_exit`: write the exited state (its code, OOM kill); not when nobody will read it.
    """
    spec, cdir = prep.spec, prep.cdir
    cgroup = refill = recording = None
    relay = _SignalRelay()
    net = Network(store, prep, req)
    try:
        if early is not None:
            cgroup = early.take(prep.device_rules)
        relay.install()
        net.setup_before_start()
        if cgroup is None:
            cgroup = rootless_cgroup.create(cdir.id[:32], devices=prep.device_rules, pooled=True)
        cgroup.apply(spec.resources)

        def before_go(pid: int) -> None:
            wiring = net.attach_in_thread(pid)  # the veth made and moved while the cgroup writes wait
            try:
                cgroup.add(pid)
            finally:
                net.join_attach(wiring)

        terminal = None
        setup_stdio = None if req.interactive else _stdin_null
        if req.tty:
            from runtime.terminal import Terminal

            terminal = Terminal(req.interactive)
            setup_stdio = terminal.child_setup
        try:
            pid = process.start(spec, before_go=before_go, setup_stdio=setup_stdio)
        except process.ContainerStartError as err:
            cdir.write_state(status="exited", exit_code=err.code, error=err.message, finished=time.time())
            raise ContainerError(err.code, err.message) from None
        from ..startup_gc import resume

        resume()  # started: `run` waits, relays or monitors with the collector on (builder.startup_gc)
        if terminal is not None:
            terminal.start_relay()
        relay.target(pid)
        from .record import running_fields

        running = dict(status="running", pid=pid, started=time.time(), **running_fields(pid, spec, cgroup, req))
        if on_started is not None:  # (the detached run's caller may look at once: on disk first)
            cdir.write_state(**running)
            on_started(pid)
        else:  # written while the command runs (a short one has often exited by the end of it)
            recording = _in_thread(cdir.write_state, running)
        if early is None or cgroup is not early.taken:
            refill = _refill_pool(cgroup)  # (a cgroup made early: that thread refills the pool)
        code = process.wait(pid)
        if recording is not None:
            recording.join()
        net.teardown()  # now: the veth's deletion waits in the kernel while the rest goes
        if terminal is not None:
            terminal.finish()
        if record_exit:
            oom = cgroup.oom_killed()
            cdir.write_state(status="exited", exit_code=code, finished=time.time(), oom_killed=oom)
        return code
    except BaseException:
        if recording is not None:
            recording.thread.join()  # (its "running" must not land after the "exited" below)
        if cdir.state().get("status") != "exited":
            cdir.write_state(status="exited", exit_code=125, finished=time.time())
        raise
    finally:
        relay.restore()
        try:
            net.teardown()
        finally:
            try:
                if cgroup is not None:
                    cgroup.destroy()
                if req.remove:
                    anonymous = cdir.state().get("anonymous_volumes") or ()
                    remove_tree(cdir.path)
                    if anonymous:
                        from .volumes import remove_anonymous

                        remove_anonymous(store, anonymous)
            finally:
                net.wait_detached()
                if refill is not None:
                    refill.join()
                if early is not None:
                    early.discard()


class _in_thread:
    """fn(**kwargs) in a thread; join() raises what it raised."""

    def __init__(self, fn, kwargs: dict):
        import threading

        self.fn, self.kwargs, self.error = fn, kwargs, None
        self.thread = threading.Thread(target=self._run, name="cairn-run-state")
        self.thread.start()

    def _run(self) -> None:
        try:
            self.fn(**self.kwargs)
        except BaseException as err:  # noqa: BLE001  (re-raised by join, in the caller's thread)
            self.error = err

    def join(self) -> None:
        self.thread.join()
        if self.error is not None:
            raise self.error


def _refill_pool(cgroup):
    """Make the cgroup pool's entry this start took, while the container runs (the wait
    is in the kernel): the next start takes it (runtime.cgroup_pool)."""
    if not getattr(cgroup, "pooled", False):
        return None
    import threading

    thread = threading.Thread(target=cgroup.refill_pool, daemon=True)
    thread.start()
    return thread


class _SignalRelay:
    """Forwards the signals cairn gets to the container; ones that come before the
    container exists are held and delivered once it does."""

    def __init__(self) -> None:
        self.pid: int | None = None
        self.pending: list[int] = []
        self.saved: dict = {}

    def install(self) -> None:
        for sig in FORWARDED_SIGNALS:
            self.saved[sig] = signal.signal(sig, self._on_signal)

    def _on_signal(self, sig: int, _frame) -> None:
        if self.pid is None:
            self.pending.append(sig)
        else:
            _forward(self.pid, sig)

    def target(self, pid: int) -> None:
        self.pid = pid
        for sig in self.pending:
            _forward(pid, sig)
        self.pending.clear()

    def restore(self) -> None:
        for sig, old in self.saved.items():
            signal.signal(sig, old)
        self.saved.clear()


def _forward(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass
