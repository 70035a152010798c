"""Issue 15 on a real Synapse: after /ask, a voice note and a shared location
reach the encrypted triage room (decrypted by the advisor: the file, the
coordinates with a map link) and never an unencrypted room of the advisory
group, even with content allowed there; the defender hears case news."""

from __future__ import annotations

import base64
from pathlib import Path

from bot.app import App
from handlers.clock import FakeClock
from tests.matrix.apps import answer, matrix_config, sos
from tests.matrix.apps import start_app as start_on_synapse
from tests.matrix.peers import BotKit, Peer
from tests.matrix.test_app_matrix import bot_of

KEY = base64.b64encode(b"s" * 32).decode()
VOICE = b"OggS\x00\x02voice-note-of-the-defender"


async def start_app(kit: BotKit, path: Path, rooms: list[str], advisor: Peer) -> App:
    listed = ", ".join(f'"matrix:{room}"' for room in rooms)
    advisory = f"""rooms = [{listed}]
advisors = ["matrix:{advisor.user_id}"]
allow_content_in_unencrypted_rooms = true"""
    config = matrix_config(kit, path, advisory)
    return await start_on_synapse(kit, config, FakeClock(), key=KEY)


async def room(advisor: Peer, kit: BotKit, name: str, encrypted: bool) -> str:
    return await advisor.new_room(name, [kit.user_id], encrypted=encrypted)


async def send_voice(peer: Peer, room_id: str) -> None:
    await peer.send_file(room_id, VOICE, msgtype="m.audio", name="voice.ogg", mimetype="audio/ogg")


async def test_voice_and_location_reach_only_the_encrypted_room(
    kit: BotKit, tmp_path: Path
) -> None:
    advisor = await kit.person("advisor", tmp_path)
    triage = await room(advisor, kit, "Triage", encrypted=True)
    plain = await room(advisor, kit, "Advisors (plain)", encrypted=False)
    app = await start_app(kit, tmp_path, [triage, plain], advisor)
    try:
        bot = bot_of(app)
        await advisor.wait_for_member(triage, bot)
        await advisor.wait_for_member(plain, bot)
        defender = await kit.person("defender", tmp_path)
        dm = await defender.open_dm(bot)
        ref = await sos(defender, dm, bot, "they are outside")
        await answer(defender, dm, bot, "!cancel", "erased")

        # News: the advisor takes the case on; the defender is told, without a name.
        news = await answer(advisor, triage, bot, f"!claim {ref}", "You took")
        assert ref in news

        def told() -> list[str]:
            return [b for b in defender.bodies(dm, bot.user_id) if "News on your case" in b]

        await defender.until(lambda: bool(told()), "the news")
        localpart = advisor.user_id.split(":")[0].lstrip("@")
        assert localpart not in told()[0] and advisor.user_id not in told()[0]

        await answer(
            advisor, triage, bot, f"!ask {ref} Where are you now?", "On its way to the defender"
        )
        await defender.until(
            lambda: any("Where are you now?" in b for b in defender.bodies(dm, bot.user_id)),
            "the question",
        )
        await send_voice(defender, dm)
        await defender.client.room_send(
            dm,
            "m.room.message",
            {"msgtype": "m.location", "body": "My location", "geo_uri": "geo:2.4448,-76.6147"},
            ignore_unverified_devices=True,
        )

        def located() -> list[str]:
            return [b for b in advisor.bodies(triage, bot.user_id) if "Location shared" in b]

        await advisor.until(lambda: bool(located()), "the location in the encrypted room")
        assert "2.44480, -76.61470" in located()[0] and "openstreetmap.org" in located()[0]
        files = [
            e
            for e in advisor.from_sender(triage, bot.user_id)
            if e.source["content"].get("msgtype") in ("m.file", "m.audio")
        ]
        assert files and all(e.decrypted for e in files)
        assert files[0].source["content"]["filename"] == "voice.ogg"

        def noticed() -> list[str]:
            return [b for b in advisor.bodies(plain, bot.user_id) if "A location was shared" in b]

        await advisor.until(lambda: bool(noticed()), "the notice in the plain room")
        shown = advisor.from_sender(plain, bot.user_id)
        assert not [e for e in shown if e.source["content"].get("msgtype") != "m.text"]
        bodies = " ".join(advisor.bodies(plain, bot.user_id))
        assert "2.444" not in bodies and "openstreetmap" not in bodies
        assert "A voice note or video was added" in bodies
    finally:
        await app.stop()
