from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from tests.harness.bot import Harness, make_harness
from tests.telegram.conftest import world  # noqa: F401 - the Telegram world fixture

# Property tests: 10,000 examples per property in CI (CI=true), the intake
# property included, 300 while developing. The properties build their bot and
# data folder once and put back before each example only the rows it wrote
# (tests/hardening/property_bots.py); docs/performance.md has the figures. Derandomized, so a run is reproducible and a failure in CI fails
# the same way on a laptop. bench/fuzz.py runs more, with random seeds.
# SOSBOT_PROPERTY_EXAMPLES lowers (or raises) the CI count without editing this.
CI_EXAMPLES = int(os.environ.get("SOSBOT_PROPERTY_EXAMPLES", "10000"))
INTAKE_CI_EXAMPLES = CI_EXAMPLES
"""The intake property sends every example through the router and storage; since
issue 13's rework (statements built once, one read and one write of the
conversation, rows put back instead of the whole database) an example costs
about 8 ms of CPU instead of 25, so it runs as many as the others
(docs/performance.md)."""
settings.register_profile(
    "ci",
    max_examples=CI_EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "dev",
    max_examples=300,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
# bench/fuzz.py: as many examples as FUZZ_EXAMPLES says, a new random seed
# each run, nothing kept in a local example database.
settings.register_profile(
    "fuzz",
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "1000000")),
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
PROFILE = os.environ.get("HYPOTHESIS_PROFILE") or (
    "ci" if os.environ.get("CI") == "true" else "dev"
)
settings.load_profile(PROFILE)
INTAKE_EXAMPLES = INTAKE_CI_EXAMPLES if PROFILE == "ci" else settings.default.max_examples
# A property runs for minutes by design (pytest's 300-second guard is for hangs);
# under bench/fuzz.py for hours (a marker's timeout wins over ``--timeout=0``,
# so the fuzz profile sets none: a million examples stopped at 30 minutes).
PROPERTY_TIMEOUT = 0 if PROFILE == "fuzz" else 1800


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[Harness]:
    harness = await make_harness(tmp_path)
    yield harness
    await harness.close()
