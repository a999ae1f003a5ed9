"""`cairn inspect CONTAINER`: a container in the JSON shape of docker's ContainerJSON, built
from its state.json (what run recorded) and its image's config."""

from __future__ import annotations

import ipaddress
from datetime import datetime, timezone

from ..store.store import Store
from .dirs import ContainerDir

ZERO_TIME = "0001-01-01T00:00:00Z"


def rfc3339(ts: float | None) -> str:
    """Go's RFC3339Nano in UTC, as docker writes times (ZERO_TIME when never)."""
    if not ts:
        return ZERO_TIME
    whole = int(ts)
    nanos = int(round((ts - whole) * 1e9))
    text = datetime.fromtimestamp(whole, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    frac = f"{nanos:09d}".rstrip("0")
    return f"{text}.{frac}Z" if frac else f"{text}Z"


def _status(c: ContainerDir, st: dict) -> str:
    if c.running():
        return "running"
    if st.get("status") in ("created", "exited"):
        return st["status"] if st["status"] == "created" and not st.get("pid") else "exited"
    return "dead"


def _image_config(store: Store, st: dict) -> dict:
    from ..store import images

    try:
        record = images.resolve(store, st.get("image_id") or st.get("image") or "")
        _manifest, config = images.load_documents(store, record)
        return config.config or {}
    except Exception:  # the image may be gone since (rmi): inspect still works
        return {}


def _port_key(p: dict) -> str:
    return f"{p.get('container_port')}/{p.get('protocol', 'tcp')}"


def container_doc(store: Store, c: ContainerDir) -> dict:
    st = c.state()
    req = st.get("request") or {}
    proc = st.get("process") or {}
    config = _image_config(store, st)
    status = _status(c, st)
    running = status == "running"
    command = list(st.get("command") or [])
    # the ports as published (-P's host ports are picked at start), else as asked
    ports = [p for p in st.get("ports") or req.get("ports") or [] if isinstance(p, dict)]
    bindings: dict = {}
    for p in ports:
        host_ip = p.get("host_ip", "")
        bindings.setdefault(_port_key(p), []).append({"HostIp": "" if host_ip == "0.0.0.0" else host_ip,
                                                      "HostPort": str(p.get("host_port"))})
    exposed = {k: {} for k in (config.get("ExposedPorts") or {})} | {k: {} for k in bindings}
    volumes = [v for v in req.get("volumes") or [] if isinstance(v, dict)]
    network = req.get("network") or "bridge"
    address = st.get("address") or ""
    gateway, prefix = "", 0
    if address:
        from .ipam import bridge_config

        bridge = bridge_config()
        gateway, prefix = str(bridge.gateway), ipaddress.ip_network(bridge.subnet).prefixlen
    entrypoint = config.get("Entrypoint")
    cmd = config.get("Cmd")
    if req.get("entrypoint") is not None:
        entrypoint, cmd = ([req["entrypoint"]] if req["entrypoint"] else None), None
    if req.get("command"):
        cmd = list(req["command"])
    cpus = req.get("cpus")
    env = proc.get("env") or list(config.get("Env") or [])
    net_ports = {k: None for k in exposed}
    if running:
        net_ports.update(bindings)
    doc = {
        "Id": c.id,
        "Created": rfc3339(st.get("created")),
        "Path": command[0] if command else "",
        "Args": command[1:],
        "State": {
            "Status": status, "Running": running, "Paused": False, "Restarting": False,
            "OOMKilled": bool(st.get("oom_killed")), "Dead": status == "dead",
            "Pid": st.get("pid", 0) if running else 0, "ExitCode": 0 if running else st.get("exit_code", 0),
            "Error": st.get("error", "") or "", "StartedAt": rfc3339(st.get("started")),
            "FinishedAt": ZERO_TIME if running else rfc3339(st.get("finished")),
        },
        "Image": st.get("image_id", ""),
        "ResolvConfPath": str(c.path / "resolv.conf"),
        "HostnamePath": str(c.path / "hostname"),
        "HostsPath": str(c.path / "hosts"),
        "LogPath": str(c.path / "log") if (c.path / "log").exists() else "",
        "Name": "/" + (st.get("name") or c.id[:12]),
        "RestartCount": 0,
        "Driver": "overlay",
        "Platform": "linux",
        "HostConfig": {
            "Binds": [f"{v['source']}:{v['destination']}" + (":ro" if v.get("readonly") else "") for v in volumes]
            or None,
            "NetworkMode": network,
            "PortBindings": bindings,
            "RestartPolicy": {"Name": "no", "MaximumRetryCount": 0},
            "LogConfig": {"Type": "json-file", "Config": {}},  # (docker-py reads it to know logs are kept)
            "AutoRemove": bool(st.get("remove")),
            "CapAdd": req.get("cap_add") or None,
            "CapDrop": req.get("cap_drop") or None,
            "Privileged": bool(req.get("privileged")),
            "ReadonlyRootfs": bool(req.get("read_only")),
            "Init": bool(req["init"]) if req.get("init") else None,
            "Memory": req.get("memory") or 0,
            "NanoCpus": int(round(cpus * 1e9)) if cpus else 0,
            "PidsLimit": req.get("pids_limit"),
        },
        "Mounts": [{"Type": "bind", "Source": v["source"], "Destination": v["destination"], "Mode": "ro"
                    if v.get("readonly") else "", "RW": not v.get("readonly"), "Propagation": "rprivate"}
                   for v in volumes],
        "Config": {
            "Hostname": req.get("hostname") or c.id[:12],
            "Domainname": "",
            "User": req.get("user") or config.get("User") or "",
            "AttachStdin": bool(req.get("interactive")),
            "AttachStdout": not st.get("monitor"),
            "AttachStderr": not st.get("monitor"),
            "ExposedPorts": exposed or None,
            "Tty": bool(req.get("tty")),
            "OpenStdin": bool(req.get("interactive")),
            "StdinOnce": bool(req.get("interactive")),
            "Env": env,
            "Cmd": cmd,
            "Image": st.get("image", ""),
            "Volumes": None,
            "WorkingDir": proc.get("cwd") or config.get("WorkingDir") or "",
            "Entrypoint": entrypoint,
            "OnBuild": None,
            "Labels": st["labels"] if isinstance(st.get("labels"), dict) else dict(config.get("Labels") or {}),
            "StopSignal": st.get("stop_signal") or "SIGTERM",
        },
        "NetworkSettings": {
            "IPAddress": address, "IPPrefixLen": prefix, "Gateway": gateway, "MacAddress": "",
            "Ports": net_ports,
            "Networks": {network: {"IPAddress": address, "IPPrefixLen": prefix, "Gateway": gateway}},
        },
    }
    if st.get("healthcheck"):
        doc["Config"]["Healthcheck"] = st["healthcheck"]
        health = st.get("health") or {}
        doc["State"]["Health"] = {"Status": health.get("status") or "starting",
                                  "FailingStreak": health.get("failing_streak", 0), "Log": health.get("log") or []}
    return doc
