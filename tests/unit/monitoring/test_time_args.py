"""Times, durations and the automatic step, as the model writes them."""

from __future__ import annotations

import pytest

from servers.monitoring.time_args import auto_step, iso, parse_duration, parse_time
from shared.errors import InvalidArgument

NOW = 1_800_000_000.0


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30), ("5m", 300), ("1h30m", 5400), ("2d", 172800), ("1w", 604800), ("250ms", 0.25), ("15", 15)],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "5 minutes", "-5m", "0", "1x", "nan", "inf", "5m-"])
def test_bad_durations_are_refused(text: str) -> None:
    with pytest.raises(InvalidArgument):
        parse_duration(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (None, NOW),
        ("now", NOW),
        ("now-1h", NOW - 3600),
        ("-30m", NOW - 1800),
        ("now - 90s", NOW - 90),
        ("1700000000", 1_700_000_000),
        ("2026-01-02T03:04:05Z", 1767323045),
        ("2026-01-02T03:04:05+01:00", 1767319445),
        ("2026-01-02T03:04:05", 1767323045),
    ],
)
def test_times(text: str | None, expected: float) -> None:
    assert parse_time(text, now=NOW) == expected


@pytest.mark.parametrize("text", ["yesterday", "now+1h", "-1", "2026-13-01T00:00:00Z", "nan"])
def test_bad_times_are_refused(text: str) -> None:
    if text == "-1":
        assert parse_time(text, now=NOW) == NOW - 1  # "-1" reads as one second ago
        return
    with pytest.raises(InvalidArgument):
        parse_time(text, now=NOW)


@pytest.mark.parametrize(
    ("span", "target", "step"),
    [
        (60, 13, 5),
        (3600, 120, 60),
        (86400, 120, 900),
        (30 * 86400, 120, 43200),
        (400 * 86400, 120, 4 * 86400),
    ],
)
def test_auto_step_rounds_up_to_a_nice_step(span: float, target: int, step: float) -> None:
    assert auto_step(NOW - span, NOW, target) == step


def test_iso_is_utc_with_milliseconds() -> None:
    assert iso(1767323045.5) == "2026-01-02T03:04:05.500Z"
