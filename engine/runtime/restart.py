"""Restart policies (``--restart``): when a container's process exits, start it again?

Docker's rules (moby's restartmanager): ``no`` never; ``on-failure[:N]`` after a non-zero
exit, at most N times (unbounded without N); ``always`` and ``unless-stopped`` after any
exit. None of them after ``docker stop``, which cancels restarting. ``docker kill`` marks
the container as stopped by hand, as moby does: then ``unless-stopped`` does not restart
it while ``always`` does (and ``on-failure`` does, for the 137). Beyond that the two
differ only when the daemon itself restarts, which LayerLab, having no daemon, never does.

The delay before each restart doubles from 100 ms up to a minute, and falls back to
100 ms once the process had run for 10 s. It is kept in the state dir (each run has its
own monitor), as is the "stopped by hand" mark that ``stop`` leaves.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..errors import InvalidArgument

POLICIES = ("no", "always", "on-failure", "unless-stopped")
FIRST_DELAY = 0.1
MAX_DELAY = 60.0
RESET_AFTER = 10.0  # seconds of running that reset the delay
STOPPED = "stopped-by-user"  # marker in the state dir: no more restarts (``stop``)
KILLED = "killed-by-user"  # marker: stopped by hand (``kill``, ``stop``): unless-stopped won't
DELAY = "restart.json"


@dataclass(frozen=True)
class Policy:
    Name: str = "no"
    MaximumRetryCount: int = 0

    def as_dict(self) -> dict[str, object]:
        return {"Name": self.Name, "MaximumRetryCount": self.MaximumRetryCount}

    @property
    def restarts(self) -> bool:
        return self.Name not in ("", "no")

    def wants(self, exit_code: int, restart_count: int, by_hand: bool = False) -> bool:
        """Whether an exit with ``exit_code`` after ``restart_count`` restarts is
        followed by another (``by_hand``: the container was killed by hand)."""
        if self.Name == "always" or (self.Name == "unless-stopped" and not by_hand):
            return True
        if self.Name == "on-failure":
            return exit_code != 0 and (self.MaximumRetryCount == 0
                                       or restart_count < self.MaximumRetryCount)
        return False


class FormatError(InvalidArgument):
    """A ``--restart`` the Docker CLI itself rejects (no daemon prefix)."""

    daemon = False


def parse(text: str) -> Policy:
    """``--restart`` as the Docker CLI reads it and the daemon validates it, with their
    words."""
    name, colon, count = text.partition(":")
    if colon and not name:
        raise FormatError("invalid restart policy format: no policy provided before colon")
    retries = 0
    if count:
        try:
            retries = int(count)
        except ValueError:
            raise FormatError("invalid restart policy format: maximum retry count must be "
                              "an integer") from None
    return validate(Policy(name or "no", retries))


def validate(policy: Policy) -> Policy:
    if policy.Name in ("always", "unless-stopped", "no"):
        if policy.MaximumRetryCount != 0:
            msg = "invalid restart policy: maximum retry count can only be used with 'on-failure'"
            if policy.MaximumRetryCount < 0:
                msg += " and cannot be negative"
            raise InvalidArgument(msg)
    elif policy.Name == "on-failure":
        if policy.MaximumRetryCount < 0:
            raise InvalidArgument("invalid restart policy: maximum retry count cannot be "
                                  "negative")
    else:
        raise InvalidArgument(f"invalid restart policy: unknown policy '{policy.Name}'; use "
                              "one of 'no', 'always', 'on-failure', or 'unless-stopped'")
    return policy


def from_host_config(host_config: dict[str, object]) -> Policy:
    raw = host_config.get("RestartPolicy")
    if not isinstance(raw, dict):
        return Policy()
    return Policy(str(raw.get("Name") or "no"), int(raw.get("MaximumRetryCount") or 0))


def next_delay(state_dir: Path, ran_seconds: float) -> float:
    """The wait before this restart (and recorded for the next one)."""
    try:
        previous = float(json.loads((state_dir / DELAY).read_text())["delay"])
    except (OSError, ValueError, KeyError, TypeError):
        previous = 0.0
    if ran_seconds >= RESET_AFTER:
        previous = 0.0
    delay = FIRST_DELAY if previous <= 0 else min(previous * 2, MAX_DELAY)
    (state_dir / DELAY).write_text(json.dumps({"delay": delay}))
    return delay


def stopped_by_user(state_dir: Path) -> bool:
    return (state_dir / STOPPED).exists()


def killed_by_user(state_dir: Path) -> bool:
    return (state_dir / KILLED).exists()


def mark_killed(state_dir: Path) -> None:
    (state_dir / KILLED).touch()


def mark_stopped(state_dir: Path, stopped: bool) -> None:
    """``stop`` marks (no restart after this exit); a start by hand clears the marks,
    and the backoff with them."""
    if stopped:
        (state_dir / STOPPED).touch()
        mark_killed(state_dir)
        return
    for name in (STOPPED, KILLED, DELAY):
        (state_dir / name).unlink(missing_ok=True)


@dataclass
class Restarter:
    """A child of the monitor, forked before it unshares the PID namespace (forks of the
    monitor itself would land in the container's namespace, dead by the time of a
    restart, and rootless the monitor cannot setns back). It waits for the exit code,
    then runs the policy (``again``: decision, delay, new start) and outlives the
    monitor, which exits once it has decided."""

    to_w: int  # the exit code, to it
    back_r: int  # EOF (or a byte) once it has decided

    @classmethod
    def fork(cls, again: Callable[[int, Callable[[], None]], None]
             ) -> Restarter:  # pragma: no cover - forked from the monitor
        to_r, to_w = os.pipe2(os.O_CLOEXEC)
        back_r, back_w = os.pipe2(os.O_CLOEXEC)
        if os.fork() != 0:
            os.close(to_r)
            os.close(back_w)
            return cls(to_w, back_r)
        try:
            _serve(again, to_r, back_w)
        finally:
            os._exit(0)

    def hand_over(self, code: int) -> None:
        """In the monitor, once the exit is recorded: give the code, wait for the
        decision (a restart is recorded as "restarting" by then)."""
        from .init import write_all
        from .monitor import _read_all

        with contextlib.suppress(OSError):
            write_all(self.to_w, str(code).encode())
        os.close(self.to_w)
        _read_all(self.back_r)
        os.close(self.back_r)


def _serve(again: Callable[[int, Callable[[], None]], None], to_r: int,
           back_w: int) -> None:  # pragma: no cover - the restarter
    from ..linux import syscalls as sc
    from .init import write_all
    from .monitor import _read_all, close_fds_except

    close_fds_except({to_r, back_w})  # above all monitor.lock: the monitor's to release
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):  # nor the starter's stdio (``run -d`` reads it to its end)
        os.dup2(devnull, fd)
    os.close(devnull)
    sc.prctl_set_pdeathsig(signal.SIGKILL)  # a monitor killed (abandon): no restart
    data = _read_all(to_r)
    if not data:
        return
    sc.prctl_set_pdeathsig(0)  # from here on we outlive the monitor
    released: list[bool] = []

    def release() -> None:
        if not released:
            released.append(True)
            with contextlib.suppress(OSError):
                write_all(back_w, b"d")
            os.close(back_w)

    try:
        again(int(data), release)
    finally:
        release()
