"""`python -m bench.smtp [--messages N] [--levels 1,4,8] [--budget S]`: mail through Postfix.

Messages per second, end to end (submitted to Postfix over SMTP until the next
hop has them all), through two throw-away Postfix instances in the same run: one
plain, one with `mimeops smtp-filter` wired in as docs/smtp.md says (the example
flow: banner, footer, subject tag). Loopback only; each level is bounded by a
message count and a time budget. Needs root and Debian's postfix (as the tests).
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from bench import messages, report
from tests.smtp_harness import (
    Filter,
    Postfix,
    SinkHandler,
    free_port,
    postfix_problem,
    sink,
    submit,
)

FLOW = Path(__file__).resolve().parent.parent / "examples" / "flows" / "demo.yaml"


@dataclass
class Point:
    setup: str
    clients: int
    sent: int
    delivered: int
    seconds: float
    bannered: int

    @property
    def rate(self) -> float:
        return self.delivered / self.seconds if self.seconds else 0.0


def _drive(port: int, handler: SinkHandler, clients: int, count: int, budget: float,
           body: bytes) -> tuple[int, int, float, int]:
    """`count` messages from `clients` connections; (sent, delivered, seconds, bannered)."""
    handler.messages.clear()
    sent = [0] * clients
    deadline = time.monotonic() + budget

    def client(i: int) -> None:
        share = count // clients + (1 if i < count % clients else 0)
        for _ in range(share):
            if time.monotonic() > deadline:
                return
            submit(port, messages.SENDER, [messages.RECIPIENT], body)
            sent[i] += 1

    started = time.monotonic()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(budget + 60)
    total = sum(sent)
    while len(handler.messages) < total and time.monotonic() < deadline + 30:
        time.sleep(0.01)  # polling the sink; bounded by the deadline
    seconds = time.monotonic() - started
    got = list(handler.messages)
    bannered = sum(1 for m in got if b"CAUTION: external sender" in m.data)
    return total, len(got), seconds, bannered


def run(count: int, levels: list[int], budget: float, size: int) -> list[Point]:
    body = messages.standard(size)
    points: list[Point] = []
    with sink() as (plain_sink, plain_port), sink() as (filtered_sink, filtered_port), \
            sink() as (alone_sink, alone_port), \
            Postfix(plain_port, with_filter=False) as plain, Postfix(filtered_port) as filtered, \
            Filter(FLOW, filtered.filter_port, filtered.reinject_port), \
            Filter(FLOW, free_port(), alone_port) as alone:
        setups = (("Postfix", plain.smtp_port, plain_sink),
                  ("Postfix + mimeops", filtered.smtp_port, filtered_sink),
                  ("mimeops alone", alone.port, alone_sink))
        for _, port, handler in setups:
            _drive(port, handler, 2, 10, budget, body)  # warm-up: processes forked
        for clients in levels:
            for name, port, handler in setups:
                sent, delivered, seconds, bannered = _drive(
                    port, handler, clients, count, budget, body)
                points.append(Point(name, clients, sent, delivered, seconds, bannered))
                print(f"{name:18} clients={clients:2} sent={sent} delivered={delivered} "
                      f"{delivered / seconds:6.1f} msg/s", file=sys.stderr)
    return points


def markdown(points: list[Point], size: int) -> str:
    lines = ["Messages per second, end to end (mimeops alone: the filter straight to the sink).",
             "", f"Message: {size // 1024} KiB multipart/alternative + attachment "
             f"(bench/messages.py), example flow; {report.cpu_model()}, "
             f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}.", "",
             "| clients | Postfix | Postfix + mimeops | with / without | mimeops alone |",
             "|---:|---:|---:|---:|---:|"]
    by = {(p.setup, p.clients): p for p in points}
    for clients in sorted({p.clients for p in points}):
        plain, filtered = by["Postfix", clients], by["Postfix + mimeops", clients]
        alone = by["mimeops alone", clients]
        ratio = filtered.rate / plain.rate if plain.rate else 0.0
        lines.append(f"| {clients} | {plain.rate:.0f} | {filtered.rate:.0f} | {ratio:.2f} "
                     f"| {alone.rate:.0f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.smtp", description=__doc__)
    parser.add_argument("--messages", type=int, default=500, help="per level and setup")
    parser.add_argument("--levels", default="1,4,8", help="concurrent SMTP clients")
    parser.add_argument("--budget", type=float, default=60.0, help="seconds per level")
    parser.add_argument("--size", type=int, default=10 * messages.KB, help="message bytes")
    args = parser.parse_args(argv)
    problem = postfix_problem()
    if problem:
        print(f"bench.smtp: {problem}", file=sys.stderr)
        return 2
    points = run(args.messages, [int(n) for n in args.levels.split(",")], args.budget,
                 args.size)
    print(markdown(points, args.size))
    failed = [p for p in points if p.delivered < p.sent
              or (p.setup != "Postfix" and p.bannered < p.delivered)]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
