"""The one exception a flow file can raise at load time."""

from __future__ import annotations


class FlowError(ValueError):
    """An invalid flow file. The message names the rule and field (and YAML line)."""
