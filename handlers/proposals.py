"""Members propose collective action (issue 16): ``/propose`` in a member
group, ``/proposal accept|decline P-…`` in the triage room (both declared in
handlers/command_table.py).

A registered contact of the group's organisation may propose, optionally
naming a case they reported themselves. The proposal follows the rules of a
report: its text is sealed at rest, and the card in a triage room that is
not end-to-end encrypted shows no content (not even the organisation's
name, which the registry also keeps sealed). The proposer's group hears of
each step: received, accepted (with the appeal draft's reference),
declined (with the reason), and the appeal sent.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from handlers import cards, file_gate, rooms
from handlers.commands import BadArgument
from handlers.i18n import N_, render
from handlers.messages import Address
from handlers.outgoing import Kind
from handlers.refs import RefKind, new_ref
from handlers.services import Services
from handlers.turn import Turn
from storage import Language
from storage.errors import Conflict, NotFound
from storage.repos.proposals import ProposalRecord

Action = Callable[[Turn, Mapping[str, Any]], Awaitable[str]]
"""A subcommand of ``/proposal`` (declared in handlers/command_table.py): its answer."""


def card_text(proposal: ProposalRecord, language: str, with_content: bool) -> str:
    def t(message: str, **params: Any) -> str:
        return render(language, message, **params)

    lines = [t("New proposal {ref}", ref=proposal.ref)]
    if proposal.case_ref:
        lines.append(t("Case: {value}", value=proposal.case_ref))
    if with_content:
        lines += [t("From: {name}", name=proposal.organisation), "", proposal.text]
        if proposal.files:
            lines.append(t("Files: {count} (sent below)", count=proposal.files))
    else:
        lines.append(
            t(
                "This room is not end-to-end encrypted, so the proposal itself is not shown "
                "here. Read it in an encrypted room or a private chat with the bot.",
            )
        )
    lines += [
        "",
        t("Answer: /proposal accept {ref}, or /proposal decline {ref} REASON", ref=proposal.ref),
    ]
    return "\n".join(lines)


async def _post_card(services: Services, proposal: ProposalRecord) -> None:
    """Queue the card (and, where content is allowed, the files) for every
    advisory room, in the turn's unit of work with the proposal itself."""
    language = services.settings.default_language

    async def post(room: Address) -> None:
        with_content = await cards.content_allowed(services, room)
        text = card_text(proposal, language, with_content)
        await services.post.send_text(room, text, kind=Kind.NOTICE, ref=proposal.ref)
        if with_content and proposal.files:
            for name, mime, data in await services.db.proposals.files(proposal.ref):
                await services.post.send_file(room, name, data, mime, proposal.ref)

    await rooms.each_room(services, post)


async def tell_group(
    services: Services, proposal: ProposalRecord, step: str, message: str, **params: Any
) -> None:
    """Queue a message to the proposer's group, in its language (once per step)."""
    if proposal.group_address is None:
        return  # the group left or was removed: nobody to tell
    language = proposal.group_language or Language.EN
    text = render(language, message, **params)
    await services.db.outbox.enqueue(
        "proposal", f"{proposal.ref}/{step}", [(proposal.group_address, language)], text
    )


async def _own_case(turn: Turn, case_ref: str) -> bool:
    """Whether the sender reported ``case_ref`` (a member may only name their own case)."""
    account = await turn.services.db.accounts.find(str(turn.msg.sender))
    if account is None:
        return False
    try:
        case = await turn.services.db.cases.get(case_ref)
    except NotFound:
        return False
    return case.reporter_account_id == account.id


def _content_problem(turn: Turn, text: str) -> str | None:
    """The rules of a report's content: a text or files, within the limits."""
    settings = turn.services.settings
    attachments = turn.msg.attachments
    if not text and not attachments:
        raise BadArgument("text")
    if len(text) > settings.max_text_chars:
        return turn.t("That message is too long. Nothing was saved.")
    return file_gate.attachment_problem(turn, 0)


async def propose(turn: Turn, args: Mapping[str, Any]) -> None:
    db = turn.services.db
    group = await db.members.group(str(turn.chat))
    if group is None or not group.active or group.organisation_id is None:
        await turn.say(turn.t("Send /propose in your organisation's registered group."))
        return
    contacts_of = {o.id for o in await db.members.organisations_of(str(turn.msg.sender))}
    if group.organisation_id not in contacts_of:
        await turn.say(
            turn.t(
                "Only a registered contact of this organisation can make a proposal. "
                "Ask the network to register you."
            )
        )
        return
    text, case_ref = (args.get("text") or "").strip(), args.get("case")
    problem = _content_problem(turn, text)
    if problem:
        await turn.say(problem)
        return
    if case_ref and not await _own_case(turn, case_ref):
        # The same answer for a case that does not exist: nothing is revealed.
        await turn.say(turn.t("You can name only a case you reported yourself. Nothing was saved."))
        return
    files = [(a.filename, a.mime_type, a.data) for a in turn.msg.attachments]
    for _ in range(8):
        try:
            proposal = await db.proposals.create(
                new_ref(RefKind.PROPOSAL),
                str(turn.msg.sender),
                group.organisation_id,
                group.id,
                case_ref,
                text,
                files,
            )
            break
        except Conflict:
            continue
    else:
        raise RuntimeError("could not allocate a proposal reference")
    await _post_card(turn.services, proposal)
    await turn.say(
        turn.t(
            "Proposal {ref} reached the advisory group. You will hear here when it is answered.",
            ref=proposal.ref,
        )
    )


async def accept(turn: Turn, args: Mapping[str, Any]) -> str:
    """``/proposal accept P-…``: an appeal draft with the proposal's text."""
    ref, db = str(args["proposal"]), turn.services.db
    current = await db.proposals.get(ref)
    language = current.group_language or Language.EN
    for _ in range(8):
        appeal_ref = new_ref(RefKind.APPEAL)
        try:
            proposal = await db.proposals.accept(ref, str(turn.msg.sender), appeal_ref, language)
            break
        except Conflict:
            if (await db.proposals.get(ref)).state != "new":
                raise
    else:
        raise RuntimeError("could not allocate an appeal reference")
    await tell_group(
        turn.services,
        proposal,
        "accepted",
        N_("Your proposal {ref} was accepted: the advisory group is preparing appeal {appeal}."),
        ref=ref,
        appeal=appeal_ref,
    )
    return turn.t(
        "Appeal {appeal} drafted from {ref}, with its text in {language}. Next: /appeal text "
        "{appeal} en …, /appeal deadline {appeal} YYYY-MM-DD, /appeal target {appeal} …",
        appeal=appeal_ref,
        ref=ref,
        language=language,
    )


async def decline(turn: Turn, args: Mapping[str, Any]) -> str:
    """``/proposal decline P-… REASON``: the proposing group hears the reason."""
    ref, reason = str(args["proposal"]), args["reason"].strip()
    proposal = await turn.services.db.proposals.decline(ref, str(turn.msg.sender), reason)
    await tell_group(
        turn.services,
        proposal,
        "declined",
        N_("Your proposal {ref} was declined: {reason}"),
        ref=ref,
        reason=reason,
    )
    return turn.t("{ref} declined; the proposing group was told.", ref=ref)


async def run(turn: Turn, action: Action, args: Mapping[str, Any]) -> None:
    """One ``/proposal`` subcommand (the router lets only advisors in)."""
    ref = str(args["proposal"])
    try:
        answer = await action(turn, args)
    except NotFound:
        answer = turn.t("There is no proposal {ref}.", ref=ref)
    except Conflict:
        answer = turn.t("{ref} was already answered.", ref=ref)
    await turn.say(answer)


async def appeal_sent(services: Services, appeal_ref: str) -> None:
    """Tell the groups whose proposal became ``appeal_ref`` that it was sent."""
    for proposal in await services.db.proposals.for_appeal(appeal_ref):
        await tell_group(
            services,
            proposal,
            "sent",
            N_("Appeal {appeal}, from your proposal {ref}, was sent to the network's members."),
            appeal=appeal_ref,
            ref=proposal.ref,
        )
