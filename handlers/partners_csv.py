"""The partner directory's CSV format, read and written (``sosbot partners``).

    name,kinds,regions,languages[,contact][,notes]

Cells with several values separate them with ``;``. Kinds are referral
kinds (legal, medical, psychosocial, relocation, emergency_funds,
digital_security, physical_security, advocacy, un_mechanisms, material,
other); languages are en, es, fr, ar. The contact is ``telegram:ID`` or
``matrix:@user:server`` / ``matrix:!room:server`` (the bot can send the
partner a referral summary there) or free text (a phone, an e-mail).

The same rules as the member registry (``handlers.registry``): every row is
checked before anything is written; one bad row imports nothing, and every
problem is reported with its row.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence

from handlers.registry import MAX_CELL, MAX_ROWS, RegistryFileError, RowError
from handlers.vocab import REFERRAL_KINDS
from storage.records import LANGUAGES
from storage.records_casework import PartnerEntry

REQUIRED = ("name", "kinds", "regions", "languages")
OPTIONAL = ("contact", "notes")
_CHAT_CONTACT = {
    "telegram": re.compile(r"^-?[1-9][0-9]{0,15}$"),
    "matrix": re.compile(r"^[@!][^:\s]+:[^\s]+$"),
}


def _cells(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(";") if part.strip())


def _row(
    number: int, cells: dict[str, str], seen: dict[str, int]
) -> tuple[PartnerEntry | None, list[RowError]]:
    errors = [
        RowError(number, k, f"longer than {MAX_CELL} characters")
        for k, v in cells.items()
        if len(v) > MAX_CELL
    ]
    name = cells["name"]
    if not name:
        errors.append(RowError(number, "name", "empty"))
    elif name.casefold() in seen:
        errors.append(RowError(number, "name", f"also on row {seen[name.casefold()]}"))
    else:
        seen[name.casefold()] = number
    kinds = tuple(k.lower() for k in _cells(cells["kinds"]))
    if not kinds:
        errors.append(RowError(number, "kinds", "empty: name at least one kind"))
    for kind in kinds:
        if kind not in REFERRAL_KINDS:
            errors.append(
                RowError(number, "kinds", f"{kind!r} is not one of {', '.join(REFERRAL_KINDS)}")
            )
    languages = tuple(lang.lower() for lang in _cells(cells["languages"]))
    for lang in languages:
        if lang not in LANGUAGES:
            errors.append(RowError(number, "languages", f"{lang!r} is not one of en, es, fr, ar"))
    contact = cells.get("contact", "")
    platform, sep, ident = contact.partition(":")
    if sep and platform.lower() in _CHAT_CONTACT:
        if not _CHAT_CONTACT[platform.lower()].match(ident):
            errors.append(RowError(number, "contact", f"{contact!r} is not a {platform} chat"))
        contact = f"{platform.lower()}:{ident}"
    if errors:
        return None, errors
    entry = PartnerEntry(
        name, kinds, _cells(cells["regions"]), languages, contact, cells.get("notes", "")
    )
    return entry, []


def parse_csv(text: str) -> list[PartnerEntry]:
    """Entries from CSV text, or ``RegistryFileError`` listing every problem."""
    if text.startswith("\ufeff"):
        text = text[1:]  # a byte-order mark from spreadsheet programs
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in reader.fieldnames or []]
    errors = [RowError(0, c, "missing column") for c in REQUIRED if c not in header]
    errors += [RowError(0, c, "unknown column") for c in header if c not in REQUIRED + OPTIONAL]
    if errors:
        raise RegistryFileError(errors)
    entries: list[PartnerEntry] = []
    seen: dict[str, int] = {}
    for number, raw in enumerate(reader, start=1):
        if number > MAX_ROWS:
            raise RegistryFileError([RowError(number, "-", f"more than {MAX_ROWS} rows")])
        if None in raw:
            errors.append(RowError(number, "-", "more cells than columns (a stray comma?)"))
            continue
        entry, problems = _row(number, {k.strip(): (v or "").strip() for k, v in raw.items()}, seen)
        errors += problems
        if entry is not None:
            entries.append(entry)
    if errors:
        raise RegistryFileError(errors)
    return entries


def to_csv(entries: Sequence[PartnerEntry]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([*REQUIRED, *OPTIONAL])
    for e in entries:
        writer.writerow(
            [
                e.name,
                ";".join(e.kinds),
                ";".join(e.regions),
                ";".join(e.languages),
                e.contact,
                e.notes,
            ]
        )
    return buffer.getvalue()
