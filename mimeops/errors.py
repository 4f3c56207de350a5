"""The exceptions mimeops raises: one tree, so callers catch by kind (httpx-style).

    MimeopsError
    ├── PermanentError        retrying cannot help: fix the flow, configuration or input
    │   ├── FlowError         an invalid flow (names the rule, field and line)
    │   ├── DirectoryError    an invalid static directory file
    │   ├── DirectoryMissing  the flow asks the directory, and none is configured
    │   ├── UndecodableBody   a body that does not decode as its labels say
    │   └── SourceError       a preview source that cannot be read
    └── TransientError        may succeed when retried: a service down, a timeout
        ├── DirectoryUnavailable
        └── SourceFailure     a preview source that broke off part-way

Transports decide with the branch: a permanent error is reported once and never
retried (a retry cannot fix a typo); a transient one may fail the invocation so
that WorkMail retries, where the flow says `on_error: retry`. The leaves keep the
built-in base they always had (ValueError, RuntimeError), so old `except` clauses
still catch them.
"""

from __future__ import annotations


class MimeopsError(Exception):
    """Base of every error mimeops raises on purpose."""


class PermanentError(MimeopsError):
    """Retrying cannot help: the flow, the configuration or the input is at fault."""


class TransientError(MimeopsError):
    """May succeed when retried: a service unreachable, throttled or out of time."""


class FlowError(PermanentError, ValueError):
    """An invalid flow file. The message names the rule and field (and YAML line)."""


class DirectoryError(PermanentError, ValueError):
    """An invalid static directory file (`--directory DIR.yaml`); one line naming the entry."""


class DirectoryMissing(PermanentError, LookupError):
    """The flow asks the directory (sender_group, {sender.*}, a plugin condition asking
    `context.sender_groups`, ...) and none is configured: a deployment mistake that no
    retry fixes. Transports check `Flow.needs_directory` at load, so the built-ins never
    get here; a plugin that asks without declaring `needs_directory` does."""


class UndecodableBody(PermanentError, ValueError):
    """A body that cannot be decoded from its transfer encoding or charset for editing."""


class SourceError(PermanentError, ValueError):
    """A preview PATH that cannot be read as messages (one line naming it): not there,
    not listable, a mailbox that refuses the login or has no such folder."""


class DirectoryUnavailable(TransientError, RuntimeError):
    """A directory lookup failed or ran out of time while a message was waiting.

    Raised out of `Flow.apply`, so the flow's `on_error` decides: deliver the message
    unchanged, or fail the invocation so that WorkMail retries it.
    """


class SourceFailure(TransientError, RuntimeError):
    """A preview source that broke off part-way (a dropped connection, an export job
    that failed): what was read before still counts; trying again may read the rest."""
