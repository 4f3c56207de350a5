"""The exceptions mimeops raises: one module, so callers catch by kind (httpx-style)."""

from __future__ import annotations


class FlowError(ValueError):
    """An invalid flow file. The message names the rule and field (and YAML line)."""


class DirectoryError(ValueError):
    """An invalid static directory file (`--directory DIR.yaml`); one line naming the entry."""


class DirectoryUnavailable(RuntimeError):
    """A directory lookup failed or ran out of time while a message was waiting.

    Raised out of `Flow.apply`, so the flow's `on_error` decides: deliver the message
    unchanged, or fail the invocation so that WorkMail retries it.
    """
