"""What every handler is given: storage, the clock, settings and the hub."""

from __future__ import annotations

from dataclasses import dataclass

from handlers.clock import Clock
from handlers.hub import MessengerHub
from handlers.settings import Settings
from storage import Database


@dataclass
class Services:
    db: Database
    clock: Clock
    settings: Settings
    hub: MessengerHub
