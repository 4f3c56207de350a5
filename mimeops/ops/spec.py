"""Reading one value of a flow file: the YAML line a key was on, and unknown keys.

The loader reads mappings that remember the line of each key (`lines`); a mapping from
Python (a dict flow) has none, and the messages just leave the line out.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mimeops.errors import FlowError


def line(mapping: Any, key: str) -> str:
    """" (line N)" for `key` of a mapping the loader read, else ""."""
    lines = getattr(mapping, "lines", {})
    return f" (line {lines[key]})" if key in lines else ""


def no_unknown(spec: Mapping[str, Any], known: tuple[str, ...], where: str) -> None:
    """FlowError naming the first key of `spec` not in `known`."""
    for key in spec:
        if key not in known:
            raise FlowError(f"{where}{line(spec, key)}: unknown field {key!r} "
                            f"(expected: {', '.join(known)})")
