"""How Docker prints sizes and times, for the CLI's tables."""

from __future__ import annotations

from datetime import UTC, datetime


def size(n: int, precision: int = 3) -> str:
    """Docker's sizes (go-units, decimal): 3 significant digits in listings ("4.86MB",
    "0B"); prune's "Total reclaimed space" uses 4 (go-units' HumanSize)."""
    value = float(n)
    for unit in ("B", "kB", "MB", "GB", "TB", "PB"):
        if value < 1000 or unit == "PB":
            return f"{value:.{precision}g}{unit}"
        value /= 1000
    return f"{n}B"


def parse_time(text: str) -> datetime | None:
    if not text:
        return None
    text = text.replace("Z", "+00:00")
    head, dot, rest = text.partition(".")
    if dot:  # Go writes nanoseconds; Python takes at most microseconds
        frac = "".join(ch for ch in rest if ch.isdigit())
        tz = rest[len(frac) :]
        text = f"{head}.{frac[:6]}{tz}"
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def duration(seconds: float) -> str:
    """Docker's HumanDuration (go-units): "About a minute", "36 hours", "3 weeks".

    Seconds and minutes are cut down; hours are rounded to the nearest one, and the
    days, weeks and months counts are cut down from those hours. Under 48 hours Docker
    still counts hours, under two weeks days, under about two months weeks, under
    two years months."""
    whole = int(seconds)
    if whole < 1:
        return "Less than a second"
    if whole < 60:
        return "1 second" if whole == 1 else f"{whole} seconds"
    minutes = whole // 60
    if minutes < 60:
        return "About a minute" if minutes == 1 else f"{minutes} minutes"
    hours = int(seconds / 3600 + 0.5)
    if hours == 1:
        return "About an hour"
    for limit, per, unit in ((48, 1, "hours"), (24 * 14, 24, "days"), (24 * 60, 24 * 7, "weeks")):
        if hours < limit:
            return f"{hours // per} {unit}"
    if hours < 24 * 365 * 2:
        return f"{hours // (24 * 30)} months"
    return f"{int(seconds / 3600) // (24 * 365)} years"


def ago(text: str, now: datetime | None = None) -> str:
    """ "About an hour ago", like Docker's CREATED column (HumanDuration + " ago")."""
    when = parse_time(text)
    if when is None:
        return "N/A"
    return duration(((now or datetime.now(UTC)) - when).total_seconds()) + " ago"
