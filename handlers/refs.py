"""Case and appeal references (docs/spec.md §2).

A reference is a letter, a dash and six random Crockford base32 characters:
``C-7K4QM2`` for a case, ``A-9TXW3B`` for an appeal. Random, so a reference
says nothing about how many cases exist or when one was made. People type
them in any case, with or without the dash, and may confuse the look-alike
letters Crockford's alphabet leaves out (I, L → 1; O → 0).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from enum import StrEnum

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
BODY_LENGTH = 6
_LOOKALIKES = str.maketrans({"I": "1", "L": "1", "O": "0"})
_PATTERN = re.compile(r"^([A-Za-z])-?([0-9A-Za-z]{6})$")


class RefKind(StrEnum):
    CASE = "C"
    APPEAL = "A"
    PROPOSAL = "P"  # a member's proposal for collective action
    REFERRAL = "R"


MAX_ATTEMPTS = 64


def new_ref(kind: RefKind) -> str:
    """A fresh random reference. Not unique on its own: 32⁶ ≈ 1.07e9 values
    give about five birthday collisions in 100,000 draws, so callers that
    issue references go through ``unique_ref`` (or storage's unique
    constraint and a retry)."""
    body = "".join(secrets.choice(ALPHABET) for _ in range(BODY_LENGTH))
    return f"{kind.value}-{body}"


def unique_ref(kind: RefKind, taken: Callable[[str], bool]) -> str:
    """A random reference that ``taken`` says is not in use yet."""
    for _ in range(MAX_ATTEMPTS):
        ref = new_ref(kind)
        if not taken(ref):
            return ref
    raise RuntimeError("no free reference found; the reference space is nearly full")


def parse_ref(text: str, kind: RefKind | None = None) -> str | None:
    """The canonical form of a typed reference, or None if it is not one.

    ``c7k4qm2``, ``C-7k4qm2`` and ``c-7K4QM2`` all give ``C-7K4QM2``.
    """
    match = _PATTERN.match(text.strip())
    if match is None:
        return None
    letter = match.group(1).upper()
    body = match.group(2).upper().translate(_LOOKALIKES)
    if letter not in {k.value for k in RefKind}:
        return None
    if kind is not None and letter != kind.value:
        return None
    if any(ch not in ALPHABET for ch in body):
        return None
    return f"{letter}-{body}"
