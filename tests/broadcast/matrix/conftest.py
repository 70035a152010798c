"""The Matrix transport suite's bot account on the session's Synapse."""

from tests.matrix.conftest import kit  # noqa: F401
