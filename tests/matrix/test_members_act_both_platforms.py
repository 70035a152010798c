"""Issue 16's "done when", end to end on both platforms at once: a proposal
from a Telegram member group becomes an appeal in the Matrix triage room, a
Matrix member room that subscribed widens its audience, and the outcome
news reaches each group once. Advisors' help and /assign-by-name answer on
both platforms. The real bot: fake Bot API, real Synapse, the real
broadcast dispatcher."""

from __future__ import annotations

import re
from pathlib import Path

from tests.matrix.apps import answer, matrix_bot, on_both_platforms, triage_and_member_room
from tests.matrix.peers import BotKit
from tests.telegram.conftest import fake_bot_api

REF = re.compile(r"[CAP]-[0-9A-HJKMNP-TV-Z]{6}")
IDEA = "Una carta conjunta al gobernador del Cauca sobre el desalojo de Vereda Alta."


async def test_proposal_subscription_and_outcome_on_both_platforms(
    kit: BotKit, tmp_path: Path
) -> None:
    matrix = await triage_and_member_room(kit, tmp_path)
    advisor, triage, member, goma = matrix

    async with fake_bot_api() as server:
        advisor_two = server.new_user("Bob", language_code="en")
        tierra = server.new_group("Colectivo Tierra")
        lucia = server.new_user("Lucía", language_code="es")
        advisory = f"""rooms = ["matrix:{triage}"]
advisors = ["matrix:{advisor.user_id}", "telegram:{advisor_two.id}"]
names = ["matrix:{advisor.user_id}=Ana Martín", "telegram:{advisor_two.id}=Bongani Dube"]"""
        async with on_both_platforms(kit, tmp_path, advisory, server, matrix) as app:
            bot = matrix_bot(app)
            db = app.services.db
            org_es = await db.members.upsert_organisation(
                "Colectivo Tierra", country="Colombia", region="Americas", languages=("es",)
            )
            org_fr = await db.members.upsert_organisation(
                "Réseau Goma", country="DRC", region="Africa", languages=("fr",)
            )
            await db.members.add_group(f"telegram:{tierra.id}", org_es.id, "es")
            await db.members.add_contact(org_es.id, f"telegram:{lucia.id}")
            await db.members.add_group(f"matrix:{goma}", org_fr.id, "fr")

            async def tg_sees(chat: object, expect: str, after: int = 0) -> str:
                found = await server.wait_for_message(
                    chat.id,  # type: ignore[attr-defined]
                    lambda m: expect in (m.text or ""),
                    after=after,
                    timeout=30,
                )
                return found.text or ""

            async def tg(user: object, chat: object, text: str, expect: str) -> str:
                after = max((m.message_id for m in server.history(chat.id)), default=0)  # type: ignore[attr-defined]
                server.user_sends(user, chat, text)  # type: ignore[arg-type]
                return await tg_sees(chat, expect, after)

            # Advisors' commands explain themselves, on both platforms.
            helped = await tg(advisor_two, advisor_two, "/help assign", "Example")
            assert "/assign C-7K3M9Q Ana" in helped
            guessed = await answer(advisor, triage, bot, "!akc", "Did you mean")
            assert "/ack" in guessed

            # A Matrix member room subscribes to the Americas.
            subscribed = await answer(member, goma, bot, "!subscribe region=Americas", "americas")
            assert "region=americas" in subscribed

            # A registered contact proposes in the Telegram group; the card reaches Matrix.
            received = await tg(lucia, tierra, f"/propose {IDEA}", "P-")
            proposal = next(r for r in REF.findall(received) if r.startswith("P-"))
            await advisor.until(
                lambda: any(
                    proposal in b and IDEA in b for b in advisor.bodies(triage, bot.user_id)
                ),
                "the proposal card",
            )
            drafted = await answer(advisor, triage, bot, f"!proposal accept {proposal}", "drafted")
            appeal = next(r for r in REF.findall(drafted) if r.startswith("A-"))
            told = await tg_sees(tierra, appeal)
            assert proposal in told and "aceptada" in told

            await answer(
                advisor, triage, bot, f"!appeal text {appeal} fr Une lettre commune.", "saved"
            )
            target = await answer(
                advisor, triage, bot, f"!appeal target {appeal} region=Americas", "Audience"
            )
            assert "2 member groups" in target and "by subscription: 1" in target
            await answer(advisor, triage, bot, f"!appeal deadline {appeal} 2026-02-01", "Deadline")
            await answer(advisor, triage, bot, f"!appeal approve {appeal}", "1 of 2")
            approved = await tg(advisor_two, advisor_two, f"/appeal approve {appeal}", "2 of 2")
            assert f"Next: /appeal send {appeal}" in approved
            await answer(advisor, triage, bot, f"!appeal send {appeal}", "2 member groups")

            card = await tg_sees(tierra, f"/sign {appeal}")
            assert card.startswith(IDEA)
            assert "enviado" in await tg_sees(tierra, "enviado")
            await member.until(
                lambda: any(
                    b.startswith("Une lettre commune") for b in member.bodies(goma, bot.user_id)
                ),
                "the appeal in the subscribed room",
            )
            await tg(lucia, tierra, f"/sign {appeal}", "Colectivo Tierra")

            # The outcome reaches each group once, in its language; signers are thanked.
            await answer(
                advisor, triage, bot, f"!appeal outcome {appeal} en The governor answered.", "saved"
            )
            await answer(
                advisor,
                triage,
                bot,
                f"!appeal outcome {appeal} es El gobernador respondió.",
                "saved",
            )
            await answer(advisor, triage, bot, f"!appeal outcome {appeal} send", "2 member groups")
            news = await tg_sees(tierra, "El gobernador respondió.")
            assert "firmó" in news
            await member.until(
                lambda: any(
                    "The governor answered." in b for b in member.bodies(goma, bot.user_id)
                ),
                "the outcome in Goma",
            )
            again = await answer(advisor, triage, bot, f"!appeal outcome {appeal} send", "already")
            assert appeal in again
            await answer(advisor, triage, bot, f"!appeal status {appeal}", "1 signature")
            tierra_news = [
                m for m in server.history(tierra.id) if "El gobernador" in (m.text or "")
            ]
            goma_news = [b for b in member.bodies(goma, bot.user_id) if "governor answered" in b]
            assert len(tierra_news) == 1 and len(goma_news) == 1
