#!/bin/sh
# Make a minimal root filesystem tarball from Debian's busybox-static, offline:
#   examples/busybox-rootfs.sh OUT.tar
# /bin/busybox plus a symlink per applet, /etc/passwd and /etc/group with root and
# nobody, and the usual empty directories. Import it with `cairn import OUT.tar busybox:local`.
set -eu
out=${1:?usage: busybox-rootfs.sh OUT.tar}
bb=$(command -v busybox || true)
[ -n "$bb" ] && [ -x "$bb" ] || { echo "busybox not found: apt-get install busybox-static" >&2; exit 1; }
case $(file -b "$bb" 2>/dev/null || echo static) in *dynamic*) echo "$bb is not static: install busybox-static" >&2; exit 1;; esac
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/bin" "$root/etc" "$root/tmp" "$root/root" "$root/proc" "$root/sys" "$root/dev" "$root/var" "$root/home"
chmod 1777 "$root/tmp"
chmod 700 "$root/root"
cp "$bb" "$root/bin/busybox"
for applet in $("$bb" --list); do
  [ "$applet" = busybox ] || ln -s busybox "$root/bin/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' > "$root/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' > "$root/etc/group"
# Fixed mtimes make the tarball, and so the imported image, reproducible.
find "$root" -exec touch -h -d @0 {} +
tar --numeric-owner --owner=0 --group=0 --sort=name -C "$root" -cf "$out" .
