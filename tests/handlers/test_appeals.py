"""Appeals and signing, through the real router, storage and scheduler."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest

from handlers.messages import Address, Platform
from handlers.refs import parse_ref
from tests.handlers.test_intake import ANA, full_report
from tests.harness.bot import ALICE, BOB, TRIAGE, Harness

TIERRA_GROUP = Address(Platform.TELEGRAM, "-1001")  # es, Americas
GOMA_ROOM = Address(Platform.MATRIX, "!goma:localhost")  # fr, Africa
TUNIS_GROUP = Address(Platform.TELEGRAM, "-1002")  # ar, MENA
UNREGISTERED = Address(Platform.TELEGRAM, "-1009")
LUCIA = Address(Platform.TELEGRAM, "5001")  # a contact of Colectivo Tierra
STRANGER = Address(Platform.TELEGRAM, "5999")


async def seed(bot: Harness) -> None:
    members = bot.db.members
    tierra = await members.upsert_organisation(
        "Colectivo Tierra", country="Colombia", region="Americas", languages=("es",)
    )
    goma = await members.upsert_organisation(
        "Réseau Goma", country="DRC", region="Africa", languages=("fr",)
    )
    tunis = await members.upsert_organisation(
        "Jamaiyat Tunis", country="Tunisia", region="MENA", languages=("ar",)
    )
    await members.add_group(str(TIERRA_GROUP), tierra.id, "es")
    await members.add_group(str(GOMA_ROOM), goma.id, "fr")
    await members.add_group(str(TUNIS_GROUP), tunis.id, "ar")
    await members.add_contact(tierra.id, str(LUCIA))


async def say(bot: Harness, who: Address, text: str, chat: Address | None = None) -> str:
    replies = await bot.send(who, text, chat=chat or TRIAGE)
    mine = [o for o in replies if o.chat == (chat or TRIAGE)]
    assert mine, f"no answer to {text!r}"
    return mine[-1].text


async def drafted(bot: Harness, case_ref: str | None = None) -> str:
    answer = await say(bot, ALICE, f"/appeal new {case_ref or ''}".strip())
    ref = next(parse_ref(w.strip(".,")) for w in answer.split() if w.startswith("A-"))
    assert ref
    return ref


async def ready_appeal(bot: Harness, case_ref: str | None = None) -> str:
    ref = await drafted(bot, case_ref)
    await say(bot, ALICE, f"/appeal text {ref} en Free the defenders of the land collective.")
    await say(bot, ALICE, f"/appeal text {ref} es Liberen a los defensores del colectivo.")
    await say(bot, ALICE, f"/appeal text {ref} fr Libérez les défenseurs du collectif.")
    await say(bot, ALICE, f"/appeal text {ref} ar أطلقوا سراح المدافعين عن الأرض.")
    await say(bot, ALICE, f"/appeal deadline {ref} 2026-01-20")
    await say(bot, ALICE, f"/appeal approve {ref}")
    await say(bot, BOB, f"/appeal approve {ref}", chat=BOB)
    return ref


async def sent_appeal(bot: Harness) -> str:
    """An approved appeal, sent; what its broadcast delivered is taken away."""
    ref = await ready_appeal(bot)
    await say(bot, ALICE, f"/appeal send {ref}")
    bot.take_broadcasts()
    return ref


@pytest.fixture
async def seeded(bot: Harness) -> Harness:
    await seed(bot)
    return bot


async def test_drafted_approved_and_broadcast_in_each_groups_language(seeded: Harness) -> None:
    bot = seeded
    ref = await drafted(bot)
    await say(bot, ALICE, f"/appeal text {ref} en Free the defenders.")
    await say(bot, ALICE, f"/appeal text {ref} es Liberen a los defensores.")
    await say(bot, ALICE, f"/appeal text {ref} fr Libérez les défenseurs.")
    await say(bot, ALICE, f"/appeal deadline {ref} 2026-01-20")
    assert "1 of 2" in await say(bot, ALICE, f"/appeal approve {ref}")
    assert "1 of 2" in await say(bot, ALICE, f"/appeal approve {ref}"), "the same advisor twice"
    assert "needs 2 approvals" in await say(bot, ALICE, f"/appeal send {ref}")
    approved = await say(bot, BOB, f"/appeal approve {ref}", chat=BOB)
    assert "2 of 2" in approved
    assert "Warning: no ar text for 1 member group." in approved, "Jamaiyat Tunis reads Arabic"
    refused = await say(bot, ALICE, f"/appeal send {ref}")
    assert "Warning: no ar text for 1 member group." in refused and "fallback=en" in refused
    assert (await bot.db.appeals.get(ref)).state == "draft", "no silent English copy"
    assert "Usage: /appeal send" in await say(bot, ALICE, f"/appeal send {ref} fallback=de")
    assert "no ar text to fall back on" in await say(bot, ALICE, f"/appeal send {ref} fallback=ar")
    assert (await bot.db.appeals.get(ref)).state == "draft"
    assert "3 member groups" in await say(bot, ALICE, f"/appeal send {ref} fallback=en")
    assert "already sent" in await say(bot, ALICE, f"/appeal send {ref}")
    assert bot.take_broadcasts() == 3
    tierra = bot.telegram.last(TIERRA_GROUP)
    assert tierra.text.startswith("Liberen a los defensores.") and f"/sign {ref}" in tierra.text
    assert [o.key for o in tierra.options] == [f"sign:{ref}"]
    assert bot.matrix.last(GOMA_ROOM).text.startswith("Libérez les défenseurs.")
    assert bot.telegram.last(TUNIS_GROUP).text.startswith("Free the defenders."), "English fallback"
    assert bot.take_broadcasts() == 0, "nothing is queued twice"


async def test_signing_rules(seeded: Harness) -> None:
    bot = seeded
    ref = await sent_appeal(bot)
    signed = await bot.send(STRANGER, choice=f"sign:{ref}", chat=TIERRA_GROUP)
    assert "Colectivo Tierra signed" in signed[-1].text
    again = await say(bot, LUCIA, f"/sign {ref}", chat=LUCIA)
    assert "already signed" in again
    assert "Only members of the network" in await say(bot, STRANGER, f"/sign {ref}", chat=STRANGER)
    assert "Only members of the network" in await say(
        bot, STRANGER, f"!sign {ref}", chat=UNREGISTERED
    )
    assert "Réseau Goma signed" in await say(bot, STRANGER, f"!sign {ref.lower()}", chat=GOMA_ROOM)
    assert "withdrawn" in await say(bot, LUCIA, f"/unsign {ref}", chat=LUCIA)
    assert "Colectivo Tierra signed" in await say(bot, LUCIA, f"/sign {ref}", chat=LUCIA)
    status = await say(bot, ALICE, f"/appeal status {ref}")
    assert f"{ref}: 2 signatures." in status and "Africa: 1" in status and "Americas: 1" in status


async def test_reminder_then_closing_with_tally_and_export(seeded: Harness) -> None:
    bot = seeded
    ref = await sent_appeal(bot)
    await say(bot, LUCIA, f"/sign {ref}", chat=LUCIA)
    # The deadline is 2026-01-20 23:59 UTC; the fake clock starts 2026-01-05 09:00.
    await bot.advance(timedelta(days=14, hours=14))  # 01-19 23:00: not yet
    assert bot.take_broadcasts() == 0
    await bot.advance(timedelta(hours=1, minutes=30))  # 01-20 00:30: past the reminder time
    assert bot.take_broadcasts() == 2, "one reminder per group that has not signed"
    assert len(bot.telegram.to(TIERRA_GROUP)) == 1, "the group that signed gets no reminder"
    assert (
        "Rappel" in bot.matrix.last(GOMA_ROOM).text or "Reminder" in bot.matrix.last(GOMA_ROOM).text
    )
    assert ref in bot.telegram.last(TUNIS_GROUP).text
    await bot.advance(timedelta(hours=12))
    assert bot.take_broadcasts() == 0, "a reminder is sent once"
    await bot.advance(timedelta(days=1))
    closing = [o for o in bot.matrix.to(TRIAGE) if f"Signing for {ref} has closed." in o.text]
    assert len(closing) == 1 and f"{ref}: 1 signature." in closing[0].text
    files = {o.file[0]: o.file[1].decode() for o in bot.matrix.to(TRIAGE) if o.file}
    rows = list(csv.reader(io.StringIO(files[f"{ref}-signatories.csv"])))
    assert rows[0] == [
        "organisation",
        "kind",
        "country",
        "region",
        "signed_at",
        "via_group",
    ]
    assert [r[:4] for r in rows[1:]] == [
        ["Colectivo Tierra", "organisation", "Colombia", "Americas"]
    ]
    letter = files[f"{ref}-letter.txt"].splitlines()
    assert letter == [
        "Free the defenders of the land collective.",
        "",
        "Signatories:",
        "- Colectivo Tierra (Colombia)",
    ]
    assert "closed" in await say(bot, STRANGER, f"/sign {ref}", chat=GOMA_ROOM)


async def test_a_case_without_public_consent_cannot_be_appealed(seeded: Harness) -> None:
    bot = seeded
    await bot.send(ANA, "/sos they are here")  # consent: advisory group only
    case = next(parse_ref(w) for w in bot.matrix.last(TRIAGE).text.split() if w.startswith("C-"))
    assert case
    ref = await ready_appeal(bot, case)
    answer = await say(bot, ALICE, f"/appeal send {ref}")
    assert "no consent to a public appeal" in answer
    assert bot.take_broadcasts() == 0


async def test_anonymised_consent_refuses_the_names(seeded: Harness) -> None:
    bot = seeded
    case = await full_report(
        bot, ANA, "en"
    )  # consent: public_anonymised; who: "Ana and the collective"
    ref = await drafted(bot, case)
    refused = await say(bot, ALICE, f"/appeal text {ref} en Free ana now!")
    assert "names Ana" in refused
    accepted = await say(bot, ALICE, f"/appeal text {ref} en Free the defender of the collective.")
    assert "saved" in accepted


async def test_appeal_commands_are_advisors_only(seeded: Harness) -> None:
    bot = seeded
    assert "for the advisory group" in await say(bot, STRANGER, "/appeal new", chat=TIERRA_GROUP)
    assert "for the advisory group" in await say(bot, LUCIA, "/member list", chat=LUCIA)


async def test_subcommand_mistakes_and_help_show_the_declared_usage(seeded: Harness) -> None:
    bot = seeded
    ref = await drafted(bot)
    assert await say(bot, ALICE, f"/appeal text {ref} de Hallo") == (
        "Usage: /appeal text A-… en|es|fr|ar text"
    )
    assert await say(bot, ALICE, f"/appeal target {ref} region") == (
        "Usage: /appeal target A-… region=… language=… group=… individuals=yes|no"
    )
    assert await say(bot, ALICE, "/member add Voces kind=party") == (
        "Usage: /member add NAME country=… region=… languages=es;en groups=land;women "
        "kind=organisation|individual"
    )
    assert await say(bot, ALICE, "/member show") == "Usage: /member show NAME"
    unknown = await say(bot, ALICE, "/appeal launch")
    assert unknown.startswith(
        "Usage: /appeal new [C-…] [template=urgent|letter|statement]\n/appeal text A-…"
    )
    # Every declared usage line, each followed by what it is for (handlers/guide.py).
    usages = [line.split(" — ")[0] for line in (await say(bot, ALICE, "/help")).split("\n")]
    for line in (
        "/appeal deadline A-… YYYY-MM-DD",
        "/member invite NAME",
        "/cases [state=… country=… threat=… perpetrator=… profile=… relation=… group=… "
        "assigned=me overdue]",
    ):
        assert line in usages
    member_help = await say(bot, LUCIA, "/help", chat=TIERRA_GROUP)
    assert "/sign A-… [organisation]" in [line.split(" — ")[0] for line in member_help.split("\n")]


async def test_member_registry_and_registration_in_the_room(seeded: Harness) -> None:
    bot = seeded
    added = await say(
        bot, ALICE, "/member add Voces del Sur country=Chile region=Americas languages=es"
    )
    assert "Voces del Sur is in the registry." == added.splitlines()[0]
    listing = await say(bot, ALICE, "/member list")
    assert "Voces del Sur · Chile · Americas · es" in listing
    invite = await say(bot, ALICE, "/member invite Voces del Sur")
    code = invite.split("/register ")[-1].strip()
    group = Address(Platform.TELEGRAM, "-1003")
    assert "unknown, already used or expired" in await say(
        bot, STRANGER, "/register WRONGCODE1", chat=group
    )
    assert "Voces del Sur" in await say(bot, STRANGER, f"/register {code}", chat=group)
    assert "unknown, already used or expired" in await say(
        bot, STRANGER, f"/register {code}", chat=group
    ), "one time"
    registered = await bot.db.members.group(str(group))
    assert registered is not None and registered.language == "es"
    assert "paused" in await say(bot, STRANGER, "/mute", chat=group)
    assert str(group) not in [g.address for g in await bot.db.members.audience()]
    assert "again" in await say(bot, STRANGER, "/unmute", chat=group)
    assert str(group) in [g.address for g in await bot.db.members.audience()]
    shown = await say(bot, ALICE, "/member show voces del sur")
    assert "member chats 1" in shown
    assert "removed" in await say(bot, ALICE, "/member remove Voces del Sur")


async def test_signing_and_triage_store_no_account_for_the_person(seeded: Harness) -> None:
    bot = seeded
    ref = await sent_appeal(bot)
    await say(bot, STRANGER, f"/sign {ref}", chat=GOMA_ROOM)
    await say(bot, LUCIA, f"/sign {ref}", chat=LUCIA)
    assert await bot.db.accounts.find(str(STRANGER)) is None
    assert await bot.db.accounts.find(str(LUCIA)) is None
    assert await bot.db.accounts.find(str(ALICE)) is None
    await bot.send(LUCIA, "hello")  # a private conversation does need one (language, drafts)
    assert await bot.db.accounts.find(str(LUCIA)) is not None
