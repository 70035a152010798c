"""The demo's flows, step by step, as a person clicks them through the page.

Each flow takes a ``DemoPage`` and returns what the next flow needs (a case
reference, later an appeal reference), so a test chains them:
report → card → (triage → appeal → sign, as those land in the router).
Expected texts are rendered from the catalogs, in the persona's language.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.demo import ORGANISATIONS
from handlers.conversation.record import State
from handlers.conversation.steps import CONSENTS, STEPS, URGENCIES
from handlers.i18n import render
from handlers.vocab import country_name
from tests.demo.browser import DemoPage
from tests.demo.constants import APPEAL_REF, CASE_REF, ref_in


@dataclass(frozen=True)
class Report:
    persona: str
    language: str
    what: str
    where: str
    who: str
    urgency: str = "immediate"
    consent: str = "public_anonymised"
    country: str = ""  # an ISO code among the demo's buttons; "" skips the question

    def t(self, message: str, **params: Any) -> str:
        return render(self.language, message, **params)


async def report(page: DemoPage, r: Report) -> str:
    """A defender reports a threat with /report; the case reference they get."""
    await page.be("private", r.persona)
    await page.say("private", "/report")
    await page.expect_bot("private", r.t(STEPS[State.WHAT].question))
    await page.say("private", r.what)
    await page.expect_bot("private", r.t("Noted. Add more, or press Done."))
    await page.press("private", r.t("Done"))
    await page.expect_bot("private", r.t(STEPS[State.WHERE].question))
    await page.say("private", r.where)
    # The demo's regions offer countries: the report asks one (issue 14).
    await page.expect_bot("private", r.t(STEPS[State.COUNTRY].question))
    await page.press("private", country_name(r.country, r.language) if r.country else r.t("Skip"))
    await page.expect_bot("private", r.t(STEPS[State.WHO].question))
    await page.say("private", r.who)
    await page.expect_bot("private", r.t(STEPS[State.URGENCY].question))
    await page.press("private", r.t(URGENCIES[r.urgency]))
    await page.expect_bot("private", r.t(STEPS[State.CONSENT].question))
    await page.press("private", r.t(CONSENTS[r.consent]))
    await page.expect_bot("private", r.t(STEPS[State.CONTACT].question))
    await page.press("private", r.t("Skip"))
    await page.expect_bot("private", r.t("Please check your report before sending it:"))
    await page.press("private", r.t("Send the report"))
    receipt = await page.expect_bot("private", CASE_REF)
    return ref_in(await receipt.inner_text(), CASE_REF)


async def card(page: DemoPage, ref: str) -> str:
    """The case card the triage room got for ``ref``; its text."""
    message = await page.expect_bot("triage", f"New case {ref}")
    return await message.inner_text()


async def sos(page: DemoPage, persona: str, language: str, text: str) -> str:
    """The one-step emergency: the case reference the defender is given."""
    await page.be("private", persona)
    await page.say("private", f"/sos {text}")
    alerted = page.messages("private", bot=True).filter(has_text=CASE_REF).last
    await alerted.wait_for()
    return ref_in(await alerted.inner_text(), CASE_REF)


async def ack_by_reply(page: DemoPage, ref: str, advisor: str = "advisor-1") -> None:
    """An advisor answers the case card with a bare /ack (the reply names the case)."""
    await page.be("triage", advisor)
    card = page.messages("triage", bot=True).filter(has_text=f"New case {ref}").last
    await card.locator("button.reply").click()
    await page.say("triage", "/ack")
    await page.expect_bot("triage", f"{ref} acknowledged. Escalation stopped.")


async def ask_defender(page: DemoPage, r: Report, ref: str, question: str, answer: str) -> None:
    """/ask relays a question to the defender, whose answer comes back under the reference."""
    await page.say("triage", f"/ask {ref} {question}")
    await page.expect_bot("triage", f"On its way to the defender of {ref}.")
    await page.be("private", r.persona)
    await page.expect_bot("private", question)
    await page.say("private", answer)
    await page.expect_bot("private", r.t("Sent to the advisory group under {ref}.", ref=ref))
    await page.expect_bot("triage", answer)


async def appeal(page: DemoPage, ref: str, texts: dict[str, str], deadline: str) -> str:
    """Two advisors draft, approve and send an appeal for case ``ref``; its reference."""
    await page.be("triage", "advisor-1")
    await page.say("triage", f"/appeal new {ref}")
    drafted = await page.expect_bot("triage", APPEAL_REF)
    appeal_ref = ref_in(await drafted.inner_text(), APPEAL_REF)
    for language, text in texts.items():
        await page.say("triage", f"/appeal text {appeal_ref} {language} {text}")
        await page.expect_bot("triage", f"Text of {appeal_ref} in {language} saved")
    await page.say("triage", f"/appeal deadline {appeal_ref} {deadline}")
    await page.expect_bot("triage", f"Deadline of {appeal_ref}: {deadline}")
    for advisor in ("advisor-1", "advisor-2"):
        await page.be("triage", advisor)
        await page.say("triage", f"/appeal approve {appeal_ref}")
        await page.expect_bot("triage", "approvals")
    await page.say("triage", f"/appeal send {appeal_ref}")
    await page.expect_bot_any("triage", f"{appeal_ref} is being sent to")
    return appeal_ref


async def sign(page: DemoPage, group: str, member: str, appeal_ref: str, language: str) -> None:
    """A member presses Sign on the appeal in their group; the group signs for its organisation."""
    organisation = next(o.name for o in ORGANISATIONS if o.group == f"web:{group}")
    await page.be(group, member)
    await page.press(group, render(language, "Sign"))
    thanks = render(language, "{name} signed {ref}. Thank you.", name=organisation, ref=appeal_ref)
    await page.expect_bot(group, thanks)
