"""Button keys: what a pressed button, or the option typed out, means.

A key is ``kind:value`` — ``lang:es``, ``sign:A-9TXW3B``, ``urgency:days``.
The kind says which question the button belongs to (a question of the
defender conversation, a step of the report, or a Sign button under an
appeal), so an answer to a closed question is recognised as such. Keys
never reach Telegram as such: the transport swaps them for opaque tokens.
"""

from __future__ import annotations

from enum import StrEnum

from handlers.messages import Option


class Kind(StrEnum):
    """The kinds of key besides the report's steps (whose kind is the step)."""

    LANGUAGE = "lang"
    FORGET = "forget"
    CLEANUP = "cleanup"
    CASE = "case"  # which case a defender's message is about
    SUMMARY = "summary"
    EDIT = "edit"
    SIGN = "sign"


def make(kind: str, value: str) -> str:
    return f"{kind}:{value}"


def option(kind: str, value: str, label: str) -> Option:
    return Option(make(kind, value), label)


def value_of(key: str | None, kind: str) -> str | None:
    """The value of ``key`` when it is of ``kind``, else None."""
    if key is None:
        return None
    found, sep, value = key.partition(":")
    return value if sep and found == kind else None
