"""The member CSV: every row checked; one bad row imports nothing."""

from __future__ import annotations

import pytest

from handlers.registry import RegistryFileError, parse_csv, to_csv

HEADER = "name,country,region,languages,working_groups,contacts,groups,kind\n"
GOOD = (
    HEADER
    + "Colectivo Tierra,Colombia,Americas,es;en,land;women,telegram:123456;matrix:@ana:example.org,telegram:-1001234567890,organisation\n"
    + '"Réseau des défenseurs, Goma",DRC,Africa,fr,,,matrix:!room:example.org,\n'
    + "Salma Haddad,Tunisia,MENA,ar;fr,media,telegram:42,,individual\n"
)


def test_a_good_file() -> None:
    entries = parse_csv(GOOD)
    assert [e.name for e in entries] == [
        "Colectivo Tierra",
        "Réseau des défenseurs, Goma",
        "Salma Haddad",
    ]
    first = entries[0]
    assert first.languages == ("es", "en") and first.working_groups == ("land", "women")
    assert first.contacts == ("telegram:123456", "matrix:@ana:example.org")
    assert first.groups == ("telegram:-1001234567890",)
    assert entries[1].kind == "organisation" and entries[2].kind == "individual"


V12_ROOM = "!" + "Qx9-_" * 8 + "abc"  # room version 12: "!" and 43 characters


def test_room_ids_of_room_version_12_are_groups() -> None:
    text = HEADER + f"Red Sur,Chile,Americas,es,,,matrix:{V12_ROOM};matrix:!old:example.org,\n"
    [entry] = parse_csv(text)
    assert entry.groups == (f"matrix:{V12_ROOM}", "matrix:!old:example.org")


def test_round_trip() -> None:
    assert parse_csv(to_csv(parse_csv(GOOD))) == parse_csv(GOOD)


def test_the_kind_column_is_optional_and_a_bom_is_ignored() -> None:
    text = "\ufeffname,country,region,languages,working_groups,contacts,groups\nA,X,Y,en,,,\n"
    assert parse_csv(text)[0].kind == "organisation"


@pytest.mark.parametrize(
    ("line", "column", "words"),
    [
        ("B,X,Y,de,,,,", "languages", "'de' is not one of"),
        (",X,Y,en,,,,", "name", "empty"),
        ("B,X,Y,en,,telegram:-100123,,", "contacts", "not a telegram account"),
        ("B,X,Y,en,,,telegram:123,", "groups", "not a telegram group"),
        ("B,X,Y,en,,signal:+123,,", "contacts", "not platform:id"),
        ("B,X,Y,en,,matrix:ana,,", "contacts", "not a matrix account"),
        ("B,X,Y,en,,,matrix:!tooshort,", "groups", "not a matrix group"),
        ("B,X,Y,en,,,matrix:@ana:example.org,", "groups", "not a matrix group"),
        ("B,X,Y,en,,,,company", "kind", "not organisation or individual"),
        ("colectivo tierra,X,Y,en,,,,", "name", "also on row 1"),
        ("B,X,Y,en,,,,,extra", "-", "more cells than columns"),
    ],
)
def test_one_bad_row_is_named_and_nothing_is_returned(line: str, column: str, words: str) -> None:
    text = HEADER + "Colectivo Tierra,Colombia,Americas,es,,,,\n" + line + "\n"
    with pytest.raises(RegistryFileError) as caught:
        parse_csv(text)
    [error] = caught.value.errors
    assert (error.row, error.column) == (2, column)
    assert words in error.problem
    assert str(error).startswith("row 2 (line 3), ")


def test_every_bad_row_is_reported() -> None:
    text = HEADER + "A,X,Y,xx,,,,\nB,X,Y,en,,,,\nC,X,Y,yy,,,,\n"
    with pytest.raises(RegistryFileError) as caught:
        parse_csv(text)
    assert [e.row for e in caught.value.errors] == [1, 3]


def test_header_problems() -> None:
    with pytest.raises(RegistryFileError) as caught:
        parse_csv("name,country,region,languages,contacts,groups,email\n")
    problems = {(e.column, e.problem) for e in caught.value.errors}
    assert problems == {("working_groups", "missing column"), ("email", "unknown column")}
