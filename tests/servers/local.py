"""What every server the tests start shares: a temporary directory of its own
while it runs, and a context manager that starts and stops it.

``PostgresServer`` and ``SynapseServer`` differ in everything else (how they
are started, waited for and stopped), so those stay abstract here.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from types import TracebackType
from typing import Self


class LocalServer(ABC):
    """A server on 127.0.0.1 with its files in ``tmpdir``, which exists from
    ``start()`` until ``stop()``."""

    _tmpdir: Path | None = None

    @abstractmethod
    def start(self) -> Self:
        """Make ``tmpdir``, start the server and wait until it answers."""

    @abstractmethod
    def stop(self) -> None:
        """Stop the server and remove ``tmpdir``; nothing to do when not started."""

    @property
    def tmpdir(self) -> Path:
        """The server's own directory (data, configuration, logs)."""
        return self._require_started()

    def _require_started(self) -> Path:
        if self._tmpdir is None:
            raise RuntimeError(f"{type(self).__name__} is not started")
        return self._tmpdir

    def _require_stopped(self) -> None:
        """``start()`` is once per ``stop()``: a second start would leak the first."""
        if self._tmpdir is not None:
            raise RuntimeError(f"{type(self).__name__} already started")

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
