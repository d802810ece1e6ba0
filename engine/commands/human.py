"""Docker's human-readable sizes and durations (go-units), so columns read like Docker's."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..store.containers import State

_UNITS = ("B", "kB", "MB", "GB", "TB", "PB")


def size(n: float) -> str:
    """``HumanSizeWithPrecision(n, 3)``: decimal units, three significant digits."""
    i = 0
    while n >= 1000 and i < len(_UNITS) - 1:
        n /= 1000.0
        i += 1
    return f"{n:.3g}{_UNITS[i]}"


_BINARY_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")


def binary_size(n: float) -> str:
    """``units.BytesSize``: binary units, four significant digits (``stats``' memory)."""
    i = 0
    while n >= 1024 and i < len(_BINARY_UNITS) - 1:
        n /= 1024.0
        i += 1
    return f"{n:.4g}{_BINARY_UNITS[i]}"


def duration(seconds: float) -> str:
    """``units.HumanDuration``."""
    s = int(seconds)
    if s < 1:
        return "Less than a second"
    if s == 1:
        return "1 second"
    if s < 60:
        return f"{s} seconds"
    minutes = s // 60
    if minutes == 1:
        return "About a minute"
    if minutes < 60:
        return f"{minutes} minutes"
    hours = round(s / 3600)
    if hours == 1:
        return "About an hour"
    if hours < 48:
        return f"{hours} hours"
    if hours < 24 * 7 * 2:
        return f"{hours // 24} days"
    if hours < 24 * 30 * 2:
        return f"{hours // 24 // 7} weeks"
    if hours < 24 * 365 * 2:
        return f"{hours // 24 // 30} months"
    return f"{hours // 24 // 365} years"


def parse_time(stamp: str) -> datetime:
    """RFC 3339 with any fraction length (Go writes nanoseconds, Python takes micro)."""
    main, _, frac = stamp.rstrip("Z").partition(".")
    frac = (frac.split("+")[0] + "000000")[:6]
    if len(main) == 19 and main[10] == "T":  # the C parser: ~10× strptime (listings)
        return datetime.fromisoformat(f"{main}.{frac}").replace(tzinfo=UTC)
    return datetime.strptime(f"{main}.{frac}", "%Y-%m-%dT%H:%M:%S.%f").replace(tzinfo=UTC)


def ago(stamp: str) -> str:
    if not stamp or stamp.startswith("0001-"):
        return ""
    delta = (datetime.now(UTC) - parse_time(stamp)).total_seconds()
    return f"{duration(max(delta, 0))} ago"


def since(stamp: str) -> float:
    return max((datetime.now(UTC) - parse_time(stamp)).total_seconds(), 0.0)


def status(s: State) -> str:
    """A container's ``STATUS``, as Docker's daemon words it for ``ps`` (and the API's
    container list): ``Up 3 seconds (Paused)``, ``Exited (0) 2 minutes ago``, ``Created``."""
    if s.Restarting:
        return f"Restarting ({s.ExitCode}) {ago(s.FinishedAt)}"
    if s.Running:
        up = f"Up {duration(since(s.StartedAt))}"
        return up + " (Paused)" if s.Paused else up
    if s.Status == "exited" or s.FinishedAt[:4] not in ("", "0001"):
        return f"Exited ({s.ExitCode}) {ago(s.FinishedAt)}"
    return "Created"
