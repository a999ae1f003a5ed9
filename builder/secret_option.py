"""buildx's `--secret id=ID[,type=file|env][,src=PATH|,env=VAR]`, read into its fields (no I/O):
the build resolves them (commands/build.py), and the daemon's client (serve/cli_client.py) and
worker (serve/cli_zygote.py) use them to tell which environment variables a build's secrets
are read from, so that they are the client's, never the daemon's. Imports nothing heavy: the
client pays for it on every build."""

from __future__ import annotations

from .errors import UsageError


def fields(text: str) -> tuple[str, str | None, str | None]:
    """(id, variable, file) as the option names them; with neither src nor env, both None (the
    build reads the variable ID when it is set, else the file ID). Raises UsageError."""
    found: dict[str, str] = {}
    for field in text.split(","):
        key, eq, value = field.partition("=")
        key = key.strip().lower()
        if not eq:
            raise UsageError(f"invalid --secret {text!r}: field {field!r} must be a key=value pair")
        if key not in ("id", "type", "src", "source", "env"):
            raise UsageError(f"invalid --secret {text!r}: unexpected key {key!r}")
        found["src" if key == "source" else key] = value
    kind, sid, src, env = found.get("type"), found.get("id"), found.get("src"), found.get("env")
    if kind not in (None, "file", "env"):
        raise UsageError(f"invalid --secret {text!r}: unsupported secret type {kind!r}")
    if kind == "env" and not env:
        env, src = src, None
    if not sid:
        raise UsageError(f"invalid --secret {text!r}: the secret has no id (id=ID)")
    return sid, env or None, src or None


def variables(text: str) -> tuple[str, ...]:
    """The environment variables a --secret may be read from: VAR, or ID with neither src nor
    env; none for a file, or for a malformed one (the build says what is wrong with it)."""
    try:
        sid, env, src = fields(text)
    except UsageError:
        return ()
    return (env,) if env else () if src else (sid,)


def secret_variables(argv: list[str], takes_value) -> list[str]:
    """The variables that `build ...`'s --secret options may read (argv from the command's
    name on); takes_value: the build command's options that take a value (builder/cli.py's
    value_options), so that an option's value is never taken for an option."""
    out, i = [], 1
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            break
        if arg == "--secret" and i + 1 < len(argv) or arg.startswith("--secret="):
            out += variables(arg.partition("=")[2] if "=" in arg else argv[i + 1])
            i += 1 if "=" in arg else 2
            continue
        i += 2 if arg in takes_value else 1
    return out
