"""The ``[casework]`` section: vocabularies, regions, follow-up and referral timing.

Kept apart from ``bot/config.py`` (which parses it like every other
section) because its checks need the vocabularies of ``handlers.vocab``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from handlers import vocab

if TYPE_CHECKING:
    from bot.config import ConfigError

_WORD = re.compile(r"^[a-z0-9_]{1,32}$")


@dataclass(frozen=True)
class CaseworkSection:
    working_groups: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()  # "CO=americas": country (ISO 3166-1 alpha-2) = region
    threats: tuple[str, ...] = tuple(vocab.THREATS)
    perpetrators: tuple[str, ...] = tuple(vocab.PERPETRATORS)
    profiles: tuple[str, ...] = tuple(vocab.PROFILES)
    relations: tuple[str, ...] = tuple(vocab.RELATIONS)
    followup_days_critical: int = 2
    followup_days_high: int = 7
    followup_days_medium: int = 14
    followup_days_low: int = 30
    referral_reminder_days: int = 7
    intake_countries: tuple[str, ...] | None = None
    """Country buttons of the report (ISO codes); unset: the first ones of
    ``regions``; ``[]``: the report does not ask the country."""


INTAKE_FROM_REGIONS = 8
"""Buttons taken from ``regions`` when ``intake_countries`` is unset."""


def validate(section: CaseworkSection, error: type[ConfigError]) -> None:
    for name in ("working_groups", "threats", "perpetrators", "profiles", "relations"):
        for word in getattr(section, name):
            if not _WORD.match(word):
                raise error(
                    f"casework.{name}", f"{word!r}: use lower-case words (a-z, 0-9, _), max 32"
                )
    for entry in section.regions:
        country, sep, region = entry.partition("=")
        if not sep or country.upper() not in vocab.countries() or not region.strip():
            raise error(
                "casework.regions",
                f"{entry!r}: expected COUNTRY=region with an ISO 3166-1 alpha-2 code (CO=americas)",
            )
    for code in section.intake_countries or ():
        if code.upper() not in vocab.countries():
            raise error(
                "casework.intake_countries", f"{code!r}: expected an ISO 3166-1 alpha-2 code (CO)"
            )


def intake_countries(section: CaseworkSection) -> tuple[str, ...]:
    if section.intake_countries is not None:
        return tuple(dict.fromkeys(code.upper() for code in section.intake_countries))
    regions = (entry.partition("=")[0].upper() for entry in section.regions)
    return tuple(dict.fromkeys(regions))[:INTAKE_FROM_REGIONS]


def casework(section: CaseworkSection) -> vocab.Casework:
    """What handlers need (``handlers.settings.Settings.casework``)."""
    return vocab.Casework(
        threats=section.threats,
        perpetrators=section.perpetrators,
        profiles=section.profiles,
        relations=section.relations,
        working_groups=section.working_groups,
        regions={
            entry.partition("=")[0].upper(): entry.partition("=")[2].strip()
            for entry in section.regions
        },
        followup_after={
            risk: timedelta(days=getattr(section, f"followup_days_{risk}")) for risk in vocab.RISKS
        },
        referral_reminder_after=timedelta(days=section.referral_reminder_days),
        intake_countries=intake_countries(section),
    )
