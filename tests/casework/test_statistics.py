"""Small-cell suppression (pure): no hidden cell can be worked out from what is shown."""

from __future__ import annotations

import itertools
import random

from handlers.statistics import HIDDEN, SMALL, pinned, protect, render_table, table
from storage.records_casework import StatRow


def consistent_values(
    cells: dict[str, int], shown: dict[str, str], total: int
) -> dict[str, set[int]]:
    """Every value each hidden cell can take, given the shown cells and the total (brute force)."""
    hidden = [k for k, v in shown.items() if v in (SMALL, HIDDEN)]
    rest = total - sum(int(v) for v in shown.values() if v not in (SMALL, HIDDEN))
    ranges = [range(1, 3) if shown[k] == SMALL else range(3, total + 1) for k in hidden]
    possible: dict[str, set[int]] = {k: set() for k in hidden}
    for combo in itertools.product(*ranges):
        if sum(combo) == rest:
            for key, value in zip(hidden, combo, strict=True):
                possible[key].add(value)
    return possible


def test_one_small_cell_hides_a_second_one() -> None:
    assert protect({"A": 5, "B": 1}, 6) == {"A": HIDDEN, "B": SMALL}
    assert protect({"A": 10, "B": 7, "C": 1}, 18) == {"A": "10", "B": HIDDEN, "C": SMALL}


def test_two_small_cells_that_add_up_to_two_are_not_left_alone() -> None:
    shown = protect({"A": 1, "B": 1, "C": 9}, 11)
    assert shown == {"A": SMALL, "B": SMALL, "C": HIDDEN}


def test_without_a_total_only_small_cells_are_hidden() -> None:
    assert protect({"A": 5, "B": 1}, None) == {"A": "5", "B": SMALL}


def test_random_tables_never_pin_a_hidden_cell() -> None:
    rng = random.Random(14)
    for _ in range(300):
        cells = {f"k{i}": rng.choice([1, 1, 2, 3, 4, 5, 8, 13]) for i in range(rng.randint(1, 5))}
        total = sum(cells.values())
        shown = protect(cells, total)
        for key, value in cells.items():
            if shown[key] not in (SMALL, HIDDEN):
                assert shown[key] == str(value)
            elif shown[key] == SMALL:
                assert value < 3
        if not any(v < 3 for v in cells.values()):
            continue
        possible = consistent_values(cells, shown, total)
        assert all(cells[key] in values for key, values in possible.items())
        worked_out = any(len(values) < 2 for values in possible.values())
        # pinned() is what table() uses to withhold a breakdown: it must agree.
        assert worked_out == pinned(cells, shown, total), (cells, shown)
        if worked_out:
            assert all(v in (SMALL, HIDDEN) for v in shown.values()), "hide more first"


def row(month: str, country: str | None, region: str | None, threats: tuple[str, ...]) -> StatRow:
    return StatRow(
        month, month, country, region, threats, (), (), None, "days", 10, 20, 0, 0, 1, 0, "resolved"
    )


def test_a_breakdown_that_gives_itself_away_is_withheld() -> None:
    rows = [row("2026-01", "CO", "americas", ())] * 2 + [row("2026-02", "KE", "africa", ())] * 2
    result = table(rows, "month")
    assert result.total == "4" and result.rows == []


def test_a_tiny_total_shows_no_breakdown() -> None:
    result = table([row("2026-01", "CO", "americas", ("raid",))] * 2, "country")
    assert result.total == SMALL and result.rows == [] and result.summary == []


def test_countries_are_protected_within_their_region() -> None:
    rows = (
        [row("2026-01", "CO", "americas", ())] * 10
        + [row("2026-01", "MX", "americas", ())] * 4
        + [row("2026-01", "GT", "americas", ())] * 1
        + [row("2026-01", "KE", "africa", ())] * 6
    )
    shown = dict(table(rows, "country").rows)
    # The americas total (15) is published by region: GT cannot be worked out from it.
    assert shown["GT"] == SMALL and HIDDEN in (shown["MX"], shown["CO"])
    assert shown["KE"] == "6"
    by_region = dict(table(rows, "region").rows)
    assert by_region == {"americas": "15", "africa": "6"}


def test_formats() -> None:
    rows = [row("2026-01", "CO", "americas", ("raid", "arrest"))] * 4 + [
        row("2026-02", "KE", "africa", ("raid",))
    ]
    result = table(rows, "threat")
    assert result.rows == [("raid", "5"), ("arrest", "4")]
    csv_text = render_table(result, "csv")
    assert csv_text.splitlines()[:4] == ["threat,cases", "raid,5", "arrest,4", "total,5"]
    assert '"total": "5"' in render_table(result, "json")
    text = render_table(table(rows, "month"), "table")
    assert "2026-02" in text and "<3" in text
