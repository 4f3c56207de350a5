"""One fresh interpreter of the cold-start measurement (run by bench.coldstart).

    python -m bench._child boto3 OUT.json
    python -m bench._child handler OUT.json EVENT.json [EVENT.json ...]

`boto3` times `import boto3`. `handler` times `import handlers.app`, then each
invocation of `lambda_handler` (the first one is the cold invocation), and
records the peak RSS. The results go to OUT.json as one JSON object. This
module imports nothing heavy before the timed import, and `bench/__init__.py`
imports nothing at all.
"""

from __future__ import annotations

import importlib.util
import json
import resource
import sys
import time
from pathlib import Path
from typing import Any

# What the SAM package ships (requirements.txt and its dependencies, the two packages);
# boto3, botocore and their dependencies come with the Lambda runtime.
BUNDLED = ("mimeops", "mimeops_workmail", "handlers", "aws_lambda_powertools", "yaml",
           "email_validator", "idna",
           "dns", "jmespath", "typing_extensions")


def _rss_mb() -> float:
    """Peak resident set size of this process, in MiB.

    VmHWM, not getrusage's ru_maxrss: after exec, ru_maxrss still counts the
    parent's resident memory at fork time.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _bundled_caches() -> list[str]:
    """The .pyc paths (under sys.pycache_prefix) of every bundled module now imported."""
    paths: list[str] = []
    for name, module in list(sys.modules.items()):
        source = getattr(module, "__file__", None)
        if name.split(".")[0] in BUNDLED and source and source.endswith(".py"):
            paths.append(importlib.util.cache_from_source(source))
    return paths


def main(argv: list[str]) -> None:
    mode, out = argv[0], Path(argv[1])
    result: dict[str, Any] = {}
    if mode == "boto3":
        start, cpu = time.perf_counter(), time.process_time()
        import boto3  # noqa: F401

        result["import_s"] = time.perf_counter() - start
        result["import_cpu_s"] = time.process_time() - cpu
    elif mode == "handler":
        start, cpu = time.perf_counter(), time.process_time()
        from mimeops_workmail import app

        result["import_s"] = time.perf_counter() - start
        result["import_cpu_s"] = time.process_time() - cpu
        result["rss_after_import_mb"] = _rss_mb()
        from mimeops_workmail.local import LocalContext

        invocations: list[dict[str, Any]] = []
        for path in argv[2:]:
            event = json.loads(Path(path).read_text())
            start, cpu = time.perf_counter(), time.process_time()
            response = app.lambda_handler(event, LocalContext())
            invocations.append({"seconds": time.perf_counter() - start,
                                "cpu_seconds": time.process_time() - cpu,
                                "response": response})
        result["invocations"] = invocations
        result["rss_peak_mb"] = _rss_mb()
        result["bundled_caches"] = _bundled_caches()
    else:
        raise SystemExit(f"unknown mode {mode!r}")
    out.write_text(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
