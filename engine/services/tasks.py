"""Tasks: a container's processes — start, stop, kill, pause, exec, top (S3, S6, S10–S12,
S17). Like containerd's tasks service: the container record is the containers service's;
this one runs what is in it.

The isolation mode a container was started in is kept in its state dir (``runtime.json``):
without a cgroup (rootless, PRoot) its processes are found by PID namespace or by tracer,
and pause falls back to SIGSTOP or to stopping the tracers (``runtime/nofreezer.py``,
``runtime/proot.py``).
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from ..errors import (
    Conflict,
    EngineError,
    InvalidArgument,
    NotFound,
    RuntimeFailure,
    Unsupported,
)
from ..fs.atomic import atomic_write
from ..linux import procs
from ..runtime import nofreezer, restart
from ..runtime.cgroups import Cgroup
from ..store.containers import ZERO_TIME, Container, now
from . import restarts
from .recovery import mark_running, unmark_running

# The runtime's start and exec stack (specs, confinement, devices, limits, controllers) is
# imported in the methods that start or exec: pause, stop, kill and top run without it.
if TYPE_CHECKING:
    from ..runtime.confine import Plan
    from ..runtime.isolation import Isolation
    from ..runtime.monitor import Started
    from ..runtime.spec import Attach
    from ..runtime.ulimits import Ulimit
    from .engine import Engine


@dataclass
class Process:
    """One row of ``docker top``."""

    uid: str
    pid: int
    ppid: int
    cmd: str


KILL_WAIT = 10.0  # seconds after SIGKILL before stop/rm -f stop waiting for the monitor


class Tasks:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.store = engine.store

    def running(self, name: str) -> Container:
        c = self.engine.containers.get(name)
        if not c.State.Running:
            raise Conflict(f"container {c.ID} is not running")
        return c

    # -- start -------------------------------------------------------------------------
    def check_can_run(self) -> None:
        """Refuse (before anything is created) where no isolation mode can run containers,
        naming what each probe found."""
        iso = self.engine.isolation()
        if not iso.can_run:
            raise Unsupported(f"cannot start containers here: {iso.reason}")

    def start(self, name: str, attach: Attach | None = None,
              by_policy: bool = False) -> Started | None:
        """S6: create the isolated process space and run the command in it.

        Returns the runtime's ``Started`` handle, or None when the container was already
        running (a container has exactly one process space). ``by_policy``: a restart by
        the container's restart policy (from its monitor), which ``stop`` may cancel.
        """
        iso = self.engine.isolation()
        with self.store.lock():
            c = self.engine.containers.get(name)
            if c.State.Paused:
                raise Conflict(f"cannot start a paused container {c.Name}, try unpause instead")
            if not restarts.before_start(self, c, by_policy):
                return None
            try:
                return self._spawn(c, iso, attach)
            except EngineError as e:
                if not c.HostConfig.get("AutoRemove"):
                    raise
                error = e
        with contextlib.suppress(NotFound):  # --rm, once we no longer hold the store lock
            self.engine.containers.remove_stopped(c.ID)
        raise error

    def run_step(self, name: str, output: Callable[[bytes], None]) -> int:
        """Start a created container, hand its output to ``output`` as it comes (stdout and
        stderr merged, as the classic builder streams a RUN step) and return its exit code
        once it has exited and its monitor has recorded it."""
        from ..runtime.spec import Attach

        r, w = os.pipe2(os.O_CLOEXEC)
        try:
            try:
                started = self.start(name, Attach(w, w))
            finally:
                os.close(w)
            while chunk := os.read(r, 65536):
                output(chunk)
        finally:
            os.close(r)
        return started.wait() if started is not None else self.wait(name)

    def _spawn(self, c: Container, iso: Isolation, attach: Attach | None) -> Started:
        from ..linux import syscalls as sc
        from ..runtime import devices, monitor
        from ..runtime.limits import Resources
        from ..runtime.spec import NAMESPACES, ContainerSpec, ProcessSpec

        self.check_can_run()
        if iso.mode == "proot" and (c.Config.get("Tty") or c.HostConfig.get("Init")):
            raise Unsupported("PRoot mode runs the command as a traced host process: it has no "
                              "devpts of its own for -t and no PID 1 for --init (use root or "
                              "rootless mode)")
        if iso.mode == "proot" and c.Driver != "vfs":
            raise Unsupported(f"container {c.Name} is on the {c.Driver} driver: PRoot mode "
                              "runs containers on the vfs driver only (LAYERLAB_STORAGE_DRIVER"
                              "=vfs)")
        driver = self.engine.driver(c.Driver)
        net = self.engine.networks.start(c)
        try:
            rootfs = driver.mount(c.ID, self.engine.containers.chain(c))
        except BaseException:
            net.abort()
            raise
        try:
            mounts = self.engine.volumes.mounts_for(c, str(rootfs), iso.mode)
        except BaseException:
            net.abort()
            with contextlib.suppress(OSError):
                driver.unmount(c.ID)
            raise
        d = self.engine.containers.state_dir(c)
        atomic_write(d / RUNTIME, json.dumps({"mode": iso.mode, "pause": iso.pause_method})
                     .encode(), durable=False)
        etc = net.etc_dir or d
        spec = ContainerSpec(
            id=c.ID,
            rootfs=str(rootfs),
            hostname=net.hostname or c.Config["Hostname"],
            process=ProcessSpec(c.command, c.Config["Env"], c.Config["WorkingDir"] or "/",
                                c.Config["User"], self._plan(c),
                                rootless=iso.mode == "rootless", ulimits=ulimits_of(c)),
            state_dir=str(d),
            cgroup=iso.cgroup is not None,
            devices=devices.probe().enforced,
            etc_files={f"/etc/{n}": str(etc / n) for n in ("hostname", "hosts", "resolv.conf")},
            namespaces=NAMESPACES if net.private else NAMESPACES & ~sc.CLONE_NEWNET,
            netns_fd=net.netns_fd,
            pass_fds=net.pass_fds,
            mode=iso.mode,
            store=str(self.engine.root),
            fresh_proc=iso.fresh_proc,
            mounts=mounts,
            readonly_rootfs=bool(c.HostConfig.get("ReadonlyRootfs")),
            resources=Resources.from_host_config(c.HostConfig) if iso.mode == "root" else None,
            tty=bool(c.Config.get("Tty")),
            open_stdin=bool(c.Config.get("OpenStdin")),
            init=bool(c.HostConfig.get("Init")),
            console_size=(attach.size if attach and attach.size else
                          _console_size(c.HostConfig.get("ConsoleSize"))),
        )

        def exited(code: int) -> None:
            net.close()  # first: once the state says exited, the leases are free
            self._on_exited(c.ID, code)

        def failed(code: int, message: str) -> None:
            net.close()
            self._on_failed(c.ID, code, message)

        again = None
        if restart.from_host_config(c.HostConfig).restarts:
            def again(code: int, release: Callable[[], None]) -> None:
                restarts.after_exit(self, c.ID, code, release)

        hooks = monitor.Hooks(started=lambda pid: self._on_started(c.ID, pid),
                              exited=exited, failed=failed, prepare=net.plumb, again=again)
        mark_running(self.store.root, c.ID)
        if attach is not None:
            self.engine.events.container(c, "attach")
        try:
            started = monitor.spawn(spec, attach, hooks)
        except BaseException:
            unmark_running(self.store.root, c.ID)
            net.abort()
            with contextlib.suppress(OSError):
                driver.unmount(c.ID)
            raise
        net.starter_done()
        self.engine.volumes.announce(c, "mount")
        return started

    def runtime(self, c: Container) -> dict[str, str]:
        """How the container was started: {"mode": root|rootless|proot, "pause": how}; for
        one never started, how it would be."""
        try:
            found: dict[str, str] = json.loads(
                (self.engine.containers.state_dir(c) / RUNTIME).read_bytes())
        except (OSError, ValueError):
            if self.engine.containers.never_ran(c):
                iso = self.engine.isolation()
                return {"mode": iso.mode, "pause": iso.pause_method}
            return {"mode": "root", "pause": "freezer"}  # started before modes were recorded
        return found

    def _send(self, c: Container, signum: int) -> None:
        """A signal to the main process; in PRoot mode only as a PID 1 would get it."""
        if self.runtime(c)["mode"] == "proot":
            from ..runtime import proot

            proot.deliver(c.State.Pid, signum)
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(c.State.Pid, signum)

    def members(self, c: Container) -> list[int]:
        """Host PIDs of every process of the running container."""
        cg = Cgroup.open(c.ID)
        if cg:
            return sorted(cg.pids())
        mode = self.runtime(c)["mode"]
        if mode == "proot":
            from ..runtime import proot

            return proot.members(str(self.engine.containers.state_dir(c)))
        return procs.in_pid_namespace(c.State.Pid) or [c.State.Pid]

    @staticmethod
    def _plan(c: Container) -> Plan:
        """Docker's confinement for the container's ``--cap-add``/``--cap-drop``/
        ``--privileged``/``--security-opt`` (recorded at create), for its init and execs."""
        from ..runtime import devices
        from ..runtime.confine import Confinement

        hc = c.HostConfig
        conf = Confinement.from_options(hc.get("CapAdd") or (), hc.get("CapDrop") or (),
                                        bool(hc.get("Privileged")), hc.get("SecurityOpt") or ())
        return conf.resolve(devices.probe().enforced)

    def _on_started(self, cid: str, pid: int) -> None:
        self.store.containers.update_state(
            cid, Status="running", Running=True, Paused=False, Restarting=False, Pid=pid,
            ExitCode=0, Error="", StartedAt=now(), FinishedAt=ZERO_TIME,
            MonitorPid=os.getpid(), OOMKilled=False)
        self.engine.events.container(self.store.containers.get(cid), "start")

    def _on_exited(self, cid: str, code: int) -> None:
        c = self.store.containers.get(cid)
        with contextlib.suppress(OSError):
            self.engine.driver(c.Driver).unmount(cid)
        oom = self._oom_killed(c)
        self.store.containers.update_state(cid, Status="exited", Running=False, Paused=False,
                                           Pid=0, ExitCode=code, FinishedAt=now(), MonitorPid=0,
                                           OOMKilled=oom)
        unmark_running(self.store.root, cid)
        self.engine.volumes.announce(c, "unmount")
        ran = int(human_seconds(c.State.StartedAt))
        if oom:
            self.engine.events.container(c, "oom")  # Docker's event, before the die
        self.engine.events.container(c, "die", exitCode=str(code), execDuration=str(ran))
        restarting = (self.engine.containers.state_dir(c) / RESTARTING).exists()
        if c.HostConfig.get("AutoRemove") and not restarting:
            with contextlib.suppress(NotFound):
                self.engine.containers.remove_stopped(cid)

    def _oom_killed(self, c: Container) -> bool:
        """Whether the memory cgroup's OOM killer struck during the run that just ended (its
        group, now removed, left the count in the state dir)."""
        from ..runtime.controllers import OOM_KILLS

        try:
            return int((self.engine.containers.state_dir(c) / OOM_KILLS).read_text()) > 0
        except (OSError, ValueError):
            return False

    def _on_failed(self, cid: str, code: int, message: str) -> None:
        """Record why the command could not start (``_spawn`` unmounts the view)."""
        self.store.containers.update_state(cid, ExitCode=code, Error=message)

    # -- waiting and signals ------------------------------------------------------------
    def wait_exit(self, c: Container, timeout: float | None) -> bool:
        """Wait (without polling) until the container's init has exited and the monitor has
        recorded it; False if ``timeout`` passed first."""
        try:
            pidfd = os.pidfd_open(c.State.Pid)
        except ProcessLookupError:
            pidfd = None
        if pidfd is not None:
            try:
                ready, _, _ = select.select([pidfd], [], [], timeout)
            finally:
                os.close(pidfd)
            if not ready:
                return False
        if c.State.MonitorPid and timeout is not None:
            # the monitor records the exit; a PID 1 stuck exiting (its namespace holds a
            # process whose parent never reaps it) keeps the monitor waiting: bounded too
            with contextlib.suppress(ProcessLookupError):
                mfd = os.pidfd_open(c.State.MonitorPid)
                try:
                    ready, _, _ = select.select([mfd], [], [], timeout)
                finally:
                    os.close(mfd)
                if not ready:
                    return False
        self.store.containers.wait_monitor(c.ID)
        return True

    def abandon(self, c: Container) -> None:
        """The container would not die within the bound: kill its monitor (its init dies
        with it), then everything left in its cgroup; recovery records the exit."""
        from .recovery import stop_leftovers

        if c.State.MonitorPid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(c.State.MonitorPid, signal.SIGKILL)
        stop_leftovers(self.engine, c.ID)

    def wait(self, name: str) -> int:
        """Block until the container stops; its exit code."""
        c = self.engine.containers.get(name)
        self.store.containers.wait_monitor(c.ID)
        return self.store.containers.get(c.ID).State.ExitCode

    def stop(self, name: str, timeout: float | None = None, sig: str = "") -> Container:
        """S10: the stop signal to the main process, a grace period, then SIGKILL to all.

        A negative ``timeout`` waits for ever, as Docker's ``-t -1`` does."""
        c = restarts.no_more(self, self.engine.containers.get(name))
        if not c.State.Running:
            return c
        grace = 10.0 if timeout is None else timeout
        signum = signal.Signals[signal_name(sig or c.Config.get("StopSignal") or "SIGTERM")]
        if c.State.Paused:
            self.engine.events.container(c, "kill", signal=str(int(signal.SIGKILL)))
            self.kill_all(c)
        else:
            self.engine.events.container(c, "kill", signal=str(int(signum)))
            self._send(c, signum)
            if not self.wait_exit(c, None if grace < 0 else grace):
                self.engine.events.container(c, "kill", signal=str(int(signal.SIGKILL)))
                self.kill_all(c)
        if not self.wait_exit(c, KILL_WAIT):
            self.abandon(c)
        self.engine.events.container(c, "stop")
        return self.store.containers.get(c.ID)

    def restart(self, name: str, timeout: float | None = None, sig: str = "") -> Container:
        """``docker restart``: stop (as ``stop`` does, if running), then start, detached.
        A ``--rm`` container is not removed by the stop, as moby skips its auto-removal
        for a manual restart."""
        c = self.engine.containers.get(name)
        marker = self.engine.containers.state_dir(c) / RESTARTING
        marker.touch()
        try:
            self.stop(c.ID, timeout, sig)
            self.start(c.ID)
        finally:
            with contextlib.suppress(FileNotFoundError):
                marker.unlink()
        self.engine.events.container(c, "restart")
        return c

    def kill_all(self, c: Container) -> None:
        """SIGKILL to every process of the container (a frozen one is thawed to die)."""
        cg = Cgroup.open(c.ID)
        if cg:
            cg.kill_all(signal.SIGKILL)
            if cg.frozen():
                cg.thaw()
        elif self.runtime(c)["mode"] == "proot":
            from ..runtime import proot

            proot.kill_all(str(self.engine.containers.state_dir(c)), c.State.Pid)
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(c.State.Pid, signal.SIGKILL)  # PID 1 gone = every process of the ns gone

    def kill(self, name: str, sig: str = "SIGKILL") -> Container:
        """S11: SIGKILL, or the given signal, to the container's main process."""
        c = self.running(name)
        signum = signal.Signals[signal_name(sig)]
        restart.mark_killed(self.engine.containers.state_dir(c))
        self.engine.events.container(c, "kill", signal=str(int(signum)))
        if signum == signal.SIGKILL:
            self.kill_all(c)
            self.wait_exit(c, None)
        else:
            self._send(c, signum)
        return c

    # -- freezing ----------------------------------------------------------------------
    def pause(self, name: str) -> Container:
        """S12: freeze every process with the cgroup freezer; no signal is sent."""
        c = self.running(name)
        if c.State.Paused:
            raise Conflict(f"container {c.ID} is already paused")
        cg = Cgroup.open(c.ID)
        method = self.runtime(c)["pause"]
        state_dir = str(self.engine.containers.state_dir(c))
        if cg is not None:
            cg.freeze()
        elif method == "sigstop":
            nofreezer.stop(lambda: self.members(c), state_dir)
        elif method == "tracer":
            from ..runtime import proot

            proot.pause(state_dir)
        else:
            raise Unsupported("pause needs a cgroup freezer, and this host has none writable")
        self.store.containers.update_state(c.ID, Status="paused", Paused=True)
        self.engine.events.container(c, "pause")
        return c

    def unpause(self, name: str) -> Container:
        c = self.engine.containers.get(name)
        if not c.State.Paused:
            raise Conflict(f"container {c.ID} is not paused")
        cg = Cgroup.open(c.ID)
        method = self.runtime(c)["pause"]
        state_dir = str(self.engine.containers.state_dir(c))
        if cg:
            cg.thaw()
        elif method == "sigstop":
            nofreezer.resume(lambda: self.members(c), state_dir)
        elif method == "tracer":
            from ..runtime import proot

            proot.unpause(state_dir)
        self.store.containers.update_state(c.ID, Status="running", Paused=False)
        self.engine.events.container(c, "unpause")
        return c

    @contextlib.contextmanager
    def frozen(self, c: Container, wanted: bool = True) -> Iterator[None]:
        """Hold a running, unpaused container still for the duration (``commit``)."""
        cg = Cgroup.open(c.ID) if wanted and c.State.Running and not c.State.Paused else None
        if cg:
            cg.freeze()
        try:
            yield
        finally:
            if cg:
                cg.thaw()

    # -- more processes ----------------------------------------------------------------
    def exec(self, name: str, cmd: list[str], env: list[str], workdir: str, user: str | None,
             stdin: int, stdout: int, stderr: int, detach: bool = False,
             console: Callable[[int], bool] | None = None,
             console_size: tuple[int, int] | None = None) -> int:
        """S17: a new process in the running container's namespaces; ``console``: with
        a pseudo-terminal, whose master it relays (``runtime/exec.exec_in``)."""
        from ..runtime.controllers import ControllerGroups
        from ..runtime.devices import DeviceCgroup
        from ..runtime.exec import exec_in
        from ..runtime.spec import ProcessSpec, merged_env
        from ..store.names import new_id

        c = self.running(name)
        if console is not None and self.runtime(c)["mode"] == "proot":
            raise Unsupported("PRoot mode runs exec as a traced host process with no devpts "
                              "of the container: exec -t cannot allocate a pseudo-TTY here")
        if c.State.Paused:
            raise Conflict(f"container {c.ID} is paused, unpause the container before exec")
        process = ProcessSpec(cmd, merged_env(c.Config["Env"], env, c.Config["Hostname"]),
                              workdir or c.Config["WorkingDir"] or "/",
                              c.Config["User"] if user is None else user)
        process.plan = self._plan(c)
        process.ulimits = ulimits_of(c)  # moby execs with the container's process spec
        exec_id, shown = new_id(), " ".join(cmd)
        self.engine.events.container(c, f"exec_create: {shown}", execID=exec_id)
        self.engine.events.container(c, f"exec_start: {shown}", execID=exec_id)
        mode = self.runtime(c)["mode"]
        if mode == "proot":
            from ..runtime import proot

            d = self.engine.containers.state_dir(c)
            rootfs = str(self.engine.driver(c.Driver).source(c.ID))
            etc = {f"/etc/{n}": str(d / n) for n in ("hostname", "hosts", "resolv.conf")}
            code = proot.exec_in(str(d), rootfs, etc, process, stdin, stdout, stderr, detach,
                                 binds=self.engine.volumes.binds(c))
        else:
            process.rootless = mode == "rootless"
            groups = [g for g in (Cgroup.open(c.ID), DeviceCgroup.open(c.ID),
                                  ControllerGroups.open(c.ID)) if g is not None]
            code = exec_in(c.State.Pid, groups, process, stdin, stdout, stderr, detach,
                           userns_of=c.State.MonitorPid if process.rootless else None,
                           console=console, console_size=console_size)
        if not detach:
            self.engine.events.container(c, "exec_die", execID=exec_id, exitCode=str(code))
        return code

    def top(self, name: str) -> list[Process]:
        """The container's processes as the host sees them (host PIDs)."""
        c = self.running(name)
        pids = self.members(c)
        out = []
        for pid in pids:
            with contextlib.suppress(OSError):
                with open(f"/proc/{pid}/status") as f:
                    status = dict(line.split(":", 1) for line in f if ":" in line)
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    cmd = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
                out.append(Process(status["Uid"].split()[0], pid, int(status["PPid"]), cmd))
        return out


def ulimits_of(c: Container) -> list[Ulimit]:
    """The container's ``--ulimit`` records (``HostConfig.Ulimits``)."""
    from ..runtime.ulimits import Ulimit

    return [Ulimit.from_record(r) for r in c.HostConfig.get("Ulimits") or []]


RUNTIME = "runtime.json"
RESTARTING = "restarting"  # marker in the state dir while ``restart`` stops the container


def _console_size(value: object) -> tuple[int, int] | None:
    """A recorded ``ConsoleSize`` ([rows, cols], [0, 0] for none)."""
    if isinstance(value, list) and len(value) == 2 and all(isinstance(v, int) for v in value):
        return (value[0], value[1]) if value[0] and value[1] else None
    return None


def human_seconds(stamp: str) -> float:
    """Seconds since one of our RFC 3339 stamps (the ``execDuration`` of a ``die`` event)."""
    try:
        started = datetime.fromisoformat(stamp)
    except ValueError:
        return 0.0
    if started.year == 1:
        return 0.0
    return max((datetime.now(UTC) - started).total_seconds(), 0.0)


def start_failure(cid: str, e: RuntimeFailure) -> RuntimeFailure:
    """A command that could not start, in the words Docker's daemon uses; the Docker CLI
    reads them to pick ``run``'s exit code (127 not found, 126 cannot run, else 125)."""
    return RuntimeFailure(f"failed to create task for container: failed to start container "
                          f"{cid[:12]}: {e}: unknown", e.exit_code)


def signal_name(sig: str) -> str:
    """Accept ``KILL``, ``SIGKILL`` or ``9``, as ``docker kill -s`` does."""
    s = sig.strip().upper()
    if s.isdigit():
        try:
            return signal.Signals(int(s)).name
        except ValueError:
            raise InvalidArgument(f"invalid signal: {sig}") from None
    name = s if s.startswith("SIG") else "SIG" + s
    if name not in signal.Signals.__members__:
        raise InvalidArgument(f"invalid signal: {sig}")
    return name
