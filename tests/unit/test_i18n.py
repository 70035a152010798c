from __future__ import annotations

from handlers.i18n import FSI, PDI, render, supported
from locales.catalogs import problems


def test_catalogs_are_current_complete_and_placeholders_match() -> None:
    assert problems() == []


def test_every_language_translates_the_welcome() -> None:
    english = render("en", "Please choose one of the options.")
    for language in ("es", "fr", "ar"):
        assert render(language, "Please choose one of the options.") != english


def test_arabic_isolates_user_text_and_references() -> None:
    text = render("ar", "Added to {ref}. The advisory group has been told.", ref="C-7K4QM2")
    assert f"{FSI}C-7K4QM2{PDI}" in text
    english = render("en", "Added to {ref}. The advisory group has been told.", ref="C-7K4QM2")
    assert FSI not in english and "C-7K4QM2" in english


def test_platform_hints() -> None:
    assert supported("es-MX") == "es"
    assert supported("ar_EG") == "ar"
    assert supported("FR") == "fr"
    assert supported("de") is None
    assert supported(None) is None


def test_commands_inside_arabic_text_are_isolated() -> None:
    text = render("ar", "/status — see the state of your cases")
    assert f"{FSI}/status{PDI}" in text
    assert render("en", "/status — see the state of your cases").startswith("/status")


def test_plurals_follow_each_languages_rules() -> None:
    from handlers.i18n import render_plural

    def signatures(language: str, n: int) -> str:
        return render_plural(
            language, "{ref}: {n} signature.", "{ref}: {n} signatures.", n, ref="A-1"
        )

    assert (
        signatures("en", 1) == "A-1: 1 signature." and signatures("en", 2) == "A-1: 2 signatures."
    )
    assert signatures("fr", 0).endswith("0 signature.")  # French: 0 takes the singular
    arabic = {n: signatures("ar", n) for n in (0, 1, 2, 3, 11, 100)}
    assert len(set(arabic.values())) == 6, "Arabic has six forms"
    assert "توقيعان" in arabic[2] and "توقيعًا" in arabic[11]
