"""The repository suite: the same tests on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest

from storage import Conflict, Database, NotFound
from tests.storage.conftest import Clock
from tests.storage.test_crypto import tampering_is_detected

ANA = "telegram:123456789"
ALICE = "matrix:@alice:example.org"
BOB = "telegram:42"
ROOM = "matrix:!triage:example.org"


async def new_case(db: Database, ref: str = "C-7K4QM2", reporter: int | None = None) -> str:
    await db.cases.create(
        ref,
        reporter,
        "immediate",
        "advisory_only",
        "telegram",
        what="Armed men came to the office",
        where="Cauca, Colombia",
        who="Ana and her son",
    )
    return ref


# ---------------------------------------------------------------- accounts


async def test_an_account_is_created_once_and_found_again(db: Database) -> None:
    first = await db.accounts.get_or_create(ANA, "es")
    again = await db.accounts.get_or_create(ANA, None)
    assert first.id == again.id
    assert first.language == "es" and not first.language_chosen
    assert await db.accounts.address_of(first.id) == ANA
    assert (await db.accounts.get_or_create("matrix:@ana:example.org", None)).id != first.id


async def test_an_explicit_language_wins_over_the_platform_hint(db: Database) -> None:
    account = await db.accounts.get_or_create(ANA, "es")
    chosen = await db.accounts.set_language(account.id, "ar")
    assert chosen.language == "ar" and chosen.language_chosen
    assert (await db.accounts.get_or_create(ANA, "fr")).language == "ar"


async def test_an_inactive_account_becomes_active_when_it_writes_again(db: Database) -> None:
    account = await db.accounts.get_or_create(ANA, None)
    assert await db.accounts.mark_inactive(ANA)
    assert not (await db.accounts.get(account.id)).active
    assert not await db.accounts.mark_inactive("telegram:999")
    assert (await db.accounts.get_or_create(ANA, None)).active


async def test_unknown_accounts_are_not_found(db: Database) -> None:
    with pytest.raises(NotFound):
        await db.accounts.address_of(12345)
    assert await db.accounts.find(ANA) is None


# ----------------------------------------------------------- conversations


async def test_a_conversation_round_trips_and_is_deleted(db: Database, clock: Clock) -> None:
    account = await db.accounts.get_or_create(ANA, None)
    assert await db.conversations.load(account.id) is None
    await db.conversations.save(account.id, "where", {"what": ["msg 1", "msg 2"], "n": 2})
    clock.advance(minutes=5)
    await db.conversations.save(account.id, "who", {"what": ["msg 1"], "where": "Cauca"})
    loaded = await db.conversations.load(account.id)
    assert loaded is not None
    assert (loaded.state, loaded.data) == ("who", {"what": ["msg 1"], "where": "Cauca"})
    assert loaded.updated_at == clock.now()
    assert await db.conversations.delete(account.id)
    assert await db.conversations.load(account.id) is None


async def test_abandoned_drafts_are_purged(db: Database, clock: Clock) -> None:
    old = await db.accounts.get_or_create(ANA, None)
    fresh = await db.accounts.get_or_create(BOB, None)
    await db.conversations.save(old.id, "what", {"text": "draft"})
    clock.advance(hours=20)
    await db.conversations.save(fresh.id, "what", {"text": "draft"})
    clock.advance(hours=5)
    assert await db.conversations.purge_older_than(clock.now() - timedelta(hours=24)) == 1
    assert await db.conversations.load(old.id) is None
    assert await db.conversations.load(fresh.id) is not None


# ------------------------------------------------------------------- cases


async def test_a_case_is_stored_encrypted_and_read_back(db: Database) -> None:
    account = await db.accounts.get_or_create(ANA, None)
    created = await db.cases.create(
        "C-7K4QM2",
        account.id,
        "immediate",
        "public_anonymised",
        "telegram",
        what="They threatened me",
        where="Cauca",
        who="Ana",
        contact="Signal after 6pm",
        attachments=[("photo.jpg", "image/jpeg", b"\xff\xd8 jpeg bytes")],
    )
    case = await db.cases.get("C-7K4QM2")
    assert case == created
    assert (case.what, case.where, case.who, case.contact) == (
        "They threatened me",
        "Cauca",
        "Ana",
        "Signal after 6pm",
    )
    assert (case.state, case.priority, case.verification) == ("new", "normal", "unverified")
    assert case.reporter_account_id == account.id
    [attachment] = case.attachments
    assert (attachment.filename, attachment.mime_type, attachment.size) == (
        "photo.jpg",
        "image/jpeg",
        13,
    )
    assert await db.cases.attachment_data(attachment.id) == b"\xff\xd8 jpeg bytes"


async def test_a_duplicate_reference_is_a_conflict(db: Database) -> None:
    await new_case(db)
    with pytest.raises(Conflict):
        await new_case(db)


async def test_bad_enumerated_values_are_refused(db: Database) -> None:
    with pytest.raises(ValueError):
        await db.cases.create("C-1", None, "soon", "advisory_only", "telegram", "x", None, None)
    await new_case(db)
    with pytest.raises(ValueError):
        await db.cases.set_priority("C-7K4QM2", ALICE, "urgent")


async def test_unknown_cases_are_not_found(db: Database) -> None:
    with pytest.raises(NotFound):
        await db.cases.get("C-000000")
    with pytest.raises(NotFound):
        await db.cases.acknowledge("C-000000", ALICE)


async def test_the_defender_adds_updates_only_to_their_own_cases(db: Database) -> None:
    ana = await db.accounts.get_or_create(ANA, None)
    other = await db.accounts.get_or_create(BOB, None)
    ref = await new_case(db, reporter=ana.id)
    event = await db.cases.add_update(
        ref, ana.id, "They came back", [("a.pdf", "application/pdf", b"%PDF")]
    )
    assert (event.kind, event.text, event.role) == ("update", "They came back", "defender")
    assert [a.filename for a in event.attachments] == ["a.pdf"]
    with pytest.raises(NotFound):
        await db.cases.add_update(ref, other.id, "not mine", [])
    assert [c.ref for c in await db.cases.cases_of(ana.id)] == [ref]
    assert await db.cases.cases_of(other.id) == []


async def test_triage_actions_are_recorded_in_order(db: Database, clock: Clock) -> None:
    ref = await new_case(db)
    clock.advance(minutes=3)
    acked = await db.cases.acknowledge(ref, ALICE)
    assert acked.acknowledged_at == clock.now() and acked.state == "triage"
    await db.cases.acknowledge(ref, ALICE)  # no second event
    await db.cases.claim(ref, ALICE)
    await db.cases.set_priority(ref, ALICE, "critical")
    await db.cases.set_verification(ref, ALICE, "confirmed")
    await db.cases.set_state(ref, ALICE, "action")
    await db.cases.add_note(ref, ALICE, "Spoke with the lawyer")
    await db.cases.ask(ref, ALICE, "Are you safe tonight?")
    await db.cases.refer(ref, ALICE, "legal", "Colectivo de Abogados")
    due = clock.now() + timedelta(days=14)
    await db.cases.followup(ref, ALICE, due)
    closed = await db.cases.close(ref, ALICE, "relocated")
    assert closed.state == "closed" and closed.closed_at == clock.now()

    history = await db.cases.history(ref)
    assert [e.kind for e in history] == [
        "created",
        "acknowledged",
        "assigned",
        "priority",
        "verification",
        "state",
        "note",
        "question",
        "referred",
        "followup",
        "closed",
    ]
    assert [e.seq for e in history] == list(range(1, 12))
    assert history[6].text == "Spoke with the lawyer"
    assert history[8].value == "legal" and history[8].text == "Colectivo de Abogados"
    assert all(e.actor == db.audit.pseudonym(ALICE) for e in history[1:])
    case = await db.cases.get(ref)
    assert (case.priority, case.verification, case.assignee) == ("critical", "confirmed", ALICE)
    assert (case.followup_at, case.close_reason) == (due, "relocated")
    assert (await db.audit.verify()).entries == 11


async def test_reopening_a_case_clears_its_closing_date(db: Database) -> None:
    ref = await new_case(db)
    await db.cases.set_state(ref, ALICE, "closed")
    assert (await db.cases.get(ref)).closed_at is not None
    reopened = await db.cases.set_state(ref, ALICE, "monitoring")
    assert reopened.closed_at is None and reopened.state == "monitoring"


async def test_case_lists_filter_open_mine_overdue_and_all(db: Database, clock: Clock) -> None:
    for ref in ("C-AAAAAA", "C-BBBBBB", "C-CCCCCC", "C-DDDDDD"):
        await new_case(db, ref)
        clock.advance(minutes=1)
    await db.cases.assign("C-BBBBBB", ALICE, BOB)
    await db.cases.claim("C-CCCCCC", ALICE)
    await db.cases.followup("C-CCCCCC", ALICE, clock.now() + timedelta(days=1))
    await db.cases.followup("C-AAAAAA", ALICE, clock.now() + timedelta(days=3))
    await db.cases.close("C-DDDDDD", ALICE, "duplicate")
    clock.advance(days=2)

    async def refs(which: str, actor: str | None = None) -> list[str]:
        return [c.ref for c in await db.cases.list_cases(which, actor)]

    assert await refs("open") == ["C-AAAAAA", "C-BBBBBB", "C-CCCCCC"]
    assert await refs("mine", ALICE) == ["C-CCCCCC"]
    assert await refs("mine", BOB) == ["C-BBBBBB"]
    assert await refs("overdue") == ["C-CCCCCC"]
    assert await refs("all") == ["C-AAAAAA", "C-BBBBBB", "C-CCCCCC", "C-DDDDDD"]


async def test_a_reply_to_a_case_card_finds_the_case(db: Database) -> None:
    ref = await new_case(db)
    await db.cases.record_card(ref, ROOM, "$event:example.org")
    await db.cases.record_card(ref, ROOM, "$event:example.org")  # idempotent
    assert await db.cases.case_for_card(ROOM, "$event:example.org") == ref
    assert await db.cases.case_for_card(ROOM, "$other:example.org") is None
    assert await db.cases.case_for_card("telegram:-100123", "$event:example.org") is None


async def test_forget_erases_the_defenders_data_and_keeps_the_skeleton(
    db: Database, clock: Clock
) -> None:
    ana = await db.accounts.get_or_create(ANA, "es")
    ref = await db.cases.create(
        "C-7K4QM2",
        ana.id,
        "days",
        "advisory_only",
        "matrix",
        "report text",
        "place",
        "names",
        contact="phone",
        attachments=[("x.png", "image/png", b"png")],
    )
    await db.cases.add_update(ref.ref, ana.id, "more", [("y.png", "image/png", b"png2")])
    await db.cases.assign(ref.ref, ALICE, BOB)
    await db.cases.add_note(ref.ref, ALICE, "note about Ana")
    await db.cases.record_card(ref.ref, ROOM, "$card")
    await db.conversations.save(ana.id, "what", {"draft": "a second report"})
    attachment_id = ref.attachments[0].id
    clock.advance(hours=1)

    assert await db.cases.forget_reporter(ana.id) == ["C-7K4QM2"]

    case = await db.cases.get("C-7K4QM2")
    assert (case.what, case.where, case.who, case.contact, case.attachments) == (
        None,
        None,
        None,
        None,
        (),
    )
    assert case.withdrawn_at == clock.now() and case.reporter_account_id is None
    assert (case.state, case.created_at, case.assignee) == ("triage", ref.created_at, BOB)
    history = await db.cases.history("C-7K4QM2")
    assert history[-1].kind == "withdrawn"
    assert all(e.text is None and e.attachments == () for e in history)
    with pytest.raises(NotFound):
        await db.cases.attachment_data(attachment_id)
    assert await db.conversations.load(ana.id) is None
    with pytest.raises(NotFound):
        await db.accounts.address_of(ana.id)
    assert await db.cases.cases_of(ana.id) == []
    assert await db.cases.case_for_card(ROOM, "$card") == "C-7K4QM2"
    # Advisors can still work on the withdrawn case; the account can come back.
    assert (await db.cases.add_note("C-7K4QM2", ALICE, "closed: withdrawn")).text
    assert (await db.accounts.get_or_create(ANA, None)).id == ana.id
    assert await db.accounts.address_of(ana.id) == ANA
    assert (await db.audit.verify()).ok


async def test_closed_cases_are_purged_after_retention(db: Database, clock: Clock) -> None:
    await new_case(db, "C-OLD001")
    await new_case(db, "C-OPEN01")
    await new_case(db, "C-NEW001")
    await db.cases.record_card("C-OLD001", ROOM, "$1")
    await db.deadlines.schedule("followup", "C-OLD001", clock.now())
    await db.cases.close("C-OLD001", ALICE, "done")
    clock.advance(days=100)
    await db.cases.close("C-NEW001", ALICE, "done")
    clock.advance(days=90)

    assert await db.cases.purge_closed_older_than(clock.now() - timedelta(days=180)) == 1
    with pytest.raises(NotFound):
        await db.cases.get("C-OLD001")
    assert await db.cases.case_for_card(ROOM, "$1") is None
    assert await db.deadlines.pending() == []
    assert {c.ref for c in await db.cases.list_cases("all")} == {"C-OPEN01", "C-NEW001"}
    assert await db.cases.purge_closed_older_than(clock.now() - timedelta(days=180)) == 0
    assert (await db.audit.verify()).ok


# -------------------------------------------------------------- deadlines


async def test_deadlines_upsert_come_due_and_complete(db: Database, clock: Clock) -> None:
    t0 = clock.now()
    first = await db.deadlines.schedule("ack", "C-7K4QM2", t0 + timedelta(minutes=15))
    moved = await db.deadlines.schedule("ack", "C-7K4QM2", t0 + timedelta(minutes=30), step=1)
    assert moved.id == first.id and moved.step == 1
    await db.deadlines.schedule("followup", "C-7K4QM2", t0 + timedelta(days=14))
    await db.deadlines.schedule("appeal_close", "A-9TXW3B", t0 + timedelta(minutes=5))
    due = await db.deadlines.due(t0 + timedelta(hours=1))
    assert [(d.kind, d.object_ref) for d in due] == [
        ("appeal_close", "A-9TXW3B"),
        ("ack", "C-7K4QM2"),
    ]
    assert len(await db.deadlines.pending()) == 3
    assert await db.deadlines.complete(due[0].id)
    assert not await db.deadlines.complete(due[0].id)
    assert await db.deadlines.cancel("ack", "C-7K4QM2")
    assert not await db.deadlines.cancel("ack", "C-7K4QM2")
    assert [d.kind for d in await db.deadlines.pending()] == ["followup"]
    assert await db.deadlines.get("followup", "C-7K4QM2") is not None


# ------------------------------------------------------------ button tokens


async def test_button_tokens_resolve_in_their_chat_until_they_expire(
    db: Database, clock: Clock
) -> None:
    token = await db.tokens.issue(ANA, "consent:public_anonymised", timedelta(hours=1))
    assert len(token.encode()) <= 64
    assert "consent" not in token
    assert await db.tokens.resolve(token, ANA) == "consent:public_anonymised"
    assert await db.tokens.resolve(token, BOB) is None
    assert await db.tokens.resolve("forged-token", ANA) is None
    assert await db.tokens.resolve("x" * 65, ANA) is None
    clock.advance(hours=2)
    assert await db.tokens.resolve(token, ANA) is None
    assert await db.tokens.purge_expired() == 1


async def test_an_unknown_reporter_is_not_mistaken_for_a_taken_reference(db: Database) -> None:
    with pytest.raises(Conflict) as caught:
        await new_case(db, reporter=424242)
    assert "reference" not in str(caught.value)
    await new_case(db)
    with pytest.raises(Conflict, match="reference already in use"):
        await new_case(db)


async def test_an_sos_case_is_completed_with_the_full_report(db: Database, clock: Clock) -> None:
    ana = await db.accounts.get_or_create(ANA, None)
    sos = await db.cases.create(
        "C-SOS001",
        ana.id,
        "immediate",
        "advisory_only",
        "telegram",
        "help, they are here",
        None,
        None,
        attachments=[("first.jpg", "image/jpeg", b"1")],
    )
    clock.advance(minutes=2)
    await db.cases.add_update(sos.ref, ana.id, "later", [("later.jpg", "image/jpeg", b"3")])
    done = await db.cases.complete_details(
        sos.ref,
        what="help, they are here\n\nthree men, armed",
        where="Tumaco",
        who="Ana",
        consent="trusted_partners",
        contact="after 6pm",
        attachments=[("first.jpg", "image/jpeg", b"1"), ("second.jpg", "image/jpeg", b"2")],
    )
    assert (done.what, done.where, done.who, done.contact, done.consent) == (
        "help, they are here\n\nthree men, armed",
        "Tumaco",
        "Ana",
        "after 6pm",
        "trusted_partners",
    )
    assert done.urgency == "immediate"
    assert sorted(a.filename for a in done.attachments) == ["first.jpg", "later.jpg", "second.jpg"]
    history = await db.cases.history(sos.ref)
    assert [e.kind for e in history] == ["created", "update", "details"]
    assert sorted(a.filename for a in history[0].attachments) == ["first.jpg", "second.jpg"]


async def test_the_cards_of_a_case_are_listed(db: Database) -> None:
    ref = await new_case(db)
    await db.cases.record_card(ref, ROOM, "$a")
    await db.cases.record_card(ref, "telegram:-100123", "77")
    assert sorted(await db.cases.cards_of(ref)) == [(ROOM, "$a"), ("telegram:-100123", "77")]
    assert await db.cases.list("open") == await db.cases.list_cases("open")


async def test_a_migrated_telegram_group_is_followed(db: Database) -> None:
    org = await db.members.upsert_organisation("Colectivo", region="Americas")
    await db.members.add_group("telegram:-4001", org.id, "es")
    await db.outbox.enqueue("appeal", "A-9TXW3B", [("telegram:-4001", "es")])
    token = await db.tokens.issue("telegram:-4001", "sign:A-9TXW3B", timedelta(hours=1))
    assert await db.members.migrate_chat("telegram:-4001", "telegram:-1004001")
    assert await db.members.group("telegram:-4001") is None
    group = await db.members.group("telegram:-1004001")
    assert group is not None and group.organisation_id == org.id
    [item] = await db.outbox.claim()
    assert item.address == "telegram:-1004001"
    assert await db.tokens.resolve(token, "telegram:-1004001") == "sign:A-9TXW3B"
    assert not await db.members.migrate_chat("telegram:-999", "telegram:-1000999")


async def test_an_unreachable_group_address_is_marked_inactive(db: Database) -> None:
    org = await db.members.upsert_organisation("Colectivo", region="Americas")
    await db.members.add_group("telegram:-4001", org.id, "es")
    assert await db.accounts.mark_inactive("telegram:-4001")
    group = await db.members.group("telegram:-4001")
    assert group is not None and not group.active


# -------------------------------------------------------------- bot secrets


async def test_bot_secrets_are_stored_sealed_per_name(db: Database, db_url: str) -> None:
    assert await db.bot_secrets.get("matrix.store_pickle_key") is None
    await db.bot_secrets.put("matrix.store_pickle_key", b"pickle-key-1")
    await db.bot_secrets.put("matrix.store_pickle_key", b"pickle-key-2")
    await db.bot_secrets.put("matrix.cross_signing_seeds", b"\x00seeds")
    assert await db.bot_secrets.get("matrix.store_pickle_key") == b"pickle-key-2"
    assert await db.bot_secrets.get("matrix.cross_signing_seeds") == b"\x00seeds"
    await tampering_is_detected(
        db_url,
        "UPDATE bot_secrets SET value_enc = (SELECT value_enc FROM bot_secrets "
        "WHERE name = 'matrix.store_pickle_key') WHERE name = 'matrix.cross_signing_seeds'",
        lambda: db.bot_secrets.get("matrix.cross_signing_seeds"),
    )
    assert await db.bot_secrets.delete("matrix.cross_signing_seeds")
    assert not await db.bot_secrets.delete("matrix.cross_signing_seeds")
