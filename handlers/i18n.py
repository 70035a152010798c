"""Translations at the edge.

Handlers write English message ids with named placeholders and render them
for the reader: ``t("Your case reference is {ref}.", ref=ref)``. The
catalogs are gettext ``.po`` files under ``locales/`` (one domain,
``sosbot``), read with Babel at first use, so no compiled ``.mo`` can go
stale. In Arabic every substituted value (user text, a reference, a
number) is wrapped in Unicode isolates so that left-to-right fragments do
not scramble the right-to-left sentence.
"""

from __future__ import annotations

import gettext
import re
from contextvars import ContextVar
from functools import cache
from importlib import resources
from io import BytesIO
from typing import Any

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from storage.records import LANGUAGES as LANGUAGES  # re-exported: defined once, in storage
from storage.records import Language

RTL_LANGUAGES = frozenset({Language.AR})
DOMAIN = "sosbot"
FSI, PDI = "\u2068", "\u2069"

current_language: ContextVar[str] = ContextVar("current_language", default=Language.EN)


def N_(message: str) -> str:
    """Mark a string for extraction without translating it yet."""
    return message


def supported(language: str | None) -> str | None:
    """The supported language for a platform hint such as ``es-MX`` or ``ar_EG``."""
    if not language:
        return None
    base = language.replace("_", "-").split("-")[0].lower()
    return base if base in LANGUAGES else None


@cache
def catalog(language: str) -> gettext.NullTranslations:
    if language == Language.EN:  # the message ids are English
        return gettext.NullTranslations()
    po_file = resources.files("locales") / language / "LC_MESSAGES" / f"{DOMAIN}.po"
    with po_file.open("rb") as handle:
        parsed = read_po(handle, locale=language)
    buffer = BytesIO()
    write_mo(buffer, parsed)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


def isolate(value: object) -> str:
    return f"{FSI}{value}{PDI}"


# Left-to-right tokens written inside right-to-left sentences: command words
# ("/status" would show as "status/") and the reference patterns "C-…", "A-…".
_LTR_TOKENS = re.compile(r"(?<![\w/])(?:[/!][A-Za-z][A-Za-z_]*|[CA]-…)")


def _format(language: str, template: str, params: dict[str, Any]) -> str:
    if language in RTL_LANGUAGES:
        template = _LTR_TOKENS.sub(lambda match: isolate(match.group(0)), template)
        params = {key: isolate(value) for key, value in params.items()}
    return template.format(**params)


def render(language: str, message: str, /, **params: Any) -> str:
    return _format(language, catalog(language).gettext(message), params)


def render_plural(language: str, singular: str, plural: str, n: int, /, **params: Any) -> str:
    return _format(language, catalog(language).ngettext(singular, plural, n), {"n": n, **params})


def t(message: str, /, **params: Any) -> str:
    """Render for the language of the update being handled."""
    return render(current_language.get(), message, **params)


def tn(singular: str, plural: str, n: int, **params: Any) -> str:
    return render_plural(current_language.get(), singular, plural, n, **params)
