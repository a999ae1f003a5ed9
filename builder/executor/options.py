"""The options of a build (what `cairn build` flags set) and the error of a failed step."""

from __future__ import annotations

from runtime.record import Record, record

from ..errors import CairnError


@record
class BuildOptions(Record):
    tags: tuple[str, ...] = ()
    target: str | None = None
    build_args: tuple[tuple[str, str], ...] = ()
    dockerfile_name: str = "Dockerfile"
    secrets: tuple[tuple[str, str], ...] = ()  # id -> host file, for RUN --mount=type=secret
    no_cache: bool = False
    no_cache_filter: tuple[str, ...] = ()  # stages (names or indexes) whose steps skip the cache
    pull: bool = False  # resolve every base image at its registry, even when the store has it
    registry: object = None  # RegistryOptions for pulling base images (None: defaults)
    cache_from: tuple = ()  # CacheSpecs to match keys against (registry refs, layout directories)
    cache_to: tuple = ()  # CacheSpecs to export this build's records to
    base_store: object = None  # a Store to copy missing base images from before pulling them
    allow: tuple[str, ...] = ()  # entitlements given with --allow (network.host, security.insecure)
    run_resources: object = None  # RunResources: --shm-size, --ulimit, --cgroup-parent, -m, --cpu-quota...
    platform: str = ""  # --platform: the target platform (empty: the host's)
    contexts: tuple = ()  # named_contexts.NamedContext from --build-context
    ssh: tuple = ()  # SshSources from --ssh, for RUN --mount=type=ssh
    labels: tuple[tuple[str, str], ...] = ()  # --label: set on the image over the Dockerfile's LABELs
    network: str = "default"  # --network: the network of every RUN without its own --network
    add_hosts: tuple[tuple[str, str], ...] = ()  # --add-host: (name, IP) lines in RUN's /etc/hosts


class BuildError(CairnError):
    """A step failed; the message starts with `Dockerfile:LINE:`. A RUN that exited non-zero
    also carries its step_failure.StepFailure (what BuildKit prints of it)."""

    def __init__(self, message: str, failure=None):
        super().__init__(message)
        self.failure = failure
