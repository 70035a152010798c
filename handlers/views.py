"""What advisors read: the full case view (the lists are ``handlers.agenda``)."""

from __future__ import annotations

from handlers import advisors, cards, places, vocab
from handlers.textsafe import quoted
from handlers.turn import Turn

HISTORY_LIMIT = 50


async def case_view(turn: Turn, ref: str) -> str:
    case = await turn.services.db.cases.get(ref)
    with_content = await places.content_here(turn)  # private chats too: Telegram is not E2EE
    lines = [cards.card_text(case, turn.language, with_content).split("\n")[0]]
    lines += [
        turn.t("State: {value}", value=case.state),
        turn.t("Priority: {value}", value=case.priority),
        turn.t("Verification: {value}", value=case.verification or "-"),
        turn.t(
            "Assigned to: {value}",
            value=advisors.display_name(turn.services, case.assignee) if case.assignee else "-",
        ),
    ]
    lines += await casework_lines(turn, ref, with_content=with_content)
    body = cards.card_text(case, turn.language, with_content).split("\n")[1:-1]
    if not with_content:  # the card's own notice points to a private chat: not this one
        body = [*body[: body.index("")], "", places.withheld(turn)]
    lines += body
    if with_content:
        events = await turn.services.db.cases.history(ref)
        if events:
            lines += ["", turn.t("History:")]
        for event in events[-HISTORY_LIMIT:]:
            stamp = event.at.strftime("%Y-%m-%d %H:%M")
            text = event.text
            if event.kind == "assigned" and text:  # a name, not an id (the bot's own words)
                shown = " ".join(
                    p for p in (event.value, advisors.display_name(turn.services, text)) if p
                )
                lines.append(f"{stamp} {event.kind}{': ' + shown if shown else ''}")
                continue
            lines.append(f"{stamp} {event.kind}{': ' + event.value if event.value else ''}")
            if text:  # a person's words: quoted, never a line of the bot's
                lines.append(quoted(text))
    return "\n".join(lines)


async def casework_lines(turn: Turn, ref: str, *, with_content: bool = True) -> list[str]:
    """The structured fields (content: only ``with_content``), the outcome and
    the referrals of a case."""
    file = await turn.services.db.casefile.get(ref)
    lines = vocab.tag_lines(file.tags, turn.language) if with_content else []
    if file.outcome:
        shown = vocab.label("outcome", file.outcome, turn.language)
        lines.append(turn.t("Outcome: {value}", value=shown))
    for referral in await turn.services.db.partners.of_case(ref):
        kind = vocab.label("kind", referral.kind, turn.language)
        state = referral.state
        if referral.blocked:  # narrowed consent: no summary may go to the partner
            state += ", " + turn.t("blocked by a consent change")
        lines.append(
            turn.t(
                "Referral {referral}: {partner} ({kind}), {state}",
                referral=referral.ref,
                partner=referral.partner or "-",
                kind=kind,
                state=state,
            )
        )
    return lines
