"""docker's privilege flags for `cairn run`: --cap-add/--cap-drop, --privileged, --device
and --security-opt, parsed and applied to a runtime Spec.

- Capabilities take docker's names with or without `CAP_`, in any case, and `ALL`; they are
  added to and dropped from docker's default set as docker does (moby's TweakCapabilities).
- `--privileged` is runtime.insecure's sandbox-off Spec, as `RUN --security=insecure`:
  every capability, no seccomp, no_new_privs off, /proc and /sys unmasked, every device
  allowed by the device cgroup. Unlike docker, /dev gets only runtime.insecure's nodes
  (fuse, kvm, net/tun, loop devices, ...), not every host device: give others with --device.
- `--device HOST[:CONTAINER[:rwm]]`: a host character or block device, made in the
  container's /dev and allowed (with those permissions) by the device cgroup.
- `--security-opt`: no-new-privileges[:true|false] (cairn's default is true, docker's false),
  seccomp=unconfined or seccomp=PROFILE.json (docker's format, runtime.seccomp_json),
  systempaths=unconfined, apparmor=unconfined and label=disable (cairn
  applies neither AppArmor nor SELinux labels, so these hold as they are). What cannot hold
  here is Refused (exit 2, with the reason); a bad value is a UsageError (run exits 125).
"""

from __future__ import annotations

import os
import posixpath
import re
import stat
from dataclasses import replace

from runtime.devices import ALLOWED, NODES
from runtime.spec import CAPABILITY_NUMBERS, DEFAULT_CAPABILITIES, Device, Spec
from runtime.record import Record, record

from ..bounded import loads_json, read_regular_file
from ..errors import Refused, UsageError

MAX_PROFILE = 1 << 20


@record
class DeviceRequest(Record):
    path: str  # in the container, below /dev ("net/tun")
    kind: str  # c | b
    major: int
    minor: int
    access: str  # some of r, w, m


@record
class SecurityOptions(Record):
    no_new_privileges: bool | None = None  # None: cairn's default (on)
    seccomp: bool = True  # docker's default profile; False: unconfined
    unmask_system_paths: bool = False  # systempaths=unconfined
    seccomp_profile: object = None  # seccomp=PROFILE.json: the parsed JSON (runtime.seccomp_json reads it)


def _cap_name(name: str) -> str:
    upper = name.strip().upper()
    if upper == "ALL":
        return upper
    if not upper.startswith("CAP_"):
        upper = "CAP_" + upper
    if upper not in CAPABILITY_NUMBERS:
        raise UsageError(f'unknown capability: "{name}"')
    return upper


def _available() -> tuple[str, ...]:
    """Every capability this kernel has that cairn holds (what "ALL" means here)."""
    from runtime import insecure as runtime_insecure  # (here and for --privileged only)

    return runtime_insecure.held_capabilities() or tuple(CAPABILITY_NUMBERS)


def capabilities(cap_add: tuple[str, ...], cap_drop: tuple[str, ...]) -> tuple[str, ...]:
    """The container's capability set after docker's --cap-add/--cap-drop rules."""
    adds = [_cap_name(c) for c in cap_add]
    drops = [_cap_name(c) for c in cap_drop]
    available = _available()
    if "ALL" in adds:
        caps = [c for c in available if c not in drops]
    elif "ALL" in drops:
        caps = list(adds)
    else:
        caps = [c for c in DEFAULT_CAPABILITIES if c not in drops] + adds
    unknown = [c for c in caps if c not in available]
    if unknown:
        raise Refused(f"cannot add {', '.join(unknown)}: this kernel (or cairn) does not hold it")
    return tuple(dict.fromkeys(caps))


def parse_device(text: str) -> DeviceRequest:
    """`--device /dev/fuse`, `--device /dev/sda:/dev/xvdc:r`, `--device /dev/net/tun:rwm`."""
    parts = text.split(":")
    if not 1 <= len(parts) <= 3 or not parts[0]:
        raise UsageError(f"invalid --device {text!r}: expected HOST[:CONTAINER[:PERMISSIONS]]")
    host = parts[0]
    container, access = host, "rwm"
    if len(parts) == 2:
        if re.match(r"^[rwm]{1,3}$", parts[1]):
            access = parts[1]
        else:
            container = parts[1]
    elif len(parts) == 3:
        container, access = parts[1], parts[2]
    if not re.match(r"^[rwm]{1,3}$", access):
        raise UsageError(f"invalid --device {text!r}: permissions must be some of r, w, m, not {access!r}")
    try:
        st = os.stat(host)
    except OSError as err:
        raise UsageError(f"invalid --device {text!r}: error gathering device information while adding custom "
                         f"device \"{host}\": {err.strerror}") from None
    if stat.S_ISDIR(st.st_mode):
        raise Refused(f"invalid --device {text!r}: {host} is a directory: give each device node of it")
    if not (stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode)):
        raise UsageError(f"invalid --device {text!r}: {host} is not a device node")
    path = posixpath.normpath(container)
    if not path.startswith("/dev/") or "/../" in path + "/":
        raise Refused(f"invalid --device {text!r}: the container path must be below /dev "
                         "(cairn makes device nodes only on the container's own /dev)")
    return DeviceRequest(path[len("/dev/"):], "b" if stat.S_ISBLK(st.st_mode) else "c",
                         os.major(st.st_rdev), os.minor(st.st_rdev), "".join(dict.fromkeys(access)))


def _bool_value(key: str, value: str, text: str) -> bool:
    if value.lower() in ("", "true", "1"):
        return True
    if value.lower() in ("false", "0"):
        return False
    raise UsageError(f"invalid --security-opt {text!r}: invalid {key} value {value!r}: use true or false")


def _read_profile(path: str, text: str) -> dict:
    what = f"the seccomp profile {path}"
    doc = loads_json(read_regular_file(path, MAX_PROFILE, what), what)
    seccomp_profile(doc, DEFAULT_CAPABILITIES, text)  # checked now, with the final capabilities at start
    return doc


def seccomp_profile(doc: dict, caps: tuple[str, ...], text: str = "seccomp"):
    """runtime.seccomp_json's rules of a docker profile for this capability set."""
    from runtime import seccomp_json  # (only a profile of the user's loads it)

    try:
        return seccomp_json.parse(doc, caps)
    except seccomp_json.Unsupported as err:
        raise Refused(f"invalid --security-opt {text!r}: {err}") from None
    except (seccomp_json.ProfileError, TypeError, AttributeError) as err:
        raise UsageError(f"invalid --security-opt {text!r}: {err}") from None


def parse_security_opts(texts: tuple[str, ...]) -> SecurityOptions:
    opts = SecurityOptions()
    for text in texts:
        key, sep, value = text.partition("=")
        if not sep:
            key, sep, value = text.partition(":")  # docker's older form, no-new-privileges:true
        if key == "no-new-privileges":
            opts = replace(opts, no_new_privileges=_bool_value(key, value, text))
        elif key == "seccomp":
            if value == "unconfined":
                opts = replace(opts, seccomp=False)
            elif value in ("", "default", "builtin"):
                opts = replace(opts, seccomp=True, seccomp_profile=None)
            else:
                opts = replace(opts, seccomp=True, seccomp_profile=_read_profile(value, text))
        elif key == "systempaths":
            if value != "unconfined":
                raise UsageError(f"invalid --security-opt {text!r}: systempaths takes only unconfined")
            opts = replace(opts, unmask_system_paths=True)
        elif key == "apparmor":
            if value != "unconfined":
                raise Refused(f"invalid --security-opt {text!r}: cairn applies no AppArmor profile, so it "
                                 f"cannot confine a container with {value!r}; only apparmor=unconfined holds")
        elif key == "label":
            if value != "disable":
                raise Refused(f"invalid --security-opt {text!r}: cairn sets no SELinux labels; only "
                                 "label=disable holds")
        else:
            raise UsageError(f"invalid --security-opt {text!r}: unknown option {key!r} (use no-new-privileges, "
                             "seccomp, systempaths, apparmor or label)")
    return opts


def apply(spec: Spec, *, cap_add=(), cap_drop=(), privileged=False, devices=(), security=None):
    """(the Spec with these flags applied, the device cgroup's rules)."""
    rules = tuple(ALLOWED)
    security = security or SecurityOptions()
    if privileged:
        from runtime import insecure as runtime_insecure

        spec = runtime_insecure.insecure(spec)
        rules = runtime_insecure.ALL_DEVICES
    else:
        proc = spec.process
        caps = capabilities(tuple(cap_add), tuple(cap_drop)) if cap_add or cap_drop else proc.capabilities
        spec = replace(spec, process=replace(proc, capabilities=caps, seccomp=proc.seccomp and security.seccomp))
        if security.seccomp and security.seccomp_profile is not None:
            spec = replace(spec, process=replace(spec.process,
                                                 seccomp_profile=seccomp_profile(security.seccomp_profile, caps)))
        if security.unmask_system_paths:
            spec = replace(spec, masked_paths=(), readonly_paths=())
    if security.no_new_privileges is not None:
        spec = replace(spec, process=replace(spec.process, no_new_privileges=security.no_new_privileges))
    if devices:
        have = {d.path for d in spec.devices} | {name for name, _, _ in NODES}  # /dev/null is always there
        extra = tuple(Device(d.path, d.kind, d.major, d.minor) for d in devices if d.path not in have)
        spec = replace(spec, devices=spec.devices + extra)
        rules += tuple((d.kind, d.major, d.minor, d.access) for d in devices)
    return spec, rules
