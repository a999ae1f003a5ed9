"""How `cairn --help` and every command's `--help` read: commands listed in docker's
sections, and each help page ending with examples (the command's own `epilog=`, or its
entry in EXAMPLES). tests/test_cli_help.py checks that every registered command has some."""

from __future__ import annotations

import click

# section title -> command names, in the order `cairn --help` lists them; a command not
# named here is listed under "Other Commands"
SECTIONS = {
    "Build Commands": ("build", "parse", "check", "history"),
    "Image Commands": ("images", "tag", "rmi", "inspect", "import", "save", "load"),
    "Container Commands": ("run", "create", "exec", "ps", "logs", "port", "stop", "rm", "volume"),
    "Registry Commands": ("pull", "push", "login", "logout"),
    "Cache Commands": ("cache", "prune", "store"),
    "Bench Commands": ("bench",),
}

# `cairn SUBCOMMAND ...` -> its examples (one or two command lines, as docker's docs write them)
EXAMPLES = {
    "bench": ["cairn bench history --repo . --last 20"],
    "bench compare": ["cairn bench compare Dockerfile Dockerfile.new --repo . --last 10"],
    "bench history": ["cairn bench history --repo . --last 20", "cairn bench history --rev-range v1.0..HEAD --json out.json"],
    "build": ["cairn build -t myapp:1.0 .", "cairn build -f ci/Dockerfile --target test --build-arg VERSION=2 ."],
    "cache": ["cairn cache du", "cairn cache prune --keep-storage 5g"],
    "cache du": ["cairn cache du"],
    "cache ls": ["cairn cache ls"],
    "cache prune": ["cairn cache prune --keep-storage 5g", "cairn cache prune --all"],
    "check": ["cairn check ."],
    "create": ["cairn create --name web -p 8080:80 nginx:alpine"],
    "exec": ["cairn exec web ls /", "cairn exec -it -u 0 web sh"],
    "history": ["cairn history ls", "cairn history diff 3 4"],
    "history diff": ["cairn history diff 3 4"],
    "history ls": ["cairn history ls", "cairn history ls --format json"],
    "history show": ["cairn history show 4"],
    "images": ["cairn images", 'cairn images --filter dangling=true --format "{{.ID}}"'],
    "import": ["cairn import rootfs.tar myimage:1", "cairn import -c 'CMD [\"sh\"]' rootfs.tar myimage:1"],
    "info": ["cairn info"],
    "inspect": ["cairn inspect alpine:3.19", "cairn inspect -f '{{.Config.Cmd}}' alpine:3.19"],
    "load": ["cairn load -i images.tar"],
    "login": ["cairn login registry.example.com -u me --password-stdin < token.txt"],
    "logout": ["cairn logout registry.example.com"],
    "logs": ["cairn logs web", "cairn logs -f --tail 10 web"],
    "parse": ["cairn parse Dockerfile", "cairn parse --validate Dockerfile"],
    "port": ["cairn port web          # 80/tcp -> 0.0.0.0:32768", "cairn port web 80/tcp   # 0.0.0.0:32768"],
    "prune": ["cairn prune"],
    "ps": ["cairn ps -a", 'cairn ps --filter status=exited --format "table {{.Names}}\\t{{.Status}}"'],
    "pull": ["cairn pull alpine:3.19"],
    "push": ["cairn push registry.example.com/me/app:1", "cairn push myapp:1 localhost:5000/myapp:1"],
    "rm": ["cairn rm web", "cairn rm -f web db"],
    "rmi": ["cairn rmi myapp:1"],
    "run": ["cairn run --rm alpine:3.19 echo hello", "cairn run -d --name web -p 8080:80 nginx:alpine"],
    "save": ["cairn save -o myapp.tar myapp:1"],
    "serve": ["cairn serve --host unix:///run/cairn.sock --group docker   # then DOCKER_HOST=unix:///run/cairn.sock"],
    "stop": ["cairn stop web", "cairn stop -t 30 web"],
    "store": ["cairn store check"],
    "store check": ["cairn store check -v"],
    "tag": ["cairn tag myapp:1 registry.example.com/me/myapp:1"],
    "version": ["cairn version", "cairn version --format '{{.Server.Version}}'"],
    "volume": ["cairn volume ls"],
    "volume create": ["cairn volume create data"],
    "volume ls": ["cairn volume ls"],
    "volume rm": ["cairn volume rm data"],
    "volume prune": ["cairn volume prune"],
}


def _attach_examples(cmd: click.Command, path: list[str]) -> None:
    """Give `cmd` (and a group's commands) its EXAMPLES as click's epilog, unless it has one."""
    lines = EXAMPLES.get(" ".join(path))
    if cmd.epilog is None and lines:
        cmd.epilog = "\b\nExamples:\n" + "\n".join("  " + line for line in lines)
    for name, sub in getattr(cmd, "commands", {}).items():
        _attach_examples(sub, [*path, name])


class CairnGroup(click.Group):
    """The `cairn` group: commands listed in docker's sections, each with its examples
    (whatever class the command is made with)."""

    group_class = type  # subgroups made with @group.group() are CairnGroups too

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        cmd = super().get_command(ctx, name)
        if cmd is not None:
            _attach_examples(cmd, [*ctx.command_path.split(" ")[1:], name])
        return cmd

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        if ctx.parent is not None:  # a subgroup: click's single list
            super().format_commands(ctx, formatter)
            return
        names = [n for n in self.list_commands(ctx) if not self.get_command(ctx, n).hidden]
        placed = {n for members in SECTIONS.values() for n in members}
        sections = [(title, [n for n in members if n in names]) for title, members in SECTIONS.items()]
        sections.append(("Other Commands", [n for n in names if n not in placed]))
        widest = max((len(n) for n in names), default=0)
        width = formatter.width - 6 - widest
        for title, members in sections:
            if members:  # one column width for every section, as docker's help has
                rows = [(n.ljust(widest), self.get_command(ctx, n).get_short_help_str(width)) for n in members]
                with formatter.section(title):
                    formatter.write_dl(rows)
