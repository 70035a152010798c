"""``sosbot partners`` and ``sosbot stats`` as real processes in a fresh folder."""

from __future__ import annotations

import json
from pathlib import Path

from tests.unit.conftest import initialised, initialised_once  # noqa: F401  (fixtures)
from tests.unit.test_cli import sosbot

PARTNERS = (
    "name,kinds,regions,languages,contact,notes\n"
    "Lawyers Collective,legal;un_mechanisms,americas,es;en,matrix:@legal:example.org,24h line\n"
    "Safe Haven,relocation,africa,fr,+57 300 000 0000,\n"
)


def test_partners_import_and_export(initialised: Path) -> None:  # noqa: F811
    good = initialised / "partners.csv"
    good.write_text(PARTNERS)
    imported = sosbot(initialised, "partners", "import", str(good))
    assert imported.returncode == 0, imported.stderr
    assert "2 partners" in imported.stdout
    exported = sosbot(initialised, "partners", "export")
    assert exported.returncode == 0, exported.stderr
    # A cell a spreadsheet would run as a formula ("+57 …") is exported as text
    # (issue 13, as the member registry does); importing the export gives it back.
    assert exported.stdout == PARTNERS.replace(",+57 300", ",'+57 300")
    again = initialised / "again.csv"
    again.write_text(exported.stdout)
    assert sosbot(initialised, "partners", "import", str(again)).returncode == 0
    assert sosbot(initialised, "partners", "export").stdout == exported.stdout
    raw = b"".join(p.read_bytes() for p in (initialised / "data").glob("sosbot.db*"))
    assert b"Lawyers Collective" not in raw and b"@legal:example.org" not in raw


def test_a_partner_csv_with_one_bad_row_imports_nothing(initialised: Path) -> None:  # noqa: F811
    bad = initialised / "bad.csv"
    bad.write_text(PARTNERS + "Clinic,dentistry,asia,en,,\n")
    result = sosbot(initialised, "partners", "import", str(bad))
    assert result.returncode == 1
    assert "nothing imported" in result.stderr and "row 3" in result.stderr
    assert "dentistry" in result.stderr
    assert (
        sosbot(initialised, "partners", "export").stdout
        == "name,kinds,regions,languages,contact,notes\n"
    )


def test_stats_on_an_empty_year_and_its_chart(initialised: Path) -> None:  # noqa: F811
    args = ("stats", "--from", "2026-01-01", "--to", "2026-12-31")
    table = sosbot(initialised, *args)
    assert table.returncode == 0, table.stderr
    assert table.stdout.splitlines()[0].split() == ["month", "cases"]
    assert "total" in table.stdout
    as_json = sosbot(initialised, *args, "--by", "threat", "--format", "json")
    assert json.loads(as_json.stdout)["total"] == "0"
    chart = initialised / "report.png"
    drawn = sosbot(initialised, *args, "--chart", str(chart))
    assert drawn.returncode == 0, drawn.stderr
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    wrong = sosbot(initialised, "stats", "--from", "2026-12-31", "--to", "2026-01-01")
    assert wrong.returncode == 1 and "--to is before --from" in wrong.stderr
    bad = sosbot(initialised, *args, "--by", "colour")
    assert bad.returncode == 2 and "invalid choice" in bad.stderr
