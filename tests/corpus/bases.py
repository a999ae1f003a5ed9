"""Stand-in base images for the corpus, made from Debian's archive with mmdebstrap.

Docker Hub cannot be reached here, so `debian:bookworm`, `python:3.11-slim`, `node:18-slim`
and a toolchain image (tagged `gcc:12`, `golang:1.19` and `rust:1.63` too) are made from
Debian bookworm packages. Each rootfs tarball is cached in a directory keyed by everything
that shapes it (packages, hooks, the host's extra CA certificates), so only the first run
pays for mmdebstrap; every run imports the tarballs with `cairn import`.

The host's CA bundle may hold certificates Debian's ca-certificates lacks (a TLS-inspecting
egress proxy); those are put in /usr/local/share/ca-certificates of every base, so HTTPS from
a RUN step (pip, npm, apt over https) verifies, also after a build installs ca-certificates.

    python -m tests.corpus.bases [--root STORE] [REF...]   # make (and import) the bases
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

MIRROR = "http://deb.debian.org/debian"
SUITE = "bookworm"
REPO = Path(__file__).resolve().parents[2]
HOST_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
DEBIAN_CAS = Path("/usr/share/ca-certificates")

# What Docker's Debian images do after apt: no .deb files or package caches left behind.
APT_CLEAN = """\
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
"""
SLIM = ("/usr/share/doc/*", "/usr/share/man/*", "/usr/share/info/*", "/usr/share/locale/*")


class BaseUnavailable(Exception):
    """A base image's tarball is not cached and cannot be made here."""


@dataclass(frozen=True)
class Base:
    ref: str
    packages: tuple[str, ...]
    changes: tuple[str, ...]  # `cairn import -c` instructions
    hooks: tuple[str, ...] = ()  # mmdebstrap customize hooks ($1 is the rootfs)
    aliases: tuple[str, ...] = ()
    excludes: tuple[str, ...] = ()  # more dpkg path-exclude patterns
    maker: str = "mmdebstrap"  # or "busybox": examples/busybox-rootfs.sh (fast, not cached)


BASES = {b.ref: b for b in (
    Base("busybox:1.36", (), ('CMD ["sh"]',), maker="busybox"),
    Base("debian:bookworm", (), ('CMD ["bash"]',)),
    Base("python:3.11-slim", ("python3", "python3-venv", "python3-pip", "python-is-python3", "ca-certificates"),
         ("ENV LANG=C.UTF-8 PYTHON_VERSION=3.11", 'CMD ["python3"]'),
         # python images let pip install into the system interpreter
         ('rm -f "$1"/usr/lib/python3*/EXTERNALLY-MANAGED',)),
    Base("node:18-slim", ("nodejs", "npm", "yarnpkg", "ca-certificates"),
         ("ENV NODE_VERSION=18 YARN_VERSION=1.22", 'CMD ["node"]'),
         ('ln -s /usr/bin/yarnpkg "$1"/usr/local/bin/yarn',
          'chroot "$1" useradd --uid 1000 --user-group --shell /bin/bash --create-home node')),
    Base("buildpack-deps:bookworm", ("gcc", "libc6-dev", "make", "cmake", "golang-go", "rustc"),
         ('CMD ["bash"]',), aliases=("gcc:12", "golang:1.19", "rust:1.63"),
         # what building a program never uses: Go's own commands precompiled, gcc's LTO dumper, ctest/cpack
         excludes=("/usr/lib/go-*/pkg/linux_amd64/cmd/*", "/usr/bin/*lto-dump*", "/usr/bin/ctest", "/usr/bin/cpack")),
)}


def cache_dir() -> Path:
    """$CAIRN_CORPUS_CACHE, else /var/cache/cairn-corpus for root, else $XDG_CACHE_HOME/cairn-corpus."""
    if os.environ.get("CAIRN_CORPUS_CACHE"):
        return Path(os.environ["CAIRN_CORPUS_CACHE"])
    if os.geteuid() == 0:
        return Path("/var/cache/cairn-corpus")
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "cairn-corpus"


def _pem_blocks(text: str) -> list[str]:
    blocks, end = [], "-----END CERTIFICATE-----"
    for part in text.split(end)[:-1]:
        start = part.find("-----BEGIN CERTIFICATE-----")
        if start >= 0:
            blocks.append(part[start:].strip() + "\n" + end + "\n")
    return blocks


def extra_cas() -> list[str]:
    """The host bundle's certificates that Debian's ca-certificates does not ship."""
    if not HOST_BUNDLE.exists():
        return []
    known = {b for p in DEBIAN_CAS.rglob("*.crt") for b in _pem_blocks(p.read_text(errors="replace"))}
    return [b for b in _pem_blocks(HOST_BUNDLE.read_text(errors="replace")) if b not in known]


def _hooks(base: Base, cas: list[str], files: Path) -> list[str]:
    hooks = ['rm -f "$1"/etc/apt/apt.conf.d/99mmdebstrap',
             f'cp {files}/docker-clean "$1"/etc/apt/apt.conf.d/docker-clean']
    if cas:
        hooks.append(f'mkdir -p "$1"/usr/local/share/ca-certificates && cp {files}/*.crt '
                     '"$1"/usr/local/share/ca-certificates/')
        if "ca-certificates" in base.packages:
            hooks.append('chroot "$1" update-ca-certificates >/dev/null')
    hooks.append('rm -f "$1"/var/cache/apt/*.bin')  # apt's package caches, made again by apt-get update
    return hooks + list(base.hooks)


def key(base: Base, cas: list[str]) -> str:
    spec = repr((SUITE, MIRROR, sorted(base.packages), base.hooks, SLIM + base.excludes, APT_CLEAN, cas, 3))
    return hashlib.sha256(spec.encode()).hexdigest()[:16]


def tarball(ref: str, log=sys.stderr) -> Path:
    """The cached rootfs tarball of a base, made when missing (one maker at a time)."""
    base = BASES[ref]
    out_dir = cache_dir()
    out_dir.mkdir(parents=True, exist_ok=True)
    with open(out_dir / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two runs make one tarball, once
        if base.maker == "busybox":
            out = out_dir / "busybox.tar"
            subprocess.run([str(REPO / "examples" / "busybox-rootfs.sh"), f"{out}.part"], check=True, timeout=120)
            os.replace(f"{out}.part", out)
            return out
        cas = extra_cas()
        out = out_dir / f"{ref.replace(':', '_').replace('/', '_')}-{key(base, cas)}.tar"
        if not out.exists():
            if shutil.which("mmdebstrap") is None:
                raise BaseUnavailable(f"{ref} is not cached in {out_dir} and mmdebstrap is not installed "
                                      "(tests/setup-system.sh installs it)")
            print(f"making {ref} with mmdebstrap (cached as {out})", file=log, flush=True)
            _mmdebstrap(base, cas, out)
    return out


def _mmdebstrap(base: Base, cas: list[str], out: Path) -> None:
    with tempfile.TemporaryDirectory(dir=out.parent) as tmp:
        Path(tmp, "docker-clean").write_text(APT_CLEAN)
        for i, pem in enumerate(cas):
            Path(tmp, f"host-ca-{i}.crt").write_text(pem)
        cmd = ["mmdebstrap", "--variant=minbase", "--quiet", "--aptopt=APT::Install-Recommends \"false\"",
               *(f"--dpkgopt=path-exclude={p}" for p in SLIM + base.excludes)]
        if base.packages:
            cmd.append("--include=" + ",".join(base.packages))
        cmd += [f"--customize-hook={h}" for h in _hooks(base, cas, Path(tmp))]
        partial = Path(tmp, "rootfs.tar")
        cmd += [SUITE, str(partial), MIRROR]
        res = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=1800)
        if res.returncode != 0:
            raise RuntimeError(f"mmdebstrap failed for {base.ref}:\n{res.stdout.decode(errors='replace')[-3000:]}")
        partial.rename(out)


def import_into(cairn: list[str], env: dict, ref: str) -> None:
    """`cairn import` a base (and tag its aliases) into the store env's CAIRN_ROOT names."""
    base = BASES[ref]
    args = [a for change in base.changes for a in ("-c", change)]
    subprocess.run([*cairn, "import", *args, str(tarball(ref)), ref], env=env, check=True, cwd=REPO,
                   stdout=subprocess.DEVNULL, timeout=600)
    for alias in base.aliases:
        subprocess.run([*cairn, "tag", ref, alias], env=env, check=True, cwd=REPO, timeout=60)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", help="also import the bases into this cairn store")
    ap.add_argument("refs", nargs="*", default=list(BASES))
    opts = ap.parse_args()
    for ref in opts.refs:
        print(tarball(ref))
        if opts.root:
            import_into([sys.executable, "-m", "builder.cli"], dict(os.environ, CAIRN_ROOT=opts.root), ref)


if __name__ == "__main__":
    main()
