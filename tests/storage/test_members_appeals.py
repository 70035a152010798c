"""Member registry, appeals, signatures and the outbox, on both databases."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from storage import Conflict, Database, NotFound
from tests.storage.conftest import Clock

ALICE = "matrix:@alice:example.org"
BOB = "telegram:42"
GROUP_ES = "telegram:-1001234567890"
GROUP_FR = "matrix:!paris:example.org"


async def registry(db: Database) -> tuple[int, int]:
    es = await db.members.upsert_organisation(
        "Colectivo Tumaco",
        country="CO",
        region="Americas",
        languages=["es", "en"],
        working_groups=["land", "women"],
    )
    fr = await db.members.upsert_organisation(
        "Ligue des Droits",
        country="FR",
        region="Europe",
        languages=["fr"],
        working_groups=["digital"],
    )
    await db.members.add_group(GROUP_ES, es.id, "es")
    await db.members.add_group(GROUP_FR, fr.id, "fr")
    await db.members.add_contact(es.id, BOB)
    return es.id, fr.id


async def test_organisations_are_upserted_by_name(db: Database) -> None:
    first = await db.members.upsert_organisation(
        "Colectivo Tumaco", country="CO", region="Americas"
    )
    again = await db.members.upsert_organisation(
        "colectivo  TUMACO", country="CO", region="Americas", languages=["es"]
    )
    assert again.id == first.id and again.languages == ("es",)
    assert again.name == "Colectivo Tumaco"  # the first spelling stays
    person = await db.members.upsert_organisation("Ana Pérez", kind="individual", country="MX")
    assert person.kind == "individual"
    assert [o.name for o in await db.members.list_organisations()] == [
        "Ana Pérez",
        "Colectivo Tumaco",
    ]
    assert (await db.members.organisation("COLECTIVO TUMACO")) == again
    assert await db.members.remove_organisation("Ana Pérez")
    assert [o.name for o in await db.members.list_organisations()] == ["Colectivo Tumaco"]
    assert len(await db.members.list_organisations(include_inactive=True)) == 2
    with pytest.raises(ValueError):
        await db.members.upsert_organisation("X", kind="company")


async def test_contacts_and_groups(db: Database) -> None:
    es, fr = await registry(db)
    await db.members.add_contact(es, BOB)  # idempotent
    assert await db.members.contacts_of(es) == [BOB]
    assert [o.id for o in await db.members.organisations_of(BOB)] == [es]
    assert await db.members.organisations_of(ALICE) == []
    group = await db.members.group(GROUP_ES)
    assert group is not None and (group.address, group.organisation_id) == (GROUP_ES, es)
    assert await db.members.set_muted(GROUP_ES, True)
    assert await db.members.mark_group_inactive(GROUP_FR)
    assert await db.members.audience() == []
    await db.members.set_muted(GROUP_ES, False)
    await db.members.add_group(GROUP_FR, fr, "fr")  # re-registering re-activates
    assert {g.address for g in await db.members.audience()} == {GROUP_ES, GROUP_FR}
    assert await db.members.remove_contact(es, BOB)
    assert await db.members.contacts_of(es) == []
    with pytest.raises(NotFound):
        await db.members.add_contact(123, BOB)


async def test_the_audience_follows_the_target(db: Database) -> None:
    await registry(db)

    async def chats(**target: str) -> set[str]:
        return {g.address for g in await db.members.audience(**target)}

    assert await chats(region="europe") == {GROUP_FR}
    assert await chats(language="en") == {GROUP_ES}  # the organisation works in English
    assert await chats(working_group="Land") == {GROUP_ES}
    assert await chats(region="Americas", language="fr") == set()


async def test_an_invite_code_binds_a_group_once(db: Database, clock: Clock) -> None:
    es, _ = await registry(db)
    code = await db.members.invite(es, timedelta(days=2))
    group = await db.members.redeem_invite(code.lower(), "telegram:-100555", "es")
    assert group is not None and group.organisation_id == es
    assert await db.members.redeem_invite(code, "telegram:-100556", "es") is None
    late = await db.members.invite(es, timedelta(hours=1))
    clock.advance(hours=2)
    assert await db.members.redeem_invite(late, "telegram:-100557", "es") is None
    assert await db.members.redeem_invite("NOPE", "telegram:-100558", "es") is None


async def test_an_appeal_goes_from_draft_to_signatures(db: Database, clock: Clock) -> None:
    es, fr = await registry(db)
    await db.cases.create("C-7K4QM2", None, "days", "public_named", "matrix", "x", "y", "z")
    appeal = await db.appeals.create("A-9TXW3B", ALICE, "C-7K4QM2")
    assert (appeal.state, appeal.case_ref, appeal.approvals) == ("draft", "C-7K4QM2", 0)
    with pytest.raises(Conflict):
        await db.appeals.create("A-9TXW3B", ALICE)
    with pytest.raises(NotFound):
        await db.appeals.create("A-000000", ALICE, "C-NOCASE")
    await db.appeals.set_text("A-9TXW3B", ALICE, "en", "We call for protection")
    await db.appeals.set_text("A-9TXW3B", ALICE, "es", "Exigimos protección")
    assert await db.appeals.approve("A-9TXW3B", ALICE) == 1
    assert await db.appeals.approve("A-9TXW3B", ALICE) == 1  # distinct advisors only
    await db.appeals.set_text("A-9TXW3B", ALICE, "en", "We call for urgent protection")
    assert (await db.appeals.get("A-9TXW3B")).approvals == 0  # a changed text needs new approvals
    assert await db.appeals.approve("A-9TXW3B", ALICE) == 1
    assert await db.appeals.approve("A-9TXW3B", BOB) == 2
    deadline = clock.now() + timedelta(days=7)
    await db.appeals.set_deadline("A-9TXW3B", ALICE, deadline)
    detail = await db.appeals.get("A-9TXW3B")
    assert detail.texts == {"en": "We call for urgent protection", "es": "Exigimos protección"}
    assert set(detail.approvers) == {db.audit.pseudonym(ALICE), db.audit.pseudonym(BOB)}
    assert detail.deadline_at == deadline

    with pytest.raises(Conflict):
        await db.appeals.sign("A-9TXW3B", es, BOB)  # not sent yet
    sent = await db.appeals.send("A-9TXW3B", ALICE, [], [])
    assert sent.state == "sent" and sent.sent_at == clock.now()
    with pytest.raises(Conflict):
        await db.appeals.set_text("A-9TXW3B", ALICE, "fr", "trop tard")

    group = await db.members.group(GROUP_ES)
    assert group is not None
    assert await db.appeals.sign("A-9TXW3B", es, GROUP_ES, via_group_id=group.id)
    assert not await db.appeals.sign("A-9TXW3B", es, BOB)  # one signature per organisation
    clock.advance(minutes=1)
    assert await db.appeals.sign("A-9TXW3B", fr, "matrix:@claire:example.org")
    signatures = await db.appeals.signatures("A-9TXW3B")
    assert [(s.organisation, s.region, s.via_group) for s in signatures] == [
        ("Colectivo Tumaco", "Americas", True),
        ("Ligue des Droits", "Europe", False),
    ]
    assert await db.appeals.signed_organisation_ids("A-9TXW3B") == {es, fr}
    assert await db.appeals.unsign("A-9TXW3B", fr, "matrix:@claire:example.org")
    assert not await db.appeals.unsign("A-9TXW3B", fr, "matrix:@claire:example.org")
    assert await db.appeals.signed_organisation_ids("A-9TXW3B") == {es}
    closed = await db.appeals.close("A-9TXW3B", "system")
    assert closed.state == "closed"
    with pytest.raises(Conflict):
        await db.appeals.sign("A-9TXW3B", fr, BOB)
    assert [a.ref for a in await db.appeals.list_appeals("closed")] == ["A-9TXW3B"]
    assert (await db.audit.verify()).ok


async def test_concurrent_signatures_for_one_organisation_count_once(db: Database) -> None:
    es, _ = await registry(db)
    await db.appeals.create("A-9TXW3B", ALICE)
    await db.appeals.send("A-9TXW3B", ALICE, [], [])
    results = await asyncio.gather(
        *(db.appeals.sign("A-9TXW3B", es, f"telegram:{n}") for n in range(10)),
        return_exceptions=True,
    )
    assert sum(r is True for r in results) == 1
    assert all(r is False or r is True or isinstance(r, Conflict) for r in results)
    assert len(await db.appeals.signatures("A-9TXW3B")) == 1


async def test_individuals_sign_only_where_allowed(db: Database) -> None:
    person = await db.members.upsert_organisation("Ana Pérez", kind="individual")
    await db.appeals.create("A-9TXW3B", ALICE)
    await db.appeals.set_target("A-9TXW3B", ALICE, allow_individuals=False)
    await db.appeals.send("A-9TXW3B", ALICE, [], [])
    with pytest.raises(Conflict):
        await db.appeals.sign("A-9TXW3B", person.id, "telegram:7")


# ------------------------------------------------------------------- outbox


async def test_a_broadcast_is_queued_once_per_destination(db: Database, clock: Clock) -> None:
    destinations = [(GROUP_ES, "es"), (GROUP_FR, "fr"), (GROUP_ES, "es")]
    assert await db.outbox.enqueue("appeal", "A-9TXW3B", destinations) == 2
    assert await db.outbox.enqueue("appeal", "A-9TXW3B", destinations) == 0  # resumed send
    clock.advance(seconds=1)
    assert await db.outbox.enqueue("appeal", "A-OTHER1", destinations[:1], body="hi") == 1
    first = await db.outbox.claim(limit=2)
    assert {(i.address, i.language, i.attempts) for i in first} == {
        (GROUP_ES, "es", 1),
        (GROUP_FR, "fr", 1),
    }
    assert [i.body for i in await db.outbox.claim()] == ["hi"]
    assert await db.outbox.claim() == []  # leased
    by_address = {i.address: i for i in first}
    # An attempt counts when the row is marked sending (right before its request).
    assert await db.outbox.record([i.id for i in first], []) == {i.id for i in first}
    await db.outbox.mark_sent(by_address[GROUP_ES].id, remote_id="555")
    await db.outbox.mark_failed(
        by_address[GROUP_FR].id, "http_429", retry_at=clock.now() + timedelta(seconds=30)
    )
    assert await db.outbox.counts("appeal", "A-9TXW3B") == {"sent": 1, "pending": 1}
    clock.advance(seconds=31)
    [retry] = await db.outbox.claim()
    assert retry.address == GROUP_FR and retry.attempts == 2
    await db.outbox.mark_inactive(retry.id)
    clock.advance(minutes=10)  # the "hi" lease ran out
    [again] = await db.outbox.claim()
    await db.outbox.mark_failed(again.id, "http_400")
    assert await db.outbox.claim() == []
    assert await db.outbox.counts("appeal", "A-9TXW3B") == {"sent": 1, "inactive": 1}
    clock.advance(days=31)
    assert await db.outbox.purge_finished_before(clock.now() - timedelta(days=30)) == 3
    with pytest.raises(NotFound):
        await db.outbox.mark_sent(retry.id)


async def test_a_restart_releases_claims(db: Database) -> None:
    await db.outbox.enqueue("appeal", "A-9TXW3B", [(GROUP_ES, "es")])
    assert len(await db.outbox.claim()) == 1
    assert await db.outbox.claim() == []
    assert await db.outbox.release_claims() == 1
    assert len(await db.outbox.claim()) == 1


async def test_forget_drops_messages_still_waiting_for_the_defender(db: Database) -> None:
    ana = await db.accounts.get_or_create(BOB, None)
    await db.outbox.enqueue("relay", "C-7K4QM2", [(BOB, None)], body="a question")
    await db.tokens.issue(BOB, "forget:yes", timedelta(hours=1))
    await db.cases.forget_reporter(ana.id)
    assert await db.outbox.claim() == []
