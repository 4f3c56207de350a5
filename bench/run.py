"""`python -m bench [--quick] [--output PATH] [--no-coldstart]`: measure, print, write."""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench import approaches, coldstart, messages, report, scaling
from bench.measure import Timing, interleaved, peak_allocation

RESULTS = Path(__file__).resolve().parent / "results"
APPROACHES = ("floor", "engine", "stdlib")


@dataclass(frozen=True)
class Settings:
    quick: bool
    sizes: tuple[tuple[str, int], ...]
    min_runs: int
    budget: float          # seconds of timed rounds per message size
    curve_budget: float    # seconds per scaling point
    coldstart_runs: int
    large_message: int     # bytes of the warm invocation that sizes memory (0: skip)

    @classmethod
    def make(cls, quick: bool) -> Settings:
        kb, mb = messages.KB, messages.MB
        if quick:
            return cls(True, (("10 KiB", 10 * kb), ("200 KiB", 200 * kb)), 5, 0.05, 0.02,
                       1, 0)
        return cls(False, (("10 KiB", 10 * kb), ("1 MiB", mb), ("10 MiB", 10 * mb),
                           ("25 MiB", 25 * mb)), 5, 6.0, 0.6, 9, 40 * mb)


@dataclass
class SizeResult:
    label: str
    message_bytes: int
    timings: dict[str, Timing]
    peaks: dict[str, int]              # bytes allocated while applying, per approach
    engine_deterministic: bool         # the engine's output equals its own re-run
    engine_banner: bool                # ... and carries the banner
    stdlib_banner: bool                # the stdlib output carries the banner (decoded)

    def ratio(self, a: str, b: str) -> float:
        return self.timings[a].median / self.timings[b].median


@dataclass
class Results:
    settings: Settings
    started: float
    load_before: tuple[float, float, float]
    sizes: list[SizeResult] = field(default_factory=list)
    curves: list[scaling.CurveResult] = field(default_factory=list)
    cold: coldstart.ColdStart | None = None
    profile: list[tuple[str, int, float, float]] = field(default_factory=list)
    load_after: tuple[float, float, float] = (0.0, 0.0, 0.0)
    seconds: float = 0.0


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def measure_size(label: str, size: int, settings: Settings) -> SizeResult:
    raw = messages.standard(size)
    flow = approaches.load_bench_flow()
    calls: dict[str, Callable[[bytes], object]] = {
        "floor": approaches.floor(approaches.absent_delimiter(raw)),
        "engine": approaches.engine(flow),
        "stdlib": approaches.stdlib,
    }
    outputs: dict[str, list[bytes]] = {name: [] for name in calls}

    def keep(name: str, out: object) -> None:
        if name != "floor":
            assert isinstance(out, bytes)
            outputs[name].append(out)

    timings = interleaved(calls, raw, min_runs=settings.min_runs, max_runs=2000,
                          budget=settings.budget, keep=keep)
    engine_out, stdlib_out = outputs["engine"], outputs["stdlib"]
    deterministic = len(engine_out) == 2 and engine_out[0] == engine_out[1]
    banner = approaches.BANNER_TEXT.encode()
    engine_banner = all(banner in out for out in engine_out)
    stdlib_banner = approaches.stdlib_has_banner(stdlib_out[-1])
    outputs.clear()
    peaks = {name: peak_allocation(call, raw) for name, call in calls.items()}
    return SizeResult(label, len(raw), timings, peaks, deterministic, engine_banner,
                      stdlib_banner)


def profile_engine(size: int, top: int = 12) -> list[tuple[str, int, float, float]]:
    """(function, calls, own ms, cumulative ms) of one flow.apply, by own time."""
    raw = messages.standard(size)
    apply = approaches.engine(approaches.load_bench_flow())
    apply(raw)
    profiler = cProfile.Profile()
    profiler.runcall(apply, raw)
    stats = pstats.Stats(profiler)
    rows = []
    for (path, line, name), (_, calls, tot, cum, _) in stats.stats.items():  # type: ignore[attr-defined]
        where = name if path == "~" else f"{Path(path).name}:{line}({name})"
        rows.append((where, calls, tot * 1000, cum * 1000))
    return sorted(rows, key=lambda row: -row[2])[:top]


def run(quick: bool = False, *, with_coldstart: bool = True) -> Results:
    settings = Settings.make(quick)
    results = Results(settings, time.time(), os.getloadavg())
    started = time.perf_counter()
    for label, size in settings.sizes:
        _log(f"bench: {label} message: floor, engine, stdlib ...")
        results.sizes.append(measure_size(label, size, settings))
    results.profile = profile_engine(settings.sizes[-1][1])
    flow = approaches.load_bench_flow()
    for curve in scaling.curves(quick):
        _log(f"bench: scaling, {curve.title.lower()} ...")
        results.curves.append(scaling.run_curve(curve, flow, min_runs=settings.min_runs,
                                                budget=settings.curve_budget))
    if with_coldstart:
        _log(f"bench: cold start, {settings.coldstart_runs} fresh interpreters of each kind ...")
        large = messages.standard(settings.large_message) if settings.large_message else None
        results.cold = coldstart.measure(settings.coldstart_runs,
                                         messages.standard(10 * messages.KB), large)
    results.load_after = os.getloadavg()
    results.seconds = time.perf_counter() - started
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true",
                        help="tiny messages and few runs: a smoke test in seconds")
    parser.add_argument("--output", type=Path,
                        help="where to write the markdown report (default: "
                             "bench/results/latest.md, or quick.md with --quick)")
    parser.add_argument("--no-coldstart", action="store_true",
                        help="skip the cold-start measurement (fresh interpreters)")
    args = parser.parse_args(argv)
    results = run(args.quick, with_coldstart=not args.no_coldstart)
    text = report.markdown(results)
    output = args.output or RESULTS / ("quick.md" if args.quick else "latest.md")
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text, encoding="utf-8")
    print(text)
    _log(f"bench: report written to {output} ({results.seconds:.0f} s)")
    return 0
