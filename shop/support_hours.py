"""The team's opening hours: whether someone can answer a hand-off now, and if not, when."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from shop import settings

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_PART = re.compile(
    r"^(?P<first>[a-z]{3})(?:-(?P<last>[a-z]{3}))?\s+(?P<open>\d{1,2}:\d{2})-(?P<close>\d{1,2}:\d{2})$"
)


@dataclass(frozen=True)
class SupportHours:
    """Opening hours per weekday (0 = Monday) in a time zone."""

    days: dict[int, tuple[dt.time, dt.time]]
    zone: ZoneInfo

    def is_open(self, now: dt.datetime) -> bool:
        """True if ``now`` (aware, or naive UTC) is within the hours."""
        local = _aware(now).astimezone(self.zone)
        hours = self.days.get(local.weekday())
        return hours is not None and hours[0] <= local.time() < hours[1]

    def next_opening(self, now: dt.datetime) -> dt.datetime | None:
        """The next time (local, aware) the team is back; None if never open."""
        local = _aware(now).astimezone(self.zone)
        for ahead in range(8):
            day = local.date() + dt.timedelta(days=ahead)
            hours = self.days.get(day.weekday())
            if hours is None:
                continue
            opening = dt.datetime.combine(day, hours[0], tzinfo=self.zone)
            if opening > local:
                return opening
        return None


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)


def _time(text: str) -> dt.time:
    hours, minutes = (int(x) for x in text.split(":"))
    return dt.time(23, 59, 59) if (hours, minutes) == (24, 0) else dt.time(hours, minutes)


def parse(spec: str, zone: str = "UTC") -> SupportHours:
    """``"mon-fri 08:00-20:00, sat 09:00-17:00"`` in ``zone``; SettingError when malformed."""
    try:
        tz = ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise settings.SettingError(
            f"{settings.SUPPORT_TIMEZONE.name}={zone!r} is not a time zone (e.g. Europe/Berlin)"
        ) from None
    days: dict[int, tuple[dt.time, dt.time]] = {}
    for part in (p.strip().lower() for p in spec.split(",")):
        match = _PART.match(part)
        if not part:
            continue
        try:
            assert match is not None
            first = DAYS.index(match["first"])
            last = DAYS.index(match["last"] or match["first"])
            opening, closing = _time(match["open"]), _time(match["close"])
        except (AssertionError, ValueError):
            raise settings.SettingError(
                f"{settings.SUPPORT_HOURS.name}: cannot read {part!r}; write e.g. "
                "'mon-fri 08:00-20:00, sat 09:00-17:00'"
            ) from None
        for day in range(first, last + 1):
            days[day] = (opening, closing)
    return SupportHours(days, tz)


def configured() -> SupportHours:
    """The hours from the settings."""
    return parse(settings.SUPPORT_HOURS.get() or "", settings.SUPPORT_TIMEZONE.get() or "UTC")


def out_of_hours_note(now: dt.datetime, hours: SupportHours | None = None) -> str | None:
    """What to tell a customer handed off out of hours (None during opening hours)."""
    hours = hours or configured()
    if hours.is_open(now):
        return None
    back = hours.next_opening(now)
    if back is None:
        return "Our team isn't available at the moment; they will answer you here when they are."
    local_now = _aware(now).astimezone(hours.zone)
    if back.date() == local_now.date():
        when = f"today at {back:%H:%M}"
    elif back.date() == local_now.date() + dt.timedelta(days=1):
        when = f"tomorrow at {back:%H:%M}"
    else:
        when = f"on {back:%A} at {back:%H:%M}"
    zone = "" if str(hours.zone) == "UTC" else f" ({hours.zone})"
    return (
        f"Our team is away right now: expect an answer {when}{zone}. Your message is kept, and "
        "the reply will appear right here, even if you come back later."
    )
