"""``/member add`` creates, ``/member set`` changes only the fields named (issue 16, item 6)."""

from __future__ import annotations

from tests.handlers.test_appeals import say
from tests.harness.bot import ALICE, Harness


async def test_add_keeps_working_groups_and_shows_the_record(bot: Harness) -> None:
    answer = await say(
        bot,
        ALICE,
        "/member add Voces del Sur country=Chile region=Latin America languages=es;en "
        "groups=land;women",
    )
    assert answer.splitlines()[0] == "Voces del Sur is in the registry."
    assert "working groups land,women" in answer
    assert "Latin America" in answer
    org = await bot.db.members.organisation("Voces del Sur")
    assert org is not None
    assert org.working_groups == ("land", "women")
    assert org.languages == ("es", "en")
    assert [o.id for o in await bot.db.members.list_organisations()] == [org.id]


async def test_adding_again_changes_nothing(bot: Harness) -> None:
    await say(bot, ALICE, "/member add Voces del Sur country=Chile region=Americas languages=es")
    answer = await say(bot, ALICE, "/member add voces del sur languages=fr")
    assert "already in the registry" in answer and "/member set" in answer
    org = await bot.db.members.organisation("Voces del Sur")
    assert org is not None
    assert (org.country, org.region, org.languages) == ("Chile", "Americas", ("es",))


async def test_set_changes_only_the_named_fields(bot: Harness) -> None:
    await say(
        bot,
        ALICE,
        "/member add Voces del Sur country=Chile region=Americas languages=es groups=land",
    )
    answer = await say(bot, ALICE, "/member set Voces del Sur groups=land;digital")
    assert answer.splitlines()[0] == "Voces del Sur was updated."
    assert "Chile · Americas · languages es · working groups land,digital" in answer
    org = await bot.db.members.organisation("Voces del Sur")
    assert org is not None
    assert (org.country, org.region, org.languages) == ("Chile", "Americas", ("es",))
    assert org.working_groups == ("land", "digital")
    await say(bot, ALICE, "/member set Voces del Sur region=South America")
    org = await bot.db.members.organisation("Voces del Sur")
    assert org is not None
    assert (org.region, org.working_groups) == ("South America", ("land", "digital"))
    actions = [e.action for e in await bot.db.audit.entries()]
    assert actions.count("member.set") == 2 and actions.count("member.add") == 1


async def test_set_refuses_bad_input_and_changes_nothing(bot: Harness) -> None:
    await say(bot, ALICE, "/member add Voces del Sur country=Chile languages=es")
    assert "Usage: /member set" in await say(bot, ALICE, "/member set Voces del Sur languages=xx")
    assert "Usage: /member set" in await say(bot, ALICE, "/member set Voces del Sur")
    assert "No member called" in await say(bot, ALICE, "/member set Nobody country=Peru")
    org = await bot.db.members.organisation("Voces del Sur")
    assert org is not None and org.languages == ("es",)
