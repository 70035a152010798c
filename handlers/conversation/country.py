"""The report's country question (issue 14): buttons, "Other", "Skip".

The network's most frequent countries (``[casework] intake_countries``, by
default the first countries of its region map) are buttons named in the
defender's language. "Other" asks for a name or a code, which Babel's CLDR
territory names resolve in any of the bot's languages ("Colombie",
"كولومبيا", "co"); a name that fits several countries ("Congo") is asked
back as buttons. The answer becomes the case's ``country`` tag when the
report is sent, so casework and statistics count it without an advisor
retyping it.
"""

from __future__ import annotations

from handlers import keys, vocab
from handlers.conversation.record import Draft, State
from handlers.i18n import LANGUAGES
from handlers.messages import Option
from handlers.turn import Turn, resolve_choice
from storage.records import Role
from storage.repos.consent import DEFENDER

OTHER, SKIP = "other", "skip"
MAX_CANDIDATES = 8
"""A name matching more countries than this is asked again, not listed."""


def offered(turn: Turn) -> bool:
    """Whether the report asks the country at all (the network offers some)."""
    return bool(turn.services.settings.casework.intake_countries)


def _option(turn: Turn, code: str) -> Option:
    return keys.option(State.COUNTRY, code, vocab.country_name(code, turn.language))


def options(turn: Turn, codes: tuple[str, ...] | None = None) -> list[Option]:
    """A button per country (``codes``, else the configured ones), then Other and Skip."""
    shown = turn.services.settings.casework.intake_countries if codes is None else codes
    return [
        *(_option(turn, code) for code in shown),
        keys.option(State.COUNTRY, OTHER, turn.t("Other")),
        keys.option(State.COUNTRY, SKIP, turn.t("Skip")),
    ]


def shown(turn: Turn, draft: Draft) -> str | None:
    """The answer as the summary shows it (None: not answered or skipped)."""
    return vocab.label("country", draft.country, turn.language) if draft.country else None


async def answer(turn: Turn, draft: Draft) -> bool:
    """Take the answer; True when the question is answered (a country or Skip)."""
    msg = turn.msg
    # Buttons of the list, or of a "which one?" list (its codes are countries too).
    chosen = keys.value_of(resolve_choice(msg, options(turn)), State.COUNTRY)
    if chosen is None and msg.choice is not None:
        chosen = keys.value_of(msg.choice, State.COUNTRY)
    if chosen == SKIP:
        draft.set_answer(State.COUNTRY, "")
        return True
    if chosen == OTHER:
        await turn.say(
            turn.t("Write the name of the country, or its two-letter code (CO for Colombia).")
        )
        return False
    if chosen is not None and chosen in vocab.countries():
        draft.set_answer(State.COUNTRY, chosen)
        return True
    text = msg.text.strip()
    if msg.attachments or not text or len(text) > 100:
        await turn.ask(turn.t("Please choose a country, Other or Skip."), options(turn))
        return False
    found = vocab.find_countries(text, (turn.language, *LANGUAGES))
    if len(found) == 1:
        draft.set_answer(State.COUNTRY, found[0])
        return True
    if 1 < len(found) <= MAX_CANDIDATES:
        await turn.ask(turn.t("Which one?"), options(turn, tuple(found)))
        return False
    await turn.ask(
        turn.t(
            "I do not know that country. Write its name or its two-letter code (CO for "
            "Colombia), or press Skip."
        ),
        options(turn),
    )
    return False


async def tag_country(turn: Turn, ref: str, draft: Draft) -> bool:
    """The country the defender chose becomes the case's ``country`` tag, unless
    an advisor tagged one already (an SOS case is triaged while it is completed)."""
    if not draft.country:
        return False
    db = turn.services.db
    if "country" in (await db.casefile.get(ref)).tags:
        return False
    await db.casefile.set_tags(ref, DEFENDER, {"country": (draft.country,)}, role=Role.DEFENDER)
    return True
