"""The benchmark harness: correctness only (every schedule passes the checker), never wall time."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from benchmarks.run import COLUMNS, Row, csv_text, machine_info, main, markdown


def _row(**changes: object) -> Row:
    row = Row(instance="S-1", size="S", seed=1, participants=40, method="cp-sat", time_limit=3.0, status="feasible",
              delivered=226, needed=291, vs_greedy=0, weighted_unmet=75.0, objective=279.0, best_bound=339.0,
              gap=0.177, first_solution_seconds=1.3, wall_seconds=2.7, build_seconds=0.4, peak_memory_mb=148.2,
              check="pass")
    for name, value in changes.items():
        setattr(row, name, value)
    return row


def test_markdown_and_csv_carry_every_column_and_the_machine() -> None:
    machine = machine_info()
    assert machine.cores >= 1 and machine.memory_gb > 0 and machine.ortools
    rows = [_row(method="greedy", time_limit=None, status="greedy", vs_greedy=None, best_bound=None, gap=None), _row()]
    text = markdown(rows, machine, "python -m benchmarks.run --sizes S", 2)
    assert f"OR-Tools {machine.ortools}" in text and f"Python {machine.python}" in text
    assert machine.cpu_model in text
    table = [line for line in text.splitlines() if line.startswith("| S-1")]
    assert len(table) == 2
    assert table[1].count("|") == len(COLUMNS) + 1
    assert "| 17.70% |" in table[1] and "| +0 |" in table[1] and "| pass |" in table[1]
    parsed = list(csv.DictReader(csv_text(rows).splitlines()))
    assert [r["method"] for r in parsed] == ["greedy", "cp-sat"]
    assert parsed[1]["passed"] == "True" and parsed[1]["best_bound"] == "339.0"


def test_a_failed_check_is_not_a_pass() -> None:
    assert not _row(check="FAIL (2)", violations=2).passed
    assert not _row(check="-", status="error").passed


@pytest.mark.slow
def test_harness_end_to_end_on_s_and_m(tmp_path: Path) -> None:
    out = tmp_path / "results" / "smoke.md"
    code = main(["--sizes", "S,M", "--seeds", "1", "--time-limits", "3", "--workers", "1", "--out", str(out)])
    text = out.read_text()
    rows = list(csv.DictReader(out.with_suffix(".csv").read_text().splitlines()))
    assert [(r["instance"], r["method"]) for r in rows] == [
        ("S-1", "greedy"), ("S-1", "cp-sat"), ("M-1", "greedy"), ("M-1", "cp-sat"),
    ]
    for row in rows:
        assert row["check"] == "pass", row
        assert int(row["delivered"]) <= int(row["needed"])
        assert float(row["peak_memory_mb"]) > 0
    for row in rows[1::2]:
        assert row["status"] in ("optimal", "feasible")
        assert float(row["objective"]) <= float(row["best_bound"])
    assert code == 0
    assert "| S-1 | S | 40 | cp-sat | 3 |" in text and "## Instances" in text
