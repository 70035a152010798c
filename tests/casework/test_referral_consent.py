"""Narrowing consent blocks a referral not sent yet (issue 15, item 2), through
the real router and storage, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from tests.casework.reports import report
from tests.casework.test_referrals import ANA, PARTNER_CHAT, referral_ref, say, seeded
from tests.harness.bot import TRIAGE, Harness
from tests.storage.conftest import raw


async def narrow(bot: Harness, ref: str, label: str) -> None:
    await bot.send(ANA, f"/consent {ref}")
    await bot.press(ANA, label)


def room(bot: Harness, needle: str) -> list[str]:
    return [o.text for o in bot.matrix.to(TRIAGE) if needle in o.text]


async def test_narrowing_blocks_an_unsent_referral_and_send_is_refused_naming_it(
    bot: Harness, db_url: str
) -> None:
    await seeded(bot)
    ref = await report(bot, ANA, "trusted_partners")
    pending = referral_ref(await say(bot, f"/refer {ref} Lawyers Collective legal hearing"))
    sent = referral_ref(await say(bot, f"/refer {ref} Lawyers Collective un_mechanisms"))
    assert "on its way" in await say(bot, f"/referral {sent} send")
    before = len(bot.matrix.to(PARTNER_CHAT))

    await narrow(bot, ref, "advisory group only")

    blocked = await bot.db.partners.get(pending)
    assert blocked.blocked and blocked.blocked_from == "trusted_partners"
    assert blocked.blocked_to == "advisory_only" and blocked.state == "requested"
    assert not (await bot.db.partners.get(sent)).blocked, "a summary already sent is history"
    notice = room(bot, f"The defender narrowed the consent of {ref}")
    assert len(notice) == 1
    assert notice[0].endswith(f"Blocked referrals (no summary may be sent): {pending}.")
    answer = await say(bot, f"/referral {pending} send")
    assert answer.startswith(
        f"Referral {pending} is blocked: on {blocked.blocked_at:%Y-%m-%d %H:%M} UTC the defender "
        f'of {ref} changed the consent from "may be shared with trusted partners" to "advisory '
        'group only" before its summary was sent. Nothing was sent.'
    )
    assert len(bot.matrix.to(PARTNER_CHAT)) == before, "nothing reached the partner"
    assert (await bot.db.partners.get(pending)).sent == 0
    # Audited (consent words only), in the history, shown in /case.
    audit = [e for e in await bot.db.audit.entries() if e.action == "referral.blocked"]
    assert [(e.object_ref, e.detail) for e in audit] == [
        (pending, "trusted_partners>advisory_only")
    ]
    history = [e for e in await bot.db.cases.history(ref) if e.value == "blocked"]
    assert len(history) == 1 and history[0].role == "defender" and history[0].actor is None
    view = await say(bot, f"/case {ref}")
    assert f"Referral {pending}: Lawyers Collective (legal), requested, blocked by a" in view
    # The block is stored with the referral (a restart keeps it).
    async with raw(db_url) as conn:
        row = (
            await conn.execute(
                text("SELECT blocked_from, blocked_to FROM referrals WHERE ref = :r"),
                {"r": pending},
            )
        ).one()
    assert tuple(row) == ("trusted_partners", "advisory_only")


async def test_widening_back_does_not_unblock_a_new_referral_is_needed(bot: Harness) -> None:
    await seeded(bot)
    ref = await report(bot, ANA, "public_named")
    pending = referral_ref(await say(bot, f"/refer {ref} Lawyers Collective legal"))
    await narrow(bot, ref, "advisory group only")
    await narrow(bot, ref, "public appeal with names")
    assert "is blocked" in await say(bot, f"/referral {pending} send")
    fresh = referral_ref(await say(bot, f"/refer {ref} Lawyers Collective legal"))
    assert "on its way" in await say(bot, f"/referral {fresh} send")


@pytest.mark.parametrize(
    ("old", "new", "blocks"),
    [
        # From the report to no report: the old summary is no longer allowed.
        ("public_named", "public appeal, anonymised", True),
        # Partners are not among what "show me its text first" allows.
        ("trusted_partners", "public appeal only after the defender approves its text", True),
        # The same reach: nothing the referral needs was taken away.
        ("public_named", "may be shared with trusted partners", False),
        # Wider: nothing is blocked, the rooms hear of a change only.
        ("public_anonymised", "public appeal with names", False),
    ],
)
async def test_what_counts_as_narrowing_for_a_referral(
    bot: Harness, old: str, new: str, blocks: bool
) -> None:
    await seeded(bot)
    ref = await report(bot, ANA, old)
    pending = referral_ref(await say(bot, f"/refer {ref} Lawyers Collective legal"))
    await narrow(bot, ref, new)
    assert (await bot.db.partners.get(pending)).blocked is blocks
    listed = room(bot, f"Blocked referrals (no summary may be sent): {pending}.")
    assert len(listed) == (1 if blocks else 0)


async def test_a_closed_referral_is_not_blocked(bot: Harness) -> None:
    await seeded(bot)
    ref = await report(bot, ANA, "trusted_partners")
    done = referral_ref(await say(bot, f"/refer {ref} Lawyers Collective legal"))
    await say(bot, f"/referral {done} declined")
    await narrow(bot, ref, "advisory group only")
    assert not (await bot.db.partners.get(done)).blocked
    assert room(bot, "Blocked referrals (no summary may be sent): —.")
