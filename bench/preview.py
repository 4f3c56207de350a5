"""`python -m bench.preview [--messages N] [--rounds R] [--output PATH]`: `mimeops preview`
at scale: throughput and memory over N messages (default 10,000) as .eml files.

The messages are the shared corpus over and over (else generated ones, bench/messages.py),
with the external-warning recipe. Each run is the real command in a fresh process
(`python -m mimeops preview`), timed from start to exit (interpreter start, imports,
the report's pages included), with its peak resident memory: the largest process of
the run, the worker processes included (`wait4`). Runs: the report with the default
worker count (the gate of issue 22: at least 500 messages/s), the tally alone, the
report in one process (`--jobs 1`), and the report over a quarter of the messages:
the same peak memory at a quarter and at all of them means memory does not grow with
the number of messages. Timings only; nothing asserts a time
(tests/test_bench_preview.py checks the report).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench import messages

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"
FLOW = ROOT / "examples" / "flows" / "external-warning.yaml"
CORPUS = Path(os.environ.get("MIMEOPS_CORPUS", ROOT.parent / "shared" / "corpus"))
TARGET = 500  # messages per second with the report (issue 22)


@dataclass
class Run:
    mode: str
    messages: int
    seconds: list[float]
    cpu: list[float]  # user + system seconds of every process of the run
    peak_kib: int

    @property
    def rate(self) -> float:
        return self.messages / statistics.median(self.seconds)

    @property
    def per_cpu_second(self) -> float:
        """Messages per CPU-second: what the run costs, whatever else the machine runs."""
        return self.messages / statistics.median(self.cpu)


def originals(corpus: Path) -> list[bytes]:
    """The corpus messages (a folder per source), else a generated set."""
    if corpus.is_dir():
        files = sorted(p for d in corpus.iterdir() if d.is_dir() and d.name != "LICENSES"
                       for p in d.iterdir() if p.is_file())
        if files:
            return [p.read_bytes() for p in files]
    return [messages.standard(size, seed) for seed, size in
            enumerate((4 * messages.KB, 12 * messages.KB, 40 * messages.KB, 150 * messages.KB))]


def build(folder: Path, count: int, corpus: Path) -> int:
    """`count` .eml files in `folder`; their total size in bytes."""
    folder.mkdir(parents=True)
    sources = originals(corpus)
    total = 0
    for number in range(count):
        raw = sources[number % len(sources)]
        (folder / f"m{number:06}.eml").write_bytes(raw)
        total += len(raw)
    return total


def run_once(folder: Path, *options: str) -> tuple[float, float, int, dict[str, object]]:
    """(seconds, CPU seconds, peak RSS in KiB of any process of the run, the tally) of one
    preview; the workers are waited for by the command, so `wait4` counts them too."""
    command = [sys.executable, "-m", "mimeops", "preview", "--config", str(FLOW), *options,
               str(folder)]
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                               cwd=ROOT)
    assert process.stdout is not None
    out = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode not in (0, 1):
        raise RuntimeError(f"preview exited {process.returncode}: {' '.join(command)}")
    return (seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss,
            json.loads(out.decode().splitlines()[-1]))


def measure(folder: Path, mode: str, rounds: int, scratch: Path, *options: str) -> Run:
    seconds, cpu, peaks, counted = [], [], [], 0
    for _ in range(rounds):
        report = ["--report", str(scratch / "report.html")] if "report" in mode else []
        elapsed, used, peak, tally = run_once(folder, *report, *options)
        seconds.append(elapsed)
        cpu.append(used)
        peaks.append(peak)
        counted = int(tally["messages"])  # type: ignore[call-overload]
    return Run(mode, counted, seconds, cpu, max(peaks))


def markdown(runs: list[Run], total_bytes: int, count: int, source: str) -> str:
    head = runs[0]
    verdict = "PASS" if head.rate >= TARGET else "BELOW TARGET"
    lines = [
        "# `mimeops preview` at scale", "",
        f"{count:,} messages ({total_bytes / 1e6:.0f} MB, {source}), external-warning recipe; "
        f"{platform.python_implementation()} {platform.python_version()}, "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} before the runs.", "",
        "| run | messages | seconds (median) | messages/s | CPU seconds | messages per "
        "CPU-second | peak RSS |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    lines += [f"| {r.mode} | {r.messages:,} | {statistics.median(r.seconds):.2f} "
              f"| {r.rate:,.0f} | {statistics.median(r.cpu):.2f} | {r.per_cpu_second:,.0f} "
              f"| {r.peak_kib / 1024:.0f} MiB |" for r in runs]
    lines += ["", f"Gate (issue 22): at least {TARGET} messages/s with the report: **{verdict}** "
                  f"({head.rate:,.0f} messages/s, median of {len(head.seconds)}; load average "
                  f"{os.getloadavg()[0]:.1f} after the runs: on a shared machine other "
                  "processes take their share of the cores, the CPU seconds do not change)."]
    quarter = next((r for r in runs if r.mode.startswith("report, a quarter")), None)
    if quarter is not None:
        lines.append(f"Memory: {quarter.peak_kib / 1024:.0f} MiB for {quarter.messages:,} "
                     f"messages, {head.peak_kib / 1024:.0f} MiB for {head.messages:,}.")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.preview", description=__doc__)
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the gated run")
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--output", type=Path, default=RESULTS / "preview.md")
    args = parser.parse_args(argv)
    scratch = Path(tempfile.mkdtemp(prefix="mimeops-bench-preview-"))
    try:
        total = build(scratch / "all", args.messages, args.corpus)
        quarter = args.messages // 4
        build(scratch / "quarter", quarter, args.corpus)
        print(f"bench: preview over {args.messages:,} messages ...", file=sys.stderr, flush=True)
        runs = [measure(scratch / "all", "report, default workers", args.rounds, scratch),
                measure(scratch / "all", "tally only, default workers", 1, scratch),
                measure(scratch / "all", "report, one process (--jobs 1)", 1, scratch,
                        "--jobs", "1"),
                measure(scratch / "quarter", "report, a quarter of the messages", 1, scratch)]
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    source = "the corpus over and over" if args.corpus.is_dir() else "generated messages"
    text = markdown(runs, total, args.messages, source)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
