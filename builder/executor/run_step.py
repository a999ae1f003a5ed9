"""RUN: the command runs in a container over the stage's layers; its overlay upper dir
becomes the new layer. Output streams to the progress writer and its tail is kept for the
error message; a non-zero exit fails the build with the step and that output."""

from __future__ import annotations

import os
import re
import threading
from collections import deque

from runtime import insecure as runtime_insecure
from runtime import process, rootless_cgroup
from runtime.cgroups import Cgroup

from ..containers.spec import container_spec, host_resolv_conf, image_user, overlay_root, write_etc_files
from ..image.layer import Layer
from ..instructions import types as t
from ..layers.hashing import tar_digest
from ..layers.tarstream import TarOptions
from ..store.store import Store, remove_tree
from .epoch import clamp_tree
from .mount_stubs import drop_unused_mountpoints
from .run_mounts import RunMounts, remove_scratch, resolve_mounts
from .run_network import StepNetwork, resolv_conf
from .run_resources import RunResources
from .runcmd import RunFailed, heredoc_script, run_command
from .sandbox import Sandbox
from .state import StageState

LOG_PIECE = 1 << 16  # the longest piece of output logged at once (was a whole line, however long)
CGROUP_PREFIX = "build-"  # build-<pid of the cairn process>-<random>
def run_step(store: Store, state: StageState, cmd: t.Run, context, log,
             secrets: dict[str, str] | None = None, from_roots=None, fresh_caches=None, ssh=()) -> Layer:
    """`context` is the BuildContext; `from_roots(name)` gives the layer directories (top
    first) of a stage or image, for RUN --mount=type=bind,from=...; `ssh` the --ssh agents."""
    lowers = state.lowerdirs()
    cfg = state.config
    user = image_user(lowers, state.scope.expand(cfg.get("User") or ""))
    sandbox = state.sandbox or Sandbox()
    network_mode = sandbox.network_mode(state.scope.expand(cmd.network))
    insecure = sandbox.insecure(state.scope.expand(cmd.security))
    resources = state.run_resources or RunResources()
    upper = store.new_tmp_dir("run-upper-")
    os.chmod(upper, 0o755)  # the container's / takes the upper dir's mode (mkdtemp makes 0700)
    work = store.new_tmp_dir("run-work-")
    root = store.new_tmp_dir("run-root-")
    files_dir = store.new_tmp_dir("run-files-")
    run_mounts = RunMounts()
    files = write_etc_files(files_dir, {"/etc/hosts": sandbox.hosts_file(), "/etc/hostname": sandbox.hostname + "\n",
                                        "/etc/resolv.conf": resolv_conf(host_resolv_conf(), network_mode)})
    script = heredoc_script(cmd)
    if script is not None:  # a `#!` heredoc: run as a file, so that its interpreter reads it
        (files_dir / "script").write_text(script.data)
        os.chmod(files_dir / "script", 0o755)
        files.append((script.path, str(files_dir / "script")))
    try:
        run_mounts = resolve_mounts(cmd.mounts, context, store, secrets or {}, from_roots, fresh_caches, ssh,
                                    state.mount_restore)
    except BaseException:
        for d in (upper, work, root, files_dir):
            remove_tree(d)
        raise
    empty = files_dir / "empty"  # (the lower dir of a stage without layers)
    spec = container_spec(
        args=run_command(state, cmd), env=_with_secrets(state.scope.run_env(user.home), run_mounts.env),
        cwd=cfg.get("WorkingDir") or "/", user=user, rlimits=resources.rlimits(),
        root=overlay_root(root, lowers, upper, work, empty), hostname=sandbox.hostname,
        mounts=resources.mounts() + tuple(run_mounts.mounts), files=files, network=network_mode,
        resources=resources.resources())
    if insecure:
        spec = runtime_insecure.insecure(spec)
    read_fd, write_fd = os.pipe()
    tail: deque[str] = deque(maxlen=20)

    def stdio() -> None:
        null = os.open("/dev/null", os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(write_fd, 1)
        os.dup2(write_fd, 2)
        os.close(null)

    def pump() -> None:
        with os.fdopen(read_fd, "rb") as f:  # (a line without its end comes in LOG_PIECE pieces)
            for line in iter(lambda: f.readline(LOG_PIECE), b""):
                text = line.decode("utf-8", "replace").rstrip("\n")
                tail.append(text)
                log(text)

    reader = threading.Thread(target=pump, daemon=True)
    network = None
    cgroup = None
    try:
        cgroup = rootless_cgroup.create(f"{CGROUP_PREFIX}{os.getpid()}-{os.urandom(6).hex()}", resources.cgroup_parent,
                               **({"devices": runtime_insecure.ALL_DEVICES} if insecure else {}))
        cgroup.apply(spec.resources)
        network = StepNetwork(spec.network)

        def before_go(pid: int) -> None:
            # the veth is made and moved while the cgroup writes wait (on cgroup v1 the first
            # waits for an RCU grace period): both before the command runs, each error raised
            failed: list[BaseException] = []

            def wire() -> None:
                try:
                    network.attach(pid)
                except BaseException as err:  # re-raised below, in the step's thread
                    failed.append(err)

            wiring = threading.Thread(target=wire, name="cairn-step-net")
            wiring.start()
            try:
                cgroup.add(pid)
            finally:
                wiring.join()
            if failed:
                raise failed[0]

        reader.start()
        try:
            pid = process.start(spec, before_go=before_go, setup_stdio=stdio)
        except process.ContainerStartError as err:
            raise RunFailed(err.message, err.code) from None
        finally:
            os.close(write_fd)
        code = process.wait(pid)
        reader.join(timeout=30)
        if code != 0:
            shown = "\n".join(f"  {line}" for line in tail)
            raise RunFailed(f"the command exited with code {code}" + (f"; its last output:\n{shown}" if shown else ""),
                            code, tuple(tail))
        extra = []
        for m in spec.mounts:  # mount targets, parents first then the target itself, last-made first
            parts = [p for p in m.destination.split("/") if p]
            extra += ["/" + "/".join(parts[:i]) for i in range(len(parts), 0, -1)]
        drop_unused_mountpoints(str(upper), lowers, tuple(extra))
        os.chmod(upper, 0o755)
        clamp_tree(str(upper), state.epoch)
        diff_id, size = tar_digest(upper, TarOptions(state.epoch))
        store.commit_snapshot(upper, diff_id, size, state.epoch)
        from ..image import oci

        return Layer(diff_id, oci.Descriptor(oci.OCI_LAYER, diff_id, size))
    except BaseException:
        remove_tree(upper)
        raise
    finally:
        if network is not None:
            network.close()
        if cgroup is not None:
            cgroup.destroy()
        remove_scratch(run_mounts)
        for d in (work, root, files_dir):
            remove_tree(d)


def _with_secrets(env: list[str], secret_env: dict[str, str]) -> tuple[str, ...]:
    """The step's environment with the variables its secret mounts set (they win)."""
    kept = [e for e in env if e.split("=", 1)[0] not in secret_env]
    return tuple(kept + [f"{k}={v}" for k, v in secret_env.items()])


def reap_orphan_cgroups(parent: str | None = None) -> None:
    """Remove the cgroups of RUN steps whose cairn process is gone (killed with -9: its
    container died with it, the empty cgroup stayed). Each name holds its build's pid.
    A --cgroup-parent's are reaped by the next build given that parent."""
    from ..containers.dirs import process_alive

    if rootless_cgroup.userns.active() is not None:
        return  # rootless: the cgroups there are root's (or made in a delegated subtree, per container)
    for name in Cgroup.names(parent):
        owner = name[len(CGROUP_PREFIX):].split("-", 1)[0]
        if name.startswith(CGROUP_PREFIX) and owner.isdigit() and not process_alive(int(owner)):
            cgroup = Cgroup.existing(name, parent)
            if cgroup is None:
                continue
            # below a user's parent, only an empty cgroup of exactly our naming is ours to remove
            if parent is None or (re.fullmatch(CGROUP_PREFIX + r"\d+-[0-9a-f]{12}", name) and not cgroup.pids()):
                cgroup.destroy()

