"""What docker run's metadata flags make of a container, from its RunRequest and image
config: /etc/resolv.conf with --dns/--dns-search/--dns-option, /etc/hosts lines of
--add-host, the ports -P publishes, the labels, the stop signal and the Healthcheck
(the flags' fields over the image's), and the PORTS text `ps` shows.
"""

from __future__ import annotations

DEFAULT_STOP_TIMEOUT = 10  # seconds, docker's


def resolv_conf(host: str, dns: tuple[str, ...], search: tuple[str, ...], options: tuple[str, ...]) -> str:
    """The host's resolv.conf with the lines the flags give replaced, as docker does."""
    lines = host.splitlines()
    if dns:
        lines = [l for l in lines if not l.strip().startswith("nameserver")] + [f"nameserver {d}" for d in dns]
    if search:
        lines = [l for l in lines if not l.strip().startswith(("search", "domain"))]
        if search != (".",):
            lines.append("search " + " ".join(s for s in search if s != "."))
    if options:
        lines = [l for l in lines if not l.strip().startswith("options")] + ["options " + " ".join(options)]
    return "\n".join(lines) + "\n" if lines else ""


def extra_hosts_lines(extra_hosts) -> str:
    return "".join(f"{ip}\t{name}\n" for name, ip in extra_hosts)


def exposed_ports(config: dict, given: tuple) -> tuple:
    """-P: every port the image EXPOSEs and -p does not publish, to a free host port on all
    addresses (host port 0: the kernel picks it when the proxy binds)."""
    from runtime.portproxy import PortMapping

    taken = {(m.container_port, m.protocol) for m in given}
    out = []
    for text in sorted(config.get("ExposedPorts") or {}):
        number, _, proto = str(text).partition("/")
        proto = proto or "tcp"
        if not number.isdigit() or not 0 < int(number) < 65536 or proto not in ("tcp", "udp"):
            continue  # sctp and odd entries of a pulled image: nothing to publish
        if (int(number), proto) not in taken:
            out.append(PortMapping(0, int(number), proto))
    return tuple(out)


def labels(config: dict, given: tuple[tuple[str, str], ...]) -> dict:
    merged = {str(k): str(v) for k, v in (config.get("Labels") or {}).items()}
    merged.update(given)
    return merged


def healthcheck(config: dict, given: dict | None) -> dict | None:
    """The Healthcheck that applies, or None: the flags' fields over the image's."""
    merged = dict(config.get("Healthcheck") or {})
    merged.update(given or {})
    test = list(merged.get("Test") or [])
    if not test or test[0] == "NONE":
        return None
    return merged


def ports_text(state: dict) -> str:
    """docker ps's PORTS: `0.0.0.0:32768->80/tcp, 0.0.0.0:8080->8080/tcp`."""
    return ", ".join(f"{p['host_ip']}:{p['host_port']}->{p['container_port']}/{p['protocol']}"
                     for p in state.get("ports") or [])


def health_text(state: dict) -> str:
    """The part of docker ps's STATUS after "Up 5 seconds": ` (healthy)`."""
    status = (state.get("health") or {}).get("status")
    if status == "starting":
        return " (health: starting)"
    return f" ({status})" if status else ""
