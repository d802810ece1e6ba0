"""Docker's ``--since``/``--until`` values: Go durations, RFC 3339 times, Unix timestamps.

``docker logs``, ``docker events`` and the ``until=`` image filter take the same forms
(the Docker client's ``GetTimestamp``): ``10m`` (ten minutes ago), ``2024-05-01``,
``2024-05-01T12:30`` (local time), ``2024-05-01T12:30:00Z``, ``1714566600.5``. Everything
is turned into nanoseconds since the epoch, the daemon's unit.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta, timezone

_DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0,
                   "m": 60.0, "h": 3600.0}
_DURATION = re.compile(r"([0-9]*(?:\.[0-9]*)?)(ns|us|µs|μs|ms|s|m|h)")
_TIME = re.compile(r"(\d{4})-(\d{2})-(\d{2})(?:T(\d{2})(?::(\d{2})(?::(\d{2})(?:\.(\d+))?)?)?)?"
                   r"(Z|z|[+-]\d{2}:\d{2})?")


def go_duration(value: str) -> float | None:
    """Go's ``time.ParseDuration`` in seconds (``1h30m``, ``-5s``, ``1.5h``), else None."""
    text = value
    sign = 1.0
    if text and text[0] in "+-":
        sign, text = (-1.0 if text[0] == "-" else 1.0), text[1:]
    if text == "0":
        return 0.0
    if not text:
        return None
    total, pos = 0.0, 0
    while pos < len(text):
        m = _DURATION.match(text, pos)
        if not m or m[1] in ("", "."):
            return None
        total += float(m[1]) * _DURATION_UNITS[m[2]]
        pos = m.end()
    return sign * total


def to_nanos(value: str, now: float | None = None) -> int:
    """A ``--since``/``--until`` value as nanoseconds since the epoch; ValueError (worded
    as the Docker client words it) when it is none of Docker's forms."""
    now = time.time() if now is None else now
    duration = go_duration(value)
    if duration is not None and value != "0":
        return int(now - duration) * 1_000_000_000  # Docker keeps whole seconds here
    m = _TIME.fullmatch(value)
    if m:
        year, month, day, hour, minute, second, frac, zone = m.groups()
        try:
            if zone in (None, ""):
                tz = datetime.fromtimestamp(now).astimezone().tzinfo
            elif zone in "Zz":
                tz = UTC
            else:
                hours, minutes = int(zone[1:3]), int(zone[4:6])
                delta = timedelta(hours=hours, minutes=minutes)
                tz = timezone(-delta if zone[0] == "-" else delta)
            stamp = datetime(int(year), int(month), int(day), int(hour or 0), int(minute or 0),
                             int(second or 0), tzinfo=tz)
        except ValueError as e:
            raise ValueError(f'parsing time "{value}": {e}') from None
        nanos = int((frac or "0")[:9].ljust(9, "0"))
        return int(stamp.timestamp()) * 1_000_000_000 + nanos
    if "-" in value:
        raise ValueError(f'parsing time "{value}": not an RFC 3339 time')
    unix = re.fullmatch(r"(-?\d+)(?:\.(\d+))?", value)
    if not unix:
        raise ValueError(f'failed to parse value as time or duration: "{value}"')
    return int(unix[1]) * 1_000_000_000 + int((unix[2] or "0")[:9].ljust(9, "0"))


def rfc3339_nanos(stamp: str) -> int:
    """One of the engine's RFC 3339 stamps (any fraction length, ``Z``) in nanoseconds;
    0 for an empty or zero time."""
    if not stamp or stamp.startswith("0001-"):
        return 0
    return to_nanos(stamp if stamp[-1:] in "Zz" or "+" in stamp[10:] else stamp + "Z")


def format_nanos(nanos: int, local: bool = True) -> str:
    """Go's ``RFC3339NanoFixed`` (``2006-01-02T15:04:05.000000000Z07:00``), in local time
    as the Docker client prints event times (``Z`` when local time is UTC)."""
    dt = datetime.fromtimestamp(nanos // 1_000_000_000, UTC)
    if local:
        dt = dt.astimezone()
    offset = dt.utcoffset() or timedelta(0)
    if offset == timedelta(0):
        zone = "Z"
    else:
        minutes = int(offset.total_seconds()) // 60
        zone = f"{'+' if minutes >= 0 else '-'}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{nanos % 1_000_000_000:09d}" + zone
