"""``[casework] intake_countries``: the report's country buttons (issue 14)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot import config_casework
from bot.config import ConfigError, parse_config

REGIONS = ", ".join(f'"{c}=r"' for c in ("KE", "ML", "CD", "LB", "TN", "MX", "CO", "GT", "PH"))


def intake(section: str) -> tuple[str, ...]:
    config = parse_config(f"[casework]\n{section}\n", Path("/srv/sosbot"))
    return config_casework.casework(config.casework).intake_countries


def test_listed_codes_in_order_upper_case_once() -> None:
    assert intake('intake_countries = ["co", "MX", "CO"]') == ("CO", "MX")


def test_unset_takes_the_first_eight_countries_of_the_region_map() -> None:
    assert intake(f"regions = [{REGIONS}]") == ("KE", "ML", "CD", "LB", "TN", "MX", "CO", "GT")
    assert intake("") == (), "no regions, no list: the report does not ask"


def test_an_empty_list_turns_the_question_off() -> None:
    assert intake(f"regions = [{REGIONS}]\nintake_countries = []") == ()


def test_an_unknown_code_names_the_key() -> None:
    with pytest.raises(ConfigError) as caught:
        intake('intake_countries = ["CO", "XX"]')
    assert "casework.intake_countries" in str(caught.value) and "'XX'" in str(caught.value)
