"""The directory benchmark (`python -m bench.directory --quick`): behaviour only, no timing."""

from __future__ import annotations

from pathlib import Path

from bench import directory


def test_quick_run_reports_warm_overhead_and_cold_lookups(tmp_path: Path) -> None:
    out = tmp_path / "directory.md"
    assert directory.main(["--quick", "--output", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    for row in ("| signature (directory, warm) |", "| same footer, constant text |",
                "| user (DescribeEntity + DescribeUser) |",
                "| display-name index, 250 users (3 ListUsers pages) |",
                "| cached user (warm hit) |"):
        assert row in text
    assert "Overhead of the directory, warm: signature" in text
    assert "First use of the confusables table:" in text


def test_the_warm_flows_do_what_they_are_compared_for() -> None:
    cases = directory._flows()
    signature, envelope, raw = cases["signature (directory, warm)"]
    assert "Head of Purchasing" in signature.apply(raw, envelope).message.decode("utf-8", "replace")
    constant, envelope, raw = cases["same footer, constant text"]
    assert constant.apply(raw, envelope).applied == ["signature:footer"]
    for name in ("impersonation check, no match (warm)", "same rule, a cheap false condition"):
        flow, envelope, raw = cases[name]
        assert flow.apply(raw, envelope).applied == []
