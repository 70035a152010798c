"""Advisors by name: who ``/assign alice`` or ``/assign Ana M`` means, and
how alerts and case views name an advisor.

Display names come from the configuration (``advisory.names``), not from
the platforms: a name shown in the triage room is one the network chose,
and a platform profile cannot impersonate an advisor. A handle is the
account's local part (``alice`` of ``@alice:example.org``) or its id.
"""

from __future__ import annotations

from dataclasses import dataclass

from handlers.messages import Address, Platform
from handlers.services import Services


@dataclass(frozen=True)
class Match:
    """What a typed name resolved to: one advisor, or the candidates."""

    advisor: Address | None
    candidates: tuple[Address, ...] = ()


def handle(advisor: Address) -> str:
    return advisor.id.lstrip("@").split(":")[0]


def display_name(services: Services, advisor: Address | str) -> str:
    """The configured name of an advisor, else how the platform mentions them.

    Any other address is returned as it is given (it is not an advisor's)."""
    if isinstance(advisor, str):
        try:
            parsed = Address.parse(advisor)
        except ValueError:
            return advisor
    else:
        parsed = advisor
    settings = services.settings
    if parsed not in settings.advisors:
        return str(advisor)
    name = settings.advisor_names.get(parsed)
    return name or services.hub.mention(parsed)


def _keys(services: Services, advisor: Address) -> list[str]:
    keys = [handle(advisor), advisor.id.lstrip("@"), str(advisor)]
    name = services.settings.advisor_names.get(advisor)
    if name:
        keys += [name, *name.split()]  # "Ana" or "Martín" finds "Ana Martín"
    return [k.casefold() for k in keys]


def resolve(services: Services, typed: str) -> Match:
    """An exact name or handle wins; otherwise a prefix that fits exactly one advisor."""
    wanted = " ".join(typed.strip().lstrip("@").split()).casefold()
    if not wanted:
        return Match(None)
    advisors = services.settings.advisors
    exact = [a for a in advisors if wanted in _keys(services, a)]
    if len(exact) == 1:
        return Match(exact[0])
    fitting = tuple(a for a in advisors if any(k.startswith(wanted) for k in _keys(services, a)))
    if len(fitting) == 1:
        return Match(fitting[0])
    return Match(None, fitting)


def alert_name(services: Services, advisor: Address) -> str:
    """How an alert names an advisor: the configured name, and on Matrix the
    handle too, because Matrix clients notify a person whose user name
    appears in a message (an alert must still ring)."""
    name = services.settings.advisor_names.get(advisor)
    if not name:
        return services.hub.mention(advisor)
    if advisor.platform is Platform.MATRIX:
        return f"{name} ({handle(advisor)})"
    return name
