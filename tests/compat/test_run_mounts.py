"""RUN --mount, secrets, --network and --security, ported from BuildKit's
dockerfile_mount_test.go, dockerfile_secrets_test.go, dockerfile_runnetwork_test.go,
dockerfile_runsecurity_test.go (dockerfile_ssh_test.go: test_ssh.py)."""

from __future__ import annotations

from .helpers import LoopbackHTTP, build_err, build_ok, cached_steps, container, export, needs_root, write

pytestmark = needs_root


@container
def test_bind_mount_of_the_context(root, tmp_path):
    ctx = write(tmp_path / "c", {"Dockerfile": "FROM busybox\nRUN --mount=target=/context [ \"$(cat /context/data)\" = ok ]\n",
                                 "data": "ok"})
    build_ok(root, ctx)


@container
def test_bind_mounts_show_their_sources_mode_to_a_user_step(root, tmp_path):
    """A context directory, a stage's directory (empty, or rw) mounted for a step run as nobody:
    each mount's root has its source's mode (0755 here, not a scratch directory's 0700) and owner
    (nobody writes in a directory of its own mounted rw)."""
    ctx = write(tmp_path / "c", {"Dockerfile": (
        "FROM busybox AS s\nRUN mkdir -p /a/b /e /o && echo st > /a/b/g && chmod 750 /e && chown nobody /o\n"
        "FROM busybox\nUSER nobody\n"
        "RUN --mount=target=/m,source=d --mount=from=s,source=a/b,target=/s,rw --mount=from=s,source=e,target=/e "
        "--mount=target=/w,source=d,rw --mount=from=s,source=o,target=/o,rw "
        "sh -c 'cat /m/f /s/g /w/f; stat -c %a /m /s /e /w; touch /o/x && echo nobody-wrote'\n"),
        "d/f": "ok\n"})
    (ctx / "d").chmod(0o755)
    err = build_ok(root, ctx, "--progress", "plain", "--no-cache")
    assert "755\n" in err and "750\n" in err and "700" not in err and "nobody-wrote" in err, err


@container
def test_tmpfs_mount_leaves_nothing(root, tmp_path):
    ctx = write(tmp_path / "c", {"Dockerfile": ("FROM busybox\nRUN --mount=target=/scratchpad,type=tmpfs touch /scratchpad/x\n"
                                                "RUN [ ! -e /scratchpad/x ]\n")})
    build_ok(root, ctx)


def test_invalid_mount_flags_suggest_the_right_word(root, tmp_path):
    cases = {"RUN --mont=target=/m,type=tmpfs true": ("unknown flag: mont", "did you mean mount?"),
             "RUN --mount=typ=tmpfs true": ("unexpected key 'typ'", "did you mean type?"),
             "RUN --mount=type=tmp true": ('unsupported mount type "tmp"', "did you mean tmpfs?")}
    for i, (line, words) in enumerate(cases.items()):
        err = build_err(root, write(tmp_path / str(i), {"Dockerfile": f"FROM scratch\n{line}\n"}))
        for word in words:
            assert word in err, (line, err)


@container
def test_rw_bind_from_stage_is_cached_by_content(root, tmp_path):
    df = ("FROM busybox AS build\nCOPY bust /\nRUN mkdir /out && echo foo > /out/foo\n"
          "FROM busybox AS second\nRUN --mount=from=build,src=out,target=/out,rw touch /out/bar"
          " && head -c 32 /dev/urandom | od -x > /unique\nFROM scratch\nCOPY --from=second /unique /unique\n")
    ctx = write(tmp_path / "c", {"Dockerfile": df, "bust": "0"})
    first = (export(root, ctx, tmp_path / "o1") / "unique").read_text()
    write(ctx, {"bust": "1"})
    assert (export(root, ctx, tmp_path / "o2") / "unique").read_text() == first


@container
def test_cache_mount_owner_and_mode(root, tmp_path):
    ctx = write(tmp_path / "c", {"Dockerfile": ("FROM busybox\nRUN --mount=type=cache,target=/mc,uid=1001,gid=1002,mode=0751"
                                                " [ \"$(stat -c '%u %g %f' /mc)\" = '1001 1002 41e9' ]\n")})
    build_ok(root, ctx)


@container
def test_cache_mounts_by_target_id_env_and_args(root, tmp_path):
    ctx = write(tmp_path / "c", {"Dockerfile": (
        "ARG META=/tmp/meta\nFROM busybox AS one\nARG META\nENV SOME=/c1\nARG KIND=cache\nENV MID=shared\n"
        "RUN --mount=type=cache,target=/c1 touch /c1/foo\n"
        "RUN --mount=type=cache,target=/c2 [ ! -f /c2/foo ]\n"
        "RUN --mount=type=cache,target=$SOME [ -f $SOME/foo ]\n"
        "RUN --mount=type=$KIND,target=/k touch /k/k\nRUN --mount=type=cache,target=/k [ -f /k/k ]\n"
        "RUN --mount=type=cache,id=shared,target=/a touch /a/s\n"
        "RUN --mount=type=cache,id=$MID,target=/b [ -f /b/s ]\n"
        "RUN --mount=type=cache,id=metacache,target=/tmp/meta touch /tmp/meta/m\n"
        "RUN --mount=type=cache,id=metacache,target=$META [ -f /tmp/meta/m ]\n"
        "FROM one\nRUN --mount=type=cache,id=$MID,target=/other [ -f /other/s ]\n")})
    build_ok(root, ctx)


def test_mount_from_with_a_variable_is_an_error(root, tmp_path):
    ctx = write(tmp_path / "c", {"Dockerfile": ("FROM busybox AS test\nRUN touch /tmp/test\nFROM busybox\nENV ttt=test\n"
                                                "RUN --mount=from=$ttt,type=cache,target=/tmp ls\n")})
    assert "'from' doesn't support variable expansion, define alias stage instead" in build_err(root, ctx)


@container
def test_tmpfs_size(root, tmp_path):
    ctx = write(tmp_path / "c", {"Dockerfile": ("FROM busybox AS b\nRUN --mount=type=tmpfs,target=/dev/shm,size=128m"
                                                " mount | grep /dev/shm > /tmpfssize\nFROM scratch\nCOPY --from=b /tmpfssize /\n")})
    assert "size=131072k" in (export(root, ctx, tmp_path / "o") / "tmpfssize").read_text()


@container
def test_bind_mounts_see_context_updates(root, tmp_path):
    df = ("FROM busybox AS b\nRUN --mount=source=.,target=/tmp/all --mount=source=b.txt,target=/tmp/b.txt"
          " cat /tmp/all/a.txt /tmp/b.txt > /combined.txt\nFROM scratch\nCOPY --from=b /combined.txt /\n")
    for i, text in enumerate(("foo\n", "updated\n")):
        ctx = write(tmp_path / "c", {"Dockerfile": df, "a.txt": text, "b.txt": "bar\n"})
        assert (export(root, ctx, tmp_path / f"o{i}") / "combined.txt").read_text() == text + "bar\n"


@container
def test_parallel_stages_share_a_cache_mount(root, tmp_path):
    ctx = write(tmp_path / "c", {"Dockerfile": (
        "FROM busybox AS a\nRUN --mount=type=cache,id=par,target=/c sh -c 'echo a >> /c/log; cat /c/log > /seen'\n"
        "FROM busybox AS b\nRUN --mount=type=cache,id=par,target=/c sh -c 'echo b >> /c/log; cat /c/log > /seen'\n"
        "FROM scratch\nCOPY --from=a /seen /a\nCOPY --from=b /seen /b\n")})
    out = export(root, ctx, tmp_path / "o")
    assert "a" in (out / "a").read_text().split() and "b" in (out / "b").read_text().split()


@container
def test_secret_mount_owner_mode_and_no_stub(root, tmp_path):
    ctx = write(tmp_path / "c", {"Dockerfile": ("FROM busybox\nRUN --mount=type=secret,required=false,mode=741,uid=100,gid=102,"
                                                "target=/mysecret [ \"$(stat -c '%u %g %f' /mysecret)\" = '100 102 81e1' ]\n"
                                                "RUN [ ! -f /mysecret ]\n"),
                                 "pw": "pw"})
    build_ok(root, ctx, "--secret", f"id=mysecret,src={ctx / 'pw'}")


def test_required_secret_without_value_fails(root, tmp_path):
    ctx = write(tmp_path / "c", {"Dockerfile": "FROM busybox\nRUN --mount=type=secret,required,id=mysecret true\n"})
    assert "mysecret" in build_err(root, ctx)


@container
def test_secret_as_environment_variable(root, tmp_path):
    ctx = write(tmp_path / "c", {"Dockerfile": (
        "FROM busybox\nENV SECRET_ENV=foo\n"
        "RUN --mount=type=secret,id=mysecret,env=SECRET_ENV [ \"$SECRET_ENV\" = pw ] && [ ! -f /run/secrets/mysecret ]\n"
        "RUN --mount=type=secret,id=mysecret,target=/run/secrets/s,env=SECRET_ENV2"
        " [ \"$SECRET_ENV2\" = pw ] && [ -f /run/secrets/s ]\n"), "pw": "pw"})
    build_ok(root, ctx, "--secret", f"id=mysecret,src={ctx / 'pw'}")


@container
def test_network_none_and_host(root, tmp_path):
    ctx = write(tmp_path / "c", {"Dockerfile": ("FROM busybox\nRUN --network=none [ \"$(ls /sys/class/net)\" = lo ]\n"
                                                "RUN --network=host ls /sys/class/net > /dev/null\n")})
    build_ok(root, ctx, "--allow", "network.host")  # BuildKit's entitlement, as its test grants


@container
def test_default_network_has_an_interface(root, tmp_path):
    ctx = write(tmp_path / "c", {"Dockerfile": "FROM busybox\nRUN ip link show eth0\n"})
    build_ok(root, ctx)


@container
def test_global_network_none(root, tmp_path):
    ctx = write(tmp_path / "c", {"Dockerfile": ("FROM busybox\nRUN [ \"$(ls /sys/class/net)\" = lo ]\n"
                                                "RUN --network=default [ \"$(ls /sys/class/net)\" = lo ]\n")})
    build_ok(root, ctx, "--network", "none")
    assert "invalid --network 'bridge'" in build_err(root, ctx, "--network", "bridge")


@container
def test_global_network_host_and_a_step_that_opts_out(root, tmp_path):
    """BuildKit's testRunGlobalNetwork: with the build on the host's network a RUN reaches a
    server on the host's loopback; RUN --network=none still cannot."""
    server = LoopbackHTTP({"/hello": (b"foo", {})})
    try:
        ctx = write(tmp_path / "c", {"Dockerfile": (f"FROM busybox\nRUN wget -qO- {server.url}/hello | grep foo\n"
                                                    f"RUN --network=none ! wget -qO- {server.url}/hello\n")})
        assert "--allow network.host" in build_err(root, ctx, "--network", "host")
        build_ok(root, ctx, "--network", "host", "--allow", "network.host")
    finally:
        server.close()


@container
def test_security_sandbox_and_insecure(root, tmp_path):
    ctx = write(tmp_path / "c", {"Dockerfile": (
        "FROM busybox\nRUN --security=sandbox [ \"$(grep CapEff /proc/self/status)\" != \"CapEff:\t000001ffffffffff\" ]\n"
        "RUN [ \"$(grep CapEff /proc/self/status)\" != \"CapEff:\t000001ffffffffff\" ]\n")})
    build_ok(root, ctx)


@container
def test_security_insecure_needs_an_entitlement(root, tmp_path):
    """BuildKit's testRunSecurityInsecure and testInsecureDevicesWhitelist: every capability,
    the host's fuse and loop devices (a loop mount works), dmesg; the steps around it keep
    the sandbox; and nothing of it without `--allow security.insecure`."""
    # BuildKit grants the capabilities its daemon holds (all 38 of Linux 3.5 when it holds them);
    # cairn's are the test's own, which this machine's sandbox may already have narrowed
    with open("/proc/self/status") as f:
        own = next(line.split()[1] for line in f if line.startswith("CapEff:"))
    all_caps = f"grep -qx 'CapEff:\t{own}' /proc/self/status && grep -qx 'CapBnd:\t{own}' /proc/self/status"
    ctx = write(tmp_path / "c", {"Dockerfile": (
        "FROM busybox\nRUN [ ! -e /dev/fuse ] && [ ! -e /dev/loop-control ]\n"
        f"RUN --security=insecure {all_caps} && [ -c /dev/fuse ] && [ -c /dev/loop-control ]\n"
        "RUN --security=insecure dmesg > /dev/null\n"
        "RUN --security=insecure dd if=/dev/zero of=/disk.img bs=1M count=4 && mke2fs -Fq /disk.img && mkdir -p /mnt"
        " && mount -o loop /disk.img /mnt && touch /mnt/foo && umount /mnt && rm /disk.img\n"
        "RUN [ \"$(grep CapBnd /proc/self/status)\" = \"CapBnd:\t00000000a80425fb\" ] && [ ! -e /dev/fuse ]\n")})
    err = build_err(root, ctx)
    assert "Dockerfile:3:" in err and "entitlement security.insecure is not allowed" in err, err
    build_ok(root, ctx, "--allow", "security.insecure")


@container
def test_insecure_and_sandboxed_steps_do_not_share_a_cache_record(root, tmp_path):
    sandboxed = write(tmp_path / "a", {"Dockerfile": "FROM busybox\nRUN grep CapEff /proc/self/status > /caps\n"})
    insecure = write(tmp_path / "b", {"Dockerfile": "FROM busybox\nRUN --security=insecure grep CapEff /proc/self/status > /caps\n"})
    build_ok(root, sandboxed)
    assert cached_steps(build_ok(root, insecure, "--allow", "security.insecure")) == 0
