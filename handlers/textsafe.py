"""Text from people, made safe to read and to show.

Three small jobs, kept here so every handler applies them the same way:

- ``ascii_digits``: decimal digits of any script ("٣", "３") become ASCII;
  characters that only look like digits ("²", "①", "Ⅻ") stay as they are
  (``str.isdigit`` accepts them but ``int`` does not: a crash).
- ``inline`` and ``quoted``: a person-supplied field rendered so that it
  cannot pass for a line the bot wrote (a newline in a defender's answer
  must not add "Consent: public appeal with names" to a case card), with
  bidi overrides and control characters removed.
- ``fold``, ``names_in`` and ``mentions``: the anonymity check compares
  names after NFKC, case folding and accent folding, so "Perez" matches
  "Pérez" and "ana" matches "Ana"; a report written all in lowercase has
  its names seen too.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping

# Bidi embeddings, overrides and isolates: they reorder what follows them,
# so a field could make the rest of a line read differently. Our own
# isolates (FSI…PDI) are added by i18n after this runs.
_BIDI = dict.fromkeys(map(ord, "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"))
QUOTE = "│ "  # the prefix of every line of a quoted field


def ascii_digits(text: str) -> str:
    """Decimal digits of every script as ASCII; everything else unchanged."""
    return "".join(str(unicodedata.decimal(ch)) if ch.isdecimal() else ch for ch in text)


def _printable(ch: str) -> bool:
    # Cc: control characters (newline included); Cs: lone surrogates;
    # Zl/Zp: line and paragraph separators, which some clients break on.
    return unicodedata.category(ch) not in ("Cc", "Cs", "Zl", "Zp")


def inline(text: str) -> str:
    """One line: controls, line breaks and bidi overrides gone (a break becomes a space)."""
    text = text.translate(_BIDI)
    out = [ch if _printable(ch) else (" " if ch in "\n\r\t\u2028\u2029\x85" else "") for ch in text]
    return "".join(out).strip()


def quoted(text: str) -> str:
    """Several lines, each prefixed with ``QUOTE``, so none can look like the bot's."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return "\n".join(QUOTE + inline(line) for line in lines)


def fold(text: str) -> str:
    """NFKC, case folding and accents removed: the form names are compared in."""
    decomposed = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", text).casefold())
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return unicodedata.normalize("NFKC", stripped)


_WORD = re.compile(r"[^\W\d_]+")
# Words of a "who is at risk" answer that are not names even in lowercase.
# A word missing here counts as a name: a false alarm costs an advisor a
# rephrasing, a miss publishes a name.
COMMON_WORDS = frozenset(
    """
    a an and or of the to in on at for with by from his her their our my your its who
    he she they we i me him them us it this that these those all some other others
    family son daughter brother sister mother father wife husband child children
    people person members member community communities organisation organization
    collective group association union leader leaders defender defenders journalist
    journalists lawyer lawyers activist activists workers women men staff colleagues
    y o de del la las el los un una unos unas su sus mi mis con en por para al que
    familia hijo hija hermano hermana madre padre esposa esposo comunidad colectivo
    organizacion asociacion grupo lider lideres defensor defensora defensores
    periodista abogada abogado miembros mujeres hombres companeros
    et ou de du des le la les un une son sa ses mon ma mes avec en pour au aux qui
    famille fils fille frere soeur mere pere epouse mari enfants communaute collectif
    association groupe dirigeant dirigeants defenseur defenseurs avocat avocate membres
    femmes hommes collegues
    و في من على مع عن إلى الى هو هي هم عائلة العائلة أسرة الأسرة الجمعية جمعية مجموعة
    """.split()
)


def names_in(text: str) -> dict[str, str]:
    """The words of ``text`` that could name someone: folded form -> as written.

    A word counts when it is capitalised, or written in a script without
    capitals (Arabic), or when the whole answer is in lowercase (then every
    word counts: "juan perez" names as much as "Juan Pérez"); common words
    (``COMMON_WORDS``) never count. Errs on the side of refusing.
    """
    words = _WORD.findall(unicodedata.normalize("NFKC", text))
    all_lowercase = not any(ch.isupper() for ch in text)
    names: dict[str, str] = {}
    for word in words:
        folded = fold(word)
        caseless = word.lower() == word.upper()
        if len(folded) < 2 or folded in COMMON_WORDS:
            continue
        if word[0].isupper() or (caseless and len(folded) >= 3) or all_lowercase:
            names.setdefault(folded, word)
    return names


def mentions(text: str, names: Mapping[str, str]) -> list[str]:
    """Which of ``names`` (from ``names_in``) appear as whole words in ``text``,
    as written in the report, sorted."""
    words = set(_WORD.findall(fold(text)))
    return sorted(names[folded] for folded in names.keys() & words)
