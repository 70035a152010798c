"""Who an appeal reaches: the groups whose organisation matches the target
in the registry, and the groups that subscribed to the target (issue 16).

A subscription widens the audience, never narrows it: an appeal with no
target still reaches every active member group, as before.
"""

from __future__ import annotations

from dataclasses import dataclass

from handlers.services import Services
from storage import Appeal
from storage.records import MemberGroup


@dataclass(frozen=True)
class Audience:
    registry: list[MemberGroup]
    subscribed: list[MemberGroup]  # only those the registry did not already include

    @property
    def groups(self) -> list[MemberGroup]:
        return [*self.registry, *self.subscribed]


async def of_appeal(services: Services, appeal: Appeal) -> Audience:
    db = services.db
    registry = await db.members.audience(
        region=appeal.target_region,
        language=appeal.target_language,
        working_group=appeal.target_group,
    )
    known = {g.id for g in registry}
    subscribed = [
        g
        for g in await db.subscriptions.subscribers(
            region=appeal.target_region,
            working_group=appeal.target_group,
            language=appeal.target_language,
        )
        if g.id not in known
    ]
    return Audience(registry, subscribed)
