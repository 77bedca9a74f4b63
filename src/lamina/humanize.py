"""How Docker prints sizes and times, for the CLI's tables."""

from __future__ import annotations

from datetime import UTC, datetime


def size(n: int, precision: int = 3) -> str:
    """Docker's HumanSize: decimal units, 3 significant digits ("4.86MB", "0B");
    HumanSizeWithPrecision with `precision`."""
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


def ago(text: str, now: datetime | None = None) -> str:
    """ "2 hours ago", like Docker's CREATED column."""
    when = parse_time(text)
    if when is None:
        return "N/A"
    seconds = int(((now or datetime.now(UTC)) - when).total_seconds())
    if seconds < 1:
        return "Less than a second ago"
    for unit, span in (
        ("year", 31536000),
        ("month", 2592000),
        ("week", 604800),
        ("day", 86400),
        ("hour", 3600),
        ("minute", 60),
        ("second", 1),
    ):
        if seconds >= span:
            count = seconds // span
            if unit == "hour" and count == 1:
                return "About an hour ago"
            return f"{count} {unit}{'s' if count != 1 else ''} ago"
    return "Less than a second ago"
