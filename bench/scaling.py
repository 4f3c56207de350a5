"""Scaling curves: flow.apply time as one dimension of the message grows."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from bench import messages
from bench.approaches import BANNER_TEXT, engine
from bench.measure import Call, Timing, interleaved, loglog_slope
from mimeops import Flow
from mimeops.mime.model import MAX_DEPTH

LINEAR_SLOPE = 1.2  # growth exponent of the last segment up to which we call a curve linear


@dataclass(frozen=True)
class Curve:
    key: str
    title: str
    unit: str            # what n counts
    per: str             # how the per-unit cost is shown: "us" per unit or "ms/MB"
    sizes: tuple[float, ...]
    build: Callable[[float], bytes]
    note: str = ""


@dataclass
class Point:
    n: float
    message_bytes: int
    timing: Timing
    banner: bool  # the banner went in (the body was found and edited)

    @property
    def per_unit(self) -> float:
        return self.timing.median / self.n


@dataclass
class CurveResult:
    curve: Curve
    points: list[Point] = field(default_factory=list)

    @property
    def slope(self) -> float:
        """Growth exponent between the two largest sizes."""
        a, b = self.points[-2], self.points[-1]
        return loglog_slope((a.n, b.n), (a.timing.median, b.timing.median))

    @property
    def overall_slope(self) -> float:
        a, b = self.points[0], self.points[-1]
        return loglog_slope((a.n, b.n), (a.timing.median, b.timing.median))

    @property
    def linear(self) -> bool:
        return self.slope <= LINEAR_SLOPE


def curves(quick: bool) -> list[Curve]:
    mb = messages.MB
    parts: tuple[float, ...]
    depths: tuple[float, ...]
    past: tuple[float, ...]
    lines_mb: tuple[float, ...]
    header_lines: tuple[float, ...]
    if quick:
        parts, depths, past = (20, 40), (3, 6), (MAX_DEPTH + 10, MAX_DEPTH + 20)
        lines_mb, header_lines = (0.02, 0.04), (100, 200)
    else:
        parts, depths = (250, 500, 1000, 2000), (8, 16, 32, MAX_DEPTH)
        past = (100, 200, 400, 800)
        lines_mb, header_lines = (1, 2.5, 5, 10), (1000, 2500, 5000, 10_000, 20_000)
    return [
        Curve("parts", "Parts in one multipart/mixed", "parts", "us", parts,
              lambda n: messages.many_parts(int(n)),
              "text + HTML bodies, then 1 KB base64 attachments"),
        Curve("nesting", "Nesting depth", "levels", "us", depths,
              lambda n: messages.nested(int(n)),
              "each level a multipart/mixed with the next level and a small attachment, "
              f"the bodies at the bottom, up to the engine's limit of {MAX_DEPTH} levels"),
        Curve("nesting-past", "Nesting depth past the limit", "levels", "us", past,
              lambda n: messages.nested(int(n)),
              f"the same messages deeper than {MAX_DEPTH} levels: the engine keeps the inner "
              "multiparts opaque, finds no body to enter, and after the full attempt puts "
              "a text part with the banner in front (the fallback ladder's first rung): a "
              "step up at the limit, linear after it"),
        Curve("line", "Single-line bodies", "MB", "ms/MB", lines_mb,
              lambda n: messages.long_lines(int(n * mb)),
              "text/plain + text/html, one line each (7bit over 998 octets: the edit "
              "re-encodes both as quoted-printable)"),
        Curve("headers", "Header lines", "lines", "us", header_lines,
              lambda n: messages.many_headers(int(n)),
              "folded Received fields before From/To/Subject, then text + HTML bodies"),
    ]


def run_curve(curve: Curve, flow: Flow, *, min_runs: int, budget: float) -> CurveResult:
    """Time every size of `curve`, interleaved (`budget` seconds per size on average), so
    that a burst of load elsewhere on the machine does not bend one point of the curve."""
    apply = engine(flow)
    banner = BANNER_TEXT.encode()
    inputs = {f"{n:g}": curve.build(n) for n in curve.sizes}
    seen: dict[str, list[bool]] = {key: [] for key in inputs}

    def bound(raw: bytes) -> Call:
        return lambda _: apply(raw)

    def keep(key: str, out: bytes) -> None:
        seen[key].append(banner in out)

    calls = {key: bound(raw) for key, raw in inputs.items()}
    timings = interleaved(calls, b"", min_runs=min_runs, max_runs=500,
                          budget=budget * len(calls), keep=keep)
    result = CurveResult(curve)
    for n, (key, raw) in zip(curve.sizes, inputs.items(), strict=True):
        result.points.append(Point(n, len(raw), timings[key], all(seen[key])))
    return result
