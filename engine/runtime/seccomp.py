"""Seccomp as Docker applies it: a profile's rules chosen for one container, compiled to a
BPF program with libseccomp, loaded into the container's init right before ``execve``.

Semantics: Docker's default profile (``profiles/seccomp-default.json``, shipped unmodified,
see ``profiles/README.md``) is an allowlist whose default action fails a syscall with
EPERM. Some entries apply only when the container holds a capability, runs on an
architecture or on a minimum kernel (``includes``) or only when it does not
(``excludes``); :func:`select` follows moby's ``setupSeccomp`` exactly (capabilities are
checked against the bounding set), and :func:`compile_program` runc's filter construction
(syscalls libseccomp does not know are skipped; several conditions on one argument become
separate rules). One difference: runc patches the program so that syscalls newer than the
profile fail with ENOSYS; here they fail with the default action, EPERM.

Binding: Debian's ``python3-seccomp`` serves only the system interpreter, and PyPI's
ctypes binding ``pyseccomp`` has had no release since 2021, so this module calls the
handful of libseccomp functions it needs (a stable C API since 2.0) through ctypes.

The program is compiled on the host side, before the container is entered: after
pivot_root neither the profile file nor ``libseccomp.so.2`` is reachable, and the init
then only needs one ``seccomp(2)`` call.
"""

from __future__ import annotations

import ctypes
import errno
import functools
import json
import os
from dataclasses import dataclass
from typing import Any

from ..errors import InvalidArgument, Unsupported
from . import seccomp_cache

BUILTIN = "builtin"
UNCONFINED = "unconfined"

_ACT_KILL_THREAD = 0x00000000
_ACT_KILL_PROCESS = 0x80000000
_ACT_TRAP = 0x00030000
_ACT_ERRNO = 0x00050000
_ACT_TRACE = 0x7FF00000
_ACT_LOG = 0x7FFC0000
_ACT_ALLOW = 0x7FFF0000
_OPERATORS = {"SCMP_CMP_NE": 1, "SCMP_CMP_LT": 2, "SCMP_CMP_LE": 3, "SCMP_CMP_EQ": 4,
              "SCMP_CMP_GE": 5, "SCMP_CMP_GT": 6, "SCMP_CMP_MASKED_EQ": 7}
# seccomp(2) flags a profile may ask for; TSYNC is moot for a single-threaded init.
_FLAGS = {"SECCOMP_FILTER_FLAG_TSYNC": 0, "SECCOMP_FILTER_FLAG_LOG": 2,
          "SECCOMP_FILTER_FLAG_SPEC_ALLOW": 4}
_NR_SCMP_ERROR = -1
_SCMP_FLTATR_CTL_OPTIMIZE = 8
_SECCOMP_SET_MODE_FILTER = 1
_PR_GET_SECCOMP = 21
_PR_SET_SECCOMP = 22
_SECCOMP_MODE_FILTER = 2

# uname machine → (the name moby's profiles use in "arches", the archMap entry to use).
_MACHINES = {
    "x86_64": ("amd64", "SCMP_ARCH_X86_64"), "aarch64": ("arm64", "SCMP_ARCH_AARCH64"),
    "i686": ("x86", "SCMP_ARCH_X86"), "i386": ("x86", "SCMP_ARCH_X86"),
    "armv7l": ("arm", "SCMP_ARCH_ARM"), "ppc64le": ("ppc64le", "SCMP_ARCH_PPC64LE"),
    "s390x": ("s390x", "SCMP_ARCH_S390X"), "riscv64": ("riscv64", "SCMP_ARCH_RISCV64"),
    "mips64": ("mips64", "SCMP_ARCH_MIPS64"),
    "loongarch64": ("loongarch64", "SCMP_ARCH_LOONGARCH64"),
}


class _ArgCmp(ctypes.Structure):
    _fields_ = (("arg", ctypes.c_uint), ("op", ctypes.c_int),
                ("datum_a", ctypes.c_uint64), ("datum_b", ctypes.c_uint64))


class _SockFprog(ctypes.Structure):
    _fields_ = (("len", ctypes.c_ushort), ("filter", ctypes.c_void_p))


_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.argtypes = [ctypes.c_long, ctypes.c_uint, ctypes.c_uint, ctypes.c_void_p]
_libc.prctl.argtypes = [ctypes.c_int] + [ctypes.c_ulong] * 4


@dataclass(frozen=True)
class Rule:
    """One profile entry for one container: syscall names, the action, the conditions
    as (argument index, operator, value, valueTwo)."""

    names: tuple[str, ...]
    action: int
    args: tuple[tuple[int, int, int, int], ...] = ()


@dataclass(frozen=True)
class Selection:
    """A profile narrowed to one container's capabilities, architecture and kernel."""

    default_action: int
    architectures: tuple[str, ...]  # libseccomp names: "x86_64", "x86", "x32"
    rules: tuple[Rule, ...]
    flags: int = 0


@dataclass(frozen=True)
class Program:
    """A compiled filter: raw ``struct sock_filter`` instructions and seccomp(2) flags."""

    bpf: bytes
    flags: int
    syscall_nr: int  # seccomp(2) on this architecture, resolved by libseccomp

    def load(self) -> None:
        """Install the filter on the calling thread (inherited across fork and execve).

        Needs CAP_SYS_ADMIN or no_new_privs already set; that decides where the init
        calls it (see ``confine.apply_process``).
        """
        code = ctypes.create_string_buffer(self.bpf, len(self.bpf))
        fprog = _SockFprog(len(self.bpf) // 8, ctypes.addressof(code))
        if _libc.syscall(self.syscall_nr, _SECCOMP_SET_MODE_FILTER, self.flags,
                         ctypes.addressof(fprog)) == -1:
            err = ctypes.get_errno()
            raise OSError(err, f"seccomp(SECCOMP_SET_MODE_FILTER): {os.strerror(err)}")


@dataclass(frozen=True)
class Status:
    """What ``info`` reports about seccomp on this host."""

    available: bool
    reason: str = ""

    def __str__(self) -> str:
        return "seccomp: builtin profile" if self.available else \
            f"seccomp: unavailable: {self.reason}"


def parse(text: str) -> dict[str, Any]:
    """A profile's JSON, with Docker's error for anything that is not a JSON object."""
    try:
        profile = json.loads(text)
    except ValueError as e:
        raise InvalidArgument(f"Decoding seccomp profile failed: {e}") from None
    if not isinstance(profile, dict):
        raise InvalidArgument("Decoding seccomp profile failed: not a JSON object")
    return profile


def read_file(path: str) -> str:
    """A profile file's text (``--security-opt seccomp=FILE``), with the CLI's error."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError) as e:
        reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        raise InvalidArgument(f"opening seccomp profile ({path}) failed: {reason}") from None
    parse(text)
    return text


@functools.cache
def builtin_text() -> str:
    """The shipped default profile (package data; read as a plain file, because
    importlib.resources would add ~10 ms of imports to every CLI start)."""
    path = os.path.join(os.path.dirname(__file__), "profiles", "seccomp-default.json")
    with open(path, encoding="utf-8") as f:
        return f.read()


def _kernel() -> tuple[int, int]:
    major, _, rest = os.uname().release.partition(".")
    minor = "".join(c for c in rest.split(".")[0] if c.isdigit()) if rest else "0"
    return int(major), int(minor or 0)


def _version(text: str) -> tuple[int, int]:
    major, _, minor = str(text).partition(".")
    try:
        return int(major), int(minor.split(".")[0] or 0)
    except ValueError:
        raise InvalidArgument(f"Decoding seccomp profile failed: bad minKernel {text!r}") \
            from None


def _action(name: str, errno_ret: int | None) -> int:
    code = errno.EPERM if errno_ret is None else errno_ret
    actions = {
        "SCMP_ACT_KILL": _ACT_KILL_THREAD, "SCMP_ACT_KILL_THREAD": _ACT_KILL_THREAD,
        "SCMP_ACT_KILL_PROCESS": _ACT_KILL_PROCESS, "SCMP_ACT_TRAP": _ACT_TRAP,
        "SCMP_ACT_ERRNO": _ACT_ERRNO | (code & 0xFFFF),
        "SCMP_ACT_TRACE": _ACT_TRACE | (code & 0xFFFF),
        "SCMP_ACT_LOG": _ACT_LOG, "SCMP_ACT_ALLOW": _ACT_ALLOW,
    }
    if name not in actions:
        # SCMP_ACT_NOTIFY needs a listening agent, which the engine does not run.
        raise InvalidArgument(f"seccomp profile: unsupported action {name!r}")
    return actions[name]


def _applies(call: dict[str, Any], arch: str, caps: frozenset[str],
             kernel: tuple[int, int]) -> bool:
    """moby's includes/excludes: every include must hold, no exclude may."""
    exc = call.get("excludes") or {}
    if arch in (exc.get("arches") or ()):
        return False
    if any(c in caps for c in exc.get("caps") or ()):
        return False
    if exc.get("minKernel") and kernel >= _version(exc["minKernel"]):
        return False
    inc = call.get("includes") or {}
    if inc.get("arches") and arch not in inc["arches"]:
        return False
    if any(c not in caps for c in inc.get("caps") or ()):
        return False
    return not (inc.get("minKernel") and kernel < _version(inc["minKernel"]))


def select(profile: dict[str, Any], capabilities: frozenset[str], machine: str | None = None,
           kernel: tuple[int, int] | None = None) -> Selection | None:
    """The rules of ``profile`` that apply to a container whose bounding set is
    ``capabilities`` on ``machine`` (uname -m) and ``kernel`` (major, minor); None for a
    profile that confines nothing (no default action and no syscalls), as moby."""
    try:
        return _select(profile, capabilities, machine or os.uname().machine,
                       kernel or _kernel())
    except (KeyError, TypeError, AttributeError, ValueError) as e:
        raise InvalidArgument(f"Decoding seccomp profile failed: bad or missing field {e}") \
            from None


def _select(profile: dict[str, Any], caps: frozenset[str], machine: str,
            kernel: tuple[int, int]) -> Selection | None:
    if not profile.get("defaultAction") and not profile.get("syscalls"):
        return None
    if profile.get("architectures") and profile.get("archMap"):
        raise InvalidArgument("both 'architectures' and 'archMap' are specified in the "
                              "seccomp profile, use either 'architectures' or 'archMap'")
    arch, scmp_arch = _MACHINES.get(machine, (machine, ""))
    arches = list(profile.get("architectures") or ())
    for entry in profile.get("archMap") or ():
        if entry["architecture"] == scmp_arch:
            arches = [entry["architecture"], *(entry.get("subArchitectures") or ())]
            break
    flags = 0
    for flag in profile.get("flags") or ():
        if flag not in _FLAGS:
            raise InvalidArgument(f"seccomp flag {flag} is not known")
        flags |= _FLAGS[flag]
    rules = []
    for call in profile.get("syscalls") or ():
        if call.get("name") and call.get("names"):
            raise InvalidArgument("both 'name' and 'names' are specified in the seccomp "
                                  "profile, use either 'name' or 'names'")
        if not _applies(call, arch, caps, kernel):
            continue
        names = tuple(call.get("names") or [call["name"]])
        args = tuple((int(a["index"]), _OPERATORS[a["op"]], int(a.get("value", 0)),
                      int(a.get("valueTwo", 0))) for a in call.get("args") or ())
        rules.append(Rule(names, _action(call["action"], call.get("errnoRet")), args))
    default = _action(profile.get("defaultAction") or "SCMP_ACT_ALLOW",
                      profile.get("defaultErrnoRet"))
    return Selection(default, tuple(a.removeprefix("SCMP_ARCH_").lower() for a in arches),
                     tuple(rules), flags)


@functools.cache
def _libseccomp() -> ctypes.CDLL:
    """libseccomp, or Unsupported naming what is missing (cached: loaded once per process)."""
    try:
        lib = ctypes.CDLL("libseccomp.so.2", use_errno=True)
    except OSError:
        raise Unsupported("libseccomp.so.2 not found (apt-get install libseccomp2)") from None
    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_init.argtypes = [ctypes.c_uint32]
    lib.seccomp_release.argtypes = [ctypes.c_void_p]
    lib.seccomp_release.restype = None
    lib.seccomp_arch_resolve_name.restype = ctypes.c_uint32
    lib.seccomp_arch_resolve_name.argtypes = [ctypes.c_char_p]
    lib.seccomp_arch_add.argtypes = [ctypes.c_void_p, ctypes.c_uint32]
    lib.seccomp_attr_set.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_uint32]
    lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    lib.seccomp_rule_add_array.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int,
                                           ctypes.c_uint, ctypes.POINTER(_ArgCmp)]
    lib.seccomp_export_bpf.argtypes = [ctypes.c_void_p, ctypes.c_int]
    return lib


def _add(lib: ctypes.CDLL, ctx: int, action: int, nr: int, name: str,
         conds: list[tuple[int, int, int, int]]) -> None:
    array = (_ArgCmp * max(len(conds), 1))(*(_ArgCmp(*c) for c in conds))
    ret = lib.seccomp_rule_add_array(ctx, action, nr, len(conds), array)
    if ret < 0:
        raise InvalidArgument(f"error adding seccomp filter rule for syscall {name}: "
                              f"{os.strerror(-ret)}")


def compile_program(selection: Selection) -> Program:
    """Build the filter with libseccomp and export it as BPF."""
    lib = _libseccomp()
    ctx = lib.seccomp_init(selection.default_action)
    if not ctx:
        raise InvalidArgument("error creating seccomp filter: invalid default action")
    try:
        for arch in selection.architectures:
            token = lib.seccomp_arch_resolve_name(arch.encode())
            if token == 0:
                raise InvalidArgument(f"error validating Seccomp architecture: {arch!r}")
            ret = lib.seccomp_arch_add(ctx, token)
            if ret < 0 and ret != -errno.EEXIST:  # the native arch is already there
                raise InvalidArgument(f"error adding architecture {arch} to seccomp filter: "
                                      f"{os.strerror(-ret)}")
        if len(selection.rules) > 32:
            lib.seccomp_attr_set(ctx, _SCMP_FLTATR_CTL_OPTIMIZE, 2)  # binary tree, as runc
        for rule in selection.rules:
            if rule.action == selection.default_action:
                continue  # redundant; libseccomp refuses it
            for name in rule.names:
                nr = lib.seccomp_syscall_resolve_name(name.encode())
                if nr == _NR_SCMP_ERROR:
                    continue  # unknown to this libseccomp: not on this kernel either
                indexes = [c[0] for c in rule.args]
                if len(indexes) != len(set(indexes)):
                    for cond in rule.args:  # runc: OR the conditions on one argument
                        _add(lib, ctx, rule.action, nr, name, [cond])
                else:
                    _add(lib, ctx, rule.action, nr, name, list(rule.args))
        fd = os.memfd_create("seccomp-bpf", os.MFD_CLOEXEC)
        try:
            ret = lib.seccomp_export_bpf(ctx, fd)
            if ret < 0:
                raise InvalidArgument(f"exporting seccomp filter: {os.strerror(-ret)}")
            size = os.fstat(fd).st_size
            bpf = os.pread(fd, size, 0)
        finally:
            os.close(fd)
        seccomp_nr = lib.seccomp_syscall_resolve_name(b"seccomp")
    finally:
        lib.seccomp_release(ctx)
    return Program(bpf, selection.flags, seccomp_nr)


class _Version(ctypes.Structure):
    _fields_ = (("major", ctypes.c_uint), ("minor", ctypes.c_uint), ("micro", ctypes.c_uint))


def _library_version() -> str:
    lib = _libseccomp()
    lib.seccomp_version.restype = ctypes.POINTER(_Version)
    v = lib.seccomp_version().contents
    return f"{v.major}.{v.minor}.{v.micro}"


@functools.lru_cache(maxsize=16)
def program_for(profile_text: str, capabilities: frozenset[str]) -> Program | None:
    """The compiled filter for a profile and a bounding set; cached in the process
    because a notebook starts many containers with the same two, and on disk
    (``seccomp_cache``) because each CLI ``run`` is a new process."""
    selection = select(parse(profile_text), capabilities)
    if selection is None:
        return None

    def build() -> tuple[bytes, int, int]:
        program = compile_program(selection)
        return program.bpf, program.flags, program.syscall_nr

    name = seccomp_cache.key(profile_text, capabilities, _library_version())
    return Program(*seccomp_cache.cached(name, build))


@functools.cache
def status() -> Status:
    """Whether this kernel and libseccomp can confine containers, probed as Docker does:
    PR_GET_SECCOMP fails with EINVAL without CONFIG_SECCOMP; PR_SET_SECCOMP with a NULL
    filter fails with EFAULT (and installs nothing) only when filters are supported."""
    if _libc.prctl(_PR_GET_SECCOMP, 0, 0, 0, 0) == -1 and ctypes.get_errno() == errno.EINVAL:
        return Status(False, "kernel built without CONFIG_SECCOMP")
    if _libc.prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, 0, 0, 0) != -1 or \
            ctypes.get_errno() != errno.EFAULT:
        return Status(False, "kernel built without CONFIG_SECCOMP_FILTER")
    try:
        _libseccomp()
    except Unsupported as e:
        return Status(False, str(e))
    return Status(True)
