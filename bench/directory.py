"""`python -m bench.directory [--quick] [--output PATH]`: what the directory costs.

- Warm-cache overhead per message: the signature recipe with every lookup answered
  from the per-container cache, against the same flow with a constant footer (same
  insertion, no directory); the impersonation recipe against the same banner on
  `sender: external` alone.
- Cold lookups: the WorkMail directory over HTTP (the emulator on 127.0.0.1, real
  boto3), a fresh cache each time: one sender (DescribeEntity + DescribeUser), their
  groups (DescribeEntity + ListGroupsForEntity per nesting level), the display-name
  index of 250 users (ListUsers, 3 pages). On AWS each call adds its network round
  trip (tens of ms): these numbers are the client-side floor.
- First use of the confusables table (impersonation / look-alike checks), once per
  container.

Timings only; nothing asserts a time (tests/test_bench_directory.py checks the report).
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.measure import interleaved

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"
FLOWS = ROOT / "examples" / "flows"
DIRECTORY_FILE = ROOT / "examples" / "directory" / "example-org.yaml"
ORG = "m-0123456789abcdef0123456789abcdef"


def _flows() -> dict[str, tuple[Any, Any, Any]]:
    """name -> (flow, envelope, message) for the warm comparisons."""
    from mimeops import Envelope, load_flow
    from mimeops.directory import CachedDirectory, load_directory

    directory = CachedDirectory(load_directory(DIRECTORY_FILE))
    outbound = (ROOT / "events" / "messages" / "outbound.eml").read_bytes()
    inbound = (ROOT / "events" / "messages" / "external.eml").read_bytes()
    out_env = Envelope("OUTBOUND", "jane.doe@example.com", ["m.dupont@partner.example.net"])
    in_env = Envelope("INBOUND", "m.dupont@partner.example.net", ["jane.doe@example.com"])
    signature = load_flow(FLOWS / "directory-signature.yaml", marker_key=b"bench")
    signature.directory = directory
    constant = load_flow(
        re.sub(r"\{sender\.[a-z_]+\}", "Jane Doe",
               (FLOWS / "directory-signature.yaml").read_text())
        .replace("directory: workmail", ""), marker_key=b"bench")
    impersonation = load_flow(FLOWS / "impersonation-warning.yaml", marker_key=b"bench")
    impersonation.directory = directory
    never = load_flow(
        (FLOWS / "impersonation-warning.yaml").read_text()
        .replace("      any:\n        - impersonates_user: true\n"
                 "        - lookalike_domain: true\n", "      size_over: 1GB\n")
        .replace("directory: workmail", ""), marker_key=b"bench")
    return {
        "signature (directory, warm)": (signature, out_env, outbound),
        "same footer, constant text": (constant, out_env, outbound),
        "impersonation check, no match (warm)": (impersonation, in_env, inbound),
        "same rule, a cheap false condition": (never, in_env, inbound),
    }


def warm(budget: float) -> dict[str, float]:
    """Median seconds per message of each flow, caches warm; each flow interleaved with
    its baseline on the same message."""
    cases = _flows()
    names = list(cases)
    medians: dict[str, float] = {}
    for pair in (names[:2], names[2:]):
        calls: dict[str, Callable[[bytes], Any]] = {}
        for name in pair:
            flow, envelope, raw = cases[name]
            flow.apply(raw, envelope)  # fill the caches
            calls[name] = (lambda f, e: (lambda r: f.apply(r, e)))(flow, envelope)
        timings = interleaved(calls, cases[pair[0]][2], min_runs=5, max_runs=5000,
                              budget=budget)
        medians.update({name: timing.median for name, timing in timings.items()})
    return medians


def _repeat(call: Callable[[], Any], runs: int) -> float:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def cold(runs: int) -> dict[str, float]:
    """Median seconds of cold lookups through the WorkMail API (emulator, real boto3)."""
    import boto3

    from mimeops.directory import CachedDirectory, load_directory, parse_directory
    from mimeops_emulator import Emulator
    from mimeops_workmail.directory import CLIENT_CONFIG, WorkMailDirectory

    big = {"users": [{"email": f"user{i:03}@example.com", "display_name": f"User {i:03}"}
                     for i in range(250)]}
    with Emulator() as emulator:
        emulator.add_directory(ORG, load_directory(DIRECTORY_FILE))
        emulator.add_directory(ORG.replace("0123", "4567"), parse_directory(big))
        client = boto3.client("workmail", endpoint_url=emulator.url, region_name="us-east-1",
                              aws_access_key_id="bench", aws_secret_access_key="bench",
                              config=CLIENT_CONFIG)

        def fresh(org: str = ORG) -> CachedDirectory:
            return CachedDirectory(WorkMailDirectory(org, client=client))

        fresh().user("jane.doe@example.com")  # connection set up, not measured
        hot = fresh()
        hot.user("jane.doe@example.com")
        return {
            "user (DescribeEntity + DescribeUser)":
                _repeat(lambda: fresh().user("jane.doe@example.com"), runs),
            "unknown address (DescribeEntity miss)":
                _repeat(lambda: fresh().user("nobody@example.com"), runs),
            "groups, 2 levels (DescribeEntity + 3 ListGroupsForEntity)":
                _repeat(lambda: fresh().groups("jane.doe@example.com"), runs),
            "display-name index, 250 users (3 ListUsers pages)":
                _repeat(lambda: fresh(ORG.replace("0123", "4567")).people(), max(3, runs // 3)),
            "cached user (warm hit)": _repeat(lambda: hot.user("jane.doe@example.com"),
                                              runs * 20),
        }


def confusables_first_use() -> float:
    """Seconds to import and index the confusables table in a fresh interpreter."""
    import subprocess

    code = ("import time; t = time.perf_counter(); "
            "from mimeops.directory.lookalike import skeleton; skeleton('x'); "
            "print(time.perf_counter() - t)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT, check=True, timeout=120)
    return float(done.stdout.strip())


def report(warm_times: dict[str, float], cold_times: dict[str, float], first: float) -> str:
    """The results as Markdown."""
    sig = warm_times["signature (directory, warm)"] - warm_times["same footer, constant text"]
    imp = (warm_times["impersonation check, no match (warm)"]
           - warm_times["same rule, a cheap false condition"])
    lines = ["# Directory benchmark", "",
             "## Warm cache: per message", "", "| flow | median ms |", "| --- | ---: |"]
    lines += [f"| {name} | {seconds * 1000:.3f} |" for name, seconds in warm_times.items()]
    lines += ["", f"Overhead of the directory, warm: signature {sig * 1000:+.3f} ms, "
                  f"impersonation/look-alike check {imp * 1000:+.3f} ms per message.", "",
              "## Cold lookups (WorkMail API on the local emulator, real boto3)", "",
              "| lookup | median ms |", "| --- | ---: |"]
    lines += [f"| {name} | {seconds * 1000:.3f} |" for name, seconds in cold_times.items()]
    lines += ["", f"First use of the confusables table: {first * 1000:.0f} ms "
                  "(once per container).", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Measure, print the Markdown report and write it to --output."""
    parser = argparse.ArgumentParser(prog="python -m bench.directory")
    parser.add_argument("--quick", action="store_true", help="a few runs (CI smoke)")
    parser.add_argument("--output", type=Path, default=RESULTS / "directory.md")
    args = parser.parse_args(argv)
    text = report(warm(0.05 if args.quick else 3.0), cold(3 if args.quick else 30),
                  confusables_first_use())
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
