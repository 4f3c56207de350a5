"""`python -m bench.preview [--corpus DIR] [--rounds N]`: `mimeops preview` throughput.

Messages per second over the shared corpus with the external-warning recipe, in
one process, files read from disk each round (the OS cache warm): the tally
alone, and the tally plus the HTML report (rendering every changed message's
before/after bodies and the page). Median of the rounds after one warm-up.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from mimeops.flow import load_flow
from mimeops.preview import Tally, find, run_one
from mimeops.preview.report import Report

ROOT = Path(__file__).resolve().parent.parent
FLOW = ROOT / "examples" / "flows" / "external-warning.yaml"
CORPUS = Path(os.environ.get("MIMEOPS_CORPUS", ROOT.parent / "shared" / "corpus"))


def one_round(corpus: Path, with_report: bool) -> tuple[float, int]:
    """(seconds, messages) of one preview run: find, apply, tally (and report)."""
    flow = load_flow(FLOW, marker_key=b"bench")
    started = time.perf_counter()
    sources = find([str(corpus)])
    tally = Tally.for_flow(flow)
    report = Report("bench") if with_report else None
    for item in sources.items:
        outcome = run_one(flow, item, "INBOUND")
        tally.add(outcome)
        if report is not None:
            report.add(outcome)
    if report is not None:
        with tempfile.TemporaryDirectory() as scratch:
            report.write(str(Path(scratch) / "r.html"), tally, "{}")
    return time.perf_counter() - started, tally.messages


def main() -> int:
    """Measure and print one line per mode."""
    parser = argparse.ArgumentParser(prog="python -m bench.preview")
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    if not args.corpus.is_dir():
        parser.error(f"no corpus at {args.corpus} (set MIMEOPS_CORPUS or --corpus)")
    for with_report in (False, True):
        one_round(args.corpus, with_report)  # warm-up: imports, OS cache
        runs = [one_round(args.corpus, with_report) for _ in range(args.rounds)]
        seconds = statistics.median(s for s, _ in runs)
        count = runs[0][1]
        mode = "tally + report" if with_report else "tally"
        print(f"{mode:15} {count} messages in {seconds * 1000:.0f} ms: "
              f"{count / seconds:,.0f} messages/s (median of {args.rounds})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
