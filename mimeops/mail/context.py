"""What a transform or condition knows of one message beyond its bytes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

from mimeops.mail.envelope import Envelope
from mimeops.mail.template import Template


@dataclass(frozen=True)
class Context:
    """The per-message context a flow hands every transform and condition.

    Explicit, so that nothing travels in magic keys: the envelope, the template
    values of this message (`{sender}`, `{subject}`, `{sender.*}`, ...), and the
    per-message secret the HTML guard names its elements with.
    """

    envelope: Envelope
    #: The flow's template fields for this message (directory fields looked up lazily).
    values: Mapping[str, str]
    #: The per-message secret of the HTML guard (`mimeops.mime.guard`), derived from the
    #: marker key: unpredictable to a sender. None where nothing asks for a guard.
    guard_token: str | None = None

    @property
    def direction(self) -> str:
        """INBOUND or OUTBOUND."""
        return self.envelope.direction

    def render(self, template: str, *, html: bool = False) -> str:
        """`template` with the flow's fields filled in for this message: values stripped of
        line breaks and bidi controls, and HTML-escaped with `html=True`.

        Raises FlowError for an unknown field: compile templates you know at load time
        (a transform's constructor) to report that before any mail flows."""
        return _compiled(template).render(self.values, escape_html=html)


@lru_cache(maxsize=256)
def _compiled(template: str) -> Template:
    return Template(template, "template")
