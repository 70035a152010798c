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
from collections.abc import Callable, Iterable, Sequence
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


def split_cell(value: str) -> tuple[str, ...]:
    """The ';'-separated values of one cell, blanks dropped."""
    return tuple(part.strip() for part in value.split(";") if part.strip())


def name_errors(number: int, name: str, seen: dict[str, int]) -> list[RowError]:
    """A row's name must be there and on no earlier row (any case); ``seen`` remembers it."""
    if not name:
        return [RowError(number, "name", "empty")]
    if name.casefold() in seen:
        return [RowError(number, "name", f"also on row {seen[name.casefold()]}")]
    seen[name.casefold()] = number
    return []


def language_errors(number: int, languages: Sequence[str]) -> list[RowError]:
    """One error for each language the bot does not speak."""
    return [
        RowError(number, "languages", f"{lang!r} is not one of en, es, fr, ar")
        for lang in languages
        if lang not in LANGUAGES
    ]


def _addresses(
    row: int, column: str, value: str, valid: Callable[[str, str], bool], what: str
) -> tuple[tuple[str, ...], list[RowError]]:
    found, errors = [], []
    for item in split_cell(value):
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


CsvRow = tuple[int, dict[str, str], list[RowError]]
"""A row's number, its cells (stripped, formula guard removed) and its cell errors."""


def read_csv(text: str, required: Sequence[str], optional: Sequence[str]) -> list[CsvRow]:
    """The rows of a CSV file an operator edits (members, partners), with the
    checks every such file needs: a byte-order mark, ';' as separator, the
    columns, the row limit, stray commas, over-long cells, a cell beyond the
    csv module's limit. ``RegistryFileError`` for what stops reading at once;
    a stray comma is reported by row like a bad value."""
    if text.startswith("\ufeff"):
        text = text[1:]  # a byte-order mark from spreadsheet programs
    first = text.split("\n", 1)[0]
    if ";" in first and "," not in first:
        # Spreadsheets in many locales save with ';'; our lists use ';' inside cells.
        raise RegistryFileError(
            [RowError(0, "-", "this file uses ';' between cells; export it with ',' instead")]
        )
    reader = csv.DictReader(io.StringIO(text))
    try:
        return _read_rows(reader, required, optional)
    except csv.Error as exc:  # e.g. a cell over the csv module's 131,072 characters
        row = reader.line_num  # lines read before the one that failed: its row number
        raise RegistryFileError([RowError(row, "-", f"not readable as CSV ({exc})")]) from None


def _read_rows(
    reader: csv.DictReader[str], required: Sequence[str], optional: Sequence[str]
) -> list[CsvRow]:
    header = [h.strip() for h in reader.fieldnames or []]
    errors = [RowError(0, c, "missing column") for c in required if c not in header]
    errors += [RowError(0, c, "unknown column") for c in header if c not in (*required, *optional)]
    if errors:
        raise RegistryFileError(errors)
    rows: list[CsvRow] = []
    for number, raw in enumerate(reader, start=1):
        if number > MAX_ROWS:
            raise RegistryFileError([RowError(number, "-", f"more than {MAX_ROWS} rows")])
        if None in raw:
            stray = RowError(number, "-", "more cells than columns (a stray comma?)")
            rows.append((number, {}, [stray]))
            continue
        cells = {k.strip(): _cell_in((v or "").strip()) for k, v in raw.items()}
        too_long = [
            RowError(number, k, f"longer than {MAX_CELL} characters")
            for k, v in cells.items()
            if len(v) > MAX_CELL
        ]
        rows.append((number, cells, too_long))
    return rows


def parse_csv(text: str) -> list[MemberEntry]:
    """Entries from CSV text, or ``RegistryFileError`` listing every problem."""
    return _parse_rows(read_csv(text, REQUIRED, OPTIONAL))


# A cell that a spreadsheet would run as a formula; exported with a leading
# apostrophe (the spreadsheet convention for "text"), removed again on import.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: str) -> str:
    """A CSV cell a spreadsheet will show as text, never run as a formula."""
    return "'" + value if value.startswith(FORMULA_START) else value


def _cell_in(value: str) -> str:
    return value[1:] if value.startswith("'") and value[1:].startswith(FORMULA_START) else value


def _parse_rows(rows: list[CsvRow]) -> list[MemberEntry]:
    errors: list[RowError] = []
    entries: list[MemberEntry] = []
    seen: dict[str, int] = {}
    for number, cells, cell_errors in rows:
        if not cells:  # a stray comma: nothing to read in this row
            errors += cell_errors
            continue
        name = cells["name"]
        row_errors = [*cell_errors, *name_errors(number, name, seen)]
        kind = cells.get("kind", "").lower() or MemberKind.ORGANISATION
        if kind not in KINDS:
            row_errors.append(
                RowError(number, "kind", f"{kind!r} is not organisation or individual")
            )
        languages = tuple(lang.lower() for lang in split_cell(cells["languages"]))
        row_errors += language_errors(number, languages)
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
                    split_cell(cells["working_groups"]),
                    contacts,
                    groups,
                )
            )
    if errors:
        raise RegistryFileError(errors)
    return entries


def csv_text(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A CSV file operators edit: the header, then the rows with every cell made safe
    for spreadsheets (``safe_cell``)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([safe_cell(cell) for cell in row])
    return buffer.getvalue()


def to_csv(entries: Sequence[MemberEntry]) -> str:
    return csv_text(
        [*REQUIRED, "kind"],
        (
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
            for e in entries
        ),
    )
