"""Times, durations and steps as the model writes them, turned into Unix seconds.

Accepted times: `now`, `now-1h`, `-30m` (relative to now), RFC 3339 (`2026-01-02T03:04:05Z`) or Unix
seconds. Durations use Prometheus units (`ms s m h d w y`), combined like `1h30m`, or plain seconds.
Written by hand because the grammar is Prometheus's own and tiny; no library parses exactly it.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime

from shared.errors import InvalidArgument

_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
_DURATION = re.compile(r"^(?:(\d+)(ms|s|m|h|d|w|y))+$")
_DURATION_PART = re.compile(r"(\d+)(ms|s|m|h|d|w|y)")
_RELATIVE = re.compile(r"^(?:now)?\s*-\s*(\S+)$")
# Steps the automatic step rounds up to, so results line up with what a dashboard would show.
_NICE_STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400)


def parse_duration(text: str) -> float:
    """Seconds in a Prometheus duration (`90s`, `1h30m`) or a plain positive number of seconds."""
    value = text.strip()
    try:
        seconds = float(value)
    except ValueError:
        if not _DURATION.match(value):
            raise InvalidArgument(
                f"cannot read duration {text!r}: use Prometheus units like 30s, 5m, 1h30m, 7d"
            ) from None
        seconds = sum(int(n) * _UNIT_SECONDS[unit] for n, unit in _DURATION_PART.findall(value))
    if not math.isfinite(seconds) or seconds <= 0:
        raise InvalidArgument(f"duration {text!r} must be a positive number of seconds")
    return seconds


def parse_time(text: str | None, *, now: float) -> float:
    """Unix seconds for `text`; `None` or `now` means `now`."""
    if text is None:
        return now
    value = text.strip()
    if value in ("", "now"):
        return now
    relative = _RELATIVE.match(value)
    if relative:
        return now - parse_duration(relative.group(1))
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        if not math.isfinite(seconds) or seconds < 0:
            raise InvalidArgument(f"time {text!r} must be a non-negative Unix timestamp")
        return seconds
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidArgument(
            f"cannot read time {text!r}: use now, now-1h, -30m, RFC 3339 (2026-01-02T03:04:05Z) "
            "or Unix seconds"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def auto_step(start: float, end: float, target_points: int) -> float:
    """The smallest "nice" step giving at most about `target_points` points over [start, end]."""
    wanted = (end - start) / max(target_points - 1, 1)
    for step in _NICE_STEPS:
        if step >= wanted:
            return float(step)
    return float(math.ceil(wanted / 86400) * 86400)


def iso(seconds: float) -> str:
    """RFC 3339 UTC text of Unix seconds, to the millisecond."""
    return datetime.fromtimestamp(seconds, tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_rfc3339(text: object) -> float | None:
    """Unix seconds of an RFC 3339 time as Prometheus and Alertmanager send it; None for none/zero."""
    if not isinstance(text, str) or not text or text.startswith("0001-"):
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None
