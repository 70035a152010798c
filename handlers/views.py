"""What advisors read: the full case view and the case lists."""

from __future__ import annotations

from handlers import advisors, cards, places
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


async def case_list(turn: Turn, which: str) -> str:
    cases = await turn.services.db.cases.list_cases(which, str(turn.msg.sender))
    if not cases:
        return turn.t("No cases.")
    lines = [turn.t("Cases ({which}):", which=which)]
    for case in cases:
        ack = turn.t("acknowledged") if case.acknowledged_at else turn.t("NOT acknowledged")
        lines.append(f"{case.ref} · {case.urgency} · {case.priority} · {case.state} · {ack}")
    return "\n".join(lines)
