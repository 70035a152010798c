"""Raw client-server API calls that matrix-nio 0.26 has no method for.

They go through the nio client's own aiohttp session (``client.send``), with
the access token in the header (never in the URL, so no proxy or log line
ever shows it). ``download_limited`` reads at most a given number of bytes,
so a sender who lies about a file's size cannot make the bot buffer more.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any
from urllib.parse import quote, urlparse

from nio import AsyncClient

log = logging.getLogger(__name__)

ATTEMPTS = 4
MAX_WAIT = 30.0


class MatrixApiError(Exception):
    """A non-2xx answer: ``status`` and ``errcode`` (the body stays out of the message)."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        self.status = status
        self.body = body
        self.errcode = str(body.get("errcode", ""))
        super().__init__(f"HTTP {status} {self.errcode}".strip())


async def api_request(
    client: AsyncClient, method: str, path: str, body: dict[str, Any] | None = None
) -> dict[str, Any]:
    """One JSON request; waits out ``M_LIMIT_EXCEEDED``; raises ``MatrixApiError``."""
    headers = {"Content-Type": "application/json"}
    if client.access_token:
        headers["Authorization"] = f"Bearer {client.access_token}"
    data = json.dumps(body) if body is not None else None
    for attempt in range(ATTEMPTS):
        response = await client.send(method, path, data, headers)
        try:
            try:
                parsed = await response.json(content_type=None)
            except ValueError:
                parsed = {}
            status = response.status
        finally:
            response.release()
        parsed = parsed if isinstance(parsed, dict) else {}
        if 200 <= status < 300:
            return parsed
        if status == 429 and attempt < ATTEMPTS - 1:
            wait = float(parsed.get("retry_after_ms") or 1000) / 1000
            log.warning("rate limited by the homeserver; waiting %.1f s", min(wait, MAX_WAIT))
            await asyncio.sleep(min(wait, MAX_WAIT))
            continue
        raise MatrixApiError(status, parsed)
    raise AssertionError("unreachable")  # pragma: no cover


def media_path(mxc: str) -> str | None:
    """The authenticated-media download path for an ``mxc://server/id`` URI."""
    parsed = urlparse(mxc)
    media_id = parsed.path.lstrip("/")
    if parsed.scheme != "mxc" or not parsed.netloc or not media_id or "/" in media_id:
        return None
    server, media = quote(parsed.netloc, safe=""), quote(media_id, safe="")
    return f"/_matrix/client/v1/media/download/{server}/{media}"


class TooLarge(Exception):
    """The download went past the limit and was abandoned."""


async def download_limited(client: AsyncClient, mxc: str, limit: int) -> bytes:
    """Fetch a file, abandoning it once it exceeds ``limit`` bytes."""
    path = media_path(mxc)
    if path is None:
        raise MatrixApiError(400, {"errcode": "M_INVALID_PARAM"})
    headers = {"Authorization": f"Bearer {client.access_token}"}
    response = await client.send("GET", path, None, headers, timeout=120)
    try:
        if response.status != 200:
            raise MatrixApiError(response.status, {})
        if response.content_length is not None and response.content_length > limit:
            raise TooLarge()
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.content.iter_chunked(64 * 1024):
            size += len(chunk)
            if size > limit:
                raise TooLarge()
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        response.release()
