"""What a failed turn leaves in the log: the exception's type and where it was
raised (file, function, line), never its message or arguments, which may
hold what a person wrote."""

from __future__ import annotations

import os
import traceback


def where(exc: BaseException) -> str:
    """``module.py:function:line`` of the innermost frame of ``exc``'s traceback."""
    frames = traceback.extract_tb(exc.__traceback__) if exc.__traceback__ else []
    if not frames:
        return "?"
    last = frames[-1]
    return f"{os.path.basename(last.filename)}:{last.name}:{last.lineno}"
