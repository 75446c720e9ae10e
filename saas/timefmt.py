"""Dates shown to people. Stored times are UTC; pages say so rather than guess a zone."""

from __future__ import annotations

from datetime import datetime, timezone


def from_unix(ts: int | None) -> datetime | None:
    return datetime.fromtimestamp(int(ts), tz=timezone.utc) if ts else None


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def format_date(value: datetime | None) -> str:
    if value is None:
        return "—"
    return value.strftime("%B %-d, %Y")


def format_datetime(value: datetime | None) -> str:
    if value is None:
        return "—"
    return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
