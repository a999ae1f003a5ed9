"""cairn serve: a client's POST /containers/create body (docker's Config and HostConfig) that
asks for a tighter container than cairn's default, or names a host file. Each field must be
honoured or refused (400); none may be dropped in silence, which would give the container more
than was asked (a looser seccomp profile, no ulimit, a network, more CPU), and no field may
make the server read a host path."""

from __future__ import annotations

import json

import pytest

from builder.errors import UsageError
from builder.serve.create_body import run_request

PROFILE = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir", "mkdirat"],
                                                            "action": "SCMP_ACT_ERRNO"}]}


def _req(host=None, **config):
    return run_request({"Image": "busybox:local", **config, "HostConfig": host or {}})


def test_what_tightens_the_container_is_honoured():
    # docker run --security-opt seccomp=profile.json: the client sends the profile's text
    req = _req({"SecurityOpt": ["seccomp=" + json.dumps(PROFILE), "no-new-privileges:true"]})
    assert req.security.seccomp_profile == PROFILE and req.security.no_new_privileges is True
    req = _req({"Ulimits": [{"Name": "nofile", "Soft": 64, "Hard": 128}]})  # --ulimit nofile=64:128
    assert req.rlimits == (("nofile", 64, 128),)
    assert _req(NetworkDisabled=True).network == "none"  # docker-py's network_disabled=True
    assert _req({"CpuQuota": 50_000, "CpuPeriod": 100_000}).cpus == 0.5  # --cpu-quota/--cpu-period
    # docker's CLI defaults (zeros, nulls, empty lists) still create
    assert _req({"CpuShares": 0, "MemorySwap": 0, "Sysctls": None, "MaskedPaths": None, "Ulimits": [],
                 "SecurityOpt": None, "ShmSize": 0, "OomScoreAdj": 0}).image == "busybox:local"


@pytest.mark.parametrize("host, says", [
    ({"SecurityOpt": ["seccomp=/etc/shadow"]}, "never a path"),
    ({"SecurityOpt": ["seccomp={not json"]}, "not valid JSON"),
    ({"SecurityOpt": ["apparmor=docker-default"]}, "AppArmor"),
    ({"Ulimits": [{"Name": "nofile", "Soft": 9, "Hard": 1}]}, "soft limit"),
    ({"CpuShares": 2}, "--cpu-shares"),
    ({"CpusetCpus": "0"}, "--cpuset-cpus"),
    ({"MemorySwap": 1 << 20, "Memory": 1 << 20}, "--memory-swap"),
    ({"OomScoreAdj": 500}, "--oom-score-adj"),
    ({"ShmSize": 1 << 20}, "--shm-size"),
    ({"Sysctls": {"net.ipv4.ip_forward": "0"}}, "--sysctl"),
    ({"MaskedPaths": ["/proc/kcore", "/etc"]}, "MaskedPaths"),
    ({"ReadonlyPaths": ["/proc/sys"]}, "ReadonlyPaths"),
    ({"Mounts": [{"Type": "bind", "Source": "/etc", "Target": "/x", "ReadOnly": True}]}, "--mount"),
    ({"GroupAdd": ["audio"]}, "--group-add"),
])
def test_what_cannot_hold_is_refused(host, says):
    with pytest.raises(UsageError) as err:
        _req(host)
    assert says in str(err.value)
    assert "root:" not in str(err.value)  # (nothing of a host file)
