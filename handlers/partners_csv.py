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

import re
from collections.abc import Sequence

from handlers.registry import (
    RegistryFileError,
    RowError,
    csv_text,
    language_errors,
    name_errors,
    read_csv,
    split_cell,
)
from handlers.vocab import REFERRAL_KINDS
from storage.records_casework import PartnerEntry

REQUIRED = ("name", "kinds", "regions", "languages")
OPTIONAL = ("contact", "notes")
_CHAT_CONTACT = {
    "telegram": re.compile(r"^-?[1-9][0-9]{0,15}$"),
    "matrix": re.compile(r"^[@!][^:\s]+:[^\s]+$"),
}


def _row(
    number: int, cells: dict[str, str], seen: dict[str, int], cell_errors: list[RowError]
) -> tuple[PartnerEntry | None, list[RowError]]:
    name = cells["name"]
    errors = [*cell_errors, *name_errors(number, name, seen)]
    kinds = tuple(k.lower() for k in split_cell(cells["kinds"]))
    if not kinds:
        errors.append(RowError(number, "kinds", "empty: name at least one kind"))
    for kind in kinds:
        if kind not in REFERRAL_KINDS:
            errors.append(
                RowError(number, "kinds", f"{kind!r} is not one of {', '.join(REFERRAL_KINDS)}")
            )
    languages = tuple(lang.lower() for lang in split_cell(cells["languages"]))
    errors += language_errors(number, languages)
    contact = cells.get("contact", "")
    platform, sep, ident = contact.partition(":")
    if sep and platform.lower() in _CHAT_CONTACT:
        if not _CHAT_CONTACT[platform.lower()].match(ident):
            errors.append(RowError(number, "contact", f"{contact!r} is not a {platform} chat"))
        contact = f"{platform.lower()}:{ident}"
    if errors:
        return None, errors
    entry = PartnerEntry(
        name, kinds, split_cell(cells["regions"]), languages, contact, cells.get("notes", "")
    )
    return entry, []


def parse_csv(text: str) -> list[PartnerEntry]:
    """Entries from CSV text, or ``RegistryFileError`` listing every problem
    (the same file checks as the member registry: ``registry.read_csv``)."""
    errors: list[RowError] = []
    entries: list[PartnerEntry] = []
    seen: dict[str, int] = {}
    for number, cells, cell_errors in read_csv(text, REQUIRED, OPTIONAL):
        if not cells:  # a stray comma: nothing to read in this row
            errors += cell_errors
            continue
        entry, problems = _row(number, cells, seen, cell_errors)
        errors += problems
        if entry is not None:
            entries.append(entry)
    if errors:
        raise RegistryFileError(errors)
    return entries


def to_csv(entries: Sequence[PartnerEntry]) -> str:
    return csv_text(
        [*REQUIRED, *OPTIONAL],
        (
            [
                e.name,
                ";".join(e.kinds),
                ";".join(e.regions),
                ";".join(e.languages),
                e.contact,
                e.notes,
            ]
            for e in entries
        ),
    )
