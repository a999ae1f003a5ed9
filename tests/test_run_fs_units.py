"""docker's --mount, --tmpfs, -v and --cap-* values, parsed as docker reads them (no container)."""

from __future__ import annotations

import pytest

from builder.containers.run_mounts import parse_mount, parse_tmpfs, parse_volume_flag
from builder.containers.run_privileges import capabilities, parse_security_opts
from runtime import seccomp_json
from runtime.spec import DEFAULT_CAPABILITIES


@pytest.mark.parametrize("text,kind,target,source,readonly,options", [
    ("type=bind,source=/tmp,target=/app,readonly", "bind", "/app", "/tmp", True, ()),
    ("type=bind,src=/tmp,dst=/app,ro=false", "bind", "/app", "/tmp", False, ()),
    ('"type=bind","source=/tmp","destination=/app/./x/"', "bind", "/app/x", "/tmp", False, ()),
    ("source=myvol,target=/data", "volume", "/data", "myvol", False, ()),  # docker's default type
    ("type=volume,target=/data", "volume", "/data", "", False, ()),  # anonymous
    ("type=tmpfs,destination=/cache,tmpfs-size=64m,tmpfs-mode=1770", "tmpfs", "/cache", "", False,
     ("noexec", "nosuid", "nodev", "size=64m", "mode=1770")),
    ("type=tmpfs,dst=/c,readonly", "tmpfs", "/c", "", True, ("noexec", "nosuid", "nodev", "ro")),
])
def test_mount_values(text, kind, target, source, readonly, options):
    m = parse_mount(text)
    assert (m.kind, m.target, m.source, m.readonly, m.options) == (kind, target, source, readonly, options)


@pytest.mark.parametrize("text,options", [
    ("/run", ("noexec", "nosuid", "nodev")),
    ("/run:rw,noexec,nosuid,size=65536k", ("noexec", "nosuid", "nodev", "size=65536k")),
    ("/run:exec,size=1m,size=2m", ("nosuid", "nodev", "size=2m")),
    ("/run:ro,suid,uid=1000,gid=1000", ("noexec", "nodev", "ro", "uid=1000", "gid=1000")),
])
def test_tmpfs_options_merge_over_dockers_defaults(text, options):
    assert sorted(parse_tmpfs(text).options) == sorted(options)


def test_volume_flag_forms():
    assert parse_volume_flag("/src:/dst") is None  # a host bind
    named = parse_volume_flag("data:/var/lib/data:ro")
    assert (named.source, named.target, named.readonly) == ("data", "/var/lib/data", True)
    assert parse_volume_flag("/anon").source == "" and parse_volume_flag("v2:/x:nocopy").nocopy



@pytest.mark.parametrize("add,drop,has,lacks", [
    (("NET_ADMIN",), (), {"CAP_NET_ADMIN", "CAP_CHOWN"}, set()),
    (("cap_net_admin",), ("chown",), {"CAP_NET_ADMIN"}, {"CAP_CHOWN"}),
    ((), ("ALL",), set(), set(DEFAULT_CAPABILITIES)),
    (("SYS_ADMIN",), ("all",), {"CAP_SYS_ADMIN"}, set(DEFAULT_CAPABILITIES)),
    (("ALL",), ("CAP_SYS_ADMIN",), {"CAP_NET_ADMIN", "CAP_CHOWN"}, {"CAP_SYS_ADMIN"}),
])
def test_capability_rules_are_dockers(add, drop, has, lacks):
    caps = set(capabilities(add, drop))
    assert has <= caps and not (lacks & caps)


def test_security_opt_forms():
    assert parse_security_opts(("no-new-privileges",)).no_new_privileges is True
    assert parse_security_opts(("no-new-privileges:false",)).no_new_privileges is False
    assert parse_security_opts(("no-new-privileges=true",)).no_new_privileges is True
    assert parse_security_opts(("seccomp=unconfined", "apparmor=unconfined", "label=disable")).seccomp is False
    assert parse_security_opts(("systempaths=unconfined",)).unmask_system_paths


def test_seccomp_profile_conditions():
    doc = {"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 38, "archMap": [
        {"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]},
        {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]}],
        "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"},
                     {"names": ["mount"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN"]}},
                     {"names": ["arch_prctl"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["amd64"]}},
                     {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
                      "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]}]}
    prof = seccomp_json.parse(doc, DEFAULT_CAPABILITIES, "x86_64")
    assert prof.default_action == 0x00050000 | 38 and prof.architectures == ("x86_64", "x86", "x32")
    assert [r.names for r in prof.rules] == [("read",), ("arch_prctl",), ("personality",)]
    assert prof.rules[2].args == ((0, 4, 8, 0),)
    with_admin = seccomp_json.parse(doc, DEFAULT_CAPABILITIES + ("CAP_SYS_ADMIN",), "aarch64")
    assert [r.names for r in with_admin.rules] == [("read",), ("mount",), ("personality",)]
    assert with_admin.architectures == ("aarch64", "arm")
