"""In a member group only the organisation's registered contacts can /unsign
and /mute; /sign on a draft appeal answers exactly as for an unknown one."""

from __future__ import annotations

import pytest

from tests.handlers.test_appeals import (
    LUCIA,
    STRANGER,
    TIERRA_GROUP,
    drafted,
    ready_appeal,
    say,
    seed,
)
from tests.harness.bot import ALICE, Harness


@pytest.fixture
async def seeded(bot: Harness) -> Harness:
    await seed(bot)
    return bot


async def test_a_stranger_in_the_group_cannot_unsign_or_mute(seeded: Harness) -> None:
    ref = await ready_appeal(seeded)
    await say(seeded, ALICE, f"/appeal send {ref}")  # delivered by the harness
    assert "signed" in await say(seeded, STRANGER, f"/sign {ref}", chat=TIERRA_GROUP)
    refused = await say(seeded, STRANGER, f"/unsign {ref}", chat=TIERRA_GROUP)
    assert "registered contacts" in refused
    assert len(await seeded.db.appeals.signatures(ref)) == 1
    assert "registered contacts" in await say(seeded, STRANGER, "/mute", chat=TIERRA_GROUP)
    group = await seeded.db.members.group(str(TIERRA_GROUP))
    assert group is not None and not group.muted
    assert "withdrawn" in await say(seeded, LUCIA, f"/unsign {ref}", chat=TIERRA_GROUP)
    assert "paused" in await say(seeded, LUCIA, "/mute", chat=TIERRA_GROUP)


async def test_sign_on_a_draft_answers_as_for_an_unknown_appeal(seeded: Harness) -> None:
    draft = await drafted(seeded)
    unknown = "A-ZZZZZZ" if draft != "A-ZZZZZZ" else "A-YYYYYY"
    for command in ("/sign", "/unsign"):
        on_draft = await say(seeded, LUCIA, f"{command} {draft}", chat=TIERRA_GROUP)
        on_unknown = await say(seeded, LUCIA, f"{command} {unknown}", chat=TIERRA_GROUP)
        assert on_draft.replace(draft, "REF") == on_unknown.replace(unknown, "REF")
