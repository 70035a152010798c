from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from tests.harness.bot import Harness, make_harness
from tests.telegram.conftest import world  # noqa: F401 - the Telegram world fixture

# Property tests: 300 examples per property while developing, 500 in CI
# (CI=true): the six properties then take about a minute on the shared 2-core
# machine, inside the whole suite's 15-minute budget (10,000 each would take
# about 40 minutes; docs/performance.md). Derandomized, so a run is
# reproducible and a failure in CI fails the same way on a laptop. The long
# runs (10,000 and more per property, a million) are bench/fuzz.py's, with
# random seeds.
CI_EXAMPLES = 500
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
settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") == "true" else "dev")
)


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[Harness]:
    harness = await make_harness(tmp_path)
    yield harness
    await harness.close()
