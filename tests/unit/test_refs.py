from __future__ import annotations

import re

import pytest

from handlers.refs import ALPHABET, RefKind, new_ref, parse_ref, unique_ref


def test_format_and_alphabet() -> None:
    assert ALPHABET == "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
    for kind, letter in ((RefKind.CASE, "C"), (RefKind.APPEAL, "A")):
        for _ in range(1000):
            assert re.fullmatch(rf"{letter}-[0-9A-HJKMNP-TV-Z]{{6}}", new_ref(kind))


def test_no_collisions_in_100000_issued() -> None:
    issued: set[str] = set()
    for _ in range(100_000):
        issued.add(unique_ref(RefKind.CASE, issued.__contains__))
    assert len(issued) == 100_000


def test_raw_draws_collide_no_more_than_chance() -> None:
    # 100,000 draws from 32**6 values: about 4.7 collisions expected by the
    # birthday bound; a weak generator (say five random characters and one
    # fixed) would give about 150.
    draws = [new_ref(RefKind.CASE) for _ in range(100_000)]
    assert 100_000 - len(set(draws)) < 25


def test_unique_ref_gives_up_when_everything_is_taken() -> None:
    with pytest.raises(RuntimeError, match="nearly full"):
        unique_ref(RefKind.CASE, lambda ref: True)


def test_every_character_is_used() -> None:
    seen = set("".join(new_ref(RefKind.CASE)[2:] for _ in range(2000)))
    assert seen == set(ALPHABET)


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("C-7K4QM2", "C-7K4QM2"),
        ("c-7k4qm2", "C-7K4QM2"),
        ("c7k4qm2", "C-7K4QM2"),
        ("  C7K4QM2 ", "C-7K4QM2"),
        ("C-7K4QMI", "C-7K4QM1"),  # Crockford: I and L read as 1, O as 0
        ("C-7K4QML", "C-7K4QM1"),
        ("C-7K4QMO", "C-7K4QM0"),
        ("A-9txw3b", "A-9TXW3B"),
    ],
)
def test_parse_accepts_any_case_with_or_without_dash(typed: str, expected: str) -> None:
    assert parse_ref(typed) == expected


@pytest.mark.parametrize(
    "typed", ["", "C-", "C-7K4QM", "C-7K4QM22", "X-7K4QM2", "C-7K4QMU", "C--7K4QM2"]
)
def test_parse_rejects(typed: str) -> None:
    assert parse_ref(typed) is None


def test_parse_checks_the_kind() -> None:
    assert parse_ref("A-9TXW3B", RefKind.CASE) is None
    assert parse_ref("C-9TXW3B", RefKind.CASE) == "C-9TXW3B"
