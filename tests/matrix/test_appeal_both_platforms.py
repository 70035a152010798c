"""Issue 8's "done when": a case goes from report to an approved appeal that
members on both platforms sign, and the export lists exactly the valid
signatories. One bot serves Telegram (the fake Bot API) and Matrix (a real
Synapse) at once, with the real broadcast dispatcher. The member registry is
imported from a CSV whose Matrix room has an id of room version 12."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

from bot.admin import members_import
from tests.matrix.apps import (
    KEY,
    answer,
    matrix_bot,
    on_both_platforms,
    triage_and_member_room,
)
from tests.matrix.peers import BotKit
from tests.telegram.conftest import fake_bot_api

REF = re.compile(r"[CA]-[0-9A-HJKMNP-TV-Z]{6}")


async def test_report_to_appeal_signed_on_both_platforms(kit: BotKit, tmp_path: Path) -> None:
    matrix = await triage_and_member_room(kit, tmp_path)
    advisor, triage, member, goma = matrix

    async with fake_bot_api() as server:
        defender = server.new_user("Defender", language_code="en")
        advisor_two = server.new_user("Bob", language_code="en")
        tierra = server.new_group("Colectivo Tierra")
        tierra_member = server.new_user("Lucía", language_code="es")
        stranger = server.new_user("Stranger")
        advisory = f"""rooms = ["matrix:{triage}"]
advisors = ["matrix:{advisor.user_id}", "telegram:{advisor_two.id}"]"""
        async with on_both_platforms(kit, tmp_path, advisory, server, matrix) as app:
            bot = matrix_bot(app)
            # The registry comes from a member CSV, as `sosbot members import` reads it; the
            # Matrix room has an id of room version 12 (Synapse's default): "!" + 43, no server.
            assert re.fullmatch(r"![A-Za-z0-9_-]{43}", goma), goma
            registry = (
                "name,country,region,languages,working_groups,contacts,groups\n"
                f"Colectivo Tierra,Colombia,Americas,es,land,,telegram:{tierra.id}\n"
                f"Réseau Goma,DRC,Africa,fr,,,matrix:{goma}\n"
            )
            environ = {"SOSBOT_MASTER_KEY": KEY}
            assert await members_import(app.config, environ, registry) == 0

            # A defender reports on Telegram, consenting to an anonymised public appeal.
            async def tg(user: object, text: str, expect: str) -> str:
                after = max((m.message_id for m in server.history(user.id)), default=0)  # type: ignore[attr-defined]
                server.user_sends(user, user, text)  # type: ignore[arg-type]
                found = await server.wait_for_message(
                    user.id, lambda m: expect in (m.text or ""), after=after, timeout=30
                )  # type: ignore[attr-defined]
                return found.text or ""

            async def tg_press(user: object, label: str, expect: str) -> str:
                question = await server.wait_for_message(
                    user.id, lambda m: label in m.button_texts, timeout=30
                )  # type: ignore[attr-defined]
                after = max(m.message_id for m in server.history(user.id))  # type: ignore[attr-defined]
                server.press_button(user, user, question.message_id, text=label)  # type: ignore[arg-type]
                found = await server.wait_for_message(
                    user.id, lambda m: expect in (m.text or ""), after=after, timeout=30
                )  # type: ignore[attr-defined]
                return found.text or ""

            await tg(defender, "/report", "What is happening")
            await tg(defender, "Paramilitaries threatened the land defenders.", "Noted")
            await tg_press(defender, "Done", "Where")
            await tg(defender, "Cauca", "Who")
            await tg(defender, "Ana Pérez and the collective", "How urgent")
            await tg_press(defender, "Within days", "What may the network")
            await tg_press(defender, "Public appeal, anonymised", "safe way")
            await tg_press(defender, "Skip", "Please check")
            receipt = await tg_press(defender, "Send the report", "case reference")
            case = REF.search(receipt).group(0)  # type: ignore[union-attr]

            # The advisory group drafts and approves the appeal, from Matrix and Telegram.
            await advisor.until(
                lambda: any(case in b for b in advisor.bodies(triage, bot.user_id)), "the card"
            )
            drafted = await answer(advisor, triage, bot, f"!appeal new {case}", "drafted")
            appeal = next(r for r in REF.findall(drafted) if r.startswith("A-"))
            refused = await answer(
                advisor, triage, bot, f"!appeal text {appeal} en Free Ana now", "names"
            )
            assert "Ana" in refused
            await answer(
                advisor,
                triage,
                bot,
                f"!appeal text {appeal} en Protect the land defenders of Cauca.",
                "saved",
            )
            await answer(
                advisor,
                triage,
                bot,
                f"!appeal text {appeal} es Protejan a las defensoras de la tierra del Cauca.",
                "saved",
            )
            await answer(
                advisor,
                triage,
                bot,
                f"!appeal text {appeal} fr Protégez les défenseurs de la terre du Cauca.",
                "saved",
            )
            await answer(advisor, triage, bot, f"!appeal deadline {appeal} 2026-02-01", "Deadline")
            await answer(advisor, triage, bot, f"!appeal approve {appeal}", "1 of 2")
            await tg(advisor_two, f"/appeal approve {appeal}", "2 of 2")
            await answer(advisor, triage, bot, f"!appeal send {appeal}", "2 member groups")

            # Each group gets it in its language; members sign on both platforms.
            card = await server.wait_for_message(
                tierra.id, lambda m: appeal in (m.text or ""), timeout=30
            )
            assert (card.text or "").startswith(
                "Protejan a las defensoras"
            ) and card.button_texts == ["Firmar"]
            await member.until(
                lambda: any(appeal in b for b in member.bodies(goma, bot.user_id)),
                "the appeal in Goma",
            )
            assert next(b for b in member.bodies(goma, bot.user_id) if appeal in b).startswith(
                "Protégez"
            )
            server.press_button(tierra_member, tierra, card.message_id, text="Firmar")
            await server.wait_for_message(
                tierra.id,
                lambda m: "firm" in (m.text or "").lower() and "Colectivo Tierra" in (m.text or ""),
                timeout=30,
            )
            signed = await answer(member, goma, bot, f"!sign {appeal.lower()}", "Réseau Goma")
            assert appeal in signed
            refused_sign = await tg(stranger, f"/sign {appeal}", "sign")
            assert "Only members" in refused_sign

            # The export lists exactly the valid signatories.
            await answer(advisor, triage, bot, f"!appeal status {appeal}", "2 signatures")
            await advisor.say(triage, f"!appeal export {appeal}")

            def exported() -> dict[str, object]:
                return {
                    e.source["content"].get("filename", ""): e
                    for r, e in advisor.events
                    if r == triage and type(e).__name__ in ("RoomEncryptedFile", "RoomMessageFile")
                }

            await advisor.until(lambda: len(exported()) >= 2, "the export files")
            csv_event = exported()[f"{appeal}-signatories.csv"]
            data = await download(advisor, csv_event)
            rows = list(csv.reader(io.StringIO(data.decode())))
            assert sorted(r[0] for r in rows[1:]) == ["Colectivo Tierra", "Réseau Goma"]


async def download(peer: object, event: object) -> bytes:
    from nio.crypto.attachments import decrypt_attachment

    client = peer.client  # type: ignore[attr-defined]
    url = event.url  # type: ignore[attr-defined]
    response = await client.download(url)
    body = response.body
    if type(event).__name__ == "RoomEncryptedFile":
        return decrypt_attachment(body, event.key["k"], event.hashes["sha256"], event.iv)  # type: ignore[attr-defined]
    return body
