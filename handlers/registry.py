"""The member registry's CSV format (docs/spec.md §6), read and written.

    name,country,region,languages,working_groups,contacts,groups[,kind]

Cells with several values separate them with ``;``. Contacts and groups are
``platform:id``: ``telegram:123456789`` (a person), ``telegram:-1001234567890``
(a group), ``matrix:@ana:example.org`` (a person), ``matrix:!room:example.org``
or, room version 12, ``matrix:!`` and 43 characters with no server part (a
room; handlers/ids.py). Languages are ``en``, ``es``, ``fr``, ``ar``. ``kind`` is
``organisation`` (the default) or ``individual``.

Every row is checked before anything is written: a file with one bad row
imports nothing, and every problem is reported with its row.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from handlers.ids import is_group, is_person
from storage import LANGUAGES, MemberEntry, MemberKind

REQUIRED = ("name", "country", "region", "languages", "working_groups", "contacts", "groups")
OPTIONAL = ("kind",)
KINDS: tuple[str, ...] = tuple(MemberKind)
MAX_CELL = 500
MAX_ROWS = 20_000

_PLATFORMS = ("telegram", "matrix")


@dataclass(frozen=True)
class RowError:
    row: int  # 1 = the first row after the header
    column: str
    problem: str

    def __str__(self) -> str:
        where = f"row {self.row} (line {self.row + 1})" if self.row else "header"
        return f"{where}, {self.column}: {self.problem}"


class RegistryFileError(ValueError):
    def __init__(self, errors: Sequence[RowError]) -> None:
        super().__init__("; ".join(str(e) for e in errors[:5]))
        self.errors = list(errors)


def _cells(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(";") if part.strip())


def _addresses(
    row: int, column: str, value: str, valid: Callable[[str, str], bool], what: str
) -> tuple[tuple[str, ...], list[RowError]]:
    found, errors = [], []
    for item in _cells(value):
        platform, sep, ident = item.partition(":")
        if not sep or platform.lower() not in _PLATFORMS:
            errors.append(
                RowError(row, column, f"{item!r} is not platform:id (telegram: or matrix:)")
            )
        elif not valid(platform.lower(), ident):
            errors.append(RowError(row, column, f"{item!r} is not a {platform.lower()} {what}"))
        else:
            found.append(f"{platform.lower()}:{ident}")
    return tuple(found), errors


def parse_csv(text: str) -> list[MemberEntry]:
    """Entries from CSV text, or ``RegistryFileError`` listing every problem."""
    if text.startswith("\ufeff"):
        text = text[1:]  # a byte-order mark from spreadsheet programs
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in reader.fieldnames or []]
    errors = [RowError(0, c, "missing column") for c in REQUIRED if c not in header]
    errors += [RowError(0, c, "unknown column") for c in header if c not in REQUIRED + OPTIONAL]
    if errors:
        raise RegistryFileError(errors)
    entries: list[MemberEntry] = []
    seen: dict[str, int] = {}
    for number, raw in enumerate(reader, start=1):
        if number > MAX_ROWS:
            raise RegistryFileError([RowError(number, "-", f"more than {MAX_ROWS} rows")])
        if None in raw:
            errors.append(RowError(number, "-", "more cells than columns (a stray comma?)"))
            continue
        cells = {k.strip(): (v or "").strip() for k, v in raw.items()}
        row_errors = [
            RowError(number, k, f"longer than {MAX_CELL} characters")
            for k, v in cells.items()
            if len(v) > MAX_CELL
        ]
        name = cells["name"]
        if not name:
            row_errors.append(RowError(number, "name", "empty"))
        elif name.casefold() in seen:
            row_errors.append(RowError(number, "name", f"also on row {seen[name.casefold()]}"))
        else:
            seen[name.casefold()] = number
        kind = cells.get("kind", "").lower() or MemberKind.ORGANISATION
        if kind not in KINDS:
            row_errors.append(
                RowError(number, "kind", f"{kind!r} is not organisation or individual")
            )
        languages = tuple(lang.lower() for lang in _cells(cells["languages"]))
        for lang in languages:
            if lang not in LANGUAGES:
                row_errors.append(
                    RowError(number, "languages", f"{lang!r} is not one of en, es, fr, ar")
                )
        contacts, problems = _addresses(number, "contacts", cells["contacts"], is_person, "account")
        row_errors += problems
        groups, problems = _addresses(number, "groups", cells["groups"], is_group, "group or room")
        row_errors += problems
        errors += row_errors
        if not row_errors:
            entries.append(
                MemberEntry(
                    name,
                    kind,
                    cells["country"],
                    cells["region"],
                    languages,
                    _cells(cells["working_groups"]),
                    contacts,
                    groups,
                )
            )
    if errors:
        raise RegistryFileError(errors)
    return entries


def to_csv(entries: Sequence[MemberEntry]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([*REQUIRED, "kind"])
    for e in entries:
        writer.writerow(
            [
                e.name,
                e.country,
                e.region,
                ";".join(e.languages),
                ";".join(e.working_groups),
                ";".join(e.contacts),
                ";".join(e.groups),
                e.kind,
            ]
        )
    return buffer.getvalue()
