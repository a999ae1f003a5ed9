"""Command lines copied from docker's documentation, run unchanged but for the image name.

One row per flag and command of issue 15. The lines come from the reference pages of
`docker build`/`docker buildx build`, `docker run`, `docker exec`, `docker ps`, `docker
images`, `docker logs`, `docker inspect`, `docker volume` and `docker version`
(docs.docker.com/reference/cli/docker/...), with the image replaced by busybox:local (and
paths by the test's own). Each row asserts docker's meaning: the effect inside the container
(a RUN step or the container's command checks it and fails otherwise), the output, or, where
cairn refuses, exit status 2 and a hint saying why. The README's table of docker's build and
run flags points here.

A row is a list of steps run in order in the row's own directory (the build context):
(command line, expected status, regular expression its stdout (or stderr for a refusal)
must match). `{dir}` is the row's directory, `{sock}` an ssh agent's socket.
"""

from __future__ import annotations

import contextlib
import os
import platform
import re
import shlex
import subprocess
import sys
import tarfile

import pytest

from .conftest import REPO, imported_store, remove_all_containers
from .git_server import commit, git, make_repo, serving

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="containers need root")

FROM = "FROM busybox:local\n"
HOST_ARCH = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
OTHER_ARCH = "arm64" if HOST_ARCH == "amd64" else "amd64"
SHA = r"sha256:[0-9a-f]{64}"


def row(flag, *steps, files=None, env=None, xfail=None):
    marks = [pytest.mark.xfail(strict=True, reason=xfail)] if xfail else []
    return pytest.param(list(steps), files or {}, env or {}, id=flag, marks=marks)


BUILD = [
    row("build -q", ("build -q .", 0, rf"\A{SHA}\n\Z"), files={"Dockerfile": FROM + "RUN echo hi\n"}),
    row("build --iidfile", ("build --iidfile {dir}/iid .", 0, ""), ("cat {dir}/iid", 0, rf"\A{SHA}\Z"),
        files={"Dockerfile": FROM}),
    row("build --load", ("buildx build --load -t loaded .", 0, ""), ("images loaded", 0, r"loaded\s+latest"),
        files={"Dockerfile": FROM}),
    row("build --platform (the host's)", (f"buildx build --platform=linux/{HOST_ARCH} .", 0, ""),
        files={"Dockerfile": FROM + f'ARG TARGETPLATFORM\nRUN test "$TARGETPLATFORM" = linux/{HOST_ARCH}\n'}),
    row("build --platform (another arch: refused)", (f"buildx build --platform=linux/{OTHER_ARCH} .", 2,
                                                     r"(?i)emulat"),
        files={"Dockerfile": FROM + "RUN true\n"}),
    row("build --label", ('build --label com.example.version="1.0" -t labelled .', 0, ""),
        ("inspect labelled", 0, r'"com\.example\.version": "1\.0"'), files={"Dockerfile": FROM}),
    row("build --network", ("buildx build --network=none .", 0, ""),
        files={"Dockerfile": FROM + 'RUN test "$(ls /sys/class/net)" = lo\n'}),
    row("build --add-host", ("build --add-host=docker:10.180.0.1 .", 0, ""),
        files={"Dockerfile": FROM + "RUN grep -E '^10.180.0.1\\s+docker$' /etc/hosts\n"}),
    row("build --build-context", ("buildx build --build-context project=path/to/project/source .", 0, ""),
        files={"Dockerfile": FROM + "COPY --from=project myfile /\nRUN grep -q mine /myfile\n",
               "path/to/project/source/myfile": "mine\n"}),
    row("build --build-context docker-image://",
        ("buildx build --build-context alpine=docker-image://busybox:local .", 0, ""),
        files={"Dockerfile": "FROM alpine\nRUN test -x /bin/busybox\n"}),
    row("build --secret id=,env=", ("buildx build --secret id=KUBECONFIG,env=KUBECONFIG .", 0, ""),
        env={"KUBECONFIG": "hush"},
        files={"Dockerfile": FROM + 'RUN --mount=type=secret,id=KUBECONFIG test "$(cat /run/secrets/KUBECONFIG)" = hush\n'}),
    row("build --secret id=,src=", ("buildx build --secret id=aws,src={dir}/credentials .", 0, ""),
        files={"credentials": "key\n", "Dockerfile": FROM + "RUN --mount=type=secret,id=aws grep -q key /run/secrets/aws\n"}),
    row("build -o DIR", ("buildx build -o out .", 0, ""), ("cat {dir}/out/hello", 0, r"\Aworld\n\Z"),
        files={"Dockerfile": FROM + "RUN echo world > /hello\n"}),
    row("build -o type=tar", ("buildx build --output type=tar,dest=out.tar .", 0, ""),
        ("tar out.tar", 0, r"hello"), files={"Dockerfile": FROM + "RUN echo world > /hello\n"}),
    row("build --shm-size", ("build --shm-size=128m .", 0, ""),
        files={"Dockerfile": FROM + "RUN df -k /dev/shm | grep -q ' 131072 '\n"}),
    row("build --ulimit", ("buildx build --ulimit nofile=1024:1024 .", 0, ""),
        files={"Dockerfile": FROM + 'RUN test "$(ulimit -n)" = 1024\n'}),
    row("build --ssh", ("buildx build --ssh default={sock} .", 0, ""),
        files={"Dockerfile": FROM + 'RUN --mount=type=ssh test -S "$SSH_AUTH_SOCK"\n'}),
    row("build --allow network.host", ("buildx build --allow network.host .", 0, ""),
        files={"Dockerfile": FROM + 'RUN --network=host test "$(ls /sys/class/net)" != lo\n'}),
    row("build RUN --network=host without --allow (refused)", ("buildx build .", 2, r"--allow network\.host"),
        files={"Dockerfile": FROM + "RUN --network=host true\n"}),
    row("build --check", ("build --check .", 1, r"FromAsCasing"),
        files={"Dockerfile": "FROM busybox:local as base\n"}),
    row("build --call check", ("buildx build --call=check .", 1, r"FromAsCasing"),
        files={"Dockerfile": "FROM busybox:local as base\n"}),
    row("build -t -f --target --build-arg", ("build -t myapp:1.0 -f ci/Dockerfile --target test --build-arg VERSION=2 .", 0, ""),
        ("images myapp", 0, r"myapp\s+1\.0"),
        files={"ci/Dockerfile": FROM + 'FROM busybox:local AS test\nARG VERSION\nRUN test "$VERSION" = 2\n'
                                       "FROM busybox:local\nRUN false\n"}),
    row("build --no-cache --metadata-file", ("build --no-cache --metadata-file {dir}/metadata.json .", 0, ""),
        ("cat {dir}/metadata.json", 0, SHA), files={"Dockerfile": FROM + "RUN true\n"}),
    row("build --progress=plain", ("build --progress=plain .", 0, ""), files={"Dockerfile": FROM + "RUN true\n"}),
    row("COPY --exclude with --from", ("build .", 0, ""),
        files={"Dockerfile": FROM + "RUN mkdir /src && touch /src/a.go /src/b.txt\nFROM busybox:local\n"
                                    "COPY --from=0 --exclude=*.txt /src /dst\nRUN test -e /dst/a.go && ! test -e /dst/b.txt\n"}),
    row("ADD a git repository", ("build .", 0, ""),
        files={"Dockerfile": FROM + "ADD --keep-git-dir=true {git}/repo.git#main /buildkit\n"
                                    "RUN grep -q tracked /buildkit/README && test -d /buildkit/.git\n"}),
]

RUN = [
    row("run --read-only --tmpfs", ("run --read-only --tmpfs /run --tmpfs /tmp -i busybox:local "
                                    "sh -c 'touch /tmp/x /run/y && ! touch /z'", 0, "")),
    row("run -w", ("run -w /path/to/dir/ -i -t busybox:local pwd", 0, r"/path/to/dir")),
    row("run -e", ("run --env VAR1=value1 --env VAR2=value2 busybox:local env", 0, r"(?s)VAR1=value1.*VAR2=value2")),
    row("run -u -h --entrypoint -v",
        ("run --rm --network none -u 1000 -h myhost --entrypoint sh -v {dir}/data:/data:ro "
         "busybox:local -c 'id -u; hostname; cat /data/f; ! touch /data/g'", 0, r"\A1000\nmyhost\nhere\n"),
        files={"data/f": "here\n"}),
    row("run --tmpfs with options", ("run --tmpfs /run:rw,noexec,nosuid,size=65536k busybox:local "
                                     "grep -E '/run .*nosuid.*noexec.*size=65536k' /proc/mounts", 0, "")),
    row("run --env-file", ("run --env-file ./env.list busybox:local env", 0, r"(?m)^VAR1=value1$"),
        files={"env.list": "# This is a comment\nVAR1=value1\nVAR2=value2\n"}),
    row("run --mount type=bind", ("run -t -i --mount type=bind,src={dir}/data,dst=/data busybox:local cat /data/f",
                                  0, r"here"), files={"data/f": "here\n"}),
    row("run --mount type=tmpfs", ("run --mount type=tmpfs,destination=/app,tmpfs-size=1m busybox:local "
                                   "grep -E '/app tmpfs .*size=1024k' /proc/mounts", 0, "")),
    row("run --mount type=volume", ("run --name devtest --mount source=myvol2,target=/app busybox:local "
                                    "sh -c 'echo kept > /app/f'", 0, ""),
        ("run --rm -v myvol2:/app busybox:local cat /app/f", 0, r"kept"),
        ("volume ls", 0, r"local\s+myvol2"), ("rm devtest", 0, ""), ("volume rm myvol2", 0, r"myvol2"),
        ("volume ls -q", 0, r"\A((?!myvol2).)*\Z")),
    row("volume prune", ("volume create my-vol", 0, "my-vol"), ("volume prune --all --force", 0, ""),
        ("volume ls -q", 0, r"\A((?!my-vol).)*\Z")),
    row("run --cap-add", ("run --rm --cap-add=NET_ADMIN busybox:local ip link set lo down", 0, "")),
    row("run --cap-drop", ("run --rm --cap-drop=CHOWN busybox:local chown 2 /etc/passwd", 1, "")),
    row("run --cap-drop ALL --cap-add", ("run --rm --cap-drop ALL --cap-add SYS_TIME busybox:local "
                                         "grep CapEff /proc/self/status", 0, r"CapEff:\s+0000000002000000")),
    row("run --security-opt no-new-privileges", ("run --rm --security-opt no-new-privileges busybox:local "
                                                 "grep NoNewPrivs /proc/self/status", 0, r"NoNewPrivs:\s+1")),
    row("run --privileged", ("run -t -i --privileged busybox:local mount -t tmpfs none /tmp", 0, "")),
    row("run --device", ("run --device=/dev/zero:/dev/xvdc --rm -i busybox:local head -c 3 /dev/xvdc", 0, r"\A\0\0\0\Z")),
    row("run --add-host", ("run --add-host=docker:93.184.216.34 --rm -i busybox:local cat /etc/hosts", 0,
                           r"(?m)^93\.184\.216\.34\s+docker$")),
    row("run --dns", ("run --rm --dns=8.8.8.8 --dns-search=example.com busybox:local cat /etc/resolv.conf", 0,
                      r"(?s)nameserver 8\.8\.8\.8.*search example\.com|search example\.com.*nameserver 8\.8\.8\.8")),
    row("run --stop-signal", ("run -d --name sig --stop-signal SIGUSR1 busybox:local "
                              "sh -c 'trap \"exit 7\" USR1; sleep 300 & wait'", 0, ""),
        ("stop sig", 0, "sig"), ("ps -a --filter name=sig --format {{.Status}}", 0, r"Exited \(7\)")),
    row("run --stop-timeout", ("run -d --name slow --stop-timeout 1 busybox:local sleep 300", 0, ""),
        ("stop slow", 0, "slow"), ("ps -a --filter name=slow --format {{.Status}}", 0, r"Exited \(137\)")),
    row("run -P", ("port web", 0, r"80/tcp -> 0\.0\.0\.0:\d+")),
    row("run --label --label-file", ("run -l my-label --label com.example.foo=bar --label-file ./labels --name lab "
                                    "busybox:local true", 0, ""),
        ("ps -a --filter label=com.example.foo=bar --filter label=from.file=yes --format {{.Names}}", 0, r"\Alab\n\Z"),
        files={"labels": "from.file=yes\n"}),
    row("run --cidfile", ("run --cidfile {dir}/docker_test.cid busybox:local echo test", 0, "test"),
        ("cat {dir}/docker_test.cid", 0, r"\A[0-9a-f]{64}\Z")),
    row("run --health-*", ("ps -a --filter name=test --format {{.Status}}", 0, r"\(healthy\)"),
        ("ps --filter health=healthy --format {{.Names}}", 0, r"(?m)^test$")),
    row("run --ulimit", ("run --ulimit nofile=1024:1024 --rm busybox:local sh -c 'ulimit -n'", 0, r"\A1024\n\Z")),
]

COMMANDS = [
    row("exec", ("exec -d web touch /tmp/execWorks", 0, ""), ("exec web ls /tmp/execWorks", 0, "execWorks")),
    row("exec -i", ("exec -i web cat", 0, r"\Afrom stdin\n\Z")),
    row("exec -e", ("exec -e VAR=1 web sh -c 'echo $VAR'", 0, r"\A1\n\Z")),
    row("exec -w", ("exec -w /root web pwd", 0, r"\A/root\n\Z")),
    row("exec -u", ("exec -u 1000 web id -u", 0, r"\A1000\n\Z")),
    row("exec (exit status)", ("exec web sh -c 'exit 3'", 3, "")),
    row("version", ("version", 0, r"Version"), ("version --format '{{json .}}'", 0, r'\A\{.*"Client"')),
    row("inspect CONTAINER", ("inspect --format='{{.Config.Image}}' web", 0, r"\Abusybox:local\n\Z")),
    row("logs --tail", ("logs --tail 2 web", 0, r"\Atwo\nthree\n\Z")),
    row("logs -f", ("run -d --name short busybox:local echo bye", 0, ""), ("logs -f short", 0, r"\Abye\n\Z")),
    row("images REPO", ("images busybox", 0, r"busybox\s+local")),
    row("images --filter", ('images --filter "dangling=false" --format "{{.Repository}}:{{.Tag}}"', 0,
                            r"(?m)^busybox:local$")),
    row("images --format", ('images --format "{{.ID}}: {{.Repository}}"', 0, r"(?m)^[0-9a-f]{12}: busybox$")),
    row("ps --format", ('ps --format "{{.ID}}: {{.Command}}"', 0, r"(?m)^[0-9a-f]{12}: \"sh -c")),
    row("ps PORTS", ("ps --filter name=web", 0, r"PORTS(?s:.*)0\.0\.0\.0:\d+->80/tcp")),
    row("ps CREATED (ago)", ("ps --filter name=web", 0, r"(Less than a second|\d+ seconds?|About a minute) ago")),
]


def cairn(args: list[str], cwd, stdin=b"", env=None):
    full_env = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    return subprocess.run([sys.executable, "-m", "builder.cli", *args], cwd=cwd, input=stdin,
                          capture_output=True, timeout=120, env=full_env)


@pytest.fixture(scope="module")
def root(tmp_path_factory, busybox_tar):
    gen = imported_store(tmp_path_factory, busybox_tar, "docflags", "EXPOSE 80")
    store_root = next(gen)
    env = {"CAIRN_ROOT": str(store_root)}
    agent_dir = tmp_path_factory.mktemp("agent")
    sock = agent_dir / "agent.sock"
    agent = subprocess.run(["ssh-agent", "-a", str(sock)], capture_output=True, timeout=30)
    agent_pid = re.search(rb"SSH_AGENT_PID=(\d+)", agent.stdout)
    try:
        starts = [["run", "-d", "--name", "web", "-P", "busybox:local", "sh", "-c",
                   "echo one; echo two; echo three; sleep 300"],
                  ["run", "--name=test", "-d", "--health-cmd=stat /etc/passwd || exit 1", "--health-interval=1s",
                   "busybox:local", "sleep", "1d"]]
        for args in starts:
            res = cairn(args, REPO, env=env)
            assert res.returncode == 0, res.stderr.decode()
        yield store_root, sock
    finally:
        remove_all_containers(store_root)
        if agent_pid:
            os.kill(int(agent_pid.group(1)), 15)
        gen.close()


def run_step(line, cwd, env):
    args = shlex.split(line)
    if args[0] == "cat":
        return subprocess.run(args, cwd=cwd, capture_output=True, timeout=30)
    if args[0] == "tar":
        names = "\n".join(tarfile.open(cwd / args[1]).getnames()).encode()
        return subprocess.CompletedProcess(args, 0, names, b"")
    if args[:2] == ["buildx", "build"]:
        args = args[1:]  # `docker buildx build` is `cairn build`
    stdin = b"from stdin\n" if args[:2] == ["exec", "-i"] else b""
    return cairn(args, cwd, stdin=stdin, env=env)


@pytest.mark.parametrize("steps,files,env", BUILD + RUN + COMMANDS)
def test_docker_doc_command(root, tmp_path, steps, files, env):
    store_root, sock = root
    subs = {"{dir}": str(tmp_path), "{sock}": str(sock)}
    with contextlib.ExitStack() as stack:
        if "{git}" in files.get("Dockerfile", ""):
            make_bare_repo(tmp_path / "repo.git")
            subs["{git}"] = stack.enter_context(serving(tmp_path))[0]
        run_steps(steps, files, env, subs, tmp_path, store_root)


def run_steps(steps, files, env, subs, tmp_path, store_root):
    for name, text in files.items():
        for key, value in subs.items():
            text = text.replace(key, value)
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    for line, status, pattern in steps:
        for key, value in subs.items():
            line = line.replace(key, value)
        res = run_step(line, tmp_path, {"CAIRN_ROOT": str(store_root), **env})
        out, err = res.stdout.decode(errors="replace"), res.stderr.decode(errors="replace")
        assert res.returncode == status, f"{line}\n{out}\n{err}"
        assert "Traceback" not in err, err
        if status == 2:
            assert re.search(pattern, err), f"refused without the hint: {err}"
        elif status == 0:
            assert re.search(pattern, out), f"{line}: stdout {out!r} does not match {pattern!r}\n{err}"
        else:
            assert re.search(pattern, out + err), f"{line}: {out + err!r} does not match {pattern!r}"


def make_bare_repo(bare):
    work = make_repo(bare.parent / "work")
    commit(work, {"README": "tracked\n"}, "first")
    git(work, "branch", "-M", "main")
    git(bare.parent, "clone", "-q", "--bare", str(work), str(bare))


# Flags whose meaning cannot hold here, as docker's documentation writes them: exit 2 and a
# hint saying why (not click's bare "No such option"). They fail before any container or
# build starts, so they run in this process and need no root.
REFUSED = [
    "run --gpus all busybox:local nvidia-smi",
    "run -a stdin -a stdout -i -t busybox:local /bin/bash",
    "run --restart=always busybox:local",
    "run --sysctl net.ipv4.ip_forward=1 busybox:local",
    'run --cpuset-cpus="0-2" busybox:local',
    "run --cpu-shares=512 busybox:local",
    "run --ip=172.30.100.104 busybox:local",
    "run --volumes-from 777f7dc92da7 --volumes-from ba8c0c54f0f2:ro -i -t busybox:local pwd",
    "run --log-driver=syslog busybox:local",
    "run --pid=host busybox:local",
    "run --userns=host busybox:local",
    "run --device-write-bps /dev/sda:1mb busybox:local",
    f"run --platform linux/{OTHER_ARCH} busybox:local true",
    "run --storage-opt size=120G busybox:local",
    "build --squash .",
    "build --isolation=hyperv .",
    "buildx build --provenance=true .",
    "buildx build --sbom=true .",
    "buildx build --attest type=provenance,mode=max .",
    "buildx build --builder mybuilder .",
    "build --cpuset-cpus 0-3 .",
]


@pytest.mark.parametrize("line", REFUSED)
def test_refused_with_a_hint(line):
    from .inproc import cairn as cairn_inproc

    args = shlex.split(line)
    res = cairn_inproc(*(args[1:] if args[0] == "buildx" else args))
    assert res.returncode == 2, res.stderr
    assert "is not supported: " in res.stderr and "No such option" not in res.stderr, res.stderr


def test_every_refused_flag_has_its_hint():
    """Each flag of the tables (the README's "refused" rows) is refused with its hint, and
    the values it accepts as docker's default are accepted."""
    from builder.commands import refused_flags

    from .inproc import cairn as cairn_inproc

    for command, table in (("build", refused_flags.BUILD), ("run", refused_flags.RUN)):
        for names, (takes_value, _no_ops, hint) in table.items():
            if hint is None:
                continue
            res = cairn_inproc(command, names[0], *(["x"] if takes_value else []), "busybox:local")
            assert res.returncode == 2 and hint in res.stderr, (command, names, res.stderr)
