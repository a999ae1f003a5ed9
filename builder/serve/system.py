"""/_ping, /version and /info, in docker's shapes (the engine is cairn, API 1.41)."""

from __future__ import annotations

import os
import platform
import socket
import sys

from .http import Response, json_response
from .router import API_VERSION, MIN_API_VERSION

_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386"}
_PING_HEADERS = {"Builder-Version": "1", "Cache-Control": "no-cache, no-store, must-revalidate",
                 "Pragma": "no-cache"}


def cairn_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("cairn")
    except PackageNotFoundError:
        return "unknown"


def ping(_ctx, _request) -> Response:
    return Response(200, b"OK", "text/plain; charset=utf-8", dict(_PING_HEADERS))


def version(_ctx, _request) -> Response:
    uname = os.uname()
    common = {"Version": cairn_version(), "ApiVersion": API_VERSION, "MinAPIVersion": MIN_API_VERSION,
              "GitCommit": "", "GoVersion": f"python{platform.python_version()}", "Os": sys.platform,
              "Arch": _ARCH.get(uname.machine, uname.machine), "KernelVersion": uname.release}
    return json_response({"Platform": {"Name": "cairn"},
                          "Components": [{"Name": "Engine", "Version": common["Version"],
                                          "Details": {"Experimental": "false",
                                                      **{k: str(v) for k, v in common.items() if k != "Version"}}}],
                          **common, "BuildTime": ""})


def info(ctx, _request) -> Response:
    from ..containers.dirs import all_containers
    from ..store import images

    with ctx.store() as store:
        image_count = len(images.list_images(store))
        containers = all_containers(store)
        running = sum(1 for c in containers if c.running())
    uname = os.uname()
    return json_response({
        "ID": "cairn", "Name": socket.gethostname(), "ServerVersion": cairn_version(),
        "Containers": len(containers), "ContainersRunning": running, "ContainersPaused": 0,
        "ContainersStopped": len(containers) - running, "Images": image_count,
        "Driver": "overlay", "DriverStatus": [["Store", ctx.root]], "DockerRootDir": ctx.root,
        "Plugins": {"Volume": ["local"], "Network": ["bridge", "host", "none"], "Authorization": None,
                    "Log": ["json-file"]},
        "MemoryLimit": True, "SwapLimit": False, "CpuCfsPeriod": True, "CpuCfsQuota": True,
        "PidsLimit": True, "IPv4Forwarding": True, "Debug": False, "NFd": 0, "NGoroutines": 0,
        "LoggingDriver": "json-file", "CgroupDriver": "cgroupfs", "CgroupVersion": "2",
        "KernelVersion": uname.release, "OperatingSystem": _os_name(), "OSType": "linux",
        "OSVersion": "", "Architecture": uname.machine, "NCPU": os.cpu_count() or 1,
        "MemTotal": _mem_total(), "IndexServerAddress": "https://index.docker.io/v1/",
        "RegistryConfig": {"IndexConfigs": {}, "InsecureRegistryCIDRs": ["127.0.0.0/8"], "Mirrors": []},
        "Runtimes": {"cairn": {"path": "cairn"}}, "DefaultRuntime": "cairn",
        "Swarm": {"LocalNodeState": "inactive", "NodeID": "", "NodeAddr": "", "ControlAvailable": False},
        "LiveRestoreEnabled": False, "Isolation": "", "InitBinary": "", "SecurityOptions": [],
        "Labels": [], "ExperimentalBuild": False, "HttpProxy": "", "HttpsProxy": "", "NoProxy": "",
        "Warnings": None})


def _os_name() -> str:
    try:
        with open("/etc/os-release", encoding="utf-8") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return "Linux"


def _mem_total() -> int:
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            return int(f.readline().split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return 0


def add_routes(router) -> None:
    router.add("GET", "/_ping", ping)
    router.add("GET", "/version", version)
    router.add("GET", "/info", info)
