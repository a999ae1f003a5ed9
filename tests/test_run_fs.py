"""docker's filesystem and privilege flags of `cairn run`, as docker's docs write them:
--read-only, --tmpfs, --mount, -v NAME:/path, VOLUME, `cairn volume`, --cap-add/--cap-drop,
--privileged, --device and --security-opt (real namespaces, mounts and cgroups, as root)."""

from __future__ import annotations

import json
import os

import pytest

from .conftest import cairn_cli, imported_store

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="containers need root")

IMAGE = "busybox:local"


@pytest.fixture(scope="module")
def root(tmp_path_factory, busybox_tar):
    for store_root in imported_store(tmp_path_factory, busybox_tar, "runfs", 'CMD ["/bin/sh"]'):
        ctx = tmp_path_factory.mktemp("seeded")
        (ctx / "seed").mkdir()
        (ctx / "seed" / "greeting").write_text("from the image\n")
        (ctx / "Dockerfile").write_text("FROM busybox:local\nCOPY seed/ /seeded/\nVOLUME /seeded\n")
        res = cairn_cli("build", "-t", "seeded:1", str(ctx), root=store_root)
        assert res.returncode == 0, res.stderr
        yield store_root


def cli(root, *args, **kw):
    return cairn_cli(*args, root=root, **kw)


def run(root, *args, **kw):
    return cli(root, "run", "--rm", "--network", "none", *args, **kw)


def text(res) -> str:
    assert res.returncode == 0, res.stderr.decode()
    return res.stdout.decode()


def test_read_only_root_with_tmpfs_and_mounts(root, tmp_path):
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "main.txt").write_text("app source\n")
    script = ("touch /x 2>/dev/null || echo root-ro; touch /run/ok && echo run-rw; "
              "touch /dev/shm/ok && echo shm-rw; echo hi > /etc/hostname && echo files-rw; "
              "cat /app/main.txt; touch /app/new 2>/dev/null || echo app-ro; "
              "echo 'echo ran' > /scratch/s && chmod +x /scratch/s && /scratch/s; "
              "cp /bin/busybox /run/b && /run/b true 2>/dev/null || echo run-noexec; "
              "grep -E ' /(run|scratch|cache) ' /proc/mounts")
    out = text(run(root, "--read-only", "--tmpfs", "/run", "--tmpfs", "/scratch:rw,exec,size=1m,mode=1770",
                   "--mount", f"type=bind,source={tmp_path / 'app'},target=/app,readonly",
                   "--mount", "type=tmpfs,destination=/cache,tmpfs-size=2m,tmpfs-mode=1770",
                   IMAGE, "sh", "-c", script))
    lines = out.splitlines()
    assert lines[:8] == ["root-ro", "run-rw", "shm-rw", "files-rw", "app source", "app-ro", "ran", "run-noexec"]
    mounts = {line.split()[1]: line.split()[3].split(",") for line in lines[8:]}
    assert {"rw", "nosuid", "nodev", "noexec"} <= set(mounts["/run"])
    assert "noexec" not in mounts["/scratch"] and "size=1024k" in mounts["/scratch"]
    assert "mode=1770" in mounts["/scratch"] and "mode=1770" in mounts["/cache"] and "size=2048k" in mounts["/cache"]
    assert not (tmp_path / "app" / "new").exists()


def test_named_volumes_live_in_the_store(root):
    assert text(cli(root, "volume", "create", "appdata")) == "appdata\n"
    assert text(run(root, "-v", "appdata:/data", IMAGE, "sh", "-c", "echo kept > /data/f")) == ""
    assert text(run(root, "--mount", "source=appdata,target=/again,readonly", IMAGE, "sh", "-c",
                    "cat /again/f; touch /again/g 2>/dev/null || echo ro")) == "kept\nro\n"
    # first use of a new volume: filled from the image, as docker does; nocopy keeps it empty
    assert text(run(root, "-v", "fresh:/seeded", "seeded:1", "cat", "/seeded/greeting")) == "from the image\n"
    assert text(run(root, "--mount", "type=volume,src=empty,dst=/seeded,volume-nocopy", "seeded:1",
                    "ls", "/seeded")) == ""
    listing = text(cli(root, "volume", "ls")).splitlines()
    assert listing[0] == "DRIVER    VOLUME NAME"
    assert {"local     appdata", "local     fresh", "local     empty"} <= set(listing[1:])
    [info] = json.loads(text(cli(root, "volume", "inspect", "appdata")))
    assert info["Name"] == "appdata" and info["Driver"] == "local"
    assert open(os.path.join(info["Mountpoint"], "f")).read() == "kept\n"
    assert info["Mountpoint"].startswith(str(root))
    assert text(cli(root, "volume", "inspect", "-f", "{{.Mountpoint}}", "appdata")) == info["Mountpoint"] + "\n"


def test_volume_in_use_is_not_removed(root):
    res = cli(root, "run", "--name", "user1", "--network", "none", "-v", "busy:/data", IMAGE, "true")
    assert res.returncode == 0, res.stderr
    res = cli(root, "volume", "rm", "busy")
    assert res.returncode == 1 and b"remove busy: volume is in use - [" in res.stderr
    assert text(cli(root, "rm", "user1")) == "user1\n"
    assert text(cli(root, "volume", "rm", "busy")) == "busy\n"
    res = cli(root, "volume", "rm", "busy")
    assert res.returncode == 1 and b"no such volume" in res.stderr


def test_image_volume_is_anonymous_and_goes_with_run_rm(root):
    before = set(text(cli(root, "volume", "ls", "-q")).split())
    assert text(run(root, "seeded:1", "cat", "/seeded/greeting")) == "from the image\n"
    assert set(text(cli(root, "volume", "ls", "-q")).split()) == before
    res = cli(root, "run", "--name", "keeps", "--network", "none", "seeded:1", "true")
    assert res.returncode == 0, res.stderr
    [anonymous] = set(text(cli(root, "volume", "ls", "-q")).split()) - before
    assert len(anonymous) == 64
    assert anonymous not in text(cli(root, "volume", "prune", "-f"))  # still used by "keeps"
    text(cli(root, "rm", "keeps"))
    assert anonymous in text(cli(root, "volume", "prune", "-f"))
    assert "appdata" in text(cli(root, "volume", "ls", "-q"))  # prune keeps named volumes without --all


def test_capabilities_with_docker_names(root):
    script = "grep -E '^(CapEff|Seccomp|NoNewPrivs):' /proc/self/status"
    out = text(run(root, "--cap-drop=ALL", "--cap-add=NET_ADMIN", "--cap-add", "cap_sys_admin",
                   "--security-opt", "no-new-privileges=false", "--security-opt", "seccomp=unconfined",
                   IMAGE, "sh", "-c", script))
    fields = dict(line.split(":\t") for line in out.splitlines())
    assert int(fields["CapEff"], 16) == (1 << 12) | (1 << 21)
    assert fields["Seccomp"] == "0" and fields["NoNewPrivs"] == "0"
    out = text(run(root, "--cap-drop", "chown", "--cap-add", "SYS_PTRACE", IMAGE, "sh", "-c", script))
    fields = dict(line.split(":\t") for line in out.splitlines())
    assert int(fields["CapEff"], 16) == 0xa80425fb & ~1 | (1 << 19)
    assert fields["Seccomp"] == "2" and fields["NoNewPrivs"] == "1"


def test_privileged_and_devices(root):
    out = text(run(root, "--privileged", IMAGE, "sh", "-c",
                   "grep -E '^(CapEff|Seccomp):' /proc/self/status; test -c /dev/fuse && echo fuse"))
    fields = dict(line.split(":\t") for line in out.splitlines()[:2])
    with open("/proc/self/status") as f:
        host = next(line.split()[1] for line in f if line.startswith("CapEff:"))
    assert fields == {"CapEff": host, "Seccomp": "0"} and out.splitlines()[2] == "fuse"
    out = text(run(root, "--device", "/dev/zero:/dev/myzero", "--device", "/dev/full:/dev/ro-full:r", IMAGE,
                   "sh", "-c", "head -c 3 /dev/myzero | wc -c; head -c 2 /dev/ro-full | wc -c; "
                   "echo x > /dev/ro-full 2>/dev/null || echo write-denied"))
    assert out.split() == ["3", "2", "write-denied"]
    out = text(run(root, IMAGE, "sh", "-c", "test -e /dev/fuse || echo no-fuse"))
    assert out == "no-fuse\n"


@pytest.mark.parametrize("args,code,message", [
    # a bad value: docker run's 125
    (["--mount", "type=volume,src=../../etc,dst=/x"], 125, "invalid characters for a local volume name"),
    (["-v", "../../etc:/x"], 125, "invalid characters for a local volume name"),
    (["--mount", "type=bind,src=/no/such/dir,dst=/x"], 125, "bind source path does not exist"),
    (["--mount", "type=bind,src=/tmp"], 125, "the target (destination) is missing"),
    (["--tmpfs", "/x:size=lots"], 125, "write it like 64m"),
    (["--cap-add", "NOT_A_CAP"], 125, 'unknown capability: "NOT_A_CAP"'),
    (["--security-opt", "seccomp=/no/such/profile.json"], 125, "cannot read the seccomp profile"),
    (["--security-opt", "nosuchopt"], 125, "unknown option"),
    (["--device", "/etc/passwd"], 125, "not a device node"),
    # docker's meaning cannot hold here: refused, 2, with the reason
    (["--mount", "type=bind,src=/tmp,dst=/x,bind-propagation=rshared"], 2, "bind-propagation=rshared is not supported"),
    (["--mount", "type=volume,src=v1,dst=/x,volume-opt=type=nfs"], 2, "volume-opt is not supported"),
    (["--mount", "type=volume,src=v1,dst=/x,volume-driver=nfs"], 2, "volume-driver=nfs is not supported"),
    (["--tmpfs", "/x:dev"], 2, "every container mount is nodev"),
    (["--security-opt", "apparmor=docker-default"], 2, "cairn applies no AppArmor profile"),
    (["--device", "/dev/null:/etc/null"], 2, "must be below /dev"),
])
def test_refused_with_a_reason(root, args, code, message):
    res = run(root, *args, IMAGE, "true")
    assert res.returncode == code and message.encode() in res.stderr, res.stderr


@pytest.mark.parametrize("name", ["../x", "a/b", ".hidden", "x"])
def test_volume_names_never_paths(root, name):
    for command in (["volume", "create", name], ["volume", "rm", name], ["volume", "inspect", name]):
        res = cli(root, *command)
        assert res.returncode in (1, 2) and b"Traceback" not in res.stderr
    assert not (root / "x").exists() and not (root / "volumes" / "a").exists()


def test_seccomp_profile_in_dockers_format(root, tmp_path):
    profile = tmp_path / "profile.json"
    profile.write_text(json.dumps({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
        {"names": ["chmod", "fchmodat", "fchmodat2"], "action": "SCMP_ACT_ERRNO",
         "excludes": {"caps": ["CAP_SYS_ADMIN"]}}]}))
    script = "mkdir /x 2>&1; chmod 600 /etc/passwd 2>&1; grep Seccomp: /proc/self/status"
    out = text(run(root, "--security-opt", f"seccomp={profile}", IMAGE, "sh", "-c", script))
    assert "Permission denied" in out.splitlines()[0] and "Operation not permitted" in out.splitlines()[1]
    assert out.splitlines()[2] == "Seccomp:\t2"
    out = text(run(root, "--security-opt", f"seccomp={profile}", "--cap-add", "SYS_ADMIN", IMAGE, "sh", "-c",
                   "chmod 600 /etc/passwd && echo chmod-allowed"))
    assert out == "chmod-allowed\n"
    if os.path.exists("/usr/share/containers/seccomp.json"):  # the containers project's default, a real profile
        out = text(run(root, "--security-opt", "seccomp=/usr/share/containers/seccomp.json", IMAGE, "sh", "-c",
                       "echo ok; grep Seccomp: /proc/self/status"))
        assert out == "ok\nSeccomp:\t2\n"


@pytest.mark.parametrize("doc,message", [
    ({"defaultAction": "SCMP_ACT_NOTIFY"}, "SCMP_ACT_NOTIFY needs a seccomp agent"),  # refused: 2
    ({"syscalls": []}, "no defaultAction"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO",
                                                       "args": [{"index": 0, "value": 1, "op": "LIKE"}]}]},
     "unknown op"),
    ("not json", "is not valid JSON"),
])
def test_bad_seccomp_profiles_are_refused(root, tmp_path, doc, message):
    profile = tmp_path / "p.json"
    profile.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    res = run(root, "--security-opt", f"seccomp={profile}", IMAGE, "true")
    assert res.returncode == (2 if "NOTIFY" in message else 125) and message.encode() in res.stderr, res.stderr
