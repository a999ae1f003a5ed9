"""Image config and errors, ported from BuildKit's dockerfile_cmd_test.go,
dockerfile_core_test.go (EXPOSE, LABEL, USER, step names) and dockerfile_image_test.go."""

from __future__ import annotations

import ipaddress
import os

from .helpers import build_err, build_ok, cached_steps, container, image_config, needs_root, write

pytestmark = needs_root


def test_shell_applies_to_entrypoint_and_entrypoint_resets_cmd(root, tmp_path):
    build_ok(root, write(tmp_path / "a", {"Dockerfile": 'FROM scratch\nCMD ["test"]\n'}), "-t", "compat/cmd:base")
    build_ok(root, write(tmp_path / "b", {"Dockerfile": 'FROM compat/cmd:base\nSHELL ["ls"]\nENTRYPOINT my entrypoint\n'}),
             "-t", "compat/cmd:child")
    cfg = image_config(root, "compat/cmd:child")["Config"]
    assert cfg.get("Cmd") is None and cfg["Entrypoint"] == ["ls", "my entrypoint"]


def test_scratch_gets_default_path_and_sh_entrypoint(root, tmp_path):
    build_ok(root, write(tmp_path / "a", {"Dockerfile": "FROM scratch\nENTRYPOINT foo bar\nCOPY Dockerfile /df\n"}),
             "-t", "compat/cmd:path")
    cfg = image_config(root, "compat/cmd:path")["Config"]
    assert cfg["Entrypoint"] == ["/bin/sh", "-c", "foo bar"]
    assert cfg["Env"] == ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]


@container
def test_entrypoint_does_not_apply_to_run(root, tmp_path):
    build_ok(root, write(tmp_path / "a", {"Dockerfile": 'FROM busybox\nENTRYPOINT ["/nosuchcmd"]\nRUN ["ls"]\n'}))


def test_invalid_json_is_shell_form(root, tmp_path):
    err = build_err(root, write(tmp_path / "a", {"Dockerfile": 'FROM busybox\nRUN ["echo", "hello"]this is invalid\n'}))
    assert "this is invalid" in err
    build_ok(root, write(tmp_path / "b", {"Dockerfile": "FROM busybox\nENTRYPOINT []random string\n"}), "-t", "compat/cmd:json")
    assert image_config(root, "compat/cmd:json")["Config"]["Entrypoint"] == ["/bin/sh", "-c", "[]random string"]


@container
def test_failing_run_names_the_command(root, tmp_path):
    err = build_err(root, write(tmp_path / "a", {"Dockerfile": "FROM busybox\nRUN invalidcmd\n"}))
    assert "invalidcmd" in err and "Dockerfile:2" in err


def test_unknown_instruction_suggests_one(root, tmp_path):
    err = build_err(root, write(tmp_path / "a", {"Dockerfile": 'FROM scratch\nFNTRYPOINT ["/bin/sh"]\n'}))
    assert "unknown instruction: FNTRYPOINT" in err and "did you mean ENTRYPOINT?" in err


def test_expose_expands_args(root, tmp_path):
    build_ok(root, write(tmp_path / "a", {"Dockerfile": 'FROM scratch\nARG PORTS="3000 4000/udp"\nEXPOSE $PORTS\nEXPOSE 5000\n'}),
             "-t", "compat/cfg:expose")
    ports = image_config(root, "compat/cfg:expose")["Config"]["ExposedPorts"]
    assert sorted(ports) == ["3000/tcp", "4000/udp", "5000/tcp"]


def test_labels_from_dockerfile_and_command_line(root, tmp_path):
    ctx = write(tmp_path / "a", {"Dockerfile": "FROM scratch\nLABEL foo=bar keep=df\n"})
    build_ok(root, ctx, "-t", "compat/cfg:label", "--label", "bar=baz")
    assert image_config(root, "compat/cfg:label")["Config"]["Labels"] == {"foo": "bar", "keep": "df", "bar": "baz"}
    # the command line wins over the Dockerfile, and adds no history entry
    build_ok(root, ctx, "-t", "compat/cfg:label2", "--label", "foo=cli", "--label", "empty")
    image = image_config(root, "compat/cfg:label2")
    assert image["Config"]["Labels"] == {"foo": "cli", "keep": "df", "empty": ""}
    assert len(image.get("History") or image.get("history") or []) == \
        len(image_config(root, "compat/cfg:label").get("History") or image_config(root, "compat/cfg:label").get("history") or [])


@container
def test_user_and_groups_in_run(root, tmp_path):
    check = '[ "$(id -u):$(id -g)/$(id -un):$(id -gn)/$(id -G):$(id -Gn)" = \'{}\' ]'
    df = ("FROM busybox AS base\nRUN mkdir -m 0777 /out\nRUN id -un > /out/rootuser\n"
          "RUN [ \"$(id -u):$(id -g)/$(id -un):$(id -gn)\" = '0:0/root:root' ]\nUSER root\n"
          "RUN [ \"$(id -G):$(id -Gn)\" = '0 10:root wheel' ]\n"
          "RUN echo 'dockerio:x:1001:1001::/bin:/bin/false' >> /etc/passwd && echo 'dockerio:x:1001:' >> /etc/group\n"
          "USER dockerio\nRUN " + check.format("1001:1001/dockerio:dockerio/1001:dockerio") + "\n"
          "USER root\nRUN echo 'supplementary:x:1002:dockerio' >> /etc/group\n"
          "USER dockerio\nRUN " + check.format("1001:1001/dockerio:dockerio/1001 1002:dockerio supplementary") + "\n"
          "USER 1001:dockerio\nRUN " + check.format("1001:1001/dockerio:dockerio/1001:dockerio") + "\n"
          "USER dockerio:1002\nRUN " + check.format("1001:1002/dockerio:supplementary/1002:supplementary") + "\n"
          "USER 1042:1043\nRUN " + check.format("1042:1043/1042:1043/1043:1043") + "\n"
          "USER daemon\nRUN id -un > /out/daemonuser\nFROM scratch\nCOPY --from=base /out /\nUSER nobody\n")
    build_ok(root, write(tmp_path / "a", {"Dockerfile": df}), "-t", "compat/cfg:user")
    assert image_config(root, "compat/cfg:user")["Config"]["User"] == "nobody"


@container
def test_user_additional_gids(root, tmp_path):
    build_ok(root, write(tmp_path / "a", {"Dockerfile": (
        'FROM busybox\nSHELL ["/bin/sh", "-euxc"]\n'
        'RUN [ "$(id)" = "uid=0(root) gid=0(root) groups=0(root),10(wheel)" ]\n'
        'USER 1234\nRUN [ "$(id)" = "uid=1234 gid=0(root) groups=0(root)" ]\n'
        'USER 1234:1234\nRUN [ "$(id)" = "uid=1234 gid=1234 groups=1234" ]\n'
        'USER daemon\nRUN [ "$(id)" = "uid=1(daemon) gid=1(daemon) groups=1(daemon)" ]\n')}))


@container
def test_sandbox_hostname(root, tmp_path):
    ctx = write(tmp_path / "a", {"Dockerfile": ("FROM busybox\nRUN grep foo /etc/hosts && [ \"$(hostname)\" = foo ]"
                                                " && echo $HOSTNAME | grep foo && [ \"$(cat /etc/hostname)\" = foo ]\n")})
    err = build_ok(root, ctx, "--build-arg", "BUILDKIT_SANDBOX_HOSTNAME=foo")
    assert "BUILDKIT_SANDBOX_HOSTNAME was not consumed" not in err
    # the hostname is in the step's key: another one runs the step again, and says why
    other = write(tmp_path / "b", {"Dockerfile": "FROM busybox\nRUN hostname > /name\n"})
    build_ok(root, other, "--build-arg", "BUILDKIT_SANDBOX_HOSTNAME=foo")
    err = build_ok(root, other, "--build-arg", "BUILDKIT_SANDBOX_HOSTNAME=bar")
    assert cached_steps(err) == 0 and "the hostname (BUILDKIT_SANDBOX_HOSTNAME) changed" in err, err
    assert cached_steps(build_ok(root, other, "--build-arg", "BUILDKIT_SANDBOX_HOSTNAME=bar")) == 1
    assert "invalid BUILDKIT_SANDBOX_HOSTNAME" in build_err(root, ctx, "--build-arg", "BUILDKIT_SANDBOX_HOSTNAME=a b")


@container
def test_add_host_lines_in_etc_hosts(root, tmp_path):
    gateway = next(ipaddress.ip_network(os.environ["CAIRN_SUBNET"]).hosts())  # the bridge's address on the host
    ctx = write(tmp_path / "a", {"Dockerfile": (
        "FROM busybox\nRUN grep -x '10.1.2.3\tdb.local' /etc/hosts && grep -x '2001:db8::1\tv6' /etc/hosts"
        f" && grep -x '{gateway}\tgw' /etc/hosts && grep -x '127.0.0.1\tlocalhost buildkitsandbox' /etc/hosts\n")})
    build_ok(root, ctx, "--add-host", "db.local:10.1.2.3", "--add-host", "v6=[2001:db8::1]", "--add-host", "gw:host-gateway")
    assert "bad format for add-host" in build_err(root, ctx, "--add-host", "nocolon")
    assert "invalid IP address in add-host" in build_err(root, ctx, "--add-host", "db:10.1.2")


@container
def test_step_names_carry_the_stage_name(root, tmp_path):
    err = build_ok(root, write(tmp_path / "a", {"Dockerfile": ("FROM busybox AS base\nWORKDIR /out\nRUN echo base > base\n"
                                                                "FROM scratch\nCOPY --from=base --chmod=0644 /out /out\n")}))
    assert "[base 3/3] RUN echo base > base" in err
    assert "[stage-1 1/1] COPY --from=base --chmod=0644 /out /out" in err


def test_scratch_image_config(root, tmp_path):
    build_ok(root, write(tmp_path / "a", {"Dockerfile": "FROM scratch\nENV foo=bar\n"}), "-t", "compat/cfg:scratch")
    doc = image_config(root, "compat/cfg:scratch")
    assert doc["Os"] == "linux" and doc["Architecture"]
    assert doc["Config"]["Env"] == ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "foo=bar"]
