"""What every handler is given: storage, the clock, settings and the hub."""

from __future__ import annotations

from dataclasses import dataclass, field

from handlers.clock import Clock
from handlers.hub import MessengerHub
from handlers.outgoing import Postman
from handlers.settings import Settings
from storage import Database


@dataclass
class Services:
    db: Database
    clock: Clock
    settings: Settings
    hub: MessengerHub
    """For what a platform knows (is a room encrypted, how to mention someone):
    handlers never send through it (``post`` queues every message)."""
    post: Postman = field(init=False)

    def __post_init__(self) -> None:
        self.post = Postman(self.db, self.settings.default_language)
