"""`cairn run`'s process and metadata flags, with docker run's meaning and syntax:

--env-file, --add-host, --dns, --dns-search, --dns-option, --ulimit, -l/--label,
--label-file, --cidfile, -P/--publish-all, --stop-signal, --stop-timeout and the
--health-* flags (--no-healthcheck). `meta_options` adds them to the command and hands
them over as one `meta` dict; `request_fields` turns that into RunRequest fields.
"""

from __future__ import annotations

import os
import re
import signal

import click

from ..containers.request import dns_search, dns_server
from ..errors import UsageError
from .option_group import option_group

_MULTI = dict(multiple=True)
OPTIONS = (
    click.option("--env-file", "env_files", metavar="FILE", **_MULTI,
                 help="Read environment variables from a file (KEY=VALUE lines, # comments)."),
    click.option("--add-host", "add_hosts", metavar="HOST:IP", **_MULTI,
                 help="Add a line to /etc/hosts (IP may be host-gateway)."),
    click.option("--dns", "dns", metavar="IP", **_MULTI, help="Set a DNS server in /etc/resolv.conf."),
    click.option("--dns-search", "dns_search", metavar="DOMAIN", **_MULTI, help="Set a DNS search domain."),
    click.option("--dns-option", "dns_options", metavar="OPT", **_MULTI, help="Set a DNS option."),
    click.option("--ulimit", "ulimits", metavar="NAME=SOFT[:HARD]", **_MULTI,
                 help="Set a process limit, as nofile=1024:2048."),
    click.option("-l", "--label", "labels", metavar="KEY=VALUE", **_MULTI, help="Set a label on the container."),
    click.option("--label-file", "label_files", metavar="FILE", **_MULTI,
                 help="Read labels from a file (KEY=VALUE lines)."),
    click.option("--cidfile", default="", metavar="FILE", help="Write the container ID to the file."),
    click.option("-P", "--publish-all", "publish_all", is_flag=True,
                 help="Publish every exposed port of the image to a free host port."),
    click.option("--stop-signal", default="", metavar="SIGNAL", help="Signal that `cairn stop` sends."),
    click.option("--stop-timeout", type=int, default=None, metavar="SECONDS",
                 help="Seconds `cairn stop` waits before SIGKILL."),
    click.option("--health-cmd", default=None, metavar="CMD", help="Command to run to check health."),
    click.option("--health-interval", default=None, metavar="DURATION", help="Time between checks (30s)."),
    click.option("--health-timeout", default=None, metavar="DURATION", help="Longest a check may run (30s)."),
    click.option("--health-retries", type=int, default=None, help="Consecutive failures before unhealthy (3)."),
    click.option("--health-start-period", default=None, metavar="DURATION",
                 help="Time to start before failures count (0s)."),
    click.option("--health-start-interval", default=None, metavar="DURATION",
                 help="Time between checks during the start period (5s)."),
    click.option("--no-healthcheck", is_flag=True, help="Disable the image's HEALTHCHECK."),
)
NAMES = ("env_files", "add_hosts", "dns", "dns_search", "dns_options", "ulimits", "labels", "label_files",
         "cidfile", "publish_all", "stop_signal", "stop_timeout", "health_cmd", "health_interval",
         "health_timeout", "health_retries", "health_start_period", "health_start_interval", "no_healthcheck")
_HEALTH_DURATIONS = (("health_interval", "Interval"), ("health_timeout", "Timeout"),
                     ("health_start_period", "StartPeriod"), ("health_start_interval", "StartInterval"))


meta_options = option_group("meta", OPTIONS, NAMES)  # the command gets them as one `meta` argument


def request_fields(meta: dict) -> dict:
    """RunRequest fields from the flags; UsageError naming the flag and value it refuses."""
    rlimits: dict[str, tuple[int, int]] = {}
    for text in meta["ulimits"]:
        from ..executor.run_resources import parse_ulimit  # (only --ulimit loads the executor's parser)

        name, soft, hard = parse_ulimit(text)
        rlimits[f"RLIMIT_{name.upper()}"] = (soft, hard)  # the last one of a name wins
    labels: dict[str, str] = {}
    for path in meta["label_files"]:
        for line in read_key_value_file(path, "--label-file", None):
            key, _, value = line.partition("=")
            labels[key] = value
    for text in meta["labels"]:
        key, _, value = text.partition("=")
        if not key:
            raise UsageError(f"invalid label {text!r}: empty name")
        labels[key] = value
    return dict(
        env_file_env=tuple(line for path in meta["env_files"]
                           for line in read_key_value_file(path, "--env-file", os.environ.get)),
        extra_hosts=tuple(_add_host(h) for h in meta["add_hosts"]),
        dns=tuple(dns_server(d) for d in meta["dns"]),
        dns_search=tuple(dns_search(d) for d in meta["dns_search"]),
        dns_options=tuple(meta["dns_options"]),
        rlimits=tuple((name, *v) for name, v in rlimits.items()),
        labels=tuple(labels.items()),
        publish_all=meta["publish_all"],
        stop_signal=_stop_signal(meta["stop_signal"]) if meta["stop_signal"] else "",
        stop_timeout=meta["stop_timeout"],
        healthcheck=_healthcheck(meta),
        cidfile=_cidfile(meta["cidfile"]),
    )


def read_key_value_file(path: str, flag: str, lookup) -> list[str]:
    """docker's env/label file: KEY=VALUE lines taken as they are (no quotes, no
    expansion), blank lines and `#` lines skipped; a bare KEY takes `lookup(KEY)` and is
    left out when that is None (or when there is no lookup)."""
    try:
        with open(path, "rb") as f:
            data = f.read(16 << 20)
    except OSError as err:
        raise UsageError(f"{flag} {path}: {err.strerror}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"{flag} {path}: not UTF-8 text") from None
    out = []
    for number, raw in enumerate(text.removeprefix("\ufeff").split("\n"), 1):
        line = raw.removesuffix("\r").lstrip()
        if not line or line.startswith("#"):
            continue
        key, eq, value = line.partition("=")
        if eq and not key:
            raise UsageError(f"{flag} {path}:{number}: no variable name on line {line!r}")
        if re.search(r"\s", key):
            raise UsageError(f"{flag} {path}:{number}: variable {key!r} contains whitespaces")
        if eq:
            out.append(f"{key}={value}")
        elif lookup is not None and (host := lookup(key)) is not None:
            out.append(f"{key}={host}")
    return out


def _add_host(text: str) -> tuple[str, str]:
    from ..containers.ipam import bridge_config
    from ..executor.sandbox import parse_add_host

    return parse_add_host(text, str(bridge_config().gateway))


def _stop_signal(text: str) -> str:
    """A signal name or number, as SIGTERM; the container's state keeps it in that form."""
    name = text.upper()
    try:
        if name.isdigit():
            return signal.Signals(int(name)).name
        return signal.Signals[name if name.startswith("SIG") else "SIG" + name].name
    except (KeyError, ValueError):
        raise UsageError(f"invalid --stop-signal {text!r}: a signal name or number, as SIGTERM or 15") from None


def _healthcheck(meta: dict) -> dict | None:
    """The container's Healthcheck (docker's config shape) from the flags; None when none
    given, and the image's then applies. Fields the flags leave out come from the image."""
    given = [n for n in NAMES if n.startswith("health_") and meta[n] is not None]
    if meta["no_healthcheck"]:
        if given:
            raise UsageError("--no-healthcheck conflicts with --health-* options")
        return {"Test": ["NONE"]}
    if not given:
        return None
    # (the instruction package loads the Dockerfile grammar: only a run given --health-* pays)
    from ..instructions.durations import parse_duration

    hc: dict = {}
    if meta["health_cmd"] is not None:
        hc["Test"] = ["CMD-SHELL", meta["health_cmd"]] if meta["health_cmd"] else []
    for name, key in _HEALTH_DURATIONS:
        if meta[name] is None:
            continue
        flag = "--" + name.replace("_", "-")
        try:
            ns = parse_duration(meta[name])
        except ValueError as err:
            raise UsageError(f"invalid {flag}: {err}") from None
        if ns < 0:
            raise UsageError(f"invalid {flag} {meta[name]!r}: cannot be negative")
        if 0 < ns < 1_000_000:
            raise UsageError(f"invalid {flag} {meta[name]!r}: cannot be less than 1ms")
        if ns:
            hc[key] = ns
    if meta["health_retries"] is not None:
        if meta["health_retries"] < 0:
            raise UsageError("--health-retries cannot be negative")
        if meta["health_retries"]:
            hc["Retries"] = meta["health_retries"]
    return hc


def _cidfile(path: str) -> str:
    """docker refuses a --cidfile that exists (another container may own it)."""
    if path and os.path.lexists(path):
        raise UsageError(f"Container ID file found, make sure the other container isn't running or "
                         f"delete {path}")
    return os.path.abspath(path) if path else ""
