"""`cairn build|run|ps|images` against a daemon on another machine (CAIRN_HOST=tcp://HOST:PORT):
the command line is read by the local command's own options (the same parsing, errors and
defaults), then done through the Engine API the daemon serves (remote_build.py, remote_run.py,
remote_list.py). A flag whose meaning cannot hold on another machine (a path here the daemon
would have to read or write, the store's --root) is refused with exit 2 and why."""

from __future__ import annotations

import click
from click.core import ParameterSource

from ..errors import CairnError
from .conn import Daemon, RemoteError, Tls

# the options each command supports remotely (any other given option is refused)
SUPPORTED = {
    "build": {"tags", "dockerfile", "target", "build_args", "labels", "no_cache", "pull", "network", "quiet",
              "progress", "iidfile", "context"},
    "run": {"remove", "detach", "name", "env", "volumes", "network", "ports", "interactive", "tty", "init",
            "workdir", "user", "hostname", "entrypoint", "memory", "cpus", "pids_limit", "image", "command",
            "privileged", "read_only", "cap_add", "cap_drop", "tmpfs", "labels", "add_hosts", "dns", "dns_search",
            "dns_options", "stop_signal", "stop_timeout", "publish_all"},
    "ps": {"include_all", "filters", "fmt", "last", "latest", "no_trunc", "quiet"},
    "images": {"show_all", "filters", "fmt", "no_trunc", "quiet", "repository"},
}
WHY = {"outputs": "the daemon keeps the image in its store; pull it from there (or run `cairn build -o` on the "
                  "daemon's machine)",
       "secrets": "secrets are read from this machine's files and environment",
       "ssh": "ssh agents are this machine's", "build_contexts": "named contexts are directories here",
       "metadata_file": "the metadata is the daemon's build's",
       "cache_from": "the daemon's cache is its own", "cache_to": "the daemon's cache is its own"}


def _flag_name(cmd, name: str) -> str:
    for p in cmd.params:
        if p.name == name:
            return max(getattr(p, "opts", [name]), key=len)
    return name


def parse(name: str, args: list[str]) -> tuple[dict, click.Context]:
    from ..commands import cli

    root = click.Context(cli, info_name="cairn")
    cmd = cli.get_command(root, name)
    sub = cmd.make_context(name, list(args), parent=root)
    for p in cmd.params:
        if p.name in SUPPORTED[name] or p.name in ("help",):
            continue
        source = sub.get_parameter_source(p.name)
        if source not in (None, ParameterSource.DEFAULT, ParameterSource.DEFAULT_MAP):
            flag = _flag_name(cmd, p.name)
            why = WHY.get(p.name, "it is not served by the daemon's API")
            raise RemoteError(f"cairn {name} {flag}: not with a remote CAIRN_HOST ({why}); run it without "
                              f"CAIRN_HOST", 2)
    return sub.params, sub


def run_remote(host: str, tls: Tls, argv: list[str]) -> int:
    name, args = argv[0], argv[1:]
    try:
        params, _sub = parse(name, args)
    except click.exceptions.Exit as err:  # --help
        return err.exit_code
    except click.ClickException as err:
        err.show()
        return err.exit_code
    try:
        code = _dispatch(Daemon(host, tls), name, params)
        if not isinstance(code, int) or not 0 <= code <= 255:  # (a status no process has)
            raise ValueError(f"the exit status {str(code)[:40]}")
        return code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 1
    except RemoteError:
        raise
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, RecursionError, OverflowError) as err:
        # (a reply of another shape than the API's: a daemon's answer never ends in a traceback)
        raise RemoteError(f"the cairn daemon at {host} sent a reply cairn cannot use "
                          f"({type(err).__name__}: {str(err)[:200]})") from None
    except (CairnError, OSError) as err:
        raise RemoteError(str(err) if isinstance(err, CairnError) else f"{err.strerror or err}"
                          + (f": {err.filename}" if getattr(err, "filename", None) else ""),
                          getattr(err, "exit_code", 1)) from None


def _dispatch(daemon, name: str, params: dict) -> int:
    if name == "build":
        from .build import build

        return build(daemon, params)
    if name == "run":
        from .run import run

        return run(daemon, params)
    from .listing import images, ps

    return ps(daemon, params) if name == "ps" else images(daemon, params)
