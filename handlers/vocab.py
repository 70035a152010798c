"""The casework vocabularies: what a case may be tagged with, and their labels.

A case is tagged with words from fixed lists (``/tag C-… threat=death_threat``)
so that cases can be counted, filtered and compared across years and
languages. The lists come from the configuration (``[casework]``), with the
defaults below; a default word has a translated label, a word the network
added itself is shown as it is. Countries are ISO 3166-1 alpha-2 codes,
checked against CLDR's territory list (through Babel, which sosbot already
uses for its catalogs) and named in the reader's language.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cache

from babel import Locale

from handlers.i18n import N_, render
from storage.records import Referral

THREATS = {
    "killing": N_("killing"),
    "physical_attack": N_("physical attack"),
    "death_threat": N_("death threat"),
    "threat": N_("threat"),
    "harassment": N_("harassment"),
    "surveillance": N_("surveillance"),
    "criminalisation": N_("criminalisation"),
    "arrest": N_("arrest"),
    "disappearance": N_("disappearance"),
    "eviction": N_("eviction"),
    "raid": N_("raid"),
    "smear": N_("smear campaign"),
    "digital_attack": N_("digital attack"),
    "sexual_violence": N_("sexual violence"),
    "other": N_("other"),
}
PERPETRATORS = {
    "state_security": N_("state security forces"),
    "police": N_("police"),
    "judiciary": N_("judiciary"),
    "local_authority": N_("local authority"),
    "company": N_("company"),
    "private_security": N_("private security"),
    "armed_group": N_("armed group"),
    "community": N_("community"),
    "unknown": N_("unknown"),
    "other": N_("other"),
}
PROFILES = {
    "whrd": N_("woman human rights defender"),
    "indigenous": N_("indigenous"),
    "afro_descendant": N_("Afro-descendant"),
    "lgbtiq": N_("LGBTIQ+"),
    "land_defender": N_("land defender"),
    "journalist": N_("journalist"),
    "lawyer": N_("lawyer"),
    "trade_unionist": N_("trade unionist"),
    "community_leader": N_("community leader"),
}
RELATIONS = {
    "member": N_("member"),
    "member_community": N_("member's community"),
    "ally": N_("ally"),
    "none": N_("no relation"),
}
OUTCOMES = {
    "resolved": N_("resolved"),
    "risk_reduced": N_("risk reduced"),
    "ongoing_risk": N_("ongoing risk"),
    "worsened": N_("worsened"),
    "unknown": N_("unknown"),
    "withdrawn": N_("withdrawn"),
}
RISKS = {
    "low": N_("low"),
    "medium": N_("medium"),
    "high": N_("high"),
    "critical": N_("critical"),
}
REFERRAL_KINDS: dict[str, str] = {
    Referral.LEGAL: N_("legal"),
    Referral.MEDICAL: N_("medical"),
    Referral.PSYCHOSOCIAL: N_("psychosocial"),
    Referral.RELOCATION: N_("relocation"),
    Referral.EMERGENCY_FUNDS: N_("emergency funds"),
    Referral.DIGITAL_SECURITY: N_("digital security"),
    Referral.PHYSICAL_SECURITY: N_("physical security"),
    Referral.ADVOCACY: N_("advocacy"),
    Referral.UN_MECHANISMS: N_("UN mechanisms"),
    Referral.MATERIAL: N_("material"),
    Referral.OTHER: N_("other"),
}
"""The labels of ``storage.records.Referral``, the one vocabulary of referral kinds."""

TAG_KEYS = ("country", "threat", "perpetrator", "profile", "relation", "group")
SINGLE_VALUED = frozenset({"country", "relation"})
"""Keys that hold one value; the others take a comma-separated list."""

# CLDR lists these two-letter codes among territories, but ISO 3166-1 does not
# (exceptional reservations, pseudo-locales, groupings). Kosovo (XK) stays: it
# is user-assigned but in general use.
_NOT_COUNTRIES = frozenset(
    {"AC", "CP", "CQ", "DG", "EA", "EU", "EZ", "IC", "QO", "TA", "UN", "XA", "XB", "ZZ"}
)


@cache
def countries() -> frozenset[str]:
    """ISO 3166-1 alpha-2 codes (CLDR's two-letter territories)."""
    codes = (str(code) for code in Locale("en").territories)
    return frozenset(c for c in codes if len(c) == 2 and c.isalpha() and c not in _NOT_COUNTRIES)


def country_name(code: str, language: str) -> str:
    names = Locale.parse(language).territories
    return str(names.get(code, code))


def _fold(text: str) -> str:
    """Case, accents and punctuation do not matter: "Côte d'Ivoire" = "cote divoire"."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if c.isalnum())


@cache
def _country_names(languages: tuple[str, ...]) -> dict[str, frozenset[str]]:
    """Folded country name (CLDR, in each of ``languages``) → the codes it names."""
    names: dict[str, set[str]] = {}
    for language in languages:
        territories = Locale.parse(language).territories
        for code in countries():
            folded = _fold(str(territories.get(code, "")))
            if folded:
                names.setdefault(folded, set()).add(code)
    return {name: frozenset(codes) for name, codes in names.items()}


def find_countries(text: str, languages: Iterable[str]) -> list[str]:
    """The ISO codes a defender's words may mean: a two-letter code, a name in
    any of ``languages`` ("Colombie", "كولومبيا"), or the start of one
    ("Congo" → CD, CG). Empty when nothing matches; sorted when several do."""
    words = text.strip()
    if len(words) == 2 and words.upper() in countries():
        return [words.upper()]
    folded = _fold(words)
    if not folded:
        return []
    names = _country_names(tuple(sorted(set(languages))))
    if folded in names:
        return sorted(names[folded])
    if len(folded) < 3:  # too short to be the start of one name
        return []
    found: set[str] = set()
    for name, codes in names.items():
        if name.startswith(folded):
            found |= codes
    return sorted(found)


@dataclass(frozen=True)
class Casework:
    """The ``[casework]`` settings handlers need."""

    threats: tuple[str, ...] = tuple(THREATS)
    perpetrators: tuple[str, ...] = tuple(PERPETRATORS)
    profiles: tuple[str, ...] = tuple(PROFILES)
    relations: tuple[str, ...] = tuple(RELATIONS)
    working_groups: tuple[str, ...] = ()
    regions: Mapping[str, str] = field(default_factory=dict)
    """Country code → the network's region name."""
    followup_after: Mapping[str, timedelta] = field(
        default_factory=lambda: {
            "critical": timedelta(days=2),
            "high": timedelta(days=7),
            "medium": timedelta(days=14),
            "low": timedelta(days=30),
        }
    )
    referral_reminder_after: timedelta = timedelta(days=7)
    intake_countries: tuple[str, ...] = ()
    """The countries the report offers as buttons (ISO codes); none: no question."""

    def allowed(self, key: str) -> tuple[str, ...]:
        if key == "country":
            return tuple(sorted(countries()))
        return {
            "threat": self.threats,
            "perpetrator": self.perpetrators,
            "profile": self.profiles,
            "relation": self.relations,
            "group": self.working_groups,
        }[key]

    def region(self, country: str | None) -> str | None:
        if not country:
            return None
        return self.regions.get(country, "other")


def label(key: str, value: str, language: str) -> str:
    """A tag value as the reader sees it: translated where sosbot knows the word."""
    if key == "country":
        return f"{country_name(value, language)} ({value})"
    known: dict[str, str] = {
        "threat": THREATS,
        "perpetrator": PERPETRATORS,
        "profile": PROFILES,
        "relation": RELATIONS,
        "outcome": OUTCOMES,
        "risk": RISKS,
        "kind": REFERRAL_KINDS,
    }.get(key, {})
    return render(language, known[value]) if value in known else value


KEY_LABELS = {
    "country": N_("Country"),
    "threat": N_("Threat"),
    "perpetrator": N_("Perpetrator"),
    "profile": N_("Profile"),
    "relation": N_("Relation to the network"),
    "group": N_("Working group"),
}


class TagError(ValueError):
    """A /tag argument that does not fit: ``key`` and the allowed values say why."""

    def __init__(self, key: str, value: str, allowed: Iterable[str]) -> None:
        super().__init__(f"{key}={value}")
        self.key = key
        self.value = value
        self.allowed = tuple(allowed)


def parse_tags(words: Iterable[str], casework: Casework) -> dict[str, tuple[str, ...]]:
    """``country=CO threat=a,b group=`` → ``{"country": ("CO",), "threat": (…), "group": ()}``.

    Each key replaces its values; an empty value clears the key. Anything
    unknown raises ``TagError`` before anything is stored.
    """
    changes: dict[str, tuple[str, ...]] = {}
    for word in words:
        key, sep, raw = word.partition("=")
        key = key.strip().casefold()
        if not sep or key not in TAG_KEYS:
            raise TagError("key", key or word, TAG_KEYS)
        values = [v.strip() for v in raw.split(",") if v.strip()]
        values = [v.upper() if key == "country" else v.casefold() for v in values]
        allowed = casework.allowed(key)
        for value in values:
            if value not in allowed:
                raise TagError(key, value, allowed)
        if key in SINGLE_VALUED and len(values) > 1:
            raise TagError(key, raw, allowed)
        changes[key] = tuple(dict.fromkeys(values))
    return changes


def tag_lines(tags: Mapping[str, Iterable[str]], language: str) -> list[str]:
    """One line per set key, in the fixed key order."""
    lines = []
    for key in TAG_KEYS:
        values = tuple(tags.get(key, ()))
        if values:
            shown = ", ".join(label(key, v, language) for v in values)
            lines.append(f"{render(language, KEY_LABELS[key])}: {shown}")
    return lines
