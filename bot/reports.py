"""Charts for the annual report: cases by month and by threat type (``sosbot stats --chart``).

matplotlib is an optional extra (``pip install 'sosbot[reports]'``): a bot
that never draws charts does not carry it. The charts show only what the
tables show: a suppressed cell is drawn as an empty bar labelled "<3" (or
"≥3"), never with its count.
"""

from __future__ import annotations

from pathlib import Path

from handlers.statistics import HIDDEN, SMALL, Table


class ChartUnavailable(RuntimeError):
    """matplotlib is not installed."""


def _bars(axes: object, table: Table, title: str, rotate: bool) -> None:
    labels = [k for k, _ in table.rows]
    heights = [0 if v in (SMALL, HIDDEN) else int(v) for _, v in table.rows]
    ax = axes  # matplotlib's Axes; typed loosely so that mypy needs no stubs of it
    bars = ax.bar(labels, heights, color="#3b6ea5")  # type: ignore[attr-defined]
    for bar, (_, shown) in zip(bars, table.rows, strict=True):
        ax.annotate(  # type: ignore[attr-defined]
            shown,
            (bar.get_x() + bar.get_width() / 2, bar.get_height()),
            ha="center",
            va="bottom",
            fontsize=8,
        )
    ax.set_title(f"{title} (total {table.total})")  # type: ignore[attr-defined]
    ax.set_ylabel("cases")  # type: ignore[attr-defined]
    if rotate:
        ax.tick_params(axis="x", labelrotation=45)  # type: ignore[attr-defined]


def draw(by_month: Table, by_threat: Table, path: Path, period: str) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")  # no display: a file for the report
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ChartUnavailable("charts need matplotlib: pip install 'sosbot[reports]'") from exc
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(10, 9), constrained_layout=True)
    _bars(top, by_month, f"Cases by month opened, {period}", rotate=True)
    _bars(bottom, by_threat, "Cases by threat type (a case may have several)", rotate=True)
    figure.text(
        0.01,
        0.002,
        "Counts below 3 are shown as <3; ≥3 hides a cell that would reveal them.",
        fontsize=7,
    )
    figure.savefig(path, dpi=120)
    plt.close(figure)
