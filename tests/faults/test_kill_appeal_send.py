"""SIGKILL at every commit of an appeal send (issue 12, item 6), on SQLite and PostgreSQL.

Two advisors draft and approve an appeal for four member groups in a bot
that then stops. For each N, a copy of that bot's data runs in a process
(forked by ``tests.faults.child``) that kills itself right after its Nth
durable commit following an advisor's ``/appeal send`` in the triage group:
the send turn, then the broadcast that follows (each message marked
"sending", then "sent"; the final report). The same data is then
restarted. Whatever N is:

- right after the kill, the database holds either the whole send (the
  appeal "sent", its broadcast queued, its reminder and close deadlines)
  or none of it, and the triage group has seen the confirmation "… is being
  sent to 4 member groups" only if the send was committed;
- after the restart the appeal goes out (the advisor sends the command
  again if the turn was lost, as they would), the triage group gets the
  confirmation (a second copy says it may repeat) and the final report;
- no member group gets the appeal twice: every group whose row is "sent"
  got it exactly once; a row that was "sending" when the process died is
  reported "uncertain" (it may or may not have arrived) and never resent;
- the reminder and close deadlines exist for the sent appeal.

N runs up from 1 until the process outlives the send and its broadcast.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from bot.broadcast.lane import MAY_REPEAT
from storage import AppealState, BroadcastKind, DeadlineKind
from storage.errors import NotFound
from storage.repos.outbox import SENT, UNCERTAIN
from tests.broadcast.conftest import start_bot
from tests.fakes.telegram.server import FakeChat, FakeTelegramServer, FakeUser
from tests.faults.processes import MAX_COMMITS, Place, Places, Zygote, copies, last_id, texts_after

APPEAL = re.compile(r"A-[0-9A-HJKMNP-TV-Z]{6}")
TOKEN = "123456:TEST-token-for-the-fake-server-only"
TEXT = "Free the land defenders of Cauca"
GROUPS = 4


class Network:
    """The fake Telegram's chats: the triage group, two advisors, the member groups."""

    def __init__(self, server: FakeTelegramServer) -> None:
        self.server = server
        self.triage = server.new_group("Advisory group")
        self.advisors: list[FakeUser] = [server.new_user(n) for n in ("Alice", "Bob")]
        self.groups: list[FakeChat] = [server.new_group(f"Member group {n}") for n in range(GROUPS)]

    @property
    def advisor_ids(self) -> list[int]:
        return [a.id for a in self.advisors]

    async def command(self, advisor: FakeUser, text: str, expect: str) -> str:
        after = last_id(self.server, self.triage)
        self.server.user_sends(advisor, self.triage, text)
        answer = await self.server.wait_for_message(
            self.triage.id, lambda m: expect in (m.text or ""), after=after, timeout=30
        )
        return answer.text or ""

    def marks(self) -> dict[int, int]:
        """Where each chat's history stands now (copies of the data all send to the same chats)."""
        return {chat.id: last_id(self.server, chat) for chat in [self.triage, *self.groups]}

    def received(self, group: FakeChat, marks: dict[int, int]) -> list[str]:
        """The appeal as ``group`` got it since ``marks``."""
        return [t for t in texts_after(self.server, group, marks[group.id]) if TEXT in t]


async def test_an_appeal_send_killed_at_every_commit(places: Places) -> None:
    async with FakeTelegramServer() as server:
        server.add_bot(TOKEN)
        net = Network(server)
        template = places.template()
        ref = await approved_appeal(net, template)
        survived, uncertain = False, list[int]()
        zygote = await Zygote.start()
        try:
            lost = False
            kill_at = -1  # first: killed before the send turn's commit (nothing of it kept)
            while not survived and kill_at < MAX_COMMITS:
                place = places.copy(template, kill_at + 1)
                before = net.marks()
                await zygote.run(server, place, net.triage, kill_at, net.advisor_ids)
                zygote.arm(place)
                server.user_sends(net.advisors[0], net.triage, f"/appeal send {ref}")
                survived = not await zygote.died()
                sent = await whole_or_nothing(net, place, ref, before, kill_at)
                lost |= not sent
                # Lost with its update confirmed: the restarted bot cannot know of it.
                resend = not sent and not redelivered(server, ref)
                uncertain.append(await restart_and_check(net, place, ref, before, kill_at, resend))
                kill_at = max(kill_at + 1, 1)
        finally:
            await zygote.stop()
        assert survived, f"still killed at commit {MAX_COMMITS}"
        assert lost, "one kill fell before the send was committed"
        assert kill_at > GROUPS, "the send and its broadcast span several commits"
        assert any(uncertain), "some kill fell while the appeal was out: reported uncertain"
        assert uncertain[-1] == 0, "a bot that is not killed leaves nothing uncertain"
        assert server.internal_errors == []


async def approved_appeal(net: Network, place: Place) -> str:
    """An appeal with its text and deadline, approved by both advisors, and the
    member groups registered, in a bot that then stops: the appeal's reference."""
    app = await start_bot(
        net.server,
        place.folder,
        net.triage,
        database_url=place.url or None,
        advisors=net.advisor_ids,
    )
    try:
        members = app.services.db.members
        for n, group in enumerate(net.groups):
            org = await members.upsert_organisation(f"Organisation {n}", region="Americas")
            await members.add_group(f"telegram:{group.id}", org.id, "en")
        alice, bob = net.advisors
        drafted = await net.command(alice, "/appeal new", "drafted")
        found = APPEAL.search(drafted)
        assert found, drafted
        ref = found.group(0)
        day = (datetime.now(UTC) + timedelta(days=30)).date().isoformat()
        await net.command(alice, f"/appeal text {ref} en {TEXT}", "saved")
        await net.command(alice, f"/appeal deadline {ref} {day}", "Deadline of")
        await net.command(alice, f"/appeal approve {ref}", "1 of 2")
        await net.command(bob, f"/appeal approve {ref}", "2 of 2")
        return ref
    finally:
        await app.stop()


def confirmations(net: Network, ref: str, marks: dict[int, int]) -> list[str]:
    return copies(
        texts_after(net.server, net.triage, marks[net.triage.id]),
        lambda t: f"{ref} is being sent to {GROUPS} member groups" in t,
        MAY_REPEAT,
    )


async def whole_or_nothing(
    net: Network, place: Place, ref: str, before: dict[int, int], kill_at: int
) -> bool:
    """The database as the kill left it: the whole send or none of it, and the
    confirmation seen only if the send was committed. Whether it was."""
    db = await place.open()
    try:
        appeal = await db.appeals.get(ref)
        rows = await db.outbox.counts(BroadcastKind.APPEAL, ref)
        kinds = {d.kind for d in await db.deadlines.pending() if d.object_ref == ref}
        if appeal.state == AppealState.SENT:
            assert sum(rows.values()) == GROUPS, f"kill {kill_at}: {rows}"
            assert kinds == {DeadlineKind.APPEAL_REMINDER, DeadlineKind.APPEAL_CLOSE}, (
                f"kill {kill_at}: a sent appeal without its deadlines: {kinds}"
            )
            return True
        else:
            assert appeal.state == AppealState.DRAFT
            assert rows == {} and kinds == set(), f"kill {kill_at}: half a send"
            assert confirmations(net, ref, before) == [], (
                f"kill {kill_at}: confirmed before the send was committed"
            )
            assert not any(net.received(g, before) for g in net.groups)
            return False
    finally:
        await db.close()


def redelivered(server: FakeTelegramServer, ref: str) -> bool:
    """Whether the ``/appeal send`` is still unconfirmed: a restarted bot gets it again."""
    command = f"/appeal send {ref}"
    return any(
        (update.get("message") or {}).get("text") == command for update in server.pending_updates()
    )


async def restart_and_check(
    net: Network, place: Place, ref: str, before: int, kill_at: int, resend: bool
) -> int:
    """The same data restarted (in this process); how many rows are uncertain.

    ``resend``: the send turn was lost and its update confirmed, so nobody will be
    told of it; the advisor sends it again (else the confirmation must come)."""
    server = net.server
    restarted = await start_bot(
        server,
        place.folder,
        net.triage,
        database_url=place.url or None,
        advisors=net.advisor_ids,
    )
    db = restarted.services.db
    try:
        if resend:  # the turn itself was lost: the advisor sends it again
            assert (await db.appeals.get(ref)).state == AppealState.DRAFT, (
                f"kill {kill_at}: sent, and nobody was told"
            )
            server.user_sends(net.advisors[0], net.triage, f"/appeal send {ref}")
        else:
            try:
                await server.wait_for_message(
                    net.triage.id,
                    lambda m: f"{ref} is being sent to" in (m.text or ""),
                    after=before[net.triage.id],
                    timeout=30,
                )
            except TimeoutError as exc:
                raise AssertionError(f"kill {kill_at}: sent, and nobody was told") from exc
        await server.wait_for_message(
            net.triage.id,
            lambda m: f"Appeal {ref}: sending finished" in (m.text or ""),
            after=before[net.triage.id],
            timeout=30,
        )
        confirmed = confirmations(net, ref, before)
        assert 1 <= len(confirmed) <= 2, f"kill {kill_at}: confirmed {len(confirmed)} times"
        counts = await db.outbox.counts(BroadcastKind.APPEAL, ref)
        assert counts.get(SENT, 0) + counts.get(UNCERTAIN, 0) == GROUPS, f"kill {kill_at}: {counts}"
        unsure = {p.address for p in await db.outbox.problems(BroadcastKind.APPEAL, ref)}
        for group in net.groups:
            got = len(net.received(group, before))
            if f"telegram:{group.id}" in unsure:
                assert got <= 1, f"kill {kill_at}: an uncertain row was sent again"
            else:
                assert got == 1, f"kill {kill_at}: a group got the appeal {got} times"
        report = texts_after(server, net.triage, before[net.triage.id])
        finished = next(t for t in report if f"Appeal {ref}: sending finished" in t)
        assert ("Uncertain" in finished) == bool(unsure), finished
        kinds = {d.kind for d in await db.deadlines.pending() if d.object_ref == ref}
        assert kinds == {DeadlineKind.APPEAL_REMINDER, DeadlineKind.APPEAL_CLOSE}
        assert (await db.appeals.get(ref)).state == AppealState.SENT
        return len(unsure)
    except NotFound as exc:
        raise AssertionError(f"kill {kill_at}: the appeal is gone") from exc
    finally:
        await restarted.stop()
