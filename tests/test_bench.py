"""The benchmark harness (`python -m bench --quick`), in process: behaviour only.

Nothing here asserts a time: timings depend on the machine and its load. What
is checked is that the benchmark measures what it says it measures.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import approaches, messages, report
from bench.run import Results, main, run

pytestmark = pytest.mark.slow

KB = messages.KB


@pytest.fixture(scope="module")
def quick() -> tuple[Results, str]:
    results = run(quick=True)
    return results, report.markdown(results)


def test_report_has_a_row_for_each_approach(quick: tuple[Results, str]) -> None:
    results, text = quick
    assert results.sizes
    for size in results.sizes:
        assert set(size.timings) == {"floor", "engine", "stdlib"}
        assert all(t.runs >= results.settings.min_runs for t in size.timings.values())
        for name in ("floor", "engine", "stdlib"):
            assert f"| {size.label} | {name} |" in text
        assert size.peaks["floor"] >= size.message_bytes  # the floor really copies
    for section in ("## Machine", "## Targets", "### Side by side", "## Scaling",
                    "## Cold start", "## Recommended Lambda memory"):
        assert section in text
    assert report.cpu_model() in text


def test_quick_run_checks_its_outputs(quick: tuple[Results, str]) -> None:
    results, _ = quick
    for size in results.sizes:
        assert size.engine_deterministic
        assert size.engine_banner
        assert size.stdlib_banner
    for curve in results.curves:
        assert [p.n for p in curve.points] == list(curve.curve.sizes)
        assert all(p.banner for p in curve.points)


def test_cold_start_children_really_updated_the_message(quick: tuple[Results, str]) -> None:
    cold = quick[0].cold
    assert cold is not None
    assert cold.updated
    assert len(cold.boto3_import.samples) == len(cold.handler_import.samples) == cold.runs


def test_engine_output_equals_its_own_rerun() -> None:
    raw = messages.standard(10 * KB)
    apply = approaches.engine(approaches.load_bench_flow())
    first, second = apply(raw), apply(raw)
    assert first == second
    assert first != raw
    assert approaches.BANNER_TEXT.encode() in first
    assert b"Subject: [EXTERNAL] " in first


def test_stdlib_output_contains_the_banner() -> None:
    raw = messages.standard(10 * KB)
    out = approaches.stdlib(raw)
    assert approaches.stdlib_has_banner(out)
    assert not approaches.stdlib_has_banner(raw)


def test_floor_scans_for_an_absent_delimiter_and_copies() -> None:
    raw = messages.standard(10 * KB)
    needle = approaches.absent_delimiter(raw)
    assert needle not in raw
    assert len(needle) == len(b"--" + messages.MIXED_BOUNDARY.encode())
    out = approaches.floor(needle)(raw)
    assert out == raw
    assert isinstance(out, bytearray)


@pytest.mark.parametrize("size", [10 * KB, 300 * KB])
def test_messages_are_deterministic_crlf_and_near_their_size(size: int) -> None:
    raw = messages.standard(size)
    assert raw == messages.standard(size)
    assert abs(len(raw) - size) < size * 0.02
    assert raw.count(b"\n") == raw.count(b"\r\n")


def test_main_prints_and_writes_the_report(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    output = tmp_path / "report.md"
    assert main(["--quick", "--no-coldstart", "--output", str(output)]) == 0
    text = output.read_text(encoding="utf-8")
    assert text.startswith("# mimeops performance")
    assert "## Cold start" not in text
    assert text in capsys.readouterr().out
