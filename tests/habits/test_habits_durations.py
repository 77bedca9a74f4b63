"""Durations read as Docker reads them (go-units HumanDuration, + " ago" in CREATED
columns). The table walks each threshold of go-units' duration.go from both sides."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from lamina import humanize

S, M, H, D = 1, 60, 3600, 86400
TABLE = [
    (0, "Less than a second"),
    (0.9, "Less than a second"),
    (1, "1 second"),
    (2, "2 seconds"),
    (59.9, "59 seconds"),
    (60, "About a minute"),
    (119, "About a minute"),
    (120, "2 minutes"),
    (59 * M + 59, "59 minutes"),
    (60 * M, "About an hour"),
    (H + 29 * M, "About an hour"),  # hours are rounded: 1.48 h is "About an hour"
    (H + 30 * M, "2 hours"),
    (36 * H, "36 hours"),  # Docker keeps counting hours up to two days
    (47 * H + 29 * M, "47 hours"),
    (47 * H + 30 * M, "2 days"),  # rounds to 48 hours
    (13 * D + 23 * H, "13 days"),
    (14 * D, "2 weeks"),
    (59 * D, "8 weeks"),
    (60 * D, "2 months"),
    (364 * D, "12 months"),
    (729 * D, "24 months"),
    (730 * D, "2 years"),
    (3650 * D, "10 years"),
]


@pytest.mark.parametrize(("seconds", "text"), TABLE)
def test_duration_is_go_units_human_duration(seconds: float, text: str) -> None:
    assert humanize.duration(seconds) == text


def test_ago_appends_ago_like_dockers_created_column() -> None:
    now = datetime(2026, 1, 10, tzinfo=UTC)
    created = (now - timedelta(hours=36)).isoformat()
    assert humanize.ago(created, now) == "36 hours ago"
    assert humanize.ago((now - timedelta(seconds=90)).isoformat(), now) == "About a minute ago"
    assert humanize.ago("", now) == "N/A"


@pytest.mark.parametrize(
    ("n", "three", "four"),
    [(0, "0B", "0B"), (999, "999B", "999B"), (1234567, "1.23MB", "1.235MB"), (10**9, "1GB", "1GB")],
)
def test_sizes_are_go_units(n: int, three: str, four: str) -> None:
    assert humanize.size(n) == three  # listings: HumanSizeWithPrecision(size, 3)
    assert humanize.size(n, 4) == four  # prune's "Total reclaimed space": HumanSize
