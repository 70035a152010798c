"""What a platform id looks like, in one place for the registry, the config
and the commands.

Matrix room ids come in two forms (Matrix spec, "Room IDs"):

* ``!opaque:server.name`` — room versions 1 to 11;
* ``!`` and 43 characters of unpadded URL-safe base64, with no server part —
  room version 12, where the id is the reference hash of the room's create
  event. Current Synapse creates these by default, so refusing them would
  refuse every room of a current homeserver.
"""

from __future__ import annotations

import re

MATRIX_USER = re.compile(r"^@[^:\s]+:[^\s]+$")
MATRIX_ROOM_LEGACY = re.compile(r"^![^:\s]+:[^\s]+$")
MATRIX_ROOM_V12 = re.compile(r"^![A-Za-z0-9_-]{43}$")
MATRIX_ALIAS = re.compile(r"^#[^:\s]+:[^\s]+$")
TELEGRAM_PERSON = re.compile(r"^[1-9][0-9]{0,15}$")
TELEGRAM_CHAT = re.compile(r"^-[1-9][0-9]{0,15}$")


def is_matrix_room(ident: str) -> bool:
    """A room id of any room version (not an alias)."""
    return bool(MATRIX_ROOM_LEGACY.match(ident) or MATRIX_ROOM_V12.match(ident))


def is_person(platform: str, ident: str) -> bool:
    if platform == "matrix":
        return bool(MATRIX_USER.match(ident))
    if platform == "telegram":
        return bool(TELEGRAM_PERSON.match(ident))
    return False


def is_group(platform: str, ident: str, *, alias: bool = False) -> bool:
    """A group chat: a Telegram group or a Matrix room id of either form
    (an alias ``#name:server`` too when ``alias``: the config may name one)."""
    if platform == "matrix":
        return is_matrix_room(ident) or (alias and bool(MATRIX_ALIAS.match(ident)))
    if platform == "telegram":
        return bool(TELEGRAM_CHAT.match(ident))
    return False


def is_address(platform: str, ident: str) -> bool:
    """Anything a destination may be on that platform: a person or a group."""
    if platform == "web":
        return bool(ident)
    return is_person(platform, ident) or is_group(platform, ident, alias=True)
