"""Extract, update and check the gettext catalogs with Babel.

    python -m locales.catalogs update   # code → sosbot.pot → each .po (new ids empty)
    python -m locales.catalogs check    # exit 1 if stale, untranslated or mismatched

Message ids come from ``t``, ``tn``, ``N_``, ``render`` and ``render_plural``
calls in ``bot/`` and ``handlers/``.
"""

from __future__ import annotations

import re
import sys
from io import BytesIO
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

from storage.records import LANGUAGES

ROOT = Path(__file__).resolve().parent
PROJECT = ROOT.parent
DOMAIN = "sosbot"
TRANSLATED = tuple(lang for lang in LANGUAGES if lang != "en")
"""English is the message id itself; the others have a catalog each."""
KEYWORDS = {"t": None, "N_": None, "tn": (1, 2), "render": (2,), "render_plural": (2, 3)}
PLACEHOLDER = re.compile(r"\{(\w+)\}")


def extract() -> Catalog:
    catalog = Catalog(project="sosbot", domain=DOMAIN, fuzzy=False)
    for package in ("bot", "handlers"):
        for filename, lineno, message, comments, context in extract_from_dir(
            PROJECT / package, method_map=[("**.py", "python")], keywords=KEYWORDS
        ):
            catalog.add(
                message,
                None,
                [(f"{package}/{filename}", lineno)],
                auto_comments=comments,
                context=context,
            )
    return catalog


def _po_path(language: str) -> Path:
    return ROOT / language / "LC_MESSAGES" / f"{DOMAIN}.po"


def _dump(catalog: Catalog) -> bytes:
    buffer = BytesIO()
    write_po(buffer, catalog, width=100, omit_header=False, sort_output=True, ignore_obsolete=True)
    return buffer.getvalue()


def update() -> None:
    template = extract()
    (ROOT / f"{DOMAIN}.pot").write_bytes(_dump(template))
    for language in TRANSLATED:
        path = _po_path(language)
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            with path.open("rb") as handle:
                catalog = read_po(handle, locale=language)
        else:
            catalog = Catalog(locale=language, domain=DOMAIN, project="sosbot")
        catalog.update(template, no_fuzzy_matching=True)
        path.write_bytes(_dump(catalog))


def _ids(message_id: str | tuple[str, ...]) -> tuple[str, ...]:
    return message_id if isinstance(message_id, tuple) else (message_id,)


def problems() -> list[str]:
    """Everything wrong with the catalogs, one line each."""
    found: list[str] = []
    template = extract()
    expected = {m.id for m in template if m.id}
    pot = ROOT / f"{DOMAIN}.pot"
    with pot.open("rb") as handle:
        stored = {m.id for m in read_po(handle) if m.id}
    if stored != expected:
        found.append(f"{pot.name} is stale: run 'python -m locales.catalogs update'")
    for language in TRANSLATED:
        with _po_path(language).open("rb") as handle:
            catalog = read_po(handle, locale=language)
        ids = {m.id for m in catalog if m.id}
        for missing in expected - ids:
            found.append(f"{language}: missing {_ids(missing)[0]!r}")
        for message in catalog:
            if not message.id:
                continue
            if message.id not in expected:
                found.append(f"{language}: obsolete {_ids(message.id)[0]!r}")
                continue
            strings = [s for s in _ids(message.string) if s] if message.string else []
            if not strings or len(strings) < len(_ids(message.string)):
                found.append(f"{language}: untranslated {_ids(message.id)[0]!r}")
                continue
            if message.fuzzy:
                found.append(f"{language}: fuzzy {_ids(message.id)[0]!r}")
            wanted = set(PLACEHOLDER.findall(" ".join(_ids(message.id))))
            for string in strings:
                if set(PLACEHOLDER.findall(string)) - wanted or (
                    not isinstance(message.id, tuple) and set(PLACEHOLDER.findall(string)) != wanted
                ):
                    found.append(f"{language}: placeholders differ in {_ids(message.id)[0]!r}")
    return found


def main(argv: list[str]) -> int:
    if argv[1:] == ["update"]:
        update()
        return 0
    if argv[1:] == ["check"]:
        lines = problems()
        print("\n".join(lines) or "catalogs complete")
        return 1 if lines else 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
