"""/tag, /close with an outcome, /followup with risk: through the real router and storage,
on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text

from handlers.messages import Address, Platform
from tests.handlers.test_intake import full_report
from tests.harness.bot import ALICE, BOB, TRIAGE, Harness
from tests.storage.conftest import raw

ANA = Address(Platform.TELEGRAM, "7001")
STRANGER = Address(Platform.TELEGRAM, "9999")
MEMBER_GROUP = Address(Platform.TELEGRAM, "-100777")


async def say(bot: Harness, line: str, who: Address = ALICE) -> str:
    return (await bot.send(who, line, chat=TRIAGE))[-1].text


async def test_tag_sets_replaces_and_clears_each_key(bot: Harness) -> None:
    ref = await full_report(bot, ANA, "en")
    answer = await say(
        bot,
        f"/tag {ref} country=co threat=death_threat,surveillance perpetrator=company "
        "profile=whrd,indigenous relation=member group=land",
    )
    assert f"{ref} tagged." in answer
    assert "Colombia (CO)" in answer and "death threat, surveillance" in answer
    file = await bot.db.casefile.get(ref)
    assert file.tags == {
        "country": ("CO",),
        "threat": ("death_threat", "surveillance"),
        "perpetrator": ("company",),
        "profile": ("whrd", "indigenous"),
        "relation": ("member",),
        "group": ("land",),
    }
    await say(bot, f"/tag {ref} threat=arrest group=")  # replaces one key, clears another
    file = await bot.db.casefile.get(ref)
    assert file.tags["threat"] == ("arrest",) and "group" not in file.tags
    assert file.tags["country"] == ("CO",), "keys not named stay as they were"
    view = (await bot.send(ALICE, f"/case {ref}"))[-1].text
    assert "Country: Colombia (CO)" in view and "Threat: arrest" in view
    assert "Relation to the network: member" in view


async def test_tag_labels_are_translated(bot: Harness) -> None:
    ref = await full_report(bot, ANA, "en")
    answer = (
        await bot.send(BOB, f"/tag {ref} country=CO threat=death_threat", chat=TRIAGE, hint="es")
    )[-1].text
    assert "Colombia (CO)" in answer and "amenaza de muerte" in answer


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        ("threat=earthquake", "earthquake is not allowed for threat. Allowed: killing, "),
        ("country=XX", "XX is not allowed for country"),
        ("colour=red", "Unknown field colour. Fields: country, threat, perpetrator"),
        ("relation=member,ally", "is not allowed for relation"),
        ("group=sports", "Allowed: land, gender"),
    ],
)
async def test_an_unknown_value_is_refused_with_the_allowed_ones_and_changes_nothing(
    bot: Harness, words: str, expected: str
) -> None:
    ref = await full_report(bot, ANA, "en")
    await say(bot, f"/tag {ref} country=KE")
    answer = await say(bot, f"/tag {ref} threat=arrest {words}")
    assert expected in answer
    assert (await bot.db.casefile.get(ref)).tags == {"country": ("KE",)}


async def test_tag_is_audited_with_the_keys_only(bot: Harness) -> None:
    ref = await full_report(bot, ANA, "en")
    await say(bot, f"/tag {ref} country=CO profile=lgbtiq")
    entries = await bot.db.audit.entries()
    tag = [e for e in entries if e.action == "case.tag"]
    assert len(tag) == 1 and tag[0].object_ref == ref
    assert tag[0].detail == "country,profile"


async def test_close_needs_an_outcome(bot: Harness) -> None:
    ref = await full_report(bot, ANA, "en")
    answer = await say(bot, f"/close {ref} all good")
    assert answer.startswith("Usage: /close [C-…] outcome=resolved|outcome=risk_reduced|")
    assert (await bot.db.cases.get(ref)).state != "closed"
    answer = await say(bot, f"/close {ref} outcome=solved")
    assert answer.startswith("Usage:")
    answer = await say(bot, f"/close {ref} outcome=resolved relocated with family")
    assert answer == f"{ref} closed. Outcome: resolved."
    case = await bot.db.cases.get(ref)
    assert case.state == "closed" and case.close_reason == "relocated with family"
    assert (await bot.db.casefile.get(ref)).outcome == "resolved"
    assert await say(bot, f"/close {ref} outcome=worsened") == f"{ref} is already closed."
    view = (await bot.send(ALICE, f"/case {ref}"))[-1].text
    assert "Outcome: resolved" in view


async def test_close_writes_one_statistics_row_and_a_reclose_replaces_it(
    bot: Harness, db_url: str
) -> None:
    ref = await full_report(bot, ANA, "en")
    bot.clock.advance(timedelta(minutes=12))
    await say(bot, f"/ack {ref}")
    bot.clock.advance(timedelta(minutes=30))
    await say(bot, f"/note {ref} called")  # not an action
    await bot.send(ALICE, f"/ask {ref} Are you safe?", chat=TRIAGE)
    await say(bot, f"/tag {ref} country=MX threat=raid,arrest profile=journalist")
    await say(bot, f"/close {ref} outcome=ongoing_risk")
    rows = await bot.db.stats.rows("2026-01", "2026-12")
    assert len(rows) == 1
    row = rows[0]
    assert (row.opened_month, row.closed_month, row.country, row.region) == (
        "2026-01",
        "2026-01",
        "MX",
        "americas",
    )
    assert row.threats == ("arrest", "raid") and row.profiles == ("journalist",)
    assert (row.minutes_to_ack, row.minutes_to_action) == (12, 42)
    assert (row.urgency, row.outcome, row.appeals, row.referrals) == ("days", "ongoing_risk", 0, 0)
    await say(bot, f"/state {ref} monitoring")  # reopened
    await say(bot, f"/close {ref} outcome=risk_reduced")
    rows = await bot.db.stats.rows("2026-01", "2026-12")
    assert [r.outcome for r in rows] == ["risk_reduced"], "a case counts once"
    async with raw(db_url) as conn:
        assert (await conn.execute(text("SELECT count(*) FROM case_stats"))).scalar() == 1


async def test_followup_records_risk_and_schedules_the_next_reassessment(bot: Harness) -> None:
    ref = await full_report(bot, ANA, "en")
    await say(bot, f"/ack {ref}")
    answer = await say(bot, f"/followup {ref} risk=high lawyer visits weekly")
    assert "Follow-up of C-" in answer and "risk: high" in answer and "2026-01-12" in answer
    events = await bot.db.cases.history(ref)
    assert (events[-1].kind, events[-1].value, events[-1].text) == (
        "followup",
        "high",
        "lawyer visits weekly",
    )
    await bot.advance(timedelta(days=6, hours=23))
    assert not [o for o in bot.matrix.to(TRIAGE) if "Follow-up due" in o.text]
    await bot.advance(timedelta(hours=1))
    assert len([o for o in bot.matrix.to(TRIAGE) if f"Follow-up due for {ref}" in o.text]) == 1
    assert (await say(bot, f"/followup {ref} risk=extreme")).startswith("Usage: /followup")


async def test_ask_stays_open_on_a_closed_case_while_the_followup_runs(bot: Harness) -> None:
    ref = await full_report(bot, ANA, "en")
    await say(bot, f"/followup {ref} risk=medium")  # 14 days
    answer = await say(bot, f"/close {ref} outcome=risk_reduced")
    assert "The follow-up stays due on 2026-01-19" in answer
    assert "On its way to the defender" in await say(bot, f"/ask {ref} How are things?")
    assert "How are things?" in bot.telegram.last(ANA).text
    await bot.advance(timedelta(days=14))
    reminders = [o for o in bot.matrix.to(TRIAGE) if f"Follow-up due for {ref}" in o.text]
    assert len(reminders) == 1, "the follow-up of a closed case still comes"
    assert "cannot be reached" in await say(bot, f"/ask {ref} Still there?")
    # A new reassessment opens the relay again until the next one.
    await say(bot, f"/followup {ref} risk=low")
    assert "On its way to the defender" in await say(bot, f"/ask {ref} Still there?")


async def test_close_without_a_followup_ends_the_relay(bot: Harness) -> None:
    ref = await full_report(bot, ANA, "en")
    await say(bot, f"/close {ref} outcome=resolved")
    assert "cannot be reached" in await say(bot, f"/ask {ref} hello?")


@pytest.mark.parametrize(
    "command",
    [
        "/tag {ref} country=CO",
        "/close {ref} outcome=resolved",
        "/followup {ref} risk=high",
        "/refer {ref} Lawyers legal",
        "/referral R-000000 send",
        "/cases country=CO",
        "/agenda",
        "/stats 2026",
    ],
)
@pytest.mark.parametrize("where", ["member group", "private chat", "advisor in member group"])
async def test_casework_commands_are_refused_to_others_before_any_lookup(
    bot: Harness, command: str, where: str
) -> None:
    ref = await full_report(bot, ANA, "en")
    sender, chat = {
        "member group": (STRANGER, MEMBER_GROUP),
        "private chat": (STRANGER, STRANGER),
        "advisor in member group": (BOB, MEMBER_GROUP),
    }[where]
    audit_before = len(await bot.db.audit.entries())
    real = await bot.send(sender, command.format(ref=ref), chat=chat)
    fake = await bot.send(sender, command.format(ref="C-000000"), chat=chat)
    assert (
        [o.text for o in real]
        == [o.text for o in fake]
        == ["This command is for the advisory group."]
    )
    assert len(await bot.db.audit.entries()) == audit_before
    assert (await bot.db.casefile.get(ref)).tags == {}
    assert (await bot.db.cases.get(ref)).state != "closed"


async def test_unknown_case_is_answered_plainly(bot: Harness) -> None:
    assert await say(bot, "/tag C-000000 country=CO") == "There is no case C-000000."
    assert await say(bot, "/close C-000000 outcome=resolved") == "There is no case C-000000."
    assert await say(bot, "/followup C-000000 risk=low") == "There is no case C-000000."


async def test_tags_and_outcome_are_sealed_on_the_case(bot: Harness, db_url: str) -> None:
    ref = await full_report(bot, ANA, "en")
    await say(bot, f"/tag {ref} country=GT threat=disappearance profile=lgbtiq")
    await say(bot, f"/followup {ref} risk=critical")
    await say(bot, f"/close {ref} outcome=worsened the family left")
    async with raw(db_url) as conn:
        for table in ("cases", "case_events", "audit_log"):
            rows = (await conn.execute(text(f"SELECT * FROM {table}"))).all()
            dump = repr(rows)
            for word in ("lgbtiq", "disappearance", "worsened", "the family left", "'GT'"):
                assert word not in dump, (table, word)
