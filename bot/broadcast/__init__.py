"""The broadcast engine: the outbox drained at each platform's rate limits.

``Dispatcher`` (dispatcher.py) runs one ``Lane`` (lane.py) per platform,
paced by token buckets (buckets.py, limits.py), with the outbox marks and
outcomes group-committed by the ``Journal`` (journal.py). What people see
of a broadcast (progress, the final report) is in ``handlers.broadcast``.
"""

from bot.broadcast.dispatcher import Dispatcher

__all__ = ["Dispatcher"]
