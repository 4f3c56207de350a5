"""The preview benchmark (`python -m bench.preview`): behaviour only, no timing."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import preview

pytestmark = pytest.mark.slow


def test_a_small_run_reports_each_mode_and_the_gate(tmp_path: Path) -> None:
    out = tmp_path / "preview.md"
    assert preview.main(["--messages", "240", "--rounds", "1", "--output", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    assert "| messages per CPU-second |" in text
    for row in ("| report, default workers | 240 |", "| tally only, default workers | 240 |",
                "| report, one process (--jobs 1) | 240 |",
                "| report, a quarter of the messages | 60 |"):
        assert row in text
    assert "Gate (issue 22): at least 500 messages/s with the report:" in text
    assert "Memory:" in text and "MiB for 60 messages" in text


def test_without_the_corpus_it_generates_messages(tmp_path: Path) -> None:
    folder = tmp_path / "m"
    total = preview.build(folder, 8, tmp_path / "no-corpus")
    assert len(list(folder.iterdir())) == 8 and total > 8 * 4000
