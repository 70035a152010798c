"""Envelope encryption: tampering, moved ciphertexts and wrong keys all fail loudly."""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable

import pytest
from sqlalchemy import text

from storage import Database, DecryptionError, WrongMasterKey
from storage.crypto import (
    IndexKeys,
    Keyring,
    associated_data,
    master_key_id,
    seal,
    unseal,
)
from tests.storage.conftest import Clock, raw, tamper

ANA = "telegram:5550173942"
ALICE = "matrix:@alice:example.org"


# ------------------------------------------------------------- primitives


def test_seal_round_trips_and_binds_its_context() -> None:
    key = os.urandom(32)
    aad = associated_data("cases", "what", 42)
    blob = seal(key, b"report", aad)
    assert unseal(key, blob, aad) == b"report"
    assert seal(key, b"report", aad) != blob  # random nonce
    for other in (
        associated_data("cases", "what", 43),
        associated_data("cases", "where", 42),
        associated_data("case_events", "what", 42),
    ):
        with pytest.raises(DecryptionError):
            unseal(key, blob, other)
    with pytest.raises(DecryptionError):
        unseal(os.urandom(32), blob, aad)


@pytest.mark.parametrize("position", [0, 1, 12, 13, -1])
def test_any_flipped_byte_is_detected(position: int) -> None:
    key, aad = os.urandom(32), associated_data("t", "f", 1)
    blob = bytearray(seal(key, b"some secret text", aad))
    blob[position] ^= 0x01
    with pytest.raises(DecryptionError):
        unseal(key, bytes(blob), aad)
    with pytest.raises(DecryptionError):
        unseal(key, bytes(blob[:10]), aad)


def test_wrapped_keys_are_bound_to_their_row_and_master_key() -> None:
    old, new = os.urandom(32), os.urandom(32)
    ring = Keyring([old, new])
    data_key = os.urandom(32)
    wrapped = ring.wrap(master_key_id(old), data_key, 7)
    assert ring.unwrap(master_key_id(old), wrapped, 7) == data_key
    with pytest.raises(DecryptionError):
        ring.unwrap(master_key_id(old), wrapped, 8)
    with pytest.raises(DecryptionError):
        ring.unwrap(master_key_id(new), wrapped, 7)
    assert len(master_key_id(old)) == 16 and master_key_id(old) != master_key_id(new)


def test_keyed_hashes_depend_on_the_secret_and_the_purpose() -> None:
    one, two = IndexKeys(os.urandom(32)), IndexKeys(os.urandom(32))
    assert one.address_hash(ANA) == one.address_hash(ANA) != two.address_hash(ANA)
    assert one.pseudonym(ANA) not in one.address_hash(ANA)
    assert ANA.split(":")[1] not in one.address_hash(ANA)


# ------------------------------------------------------- in the database


async def make_case(db: Database) -> None:
    account = await db.accounts.get_or_create(ANA, None)
    await db.cases.create(
        "C-7K4QM2",
        account.id,
        "immediate",
        "advisory_only",
        "telegram",
        what="what happened",
        where="where it happened",
        who="who is at risk",
    )
    await db.cases.add_note("C-7K4QM2", ALICE, "first note")
    await db.cases.add_note("C-7K4QM2", ALICE, "second note")


async def test_a_flipped_byte_in_a_stored_field_fails_to_decrypt(db: Database, db_url: str) -> None:
    await make_case(db)
    async with raw(db_url) as conn:
        blob = bytearray((await conn.execute(text("SELECT what_enc FROM cases"))).scalar_one())
        blob[20] ^= 0x80
        await conn.execute(text("UPDATE cases SET what_enc = :b"), {"b": bytes(blob)})
    with pytest.raises(DecryptionError):
        await db.cases.get("C-7K4QM2")


async def tampering_is_detected(
    db_url: str, sql: str, read: Callable[[], Awaitable[object]]
) -> None:
    """Edit the database behind storage's back with ``sql``: ``read`` must then refuse."""
    await tamper(db_url, sql)
    with pytest.raises(DecryptionError):
        await read()


async def test_a_ciphertext_moved_to_another_field_fails(db: Database, db_url: str) -> None:
    await make_case(db)
    await tampering_is_detected(
        db_url, "UPDATE cases SET who_enc = what_enc", lambda: db.cases.get("C-7K4QM2")
    )


async def test_a_ciphertext_moved_to_another_row_under_the_same_key_fails(
    db: Database, db_url: str
) -> None:
    await make_case(db)  # the case and its events share one data key
    await tampering_is_detected(
        db_url,
        "UPDATE case_events SET text_enc = "
        "(SELECT text_enc FROM case_events WHERE seq = 2) WHERE seq = 3",
        lambda: db.cases.history("C-7K4QM2"),
    )


async def test_a_ciphertext_moved_to_another_case_fails(db: Database, db_url: str) -> None:
    await make_case(db)
    await db.cases.create("C-OTHER1", None, "days", "advisory_only", "matrix", "x", "y", "z")
    await tampering_is_detected(
        db_url,
        "UPDATE cases SET what_enc = (SELECT what_enc FROM cases WHERE ref = 'C-7K4QM2') "
        "WHERE ref = 'C-OTHER1'",
        lambda: db.cases.get("C-OTHER1"),
    )
    # and pointing a case at another case's data key does not help either
    await tampering_is_detected(
        db_url,
        "UPDATE cases SET data_key_id = "
        "(SELECT data_key_id FROM cases WHERE ref = 'C-OTHER1') WHERE ref = 'C-7K4QM2'",
        lambda: db.cases.get("C-7K4QM2"),
    )


async def test_a_swapped_account_address_fails(db: Database, db_url: str) -> None:
    ana = await db.accounts.get_or_create(ANA, None)
    bob = await db.accounts.get_or_create("telegram:42", None)
    async with raw(db_url) as conn:
        blob = (
            await conn.execute(
                text("SELECT address_enc FROM accounts WHERE id = :i"), {"i": ana.id}
            )
        ).scalar_one()
        await conn.execute(
            text("UPDATE accounts SET address_enc = :b WHERE id = :i"), {"b": blob, "i": bob.id}
        )
    with pytest.raises(DecryptionError):
        await db.accounts.address_of(bob.id)


async def test_a_tampered_wrapped_key_fails(
    db: Database, db_url: str, master_key: bytes, clock: Clock
) -> None:
    await make_case(db)
    async with raw(db_url) as conn:
        wrapped = bytearray(
            (
                await conn.execute(
                    text(
                        "SELECT wrapped FROM data_keys WHERE id = "
                        "(SELECT data_key_id FROM cases WHERE ref = 'C-7K4QM2')"
                    )
                )
            ).scalar_one()
        )
        wrapped[-1] ^= 0x01
        await conn.execute(
            text(
                "UPDATE data_keys SET wrapped = :w WHERE id = "
                "(SELECT data_key_id FROM cases WHERE ref = 'C-7K4QM2')"
            ),
            {"w": bytes(wrapped)},
        )
    fresh = await Database.open(db_url, master_key, clock.now)  # no cached keys
    try:
        with pytest.raises(DecryptionError):
            await fresh.cases.get("C-7K4QM2")
    finally:
        await fresh.close()


async def test_the_wrong_master_key_is_refused_at_open(
    db: Database, db_url: str, master_key: bytes, clock: Clock
) -> None:
    await make_case(db)
    wrong = os.urandom(32)
    with pytest.raises(WrongMasterKey, match="does not open this database") as caught:
        await Database.open(db_url, wrong, clock.now)
    assert master_key_id(master_key) in str(caught.value)
    assert master_key.hex() not in str(caught.value)


async def test_conversation_data_is_bound_to_its_account(db: Database, db_url: str) -> None:
    ana = await db.accounts.get_or_create(ANA, None)
    bob = await db.accounts.get_or_create("telegram:1", None)
    await db.conversations.save(ana.id, "what", {"text": "draft"})
    async with raw(db_url) as conn:
        await conn.execute(text("UPDATE conversations SET account_id = :i"), {"i": bob.id})
    with pytest.raises(DecryptionError):
        await db.conversations.load(bob.id)
