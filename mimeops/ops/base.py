"""What every op is: a named, checked-at-load step that edits a Message in place."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Protocol

from mimeops.mime import Message

#: The values key under which the flow hands body ops the per-message guard token
#: (mimeops.flow.marker.token): a NUL in the name, so no template field can be it.
GUARD_VALUE = "\0guard"


class Text(Protocol):
    """What an op needs of its text: render it for one message.

    The flow's template (mimeops.flow.template.Template) provides it; ops depend on
    this protocol, not on the flow package, so the layering stays mime <- ops <- flow.
    """

    #: True when the text uses directory fields ({sender.*}).
    directory: bool

    def render(self, values: Mapping[str, str], *, escape_html: bool = False) -> str: ...

    def directory_values(self, values: Mapping[str, str]) -> bool:
        """Whether any directory field the text uses has a value for this message."""
        ...


class Op(ABC):
    """One operation of a rule. `apply` returns True when it changed the message."""

    name: str = ""
    #: Body ops are not applied to protected (signed, encrypted, ...) messages.
    touches_body: bool = False

    @abstractmethod
    def apply(self, message: Message, values: Mapping[str, str]) -> bool: ...
