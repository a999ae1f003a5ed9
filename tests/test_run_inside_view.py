"""What a container sees from inside, held to a golden file: speeding up `cairn run`'s start
(issue 17: fewer forks and syscalls) must leave the view exactly as it was.

One container per network mode prints its PID 1's status (ids, capabilities, no_new_privs,
seccomp, pid namespace), the pids it can see, its cgroups, its mount table (ids made
relative, host paths and the host filesystem named), /etc/hosts, hostname, resolv.conf,
interfaces, addresses and routes, /dev and its ids. Host-specific values are replaced by
names (<STORE>, <ID>, <ADDR>, <NET>, <HOST_RESOLV>, <HOSTFS>) so that the file compares on
any host with the same kernel and busybox. Review a golden diff like code:
`pytest tests/test_run_inside_view.py --update-golden`.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from .conftest import GOLDEN, TEST_SUBNET, cairn_cli, imported_store

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="containers need root")

VIEW = r"""
echo "== pid"; echo $$
echo "== status"; grep -E '^(Name|Umask|Pid|PPid|TracerPid|Uid|Gid|Groups|NStgid|NSpid|NSpgid|NSsid|Cap[A-Za-z]+|NoNewPrivs|Seccomp|Seccomp_filters)[[:space:]]*:' /proc/1/status
echo "== procs"; echo /proc/[0-9]*
echo "== cgroup"; cat /proc/1/cgroup
echo "== mounts"; cat /proc/1/mountinfo
echo "== hosts"; cat /etc/hosts
echo "== hostname"; hostname; cat /etc/hostname
echo "== resolv"; cat /etc/resolv.conf
echo "== net"; tail -n +3 /proc/net/dev | cut -d: -f1; ip -o addr | grep -v ' inet6 fe80:'; ip route
echo "== dev"; ls -la /dev | tail -n +2
echo "== id"; id; umask; pwd
"""


@pytest.fixture(scope="module")
def root(tmp_path_factory, busybox_tar):
    yield from imported_store(tmp_path_factory, busybox_tar, "viewstore")


def _mounts(lines: list[str]) -> list[str]:
    """mountinfo with its ids numbered by first appearance (the root's parent is `out`),
    anonymous device numbers dropped, and binds of host files named <HOSTFS>."""
    ids: dict[str, str] = {}
    out = []
    for line in lines:
        fields = line.split(" ")
        mount_id, parent = fields[0], fields[1]
        ids.setdefault(mount_id, str(len(ids)))
        parent_name = ids.get(parent, "out")
        rest = " ".join(fields[3:])
        if fields[2].startswith("0:"):
            dev = "anon"
        else:
            dev = "hostdev"
            rest = re.sub(r" - \S+ \S+ \S+$", " - <HOSTFS>", rest)
        out.append(f"{ids[mount_id]} {parent_name} {dev} {rest}")
    return out


def _normalized(text: str, store: Path, host_resolv: str) -> str:
    sections: dict[str, list[str]] = {}
    name = ""
    for line in text.splitlines():
        if line.startswith("== "):
            name = line[3:]
            sections[name] = []
        else:
            sections[name].append(line)
    sections["mounts"] = _mounts(sections["mounts"])
    resolv = "\n".join(sections["resolv"]) + "\n"
    if resolv == host_resolv:
        sections["resolv"] = ["<HOST_RESOLV>"]
    sections["dev"] = [re.sub(r"\s+\w{3}\s+\d+\s+[\d:]{4,5}\s+", " <DATE> ", line) for line in sections["dev"]]
    body = "\n".join(f"== {k}\n" + "\n".join(v) for k, v in sections.items()) + "\n"
    address = re.search(r"^(\d+\.\d+\.\d+\.\d+)\t", "\n".join(sections["hosts"][6:]), re.MULTILINE)
    if address:
        body = body.replace(address.group(1), "<ADDR>")
    net = TEST_SUBNET.rsplit(".", 1)[0] + "."
    body = body.replace(net, "<NET>.")
    body = body.replace(str(store), "<STORE>")
    body = re.sub(r"\b[0-9a-f]{64}\b", "<ID>", body)
    return re.sub(r"\b[0-9a-f]{12}\b", "<ID>", body)


@pytest.mark.parametrize("network", ["none", "bridge"])
def test_the_container_sees_what_it_saw(root, network, update_golden):
    res = cairn_cli("run", "--rm", "--network", network, "busybox:local", "sh", "-c", VIEW, root=root)
    assert res.returncode == 0, res.stderr
    from builder.containers import metadata
    from builder.containers.spec import host_resolv_conf

    host_resolv = metadata.resolv_conf(host_resolv_conf(), (), (), ())
    view = _normalized(res.stdout.decode(), root, host_resolv)
    golden = GOLDEN / "run_view" / f"{network}.txt"
    if update_golden:
        golden.parent.mkdir(exist_ok=True)
        golden.write_text(view)
    assert view == golden.read_text()


def test_the_parent_forks_into_its_own_pid_namespace_again():
    """The start forks PID 1 straight into a new pid namespace (unshare(CLONE_NEWPID) in the
    parent's thread, then setns back): the parent's next children must be in its own
    namespace again, or they would land in the container's (gone with it: fork fails)."""
    from runtime import process

    if not process._direct(process.sc.CLONE_NEWPID):
        pytest.skip("only root in the host's user namespace forks directly")
    own = os.readlink("/proc/self/ns/pid")
    read_fd, write_fd = os.pipe()
    child = process._fork_into_pid_ns()
    if child == 0:
        os.write(write_fd, str(os.getpid()).encode())
        os._exit(0)
    os.close(write_fd)
    inside = os.read(read_fd, 16)
    os.close(read_fd)
    os.waitpid(child, 0)
    assert inside == b"1"  # PID 1 of its own namespace
    assert os.readlink("/proc/thread-self/ns/pid_for_children") == own
    res = __import__("subprocess").run(["sh", "-c", "readlink /proc/self/ns/pid"], capture_output=True)
    assert res.stdout.decode().strip() == own


@pytest.mark.parametrize("args", [("-u", "nosuchuser"), ("-w", "relative/dir")])
def test_a_run_refused_while_its_cgroup_is_made_ahead_leaves_none(root, args):
    """run makes the container's cgroup in a thread while it reads the image and writes the
    container's files (run_cgroup.EarlyCgroup): a run refused meanwhile removes it."""
    from .host_state import snapshot

    before = snapshot()
    res = cairn_cli("run", "--rm", "--network", "none", *args, "busybox:local", "true", root=root)
    assert res.returncode == 125 and b"Traceback" not in res.stderr, res.stderr
    assert snapshot().new_since(before)["cgroups"] == []
