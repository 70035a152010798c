"""What the app asks of a transport."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

from handlers.messages import IncomingMessage, Platform
from handlers.messenger import Messenger

Deliver = Callable[[IncomingMessage, Messenger], Awaitable[None]]
"""How a transport hands an incoming message to the handlers."""

FileGate = Callable[[IncomingMessage], Awaitable[bool]]
"""Asked before a transport downloads a message's files (given without them):
whether the sender is within the rate limit and something takes files now
(``Router.takes_files``, handlers/file_gate.py). No: the files stay unfetched."""


class TransportStartError(RuntimeError):
    """A transport cannot start; the message is one line for the operator, naming the host."""


class Transport(Protocol):
    @property
    def platform(self) -> Platform: ...

    @property
    def messenger(self) -> Messenger: ...

    async def start(self, deliver: Deliver, takes_files: FileGate | None = None) -> None:
        """Connect, catch up on what arrived while down, then keep receiving; files are
        downloaded only where ``takes_files`` says so."""
        ...

    async def stop(self) -> None:
        """Stop receiving; finish in-flight handling; never log out."""
        ...

    async def check(self) -> str:
        """Try the connection once; a one-line verdict, or raise with one."""
        ...
